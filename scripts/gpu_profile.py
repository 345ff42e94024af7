"""Where the GPU time goes: kernel traces and launch overheads on CuPy (needs a CUDA GPU).

Run on a machine with CuPy and PyTorch: ``python scripts/gpu_profile.py OUTDIR``.
PyTorch's profiler (CUPTI) records every kernel of the process, CuPy's too,
so one tool covers matsqrt on CuPy and the PyTorch MPA-Lya peer.  For each
scenario it prints the wall time of a call (device synchronised around it),
the kernels per call, their summed device time and the share of the wall time
the GPU was busy, and the kernels that take the most time; the Chrome traces
go to ``OUTDIR``.  Then it times matsqrt's accurate method with the
convergence check every 1, 2 and 4 steps, and the per-call cost of bare
operations on each library.
"""

from __future__ import annotations

import collections
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

import cupy
import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from matsqrt import bench


def wall_ms(call, repeats=20):
    for _ in range(3):
        call()
    cupy.cuda.Device().synchronize()
    samples = []
    for _ in range(repeats):
        cupy.cuda.Device().synchronize()
        t0 = time.perf_counter()
        call()
        cupy.cuda.Device().synchronize()
        samples.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(samples)


def kernels(prof):
    """(name, start_us, duration_us) of every device kernel in the trace."""
    out = []
    for evt in prof.events():
        if evt.device_type == torch.autograd.DeviceType.CUDA:
            out.append((evt.name, evt.time_range.start, evt.time_range.elapsed_us()))
    return out


def profile_call(label, call, outdir, calls=5):
    wall = wall_ms(call)
    cupy.cuda.Device().synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            call()
        cupy.cuda.Device().synchronize()
    found = kernels(prof)
    busy = sum(d for _, _, d in found) / calls / 1e3
    by_name = collections.defaultdict(lambda: [0, 0.0])
    for name, _, d in found:
        by_name[name][0] += 1
        by_name[name][1] += d
    print(f"\n## {label}: wall {wall:.3f} ms/call; {len(found) / calls:.0f} kernels/call, "
          f"kernel time {busy:.3f} ms/call, GPU busy {100 * busy / wall:.0f}% of the wall time")
    for name, (count, total) in sorted(by_name.items(), key=lambda kv: -kv[1][1])[:8]:
        print(f"   {total / calls / 1e3:8.3f} ms  {count / calls:5.1f}x  {name[:110]}")
    try:
        prof.export_chrome_trace(str(Path(outdir) / f"trace-{label.replace(' ', '_')}.json"))
    except Exception as exc:  # the numbers above are what matters
        print("   (trace not written:", exc, ")")


def main(outdir):
    Path(outdir).mkdir(parents=True, exist_ok=True)
    backend = bench._cupy_backend(required=True)
    print(backend.device, "cupy", cupy.__version__, "torch", torch.__version__)
    peers = {"eigh-dk": bench.EighImpl(), "torch-mpa-lya": bench.TorchImpl()}
    rng = np.random.default_rng(0)
    cases = [(256, 64, "float32"), (16, 256, "float32")]
    for batch, n, dtype in cases:
        a_host = bench.spd_batch(rng, batch, n, 10.0).astype(dtype)
        g_host = rng.standard_normal((batch, n, n)).astype(dtype)
        a, g = cupy.asarray(a_host), cupy.asarray(g_host)
        for name in ("matmul", "paper-mpa"):
            call = bench.matsqrt_impl(name).build("fwdbwd", backend, a, g)
            profile_call(f"{name} fwdbwd {batch}x{n} {dtype}", call, outdir)
        if (batch, n, dtype) == (256, 64, "float32"):
            for name, impl in peers.items():
                profile_call(f"{name} fwdbwd {batch}x{n} {dtype}", impl.build("fwdbwd", backend, a, g), outdir)
            call = bench.matsqrt_impl("paper-mpa").build("fwd", backend, a, g)
            profile_call(f"paper-mpa fwd {batch}x{n} {dtype}", call, outdir)

    interleaved(backend, peers, rng)

    print("\n## host time of matmul fwdbwd 256x64 float32 by function (cProfile, 5 calls)")
    a = cupy.asarray(bench.spd_batch(rng, 256, 64, 10.0).astype("float32"))
    g = cupy.asarray(rng.standard_normal((256, 64, 64)).astype("float32"))
    call = bench.matsqrt_impl("matmul").build("fwdbwd", backend, a, g)
    call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        call()
    cupy.cuda.Device().synchronize()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)

    if "--cadence" not in sys.argv:
        return
    print("\n## matmul fwdbwd wall ms with the convergence check every k steps (products per matrix)")
    for batch, n in ((256, 64), (64, 128), (16, 256), (4, 1024)):
        for dtype in ("float32", "float64"):
            a_host = bench.spd_batch(rng, batch, n, 1e3).astype(dtype)
            g_host = rng.standard_normal((batch, n, n)).astype(dtype)
            a, g = cupy.asarray(a_host), cupy.asarray(g_host)
            impl = bench.matsqrt_impl("matmul")
            parts = []
            for every in (1, 2, 4):
                with bench._check_cadence(every):
                    call = impl.build("fwdbwd", backend, a, g)
                    ms = wall_ms(call, repeats=10)
                parts.append(f"k={every}: {ms:7.3f}")
            gemm = bench.gemm_seconds(backend, a, g, bench.parse_args([])[0]) * 1e3
            print(f"{batch:4d}x{n:<5d} {dtype}  " + "  ".join(parts) + f"   one bare matmul {gemm:.4f} ms")


def interleaved(backend, peers, rng, repeats=41):
    """A/B timings with the two calls alternating, so that drifts of the host or GPU hit both alike."""
    print(f"\n## interleaved A/B medians ({repeats} pairs, device synchronised around each call)")
    for batch, n, dtype, op, first, second in (
        (256, 64, "float32", "fwdbwd", "paper-mpa", "torch-mpa-lya"),
        (256, 64, "float32", "fwd", "paper-mpa", "torch-mpa-lya"),
        (256, 64, "float64", "fwdbwd", "paper-mpa", "torch-mpa-lya"),
        (256, 64, "float32", "fwdbwd", "matmul", "eigh-dk"),
        (256, 64, "float32", "fwdbwd", "auto", "eigh-dk"),
        (16, 256, "float32", "fwdbwd", "matmul", "gemm-floor"),
        (16, 256, "float32", "fwdbwd", "paper-mpa", "gemm-floor"),
        (16, 256, "float64", "fwdbwd", "matmul", "gemm-floor"),
        (4, 1024, "float32", "fwdbwd", "matmul", "gemm-floor"),
        (4, 1024, "float64", "fwdbwd", "matmul", "gemm-floor"),
        (4, 1024, "float32", "fwdbwd", "paper-mpa", "gemm-floor"),
    ):
        a_host = bench.spd_batch(rng, batch, n, 10.0).astype(dtype)
        g_host = rng.standard_normal((batch, n, n)).astype(dtype)
        a, g = cupy.asarray(a_host), cupy.asarray(g_host)
        impl = bench.matsqrt_impl(first)
        call_a = impl.build(op, backend, a, g)
        if second == "gemm-floor":
            products = round(impl.count(op, a_host, g_host, on=(backend, a)).products)

            def call_b(products=products, a=a, g=g):
                for _ in range(products):
                    a @ g
        else:
            call_b = peers[second].build(op, backend, a, g)
        times = {first: [], second: []}
        for fn in (call_a, call_b, call_a, call_b):
            fn()
        for _ in range(repeats):
            for label, fn in ((first, call_a), (second, call_b)):
                cupy.cuda.Device().synchronize()
                t0 = time.perf_counter()
                fn()
                cupy.cuda.Device().synchronize()
                times[label].append(time.perf_counter() - t0)
        ta, tb = (1e3 * statistics.median(times[k]) for k in (first, second))
        extra = f" ({products} bare a@b)" if second == "gemm-floor" else ""
        print(f"   {op:7s} {dtype} {batch}x{n}: {first} {ta:.3f} ms, {second}{extra} {tb:.3f} ms, ratio {ta / tb:.2f}")


def bare_operations(rng, backend):
    print("\n## per-call cost of bare operations, 256x64x64 float32 (us, 200 back-to-back calls)")
    a = cupy.asarray(rng.standard_normal((256, 64, 64)).astype("float32"))
    t = torch.from_dlpack(a)
    eye_c, eye_t = cupy.eye(64, dtype="float32"), torch.eye(64, device="cuda")
    xp = backend.xp
    ops = {
        "cupy a@a": lambda: a @ a,
        "torch a@a": lambda: t @ t,
        "cupy 2.0*a": lambda: 2.0 * a,
        "torch 2.0*t": lambda: 2.0 * t,
        "cupy a-eye": lambda: a - eye_c,
        "torch t-eye": lambda: t - eye_t,
        "compat xp.eye": lambda: xp.eye(64, dtype=a.dtype),
        "compat xp.linalg.solve": lambda: xp.linalg.solve(a + 64 * eye_c, a),
        "torch linalg.solve": lambda: torch.linalg.solve(t + 64 * eye_t, t),
        "cupy sync": lambda: cupy.cuda.Device().synchronize(),
    }
    for label, fn in ops.items():
        for _ in range(10):
            fn()
        cupy.cuda.Device().synchronize()
        t0 = time.perf_counter()
        for _ in range(200):
            fn()
        cupy.cuda.Device().synchronize()
        print(f"   {label:24s} {1e6 * (time.perf_counter() - t0) / 200:8.1f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "profile-out")
    if "--bare" in sys.argv:
        bare_operations(np.random.default_rng(1), bench._cupy_backend(required=True))
