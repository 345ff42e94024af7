"""Public-boundary behaviour: dtypes, shapes, errors, backends, no mutation."""

import numpy as np
import pytest
from array_api_compat import array_namespace

import matsqrt

FORWARDS = [matsqrt.sqrtm, matsqrt.inv_sqrtm]
VJPS = [matsqrt.sqrtm_vjp, matsqrt.inv_sqrtm_vjp]
SPD = np.array([[2.0, 0.5], [0.5, 1.0]])


def _all_outputs(backend, a):
    """Every public function's output on ``a``, each with its name."""
    x = backend.asarray(a)
    out = {f.__name__: f(x) for f in FORWARDS}
    for f in VJPS:
        y, vjp = f(x)
        out[f.__name__] = y
        out[f.__name__ + ".grad"] = vjp(x)
    out["solve_lyapunov"] = matsqrt.solve_lyapunov(x, x)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_dtypes_are_kept_and_results_stay_in_the_library(backend, dtype):
    a = backend.asarray(SPD, dtype=getattr(np, dtype))
    for name, out in _all_outputs(backend, backend.to_numpy(a)).items():
        assert array_namespace(out) is array_namespace(a), name
        assert out.dtype == a.dtype, name


def test_integers_are_computed_in_float64(backend):
    a = backend.asarray(np.array([[4, 0], [0, 9]], dtype=np.int64))
    y = matsqrt.sqrtm(a, "mpa", degree=12)
    assert y.dtype == backend.xp.float64
    # Degree 12 evaluates the Pade pair in the monomial basis, which amplifies rounding:
    # 1.4e-13 on CuPy (cuBLAS, H100), less on NumPy.
    np.testing.assert_allclose(backend.to_numpy(y), np.diag([2.0, 3.0]), rtol=3e-13)


def test_float16_is_computed_in_float32_and_returned_as_float16():
    a = np.array([[4.0, 0.0], [0.0, 9.0]], dtype=np.float16)
    y = matsqrt.sqrtm(a, "mpa", degree=12)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, matsqrt.sqrtm(a.astype(np.float32), "mpa", degree=12).astype(np.float16))
    _, vjp = matsqrt.sqrtm_vjp(a)
    assert vjp(np.eye(2, dtype=np.float16)).dtype == np.float16


def test_boolean_raises_type_error(backend):
    a = backend.asarray(np.eye(2).astype(bool))
    for f in FORWARDS + VJPS:
        with pytest.raises(TypeError, match="real or complex floating, or integer"):
            f(a)
    with pytest.raises(TypeError):
        matsqrt.solve_lyapunov(a, a)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_dtypes_are_kept(backend, dtype):
    a = backend.asarray((np.diag([4.0, 9.0]) + 0j).astype(dtype))
    for f, expected in ((matsqrt.sqrtm, [2.0, 3.0]), (matsqrt.inv_sqrtm, [0.5, 1 / 3])):
        y = f(a)
        assert y.dtype == a.dtype
        np.testing.assert_allclose(np.diag(backend.to_numpy(y)), expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (), (2, 3), (4, 2, 3)])
def test_non_square_or_not_2d_raises_value_error(backend, shape):
    a = backend.asarray(np.ones(shape))
    for f in FORWARDS + VJPS:
        with pytest.raises(ValueError, match="square|2-D"):
            f(a)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises_unless_unchecked(backend, bad):
    a = SPD.copy()
    a[0, 1] = bad
    for f in FORWARDS + VJPS:
        with pytest.raises(ValueError, match="NaN or infinity"):
            f(backend.asarray(a))
    out = backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), "mpa", check_finite=False))
    assert not np.isfinite(out).all()


@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 0), (0, 0), (3, 0, 2, 2)])
def test_empty_inputs_give_empty_outputs(backend, shape):
    outputs = _all_outputs(backend, np.zeros(shape))
    for name, out in outputs.items():
        assert tuple(out.shape) == shape, name


def test_zero_matrix_sqrt_is_zero_and_inverse_raises(backend):
    a = np.stack([SPD, np.zeros((2, 2))])
    y = backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), "mpa", degree=12))
    np.testing.assert_array_equal(y[1], 0.0)
    for f in (matsqrt.inv_sqrtm, matsqrt.inv_sqrtm_vjp):
        with pytest.raises(ValueError, match="zero matrix"):
            f(backend.asarray(a))


def test_inputs_are_not_modified(backend):
    # numpy_readonly makes any write fail; the comparison covers every backend.
    a = np.stack([SPD, 3.0 * SPD])
    g = np.ones_like(a)
    x, gx = backend.asarray(a), backend.asarray(g)
    for f in FORWARDS:
        f(x)
    for f in VJPS:
        f(x)[1](gx)
    matsqrt.solve_lyapunov(x, gx)
    np.testing.assert_array_equal(backend.to_numpy(x), a)
    np.testing.assert_array_equal(backend.to_numpy(gx), g)


def test_nested_lists_are_accepted_as_numpy():
    y = matsqrt.sqrtm([[4.0, 0.0], [0.0, 9.0]], "mpa", degree=12)
    assert isinstance(y, np.ndarray)
    np.testing.assert_allclose(y, np.diag([2.0, 3.0]), rtol=1e-13)


def test_explicit_namespace_is_used():
    import array_api_strict as xps

    y = matsqrt.sqrtm(xps.asarray(SPD), xp=xps)
    assert array_namespace(y) is xps


@pytest.mark.parametrize("method, error", [("newton", ValueError), (3, TypeError), (None, TypeError)])
def test_unknown_methods_raise(method, error):
    with pytest.raises(error):
        matsqrt.sqrtm(SPD, method)


@pytest.mark.parametrize("degree", [0, -2, 2.5])
def test_bad_degrees_raise_value_error(degree):
    for method in ("mtp", "mpa"):
        with pytest.raises(ValueError, match="degree"):
            matsqrt.sqrtm(SPD, method, degree=degree)


def test_batch_of_any_shape(backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 1, 4, 6))
    a = x @ np.swapaxes(x, -1, -2) + np.eye(4)
    outputs = _all_outputs(backend, a)
    for name, out in outputs.items():
        assert tuple(out.shape) == a.shape, name
