"""The residual ``U - Y Y`` of a computed square root, accurate to the rounding of ``U``.

A Newton correction of a root is only as good as its residual.  Computed by
one product, ``U - Y Y`` carries that product's rounding, about
``n u ||Y||^2``; for a matrix far from normal, ``||Y||^2`` is hundreds of
times ``||U||`` (``U`` has norm 1 here), and the correction then moves the
root by the condition number times that noise.  Measured (complex128, 2 x 2,
condition number of the root 2.7e4, ``||Y||^2 / ||U|| = 150``): the
Denman-Beavers root had a relative error of 8.6e-12, one Newton step on the
rounded residual made it 1.2e-10 (the contract's bound: 4.8e-11), the same
step on an exact residual 6.3e-13.

:func:`square_residual` removes the product's rounding without wider
arithmetic (which GPUs lack beyond float64).  ``Y = H + L``, where ``H`` is
``Y`` rounded to a per-matrix grid of ``2^(e - k)`` (``2^e`` above every
entry's size) and ``L = Y - H`` exactly.  The entries of ``H`` are integer
multiples of the grid with at most ``k + 1`` bits, so every product and
every partial sum of ``H H`` is an integer multiple of the squared grid below
``2^p`` (``p`` the dtype's significand bits, ``2k + 2 + log2(terms) <= p``,
``terms`` = ``n``, or ``2n`` for complex products): ``H H`` is exact in any
summation order, with or without fused multiply-adds.  ``H H`` is within
``2^-k ||Y||^2`` of ``Y Y``, so ``U - H H`` loses nothing to cancellation;
``H L + L H`` and ``L L`` are ``2^-k`` and ``2^-2k`` times smaller than
``Y Y``, and their rounding is that much smaller too.  Error: about
``u ||U|| + n u 2^-k ||Y||^2``, four products instead of one.

For float32 work a float64 residual does better and simply
(:func:`wider_dtype`).
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device as array_device

from ._classify import is_complex

__all__ = ["square_residual", "wider_dtype", "grid_bits"]


def grid_bits(dtype: Any, n: int, xp: Any) -> int:
    """``k``: the bits of the split's high part that keep ``H H`` exact for ``n x n`` matrices of ``dtype``."""
    significand = 1 - round(math.log2(float(xp.finfo(dtype).eps)))
    terms = 2 * n if is_complex(dtype, xp) else n
    return (significand - 2 - math.ceil(math.log2(max(terms, 1)))) // 2


def _round(x: Any, xp: Any) -> Any:
    if is_complex(x, xp):
        return xp.round(xp.real(x)) + 1j * xp.round(xp.imag(x))
    return xp.round(x)


def square_residual(u: Any, y: Any, xp: Any) -> Any:
    """``U - Y Y`` per matrix, without the product's rounding (module docstring); ``u`` and ``y`` of one dtype.

    Falls back to the plain ``U - Y Y`` where the split has no bits to work
    with (float32 beyond ``n`` near a million).
    """
    n = y.shape[-1]
    k = grid_bits(y.dtype, n, xp)
    if k < 4 or n == 0:
        return u - y @ y
    real = xp.real(y) if is_complex(y, xp) else y
    size = xp.max(xp.abs(real), axis=(-2, -1), keepdims=True)
    if is_complex(y, xp):
        size = xp.maximum(size, xp.max(xp.abs(xp.imag(y)), axis=(-2, -1), keepdims=True))
    # 2^e above the largest entry (the + 1 covers a log2 rounded down); a zero matrix gets any grid.
    exponent = xp.floor(xp.log2(xp.where(size > 0, size, xp.ones_like(size)))) + 1.0
    grid = xp.pow(xp.asarray(2.0, dtype=size.dtype, device=array_device(y)), exponent - k)
    if is_complex(y, xp):
        grid = xp.astype(grid, y.dtype)
    ints = _round(y / grid, xp)
    high = ints * grid
    low = y - high
    return ((u - (ints @ ints) * (grid * grid)) - (high @ low + low @ high)) - low @ low


def wider_dtype(dtype: Any, xp: Any, device: Any = None) -> Any:
    """The 64-bit counterpart of a 32-bit floating dtype where the namespace offers it on ``device``, else None."""
    if xp.finfo(dtype).bits != 32:
        return None
    wide = xp.complex128 if is_complex(dtype, xp) else xp.float64
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return wide
    try:
        available = info().dtypes(device=device)
    except Exception:  # a namespace whose info cannot answer for this device: assume the standard's types
        return wide
    return wide if any(v == wide for v in available.values()) else None
