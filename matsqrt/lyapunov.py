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
from typing import Any, Literal, TypeVar, overload

from array_api_compat import array_namespace, is_numpy_namespace
from array_api_compat import device as array_device

from ._errors import ConvergenceError, ConvergenceInfo
from ._fused import frobenius_norm, identity_minus, matmul, sign_c_block, squared_deviation
from ._validate import namespace_of, prepare
from .schedule import Step, Tracker

__all__ = ["solve_lyapunov", "sign_iteration", "sign_step", "polynomial_sign_step", "replayed_sign_iteration",
           "distance_to_identity", "deviation_from_identity",
           "DEFAULT_MAXITER",
           "check_settings", "diverged", "newton_sign_iteration", "quarter_turn"]

DEFAULT_MAXITER = 100
DIVERGED = 1e3


def default_tol(xp: Any, dtype: Any) -> float:
    """The default tolerance of the iterations: the dtype's machine epsilon.

    The stop rule (see :func:`sign_iteration`) takes one more step once the
    error is below ``sqrt(tol / 2)``, which brings it to the rounding floor
    (a few ``sqrt(n) eps``) even where that floor lies above ``tol``.
    """
    return float(xp.finfo(dtype).eps)


def check_every(xp: Any) -> int:
    # A convergence check costs a host synchronisation on accelerators, so
    # there it is batched every few iterations; on NumPy it is free.
    return 1 if is_numpy_namespace(xp) else 4


def deviation_from_identity(b: Any, eye: Any, xp: Any) -> Any:
    """``||B - I||_F`` per matrix (shape of the batch), on the device."""
    return xp.sqrt(xp.sum(squared_deviation(b, xp, eye), axis=(-2, -1)))


def distance_to_identity(b: Any, eye: Any, xp: Any) -> float:
    """Worst ``||B - I||_F`` over the batch (one host synchronisation).

    The Frobenius norm bounds the spectral norm, so it bounds the distance of
    the *worst* eigenvalue from 1; an average (RMS entry) would hide one
    unconverged eigenvalue among ``n - 1`` converged ones.
    """
    return float(xp.max(deviation_from_identity(b, eye, xp)))


def diverged(residual: float, n: int) -> bool:
    """Whether ``||B - I||_F`` (or NaN) means divergence rather than slow convergence.

    While converging, every eigenvalue stays in (0, 1] and ``||B - I||_F <=
    sqrt(n)``; a thousand times that is divergence (an eigenvalue outside the
    region of convergence), and stopping there avoids overflow.
    """
    return not residual <= DIVERGED * math.sqrt(n)


def sign_step(b: Any, c: Any, alpha: float = 1.0, eye: Any = None) -> tuple[Any, Any]:
    """One (scaled) Newton-Schulz step on the blocks of ``[[B, C], [0, -B]]``: six products.

    ``M <- g(alpha M)`` with ``g(y) = y (3 - y^2) / 2``; ``alpha = 1`` is the
    classical step (the accelerated steps: :func:`polynomial_sign_step`).
    Written as ``M q(M^2)`` with ``q = (alpha/2)(3I - alpha^2 M^2)``, whose
    blocks are ``Q = (alpha/2)(3I - alpha^2 B^2)`` and
    ``-(alpha^3/2)(B C - C B)``: ``B <- B Q`` and
    ``C <- C Q - (alpha^3/2)(B (B C) - (B C) B)``, the paper's update with
    five elementwise passes instead of eight (on CuPy: one fused kernel, the
    C block accumulated by the products).  Pass ``eye`` to spare the
    identity's allocation in a loop (CuPy needs none).
    """
    xp = array_namespace(b)
    k = 0.5 * alpha**3
    q = identity_minus(matmul(b, b, xp), 1.5 * alpha, k, xp, eye)
    bc = matmul(b, c, xp)
    c = sign_c_block(c, q, b, bc, k, xp)
    return matmul(b, q, xp), c


def polynomial_sign_step(b: Any, c: Any, coef: tuple[float, ...], xp: Any, eye: Any) -> tuple[Any, Any]:
    """``M <- M p(M^2)`` on the blocks of ``M = [[B, C], [0, -B]]``, ``p(M^2) = sum_j coef[j] (I - M^2)^j``.

    ``I - M^2 = [[D, F], [0, D]]`` with ``D = I - B^2`` and ``F = C B - B C``;
    Horner's rule on the block upper triangular matrices keeps two blocks,
    ``[[W, V], [0, W]]``, and the step is ``B <- B W``, ``C <- B V + C W``:
    ``3 (len(coef) - 1) + 3`` products (nine for the quintic of
    :mod:`matsqrt.schedule`).
    """
    d = identity_minus(matmul(b, b, xp), 1.0, 1.0, xp, eye)
    f = matmul(c, b, xp) - matmul(b, c, xp)
    w = coef[-2] * eye + coef[-1] * d
    v = coef[-1] * f
    for k in reversed(coef[:-2]):
        w, v = matmul(d, w, xp, acc=k * eye), matmul(d, v, xp, acc=matmul(f, w, xp))
    return matmul(b, w, xp), matmul(b, v, xp, acc=matmul(c, w, xp))


def sign_iteration(
    b: Any, c: Any, xp: Any, *, maxiter: int, tol: float, lower: float | None = None,
    steps: tuple[Step, ...] = (),
) -> tuple[Any, ConvergenceInfo]:
    """Solve ``b X + X b = c`` for a pre-scaled ``b`` (agnostic core).

    ``b`` must already be scaled so that its spectrum lies where the iteration
    converges.  ``steps``: the minimax steps of a forward iteration that saw
    the same spectrum (:func:`matsqrt.newton_schulz.coupled_newton_schulz`),
    replayed without checks; then, or from the start, with ``lower`` the
    minimax steps of :class:`matsqrt.schedule.Tracker` for a real spectrum
    in [lower, 1], without it the classical Newton-Schulz steps
    (:func:`sign_step`).  ``tol = 0`` runs exactly ``maxiter`` iterations
    without any convergence check (the paper's fixed-count setting).
    Otherwise the iteration stops, converged, when ``||B_k - I||_F`` is at
    most ``tol`` or at the rounding floor ``4 n eps`` after a replay (the
    forward proved the spectrum converged), or one step after the error is
    proven below ``tol`` (classical steps: ``sqrt(tol / 2)``, after which the
    error is about ``1.5 e^2``; minimax steps: their own error bound for the
    interval the residual proves).  The distance is the Frobenius norm of
    ``B_k - I`` (:func:`distance_to_identity`), which bounds every
    eigenvalue's distance from 1.  Returns ``X`` and a
    :class:`ConvergenceInfo`; never raises.
    """
    n = b.shape[-1]
    eye = xp.eye(n, dtype=b.dtype, device=array_device(b))
    every = check_every(xp)
    residual = math.nan
    last_step = False
    converged = tol == 0
    iterations = 0
    replay = list(steps)[:maxiter]
    for step in replay:
        b, c = polynomial_sign_step(b, c, step.coef, xp, eye)
        iterations += 1
    floor = 4.0 * n * float(xp.finfo(b.dtype).eps)
    if replay and tol > 0:
        residual = distance_to_identity(b, eye, xp)
        if residual <= max(tol, floor):
            return 0.5 * c, ConvergenceInfo(iterations, residual, True, tol)
    tracker = None
    if lower is not None or replay:
        tracker = Tracker(lower if lower is not None else 0.5)
        if replay:
            tracker.observe(residual, squared=False, n=n)
    while iterations < maxiter:
        if tracker is None:
            b, c = sign_step(b, c, 1.0, eye)
        else:
            b, c = polynomial_sign_step(b, c, tracker.step().coef, xp, eye)
        iterations += 1
        if tol == 0:
            continue
        if last_step or iterations % every == 0 or iterations == maxiter:
            residual = distance_to_identity(b, eye, xp)
            # After the quadratic regime was reached one step ago, the residual
            # is at the rounding floor, which may exceed a very small tol.
            converged = math.isfinite(residual) and (residual <= tol or last_step)
            if converged or diverged(residual, n):
                break
            if tracker is None:
                last_step = residual <= math.sqrt(tol / 2)
            else:
                tracker.observe(residual, squared=False, n=n)
                last_step = residual <= floor
        if tracker is not None:
            last_step = last_step or tracker.proven_error <= tol
    return 0.5 * c, ConvergenceInfo(iterations, residual, converged, tol)


def replayed_sign_iteration(b: Any, c: Any, steps: tuple[Step, ...], xp: Any) -> tuple[Any, Any]:
    """Solve ``b X + X b = c`` by exactly ``steps`` (:func:`polynomial_sign_step`), with no host
    synchronisation: returns ``X`` and, per matrix on the device, ``||B_k - I||_F`` after the last step (the
    caller decides what is converged)."""
    n = b.shape[-1]
    eye = xp.eye(n, dtype=b.dtype, device=array_device(b))
    for step in steps:
        b, c = polynomial_sign_step(b, c, step.coef, xp, eye)
    return 0.5 * c, deviation_from_identity(b, eye, xp)


def newton_sign_iteration(b: Any, c: Any, xp: Any, *, maxiter: int, tol: float) -> tuple[Any, ConvergenceInfo]:
    """Solve ``b X + X b = c`` for any ``b`` with spectrum in the open right half-plane.

    The Newton iteration for the sign of ``[[B, C], [0, -B]]`` written on its
    blocks, ``B <- (mu B + (mu B)^-1) / 2`` and
    ``C <- (mu C + mu^-1 B^-1 C B^-1) / 2`` with the determinantal scaling
    ``mu = |det B|^(-1/n)``, converges for every such ``B`` (the
    product-only iteration of :func:`sign_iteration` needs the spectrum in
    ``|1 - b^2| < 1``): one inverse and two products a step.  The principal
    square root of any matrix has its spectrum there, so this solves the
    backward of general matrices.  Stop rule as :func:`sign_iteration`, with
    the quadratic regime entered at ``sqrt(tol)``.  Never raises.
    """
    from .denman_beavers import determinant_scale, iterate_to_identity

    # The solution is linear in C: iterate on C / ||C||_F, so that B^-1 C B^-1 of a B with a wide
    # spectrum (entries near 1e+-75) cannot overflow where X itself does not.
    size = frobenius_norm(c, xp)
    size = xp.where(size > 0, size, xp.ones_like(size))
    blocks = {"c": c / size}

    def step(b, b_inv, scaled):
        mu = determinant_scale(b, xp, 1) if scaled else 1.0
        blocks["c"] = 0.5 * (mu * blocks["c"] + (b_inv @ blocks["c"] @ b_inv) / mu)
        return 0.5 * (mu * b + b_inv / mu)

    info = iterate_to_identity(b, step, xp, maxiter=maxiter, tol=tol)
    return (0.5 * blocks["c"]) * size, info


_ArrayT = TypeVar("_ArrayT")


def quarter_turn(b: Any, xp: Any) -> Any:
    """Per matrix ``e^(i phi)`` (shape ``(..., 1, 1)``) that centres the arguments of the eigenvalues of ``b``
    on the positive real axis, or ``None`` where that changes nothing.

    The principal root of a negative eigenvalue, ``i sqrt(|lambda|)``, lies
    on the imaginary axis, where the sign function (and so Newton's sign
    iteration) is undefined; but the arguments of a principal root's
    eigenvalues span less than pi, and ``B X + X B = C`` is equivalent to
    ``(e^(i phi) B) X + X (e^(i phi) B) = e^(i phi) C``, whose coefficient then has
    its spectrum in the open right half-plane.  Error path: the eigenvalues
    on the host.
    """
    import numpy as np

    from ._validate import _to_host

    if not xp.isdtype(b.dtype, "complex floating"):
        return None
    lam = np.linalg.eigvals(np.asarray(_to_host(b)).astype(np.complex128))
    arg = np.angle(lam)
    phi = -0.5 * (np.max(arg, axis=-1) + np.min(arg, axis=-1))
    if not np.any(np.abs(phi) > 0):
        return None
    return xp.asarray(np.exp(1j * phi)[..., None, None], dtype=b.dtype, device=array_device(b))


@overload
def solve_lyapunov(
    b: _ArrayT, c: Any, *, maxiter: int | None = ..., tol: float | None = ...,
    return_info: Literal[False] = ..., check_finite: bool = ..., xp: Any = ...,
) -> _ArrayT: ...


@overload
def solve_lyapunov(
    b: _ArrayT, c: Any, *, maxiter: int | None = ..., tol: float | None = ...,
    return_info: Literal[True], check_finite: bool = ..., xp: Any = ...,
) -> tuple[_ArrayT, ConvergenceInfo]: ...


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
    """Solve the continuous Lyapunov equation ``B X + X B = C``, batched, real or complex.

    Uses an iteration for the matrix sign function of ``[[B, C], [0, -B]]``:
    for Hermitian ``B`` (real symmetric or complex Hermitian, to rounding)
    the Newton-Schulz form, matrix products only; for any other ``B`` the
    scaled Newton form with inverses (:func:`newton_sign_iteration`), which
    converges for every spectrum in the open right half-plane.

    Parameters
    ----------
    b : array_like, shape (..., n, n)
        Coefficient matrices, each with its spectrum in the open right
        half-plane (for Hermitian ``B``: positive definite).
    c : array_like, shape (..., n, n)
        Right-hand sides, broadcast against ``b``.
    maxiter : int, optional
        Maximum number of iterations (default 100).
    tol : float, optional
        Tolerance on ``||B_k - I||_F`` (default ``eps`` of the working
        dtype; see :func:`sign_iteration` for the stop rule).  ``tol=0`` runs exactly ``maxiter`` iterations and
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
        Boolean input, or floats wider than double.
    ConvergenceError
        The iteration did not reach ``tol`` within ``maxiter`` iterations,
        which happens when ``B`` is singular or has eigenvalues outside the
        region of convergence.

    Notes
    -----
    Each ``B`` is scaled by its Frobenius norm, which bounds its spectral
    radius, so the scaled spectrum lies in the unit disk.  A Newton-Schulz
    step costs six matrix products, and the count grows like
    ``log_1.5(||B||_F / lambda_min)``; a Newton step one inverse and two
    products, with quadratic convergence after a few scaled steps.

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
    # B's class (Hermitian or not) decides the iteration: one host synchronisation, with the finiteness check.
    pb = prepare(b, xp, name="B", check_finite=check_finite, classify=True)
    pc = prepare(c, xp, name="C", check_finite=check_finite)
    if pc.array.shape[-2:] != pb.array.shape[-2:]:
        raise ValueError(f"B and C must have matching matrix shapes; got {tuple(b.shape)} and {tuple(c.shape)}")
    work = xp.result_type(pb.array.dtype, pc.array.dtype)
    out_dtype = xp.result_type(pb.dtype, pc.dtype)
    bw, cw = xp.broadcast_arrays(xp.astype(pb.array, work), xp.astype(pc.array, work))
    maxiter, tol = check_settings(xp, work, maxiter, tol)
    if math.prod(bw.shape) == 0:
        x = xp.zeros(bw.shape, dtype=out_dtype, device=array_device(bw))
        info = ConvergenceInfo(0, 0.0, True, tol)
        return (x, info) if return_info else x
    # Overflow- and underflow-safe (entries near 1e+-150 in float64).
    norm = frobenius_norm(bw, xp)
    norm = xp.where(norm > 0, norm, xp.ones_like(norm))
    if pb.symmetric:
        x, info = sign_iteration(bw / norm, cw / norm, xp, maxiter=maxiter, tol=tol)
    else:
        x, info = newton_sign_iteration(bw / norm, cw / norm, xp, maxiter=maxiter, tol=tol)
        turn = None if info.converged else quarter_turn(bw, xp)
        if turn is not None:
            # A spectrum on the imaginary axis (the complex root of a negative eigenvalue), turned off it.
            x, info = newton_sign_iteration(turn * bw / norm, turn * cw / norm, xp, maxiter=maxiter, tol=tol)
    raise_if_not_converged(info, "solve_lyapunov", "B must have its spectrum in the open right half-plane")
    x = x if x.dtype == out_dtype else xp.astype(x, out_dtype)
    return (x, info) if return_info else x


def check_settings(xp: Any, dtype: Any, maxiter: Any, tol: Any) -> tuple[int, float]:
    """``(maxiter, tol)`` with the defaults filled in; :class:`ValueError` for invalid values.

    ``maxiter`` must be a non-negative integer and ``tol`` a finite
    non-negative number (``tol = 0``: a fixed number of iterations).
    """
    maxiter = DEFAULT_MAXITER if maxiter is None else maxiter
    if isinstance(maxiter, bool) or not isinstance(maxiter, int | float) or maxiter != int(maxiter) or maxiter < 0:
        raise ValueError(f"maxiter must be a non-negative integer; got {maxiter!r}")
    tol = default_tol(xp, dtype) if tol is None else tol
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite non-negative number; got {tol!r}")
    return int(maxiter), float(tol)


def raise_if_not_converged(info: ConvergenceInfo, what: str, hint: str) -> None:
    """Raise :class:`ConvergenceError` for an unconverged ``info``."""
    if not info.converged:
        raise ConvergenceError(
            f"{what}: the matrix-sign iteration did not converge in {info.iterations} iterations "
            f"(residual {info.residual:.3g} > tol {info.tol:.3g}); {hint}, or raise maxiter",
            info,
        )
