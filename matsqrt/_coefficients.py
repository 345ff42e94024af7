"""Series, Padé and partial-fraction coefficients of (1 - z)^(+-1/2).

The series and Padé coefficients are computed exactly (rational arithmetic
with :class:`fractions.Fraction`, or integers) and only converted to
floating point at the very end, so they are correctly rounded for any
degree.  The partial-fraction weights and nodes of the same Padé
approximant, the form evaluated at high degree, are closed forms in sines,
evaluated in double precision.

Degree limits
-------------
``MPA_MAX_DEGREE`` and ``MTP_MAX_DEGREE`` bound the degrees the methods (and
the public coefficient functions) accept; larger degrees raise
:class:`ValueError` before any work.  Neither method reaches rounding level
for *every* spectrum the scaling admits at any finite degree (an eigenvalue
at 0, i.e. z = 1, converges algebraically: the [m/m] Padé approximant of
sqrt(1 - z) is 1/(2m+1) there, the Taylor sum ~ 1/sqrt(pi K)), so the caps
are set by cost and by what the degree buys.  Both are 10 000: the degree
at which the MPA reaches float64 rounding for condition numbers of about
1e6 (the largest NUMERICS.md and the tests consider), while one call on a
64 x 64 matrix stays near a second; beyond it, the iterations (``"matmul"``,
``"db"``: O(log condition) steps) are the tool.  ``degree=10**6`` used to
run out of memory after 15 s.

* MPA, 10 000: the error of the [m/m] approximant at an eigenvalue
  ``lambda = y^2 s`` is ``2 w^n / (1 + w^n)`` relative, ``n = 2m + 1``,
  ``w = (1 - y) / (1 + y)``: about ``2 exp(-2 n y)``.  At m = 10 000 it is
  below float64 rounding for ``lambda / s >= 8.4e-7`` (condition numbers to
  about 1e6 at a tight scale: measured 9 eps at m = 8 192 for an 8 x 8
  matrix of condition 1e6, Frobenius scaling) and below float32 rounding for
  ``lambda / s >= 1.7e-7``.  In float32 nothing at all is gained beyond
  m ~ 1 170: there the approximation error at every eigenvalue in (0, s] is
  already below what rounding A to float32 does to that eigenvalue's root
  (``eps s / (2 sqrt(lambda))`` absolute, ``eps s / (2 lambda)`` relative for
  the inverse), since ``max_y 4 y^2 / (exp(2 n y) - 1) = 0.648 / n^2``.  (The
  same argument gives m ~ 2.5e7 in float64, beyond any sensible cost.)
  Cost at the cap, the partial-fraction form being one solve a degree
  (NumPy, this project's 2-core CPU): 0.1-0.2 s for one 8 x 8 matrix,
  1.3 s for one 64 x 64 matrix, ~110 s for a batch of 64 such matrices
  (10.7 ms a degree); the weights and nodes take 12 ms.
* MTP, 10 000: one product a degree: 0.2 s for one 64 x 64 matrix at the
  cap, ~11 s for a batch of 64.  The truncation error at ``lambda / s =
  delta`` is about ``|c_K| (1 - delta)^K / delta`` (``|c_K| ~ K^-1.5 / (2
  sqrt(pi))``), below float64 rounding at K = 10 000 for ``delta >= 2.8e-3``;
  the float coefficients take 0.09 s at the cap (:func:`taylor_floats`).

The exact rational coefficients (public; not used at high degree) take
0.3 s (Taylor) and 0.6 s (Padé) at the caps.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache, lru_cache

__all__ = [
    "taylor_coefficients",
    "pade_coefficients",
    "pade_partial_fractions",
    "taylor_floats",
    "pade_floats",
    "MPA_MAX_DEGREE",
    "MTP_MAX_DEGREE",
]

MPA_MAX_DEGREE = 10_000
MTP_MAX_DEGREE = 10_000

# The exact coefficients of degree K hold ~K^2 bits (25 MB at K = 10 000):
# keep only a few; the float tuples the methods use are cached separately.
_EXACT_CACHE = 8


def _check_power(power: Fraction) -> Fraction:
    power = Fraction(power)
    if power not in (Fraction(1, 2), Fraction(-1, 2)):
        raise ValueError(f"power must be 1/2 or -1/2, got {power}")
    return power


def _check_int(degree: int, low: int, high: int, what: str) -> int:
    if isinstance(degree, bool) or int(degree) != degree or not low <= degree <= high:
        raise ValueError(f"{what} degree must be an integer in [{low}, {high}], got {degree!r}")
    return int(degree)


@lru_cache(maxsize=_EXACT_CACHE)
def taylor_coefficients(degree: int, power: Fraction = Fraction(1, 2)) -> tuple[Fraction, ...]:
    """Coefficients c_0..c_degree of (1 - z)^power = sum_k c_k z^k.

    c_k = (-1)^k binom(power, k), built by the ratio c_{k+1} / c_k = (k - power) / (k + 1).
    ``degree`` must lie in ``[0, MTP_MAX_DEGREE]``.
    """
    degree = _check_int(degree, 0, MTP_MAX_DEGREE, "Taylor")
    power = _check_power(power)
    coeffs = [Fraction(1)]
    for k in range(degree):
        coeffs.append(coeffs[-1] * (k - power) / (k + 1))
    return tuple(coeffs)


def _hypergeometric_polynomial(m: int, b: Fraction) -> tuple[Fraction, ...]:
    """Coefficients of 2F1(-m, b; -2m; z) = sum_k (-m)_k (b)_k / ((-2m)_k k!) z^k."""
    coeffs = [Fraction(1)]
    for k in range(m):
        coeffs.append(coeffs[-1] * (k - m) * (b + k) / ((k - 2 * m) * (k + 1)))
    return tuple(coeffs)


@lru_cache(maxsize=_EXACT_CACHE)
def pade_coefficients(
    degree: int, power: Fraction = Fraction(1, 2)
) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...]]:
    """Numerator and denominator coefficients of the [m/m] Padé approximant.

    Returns ``(p, q)`` with ``q[0] == 1`` such that
    ``P(z) / Q(z) = (1 - z)^power + O(z^(2m + 1))``; ``m = degree`` must lie in
    ``[1, MPA_MAX_DEGREE]``.

    For (1 - z)^a the diagonal Padé polynomials are hypergeometric,
    ``P = 2F1(-m, -a - m; -2m; z)`` and ``Q = 2F1(-m, a - m; -2m; z)``
    (Baker & Graves-Morris, *Padé Approximants*; the tests check the defining
    property ``Q (1 - z)^a - P = O(z^(2m+1))`` exactly), so each coefficient
    follows from the previous one by a rational ratio: O(m) exact operations
    instead of an O(m^3) rational linear solve (degree 300: milliseconds,
    against 168 s).  In floating point the monomial basis is unusable at high
    degree (alternating coefficients with ``sum |p_k| ~ 1.46^m`` against
    ``P(1) = 4^-m``); :func:`pade_partial_fractions` is the form to evaluate.
    """
    m = _check_int(degree, 1, MPA_MAX_DEGREE, "Padé")
    a = _check_power(power)
    return _hypergeometric_polynomial(m, -a - m), _hypergeometric_polynomial(m, a - m)


@cache
def taylor_floats(degree: int, power: Fraction = Fraction(1, 2)) -> tuple[float, ...]:
    """:func:`taylor_coefficients` correctly rounded to float64, without building the fractions.

    ``c_k = -binom(2k, k) / ((2k - 1) 4^k)`` for ``power = 1/2`` (k >= 1) and
    ``binom(2k, k) / 4^k`` for ``-1/2``: the central binomial coefficient by
    its exact integer recurrence, then one correctly rounded integer division
    (Python's ``int / int``).  0.09 s for both series at degree 10 000,
    against 0.3 s through :class:`~fractions.Fraction`; the tests check the
    two agree bit for bit.
    """
    degree = _check_int(degree, 0, MTP_MAX_DEGREE, "Taylor")
    half = _check_power(power) > 0
    coeffs, central = [1.0], 1
    for k in range(1, degree + 1):
        central = central * (2 * k - 1) * (2 * k) // (k * k)  # binom(2k, k)
        coeffs.append(-central / ((2 * k - 1) << (2 * k)) if half else central / (1 << (2 * k)))
    return tuple(coeffs)


@cache
def pade_floats(degree: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """:func:`pade_coefficients` of ``sqrt(1 - z)`` correctly rounded to float64 (for low degrees)."""
    p, q = pade_coefficients.__wrapped__(degree)
    return tuple(float(v) for v in p), tuple(float(v) for v in q)


def _sin2(numerator: int, denominator: int) -> float:
    """``sin(pi numerator / denominator)^2``, accurate to a few ulps relative for 0 < angle <= pi/2."""
    return math.sin(math.pi * numerator / denominator) ** 2


@cache
def pade_partial_fractions(
    degree: int, power: Fraction = Fraction(1, 2)
) -> tuple[float, tuple[tuple[float, float, float], ...]]:
    """The [m/m] Padé approximant of ``(1 + x)^power`` (``x = -z``) in partial fractions.

    Returns ``(c0, terms)``, ``terms`` a tuple of ``(w, sigma, gamma)`` with
    ``sigma + gamma = 1`` (up to rounding), such that with ``b = 1 + x``

    * ``power = 1/2``:  ``r(x) = c0 + sum w (b - 1) / (sigma + gamma b)``, ``m`` terms;
    * ``power = -1/2``: ``1 / r(x) = c0 + sum w / (sigma + gamma b)``, ``m`` terms.

    Square root (the form Higham, *Functions of Matrices* (2008), ch. 6, gives,
    from Gauss-Legendre quadrature): with ``n = 2m + 1`` and
    ``theta_j = j pi / n``, ``r(x) = 1 + sum_{j=1..m} alpha_j x / (1 + beta_j x)``,
    ``alpha_j = (2/n) sin^2 theta_j``, ``beta_j = cos^2 theta_j``.  Derivation:
    with ``y = sqrt(1 + x)``, ``r = y ((1+y)^n + (1-y)^n) / ((1+y)^n - (1-y)^n)``
    is a ratio of two degree-m polynomials in ``x`` (both brackets are even,
    resp. odd, in ``y``) with ``r / y - 1 = O(((1-y)/(1+y))^n) = O(x^n)``, so
    it is the [m/m] approximant; its poles, ``((1-y)/(1+y))^n = 1``, are the
    ``x = -1/beta_j``, with residues giving the ``alpha_j``.

    Inverse root: its [m/m] approximant is ``1 / r`` (Padé reciprocity), whose
    poles are the zeros of ``(1+y)^n + (1-y)^n``: ``x = -1/delta_k``,
    ``delta_k = cos^2 phi_k``, ``phi_k = (2k+1) pi / (2n)``, ``k = 0..m-1``;
    each residue works out to ``2/n`` and the value at infinity to ``1/n``:
    ``1/r(x) = (1/n) (1 + sum_k 2 / (1 + delta_k x))``, the midpoint rule with
    ``n`` nodes for ``(1+x)^(-1/2) = (1/pi) int_0^pi dphi / (1 + x cos^2 phi)``.

    With ``b = 1 + x`` each denominator is ``sigma + gamma b``,
    ``sigma = sin^2``, ``gamma = cos^2``: no cancellation for ``b`` near 0.
    ``cos^2`` is computed as the ``sin^2`` of the complementary angle, so that
    the small nodes are accurate relative to their size.
    """
    m = _check_int(degree, 1, MPA_MAX_DEGREE, "Padé")
    a = _check_power(power)
    n = 2 * m + 1
    if a > 0:
        # theta_j = j pi / n = 2j pi / (2n); its complement is (n - 2j) pi / (2n).
        terms = tuple(((2.0 / n) * _sin2(2 * j, 2 * n), _sin2(2 * j, 2 * n), _sin2(n - 2 * j, 2 * n))
                      for j in range(1, m + 1))
        return 1.0, terms
    # phi_k = (2k+1) pi / (2n); its complement is (n - 2k - 1) pi / (2n).
    terms = tuple((2.0 / n, _sin2(2 * k + 1, 2 * n), _sin2(n - 2 * k - 1, 2 * n)) for k in range(m))
    return 1.0 / n, terms
