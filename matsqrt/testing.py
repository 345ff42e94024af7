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

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError('matsqrt.testing needs hypothesis: pip install "matsqrt[test]"') from exc

__all__ = ["SPDCase", "SPECTRUM_KINDS", "spectra", "orthogonal_matrices", "spd_matrices"]

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
