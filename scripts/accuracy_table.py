"""Accuracy of every method against refined references (the table in docs/accuracy.md), failures shown.

    python scripts/accuracy_table.py [--sizes 8,64,256] [--batch 2] [--markdown]

References are computed for the stored matrix itself (its exact float64 value):
scipy.linalg.sqrtm refined by Newton steps whose residuals are formed in long
double, the inverse root by Newton-Schulz refinement of inv(Y), and the
gradients by the Lyapunov equations solved with scipy.linalg.solve_sylvester and
refined the same way (matsqrt.testing.reference_roots).  "eigh32" is a true
single-precision eigendecomposition (scipy, LAPACK ssyevr): NumPy computes
float32 eigh in float64, so its error is not that of a float32 algorithm.

Prints the worst relative Frobenius error over the batch and over the spectrum
families for each size, dtype, condition number and method.  A method that
raises for a quantity shows the exception's name in that column (never a
dropped row); "bound" is the contract's bound for Y, 4 sqrt(n) eps sqrt(kappa)
(docs/accuracy.md), at the largest n of the sweep.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import matsqrt
from matsqrt.testing import eigh_float32_roots, reference_roots, relative_error

QUANTITIES = ("Y", "Z", "dY", "dZ")


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


def _method_rows(a, g, method):
    """{quantity: error array or exception name} for one method."""
    kwargs = dict(lyapunov_maxiter=8, lyapunov_tol=0) if method == "paper" else {}
    name = "mpa" if method == "paper" else method
    out = {}
    for power, (qv, qg) in ((0.5, ("Y", "dY")), (-0.5, ("Z", "dZ"))):
        vjp_of = matsqrt.sqrtm_vjp if power > 0 else matsqrt.inv_sqrtm_vjp
        try:
            value, vjp = vjp_of(a, name, **kwargs)
        except (ValueError, ArithmeticError, TypeError) as exc:
            out[qv] = out[qg] = type(exc).__name__
            continue
        out[qv] = value
        try:
            out[qg] = vjp(g)
        except (ValueError, ArithmeticError) as exc:
            out[qg] = type(exc).__name__
    return out


def run(sizes, batch, methods, markdown):
    rng = np.random.default_rng(2026)
    worst: dict[tuple, dict[str, object]] = {}
    for n in sizes:
        for dtype, conds in ((np.float64, (1e1, 1e4, 1e7, 1e10)), (np.float32, (1e1, 1e3, 1e5))):
            for cond in conds:
                for kind in ("logspaced", "clustered", "repeated"):
                    a = spd(rng, batch, n, cond, kind).astype(dtype)
                    g = rng.standard_normal(a.shape).astype(dtype)
                    refs = reference_roots(a.astype(np.float64), g.astype(np.float64))
                    rows = {m: _method_rows(a, g, m) for m in methods}
                    if dtype == np.float32:
                        rows["eigh32"] = dict(zip(QUANTITIES, eigh_float32_roots(a, g), strict=True))
                    for m, row in rows.items():
                        key = (np.dtype(dtype).name, cond, m)
                        cell = worst.setdefault(key, {})
                        for q, ref in zip(QUANTITIES, refs, strict=True):
                            v = row[q]
                            if isinstance(v, str):
                                cell[q] = v if not isinstance(cell.get(q), str) else cell[q]
                            elif not isinstance(cell.get(q), str):
                                cell[q] = max(cell.get(q, 0.0), relative_error(v, ref))
    n_max = max(sizes)
    if markdown:
        print("| dtype | cond | bound (Y) | method | Y | Z | dY | dZ |")
        print("|---|---|---|---|---|---|---|---|")
    for (dtype, cond, m), cell in worst.items():
        bound = 4 * math.sqrt(n_max) * float(np.finfo(dtype).eps) * math.sqrt(cond)
        values = [cell[q] if isinstance(cell[q], str) else f"{cell[q]:.1e}" for q in QUANTITIES]
        if markdown:
            print(f"| {dtype} | {cond:.0e} | {bound:.1e} | {m} | " + " | ".join(values) + " |")
        else:
            print(f"{dtype:>8} {cond:6.0e} {bound:8.1e} {m:>8} " + " ".join(f"{v:>16}" for v in values), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="8,64,256")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--methods", default="auto,eigh,matmul,ns,db,paper")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    run([int(s) for s in args.sizes.split(",")], args.batch, args.methods.split(","), args.markdown)


if __name__ == "__main__":
    main()
