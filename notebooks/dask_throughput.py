"""Throughput of matsqrt on dask: matrices per second on a LocalCluster of 1 and 2 worker processes.

Usage (needs the dask extra: pip install -e ".[dask]"):

    python notebooks/dask_throughput.py                       # 1 000 000 matrices of 8 x 8
    python notebooks/dask_throughput.py --batch 200000 --chunks 10000 --workers 1 2 --repeats 2

For each worker count and chunk size, the batch of SPD matrices is generated
on the workers and kept there (persist), so the timings cover the square roots
and nothing else: no transfer to or from this process.  "forward" is
``sqrtm(A)``; "forward + backward" is ``sqrtm_vjp(A)`` and ``vjp(G)``, whose
blocks recompute their forward.  Each figure is the best of ``--repeats``
runs.  The in-memory lines are one process calling matsqrt on NumPy chunks of
the same size, for comparison.

The cluster runs twice: with distributed's default worker environment, which
sets ``MALLOC_TRIM_THRESHOLD_=65536`` (it returns freed memory to the system
sooner, at the price of a page fault on every large temporary array), and
with that variable unset.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time

import numpy as np

import matsqrt

_TRIM = "MALLOC_TRIM_THRESHOLD_"
_ENVIRONMENTS = {
    "default worker environment": {},
    f"{_TRIM} unset": {f"distributed.nanny.pre-spawn-environ.{_TRIM}": None},
}


def _best_time(run, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _same(block):
    return block


_RUNS = itertools.count()


def _fresh(x):
    # matsqrt's task keys are deterministic: a repeat on the same keys would
    # find the previous result still held by the scheduler and time nothing.
    # A zero-copy identity task per chunk (fused into matsqrt's task) gives
    # every repeat keys of its own.
    return x.map_blocks(_same, dtype=x.dtype, meta=x._meta, name=f"run-{next(_RUNS)}-{x.name}")


def _spd(da, batch: int, n: int, chunk: int):
    x = da.random.default_rng(0).standard_normal((batch, n, 2 * n), chunks=(chunk, n, 2 * n))
    return x @ da.swapaxes(x, -1, -2) / (2 * n) + np.eye(n)


def _in_memory(batch: int, n: int, chunk: int, repeats: int) -> tuple[float, float]:
    x = np.random.default_rng(0).standard_normal((batch, n, 2 * n))
    a = x @ np.swapaxes(x, -1, -2) / (2 * n) + np.eye(n)
    g = np.ones((chunk, n, n))

    def forward():
        for i in range(0, batch, chunk):
            matsqrt.sqrtm(a[i:i + chunk])

    def backward():
        for i in range(0, batch, chunk):
            block = a[i:i + chunk]
            matsqrt.sqrtm_vjp(block)[1](g[: len(block)])

    return batch / _best_time(forward, repeats), batch / _best_time(backward, repeats)


def _on_cluster(workers: int, batch: int, n: int, chunk: int, repeats: int) -> tuple[float, float, list[int]]:
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            a = _spd(da, batch, n, chunk).persist()
            wait(a)
            # G from A's blocks, so that each block of G lies with its block of A
            # (persisting both at once had left one worker with most of the data).
            g = a.map_blocks(np.ones_like, dtype=a.dtype, meta=a._meta).persist()
            wait(g)
            balance = sorted(len(keys) for keys in client.has_what().values())

            def forward():
                wait(matsqrt.sqrtm(_fresh(a)).persist())

            def backward():
                _, vjp = matsqrt.sqrtm_vjp(_fresh(a))
                wait(vjp(g).persist())

            return batch / _best_time(forward, repeats), batch / _best_time(backward, repeats), balance


def main() -> None:
    import dask

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1_000_000, help="number of matrices")
    parser.add_argument("--n", type=int, default=8, help="matrix size")
    parser.add_argument("--chunks", type=int, nargs="+", default=[10_000, 50_000], help="matrices per chunk")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker processes")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    print(f"matsqrt {matsqrt.__version__}, {args.batch} matrices of {args.n} x {args.n}, float64, "
          f"sqrtm method 'mpa' (degree 5), default Lyapunov settings, best of {args.repeats}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"Python {platform.python_version()}, NumPy {np.__version__}, dask {dask.__version__}")
    print("| engine | chunk | forward (matrices/s) | forward + backward (matrices/s) |")
    print("|---|---:|---:|---:|")
    for chunk in args.chunks:
        forward, backward = _in_memory(args.batch, args.n, chunk, args.repeats)
        print(f"| in memory, 1 process | {chunk} | {forward:,.0f} | {backward:,.0f} |", flush=True)
    notes = []
    for label, config in _ENVIRONMENTS.items():
        # A nanny copies its pre-spawn environment into this process too, and
        # the workers inherit it: clear what an earlier cluster left behind.
        os.environ.pop(_TRIM, None)
        with dask.config.set(config):
            for workers, chunk in itertools.product(args.workers, args.chunks):
                forward, backward, balance = _on_cluster(workers, args.batch, args.n, chunk, args.repeats)
                print(f"| LocalCluster, {workers} worker{'s' * (workers > 1)} x 1 thread, {label} | {chunk} | "
                      f"{forward:,.0f} | {backward:,.0f} |", flush=True)
                notes.append(f"{workers} worker(s), chunk {chunk}, {label}: blocks of A and G per worker {balance}")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
