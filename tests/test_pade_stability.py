"""High-degree MPA (and MTP): the error falls with the degree down to rounding, and stays there.

The [m/m] Padé approximant in the monomial basis loses every digit by degree
~40 (``sqrtm(diag([1, 2, 3, 4]), "mpa", degree=d)`` was off by 3e-11, 5e-5,
0.44 and 30.6 at d = 15, 30, 40, 60); above a switch degree the same
approximant is evaluated in partial fractions.  References: long double
roots (``matsqrt.testing.reference_roots``) and, for "same approximant, up to
rounding", the exact rational ``P/Q`` applied to the eigenvalues at 60+ digits.
"""

from __future__ import annotations

import time
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from array_api_compat import numpy as np_xp

import matsqrt
from matsqrt._coefficients import MPA_MAX_DEGREE, MTP_MAX_DEGREE, pade_coefficients
from matsqrt._scaling import frobenius_norm
from matsqrt.pade import monomial_max_degree, monomial_root, mpa_root, partial_fraction_root
from matsqrt.testing import reference_roots, relative_error

FUNCS = {0.5: matsqrt.sqrtm, -0.5: matsqrt.inv_sqrtm}
EPS = {np.float64: float(np.finfo(np.float64).eps), np.float32: float(np.finfo(np.float32).eps)}


def spd(n: int, cond: float, seed: int, zeros: int = 0) -> np.ndarray:
    """Q diag(lambda) Q^T, lambda log-spaced from 1 to 1/cond (the last ``zeros`` set to 0)."""
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    lam = np.logspace(0.0, -np.log10(cond), n)
    lam[n - zeros:] = 0.0
    a = (q * lam) @ q.T
    return (a + a.T) / 2


CASES = {
    "diag_1_2_3_4": np.diag([1.0, 2.0, 3.0, 4.0]),
    "cond_1e2": spd(8, 1e2, seed=11),
    "cond_1e6": spd(8, 1e6, seed=12),
}
# Doubling degrees; up to the cap where the approximant still converges there (condition 1e6).
DEGREES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024)
DEGREES_TO_CAP = (*DEGREES, 2048, 4096, 8192, MPA_MAX_DEGREE)


def rounding_floor(power: float, cond: float, eps: float) -> float:
    """Relative error that rounding A alone can cause in A^power (normwise, symmetric A).

    A perturbation eps ||A|| moves sqrt(lambda_min) by eps ||A|| / (2 sqrt(lambda_min)),
    i.e. eps sqrt(cond) / 2 relative to ||A^(1/2)||, and A^(-1/2) by eps cond / 2 relative.
    """
    return eps * (np.sqrt(cond) if power > 0 else cond)


def errors_by_degree(a: np.ndarray, power: float, degrees, method: str = "mpa") -> list[float]:
    y, z, _, _ = reference_roots(a.astype(np.float64), np.eye(a.shape[-1]))
    ref = y if power > 0 else z
    return [relative_error(FUNCS[power](a, method, degree=d), ref) for d in degrees]


def assert_falls_to_rounding(errors, degrees, wiggle: float) -> None:
    """Non-increasing in the degree, up to ``wiggle`` (rounding level) per step."""
    steps = list(zip(degrees, errors, strict=True))
    for (d0, e0), (d1, e1) in zip(steps, steps[1:], strict=False):
        assert e1 <= e0 + wiggle, f"error rose from {e0:.3e} (degree {d0}) to {e1:.3e} (degree {d1})"


# ----------------------------------------------------------------------------- the reproducer


@pytest.mark.parametrize("degree, old_sqrt, old_inv", [(15, 3.4e-11, 7.5e-11), (30, 4.9e-5, 1.1e-4),
                                                       (40, 0.44, 2.4), (60, 30.6, 0.70)])
@pytest.mark.parametrize("power", [0.5, -0.5], ids=["sqrt", "inv_sqrt"])
def test_reproducer_degrees_reach_the_scalar_approximation_error(degree, old_sqrt, old_inv, power):
    # sqrtm / inv_sqrtm(diag([1, 2, 3, 4]), "mpa", degree=d) were off by old_sqrt / old_inv
    # (relative Frobenius error, monomial basis).
    old_error = old_sqrt if power > 0 else old_inv
    a = np.diag([1.0, 2.0, 3.0, 4.0])
    lam = np.diag(a)
    got = np.diag(FUNCS[power](a, "mpa", degree=degree))
    assert np.count_nonzero(FUNCS[power](a, "mpa", degree=degree) - np.diag(got)) == 0
    s = np.sqrt(30.0)  # ||A||_F
    p, q = pade_coefficients(degree)
    predicted = []
    for v in lam:
        z = 1 - Fraction(v) / Fraction(s)
        r = sum(c * z**k for k, c in enumerate(p)) / sum(c * z**k for k, c in enumerate(q))
        predicted.append(float(r if power > 0 else 1 / r) * s**power)
    exact = lam**power
    scalar_error = np.abs(np.array(predicted) - exact) / exact
    measured = np.abs(got - exact) / exact
    np.testing.assert_allclose(measured, scalar_error, rtol=0, atol=8 * EPS[np.float64])
    # The reported figure: relative Frobenius error.
    frobenius = np.linalg.norm(got - exact) / np.linalg.norm(exact)
    assert frobenius <= old_error / 50
    if degree >= 30:
        assert frobenius <= 4 * EPS[np.float64]


# ----------------------------------------------------------------------------- monotone to rounding


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("power", [0.5, -0.5], ids=["sqrt", "inv_sqrt"])
@pytest.mark.parametrize("case", list(CASES))
def test_mpa_error_falls_monotonically_to_rounding(case, power, dtype):
    a = CASES[case].astype(dtype)
    eps = EPS[dtype]
    cond = float(np.linalg.cond(a.astype(np.float64)))
    degrees = DEGREES_TO_CAP if case == "cond_1e6" else DEGREES
    errors = errors_by_degree(a, power, degrees)
    floor = rounding_floor(power, cond, eps)
    assert_falls_to_rounding(errors, degrees, wiggle=4 * floor)
    # The square root reaches 100 eps; the inverse root 100 eps or, ill-conditioned, the floor
    # every method faces (measured there: 2.8e3 eps in float64, 1.5e4 eps in float32 at condition 1e6).
    target = 100 * eps if power > 0 else max(100 * eps, floor)
    assert min(errors) <= target, (errors[-4:], target)
    # ... and stays there: every degree after the first that reached it is within the wiggle of it.
    first = next(i for i, e in enumerate(errors) if e <= target)
    assert max(errors[first:]) <= target + 4 * floor


@pytest.mark.parametrize("case", ["cond_1e2", "cond_1e6"])
def test_mpa_on_a_batch_is_monotone_per_matrix(case):
    # One batch holding both a well- and an ill-conditioned matrix: each converges at its own rate.
    a = np.stack([CASES[case], spd(8, 10.0, seed=3)])
    y, _, _, _ = reference_roots(a, np.broadcast_to(np.eye(8), a.shape).copy())
    errs = np.array([[relative_error(matsqrt.sqrtm(a, "mpa", degree=d)[i], y[i]) for i in range(2)]
                     for d in (8, 16, 64, 256, 1024)])
    assert np.all(np.diff(errs, axis=0) <= 4 * EPS[np.float64] * 1e3)
    assert errs[-1, 1] <= 4 * EPS[np.float64]


# ----------------------------------------------------------------------------- same approximant, up to rounding


def _exact_approximant(a: np.ndarray, s: float, power: float, m: int) -> np.ndarray:
    """U r(Lambda) U^T in high precision, r = P/Q from the exact coefficients (not from partial fractions)."""
    p, q = pade_coefficients(m)
    # In the monomial basis P and Q cancel by up to ~10^(0.76 m) near z = 1 (2.8e227 at m = 300).
    with mpmath.workdps(m + 40):
        mp_p = [mpmath.mpf(c.numerator) / c.denominator for c in p]
        mp_q = [mpmath.mpf(c.numerator) / c.denominator for c in q]
        w, u = mpmath.eigsy(mpmath.matrix(a.tolist()) / s)
        vals = []
        for lam in w:
            z = 1 - max(lam, mpmath.mpf(0))
            r = mpmath.polyval(mp_p[::-1], z) / mpmath.polyval(mp_q[::-1], z)
            vals.append(r * mpmath.sqrt(s) if power > 0 else 1 / (r * mpmath.sqrt(s)))
        out = u * mpmath.diag(vals) * u.T
        return np.array(out.tolist(), dtype=np.float64)


@pytest.mark.parametrize("power", [0.5, -0.5], ids=["sqrt", "inv_sqrt"])
@pytest.mark.parametrize("cond, zeros", [(50.0, 0), (1e4, 0), (1e6, 0), (10.0, 2)])
@pytest.mark.parametrize("degree", [9, 16, 100, 300])
def test_partial_fractions_compute_the_exact_approximant_up_to_rounding(degree, cond, zeros, power):
    # The error of the computed matrix is the scalar approximation error: the computed matrix
    # is the exact approximant r(A) up to rounding (measured: sqrt <= 4 eps, inverse <= 0.02 cond eps).
    if power < 0 and zeros:
        pytest.skip("a singular matrix has no inverse root")
    a = spd(8, cond, seed=int(cond) + zeros, zeros=zeros)
    s = float(np.linalg.norm(a))
    ref = _exact_approximant(a, s, power, degree)
    got = partial_fraction_root(a, np.array([[s]]), Fraction(power), degree, np_xp)
    err = np.linalg.norm(got - ref, 2) / np.linalg.norm(ref, 2)
    eps = EPS[np.float64]
    # A zero eigenvalue: the shifted matrices' condition grows like m^2 (approximation error 1/(2m+1)).
    bound = 4 * rounding_floor(power, cond, eps) if not zeros else 8 * eps + degree * eps / 4
    assert err <= bound, (err / eps, bound / eps)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_pade_forms_agree_at_the_switch_degree(dtype):
    # Both forms compute the same approximant; at the switch degree the monomial form's extra
    # rounding is still small against the approximation error (which both share), so the two
    # are equally accurate there.  Above it the monomial's rounding takes over (see pade.py).
    eps = EPS[dtype]
    switch = monomial_max_degree(np.dtype(dtype), np_xp)
    assert switch >= 5  # the paper's default degree keeps its monomial evaluation
    for seed, cond in enumerate((1.0, 1.5, 3.0, 1e2, 1e4)):
        a = spd(8, cond, seed=seed).astype(dtype)
        y, z, _, _ = reference_roots(a.astype(np.float64), np.eye(8))
        for scale in (frobenius_norm(a, np_xp), np.array([[np.linalg.norm(a.astype(np.float64), 2)]], dtype=dtype)):
            for power, ref in ((Fraction(1, 2), y), (Fraction(-1, 2), z)):
                mono = monomial_root(a, scale, power, switch, np_xp)
                frac = partial_fraction_root(a, scale, power, switch, np_xp)
                assert mono.dtype == frac.dtype == dtype
                e_mono, e_frac = relative_error(mono, ref), relative_error(frac, ref)
                difference = relative_error(mono, frac.astype(np.longdouble))
                assert difference <= max(0.5 * e_frac, 16 * eps), (seed, power, e_mono, e_frac, difference)
                # the rule that chose the switch degree (pade.py): worst ratio below 5, floored at 4 eps
                assert e_mono <= 5 * max(e_frac, 4 * eps)
            # mpa_root runs the monomial form up to the switch, partial fractions above it.
            np.testing.assert_array_equal(mpa_root(a, scale, power, switch, np_xp),
                                          monomial_root(a, scale, power, switch, np_xp))
            np.testing.assert_array_equal(mpa_root(a, scale, power, switch + 1, np_xp),
                                          partial_fraction_root(a, scale, power, switch + 1, np_xp))


def test_default_degree_still_runs_the_papers_evaluation():
    a = spd(6, 10.0, seed=5)
    for dtype in (np.float64, np.float32):
        af = a.astype(dtype)
        s = frobenius_norm(af, np_xp)
        np.testing.assert_array_equal(matsqrt.sqrtm(af, "mpa"), monomial_root(af, s, Fraction(1, 2), 5, np_xp))


# ----------------------------------------------------------------------------- backends, batches, edge cases


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_high_degree_path_on_every_backend(backend, dtype):
    a = np.stack([spd(5, c, seed=i) for i, c in enumerate((1.0, 10.0, 1e2, 1e3, 3.0, 30.0))]).reshape(2, 3, 5, 5)
    y, z, _, _ = reference_roots(a.astype(dtype).astype(np.float64), np.broadcast_to(np.eye(5), a.shape).copy())
    eps = EPS[dtype]
    for power, ref in ((0.5, y), (-0.5, z)):
        got = FUNCS[power](backend.asarray(a.astype(dtype)), "mpa", degree=400)
        got = backend.to_numpy(got)
        assert got.dtype == dtype and got.shape == a.shape
        assert relative_error(got, ref) <= 100 * eps * (1 if power > 0 else 1e3 ** 0.5)
        single = backend.to_numpy(FUNCS[power](backend.asarray(a[1, 2].astype(dtype)), "mpa", degree=400))
        np.testing.assert_allclose(got[1, 2], single, rtol=0, atol=16 * eps * np.abs(single).max())


def test_zero_matrix_at_high_degree(backend):
    # A zero scale is read as 1, as in the monomial path: sqrt(0) = 0, 1/sqrt(0) = inf, and the
    # rest of the batch is unaffected.  (Called on the core: the public functions refuse a zero
    # matrix for the inverse root before it gets here.)
    xp = backend.xp
    a = backend.asarray(np.stack([np.zeros((3, 3)), np.diag([1.0, 2.0, 3.0])]))
    s = frobenius_norm(a, xp)
    y = backend.to_numpy(mpa_root(a, s, Fraction(1, 2), 50, xp))
    np.testing.assert_array_equal(y[0], 0.0)
    np.testing.assert_allclose(y[1], np.diag(np.sqrt([1.0, 2.0, 3.0])), rtol=4e-16, atol=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = backend.to_numpy(mpa_root(a, s, Fraction(-1, 2), 50, xp))
    assert np.all(np.isinf(np.diag(z[0])))
    np.testing.assert_allclose(z[1], np.diag(1 / np.sqrt([1.0, 2.0, 3.0])), rtol=4e-16, atol=0)


# ----------------------------------------------------------------------------- degree limits


@pytest.mark.parametrize("method, cap", [("mpa", MPA_MAX_DEGREE), ("mtp", MTP_MAX_DEGREE)])
def test_huge_degrees_raise_value_error_at_once(method, cap):
    a = np.eye(3)
    for degree in (10**6, cap + 1, 10**30):
        for f in (matsqrt.sqrtm, matsqrt.inv_sqrtm):
            start = time.perf_counter()
            with pytest.raises(ValueError, match=rf"\[1, {cap}\]"):
                f(a, method, degree=degree)
            assert time.perf_counter() - start < 1.0
    config = {"mpa": matsqrt.MPA, "mtp": matsqrt.MTP}[method]
    with pytest.raises(ValueError, match=rf"\[1, {cap}\]"):
        config(degree=10**6)
    assert config(degree=cap).degree == cap


def test_degree_at_the_cap_builds_quickly_and_runs():
    start = time.perf_counter()
    y = matsqrt.sqrtm(np.diag([1.0, 4.0]), "mpa", degree=MPA_MAX_DEGREE)
    z = matsqrt.sqrtm(np.diag([1.0, 4.0]), "mtp", degree=MTP_MAX_DEGREE)
    assert time.perf_counter() - start < 10.0  # ~0.3 s here: coefficients and 10 000 2 x 2 solves / products
    np.testing.assert_allclose(np.diag(y), [1.0, 2.0], rtol=4e-16)
    np.testing.assert_allclose(np.diag(z), [1.0, 2.0], rtol=4e-16)


# ----------------------------------------------------------------------------- the Taylor polynomial


MTP_CASES = {**CASES, "cond_1e1": spd(8, 10.0, seed=13)}
MTP_DEGREES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, MTP_MAX_DEGREE)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("power", [0.5, -0.5], ids=["sqrt", "inv_sqrt"])
@pytest.mark.parametrize("case", list(MTP_CASES))
def test_mtp_error_falls_monotonically_to_rounding(case, power, dtype):
    # Horner in the monomial basis is stable here: the coefficients have modulus <= 1, one sign
    # after the constant (sqrt) or all positive (inverse), and ||X|| < 1.  Measured at degree
    # 10 000: 0.2-1.6 eps (sqrt), 0.2-4.3 eps (inverse) for conditions up to 1e2.
    a = MTP_CASES[case].astype(dtype)
    eps = EPS[dtype]
    cond = float(np.linalg.cond(a.astype(np.float64)))
    errors = errors_by_degree(a, power, MTP_DEGREES, method="mtp")
    assert_falls_to_rounding(errors, MTP_DEGREES, wiggle=4 * rounding_floor(power, cond, eps))
    if case == "cond_1e6":
        # (1 - delta)^K with delta ~ 1e-6: far from converged at the cap, but still falling.
        assert errors[-1] < errors[len(errors) // 2] < errors[0]
    else:
        assert errors[-1] <= 100 * eps
