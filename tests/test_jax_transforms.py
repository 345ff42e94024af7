"""matsqrt.jax: jit-able eigh, forward mode (custom_jvp), clear errors under jit, the core's keywords."""

import re

import numpy as np
import pytest
import scipy.linalg

import matsqrt

from helpers import jax_x64  # noqa: F401 (autouse: float64 in this module)

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
mj = pytest.importorskip("matsqrt.jax")

ROOTS = {"sqrtm": (mj.sqrtm, matsqrt.sqrtm, matsqrt.sqrtm_vjp),
         "inv_sqrtm": (mj.inv_sqrtm, matsqrt.inv_sqrtm, matsqrt.inv_sqrtm_vjp)}



def spd_batch(seed=0, batch=(3,), n=4, condition=None):
    rng = np.random.default_rng(seed)
    if condition is None:
        x = rng.standard_normal((*batch, n, 2 * n))
        return x @ np.swapaxes(x, -1, -2) / (2 * n) + np.eye(n)
    q = np.linalg.qr(rng.standard_normal((*batch, n, n)))[0]
    return (q * np.logspace(0, -np.log10(condition), n)) @ np.swapaxes(q, -1, -2)


INDEFINITE = np.array([[1.0, 2.0], [2.0, 1.0]])
NONSYMMETRIC = np.array([[2.0, 0.5], [0.1, 1.0]])


# --- eigh under jit ----------------------------------------------------------

@pytest.mark.parametrize("root", ROOTS)
def test_jitted_eigh_equals_the_core_eigh_value_and_gradient(root):
    f, core, core_vjp = ROOTS[root]
    a = spd_batch(batch=(2, 3), n=5, condition=1e6)
    g = np.random.default_rng(1).standard_normal(a.shape)

    @jax.jit
    def value_and_grad(x):
        y, pullback = jax.vjp(lambda x: f(x, "eigh"), x)
        return y, pullback(jnp.asarray(g))[0]

    y, grad = value_and_grad(jnp.asarray(a))
    y_ref, vjp = core_vjp(a, "eigh")
    # Both are eigendecompositions: equal to the rounding of n = 5 at condition number 1e6.
    scale = 1e6 if root == "inv_sqrtm" else 1.0
    np.testing.assert_allclose(np.asarray(y), y_ref, rtol=0, atol=1e-13 * scale * np.abs(y_ref).max())
    expected = vjp(g)
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=0, atol=1e-12 * scale * np.abs(expected).max())


@pytest.mark.parametrize("root", ROOTS)
def test_eigh_refuses_eagerly_and_gives_nan_under_jit(root):
    f = ROOTS[root][0]
    healthy = spd_batch(batch=(), n=2)
    for bad, message in ((INDEFINITE, "negative eigenvalue"), (NONSYMMETRIC, "needs Hermitian")):
        with pytest.raises(ValueError, match=message):
            f(jnp.asarray(bad), "eigh")
        y = np.asarray(jax.jit(lambda x: f(x, "eigh"))(jnp.asarray(np.stack([healthy, bad]))))
        assert np.isnan(y[1]).all() and np.isfinite(y[0]).all()
    if root == "inv_sqrtm":
        with pytest.raises(ValueError, match="singular"):
            f(jnp.asarray(np.diag([1.0, 0.0])), "eigh")


def test_eigh_gradient_at_a_singular_matrix_is_nan():
    grad = jax.jit(jax.grad(lambda x: mj.sqrtm(x, "eigh").sum()))
    assert np.isnan(np.asarray(grad(jnp.asarray(np.diag([1.0, 0.0]))))).all()
    assert np.isfinite(np.asarray(grad(jnp.asarray(np.diag([1.0, 1e-6]))))).all()


# --- the series' domain under jit --------------------------------------------

@pytest.mark.parametrize("method", ["mpa", "mtp"])
def test_series_outside_their_domain_give_nan_under_jit_and_raise_eagerly(method):
    # A negative eigenvalue: the series return a plausible matrix that is no root.
    batch = jnp.asarray(np.stack([spd_batch(batch=(), n=2), INDEFINITE]))
    with pytest.raises(ValueError, match="negative eigenvalue"):
        mj.sqrtm(batch, method)
    y = np.asarray(jax.jit(lambda x: mj.sqrtm(x, method))(batch))
    assert np.isnan(y[1]).all() and np.isfinite(y[0]).all()
    # check_finite=False skips the test: the caller vouches for the input.
    assert np.isfinite(np.asarray(jax.jit(lambda x: mj.sqrtm(x, method, check_finite=False))(batch))).all()


# --- methods that need the host ----------------------------------------------

def test_the_default_auto_is_eigh_under_jit_and_vmap_and_the_cores_eagerly():
    a = jnp.asarray(spd_batch())
    expected = matsqrt.sqrtm(np.asarray(a), "eigh")
    for transform in (jax.jit, jax.vmap):
        np.testing.assert_allclose(np.asarray(transform(mj.sqrtm)(a)), expected, rtol=0, atol=1e-13)
    # Eagerly the core's auto: a general matrix gets its principal root (eigh under jit: NaN).
    general = np.array([[2.0, 1.0], [0.0, 3.0]])
    np.testing.assert_allclose(np.asarray(mj.sqrtm(jnp.asarray(general))), scipy.linalg.sqrtm(general), atol=1e-14)
    assert np.isnan(np.asarray(jax.jit(mj.sqrtm)(jnp.asarray(general)))).all()


@pytest.mark.parametrize("method", ["db", "matmul", matsqrt.NS(maxiter=20)], ids=str)
def test_host_synchronising_methods_under_jit_raise_a_clear_error(method):
    a = jnp.asarray(spd_batch())
    message = re.escape('the methods that run there are "mpa", "mtp", "eigh", Matmul(sync_free=True)')
    for transform in (jax.jit, jax.vmap, lambda g: jax.jit(jax.grad(lambda x: g(x).sum()))):
        with pytest.raises(ValueError, match=message):
            transform(lambda x: mj.sqrtm(x, method))(a)
    # Eagerly they run, gradients included (the derivative rule sees concrete values).
    y = mj.sqrtm(a, method)
    np.testing.assert_allclose(np.asarray(y @ y), np.asarray(a), rtol=0, atol=1e-12)
    grad = jax.grad(lambda x: mj.sqrtm(x, method).sum())(a)
    expected = matsqrt.sqrtm_vjp(np.asarray(a), "eigh")[1](np.ones(a.shape))
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=0, atol=1e-11)


# --- forward mode -------------------------------------------------------------

@pytest.mark.parametrize("options", [{}, dict(method="eigh"), dict(method="mpa", lyapunov_maxiter=8, lyapunov_tol=0)],
                         ids=["default", "eigh", "paper"])
@pytest.mark.parametrize("root", ROOTS)
def test_forward_and_reverse_mode_give_the_same_jacobian(root, options):
    f = ROOTS[root][0]
    a = jnp.asarray(spd_batch(batch=(), n=4, condition=1e3))

    def fn(x):
        return f(x, **options)

    forward = np.asarray(jax.jit(jax.jacfwd(fn))(a))
    reverse = np.asarray(jax.jit(jax.jacrev(fn))(a))
    assert np.abs(reverse).max() > 0.1
    np.testing.assert_allclose(forward, reverse, rtol=0, atol=1e-12 * np.abs(reverse).max())


def test_paper_settings_reach_forward_mode():
    # Eight iterations differ visibly from the converged derivative at condition number 1e4.
    a = jnp.asarray(spd_batch(batch=(), n=6, condition=1e4))
    paper = np.asarray(jax.jacfwd(lambda x: mj.sqrtm(x, lyapunov_maxiter=8, lyapunov_tol=0))(a))
    converged = np.asarray(jax.jacfwd(lambda x: mj.sqrtm(x))(a))
    assert np.abs(paper - converged).max() > 1e-3 * np.abs(converged).max()


@pytest.mark.parametrize("method", ["mpa", "eigh"])
@pytest.mark.parametrize("root", ROOTS)
def test_jvp_solves_the_forward_equation(root, method):
    # Y dY + dY Y = dA; Z dZ + dZ Z = -Z^2 dA Z^2: the derivative of the exact root at the computed Y.
    f = ROOTS[root][0]
    a = jnp.asarray(spd_batch(batch=(2,), n=4))
    t = jnp.asarray(np.random.default_rng(4).standard_normal(a.shape))
    y, dy = jax.jit(lambda x, t: jax.jvp(lambda x: f(x, method), (x,), (t,)))(a, t)
    rhs = t if root == "sqrtm" else -(y @ y @ t @ y @ y)
    np.testing.assert_allclose(np.asarray(y @ dy + dy @ y), np.asarray(rhs), rtol=0, atol=1e-12)


def test_forward_mode_at_a_singular_matrix_is_nan():
    _, dy = jax.jit(lambda x: jax.jvp(mj.sqrtm, (x,), (jnp.ones_like(x),)))(jnp.asarray(np.diag([1.0, 0.0])))
    assert np.isnan(np.asarray(dy)).all()


# --- keywords and input rules ------------------------------------------------

@pytest.mark.parametrize("options", [
    dict(method="matmul", tol=1e-6, maxiter=30),
    dict(method="mpa", degree=7, scale="spectral"),
    dict(method="ns", maxiter=6, tol=0),
], ids=["matmul-tol", "mpa-spectral", "ns-fixed"])
@pytest.mark.parametrize("root", ROOTS)
def test_every_core_keyword_passes_through(root, options):
    # The reference is the core on the same JAX arrays (its convergence checks run every fourth
    # step off NumPy, so NumPy's stopping points differ).
    f, core, _ = ROOTS[root]
    a = jnp.asarray(spd_batch())
    y = core(a, **options)
    assert not np.array_equal(np.asarray(y), np.asarray(core(a, options["method"])))
    np.testing.assert_allclose(np.asarray(f(a, **options)), np.asarray(y), rtol=0, atol=1e-15)


@pytest.mark.parametrize("root", ROOTS)
def test_return_info_eagerly_and_a_clear_error_under_jit(root):
    f, core, _ = ROOTS[root]
    a = jnp.asarray(spd_batch())
    y, info = f(a, "matmul", return_info=True)
    y_ref, info_ref = core(a, "matmul", return_info=True)
    assert info == info_ref and info.converged and 0 < info.residual < 1e-14
    np.testing.assert_array_equal(np.asarray(y), np.asarray(y_ref))
    y, info = f(a, "eigh", return_info=True)
    assert info.converged and 0 < info.residual < 1e-14
    with pytest.raises(ValueError, match="return_info=True needs concrete input"):
        jax.jit(lambda x: f(x, return_info=True))(a)


def test_settings_are_checked_under_jit_too():
    a = jnp.asarray(spd_batch())
    with pytest.raises(ValueError, match="has no setting degree"):
        jax.jit(lambda x: mj.sqrtm(x, "eigh", degree=3))(a)
    with pytest.raises(ValueError, match="maxiter must be"):
        jax.jit(lambda x: mj.sqrtm(x, lyapunov_maxiter=-1))(a)


def test_numpy_input_is_converted_and_other_objects_refused():
    # One rule for both adapters (matsqrt.torch converts NumPy arrays too).
    a = spd_batch()
    y = mj.sqrtm(a, "eigh")
    assert isinstance(y, jax.Array)
    np.testing.assert_allclose(np.asarray(y), matsqrt.sqrtm(a, "eigh"), rtol=0, atol=1e-14)
    with pytest.raises(TypeError, match="takes a JAX or NumPy array; got list"):
        mj.sqrtm([[1.0, 0.0], [0.0, 1.0]])


# --- the default's accuracy, as documented ----------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_documented_accuracy_of_the_default(dtype):
    # Module docstring: relative Frobenius error of the default ("mpa", degree 5) under jit on
    # 8 x 64 x 64 SPD matrices with log-spaced spectra: 1.0e-2 at condition number 10, 0.21 at 1e4;
    # "eigh" is accurate to rounding there.
    rng = np.random.default_rng(0)
    for condition, documented in ((10.0, 1.0e-2), (1e4, 0.21)):
        q = np.linalg.qr(rng.standard_normal((8, 64, 64)))[0]
        lam = np.logspace(0, -np.log10(condition), 64)
        a = (q * lam) @ np.swapaxes(q, -1, -2)
        exact = (q * np.sqrt(lam)) @ np.swapaxes(q, -1, -2)
        for method, bound in (("mpa", None), ("eigh", 1e-5 if dtype == "float32" else 1e-14)):
            y = np.asarray(jax.jit(lambda x, method=method: mj.sqrtm(x, method))(jnp.asarray(a, dtype=dtype)),
                           dtype=np.float64)
            error = np.max(np.linalg.norm(y - exact, axis=(-2, -1)) / np.linalg.norm(exact, axis=(-2, -1)))
            if bound is None:
                assert documented / 1.5 < error < documented * 1.5
            else:
                assert error < bound
