"""Gradients: Lyapunov backward against Daleckii-Krein, finite differences and the paper's loop."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

import matsqrt
from matsqrt.testing import spd_matrices

from helpers import (
    daleckii_krein,
    frechet_fd,
    inv_sqrt_weights,
    mT,
    rel_fro,
    rounding_unit,
    scalar_root,
    sqrt_weights,
)

EPS64 = np.finfo(np.float64).eps
METHODS = st.sampled_from([("mpa", 1, 10), ("mtp", 1, 20)]).flatmap(
    lambda m: st.tuples(st.just(m[0]), st.integers(m[1], m[2]))
)
VJPS = {0.5: matsqrt.sqrtm_vjp, -0.5: matsqrt.inv_sqrtm_vjp}


def predicted_gradient(a, g, method, degree, power):
    """Daleckii-Krein at the roots the method computes: the exact gradient at the computed Y."""
    lam, u = np.linalg.eigh(a)
    s = np.linalg.norm(a, axis=(-2, -1))[..., None]
    roots = scalar_root(lam, s, method, degree, power)
    weights = sqrt_weights(roots) if power > 0 else inv_sqrt_weights(roots)
    return daleckii_krein(u, g, weights)


@given(case=spd_matrices(n=st.integers(1, 8), batch_shape=st.sampled_from([(), (3,)]), max_condition=1e4),
       method=METHODS, power=st.sampled_from([0.5, -0.5]), seed=st.integers(0, 2**32 - 1))
def test_default_gradient_is_daleckii_krein_at_the_computed_root(backend, case, method, power, seed):
    name, degree = method
    a = case.matrix
    g = np.random.default_rng(seed).standard_normal(a.shape)
    y, vjp = VJPS[power](backend.asarray(a), name, degree=degree)
    grad, info = vjp(backend.asarray(g), return_info=True)
    assert info.converged and info.residual <= 1e-12
    expected = predicted_gradient(a, g, name, degree, power)
    # The computed roots carry the forward's rounding (rounding_unit); the
    # weights 1/(y_i + y_j) magnify it by cond(Y) (cond(Z)^3 for the inverse).
    cond = np.max(np.linalg.cond(backend.to_numpy(y)))
    slack = 100 * np.max(rounding_unit(a, name, degree, 0.5)) * (cond if power > 0 else cond**3)
    assert rel_fro(backend.to_numpy(grad), expected) <= slack


@given(case=spd_matrices(n=st.integers(1, 8), max_condition=1e3), power=st.sampled_from([0.5, -0.5]),
       seed=st.integers(0, 2**32 - 1))
def test_float32_gradient_is_accurate_to_single_precision(case, power, seed):
    a = case.matrix
    g = np.random.default_rng(seed).standard_normal(a.shape)
    y, vjp = VJPS[power](a.astype(np.float32), "mpa", degree=8)
    grad = vjp(g.astype(np.float32))
    assert y.dtype == grad.dtype == np.float32
    expected = predicted_gradient(a, g, "mpa", 8, power)
    cond = np.linalg.cond(y.astype(np.float64))
    slack = 100 * rounding_unit(a, "mpa", 8, 0.5, np.float32) * (cond if power > 0 else cond**3)
    assert rel_fro(grad, expected) <= slack


def _paper_backward(b, c, iterations=8):
    """The reference code's loop, written from the equations of NUMERICS.md."""
    eye = np.eye(b.shape[-1])
    for _ in range(iterations):
        b2 = b @ b
        c = 0.5 * (c @ (3.0 * eye - b2) - b2 @ c + b @ c @ b)
        b = 0.5 * b @ (3.0 * eye - b2)
    return 0.5 * c


@given(case=spd_matrices(n=st.integers(1, 8), batch_shape=st.sampled_from([(), (2,)]), max_condition=1e6),
       seed=st.integers(0, 2**32 - 1))
def test_paper_settings_reproduce_the_reference_backward(backend, case, seed):
    a = case.matrix
    g = np.random.default_rng(seed).standard_normal(a.shape)
    # Eight unchecked iterations amplify rounding differently for each order of the
    # products: 1.1e3 eps of the largest entry seen (NumPy 2.5, clustered spectrum).
    y, vjp = matsqrt.sqrtm_vjp(backend.asarray(a), "mpa", lyapunov_maxiter=8, lyapunov_tol=0)
    y = backend.to_numpy(y)
    root_norm = np.sqrt(np.linalg.norm(a, axis=(-2, -1)))[..., None, None]
    expected = _paper_backward(y / root_norm, g / root_norm)
    np.testing.assert_allclose(backend.to_numpy(vjp(backend.asarray(g))), expected, rtol=0,
                               atol=3e3 * EPS64 * np.abs(expected).max())

    z, vjp = matsqrt.inv_sqrtm_vjp(backend.asarray(a), "mpa", lyapunov_maxiter=8, lyapunov_tol=0)
    z = backend.to_numpy(z)
    z_norm = np.linalg.norm(z, axis=(-2, -1))[..., None, None]
    a_inv = z @ z
    expected = _paper_backward(z / z_norm, -(a_inv @ g @ a_inv) / z_norm)
    np.testing.assert_allclose(backend.to_numpy(vjp(backend.asarray(g))), expected, rtol=0,
                               atol=3e3 * EPS64 * np.abs(expected).max())


@pytest.mark.parametrize("power", [0.5, -0.5])
@pytest.mark.parametrize("symmetric", [True, False], ids=["symmetric", "nonsymmetric"])
def test_gradient_matches_central_differences_of_scipy(power, symmetric):
    rng = np.random.default_rng(7)
    n = 4
    if symmetric:
        x = rng.standard_normal((n, n))
        a = x @ x.T / n + np.eye(n)
    else:
        v = np.eye(n) + 0.2 * rng.standard_normal((n, n))
        a = (v * np.array([1.0, 1.3, 1.7, 2.0])) @ np.linalg.inv(v)
    g = rng.standard_normal((n, n))

    def exact(m):
        root = scipy.linalg.sqrtm(m)
        return root if power > 0 else np.linalg.inv(root)

    fd = frechet_fd(exact, a, g, h=1e-5)
    # A well-conditioned A and a degree-12 approximant: the forward is exact to ~1e-15
    # (the series are defined for symmetric input; general input runs auto, i.e. db).
    _, vjp = VJPS[power](a, "mpa", degree=12) if symmetric else VJPS[power](a)
    assert rel_fro(vjp(g), fd) <= 1e-8


@pytest.mark.parametrize("n", [1, 3, 6])
def test_gradient_at_identity_is_half_the_direction(backend, n):
    # d sqrt(A)[E] at A = I is E / 2; an eigendecomposition gradient divides by zero there.
    e = np.random.default_rng(n).standard_normal((n, n))
    # Degree 10: the Padé error at z = 1 - 1/sqrt(n) is ~1e-15 for n <= 6, so Y = I to
    # rounding (higher degrees lose digits to the monomial evaluation).
    _, vjp = matsqrt.sqrtm_vjp(backend.asarray(np.eye(n)), "mpa", degree=10)
    atol = 400 * EPS64 * np.abs(e).max()  # 235 eps seen on CuPy (cuBLAS, H100)
    np.testing.assert_allclose(backend.to_numpy(vjp(backend.asarray(e))), e / 2, rtol=0, atol=atol)
    _, vjp = matsqrt.inv_sqrtm_vjp(backend.asarray(np.eye(n)), "mpa", degree=10)
    np.testing.assert_allclose(backend.to_numpy(vjp(backend.asarray(e))), -e / 2, rtol=0, atol=atol)


def test_repeated_eigenvalues_match_closed_form():
    rng = np.random.default_rng(3)
    q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    lam = np.array([2.0, 2.0, 2.0, 5.0, 5.0])
    a = (q * lam) @ q.T
    g = rng.standard_normal((5, 5))
    _, vjp = matsqrt.sqrtm_vjp(a, "mpa", degree=10)
    roots = scalar_root(lam, np.linalg.norm(a), "mpa", 10, 0.5)
    assert np.abs(roots / np.sqrt(lam) - 1).max() < 1e-6
    expected = daleckii_krein(q, g, sqrt_weights(roots))
    assert rel_fro(vjp(g), expected) <= 1e-12


def test_nonsymmetric_gradient_solves_the_transposed_equation():
    rng = np.random.default_rng(5)
    v = np.eye(3) + 0.3 * rng.standard_normal((3, 3))
    a = (v * np.array([1.0, 0.5, 0.2])) @ np.linalg.inv(v)
    g = rng.standard_normal((3, 3))
    y, vjp = matsqrt.sqrtm_vjp(a)
    x = vjp(g)
    assert rel_fro(mT(y) @ x + x @ mT(y), g) <= 1e-13


@pytest.mark.parametrize("method", ["mpa", "matmul", "eigh", "ns", "auto"])
def test_vjp_at_the_zero_matrix_raises(method):
    # The square root has no derivative at a singular matrix.
    y, vjp = matsqrt.sqrtm_vjp(np.zeros((2, 2)), method)
    np.testing.assert_array_equal(y, 0.0)
    with pytest.raises(ValueError, match="singular"):
        vjp(np.eye(2))


def test_upstream_gradient_shape_is_checked():
    _, vjp = matsqrt.sqrtm_vjp(np.eye(3))
    with pytest.raises(ValueError, match="shape"):
        vjp(np.eye(2))


def test_negative_lyapunov_settings_raise():
    with pytest.raises(ValueError):
        matsqrt.sqrtm_vjp(np.eye(2), lyapunov_maxiter=-1)
