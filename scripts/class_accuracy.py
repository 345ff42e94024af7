"""Accuracy per input class (the table in docs/accuracy.md, "Input classes").

    python scripts/class_accuracy.py [--n 32] [--batch 4] [--seed 0]

For each class, the worst relative Frobenius error over a batch of sqrtm (Y)
and of sqrtm_vjp (dY, a random G) against references refined beyond double
precision: scipy.linalg.sqrtm refined by two Newton steps whose residual
A - Y^2 is formed in (complex) long double, and the gradient solving
Y^H X + X Y^H = G by scipy.linalg.solve_sylvester with one refinement step
in long double.  Nothing here uses matsqrt's algorithms for the references.
Classes: real symmetric PD and complex Hermitian PD (condition number 1e4),
real general (a random orthogonal similarity of a triangular matrix with
eigenvalues in [0.1, 1] and off-diagonals of size 1), real with negative
eigenvalues (the same with half the eigenvalues negated: complex roots),
complex general (Gaussian, shifted by 2 I).
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg

import matsqrt


def extended(x):
    return x.astype(np.clongdouble if np.iscomplexobj(x) else np.longdouble)


def refine_root(a):
    y = np.asarray(scipy.linalg.sqrtm(a))
    y = y.astype(np.result_type(y, a))
    a_ld = extended(a)
    y_ld = extended(y)
    for _ in range(2):
        r = (a_ld - y_ld @ y_ld).astype(y.dtype)
        y64 = y_ld.astype(y.dtype)
        y_ld = y_ld + extended(scipy.linalg.solve_sylvester(y64, y64, r))
    return y_ld


def reference_gradient(y_ld, g):
    yh = y_ld.conj().T
    yh64 = yh.astype(np.complex128 if np.iscomplexobj(yh) else np.float64)
    x = scipy.linalg.solve_sylvester(yh64, yh64, g)
    r = (extended(g) - yh @ extended(x) - extended(x) @ yh).astype(yh64.dtype)
    return extended(x) + extended(scipy.linalg.solve_sylvester(yh64, yh64, r))


def rel(x, ref):
    return float(np.linalg.norm((extended(np.asarray(x)) - ref).astype(np.complex128)) /
                 np.linalg.norm(ref.astype(np.complex128)))


def unitary(rng, n, complex_):
    z = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex_ else 0)
    q, r = np.linalg.qr(z)
    return q * (np.diagonal(r) / np.abs(np.diagonal(r)))


def make(rng, cls, n):
    lam = np.logspace(0, -4, n)
    if cls == "real symmetric PD":
        q = unitary(rng, n, False)
        a = (q * lam) @ q.T
        return (a + a.T) / 2
    if cls == "complex Hermitian PD":
        q = unitary(rng, n, True)
        a = (q * lam) @ q.conj().T
        return (a + a.conj().T) / 2
    if cls in ("real general", "real, negative eigenvalues"):
        d = np.linspace(0.1, 1.0, n)
        if cls != "real general":
            d[::2] *= -1
        t = np.diag(d) + np.triu(rng.standard_normal((n, n)) / np.sqrt(n), 1)
        q = unitary(rng, n, False)
        return q @ t @ q.T
    return rng.standard_normal((n, n)) / np.sqrt(n) + 1j * rng.standard_normal((n, n)) / np.sqrt(n) + 2 * np.eye(n)


CLASSES = ("real symmetric PD", "complex Hermitian PD", "real general", "real, negative eigenvalues",
           "complex general")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"n = {args.n}, batch of {args.batch}, worst relative Frobenius error (double precision)\n")
    print("| class | method | dtype of Y | Y | dY |")
    print("|---|---|---|---|---|")
    for cls in CLASSES:
        a = np.stack([make(rng, cls, args.n) for _ in range(args.batch)])
        refs = [refine_root(m) for m in a]
        methods = ["auto", "db"] + (["matmul"] if "PD" in cls else [])
        for method in methods:
            y, vjp = matsqrt.sqrtm_vjp(a, method)
            g = rng.standard_normal(y.shape) + (1j * rng.standard_normal(y.shape) if np.iscomplexobj(y) else 0)
            dy = vjp(g)
            err_y = max(rel(yi, r) for yi, r in zip(y, refs, strict=True))
            err_g = []
            for i, r in enumerate(refs):
                ref_g = reference_gradient(r, g[i])
                if not np.iscomplexobj(a):
                    ref_g = ref_g.real
                err_g.append(rel(dy[i], ref_g))
            print(f"| {cls} | {method} | {y.dtype} | {err_y:.1e} | {max(err_g):.1e} |")


if __name__ == "__main__":
    main()
