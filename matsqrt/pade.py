"""Matrix Padé approximant (MPA) of (1 - z)^(+-1/2).

The same [m/m] approximant ``r = P/Q`` of ``sqrt(1 - z)`` at ``X = I - A/s``,
evaluated in one of two forms:

* **monomial** (the paper's): ``P(X)`` and ``Q(X)`` from one shared set of
  powers, then one linear solve: ``m - 1`` products + 1 solve.  The
  coefficients alternate in sign, ``sum |p_k| = ((1 + sqrt 2) / 2)^(2m+1)``
  (~1.46^m), while ``P(1) = 4^-m``, so the rounding of the powers is
  amplified by up to ``sum |p_k| z^k / |P(z)|``, ~5.8^m near z = 1
  (measured: the error against the exact approximant grows ~5x a degree):
  from degree ~10 on the result loses digits, and by degree 40 all of them
  (``sqrtm(diag([1, 2, 3, 4]), "mpa", degree=d)`` was off by 3e-11, 5e-5,
  0.44 and 30.6 at d = 15, 30, 40, 60).
* **partial fractions** (:func:`matsqrt._coefficients.pade_partial_fractions`):
  ``r(X) = I + sum_j w_j (sigma_j I + gamma_j B)^-1 (B - I)`` and
  ``r(X)^-1 = c0 I + sum_k w_k (sigma_k I + gamma_k B)^-1`` with ``B = A/s``:
  ``m`` linear solves (inverses), each with a matrix whose spectrum lies in
  ``[sigma_j, 1]`` for ``0 <= B <= I``, with positive weights, summed
  pairwise.  Its rounding error does not grow with the degree where the
  approximant converges (measured against the exact approximant, n = 8,
  m = 9..10 000: square root <= 4 eps up to condition 1e4 and <= 23 eps at
  1e6; inverse <= 120 eps at 1e4 and <= 5e4 eps = 0.05 cond eps at 1e6;
  for a singular matrix the square root's grows to 260 eps at m = 10 000,
  where the approximation error is 1/(2m+1)), so the error falls with the
  degree until it reaches rounding.

Switch degree: the monomial form is kept up to ``_MONOMIAL_MAX_DEGREE``
(float64: 8, float32: 5), above it the partial fractions run.  Measured
(NumPy, 264 random SPD matrices: n = 2..64, log-spaced and random
spectra with condition numbers 1 to 1e6, Frobenius and spectral scaling,
both roots, against long double references): the worst ratio of the
monomial's relative 2-norm error to the partial fractions' (floored at
4 eps) was, by degree 3..13,

    float64: 1.04 1.06 1.27 1.58 1.60 2.27 5.07 18.0 50.2 221 1383
    float32: 1.29 1.44 4.41 10.5 58.4 585 2346 2.3e4 9.5e4 3.5e5 1e7

The switch is the last degree with a ratio below 5: up to there the two
forms are equally accurate to within rounding (in the worst-ratio cases the
monomial's excess is 6 eps in float64 at degree 8 and 21 eps in float32 at
degree 5), and the monomial is
cheaper (``m - 1`` products and 1 solve against ``m`` solves: a NumPy
batched solve of 64 x 64 x 64 costs 12x a product).  The paper's degree 5
runs the monomial form in both precisions, so its results and cost are
unchanged.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from array_api_compat import device as array_device

from ._coefficients import pade_floats, pade_partial_fractions
from ._fused import identity_minus, matmul, pade_accumulate, pade_start

__all__ = ["pade_pair", "mpa_root", "monomial_root", "partial_fraction_root", "monomial_max_degree"]

# Last degree evaluated in the monomial basis: float32 (and narrower), float64 (see the module docstring).
_MONOMIAL_MAX_DEGREE_32 = 5
_MONOMIAL_MAX_DEGREE_64 = 8
# Partial-fraction terms solved in one batched call (memory: that many copies of the batch).
TERMS_PER_CALL = 16


def monomial_max_degree(dtype: Any, xp: Any) -> int:
    """The largest degree :func:`mpa_root` evaluates in the monomial basis for ``dtype``."""
    return _MONOMIAL_MAX_DEGREE_32 if xp.finfo(dtype).bits <= 32 else _MONOMIAL_MAX_DEGREE_64


def pade_pair(a: Any, s: Any, p: tuple[float, ...], q: tuple[float, ...], xp: Any) -> tuple[Any, Any]:
    """``P(X)`` and ``Q(X)`` at ``X = I - A / s`` from one shared set of powers: ``len(p) - 2`` products."""
    x, num, den = pade_start(a, s, p, q, xp)
    power = x
    for pk, qk in zip(p[2:], q[2:], strict=True):
        power = matmul(power, x, xp)
        num, den = pade_accumulate(power, num, den, pk, qk, xp)
    return num, den


def monomial_root(a: Any, s: Any, power: Fraction, degree: int, xp: Any) -> Any:
    """The paper's evaluation: ``sqrt(s) Q(X)^-1 P(X)`` or ``P(X)^-1 Q(X) / sqrt(s)``.

    ``degree - 1`` products and one solve; accurate only for low degrees.
    """
    p, q = pade_floats(degree)
    num, den = pade_pair(a, s, p, q, xp)
    if power > 0:
        return xp.linalg.solve(den, num) * xp.sqrt(s)
    return xp.linalg.solve(num, den) / xp.sqrt(s)


def _pairwise_sum(terms: Any) -> Any:
    """Sum of an iterable of arrays by pairwise (binary-tree) addition.

    Rounding grows like ``log2(count)`` instead of ``count``; at most
    ``log2(count) + 1`` partial sums are held at a time.  Measured at
    m = 10 000 on an 8 x 8 matrix of condition 1e2: 0.9 / 1.0 eps (square /
    inverse root) pairwise, 20 / 27 eps summed one by one.
    """
    stack: list[tuple[Any, int]] = []
    for term in terms:
        count = 1
        while stack and stack[-1][1] == count:
            previous, _ = stack.pop()
            term = previous + term
            count *= 2
        stack.append((term, count))
    total = stack.pop()[0]
    while stack:
        total = stack.pop()[0] + total
    return total


def partial_fraction_root(a: Any, s: Any, power: Fraction, degree: int, xp: Any) -> Any:
    """The [m/m] approximant in partial fractions: ``m`` linear solves, stable at any degree.

    With ``B = A / s``: ``sqrt(s) (I + sum_j (M_j / w_j)^-1 (B - I))`` or
    ``(c0 I + sum_k (M_k / w_k)^-1) / sqrt(s)``, ``M = sigma I + gamma B``;
    the weight is folded into the shifted matrix, so each term is one fused
    shift and one solve (inverse).  A zero ``s`` (zero matrix) is read as 1
    for ``B``, as in :func:`matsqrt._fused.pade_start`.
    """
    c0, terms = pade_partial_fractions(degree, power)
    n = a.shape[-1]
    eye = xp.eye(n, dtype=a.dtype, device=array_device(a))
    b = a / xp.where(s > 0, s, xp.ones_like(s))
    rhs = identity_minus(b, -1.0, -1.0, xp, eye) if power > 0 else None  # B - I

    def group(chunk):
        # The shifted matrices of up to TERMS_PER_CALL terms, solved in one batched call: fewer
        # library calls (JAX's CPU backend stalled on ten separate inverses in one jit-compiled
        # function, measured; one stacked inverse of the same ten ran in 0.6 s).
        shifted = xp.stack([identity_minus(b, sigma / w, -gamma / w, xp, eye) for w, sigma, gamma in chunk])
        if rhs is None:
            return xp.sum(xp.linalg.inv(shifted), axis=0)
        return xp.sum(xp.linalg.solve(shifted, xp.broadcast_to(rhs, shifted.shape)), axis=0)

    chunks = (terms[i:i + TERMS_PER_CALL] for i in range(0, len(terms), TERMS_PER_CALL))
    total = _pairwise_sum(group(chunk) for chunk in chunks)
    scale = xp.sqrt(s)
    return identity_minus(total, c0, -1.0, xp, eye) * scale if power > 0 else \
        identity_minus(total, c0, -1.0, xp, eye) / scale


def mpa_root(a: Any, s: Any, power: Fraction, degree: int, xp: Any) -> Any:
    """``A^power`` for ``power = +-1/2`` by the [m/m] Padé approximant, m = ``degree``.

    With ``r = P/Q`` the approximant of ``(1 - z)^(1/2)``:
    ``A^(1/2) ~ sqrt(s) r(X)`` and ``A^(-1/2) ~ r(X)^-1 / sqrt(s)``.  Up to
    :func:`monomial_max_degree` (5 in float32, 8 in float64; the paper's 5
    included) as the paper computes it, ``Q(X)^-1 P(X)`` and
    ``P(X)^-1 Q(X)`` (``degree - 1`` products and one solve; P and Q commute,
    so the side does not matter); above it in partial fractions (``degree``
    solves), whose rounding error does not grow with the degree.
    ``s`` (shape ``(..., 1, 1)``) must bound the spectral radius of ``A``;
    the paper uses ``||A||_F``.
    """
    if degree <= monomial_max_degree(a.dtype, xp):
        return monomial_root(a, s, power, degree, xp)
    return partial_fraction_root(a, s, power, degree, xp)
