from fractions import Fraction

import numpy as np
import pytest
import scipy.interpolate
from hypothesis import given
from hypothesis import strategies as st

from matsqrt import pade_coefficients, taylor_coefficients

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
