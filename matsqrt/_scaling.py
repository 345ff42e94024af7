"""Scaling A into the disk where the binomial series converge."""

from __future__ import annotations

from typing import Any

from array_api_compat import device as array_device

__all__ = ["frobenius_norm", "shift_by_scale"]


def frobenius_norm(a: Any, xp: Any) -> Any:
    """Per-matrix Frobenius norm, shape ``(..., 1, 1)``, safe from overflow.

    Dividing by the largest entry first keeps the sum of squares in range for
    entries near the dtype's limits (1e+-150 in float64, 1e+-18 in float32).
    """
    big = xp.max(xp.abs(a), axis=(-2, -1), keepdims=True)
    safe = xp.where(big > 0, big, xp.ones_like(big))
    r = a / safe
    return big * xp.sqrt(xp.sum(r * r, axis=(-2, -1), keepdims=True))


def shift_by_scale(a: Any, s: Any, xp: Any) -> Any:
    """``X = I - A / s``; a zero scale (zero matrix) is treated as 1."""
    n = a.shape[-1]
    eye = xp.eye(n, dtype=a.dtype, device=array_device(a))
    return eye - a / xp.where(s > 0, s, xp.ones_like(s))
