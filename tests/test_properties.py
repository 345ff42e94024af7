"""Referee of the accuracy contract: every value returned is within its documented
error bound of the truth, or a documented exception is raised.

Notation: u = eps of the working dtype, n = matrix size, lam = eigenvalues of the
matrix *as stored* (float32 or float64; references from its exact float64 cast),
kappa = lam_max / lam_min (inf if lam_min <= 0).  Errors are relative Frobenius
norms, checked per matrix of a batch against that matrix's own bound (so the
worst over the batch is within bound).  References: tests/oracles.py (long-double
eigendecomposition for symmetric input, exact for diagonal input; SciPy's
Schur root refined in long double for non-symmetric input) -- never matsqrt.

A true result that does not fit the dtype (overflow, or below the normal range)
is not checked: no value of that dtype could meet the bound.
"""

from __future__ import annotations

import zlib

import hypothesis
import numpy as np
import oracles as O
import pytest
from hypothesis import assume, event, example, given, note, settings
from hypothesis import strategies as st

import matsqrt

from helpers import evaluation_amplification, scalar_root

ACCURATE = ("auto", "eigh", "matmul", "ns")
# Methods whose inverse roots and gradients are held to the same bounds (db refuses singular input,
# which these tests allow only for numerically singular matrices).
INVERTING = (*ACCURATE, "db")
SERIES = ("mpa", "mtp")
DEGREE = {"mpa": 5, "mtp": 10}
ALL_METHODS = (*ACCURATE, *SERIES)
REFUSALS = (ValueError, matsqrt.ConvergenceError)
# The contract's constant (README, docs/accuracy.md): errors within C sqrt(n) u times the
# problem's condition (sqrt(kappa) for the root, kappa for the inverse root and the gradients).
C = 4.0
DTYPES = st.sampled_from([np.float64, np.float32])
BATCHES = st.sampled_from([(), (3,), (2, 2)])
# Mostly small matrices, some medium, a few large (n <= 300); sampled_from shrinks towards n = 1.
SIZES = st.sampled_from([*range(1, 7), *range(1, 7), *range(1, 7), *range(1, 7),
                         7, 8, 9, 10, 11, 12, 14, 16, 20, 24, 32, 40, 64, 128, 300])
LARGE_N = 40  # larger matrices come unbatched


# --------------------------------------------------------------------------- cases


def shared_examples(test):
    """Under a derandomized profile ("ci"), give every parametrization (backend, method)
    of ``test`` the same examples, so each reference is computed once (oracles caches them)."""
    if settings.default.derandomize:
        return hypothesis.seed(zlib.crc32(test.__name__.encode()))(test)
    return test


def _literal(a: np.ndarray) -> str:
    body = np.array2string(a, separator=", ", threshold=10**6, floatmode="unique", max_line_width=10**6)
    return f"np.array({body}, dtype=np.{a.dtype.name})"


class Case:
    """A stored input ``a`` and the call that builds it (tests/oracles.py), for reproducers."""

    def __init__(self, a: np.ndarray, recipe: str):
        self.a = a
        self.recipe = recipe

    def __repr__(self) -> str:
        text = f"oracles.{self.recipe}"
        if self.a.size <= 36:
            text += f"\n    == {_literal(self.a)}"
        return text


def _batch(draw, n):
    return draw(BATCHES) if n <= LARGE_N else ()


@st.composite
def symmetric_cases(draw, kinds=O.SYMMETRIC_KINDS):
    dtype = np.dtype(draw(DTYPES))
    n = draw(SIZES)
    batch = _batch(draw, n)
    kind = draw(st.sampled_from(kinds))
    log_cond = draw(st.floats(0, 12))
    k = O.MAX_EXPONENT[dtype]
    wide = draw(st.booleans())
    exponent = draw(st.integers(-k, k)) if wide else 0
    rng_seed = draw(st.integers(0, 2**32 - 1))
    args = (dtype.type, n, batch, kind, log_cond, exponent, wide, rng_seed)
    recipe = (f"build_symmetric(np.{dtype.name}, n={n}, batch={batch}, kind={kind!r}, log_cond={log_cond!r}, "
              f"exponent={exponent}, wide={wide}, seed={rng_seed})")
    return Case(O.build_symmetric(*args), recipe)


@st.composite
def indefinite_cases(draw):
    dtype = np.dtype(draw(DTYPES))
    n = draw(SIZES)
    batch = _batch(draw, n)
    log_neg = draw(st.floats(float(np.log10(2 * n * O.eps(dtype))), 0))
    k = O.MAX_EXPONENT[dtype]
    wide = draw(st.booleans())
    exponent = draw(st.integers(-k, k)) if wide else 0
    rng_seed = draw(st.integers(0, 2**32 - 1))
    recipe = (f"build_indefinite(np.{dtype.name}, n={n}, batch={batch}, log_neg={log_neg!r}, exponent={exponent}, "
              f"wide={wide}, seed={rng_seed})")
    return Case(O.build_indefinite(dtype.type, n, batch, log_neg, exponent, wide, rng_seed), recipe)


@st.composite
def nonsymmetric_cases(draw, families=O.NONSYMMETRIC_FAMILIES, max_angle=89.0, min_angle=0.0):
    dtype = np.dtype(draw(DTYPES))
    family = draw(st.sampled_from(families))
    n = draw(st.integers(2 if family == "rotation" else 1, 16))
    batch = draw(BATCHES)
    rng_seed = draw(st.integers(0, 2**32 - 1))
    recipe = (f"build_nonsymmetric(np.{dtype.name}, n={n}, batch={batch}, family={family!r}, seed={rng_seed}, "
              f"max_angle={max_angle}, min_angle={min_angle})")
    return Case(O.build_nonsymmetric(dtype.type, n, batch, family, rng_seed, max_angle, min_angle), recipe)


@st.composite
def positive_diagonal_cases(draw):
    dtype = np.dtype(draw(DTYPES))
    n = draw(SIZES)
    batch = _batch(draw, n)
    k = O.MAX_EXPONENT[dtype]
    lo, hi = sorted((draw(st.integers(-k, k)), draw(st.integers(-k, k))))
    rng_seed = draw(st.integers(0, 2**32 - 1))
    recipe = f"build_positive_diagonal(np.{dtype.name}, n={n}, batch={batch}, lo={lo}, hi={hi}, seed={rng_seed})"
    return Case(O.build_positive_diagonal(dtype.type, n, batch, lo, hi, rng_seed), recipe)


def _symmetric_case(*args, **kwargs) -> Case:
    text = ", ".join([*map(repr, args[1:]), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return Case(O.build_symmetric(*args, **kwargs), f"build_symmetric(np.{np.dtype(args[0]).name}, {text})")


# Large matrices in every run (drawn sizes reach 300 only now and then).
LARGE_SYMMETRIC = (
    _symmetric_case(np.float64, 300, (), "random", 12.0, 150, True, 1),
    _symmetric_case(np.float32, 300, (), "rank_deficient", 6.0, -30, True, 2),
    _symmetric_case(np.float64, 128, (), "clustered", 9.0, -150, True, 3),
    _symmetric_case(np.float32, 64, (3,), "repeated", 12.0, 7, True, 4),
)


LARGE_INDEFINITE = Case(O.build_indefinite(np.float64, 300, (), -13.0, -150, False, 5),
                        "build_indefinite(np.float64, 300, (), -13.0, -150, False, 5)")


def large_symmetric_examples(test=None, **extra):
    def wrap(test):
        for case in LARGE_SYMMETRIC:
            test = example(case=case, **extra)(test)
        return test
    return wrap if test is None else wrap(test)


# --------------------------------------------------------------------------- checks


def _call(fn):
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001 - which exceptions are allowed is decided by the caller
        return None, exc


def _refused(case, exc, why):
    raise AssertionError(f"raised {type(exc).__name__}: {exc} -- not allowed here ({why})\ncase: {case!r}") from exc


def _check_within(what: str, got: np.ndarray, ref: np.ndarray, bound, dtype, case: Case, **info) -> None:
    """Per matrix: ``got`` finite and within ``bound`` of ``ref`` (where the true result is representable)."""
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), ref.shape[:-2])
    err = O.rel_errors(got, ref)
    fits = O.representable(ref, dtype)
    for _ in np.argwhere(~fits):
        event(f"{what}: true result not representable in {np.dtype(dtype).name}, not checked")
    bad = fits & ~(err <= bound)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        extra = ", ".join(f"{k}={np.asarray(v)[i] if np.ndim(v) else v:.3g}" for k, v in info.items())
        raise AssertionError(f"{what}: relative error {err[i]:.6g} > bound {bound[i]:.6g} at batch index {i} "
                             f"(excess {err[i] - bound[i]:.3g}, ratio {err[i] / bound[i]:.4g}; n={ref.shape[-1]}, "
                             f"{np.dtype(dtype).name}, {extra})\ncase: {case!r}")


def _lam_max(eig: O.SymEig) -> np.ndarray:
    return np.abs(eig.d).max(axis=-1).astype(np.float64)


def _clearly_negative(eig: O.SymEig, n: int, u: float) -> bool:
    """Some eigenvalue below -n u lam_max / 2: no longer PSD to rounding (the gray zone
    below the indefinite threshold -n u lam_max, where a refusal is not a failure)."""
    return bool(np.any(eig.d.min(axis=-1).astype(np.float64) < -n * u * _lam_max(eig) / 2))


def _sqrt_bound(n, u, kappa):
    return C * np.sqrt(n) * u * np.minimum(np.sqrt(kappa), np.sqrt(n / u))


def _is_positive_diagonal(a: np.ndarray) -> bool:
    d = np.diagonal(a, axis1=-2, axis2=-1)
    return bool(np.array_equal(a, d[..., :, None] * np.eye(a.shape[-1], dtype=a.dtype)) and np.all(d > 0))


def _note_kappa(kappa):
    note(f"kappa per matrix: {np.array2string(np.asarray(kappa), precision=3)}")


# --------------------------------------------------------------------------- symmetric: accurate methods


@pytest.mark.parametrize("method", ACCURATE)
@shared_examples
@large_symmetric_examples
@given(case=symmetric_cases())
def test_sqrtm_of_psd_input_is_within_bound_and_never_refused(backend, method, case):
    a = case.a
    n, u = a.shape[-1], O.eps(a.dtype)
    eig = O.sym_eig(a)
    kappa = eig.kappa()
    _note_kappa(kappa)
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method)))
    if exc is not None:
        if isinstance(exc, ValueError) and _clearly_negative(eig, n, u):
            event("refusal excused: an eigenvalue below -n u lam_max / 2")
            return
        _refused(case, exc, "positive semi-definite input, singular or not, must not be refused")
    _check_within(f"sqrtm {method}", y, eig.sqrt(), _sqrt_bound(n, u, kappa), a.dtype, case, kappa=kappa)


@pytest.mark.parametrize("method", INVERTING)
@shared_examples
@large_symmetric_examples
@given(case=symmetric_cases())
def test_inv_sqrtm_is_within_bound_or_refused_only_when_numerically_singular(backend, method, case):
    a = case.a
    n, u = a.shape[-1], O.eps(a.dtype)
    eig = O.sym_eig(a)
    kappa = eig.kappa()
    _note_kappa(kappa)
    z, exc = _call(lambda: backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(a), method)))
    if exc is not None:
        if method in ("auto", "eigh") and _is_positive_diagonal(a):
            _refused(case, exc, "a diagonal matrix with positive diagonal is never refused by auto/eigh")
        if isinstance(exc, REFUSALS) and np.max(kappa) >= 1 / (100 * n * u):
            return
        _refused(case, exc, f"kappa = {np.max(kappa):.3g} < 1/(100 n u) = {1 / (100 * n * u):.3g}")
    with np.errstate(all="ignore"):
        ref = eig.inv_sqrt()
    _check_within(f"inv_sqrtm {method}", z, ref, C * np.sqrt(n) * u * kappa, a.dtype, case, kappa=kappa)


def _vjp_check(backend, method, case, g_seed, power):
    a = case.a
    n, u = a.shape[-1], O.eps(a.dtype)
    g = np.random.default_rng(g_seed).standard_normal(a.shape).astype(a.dtype)
    eig = O.sym_eig(a)
    kappa = eig.kappa()
    _note_kappa(kappa)
    vjp_fn = matsqrt.sqrtm_vjp if power > 0 else matsqrt.inv_sqrtm_vjp

    def run():
        value, vjp = vjp_fn(backend.asarray(a), method)
        value = backend.to_numpy(value)
        return value, backend.to_numpy(vjp(backend.asarray(g)))

    out, exc = _call(run)
    name = vjp_fn.__name__
    if exc is not None:
        if isinstance(exc, REFUSALS) and np.max(kappa) >= 1 / (100 * n * u):
            return
        _refused(case, exc, f"kappa = {np.max(kappa):.3g} < 1/(100 n u) = {1 / (100 * n * u):.3g}")
    value, grad = out
    with np.errstate(all="ignore"):
        if power > 0:
            _check_within(f"{name} {method}: Y", value, eig.sqrt(), _sqrt_bound(n, u, kappa), a.dtype, case,
                          kappa=kappa)
        else:
            _check_within(f"{name} {method}: Z", value, eig.inv_sqrt(), C * np.sqrt(n) * u * kappa, a.dtype, case,
                          kappa=kappa)
        dy, dz = eig.gradients(g.astype(np.float64))
    _check_within(f"{name} {method}: gradient", grad, dy if power > 0 else dz, C * np.sqrt(n) * u * kappa, a.dtype,
                  case, kappa=kappa)


@pytest.mark.parametrize("method", INVERTING)
@shared_examples
@large_symmetric_examples(g_seed=0)
@given(case=symmetric_cases(), g_seed=st.integers(0, 2**32 - 1))
def test_sqrtm_vjp_gradient_is_within_bound_or_refused_only_when_numerically_singular(backend, method, case,
                                                                                      g_seed):
    _vjp_check(backend, method, case, g_seed, 0.5)


@pytest.mark.parametrize("method", INVERTING)
@shared_examples
@large_symmetric_examples(g_seed=0)
@given(case=symmetric_cases(), g_seed=st.integers(0, 2**32 - 1))
def test_inv_sqrtm_vjp_gradient_is_within_bound_or_refused_only_when_numerically_singular(backend, method, case,
                                                                                          g_seed):
    _vjp_check(backend, method, case, g_seed, -0.5)


@pytest.mark.parametrize("method", ["auto", "eigh"])
@shared_examples
@given(case=positive_diagonal_cases())
def test_positive_diagonal_input_is_never_refused_and_its_roots_are_within_bound(backend, method, case):
    # Exact references: the roots of the diagonal, in long double.
    a = case.a
    n, u = a.shape[-1], O.eps(a.dtype)
    d = np.diagonal(a, axis1=-2, axis2=-1).astype(O.LD)
    kappa = (d.max(axis=-1) / d.min(axis=-1)).astype(np.float64)
    _note_kappa(kappa)
    eye = np.eye(n, dtype=O.LD)
    for fn, ref, bound in ((matsqrt.sqrtm, np.sqrt(d)[..., None] * eye, _sqrt_bound(n, u, kappa)),
                           (matsqrt.inv_sqrtm, (1 / np.sqrt(d))[..., None] * eye, C * np.sqrt(n) * u * kappa)):
        got, exc = _call(lambda fn=fn: backend.to_numpy(fn(backend.asarray(a), method)))
        if exc is not None:
            _refused(case, exc, f"{fn.__name__}: positive diagonal input is never refused by auto/eigh")
        _check_within(f"{fn.__name__} {method}", got, ref, bound, a.dtype, case, kappa=kappa)


# --------------------------------------------------------------------------- symmetric: the paper's series


def _series_rounding(eig: O.SymEig, a: np.ndarray, method: str, power: float) -> np.ndarray:
    """The series' rounding allowance per matrix: C sqrt(n) u times the evaluation amplification
    (sum |c_k| |z|^k / |sum c_k z^k| over the polynomials, worst over the scaled eigenvalues z)."""
    n, u = a.shape[-1], O.eps(a.dtype)
    lam = np.maximum(eig.d.astype(np.float64), 0.0)
    s = O.fro(a.astype(np.float64)).astype(np.float64)[..., None]
    z = 1.0 - lam / np.where(s > 0, s, 1.0)
    gamma = np.max(evaluation_amplification(z, method, DEGREE[method], power), axis=-1)
    return C * np.sqrt(n) * u * gamma


def _approximation_error(eig: O.SymEig, a: np.ndarray, method: str, power: float) -> np.ndarray:
    """Relative Frobenius error of sqrt(s) r(I - A/s) (or its inverse) for symmetric A, exactly, per matrix."""
    lam = np.maximum(eig.d.astype(np.float64), 0.0)
    s = O.fro(a.astype(np.float64)).astype(np.float64)[..., None]
    safe = np.where(s > 0, s, 1.0)
    approx = np.where(s > 0, scalar_root(lam, safe * np.ones_like(lam), method, DEGREE[method], power), 0.0)
    with np.errstate(divide="ignore"):
        true = np.sqrt(lam) if power > 0 else 1 / np.sqrt(lam)
    num = np.sqrt(np.sum((true - approx) ** 2, axis=-1))
    den = np.sqrt(np.sum(true**2, axis=-1))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


@pytest.mark.parametrize("method", SERIES)
@shared_examples
@large_symmetric_examples
@given(case=symmetric_cases())
def test_series_sqrtm_error_is_at_most_approximation_error_plus_rounding(backend, method, case):
    a = case.a
    n, u = a.shape[-1], O.eps(a.dtype)
    eig = O.sym_eig(a)
    _note_kappa(eig.kappa())
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method)))
    if exc is not None:
        if isinstance(exc, ValueError) and _clearly_negative(eig, n, u):
            event("refusal excused: an eigenvalue below -n u lam_max / 2")
            return
        _refused(case, exc, "symmetric positive semi-definite input is in the series' domain")
    approx = _approximation_error(eig, a, method, 0.5)
    _check_within(f"sqrtm {method}", y, eig.sqrt(), approx + _series_rounding(eig, a, method, 0.5), a.dtype, case,
                  approximation_error=approx)


@pytest.mark.parametrize("method", SERIES)
@shared_examples
@large_symmetric_examples
@given(case=symmetric_cases())
def test_series_inv_sqrtm_error_is_at_most_approximation_error_plus_rounding(backend, method, case):
    a = case.a
    n, u = a.shape[-1], O.eps(a.dtype)
    eig = O.sym_eig(a)
    kappa = eig.kappa()
    _note_kappa(kappa)
    z, exc = _call(lambda: backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(a), method)))
    if exc is not None:
        if isinstance(exc, ValueError) and np.max(kappa) >= 1 / (100 * n * u):
            return
        _refused(case, exc, f"kappa = {np.max(kappa):.3g} < 1/(100 n u) = {1 / (100 * n * u):.3g}")
    with np.errstate(all="ignore"):
        ref = eig.inv_sqrt()
        approx = np.where(np.isfinite(kappa), _approximation_error(eig, a, method, -0.5), np.inf)
    _check_within(f"inv_sqrtm {method}", z, ref, approx + _series_rounding(eig, a, method, -0.5), a.dtype, case,
                  approximation_error=approx, kappa=kappa)


# --------------------------------------------------------------------------- non-symmetric input


def _check_principal(y: np.ndarray, case: Case, what: str) -> None:
    """The principal root: eigenvalues in the right half-plane, and within C n u max(cond, 1) of the
    reference."""
    a = case.a
    n, u = a.shape[-1], O.eps(a.dtype)
    ref, cond = O.nonsym_reference(a)
    note(f"cond per matrix: {np.array2string(cond, precision=3)}")
    y64 = np.asarray(y, dtype=np.float64)
    flat_y, flat_ref = y64.reshape(-1, n, n), ref.reshape(-1, n, n)
    for i, (yi, ri) in enumerate(zip(flat_y, flat_ref, strict=True)):
        assert np.all(np.isfinite(yi)), f"{what}: non-finite value at flat batch index {i}\ncase: {case!r}"
        if np.all(np.isfinite(ri)) and O.robustly_principal(ri.astype(np.float64), u):
            assert not O.certain_lhp_eigenvalue(yi), (
                f"{what}: not the principal root: eigenvalues {np.linalg.eigvals(yi)} at flat batch index {i} "
                f"(principal root's: {np.linalg.eigvals(ri.astype(np.float64))})\ncase: {case!r}")
        else:
            event("principal root not robust to rounding: eigenvalue signs not checked")
    if not np.all(np.isfinite(cond)):
        event("condition number beyond the reference's reach: error not checked")
    # No result can be closer than rounding it to the dtype: the condition counts as at least 1.  For
    # general input the bound grows with n, not sqrt(n): the backward error of the dense non-orthogonal
    # steps (Schur's triangular recurrence, the iterations' inverses) is of order n u (SciPy's own
    # Schur method measured 1.04x the sqrt(n) form on a 3 x 3 matrix with cond 0.54).
    _check_within(what, y, ref, C * n * u * np.maximum(cond, 1.0), a.dtype, case, cond=cond)


def _assume_principal_domain(case: Case, certain) -> None:
    a64 = case.a.astype(np.float64)
    n = a64.shape[-1]
    assume(all(certain(m) for m in a64.reshape(-1, n, n)))


GENERAL = ("auto", "db", "schur")  # the methods that must never refuse a matrix with a real principal root


def _general_method(backend, method):
    if method == "schur" and not backend.name.startswith("numpy"):
        pytest.skip("schur runs on NumPy arrays only")


@pytest.mark.parametrize("method", GENERAL)
@shared_examples
@given(case=nonsymmetric_cases())
def test_general_methods_return_the_principal_root_of_nonsymmetric_input_within_the_condition_bound(
        backend, method, case):
    _general_method(backend, method)
    _assume_principal_domain(case, lambda m: O.certain_rhp(m, 10))
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(case.a), method)))
    if exc is not None:
        _, cond = O.nonsym_reference(case.a)
        n, u = case.a.shape[-1], O.eps(case.a.dtype)
        if isinstance(exc, ValueError) and not np.all(C * n * u * np.maximum(cond, 1.0) < 1.0):
            # No digit is promised where the bound is at least 1 (the root's condition beyond 1 / (C n u));
            # there a refusal that says so is allowed (db refuses roots it cannot verify: a matrix this far from
            # normal can make its iteration converge to a non-principal root).
            event("refusal at a condition beyond 1 / (C n u)")
            return
        _refused(case, exc, f"{method} must return the principal root of input with right half-plane spectrum")
    _check_principal(y, case, f"sqrtm {method}")


@pytest.mark.parametrize("method", GENERAL)
@shared_examples
@given(case=nonsymmetric_cases(families=("rotation",), min_angle=90.5, max_angle=170.0))
def test_general_methods_return_the_principal_root_of_rotations_by_up_to_170_degrees(backend, method, case):
    # Rotations past 90 degrees have eigenvalues in the left half-plane (off the
    # negative real axis): the brief lists them among the families auto must handle.
    _general_method(backend, method)
    _assume_principal_domain(case, O.certain_off_negative_axis)
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(case.a), method)))
    if exc is not None:
        _refused(case, exc, f"{method} must return the principal root of rotations by up to 170 degrees")
    _check_principal(y, case, f"sqrtm {method}")


@pytest.mark.parametrize("method", ["matmul", "ns"])
@shared_examples
@given(case=nonsymmetric_cases(max_angle=170.0))
def test_iterative_methods_refuse_nonsymmetric_input_or_return_its_principal_root(backend, method, case):
    _assume_principal_domain(case, O.certain_off_negative_axis)
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(case.a), method)))
    if exc is not None:
        if isinstance(exc, ValueError):
            return
        _refused(case, exc, "only ValueError may refuse non-symmetric input")
    _check_principal(y, case, f"sqrtm {method}")


def _expect_value_error(fn, what: str, case: Case) -> None:
    out, exc = _call(fn)
    if exc is None:
        a = case.a.astype(np.float64)
        gap = np.max(np.abs(a - np.swapaxes(a, -1, -2))) / np.max(np.abs(a))
        raise AssertionError(f"{what}: returned a value instead of raising ValueError (max|A - A^T| / max|A| = "
                             f"{gap:.3g})\ncase: {case!r}")
    if not isinstance(exc, ValueError):
        raise AssertionError(f"{what}: raised {type(exc).__name__} ({exc}) instead of ValueError"
                             f"\ncase: {case!r}") from exc


FUNCTIONS = (matsqrt.sqrtm, matsqrt.inv_sqrtm, matsqrt.sqrtm_vjp, matsqrt.inv_sqrtm_vjp)


@pytest.mark.parametrize("method", SERIES)
@shared_examples
@given(case=nonsymmetric_cases(max_angle=170.0))
def test_series_methods_refuse_nonsymmetric_input(backend, method, case):
    a = case.a
    assume(not np.array_equal(a, np.swapaxes(a, -1, -2)))
    for fn in FUNCTIONS:
        _expect_value_error(lambda fn=fn: fn(backend.asarray(a), method), f"{fn.__name__} {method}", case)


# --------------------------------------------------------------------------- indefinite input


PSD_ONLY = ("eigh", "matmul", "ns", *SERIES)


@pytest.mark.parametrize("method", PSD_ONLY)
@shared_examples
@example(case=LARGE_INDEFINITE)
@given(case=indefinite_cases())
def test_every_psd_method_raises_value_error_on_indefinite_symmetric_input(backend, method, case):
    a = case.a
    n, u = a.shape[-1], O.eps(a.dtype)
    eig = O.sym_eig(a)
    lam_min = eig.d.min(axis=-1).astype(np.float64)
    note(f"lam_min / lam_max per matrix: {lam_min / _lam_max(eig)}")
    assume(np.any(lam_min < -n * u * _lam_max(eig)))
    for fn in FUNCTIONS:
        _expect_value_error(lambda fn=fn: fn(backend.asarray(a), method), f"{fn.__name__} {method}", case)


@pytest.mark.parametrize("method", GENERAL)
@shared_examples
@example(case=LARGE_INDEFINITE)
@given(case=indefinite_cases())
def test_general_methods_return_the_complex_principal_root_of_indefinite_symmetric_input(backend, method, case):
    # A = W diag(d) W^T with some d < 0: the principal roots are W diag(d^(+-1/2)) W^T with
    # sqrt(d) = i sqrt(-d), a normal matrix; the condition is that of the PSD case with |d| for d.
    _general_method(backend, method)
    a = case.a
    n, u = a.shape[-1], O.eps(a.dtype)
    eig = O.sym_eig(a)
    assume(np.any(eig.d.min(axis=-1).astype(np.float64) < -n * u * _lam_max(eig)))
    d = eig.d.astype(np.complex128)
    w = eig.w.astype(np.float64)
    smallest = np.abs(eig.d).min(axis=-1).astype(np.float64)
    with np.errstate(divide="ignore"):
        kappa = np.where(smallest > 0, _lam_max(eig) / smallest, np.inf)
    _note_kappa(kappa)

    def apply(values):
        return np.einsum("...ij,...kj->...ik", w * values[..., None, :], w)

    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method)))
    if exc is not None:
        _refused(case, exc, "an indefinite symmetric matrix has a principal root")
    assert np.iscomplexobj(y) and np.finfo(y.dtype).eps == u, f"dtype {y.dtype} for {a.dtype} input"
    _check_within(f"sqrtm {method}", y, apply(np.sqrt(d)), _sqrt_bound(n, u, kappa), a.dtype, case, kappa=kappa)
    z, exc = _call(lambda: backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(a), method)))
    if exc is not None:
        if isinstance(exc, REFUSALS) and np.max(kappa) >= 1 / (100 * n * u):
            return
        _refused(case, exc, f"kappa = {np.max(kappa):.3g} < 1/(100 n u)")
    with np.errstate(all="ignore"):
        ref = apply(1 / np.sqrt(d))
    _check_within(f"inv_sqrtm {method}", z, ref, C * np.sqrt(n) * u * kappa, a.dtype, case, kappa=kappa)


# --------------------------------------------------------------------------- the referee's own reference


@shared_examples
@given(n=st.integers(1, 5), kind=st.sampled_from(O.SPECTRUM_KINDS), log_cond=st.floats(0, 12),
       seed=st.integers(0, 2**32 - 1))
def test_symmetric_reference_agrees_with_mpmath_far_below_the_bounds(n, kind, log_cond, seed):
    a = O.symmetric_matrix(np.random.default_rng(seed), n, kind, 10.0**log_cond, 150)
    eig = O.sym_eig(a)
    kappa = float(eig.kappa())
    y_mp, z_mp = O.mp_sym_roots(a)
    u = O.U64
    assert O.rel_errors(eig.sqrt(), y_mp) <= 1e-3 * _sqrt_bound(n, u, kappa)
    assert O.rel_errors(eig.inv_sqrt(), z_mp) <= 1e-3 * C * np.sqrt(n) * u * kappa


@given(n=st.integers(1, 6), family=st.sampled_from(O.NONSYMMETRIC_FAMILIES), seed=st.integers(0, 2**32 - 1))
def test_nonsymmetric_reference_agrees_with_an_mpmath_eigendecomposition_far_below_the_bound(n, family, seed):
    a = O.build_nonsymmetric(np.float64, max(n, 2) if family == "rotation" else n, (), family, seed, 170.0)
    n = a.shape[-1]
    assume(O.certain_off_negative_axis(a))
    ref, cond = O.nonsym_reference(a)
    assume(np.isfinite(cond))
    y_mp = O.mp_principal_sqrt(a)
    assume(y_mp is not None)  # mpmath's eigenvectors too ill-conditioned to decide
    assert O.rel_errors(ref, y_mp) <= 1e-3 * C * np.sqrt(n) * O.U64 * cond
