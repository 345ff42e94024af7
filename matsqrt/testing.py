"""Hypothesis strategies for symmetric positive (semi-)definite test matrices.

For users validating their own matrix functions as much as for matsqrt's own
tests.  Requires ``hypothesis`` (``pip install "matsqrt[test]"``).  Every
strategy returns NumPy float64 arrays; convert them to the backend under test.

Examples
--------
>>> from hypothesis import given, settings
>>> from matsqrt.testing import spd_matrices
>>> @settings(max_examples=5)
... @given(spd_matrices(n=4, max_condition=1e3))
... def test_symmetric(case):
...     assert (case.matrix == case.matrix.T).all()
>>> test_symmetric()
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError('matsqrt.testing needs hypothesis: pip install "matsqrt[test]"') from exc

__all__ = [
    "SPDCase",
    "SPECTRUM_KINDS",
    "spectra",
    "orthogonal_matrices",
    "spd_matrices",
    "reference_roots",
    "relative_error",
    "eigh_float32_roots",
]

SPECTRUM_KINDS = ("logspaced", "clustered", "repeated", "random", "rank_deficient")
_DEFAULT_N = st.integers(1, 12)


@dataclass(frozen=True)
class SPDCase:
    """A drawn matrix batch ``matrix = Q diag(eigenvalues) Q^T`` with its factors.

    ``matrix`` is symmetrised exactly, so ``matrix == matrix^T`` holds bitwise.
    """

    matrix: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    kind: str

    @property
    def condition(self) -> float:
        """Largest eigenvalue over smallest, worst over the batch (inf if singular)."""
        lo = self.eigenvalues.min(axis=-1)
        hi = self.eigenvalues.max(axis=-1)
        with np.errstate(divide="ignore"):
            return float(np.max(hi / lo)) if lo.size else 1.0


def _spectrum(rng: np.random.Generator, n: int, kind: str, condition: float) -> np.ndarray:
    """Eigenvalues in [1/condition, 1] (0 allowed for rank_deficient), largest 1."""
    if n == 0:
        return np.zeros(0)
    lo = 1.0 / condition
    if kind == "logspaced":
        lam = np.logspace(0.0, np.log10(lo), n)
    elif kind == "clustered":
        # Two tight clusters at the ends of the range.
        centres = np.where(rng.random(n) < 0.5, 1.0, lo)
        lam = centres * (1.0 + 1e-6 * rng.random(n))
    elif kind == "repeated":
        lam = rng.choice(np.array([1.0, np.sqrt(lo), lo]), size=n)
    elif kind == "random":
        lam = np.exp(rng.uniform(np.log(lo), 0.0, n))
    elif kind == "rank_deficient":
        lam = np.logspace(0.0, np.log10(lo), n)
        lam[rng.random(n) < 0.4] = 0.0
    else:
        raise ValueError(f"unknown spectrum kind {kind!r}; choose from {SPECTRUM_KINDS}")
    lam[int(rng.integers(n))] = 1.0
    return lam


def _orthogonal(rng: np.random.Generator, shape: tuple[int, ...], n: int) -> np.ndarray:
    """Haar-distributed orthogonal matrices (QR with the sign fix)."""
    g = rng.standard_normal((*shape, n, n))
    q, r = np.linalg.qr(g)
    d = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    d[d == 0] = 1.0
    return q * d[..., None, :]


@st.composite
def spectra(draw, n: int | st.SearchStrategy[int] = _DEFAULT_N, max_condition: float = 1e6,
            kinds: tuple[str, ...] = SPECTRUM_KINDS[:-1]) -> np.ndarray:
    """Eigenvalue vectors with largest value 1 and condition number <= ``max_condition``."""
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    kind = draw(st.sampled_from(kinds))
    log_cond = draw(st.floats(0.0, float(np.log10(max_condition))))
    seed = draw(st.integers(0, 2**32 - 1))
    return _spectrum(np.random.default_rng(seed), n, kind, 10.0**log_cond)


@st.composite
def orthogonal_matrices(draw, n: int, batch_shape: tuple[int, ...] = ()) -> np.ndarray:
    """Random orthogonal matrices of shape ``(*batch_shape, n, n)``."""
    seed = draw(st.integers(0, 2**32 - 1))
    return _orthogonal(np.random.default_rng(seed), batch_shape, n)


@st.composite
def spd_matrices(
    draw,
    n: int | st.SearchStrategy[int] = _DEFAULT_N,
    batch_shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] = (),
    max_condition: float = 1e6,
    kinds: tuple[str, ...] = SPECTRUM_KINDS[:-1],
    scale: float | st.SearchStrategy[float] = 1.0,
) -> SPDCase:
    """Symmetric positive (semi-)definite batches with a controlled spectrum.

    Parameters
    ----------
    n : int or strategy
        Matrix size.
    batch_shape : tuple or strategy of tuples
        Leading batch axes.
    max_condition : float
        Each matrix's condition number is drawn log-uniformly in
        ``[1, max_condition]``.
    kinds : tuple of str
        Spectrum families to draw from: ``"logspaced"``, ``"clustered"``,
        ``"repeated"``, ``"random"`` and ``"rank_deficient"`` (PSD with zero
        eigenvalues; not drawn unless asked for).
    scale : float or strategy
        Multiplies the whole spectrum (largest eigenvalue = ``scale``).
    """
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    batch_shape = draw(batch_shape) if isinstance(batch_shape, st.SearchStrategy) else tuple(batch_shape)
    scale = draw(scale) if isinstance(scale, st.SearchStrategy) else scale
    kind = draw(st.sampled_from(kinds))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    count = int(np.prod(batch_shape, dtype=int))
    log_conds = rng.uniform(0.0, np.log10(max_condition), count)
    lam = np.array([_spectrum(rng, n, kind, 10.0**c) for c in log_conds]).reshape(*batch_shape, n) * scale
    q = _orthogonal(rng, batch_shape, n)
    a = (q * lam[..., None, :]) @ np.swapaxes(q, -1, -2)
    a = (a + np.swapaxes(a, -1, -2)) / 2
    return SPDCase(a, lam, q, kind)


def reference_roots(a: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reference ``(Y, Z, dY, dZ)`` for float64 matrices ``a``, accurate beyond float64.

    ``Y = A^(1/2)``, ``Z = A^(-1/2)``, and the gradients of ``<G, Y>`` and
    ``<G, Z>`` with respect to ``A`` (unconstrained convention), as long
    double arrays, for matrices with eigenvalues of positive real part.

    scipy.linalg.sqrtm refined by two Newton steps whose residual A - Y^2 is
    formed in long double (the correction solves Y E + E Y = R with
    scipy.linalg.solve_sylvester); Z by Newton-Schulz refinement of inv(Y);
    the gradients solve Y^T X + X Y^T = G (and -Z^T G Z^T) with residuals
    refined the same way.  Nothing here uses matsqrt's algorithms, so it can
    referee them (and any other implementation).  Cost: a few Sylvester
    solves per matrix, fine up to n of a few hundred.

    Examples
    --------
    >>> import numpy as np
    >>> from matsqrt.testing import reference_roots
    >>> y, z, dy, dz = reference_roots(np.diag([4.0, 9.0]), np.eye(2))
    >>> np.diag(y).astype(float), np.diag(dy).astype(float)
    (array([2., 3.]), array([0.25      , 0.16666667]))
    """
    ld = np.longdouble
    out = []
    for ai, gi in zip(a.reshape(-1, *a.shape[-2:]), g.reshape(-1, *g.shape[-2:]), strict=True):
        a_ld = ai.astype(ld)
        y = scipy.linalg.sqrtm(ai).astype(ld)
        for _ in range(2):
            r = (a_ld - y @ y).astype(np.float64)
            y = y + scipy.linalg.solve_sylvester(y.astype(np.float64), y.astype(np.float64), r)
        eye = np.eye(ai.shape[-1], dtype=ld)
        z = np.linalg.inv(y.astype(np.float64)).astype(ld)
        for _ in range(2):
            z = z + z @ (eye - y @ z)
        grads = []
        for rhs in (gi.astype(ld), -(z.T @ gi.astype(ld) @ z.T)):
            x = np.zeros_like(y)
            yt = y.T
            for _ in range(2):
                r = (rhs - (yt @ x + x @ yt)).astype(np.float64)
                x = x + scipy.linalg.solve_sylvester(yt.astype(np.float64), yt.astype(np.float64), r)
            grads.append(x)
        out.append((y, z, *grads))
    return [np.stack(v).reshape(a.shape) for v in zip(*out, strict=True)]


def relative_error(x: np.ndarray, ref: np.ndarray) -> float:
    """Worst relative Frobenius error of ``x`` against ``ref`` over the batch (long double safe)."""
    diff = (np.asarray(x, dtype=np.longdouble) - ref).astype(np.float64)
    return float(np.max(np.linalg.norm(diff, axis=(-2, -1)) / np.linalg.norm(ref.astype(np.float64), axis=(-2, -1))))


def eigh_float32_roots(a: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(Y, Z, dY, dZ)`` as :func:`reference_roots`, by a float32 eigendecomposition.

    Computed in float32 arithmetic (scipy.linalg.eigh, LAPACK ssyevr), with the
    Daleckii-Krein gradients: what an eigendecomposition method achieves in
    single precision.  (NumPy computes float32 eigh in float64, so its errors
    are not those of a float32 algorithm.)
    """
    flat = a.reshape(-1, *a.shape[-2:])
    pairs = [scipy.linalg.eigh(m) for m in flat]
    w = np.stack([p[0] for p in pairs]).reshape(*a.shape[:-1])
    u = np.stack([p[1] for p in pairs]).reshape(a.shape)
    r = np.sqrt(np.clip(w, 0, None))
    ut = np.swapaxes(u, -1, -2)
    y = (u * r[..., None, :]) @ ut
    z = (u / r[..., None, :]) @ ut
    proj = ut @ g @ u
    ri, rj = r[..., :, None], r[..., None, :]
    return y, z, u @ (proj / (ri + rj)) @ ut, u @ (-proj / (ri * rj * (ri + rj))) @ ut
