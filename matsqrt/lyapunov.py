"""Lyapunov equations B X + X B = C by the Newton-Schulz matrix-sign iteration.

If B has its spectrum in the open right half-plane and B X + X B = C, then
sign([[B, C], [0, -B]]) = [[I, 2X], [0, -I]].  The Newton-Schulz iteration
M <- M (3I - M^2) / 2, written on the two distinct blocks of M, needs matrix
products only:

    B <- B (3I - B^2) / 2
    C <- (3C - C B^2 - B^2 C + B C B) / 2

and X = lim C / 2 as B -> I.  The iteration converges when the spectrum of the
scaled B_0 lies in the region |1 - b^2| < 1 (for real spectra: (0, sqrt 2));
an eigenvalue b << 1 grows by a factor of about 1.5 per step, after which the
convergence is quadratic.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device as array_device
from array_api_compat import is_numpy_namespace

from ._errors import ConvergenceError, ConvergenceInfo
from ._validate import namespace_of, prepare

__all__ = ["solve_lyapunov", "sign_iteration", "sign_step", "DEFAULT_MAXITER"]

DEFAULT_MAXITER = 100
# Default tolerance on the RMS entry of B_k - I, in units of sqrt(n) * eps: an
# entry of an n x n product carries rounding of about sqrt(n) * eps, which is
# where B_k stagnates (observed 5-20 eps for n = 5..256 in float64).
_DEFAULT_TOL_EPS = 50.0


def default_tol(xp: Any, dtype: Any, n: int) -> float:
    """The default tolerance of the sign iteration for ``dtype`` and size ``n``."""
    return _DEFAULT_TOL_EPS * math.sqrt(max(n, 1)) * float(xp.finfo(dtype).eps)


def _check_every(xp: Any) -> int:
    # A convergence check costs a host synchronisation on accelerators, so
    # there it is batched every few iterations; on NumPy it is free.
    return 1 if is_numpy_namespace(xp) else 4


def _distance_to_identity(b: Any, eye: Any, xp: Any) -> float:
    """Worst RMS entry of B - I over the batch (one host synchronisation)."""
    n = b.shape[-1]
    d = b - eye
    rms = xp.sqrt(xp.sum(d * d, axis=(-2, -1)) / n**2)
    return float(xp.max(rms)) if rms.ndim else float(rms)


def sign_step(b: Any, c: Any) -> tuple[Any, Any]:
    """One Newton-Schulz step on the blocks ``(B, C)`` of ``[[B, C], [0, -B]]``: six products."""
    b2 = b @ b
    bc = b @ c
    c = 0.5 * (3.0 * c - c @ b2 - b @ bc + bc @ b)
    b = 0.5 * (3.0 * b - b @ b2)
    return b, c


def sign_iteration(
    b: Any, c: Any, xp: Any, *, maxiter: int, tol: float
) -> tuple[Any, ConvergenceInfo]:
    """Solve ``b X + X b = c`` for a pre-scaled ``b`` (agnostic core).

    ``b`` must already be scaled so that its spectrum lies where the iteration
    converges.  ``tol = 0`` runs exactly ``maxiter`` iterations without any
    convergence check (the paper's fixed-count setting).  Otherwise the
    iteration stops, converged, when the RMS entry of ``B_k - I`` is at most
    ``tol``, or one step after it is at most ``sqrt(tol / 2)``: the error of
    that step is then about ``1.5 e^2 <= tol`` in exact arithmetic, so what
    remains is the rounding floor (reported as the residual, which can exceed
    a ``tol`` set below that floor).
    Returns ``X`` and a :class:`ConvergenceInfo`; never raises.
    """
    n = b.shape[-1]
    eye = xp.eye(n, dtype=b.dtype, device=array_device(b))
    check_every = _check_every(xp)
    residual = math.nan
    last_step = False
    converged = tol == 0
    iterations = 0
    while iterations < maxiter:
        b, c = sign_step(b, c)
        iterations += 1
        if tol == 0:
            continue
        if last_step or iterations % check_every == 0 or iterations == maxiter:
            residual = _distance_to_identity(b, eye, xp)
            # After the quadratic regime was reached one step ago, the residual
            # is at the rounding floor, which may exceed a very small tol.
            converged = math.isfinite(residual) and (residual <= tol or last_step)
            if converged or not math.isfinite(residual):
                break
            last_step = residual <= math.sqrt(tol / 2)
    return 0.5 * c, ConvergenceInfo(iterations, residual, converged, tol)


def solve_lyapunov(
    b: Any,
    c: Any,
    *,
    maxiter: int | None = None,
    tol: float | None = None,
    return_info: bool = False,
    check_finite: bool = True,
    xp: Any = None,
) -> Any:
    """Solve the continuous Lyapunov equation ``B X + X B = C``, batched.

    Uses the Newton-Schulz iteration for the matrix sign function of
    ``[[B, C], [0, -B]]``, so only matrix products are needed.

    Parameters
    ----------
    b : array_like, shape (..., n, n)
        Coefficient matrices.  Each must have its spectrum in the open right
        half-plane, close enough to the real axis that the iteration
        converges (any real positive spectrum does).
    c : array_like, shape (..., n, n)
        Right-hand sides, broadcast against ``b``.
    maxiter : int, optional
        Maximum number of iterations (default 100).
    tol : float, optional
        Tolerance on the RMS entry of ``B_k - I`` (default
        ``50 * sqrt(n) * eps`` of the working dtype).  ``tol=0`` runs exactly ``maxiter`` iterations and
        checks nothing.
    return_info : bool, default False
        Also return a :class:`ConvergenceInfo`.
    check_finite : bool, default True
        Raise :class:`ValueError` if an input holds NaN or infinity.
    xp : array namespace, optional
        Inferred from the inputs when not given.

    Returns
    -------
    x : array, shape (..., n, n)
        The solution, same library, device and dtype rules as
        :func:`matsqrt.sqrtm`.
    info : ConvergenceInfo
        Only with ``return_info=True``.

    Raises
    ------
    ValueError
        Non-square or non-finite input, or incompatible shapes.
    TypeError
        Complex or boolean input.
    ConvergenceError
        The iteration did not reach ``tol`` within ``maxiter`` iterations,
        which happens when ``B`` is singular or has eigenvalues outside the
        region of convergence.

    Notes
    -----
    Each ``B`` is scaled by its Frobenius norm, which bounds its spectral
    radius, so the scaled spectrum lies in the unit disk.  An iteration costs
    six matrix products; the count grows like ``log_1.5(||B||_F / lambda_min)``.

    Examples
    --------
    >>> import numpy as np
    >>> from matsqrt import solve_lyapunov
    >>> b = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> c = np.eye(2)
    >>> x = solve_lyapunov(b, c)
    >>> bool(np.allclose(b @ x + x @ b, c))
    True
    """
    xp, (b, c) = namespace_of(b, c, xp=xp)
    pb = prepare(b, xp, name="B", check_finite=check_finite)
    pc = prepare(c, xp, name="C", check_finite=check_finite)
    if pc.array.shape[-2:] != pb.array.shape[-2:]:
        raise ValueError(f"B and C must have matching matrix shapes; got {tuple(b.shape)} and {tuple(c.shape)}")
    work = xp.result_type(pb.array.dtype, pc.array.dtype)
    out_dtype = xp.result_type(pb.dtype, pc.dtype)
    bw, cw = xp.broadcast_arrays(xp.astype(pb.array, work), xp.astype(pc.array, work))
    maxiter = DEFAULT_MAXITER if maxiter is None else int(maxiter)
    tol = default_tol(xp, work, bw.shape[-1]) if tol is None else float(tol)
    if math.prod(bw.shape) == 0:
        x = xp.zeros(bw.shape, dtype=out_dtype, device=array_device(bw))
        info = ConvergenceInfo(0, 0.0, True, tol)
        return (x, info) if return_info else x
    norm = xp.sqrt(xp.sum(bw * bw, axis=(-2, -1), keepdims=True))
    norm = xp.where(norm > 0, norm, xp.ones_like(norm))
    x, info = sign_iteration(bw / norm, cw / norm, xp, maxiter=maxiter, tol=tol)
    raise_if_not_converged(info, "solve_lyapunov", "B must have its spectrum in the open right half-plane")
    x = x if x.dtype == out_dtype else xp.astype(x, out_dtype)
    return (x, info) if return_info else x


def raise_if_not_converged(info: ConvergenceInfo, what: str, hint: str) -> None:
    """Raise :class:`ConvergenceError` for an unconverged ``info``."""
    if not info.converged:
        raise ConvergenceError(
            f"{what}: the matrix-sign iteration did not converge in {info.iterations} iterations "
            f"(residual {info.residual:.3g} > tol {info.tol:.3g}); {hint}, or raise maxiter",
            info,
        )
