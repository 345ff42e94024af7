"""The fused passes (one CuPy kernel each) equal their formulas, on every backend."""

from __future__ import annotations

import numpy as np
import pytest

from matsqrt import _fused

RNG = np.random.default_rng(11)


def _stack(dtype, shape=(3, 2, 5, 5)):
    return RNG.standard_normal(shape).astype(dtype)


def _close(got, want, dtype, ulps=8):
    # elementwise passes round once or twice; the 5 x 5 products sum five terms (ulps=32 for those)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=ulps * eps,
                               atol=ulps * eps * np.abs(want).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_passes(backend, dtype):
    xp = backend.xp
    x, y, z = _stack(dtype), _stack(dtype), _stack(dtype)
    eye = np.eye(5)
    x64, y64, z64 = (v.astype(np.float64) for v in (x, y, z))
    X, Y, Z = backend.asarray(x), backend.asarray(y), backend.asarray(z)

    got = _fused.identity_minus(X, 1.25, -0.75, xp)
    assert got.dtype == X.dtype and tuple(got.shape) == x.shape
    _close(backend.to_numpy(got), 1.25 * eye + 0.75 * x64, dtype)
    # a transposed view is read by its logical index
    got = _fused.identity_minus(xp.matrix_transpose(X), 2.0, 1.0, xp)
    _close(backend.to_numpy(got), 2.0 * eye - np.swapaxes(x64, -1, -2), dtype)
    w = _stack(dtype)
    got = _fused.sign_c_block(X, Y, Z, backend.asarray(w), 0.5, xp)
    w64 = w.astype(np.float64)
    _close(backend.to_numpy(got), x64 @ y64 - 0.5 * (z64 @ w64 - w64 @ z64), dtype, ulps=32)
    _close(backend.to_numpy(_fused.squared_deviation(X, xp)), (x64 - eye) ** 2, dtype)

    s = np.abs(_stack(dtype, (3, 2, 1, 1))) + 0.5
    s[0, 0] = 0.0  # a zero scale is read as 1
    p, q = (1.0, -0.5, 0.25), (2.0, 0.75, -0.125)
    xs, num, den = _fused.pade_start(X, backend.asarray(s), p, q, xp)
    x_shift = eye - x64 / np.where(s > 0, s, 1.0)
    _close(backend.to_numpy(xs), x_shift, dtype)
    _close(backend.to_numpy(num), p[0] * eye + p[1] * x_shift, dtype)
    _close(backend.to_numpy(den), q[0] * eye + q[1] * x_shift, dtype)
    num2, den2 = _fused.pade_accumulate(Y, num, den, p[2], q[2], xp)
    _close(backend.to_numpy(num2), p[0] * eye + p[1] * x_shift + p[2] * y64, dtype)
    _close(backend.to_numpy(den2), q[0] * eye + q[1] * x_shift + q[2] * y64, dtype)


@pytest.mark.parametrize("dtype, exponent", [(np.float32, 18), (np.float64, 150)])
def test_frobenius_norm_is_safe_at_the_dtype_limits(backend, dtype, exponent):
    x = _stack(dtype)
    x[0, 0] = 0.0  # a zero matrix has norm 0
    want = np.linalg.norm(x.astype(np.float64), axis=(-2, -1), keepdims=True)
    for scale in (1.0, 10.0**exponent, 10.0**-exponent):
        got = _fused.frobenius_norm(backend.asarray((x * scale).astype(dtype)), backend.xp)
        assert tuple(got.shape) == (3, 2, 1, 1) and got.dtype == backend.asarray(x).dtype
        np.testing.assert_allclose(backend.to_numpy(got) / scale, want, rtol=8 * np.finfo(dtype).eps)


def test_frobenius_norm_propagates_nan(backend):
    x = _stack(np.float64)
    x[1, 0, 2, 3] = np.nan
    got = backend.to_numpy(_fused.frobenius_norm(backend.asarray(x), backend.xp))
    assert np.isnan(got[1, 0, 0, 0]) and np.isfinite(np.delete(got.ravel(), 2)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_with_scale_and_accumulator(backend, dtype):
    xp = backend.xp
    x, y, z = _stack(dtype), _stack(dtype), _stack(dtype)
    x64, y64, z64 = (v.astype(np.float64) for v in (x, y, z))
    X, Y = backend.asarray(x), backend.asarray(y)
    got = _fused.matmul(X, Y, xp)
    assert got.dtype == X.dtype and tuple(got.shape) == x.shape
    _close(backend.to_numpy(got), x64 @ y64, dtype, ulps=32)
    got = _fused.matmul(X, Y, xp, alpha=-0.75, acc=backend.asarray(z))
    _close(backend.to_numpy(got), -0.75 * (x64 @ y64) + z64, dtype, ulps=32)
    # a transposed view, a broadcast operand and an accumulator that is an operand take the general path
    got = _fused.matmul(xp.matrix_transpose(X), Y, xp)
    _close(backend.to_numpy(got), np.swapaxes(x64, -1, -2) @ y64, dtype, ulps=32)
    eye = backend.asarray(np.eye(5, dtype=dtype))
    _close(backend.to_numpy(_fused.matmul(X, eye, xp)), x64, dtype, ulps=32)
    X2 = backend.asarray(x)
    _close(backend.to_numpy(_fused.matmul(X2, Y, xp, alpha=2.0, acc=X2)), 2 * (x64 @ y64) + x64, dtype, ulps=32)
    # the operands are left alone
    np.testing.assert_array_equal(backend.to_numpy(X), x)
    np.testing.assert_array_equal(backend.to_numpy(Y), y)


def test_matmul_of_empty_and_single_matrices(backend):
    xp = backend.xp
    empty = backend.asarray(np.zeros((0, 3, 3)))
    assert tuple(_fused.matmul(empty, empty, xp).shape) == (0, 3, 3)
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[0.5, -1.0], [2.0, 0.0]])
    np.testing.assert_allclose(backend.to_numpy(_fused.matmul(backend.asarray(a), backend.asarray(b), xp)), a @ b)


def test_matmul_leaves_cublas_device_pointer_mode_alone(backend):
    if backend.name != "cupy":
        pytest.skip("CuPy's cuBLAS handle")
    import cupy
    from cupy_backends.cuda.libs import cublas

    handle = cupy.cuda.device.get_cublas_handle()
    x, y = _stack(np.float64), _stack(np.float64)
    cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_DEVICE)
    try:
        got = _fused.matmul(backend.asarray(x), backend.asarray(y), backend.xp, alpha=0.5)
        assert cublas.getPointerMode(handle) == cublas.CUBLAS_POINTER_MODE_DEVICE
    finally:
        cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_HOST)
    _close(backend.to_numpy(got), 0.5 * (x @ y), np.float64, ulps=32)
