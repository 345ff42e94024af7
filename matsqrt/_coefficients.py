"""Exact series and Padé coefficients of (1 - z)^(+-1/2).

Everything is computed in rational arithmetic with :class:`fractions.Fraction`
and only converted to floating point at the very end, so the coefficients are
correctly rounded for any degree.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

__all__ = ["taylor_coefficients", "pade_coefficients"]


def _check_power(power: Fraction) -> Fraction:
    power = Fraction(power)
    if power not in (Fraction(1, 2), Fraction(-1, 2)):
        raise ValueError(f"power must be 1/2 or -1/2, got {power}")
    return power


@cache
def taylor_coefficients(degree: int, power: Fraction = Fraction(1, 2)) -> tuple[Fraction, ...]:
    """Coefficients c_0..c_degree of (1 - z)^power = sum_k c_k z^k.

    c_k = (-1)^k binom(power, k), built by the ratio c_{k+1} / c_k = (k - power) / (k + 1).
    """
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    power = _check_power(power)
    coeffs = [Fraction(1)]
    for k in range(degree):
        coeffs.append(coeffs[-1] * (k - power) / (k + 1))
    return tuple(coeffs)


def _solve_exact(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """Gauss-Jordan elimination in exact arithmetic (the systems are tiny)."""
    size = len(rhs)
    rows = [list(row) + [value] for row, value in zip(matrix, rhs, strict=True)]
    for col in range(size):
        pivot = next(r for r in range(col, size) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col][col]
        rows[col] = [v / lead for v in rows[col]]
        for r in range(size):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [row[-1] for row in rows]


@cache
def pade_coefficients(
    degree: int, power: Fraction = Fraction(1, 2)
) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...]]:
    """Numerator and denominator coefficients of the [m/m] Padé approximant.

    Returns ``(p, q)`` with ``q[0] == 1`` such that
    ``P(z) / Q(z) = (1 - z)^power + O(z^(2m + 1))``.

    The denominator solves the m x m system sum_j q_j c_{k-j} = 0 for
    k = m+1..2m (c = Taylor coefficients, c_i = 0 for i < 0); the numerator is
    then the truncated product p_k = sum_{j<=k} q_j c_{k-j}.
    """
    if degree < 1:
        raise ValueError(f"Padé degree must be >= 1, got {degree}")
    m = degree
    c = taylor_coefficients(2 * m, power)

    def coef(i: int) -> Fraction:
        return c[i] if i >= 0 else Fraction(0)

    matrix = [[coef(k - j) for j in range(1, m + 1)] for k in range(m + 1, 2 * m + 1)]
    rhs = [-coef(k) for k in range(m + 1, 2 * m + 1)]
    q = (Fraction(1), *_solve_exact(matrix, rhs))
    p = tuple(sum((q[j] * coef(k - j) for j in range(min(k, m) + 1)), Fraction(0)) for k in range(m + 1))
    return p, q
