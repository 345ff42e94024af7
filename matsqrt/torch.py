"""PyTorch autograd functions over matsqrt's backend-neutral core.

:func:`sqrtm` and :func:`inv_sqrtm` are :class:`torch.autograd.Function`
applications: the forward runs the same array-API code as
:func:`matsqrt.sqrtm` on the tensors themselves (CPU or CUDA, through
``array_api_compat``), and the backward is the Lyapunov vector-Jacobian
product of :func:`matsqrt.sqrtm_vjp`.  Nothing is copied to NumPy.

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
    from torch.autograd.function import once_differentiable
except ImportError as exc:
    raise ImportError('matsqrt.torch needs PyTorch: pip install "matsqrt[torch]"') from exc

from . import _api
from ._methods import Method

__all__ = ["sqrtm", "inv_sqrtm", "SqrtmFunction", "InvSqrtmFunction"]


def _working(a: torch.Tensor) -> torch.Tensor:
    # bfloat16 has no LU solve on the CPU, and its eps (7.8e-3) leaves the
    # Lyapunov tolerance no room: compute it in float32, as the core does for
    # float16, and return bfloat16.
    return a.to(torch.float32) if a.dtype == torch.bfloat16 else a


def _forward(ctx, root, root_vjp, A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite):
    a = _working(A)
    if ctx.needs_input_grad[0]:
        y, ctx.vjp = root_vjp(a, method, degree=degree, lyapunov_maxiter=lyapunov_maxiter,
                              lyapunov_tol=lyapunov_tol, check_finite=check_finite)
    else:
        y = root(a, method, degree=degree, check_finite=check_finite)
    ctx.dtype = A.dtype
    # A new tensor object for the output: the vjp keeps its own reference to
    # the root, and the output itself held there would form a cycle through
    # its own graph node that Python's collector cannot see.
    return y.detach().to(A.dtype)


def _backward(ctx, G):
    return ctx.vjp(_working(G)).to(ctx.dtype), None, None, None, None, None


class SqrtmFunction(torch.autograd.Function):
    """``torch.autograd.Function`` for ``A^(1/2)``; :func:`sqrtm` applies it with keywords.

    ``SqrtmFunction.apply(A, method, degree, lyapunov_maxiter, lyapunov_tol,
    check_finite)``, arguments as in :func:`sqrtm`.  The backward is not
    itself differentiable: a double backward raises.
    """

    @staticmethod
    def forward(ctx, A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite):
        return _forward(ctx, _api.sqrtm, _api.sqrtm_vjp, A, method, degree, lyapunov_maxiter, lyapunov_tol,
                        check_finite)

    @staticmethod
    @once_differentiable
    def backward(ctx, G):
        return _backward(ctx, G)


class InvSqrtmFunction(torch.autograd.Function):
    """``torch.autograd.Function`` for ``A^(-1/2)``; :func:`inv_sqrtm` applies it with keywords.

    Arguments as :class:`SqrtmFunction`.
    """

    @staticmethod
    def forward(ctx, A, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite):
        return _forward(ctx, _api.inv_sqrtm, _api.inv_sqrtm_vjp, A, method, degree, lyapunov_maxiter,
                        lyapunov_tol, check_finite)

    @staticmethod
    @once_differentiable
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
        Same dtype and device as ``A`` (float16 and bfloat16 are computed in
        float32).

    Raises
    ------
    TypeError
        ``A`` is not a tensor, or is complex or boolean.
    ValueError
        As :func:`matsqrt.sqrtm`.
    matsqrt.ConvergenceError
        From ``backward()``, when the Lyapunov iteration does not converge
        (a singular ``A``, for instance).

    Notes
    -----
    ``A`` is an unconstrained ``n x n`` matrix: ``A.grad`` has all ``n^2``
    entries, the solution of ``Y^T X + X Y^T = G``.  It is the exact
    derivative of the square root *at the computed* ``Y``, so it matches the
    derivative of the forward approximation only where the forward is
    accurate: the default ``"auto"`` is (eigh on the CPU, matmul on CUDA);
    at the paper's ``"mpa"`` degree 5 the forward is about 1e-2 accurate, and
    ``torch.autograd.gradcheck`` then fails.

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
