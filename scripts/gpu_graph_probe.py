"""Does a CUDA graph capture of matsqrt's fixed-count iterations work on CuPy, and what does it save?

``python scripts/gpu_graph_probe.py`` on a CUDA machine: captures the paper's
eight Lyapunov sign steps (and the [5/5] Padé forward without its solve) on a
private memory pool, replays the graph, compares with the eager result and
times both.  A probe for a design decision, not part of the library.
"""

from __future__ import annotations

import cupy
import numpy as np
from array_api_compat import array_namespace
from gpu_profile import wall_ms as median_ms  # run from scripts/: python scripts/gpu_graph_probe.py

from matsqrt import bench
from matsqrt.lyapunov import sign_step


def probe(batch, n, dtype, mode):
    rng = np.random.default_rng(0)
    a = bench.spd_batch(rng, batch, n, 10.0).astype(dtype)
    b0 = cupy.asarray(a / np.linalg.norm(a, axis=(-2, -1), keepdims=True))
    c0 = cupy.asarray(rng.standard_normal((batch, n, n)).astype(dtype))
    xp = array_namespace(b0)
    eye = xp.eye(n, dtype=b0.dtype)

    def steps(b, c):
        for _ in range(8):
            b, c = sign_step(b, c, 1.0, eye)
        return b, c

    eager = median_ms(lambda: steps(b0, c0))
    ref = steps(b0, c0)[1]
    pool = cupy.cuda.MemoryPool()
    stream = cupy.cuda.Stream(non_blocking=True)
    try:
        with cupy.cuda.using_allocator(pool.malloc), stream:
            bs, cs = b0.copy(), c0.copy()
            steps(bs, cs)  # fills the private pool, so the capture allocates nothing new
            stream.synchronize()
            stream.begin_capture(mode=mode)
            out = steps(bs, cs)[1]
            graph = stream.end_capture()
    except Exception as exc:
        print(f"{batch}x{n} {dtype} mode {mode}: capture failed: {type(exc).__name__}: {exc}")
        return

    def replay():
        cs[...] = c0
        graph.launch(stream)
        stream.synchronize()
        return out

    got = replay()
    err = float(cupy.max(cupy.abs(got - ref)) / cupy.max(cupy.abs(ref)))
    graphed = median_ms(replay)
    print(f"{batch}x{n} {dtype} mode {mode}: 8 sign steps eager {eager:.3f} ms, graph {graphed:.3f} ms "
          f"({eager / graphed:.1f}x); max difference {err:.1e}; pool {pool.total_bytes() / 2**20:.1f} MiB")


if __name__ == "__main__":
    rt = cupy.cuda.runtime
    for mode in (rt.streamCaptureModeRelaxed, rt.streamCaptureModeGlobal):
        for batch, n, dtype in ((256, 64, "float32"), (16, 256, "float32"), (16, 256, "float64")):
            probe(batch, n, dtype, mode)
