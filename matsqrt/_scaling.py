"""Scaling A into the disk where the binomial series converge."""

from __future__ import annotations

from typing import Any

from array_api_compat import device as array_device

from ._fused import frobenius_norm

__all__ = ["frobenius_norm", "shift_by_scale", "spectral_bound"]


def shift_by_scale(a: Any, s: Any, xp: Any) -> Any:
    """``X = I - A / s``; a zero scale (zero matrix) is treated as 1."""
    n = a.shape[-1]
    eye = xp.eye(n, dtype=a.dtype, device=array_device(a))
    return eye - a / xp.where(s > 0, s, xp.ones_like(s))


def spectral_bound(a: Any, xp: Any) -> Any:
    """An upper bound on the spectral radius of each matrix, shape ``(..., 1, 1)``.

    ``min(||A||_1, ||A||_inf, ||A^4||_F^(1/4))``: each is at least the largest
    eigenvalue modulus, and for Hermitian A the last is ``(sum l_i^8)^(1/8)``,
    within ``n^(1/8)`` of it where the Frobenius norm is within ``n^(1/2)``.
    Two matrix products, computed on ``A / ||A||_F`` so nothing overflows.
    """
    fro = frobenius_norm(a, xp)
    unit = a / xp.where(fro > 0, fro, xp.ones_like(fro))
    absu = xp.abs(unit)
    one = xp.max(xp.sum(absu, axis=-2, keepdims=True), axis=-1, keepdims=True)
    inf = xp.max(xp.sum(absu, axis=-1, keepdims=True), axis=-2, keepdims=True)
    sq = unit @ unit
    quad = sq @ sq
    if xp.isdtype(quad.dtype, "complex floating"):
        quad = xp.abs(quad)
    fourth = xp.sqrt(xp.sqrt(xp.sqrt(xp.sum(quad * quad, axis=(-2, -1), keepdims=True))))
    bound = xp.minimum(xp.minimum(one, inf), fourth)
    # Rounding may put the computed bound a few ulps under the true radius;
    # the iterations need x <= 1 strictly, so keep a relative margin.
    return fro * bound * (1.0 + 64 * float(xp.finfo(a.dtype).eps))
