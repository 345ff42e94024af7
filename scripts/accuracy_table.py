"""Accuracy of every method against refined references (the table in README).

    python scripts/accuracy_table.py [--sizes 8,64,256] [--batch 4]

References are computed for the stored float64 matrix itself: scipy.linalg.sqrtm
refined by Newton steps whose residuals are formed in long double, the inverse
root by Newton-Schulz refinement of inv(Y), and the gradients by the Lyapunov
equations solved with scipy.linalg.solve_sylvester and refined the same way.
"eigh32" is a true single-precision eigendecomposition (scipy, LAPACK ssyevr):
NumPy computes float32 eigh in float64, so its error is not that of a float32
algorithm.  Prints the worst relative Frobenius error over the batch.
"""

from __future__ import annotations

import argparse

import numpy as np

import matsqrt
from matsqrt.testing import eigh_float32_roots, reference_roots, relative_error


def spd(rng, batch, n, cond, kind):
    q = np.linalg.qr(rng.standard_normal((batch, n, n)))[0]
    if kind == "logspaced":
        lam = np.logspace(0, -np.log10(cond), n)
    elif kind == "clustered":
        lam = np.where(rng.random(n) < 0.5, 1.0, 1 / cond) * (1 + 1e-6 * rng.random(n))
    else:
        lam = rng.choice([1.0, cond**-0.5, 1 / cond], n)
    lam[0], lam[-1] = 1.0, 1 / cond
    a = (q * lam) @ np.swapaxes(q, -1, -2)
    return (a + np.swapaxes(a, -1, -2)) / 2


def run(sizes, batch, methods):
    rng = np.random.default_rng(2026)
    header = f"{'n':>4} {'dtype':>7} {'cond':>6} {'family':>9} {'method':>8}  {'Y':>8} {'Z':>8} {'dY':>8} {'dZ':>8}"
    print(header)
    for n in sizes:
        for dtype, conds in ((np.float64, (1e1, 1e4, 1e7, 1e10)), (np.float32, (1e1, 1e3, 1e5))):
            for cond in conds:
                for kind in ("logspaced", "clustered", "repeated"):
                    a = spd(rng, batch, n, cond, kind).astype(dtype)
                    g = rng.standard_normal(a.shape).astype(dtype)
                    refs = reference_roots(a.astype(np.float64), g.astype(np.float64))
                    rows = {}
                    if dtype == np.float32:
                        rows["eigh32"] = eigh_float32_roots(a, g)
                    for m in methods:
                        kwargs = dict(lyapunov_maxiter=8, lyapunov_tol=0) if m == "paper" else {}
                        name = "mpa" if m == "paper" else m
                        try:
                            y, vy = matsqrt.sqrtm_vjp(a, name, **kwargs)
                            z, vz = matsqrt.inv_sqrtm_vjp(a, name, **kwargs)
                            rows[m] = (y, z, vy(g), vz(g))
                        except (ValueError, ArithmeticError) as exc:
                            label = f"{n:4d} {np.dtype(dtype).name:>7} {cond:6.0e} {kind:>9} {m:>8}"
                            print(f"{label}  {type(exc).__name__}")
                    for m, (y, z, dy, dz) in rows.items():
                        errs = [relative_error(v, ref) for v, ref in zip((y, z, dy, dz), refs, strict=True)]
                        print(f"{n:4d} {np.dtype(dtype).name:>7} {cond:6.0e} {kind:>9} {m:>8}  "
                              + " ".join(f"{e:8.1e}" for e in errs), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="8,64,256")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--methods", default="eigh,matmul,auto,paper")
    args = parser.parse_args()
    run([int(s) for s in args.sizes.split(",")], args.batch, args.methods.split(","))


if __name__ == "__main__":
    main()
