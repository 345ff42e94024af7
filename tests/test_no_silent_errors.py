"""Regression tests for the silently wrong values and false errors found by adversarial use.

Each test pins one reproducer (S1-S9, and the unclear errors) in the form it
was found, and checks the property that defines the right answer, not only
``Y @ Y == A``.  Adapter cases (torch integers, second derivatives, JAX) live
in tests/test_torch.py and tests/test_jax.py; the high-degree Padé cases in
tests/test_pade_stability.py.
"""

import time

import numpy as np
import pytest
import scipy.linalg

import matsqrt

ACCURATE = ["auto", "eigh", "matmul", "ns", "db"]


def _principal(y: np.ndarray) -> bool:
    return bool(np.all(np.linalg.eigvals(y).real > 0))


# S1 ---------------------------------------------------------------------------------------------


def _right_half_plane_matrices(count: int, n: int = 4):
    rng = np.random.default_rng(1500)
    for _ in range(count):
        a = rng.standard_normal((n, n))
        lam = np.linalg.eigvals(a)
        yield a + (0.1 - lam.real.min()) * np.eye(n)


def test_s1_nonprincipal_root_is_never_returned_as_converged():
    # eigenvalues 1.3 +- 0.32i: the root had eigenvalues of real part -1.148, converged=True
    a = np.array([[1.6, 0.1], [-1.9, 1.0]])
    reference = scipy.linalg.sqrtm(a)
    for method in ("auto", "db"):
        y, info = matsqrt.sqrtm(a, method, return_info=True)
        assert info.converged and _principal(y)
        np.testing.assert_allclose(y, reference, rtol=0, atol=1e-14)
        z = matsqrt.inv_sqrtm(a, method)
        assert _principal(z)
        np.testing.assert_allclose(z, np.linalg.inv(reference), rtol=0, atol=1e-14)
    for method in ("matmul", "ns"):
        for f, ref in ((matsqrt.sqrtm, reference), (matsqrt.inv_sqrtm, np.linalg.inv(reference))):
            try:
                y = f(a, method)
            except ValueError as exc:
                assert "principal root" in str(exc)
            else:
                assert _principal(y)
                np.testing.assert_allclose(y, ref, rtol=0, atol=1e-13)


@pytest.mark.parametrize("method", ["auto", "db", "matmul", "ns"])
def test_s1_random_right_half_plane_matrices_give_the_principal_root_or_a_refusal(method):
    # 6 of 1500 such matrices came back as the negative root; auto and db must never refuse them
    refused = 0
    for a in _right_half_plane_matrices(300):
        try:
            y = matsqrt.sqrtm(a, method)
        except (ValueError, matsqrt.ConvergenceError):
            # the product-only iterations may leave their region (diverge) or fail verification
            assert method in ("matmul", "ns")
            refused += 1
            continue
        ref = scipy.linalg.sqrtm(a)
        assert _principal(y)
        assert np.linalg.norm(y - ref) <= 1e-9 * np.linalg.norm(ref)
    assert method in ("matmul", "ns") or refused == 0


# S5 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ACCURATE[:4] + ["mpa", "mtp"])
@pytest.mark.parametrize("vjp", [matsqrt.sqrtm_vjp])
def test_s5_gradient_at_a_singular_matrix_raises_instead_of_a_finite_value(method, vjp):
    # matmul returned [[.5, 1], [1, 6.7e7]], converged; the derivative is infinite there
    _, grad = vjp(np.diag([1.0, 0.0]), method)
    with pytest.raises(ValueError, match="singular"):
        grad(np.ones((2, 2)))


@pytest.mark.parametrize("method", ACCURATE)
def test_s5_gradient_near_but_not_at_a_singular_matrix_is_exact(method):
    lam = np.array([1.0, 1e-6])
    _, grad = matsqrt.sqrtm_vjp(np.diag(lam), method)
    r = np.sqrt(lam)
    np.testing.assert_allclose(grad(np.ones((2, 2))), 1 / (r[:, None] + r[None, :]), rtol=1e-9)


# S6 ---------------------------------------------------------------------------------------------


def test_s6_dask_float64_is_computed_in_float64():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 6, 6))
    b = x @ np.swapaxes(x, -1, -2) + 6 * np.eye(6)
    c = rng.standard_normal((4, 6, 6))
    out = matsqrt.solve_lyapunov(da.from_array(b), da.from_array(c))
    got = np.asarray(out.compute() if hasattr(out, "compute") else out)
    assert got.dtype == np.float64
    residual = np.linalg.norm(b @ got + got @ b - c) / np.linalg.norm(c)
    assert residual <= 1e-13  # was 2.6e-8: float32 arithmetic


def test_s6_dask_return_info_says_it_is_not_available():
    da = pytest.importorskip("dask.array")
    with pytest.raises(NotImplementedError, match="return_info"):
        matsqrt.sqrtm(da.from_array(np.eye(3)[None]), return_info=True)


# S7 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["ns", "matmul"])
def test_s7_one_unconverged_eigenvalue_is_not_hidden_by_an_average(method):
    n = 1024
    lam = np.ones(n, np.float32)
    lam[-1] = 1e-2
    a = np.diag(lam)
    z, info = matsqrt.inv_sqrtm(a, method, return_info=True)
    assert info.converged
    assert abs(z[-1, -1] - 10) <= 1e-5 * 10  # was 9.9507, converged=True
    g = np.zeros_like(a)
    g[-1, -1] = 1
    _, grad = matsqrt.sqrtm_vjp(a, method)
    assert abs(grad(g)[-1, -1] - 5) <= 1e-5 * 5  # was 4.728 (ns), 4.909 (matmul)


# S8 ---------------------------------------------------------------------------------------------


def test_s8_nearly_symmetric_input_is_not_read_as_symmetric():
    a = np.diag(np.r_[1.0, np.full(199, 1e-12)])
    a[1, 2] = 2e-11
    y = matsqrt.sqrtm(a)
    # the exact root of the (block upper triangular) matrix: 2e-11 / (1e-6 + 1e-6)
    assert abs(y[1, 2] - 1e-5) <= 1e-12
    assert abs(y[2, 1]) <= 1e-20


def test_s8_symmetric_to_rounding_input_uses_both_triangles():
    x = np.random.default_rng(8).standard_normal((6, 6))
    a = x @ x.T + np.eye(6)
    skewed = a.copy()
    skewed[0, 1] *= 1 + 2e-16  # within rounding: still the symmetric class
    y = matsqrt.sqrtm(skewed, "eigh")
    ref = scipy.linalg.sqrtm((skewed + skewed.T) / 2)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-13)


# S9 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["auto", "eigh", "matmul"])
def test_s9_small_positive_eigenvalues_are_data_not_rounding(method):
    a = np.diag(np.r_[np.ones(9), 1e-6]).astype(np.float32)
    y = matsqrt.sqrtm(a, method)
    assert abs(y[-1, -1] - 1e-3) <= 1e-3 * 1e-3  # was 0


def test_s9_wide_diagonal_keeps_its_smallest_root():
    y = matsqrt.sqrtm(np.diag([1e150, 1e-150]))
    np.testing.assert_allclose(np.diag(y), [1e75, 1e-75], rtol=1e-15)  # was [1e75, 0]


@pytest.mark.parametrize("method", ["auto", "eigh"])
def test_s9_inverse_root_of_a_positive_definite_diagonal_does_not_claim_singular(method):
    z = matsqrt.inv_sqrtm(np.diag([1.0, 1e-16]), method)
    np.testing.assert_allclose(np.diag(z), [1.0, 1e8], rtol=1e-15)


def test_s9_float32_ill_conditioned_spd_is_accurate():
    rng = np.random.default_rng(9)
    n = 256
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    lam = np.logspace(0, -5, n)
    a64 = (q * lam) @ q.T
    a = ((a64 + a64.T) / 2).astype(np.float32)
    ref = scipy.linalg.sqrtm(a.astype(np.float64))
    for method in ("auto", "matmul"):
        y = matsqrt.sqrtm(a, method)
        err = np.linalg.norm(y - ref) / np.linalg.norm(ref)
        assert err <= 2 * np.sqrt(n) * np.finfo(np.float32).eps * np.sqrt(1e5)  # was 4.5e-3 (auto)
    z = matsqrt.inv_sqrtm(a[:64, :64] + 0 * np.eye(64, dtype=np.float32), "auto")  # was "A is singular"
    assert np.all(np.isfinite(z))


# Unclear or false errors ------------------------------------------------------------------------


def test_auto_does_not_claim_negative_real_parts_for_right_half_plane_input():
    rng = np.random.default_rng(60)
    for _ in range(60):
        a = np.eye(10) + 0.6 * rng.standard_normal((10, 10)) / np.sqrt(10)
        if np.linalg.eigvals(a).real.min() <= 0:
            continue
        y = matsqrt.sqrtm(a)
        assert _principal(y)
    for a in (np.array([[1.0, 1e4], [0.0, 1.0]]),
              np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) if (t := np.radians(120)) else None):
        y = matsqrt.sqrtm(a)
        np.testing.assert_allclose(y @ y, a, atol=1e-10 * np.abs(a).max())
        assert _principal(y)


def test_auto_reports_nan_input_as_nan_not_as_negative_eigenvalues():
    a = np.array([[np.nan, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="NaN"):
        matsqrt.sqrtm(a)


def test_tol_and_maxiter_reach_the_method_auto_chooses():
    strict = pytest.importorskip("array_api_strict")
    a = strict.asarray([[2.0, 1.0], [0.5, 3.0]])  # non-symmetric, not NumPy: auto runs db
    y, info = matsqrt.sqrtm(a, tol=1e-8, return_info=True)
    assert info.tol == 1e-8
    with pytest.raises(matsqrt.ConvergenceError):
        matsqrt.sqrtm(a, maxiter=1)
    np.testing.assert_allclose(matsqrt.sqrtm(np.eye(3) * 4, tol=1e-8), 2 * np.eye(3))


def test_numpy_matrix_input_is_accepted():
    m = np.matrix([[4.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(matsqrt.sqrtm(m), scipy.linalg.sqrtm(np.asarray(m)), atol=1e-15)


@pytest.mark.parametrize("method", ACCURATE)
def test_square_root_of_zero_matrix_is_zero(method):
    np.testing.assert_array_equal(matsqrt.sqrtm(np.zeros((3, 3)), method), np.zeros((3, 3)))


@pytest.mark.parametrize("factor", [1e155, 1e-170])
def test_solve_lyapunov_at_extreme_scales(factor):
    b = np.array([[2.0, 0.5], [0.5, 1.0]])
    c = np.eye(2)
    x = matsqrt.solve_lyapunov(b * factor, c * factor)
    np.testing.assert_allclose(b @ x + x @ b, c, atol=1e-14)


@pytest.mark.parametrize("tol", [-1.0, float("nan"), float("inf")])
def test_invalid_tolerances_raise_value_error_at_once(tol):
    with pytest.raises(ValueError, match="tol"):
        matsqrt.solve_lyapunov(np.eye(2), np.eye(2), tol=tol)
    with pytest.raises(ValueError, match="tol"):
        matsqrt.sqrtm(np.eye(2), "matmul", tol=tol)


def test_negative_maxiter_raises_value_error_at_once():
    with pytest.raises(ValueError, match="maxiter"):
        matsqrt.solve_lyapunov(np.eye(2), np.eye(2), maxiter=-1)
    with pytest.raises(ValueError, match="lyapunov_maxiter|maxiter"):
        matsqrt.sqrtm_vjp(np.eye(2), lyapunov_maxiter=-1)


def test_matmul_with_a_tiny_lower_end_is_refused_or_works():
    with pytest.raises(ValueError, match="lower"):
        matsqrt.Matmul(lower=1e-300)
    np.testing.assert_allclose(matsqrt.sqrtm(np.eye(3) * 9, matsqrt.Matmul(lower=1e-8)), 3 * np.eye(3))


@pytest.mark.parametrize("method", ["auto", "eigh", "matmul", "mpa", "db"])
def test_errors_in_a_batch_name_the_matrices_at_fault(method):
    if method in ("auto", "db"):
        # These return the (complex) principal root of a negative eigenvalue; a Jordan block at zero has no root.
        jordan = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        batch = np.stack([np.eye(3), jordan, np.eye(3), jordan.T])
    else:
        batch = np.stack([np.eye(3), np.diag([1.0, -2.0, 3.0]), np.eye(3), np.diag([-1.0, 1.0, 1.0])])
    with pytest.raises(ValueError, match=r"batch index 1, 3"):
        matsqrt.sqrtm(batch, method)
    nan = np.stack([np.eye(3)] * 3)
    nan[2, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"batch index 2"):
        matsqrt.sqrtm(nan, method)


def test_errors_in_a_chunked_batch_name_whole_batch_indices():
    batch = np.stack([np.eye(8)] * 600)
    batch[517] = np.diag([1.0] * 7 + [-1.0])
    with pytest.raises(ValueError, match=r"batch index 517\)"):
        matsqrt.sqrtm(batch, "matmul")


def test_longdouble_input_is_refused_at_the_boundary():
    with pytest.raises(TypeError, match="wider than float64"):
        matsqrt.sqrtm(np.eye(2, dtype=np.longdouble))


@pytest.mark.parametrize("method", ["mpa", "mtp"])
def test_series_refuse_input_outside_their_domain(method):
    with pytest.raises(ValueError, match="negative eigenvalue"):
        matsqrt.sqrtm(np.diag([1.0, 2.0, -0.5]), method)
    with pytest.raises(ValueError, match="symmetric"):
        matsqrt.sqrtm(np.array([[2.0, 1.0], [0.0, 1.0]]), method)


def test_huge_degree_is_refused_quickly():
    start = time.perf_counter()
    with pytest.raises(ValueError, match="degree"):
        matsqrt.sqrtm(np.eye(2), "mpa", degree=10**6)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("a", [
    # Real matrices with two negative eigenvalues (-3.53 and -0.015; -1 and -4): the real Denman-Beavers
    # iteration "converged" to real matrices that square to nothing near A (residual 3.5; entries near 1e5).
    np.array([[-4.47444067, 2.99613901], [-1.40496073, 0.92927045]]),
    np.array([[-1.0, 0.0], [-3.0, -4.0]], dtype=np.float32),
    np.array([[-1.0, 0.0], [-6.0, -4.0]], dtype=np.float32),
], ids=["float64", "float32", "float32-b"])
def test_db_never_returns_a_real_root_of_a_matrix_with_negative_eigenvalues(backend, a):
    ref = scipy.linalg.sqrtm(a.astype(np.float64))
    for method in ("db", "auto"):
        y = backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method))
        assert np.iscomplexobj(y)
        np.testing.assert_allclose(y, ref, rtol=0, atol=100 * np.finfo(a.dtype).eps * np.abs(ref).max())
        z = backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(a), method))
        np.testing.assert_allclose(z @ ref, np.eye(2), rtol=0, atol=1e3 * np.finfo(a.dtype).eps)
