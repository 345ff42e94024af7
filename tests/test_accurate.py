"""The accurate methods (eigh, matmul, auto, ns): accuracy targets, errors, settings."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

import matsqrt
from matsqrt.testing import spd_matrices

from helpers import eigh_float32_roots, reference_roots, rel_fro, relative_error

EPS = {np.float64: float(np.finfo(np.float64).eps), np.float32: float(np.finfo(np.float32).eps)}
MAX_CONDITION = {np.float64: 1e10, np.float32: 1e5}


def _errors(a, g, method):
    """Errors of (Y, Z, dY, dZ) against the refined references."""
    y, vy = matsqrt.sqrtm_vjp(a, method)
    z, vz = matsqrt.inv_sqrtm_vjp(a, method)
    refs = reference_roots(a.astype(np.float64), g.astype(np.float64))
    return [relative_error(v, r) for v, r in zip((y, z, vy(g), vz(g)), refs, strict=True)], refs


def _eigh_same_dtype(a, g):
    """The eigh method's (Y, Z, dY, dZ) in a's dtype; float32 by a float32 LAPACK eigh
    (NumPy's float32 eigh runs in float64, so it is not what float32 arithmetic achieves)."""
    if a.dtype == np.float32:
        return eigh_float32_roots(a, g)
    y, vy = matsqrt.sqrtm_vjp(a, "eigh")
    z, vz = matsqrt.inv_sqrtm_vjp(a, "eigh")
    return y, z, vy(g), vz(g)


def _ratios(a, g, method):
    """Errors of (Y, Z, dY, dZ) over the target max(10 x eigh's error, 100 eps)."""
    errors, refs = _errors(a, g, method)
    eigh_out = _eigh_same_dtype(a, g)
    eps = EPS[a.dtype.type]
    return [err / max(10 * relative_error(e, r), 100 * eps) for err, e, r in zip(errors, eigh_out, refs, strict=True)]


@pytest.mark.parametrize("method", ["matmul", "auto"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("family", ["logspaced", "clustered", "repeated"])
def test_accuracy_target_on_the_issue_families(method, dtype, family):
    # Issue 3's target, n = 8, condition numbers up to 1e10 (float64) / 1e5 (float32):
    # error <= max(10 x the eigh method's error in the same dtype, 100 eps), forward
    # and gradients, against references refined beyond float64.
    rng = np.random.default_rng(8)
    conds = (1e1, 1e4, 1e7, 1e10) if dtype == np.float64 else (1e1, 1e3, 1e5)
    for cond in conds:
        lam = {"logspaced": np.logspace(0, -np.log10(cond), 8),
               "clustered": np.where(rng.random(8) < 0.5, 1.0, 1 / cond) * (1 + 1e-6 * rng.random(8)),
               "repeated": rng.choice([1.0, cond**-0.5, 1 / cond], 8)}[family]
        lam[0], lam[-1] = 1.0, 1 / cond
        q = np.linalg.qr(rng.standard_normal((2, 8, 8)))[0]
        a = (q * lam) @ np.swapaxes(q, -1, -2)
        a = ((a + np.swapaxes(a, -1, -2)) / 2).astype(dtype)
        g = rng.standard_normal(a.shape).astype(dtype)
        assert max(_ratios(a, g, method)) <= 1.0, cond


@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]), method=st.sampled_from(["matmul", "auto"]))
def test_accuracy_stays_near_eigh_for_any_size_and_spectrum(data, dtype, method):
    # Over random sizes and spectra the target holds in most draws; for n <= 3 at
    # condition numbers >= 1e6 (where a 2x2 or 3x3 eigh is accurate to a few eps)
    # matmul was measured up to 14x over it (up to 3x for n >= 3), so this
    # property allows 20x and the exceedance is reported, not hidden.
    case = data.draw(spd_matrices(n=st.integers(2, 12), batch_shape=(2,), max_condition=MAX_CONDITION[dtype]))
    a = case.matrix.astype(dtype)
    g = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).standard_normal(a.shape).astype(dtype)
    assert max(_ratios(a, g, method)) <= 20.0


@pytest.mark.parametrize("method", ["matmul", "auto", "eigh"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rank_deficient_sqrt_is_correct_and_inverse_raises(backend, method, dtype):
    rng = np.random.default_rng(4)
    q = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    lam = np.array([1.0, 0.5, 0.1, 1e-3, 0, 0, 0, 0.2, 0.7, 0.0])
    a = ((q * lam) @ q.T).astype(dtype)
    exact = (q * np.sqrt(lam)) @ q.T
    y = backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method))
    # A zero eigenvalue is known only to n eps ||A||: its root to sqrt(n eps).
    assert rel_fro(y, exact) <= 3 * np.sqrt(10 * EPS[dtype])
    with pytest.raises((ValueError, matsqrt.ConvergenceError)):
        matsqrt.inv_sqrtm(backend.asarray(a), method)


@pytest.mark.parametrize("method", ["matmul", "ns", "auto", "db"])
@given(n=st.integers(2, 8), seed=st.integers(0, 2**32 - 1), log_cond=st.floats(0, 4))
def test_nonsymmetric_positive_spectrum_matches_scipy(method, n, seed, log_cond):
    # auto and db must return the principal root; the product-only methods may
    # refuse non-symmetric input whose result they cannot verify (documented),
    # but whatever they return must be right.
    rng = np.random.default_rng(seed)
    v = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    a = (v * np.logspace(0, -log_cond, n)) @ np.linalg.inv(v)
    g = rng.standard_normal((n, n))
    y_ref, z_ref, dy_ref, dz_ref = reference_roots(a, g)
    slack = 1e3 * n * EPS[np.float64] * np.linalg.cond(v) ** 2 * 10**log_cond
    if method in ("matmul", "ns"):
        try:
            matsqrt.sqrtm(a, method)
        except ValueError as exc:
            assert "cannot guarantee the principal root" in str(exc)
            return
    y, vjp = matsqrt.sqrtm_vjp(a, method)
    assert relative_error(y, y_ref) <= slack
    assert relative_error(vjp(g), dy_ref) <= slack
    z, vjp = matsqrt.inv_sqrtm_vjp(a, method)
    assert relative_error(z, z_ref) <= slack
    assert relative_error(vjp(g), dz_ref) <= slack


def test_eigh_rejects_nonsymmetric_input():
    a = np.array([[2.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="symmetric"):
        matsqrt.sqrtm(a, "eigh")
    # Symmetric up to the rounding of X @ X.T is accepted.
    x = np.random.default_rng(0).standard_normal((5, 9)) / 3
    matsqrt.sqrtm(x @ x.T + 1e-3 * np.eye(5), "eigh")


@pytest.mark.parametrize("method", ["eigh", "matmul", "ns", "mpa", "mtp"])
def test_negative_eigenvalues_raise_a_value_error_that_says_so(backend, method):
    # The methods for positive semi-definite input refuse; auto returns the complex principal root (below).
    a = backend.asarray(np.diag([1.0, 0.5, -0.25]))
    for f in (matsqrt.sqrtm, matsqrt.inv_sqrtm):
        with pytest.raises(ValueError, match="negative eigenvalue"):
            f(a, method)


@pytest.mark.parametrize("method", ["auto", "db"])
def test_negative_eigenvalues_give_the_complex_principal_root(backend, method):
    v = np.array([[1.0, 0.4, 0.0], [0.2, 1.0, 0.3], [0.0, 0.1, 1.0]])
    for a in (np.diag([1.0, 0.5, -0.25]), (v * np.array([1.0, -0.5, 2.0])) @ np.linalg.inv(v)):
        y = backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method))
        z = backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(a), method))
        assert y.dtype == z.dtype == np.complex128
        # the principal branch: i sqrt(0.25) = +0.5i for the diagonal case, as scipy.linalg.sqrtm
        np.testing.assert_allclose(y, scipy.linalg.sqrtm(a), rtol=0, atol=1e-14)
        np.testing.assert_allclose(z, np.linalg.inv(scipy.linalg.sqrtm(a)), rtol=0, atol=1e-13)
        assert np.all(np.linalg.eigvals(y).real >= -1e-14)


@pytest.mark.parametrize("method", ["matmul", "ns"])
def test_nonsymmetric_with_negative_real_eigenvalues_is_refused_by_the_product_iterations(method):
    # The product-only iterations cannot tell divergence from slow convergence on general input.
    v = np.array([[1.0, 0.4], [0.2, 1.0]])
    a = (v * np.array([1.0, -0.5])) @ np.linalg.inv(v)
    with pytest.raises((ValueError, matsqrt.ConvergenceError), match="eigenvalue|did not converge"):
        matsqrt.sqrtm(a, method)


@pytest.mark.parametrize("method", ["eigh", "matmul", "auto", "ns"])
@pytest.mark.parametrize("dtype, exponent", [(np.float64, 150), (np.float32, 18)])
@pytest.mark.parametrize("sign", [1, -1])
def test_extreme_scales(backend, method, dtype, exponent, sign):
    a = np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    c = 10.0 ** (sign * exponent)
    ref = scipy.linalg.sqrtm(a)
    tol = 200 * EPS[dtype]
    y = backend.to_numpy(matsqrt.sqrtm(backend.asarray((a * c).astype(dtype)), method))
    z = backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray((a * c).astype(dtype)), method))
    assert rel_fro(y / np.sqrt(c), ref) <= tol
    assert rel_fro(z * np.sqrt(c), np.linalg.inv(ref)) <= tol


def test_auto_picks_eigh_for_symmetric_and_schur_otherwise_on_numpy_db_elsewhere():
    from array_api_compat import numpy as xp

    assert isinstance(matsqrt.Auto().choose(np.eye(3), xp), matsqrt.Eigh)
    assert isinstance(matsqrt.Auto().choose(np.array([[2.0, 1.0], [0.0, 1.0]]), xp), matsqrt.Schur)
    import array_api_strict as strict

    assert isinstance(matsqrt.Auto().choose(strict.asarray([[2.0, 1.0], [0.0, 1.0]]), strict), matsqrt.DB)


def test_auto_on_cupy_picks_eigh_only_for_small_symmetric_float64(backend):
    if backend.name != "cupy":
        pytest.skip("the CuPy rule (measured on an H100, see Auto.choose)")
    sym = np.eye(64) + 0.01 * np.ones((64, 64))
    choose = matsqrt.Auto.choose
    assert isinstance(choose(backend.asarray(sym), backend.xp), matsqrt.Eigh)
    assert isinstance(choose(backend.asarray(sym.astype(np.float32)), backend.xp), matsqrt.Matmul)
    assert isinstance(choose(backend.asarray(np.eye(65)), backend.xp), matsqrt.Matmul)
    assert isinstance(choose(backend.asarray(np.triu(sym)), backend.xp), matsqrt.Matmul)


def test_auto_is_the_default_everywhere():
    a = np.array([[2.0, 0.3], [0.3, 1.0]])
    np.testing.assert_array_equal(matsqrt.sqrtm(a), matsqrt.sqrtm(a, "eigh"))
    np.testing.assert_array_equal(matsqrt.inv_sqrtm_vjp(a)[0], matsqrt.inv_sqrtm(a, "eigh"))


@pytest.mark.parametrize("method", ["matmul", "ns"])
def test_return_info_reports_iterations_and_a_true_residual(backend, method):
    a = backend.asarray(np.diag([1.0, 0.1, 0.01]))
    y, info = matsqrt.sqrtm(a, method, return_info=True)
    yy = backend.to_numpy(y)
    assert info.converged and info.iterations > 0
    expected = np.linalg.norm(yy @ yy - np.diag([1.0, 0.1, 0.01])) / np.linalg.norm([1.0, 0.1, 0.01])
    assert info.residual == pytest.approx(expected, rel=1e-6, abs=1e-18)


@pytest.mark.parametrize("method", ["matmul", "ns"])
def test_too_few_iterations_raise_convergence_error_with_info(method):
    with pytest.raises(matsqrt.ConvergenceError) as err:
        matsqrt.inv_sqrtm(np.diag([1.0, 1e-6]), method, maxiter=3)
    assert err.value.info.iterations == 3 and not err.value.info.converged


@pytest.mark.parametrize("method, setting", [("eigh", dict(tol=1e-3)), ("mpa", dict(maxiter=3)),
                                             ("matmul", dict(degree=4)), ("auto", dict(degree=3))])
def test_settings_a_method_does_not_have_raise(method, setting):
    with pytest.raises(ValueError, match="has no setting"):
        matsqrt.sqrtm(np.eye(2), method, **setting)


def _isqrt_cov(a, iterations):
    """iSQRT-COV's coupled Newton-Schulz with Frobenius pre-normalisation, from its equations."""
    s = np.linalg.norm(a)
    y, z = a / s, np.eye(a.shape[-1])
    for _ in range(iterations):
        t = 0.5 * (3.0 * np.eye(a.shape[-1]) - z @ y)
        y, z = y @ t, t @ z
    return y * np.sqrt(s), z / np.sqrt(s)


@pytest.mark.parametrize("iterations", [1, 3, 5])
def test_ns_fixed_iterations_reproduce_isqrt_cov(backend, iterations):
    a = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.5]])
    y_ref, z_ref = _isqrt_cov(a, iterations)
    config = matsqrt.NS(maxiter=iterations, tol=0.0)
    np.testing.assert_allclose(backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), config)), y_ref, rtol=1e-14)
    np.testing.assert_allclose(backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(a), config)), z_ref, rtol=1e-14)


@given(case=spd_matrices(n=st.integers(1, 10), max_condition=1e6))
def test_ns_with_tolerance_is_accurate(case):
    y_ref, z_ref, _, _ = reference_roots(case.matrix, np.eye(case.matrix.shape[-1]))
    y = matsqrt.sqrtm(case.matrix, "ns")
    assert relative_error(y, y_ref) <= 1e3 * EPS[np.float64] * np.sqrt(np.linalg.cond(case.matrix))


@given(case=spd_matrices(n=st.integers(2, 10), max_condition=1e3), degree=st.integers(1, 8))
def test_spectral_scale_is_never_less_accurate_than_frobenius(case, degree):
    # A tighter bound s moves every z = 1 - lambda/s away from 1, where the
    # Padé error of sqrt(1 - z) grows monotonically.
    y_ref = reference_roots(case.matrix, np.eye(case.matrix.shape[-1]))[0]
    fro = relative_error(matsqrt.sqrtm(case.matrix, matsqrt.MPA(degree)), y_ref)
    spectral = relative_error(matsqrt.sqrtm(case.matrix, matsqrt.MPA(degree, scale="spectral")), y_ref)
    assert spectral <= fro * (1 + 1e-6) + 1e-13


def test_eigh_gradient_is_exact_at_repeated_eigenvalues(backend):
    e = np.random.default_rng(2).standard_normal((4, 4))
    _, vjp = matsqrt.sqrtm_vjp(backend.asarray(4.0 * np.eye(4)), "eigh")
    np.testing.assert_allclose(backend.to_numpy(vjp(backend.asarray(e))), e / 4, rtol=1e-14)
    _, vjp = matsqrt.inv_sqrtm_vjp(backend.asarray(4.0 * np.eye(4)), "eigh")
    np.testing.assert_allclose(backend.to_numpy(vjp(backend.asarray(e))), -e / 16, rtol=1e-14)


@pytest.mark.parametrize("lower", [None, 1e-3])
def test_accelerated_lyapunov_matches_scipy(lower):
    from array_api_compat import numpy as xp

    from matsqrt.lyapunov import sign_iteration

    rng = np.random.default_rng(9)
    q = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    b = (q * np.logspace(0, -4, 6)) @ q.T
    c = rng.standard_normal((6, 6))
    x, info = sign_iteration(b, c, xp, maxiter=100, tol=EPS[np.float64], lower=lower)
    assert info.converged
    assert rel_fro(x, scipy.linalg.solve_continuous_lyapunov(b, c)) <= 1e-10
