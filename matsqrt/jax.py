"""JAX functions over matsqrt's core, differentiable in forward and reverse mode, to any order.

:func:`sqrtm` and :func:`inv_sqrtm` are :func:`jax.custom_jvp` functions.
The forward is the same array-API code as :func:`matsqrt.sqrtm`, run on JAX
arrays (``"eigh"``: :func:`jax.numpy.linalg.eigh`, on the device).  The
derivative is a Lyapunov solve ``Y dY + dY Y = dA`` (inverse root:
``dZ = -Z^2 X Z^2`` with ``Z X + X Z = dA``), posed with
:func:`jax.lax.custom_linear_solve`: forward mode (``jax.jvp``,
``jax.jacfwd``) solves it, reverse mode (``jax.grad``, ``jax.vjp``,
``jax.jacrev``) solves its transpose, which is exactly the equation of
:func:`matsqrt.sqrtm_vjp`, and higher derivatives (``jax.hessian``, any
order, any mix) differentiate the equation, not the solver.  Every
derivative is that of the exact root at the computed ``Y``.  The solve is
the matrix-sign iteration of :func:`sign_iteration_on_device` (a
:func:`jax.lax.while_loop` whose stopping test runs on the device, from
``B_0 = Y / sqrt(||A||_F)``, or ``Z / ||Z||_F``, as the paper), for
``"eigh"`` the Daleckii-Krein formula, and for a general (non-Hermitian)
root Newton's sign iteration :func:`newton_sign_iteration_on_device`.

Keywords
--------
The keywords of :func:`matsqrt.sqrtm_vjp`: ``method, degree, scale, tol,
maxiter, lyapunov_maxiter, lyapunov_tol, return_info, check_finite``, with
their meanings and defaults there (``method="auto"``: the core's on
concrete input, ``"eigh"`` on traced input; see below).  ``xp`` is not taken.  ``return_info=True`` returns
``(Y, info)`` as :func:`matsqrt.sqrtm`, for concrete input only.

Input
-----
A JAX array or a NumPy array (converted with :func:`jax.numpy.asarray`);
anything else raises :class:`TypeError` (:func:`matsqrt.sqrtm` takes any
array).  The same rule as :mod:`matsqrt.torch`.

Complex and general matrices
----------------------------
complex64 and complex128 are taken, Hermitian or not.  Eagerly
(``jax.grad`` included) ``"auto"``, ``"db"`` and ``"schur"`` run the
core on general input, and a real ``A`` with a negative eigenvalue gets its
complex principal root (complex output); the derivatives of a general root
solve their Lyapunov equations with Newton's sign iteration
(:func:`newton_sign_iteration_on_device`), after turning a complex root's
spectrum off the imaginary axis as the core does (its eigenvalues on the
host, once per derivative).  Under ``jit``, Hermitian input: ``"eigh"``
(:func:`jax.numpy.linalg.eigh` is complex too), the series, fixed-count
iterations; ``matsqrt.Eigh(negative="complex")`` also gives the complex
principal root of an indefinite matrix there, and returns a complex root
for every input (its dtype cannot depend on the values under ``jit``).
Derivatives follow JAX's convention: ``jax.jvp`` gives ``dY = L(A, dA)``
and ``jax.vjp`` its plain transpose (``Y^T X + X Y^T = C``, no
conjugation: the conjugate of :func:`matsqrt.sqrtm_vjp` and of PyTorch's
gradient), the real part of it for a real ``A`` with a complex root.

Density matrices: the quantum fidelity ``(tr sqrt(sqrt(rho) sigma sqrt(rho)))^2``
runs under ``jit`` with ``Eigh(negative="complex")``, pure states included
(``docs/frameworks.md`` has the function): the zero eigenvalues of a
rank-deficient product come out of ``eigh`` as ``+-eps``, which the default
``"eigh"`` refuses (NaN) below ``-n eps max|lambda|``.  A pure state's root
is exact to about ``sqrt(eps)`` (the root's sensitivity at a singular
matrix) and has no derivative there: the gradient is NaN under ``jit``;
at full-rank (mixed) states values and gradients are accurate.

jit, vmap and grad
------------------
Under :func:`jax.jit` and :func:`jax.vmap` no value reaches the host, so:

* methods that need values on the host (``"auto"``, which chooses by the
  input's class, ``"db"``, ``"schur"``, tolerance-driven ``"matmul"`` and
  ``"ns"``) raise :class:`ValueError` naming the ones that run there:
  ``"mpa"``, ``"mtp"``, ``"eigh"`` and fixed-count iterations such as
  ``Matmul(tol=0, maxiter=16)`` or ``NS(tol=0, maxiter=k)``.  Eagerly every
  method runs, ``jax.grad`` included;
* the checks of ``check_finite`` (finite input, a zero matrix for the
  inverse root, the methods' domains) raise :class:`ValueError` on concrete
  input, as :func:`matsqrt.sqrtm` does; on traced input they become NaN on
  the device, per matrix, where they can be tested there: ``"eigh"`` gives
  NaN for non-symmetric input, a negative eigenvalue (below
  ``-n eps max|lambda|``) and a singular matrix for the inverse root (with
  or without ``check_finite``); ``"mpa"`` and ``"mtp"`` give NaN outside
  their domain, symmetric positive semi-definite to rounding (one Cholesky
  factorisation per matrix);
* the derivative at a numerically singular matrix (infinite) is NaN for
  that matrix, and an unconverged Lyapunov iteration is NaN for its batch,
  instead of :class:`ValueError` and :class:`matsqrt.ConvergenceError`.

The default and its accuracy
----------------------------
The default is ``"auto"``.  On concrete input (eager calls, ``jax.grad``
outside ``jit``) it is the core's: every input class, general and complex
matrices included.  On traced input (under ``jit`` and ``vmap``) it is
``"eigh"`` (:func:`jax.numpy.linalg.eigh` and the Daleckii-Krein
derivative), accurate to rounding for Hermitian (real symmetric or complex
Hermitian) positive semi-definite input, measured under ``jax.jit`` on
8 x 64 x 64 matrices with log-spaced spectra: relative error 2e-15 in
float64 and 1e-6 to 8e-6 in float32 up to condition number 1e4
(``tests/test_jax_transforms.py``); non-Hermitian input and negative
eigenvalues give NaN there (``Eigh(negative="complex")`` returns complex
roots of indefinite input).  It replaced the paper's ``"mpa"`` (degree 5),
which is an approximation under ``jit`` (relative error 1.0e-2 at condition
number 10 and 0.21 at 1e4, float32 and float64 alike) and was slower on this
project's 2-core CPU (JAX 0.10, jit, medians of 5, under load, condition
number 10, float32, forward and backward: 256 x 64 x 64, eigh 66-106 ms
against mpa's 360-624 ms; 16 x 256 x 256, 190-640 ms against 1.6-2.8 s).
Not measured on a GPU, where eigendecompositions are comparatively slow
and, for CuPy's float32, less accurate (see :class:`matsqrt.Auto`): pass
``method=matsqrt.Matmul(sync_free=True)`` there if that matters, matrix
products only, a fixed schedule accurate to working precision for Hermitian
positive definite input up to condition number 1e8 (float64) or 1e5
(float32) and NaN beyond (measured under ``jax.jit``, float64, 8 x 16 x 16:
relative error 1.9e-15, 9.7e-15 and 2.3e-13 at condition numbers 10, 1e4
and 1e8; eigh: below 1e-15 at all three).

Requires JAX: ``pip install "matsqrt[jax]"``.

Examples
--------
>>> import jax
>>> import jax.numpy as jnp
>>> import matsqrt.jax
>>> A = jnp.array([[4.0, 1.0], [1.0, 3.0]])
>>> Y = jax.jit(matsqrt.jax.sqrtm)(A)                     # "auto": eigh under jit
>>> bool(jnp.allclose(Y @ Y, A, atol=1e-5))
True
>>> Y = jax.jit(lambda a: matsqrt.jax.sqrtm(a, "mpa"))(A)  # the paper's degree-5 Pade
>>> bool(jnp.allclose(Y @ Y, A, atol=1e-2))
True
>>> jax.grad(lambda a: jnp.trace(matsqrt.jax.sqrtm(a, "mpa", degree=10)))(A).shape
(2, 2)
>>> jax.jacfwd(lambda a: matsqrt.jax.sqrtm(a, "eigh"))(A).shape
(2, 2, 2, 2)
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

try:
    # Absolute imports: this module is matsqrt.jax, the package is jax.
    import jax
    import jax.numpy as jnp
    from jax import lax
except ImportError as exc:
    raise ImportError('matsqrt.jax needs JAX: pip install "matsqrt[jax]"') from exc

import numpy as np

from . import _api
from ._classify import conj_transpose, hermitian_flags
from ._errors import ConvergenceInfo
from ._methods import MPA, MTP, Auto, Eigh, Method, configure, series_domain
from ._scaling import frobenius_norm
from ._validate import batch_indices
from .denman_beavers import SCALE_UNTIL
from .eigh import hermitian_part
from .lyapunov import DEFAULT_MAXITER, check_settings, default_tol, quarter_turn, sign_step

__all__ = ["sqrtm", "inv_sqrtm", "sign_iteration_on_device", "newton_sign_iteration_on_device", "DeviceConvergence"]


class _Options(NamedTuple):
    """The static (non-differentiated, hashable) arguments of a root."""

    inverse: bool
    # The method config with the call's degree, scale, tol and maxiter applied (matsqrt's configure).
    config: Any
    lyapunov_maxiter: int | None
    lyapunov_tol: float | None
    # Whether the core's checks run: check_finite on concrete (untraced) input only.
    check: bool
    # check_finite on traced input: the checks that can run on the device make the result NaN.
    mask: bool


def _full_precision(func):
    """Trace ``func`` with float32 matrix products in full float32.

    JAX's default on NVIDIA GPUs multiplies float32 matrices in TF32 (10-bit
    mantissas), which stalls the iterations three orders of magnitude above
    their float32 tolerance (the backward then returns NaN).
    """
    @functools.wraps(func)
    def traced(*args, **kwargs):
        with jax.default_matmul_precision("highest"):
            return func(*args, **kwargs)

    return traced


def _method_name(config: Any) -> str:
    return type(config).__name__.lower()


_JITTABLE = ('"mpa", "mtp", "eigh", Matmul(sync_free=True) (accurate, a fixed schedule) and fixed-count '
             "iterations such as NS(tol=0, maxiter=k)")


def _eigh(a: jax.Array, inverse: bool, complex_roots: bool = False
          ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """The eigendecomposition root on the device: ``(root, U, v, bad)``.

    ``v`` holds the root's eigenvalues (``sqrt(lambda)`` or ``1 / sqrt(lambda)``)
    and ``bad`` (per matrix) marks input the root is not defined for, whose
    root is NaN: not Hermitian (real: symmetric) to rounding (the core's
    test), an eigenvalue below ``-n eps max|lambda|`` (eigenvalues within that
    band of zero are rounding and read as zero, as by the core), a zero
    eigenvalue for the inverse root.  With ``complex_roots``
    (``Eigh(negative="complex")``) the eigenvalues below the band get their
    principal roots ``i sqrt(-lambda)`` instead, and the root is complex
    (for real input too: its dtype cannot depend on values under ``jit``).
    No host synchronisation.
    """
    n = a.shape[-1]
    eps = float(jnp.finfo(a.dtype).eps)
    symmetric = hermitian_flags(a, jnp)
    lam, u = jnp.linalg.eigh(hermitian_part(a, jnp))
    floor = n * eps * jnp.max(jnp.abs(lam), axis=-1, keepdims=True)
    below = lam < -floor
    roots = jnp.sqrt(jnp.where(lam > 0, lam, jnp.zeros_like(lam)))
    if complex_roots:
        ctype = (jnp.ones((), u.dtype) * 1j).dtype
        roots = jnp.where(below, 1j * jnp.sqrt(jnp.where(below, -lam, jnp.zeros_like(lam))), roots.astype(ctype))
        u = u.astype(ctype)
        bad = ~symmetric
    else:
        bad = ~symmetric | jnp.any(below, axis=-1)
    if inverse:
        bad = bad | jnp.any(roots == 0, axis=-1)
        v = 1.0 / roots
    else:
        v = roots
    y = (u * v[..., None, :].astype(u.dtype)) @ conj_transpose(u, jnp)
    return jnp.where(bad[..., None, None], jnp.nan, y), u, v, bad


def _effective(config: Any, a: jax.Array) -> Any:
    """The method that runs: ``"auto"`` on traced values (under ``jit``, ``vmap``) is ``"eigh"``, the
    accurate method that needs no value on the host; on concrete values, the core's ``"auto"``."""
    return Eigh() if isinstance(config, Auto) and _is_traced(a) else config


def _complex_roots(config: Any) -> bool:
    return getattr(config, "negative", "raise") == "complex"


def _raise_eigh_errors(a: jax.Array, bad: jax.Array, inverse: bool) -> None:
    """The core's :class:`ValueError` for concrete input the eigh root refused (one host synchronisation)."""
    if not bool(jnp.any(bad)):
        return
    batch = tuple(a.shape[:-2])
    asymmetric = ~hermitian_flags(a, jnp)
    if bool(jnp.any(asymmetric)):
        raise ValueError(f"method 'eigh' needs Hermitian (real: symmetric) input; A is not Hermitian to rounding"
                         f"{batch_indices(asymmetric, batch)} (use method='auto' or 'db' for general matrices)")
    lam = jnp.linalg.eigvalsh(hermitian_part(a, jnp))
    floor = a.shape[-1] * float(jnp.finfo(a.dtype).eps) * jnp.max(jnp.abs(lam), axis=-1, keepdims=True)
    negative = jnp.any(lam < -floor, axis=-1)
    if bool(jnp.any(negative)):
        raise ValueError(f"A has a negative eigenvalue{batch_indices(negative, batch)}: it is not positive "
                         "semi-definite, so its principal square root is not Hermitian (method=Eigh(negative="
                         "'complex') returns it, complex, under jit too; 'auto' and 'db' on concrete input)")
    raise ValueError(f"A is singular{batch_indices(bad, batch)}: it has no inverse square root")


@_full_precision
def _forward(a: jax.Array, options: _Options) -> jax.Array:
    """The root of ``a`` (float32 or float64): the JAX eigh root, or the core's code on JAX arrays."""
    if math.prod(a.shape) == 0:
        return jnp.zeros(a.shape, a.dtype)
    config = _effective(options.config, a)
    if isinstance(config, Eigh):
        y, _, _, bad = _eigh(a, options.inverse, _complex_roots(config))
        if options.check:
            _raise_eigh_errors(a, bad, options.inverse)
        return y
    root = _api.inv_sqrtm if options.inverse else _api.sqrtm
    try:
        y = root(a, config, check_finite=options.check)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
            jax.errors.TracerIntegerConversionError) as exc:
        raise ValueError(f"method {_method_name(options.config)!r} needs values on the host (to choose a method, "
                         "check convergence or verify the result), which are not known under jax.jit, jax.vmap "
                         f"or (in a jitted function) jax.grad; the methods that run there are {_JITTABLE}"
                         ) from exc
    if options.mask and isinstance(options.config, MPA | MTP):
        # Outside their domain (symmetric positive semi-definite to rounding) the series return a
        # plausible matrix that is no root: NaN instead, per matrix.  After the forward's own LU
        # (XLA's CPU backend deadlocked at times with two LAPACK calls in flight, see below).
        a_after, y = lax.optimization_barrier((a, y))
        y = jnp.where(series_domain(a_after, jnp)[..., None, None], y, jnp.nan)
    return y


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _root(a: jax.Array, options: _Options) -> jax.Array:
    return _forward(a, options)


def _one_norm(a: jax.Array) -> jax.Array:
    return jnp.max(jnp.sum(jnp.abs(a), axis=-2, keepdims=True), axis=-1, keepdims=True)


def _numerically_singular(a: jax.Array) -> jax.Array:
    """Per matrix, shape ``(..., 1, 1)``: whether ``A`` is singular to working precision.

    True when ``kappa_1(A) = ||A||_1 ||A^-1||_1 >= 1 / (n eps)``, or when that
    estimate is not finite (an exactly singular LU pivot); ``eps`` is that of
    ``a.dtype``.  For symmetric ``A`` this flags a smallest eigenvalue below
    about ``n eps`` times the largest (``kappa_1`` is within a factor ``n`` of
    ``lambda_max / lambda_min``).  One inverse per matrix, on the device.
    """
    n = a.shape[-1]
    if math.prod(a.shape) == 0:
        return jnp.zeros((*a.shape[:-2], 1, 1), dtype=bool)
    eps = float(jnp.finfo(a.dtype).eps)
    kappa = _one_norm(a) * _one_norm(jnp.linalg.inv(a))
    return ~(kappa < 1.0 / (n * eps))


def _lyapunov_solver(a: jax.Array, y: jax.Array, options: _Options):
    """``solve(C, transpose)``: ``X`` with ``B X + X B = C`` for ``B = Y`` (or ``Y^T``), NaN where undefined.

    The eigh root: the Daleckii-Krein formula ``U ((U^H C U) / (v_i + v_j)) U^H``
    (exact, self-adjoint).  Every other method: the matrix-sign iteration of
    :func:`sign_iteration_on_device` from ``B_0 = Y / sqrt(||A||_F)`` (square
    root) or ``Z / ||Z||_F`` (inverse root), as the core's series methods and
    the paper, with the ``lyapunov_maxiter`` and ``lyapunov_tol`` settings.
    A numerically singular ``A`` (infinite derivative) and an unconverged
    iteration give NaN, for the affected matrices and the batch respectively.
    ``a`` and ``y`` are the primal values, without derivatives of their own:
    the solve is the inverse of ``X -> Y X + X Y``, which
    :func:`jax.lax.custom_linear_solve` differentiates by itself.
    """
    a, y = lax.stop_gradient(a), lax.stop_gradient(y)
    if math.prod(a.shape) == 0:
        return lambda c, transpose: jnp.zeros_like(c)
    if isinstance(_effective(options.config, a), Eigh):
        _, u, v, bad = _eigh(a, options.inverse, _complex_roots(options.config))
        weights = 1.0 / (v[..., :, None] + v[..., None, :])
        n = a.shape[-1]
        eps = float(jnp.finfo(a.dtype).eps)
        lam = jnp.square(jnp.abs(v)) if not options.inverse else 1.0 / jnp.square(jnp.abs(v))
        # Numerically singular (smallest |eigenvalue| below n eps times the largest): infinite derivative.
        singular = bad | (jnp.min(lam, axis=-1) <= n * eps * jnp.max(lam, axis=-1))
        weights = weights.astype(u.dtype)

        def eigh_solve(c, transpose):
            # Y = U diag(v) U^H; the transpose Y^T = conj(U) diag(v) U^T (plain transpose: JAX's
            # transposition pairs by sum(a * b), without conjugation).
            w = jnp.conj(u) if transpose else u
            wh = conj_transpose(w, jnp)
            x = w @ (weights * (wh @ c @ w)) @ wh
            return jnp.where(singular[..., None, None], jnp.nan, x)

        return eigh_solve
    # The singularity test's inverse only after the forward's own factorisations: XLA's CPU backend
    # deadlocked at times (3 of 6 runs, measured) with two LAPACK calls in flight at once.
    a_after, _ = lax.optimization_barrier((a, y))
    singular = _numerically_singular(a_after)
    if options.inverse:
        scale = frobenius_norm(y, jnp)
    else:
        s = frobenius_norm(a, jnp)
        scale = jnp.sqrt(jnp.where(s > 0, s, jnp.ones_like(s)))
    eye = jnp.eye(y.shape[-1], dtype=y.dtype)
    maxiter = DEFAULT_MAXITER if options.lyapunov_maxiter is None else int(options.lyapunov_maxiter)
    tol = default_tol(jnp, y.dtype) if options.lyapunov_tol is None else float(options.lyapunov_tol)
    iteration, turn = sign_iteration_on_device, None
    if not _is_traced(y) and not isinstance(options.config, MPA | MTP) and not bool(jnp.all(hermitian_flags(y, jnp))):
        # A general root (eager input only: the methods for it need the host; the series keep the paper's
        # product-only backward, their domain being Hermitian positive semi-definite): Newton's iteration with
        # inverses, which converges for every spectrum in the open right half-plane, after turning a
        # complex root's spectrum off the imaginary axis (i sqrt|lambda| for a negative eigenvalue), as the
        # core's backward (eigenvalues on the host, once per derivative).
        iteration = newton_sign_iteration_on_device
        turn = quarter_turn(y, jnp)

    @_full_precision
    def sign_solve(c, transpose):
        b = jnp.matrix_transpose(y) if transpose else y
        if turn is not None:
            # (t B) X + X (t B) = t C; B^T has B's eigenvalues, so the same turn serves both.
            b, c = b * turn, c * turn
        # A singular matrix would keep the whole batch's iteration from converging: solve
        # I X + X I = 0 in its place and report NaN for it alone.
        b = jnp.where(singular, eye, b / scale)
        c = jnp.where(singular, jnp.zeros_like(c), c / scale)
        x, info = iteration(b, c, maxiter=maxiter, tol=tol)
        # No host to raise ConvergenceError from: a failed solve is NaN, which cannot pass unnoticed.
        return jnp.where(info.converged & ~singular, x, jnp.nan)

    return sign_solve


@_root.defjvp
@_full_precision
def _root_jvp(options: _Options, primals: tuple[jax.Array], tangents: tuple[jax.Array]):
    (a,), (da,) = primals, tangents
    # The root through _root itself, so that derivatives of this rule (second derivatives) use
    # this rule again rather than differentiating the forward's arithmetic.
    y = _root(a, options)
    solve = _lyapunov_solver(a, y, options)
    if jnp.iscomplexobj(y) and not jnp.iscomplexobj(da):
        # A real A whose principal root is complex (eager input only): the tangent as a complex matrix (the
        # transpose of this cast, in reverse mode, takes the real part: the real A's gradient).
        da = da.astype(y.dtype)

    def matvec(x):
        return y @ x + x @ y

    # Y dY + dY Y = dA.  Inverse root: Z dZ + dZ Z = -Z^2 dA Z^2, written dZ = -Z^2 X Z^2 with
    # Z X + X Z = dA (Z^2 commutes with the equation), whose transpose is the core's vjp,
    # Z^T X + X Z^T = -A^-T G A^-T, solved for G itself.
    x = lax.custom_linear_solve(matvec, da, lambda _, c: solve(c, False), lambda _, c: solve(c, True))
    if options.inverse:
        zz = y @ y
        x = -(zz @ x @ zz)
    return y, x


_HALF_FLOATS = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


def _working_dtype(dtype: Any) -> Any:
    # As the core: float16 and bfloat16 are computed in float32.
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype) in _HALF_FLOATS else jnp.dtype(dtype)


def _input_dtype(dtype: Any, name: str) -> Any:
    """The dtype ``A`` is passed to the root in; :class:`TypeError` for unsupported dtypes.

    Integers become JAX's default float: float64 with ``jax_enable_x64``,
    float32 otherwise.  float16, bfloat16, float32, float64, complex64 and
    complex128 are kept (JAX has no complex32).
    """
    dtype = jnp.dtype(dtype)
    where = f"matsqrt.jax.{name}: A"
    if dtype == jnp.dtype(bool):
        raise TypeError(f"{where} must be real or complex floating, or integer; got dtype bool")
    if jnp.issubdtype(dtype, jnp.integer):
        return jax.dtypes.canonicalize_dtype(jnp.float64)
    if dtype in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64), jnp.dtype(jnp.complex64), jnp.dtype(jnp.complex128),
                 *_HALF_FLOATS):
        return dtype
    raise TypeError(f"{where} has dtype {dtype}, which matsqrt does not compute with; supported are float16, "
                    "bfloat16, float32, float64, complex64, complex128 and integers (convert with "
                    "A.astype(jnp.float32))")


class DeviceConvergence(NamedTuple):
    """How :func:`sign_iteration_on_device` ended, as device arrays.

    The fields of :class:`matsqrt.ConvergenceInfo` that are known on the
    device: iterations done, the last residual (``nan`` for ``tol = 0``) and
    whether the stopping rule was met.
    """

    iterations: jax.Array
    residual: jax.Array
    converged: jax.Array


def sign_iteration_on_device(b: jax.Array, c: jax.Array, *, maxiter: int, tol: float
                             ) -> tuple[jax.Array, DeviceConvergence]:
    """Solve ``b X + X b = c`` for a pre-scaled ``b`` without leaving the device.

    The stopping rule of :func:`matsqrt.lyapunov.sign_iteration`, tested on
    the device after every step inside a :func:`jax.lax.while_loop`: stop,
    converged, when the worst ``||B_k - I||_F`` over the batch is at
    most ``tol``, or one step after it was at most ``sqrt(tol / 2)`` (the
    quadratic regime); stop, not converged, at ``maxiter`` iterations or a
    non-finite residual.  ``tol = 0`` runs exactly ``maxiter`` steps, checking
    nothing.  Returns ``X`` and a :class:`DeviceConvergence`.
    """
    if tol == 0:
        b, c = lax.fori_loop(0, maxiter, lambda _, bc: sign_step(*bc), (b, c))
        nan = jnp.asarray(jnp.nan, jnp.finfo(b.dtype).dtype)
        info = DeviceConvergence(jnp.asarray(maxiter), nan, jnp.asarray(True))
        return 0.5 * c, info
    n = b.shape[-1]
    eye = jnp.eye(n, dtype=b.dtype)
    threshold = math.sqrt(tol / 2)

    def running(state):
        k, _, _, _, done, _, _ = state
        return (k < maxiter) & ~done

    def step(state):
        k, b, c, _, _, _, last_step = state
        b, c = sign_step(b, c)
        residual = _worst_distance(b, eye)
        finite = jnp.isfinite(residual)
        converged = finite & ((residual <= tol) | last_step)
        return k + 1, b, c, residual, converged | ~finite, converged, residual <= threshold

    false = jnp.asarray(False)
    state = (jnp.asarray(0), b, c, jnp.asarray(jnp.nan, jnp.finfo(b.dtype).dtype), false, false, false)
    k, _, c, residual, _, converged, _ = lax.while_loop(running, step, state)
    return 0.5 * c, DeviceConvergence(k, residual, converged)


def _worst_distance(b: jax.Array, eye: jax.Array) -> jax.Array:
    """Worst ``||B - I||_F`` over the batch (real for complex ``B``)."""
    d = jnp.abs(b - eye)
    return jnp.max(jnp.sqrt(jnp.sum(d * d, axis=(-2, -1))))


def newton_sign_iteration_on_device(b: jax.Array, c: jax.Array, *, maxiter: int, tol: float
                                    ) -> tuple[jax.Array, DeviceConvergence]:
    """Solve ``b X + X b = c`` for any ``b`` with spectrum in the open right half-plane, on the device.

    :func:`matsqrt.lyapunov.newton_sign_iteration` in a
    :func:`jax.lax.while_loop`: ``B <- (mu B + (mu B)^-1) / 2``, ``C <- (mu C
    + mu^-1 B^-1 C B^-1) / 2`` with the determinantal scaling ``mu = |det
    B|^(-1/n)`` while the worst ``||B_k - I||_F`` exceeds
    ``SCALE_UNTIL``, on ``C / ||C||_F``.  Stop rule as the core's: converged
    when ``||B_k - I||_F <= tol`` or one step after it was at most
    ``sqrt(tol)``; not converged at ``maxiter`` steps or a non-finite
    ``B_k``.  ``tol = 0`` runs exactly ``maxiter`` steps.  Real or complex.
    """
    n = b.shape[-1]
    eye = jnp.eye(n, dtype=b.dtype)
    size = frobenius_norm(c, jnp)
    size = jnp.where(size > 0, size, jnp.ones_like(size))
    c = c / size

    def newton_step(b, c, residual):
        b_inv = jnp.linalg.inv(b)
        _, logabsdet = jnp.linalg.slogdet(b)
        mu = jnp.exp(-logabsdet / n)
        mu = jnp.where(jnp.isfinite(mu) & (mu > 0) & (residual > SCALE_UNTIL), mu, jnp.ones_like(mu))
        mu = mu[..., None, None].astype(b.dtype)
        return 0.5 * (mu * b + b_inv / mu), 0.5 * (mu * c + (b_inv @ c @ b_inv) / mu)

    if tol == 0:
        def fixed(_, bc):
            return newton_step(*bc, _worst_distance(bc[0], eye))

        b, c = lax.fori_loop(0, maxiter, fixed, (b, c))
        info = DeviceConvergence(jnp.asarray(maxiter), jnp.asarray(jnp.nan), jnp.asarray(True))
        return 0.5 * c * size, info
    threshold = math.sqrt(tol)

    def running(state):
        k, _, _, _, done, _, _ = state
        return (k < maxiter) & ~done

    def step(state):
        k, b, c, _, _, _, last_step = state
        residual = _worst_distance(b, eye)
        finite = jnp.isfinite(residual)
        converged = finite & ((residual <= tol) | last_step)
        stop = converged | ~finite
        b_next, c_next = newton_step(b, c, residual)
        b = jnp.where(stop, b, b_next)
        c = jnp.where(stop, c, c_next)
        return jnp.where(stop, k, k + 1), b, c, residual, stop, converged, residual <= threshold

    false = jnp.asarray(False)
    state = (jnp.asarray(0), b, c, jnp.asarray(jnp.inf, _worst_distance(b, eye).dtype), false, false, false)
    k, _, c, residual, _, converged, _ = lax.while_loop(running, step, state)
    return 0.5 * c * size, DeviceConvergence(k, residual, converged)


def _is_traced(a: jax.Array) -> bool:
    return isinstance(a, jax.core.Tracer)


def _residual(a: jax.Array, y: jax.Array, inverse: bool) -> float:
    """As :func:`matsqrt.sqrtm`'s info: ``||Y^2 - A||_F / ||A||_F``, or ``||Z A Z - I||_F / sqrt(n)``."""
    if math.prod(a.shape) == 0:
        return 0.0
    if inverse:
        rel = frobenius_norm(y @ a @ y - jnp.eye(a.shape[-1], dtype=a.dtype), jnp) / a.shape[-1] ** 0.5
    else:
        den = frobenius_norm(a, jnp)
        rel = frobenius_norm(y @ y - a, jnp) / jnp.where(den > 0, den, jnp.ones_like(den))
    return float(jnp.max(rel))


def _as_array(A: Any, name: str) -> jax.Array:
    # One rule for both adapters: the library's own arrays and NumPy arrays, nothing else.
    if isinstance(A, jax.Array | np.ndarray):
        return jnp.asarray(A)
    raise TypeError(f"matsqrt.jax.{name} takes a JAX or NumPy array; got {type(A).__name__} "
                    f"(matsqrt.{name} takes any array)")


def _call(A: Any, inverse: bool, method: Method, settings: dict[str, Any], lyapunov_maxiter: Any,
          lyapunov_tol: Any, return_info: bool, check_finite: bool) -> Any:
    name = "inv_sqrtm" if inverse else "sqrtm"
    a = _as_array(A, name)
    # Shapes are static, so these checks hold under jit too: the core's messages.
    if a.ndim < 2:
        raise ValueError(f"A must be at least 2-D of shape (..., n, n); got shape {tuple(a.shape)}")
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"A must be square in its last two axes; got shape {tuple(a.shape)}")
    dtype = _input_dtype(a.dtype, name)
    a = a if a.dtype == dtype else a.astype(dtype)
    # Settings are Python values: checked under jit too (unknown settings, invalid values).
    config = configure(method, **settings)
    check_settings(jnp, jnp.float64, lyapunov_maxiter, lyapunov_tol)
    traced = _is_traced(a)
    # The core's checks where the values exist; under jit they would need a synchronisation that
    # tracing forbids, and the result is NaN instead (see the module's notes).
    options = _Options(inverse, config, lyapunov_maxiter, lyapunov_tol, check_finite and not traced,
                       check_finite and traced)
    # float16 and bfloat16 are computed in float32 (XLA has no bfloat16 LU); the cast is
    # differentiable, so the root and its derivatives see float32 or float64 only.
    work = _working_dtype(dtype)
    a = a if dtype == work else a.astype(work)
    if return_info:
        if traced:
            raise ValueError(f"matsqrt.jax.{name}: return_info=True needs concrete input (its info is computed "
                             "on the host), not a traced one under jax.jit, jax.vmap or jax.grad")
        if isinstance(config, Eigh):
            y = _forward(a, options)
            info = ConvergenceInfo(0, _residual(a, y, inverse), True, 0.0)
        else:
            root = _api.inv_sqrtm if inverse else _api.sqrtm
            with jax.default_matmul_precision("highest"):
                y, info = root(a, config, return_info=True, check_finite=options.check)
        return y.astype(_result_dtype(y, dtype)), info
    y = _root(a, options)
    return y.astype(_result_dtype(y, dtype))


def _result_dtype(y: jax.Array, dtype: Any) -> Any:
    """``dtype``, or for a complex root of real input its complex counterpart, as the core's (float64:
    complex128; float32, float16, bfloat16: complex64): a complex root is never cast to real."""
    if jnp.iscomplexobj(y) and not jnp.issubdtype(dtype, jnp.complexfloating):
        return y.dtype
    return dtype


def sqrtm(
    A: Any,
    method: Method = "auto",
    *,
    degree: int | None = None,
    scale: str | None = None,
    tol: float | None = None,
    maxiter: int | None = None,
    lyapunov_maxiter: int | None = None,
    lyapunov_tol: float | None = None,
    return_info: bool = False,
    check_finite: bool = True,
) -> Any:
    """Differentiable principal square root ``A^(1/2)`` of a batch of JAX arrays.

    Parameters
    ----------
    A : jax.Array or numpy.ndarray, shape (..., n, n)
        Matrices as for :func:`matsqrt.sqrtm`.
    method : str or method config, default "auto"
        As in :func:`matsqrt.sqrtm`; static under :func:`jax.jit` (a Python
        value, not traced).  ``"auto"`` is the core's on concrete input and
        ``"eigh"`` on traced input.  Under ``jit`` and ``vmap`` only
        ``"auto"``, ``"mpa"``,
        ``"mtp"``, ``"eigh"`` and fixed-count iterations
        (``Matmul(tol=0, maxiter=16)``: accurate to rounding for condition
        numbers up to about 1e4, measured on float64 diagonals) run; the
        others raise :class:`ValueError` there (see the module's notes).
        The default's accuracy: the module's notes.
    degree, scale, tol, maxiter
        As in :func:`matsqrt.sqrtm`; a setting the method does not have
        raises :class:`ValueError`, under ``jit`` too.
    lyapunov_maxiter, lyapunov_tol
        Settings of the derivatives' matrix-sign iteration, as in
        :func:`matsqrt.sqrtm_vjp`; ``lyapunov_maxiter=8, lyapunov_tol=0`` is
        the paper's fixed eight iterations.  ``"eigh"`` ignores them.
    return_info : bool, default False
        Also return the forward's :class:`matsqrt.ConvergenceInfo`, as
        :func:`matsqrt.sqrtm`; concrete input only (:class:`ValueError`
        under ``jit``, ``vmap`` and ``grad``).
    check_finite : bool, default True
        The core's checks on concrete input (:class:`ValueError` for
        non-finite input, input outside the method's domain); on traced
        input, NaN on the device where they can run there (module notes).

    Returns
    -------
    Y : jax.Array, shape (..., n, n)
        float32, float64, complex64 and complex128 are kept (a complex root
        of real input is returned in the complex dtype of the computation,
        never cast to real); float16 and bfloat16 are computed in
        float32 and returned in their own dtype; integers are computed and
        returned in JAX's default float dtype: float64 with
        ``jax_enable_x64``, float32 without (JAX's own rule for
        ``int -> float``; the NumPy API always uses float64).
    info : matsqrt.ConvergenceInfo
        Only with ``return_info=True``.

    Raises
    ------
    ValueError
        ``A`` not at least 2-D or not square (also under :func:`jax.jit`:
        shapes are static); invalid settings; a method that needs the host
        under ``jit`` or ``vmap``; and on concrete input as
        :func:`matsqrt.sqrtm` (with ``check_finite``).
    TypeError
        ``A`` neither a JAX nor a NumPy array; boolean ``A``, or a dtype
        not listed under Returns (the 8- and 4-bit floats).

    Notes
    -----
    The derivatives treat ``A`` as an unconstrained ``n x n`` matrix: the
    gradient solves ``Y^T X + X Y^T = G`` (the plain transpose for complex
    ``A`` too: JAX's convention, the conjugate of PyTorch's), the tangent
    ``Y dY + dY Y = dA``.
    They are the exact derivatives of the square root at the computed
    ``Y``, of every order, so they match finite differences of the forward
    only where the forward is accurate (``jax.test_util.check_grads`` needs
    e.g. ``"eigh"``, or ``"mpa"`` with ``degree=10`` on well-conditioned
    matrices; the default degree 5 is about 1e-2 accurate at condition
    number 10).

    At a singular ``A`` the derivative is infinite; it is NaN there, for the
    affected batch entries only: for each matrix where
    ``||A||_1 ||A^-1||_1 >= 1 / (n eps)`` (``eps`` of the working dtype;
    for symmetric ``A``, a smallest eigenvalue below about ``n eps`` times
    the largest), or where that estimate is not finite (``"eigh"``: a
    smallest eigenvalue at most ``n eps`` times the largest).  The test is
    one inverse per matrix, on the device, made when a derivative is.  An
    unconverged Lyapunov iteration gives NaN (for the whole batch, whose
    iteration it is) instead of :class:`matsqrt.ConvergenceError`: no
    exception can leave a traced computation.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> import matsqrt.jax
    >>> A = jnp.array([[4.0, 0.0], [0.0, 9.0]])
    >>> Y = matsqrt.jax.sqrtm(A, "mpa", degree=12)
    >>> bool(jnp.allclose(Y, jnp.diag(jnp.array([2.0, 3.0])), atol=1e-3))
    True
    >>> dA = jax.grad(lambda a: matsqrt.jax.sqrtm(a, "eigh").sum())(A)
    >>> bool(jnp.allclose(dA.diagonal(), jnp.array([1 / 4, 1 / 6])))
    True
    """
    settings = dict(degree=degree, scale=scale, tol=tol, maxiter=maxiter)
    return _call(A, False, method, settings, lyapunov_maxiter, lyapunov_tol, return_info, check_finite)


def inv_sqrtm(
    A: Any,
    method: Method = "auto",
    *,
    degree: int | None = None,
    scale: str | None = None,
    tol: float | None = None,
    maxiter: int | None = None,
    lyapunov_maxiter: int | None = None,
    lyapunov_tol: float | None = None,
    return_info: bool = False,
    check_finite: bool = True,
) -> Any:
    """Differentiable inverse principal square root ``A^(-1/2)`` of a batch of JAX arrays.

    Parameters, returns, raises and notes as :func:`sqrtm`; the gradient
    solves ``Z^T X + X Z^T = -A^-T G A^-T`` as :func:`matsqrt.inv_sqrtm_vjp`,
    the tangent is ``dZ = -Z^2 X Z^2`` with ``Z X + X Z = dA``.  With
    ``check_finite`` a concrete ``A`` holding a zero matrix raises
    :class:`ValueError`.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> import matsqrt.jax
    >>> A = jnp.array([[4.0, 0.0], [0.0, 9.0]])
    >>> Z = jax.jit(matsqrt.jax.inv_sqrtm)(A)
    >>> bool(jnp.allclose(Z @ A @ Z, jnp.eye(2), atol=1e-2))
    True
    """
    settings = dict(degree=degree, scale=scale, tol=tol, maxiter=maxiter)
    return _call(A, True, method, settings, lyapunov_maxiter, lyapunov_tol, return_info, check_finite)
