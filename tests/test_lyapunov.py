"""solve_lyapunov and the sign iteration against SciPy."""

import math

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

import matsqrt
from matsqrt.testing import spd_matrices

from helpers import rel_fro

EPS64 = np.finfo(np.float64).eps


@given(case=spd_matrices(n=st.integers(1, 10), max_condition=1e6), seed=st.integers(0, 2**32 - 1))
def test_symmetric_b_matches_scipy_lyapunov(backend, case, seed):
    b = case.matrix
    c = np.random.default_rng(seed).standard_normal(b.shape)
    x, info = matsqrt.solve_lyapunov(backend.asarray(b), backend.asarray(c), return_info=True)
    ref = scipy.linalg.solve_continuous_lyapunov(b, c)
    assert info.converged and info.residual <= 1e-12
    # The Lyapunov operator has condition number cond(B), which bounds the error.
    assert rel_fro(backend.to_numpy(x), ref) <= 100 * b.shape[-1] * EPS64 * np.linalg.cond(b)


@given(n=st.integers(1, 8), seed=st.integers(0, 2**32 - 1), log_cond=st.floats(0, 3))
def test_nonsymmetric_b_matches_scipy_sylvester(backend, n, seed, log_cond):
    rng = np.random.default_rng(seed)
    v = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / math.sqrt(n)
    b = (v * np.logspace(0, -log_cond, n)) @ np.linalg.inv(v)
    c = rng.standard_normal((n, n))
    x = backend.to_numpy(matsqrt.solve_lyapunov(backend.asarray(b), backend.asarray(c)))
    ref = scipy.linalg.solve_sylvester(b, b, c)
    assert rel_fro(x, ref) <= 1e3 * n * EPS64 * np.linalg.cond(v) ** 2 * 10**log_cond


def test_batches_broadcast_and_match_loops(backend):
    rng = np.random.default_rng(1)
    b = np.stack([np.diag([1.0, 2.0, 3.0]), np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 1.0]])])
    c = rng.standard_normal((4, 1, 3, 3))
    x = backend.to_numpy(matsqrt.solve_lyapunov(backend.asarray(b), backend.asarray(c)))
    assert x.shape == (4, 2, 3, 3)
    for i, j in np.ndindex(4, 2):
        ref = scipy.linalg.solve_continuous_lyapunov(b[j], c[i, 0])
        assert rel_fro(x[i, j], ref) <= 1e-13


def test_zero_tolerance_runs_exactly_maxiter_without_checks():
    b = np.diag([1.0, 1e-3])
    x, info = matsqrt.solve_lyapunov(b, np.eye(2), maxiter=8, tol=0.0, return_info=True)
    assert info.iterations == 8 and math.isnan(info.residual) and info.converged
    # Eight steps cannot bring an eigenvalue of 1e-3 / ||B|| to 1: the answer is off.
    assert abs(x[1, 1] - 0.5e3) > 1.0


@pytest.mark.parametrize("b", [np.diag([1.0, 0.0]), np.diag([1.0, -1.0]), np.zeros((2, 2))],
                         ids=["singular", "indefinite", "zero"])
def test_no_solution_by_the_iteration_raises_convergence_error(backend, b):
    with pytest.raises(matsqrt.ConvergenceError) as err:
        matsqrt.solve_lyapunov(backend.asarray(b), backend.asarray(np.eye(2)))
    assert not err.value.info.converged
    assert err.value.info.iterations == 100


def test_too_few_iterations_raise_with_info():
    with pytest.raises(matsqrt.ConvergenceError, match="did not converge in 3 iterations") as err:
        matsqrt.solve_lyapunov(np.diag([1.0, 1e-6]), np.eye(2), maxiter=3)
    assert err.value.info.residual > err.value.info.tol


def test_iteration_count_grows_like_log_of_the_condition_number():
    counts = []
    for cond in (1e2, 1e4, 1e8):
        _, info = matsqrt.solve_lyapunov(np.diag([1.0, 1 / cond]), np.eye(2), return_info=True)
        counts.append(info.iterations)
    # An eigenvalue b grows about x1.5 per step: log_1.5(1e4) = 22.7 more steps per 1e4.
    assert counts[0] < counts[1] < counts[2] <= counts[0] + 2 * 25


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="matching"):
        matsqrt.solve_lyapunov(np.eye(3), np.eye(2))


@pytest.mark.parametrize("case", ["complex general", "real general", "imaginary axis"])
def test_general_and_complex_b_are_solved(backend, case):
    rng = np.random.default_rng(7)
    n = 5
    if case == "complex general":
        b = 2 * np.eye(n) + 0.4 * (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / np.sqrt(n)
    elif case == "real general":
        b = 2 * np.eye(n) + 0.8 * np.triu(rng.standard_normal((n, n)), 1)
    else:
        # the conjugate transpose of the principal root of a matrix with negative eigenvalues: +-i sqrt|lambda|
        b = scipy.linalg.sqrtm(np.diag([1.0, -2.0, 3.0, -0.5, 4.0])).conj().T
    c = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if np.iscomplexobj(b) else 0)
    x = backend.to_numpy(matsqrt.solve_lyapunov(backend.asarray(b), backend.asarray(c)))
    assert x.dtype == np.result_type(b, c)
    np.testing.assert_allclose(x, scipy.linalg.solve_sylvester(b, b, c), rtol=0, atol=1e-13)
