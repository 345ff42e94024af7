import time
from fractions import Fraction

import numpy as np
import pytest
import scipy.interpolate
from hypothesis import given
from hypothesis import strategies as st

from matsqrt import pade_coefficients, taylor_coefficients
from matsqrt._coefficients import MPA_MAX_DEGREE, MTP_MAX_DEGREE, pade_partial_fractions, taylor_floats

from helpers import binomial_series

HALF = Fraction(1, 2)


def test_pade_5_5_matches_published_coefficients():
    # NUMERICS.md / Song et al. (2022): the [5/5] approximant of sqrt(1 - z).
    p, q = pade_coefficients(5)
    assert p == tuple(Fraction(v) for v in ("1", "-11/4", "11/4", "-77/64", "55/256", "-11/1024"))
    assert q == tuple(Fraction(v) for v in ("1", "-9/4", "7/4", "-35/64", "15/256", "-1/1024"))


def test_taylor_first_terms_of_both_series():
    assert taylor_coefficients(4, HALF) == (1, Fraction(-1, 2), Fraction(-1, 8), Fraction(-1, 16), Fraction(-5, 128))
    assert taylor_coefficients(4, -HALF) == (1, Fraction(1, 2), Fraction(3, 8), Fraction(5, 16), Fraction(35, 128))


@given(st.integers(0, 40), st.sampled_from([HALF, -HALF]))
def test_taylor_equals_scipy_binomial(degree, power):
    got = np.array([float(c) for c in taylor_coefficients(degree, power)])
    np.testing.assert_allclose(got, binomial_series(degree, float(power)), rtol=1e-13)


@given(st.integers(1, 8))
def test_pade_equals_scipy_pade(m):
    p, q = pade_coefficients(m)
    p_ref, q_ref = scipy.interpolate.pade(binomial_series(2 * m, 0.5), m, m)
    # scipy returns poly1d (highest power first), normalised to q(0) = 1; it solves
    # the system in float64, whose conditioning costs it ~1e-8 relative at m = 8.
    np.testing.assert_allclose([float(v) for v in p], p_ref.coeffs[::-1], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose([float(v) for v in q], q_ref.coeffs[::-1], rtol=1e-7, atol=1e-12)


@given(st.integers(1, 12), st.sampled_from([HALF, -HALF]))
def test_pade_matches_series_to_order_2m_exactly(m, power):
    # Q(z) f(z) - P(z) = O(z^(2m+1)) in exact rational arithmetic.
    p, q = pade_coefficients(m, power)
    c = taylor_coefficients(2 * m, power)
    for k in range(2 * m + 1):
        conv = sum(q[j] * c[k - j] for j in range(min(k, m) + 1))
        assert conv == (p[k] if k <= m else 0)


def test_pade_of_inverse_root_is_reciprocal_pair():
    p, q = pade_coefficients(5, HALF)
    pi, qi = pade_coefficients(5, -HALF)
    assert (pi, qi) == (q, p)


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_degrees_raise(bad):
    with pytest.raises(ValueError):
        pade_coefficients(bad)
    if bad < 0:
        with pytest.raises(ValueError):
            taylor_coefficients(bad)


# ----------------------------------------------------------------------------- high degrees


@pytest.mark.parametrize("m", [20, 64, 150])
@pytest.mark.parametrize("power", [HALF, -HALF])
def test_pade_of_high_degree_matches_series_to_order_2m_exactly(m, power):
    # The hypergeometric closed form against the definition, Q f - P = O(z^(2m+1)), exactly.
    p, q = pade_coefficients(m, power)
    assert len(p) == len(q) == m + 1 and q[0] == 1 and p[m] != 0 and q[m] != 0
    c = taylor_coefficients(2 * m, power)
    for k in range(2 * m + 1):
        conv = sum(q[j] * c[k - j] for j in range(min(k, m) + 1))
        assert conv == (p[k] if k <= m else 0)


def _exact_ratio(p, q, x: Fraction) -> Fraction:
    num = sum((c * x**k for k, c in enumerate(p)), Fraction(0))
    den = sum((c * x**k for k, c in enumerate(q)), Fraction(0))
    return num / den


@pytest.mark.parametrize("m", range(1, 13))
@pytest.mark.parametrize("power", [HALF, -HALF])
def test_partial_fractions_are_the_exact_pade_approximant(m, power):
    # pade_partial_fractions (closed forms in sines, floats) against the exact rational P/Q,
    # at 41 points b = 1 - z in [0, 2] (x = -z in [-1, 1]), including b = 0 (z = 1).
    c0, terms = pade_partial_fractions(m, power)
    assert len(terms) == m
    p, q = pade_coefficients(m, power)
    for b in np.linspace(0.0, 2.0, 41):
        z = 1 - Fraction(float(b))
        exact = float(_exact_ratio(p, q, z))
        if power > 0:
            value = c0 + sum(w * (b - 1) / (sigma + gamma * b) for w, sigma, gamma in terms)
        else:
            value = c0 + sum(w / (sigma + gamma * b) for w, sigma, gamma in terms)
        assert abs(value - exact) <= 2e-15 * max(1.0, abs(exact)), (m, b, value, exact)


def test_partial_fraction_weights_and_nodes():
    # Positive weights, nodes in (0, 1) with sigma + gamma = 1: every shifted matrix
    # sigma I + gamma B is nonsingular for 0 <= B <= I.
    for m in (1, 5, 100, MPA_MAX_DEGREE):
        for power in (HALF, -HALF):
            c0, terms = pade_partial_fractions(m, power)
            w, sigma, gamma = (np.array(v) for v in zip(*terms, strict=True))
            assert np.all(w > 0) and np.all(sigma > 0) and np.all(gamma > 0)
            np.testing.assert_allclose(sigma + gamma, 1.0, rtol=0, atol=5e-16)  # 2 ulps
            # r(0) = 1 at x = 0 (b = 1): sqrt sums w * 0; the inverse's weights add up to 1.
            if power < 0:
                assert abs(c0 + w.sum() - 1.0) <= 4e-16 * m
            else:
                assert c0 == 1.0


@pytest.mark.parametrize("degree", [0, 1, 7, 300, 2000])
@pytest.mark.parametrize("power", [HALF, -HALF])
def test_taylor_floats_are_the_correctly_rounded_fractions(degree, power):
    assert taylor_floats(degree, power) == tuple(float(c) for c in taylor_coefficients(degree, power))


def test_coefficients_at_the_caps_build_quickly():
    for build, args in [(pade_partial_fractions.__wrapped__, (MPA_MAX_DEGREE, HALF)),
                        (pade_partial_fractions.__wrapped__, (MPA_MAX_DEGREE, -HALF)),
                        (taylor_floats.__wrapped__, (MTP_MAX_DEGREE, HALF)),
                        (taylor_floats.__wrapped__, (MTP_MAX_DEGREE, -HALF))]:
        start = time.perf_counter()
        build(*args)
        assert time.perf_counter() - start < 1.0  # 0.01-0.05 s here
    start = time.perf_counter()
    pade_coefficients.__wrapped__(300)  # was 168 s by an exact O(m^3) linear solve
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("build, cap", [(pade_coefficients, MPA_MAX_DEGREE), (pade_partial_fractions, MPA_MAX_DEGREE),
                                        (taylor_coefficients, MTP_MAX_DEGREE), (taylor_floats, MTP_MAX_DEGREE)])
def test_degrees_above_the_caps_raise_at_once(build, cap):
    for degree in (cap + 1, 10**6, 10**100, 2.5, True):
        start = time.perf_counter()
        with pytest.raises(ValueError, match=rf", {cap}\]"):
            build(degree)
        assert time.perf_counter() - start < 1.0
