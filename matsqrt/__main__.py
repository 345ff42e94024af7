"""``python -m matsqrt``: a small demo of accuracy on NumPy (see matsqrt.bench for speed)."""

from __future__ import annotations

import numpy as np
import scipy.linalg

import matsqrt


def _spd(rng: np.random.Generator, batch: int, n: int, condition: float) -> np.ndarray:
    q = np.linalg.qr(rng.standard_normal((batch, n, n)))[0]
    lam = np.logspace(0.0, -np.log10(condition), n)
    return (q * lam) @ np.swapaxes(q, -1, -2)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(a - b, axis=(-2, -1)) / np.linalg.norm(b, axis=(-2, -1))))


def main() -> None:
    rng = np.random.default_rng(0)
    n, batch = 32, 4
    print(f"matsqrt {matsqrt.__version__}: random SPD, n = {n}, batch {batch}, float64, "
          "worst relative Frobenius error against scipy.linalg.sqrtm")
    print(f"{'cond':>8} {'mtp':>9} {'mpa':>9} {'auto':>9} {'matmul':>9} {'ns':>9}")
    for condition in (1e1, 1e3, 1e6):
        a = _spd(rng, batch, n, condition)
        ref = scipy.linalg.sqrtm(a)
        errors = [_rel(matsqrt.sqrtm(a, m), ref) for m in ("mtp", "mpa", "auto", "matmul", "ns")]
        print(f"{condition:8.0e} " + " ".join(f"{e:9.2e}" for e in errors))
    print("mtp and mpa are the paper's series (degree 10, [5/5]), approximations; auto (the default: an")
    print("eigendecomposition for symmetric input on the CPU), matmul and ns (iterations) reach working precision.")
    print("Speed: python -m matsqrt.bench --quick")


if __name__ == "__main__":
    main()
