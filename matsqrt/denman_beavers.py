"""Scaled Denman-Beavers iteration (product form) for general matrices.

With M_0 = Y_0 = A and Z_0 = I, each step computes mu_k = |det M_k|^(-1/(2n))
and

    W = (I + mu^-2 M_k^-1) / 2,   Y_{k+1} = mu Y_k W,   Z_{k+1} = mu Z_k W,
    M_{k+1} = (I + (mu^2 M_k + mu^-2 M_k^-1) / 2) / 2,

one inverse and two products a step.  Y_k -> A^(1/2) and Z_k -> A^(-1/2), the
*principal* roots, for every matrix with no eigenvalue on the closed negative
real axis, with quadratic convergence once M_k is near I (Higham, Functions of
Matrices, 2008, sections 6.3-6.5: the product form is numerically stable, and
the determinantal scaling shortens the initial phase).  Real input stays real:
complex conjugate eigenvalue pairs are fine; a negative real eigenvalue
(whose principal root is complex) or a singular matrix makes it fail to
converge, which is reported, never a wrong root.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from array_api_compat import device as array_device

from ._errors import ConvergenceInfo
from .lyapunov import check_every, distance_to_identity

__all__ = ["denman_beavers", "determinant_scale", "inverse", "iterate_to_identity", "SCALE_UNTIL"]

# Determinantal scaling is switched off once ||M_k - I||_F is below this:
# near convergence it no longer shortens anything and only adds rounding.
SCALE_UNTIL = 1e-2


def determinant_scale(m: Any, xp: Any, root: int) -> Any:
    """``|det M|^(-1/(root n))`` per matrix, shape ``(..., 1, 1)``; 1 where it is not finite.

    From the log-determinant, so it neither overflows nor underflows.
    """
    n = m.shape[-1]
    _, logabsdet = xp.linalg.slogdet(m)
    mu = xp.exp(-logabsdet / (root * n))
    mu = xp.where(xp.isfinite(mu) & (mu > 0), mu, xp.ones_like(mu))
    return mu[..., None, None]


def inverse(m: Any, xp: Any) -> Any:
    """``m^-1``, or ``None`` when some matrix of the batch is exactly singular.

    NumPy and PyTorch raise for the whole batch (LinAlgError, RuntimeError);
    other libraries return non-finite entries, which the iterations' checks
    catch.  Either way the iteration stops unconverged.
    """
    try:
        return xp.linalg.inv(m)
    except (ArithmeticError, RuntimeError, ValueError) as exc:
        if "singular" in str(exc).lower() or type(exc).__name__ == "LinAlgError":
            return None
        raise


def iterate_to_identity(m: Any, step: Callable[[Any, Any, bool], Any], xp: Any, *, maxiter: int, tol: float
                        ) -> ConvergenceInfo:
    """Run ``m <- step(m, m^-1, scaled)`` until ``m`` reaches I: the loop of the Newton-type iterations.

    Shared by :func:`denman_beavers` and
    :func:`matsqrt.lyapunov.newton_sign_iteration` (their ``step`` updates
    the other iterates as a side effect).  ``scaled`` is whether
    determinantal scaling is still on (``||m - I||_F > SCALE_UNTIL``).
    Stops, converged, when ``||m - I||_F <= tol`` or one step after it was at
    most ``sqrt(tol)`` (quadratic convergence: the exact error is then below
    about ``tol / 4``, what remains is rounding); stops, not converged, at
    ``maxiter`` steps, on a non-finite ``m`` or an exactly singular one.
    Early iterates may be large (the scaled ``M + M^-1`` of an
    ill-conditioned matrix), so size alone is not failure.  Host
    synchronisations only at checks (every :func:`check_every` steps).
    """
    eye = xp.eye(m.shape[-1], dtype=m.dtype, device=array_device(m))
    every = check_every(xp)
    residual = math.inf
    converged = False
    last_step = False
    iterations = 0
    while iterations < maxiter:
        if iterations % every == 0 or last_step:
            residual = distance_to_identity(m, eye, xp)
            if not math.isfinite(residual):
                break
            if residual <= tol or last_step:
                converged = True
                break
            last_step = residual <= math.sqrt(tol)
        m_inv = inverse(m, xp)
        if m_inv is None:
            break
        m = step(m, m_inv, residual > SCALE_UNTIL)
        iterations += 1
    return ConvergenceInfo(iterations, residual, converged, tol)


def denman_beavers(a: Any, xp: Any, *, maxiter: int, tol: float) -> tuple[Any, Any, ConvergenceInfo]:
    """``(A^(1/2), A^(-1/2), info)`` for a general nonsingular ``A``.

    ``A`` should be scaled to a moderate norm (the caller divides by its
    Frobenius norm).  Stop rule: :func:`iterate_to_identity` on ``M_k``.
    """
    eye = xp.eye(a.shape[-1], dtype=a.dtype, device=array_device(a))
    roots = {"y": a, "z": None}

    def step(m, m_inv, scaled):
        mu = determinant_scale(m, xp, 2) if scaled else 1.0
        m_inv = m_inv / (mu * mu)
        w = 0.5 * mu * (eye + m_inv)
        roots["y"] = roots["y"] @ w
        roots["z"] = w if roots["z"] is None else roots["z"] @ w
        return 0.5 * eye + 0.25 * (mu * mu * m + m_inv)

    info = iterate_to_identity(a, step, xp, maxiter=maxiter, tol=tol)
    z = eye + 0.0 * a if roots["z"] is None else roots["z"]
    return roots["y"], z, info
