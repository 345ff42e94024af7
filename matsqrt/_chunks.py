"""Batches of small matrices on NumPy: cache-sized chunks, run on a thread pool.

NumPy multiplies a stack of small matrices one matrix after another on one
core (OpenBLAS does not thread a 64 x 64 product), and every elementwise pass
streams the whole stack through memory.  Cut into chunks of about
:data:`CHUNK_BYTES` per array, the working set of an iteration stays in the
cache, and the chunks run in parallel threads: NumPy releases the GIL in its
products and elementwise loops.  Measured on this project's 2-core AMD EPYC
(NumPy 2.4, OpenBLAS, float32, paper-mpa forward and backward at
256 x 64 x 64): 125 ms whole, 80 ms in 8 chunks one after another, 44 ms in
8 chunks on 2 threads (the PyTorch MPA-Lya: 73 ms with 2 threads); matmul
178 ms whole, 77 ms chunked.  Not chunked, because measured slower there:
``n = 128`` (paper-mpa 166 ms whole, 248 ms chunked: OpenBLAS threads
those products itself, and two pools oversubscribe two cores).

The eigendecomposition runs in its own chunks (:func:`eigh_slices`): two
per thread, of any ``n``, with the BLAS limited to one thread while they run
(threadpoolctl).  With the BLAS threads left on, chunks were slower than
the whole batch (69 ms against 137 ms at 256 x 64 x 64, 2026-11-24: two
pools oversubscribe two cores); limited, they are faster at every batch
measured (2026-12-06, 2 threads, medians of 5, float32 computed in float64
as before: 57 ms against 90 ms at 64 x 128 x 128, 86 ms against 147 ms at
16 x 256 x 256 float64, forward; see :meth:`matsqrt.Auto.choose`).

Each chunk runs the same method as the whole batch would, so per matrix the
arithmetic is the same; iterations that stop on a tolerance stop per chunk.
Only NumPy arrays are chunked (other libraries have their own parallelism),
only for ``n <= MAX_N``, only for the methods built on products, and
only from the main thread (inside a Dask or user thread pool the batch is
already split).  ``MATSQRT_NUM_THREADS`` sets the number of threads (default:
the CPUs this process may run on); ``1`` keeps the chunks but runs them in
the calling thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from array_api_compat import is_numpy_namespace

from ._errors import ConvergenceInfo
from ._validate import CHUNK

__all__ = ["chunked_forward", "eigh_slices", "one_blas_thread", "CHUNK_BYTES", "MAX_N", "EIGH_CHUNKS_PER_THREAD"]

CHUNK_BYTES = 512 * 1024
MAX_N = 64
EIGH_CHUNKS_PER_THREAD = 2


def threads() -> int:
    """Threads the chunks run on: ``MATSQRT_NUM_THREADS``, else the CPUs available to this process."""
    value = os.environ.get("MATSQRT_NUM_THREADS")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(f"MATSQRT_NUM_THREADS must be a positive integer; got {value!r}") from None
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="matsqrt")


# A forked child inherits the pool object but not its threads: it would wait
# forever on work nobody takes.  The child starts its own pool instead.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.cache_clear)


def _splittable(a: Any, xp: Any) -> bool:
    return is_numpy_namespace(xp) and a.ndim >= 3 and threading.current_thread() is threading.main_thread()


def _even_slices(batch: int, count: int) -> list[slice]:
    bounds = [round(i * batch / count) for i in range(count + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def chunk_slices(a: Any, xp: Any) -> list[slice] | None:
    """Slices of the flattened batch, or ``None`` where ``a`` runs whole."""
    if not _splittable(a, xp):
        return None
    n = a.shape[-1]
    batch = math.prod(a.shape[:-2])
    per_chunk = max(1, CHUNK_BYTES // max(1, n * n * a.dtype.itemsize))
    if n > MAX_N or batch < 2 * per_chunk:
        return None
    return _even_slices(batch, math.ceil(batch / per_chunk))


def eigh_slices(a: Any, xp: Any) -> list[slice] | None:
    """Slices of the flattened batch for the eigendecomposition path, or ``None`` where it runs whole.

    :data:`EIGH_CHUNKS_PER_THREAD` chunks per thread (at most one matrix
    each), run with one BLAS thread each (:func:`one_blas_thread`): LAPACK's
    eigensolvers use few threads well at these sizes, and whole matrices in
    parallel threads do better.  A single matrix runs whole, with all BLAS
    threads.
    """
    workers = threads()
    if not _splittable(a, xp) or workers <= 1 or _blas_controller() is None:
        return None
    batch = math.prod(a.shape[:-2])
    if batch < 2:
        return None
    return _even_slices(batch, min(batch, EIGH_CHUNKS_PER_THREAD * workers))


@functools.cache
def _blas_controller(scipy: bool = False) -> Any:
    """threadpoolctl's view of the BLAS libraries loaded now (NumPy's among them), or None without it.

    ``scipy``: SciPy's own BLAS too (its wheels bundle one besides NumPy's), loaded first.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # a dependency; without it the eigendecompositions run whole
        return None
    if scipy:
        import scipy.linalg  # noqa: F401
    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread(scipy: bool = False) -> Iterator[None]:
    """The BLAS libraries loaded in this process limited to one thread while the block runs.

    The limit is process-wide (OpenBLAS has one setting), so other threads
    calling BLAS meanwhile run single-threaded too.  ``scipy``: SciPy's BLAS
    too, which may have been loaded after :func:`_blas_controller` looked.
    """
    with _blas_controller(scipy).limit(limits=1, user_api="blas"):
        yield


def in_chunk(chunk: slice, batch: tuple[int, ...], fn: Any, *args: Any) -> Any:
    """``fn(*args)`` with :data:`matsqrt._validate.CHUNK` set, so that errors name whole-batch indices."""
    context = contextvars.copy_context()
    return context.run(lambda: (CHUNK.set((chunk.start, batch)), fn(*args))[1])


def _map(fn: Any, items: list[Any]) -> list[Any]:
    workers = min(threads(), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    return list(_pool(workers).map(fn, items))


def merge_info(infos: list[ConvergenceInfo]) -> ConvergenceInfo:
    """The info of the whole batch: most iterations, worst residual, converged only if every chunk did."""
    residuals = [i.residual for i in infos]
    worst = math.nan if all(math.isnan(r) for r in residuals) else max(r for r in residuals if not math.isnan(r))
    return ConvergenceInfo(max(i.iterations for i in infos), worst, all(i.converged for i in infos), infos[0].tol)


def chunked_forward(forward: Any, a: Any, xp: Any, *, eigh: bool = False) -> Any:
    """``forward(a)`` (a :class:`matsqrt._methods.Root`), in chunks where that pays off.

    ``eigh``: the forward is the eigendecomposition path, chunked by
    :func:`eigh_slices` and run (with its backward) with one BLAS thread.
    """
    from ._methods import Root

    slices = eigh_slices(a, xp) if eigh else chunk_slices(a, xp)
    if slices is None:
        return forward(a)
    blas = one_blas_thread if eigh else contextlib.nullcontext
    shape = a.shape
    flat = xp.reshape(a, (-1, *shape[-2:]))
    batch = tuple(shape[:-2])
    try:
        with blas():
            roots = _map(lambda s: in_chunk(s, batch, forward, flat[s, ...]), slices)
    except ValueError:
        if not eigh:
            raise
        # The error path: the whole batch again, so that the error names every matrix at fault, not
        # those of one chunk.
        return forward(a)

    def backward(g, maxiter, tol):
        g_flat = xp.reshape(g, (-1, *shape[-2:]))
        pairs = list(zip(roots, slices, strict=True))
        try:
            with blas():
                parts = _map(lambda pair: in_chunk(pair[1], batch, pair[0].backward, g_flat[pair[1], ...],
                                                   maxiter, tol), pairs)
        except ValueError:
            if not eigh:
                raise
            return forward(a).backward(g, maxiter, tol)  # (as in the forward)
        grad = xp.reshape(xp.concat([p[0] for p in parts], axis=0), shape)
        return grad, merge_info([p[1] for p in parts])

    value = xp.reshape(xp.concat([r.value for r in roots], axis=0), shape)
    return Root(value, merge_info([r.info for r in roots]), backward)
