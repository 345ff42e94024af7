"""Dask arrays at the public boundary: one lazy task per block of matrices.

A dask array given to :func:`matsqrt.sqrtm` and its siblings is computed block
by block with the in-memory implementation (``map_blocks``), so a batch far
larger than one machine's memory runs wherever dask schedules it: threads, a
``distributed`` cluster of processes or of machines.  Blocks are whatever the
dask array holds: NumPy arrays, or CuPy arrays for ``dask`` + CuPy.

Nothing here imports dask until a dask array arrives:
:func:`array_api_compat.is_dask_array` only looks at ``sys.modules``, so
``import matsqrt`` stays free of dask.

Rules:

- Batch axes may be chunked freely; the last two axes are rechunked whole
  (each task needs complete matrices).  Batch chunks are kept.
- Shapes, dtypes, methods and Lyapunov settings are validated at call time
  (the last three by running the in-memory function on an empty batch of the
  same matrix size); the errors are those of NumPy input.  Values (NaN, a zero matrix for the
  inverse root, non-convergence of the backward) are checked per block when
  the result is computed, and raise then.
- Nothing is computed here: the results are lazy dask arrays.
- ``vjp(G)`` recomputes each block's forward next to its backward.  The
  forward costs a few matrix products against the dozens of the Lyapunov
  iteration, and this way a task depends only on its blocks of ``A`` and
  ``G`` and no per-block state is kept on the workers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

from array_api_compat import array_namespace, is_dask_array, is_dask_namespace

from ._validate import prepare

__all__ = ["dask_forward", "dask_vjp", "DaskRootVJP"]

_F = TypeVar("_F", bound=Callable[..., Any])  # the decorators keep the signature for type checkers


def dask_forward(func: _F) -> _F:
    """Let the forward ``func(A, ...)`` take a dask array ``A`` and return a lazy one."""

    @functools.wraps(func)
    def public(A: Any, *args: Any, **kwargs: Any) -> Any:
        if is_dask_array(A):
            return _lazy_forward(public, A, args, kwargs)
        return func(A, *args, **kwargs)

    return public  # type: ignore[return-value]


def dask_vjp(func: _F) -> _F:
    """Let ``func(A, ...) -> (Y, vjp)`` take a dask array ``A``; ``Y`` and ``vjp(G)`` are lazy."""

    @functools.wraps(func)
    def public(A: Any, *args: Any, **kwargs: Any) -> Any:
        if is_dask_array(A):
            return _lazy_vjp(public, A, args, kwargs)
        return func(A, *args, **kwargs)

    return public  # type: ignore[return-value]


# The functions handed to the workers are the public, decorated ones (they
# pickle by reference, as ``matsqrt._api.sqrtm``); a block is never a dask
# array, so there they run the in-memory implementation.


def _real_as_promised(a: Any, y: Any) -> Any:
    """``y``, or :class:`ValueError` where a block of real ``a`` has a complex principal root: the dtype of a
    lazy result is fixed before any block is computed."""
    import numpy as np

    if np.iscomplexobj(y) and not np.iscomplexobj(a):
        raise ValueError("A has a negative real eigenvalue in this block, so its principal square root is complex; "
                         "a dask array's result dtype is fixed in advance: pass A.astype(complex) for complex roots")
    return y


def _call(func: Callable[..., Any], args: tuple, kwargs: dict, a: Any) -> Any:
    return _real_as_promised(a, func(a, *args, **kwargs))


def _call_root(func: Callable[..., Any], args: tuple, kwargs: dict, a: Any) -> Any:
    return _real_as_promised(a, func(a, *args, **kwargs)[0])


def _call_grad(func: Callable[..., Any], args: tuple, kwargs: dict, a: Any, g: Any) -> Any:
    return func(a, *args, **kwargs)[1](g)


def _block_kwargs(kwargs: dict) -> dict:
    # An explicit dask namespace describes the whole array, not its blocks.
    if kwargs.get("xp") is not None and is_dask_namespace(kwargs["xp"]):
        return {k: v for k, v in kwargs.items() if k != "xp"}
    return kwargs


def _whole_matrices(a: Any) -> Any:
    """``a`` validated as a batch of square matrices, with its last two axes in one chunk each."""
    if a.ndim >= 2 and any(math.isnan(size) for size in a.shape[-2:]):
        raise ValueError(
            "matsqrt needs the matrix size of a dask array; its last two axes have unknown sizes "
            "(call A.compute_chunk_sizes() first)"
        )
    # Shape and dtype checks on the lazy array itself, so errors name its real shape.
    prepare(a, array_namespace(a), check_finite=False)
    if len(a.chunks[-2]) > 1 or len(a.chunks[-1]) > 1:
        a = a.rechunk({a.ndim - 2: -1, a.ndim - 1: -1})
    return a


def _probe(a: Any) -> Any:
    """An empty batch of ``a``'s matrix size, dtype and block library."""
    import numpy as np

    # np.empty_like dispatches to the block library (CuPy) through __array_function__.
    return np.empty_like(a._meta, shape=(0, *a.shape[-2:]))


def _meta(a: Any, dtype: Any) -> Any:
    import numpy as np

    return np.empty_like(a._meta, dtype=dtype, shape=(0,) * a.ndim)


def _lazy_forward(func: Callable[..., Any], a: Any, args: tuple, kwargs: dict) -> Any:
    if kwargs.get("return_info"):
        raise NotImplementedError(
            "return_info is not available for dask arrays: the result is lazy, and each block raises "
            "ConvergenceError (or ValueError) when its iteration fails, at compute time"
        )
    kwargs = _block_kwargs(kwargs)
    a = _whole_matrices(a)
    dtype = func(_probe(a), *args, **kwargs).dtype
    return a.map_blocks(
        functools.partial(_call, func, args, kwargs),
        dtype=dtype,
        meta=_meta(a, dtype),
        token=f"matsqrt-{func.__name__}",
    )


def _lazy_vjp(func: Callable[..., Any], a: Any, args: tuple, kwargs: dict) -> tuple[Any, DaskRootVJP]:
    kwargs = _block_kwargs(kwargs)
    a = _whole_matrices(a)
    root, probe_vjp = func(_probe(a), *args, **kwargs)
    y = a.map_blocks(
        functools.partial(_call_root, func, args, kwargs),
        dtype=root.dtype,
        meta=_meta(a, root.dtype),
        token=f"matsqrt-{func.__name__}-root",
    )
    return y, DaskRootVJP(func, a, args, kwargs, root.dtype, probe_vjp.maxiter, probe_vjp.tol)


class DaskRootVJP:
    """The vector-Jacobian product of ``A -> A^(+-1/2)`` for a dask array ``A``.

    ``vjp(G)`` returns ``dL/dA`` as a lazy dask array chunked like ``A``.
    ``G`` may be a dask array (rechunked to ``A``'s chunks) or an in-memory
    array.  ``maxiter`` and ``tol`` are the Lyapunov settings every block uses.
    """

    def __init__(self, func: Callable[..., Any], a: Any, args: tuple, kwargs: dict, dtype: Any,
                 maxiter: int, tol: float):
        self._func = func
        self._a = a
        self._args = args
        self._kwargs = kwargs
        self._dtype = dtype
        self.maxiter = maxiter
        self.tol = tol

    def __call__(self, G: Any, *, return_info: bool = False) -> Any:
        import dask.array as da

        if return_info:
            raise NotImplementedError(
                "return_info is not available for dask arrays: each block raises ConvergenceError "
                "when its iteration fails, at compute time"
            )
        a = self._a
        if not hasattr(G, "shape"):
            import numpy as np

            G = np.asarray(G)
        if tuple(G.shape) != tuple(a.shape):
            raise ValueError(f"G must have the shape of A, {tuple(a.shape)}; got {tuple(G.shape)}")
        g = G.rechunk(a.chunks) if is_dask_array(G) else da.from_array(G, chunks=a.chunks)
        return da.map_blocks(
            functools.partial(_call_grad, self._func, self._args, self._kwargs),
            a,
            g,
            dtype=self._dtype,
            meta=_meta(a, self._dtype),
            token=f"matsqrt-{self._func.__name__}-grad",
        )
