"""Input validation done once, at the public boundary."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device

__all__ = ["Prepared", "prepare", "namespace_of"]


def namespace_of(*arrays: Any, xp: Any = None) -> tuple[Any, tuple[Any, ...]]:
    """The array namespace of ``arrays`` and the arrays as arrays of it.

    Objects that belong to no array library (lists, tuples, scalars) are
    converted with :func:`numpy.asarray`, as ``scipy.linalg`` does.
    """
    if xp is None:
        try:
            xp = array_namespace(*arrays)
        except TypeError:
            arrays = tuple(np.asarray(a) for a in arrays)
            xp = array_namespace(*arrays)
    else:
        arrays = tuple(a if hasattr(a, "shape") else xp.asarray(a) for a in arrays)
    return xp, arrays


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
    """

    def __init__(self, array: Any, dtype: Any, empty: bool):
        self.array = array
        self.dtype = dtype
        self.empty = empty

    def result(self, xp: Any, value: Any) -> Any:
        """``value`` converted to the caller's dtype."""
        return value if value.dtype == self.dtype else xp.astype(value, self.dtype)

    def zeros(self, xp: Any) -> Any:
        """An array of zeros with the input's shape, dtype and device."""
        return xp.zeros(self.array.shape, dtype=self.dtype, device=array_device(self.array))


def prepare(a: Any, xp: Any, *, name: str = "A", check_finite: bool = True) -> Prepared:
    """Check that ``a`` is a finite real ``(..., n, n)`` array and pick its dtypes.

    Integers are computed in float64; float16 is computed in float32 and
    returned as float16; float32 and float64 are kept.  Booleans and complex
    numbers raise :class:`TypeError`.
    """
    if a.ndim < 2:
        raise ValueError(f"{name} must be at least 2-D of shape (..., n, n); got shape {tuple(a.shape)}")
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name} must be square in its last two axes; got shape {tuple(a.shape)}")
    dtype = a.dtype
    if xp.isdtype(dtype, "bool") or xp.isdtype(dtype, "complex floating"):
        raise TypeError(f"{name} must be real floating or integer; got dtype {dtype}")
    if xp.isdtype(dtype, "integral"):
        dtype = work = xp.float64
    elif dtype == getattr(xp, "float16", None):
        work = xp.float32
    elif xp.isdtype(dtype, "real floating"):
        work = dtype
    else:
        raise TypeError(f"{name} must be real floating or integer; got dtype {dtype}")
    array = a if a.dtype == work else xp.astype(a, work)
    empty = math.prod(array.shape) == 0
    # One host synchronisation per call, before any iteration starts.
    if check_finite and not empty and not bool(xp.all(xp.isfinite(array))):
        raise ValueError(f"{name} must not contain NaN or infinity (use check_finite=False to skip this check)")
    return Prepared(array, dtype, empty)
