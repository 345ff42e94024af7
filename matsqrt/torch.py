"""PyTorch functions over matsqrt's backend-neutral core: autograd, ``torch.func`` and ``torch.compile``.

:func:`sqrtm` and :func:`inv_sqrtm` run the same array-API code as
:func:`matsqrt.sqrtm` on the tensors themselves (CPU or CUDA, through
``array_api_compat``); nothing is copied to NumPy.  Their derivatives are
Lyapunov solves:

* reverse mode (``backward``, :func:`torch.func.grad`, :func:`torch.func.vjp`,
  :func:`torch.func.jacrev`): the vector-Jacobian product of
  :func:`matsqrt.sqrtm_vjp`, by the method's own backward;
* forward mode (:func:`torch.func.jvp`, :func:`torch.func.jacfwd`): the same
  solve transposed, ``dY = vjp(dA^H)^H`` (``Y dY + dY Y = dA``), so that
  forward and reverse mode give the same Jacobian;
* :func:`torch.func.vmap`: the core's own batching over leading axes (the
  vmapped axis is moved to the front), no loop;
* higher derivatives (``create_graph=True``, :func:`torch.autograd.gradgradcheck`,
  :func:`torch.func.hessian`): the derivative formula is itself
  differentiable, to any order (each level solves one more Lyapunov
  equation with :func:`matsqrt.solve_lyapunov`).

Keywords
--------
The keywords of :func:`matsqrt.sqrtm_vjp`: ``method, degree, scale, tol,
maxiter, lyapunov_maxiter, lyapunov_tol, return_info, check_finite``, with the
same meanings and defaults (``method="auto"``).  ``xp`` is not taken (the
namespace is PyTorch's).  ``return_info=True`` returns ``(Y, info)`` with the
forward's :class:`matsqrt.ConvergenceInfo` (its ``residual`` computed as by
:func:`matsqrt.sqrtm`).

Input
-----
A :class:`torch.Tensor`, or a NumPy array, which is converted with
:func:`torch.as_tensor` (CPU, no gradient); anything else raises
:class:`TypeError` (:func:`matsqrt.sqrtm` takes any array).  The same rule
as :mod:`matsqrt.jax`.

Complex and general matrices
----------------------------
Real or complex, Hermitian or not, as the core: ``"auto"`` runs ``"db"`` on
general input (the tensors' own backend), and a real ``A`` with a negative
eigenvalue gets its complex principal root (complex output).  Gradients
follow PyTorch's complex convention, which is the core's: for a real loss
``L``, ``A.grad = dL/dRe(A) + i dL/dIm(A)``, the solution of
``Y^H X + X Y^H = G`` (:func:`torch.autograd.gradcheck` checks exactly
this).  A real ``A`` with a complex root gets a real gradient (the real
part); for its higher and forward-mode derivatives the forward computes the
root a second time, of ``A`` as a complex matrix, whose vjp is the whole
complex solution.  The Lyapunov solves of those derivatives turn a complex
root's spectrum off the imaginary axis (where ``i sqrt|lambda|`` lies) as
the core's backward does, with its eigenvalues on the host.  Under
``torch.compile`` a real ``A`` whose root turns out complex raises
:class:`ValueError` (the graph's dtypes are fixed before the values exist):
pass a complex tensor there.  (``torch.func.jacrev`` and ``jacfwd`` refuse
complex input themselves; ``vjp``, ``jvp`` and ``vmap`` take it.)

torch.compile
-------------
Under :func:`torch.compile` each root and its vector-Jacobian product are
one opaque operator (``torch.library`` custom ops ``matsqrt::root`` and
``matsqrt::root_vjp``), run eagerly inside the compiled graph, so
``fullgraph=True`` works with every method and setting and nothing of the
core is traced.  Measured on this project's 2-core CPU (PyTorch 2.13,
inductor caches disabled, forward and backward of a small model): the first
compilation in a process takes about 19 s with or without matsqrt
(inductor's own start-up); after it, a model with a root compiles in 2.9 s
(sync-free settings) to 4.0 s (defaults), where tracing the core took 22 s
for the forward alone and printed dozens of warnings.  Errors are raised
when the graph runs, as eagerly.  Differences from the eager path: the
backward recomputes the forward (one more root per backward); only first
derivatives are available (PyTorch's compiled autograd has no double
backward); of the ``torch.func`` transforms only ``vmap`` runs on a compiled
root (``grad``, ``jacrev`` and ``jvp`` raise inside ``torch.compile``);
``return_info=True`` raises :class:`ValueError` (with ``fullgraph=True``
inside dynamo's error; without it, the call falls back to eager and returns
the info).  On a GPU, the accurate sync-free settings
``method=matsqrt.Matmul(sync_free=True), check_finite=False`` make no host
synchronisation in the core (a fixed schedule, accurate to working
precision for Hermitian positive definite input up to condition number 1e8
in float64 and 1e5 in float32, NaN beyond; see :class:`matsqrt.Matmul`),
nor do the paper's ``method="mpa"`` (or ``"mtp"``), ``lyapunov_tol=0,
lyapunov_maxiter=k`` (``k = 8``: about 1e-2 relative error), compiled or not;
the default settings synchronise a few times per call (checks, convergence
tests), inside the operator.

Requires PyTorch: ``pip install "matsqrt[torch]"``.

Examples
--------
>>> import torch
>>> import matsqrt.torch
>>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64, requires_grad=True)
>>> Y = matsqrt.torch.sqrtm(A, "mpa", degree=10)
>>> torch.allclose(Y @ Y, A)
True
>>> Y.trace().backward()
>>> A.grad.shape
torch.Size([2, 2])
>>> torch.func.vmap(matsqrt.torch.sqrtm)(torch.eye(2).expand(3, 2, 2)).shape
torch.Size([3, 2, 2])
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import numpy as np

try:
    # An absolute import: this module is matsqrt.torch, the package is torch.
    import torch
except ImportError as exc:
    raise ImportError('matsqrt.torch needs PyTorch: pip install "matsqrt[torch]"') from exc

from . import _api
from ._errors import ConvergenceInfo
from ._methods import Method
from .lyapunov import quarter_turn, solve_lyapunov

__all__ = ["sqrtm", "inv_sqrtm"]

_HALF_FLOATS = (torch.float16, torch.bfloat16)
# Every integer dtype torch can convert to float64 (uint16/32/64 are recent).
_INTEGERS = tuple(getattr(torch, name) for name in ("int8", "int16", "int32", "int64", "uint8", "uint16",
                                                     "uint32", "uint64") if hasattr(torch, name))


class _Options(NamedTuple):
    """Every setting of one call (hashable, no tensors)."""

    inverse: bool
    method: Method
    degree: int | None
    scale: str | None
    tol: float | None
    maxiter: int | None
    lyapunov_maxiter: int | None
    lyapunov_tol: float | None
    check_finite: bool
    return_info: bool


class _State:
    """What a forward leaves for the derivatives: the core's vjp of the batch it computed, and its info.

    Passed to the autograd functions as a non-tensor argument, so that it
    reaches the backward under every ``torch.func`` transform (whose
    ``setup_context`` sees the inputs, not what ``forward`` computed).
    """

    __slots__ = ("vjp", "shape", "info")

    def __init__(self) -> None:
        self.vjp = None
        self.shape: tuple[int, ...] = ()
        self.info: ConvergenceInfo | None = None


def _dtypes(A: torch.Tensor, name: str) -> tuple[torch.dtype, torch.dtype]:
    """``(working dtype, result dtype)`` of ``A``, by the core's rules; :class:`TypeError` for the rest.

    Integers are computed and returned in float64, float16 and bfloat16 are
    computed in float32 and returned in their own dtype, complex32
    (``chalf``) is computed in complex64 and returned as complex32; float32,
    float64, complex64 and complex128 are kept.  (The result dtype of a real
    ``A`` whose root is complex is decided by the core: see :func:`_call`.)
    Booleans, quantized tensors and every other dtype (the 8- and 4-bit
    floats, the sub-byte integers, the bit types) raise: they have no
    arithmetic to compute a root with.
    """
    dtype = A.dtype
    where = f"matsqrt.torch.{name}: A"
    if dtype == torch.bool:
        raise TypeError(f"{where} must be real or complex floating, or integer; got dtype torch.bool")
    if dtype in (torch.float32, torch.float64, torch.complex64, torch.complex128):
        return dtype, dtype
    if dtype in _HALF_FLOATS:
        return torch.float32, dtype
    if dtype == torch.complex32:
        return torch.complex64, dtype
    if dtype in _INTEGERS and not A.is_quantized:
        return torch.float64, torch.float64
    raise TypeError(f"{where} has dtype {dtype}, which matsqrt does not compute with; supported are float16, "
                    "bfloat16, float32, float64, complex32, complex64, complex128 and the 8- to 64-bit integers "
                    "(convert with A.float() or A.double())")


def _check_shape(A: torch.Tensor) -> None:
    # The core's messages, given before any dtype conversion.
    if A.ndim < 2:
        raise ValueError(f"A must be at least 2-D of shape (..., n, n); got shape {tuple(A.shape)}")
    if A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must be square in its last two axes; got shape {tuple(A.shape)}")


def _residual(a: torch.Tensor, y: torch.Tensor, inverse: bool) -> float:
    """As :func:`matsqrt.sqrtm`'s info: ``||Y^2 - A||_F / ||A||_F``, or ``||Z A Z - I||_F / sqrt(n)``."""
    if math.prod(a.shape) == 0:
        return 0.0
    if inverse:
        eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        rel = torch.linalg.matrix_norm(y @ a @ y - eye) / a.shape[-1] ** 0.5
    else:
        den = torch.linalg.matrix_norm(a)
        rel = torch.linalg.matrix_norm(y @ y - a) / torch.where(den > 0, den, torch.ones_like(den))
    return float(rel.max())


def _core(a: torch.Tensor, options: _Options) -> tuple[torch.Tensor, Any]:
    """The root of a plain tensor in its working dtype, and the core's vjp for it."""
    root_vjp = _api.inv_sqrtm_vjp if options.inverse else _api.sqrtm_vjp
    return root_vjp(a, options.method, degree=options.degree, scale=options.scale, tol=options.tol,
                    maxiter=options.maxiter, lyapunov_maxiter=options.lyapunov_maxiter,
                    lyapunov_tol=options.lyapunov_tol, check_finite=options.check_finite)


def _front(t: torch.Tensor, dim: int | None, size: int) -> torch.Tensor:
    """``t`` with its vmapped axis first (an unbatched ``t`` expanded to ``size``)."""
    return t.movedim(dim, 0) if dim is not None else t.expand(size, *t.shape)


def _solve_lyapunov(b: torch.Tensor, c: torch.Tensor, maxiter: int | None, tol: float | None) -> torch.Tensor:
    """``X`` with ``B X + X B = C`` by :func:`matsqrt.solve_lyapunov`; a complex ``B`` is turned first.

    A complex root can have eigenvalues on the imaginary axis (``i sqrt|lambda|``
    for a negative eigenvalue ``lambda`` of ``A``), where the matrix-sign
    iteration is undefined; as the core's backward, the equation is solved as
    ``(e^(i phi) B) X + X (e^(i phi) B) = e^(i phi) C`` with ``phi`` centring
    the arguments of ``B``'s eigenvalues on the positive real axis (the
    eigenvalues on the host: one synchronisation, complex input only, higher
    derivatives and forward mode only).
    """
    if b.is_complex():
        import array_api_compat.torch as xp

        turn = quarter_turn(b.detach(), xp)
        if turn is not None:
            b, c = b * turn, c * turn
    return solve_lyapunov(b, c, maxiter=maxiter, tol=tol, check_finite=False)


class _Solve(torch.autograd.Function):
    """``X`` with ``B X + X B = C``, differentiable to any order, in reverse and forward mode.

    ``apply(B, C, G, state, maxiter, tol)``: with ``state`` (a :class:`_State`),
    ``X`` is ``state.vjp(G)``, the core's vector-Jacobian product for the
    cotangent ``G`` from which ``B`` and ``C`` were formed (the method's own
    backward, exactly); without, it is :func:`matsqrt.solve_lyapunov`.
    Derivatives: ``dX`` solves ``B dX + dX B = dC - dB X - X dB``; the
    adjoint (reverse mode) solves the equation for ``B^H``: ``dL/dC = W``
    with ``B^H W + W B^H = dL/dX``, ``dL/dB = -(W X^H + X^H W)``.  ``G``
    itself gets no derivative here: it enters through ``C``.
    """

    @staticmethod
    def forward(b, c, g, state, maxiter, tol):
        if state is None:
            return _solve_lyapunov(b, c, maxiter, tol)
        if tuple(g.shape) != state.shape:
            raise RuntimeError(f"matsqrt.torch: internal error, cotangent of shape {tuple(g.shape)} for a root "
                               f"of shape {state.shape}")
        return state.vjp(g)

    @staticmethod
    def setup_context(ctx, inputs, output):
        b, _, _, _, maxiter, tol = inputs
        ctx.settings = (maxiter, tol)
        ctx.save_for_backward(b, output)
        ctx.save_for_forward(b, output)

    @staticmethod
    def backward(ctx, gx):
        b, x = ctx.saved_tensors
        w = _Solve.apply(b.mH, gx, None, None, *ctx.settings)
        gb = -(w @ x.mH + x.mH @ w) if ctx.needs_input_grad[0] else None
        return gb, w, None, None, None, None

    @staticmethod
    def jvp(ctx, db, dc, dg, state, maxiter, tol):
        b, x = ctx.saved_tensors
        r = torch.zeros_like(x) if dc is None else dc
        if db is not None:
            r = r - (db @ x + x @ db)
        return _Solve.apply(b, r, None, None, *ctx.settings)

    @staticmethod
    def vmap(info, in_dims, b, c, g, state, maxiter, tol):
        size = info.batch_size
        bd, cd, gd = in_dims[:3]
        if state is None:
            x = _Solve.apply(_front(b, bd, size), _front(c, cd, size), None, None, maxiter, tol)
            return x, 0
        if bd is not None:
            # B comes from the root, batched here: the forward ran vmapped at this level too, and the
            # core's vjp is that of the whole stacked batch, this level's axis first.
            return _Solve.apply(b.movedim(bd, 0), _front(c, cd, size), _front(g, gd, size), state, maxiter,
                                tol), 0
        # Many cotangents for one root (torch.func.jacrev, jacfwd): the root's own vjp for each.
        cc = c if cd is None else c.movedim(cd, 0)
        gg = g.movedim(gd, 0) if gd is not None else g.expand(size, *g.shape)
        xs = [_Solve.apply(b, cc if cd is None else cc[i], gg[i], state, maxiter, tol) for i in range(size)]
        return torch.stack(xs), 0


def _derivative(ctx, y: torch.Tensor, g: torch.Tensor, complex_: bool = False) -> torch.Tensor:
    """``dL/dA`` for ``G = dL/dY`` at the root ``y`` (an output of :class:`_Root`, so differentiable).

    Square root: ``Y^H X + X Y^H = G``; inverse root: ``Z^H X + X Z^H =
    -A^-H G A^-H`` with ``A^-1 = Z Z``, as the core's vjp, whose value it is.
    A real ``A`` with a complex root gets the real part (the gradient of the
    real variable), unless ``complex_`` (forward mode).
    """
    options = ctx.options
    yh = y.mH
    if options.inverse:
        a_inv_h = (y @ y).mH
        c = -(a_inv_h @ g @ a_inv_h)
    else:
        c = g
    x = _Solve.apply(yh, c, g, ctx.state, options.lyapunov_maxiter, options.lyapunov_tol)
    return x.real if ctx.real_input and x.is_complex() and not complex_ else x


class _Root(torch.autograd.Function):
    """``A^(+-1/2)`` of a tensor in its working dtype (float32 or float64): ``apply(A, state, options)``."""

    @staticmethod
    def forward(a, state, options):
        y, vjp = _core(a, options)
        if y.is_complex() and not a.is_complex():
            # A real A whose principal root is complex (a negative eigenvalue): the root again, of A as a
            # complex matrix, whose vjp is the whole complex solution X, which the higher and forward-mode
            # derivatives need (the real A's vjp is its real part; backward takes that part itself).
            y, vjp = _core(a.to(y.dtype), options)
        state.vjp, state.shape = vjp, tuple(a.shape)
        if options.return_info:
            state.info = dataclasses.replace(vjp.forward_info, residual=_residual(a, y, options.inverse))
        # A new tensor object for the output: the vjp keeps its own reference
        # to the root, and the output itself held there would form a cycle
        # through its own graph node that Python's collector cannot see.
        return y.detach()

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, ctx.state, ctx.options = inputs
        ctx.real_input = not a.is_complex()
        # Saved as an output: no cycle.  The root is what every derivative needs.
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return _derivative(ctx, y, gy), None, None

    @staticmethod
    def jvp(ctx, da, state, options):
        # Y dY + dY Y = dA is the vjp's equation transposed: dY = vjp(dA^H)^H (the inverse root likewise),
        # also for complex A: the Frechet derivative of a function with real Taylor coefficients has
        # L(A, E)^H = L(A^H, E^H), and the vjp is L(A^H, .).  A real A with a complex root: dA as complex.
        (y,) = ctx.saved_tensors
        if y.is_complex() and not da.is_complex():
            da = da.to(y.dtype)
        return _derivative(ctx, y, da.mH, complex_=True).mH

    @staticmethod
    def vmap(info, in_dims, a, state, options):
        # The core is batched over leading axes: the vmapped axis goes first.
        return _Root.apply(a.movedim(in_dims[0], 0), state, options), 0


# --- torch.compile: the core as opaque operators -----------------------------

_COMPILED_OPTIONS: dict[str, _Options] = {}


@torch.compiler.assume_constant_result
def _options_key(*fields: Any) -> str:
    """A string naming ``options`` for the custom ops (their arguments cannot be configs).

    Plain string operations, which dynamo evaluates while tracing; the
    options are looked up in :data:`_COMPILED_OPTIONS` when the graph runs.
    """
    key = "|".join(type(v).__name__ + ":" + str(v) for v in fields)
    _COMPILED_OPTIONS[key] = _Options(*fields)
    return key


@torch.library.custom_op("matsqrt::root", mutates_args=())
def _root_op(a: torch.Tensor, key: str) -> torch.Tensor:
    """The root, run eagerly inside a compiled graph (host synchronisations included)."""
    y, _ = _core(a, _COMPILED_OPTIONS[key])
    _refuse_complex_root_of_real_input(a, y)
    return _fresh(y, a)


def _refuse_complex_root_of_real_input(a: torch.Tensor, y: torch.Tensor) -> None:
    # The compiled graph was traced with the real dtype of A for the root (the dtype of the result is
    # fixed before the values exist): a complex root cannot be returned there.
    if y.is_complex() and not a.is_complex():
        raise ValueError("matsqrt.torch: A is real but its principal square root is complex (A has a negative "
                         "real eigenvalue); under torch.compile the result's dtype must be known from A's: pass A "
                         "as a complex tensor (A.to(torch.complex128)), or call the root outside torch.compile")


def _fresh(out: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    # A custom op's output must be contiguous as its fake says, and alias no input.
    out = out.contiguous()
    return out.clone() if any(out.data_ptr() == t.data_ptr() for t in inputs) else out


def _fake(a: torch.Tensor) -> torch.Tensor:
    return torch.empty(a.shape, dtype=a.dtype, device=a.device)


@_root_op.register_fake
def _(a, key):
    return _fake(a)


@torch.library.custom_op("matsqrt::root_vjp", mutates_args=())
def _root_vjp_op(a: torch.Tensor, g: torch.Tensor, key: str) -> torch.Tensor:
    """``dL/dA`` for ``G = dL/dY``: the forward again, then the core's vjp."""
    y, vjp = _core(a, _COMPILED_OPTIONS[key])
    _refuse_complex_root_of_real_input(a, y)
    return _fresh(vjp(g), a, g)


@_root_vjp_op.register_fake
def _(a, g, key):
    return _fake(a)


def _op_setup_context(ctx, inputs, output):
    a, key = inputs
    ctx.key = key
    ctx.save_for_backward(a)


def _op_backward(ctx, g):
    (a,) = ctx.saved_tensors
    return _root_vjp_op(a, g, ctx.key), None


_root_op.register_autograd(_op_backward, setup_context=_op_setup_context)


@_root_op.register_vmap
def _(info, in_dims, a, key):
    # The core is batched over leading axes: the vmapped axis goes first.
    return _root_op(a.movedim(in_dims[0], 0), key), 0


@_root_vjp_op.register_vmap
def _(info, in_dims, a, g, key):
    # A is passed along (the forward is recomputed), so each cotangent meets its own matrix.
    size = info.batch_size
    return _root_vjp_op(_front(a, in_dims[0], size), _front(g, in_dims[1], size), key), 0


# --- the public functions ----------------------------------------------------

def _as_tensor(A: Any, name: str) -> torch.Tensor:
    if isinstance(A, torch.Tensor):
        return A
    if isinstance(A, np.ndarray):
        return torch.as_tensor(A)
    raise TypeError(f"matsqrt.torch.{name} takes a torch.Tensor or a NumPy array; got {type(A).__name__} "
                    f"(matsqrt.{name} takes any array)")


def _call(A: Any, options: _Options) -> Any:
    name = "inv_sqrtm" if options.inverse else "sqrtm"
    A = _as_tensor(A, name)
    _check_shape(A)
    work, out = _dtypes(A, name)
    # float16/bfloat16 and integers: the cast is differentiable, so everything below runs in
    # the working dtype, derivatives included, and gradients come back in A's dtype.
    a = A if A.dtype == work else A.to(work)
    if torch.compiler.is_compiling():
        if options.return_info:
            raise ValueError(f"matsqrt.torch.{name}: return_info is not available under torch.compile "
                             "(the info is a Python object computed on the host)")
        y = _root_op(a, _options_key(*options))
        return y if out == work else y.to(out)
    state = _State()
    y = _Root.apply(a, state, options)
    y = y.to(_result_dtype(y, work, out))
    return (y, state.info) if options.return_info else y


def _result_dtype(y: torch.Tensor, work: torch.dtype, out: torch.dtype) -> torch.dtype:
    """The dtype of the result: ``out``, or for a complex root of real input its complex counterpart, as the
    core's (float64 and integers: complex128; float32, float16, bfloat16: complex64)."""
    if y.is_complex() and not work.is_complex:
        return torch.complex128 if work == torch.float64 else torch.complex64
    return out


_KEYWORDS = """
    Parameters
    ----------
    A : torch.Tensor or numpy.ndarray, shape (..., n, n)
        Matrices as for :func:`matsqrt.sqrtm`, on any device; a NumPy array
        is converted with :func:`torch.as_tensor`.
    method, degree, scale, tol, maxiter, check_finite
        As in :func:`matsqrt.sqrtm` (default ``"auto"``); ``method`` is
        passed to the core untouched, so every method it accepts works here.
    lyapunov_maxiter, lyapunov_tol
        Settings of the derivatives' Lyapunov iteration, as in
        :func:`matsqrt.sqrtm_vjp`.  ``lyapunov_maxiter=8, lyapunov_tol=0``
        is the paper's fixed eight iterations.
    return_info : bool, default False
        Also return the forward's :class:`matsqrt.ConvergenceInfo`, as
        :func:`matsqrt.sqrtm` (not under :func:`torch.compile`).
"""


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
    """Differentiable principal square root ``A^(1/2)`` of a batch of tensors.
    {keywords}
    Returns
    -------
    Y : torch.Tensor, shape (..., n, n)
        On the device of ``A``.  float32, float64, complex64 and complex128
        are kept; float16 and bfloat16 are computed in float32 and returned
        in their own dtype, complex32 in complex64 and returned as
        complex32; integer tensors (``int8`` to ``int64``, ``uint8`` to
        ``uint64``) are computed and returned in float64, as by
        :func:`matsqrt.sqrtm`.  A real ``A`` whose principal root is complex
        (a negative eigenvalue) returns it complex: complex128 for float64
        and integers, complex64 for the narrower floats.
    info : matsqrt.ConvergenceInfo
        Only with ``return_info=True``.

    Raises
    ------
    TypeError
        ``A`` is neither a tensor nor a NumPy array, or its dtype is
        boolean or any other not listed under Returns (the 8- and 4-bit
        floats, sub-byte and quantized integers, the bit types).
    ValueError
        ``A`` not at least 2-D or not square, a setting the method does not
        have, and otherwise as :func:`matsqrt.sqrtm`; under
        :func:`torch.compile`, a real ``A`` whose root is complex.
    matsqrt.ConvergenceError
        From ``backward()`` (or a forward-mode derivative), when the
        Lyapunov iteration does not converge.  A singular ``A``, where the
        derivative is infinite, raises as :func:`matsqrt.sqrtm_vjp` does.

    Notes
    -----
    ``A`` is an unconstrained ``n x n`` matrix: ``A.grad`` has all ``n^2``
    entries, the solution of ``Y^H X + X Y^H = G`` (PyTorch's complex
    convention; the transpose for real ``A``, and the real part for a real
    ``A`` with a complex root).  It is the exact
    derivative of the square root *at the computed* ``Y``, so it matches the
    derivative of the forward approximation only where the forward is
    accurate: the default ``"auto"`` is (eigh on the CPU, matmul on CUDA);
    at the paper's ``"mpa"`` degree 5 the forward is about 1e-2 accurate, and
    ``torch.autograd.gradcheck`` then fails.

    Higher derivatives (``create_graph=True``, ``torch.func.hessian``)
    differentiate that gradient formula: the first derivative keeps the
    value above, computed by the method's own backward, and every further
    one solves one more Lyapunov equation ``B X + X B = C`` (with
    :func:`matsqrt.solve_lyapunov` and the same ``lyapunov_maxiter`` and
    ``lyapunov_tol``).  They are the exact derivatives of the square root at
    the computed ``Y``, of any order; float16 and bfloat16 are
    differentiated in float32.

    Under ``torch.func.jacrev`` and ``jacfwd`` the core's vjp runs once per
    row or column of the Jacobian (``n^2`` solves for one matrix), each on
    the whole batch.

    Examples
    --------
    >>> import torch
    >>> import matsqrt.torch
    >>> A = torch.tensor([[4.0, 0.0], [0.0, 9.0]], dtype=torch.float64, requires_grad=True)
    >>> Y = matsqrt.torch.sqrtm(A)
    >>> Y.detach().diagonal()
    tensor([2., 3.], dtype=torch.float64)
    >>> Y.sum().backward()
    >>> A.grad.diagonal()
    tensor([0.2500, 0.1667], dtype=torch.float64)

    Second derivatives: ``d^2 sqrt(a) / da^2 = -a^(-3/2) / 4`` on the diagonal.

    >>> H = torch.autograd.functional.hessian(lambda a: matsqrt.torch.sqrtm(a).trace(), A.detach())
    >>> H[0, 0, 0, 0], H[1, 1, 1, 1]
    (tensor(-0.0312, dtype=torch.float64), tensor(-0.0093, dtype=torch.float64))
    """
    options = _Options(False, method, degree, scale, tol, maxiter, lyapunov_maxiter, lyapunov_tol, check_finite,
                       return_info)
    return _call(A, options)


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
    """Differentiable inverse principal square root ``A^(-1/2)`` of a batch of tensors.
    {keywords}
    Returns, raises and notes as :func:`sqrtm`; the forward is
    :func:`matsqrt.inv_sqrtm` and the backward :func:`matsqrt.inv_sqrtm_vjp`
    (``Z^H X + X Z^H = -A^-H G A^-H``).

    Examples
    --------
    >>> import torch
    >>> import matsqrt.torch
    >>> A = torch.tensor([[4.0, 0.0], [0.0, 9.0]], dtype=torch.float64, requires_grad=True)
    >>> Z = matsqrt.torch.inv_sqrtm(A)
    >>> Z.detach().diagonal()
    tensor([0.5000, 0.3333], dtype=torch.float64)
    >>> Z.sum().backward()
    >>> A.grad.diagonal()
    tensor([-0.0625, -0.0185], dtype=torch.float64)
    """
    options = _Options(True, method, degree, scale, tol, maxiter, lyapunov_maxiter, lyapunov_tol, check_finite,
                       return_info)
    return _call(A, options)


for _f in (sqrtm, inv_sqrtm):
    _f.__doc__ = _f.__doc__.replace("{keywords}", _KEYWORDS)
