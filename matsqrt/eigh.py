"""Square roots of Hermitian matrices by eigendecomposition, and their exact gradients."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from array_api_compat import is_numpy_namespace

from ._classify import complex_dtype, conj_transpose, is_complex
from ._validate import batch_indices

__all__ = ["hermitian_part", "eigh_root", "daleckii_krein"]


def hermitian_part(a: Any, xp: Any) -> Any:
    """``(A + A^H) / 2`` (for real input ``(A + A^T) / 2``), without overflow; what the Hermitian methods
    compute with.

    For input that is Hermitian to rounding (:mod:`matsqrt._classify`) this
    uses both triangles instead of trusting one.
    """
    half = 0.5 * a
    return half + conj_transpose(half, xp)


def _no_convergence(err: Any, flag: Any) -> None:
    import numpy as np

    raise np.linalg.LinAlgError("Eigenvalues did not converge")


def eigh(a: Any, xp: Any) -> tuple[Any, Any]:
    """``xp.linalg.eigh(a)``; on NumPy in single precision for float32 and complex64 input.

    ``numpy.linalg.eigh`` computes single-precision input in double precision
    (LAPACK ``dsyevd``/``zheevd``) and rounds the result; its gufunc has
    single-precision loops (``ssyevd``/``cheevd``), called here directly, with
    the same non-convergence error.  (Their accuracy within the contract:
    docs/accuracy.md.)
    """
    if not is_numpy_namespace(xp) or a.dtype not in (xp.float32, xp.complex64):
        return xp.linalg.eigh(a)
    import numpy as np

    # Looked up at each call: the benchmark's counter replaces it while counting.
    gufunc = getattr(getattr(np.linalg, "_umath_linalg", None), "eigh_lo", None)
    if gufunc is None:
        return xp.linalg.eigh(a)
    signature = "F->fF" if a.dtype == xp.complex64 else "f->ff"
    with np.errstate(call=_no_convergence, invalid="call", over="ignore", divide="ignore", under="ignore"):
        return gufunc(a, signature=signature)


def eigh_root(a: Any, power: Fraction, xp: Any, negative: str = "raise") -> tuple[Any, Any, Any]:
    """``A^power`` (power = +-1/2) of Hermitian ``A``; also ``(roots, U)``.

    Negative eigenvalues within ``n eps |lambda|_max`` of zero are rounding
    of a semi-definite matrix and are read as zero.  More negative ones
    raise :class:`ValueError` with ``negative="raise"``; with
    ``negative="complex"`` their principal roots ``i sqrt(-lambda)`` are
    used and the result is complex (the principal root of an indefinite
    Hermitian matrix, a normal matrix, is ``U diag(sqrt(lambda)) U^H``).
    Positive eigenvalues are data and are kept, however small.  For
    ``power < 0`` a zero eigenvalue (after that reading) raises
    :class:`ValueError`.  Errors name the batch indices at fault.
    """
    n = a.shape[-1]
    eps = float(xp.finfo(a.dtype).eps)
    lam, u = eigh(a, xp)
    floor = n * eps * xp.max(xp.abs(lam), axis=-1, keepdims=True)
    below = lam < -floor
    negative_rows = xp.any(below, axis=-1)
    clipped = xp.where(lam > 0, lam, xp.zeros_like(lam))
    singular = xp.any((clipped == 0) & ~below, axis=-1)
    # One host synchronisation for both tests (bit 2: some matrix has a negative eigenvalue; bit 1: some,
    # possibly another, is singular and the inverse root is asked for).
    code = 2 * xp.astype(xp.any(negative_rows), xp.int8)
    if power < 0:
        code = code + xp.astype(xp.any(singular), xp.int8)
    worst = int(code)
    batch = tuple(a.shape[:-2])
    if worst >= 2 and negative != "complex":
        largest = xp.max(xp.abs(lam), axis=-1, keepdims=True)
        worst_lam = xp.min(lam / xp.where(largest > 0, largest, xp.ones_like(largest)))
        raise ValueError(
            f"A has a negative eigenvalue{batch_indices(negative_rows, batch)}: it is not positive semi-definite "
            f"(smallest eigenvalue {float(worst_lam):.3g} times the largest modulus), so its principal square "
            "root is not real (method='auto' returns it, complex)"
        )
    if worst % 2 == 1:
        raise ValueError(f"A is singular{batch_indices(singular, batch)}: it has no inverse square root")
    roots = xp.sqrt(clipped)
    if worst >= 2:
        # sqrt(lambda) = i sqrt(-lambda) for the negative eigenvalues: the principal branch.
        ctype = complex_dtype(roots.dtype, xp)
        modulus = xp.astype(xp.sqrt(xp.where(below, -lam, clipped)), ctype)
        roots = xp.where(below, modulus * 1j, modulus)
        if not is_complex(u, xp):
            u = xp.astype(u, ctype)
    values = roots if power > 0 else 1.0 / roots
    return (u * values[..., None, :]) @ conj_transpose(u, xp), roots, u


def daleckii_krein(roots: Any, u: Any, g: Any, power: Fraction, xp: Any) -> Any:
    """``U (conj(L) o (U^H G U)) U^H``: the vector-Jacobian product of ``A -> A^power`` at ``A = U diag U^H``.

    The adjoint of the Frechet derivative ``E -> U (L o (U^H E U)) U^H`` in
    the real inner product ``Re tr(X^H Y)`` (PyTorch's convention for
    complex gradients).  Closed forms of the divided differences, exact
    where eigenvalues repeat: ``L_ij = 1 / (r_i + r_j)`` for the square root
    and ``-1 / (r_i r_j (r_i + r_j))`` for the inverse root,
    ``r = sqrt(lambda)`` (complex for negative eigenvalues).  A zero root
    (singular ``A``) raises :class:`ValueError`: the derivative is infinite
    there.
    """
    singular = xp.any(roots == 0, axis=-1)
    if bool(xp.any(singular)):
        raise ValueError(f"A is singular{batch_indices(singular, tuple(roots.shape[:-1]))}: the matrix square "
                         "root has no derivative there (it is infinite)")
    ri, rj = roots[..., :, None], roots[..., None, :]
    weights = 1.0 / (ri + rj)
    if power < 0:
        weights = -weights / (ri * rj)
    if is_complex(weights, xp):
        weights = xp.conj(weights)
    if is_complex(u, xp) and not is_complex(g, xp):
        g = xp.astype(g, u.dtype)
    uh = conj_transpose(u, xp)
    return u @ (weights * (uh @ g @ u)) @ uh
