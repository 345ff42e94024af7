"""Square roots of symmetric matrices by eigendecomposition, and their exact gradients."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ._validate import batch_indices

__all__ = ["symmetric_part", "eigh_root", "daleckii_krein"]


def symmetric_part(a: Any, xp: Any) -> Any:
    """``(A + A^T) / 2``, without overflow; what the symmetric methods compute with.

    For input that is symmetric to rounding (:mod:`matsqrt._classify`) this
    uses both triangles instead of trusting one.
    """
    half = 0.5 * a
    return half + xp.matrix_transpose(half)


def eigh_root(a: Any, power: Fraction, xp: Any) -> tuple[Any, Any, Any]:
    """``A^power`` (power = +-1/2) of symmetric PSD ``A``; also ``(sqrt(lambda), U)``.

    Negative eigenvalues within ``n eps |lambda|_max`` of zero are rounding
    of a semi-definite matrix and are read as zero; more negative ones raise
    :class:`ValueError`.  Positive eigenvalues are data and are kept, however
    small.  For ``power < 0`` a zero eigenvalue (after that reading) raises
    :class:`ValueError`.  Errors name the batch indices at fault.
    """
    n = a.shape[-1]
    eps = float(xp.finfo(a.dtype).eps)
    lam, u = xp.linalg.eigh(a)
    floor = n * eps * xp.max(xp.abs(lam), axis=-1, keepdims=True)
    negative = xp.any(lam < -floor, axis=-1)
    clipped = xp.where(lam > 0, lam, xp.zeros_like(lam))
    singular = xp.any(clipped == 0, axis=-1)
    # One host synchronisation for both tests.
    code = 2 * xp.astype(negative, xp.int8) + (xp.astype(singular, xp.int8) if power < 0 else 0)
    worst = int(xp.max(code)) if code.ndim else int(code)
    batch = tuple(a.shape[:-2])
    if worst >= 2:
        largest = xp.max(xp.abs(lam), axis=-1, keepdims=True)
        worst_lam = xp.min(lam / xp.where(largest > 0, largest, xp.ones_like(largest)))
        raise ValueError(
            f"A has a negative eigenvalue{batch_indices(negative, batch)}: it is not positive semi-definite "
            f"(smallest eigenvalue {float(worst_lam):.3g} times the largest modulus), so its principal square "
            "root is not real"
        )
    if worst == 1:
        raise ValueError(f"A is singular{batch_indices(singular, batch)}: it has no inverse square root")
    roots = xp.sqrt(clipped)
    values = roots if power > 0 else 1.0 / roots
    return (u * values[..., None, :]) @ xp.matrix_transpose(u), roots, u


def daleckii_krein(roots: Any, u: Any, g: Any, power: Fraction, xp: Any) -> Any:
    """``U (L o (U^T G U)) U^T``, the gradient of ``A -> A^power`` at ``A = U diag U^T``.

    Closed forms of the divided differences, exact where eigenvalues repeat:
    ``L_ij = 1 / (r_i + r_j)`` for the square root and
    ``-1 / (r_i r_j (r_i + r_j))`` for the inverse root, ``r = sqrt(lambda)``.
    A zero root (singular ``A``) raises :class:`ValueError`: the derivative is
    infinite there.
    """
    singular = xp.any(roots == 0, axis=-1)
    if bool(xp.any(singular)):
        raise ValueError(f"A is singular{batch_indices(singular, tuple(roots.shape[:-1]))}: the matrix square "
                         "root has no derivative there (it is infinite)")
    ri, rj = roots[..., :, None], roots[..., None, :]
    weights = 1.0 / (ri + rj)
    if power < 0:
        weights = -weights / (ri * rj)
    ut = xp.matrix_transpose(u)
    return u @ (weights * (ut @ g @ u)) @ ut
