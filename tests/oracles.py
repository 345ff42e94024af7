"""Independent references for tests/test_properties.py (nothing here calls matsqrt).

Symmetric input: a long-double eigendecomposition (LAPACK's float64 eigh as a
start, re-orthonormalised in long double, then refined: clusters of close
eigenvalues by float64 eigh of their shifted blocks, the couplings between
clusters to first order), backward stable to about 1e-19 sqrt(n) ||A||.  It handles singular,
clustered, repeated and tiny/huge eigenvalues alike, and gives the exact
spectrum of the stored matrix, so the roots, the Daleckii-Krein gradients and
the condition numbers all come from one decomposition.  Diagonal input is
exact (no rounding beyond long double's sqrt).

Non-symmetric input: ``matsqrt.testing.reference_roots`` (SciPy's Schur
method refined by Newton steps with long-double residuals) for the root, and
the condition number of the square root from the Kronecker form of its
Frechet derivative.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import mpmath
import numpy as np
import scipy.linalg

from matsqrt.testing import reference_roots

LD = np.longdouble
U64 = float(np.finfo(np.float64).eps)
ULD = float(np.finfo(LD).eps)


def eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


# --------------------------------------------------------------------------- symmetric


@dataclass(frozen=True)
class SymEig:
    """``A = W diag(d) W^T`` in long double, per matrix of a batch (shapes (..., n) and (..., n, n))."""

    d: np.ndarray
    w: np.ndarray

    def kappa(self) -> np.ndarray:
        """lam_max / lam_min per matrix; inf where lam_min <= 0 (singular or indefinite)."""
        lo = self.d.min(axis=-1).astype(np.float64)
        hi = np.abs(self.d).max(axis=-1).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), np.inf)
        return np.where(hi == 0, np.inf, k)

    def apply(self, values: np.ndarray) -> np.ndarray:
        return np.einsum("...ij,...kj->...ik", self.w * values[..., None, :], self.w)

    def sqrt(self) -> np.ndarray:
        """Root of the stored matrix; eigenvalues below zero (rounding of a PSD matrix) count as zero."""
        return self.apply(np.sqrt(np.maximum(self.d, 0)))

    def inv_sqrt(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.apply(1 / np.sqrt(self.d))

    def gradients(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Daleckii-Krein gradients of <G, A^(1/2)> and <G, A^(-1/2)> (positive definite A)."""
        r = np.sqrt(self.d.astype(LD))
        ri, rj = r[..., :, None], r[..., None, :]
        wt = np.swapaxes(self.w, -1, -2)
        proj = mm(mm(wt, g.astype(LD)), self.w)
        dy = mm(mm(self.w, proj / (ri + rj)), wt)
        dz = mm(mm(self.w, -proj / (ri * rj * (ri + rj))), wt)
        return dy, dz


def mm(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x @ y for long-double arrays (einsum over contiguous rows: about 3x numpy's long-double matmul)."""
    return np.einsum("...ij,...kj->...ik", x, np.ascontiguousarray(np.swapaxes(y, -1, -2)))


def _orthonormalize(w: np.ndarray) -> np.ndarray:
    """One Newton-Schulz step towards the polar factor: W (3I - W^T W) / 2 (W orthonormal to float64 rounding)."""
    n = w.shape[-1]
    return w + mm(w, np.eye(n, dtype=LD) - mm(np.swapaxes(w, -1, -2), w)) / 2


_CLUSTER = 1e-4  # eigenvalues closer than this (relative to the largest) are diagonalised together


def _refine(a_ld: np.ndarray, w: np.ndarray, iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Refine an orthonormal W with W^T A W nearly diagonal, in long double.

    Each step: B = W^T A W; eigenvalue clusters (gaps below 1e-4 |B|) get their block
    B_cc - mu I diagonalised by float64 eigh (its entries are small, so float64 resolves
    it far below long-double rounding of B); the remaining couplings between clusters,
    B_ij / (d_j - d_i) <= 1e-12, are removed to first order (second order < 1e-23).
    """
    n = a_ld.shape[-1]
    for _ in range(iterations):
        b = mm(np.swapaxes(w, -1, -2), mm(a_ld, w))
        b = (b + b.T) / 2
        d = np.diagonal(b).copy()
        off = b - np.diag(d)
        size = np.sqrt(np.sum(b * b))
        if not np.sqrt(np.sum(off * off)) > 8 * np.sqrt(n) * ULD * size:
            break
        order = np.argsort(d.astype(np.float64))
        gaps = np.diff(d[order]) > _CLUSTER * np.max(np.abs(d))
        labels = np.empty(n, dtype=int)
        labels[order] = np.concatenate([[0], np.cumsum(gaps)])
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            if idx.size < 2:
                continue
            blk = b[np.ix_(idx, idx)] - np.mean(d[idx]) * np.eye(idx.size, dtype=LD)
            top = np.max(np.abs(blk))
            if top == 0:
                continue
            e = int(np.frexp(float(top))[1])
            _, v = np.linalg.eigh(np.ldexp(blk, -e).astype(np.float64))
            v = _orthonormalize(v.astype(LD))
            w[:, idx] = mm(w[:, idx], v)
            b[:, idx] = mm(b[:, idx], v)
            b[idx, :] = mm(v.T, b[idx, :])
        d = np.diagonal(b).copy()
        same = labels[:, None] == labels[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = np.where(same, LD(0), b / (d[None, :] - d[:, None]))
        w = w + mm(w, corr)
    b = mm(np.swapaxes(w, -1, -2), mm(a_ld, w))
    return np.diagonal(b).copy(), w


def _sym_eig_one(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = a.shape[-1]
    if np.all(a == np.diag(np.diagonal(a))):
        return np.diagonal(a).astype(LD), np.eye(n, dtype=LD)
    # Work on a power-of-two rescaling, so float64 eigh neither overflows nor underflows (exact).
    e = int(np.frexp(np.max(np.abs(a)))[1])
    _, w0 = np.linalg.eigh(np.ldexp(a, -e))
    w = _orthonormalize(w0.astype(LD))
    d, w = _refine(np.ldexp(a.astype(LD), -e), w)
    return np.ldexp(d, e), w


_CACHE: OrderedDict = OrderedDict()


def sym_eig(a: np.ndarray) -> SymEig:
    """Long-double eigendecomposition of the (exactly symmetric) float array ``a`` as stored."""
    a64 = np.asarray(a).astype(np.float64)
    if not np.array_equal(a64, np.swapaxes(a64, -1, -2)):
        raise ValueError("sym_eig needs exactly symmetric input")
    key = (a64.shape, a64.tobytes())
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    flat = a64.reshape(-1, *a64.shape[-2:])
    parts = [_sym_eig_one(m) for m in flat]
    out = SymEig(np.stack([p[0] for p in parts]).reshape(*a64.shape[:-1]) if parts else np.zeros(a64.shape[:-1], LD),
                 np.stack([p[1] for p in parts]).reshape(a64.shape) if parts else np.zeros(a64.shape, LD))
    _CACHE[key] = out
    while len(_CACHE) > 128 or sum(v.w.size for v in _CACHE.values()) > 8 * 300 * 300 * 8:
        _CACHE.popitem(last=False)
    return out


def mp_sym_roots(a: np.ndarray, dps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(A^(1/2), A^(-1/2)) of one small symmetric positive definite matrix by mpmath (slow; validation)."""
    with mpmath.workdps(dps):
        m = mpmath.matrix(a.astype(np.float64).tolist())
        d, v = mpmath.eigsy(m)
        n = a.shape[-1]
        y = v * mpmath.diag([mpmath.sqrt(d[i]) for i in range(n)]) * v.T
        z = v * mpmath.diag([1 / mpmath.sqrt(d[i]) for i in range(n)]) * v.T
        to = lambda x: np.array([[LD(mpmath.nstr(x[i, j], 30)) for j in range(n)] for i in range(n)])  # noqa: E731
        return to(y), to(z)


def mp_principal_sqrt(a: np.ndarray, dps: int = 60):
    """Principal root of one small diagonalisable matrix from mpmath's eigendecomposition (validation);
    None when the eigenvector matrix is too ill-conditioned for ``dps`` digits."""
    n = a.shape[-1]
    with mpmath.workdps(dps):
        m = mpmath.matrix(a.astype(np.float64).tolist())
        e, er = mpmath.eig(m)
        if mpmath.cond(er) > mpmath.mpf(10) ** (dps // 2):
            return None
        y = er * mpmath.diag([mpmath.sqrt(v) for v in e]) * mpmath.inverse(er)
        return np.array([[LD(mpmath.nstr(mpmath.re(y[i, j]), 30)) for j in range(n)] for i in range(n)])


# --------------------------------------------------------------------------- errors


def _extended(x: np.ndarray) -> np.ndarray:
    """``x`` in long double (complex long double for complex ``x``)."""
    x = np.asarray(x)
    return x.astype(np.clongdouble if np.iscomplexobj(x) else LD)


def fro(x: np.ndarray) -> np.ndarray:
    x = np.abs(_extended(x))
    return np.sqrt(np.sum(x * x, axis=(-2, -1)))


def rel_errors(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Relative Frobenius error per matrix (long double); 0/0 = 0, x/0 = inf; nan/inf entries give inf."""
    x = np.asarray(x)
    num = fro(_extended(x) - _extended(ref))
    den = fro(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1), np.where(num == 0, 0, np.inf)).astype(np.float64)
    finite = np.all(np.isfinite(x), axis=(-2, -1))
    return np.where(finite, out, np.inf)


def representable(ref: np.ndarray, dtype) -> np.ndarray:
    """Per matrix: whether the true result fits the dtype to working relative precision
    (largest entry well inside the normal range), i.e. whether any value could meet the bound."""
    info = np.finfo(dtype)
    n = ref.shape[-1]
    top = np.max(np.abs(_extended(ref)), axis=(-2, -1))
    small_enough = top <= LD(float(info.max)) / (10 * n * n)
    return small_enough & ((top == 0) | (top >= LD(float(info.tiny)) * 100 * n / eps(dtype)))


# --------------------------------------------------------------------------- non-symmetric


def certain_rhp(a: np.ndarray, margin: float) -> bool:
    """Whether every eigenvalue of the float64 matrix ``a`` certainly has real part > 0.

    The eigenvalues from LAPACK are within ``margin * n * eps64 * ||A||_F`` times their
    condition number of the exact ones (first order); the decision must hold over
    that uncertainty.
    """
    w, vl, vr = scipy.linalg.eig(a, left=True, right=True)
    cond = np.linalg.norm(vl, axis=0) * np.linalg.norm(vr, axis=0) / np.abs(np.sum(vl.conj() * vr, axis=0))
    radius = margin * a.shape[-1] * U64 * np.linalg.norm(a) * cond
    return bool(np.all(np.isfinite(cond)) and np.all(w.real > radius))


def certain_lhp_eigenvalue(y: np.ndarray) -> bool:
    """Whether the float64 matrix ``y`` certainly has an eigenvalue with real part < 0."""
    w, vl, vr = scipy.linalg.eig(y, left=True, right=True)
    cond = np.linalg.norm(vl, axis=0) * np.linalg.norm(vr, axis=0) / np.abs(np.sum(vl.conj() * vr, axis=0))
    radius = 10 * y.shape[-1] * U64 * np.linalg.norm(y) * cond
    return bool(np.any(np.isfinite(cond) & (w.real < -radius)))


def robustly_principal(y: np.ndarray, u: float) -> bool:
    """Whether perturbing ``y`` by 100 n u ||Y||_F cannot move an eigenvalue to the imaginary axis (first order).

    Only then does "every eigenvalue of the computed Y has positive real part" follow from
    computing Y to working precision ``u``; elsewhere no floating-point matrix near Y need satisfy it.
    """
    w, vl, vr = scipy.linalg.eig(y, left=True, right=True)
    cond = np.linalg.norm(vl, axis=0) * np.linalg.norm(vr, axis=0) / np.abs(np.sum(vl.conj() * vr, axis=0))
    return bool(np.all(np.isfinite(cond)) and np.all(w.real > 100 * y.shape[-1] * u * np.linalg.norm(y) * cond))


def sqrt_condition(a: np.ndarray, y: np.ndarray) -> float:
    """||A||_F ||L^-1||_2 / ||Y||_F with L = I (x) Y + Y^T (x) I; inf where L is not
    resolvable in float64 (smallest singular value below 1e4 eps ||L||_2)."""
    n = a.shape[-1]
    eye = np.eye(n)
    lk = np.kron(eye, y) + np.kron(y.T, eye)
    sv = np.linalg.svd(lk, compute_uv=False)
    if not sv[-1] > 1e4 * U64 * sv[0]:
        return np.inf
    return float(np.linalg.norm(a) / sv[-1] / np.linalg.norm(y))


_NS_CACHE: OrderedDict = OrderedDict()


def nonsym_reference(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per matrix of a batch: the refined principal root (long double) and its condition number."""
    a64 = np.asarray(a).astype(np.float64)
    key = (a64.shape, a64.tobytes())
    if key in _NS_CACHE:
        return _NS_CACHE[key]
    flat = a64.reshape(-1, *a64.shape[-2:])
    ys, conds = [], []
    for m in flat:
        try:
            with np.errstate(all="ignore"):
                y = reference_roots(m[None], np.zeros_like(m)[None])[0][0]
        except (ValueError, np.linalg.LinAlgError, ArithmeticError):
            y = np.full(m.shape, np.nan, dtype=LD)
        y64 = y.astype(np.float64)
        if not np.all(np.isfinite(y64)):
            ys.append(y)
            conds.append(np.inf)
            continue
        cond = sqrt_condition(m, y64)
        # Trust the reference only where Newton's refinement resolves it (cond * eps64 small).
        resid = fro(m.astype(LD) - y @ y) / fro(m.astype(LD))
        if not (np.isfinite(cond) and cond * U64 < 1e-3 and resid < 1e-17):
            cond = np.inf
        ys.append(y)
        conds.append(cond)
    out = (np.stack(ys).reshape(a64.shape), np.array(conds).reshape(a64.shape[:-2]))
    _NS_CACHE[key] = out
    while len(_NS_CACHE) > 256:
        _NS_CACHE.popitem(last=False)
    return out


# --------------------------------------------------------------------------- input families

SPECTRUM_KINDS = ("logspaced", "clustered", "repeated", "random")
SYMMETRIC_KINDS = (*SPECTRUM_KINDS, "rank_deficient", "exact_rank_deficient", "zero", "diagonal", "diagonal_extreme")
MAX_EXPONENT = {np.dtype(np.float64): 150, np.dtype(np.float32): 30}


def haar(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diagonal(r) < 0, -1.0, 1.0)


def spectrum(rng: np.random.Generator, n: int, kind: str, cond: float) -> np.ndarray:
    """n eigenvalues in [1/cond, 1], both ends present (n >= 2)."""
    lo = 1.0 / cond
    if kind == "logspaced":
        lam = np.logspace(0.0, np.log10(lo), n)
    elif kind == "clustered":
        width = 10.0 ** rng.uniform(-12, -3)
        lam = np.where(rng.random(n) < 0.5, 1.0, lo) * (1.0 + width * rng.random(n))
    elif kind == "repeated":
        lam = rng.choice(np.array([1.0, np.sqrt(lo), lo]), size=n)
    elif kind == "random":
        lam = np.exp(rng.uniform(np.log(lo), 0.0, n))
    else:
        raise ValueError(kind)
    idx = rng.permutation(n)
    lam[idx[0]] = 1.0
    if n > 1:
        lam[idx[1]] = lo
    return lam


def _from_spectrum(rng, lam):
    n = lam.shape[-1]
    q = haar(rng, n)
    a = (q * lam) @ q.T
    return (a + a.T) / 2


def symmetric_matrix(rng: np.random.Generator, n: int, kind: str, cond: float, max_exp: int) -> np.ndarray:
    """One float64 symmetric positive (semi-)definite matrix of the family ``kind``, largest eigenvalue ~1."""
    if kind in SPECTRUM_KINDS:
        return _from_spectrum(rng, spectrum(rng, n, kind, cond))
    if kind == "rank_deficient":
        rank = int(rng.choice([1, rng.integers(0, n)])) if n > 1 else 0
        lam = spectrum(rng, n, str(rng.choice(SPECTRUM_KINDS)), cond)
        lam = np.sort(lam)[::-1]
        lam[rank:] = 0.0
        rng.shuffle(lam)
        if rng.random() < 0.25:
            return np.diag(lam)
        return _from_spectrum(rng, lam)
    if kind == "exact_rank_deficient":
        rank = int(rng.choice([1, rng.integers(1, n)])) if n > 1 else 0
        b = rng.integers(-3, 4, size=(n, rank)).astype(np.float64)
        return b @ b.T  # small integers: exact, exactly singular
    if kind == "zero":
        return np.zeros((n, n))
    if kind == "diagonal":
        return np.diag(10.0 ** rng.uniform(-max_exp, max_exp, n))
    if kind == "diagonal_extreme":
        return np.diag(rng.choice([10.0**max_exp, 10.0**-max_exp, 1.0], n))
    raise ValueError(kind)


def build_symmetric(dtype, n, batch, kind, log_cond, exponent, wide, seed) -> np.ndarray:
    """The stored batch: per matrix its own condition number (up to 10^log_cond) and,
    if ``wide``, its own scale 10^k, k uniform in [-K, K] (the first matrix: 10^exponent)."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    max_exp = MAX_EXPONENT[dtype]
    count = int(np.prod(batch, dtype=int))
    mats = []
    for i in range(count):
        cond = 10.0 ** (log_cond if i == 0 else rng.uniform(0, log_cond))
        a = symmetric_matrix(rng, n, kind, cond, max_exp)
        k = exponent if i == 0 else (int(rng.integers(-max_exp, max_exp + 1)) if wide else 0)
        if kind == "exact_rank_deficient":
            a = np.ldexp(a, int(round(k * np.log2(10))) - 3)  # exact scaling by a power of two
        elif not kind.startswith("diagonal"):
            a = a * 10.0**k
        mats.append(a)
    return np.array(mats, dtype=np.float64).reshape(*batch, n, n).astype(dtype)


def build_indefinite(dtype, n, batch, log_neg, exponent, wide, seed) -> np.ndarray:
    """Symmetric batches in which the first matrix has an eigenvalue -10^log_neg * lam_max
    (log_neg >= log10(2 n eps)); the others are positive semi-definite or indefinite at random."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    max_exp = MAX_EXPONENT[dtype]
    count = int(np.prod(batch, dtype=int))
    mats = []
    for i in range(count):
        lam = spectrum(rng, n, str(rng.choice(SPECTRUM_KINDS)), 10.0 ** rng.uniform(0, 12))
        if i == 0 or rng.random() < 0.3:
            lo = np.log10(2 * n * float(np.finfo(dtype).eps))
            lam = np.where(rng.random(n) < rng.uniform(0, 1), -(10.0 ** rng.uniform(lo, 0, n)), lam)
            lam[rng.integers(n)] = -(10.0 ** (log_neg if i == 0 else rng.uniform(lo, 0)))
        a = np.diag(lam) if rng.random() < 0.2 else _from_spectrum(rng, lam)
        k = exponent if i == 0 else (int(rng.integers(-max_exp, max_exp + 1)) if wide else 0)
        mats.append(a * 10.0**k)
    return np.array(mats, dtype=np.float64).reshape(*batch, n, n).astype(dtype)


def build_positive_diagonal(dtype, n, batch, lo, hi, seed) -> np.ndarray:
    """Diagonal batches with entries 10^k, k uniform in [lo, hi] (both ends present)."""
    rng = np.random.default_rng(seed)
    exps = rng.uniform(lo, hi, (*batch, n))
    exps[..., 0] = hi
    if n > 1:
        exps[..., 1] = lo
    d = (10.0**exps).astype(dtype)
    return d[..., :, None] * np.eye(n, dtype=dtype)


NONSYMMETRIC_FAMILIES = ("gaussian_shift", "identity_plus_noise", "rotation", "nonnormal_triangular", "near_symmetric")


def nonsymmetric_matrix(rng: np.random.Generator, n: int, family: str, max_angle: float, min_angle: float = 0.0):
    if family == "gaussian_shift":
        g = rng.standard_normal((n, n)) / np.sqrt(n)
        w = np.linalg.eigvals(g)
        radius = max(np.max(np.abs(w)), 1e-3)
        return g + (-np.min(w.real) + 10.0 ** rng.uniform(-3, 1) * radius) * np.eye(n)
    if family == "identity_plus_noise":
        return np.eye(n) + rng.uniform(0, 0.9) * rng.standard_normal((n, n)) / np.sqrt(n)
    if family == "rotation":
        blocks = []
        while sum(b.shape[0] for b in blocks) < n:
            if n - sum(b.shape[0] for b in blocks) >= 2 and (n == 2 or rng.random() < 0.8):
                th = np.radians(rng.uniform(min_angle, max_angle))
                blocks.append(10.0 ** rng.uniform(-3, 3) * np.array([[np.cos(th), -np.sin(th)],
                                                                     [np.sin(th), np.cos(th)]]))
            else:
                blocks.append(np.array([[10.0 ** rng.uniform(-3, 3)]]))
        a = scipy.linalg.block_diag(*blocks)
        if n == 2 and rng.random() < 0.5:
            return a
        q = haar(rng, n)
        return q @ a @ q.T
    if family == "nonnormal_triangular":
        t = np.diag(10.0 ** rng.uniform(-2, 2, n))
        t += np.triu(rng.uniform(-1, 1, (n, n)) * 10.0 ** rng.uniform(-3, 3), 1)
        q = haar(rng, n)
        return q @ t @ q.T
    if family == "near_symmetric":
        s = _from_spectrum(rng, spectrum(rng, n, str(rng.choice(SPECTRUM_KINDS)), 10.0 ** rng.uniform(0, 12)))
        k = rng.standard_normal((n, n))
        delta = 10.0 ** rng.uniform(-14, -6)
        return s + delta * np.linalg.norm(s, 2) * k / np.linalg.norm(k, 2)
    raise ValueError(family)


def build_nonsymmetric(dtype, n, batch, family, seed, max_angle=89.0, min_angle=0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    count = int(np.prod(batch, dtype=int))
    mats = [nonsymmetric_matrix(rng, n, family, max_angle, min_angle) for _ in range(count)]
    return np.array(mats, dtype=np.float64).reshape(*batch, n, n).astype(dtype)


def certain_off_negative_axis(a: np.ndarray) -> bool:
    """Whether no eigenvalue of the float64 matrix ``a`` can lie on the closed negative real axis."""
    w, vl, vr = scipy.linalg.eig(a, left=True, right=True)
    cond = np.linalg.norm(vl, axis=0) * np.linalg.norm(vr, axis=0) / np.abs(np.sum(vl.conj() * vr, axis=0))
    radius = 10 * a.shape[-1] * U64 * np.linalg.norm(a) * cond
    return bool(np.all(np.isfinite(cond)) and np.all((w.real > radius) | (np.abs(w.imag) > radius)))
