"""matsqrt.jax: custom_vjp over the core, checked by check_grads, under jit and vmap, against NumPy."""

import re
import sys

import numpy as np
import pytest

import matsqrt
from matsqrt.lyapunov import sign_iteration

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
mj = pytest.importorskip("matsqrt.jax")
from jax.test_util import check_grads  # noqa: E402  (after the importorskip above)

ROOTS = {"sqrtm": (mj.sqrtm, matsqrt.sqrtm_vjp), "inv_sqrtm": (mj.inv_sqrtm, matsqrt.inv_sqrtm_vjp)}
# Central differences of these degree-10 Padé forwards are accurate to about
# 3e-9 at eps = 1e-4 (see tests/test_torch.py); check_grads compares one
# random direction.  Its float64 defaults are atol = rtol = 1e-5.
CHECK_GRADS = dict(order=1, modes=["rev"], eps=1e-4, atol=1e-7, rtol=1e-6)


@pytest.fixture(autouse=True, scope="module")
def x64():
    """float64 for this module only; JAX's default is float32."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


def spd_batch(seed=0, batch=(2,), n=4):
    x = np.random.default_rng(seed).standard_normal((*batch, n, 2 * n))
    return x @ np.swapaxes(x, -1, -2) / (2 * n) + np.eye(n)


def ill_conditioned(seed=9, n=6, condition=1e4):
    """SPD with a log-spaced spectrum: the paper's eight Lyapunov iterations stop short of convergence."""
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((2, n, n)))[0]
    return (q * np.logspace(0, -np.log10(condition), n)) @ np.swapaxes(q, -1, -2)


def nonsymmetric(seed=7, spectrum=(1.0, 1.3, 1.7, 2.0)):
    """V diag(spectrum) V^-1 with V near the identity: positive real spectrum, well inside the region."""
    n = len(spectrum)
    v = np.eye(n) + 0.2 * np.random.default_rng(seed).standard_normal((n, n))
    return (v * np.array(spectrum)) @ np.linalg.inv(v)


def test_the_module_imports_the_real_jax():
    # matsqrt/jax.py must not import itself through `import jax`.
    assert mj.jax is sys.modules["jax"]


@pytest.mark.parametrize("case", ["symmetric", "nonsymmetric"])
@pytest.mark.parametrize("root", ROOTS)
def test_check_grads_float64(root, case):
    f = ROOTS[root][0]
    a = jnp.asarray(spd_batch() if case == "symmetric" else nonsymmetric())
    assert a.dtype == jnp.float64
    check_grads(lambda x: f(x, "mpa", degree=10), (a,), **CHECK_GRADS)


def test_check_grads_detects_a_forward_too_inaccurate_for_its_gradient():
    # The backward is the derivative of the exact root at the computed Y; a
    # degree-1 forward has a different derivative, and check_grads must see it.
    a = jnp.asarray(nonsymmetric(spectrum=(0.3, 1.0, 2.0, 3.0)))
    with pytest.raises(AssertionError):
        check_grads(lambda x: mj.sqrtm(x, "mpa", degree=1), (a,), **CHECK_GRADS)


@pytest.mark.parametrize("root", ROOTS)
def test_jitted_forward_and_gradient_equal_the_numpy_api(root):
    f, f_vjp = ROOTS[root]
    a = spd_batch(seed=1, batch=(3, 2), n=5)
    g = np.random.default_rng(2).standard_normal(a.shape)

    @jax.jit
    def value_and_grad(x):
        y, pullback = jax.vjp(f, x)
        return y, pullback(jnp.asarray(g))[0]

    y, grad = value_and_grad(jnp.asarray(a))
    y_ref, vjp = f_vjp(a, "mpa")  # the JAX adapter's default: jit needs a sync-free method
    np.testing.assert_allclose(np.asarray(y), y_ref, rtol=0, atol=1e-13 * np.abs(y_ref).max())
    expected = vjp(g)
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=0, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("tol", [None, 1e-6])
def test_device_loop_stops_where_the_host_loop_stops(tol):
    # Same stopping rule as lyapunov.sign_iteration (checking every step on NumPy).
    rng = np.random.default_rng(5)
    q = np.linalg.qr(rng.standard_normal((3, 6, 6)))[0]
    b = (q * np.logspace(0, -3, 6)) @ np.swapaxes(q, -1, -2)
    c = rng.standard_normal(b.shape)
    tol = matsqrt.lyapunov.default_tol(np, b.dtype) if tol is None else tol
    x_ref, info_ref = sign_iteration(b, c, np, maxiter=100, tol=tol)
    x, info = jax.jit(lambda b, c: mj.sign_iteration_on_device(b, c, maxiter=100, tol=tol))(b, c)
    assert info_ref.converged and bool(info.converged)
    assert int(info.iterations) == info_ref.iterations
    np.testing.assert_allclose(np.asarray(x), x_ref, rtol=0, atol=1e-9 * np.abs(x_ref).max())


def test_device_loop_reports_non_convergence():
    b = jnp.asarray(np.diag([1.0, 1e-12]))
    x, info = mj.sign_iteration_on_device(b, jnp.eye(2), maxiter=10, tol=1e-12)
    assert int(info.iterations) == 10 and not bool(info.converged)


@pytest.mark.parametrize("root", ROOTS)
def test_paper_backward_passes_through(root):
    f, f_vjp = ROOTS[root]
    a = ill_conditioned()
    g = np.random.default_rng(4).standard_normal(a.shape)
    options = dict(lyapunov_maxiter=8, lyapunov_tol=0)
    _, pullback = jax.vjp(lambda x: f(x, "mpa", degree=5, **options), jnp.asarray(a))
    _, vjp = f_vjp(a, "mpa", degree=5, **options)
    expected = vjp(g)
    # Eight iterations stop far from the converged gradient: equality with the
    # NumPy result under the same settings is what shows they were used.
    converged = f_vjp(a, "mpa", degree=5)[1](g)
    assert np.abs(expected - converged).max() > 1e-4 * np.abs(converged).max()
    np.testing.assert_allclose(np.asarray(pullback(jnp.asarray(g))[0]), expected, rtol=0,
                               atol=1e-12 * np.abs(expected).max())


def test_method_passes_through():
    a = spd_batch(seed=6, n=5)
    y = mj.sqrtm(jnp.asarray(a), "mtp", degree=20)
    # XLA's and NumPy's products round differently, amplified by high degrees.
    np.testing.assert_allclose(np.asarray(y), matsqrt.sqrtm(a, "mtp", degree=20), rtol=0, atol=1e-10)
    y = mj.inv_sqrtm(jnp.asarray(a), matsqrt.MPA(degree=12))
    np.testing.assert_allclose(np.asarray(y), matsqrt.inv_sqrtm(a, matsqrt.MPA(degree=12)), rtol=0, atol=1e-10)


def test_vmap_equals_the_batched_call():
    a = jnp.asarray(spd_batch(seed=8, batch=(4,), n=3))

    def loss(x):
        return jnp.sum(mj.inv_sqrtm(x, "mpa", degree=10) ** 2)

    np.testing.assert_allclose(np.asarray(jax.vmap(jax.grad(loss))(a)), np.asarray(jax.grad(loss)(a)),
                               rtol=1e-12, atol=1e-14)


def test_unconverged_gradient_is_nan():
    # The zero matrix: its root is zero and the Lyapunov equation is singular.
    grad = jax.jit(jax.grad(lambda x: jnp.sum(mj.sqrtm(x))))(jnp.zeros((2, 2)))
    assert np.isnan(np.asarray(grad)).all()


def test_values_are_checked_eagerly_and_not_under_jit():
    a = jnp.asarray(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN or infinity"):
        mj.sqrtm(a)
    with pytest.raises(ValueError, match="zero matrix"):
        mj.inv_sqrtm(jnp.zeros((2, 2)))
    assert np.isnan(np.asarray(jax.jit(mj.sqrtm)(a))).any()
    assert np.isnan(np.asarray(mj.sqrtm(a, check_finite=False))).any()


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_low_precision_dtypes_are_kept(dtype):
    a = spd_batch(n=3)
    x = jnp.asarray(a, dtype=dtype)
    y, pullback = jax.vjp(lambda x: mj.sqrtm(x, "mpa", degree=8), x)
    (grad,) = pullback(jnp.ones_like(y))
    assert y.dtype == grad.dtype == jnp.dtype(dtype)
    ref, vjp = matsqrt.sqrtm_vjp(a, "mpa", degree=8)
    # float32: the Lyapunov iteration stops at an RMS residual of about 1e-5.
    tol = {"float32": 1e-4, "float16": 2e-3}[dtype]
    np.testing.assert_allclose(np.asarray(y, dtype=np.float64), ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(np.asarray(grad, dtype=np.float64), vjp(np.ones_like(ref)), rtol=tol, atol=tol)


def test_integers_are_computed_in_the_default_float():
    y = mj.sqrtm(jnp.asarray([[4, 0], [0, 9]]), "mpa", degree=12)
    assert y.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(y), np.diag([2.0, 3.0]), rtol=1e-13)


def test_empty_batches():
    a = jnp.zeros((0, 3, 3))
    y, pullback = jax.vjp(mj.inv_sqrtm, a)
    assert y.shape == pullback(y)[0].shape == (0, 3, 3)


def test_float32_products_are_traced_in_full_precision():
    # On NVIDIA GPUs JAX multiplies float32 matrices in TF32 unless told
    # otherwise, which stalls the iterations (found on an H100, 2026-11-24).
    a = jnp.asarray(spd_batch(n=3), dtype=jnp.float32)
    for fn in (mj.sqrtm, mj.inv_sqrtm):
        jaxpr = str(jax.make_jaxpr(jax.grad(lambda x, fn=fn: fn(x, "mpa").sum()))(a))
        dots = jaxpr.count("dot_general[")
        assert dots > 0 and len(re.findall(r"precision=\(Precision.HIGHEST, Precision.HIGHEST\)", jaxpr)) == dots
