"""Measuring how many n^3 matrix products (and factorisations) a computation performs.

The benchmark reports the cost of every method in units of one ``n x n`` by
``n x n`` product per matrix of the batch.  Rather than trusting documented
costs, it runs the call once on :class:`CountingArray`, a NumPy ``ndarray``
subclass whose ``__array_ufunc__`` tallies every ``np.matmul`` (the ``@``
operator included) before deferring to NumPy.  ``array_api_compat`` treats the
subclass as a NumPy array (it tests ``isinstance(x, np.ndarray)``), and NumPy
ufuncs return the subclass, so the tally follows the data through any
array-API code.

Linear solves and eigendecompositions are not ufunc calls on the caller's
arrays: NumPy (and ``array_api_compat.numpy.linalg.solve``) first convert the
operands to plain ``ndarray`` and then call the gufuncs of
``numpy.linalg._umath_linalg``.  Those gufuncs are therefore wrapped for the
duration of the count, which catches every route into LAPACK that NumPy has.

PyTorch code is counted the same way with a ``TorchFunctionMode``
(:func:`count_torch_ops`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["OpCount", "CountingArray", "count_numpy_ops", "count_torch_ops"]

# numpy.linalg gufunc name -> reported category.
_LINALG_KINDS = {
    "solve": "solve",
    "solve1": "solve",
    "inv": "inv",
    "eigh_lo": "eigh",
    "eigh_up": "eigh",
    "eigvalsh_lo": "eigh",
    "eigvalsh_up": "eigh",
    "cholesky_lo": "cholesky",
    "cholesky_up": "cholesky",
    "eig": "eig",
    "eigvals": "eig",
    "svd": "svd",
    "svd_f": "svd",
    "svd_s": "svd",
    "qr_r_raw": "qr",
    "qr_reduced": "qr",
    "qr_complete": "qr",
    "det": "det",
    "slogdet": "det",
    "lstsq": "lstsq",
}


@dataclass
class OpCount:
    """Tally of one counted call, normalised per matrix of the batch.

    Attributes
    ----------
    n : int
        Matrix size the products are measured against.
    batch : int
        Number of matrices in the input batch.
    matmul_calls : int
        Number of (batched) matrix-multiply calls, whatever their shapes.
    work : float
        Multiply-adds of all products, ``sum(batch_i * m_i * k_i * p_i)``.
    linalg : dict
        Number of matrices factorised, per category (``"solve"``,
        ``"eigh"``, ...), summed over calls.
    timed : bool
        Whether :attr:`seconds` is filled.
    seconds : dict
        Wall time spent in each intercepted operation (``"matmul"``,
        ``"solve"``, ``"multiply"``, ``"add.reduce"``, ...), when ``timed``.
    """

    n: int
    batch: int
    matmul_calls: int = 0
    work: float = 0.0
    linalg: dict[str, float] = field(default_factory=dict)
    timed: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def products(self) -> float:
        """Matrix products in units of one ``n x n x n`` product per matrix."""
        return self.work / (max(self.batch, 1) * max(self.n, 1) ** 3)

    def per_matrix(self, kind: str) -> float:
        """Factorisations of ``kind`` per matrix of the batch (0 if none)."""
        return self.linalg.get(kind, 0.0) / max(self.batch, 1)

    def add_matmul(self, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
        # Vectors take part as 1 x k or k x 1, as in np.matmul's own promotion.
        a_shape = (1, *a_shape) if len(a_shape) == 1 else tuple(a_shape)
        b_shape = (*b_shape, 1) if len(b_shape) == 1 else tuple(b_shape)
        batch = math.prod(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
        self.matmul_calls += 1
        self.work += float(batch) * a_shape[-2] * a_shape[-1] * b_shape[-1]

    def add_linalg(self, kind: str, shape: tuple[int, ...]) -> None:
        self.linalg[kind] = self.linalg.get(kind, 0.0) + float(math.prod(shape[:-2]))

    def add_time(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def _run(count: OpCount | None, name: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, its wall time added to ``count`` under ``name`` when timing."""
    if count is None or not count.timed:
        return call(*args, **kwargs)
    start = time.perf_counter()
    try:
        return call(*args, **kwargs)
    finally:
        count.add_time(name, time.perf_counter() - start)


_ACTIVE: list[OpCount] = []


def _plain(x: Any) -> Any:
    return x.view(np.ndarray) if isinstance(x, CountingArray) else x


def _wrap(x: Any) -> Any:
    return x.view(CountingArray) if type(x) is np.ndarray else x


class CountingArray(np.ndarray):
    """An ``ndarray`` that reports its ``np.matmul`` calls to the active count."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        count = _ACTIVE[-1] if _ACTIVE else None
        if ufunc is np.matmul and method == "__call__" and count is not None:
            count.add_matmul(np.shape(inputs[0]), np.shape(inputs[1]))
        inputs = tuple(_plain(x) for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(x) for x in kwargs["out"])
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        result = _run(count, name, getattr(ufunc, method), *inputs, **kwargs)
        if isinstance(result, tuple):
            return tuple(_wrap(x) for x in result)
        return _wrap(result)


def _counting_gufunc(gufunc: Any, kind: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        count = _ACTIVE[-1] if _ACTIVE else None
        if count is not None:
            count.add_linalg(kind, np.shape(args[0]))
        return _run(count, kind, gufunc, *args, **kwargs)

    return call


@contextlib.contextmanager
def count_numpy_ops(n: int, batch: int, *, timed: bool = False) -> Iterator[OpCount]:
    """Count products and factorisations done on :class:`CountingArray` inputs.

    Parameters
    ----------
    n, batch : int
        The matrix size and batch count the tally is normalised by.
    timed : bool, default False
        Also time every intercepted operation (a profile by operation; the
        interception itself costs a few microseconds per call).

    Yields
    ------
    OpCount
        Filled in while the block runs.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.eye(4).view(CountingArray)
    >>> with count_numpy_ops(4, 1) as count:
    ...     _ = a @ a @ a
    >>> count.products
    2.0
    """
    count = OpCount(n=n, batch=batch, timed=timed)
    from numpy.linalg import _umath_linalg

    originals = {name: getattr(_umath_linalg, name) for name in _LINALG_KINDS if hasattr(_umath_linalg, name)}
    _ACTIVE.append(count)
    try:
        for name, gufunc in originals.items():
            setattr(_umath_linalg, name, _counting_gufunc(gufunc, _LINALG_KINDS[name]))
        yield count
    finally:
        for name, gufunc in originals.items():
            setattr(_umath_linalg, name, gufunc)
        _ACTIVE.pop()


_TORCH_KINDS = {"linalg_solve": "solve", "solve": "solve", "linalg_eigh": "eigh", "linalg_inv": "inv",
                "_linalg_eigh": "eigh"}
_TORCH_MATMULS = {"matmul", "__matmul__", "__rmatmul__", "bmm", "mm"}


@contextlib.contextmanager
def count_torch_ops(n: int, batch: int, *, timed: bool = False, autograd: bool = False) -> Iterator[OpCount]:
    """Count products and factorisations of PyTorch code run directly in the block.

    Code that autograd runs (a ``backward`` called by the engine) is not seen
    by a ``TorchFunctionMode``; call the backward's function directly instead,
    or pass ``autograd=True``: the count is then taken below autograd (a
    ``TorchDispatchMode``), where the engine's own backward formulas are seen
    too, as the ``mm``/``bmm`` kernels a product dispatches to.  ``timed``
    as in :func:`count_numpy_ops` (CPU tensors: on a GPU the times would be
    those of asynchronous launches).
    """
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    count = OpCount(n=n, batch=batch, timed=timed)

    def counted(name, func, args, kwargs):
        if name in _TORCH_MATMULS:
            count.add_matmul(tuple(args[0].shape), tuple(args[1].shape))
            name = "matmul"
        elif name in _TORCH_KINDS:
            count.add_linalg(_TORCH_KINDS[name], tuple(args[0].shape))
            name = _TORCH_KINDS[name]
        return _run(count, name, func, *args, **(kwargs or {}))

    class _Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return counted(getattr(func, "__name__", "") or str(func), func, args, kwargs)

    class _Dispatch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return counted(func.overloadpacket.__name__, func, args, kwargs)

    with _Dispatch() if autograd else _Mode():
        yield count
