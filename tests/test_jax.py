"""matsqrt.jax: custom_jvp over the core, checked by check_grads, under jit and vmap, against NumPy."""

import functools
import re
import sys

import numpy as np
import pytest

import matsqrt
from matsqrt.lyapunov import sign_iteration

from helpers import central_differences, exact_gradient, jax_x64  # noqa: F401 (jax_x64: autouse, float64 here)

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
mj = pytest.importorskip("matsqrt.jax")
from jax.test_util import check_grads  # noqa: E402  (after the importorskip above)

ROOTS = {"sqrtm": (mj.sqrtm, matsqrt.sqrtm_vjp), "inv_sqrtm": (mj.inv_sqrtm, matsqrt.inv_sqrtm_vjp)}
# Central differences of these degree-10 Padé forwards are accurate to about
# 3e-9 at eps = 1e-4 (see tests/test_torch.py); check_grads compares one
# random direction.  Its float64 defaults are atol = rtol = 1e-5.
CHECK_GRADS = dict(order=2, modes=["fwd", "rev"], eps=1e-4, atol=1e-7, rtol=1e-6)



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
    # Eagerly, forward and reverse mode, first and second order.  check_grads perturbs A off
    # the symmetric matrices, so "auto" runs db there; the series need check_finite=False to
    # accept (and be defined on) such input.
    f = ROOTS[root][0]
    a = jnp.asarray(spd_batch() if case == "symmetric" else nonsymmetric())
    assert a.dtype == jnp.float64
    check_grads(lambda x: f(x, "auto"), (a,), **(CHECK_GRADS | dict(order=1)))
    # Second order once per root (compiling the nested derivatives takes about 10 s).
    order = 2 if case == "symmetric" else 1
    series = jax.jit(lambda x: f(x, "mpa", degree=10, check_finite=False))
    check_grads(series, (a,), **(CHECK_GRADS | dict(order=order)))


def test_check_grads_detects_a_forward_too_inaccurate_for_its_gradient():
    # The derivatives are those of the exact root at the computed Y; a degree-1
    # forward has a different derivative, and check_grads must see it.
    a = jnp.asarray(nonsymmetric(spectrum=(0.3, 1.0, 2.0, 3.0)))
    with pytest.raises(AssertionError):
        check_grads(lambda x: mj.sqrtm(x, "mpa", degree=1, check_finite=False), (a,), **CHECK_GRADS)


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
    y_ref, vjp = f_vjp(a, "eigh")  # the JAX default under jit: "auto" is "eigh" on traced input
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
    # Eagerly without the check, "auto" still refuses what it cannot classify; the series return NaN.
    with pytest.raises(ValueError, match="NaN or infinity"):
        mj.sqrtm(a, check_finite=False)
    assert np.isnan(np.asarray(mj.sqrtm(a, "mpa", check_finite=False))).any()


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


# --- dtypes (S2, and bfloat16 in the primal, S3 of the JAX list) -------------

JAX_DTYPE_NAMES = ["bool", "int2", "int4", "int8", "int16", "int32", "int64", "uint2", "uint4", "uint8", "uint16",
                   "uint32", "uint64", "float4_e2m1fn", "float8_e3m4", "float8_e4m3", "float8_e4m3b11fnuz",
                   "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
                   "bfloat16", "float16", "float32", "float64", "complex64", "complex128"]
# Accurate to rounding in float32 and float64 at these condition numbers, and jit-able.
ACCURATE = matsqrt.Matmul(tol=0, maxiter=16)
# [[2, 1], [1, 2]] = U diag(3, 1) U^T: its roots in closed form.
SMALL_INTEGER_MATRIX = np.array([[2, 1], [1, 2]])
_S3 = np.sqrt(3.0)
EXACT_ROOTS = {
    "sqrtm": np.array([[_S3 + 1, _S3 - 1], [_S3 - 1, _S3 + 1]]) / 2,
    "inv_sqrtm": np.array([[1 / _S3 + 1, 1 / _S3 - 1], [1 / _S3 - 1, 1 / _S3 + 1]]) / 2,
}


@pytest.mark.parametrize("x64", [True, False], ids=["x64", "x32"])
@pytest.mark.parametrize("root", ROOTS)
def test_jax_integers_are_computed_in_float64_with_x64_and_float32_without(root, x64):
    f = ROOTS[root][0]
    with jax.enable_x64(x64):
        a = jnp.asarray(SMALL_INTEGER_MATRIX)
        assert jnp.issubdtype(a.dtype, jnp.integer)
        for fn in (functools.partial(f, method=ACCURATE), jax.jit(functools.partial(f, method=ACCURATE))):
            y = fn(a)
            assert y.dtype == (jnp.float64 if x64 else jnp.float32)
            tol = 4 * float(jnp.finfo(y.dtype).eps) * np.abs(EXACT_ROOTS[root]).max()
            np.testing.assert_allclose(np.asarray(y, dtype=np.float64), EXACT_ROOTS[root], rtol=0, atol=tol)


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("name", [n for n in JAX_DTYPE_NAMES if hasattr(jnp, n)])
def test_jax_every_dtype_is_computed_by_the_dtype_rules_or_refused(name, root):
    f = ROOTS[root][0]
    dtype = jnp.dtype(getattr(jnp, name))
    # int2 holds -2 to 1 only: the identity there.
    small = jnp.issubdtype(dtype, jnp.integer) and jnp.iinfo(dtype).max < 2
    a = jnp.asarray(np.eye(2, dtype=int) if small else SMALL_INTEGER_MATRIX).astype(dtype)
    if (name in ("bfloat16", "float16", "float32", "float64", "complex64", "complex128")
            or jnp.issubdtype(dtype, jnp.integer)):
        y = f(a, ACCURATE)
        expected_dtype = jnp.dtype(jnp.float64) if jnp.issubdtype(dtype, jnp.integer) else dtype
        assert y.dtype == expected_dtype
        expected = np.eye(2) if small else EXACT_ROOTS[root]
        # A few ulps: float16 and bfloat16 are computed in float32, then rounded.
        tol = 4 * float(jnp.finfo(expected_dtype).eps) * np.abs(expected).max()
        np.testing.assert_allclose(np.asarray(y, dtype=np.complex128), expected, rtol=0, atol=tol)
    elif name == "bool":
        with pytest.raises(TypeError, match=rf"matsqrt\.jax\.{root}: A must be real or complex floating, or "
                                            "integer; got dtype bool"):
            f(a)
    else:
        with pytest.raises(TypeError, match=rf"matsqrt\.jax\.{root}: A has dtype {name}, which matsqrt does not "
                                            "compute with"):
            f(a)


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_jax_half_precision_forward_is_computed_in_float32_without_gradients(dtype, mode):
    # The primal path (no differentiation) ran the LU in bfloat16, which XLA
    # does not have: NotImplementedError.
    def f(a):
        return mj.sqrtm(a, "mpa", degree=8), mj.inv_sqrtm(a, "mpa", degree=8)

    fn = jax.jit(f) if mode == "jit" else f
    y, z = fn(jnp.asarray([[4.0, 0.0], [0.0, 9.0]], dtype=dtype))
    assert y.dtype == z.dtype == jnp.dtype(dtype)
    tol = 2 * float(jnp.finfo(dtype).eps)
    np.testing.assert_allclose(np.asarray(y, dtype=np.float64), np.diag([2.0, 3.0]), rtol=tol, atol=0)
    np.testing.assert_allclose(np.asarray(z, dtype=np.float64), np.diag([1 / 2, 1 / 3]), rtol=tol, atol=0)


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_jax_half_precision_gradient_is_computed_in_float32(dtype, mode):
    grad = jax.grad(lambda a: mj.sqrtm(a, "mpa", degree=8).sum())
    fn = jax.jit(grad) if mode == "jit" else grad
    g = fn(jnp.asarray([[4.0, 0.0], [0.0, 9.0]], dtype=dtype))
    assert g.dtype == jnp.dtype(dtype)
    # 1 / (sqrt(l_i) + sqrt(l_j)) for a diagonal A and G = ones.
    expected = 1 / (np.array([2.0, 3.0])[:, None] + np.array([2.0, 3.0])[None, :])
    np.testing.assert_allclose(np.asarray(g, dtype=np.float64), expected, rtol=2 * float(jnp.finfo(dtype).eps))


# --- shapes (S4 of the JAX list) ---------------------------------------------

@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("root", ROOTS)
def test_jax_shapes_are_checked_with_the_core_messages(root, jit):
    f = ROOTS[root][0]
    fn = jax.jit(f) if jit else f
    with pytest.raises(ValueError, match=re.escape("A must be at least 2-D of shape (..., n, n); got shape (3,)")):
        fn(jnp.ones(3))
    with pytest.raises(ValueError, match=re.escape("A must be at least 2-D of shape (..., n, n); got shape ()")):
        fn(jnp.ones(()))
    with pytest.raises(ValueError, match=re.escape("A must be square in its last two axes; got shape (4, 2, 3)")):
        fn(jnp.ones((4, 2, 3)))


# --- second derivatives ------------------------------------------------------



def corner_squared_gradient(y):
    """dL/dY for L = Y[0, 0]^2."""
    g = np.zeros_like(y)
    g[0, 0] = 2 * y[0, 0]
    return g


WELL_CONDITIONED = np.array([[2.0, 0.5], [0.5, 1.0]])


@pytest.mark.parametrize("root", ROOTS)
def test_jax_hessian_of_the_default_method_is_that_of_the_exact_root_at_its_computed_root(root):
    # Every derivative is that of the exact root at the computed Y (as in matsqrt.torch), not
    # the derivative of the degree-5 approximation's arithmetic: within its forward error of
    # the exact Hessian, and the same whichever way it is computed.
    f = ROOTS[root][0]

    def loss(x):
        return f(x)[0, 0] ** 2

    a = jnp.asarray(WELL_CONDITIONED)
    hessian = np.asarray(jax.jit(jax.hessian(loss))(a))
    expected = central_differences(
        lambda x: exact_gradient(x, corner_squared_gradient, inverse=root == "inv_sqrtm"), WELL_CONDITIONED)
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(hessian, expected, rtol=0, atol=1e-3 * np.abs(expected).max())
    for other in (jax.hessian(loss), jax.jacrev(jax.grad(loss)), jax.jacfwd(jax.jacfwd(loss)),
                  jax.jacrev(jax.jacrev(loss))):
        np.testing.assert_allclose(np.asarray(jax.jit(other)(a)), hessian, rtol=0,
                                   atol=1e-13 * np.abs(hessian).max())


@pytest.mark.parametrize("root", ROOTS)
def test_jax_hessian_of_an_accurate_method_matches_the_exact_second_derivative(root):
    # A fixed-count Matmul runs under jit and is accurate to rounding here: the
    # Hessian is that of the exact root, checked against scipy.
    f = ROOTS[root][0]
    a = jnp.asarray(WELL_CONDITIONED)
    hessian = np.asarray(jax.hessian(lambda x: f(x, ACCURATE)[0, 0] ** 2)(a))
    expected = central_differences(
        lambda x: exact_gradient(x, corner_squared_gradient, inverse=root == "inv_sqrtm"), WELL_CONDITIONED)
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(hessian, expected, rtol=0, atol=1e-8 * np.abs(expected).max())


# --- singular matrices (S5) --------------------------------------------------

def rank_deficient_wishart(seed=3, n=5, rank=3):
    x = np.random.default_rng(seed).standard_normal((n, rank))
    return x @ x.T


def spd_with_condition(seed=11, n=8, condition=1e6):
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]
    return (q * np.logspace(0, -np.log10(condition), n)) @ q.T


SINGULAR_METHODS = {"default": {}, "mpa": dict(method="mpa"), "mtp": dict(method="mtp"),
                    "matmul-16": dict(method=ACCURATE)}


@pytest.mark.parametrize("method", SINGULAR_METHODS)
@pytest.mark.parametrize("root", ROOTS)
def test_jax_gradient_at_a_singular_matrix_is_nan_not_finite(root, method):
    # The derivative is infinite there; it was a finite 6.7e7 (matmul) or 5.5 (mpa).
    f = ROOTS[root][0]
    options = SINGULAR_METHODS[method]
    grad = jax.jit(jax.grad(lambda x: f(x, **options).sum()))
    for a in (np.diag([1.0, 0.0]), np.diag([1.0, 1e-17]), rank_deficient_wishart()):
        assert np.isnan(np.asarray(grad(jnp.asarray(a)))).all()


@pytest.mark.parametrize("root", ROOTS)
def test_jax_only_the_singular_batch_entries_get_nan(root):
    f, f_vjp = ROOTS[root]
    healthy = spd_batch(seed=2, batch=(2,), n=2)
    a = np.stack([healthy[0], np.diag([1.0, 0.0]), healthy[1]])
    grad = np.asarray(jax.jit(jax.grad(lambda x: f(x, "mpa", degree=10).sum()))(jnp.asarray(a)))
    assert np.isnan(grad[1]).all()
    expected = f_vjp(healthy, "mpa", degree=10)[1](np.ones_like(healthy))
    np.testing.assert_allclose(grad[[0, 2]], expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_jax_gradient_near_but_not_at_a_singular_matrix_is_the_exact_one():
    # diag(1, 1e-3): Daleckii-Krein, G = ones: dL/dA_ij = 1 / (sqrt(l_i) + sqrt(l_j)).
    lam = np.array([1.0, 1e-3])
    a = jnp.asarray(np.diag(lam))

    def daleckii_krein(roots):
        return 1 / (roots[:, None] + roots[None, :])

    grad = np.asarray(jax.jit(jax.grad(lambda x: mj.sqrtm(x, ACCURATE).sum()))(a))
    np.testing.assert_allclose(grad, daleckii_krein(np.sqrt(lam)), rtol=1e-12)
    # The default degree-5 Padé is inaccurate at condition number 1e3, but its
    # gradient is finite and exactly the derivative at the root it computed.
    y, pullback = jax.vjp(mj.sqrtm, a)
    grad = np.asarray(pullback(jnp.ones_like(y))[0])
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, daleckii_krein(np.diag(np.asarray(y))), rtol=1e-12)


def test_jax_numerical_singularity_flags_singular_matrices_and_only_those():
    flagged = [np.diag([1.0, 0.0]), np.diag([1.0, 1e-17]), rank_deficient_wishart(), np.zeros((3, 3))]
    kept = [np.diag([1.0, 1e-3]), spd_with_condition(), np.eye(4)]
    assert np.linalg.cond(kept[1]) == pytest.approx(1e6, rel=1e-6)
    for a in flagged:
        assert bool(jax.jit(mj._numerically_singular)(jnp.asarray(a)).all())
    for a in kept:
        assert not bool(jax.jit(mj._numerically_singular)(jnp.asarray(a)).any())
    # Batched, under vmap too.
    batch = jnp.asarray(np.stack([np.diag([1.0, 0.0]), np.diag([1.0, 1e-3])]))
    assert np.asarray(jax.vmap(mj._numerically_singular)(batch)).ravel().tolist() == [True, False]
