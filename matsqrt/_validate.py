"""Input validation done once, at the public boundary.

:func:`prepare` checks shape and dtype, picks the working dtype and, in one
host synchronisation, checks that every matrix is finite and whether every
matrix is Hermitian (symmetric, if real) to rounding (the input class the method table in
:mod:`matsqrt._classify` reads).
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device

from ._classify import complex_dtype, hermitian_flags

__all__ = ["Prepared", "prepare", "namespace_of", "batch_indices"]


def namespace_of(*arrays: Any, xp: Any = None) -> tuple[Any, tuple[Any, ...]]:
    """The array namespace of ``arrays`` and the arrays as arrays of it.

    Objects that belong to no array library (lists, tuples, scalars) are
    converted with :func:`numpy.asarray`, as ``scipy.linalg`` does; so are
    ``numpy.matrix`` objects, whose ``*`` and ``@`` do not broadcast.
    """
    arrays = tuple(np.asarray(a) if isinstance(a, np.matrix) else a for a in arrays)
    if xp is None:
        try:
            xp = array_namespace(*arrays)
        except TypeError:
            arrays = tuple(np.asarray(a) for a in arrays)
            xp = array_namespace(*arrays)
    else:
        arrays = tuple(a if hasattr(a, "shape") else xp.asarray(a) for a in arrays)
    return xp, arrays


# Set while a chunk of a batch runs (matsqrt._chunks): (first flat index, whole batch shape).
CHUNK: contextvars.ContextVar[tuple[int, tuple[int, ...]] | None] = contextvars.ContextVar("chunk", default=None)


def batch_indices(flags: Any, batch_shape: tuple[int, ...], limit: int = 5) -> str:
    """The batch indices where ``flags`` (shape ``batch_shape``) is true, as text for an error message.

    Inside a chunk of a larger batch the indices are those of the whole
    batch.  A host synchronisation: for error messages only.
    """
    chunk = CHUNK.get()
    if not batch_shape and chunk is None:
        return ""
    host = np.asarray(_to_host(flags), dtype=bool).reshape(batch_shape)
    if chunk is not None:
        offset, batch_shape = chunk
        flat = offset + np.flatnonzero(host)
        where = [tuple(int(i) for i in idx) for idx in zip(*np.unravel_index(flat, batch_shape), strict=True)]
    else:
        where = [tuple(int(i) for i in idx) for idx in zip(*np.nonzero(host), strict=True)]
    text = ", ".join(str(w[0]) if len(w) == 1 else str(w) for w in where[:limit])
    more = len(where) - limit
    return f" (batch index {text}{f' and {more} more' if more > 0 else ''})"


def _to_host(x: Any) -> Any:
    if hasattr(x, "get") and not isinstance(x, np.ndarray):  # CuPy
        return x.get()
    try:
        return np.from_dlpack(x)
    except Exception:
        return np.asarray(x)


class Prepared:
    """A validated square batch in its working dtype.

    Attributes
    ----------
    array : array
        The input in the dtype computations run in (never the caller's object
        when a conversion was needed; never written to in any case).
    dtype : dtype
        The dtype results are returned in.
    empty : bool
        Whether the batch holds no entries (n = 0 or a zero-sized batch axis).
    symmetric : bool or None
        Whether every matrix is Hermitian (symmetric, if real) to rounding (see
        :func:`matsqrt._classify.hermitian_flags`); ``None`` when not
        classified.
    outside : bool
        Whether some matrix lies outside the domain :func:`prepare` was
        given (``False`` when none was given).
    """

    def __init__(self, array: Any, dtype: Any, empty: bool, symmetric: bool | None = None):
        self.array = array
        self.dtype = dtype
        self.empty = empty
        self.symmetric = symmetric
        self.outside = False

    def result(self, xp: Any, value: Any) -> Any:
        """``value`` converted to the caller's dtype (its complex counterpart for a complex root of real
        input: float64 -> complex128, float32 and narrower -> complex64)."""
        dtype = self.dtype
        if xp.isdtype(value.dtype, "complex floating") and not xp.isdtype(dtype, "complex floating"):
            dtype = complex_dtype(dtype, xp) if xp.isdtype(dtype, "real floating") else value.dtype
        return value if value.dtype == dtype else xp.astype(value, dtype)

    def zeros(self, xp: Any) -> Any:
        """An array of zeros with the input's shape, dtype and device."""
        return xp.zeros(self.array.shape, dtype=self.dtype, device=array_device(self.array))


def working_dtype(dtype: Any, xp: Any, name: str = "A") -> tuple[Any, Any]:
    """``(result dtype, working dtype)`` for an input of ``dtype``.

    Integers are computed and returned in float64; float16 (and any float
    narrower than 32 bits) is computed in float32 and returned as float16;
    complex32 (PyTorch's ``chalf``) likewise in complex64; float32, float64,
    complex64 and complex128 are kept.  Booleans and types wider than
    float64/complex128 (``numpy.longdouble``, ``clongdouble``: LAPACK has no
    such precision, and computing them in double would return fewer digits
    than the dtype promises) raise :class:`TypeError`.
    """
    if xp.isdtype(dtype, "bool"):
        raise TypeError(f"{name} must be real or complex floating, or integer; got dtype {dtype}")
    if xp.isdtype(dtype, "integral"):
        return xp.float64, xp.float64
    complex_ = xp.isdtype(dtype, "complex floating")
    if complex_ or xp.isdtype(dtype, "real floating"):
        bits = xp.finfo(dtype).bits
        if bits < 32:
            return dtype, xp.complex64 if complex_ else xp.float32
        if bits > 64:
            raise TypeError(f"{name} has dtype {dtype}, wider than {'complex128' if complex_ else 'float64'}, "
                            "which matsqrt does not compute in; convert it explicitly if double precision is enough")
        return dtype, dtype
    raise TypeError(f"{name} must be real or complex floating, or integer; got dtype {dtype}")


def prepare(a: Any, xp: Any, *, name: str = "A", check_finite: bool = True, classify: bool = False,
            domain: Callable[[Any], Any] | None = None) -> Prepared:
    """Check that ``a`` is a finite real or complex ``(..., n, n)`` array and pick its dtypes.

    Dtype rules: :func:`working_dtype`.  With ``check_finite``, non-finite
    matrices raise :class:`ValueError` naming their batch indices; with
    ``classify``, :attr:`Prepared.symmetric` is set; ``domain(array)``, per
    matrix whether it lies in a method's domain, sets
    :attr:`Prepared.outside`.  All of them together cost one host
    synchronisation.
    """
    if a.ndim < 2:
        raise ValueError(f"{name} must be at least 2-D of shape (..., n, n); got shape {tuple(a.shape)}")
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name} must be square in its last two axes; got shape {tuple(a.shape)}")
    dtype, work = working_dtype(a.dtype, xp, name)
    array = a if a.dtype == work else xp.astype(a, work)
    empty = math.prod(array.shape) == 0
    if empty or not (check_finite or classify or domain is not None):
        return Prepared(array, dtype, empty, True if empty else None)
    # One host synchronisation for every check: a code per matrix, 4 for
    # non-finite, 2 for outside the domain, 1 for non-Hermitian; the largest
    # code says which tests failed somewhere (an error path then looks
    # closer).  Classifying needs finite input too (NaN is no class), so
    # finiteness is checked whenever the synchronisation happens.
    finite = xp.all(xp.isfinite(array), axis=(-2, -1))
    code = 4 * xp.astype(~finite, xp.int8)
    if classify:
        code = code + xp.astype(~hermitian_flags(array, xp), xp.int8)
    if domain is not None:
        code = code + 2 * xp.astype(~domain(array), xp.int8)
    worst = int(xp.max(code))
    if worst >= 4:
        where = batch_indices(~finite, tuple(array.shape[:-2]))
        skip = " (check_finite=False skips this check where no input class is needed)"
        raise ValueError(f"{name} must not contain NaN or infinity{where}{skip}")
    symmetric = None
    if classify:
        symmetric = worst == 0 if worst < 2 else bool(xp.all(hermitian_flags(array, xp)))
    prepared = Prepared(array, dtype, empty, symmetric)
    prepared.outside = worst >= 2
    return prepared
