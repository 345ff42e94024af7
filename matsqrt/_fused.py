"""The elementwise passes of the iterations, fused into one kernel each on CuPy.

Each function returns what its array-API code computes.  On CuPy it runs as
one :class:`cupy.ElementwiseKernel` or :class:`cupy.ReductionKernel` instead
of three to ten separate kernels: on a GPU, at the sizes this library is used
for, launching a kernel from Python costs more than running it (15-35 us a
launch against 2-5 us of work at 256 x 64 x 64 float32 on an H100, measured),
so the number of launches sets the speed.  The scalars are combined in double
precision and rounded once to the array's dtype.  :func:`matmul` sends the
products straight to cuBLAS, with an accumulating form for the sign step.
On every other library (NumPy, array_api_strict, JAX, PyTorch), and for
complex arrays everywhere, each function is the plain array-API expression.  Tests: ``tests/test_fused.py`` on every
backend.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from array_api_compat import device as array_device
from array_api_compat import is_cupy_namespace, is_numpy_namespace

__all__ = ["matmul", "identity_minus", "sign_c_block", "squared_deviation", "pade_start",
           "pade_accumulate", "frobenius_norm"]

# Whether index i of a C-ordered stack of n x n matrices is on a diagonal.
_DIAGONAL = "const bool diag = (i % (n * n)) % (n + 1) == 0;"


@functools.cache
def _kernels() -> dict[str, Any]:
    import cupy

    ew, red = cupy.ElementwiseKernel, cupy.ReductionKernel
    return {
        "identity_minus": ew(
            "T x, float64 s1, float64 s2, int64 n", "T y",
            _DIAGONAL + "y = (T)((diag ? s1 : 0.0) - s2 * (double)x);", "matsqrt_identity_minus"),
        "squared_deviation": ew(
            "T x, int64 n", "T d2",
            _DIAGONAL + "const double d = (double)x - (diag ? 1.0 : 0.0); d2 = (T)(d * d);",
            "matsqrt_squared_deviation"),
        "pade_start": ew(
            "T a, T s, float64 p0, float64 p1, float64 q0, float64 q1, int64 n", "T x, T num, T den",
            _DIAGONAL + "const double e = diag ? 1.0 : 0.0;"
            "const double v = e - (double)a / (s > 0 ? (double)s : 1.0);"
            "x = (T)v; num = (T)(p0 * e + p1 * v); den = (T)(q0 * e + q1 * v);", "matsqrt_pade_start"),
        "pade_accumulate": ew(
            "T power, T num0, T den0, float64 pk, float64 qk", "T num, T den",
            "num = (T)((double)num0 + pk * (double)power); den = (T)((double)den0 + qk * (double)power);",
            "matsqrt_pade_accumulate"),
        # Largest |entry| per matrix; NaN propagates.
        "abs_max": red(
            "T x", "T y", "x < 0 ? -x : x", "(a != a || a > b) ? a : b", "y = a", "0", "matsqrt_abs_max"),
        # Sums of squares in double, which cannot overflow for float32 entries.
        "root_sum_squares": red(
            "T x", "T y", "(double)x * (double)x", "a + b", "y = (T)sqrt(a)", "0", "matsqrt_root_sum_squares",
            reduce_type="double"),
        "divide_by": ew("T x, T big", "T y", "y = big > 0 ? x / big : x", "matsqrt_divide_by"),
        "times_scale": ew("T r, T big", "T y", "y = big > 0 ? big * r : r", "matsqrt_times_scale"),
    }


@functools.cache
def _cublas() -> tuple[Any, Any, dict[Any, Any]]:
    import cupy
    from cupy_backends.cuda.libs import cublas

    gemm = {np.dtype("float32"): cublas.sgemmStridedBatched, np.dtype("float64"): cublas.dgemmStridedBatched}
    return cupy, cublas, gemm


def _fast(xp: Any, x: Any) -> bool:
    """Whether the CuPy kernels apply: CuPy arrays of real floating dtype."""
    return is_cupy_namespace(xp) and x.dtype.kind == "f"


def _overlap(x: Any, y: Any) -> bool:
    return x.data.ptr < y.data.ptr + y.nbytes and y.data.ptr < x.data.ptr + x.nbytes


def _gemm_ready(gemm: dict[Any, Any], *arrays: Any) -> bool:
    # (numpy's dtype.name is a slow Python property: the dtypes are dict keys instead)
    first = arrays[0]
    return (first.ndim >= 2 and first.shape[-1] == first.shape[-2] and first.dtype in gemm
            and all(x.shape == first.shape and x.dtype == first.dtype and x.flags.c_contiguous for x in arrays))


def matmul(a: Any, b: Any, xp: Any, *, alpha: float = 1.0, acc: Any = None) -> Any:
    """``alpha (A @ B) + acc`` (``acc`` optional), batched over the leading axes.

    On CuPy, for C-contiguous stacks of square float32/float64 matrices of one
    shape, this is one ``cublas<t>gemmStridedBatched`` call that accumulates
    into ``acc`` in place (then returned), called directly: CuPy's ``@``
    costs twice the host time per call, which at small sizes is the whole
    cost of a product.  Use the returned array, not ``acc``, afterwards.
    """
    if is_cupy_namespace(xp) and _gemm_ready(_cublas()[2], a, b, *(() if acc is None else (acc,))):
        cupy, cublas, gemm = _cublas()  # cached
        out = cupy.ndarray(a.shape, a.dtype) if acc is None else acc
        n = a.shape[-1]
        batch = a.size // (n * n)
        on_current = a.data.device_id == b.data.device_id == out.data.device_id == cupy.cuda.runtime.getDevice()
        if batch and n and on_current and not (_overlap(out, a) or _overlap(out, b)):
            scalars = np.array([alpha, 0.0 if acc is None else 1.0], dtype=a.dtype)
            step = scalars.itemsize
            handle = cupy.cuda.device.get_cublas_handle()
            # alpha and beta are host scalars; the handle is CuPy's, so leave its mode as found.
            mode = cublas.getPointerMode(handle)
            if mode != cublas.CUBLAS_POINTER_MODE_HOST:
                cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_HOST)
            try:
                # Row-major A @ B is column-major B^T A^T: pass B first.
                gemm[a.dtype](handle, cublas.CUBLAS_OP_N, cublas.CUBLAS_OP_N, n, n, n, scalars.ctypes.data,
                              b.data.ptr, n, n * n, a.data.ptr, n, n * n, scalars.ctypes.data + step,
                              out.data.ptr, n, n * n, batch)
            finally:
                if mode != cublas.CUBLAS_POINTER_MODE_HOST:
                    cublas.setPointerMode(handle, mode)
            return out
    product = a @ b
    if alpha != 1.0:
        product = alpha * product
    return product if acc is None else product + acc


def _eye(x: Any, xp: Any, eye: Any) -> Any:
    return xp.eye(x.shape[-1], dtype=x.dtype, device=array_device(x)) if eye is None else eye


def identity_minus(x: Any, s1: float, s2: float, xp: Any, eye: Any = None) -> Any:
    """``s1 I - s2 X``."""
    if _fast(xp, x):
        return _kernels()["identity_minus"](x, s1, s2, x.shape[-1])
    return s1 * _eye(x, xp, eye) - s2 * x


def sign_c_block(c: Any, q: Any, b: Any, bc: Any, k: float, xp: Any) -> Any:
    """``C Q - k (B (BC) - (BC) B)``: on CuPy three products accumulated in place, no elementwise pass."""
    if _fast(xp, c):
        return matmul(bc, b, xp, alpha=k, acc=matmul(b, bc, xp, alpha=-k, acc=matmul(c, q, xp)))
    return c @ q - k * (b @ bc - bc @ b)


def squared_deviation(x: Any, xp: Any, eye: Any = None) -> Any:
    """``|X - I|**2`` elementwise (real)."""
    if _fast(xp, x):
        return _kernels()["squared_deviation"](x, x.shape[-1])
    d = x - _eye(x, xp, eye)
    if xp.isdtype(d.dtype, "complex floating"):
        d = xp.abs(d)
    return d * d


def pade_start(a: Any, s: Any, p: tuple[float, ...], q: tuple[float, ...], xp: Any) -> tuple[Any, Any, Any]:
    """``X = I - A / s`` (a zero ``s`` read as 1), ``p0 I + p1 X`` and ``q0 I + q1 X``."""
    if _fast(xp, a):
        return _kernels()["pade_start"](a, s, p[0], p[1], q[0], q[1], a.shape[-1])
    eye = _eye(a, xp, None)
    x = eye - a / xp.where(s > 0, s, xp.ones_like(s))
    return x, p[0] * eye + p[1] * x, q[0] * eye + q[1] * x


def pade_accumulate(power: Any, num: Any, den: Any, pk: float, qk: float, xp: Any) -> tuple[Any, Any]:
    """``num + pk X^k`` and ``den + qk X^k``."""
    if _fast(xp, power):
        return _kernels()["pade_accumulate"](power, num, den, pk, qk)
    return num + pk * power, den + qk * power


def frobenius_norm(a: Any, xp: Any) -> Any:
    """Per-matrix Frobenius norm, shape ``(..., 1, 1)``, safe from overflow; real for complex ``a``.

    Dividing by the largest entry first keeps the sum of squares in range for
    entries near the dtype's limits (1e+-150 in float64, 1e+-18 in float32).
    """
    if xp.isdtype(a.dtype, "complex floating"):
        a = xp.abs(a)
    if is_cupy_namespace(xp):
        # A reduction that reads a broadcast operand is slow on CuPy (index
        # arithmetic per element: 0.75 ms at 16 x 256 x 256 against 0.02 ms
        # for a plain one, H100), so the scaling is a separate pass.
        k, axes = _kernels(), dict(axis=(-2, -1), keepdims=True)
        if a.dtype.itemsize == 4:
            return k["root_sum_squares"](a, **axes)
        big = k["abs_max"](a, **axes)
        return k["times_scale"](k["root_sum_squares"](k["divide_by"](a, big), **axes), big)
    if is_numpy_namespace(xp):
        fast = numpy_sum_squares(a)
        if fast is not None:
            norm = np.sqrt(fast)[..., None, None]
            # (in a's array type: the bench's counting subclass follows the data, with the same values)
            return norm if type(a) is np.ndarray else norm.view(type(a))
    big = xp.max(xp.abs(a), axis=(-2, -1), keepdims=True)
    safe = xp.where(big > 0, big, xp.ones_like(big))
    r = a / safe
    return big * xp.sqrt(xp.sum(r * r, axis=(-2, -1), keepdims=True))


def numpy_sum_squares(a: Any, small: bool = False) -> Any:
    """``||A||_F^2`` per matrix (batch shape) of a real NumPy array in one pass (``np.einsum``), or ``None``
    where a sum overflowed, or (unless ``small``, for a quantity only compared with a larger one) is zero or
    may have lost accuracy to underflow (the caller then scales).  NumPy only: its test of the sums is a
    host decision, free there (made on a plain view, so that the tests' synchronisation detector, an
    ``ndarray`` subclass standing in for a device array, only sees the array-API code).

    Measured at 256 x 64 x 64 (2-core AMD EPYC): 0.25 ms (float32) and 0.5 ms (float64) against 0.9 and
    2.3 ms for the scaled two-pass norm.
    """
    info = np.finfo(a.dtype)
    flat = np.reshape(np.asarray(a), (*a.shape[:-2], -1))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        # einsum's own loop, not np.vecdot: vecdot is 2-3x faster alone (0.04 against 0.13 ms at 4 x 256 x 256
        # float64) but calls NumPy's BLAS, whose threads then fight SciPy's still-spinning pool after a
        # scipy.linalg call (11 ms a call, measured, in the schur path).
        total = np.einsum("...i,...i->...", flat, flat)
        if not np.all(np.isfinite(total) & (small | (total >= info.tiny / info.eps))):
            return None
    return total
