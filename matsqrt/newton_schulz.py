"""Coupled Newton-Schulz iteration for A^(1/2) and A^(-1/2) together.

With U = A / s (spectrum in (0, 1]), Y_0 = U and Z_0 = I, the iteration

    T = Z_k Y_k,   Q = (alpha/2) (3I - alpha^2 T),   Y_{k+1} = Y_k Q,   Z_{k+1} = Q Z_k

is the Newton-Schulz sign iteration on [[0, U], [I, 0]], whose sign is
[[0, U^(1/2)], [U^(-1/2), 0]]: Y_k -> U^(1/2) and Z_k -> U^(-1/2), with three
matrix products a step (one for the first).  ``alpha = 1`` is the classical
iteration (iSQRT-COV, Li et al. 2018; Higham, Functions of Matrices, 6.3).
The accelerated iteration replaces the cubic by the minimax odd polynomial
for the interval the eigenvalues ``x = sqrt(t)`` are known to lie in
(:mod:`matsqrt.schedule`: the Polar Express steps), written as
``Q = p(T) = sum_j c_j (I - T)^j``: with the quintic, four products a step
(two for the first, three for the last), and the error cubes near
convergence.  The eigenvalue sqrt(lambda / s) of the block matrix is what
the sign iteration drives to 1, so the Lyapunov backward replays the same
steps (:func:`matsqrt.lyapunov.sign_iteration`).

Which root: every iterate is a polynomial in U, and each eigenvalue t of U
follows the scalar map x <- f(x) for x = sqrt(t), with f odd and increasing
from 0 (classical: f(x) = x (3 - x^2) / 2).  For t in (0, 1] that map stays
positive and converges to 1, so
for a spectrum in (0, 1] (symmetric positive definite U, or any U with real
positive spectrum) the limit is the *principal* root.  For complex t it can
converge to the other branch (measured: 6 of 1500 random matrices with right
half-plane spectra), which is why :mod:`matsqrt._methods` verifies the result
for input that is not symmetric.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device as array_device

from ._errors import ConvergenceInfo
from ._fused import identity_minus, matmul
from ._validate import _to_host
from .lyapunov import check_every, deviation_from_identity, diverged
from .schedule import Step, Tracker

__all__ = ["coupled_newton_schulz", "shifted_roots", "smallest_eigenvalue_estimate", "not_converged_to_nan",
           "nan_where"]


def coupled_newton_schulz(
    u: Any,
    xp: Any,
    *,
    maxiter: int,
    tol: float,
    lower: float | None = None,
    need_z: bool = True,
    fixed: tuple[Step, ...] | None = None,
) -> tuple[Any, Any, ConvergenceInfo, tuple[Step, ...]]:
    """Return ``(U^(1/2), U^(-1/2), info, steps)`` for nonsingular ``U`` with spectrum in (0, 1].

    ``lower``: minimax steps (:class:`matsqrt.schedule.Tracker`, quintic)
    designed for ``sqrt(lambda(U))`` in [lower, 1] (``None``: the classical
    cubic steps; ``steps`` is then empty).  Convergence is measured by
    ``||I - Z_k Y_k||_F`` (free: ``T`` is formed anyway), which bounds the
    distance of every eigenvalue of ``T`` from 1; it stops when that is at
    most ``tol``, or one step after the step's own error bound (the minimax
    error for the interval the residual proves) is at most ``tol`` or the
    residual is at most twice the rounding error of forming ``T``,
    ``eps ||Z_k||_F ||Y_k||_F`` (for an ill-conditioned ``U`` that floor lies
    above ``tol``).  It cannot converge for singular ``U``.  ``tol = 0``
    runs exactly ``maxiter`` steps without checks.  Host synchronisations
    happen only at checks, every :func:`check_every` steps.  With
    ``need_z=False`` the last step does not update ``Z`` (one product less;
    ``Z`` is then one step behind).  ``fixed``: exactly these steps, no
    checks and no host synchronisation (``tol`` and ``maxiter`` unused; the
    caller verifies the result on the device).
    """
    n = u.shape[-1]
    eye = xp.eye(n, dtype=u.dtype, device=array_device(u))
    if fixed is not None:
        y, z = u, None
        for step in fixed:
            q = _polynomial(u if z is None else matmul(z, y, xp), step.coef, xp, eye)
            y = matmul(y, q, xp)
            z = q if z is None else matmul(q, z, xp)
        return y, (eye + 0.0 * u) if z is None else z, ConvergenceInfo(len(fixed), math.nan, True, 0.0), fixed
    every = check_every(xp)
    tracker = None if lower is None else Tracker(lower)
    y, z = u, None
    residual = math.nan
    converged = tol == 0
    last_step = False
    iterations = 0
    while iterations < maxiter:
        t = u if z is None else matmul(z, y, xp)
        if tol > 0 and (last_step or (iterations + 1) % every == 0 or iterations + 1 == maxiter):
            residual, floor = _residual_and_floor(t, y, z, eye, xp)
            if diverged(residual, n):
                break
            if residual <= tol or last_step:
                converged = True
                break
            if tracker is None:
                last_step = residual <= max(math.sqrt(tol / 2), 2.0 * floor)
            else:
                tracker.observe(residual, squared=True, n=n)
                last_step = residual <= 2.0 * floor
        if tracker is None:
            q = identity_minus(t, 1.5, 0.5, xp, eye)
        else:
            step = tracker.step()
            q = _polynomial(t, step.coef, xp, eye)
            # Residuals proved convergence after this step: it is the last (no check needed after it).
            last_step = last_step or (tol > 0 and tracker.proven_error <= tol)
        final = tol > 0 and last_step and not need_z and z is not None
        y = matmul(y, q, xp)
        if not final:
            z = q if z is None else matmul(q, z, xp)
        iterations += 1
        if final:
            # Z is not needed to the last step; T cannot be formed without it, so the result is taken.
            converged = True
            break
    if z is None:
        z = eye + 0.0 * u
    steps = () if tracker is None else tuple(tracker.steps)
    return y, z, ConvergenceInfo(iterations, residual, converged, tol), steps


def _polynomial(t: Any, coef: tuple[float, ...], xp: Any, eye: Any) -> Any:
    """``sum_j coef[j] (I - T)^j`` by Horner's rule in ``D = I - T``: ``len(coef) - 2`` products."""
    if len(coef) == 2:
        return identity_minus(t, coef[0] + coef[1], coef[1], xp, eye)
    d = identity_minus(t, 1.0, 1.0, xp, eye)
    w = identity_minus(t, coef[-2] + coef[-1], coef[-1], xp, eye)
    for c in reversed(coef[:-2]):
        w = matmul(d, w, xp, acc=c * eye)
    return w


def _sum_squares(x: Any, xp: Any) -> Any:
    """``||X||_F^2`` per matrix (real for complex ``X``), shape of the batch."""
    if xp.isdtype(x.dtype, "complex floating"):
        x = xp.abs(x)
    return xp.sum(x * x, axis=(-2, -1))


def _residual_and_floor(t: Any, y: Any, z: Any, eye: Any, xp: Any) -> tuple[float, float]:
    """``||I - T||_F`` and ``eps ||Z||_F ||Y||_F`` (the rounding error of forming ``T = Z Y``), worst over
    the batch, in one host synchronisation."""
    eps = float(xp.finfo(t.dtype).eps)
    worst = xp.max(deviation_from_identity(t, eye, xp))
    if z is None:
        return float(worst), 0.0
    size = xp.sqrt(_sum_squares(z, xp) * _sum_squares(y, xp))
    both = _to_host(xp.stack([worst, eps * xp.max(size)]))
    return float(both[0]), float(both[1])


def shifted_roots(
    a: Any, s: Any, xp: Any, *, shift: float, maxiter: int, tol: float, lower: float | None,
    fixed: tuple[Step, ...] | None = None,
) -> tuple[Any, Any, Any, ConvergenceInfo, tuple[Step, ...]]:
    """``(A^(1/2), Z, singular, info, steps)`` by the iteration on ``U = (A / s + d I) / (1 + d)``.

    ``d = shift`` (a few eps, a float or per-matrix ``(..., 1, 1)``): the shift keeps a singular positive
    semi-definite ``A`` from stalling the iteration, and is removed to first
    order, ``A^(1/2) = sqrt(s (1 + d)) (Y - (d / 2) Z) + O(d^2)``: below
    rounding for condition numbers up to ``1 / eps``; a zero eigenvalue comes
    out as ``sqrt(d s) / 2``, the size of what rounding does to it in an
    eigendecomposition.  ``Z = (U)^(-1/2)`` (of the shifted ``U``).
    ``singular`` flags, per matrix and without a host synchronisation, the
    matrices whose smallest eigenvalue is at most about the shift
    (``||Z||_F^2 >= 1 / (4 d)``): numerically singular ones, where the
    square root has no derivative.  ``s`` (shape ``(..., 1, 1)``) must bound
    the spectral radius of ``A``; a zero ``s`` is read as 1.
    """
    n = a.shape[-1]
    eye = xp.eye(n, dtype=a.dtype, device=array_device(a))
    safe = xp.where(s > 0, s, xp.ones_like(s))
    u = (a / safe + shift * eye) / (1.0 + shift)
    y, z, info, steps = coupled_newton_schulz(u, xp, maxiter=maxiter, tol=tol, lower=lower, need_z=fixed is not None,
                                              fixed=fixed)
    # Undo the shift to first order: sqrt(U - d) = sqrt(U) - (d/2) U^(-1/2) + O(d^2).
    value = (y - (0.5 * shift / (1.0 + shift)) * z) * xp.sqrt(s * (1.0 + shift))
    # ||Z||_F^2 >= 1 / lambda_min(U) for the shifted U: at least 1 / d for a singular A.
    singular = (_sum_squares(z, xp)[..., None, None] * (4.0 * shift) >= 1.0)[..., 0, 0]
    if fixed is not None:
        value = not_converged_to_nan(value, y, z, xp)
    return value, z, singular, info, steps


# Factor on the rounding floor below which a fixed schedule's residual counts as converged (see
# not_converged_to_nan).
_FLOOR_FACTOR = 16.0


def not_converged_to_nan(value: Any, y: Any, z: Any, xp: Any) -> Any:
    """``value`` with NaN in every matrix whose fixed schedule did not converge, on the device (one product).

    Converged: ``||I - Z Y||_F <= 16 eps (n + ||Z||_F ||Y||_F)``, a few times
    the rounding error of forming ``Z Y`` (an eigenvalue below the
    schedule's design interval leaves a residual far above it).
    """
    n = y.shape[-1]
    eye = xp.eye(n, dtype=y.dtype, device=array_device(y))
    eps = float(xp.finfo(y.dtype).eps)
    deviation = deviation_from_identity(matmul(z, y, xp), eye, xp)
    floor = _FLOOR_FACTOR * eps * (n + xp.sqrt(_sum_squares(z, xp) * _sum_squares(y, xp)))
    # (a diverged iteration: infinite entries, an infinite floor; NaN, not +-inf)
    return nan_where(~(deviation <= floor) | ~xp.isfinite(floor), value, xp)


def nan_where(bad: Any, x: Any, xp: Any) -> Any:
    """``x`` with its matrices NaN where ``bad`` (shape of the batch), as a product with a ``(..., 1, 1)``
    factor of 1 or NaN: arithmetic, so array subclasses (the bench's product counter) pass through."""
    ones = xp.ones(bad.shape, dtype=x.dtype, device=array_device(x))
    return x * xp.where(bad, xp.full_like(ones, math.nan), ones)[..., None, None]


# Lanczos steps of :func:`smallest_eigenvalue_estimate` (matrix-vector products: 12 cost about a tenth of one
# matrix product at n = 64, measured by the bench's counter).
LANCZOS_STEPS = 12


def smallest_eigenvalue_estimate(u: Any, xp: Any, steps: int = LANCZOS_STEPS) -> Any:
    """Per matrix, the smallest Ritz value of ``steps`` Lanczos steps on Hermitian ``U`` (shape of the batch).

    A Ritz value lies in the numerical range, so the estimate is at least
    the smallest eigenvalue (to rounding) and approaches it from above:
    an optimistic estimate, for designing the first steps of the iteration
    (whose residual checks catch an eigenvalue below it), never a bound.
    Full reorthogonalisation (twice); one fixed pseudo-random start vector; a
    breakdown (an invariant subspace found) fills the rest of the
    tridiagonal matrix with ``1``, the top of the spectrum of a scaled ``U``.
    Matrix-vector products only, no host synchronisation.
    """
    import numpy as np

    n = u.shape[-1]
    m = min(int(steps), n)
    dev = array_device(u)
    start = np.random.default_rng(20261206).standard_normal(n)
    v = xp.asarray(start / np.linalg.norm(start), dtype=u.dtype, device=dev)
    v = xp.broadcast_to(xp.reshape(v, (n, 1)), (*u.shape[:-1], 1))
    complex_ = xp.isdtype(u.dtype, "complex floating")
    real = xp.real if complex_ else (lambda x: x)
    basis = v
    alphas, betas = [], []
    eps = float(xp.finfo(u.dtype).eps)
    alive = xp.ones(u.shape[:-2], dtype=xp.bool, device=dev)
    for j in range(m):
        w = u @ v
        alpha = real(xp.sum(xp.conj(v) * w if complex_ else v * w, axis=(-2, -1)))
        # Full reorthogonalisation against the basis so far, twice (O(n j) a step; once was not enough in
        # float32: 24 steps gave a Ritz value of -0.04 for a smallest eigenvalue of 0.084).
        for _ in range(2):
            w = w - basis @ (xp.matrix_transpose(xp.conj(basis) if complex_ else basis) @ w)
        beta = xp.sqrt(xp.sum(xp.abs(w) ** 2 if complex_ else w * w, axis=(-2, -1)))
        alphas.append(xp.where(alive, alpha, xp.ones_like(alpha)))
        if j + 1 == m:
            break
        alive = alive & (beta > 8 * n * eps)
        betas.append(xp.where(alive, beta, xp.zeros_like(beta)))
        v = w / xp.where(alive, beta, xp.ones_like(beta))[..., None, None]
        basis = xp.concat([basis, v], axis=-1)
    k = len(alphas)
    eye = xp.eye(k, dtype=alphas[0].dtype, device=dev)
    tri = xp.stack(alphas, axis=-1)[..., None, :] * eye
    if betas:
        off = xp.stack(betas, axis=-1)
        upper = xp.eye(k, k, k=1, dtype=off.dtype, device=dev)
        band = xp.concat([off, xp.zeros_like(off[..., :1])], axis=-1)[..., :, None] * upper
        tri = tri + band + xp.matrix_transpose(band)
    return xp.linalg.eigvalsh(tri)[..., 0]
