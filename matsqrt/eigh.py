"""Square roots of symmetric matrices by eigendecomposition, and their exact gradients."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

__all__ = ["check_symmetric", "eigh_root", "daleckii_krein"]


def check_symmetric(a: Any, xp: Any, what: str) -> None:
    """Raise :class:`ValueError` unless every matrix is symmetric to rounding.

    The tolerance, ``100 n eps max|A|`` entrywise, admits matrices such as
    ``X @ X.T`` that are symmetric up to the rounding of their computation.
    """
    n = a.shape[-1]
    eps = float(xp.finfo(a.dtype).eps)
    gap = xp.max(xp.abs(a - xp.matrix_transpose(a)), axis=(-2, -1))
    size = xp.max(xp.abs(a), axis=(-2, -1))
    if not bool(xp.all(gap <= 100 * n * eps * size)):
        raise ValueError(f"{what} needs symmetric input; use method='matmul' for non-symmetric matrices")


def eigh_root(a: Any, power: Fraction, xp: Any) -> tuple[Any, Any, Any]:
    """``A^power`` (power = +-1/2) of symmetric PSD ``A``; also ``(sqrt(lambda), U)``.

    Eigenvalues within ``n eps |lambda|_max`` of zero are rounding of a
    semi-definite matrix and are set to zero; more negative ones raise
    :class:`ValueError`, as does a zero eigenvalue for ``power < 0``.
    """
    n = a.shape[-1]
    eps = float(xp.finfo(a.dtype).eps)
    lam, u = xp.linalg.eigh(a)
    floor = n * eps * xp.max(xp.abs(lam), axis=-1, keepdims=True)
    if bool(xp.any(lam < -floor)):
        raise ValueError("A has negative eigenvalues: it is not positive semi-definite")
    if power < 0 and bool(xp.any(lam <= floor)):
        raise ValueError("A is singular (rank-deficient): it has no inverse square root")
    roots = xp.sqrt(xp.where(lam > floor, lam, xp.zeros_like(lam)))
    values = roots if power > 0 else 1.0 / roots
    return (u * values[..., None, :]) @ xp.matrix_transpose(u), roots, u


def daleckii_krein(roots: Any, u: Any, g: Any, power: Fraction, xp: Any) -> Any:
    """``U (L o (U^T G U)) U^T``, the gradient of ``A -> A^power`` at ``A = U diag U^T``.

    Closed forms of the divided differences, exact where eigenvalues repeat:
    ``L_ij = 1 / (r_i + r_j)`` for the square root and
    ``-1 / (r_i r_j (r_i + r_j))`` for the inverse root, ``r = sqrt(lambda)``.
    """
    if bool(xp.any(roots == 0)):
        raise ValueError("the matrix square root is not differentiable at a singular matrix")
    ri, rj = roots[..., :, None], roots[..., None, :]
    weights = 1.0 / (ri + rj)
    if power < 0:
        weights = -weights / (ri * rj)
    ut = xp.matrix_transpose(u)
    return u @ (weights * (ut @ g @ u)) @ ut
