"""Coupled Newton-Schulz iteration for A^(1/2) and A^(-1/2) together.

With U = A / s (spectrum in (0, 1]), Y_0 = U and Z_0 = I, the iteration

    T = Z_k Y_k,   Q = (alpha/2) (3I - alpha^2 T),   Y_{k+1} = Y_k Q,   Z_{k+1} = Q Z_k

is the Newton-Schulz sign iteration on [[0, U], [I, 0]], whose sign is
[[0, U^(1/2)], [U^(-1/2), 0]]: Y_k -> U^(1/2) and Z_k -> U^(-1/2), with three
matrix products a step (one for the first).  ``alpha = 1`` is the classical
iteration (iSQRT-COV, Li et al. 2018; Higham, Functions of Matrices, 6.3);
``alpha_k`` from :func:`matsqrt.lyapunov.scaled_step` accelerates it.
The eigenvalue sqrt(lambda / s) of the block matrix is what the sign
iteration drives to 1, so the same schedules apply as in the Lyapunov solver.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device as array_device

from ._errors import ConvergenceInfo
from ._fused import identity_minus, matmul
from .lyapunov import check_every, distance_to_identity, scaled_step

__all__ = ["coupled_newton_schulz"]

# A converging iteration keeps the eigenvalues of T in (0, 1], so an RMS
# distance from I this large means divergence (a negative or complex
# eigenvalue); stopping there avoids overflow.
DIVERGED = 1e3


def coupled_newton_schulz(
    u: Any,
    xp: Any,
    *,
    maxiter: int,
    tol: float,
    lower: float | None = None,
) -> tuple[Any, Any, ConvergenceInfo]:
    """Return ``(U^(1/2), U^(-1/2), info)`` for nonsingular ``U`` with spectrum in (0, 1].

    ``lower``: accelerated steps designed for ``sqrt(lambda(U))`` in
    [lower, 1] (``None``: classical steps).  Convergence is measured by the
    RMS entry of ``I - Z_k Y_k`` (free: ``T`` is formed anyway), which reaches
    rounding level only when every eigenvalue has converged; it stops when
    that is at most ``tol`` or one step after it is at most ``sqrt(tol / 2)``
    (quadratic convergence).  It cannot converge for singular ``U``.
    ``tol = 0`` runs exactly ``maxiter`` steps without checks.  Host
    synchronisations happen only at checks, every :func:`check_every` steps;
    at a check, ``||I - T||_F < 1`` bounds the smallest ``x^2`` from below,
    which tightens ``lower``.
    """
    n = u.shape[-1]
    eye = xp.eye(n, dtype=u.dtype, device=array_device(u))
    every = check_every(xp)
    y, z = u, None
    residual = math.nan
    converged = tol == 0
    last_step = False
    iterations = 0
    while iterations < maxiter:
        t = u if z is None else matmul(z, y, xp)
        if tol > 0 and (last_step or (iterations + 1) % every == 0 or iterations + 1 == maxiter):
            residual = distance_to_identity(t, eye, xp)
            if not residual <= DIVERGED:
                break
            if residual <= tol or last_step:
                converged = True
                break
            last_step = residual <= math.sqrt(tol / 2)
            if lower is not None and residual * n < 1.0:
                lower = max(lower, math.sqrt(1.0 - residual * n))
        alpha = 1.0
        if lower is not None:
            alpha, lower = scaled_step(lower)
        q = identity_minus(t, 1.5 * alpha, 0.5 * alpha**3, xp, eye)
        y = matmul(y, q, xp)
        z = q if z is None else matmul(q, z, xp)
        iterations += 1
    if z is None:
        z = eye + 0.0 * u
    return y, z, ConvergenceInfo(iterations, residual, converged, tol)
