"""Matrix Taylor polynomial (MTP) of (1 - z)^(+-1/2)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from array_api_compat import device as array_device

from ._coefficients import taylor_floats
from ._fused import identity_minus, matmul
from ._scaling import shift_by_scale

__all__ = ["polynomial", "mtp_root"]


def polynomial(x: Any, coeffs: tuple[float, ...], xp: Any) -> Any:
    """``sum_k coeffs[k] x^k`` by Horner's rule: ``len(coeffs) - 2`` products."""
    n = x.shape[-1]
    eye = xp.eye(n, dtype=x.dtype, device=array_device(x))
    if len(coeffs) == 1:
        return xp.broadcast_to(coeffs[0] * eye, x.shape)
    p = identity_minus(x, coeffs[-2], -coeffs[-1], xp, eye)
    for ck in reversed(coeffs[:-2]):
        p = identity_minus(matmul(p, x, xp), ck, -1.0, xp, eye)
    return p


def mtp_root(a: Any, s: Any, power: Fraction, degree: int, xp: Any) -> Any:
    """``A^power`` for ``power = +-1/2`` by the degree-``degree`` Taylor polynomial.

    ``s`` (shape ``(..., 1, 1)``) must bound the spectral radius of ``A``;
    the paper uses ``||A||_F``.
    """
    x = shift_by_scale(a, s, xp)
    coeffs = taylor_floats(degree, power)
    y = polynomial(x, coeffs, xp)
    return y * xp.sqrt(s) if power > 0 else y / xp.sqrt(s)
