"""Independent oracles: nothing here calls matsqrt's algorithms."""

from __future__ import annotations

import functools

import mpmath
import numpy as np
import pytest
import scipy.linalg
import scipy.special

from matsqrt.testing import eigh_float32_roots, reference_roots, relative_error  # noqa: F401 (for the tests)


def mT(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def rel_fro(a: np.ndarray, b: np.ndarray) -> float:
    """Worst relative Frobenius error of ``a`` against ``b`` over the batch."""
    num = np.linalg.norm(np.asarray(a, dtype=np.float64) - b, axis=(-2, -1))
    den = np.linalg.norm(b, axis=(-2, -1))
    return float(np.max(num / np.where(den > 0, den, 1.0), initial=0.0))


def binomial_series(degree: int, power: float) -> np.ndarray:
    """Taylor coefficients of (1 - z)^power from scipy.special.binom."""
    k = np.arange(degree + 1)
    return (-1.0) ** k * scipy.special.binom(power, k)


def _mp_polyval(coeffs, x):
    """sum_k coeffs[k] x^k by Horner's rule (ascending coefficients), in mpmath."""
    acc = mpmath.mpf(0)
    for c in reversed(list(coeffs)):
        acc = acc * x + c
    return acc


@functools.cache
def _mp_pade(m: int):
    """[m/m] Padé coefficients of sqrt(1 - z) by mpmath at 40 digits (not from matsqrt)."""
    with mpmath.workdps(40):
        series = mpmath.taylor(lambda z: mpmath.sqrt(1 - z), 0, 2 * m)
        return mpmath.pade(series, m, m)


def scalar_mpa_sqrt(z: np.ndarray, m: int) -> np.ndarray:
    """[m/m] Padé approximant of sqrt(1 - z), evaluated in 40-digit arithmetic."""
    p, q = _mp_pade(m)
    with mpmath.workdps(40):
        values = [_mp_polyval(p, mpmath.mpf(v)) / _mp_polyval(q, mpmath.mpf(v)) for v in np.ravel(z)]
    return np.array([float(v) for v in values]).reshape(np.shape(z))


def scalar_mtp(z: np.ndarray, degree: int, power: float) -> np.ndarray:
    """Truncated binomial series of (1 - z)^power, evaluated in 40-digit arithmetic."""
    with mpmath.workdps(40):
        c = [mpmath.binomial(mpmath.mpf(power), k) * (-1) ** k for k in range(degree + 1)]
        values = [_mp_polyval(c, mpmath.mpf(v)) for v in np.ravel(z)]
    return np.array([float(v) for v in values]).reshape(np.shape(z))


def evaluation_amplification(z: np.ndarray, method: str, degree: int, power: float) -> np.ndarray:
    """Rounding amplification of a monomial-basis evaluation at z, per point.

    sum_k |c_k| z^k / |sum_k c_k z^k| (summed over P and Q for Padé): the factor
    by which rounding in the powers of X is magnified in the result.
    """
    if method == "mpa":
        polys = _mp_pade(degree)
    else:
        with mpmath.workdps(40):
            polys = ([mpmath.binomial(mpmath.mpf(power), k) * (-1) ** k for k in range(degree + 1)],)
    total = np.zeros(np.shape(z))
    with mpmath.workdps(40):
        for c in polys:
            c = list(c)
            mag = [_mp_polyval([abs(v) for v in c], mpmath.mpf(abs(v))) for v in np.ravel(z)]
            val = [abs(_mp_polyval(c, mpmath.mpf(v))) for v in np.ravel(z)]
            total = total + np.array([float(m / v) for m, v in zip(mag, val, strict=True)]).reshape(np.shape(z))
    return total


def scalar_root(lam: np.ndarray, s: np.ndarray, method: str, degree: int, power: float) -> np.ndarray:
    """What ``method`` computes for the eigenvalue ``lam`` of a matrix scaled by ``s``."""
    z = 1.0 - lam / s
    if method == "mpa":
        r = scalar_mpa_sqrt(z, degree)
        r = r if power > 0 else 1.0 / r
    else:
        r = scalar_mtp(z, degree, power)
    return s**power * r


def sqrt_weights(y: np.ndarray) -> np.ndarray:
    """Loewner matrix of the square root, 1 / (y_i + y_j), from the roots y_i = sqrt(lambda_i)."""
    return 1.0 / (y[..., :, None] + y[..., None, :])


def inv_sqrt_weights(z: np.ndarray) -> np.ndarray:
    """Loewner matrix of the inverse root from z_i = lambda_i^(-1/2).

    -z_i^2 z_j^2 / (z_i + z_j) = -1 / (r_i r_j (r_i + r_j)) with r = 1 / z;
    the closed form avoids divided differences, so repeated eigenvalues are exact.
    """
    zi, zj = z[..., :, None], z[..., None, :]
    return -(zi * zj) ** 2 / (zi + zj)


def rounding_unit(a: np.ndarray, method: str, degree: int, power: float, dtype=np.float64) -> np.ndarray:
    """Relative rounding level expected of a method on symmetric A, per matrix.

    Powers of X (||X|| <= 1) are formed stably, but summing them in the
    monomial basis amplifies their rounding by sum|c_k| z^k / |sum c_k z^k|
    (large for high degrees near z = 1).  For the inverse root, a relative
    perturbation eps of A moves the result by up to cond(A) * eps.
    """
    lam = np.linalg.eigvalsh(a)
    s = np.linalg.norm(a, axis=(-2, -1))[..., None]
    amplification = np.max(evaluation_amplification(1 - lam / s, method, degree, power), axis=-1)
    cond = np.linalg.cond(a)
    return a.shape[-1] * np.finfo(dtype).eps * amplification * (1 if power > 0 else cond)


def daleckii_krein(u: np.ndarray, g: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """U (W o (U^T G U)) U^T: the gradient of a primary function at A = U diag U^T."""
    return u @ (weights * (mT(u) @ g @ u)) @ mT(u)


def frechet_fd(f, a: np.ndarray, g: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of <G, f(A)> with respect to every entry of A."""
    grad = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        e = np.zeros_like(a)
        e[idx] = h
        grad[idx] = (np.sum(g * f(a + e)) - np.sum(g * f(a - e))) / (2 * h)
    return grad


def exact_gradient(a, g_of_root, inverse=False):
    """dL/dA for L with dL/dY = g_of_root(Y), from scipy alone (no matsqrt).

    ``Y = sqrtm(A)``; ``Y^T X + X Y^T = dL/dY`` is the unconstrained gradient
    (for the inverse root ``Z = Y^-1``: ``dL/dY = -Z^T (dL/dZ) Z^T``).
    """
    y = np.real(scipy.linalg.sqrtm(a))
    if inverse:
        z = np.linalg.inv(y)
        g = -z.T @ g_of_root(z) @ z.T
    else:
        g = g_of_root(y)
    return scipy.linalg.solve_sylvester(y.T, y.T, g)


def central_differences(grad, a, h=1e-5):
    """d grad(A) / dA by central differences: shape (n, n, n, n), [i, j, k, l] = d grad_ij / d A_kl."""
    n = a.shape[-1]
    out = np.zeros((n, n, n, n))
    for k in range(n):
        for m in range(n):
            e = np.zeros((n, n))
            e[k, m] = h
            out[:, :, k, m] = (np.asarray(grad(a + e)) - np.asarray(grad(a - e))) / (2 * h)
    return out


def general_complex(seed=0, n=3, batch=()):
    """2I + 0.3 (N + iN') / sqrt(n): complex, not Hermitian, spectrum near 2."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((*batch, n, n)) + 1j * rng.standard_normal((*batch, n, n))
    return 2 * np.eye(n) + 0.3 * noise / np.sqrt(n)


def hermitian_pd(seed=1, n=3):
    """X X^H / n + I for complex Gaussian X: Hermitian positive definite."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    return x @ x.conj().T / n + np.eye(n)


def real_with_negative_eigenvalue(seed=2, n=3):
    """Real, non-symmetric, eigenvalues near -1, 2, 3: its principal root is complex."""
    rng = np.random.default_rng(seed)
    return np.diag([-1.0, 2.0, 3.0])[:n, :n] + 0.1 * rng.standard_normal((n, n))


@pytest.fixture(autouse=True, scope="module")
def jax_x64():
    """float64 in the test modules that import this fixture (autouse there); JAX's default is float32.

    JAX is imported here, not at this module's import: the torch tests import these helpers too.
    """
    import jax

    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)
