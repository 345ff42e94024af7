"""The minimax steps of matsqrt.schedule: optimality (Chebyshev alternation), the schedules' error bounds,
the tracker's proven bound, and the cost they buy in the iterations."""

import math

import numpy as np
import pytest

import matsqrt
from matsqrt.schedule import FLOOR, Tracker, odd_minimax, schedule

INTERVALS = [(1e-3, 1.0), (1e-2, 1.0), (0.1, 1.0), (0.3, 1.0), (0.5, 1.7), (0.9, 1.1), (0.99, 1.01)]


@pytest.mark.parametrize("degree", [3, 5, 7])
@pytest.mark.parametrize("lower, upper", INTERVALS)
def test_step_equioscillates(lower, upper, degree):
    # Chebyshev: an odd polynomial with q + 1 coefficients whose error 1 - f alternates in sign with equal
    # magnitude at q + 2 points and is nowhere larger is the best approximation of 1 on the interval.
    step = odd_minimax(lower, upper, degree)
    x = np.linspace(lower, upper, 200001)
    err = 1.0 - step(x)
    assert np.max(np.abs(err)) <= step.error * (1 + 1e-9) + 4e-16  # (rounding of 1 - f)
    # the error's extrema: the ends and the zeros of f' inside (from the monomial form, independently)
    c = np.zeros(degree + 1)
    for j, cj in enumerate(step.coef):  # x (1 - x^2)^j expanded
        p = np.polynomial.polynomial.polypow([1.0, 0.0, -1.0], j)
        c[1 : 1 + len(p)] += cj * p
    crit = np.polynomial.Polynomial(c).deriv().roots()
    crit = np.sort(crit[np.abs(crit.imag) < 1e-9].real)
    crit = crit[(crit > lower) & (crit < upper)]
    values = 1.0 - step(np.concatenate([[lower], crit, [upper]]))
    assert len(values) == (degree - 1) // 2 + 2
    assert np.all(np.sign(values[1:]) == -np.sign(values[:-1]))
    np.testing.assert_allclose(np.abs(values), step.error, rtol=1e-6)


@pytest.mark.parametrize("degree", [3, 5])
def test_better_than_every_perturbed_polynomial(degree):
    # The minimax step's error is not beaten by random nearby coefficients (a direct check of optimality).
    step = odd_minimax(0.05, 1.0, degree)
    x = np.linspace(0.05, 1.0, 20001)
    rng = np.random.default_rng(0)
    for _ in range(200):
        coef = np.array(step.coef) * (1 + 1e-3 * rng.standard_normal(len(step.coef)))
        worst = np.max(np.abs(1.0 - x * np.polynomial.polynomial.polyval(1.0 - x * x, coef)))
        assert worst >= step.error * (1 - 1e-12)


def test_image_is_the_next_interval():
    step = odd_minimax(0.02, 1.0, 5)
    x = np.linspace(0.02, 1.0, 100001)
    y = step(x)
    assert np.min(y) >= 1 - step.error * (1 + 1e-9) and np.max(y) <= 1 + step.error * (1 + 1e-9)
    # below the design interval the step increases and stays below 1 - E: the iteration cannot leave (0, inf)
    below = np.geomspace(1e-12, 0.02, 1000)
    fb = step(below)
    assert np.all(np.diff(fb) > 0) and np.all(fb > 0) and np.all(fb <= 1 - step.error + 1e-15)


@pytest.mark.parametrize("lower", [1e-4, 1e-3, 2e-3, 1e-2, 0.3])
@pytest.mark.parametrize("tol", [1e-6, 1e-10])
def test_schedule_reaches_tol_for_every_point_of_the_interval(lower, tol):
    steps = schedule(lower, tol)
    x = np.concatenate([np.geomspace(lower, 1.0, 20001), [lower, 1.0]])
    for step in steps:
        x = step(x)
    assert np.max(np.abs(1.0 - x)) <= tol * (1 + 1e-6) + 1e-15
    assert steps[-1].error <= tol


def test_schedule_costs():
    # Step counts of the quintic schedules to float64 working precision (the cost model of docs): a pinned
    # ceiling, from the design; more steps than this is a regression.
    assert len(schedule(1e-3, 1e-16)) <= 8
    assert len(schedule(0.3, 1e-16)) <= 4
    # The quintic needs fewer steps than the optimal cubic, and 4 products a step against 3.
    assert 4 * len(schedule(1e-3, 1e-16, 5)) < 3 * len(schedule(1e-3, 1e-16, 3))


def test_tracker_proven_bound_holds_below_the_design_interval():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(1e-5, 1.0, 1000), [1e-5, 1.0]])  # spectrum reaches below lower = 1e-3
    tracker = Tracker(1e-3, proven=1e-5)
    for k in range(14):
        if k in (3, 6):
            tracker.observe(float(np.max(np.abs(1 - x * x))), squared=True)
        x = tracker.step()(x)
        assert np.max(np.abs(1 - x)) <= tracker.proven_error * (1 + 1e-9) + 1e-15
    assert np.max(np.abs(1 - x)) <= 1e-14


def test_cushion_limits_each_design_ratio():
    tracker = Tracker(1e-6)
    for _ in range(10):
        step = tracker.step()
        assert step.lower >= FLOOR * step.upper * 10 ** (-2 / 64)  # up to the design grid's rounding


def test_invalid_designs_are_refused():
    with pytest.raises(ValueError, match="odd"):
        odd_minimax(0.1, 1.0, 4)
    with pytest.raises(ValueError, match="lower"):
        odd_minimax(1.0, 0.5)
    with pytest.raises(ValueError, match="lower"):
        schedule(0.0, 1e-8)


@pytest.mark.parametrize("dtype, kappa, forward, both", [(np.float32, 1e1, 17, 52), (np.float64, 1e1, 21, 65),
                                                          (np.float64, 1e4, 29, 91)])
def test_matmul_cost_and_accuracy(dtype, kappa, forward, both):
    # The products the quintic schedule takes (counted, 16 x 32 x 32 SPD; measured 2026-12-06), no more, and the
    # root and gradient accurate to working precision against eigh and the Daleckii-Krein formula.
    from matsqrt._counting import CountingArray, count_numpy_ops
    from matsqrt.bench import spd_batch

    rng = np.random.default_rng(3)
    a = spd_batch(rng, 16, 32, kappa)
    g = rng.standard_normal(a.shape)
    with count_numpy_ops(32, 16) as fwd:
        y = np.asarray(matsqrt.sqrtm(a.astype(dtype).view(CountingArray), "matmul"))
    with count_numpy_ops(32, 16) as total:
        _, vjp = matsqrt.sqrtm_vjp(a.astype(dtype).view(CountingArray), "matmul")
        grad = np.asarray(vjp(g.astype(dtype).view(CountingArray)))
    assert fwd.products <= forward and total.products <= both
    w, v = np.linalg.eigh(a)
    r = np.sqrt(w)
    y_ref = (v * r[..., None, :]) @ np.swapaxes(v, -1, -2)
    vt = np.swapaxes(v, -1, -2)
    g_ref = v @ ((vt @ g @ v) / (r[..., :, None] + r[..., None, :])) @ vt
    eps = float(np.finfo(dtype).eps)
    worst = np.max(np.linalg.norm(y - y_ref, axis=(-2, -1)) / np.linalg.norm(y_ref, axis=(-2, -1)))
    worst_grad = np.max(np.linalg.norm(grad - g_ref, axis=(-2, -1)) / np.linalg.norm(g_ref, axis=(-2, -1)))
    assert worst <= 32 * eps * math.sqrt(kappa) ** 0.5
    assert worst_grad <= 32 * eps * math.sqrt(kappa)
