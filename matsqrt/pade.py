"""Matrix Padé approximant (MPA) of (1 - z)^(+-1/2)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ._coefficients import pade_coefficients
from ._fused import matmul, pade_accumulate, pade_start

__all__ = ["pade_pair", "mpa_root"]


def pade_pair(a: Any, s: Any, p: tuple[float, ...], q: tuple[float, ...], xp: Any) -> tuple[Any, Any]:
    """``P(X)`` and ``Q(X)`` at ``X = I - A / s`` from one shared set of powers: ``len(p) - 2`` products."""
    x, num, den = pade_start(a, s, p, q, xp)
    power = x
    for pk, qk in zip(p[2:], q[2:], strict=True):
        power = matmul(power, x, xp)
        num, den = pade_accumulate(power, num, den, pk, qk, xp)
    return num, den


def mpa_root(a: Any, s: Any, power: Fraction, degree: int, xp: Any) -> Any:
    """``A^power`` for ``power = +-1/2`` by the [m/m] Padé approximant, m = ``degree``.

    With ``r = P/Q`` the approximant of ``(1 - z)^(1/2)``:
    ``A^(1/2) ~ sqrt(s) Q(X)^-1 P(X)`` and ``A^(-1/2) ~ P(X)^-1 Q(X) / sqrt(s)``,
    one linear solve each (P and Q commute, so the side does not matter).
    ``s`` (shape ``(..., 1, 1)``) must bound the spectral radius of ``A``;
    the paper uses ``||A||_F``.
    """
    p, q = (tuple(float(v) for v in coeffs) for coeffs in pade_coefficients(degree))
    num, den = pade_pair(a, s, p, q, xp)
    if power > 0:
        return xp.linalg.solve(den, num) * xp.sqrt(s)
    return xp.linalg.solve(num, den) / xp.sqrt(s)
