"""Minimax-optimal odd polynomial steps for the sign iterations (Polar Express schedules).

The coupled Newton-Schulz forward (:mod:`matsqrt.newton_schulz`) and the
Lyapunov backward (:mod:`matsqrt.lyapunov`) are both sign iterations
``M <- f(M)`` with an odd polynomial ``f``; each eigenvalue ``x > 0`` of
``M`` (``x = sqrt(lambda / s)`` for the root of ``A / s``) follows the scalar
map ``x <- f(x)``, and the iteration has converged when every ``x`` is 1.
If the eigenvalues are known to lie in ``[l, u]``, the best step of a given
degree is the odd polynomial that minimises ``max |1 - f(x)|`` over
``[l, u]``; its image is ``[1 - E, 1 + E]`` and the next step is designed
for that interval.  Chosen greedily like this, step after step, the
composition is optimal among all compositions of such polynomials (Amsel,
Persson, Musco and Gower, *The Polar Express*, 2025, Theorem 4.1), and
near 1 each quintic step cubes the error.

:func:`odd_minimax` finds the polynomial by Remez's exchange algorithm: the
optimum equioscillates at the two ends of the interval and at the ``q``
critical points of ``f`` between them (Chebyshev's theorem for the
``q + 1`` odd monomials), so the exchange alternates between solving a
``(q + 2) x (q + 2)`` linear system and locating the critical points, the
roots of ``f'`` (a polynomial in ``x^2``).  Everything is computed in float64
at first use and cached; nothing is tabulated.

Safety: an eigenvalue below ``l`` (an underestimated condition number, or
the cushion :data:`FLOOR`) is mapped into ``(0, 1 - E)`` by every such ``f``
(``f`` increases from 0 to its first critical point, which lies above
``l``), so it still converges, only more slowly; eigenvalues never change
sign, which keeps the iteration on the principal branch.  An eigenvalue a
few ulps above the design interval (rounding) is mapped just below
``1 - E``: ``f`` decreases slowly past the interval's upper end.  The
designed intervals are rounded outwards to a grid (cached designs).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Step", "Tracker", "odd_minimax", "schedule", "FLOOR"]

# Narrowest ratio lower / upper a step is designed for.  The optimal polynomial for a wide interval sends an
# interior point of [l, u] down to 1 - E, close to 0 when l is tiny, and an eigenvalue passing that close to 0
# keeps only the iterate's absolute accuracy; so each step is designed for [max(l, FLOOR u), u] (Polar Express
# cushions the same way, at 1e-3).  Measured (16 x 64 x 64 SPD, kappa = 10 and 1e4, lower = 1e-3 / 2e-3, worst
# relative error of the root): FLOOR = 1e-3 gave 1.4e-6 (float32) and 4.0e-15 (float64), 1e-2 7.8e-7 and
# 2.4e-15, 0.1 4.8e-7 and 2.0e-15 (the cubic Chen-Chow steps before: 4.3e-7 and 2.0e-15), at the same step
# counts, because eigenvalues below the design interval are carried exactly (Tracker.proven).
FLOOR = 0.1


@dataclass(frozen=True)
class Step:
    """One step ``f(x) = x sum_j coef[j] (1 - x^2)^j``, designed for ``[lower, upper]``, with image
    ``[1 - error, 1 + error]`` (the next step's interval).

    The coefficients are those of ``p(T) = sum_j coef[j] (I - T)^j`` in the
    coupled iteration (``T = Z Y``, ``Y <- Y p(T)``, ``Z <- p(T) Z``): in
    powers of ``I - T``, which is small near convergence, the evaluation and
    the design are well conditioned even for intervals of width 1e-8 around 1
    (in powers of ``T`` they are not).
    """

    coef: tuple[float, ...]
    lower: float
    upper: float
    error: float

    def __call__(self, x: float | np.ndarray) -> float | np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x * np.polynomial.polynomial.polyval(1.0 - x * x, self.coef)


def _width(lower: float, upper: float) -> float:
    """Largest ``|1 - x^2|`` on ``[lower, upper]`` (the scale of the variable ``d = 1 - x^2``)."""
    return max(abs(1.0 - lower * lower), abs(1.0 - upper * upper), 1e-300)


def _critical_points(b: np.ndarray, w: float, lower: float, upper: float) -> np.ndarray:
    """The zeros of ``f'`` in ``(lower, upper)``, ascending, for ``f(x) = x P(e)``, ``e = (1 - x^2) / w``.

    ``f'(x) = P(e) - 2 (1 - w e) P'(e) / w``, a polynomial in ``e``.
    """
    poly = np.polynomial.Polynomial(b)
    deriv = poly.deriv()
    fprime = poly - deriv * np.polynomial.Polynomial([2.0 / w, -2.0])
    roots = fprime.roots()
    real = roots[np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots))].real
    t = 1.0 - w * real
    x = np.sqrt(t[t > 0])
    return np.sort(x[(x > lower) & (x < upper)])


# Below this width of 1 - x^2 the minimax error (about (2w)^(q+1) / 2^(2q+1)) is under 1e-9 for the cubic and
# 1e-13 for the quintic, below what Remez can resolve in float64 once squared again: the truncated binomial
# series of t^(-1/2) (the Newton-Schulz step of that degree) is used instead, with its rigorous error bound.
_TAYLOR_WIDTH = 1e-3


def _taylor_step(lower: float, upper: float, q: int, w: float) -> Step:
    """``f(x) = x sum_{j<=q} c_j (1 - x^2)^j`` with ``c_j = binom(2j, j) / 4^j`` (so ``f(x) = x (x^2)^(-1/2) -
    x sum_{j>q} c_j d^j``), and the bound ``|1 - f(x)| <= upper c_{q+1} w^(q+1) / (1 - w)``."""
    coef = tuple(math.comb(2 * j, j) / 4.0**j for j in range(q + 1))
    bound = upper * (math.comb(2 * q + 2, q + 1) / 4.0 ** (q + 1)) * w ** (q + 1) / (1.0 - w)
    return Step(coef, float(lower), float(upper), bound)


@functools.lru_cache(maxsize=4096)
def odd_minimax(lower: float, upper: float, degree: int = 5) -> Step:
    """The odd polynomial of ``degree`` minimising ``max |1 - f(x)|`` over ``[lower, upper]``.

    Parameters
    ----------
    lower, upper : float
        ``0 < lower < upper``.
    degree : int
        Odd degree ``2q + 1`` (5: the Polar Express quintic).

    Returns
    -------
    Step
        Coefficients in powers of ``1 - x^2``, the interval and the minimax
        error ``E``: ``f`` maps ``[lower, upper]`` onto ``[1 - E, 1 + E]``.

    Examples
    --------
    >>> from matsqrt.schedule import odd_minimax
    >>> step = odd_minimax(0.5, 1.0, 3)
    >>> round(step.error, 6), round(float(step(0.5)), 6), round(float(step(1.0)), 6)
    (0.085955, 0.914045, 0.914045)
    """
    if isinstance(degree, bool) or degree < 3 or degree % 2 == 0:
        raise ValueError(f"degree must be odd and at least 3; got {degree!r}")
    if not 0 < lower < upper:
        raise ValueError(f"need 0 < lower < upper; got {lower!r}, {upper!r}")
    q = (degree - 1) // 2
    w = _width(lower, upper)
    if w <= _TAYLOR_WIDTH:
        return _taylor_step(lower, upper, q, w)
    # Start from the extrema of the Chebyshev polynomial on [lower, upper] (a standard Remez start).
    k = np.arange(q + 2)
    ref = 0.5 * (lower + upper) - 0.5 * (upper - lower) * np.cos(np.pi * k / (q + 1))
    signs = (-1.0) ** k
    b = np.zeros(q + 1)
    error = math.inf
    for _ in range(100):
        # f(x_i) + (-1)^i h = 1 at the reference points: q + 1 coefficients and the levelled error h.
        e = (1.0 - ref * ref) / w
        system = np.column_stack([ref * e**j for j in range(q + 1)] + [signs])
        solution = np.linalg.solve(system, np.ones(q + 2))
        b, level = solution[:-1], abs(solution[-1])
        inner = _critical_points(b, w, lower, upper)
        if len(inner) != q:
            break
        new_ref = np.concatenate([[lower], inner, [upper]])
        error = float(np.max(np.abs(1.0 - new_ref * np.polynomial.polynomial.polyval((1.0 - new_ref**2) / w, b))))
        done = error - level <= 1e-12 * error
        ref = new_ref
        if done:
            break
    if len(_critical_points(b, w, lower, upper)) != q or not math.isfinite(error):
        # Not reached for the intervals the schedules use (tested); a clear failure, not a bad step.
        raise ArithmeticError(f"Remez exchange did not converge on [{lower!r}, {upper!r}] for degree {degree}")
    coef = tuple(float(c / w**j) for j, c in enumerate(b))
    step = Step(coef, float(lower), float(upper), error)
    grid = np.linspace(lower, upper, 4097)
    error = max(error, float(np.max(np.abs(1.0 - step(grid)))))
    return Step(coef, float(lower), float(upper), error)


@functools.lru_cache(maxsize=256)
def schedule(lower: float, tol: float, degree: int = 5) -> tuple[Step, ...]:
    """Steps that take every ``x`` in ``[lower, 1]`` to within ``tol`` of 1 (in exact arithmetic).

    Each step is the minimax polynomial (:func:`odd_minimax`) for the image
    of the previous one, cushioned (:data:`FLOOR`: the true lower end is
    carried through the step exactly); the last step is the first after
    which every point is within ``tol`` of 1.

    Examples
    --------
    >>> from matsqrt.schedule import schedule
    >>> steps = schedule(1e-2, 1e-15)
    >>> len(steps), steps[-1].error <= 1e-15
    (6, True)
    """
    if not 0 < lower <= 1:
        raise ValueError(f"lower must lie in (0, 1]; got {lower!r}")
    if not 0 < tol < 1:
        raise ValueError(f"tol must lie in (0, 1); got {tol!r}")
    steps: list[Step] = []
    lo, hi = lower, 1.0
    while hi - lo > tol and len(steps) < 64:
        # Cushioned design interval; the true lower end lo (below it) maps to f(lo) < 1 - E, because f
        # increases from 0 to its first critical point, so the image [f(lo), 1 + E] stays exact.
        step = odd_minimax(max(lo, FLOOR * hi), hi, degree)
        steps.append(step)
        lo, hi = min(float(step(lo)), 1.0 - step.error), 1.0 + step.error
    return tuple(steps)


def _down(lower: float) -> float:
    """``lower`` rounded down to a grid of 64 points a decade (in ``x`` below 1/2, in ``1 - x`` above), so
    that designs for observed intervals repeat and are cached."""
    if lower <= 0.5:
        return 10.0 ** (math.floor(64.0 * math.log10(lower)) / 64.0)
    return 1.0 - 10.0 ** (math.ceil(64.0 * math.log10(1.0 - lower)) / 64.0)


def _up(upper: float) -> float:
    """``upper > 1`` rounded up on the grid of ``upper - 1``."""
    return 1.0 + 10.0 ** (math.ceil(64.0 * math.log10(upper - 1.0)) / 64.0) if upper > 1.0 else upper


class Tracker:
    """The interval ``[lower, upper]`` the eigenvalues ``x`` of a sign iteration are designed for, step by step.

    :meth:`step` returns the minimax step for the interval (cushioned by
    :data:`FLOOR`) and moves the interval to its image; :meth:`observe`
    narrows it with a measured residual.  The upper end is proven whatever
    the spectrum (no step maps anything above ``1 + E``); the lower end is
    an assumption (``lower`` at the start: an eigenvalue below it still
    converges, more slowly).  What is proven is kept apart: ``proven``, a
    lower end a residual proved (``0`` before any), carried through each
    step exactly (``f`` is increasing below the design interval), so
    :attr:`proven_error` bounds ``|1 - x|`` with no assumption.  ``steps``
    records the steps taken, to replay them (the Lyapunov backward sees the
    forward's spectrum).
    """

    def __init__(self, lower: float, degree: int = 5, upper: float = 1.0, proven: float = 0.0) -> None:
        self.lower, self.upper, self.degree = float(lower), float(upper), int(degree)
        self.proven = min(float(proven), self.lower)
        # Where to restart the design when the assumed lower end proves wrong: a tenth of it, carried by the steps
        # like the interval (each failure moves it another tenth down), so the design cannot stall.  (A tenth:
        # 10 steps at kappa = 1e8 with lower = 1e-3, float64; 1e-2 took 12 and 1e-3 14, measured.)
        self.fallback = max(self.proven, 0.1 * self.lower)
        self.steps: list[Step] = []

    def step(self) -> Step:
        lo, hi = self.lower, self.upper
        if hi - lo <= 1e-15:
            # Converged in exact arithmetic: the Newton-Schulz step of the degree keeps rounding from growing.
            step = odd_minimax(1.0 - 1e-4, 1.0 + 1e-4, self.degree)
        else:
            step = odd_minimax(_down(max(lo, FLOOR * hi)), _up(hi), self.degree)
        self.lower = min(float(step(lo)), 1.0 - step.error)
        self.proven = min(float(step(self.proven)), 1.0 - step.error)
        self.fallback = min(float(step(self.fallback)), 1.0 - step.error)
        self.upper = 1.0 + step.error
        self.steps.append(step)
        return step

    def observe(self, deviation: float, squared: bool, n: int = 1) -> None:
        """Narrow the interval with ``||I - M||_F <= deviation`` (``M`` ``n x n`` with eigenvalues ``x``, or
        ``x^2`` when ``squared``): every ``x`` then lies within ``deviation`` of 1 (of ``sqrt``).

        A deviation larger than the assumed interval allows (``sqrt(n)`` times
        its largest ``|1 - x|``, ``|1 - x^2|``) proves the assumption wrong (an
        eigenvalue below the starting ``lower``): the design restarts from a
        lower end ten times smaller (carried through the steps since), or the
        proven one if that is larger.
        """
        lo, hi = self.lower, self.upper
        allowed = max(1.0 - lo * lo, hi * hi - 1.0) if squared else max(1.0 - lo, hi - 1.0)
        if not deviation <= math.sqrt(n) * allowed * (1.0 + 1e-6) + 1e-12:
            self.lower = max(self.proven, self.fallback)
            self.fallback = max(self.proven, 0.1 * self.fallback)
        if not deviation < 1.0:
            return
        lo, hi = (math.sqrt(1.0 - deviation), math.sqrt(1.0 + deviation)) if squared else (1.0 - deviation,
                                                                                           1.0 + deviation)
        self.proven = max(self.proven, lo)
        self.lower, self.upper = max(self.lower, lo), min(self.upper, hi)

    @property
    def proven_error(self) -> float:
        """Largest ``|1 - x|`` possible, from what residuals proved and the steps since."""
        return max(1.0 - self.proven, self.upper - 1.0)
