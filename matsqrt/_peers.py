"""Reference implementations the benchmark compares matsqrt against.

- :func:`eigh_root` / :func:`eigh_root_vjp`: the root through an
  eigendecomposition (the namespace's ``linalg.eigh``, so NumPy or CuPy) and
  its exact gradient by the Daleckii-Krein formula with closed-form weights.
- :func:`torch_mpa_lya`: the paper's MPA-Lya in PyTorch, written from the
  equations in the project's numerics brief: the [5/5] Padé approximant of
  ``(1 - z)^(1/2)`` at ``X = I - A / ||A||_F`` with one ``torch.linalg.solve``,
  and a backward of eight Newton-Schulz sign iterations on the Lyapunov
  equation, as a ``torch.autograd.Function``.
- :func:`torch_eigh_root`: what a PyTorch user writes instead of matsqrt,
  ``torch.linalg.eigh`` and the (inverse) root of the clamped eigenvalues,
  differentiated by PyTorch's own autograd (real symmetric or complex
  Hermitian input).

``scipy.linalg.sqrtm`` needs no wrapper.  Nothing here imports PyTorch until a
PyTorch peer is asked for.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = [
    "eigh_root",
    "eigh_root_vjp",
    "PAPER_PADE_P",
    "PAPER_PADE_Q",
    "torch_mpa_forward",
    "torch_lyapunov_backward",
    "torch_mpa_lya",
    "torch_eigh_root",
]

# The paper's [5/5] Padé coefficients of sqrt(1 - z), numerator then denominator.
PAPER_PADE_P = (1.0, -11 / 4, 11 / 4, -77 / 64, 55 / 256, -11 / 1024)
PAPER_PADE_Q = (1.0, -9 / 4, 7 / 4, -35 / 64, 15 / 256, -1 / 1024)
PAPER_LYAPUNOV_ITERATIONS = 8


def eigh_root(a: Any, xp: Any, *, inverse: bool = False) -> tuple[Any, Any, Any]:
    """``A^(1/2)`` (or ``A^(-1/2)``) of symmetric ``A`` through ``xp.linalg.eigh``.

    Parameters
    ----------
    a : array, shape (..., n, n)
        Symmetric positive (semi-)definite matrices.
    xp : array namespace
    inverse : bool, default False
        Return the inverse root.

    Returns
    -------
    y : array
        The root.
    u : array
        Eigenvectors, for :func:`eigh_root_vjp`.
    r : array, shape (..., n)
        ``sqrt(lambda)`` (or ``1 / sqrt(lambda)``), for :func:`eigh_root_vjp`.
    """
    lam, u = xp.linalg.eigh(a)
    # Rounding can leave eigenvalues of a PSD matrix slightly negative.
    lam = xp.where(lam > 0, lam, xp.zeros_like(lam))
    r = xp.sqrt(lam)
    if inverse:
        r = 1.0 / r
    y = (u * r[..., None, :]) @ xp.matrix_transpose(u)
    return y, u, r


def eigh_root_vjp(u: Any, r: Any, g: Any, xp: Any, *, inverse: bool = False) -> Any:
    """Daleckii-Krein gradient ``U (L o (U^T G U)) U^T`` of the (inverse) root.

    ``L_ij = 1 / (r_i + r_j)`` with ``r = sqrt(lambda)`` for the square root,
    and ``L_ij = -(r_i r_j)^2 / (r_i + r_j)`` with ``r = 1 / sqrt(lambda)`` for
    the inverse root.  Both are closed forms without divided differences, so
    they stay exact where eigenvalues repeat.
    """
    ri, rj = r[..., :, None], r[..., None, :]
    weights = -((ri * rj) ** 2) / (ri + rj) if inverse else 1.0 / (ri + rj)
    ut = xp.matrix_transpose(u)
    return u @ (weights * (ut @ g @ u)) @ ut


def torch_mpa_forward(a: Any, *, inverse: bool = False) -> tuple[Any, Any]:
    """The paper's MPA forward on a torch tensor; returns the root and ``s = ||A||_F``.

    ``A^(1/2) ~ sqrt(s) Q(X)^-1 P(X)`` and ``A^(-1/2) ~ P(X)^-1 Q(X) / sqrt(s)``
    with ``X = I - A / s``; P and Q share the powers ``X^2 .. X^5``.
    """
    import torch

    n = a.shape[-1]
    s = torch.linalg.matrix_norm(a, keepdim=True)
    eye = torch.eye(n, dtype=a.dtype, device=a.device)
    x = eye - a / s
    num = PAPER_PADE_P[0] * eye + PAPER_PADE_P[1] * x
    den = PAPER_PADE_Q[0] * eye + PAPER_PADE_Q[1] * x
    power = x
    for pk, qk in zip(PAPER_PADE_P[2:], PAPER_PADE_Q[2:], strict=True):
        power = power @ x
        num = num + pk * power
        den = den + qk * power
    if inverse:
        return torch.linalg.solve(num, den) / torch.sqrt(s), s
    return torch.linalg.solve(den, num) * torch.sqrt(s), s


def torch_lyapunov_backward(
    y: Any, s: Any, g: Any, *, inverse: bool = False, iterations: int = PAPER_LYAPUNOV_ITERATIONS
) -> Any:
    """``dL/dA`` from ``G = dL/dY`` by a fixed number of Newton-Schulz sign iterations.

    Solves ``B X + X B = C`` through ``sign([[B, C], [0, -B]]) = [[I, 2X], [0, -I]]``
    with ``B = Y^T``, ``C = G`` (square root) or ``B = Z^T``,
    ``C = -A^-T G A^-T``, ``A^-1 = Z Z`` (inverse root).  The paper scales by
    ``sqrt(||A||_F)`` (square root) and ``||Z||_F`` (inverse root) and runs
    eight iterations without a convergence check.
    """
    import torch

    if inverse:
        scale = torch.linalg.matrix_norm(y, keepdim=True)
        a_inv_t = (y @ y).mT
        c = -(a_inv_t @ g @ a_inv_t) / scale
    else:
        scale = torch.sqrt(s)
        c = g / scale
    b = y.mT / scale
    for _ in range(iterations):
        b2 = b @ b
        bc = b @ c
        c = 0.5 * (3.0 * c - c @ b2 - b @ bc + bc @ b)
        b = 0.5 * (3.0 * b - b @ b2)
    return 0.5 * c


@functools.cache
def _mpa_lya_function() -> Any:
    """The ``torch.autograd.Function``, built on first use so torch stays optional."""
    import torch

    class MPALya(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, inverse):
            y, s = torch_mpa_forward(a, inverse=inverse)
            ctx.inverse = inverse
            ctx.save_for_backward(y, s)
            return y

        @staticmethod
        def backward(ctx, g):
            y, s = ctx.saved_tensors
            return torch_lyapunov_backward(y, s, g, inverse=ctx.inverse), None

    return MPALya


def torch_mpa_lya(a: Any, *, inverse: bool = False) -> Any:
    """The paper's MPA-Lya (inverse) square root of a torch tensor, differentiable.

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> a = (4.0 * torch.eye(3, dtype=torch.float64)).requires_grad_()
    >>> y = torch_mpa_lya(a)
    >>> bool(torch.allclose(y, 2.0 * torch.eye(3, dtype=torch.float64)))
    True
    >>> y.backward(torch.eye(3, dtype=torch.float64))
    >>> bool(torch.allclose(a.grad, 0.25 * torch.eye(3, dtype=torch.float64)))
    True
    """
    return _mpa_lya_function().apply(a, inverse)


def torch_eigh_root(a: Any, *, inverse: bool = False) -> Any:
    """``A^(1/2)`` (or ``A^(-1/2)``) of a Hermitian torch tensor as a PyTorch user writes it.

    ``L, V = torch.linalg.eigh(A)``, then ``V diag(sqrt(max(L, 0))) V^H``
    (``1 / sqrt`` for the inverse root); the gradient is PyTorch's autograd
    through ``eigh``, which returns the Hermitian part of the Daleckii-Krein
    gradient (the gradient along Hermitian perturbations; ``eigh`` reads one
    triangle only) and is not finite where eigenvalues repeat (it divides by
    their differences; matsqrt's closed-form weights do not).

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> a = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64).diag().requires_grad_()
    >>> y = torch_eigh_root(a)
    >>> bool(torch.allclose(y, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).diag()))
    True
    >>> y.backward(torch.eye(3, dtype=torch.float64))
    >>> bool(torch.allclose(a.grad, torch.tensor([1 / 2, 1 / 4, 1 / 6], dtype=torch.float64).diag()))
    True
    """
    import torch

    lam, v = torch.linalg.eigh(a)
    lam = torch.clamp(lam, min=0)
    r = torch.rsqrt(lam) if inverse else torch.sqrt(lam)
    return (v * r[..., None, :]) @ v.mH
