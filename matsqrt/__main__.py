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
    print(f"matsqrt {matsqrt.__version__}: random SPD, n = {n}, batch {batch}, float64, worst relative Frobenius error")
    print(f"{'cond':>8} {'mtp fwd':>9} {'mpa fwd':>9} {'mpa inv':>9} {'grad@Y':>9}")
    for condition in (1e1, 1e3, 1e6):
        a = _spd(rng, batch, n, condition)
        ref = scipy.linalg.sqrtm(a)
        y, vjp = matsqrt.sqrtm_vjp(a)
        g = rng.standard_normal(a.shape)
        grad = vjp(g)
        # The Lyapunov gradient is exact for the computed Y: check Y^T X + X Y^T = G.
        residual = _rel(np.swapaxes(y, -1, -2) @ grad + grad @ np.swapaxes(y, -1, -2), g)
        print(f"{condition:8.0e} {_rel(matsqrt.sqrtm(a, 'mtp'), ref):9.2e} {_rel(y, ref):9.2e} "
              f"{_rel(matsqrt.inv_sqrtm(a), np.linalg.inv(ref)):9.2e} {residual:9.2e}")
    print("The paper's series (mtp degree 10, mpa [5/5]) lose accuracy as the condition number grows;")
    print("grad@Y is the residual of the Lyapunov equation solved for the gradient.")


if __name__ == "__main__":
    main()
