"""Principal square roots of singular matrices, by deflation onto the range (on the host, with SciPy).

A zero eigenvalue has a principal (primary) square root only if it is
semi-simple: ``rank(A^2) = rank(A)``, so that ``C^n`` is the direct sum of
``range(A)`` and ``null(A)``, both invariant.  With ``V`` an orthonormal
basis of ``range(A)`` (left singular vectors) and ``N`` one of ``null(A)``
(right singular vectors), ``S = [V, N]`` is invertible,
``A = S diag(B, 0) S^-1`` with ``B = V^H A V`` nonsingular, and the
principal root is ``S diag(B^(1/2), 0) S^-1 = V B^(1/2) (S^-1)[:r]``.  This
is exact up to rounding, where a shift ``A + d I`` leaves ``sqrt(d) / 2`` at
every zero eigenvalue (measured on ``S1 @ S2`` of two rank-199 covariances,
n = 256: trace error 4.6e-7 relative with the shift against 4e-15 here).
If zero is not semi-simple (a Jordan block: ``B`` is singular too), no
principal root exists; :func:`deflated_roots` reports it and the caller
(:func:`matsqrt._methods._settle_host`) raises :class:`ValueError`, unless a
root computed otherwise squares back to ``A`` (:func:`squares_back`: to
working precision the matrix may be merely far from normal).

Ranks are numerical: singular values at most ``n eps sigma_max`` count as
zero, the band ``eigh`` reads as zero.  This is the error path of the
general methods (singular input makes their iterations fail), run on the
host for every backend.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._validate import batch_indices

__all__ = ["zero_eigenvalue_kind", "deflated_roots", "raise_defective", "DefectiveError", "squares_back", "REGULAR",
           "SEMISIMPLE", "DEFECTIVE", "UNCLEAR"]


def _tolerance(a: np.ndarray) -> float:
    return a.shape[-1] * float(np.finfo(a.dtype).eps)


REGULAR, SEMISIMPLE, DEFECTIVE, UNCLEAR = 0, 1, 2, 3


def zero_eigenvalue_kind(a: np.ndarray) -> np.ndarray:
    """Per matrix, what its zero eigenvalue looks like to working precision (one of the codes above).

    ``g``, the numerical nullity, counts the singular values at most
    ``n eps`` times the largest; ``k``, the numerical algebraic multiplicity
    of zero, the eigenvalues within ``n eps max|lambda|`` of zero (the band
    :func:`matsqrt.eigh.eigh_root` reads as zero).  ``g = 0``: REGULAR
    (nonsingular to working precision).  ``k = g > 0``: SEMISIMPLE, rooted by
    :func:`deflated_roots`.  ``k > g``: DEFECTIVE, a Jordan block at zero, no
    principal root.  ``0 < k < g`` or ``k = 0 < g``: UNCLEAR, singular values
    near zero without as many eigenvalues there: a matrix far from normal, or
    a Jordan block whose eigenvalues rounding spread out of the band (to
    about ``eps^(1/size)``); the caller decides by the quality of the root it
    computed.
    """
    with np.errstate(all="ignore"):
        sv = np.linalg.svd(a, compute_uv=False)
    g = np.sum(~(sv > _tolerance(a) * sv[..., :1]), axis=-1)
    kind = np.zeros(g.shape, dtype=np.int8)
    if np.any(g > 0):
        lam = np.linalg.eigvals(a[g > 0].astype(np.result_type(a.dtype, np.complex64)))
        band = _tolerance(a) * np.max(np.abs(lam), axis=-1, keepdims=True)
        k = np.sum(np.abs(lam) <= band, axis=-1)
        gs = g[g > 0]
        kind[g > 0] = np.where(k == gs, SEMISIMPLE, np.where(k > gs, DEFECTIVE, UNCLEAR))
    return kind


class DefectiveError(ValueError):
    """A zero eigenvalue that is not semi-simple to working precision (no principal root): a ValueError."""


def raise_defective(flags: np.ndarray, batch_shape: tuple[int, ...]) -> None:
    """The :class:`ValueError` for matrices without a principal root (a Jordan block at zero)."""
    if np.any(flags):
        raise DefectiveError(f"A is singular to working precision and its zero eigenvalue is not semi-simple to "
                             f"that precision{batch_indices(np.reshape(flags, batch_shape), batch_shape)}: a Jordan "
                             "block at zero, which has no principal square root, or a matrix too far from normal "
                             "for this dtype to tell")


def squares_back(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per matrix: ``||Y^2 - A||_F <= eps^(1/3) ||A||_F`` (the test an UNCLEAR matrix's root must pass).

    Measured: the roots SciPy's recurrence returns for Jordan blocks at zero
    (sizes 2 to 12, float32 to complex128) square back to ``A`` only to
    relative residuals of 2e-2 and more; a root of an ill-conditioned matrix
    that has one squares back to rounding of ``||Y||_F^2`` (Al-Mohy and
    Higham's 2012 test matrix, singular values down to 5e-21 times the
    largest and eigenvalues near 0.3: 4.8e-8 in float64).  ``eps^(1/3)``
    (6e-6 in float64, 5e-3 in float32) lies between them.
    """
    eps = float(np.finfo(a.dtype).eps)
    with np.errstate(all="ignore"):
        res = np.linalg.norm(y @ y - a, axis=(-2, -1))
        return res <= eps ** (1.0 / 3.0) * np.linalg.norm(a, axis=(-2, -1))


def deflated_roots(a: np.ndarray, flags: np.ndarray, batch_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(roots, defective)``: the principal roots of the matrices of ``a`` where ``flags`` (zeros
    elsewhere), and where the deflated ``B`` is singular too (a zero eigenvalue that is not semi-simple to
    working precision; no root computed there).

    The result is complex where a root is (``B`` with a negative
    eigenvalue), in ``a``'s precision.
    """
    import scipy.linalg

    from ._schur import scipy_sqrtm

    n = a.shape[-1]
    flat = a.reshape(-1, n, n)
    picked = np.flatnonzero(np.asarray(flags).reshape(-1))
    roots: dict[int, np.ndarray] = {}
    defective = np.zeros(flat.shape[0], dtype=bool)
    for i in picked:
        m = flat[i]
        u, sv, vh = np.linalg.svd(m)
        rank = int(np.sum(sv > _tolerance(a) * sv[0])) if sv[0] > 0 else 0
        if rank == 0:
            roots[i] = np.zeros_like(m)
            continue
        v = u[:, :rank]
        b = v.conj().T @ m @ v
        if not np.linalg.svd(b, compute_uv=False)[-1] > _tolerance(a) * sv[0]:
            defective[i] = True
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            rb = np.asarray(scipy_sqrtm(b))
        basis = np.concatenate([v, vh[rank:].conj().T], axis=1)
        roots[i] = v @ rb @ np.linalg.solve(basis, np.eye(n, dtype=basis.dtype))[:rank]
    dtype = np.result_type(a.dtype, *(r.dtype for r in roots.values()))
    out = np.zeros(flat.shape, dtype=dtype)
    for i, r in roots.items():
        out[i] = r
    return out.reshape(a.shape), defective.reshape(batch_shape)


def to_device(host: np.ndarray, like: Any, xp: Any) -> Any:
    """``host`` as an array of ``xp`` on ``like``'s device, in ``like``'s precision (complex if ``host`` is)."""
    from array_api_compat import device as array_device

    from ._classify import complex_dtype

    dtype = complex_dtype(like.dtype, xp) if np.iscomplexobj(host) else like.dtype
    return xp.asarray(np.asarray(host, dtype=np.complex128 if np.iscomplexobj(host) else np.float64), dtype=dtype,
                      device=array_device(like))
