"""Independent references for complex and general (non-Hermitian) input (nothing here calls matsqrt).

Used by tests/test_general.py and tests/test_scipy_cases.py.

* Nonsingular input: SciPy's Schur root (``scipy.linalg.sqrtm``), or a root
  from the matrix's construction where the branch matters, refined by Newton
  steps ``Y E + E Y = A - Y^2`` whose residual is formed in long double
  (complex long double for complex roots), and the relative condition number
  of the square root from the Kronecker form of its Frechet derivative,
  ``L = I (x) Y + Y^T (x) I``.
* Hermitian input: the long-double eigendecomposition of tests/oracles.py
  applied to the real symmetric embedding ``[[Re H, -Im H], [Im H, Re H]]``
  (whose functions embed the functions of ``H``).
* Singular input with a semi-simple zero eigenvalue: exact closed forms from
  the construction (integer similarities, ``S1 B2 (B2^T S1 B2)^(-1/2) B2^T``
  for a covariance product ``S1 S2``, ``S2 = B2 B2^T``).
* Gradients: ``Y^H X + X Y^H = G`` solved by ``scipy.linalg.solve_sylvester``
  at the refined root, and central differences of ``scipy.linalg.sqrtm``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import mpmath
import numpy as np
import oracles as O
import scipy.linalg
import scipy.sparse.linalg

LD = np.longdouble
CLD = np.clongdouble
U64 = float(np.finfo(np.float64).eps)
C = 4.0  # the contract's constant (tests/test_properties.py)


def unit_roundoff(dtype) -> float:
    """eps of the working precision of ``dtype`` (float32 for complex64, float64 for complex128)."""
    return float(np.finfo(np.dtype(dtype)).eps)


def is_complex(a) -> bool:
    return np.iscomplexobj(a)


def wide(a: np.ndarray) -> np.ndarray:
    """``a`` in long double (complex long double for complex ``a``)."""
    return np.asarray(a).astype(CLD if is_complex(a) else LD)


def fro(x: np.ndarray) -> np.ndarray:
    """Frobenius norm over the last two axes, in long double, complex-safe."""
    x = wide(x)
    return np.sqrt(np.sum(np.abs(x) ** 2, axis=(-2, -1)))


def rel_error(x: np.ndarray, ref: np.ndarray) -> float:
    """Relative Frobenius error of one matrix; inf for non-finite ``x``; 0/0 = 0."""
    x = np.asarray(x)
    if not np.all(np.isfinite(x)):
        return np.inf
    num = float(fro(wide(x) - wide(ref)))
    den = float(fro(ref))
    if den == 0:
        return 0.0 if num == 0 else np.inf
    return num / den


def principal_scalar_sqrt(z) -> np.ndarray:
    """Principal square root of complex numbers, ``sqrt(-x) = +i sqrt(x)`` on the negative real axis
    whatever the sign of a zero imaginary part."""
    z = np.asarray(z, dtype=np.complex128)
    z = np.where(z.imag == 0, z.real + 0j, z)
    return np.sqrt(z)


def haar(rng: np.random.Generator, n: int, complex_: bool = False) -> np.ndarray:
    """Haar-distributed orthogonal (or unitary) matrix."""
    g = rng.standard_normal((n, n))
    if complex_:
        g = g + 1j * rng.standard_normal((n, n))
    q, r = np.linalg.qr(g)
    d = np.diagonal(r)
    return q * (d / np.abs(d))


# --------------------------------------------------------------------------- nonsingular references


def _solve_sqrt_sylvester(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    return scipy.linalg.solve_sylvester(y, y, r)


def refine(a: np.ndarray, y0: np.ndarray, steps: int = 3) -> np.ndarray:
    """Newton steps for ``X^2 = A`` from ``y0`` with long-double residuals (the stored ``a`` exactly)."""
    complex_root = is_complex(a) or is_complex(y0)
    work = CLD if complex_root else LD
    low = np.complex128 if complex_root else np.float64
    a_w = np.asarray(a).astype(work)
    y = np.asarray(y0).astype(work)
    for _ in range(steps):
        r = (a_w - y @ y).astype(low)
        if not np.any(r):
            break
        y = y + _solve_sqrt_sylvester(y.astype(low), r).astype(work)
    return y


def _dense_or_operator_norm(apply, adjoint, n: int, dtype) -> float:
    """2-norm of a linear map on n x n matrices: dense SVD for n <= 16, else ARPACK (svds)."""
    if n <= 16:
        cols = []
        for k in range(n * n):
            e = np.zeros(n * n, dtype=dtype)
            e[k] = 1
            cols.append(apply(e.reshape(n, n)).ravel())
        return float(np.linalg.svd(np.array(cols).T, compute_uv=False)[0])
    op = scipy.sparse.linalg.LinearOperator(
        (n * n, n * n), dtype=dtype,
        matvec=lambda v: apply(np.asarray(v).reshape(n, n)).ravel(),
        rmatvec=lambda v: adjoint(np.asarray(v).reshape(n, n)).ravel())
    s = scipy.sparse.linalg.svds(op, k=1, which="LM", tol=1e-4, return_singular_vectors=False,
                                 random_state=np.random.default_rng(0))
    return float(s[0])


def sqrt_condition(a: np.ndarray, y: np.ndarray) -> float:
    """Relative condition number of the square root at ``a``: ||A||_F ||L^-1||_2 / ||Y||_F with
    L(E) = Y E + E Y (the Kronecker form I (x) Y + Y^T (x) I); inf where L is numerically singular."""
    n = a.shape[-1]
    if n == 0 or not np.any(a):
        return 1.0
    dtype = np.complex128 if (is_complex(a) or is_complex(y)) else np.float64
    y = np.asarray(y).astype(dtype)
    eye = np.eye(n)
    smin = np.linalg.svd(np.kron(eye, y) + np.kron(y.T, eye), compute_uv=False)[-1] if n <= 16 else None
    if smin is not None:
        if not smin > 1e4 * U64 * 2 * np.linalg.norm(y, 2):
            return np.inf
        inv_norm = 1.0 / smin
    else:
        yh = y.conj().T
        inv_norm = _dense_or_operator_norm(lambda e: _solve_sqrt_sylvester(y, e),
                                           lambda e: _solve_sqrt_sylvester(yh, e), n, dtype)
        if not np.isfinite(inv_norm) or inv_norm * 1e4 * U64 * 2 * np.linalg.norm(y, 2) > 1:
            return np.inf
    return float(np.linalg.norm(a) * inv_norm / np.linalg.norm(y))


def inv_sqrt_condition(a: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Relative condition number of A -> A^(-1/2): ||A||_F ||K||_2 / ||Z||_F with K(E) = -Z L^-1(E) Z."""
    n = a.shape[-1]
    dtype = np.complex128 if (is_complex(a) or is_complex(y)) else np.float64
    y = np.asarray(y).astype(dtype)
    z = np.asarray(z).astype(dtype)
    yh, zh = y.conj().T, z.conj().T
    norm = _dense_or_operator_norm(lambda e: -z @ _solve_sqrt_sylvester(y, e) @ z,
                                   lambda e: _solve_sqrt_sylvester(yh, -zh @ e @ zh), n, dtype)
    return float(np.linalg.norm(a) * norm / np.linalg.norm(z))


@dataclass
class Reference:
    """The principal root of one stored matrix (long double), its inverse, and their condition numbers
    (inf where the refinement cannot be trusted)."""

    y: np.ndarray
    cond: float
    z: np.ndarray | None = None
    cond_inv: float = np.inf
    notes: list = field(default_factory=list)


_CACHE: OrderedDict = OrderedDict()


def _scipy_start(a: np.ndarray) -> np.ndarray:
    """SciPy's Schur root of ``a``, computed for an orthogonal similarity of ``a`` where ``a`` is already upper
    (quasi-)triangular: SciPy 1.16-1.17 skips its Schur step for such input and, for a real matrix with a
    2 x 2 block and a negative eigenvalue, returns a matrix that does not square back (measured 2026-12-06)."""
    if a.shape[-1] < 2 or np.any(np.tril(a, -2)):
        return scipy.linalg.sqrtm(a)
    q = haar(np.random.default_rng(0), a.shape[-1], complex_=is_complex(a))
    return q.conj().T @ scipy.linalg.sqrtm(q @ a @ q.conj().T) @ q


def reference(a: np.ndarray, start: np.ndarray | None = None, inverse: bool = False) -> Reference:
    """Refined principal root of the stored matrix ``a`` (cast exactly to float64 / complex128).

    ``start`` (the principal root of a nearby matrix, e.g. from the construction) fixes the branch;
    without it SciPy's Schur root is the start.
    """
    a64 = np.asarray(a).astype(np.complex128 if is_complex(a) else np.float64)
    key = (a64.shape, a64.dtype.str, a64.tobytes(), None if start is None else np.asarray(start).tobytes(), inverse)
    if key in _CACHE:
        return _CACHE[key]
    n = a64.shape[-1]
    with np.errstate(all="ignore"):
        y0 = _scipy_start(a64) if start is None else np.asarray(start)
    if np.all(np.isfinite(y0)) and np.iscomplexobj(y0) and not np.any(y0.imag) and not is_complex(a64):
        y0 = y0.real
    if not np.all(np.isfinite(y0)):
        out = Reference(np.full((n, n), np.nan), np.inf)
    else:
        y = refine(a64, y0)
        low = np.complex128 if np.iscomplexobj(y) else np.float64
        y64 = y.astype(low)
        cond = sqrt_condition(a64, y64)
        resid = float(fro(wide(a64) - y @ y) / max(float(fro(a64)), 1e-300))
        if not (np.isfinite(cond) and cond * U64 < 1e-3 and resid < 1e-17):
            cond = np.inf
        out = Reference(y, cond)
        if inverse and np.isfinite(cond):
            z = np.linalg.inv(y64).astype(y.dtype)
            eye = np.eye(n, dtype=y.dtype)
            for _ in range(2):
                z = z + z @ (eye - y @ z)
            out.z = z
            out.cond_inv = inv_sqrt_condition(a64, y64, z.astype(low))
    _CACHE[key] = out
    while len(_CACHE) > 512:
        _CACHE.popitem(last=False)
    return out


def mp_principal_sqrt(a: np.ndarray, dps: int = 50) -> np.ndarray | None:
    """Principal root of one small diagonalisable matrix (real or complex) from mpmath's
    eigendecomposition, as complex long double; None when the eigenvectors are too ill-conditioned."""
    n = a.shape[-1]
    with mpmath.workdps(dps):
        m = mpmath.matrix([[mpmath.mpc(complex(a[i, j])) for j in range(n)] for i in range(n)])
        e, er = mpmath.eig(m)
        if mpmath.cond(er) > mpmath.mpf(10) ** (dps // 2):
            return None
        roots = []
        real_input = not np.iscomplexobj(a)
        for v in e:
            v = mpmath.mpc(v)
            # The principal branch, +i sqrt(|v|) on the negative real axis.  A real matrix's real eigenvalue
            # comes out of the 50-digit QR with an imaginary part at its rounding level, of either sign (-1e-60
            # put it below the cut, and the reference on the other branch, on an AMD EPYC): snapped to real.
            on_axis = v.imag == 0 or (real_input and abs(v.imag) <= mpmath.mpf(10) ** (-(dps // 2)) * abs(v))
            roots.append(mpmath.sqrt(mpmath.mpc(v.real, 0)) if on_axis else mpmath.sqrt(v))
        y = er * mpmath.diag(roots) * mpmath.inverse(er)

        def to_ld(x):
            x = mpmath.mpc(x)
            return LD(mpmath.nstr(x.real, 30)) + 1j * LD(mpmath.nstr(x.imag, 30))

        return np.array([[to_ld(y[i, j]) for j in range(n)] for i in range(n)], dtype=CLD)


# --------------------------------------------------------------------------- eigenvalue checks


def _eig_conditions(a: np.ndarray):
    w, vl, vr = scipy.linalg.eig(a, left=True, right=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.linalg.norm(vl, axis=0) * np.linalg.norm(vr, axis=0) / np.abs(np.sum(vl.conj() * vr, axis=0))
    return w, np.where(np.isfinite(cond), cond, np.inf)


def branch_violations(y: np.ndarray, u: float, real_input: bool) -> list:
    """Eigenvalues of ``y`` that certainly lie off the principal branch: real part certainly negative,
    or (for real input, whose only roots on the imaginary axis come from negative real eigenvalues,
    mapped to +i sqrt(|lambda|)) certainly on the negative imaginary axis."""
    y = np.asarray(y).astype(np.complex128 if np.iscomplexobj(y) else np.float64)
    w, cond = _eig_conditions(y)
    radius = 10 * y.shape[-1] * u * np.linalg.norm(y) * cond
    bad = w.real < -radius
    if real_input:
        bad |= (np.abs(w.real) <= radius) & (w.imag < -radius)
    return list(w[bad])


def certain_off_cut(a: np.ndarray, margin: float = 10.0) -> bool:
    """Whether every eigenvalue of ``a`` is certainly off the closed negative real axis (first order)."""
    w, cond = _eig_conditions(np.asarray(a).astype(np.complex128 if is_complex(a) else np.float64))
    radius = margin * a.shape[-1] * U64 * np.linalg.norm(a) * cond
    return bool(np.all(np.isfinite(cond)) and np.all((w.real > radius) | (np.abs(w.imag) > radius)))


def certain_cut_or_right(a: np.ndarray, margin: float = 10.0) -> bool:
    """For real ``a``: every eigenvalue certainly nonzero, and each real negative eigenvalue certainly real
    (complex pairs certainly off the real axis), so the principal root's branch is determined."""
    w, cond = _eig_conditions(np.asarray(a, dtype=np.float64))
    radius = margin * a.shape[-1] * U64 * np.linalg.norm(a) * cond
    return bool(np.all(np.isfinite(cond)) and np.all(np.abs(w) > radius))


def certain_branch(a: np.ndarray, margin: float = 10.0) -> bool:
    """Whether the principal root of the stored ``a`` is a continuous function of it at ``a``: every
    eigenvalue certainly off the closed negative real axis, except (real input) negative real eigenvalues
    that are certainly simple and so stay real under real perturbations (first-order discs of radius
    margin n eps ||A||_F times the eigenvalue condition number)."""
    a = np.asarray(a)
    if is_complex(a):
        return certain_off_cut(a, margin)
    w, cond = _eig_conditions(a.astype(np.float64))
    if not np.all(np.isfinite(cond)):
        return False
    radius = margin * a.shape[-1] * U64 * np.linalg.norm(a) * cond
    off = (w.real > radius) | (np.abs(w.imag) > radius)
    for i in np.flatnonzero(~off):
        if not (w[i].real < -radius[i] and abs(w[i].imag) <= radius[i]):
            return False
        others = np.arange(w.size) != i
        if np.any(np.abs(w[others] - w[i]) <= radius[others] + radius[i]):
            return False
    return True


def eigvec_condition(v: np.ndarray) -> float:
    """2-norm condition number of an eigenvector basis with unit columns."""
    v = v / np.linalg.norm(v, axis=0)
    return float(np.linalg.cond(v))


# --------------------------------------------------------------------------- Hermitian references


def embed(h: np.ndarray) -> np.ndarray:
    """Real symmetric embedding [[Re H, -Im H], [Im H, Re H]] of an exactly Hermitian H (float64)."""
    re, im = np.real(h).astype(np.float64), np.imag(h).astype(np.float64)
    return np.block([[re, -im], [im, re]])


def _unembed(m: np.ndarray, n: int) -> np.ndarray:
    return m[:n, :n].astype(CLD) + 1j * m[n:, :n].astype(CLD)


@dataclass
class HermitianReference:
    lam: np.ndarray  # eigenvalues of H (each once), long double, ascending
    kappa: float  # lam_max / lam_min, inf if singular or indefinite
    y: np.ndarray  # principal root (complex long double), +i sqrt(|lam|) for negative lam
    z: np.ndarray | None  # inverse root (positive definite only)


def hermitian_reference(h: np.ndarray) -> HermitianReference:
    """Long-double references for an exactly Hermitian (or real symmetric) matrix."""
    h = np.asarray(h)
    n = h.shape[-1]
    eig = O.sym_eig(embed(h))  # every eigenvalue of H twice
    d, w = eig.d, eig.w
    pos = eig.apply(np.sqrt(np.maximum(d, 0)))
    neg = eig.apply(np.sqrt(np.maximum(-d, 0)))
    y = _unembed(pos, n) + 1j * _unembed(neg, n)
    lam = np.sort(d)[::2]
    lo, hi = float(lam.min()), float(np.abs(lam).max())
    kappa = hi / lo if lo > 0 else np.inf
    z = None
    if lo > 0:
        with np.errstate(all="ignore"):
            z = _unembed(eig.apply(1 / np.sqrt(d)), n)
    del w
    return HermitianReference(lam, kappa, y, z)


def hermitian_sqrt_bound(n: int, u: float, kappa: float) -> float:
    """The contract for Hermitian PSD input (tests/test_properties.py): C sqrt(n) u min(sqrt(kappa), sqrt(n/u))."""
    return C * np.sqrt(n) * u * min(np.sqrt(kappa), np.sqrt(n / u))


# --------------------------------------------------------------------------- families


def unimodular(rng: np.random.Generator, n: int, steps: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """An integer matrix P with det 1 and its integer inverse (products of elementary shears), entries small."""
    p = np.eye(n)
    pinv = np.eye(n)
    if n < 2:
        return p, pinv
    for _ in range(steps):
        i, j = rng.choice(n, size=2, replace=False)
        c = float(rng.choice([-2, -1, 1, 2]))
        e = np.eye(n)
        e[i, j] = c
        einv = np.eye(n)
        einv[i, j] = -c
        p = p @ e
        pinv = einv @ pinv
    perm = rng.permutation(n)
    return p[perm], pinv[:, perm]


def covariance_factor(rng: np.random.Generator, n: int, samples: int) -> np.ndarray:
    """B with S = B B^T the sample covariance of ``samples`` Gaussian vectors with unequal scales, centred
    (B = X^T H / sqrt(m - 1), H an orthonormal basis orthogonal to the ones vector: n x (m - 1))."""
    x = rng.standard_normal((samples, n)) * 10.0 ** rng.uniform(-1, 1, n)
    h = scipy.linalg.null_space(np.ones((1, samples)))
    return x.T @ h / np.sqrt(samples - 1)


@dataclass
class CovarianceProduct:
    a: np.ndarray  # fl(S1 @ S2)
    root: np.ndarray  # closed form (long double) of the principal root of S1 S2
    trace: float  # sum of sqrt of the nonzero eigenvalues (closed form)
    kappa_v: float  # condition of its eigenvector basis
    singular: bool


def covariance_product(rng: np.random.Generator, n: int, m1: int, m2: int) -> CovarianceProduct:
    """S1 S2 for sample covariances S1, S2 from m1, m2 samples (rank-deficient when m - 1 < n).

    With S2 = B2 B2^T (B2 of full column rank k) and M = B2^T S1 B2 positive definite,
    sqrt(S1 S2) = S1 B2 M^(-1/2) B2^T: its square is S1 B2 B2^T = S1 S2 and its eigenvalues are
    those of M^(1/2) and zeros (a semi-simple zero eigenvalue), so it is the principal root.
    """
    b1 = covariance_factor(rng, n, m1)
    b2 = covariance_factor(rng, n, m2)
    if b2.shape[1] > n:  # a factor of full column rank: B2 = U_n diag(s) from its SVD
        uu, ss, _ = np.linalg.svd(b2, full_matrices=False)
        b2 = uu * ss
    s1 = b1 @ b1.T
    s2 = b2 @ b2.T
    a = s1 @ s2
    s1_ld, b2_ld = s1.astype(LD), b2.astype(LD)
    m = b2_ld.T @ s1_ld @ b2_ld
    m64 = ((m + m.T) / 2).astype(np.float64)
    eig = O.sym_eig(m64)
    root = s1_ld @ b2_ld @ eig.inv_sqrt() @ b2_ld.T
    lam, w = np.linalg.eigh(m64)
    v1 = s1 @ b2 @ w
    u_full = np.linalg.svd(b2)[0]
    v = np.hstack([v1, u_full[:, b2.shape[1]:]])
    return CovarianceProduct(a, root, float(np.sum(np.sqrt(eig.d.astype(LD)))), eigvec_condition(v),
                             bool(b1.shape[1] < n or b2.shape[1] < n))


def singular_sqrt_bound(n: int, u: float, kappa_v: float) -> float:
    """Bound for a singular matrix with a semi-simple zero eigenvalue: C n sqrt(u) kappa_V^2.

    The root is only Hoelder-1/2 continuous there.  First order, for A = V diag(Lambda, 0) V^-1 (unit
    columns, kappa_V = ||V|| ||V^-1||) and a perturbation E with ||E|| ~ n u ||A||: in the eigenbasis the
    perturbation F = V^-1 E V has ||F|| <= kappa_V ||E||, the root of the zero block moves by ~sqrt(||F||),
    and back in the original basis ||dY|| <= kappa_V ||dR||; with ||A|| <= kappa_V lam_max and
    ||Y|| >= sqrt(lam_max) the relative change is at most kappa_V^2 sqrt(n u) (times a constant).  For
    Hermitian input (kappa_V = 1) this is the contract's C sqrt(n) u sqrt(n / u) = C n sqrt(u).
    """
    return C * n * np.sqrt(u) * max(kappa_v, 1.0) ** 2


# --------------------------------------------------------------------------- gradients


def sylvester_gradient(y: np.ndarray, g: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
    """X with Y^H X + X Y^H = G (or = -Z^H G Z^H for the inverse root Z = Y^-1), in complex long double:
    scipy.linalg.solve_sylvester refined by two steps with long-double residuals (``y``, ``z``: the
    refined roots)."""
    y = np.asarray(y).astype(CLD)
    yh = np.conj(y).T
    rhs = np.asarray(g).astype(CLD)
    if z is not None:
        zh = np.conj(np.asarray(z).astype(CLD)).T
        rhs = -(zh @ rhs @ zh)
    yh64 = yh.astype(np.complex128)
    x = np.zeros_like(rhs)
    for _ in range(3):
        r = (rhs - (yh @ x + x @ yh)).astype(np.complex128)
        x = x + scipy.linalg.solve_sylvester(yh64, yh64, r).astype(CLD)
    return x


def scipy_inv_sqrtm(a: np.ndarray) -> np.ndarray:
    return np.linalg.inv(scipy.linalg.sqrtm(a))


def central_difference_gradient(f, a: np.ndarray, g: np.ndarray, h: float | None = None) -> np.ndarray:
    """dL/dRe(A) + i dL/dIm(A) for L(A) = Re tr(G^H f(A)) by central differences (real A: dL/dA only)."""
    a = np.asarray(a)
    h = 1e-6 * max(float(np.linalg.norm(a)), 1e-300) if h is None else h
    real = not np.iscomplexobj(a)

    def loss(x):
        return float(np.real(np.sum(np.conj(g) * f(x))))

    grad = np.zeros(a.shape, dtype=np.float64 if real else np.complex128)
    directions = (1.0,) if real else (1.0, 1j)
    for idx in np.ndindex(*a.shape):
        for d in directions:
            e = np.zeros(a.shape, dtype=a.dtype)
            e[idx] = d * h
            grad[idx] += d * (loss(a + e) - loss(a - e)) / (2 * h)
    return grad


@dataclass
class GeneralCase:
    """One float64 / complex128 matrix of a family, with what its construction tells about the root."""

    a: np.ndarray
    family: str
    start: np.ndarray | None = None  # the principal root of the unrounded construction (fixes the branch)
    real_root: bool = True  # for real input: whether the principal root is real
    hermitian: bool = False


REAL_FAMILIES = ("gaussian_shift", "identity_plus_noise", "rotation", "nonnormal_triangular",
                 "covariance_product", "negative_real", "negative_real_exact")
COMPLEX_FAMILIES = ("complex_general", "complex_nonnormal", "hermitian_psd")
FAMILIES = REAL_FAMILIES + COMPLEX_FAMILIES


def _real_block_root(blocks):
    """Block-diagonal real form B and its principal root (complex128) from (kind, value) blocks."""
    mats, roots = [], []
    for kind, v in blocks:
        if kind == "real":
            mats.append(np.array([[v]]))
            roots.append(np.array([[principal_scalar_sqrt(v)]]))
        else:  # a complex pair a +- ib as [[a, -b], [b, a]]
            a, b = v.real, v.imag
            r = principal_scalar_sqrt(v)
            mats.append(np.array([[a, -b], [b, a]]))
            roots.append(np.array([[r.real, -r.imag], [r.imag, r.real]], dtype=np.complex128))
    return scipy.linalg.block_diag(*mats), scipy.linalg.block_diag(*roots).astype(np.complex128)


def _negative_real(rng: np.random.Generator, n: int) -> GeneralCase:
    blocks, size = [("real", -(10.0 ** rng.uniform(-2, 2)))], 1  # at least one negative eigenvalue
    while size < n:
        if n - size >= 2 and rng.random() < 0.3:
            mod, ang = 10.0 ** rng.uniform(-2, 2), rng.uniform(0.05, np.pi - 0.05)
            blocks.append(("pair", mod * np.exp(1j * ang)))
            size += 2
        else:
            blocks.append(("real", (-1.0 if rng.random() < 0.5 else 1.0) * 10.0 ** rng.uniform(-2, 2)))
            size += 1
    order = rng.permutation(len(blocks))
    blocks = [blocks[i] for i in order]
    b, rb = _real_block_root(blocks)
    if rng.random() < 0.3:
        v = O.haar(rng, n)
        vinv = v.T
    else:
        v = rng.standard_normal((n, n)) / np.sqrt(n) + np.eye(n) * rng.uniform(0, 2)
        vinv = np.linalg.inv(v)
    a = v @ b @ vinv
    if rng.random() < 0.3 and n > 1:
        a = (a + a.T) / 2 if np.allclose(vinv, v.T) else a
    return GeneralCase(a, "negative_real", v @ rb @ vinv, real_root=False)


def _negative_real_exact(rng: np.random.Generator, n: int) -> GeneralCase:
    """P D P^-1 with integer unimodular P and D = diag(+-k^2): the stored matrix and its root (Gaussian
    integers) are exact."""
    p, pinv = unimodular(rng, n, steps=int(rng.integers(1, 2 * n + 2)))
    # Distinct negative eigenvalues: a repeated one would split into a complex pair under real rounding,
    # where the principal root jumps between +i and -i (no accurate answer exists there).
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    sign[rng.integers(n)] = -1.0
    k = rng.integers(1, 5, n).astype(np.float64)
    k[sign < 0] = rng.permutation(np.arange(1, n + 1))[: int(np.sum(sign < 0))]
    d = sign * k**2
    a = p @ np.diag(d) @ pinv
    root = p.astype(np.complex128) @ np.diag(principal_scalar_sqrt(d)) @ pinv
    return GeneralCase(a, "negative_real_exact", root, real_root=False)


def _hermitian_psd(rng: np.random.Generator, n: int) -> GeneralCase:
    lam = O.spectrum(rng, n, str(rng.choice(O.SPECTRUM_KINDS)), 10.0 ** rng.uniform(0, 8)) if n > 1 else np.ones(1)
    q = haar(rng, n, complex_=True)
    h = (q * lam) @ q.conj().T
    h = (h + h.conj().T) / 2
    return GeneralCase(h, "hermitian_psd", hermitian=True)


def general_matrix(rng: np.random.Generator, n: int, family: str) -> GeneralCase:
    """One nonsingular matrix of ``family`` (float64 for the real families, complex128 otherwise)."""
    if family in ("gaussian_shift", "identity_plus_noise", "rotation", "nonnormal_triangular"):
        a = O.nonsymmetric_matrix(rng, n, family, 170.0)
        # I + r N / sqrt(n) can have a negative real eigenvalue for small n (n = 1: any N < -1/r), whose
        # principal root is complex.
        w = np.linalg.eigvals(a)
        real_root = not np.any((w.imag == 0) & (w.real < 0))
        return GeneralCase(a, family, real_root=real_root)
    if family == "covariance_product":
        prod = covariance_product(rng, n, n + 1 + int(rng.integers(1, 2 * n + 2)), n + 1 + int(rng.integers(1, 8)))
        return GeneralCase(prod.a, family, prod.root.astype(np.float64))
    if family == "negative_real":
        return _negative_real(rng, n)
    if family == "negative_real_exact":
        return _negative_real_exact(rng, n)
    if family == "complex_general":
        g = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / np.sqrt(2 * n)
        shift = 10.0 ** rng.uniform(-1, 1) * np.exp(1j * rng.uniform(-np.pi, np.pi))
        return GeneralCase(g + shift * np.eye(n), family)
    if family == "complex_nonnormal":
        diag = 10.0 ** rng.uniform(-2, 2, n) * np.exp(1j * rng.uniform(-0.9 * np.pi, 0.9 * np.pi, n))
        t = np.diag(diag) + np.triu((rng.uniform(-1, 1, (n, n)) + 1j * rng.uniform(-1, 1, (n, n)))
                                    * 10.0 ** rng.uniform(-3, 3), 1)
        q = haar(rng, n, complex_=True)
        return GeneralCase(q @ t @ q.conj().T, family)
    if family == "hermitian_psd":
        return _hermitian_psd(rng, n)
    raise ValueError(family)


def robust_branch(y_ref: np.ndarray, u: float, real_input: bool) -> bool:
    """Whether every eigenvalue of the reference root stays on its side of the imaginary axis (and, for real
    input, on the positive imaginary half-axis) under a perturbation of 100 n u ||Y||_F (first order): only
    then must a root computed to working precision ``u`` pass :func:`branch_violations`."""
    y = np.asarray(y_ref).astype(np.complex128 if np.iscomplexobj(y_ref) else np.float64)
    w, cond = _eig_conditions(y)
    if not np.all(np.isfinite(cond)):
        return False
    radius = 100 * y.shape[-1] * u * np.linalg.norm(y) * cond
    on_axis = np.abs(w.real) <= radius
    if not real_input:
        return bool(not np.any(on_axis))
    return bool(np.all(~on_axis | (w.imag > radius)))


def exact_semisimple(rng: np.random.Generator, n: int, zeros: int, negative: bool):
    """P diag(d) P^-1 with ``zeros`` zero eigenvalues (semi-simple), d = +-k^2 otherwise (negative ones distinct
    when ``negative``), integer unimodular P: the matrix, its principal root P diag(sqrt d) P^-1 (exact), and P."""
    p, pinv = unimodular(rng, n, steps=int(rng.integers(1, 2 * n + 2)))
    d = rng.integers(1, 5, n).astype(np.float64) ** 2
    if negative and n - zeros > 0:
        count = int(rng.integers(1, n - zeros + 1))
        d[:count] = -(rng.permutation(np.arange(1, n + 1))[:count].astype(np.float64) ** 2)
    d[n - zeros:] = 0.0
    perm = rng.permutation(n)
    d = d[perm]
    a = p @ np.diag(d) @ pinv
    root = p.astype(np.complex128) @ np.diag(principal_scalar_sqrt(d)) @ pinv
    return a, (root.real if not negative or not np.any(d < 0) else root), p


def defective_zero(rng: np.random.Generator, n: int) -> np.ndarray:
    """P (D (+) N) P^-1 with integer unimodular P, a nonsingular integer diagonal D and a nilpotent N with a
    Jordan block of size >= 2: a zero eigenvalue that is not semi-simple, so no principal root exists
    (exactly representable)."""
    block = int(rng.integers(2, n + 1))
    m = np.zeros((n, n))
    d = rng.choice([-4.0, -1.0, 1.0, 2.0, 9.0], n - block)
    m[:n - block, :n - block] = np.diag(d)
    for i in range(n - block, n - 1):
        m[i, i + 1] = 1.0
    if block >= 3 and rng.random() < 0.3:  # split the nilpotent part into blocks, the first of size >= 2
        m[n - 2, n - 1] = 0.0
    p, pinv = unimodular(rng, n, steps=int(rng.integers(0, 2 * n + 1)))
    return p @ m @ pinv
