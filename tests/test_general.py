"""Complex and general (non-Hermitian) input: differential tests against SciPy and closed forms.

Every value returned is the principal root (eigenvalues in the open right half-plane; for real input,
+i sqrt(|lambda|) for a negative real eigenvalue lambda) within the bound below, or a documented
ValueError is raised -- only for a matrix that has no principal root, or one whose bound below is at
least 1 (no correct digit promised: singular to working precision).  Never another root, never a
refusal of a matrix that has one and a bound below 1.

Bounds (relative Frobenius error per matrix; u = eps of the working precision: float32 for float32
and complex64 input, float64 for float64 and complex128; n = matrix size; C = 4, the contract's):

* nonsingular input, root:      C n u max(cond, 1),   cond = ||A||_F ||L^-1||_2 / ||Y||_F
  (a ValueError or ConvergenceError is allowed only where this bound is at least 1: no correct digit
  is promised),
  the relative condition number of the square root at the stored A, L = I (x) Y + Y^T (x) I the
  Kronecker form of its Frechet derivative (tests/general_oracles.py; dense SVD for n <= 16,
  ARPACK on Sylvester solves above).  This is the general-input bound of tests/test_properties.py.
* inverse root:                 C n u max(cond_inv, 1), cond_inv the same for A -> A^(-1/2)
  (its derivative E -> -Z L^-1(E) Z).
* gradient:                     C n u max(cond, 1) kappa_2(L)  (first order: the gradient solves
  L^H X = G with L known to the root's accuracy; for symmetric A this is the contract's kappa).
* singular A, zero eigenvalue semi-simple: C n sqrt(u) kappa_V^2, kappa_V the condition number of
  the eigenvector basis (unit columns) from the construction.  The root is only Hoelder-1/2
  continuous there: a perturbation of size n u ||A|| moves the zero block's root by the square root
  of kappa_V n u ||A||, and the change of basis both ways adds kappa_V^(3/2)
  (general_oracles.singular_sqrt_bound); for Hermitian input kappa_V = 1 and this is the
  contract's C sqrt(n) u sqrt(n / u).
* Hermitian positive semi-definite input, accurate methods: the contract,
  C sqrt(n) u min(sqrt(kappa), sqrt(n / u)) (inverse root: C sqrt(n) u kappa); "mpa"/"mtp": their
  scalar approximation error on the eigenvalues plus C sqrt(n) u times their evaluation amplification.

References are never matsqrt: SciPy's Schur root (or the construction's root, where it fixes the
branch) refined by Newton steps with long-double residuals; exact closed forms for integer
similarities and covariance products; the long-double eigendecomposition of the real embedding
for Hermitian input; central differences of scipy.linalg.sqrtm for gradients.  Matrices whose
principal root is not a continuous function of the stored entries (an eigenvalue that rounding
could move across the negative real axis, or split off it) are not drawn (``assume``); their
condition number is infinite.
"""

from __future__ import annotations

import zlib

import general_oracles as G
import hypothesis
import numpy as np
import oracles as O
import pytest
import scipy.linalg
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st

import matsqrt

from helpers import evaluation_amplification, scalar_root

BACKENDS = pytest.mark.parametrize("backend", ["numpy", "array_api_strict", "cupy"], indirect=True)
C = G.C
REAL_DTYPES = (np.float64, np.float32)
COMPLEX_DTYPES = (np.complex128, np.complex64)
COMPLEX_OF = {np.dtype(np.float64): np.complex128, np.dtype(np.float32): np.complex64,
              np.dtype(np.complex128): np.complex128, np.dtype(np.complex64): np.complex64}
SIZES = st.sampled_from([*range(1, 7), *range(1, 7), *range(1, 7), 7, 8, 10, 12, 16, 20, 24, 32, 40])
SMALL_SIZES = st.sampled_from([*range(1, 7), *range(1, 7), 8, 10, 12, 16])
REFUSALS = (ValueError, matsqrt.ConvergenceError)


def examples(fraction: float):
    """A share of the active profile's example count (the file stays within ~90 s under "ci")."""
    return settings(max_examples=max(4, int(settings.default.max_examples * fraction)))


def shared_examples(test):
    """Under a derandomized profile, give every parametrization the same examples (references are cached)."""
    if settings.default.derandomize:
        return hypothesis.seed(zlib.crc32(test.__name__.encode()))(test)
    return test


class Case:
    def __init__(self, a, recipe, start=None, real_root=True, hermitian=False, extra=None):
        self.a = a
        self.recipe = recipe
        self.start = start
        self.real_root = real_root
        self.hermitian = hermitian
        self.extra = extra or {}

    def __repr__(self):
        text = self.recipe
        if self.a.size <= 16:
            text += f"\n    == np.{np.array2string(self.a, separator=', ', floatmode='unique')}"
        return text


def _call(fn):
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001 - the test decides which exceptions are allowed
        return None, exc


def _refused(case, exc, why):
    raise AssertionError(f"raised {type(exc).__name__}: {exc} -- not allowed ({why})\ncase: {case!r}") from exc


def expected_dtype(in_dtype, real_root: bool):
    in_dtype = np.dtype(in_dtype)
    if in_dtype.kind == "c" or not real_root:
        return np.dtype(COMPLEX_OF[in_dtype])
    return in_dtype


def _cast(a: np.ndarray, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind != "c" and np.iscomplexobj(a):
        raise ValueError("a complex matrix cannot be cast to a real dtype")
    return a.astype(dtype)


@st.composite
def general_cases(draw, families=G.FAMILIES, sizes=SIZES):
    family = draw(st.sampled_from(families))
    n = draw(sizes)
    complex_family = family in G.COMPLEX_FAMILIES
    dtype = np.dtype(draw(st.sampled_from(COMPLEX_DTYPES if complex_family else REAL_DTYPES + COMPLEX_DTYPES)))
    seed = draw(st.integers(0, 2**32 - 1))
    c = G.general_matrix(np.random.default_rng(seed), n, family)
    a = _cast(c.a, dtype)
    recipe = f"general_oracles.general_matrix(np.random.default_rng({seed}), {n}, {family!r}).a.astype(np.{dtype.name})"
    return Case(a, recipe, c.start, c.real_root, c.hermitian)


def _reference(case, inverse=False):
    a = case.a
    assume(G.certain_branch(a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)))
    start = case.start
    if start is not None and np.iscomplexobj(a) and not np.iscomplexobj(start):
        start = start.astype(np.complex128)
    ref = G.reference(a, start, inverse=inverse)
    note(f"cond = {ref.cond:.3g}, cond_inv = {ref.cond_inv:.3g}")
    return ref


def _check_root(what, got, ref_y, cond, case, u, real_input):
    n = case.a.shape[-1]
    assert np.all(np.isfinite(got)), f"{what}: non-finite result\ncase: {case!r}"
    if G.robust_branch(ref_y, u, real_input):
        bad = G.branch_violations(got, u, real_input)
        assert not bad, (f"{what}: not the principal root: eigenvalues {bad} off the principal branch "
                         f"(reference's: {np.linalg.eigvals(ref_y.astype(np.complex128))})\ncase: {case!r}")
    else:
        event("reference root not robust to rounding: eigenvalue signs not checked")
    if not np.isfinite(cond):
        event("condition beyond the reference's reach: error not checked")
        return
    bound = C * n * u * max(cond, 1.0)
    err = G.rel_error(got, ref_y)
    assert err <= bound, (f"{what}: relative error {err:.4g} > bound {bound:.4g} (ratio {err / bound:.3g}; "
                          f"n={n}, u={u:.3g}, cond={cond:.3g})\ncase: {case!r}")


# --------------------------------------------------------------------------- forward, nonsingular


@BACKENDS
@pytest.mark.parametrize("method", ["auto", "db"])
@examples(1.0)
@shared_examples
@given(case=general_cases())
def test_sqrtm_returns_the_principal_root_within_the_condition_bound(backend, method, case):
    _check_sqrtm(backend, method, case)


# Members of the families above that a wider sweep (100 seeds per family, n from 2 to 16, four dtypes) found
# failing on 2026-12-06: db refused them although the bound is below 1, or was up to 4.8x beyond the bound.
# The causes (a Newton correction on a residual drowned in the rounding of Y Y; float32 iterations too
# inexact to verify a root far from normal; a fixed branch-cut band narrower than the eigenvalue's rounding)
# are in matsqrt._residual and matsqrt._methods.DB.  Kept here so that they run in every session.
SWEEP_FINDS = [
    ("complex_nonnormal", 2, 152, np.complex128),  # 2.4x the bound (correction on a rounded residual)
    ("complex_nonnormal", 2, 378, np.complex128),  # 1.3x
    ("complex_nonnormal", 2, 24, np.complex64),  # refused, bound 0.12
    ("complex_nonnormal", 2, 290, np.complex64),  # refused, bound 0.12
    ("complex_nonnormal", 2, 347, np.complex64),  # refused (correction did not converge), bound 0.21
    ("complex_nonnormal", 2, 235, np.complex64),  # refused as defective, bound 0.74
    ("negative_real_exact", 5, 13, np.float64),  # refused (eigenvalue -4 outside the fixed band)
    ("negative_real_exact", 8, 45, np.float64),  # refused, likewise
    ("negative_real_exact", 2, 52, np.float32),  # refused, bound 0.04
    ("negative_real", 16, 3, np.float32),  # 4.8x the bound (float32 rotation off the cut)
    ("negative_real", 8, 50, np.float32),  # 3.3x
    ("negative_real", 8, 10, np.float32),  # refused as defective, bound 0.5
    ("covariance_product", 12, 40, np.float32),  # refused as defective, bound 0.03
    ("nonnormal_triangular", 4, 8, np.complex64),  # refused as defective, bound 0.44
]


@BACKENDS
@pytest.mark.parametrize("method", ["auto", "db"])
@pytest.mark.parametrize(("family", "n", "seed", "dtype"), SWEEP_FINDS)
@settings(max_examples=1, database=None)
@given(st.just(None))  # (one run, inside Hypothesis: the checks take notes and make assumptions)
def test_sweep_finds_return_the_principal_root_within_the_condition_bound(backend, method, family, n, seed, dtype,
                                                                           _):
    c = G.general_matrix(np.random.default_rng(seed), n, family)
    name = np.dtype(dtype).name
    recipe = f"general_oracles.general_matrix(np.random.default_rng({seed}), {n}, {family!r}).a.astype(np.{name})"
    _check_sqrtm(backend, method, Case(_cast(c.a, dtype), recipe, c.start, c.real_root, c.hermitian))


def _check_sqrtm(backend, method, case):
    a = case.a
    ref = _reference(case)
    u = G.unit_roundoff(a.dtype)
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method)))
    if exc is not None:
        n = a.shape[-1]
        if isinstance(exc, REFUSALS) and not C * n * u * ref.cond < 1.0:
            # The contract promises no correct digit here (bound >= 1: the matrix is singular to working
            # precision, e.g. a triangular matrix with off-diagonals near 1e3 in float32), so a refusal
            # that says so is allowed, as for the symmetric class at kappa >= 1/(100 n u).
            event("refusal at a condition beyond 1 / (C n u)")
            return
        _refused(case, exc, "the matrix has a principal root")
    want = expected_dtype(a.dtype, case.real_root)
    assert y.dtype == want, f"sqrtm {method}: dtype {y.dtype}, expected {want}\ncase: {case!r}"
    _check_root(f"sqrtm {method}", y, ref.y, ref.cond, case, u, not np.iscomplexobj(a))


@BACKENDS
@pytest.mark.parametrize("method", ["auto", "db"])
@examples(0.5)
@shared_examples
@given(case=general_cases())
def test_inv_sqrtm_returns_the_inverse_principal_root_within_its_condition_bound(backend, method, case):
    a = case.a
    ref = _reference(case, inverse=True)
    u = G.unit_roundoff(a.dtype)
    z, exc = _call(lambda: backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(a), method)))
    if exc is not None:
        # As in the contract: a refusal only where A is numerically singular in the working precision.
        kappa = np.linalg.cond(a.astype(np.complex128))
        if isinstance(exc, REFUSALS) and kappa >= 1 / (100 * a.shape[-1] * u):
            event("refusal of a numerically singular matrix")
            return
        if isinstance(exc, ValueError) and not C * a.shape[-1] * u * ref.cond_inv < 1.0:
            # As for the root: no correct digit is promised here (e.g. a complex 6 x 6 matrix far from normal
            # whose condition is beyond the reference's reach, where db's iteration gives no root that passes
            # its verification).
            event("refusal at an inverse-root condition beyond 1 / (C n u)")
            return
        _refused(case, exc, f"nonsingular (kappa_2 = {kappa:.3g} < 1/(100 n u)) with a principal root")
    want = expected_dtype(a.dtype, case.real_root)
    assert z.dtype == want, f"inv_sqrtm {method}: dtype {z.dtype}, expected {want}\ncase: {case!r}"
    assert np.all(np.isfinite(z)), f"inv_sqrtm {method}: non-finite result\ncase: {case!r}"
    if ref.z is None or not np.isfinite(ref.cond_inv):
        event("inverse condition beyond the reference's reach: error not checked")
        return
    n = a.shape[-1]
    # Z = Y^-1: its eigenvalues are the reciprocals, so on the same branch as Y's.
    if G.robust_branch(ref.z, u, not np.iscomplexobj(a)):
        bad = G.branch_violations(z, u, not np.iscomplexobj(a))
        assert not bad, f"inv_sqrtm {method}: eigenvalues {bad} off the principal branch\ncase: {case!r}"
    bound = C * n * u * max(ref.cond_inv, 1.0)
    err = G.rel_error(z, ref.z)
    assert err <= bound, (f"inv_sqrtm {method}: relative error {err:.4g} > bound {bound:.4g} (ratio "
                          f"{err / bound:.3g}; cond_inv={ref.cond_inv:.3g})\ncase: {case!r}")


def test_reference_agrees_with_an_mpmath_eigendecomposition():
    # The refined reference against a 50-digit eigendecomposition, far below the bound, on small members
    # of every family (the referee's own check).
    rng = np.random.default_rng(20261203)
    checked = 0
    for family in G.FAMILIES:
        for n in (1, 2, 3, 4):
            c = G.general_matrix(rng, n, family)
            if not G.certain_branch(c.a):
                continue
            ref = G.reference(c.a, c.start)
            y_mp = G.mp_principal_sqrt(c.a)
            if y_mp is None or not np.isfinite(ref.cond):
                continue
            checked += 1
            err = G.rel_error(ref.y, y_mp)
            assert err <= 1e-3 * C * n * G.U64 * max(ref.cond, 1.0), (family, n, err, ref.cond)
    assert checked >= 25


# --------------------------------------------------------------------------- singular input


@st.composite
def singular_cases(draw):
    kind = draw(st.sampled_from(["covariance_product", "exact_semisimple", "density", "zero"]))
    n = draw(st.sampled_from([2, 2, 3, 3, 4, 5, 6, 8, 12, 20, 32, 40]))
    dtype = np.dtype(draw(st.sampled_from(REAL_DTYPES + COMPLEX_DTYPES)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    recipe = f"{kind}(n={n}, seed={seed}) as {dtype.name}"
    if kind == "covariance_product":
        m1 = int(rng.integers(2, n + 1))  # m1 - 1 < n: S1 rank-deficient
        m2 = int(rng.integers(2, m1 + 1))
        prod = G.covariance_product(rng, n, m1, m2)
        return Case(_cast(prod.a, dtype), recipe, extra=dict(root=prod.root, kappa_v=prod.kappa_v, trace=prod.trace))
    if kind == "exact_semisimple":
        zeros = int(rng.integers(1, n + 1))
        negative = bool(rng.random() < 0.4)
        a, root, p = G.exact_semisimple(rng, n, zeros, negative)
        return Case(_cast(a, dtype), recipe, real_root=not np.iscomplexobj(root),
                    extra=dict(root=root, kappa_v=G.eigvec_condition(p)))
    if kind == "density":
        if dtype.kind != "c":
            dtype = np.dtype(COMPLEX_OF[dtype])
            recipe = f"{kind}(n={n}, seed={seed}) as {dtype.name}"
        rank = int(rng.choice([1, rng.integers(1, n)]))
        w = rng.standard_normal((n, rank)) + 1j * rng.standard_normal((n, rank))
        h = w @ w.conj().T
        h = (h + h.conj().T) / 2
        h = h / np.trace(h).real
        a = h.astype(dtype)
        return Case(a, recipe, hermitian=True, extra=dict(root=G.hermitian_reference(a).y, kappa_v=1.0))
    return Case(np.zeros((n, n), dtype=dtype), recipe, extra=dict(root=np.zeros((n, n)), kappa_v=1.0))


@BACKENDS
@examples(0.75)
@shared_examples
@given(case=singular_cases())
def test_sqrtm_of_singular_input_with_semisimple_zero_eigenvalue_works_within_the_hoelder_bound(backend, case):
    a = case.a
    n, u = a.shape[-1], G.unit_roundoff(a.dtype)
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a))))
    if exc is not None:
        _refused(case, exc, "a semi-simple zero eigenvalue: the principal root exists")
    want = expected_dtype(a.dtype, case.real_root)
    assert y.dtype == want, f"dtype {y.dtype}, expected {want}\ncase: {case!r}"
    root = case.extra["root"]
    bound = G.singular_sqrt_bound(n, u, case.extra["kappa_v"])
    err = G.rel_error(y, root)
    note(f"kappa_V = {case.extra['kappa_v']:.3g}")
    assert err <= bound, f"relative error {err:.4g} > bound {bound:.4g} (ratio {err / bound:.3g})\ncase: {case!r}"
    if "trace" in case.extra:
        # trace(sqrt(S1 S2)) = sum of sqrt of the nonzero eigenvalues (FID): each eigenvalue moves by at most
        # kappa_V n u ||A||_F, and its root by at most the square root of that.
        dev = abs(complex(np.trace(y.astype(np.complex128))) - case.extra["trace"])
        tbound = C * n * np.sqrt(case.extra["kappa_v"] * n * u * np.linalg.norm(a.astype(np.float64)))
        assert dev <= tbound, f"trace off by {dev:.4g} > {tbound:.4g}\ncase: {case!r}"


@BACKENDS
@examples(0.3)
@shared_examples
@given(case=singular_cases())
def test_db_on_singular_input_refuses_or_returns_the_principal_root(backend, case):
    # "db" needs inverses; a refusal of singular input is allowed, a wrong value is not.
    a = case.a
    n, u = a.shape[-1], G.unit_roundoff(a.dtype)
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), "db")))
    if exc is not None:
        if isinstance(exc, REFUSALS):
            return
        _refused(case, exc, "only ValueError or ConvergenceError")
    err = G.rel_error(y, case.extra["root"])
    bound = G.singular_sqrt_bound(n, u, case.extra["kappa_v"])
    assert err <= bound, f"relative error {err:.4g} > bound {bound:.4g}\ncase: {case!r}"


@st.composite
def exactly_singular_cases(draw):
    """Stored matrices that are exactly singular (integer or Gaussian-integer entries): a semi-simple zero
    eigenvalue from an integer similarity, rank-1 outer products u v^T (v^T u != 0), pure states psi psi^H
    and the zero matrix."""
    kind = draw(st.sampled_from(["exact_semisimple", "outer", "pure_state", "zero"]))
    n = draw(st.integers(1 if kind == "zero" else 2, 8))
    dtype = np.dtype(draw(st.sampled_from(REAL_DTYPES + COMPLEX_DTYPES)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    recipe = f"{kind}(n={n}, seed={seed}) as {dtype.name}"
    if kind == "exact_semisimple":
        a = G.exact_semisimple(rng, n, int(rng.integers(1, n + 1)), bool(rng.random() < 0.4))[0]
    elif kind == "outer":
        x, y = rng.integers(-3, 4, n), rng.integers(-3, 4, n)
        x[0] = 1
        rest = int(x[1:] @ y[1:])
        y[0] = 1 if rest != -1 else 2  # y^T x = rest + y[0] != 0: the zero eigenvalue is semi-simple
        a = np.outer(x, y).astype(np.float64)
    elif kind == "pure_state":
        psi = rng.integers(-3, 4, n) + 1j * rng.integers(-3, 4, n)
        psi[0] = 1 + 1j
        a = np.outer(psi, psi.conj())
        dtype = np.dtype(COMPLEX_OF[dtype])
    else:
        a = np.zeros((n, n))
    assert np.linalg.matrix_rank(a) < n
    return Case(_cast(a, dtype), recipe)


@BACKENDS
@pytest.mark.parametrize("method", ["auto", "db"])
@examples(0.3)
@shared_examples
@given(case=exactly_singular_cases())
def test_inverse_root_and_gradients_of_exactly_singular_input_raise_value_error(backend, method, case):
    a = backend.asarray(case.a)
    with pytest.raises(ValueError):
        matsqrt.inv_sqrtm(a, method)
    for fn in (matsqrt.sqrtm_vjp, matsqrt.inv_sqrtm_vjp):
        with pytest.raises(ValueError):
            _, vjp = fn(a, method)
            vjp(backend.asarray(np.ones(case.a.shape, dtype=case.a.dtype)))


@st.composite
def defective_cases(draw):
    n = draw(st.integers(2, 12))
    dtype = np.dtype(draw(st.sampled_from(REAL_DTYPES + COMPLEX_DTYPES)))
    seed = draw(st.integers(0, 2**32 - 1))
    a = G.defective_zero(np.random.default_rng(seed), n)
    return Case(a.astype(dtype), f"general_oracles.defective_zero(np.random.default_rng({seed}), {n}) as {dtype}")


@BACKENDS
@pytest.mark.parametrize("method", ["auto", "db"])
@examples(0.3)
@shared_examples
@given(case=defective_cases())
def test_matrices_with_a_defective_zero_eigenvalue_have_no_principal_root_and_raise(backend, method, case):
    a = backend.asarray(case.a)
    for fn in (matsqrt.sqrtm, matsqrt.inv_sqrtm):
        out, exc = _call(lambda fn=fn: fn(a, method))
        if exc is None:
            raise AssertionError(f"{fn.__name__} {method}: returned a value for a matrix without a principal root"
                                 f"\ncase: {case!r}")
        if not isinstance(exc, ValueError):
            raise AssertionError(f"{fn.__name__} {method}: raised {type(exc).__name__} ({exc}), not ValueError"
                                 f"\ncase: {case!r}") from exc


def _fid_features():
    rng = np.random.default_rng(2048)
    return [rng.standard_normal((200, 256)) @ (np.eye(256) + 0.1 * rng.standard_normal((256, 256))) + shift
            for shift in (0.0, 0.3)]


@BACKENDS
def test_fid_product_of_rank_deficient_covariances_gives_a_real_root_equal_to_scipys_real_part(backend):
    # 256 features from 200 samples: both covariances have rank 199, S1 S2 a semi-simple zero eigenvalue of
    # multiplicity 57, and rounding gives it eigenvalues of either sign near zero (SciPy: a complex result
    # whose imaginary part is rounding; FID takes its real part).
    x1, x2 = _fid_features()
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    a = s1 @ s2
    n, u = 256, G.U64
    y = backend.to_numpy(matsqrt.sqrtm(backend.asarray(a)))
    assert y.dtype == np.float64
    # Closed form sqrt(S1 S2) = S1 B2 (B2^T S1 B2)^(-1/2) B2^T with S2 = B2 B2^T, B2 = X2^T H / sqrt(m - 1)
    # (H: orthonormal basis orthogonal to the ones vector, the centring).
    h = scipy.linalg.null_space(np.ones((1, 200)))
    b2 = x2.T @ h / np.sqrt(199)
    s1_ld, b2_ld = s1.astype(O.LD), b2.astype(O.LD)
    m = b2_ld.T @ s1_ld @ b2_ld
    m64 = ((m + m.T) / 2).astype(np.float64)
    eig = O.sym_eig(m64)
    root = s1_ld @ b2_ld @ eig.inv_sqrt() @ b2_ld.T
    _, w = np.linalg.eigh(m64)
    kappa_v = G.eigvec_condition(np.hstack([s1 @ b2 @ w, np.linalg.svd(b2)[0][:, 199:]]))
    bound = G.singular_sqrt_bound(n, u, kappa_v)
    err = G.rel_error(y, root)
    assert err <= bound, f"error {err:.3g} > bound {bound:.3g} (kappa_V {kappa_v:.3g})"
    scipy_real = np.real(scipy.linalg.sqrtm(a))
    # Both are within the bound of the closed form, so within twice it of each other.
    assert G.rel_error(y, scipy_real) <= 2 * bound
    trace = float(np.sum(np.sqrt(eig.d.astype(O.LD))))
    tbound = C * n * np.sqrt(kappa_v * n * u * np.linalg.norm(a))
    assert abs(np.trace(y) - trace) <= tbound
    assert abs(np.trace(y) - np.trace(scipy_real)) <= 2 * tbound


# --------------------------------------------------------------------------- Hermitian input

ACCURATE_HERMITIAN = ("auto", "eigh", "matmul", "ns")
SERIES = ("mpa", "mtp")
DEGREE = {"mpa": 5, "mtp": 10}


@st.composite
def hermitian_cases(draw, psd=True):
    n = draw(SMALL_SIZES)
    dtype = np.dtype(draw(st.sampled_from(COMPLEX_DTYPES)))
    kind = draw(st.sampled_from([*O.SPECTRUM_KINDS, "rank_deficient", "pure_state"] if psd else ["indefinite"]))
    log_cond = draw(st.floats(0, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "pure_state" or n == 1:
        psi = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        lam = None
        h = np.outer(psi, psi.conj()) / np.vdot(psi, psi).real
    else:
        if kind == "rank_deficient":
            lam = O.spectrum(rng, n, "random", 10.0**log_cond)
            lam[rng.permutation(n)[: int(rng.integers(1, n))]] = 0.0
        elif kind == "indefinite":
            lam = O.spectrum(rng, n, "random", 10.0**log_cond)
            # clearly negative, distinct eigenvalues
            count = int(rng.integers(1, n + 1))
            lam[:count] = -np.sort(10.0 ** rng.uniform(-3, 0, count))
        else:
            lam = O.spectrum(rng, n, kind, 10.0**log_cond)
        q = G.haar(rng, n, complex_=True)
        h = (q * lam) @ q.conj().T
    h = (h + h.conj().T) / 2
    recipe = f"hermitian(n={n}, kind={kind!r}, log_cond={log_cond!r}, seed={seed}) as {dtype.name}"
    return Case(h.astype(dtype), recipe, hermitian=True, real_root=psd)


@BACKENDS
@pytest.mark.parametrize("method", ACCURATE_HERMITIAN)
@examples(0.5)
@shared_examples
@given(case=hermitian_cases())
def test_hermitian_psd_input_accurate_methods_meet_the_contract(backend, method, case):
    a = case.a
    n, u = a.shape[-1], G.unit_roundoff(a.dtype)
    ref = G.hermitian_reference(a)
    note(f"kappa = {ref.kappa:.3g}")
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method)))
    if exc is not None:
        if isinstance(exc, ValueError) and float(ref.lam.min()) < -n * u * float(np.abs(ref.lam).max()) / 2:
            event("refusal excused: an eigenvalue below -n u lam_max / 2")
            return
        _refused(case, exc, "Hermitian positive semi-definite input")
    assert y.dtype == a.dtype, f"{method}: dtype {y.dtype} for {a.dtype} input"
    bound = G.hermitian_sqrt_bound(n, u, ref.kappa)
    err = G.rel_error(y, ref.y)
    assert err <= bound, f"{method}: error {err:.4g} > bound {bound:.4g} (kappa {ref.kappa:.3g})\ncase: {case!r}"


@BACKENDS
@pytest.mark.parametrize("method", ACCURATE_HERMITIAN)
@examples(0.4)
@shared_examples
@given(case=hermitian_cases())
def test_hermitian_pd_inverse_root_meets_the_contract_or_is_refused_only_when_numerically_singular(
        backend, method, case):
    a = case.a
    n, u = a.shape[-1], G.unit_roundoff(a.dtype)
    ref = G.hermitian_reference(a)
    z, exc = _call(lambda: backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(a), method)))
    if exc is not None:
        if isinstance(exc, REFUSALS) and ref.kappa >= 1 / (100 * n * u):
            return
        _refused(case, exc, f"kappa = {ref.kappa:.3g} < 1/(100 n u)")
    assert z.dtype == a.dtype
    bound = C * np.sqrt(n) * u * ref.kappa
    if ref.z is None or not bound < 1.0:
        # The stored matrix is (numerically) singular: the contract allows a refusal and promises no digit
        # of a returned value (its smallest eigenvalue, rounding of a zero, is kept however small).
        event("inverse root of a numerically singular Hermitian matrix: no digit promised")
        return
    err = G.rel_error(z, ref.z)
    assert err <= bound, f"{method}: error {err:.4g} > bound {bound:.4g} (kappa {ref.kappa:.3g})\ncase: {case!r}"


def _series_allowance(lam: np.ndarray, a: np.ndarray, method: str, u: float) -> float:
    """Scalar approximation error of the series on the eigenvalues (unitarily invariant for Hermitian A),
    plus C sqrt(n) u times the evaluation amplification (tests/test_properties.py's rounding allowance)."""
    n = a.shape[-1]
    lam = np.maximum(lam.astype(np.float64), 0.0)
    s = float(np.linalg.norm(a.astype(np.complex128)))
    approx = scalar_root(lam, np.full_like(lam, s), method, DEGREE[method], 0.5)
    true = np.sqrt(lam)
    approx_err = float(np.linalg.norm(true - approx) / np.linalg.norm(true))
    gamma = float(np.max(evaluation_amplification(1.0 - lam / s, method, DEGREE[method], 0.5)))
    return approx_err + C * np.sqrt(n) * u * gamma


@BACKENDS
@pytest.mark.parametrize("method", SERIES)
@examples(0.3)
@shared_examples
@given(case=hermitian_cases())
def test_hermitian_psd_series_are_within_their_scalar_approximation_error(backend, method, case):
    a = case.a
    u = G.unit_roundoff(a.dtype)
    ref = G.hermitian_reference(a)
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method)))
    if exc is not None:
        _refused(case, exc, "Hermitian positive semi-definite input is in the series' domain")
    assert y.dtype == a.dtype
    bound = _series_allowance(ref.lam, a, method, u)
    err = G.rel_error(y, ref.y)
    assert err <= bound, f"{method}: error {err:.4g} > its approximation error + rounding {bound:.4g}\ncase: {case!r}"


@BACKENDS
@examples(0.4)
@shared_examples
@given(case=hermitian_cases(psd=False), real=st.booleans())
def test_hermitian_input_with_a_negative_eigenvalue_auto_gives_the_complex_principal_root_others_refuse(
        backend, case, real):
    a = case.a
    if real:  # a real symmetric matrix of the same spectrum
        a = np.real(a).astype(np.float64 if a.dtype == np.complex128 else np.float32)
        a = (a + a.T) / 2
        case = Case(a, case.recipe + " real part", hermitian=True, real_root=False)
    n, u = a.shape[-1], G.unit_roundoff(a.dtype)
    ref = G.hermitian_reference(a)
    assume(float(ref.lam.min()) < -100 * n * u * float(np.abs(ref.lam).max()))
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a))))
    if exc is not None:
        _refused(case, exc, "auto returns the complex principal root of indefinite Hermitian input")
    assert y.dtype == COMPLEX_OF[a.dtype], f"dtype {y.dtype}"
    cond = G.sqrt_condition(a.astype(np.complex128), ref.y.astype(np.complex128))
    _check_root("sqrtm auto", y, ref.y, cond, case, u, real_input=not np.iscomplexobj(a))
    for method in ("eigh", "matmul", "ns", "mpa", "mtp"):
        for fn in (matsqrt.sqrtm, matsqrt.inv_sqrtm):
            with pytest.raises(ValueError):
                fn(backend.asarray(a), method)


# --------------------------------------------------------------------------- gradients

GRADIENT_FAMILIES = ("gaussian_shift", "rotation", "nonnormal_triangular", "covariance_product", "negative_real",
                     "negative_real_exact", "complex_general", "complex_nonnormal", "hermitian_psd")


def _gradient_case(family, seed):
    """A member of ``family`` with a well-conditioned root (cond < 100), of size 1-5 varying with the seed."""
    rng = np.random.default_rng([seed, zlib.crc32(family.encode())])
    n = 1 + (seed + zlib.crc32(family.encode())) % 5
    for _ in range(200):
        c = G.general_matrix(rng, n, family)
        if G.certain_branch(c.a):
            start = c.start
            if start is not None and np.iscomplexobj(c.a):
                start = start.astype(np.complex128)
            ref = G.reference(c.a, start, inverse=True)
            if np.isfinite(ref.cond) and ref.cond < 100:
                return c, ref
    raise AssertionError("no well-conditioned member drawn")


def _kron_condition(y):
    n = y.shape[-1]
    eye = np.eye(n)
    s = np.linalg.svd(np.kron(eye, y) + np.kron(y.T, eye), compute_uv=False)
    return float(s[0] / s[-1])


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict", "cupy"], indirect=True)
@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm_vjp", "inv_sqrtm_vjp"])
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("family", GRADIENT_FAMILIES)
def test_vjp_solves_the_conjugate_transposed_sylvester_equation_and_matches_central_differences(
        backend, family, seed, inverse):
    c, ref = _gradient_case(family, 7000 + seed)
    a = c.a
    n, u = a.shape[-1], G.U64
    y64 = ref.y.astype(np.complex128)
    complex_out = np.iscomplexobj(a) or not c.real_root
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(a.shape) + (1j * rng.standard_normal(a.shape) if complex_out else 0)
    fn = matsqrt.inv_sqrtm_vjp if inverse else matsqrt.sqrtm_vjp
    _, vjp = fn(backend.asarray(a))
    grad = backend.to_numpy(vjp(backend.asarray(g)))
    # Convention: complex A -> dL/dRe(A) + i dL/dIm(A); real A -> the real gradient dL/dA (float64), even
    # where the root is complex; L = Re tr(G^H f(A)).
    assert grad.dtype == (np.complex128 if np.iscomplexobj(a) else np.float64), grad.dtype
    exact = G.sylvester_gradient(ref.y, g, ref.z if inverse else None)
    if not np.iscomplexobj(a):
        exact = np.real(exact)
    cond = ref.cond_inv if inverse else ref.cond
    bound = C * n * u * max(cond, 1.0) * _kron_condition(y64)
    err = G.rel_error(grad, exact)
    assert err <= bound, f"gradient error {err:.3g} > bound {bound:.3g} (n={n}, cond={cond:.3g})"
    # Central differences with a step well inside the distance to singularity: truncation (h / s_min)^2
    # and rounding u ||A|| / h stay near 1e-8 for these well-conditioned members.
    h = min(1e-6 * np.linalg.norm(a), 1e-3 * np.linalg.svd(a, compute_uv=False)[-1])
    fd = G.central_difference_gradient(G.scipy_inv_sqrtm if inverse else scipy.linalg.sqrtm, a, g, h)
    assert G.rel_error(fd, exact) <= 1e-5, "the oracles disagree"
    assert G.rel_error(grad, fd) <= 1e-5


def test_vjp_complex_convention_on_a_closed_form():
    # A = a I (complex scalar a): Y = sqrt(a) I, and Y^H X + X Y^H = G gives X = G / (2 conj(sqrt(a))).
    a = (3 - 4j) * np.eye(3)  # sqrt(3 - 4i) = 2 - i
    g = np.arange(9).reshape(3, 3) + 1j * np.ones((3, 3))
    _, vjp = matsqrt.sqrtm_vjp(a)
    np.testing.assert_allclose(vjp(g), g / (2 * np.conj(2 - 1j)), rtol=1e-14)
    _, vjp = matsqrt.inv_sqrtm_vjp(a)
    # Z = a^(-1/2) I: dZ = -(1/2) a^(-3/2) dA, so X = G * conj(-(1/2) a^(-3/2)).
    np.testing.assert_allclose(vjp(g), g * np.conj(-0.5 * (2 - 1j) ** -3), rtol=1e-14)


# --------------------------------------------------------------------------- dtypes and errors


@BACKENDS
@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128", "complex64"])
@pytest.mark.parametrize("kind", ["right_half_plane", "negative_eigenvalue"])
def test_result_dtype_follows_the_input_and_the_principal_roots_realness(backend, dtype, kind):
    a = np.array([[4.0, 1.0], [0.0, 9.0]]) if kind == "right_half_plane" else np.array([[4.0, 1.0], [0.0, -9.0]])
    want = expected_dtype(dtype, kind == "right_half_plane")
    for fn in (matsqrt.sqrtm, matsqrt.inv_sqrtm):
        out = backend.to_numpy(fn(backend.asarray(a.astype(dtype))))
        assert out.dtype == want, (fn.__name__, out.dtype, want)
    y = backend.to_numpy(matsqrt.sqrtm(backend.asarray(a.astype(dtype))))
    # closed form: upper triangular root with diagonal sqrt(4) = 2 and sqrt(d) (3 or 3i), y12 = 1 / (2 + sqrt(d))
    d = 3.0 if kind == "right_half_plane" else 3j
    exact = np.array([[2, 1 / (2 + d)], [0, d]])
    u = G.unit_roundoff(dtype)
    cond = G.sqrt_condition(a.astype(np.complex128), exact)
    assert G.rel_error(y, exact) <= C * 2 * u * max(cond, 1.0)


@BACKENDS
@pytest.mark.parametrize("dtype", ["bool", "longdouble", "clongdouble"])
def test_bool_and_wider_than_double_dtypes_raise_type_error(backend, dtype):
    if backend.name != "numpy" and dtype != "bool":
        pytest.skip(f"{backend.name} has no {dtype}")
    a = backend.asarray(np.eye(2).astype(dtype))
    for fn in (matsqrt.sqrtm, matsqrt.inv_sqrtm, matsqrt.sqrtm_vjp, matsqrt.inv_sqrtm_vjp):
        with pytest.raises(TypeError):
            fn(a)


@BACKENDS
@pytest.mark.parametrize("method", ["auto", "db"])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_errors_in_a_batch_name_the_matrix_at_fault(backend, method, dtype):
    batch = np.stack([np.eye(2), np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([[0.0, 1.0], [0.0, 0.0]]),
                      np.eye(2)]).astype(dtype)
    with pytest.raises(ValueError, match=r"batch index 2\b"):
        matsqrt.sqrtm(backend.asarray(batch), method)
    singular = batch.copy()
    singular[2] = np.array([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"batch index 2\b"):
        matsqrt.inv_sqrtm(backend.asarray(singular), method)


def test_zero_matrix_root_is_zero_for_complex_input():
    for dtype in (np.complex128, np.complex64):
        y = matsqrt.sqrtm(np.zeros((3, 3), dtype=dtype))
        assert y.dtype == dtype and not np.any(y)


@BACKENDS
@pytest.mark.parametrize("method", ["auto", "db"])
def test_exactly_singular_nonnormal_matrix_gets_the_primary_root_not_a_nilpotent_one(backend, method):
    # Found by the singular family: P diag(0, 1, 16, 0) P^-1 with an integer P.  SciPy's Schur method
    # returns a square root of it with the right eigenvalues but rank 3 -- nonzero (nilpotent) on the null
    # space, not a function of A.  The principal root P diag(0, 1, 4, 0) P^-1 has rank 2.
    a = np.array([[0, 0, 0, 0], [16, -16, 0, 16], [17, -15, 1, 15], [32, -32, 0, 32]], dtype=np.float64)
    root = np.array([[0, 0, 0, 0], [4, -4, 0, 4], [5, -3, 1, 3], [8, -8, 0, 8]], dtype=np.float64)
    assert np.array_equal(root @ root, a)
    y, exc = _call(lambda: backend.to_numpy(matsqrt.sqrtm(backend.asarray(a), method)))
    if exc is not None:
        if method == "db" and isinstance(exc, REFUSALS):
            return  # db may refuse singular input
        raise exc
    assert y.dtype == np.float64
    p_cond = G.eigvec_condition(np.linalg.eig(root)[1])  # the eigenvectors of the root are those of A
    assert G.rel_error(y, root) <= G.singular_sqrt_bound(4, G.U64, p_cond)
