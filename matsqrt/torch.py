"""PyTorch autograd functions over matsqrt's backend-neutral core.

:func:`sqrtm` and :func:`inv_sqrtm` are :class:`torch.autograd.Function`
applications: the forward runs the same array-API code as
:func:`matsqrt.sqrtm` on the tensors themselves (CPU or CUDA, through
``array_api_compat``), and the backward is the Lyapunov vector-Jacobian
product of :func:`matsqrt.sqrtm_vjp`.  Nothing is copied to NumPy.  The
backward is itself differentiable (``create_graph=True``: Hessians,
Hessian-vector products, ``torch.autograd.gradgradcheck``).

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
"""

from __future__ import annotations

from typing import Any

try:
    # An absolute import: this module is matsqrt.torch, the package is torch.
    import torch
except ImportError as exc:
    raise ImportError('matsqrt.torch needs PyTorch: pip install "matsqrt[torch]"') from exc

from . import _api
from ._methods import Method
from .lyapunov import solve_lyapunov

__all__ = ["sqrtm", "inv_sqrtm", "SqrtmFunction", "InvSqrtmFunction"]

_HALF_FLOATS = (torch.float16, torch.bfloat16)
# Every integer dtype torch can convert to float64 (uint16/32/64 are recent).
_INTEGERS = tuple(getattr(torch, name) for name in ("int8", "int16", "int32", "int64", "uint8", "uint16",
                                                     "uint32", "uint64") if hasattr(torch, name))


def _dtypes(A: torch.Tensor, name: str) -> tuple[torch.dtype, torch.dtype]:
    """``(working dtype, result dtype)`` of ``A``, by the core's rules; :class:`TypeError` for the rest.

    Integers are computed and returned in float64, float16 and bfloat16 are
    computed in float32 and returned in their own dtype, float32 and float64
    are kept.  Booleans, complex numbers, quantized tensors and every other
    dtype (the 8- and 4-bit floats, the sub-byte integers, the bit types)
    raise: they have no arithmetic to compute a root with, or (complex) are
    not supported yet.
    """
    dtype = A.dtype
    where = f"matsqrt.torch.{name}: A"
    if dtype == torch.bool:
        raise TypeError(f"{where} must be real floating or integer; got dtype torch.bool")
    if dtype.is_complex:
        raise TypeError(f"{where} must be real floating or integer; got dtype {dtype} "
                        "(complex matrices are not supported)")
    if dtype in (torch.float32, torch.float64):
        return dtype, dtype
    if dtype in _HALF_FLOATS:
        return torch.float32, dtype
    if dtype in _INTEGERS and not A.is_quantized:
        return torch.float64, torch.float64
    raise TypeError(f"{where} has dtype {dtype}, which matsqrt does not compute with; supported are float16, "
                    "bfloat16, float32, float64 and the 8- to 64-bit integers (convert with A.float() or A.double())")


def _check_shape(A: torch.Tensor) -> None:
    # The core's messages, given before any dtype conversion.
    if A.ndim < 2:
        raise ValueError(f"A must be at least 2-D of shape (..., n, n); got shape {tuple(A.shape)}")
    if A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must be square in its last two axes; got shape {tuple(A.shape)}")


def _forward(ctx, inverse, A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite):
    name = "inv_sqrtm" if inverse else "sqrtm"
    _check_shape(A)
    work, out = _dtypes(A, name)
    a = A if A.dtype == work else A.to(work)
    options = dict(degree=degree, check_finite=check_finite)
    ctx.inverse = inverse
    ctx.dtypes = (work, out)
    ctx.settings = (lyapunov_maxiter, lyapunov_tol)
    if ctx.needs_input_grad[0]:
        root_vjp = _api.inv_sqrtm_vjp if inverse else _api.sqrtm_vjp
        y, ctx.vjp = root_vjp(a, method, lyapunov_maxiter=lyapunov_maxiter, lyapunov_tol=lyapunov_tol, **options)
    else:
        y = (_api.inv_sqrtm if inverse else _api.sqrtm)(a, method, **options)
    # A new tensor object for the output: the vjp keeps its own reference to
    # the root, and the output itself held there would form a cycle through
    # its own graph node that Python's collector cannot see.
    result = y.detach().to(out)
    if ctx.needs_input_grad[0]:
        # For a double backward: the output carries the root's dependence on
        # A back through this Function.  Saved as an output, it forms no cycle.
        ctx.save_for_backward(result)
        # float16 and bfloat16: the root at working precision, for the values.
        ctx.working_root = y.detach() if out != work else None
    return result


def _backward(ctx, G):
    work, out = ctx.dtypes
    g = G if G.dtype == work else G.to(work)
    if not torch.is_grad_enabled():
        # The usual backward: the core's vjp, through the method's own solver.
        return ctx.vjp(g).to(out), None, None, None, None, None
    # create_graph=True: the same value, and a graph for the next derivative.
    x = ctx.vjp(g.detach())
    (result,) = ctx.saved_tensors
    y = result if result.dtype == work else result.to(work)
    if ctx.working_root is not None:
        # Values at working precision, derivatives through the output.
        y = ctx.working_root + (y - y.detach())
    yt = y.mT
    if ctx.inverse:
        # Z^T X + X Z^T = -A^-T G A^-T with A^-1 = Z Z, as the core's inv_sqrtm_vjp.
        a_inv_t = (y @ y).mT
        c = -(a_inv_t @ g @ a_inv_t)
    else:
        # Y^T X + X Y^T = G.
        c = g
    grad = _LyapunovSolve.apply(yt, c, lambda: x, *ctx.settings)
    return grad.to(out), None, None, None, None, None


class _LyapunovSolve(torch.autograd.Function):
    """``X`` with ``B X + X B = C``, differentiable to any order.

    ``apply(B, C, known, maxiter, tol)``: ``known`` is ``None`` (solve with
    :func:`matsqrt.solve_lyapunov`) or a function returning the solution
    already computed.  The backward solves the adjoint equation
    ``B^T W + W B^T = dL/dX`` with this Function again, and returns
    ``dL/dC = W`` and ``dL/dB = -(W X^T + X^T W)``.
    """

    @staticmethod
    def forward(ctx, b, c, known, maxiter, tol):
        x = solve_lyapunov(b, c, maxiter=maxiter, tol=tol, check_finite=False) if known is None else known()
        ctx.settings = (maxiter, tol)
        ctx.save_for_backward(b, x)
        return x

    @staticmethod
    def backward(ctx, gx):
        b, x = ctx.saved_tensors
        w = _LyapunovSolve.apply(b.mT, gx, None, *ctx.settings)
        gb = -(w @ x.mT + x.mT @ w) if ctx.needs_input_grad[0] else None
        return gb, w, None, None, None


class SqrtmFunction(torch.autograd.Function):
    """``torch.autograd.Function`` for ``A^(1/2)``; :func:`sqrtm` applies it with keywords.

    ``SqrtmFunction.apply(A, method, degree, lyapunov_maxiter, lyapunov_tol,
    check_finite)``, arguments as in :func:`sqrtm`.  The backward is itself
    differentiable (``create_graph=True``), to any order.
    """

    @staticmethod
    def forward(ctx, A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite):
        return _forward(ctx, False, A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite)

    @staticmethod
    def backward(ctx, G):
        return _backward(ctx, G)


class InvSqrtmFunction(torch.autograd.Function):
    """``torch.autograd.Function`` for ``A^(-1/2)``; :func:`inv_sqrtm` applies it with keywords.

    Arguments as :class:`SqrtmFunction`.
    """

    @staticmethod
    def forward(ctx, A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite):
        return _forward(ctx, True, A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite)

    @staticmethod
    def backward(ctx, G):
        return _backward(ctx, G)


def _check_tensor(A: Any, name: str) -> None:
    if not isinstance(A, torch.Tensor):
        raise TypeError(f"matsqrt.torch.{name} takes a torch.Tensor; got {type(A).__name__} "
                        f"(matsqrt.{name} takes any array)")


def sqrtm(
    A: torch.Tensor,
    method: Method = "auto",
    *,
    degree: int | None = None,
    lyapunov_maxiter: int | None = None,
    lyapunov_tol: float | None = None,
    check_finite: bool = True,
) -> torch.Tensor:
    """Differentiable principal square root ``A^(1/2)`` of a batch of tensors.

    Parameters
    ----------
    A : torch.Tensor, shape (..., n, n)
        Matrices as for :func:`matsqrt.sqrtm`, on any device.
    method, degree, check_finite
        As in :func:`matsqrt.sqrtm`; ``method`` is passed to the core
        untouched, so every method it accepts works here.
    lyapunov_maxiter, lyapunov_tol
        Settings of the backward's matrix-sign iteration, as in
        :func:`matsqrt.sqrtm_vjp`.  ``lyapunov_maxiter=8, lyapunov_tol=0``
        is the paper's fixed eight iterations.

    Returns
    -------
    Y : torch.Tensor, shape (..., n, n)
        On the device of ``A``.  float32 and float64 are kept; float16 and
        bfloat16 are computed in float32 and returned in their own dtype;
        integer tensors (``int8`` to ``int64``, ``uint8`` to ``uint64``) are
        computed and returned in float64, as by :func:`matsqrt.sqrtm`.

    Raises
    ------
    TypeError
        ``A`` is not a tensor, or its dtype is boolean, complex (not
        supported yet) or any other not listed under Returns (the 8- and
        4-bit floats, sub-byte and quantized integers, the bit types).
    ValueError
        ``A`` not at least 2-D or not square, and otherwise as
        :func:`matsqrt.sqrtm`.
    matsqrt.ConvergenceError
        From ``backward()``, when the Lyapunov iteration does not converge.
        A singular ``A``, where the derivative is infinite, raises as
        :func:`matsqrt.sqrtm_vjp` does.

    Notes
    -----
    ``A`` is an unconstrained ``n x n`` matrix: ``A.grad`` has all ``n^2``
    entries, the solution of ``Y^T X + X Y^T = G``.  It is the exact
    derivative of the square root *at the computed* ``Y``, so it matches the
    derivative of the forward approximation only where the forward is
    accurate: the default ``"auto"`` is (eigh on the CPU, matmul on CUDA);
    at the paper's ``"mpa"`` degree 5 the forward is about 1e-2 accurate, and
    ``torch.autograd.gradcheck`` then fails.

    Higher derivatives (``create_graph=True``) differentiate that gradient
    formula: the first derivative keeps the value above, computed by the
    method's own backward, and every further one solves one more Lyapunov
    equation ``B X + X B = C`` (with :func:`matsqrt.solve_lyapunov` and the
    same ``lyapunov_maxiter`` and ``lyapunov_tol``), whose adjoint is the
    same equation for ``B^T``.  They are the exact derivatives of the square
    root at the computed ``Y``, of any order; float16 and bfloat16 are
    differentiated in float32 too.

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
    _check_tensor(A, "sqrtm")
    return SqrtmFunction.apply(A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite)


def inv_sqrtm(
    A: torch.Tensor,
    method: Method = "auto",
    *,
    degree: int | None = None,
    lyapunov_maxiter: int | None = None,
    lyapunov_tol: float | None = None,
    check_finite: bool = True,
) -> torch.Tensor:
    """Differentiable inverse principal square root ``A^(-1/2)`` of a batch of tensors.

    Parameters, returns and notes as :func:`sqrtm`; the forward is
    :func:`matsqrt.inv_sqrtm` and the backward :func:`matsqrt.inv_sqrtm_vjp`.

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
    _check_tensor(A, "inv_sqrtm")
    return InvSqrtmFunction.apply(A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite)
