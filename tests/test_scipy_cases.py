"""SciPy's square-root cases (scipy/linalg/tests/test_matfuncs.py, class TestSqrtM), through matsqrt.

Each test pins one of SciPy's cases -- its matrices and the property SciPy asserts -- re-expressed here
with matsqrt's stronger claims: the *principal* root within the bound of tests/test_general.py
(C n u max(cond, 1), cond the condition number of the root at A; C n sqrt(u) kappa_V for a
semi-simple zero eigenvalue), not only ``Y @ Y ~ A``; exact closed forms wherever the case has one.
Each runs through ``matsqrt.sqrtm`` with the default method on NumPy, and where meaningful with
``method="db"`` and on the array_api_strict backend too.

Where matsqrt's policy differs from SciPy's, the test says so and checks matsqrt's policy:

* no square root, or no principal one (nilpotent or defective zero eigenvalue): SciPy returns NaN/inf
  entries with a LinAlgWarning; matsqrt raises ValueError.
* float16 input: SciPy returns float32; matsqrt computes in float32 and returns float16 (complex64 when
  the root is complex: NumPy has no narrower complex type).
* longdouble / clongdouble input: SciPy computes in double; matsqrt raises TypeError.
* scalar and 1-D input: SciPy treats them as 1 x 1; matsqrt raises ValueError (input must be (..., n, n)).
"""

from __future__ import annotations

import general_oracles as G
import mpmath
import numpy as np
import pytest

import matsqrt

C = G.C
COMBOS = [("numpy", "auto"), ("numpy", "db"), ("array_api_strict", "auto"), ("array_api_strict", "db"),
          ("cupy", "auto")]
EVERYWHERE = pytest.mark.parametrize("backend, method", COMBOS, indirect=["backend"])
NUMPY_AUTO = pytest.mark.parametrize("backend, method", [("numpy", "auto")], indirect=["backend"])


def _sqrtm(backend, method, a):
    return backend.to_numpy(matsqrt.sqrtm(backend.asarray(np.asarray(a)), method))


def _inv_sqrtm(backend, method, a):
    return backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(np.asarray(a)), method))


def _u(dtype) -> float:
    dtype = np.dtype(dtype)
    return G.unit_roundoff(dtype if dtype.kind in "fc" and dtype.itemsize >= 4 else np.float64)


def assert_principal_root(y, a, exact=None, what="sqrtm"):
    """``y`` finite, on the principal branch and within C n u max(cond, 1) of the principal root of ``a``
    (``exact``, a closed form, or the refined SciPy root), with the residual of a backward-stable root,
    ||Y^2 - A||_F <= C n u ||Y||_F^2."""
    a = np.asarray(a)
    n = a.shape[-1]
    u = _u(a.dtype)
    assert np.all(np.isfinite(y)), f"{what}: non-finite entries {y}"
    a64 = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
    if exact is None:
        ref = G.reference(a64)
        root, cond = ref.y, ref.cond
        assert np.isfinite(cond), "case beyond the reference's reach"
    else:
        root = np.asarray(exact)
        cond = G.sqrt_condition(a64, root.astype(np.complex128))
    real_input = not np.iscomplexobj(a)
    bad = G.branch_violations(y, u, real_input)
    assert not bad, f"{what}: eigenvalues {bad} are off the principal branch"
    err = G.rel_error(y, root)
    bound = C * n * u * max(cond, 1.0)
    assert err <= bound, f"{what}: relative error {err:.3g} > {bound:.3g} (cond {cond:.3g})"
    y_w = G.wide(y)
    resid = float(G.fro(y_w @ y_w - G.wide(a64)))
    assert resid <= C * n * u * float(G.fro(y)) ** 2, f"{what}: residual {resid:.3g}"


def _has_negative_real_eigenvalue(a) -> bool:
    w = np.linalg.eigvals(a)
    return bool(np.any((w.real < 0) & (w.imag == 0)))


# --------------------------------------------------------------------------- round trips


def _random_matrices(seed, complex_):
    rng = np.random.default_rng(seed)
    for n in range(1, 6):
        base = rng.standard_normal((n, n))
        if complex_:
            base = base + 1j * rng.standard_normal((n, n))
        for scale in 10.0 ** np.arange(-4, 5):
            yield base * scale


@EVERYWHERE
def test_round_trip_random_float(backend, method):
    # SciPy: Gaussian matrices of sizes 1-5 scaled by 1e-4 ... 1e4 satisfy Y @ Y ~ A.  Here: the principal
    # root within the condition bound; real exactly when no eigenvalue is negative real (else complex128).
    checked = 0
    for a in _random_matrices(5150, complex_=False):
        if not G.certain_branch(a):
            continue  # an eigenvalue rounding could move across or onto the cut: no accurate answer exists
        y = _sqrtm(backend, method, a)
        want = np.complex128 if _has_negative_real_eigenvalue(a) else np.float64
        assert y.dtype == want, (a, y.dtype)
        assert_principal_root(y, a)
        checked += 1
    assert checked >= 40


@EVERYWHERE
def test_round_trip_random_complex(backend, method):
    checked = 0
    for a in _random_matrices(5151, complex_=True):
        if not G.certain_branch(a):
            continue
        y = _sqrtm(backend, method, a)
        assert y.dtype == np.complex128
        assert_principal_root(y, a)
        checked += 1
    assert checked >= 40


# --------------------------------------------------------------------------- named matrices


@EVERYWHERE
def test_bad_higham_na_report_336_matrix(backend, method):
    # N. J. Higham's Manchester NA report 336 example (SciPy's test_bad): a 4 x 4 matrix with a small
    # repeated eigenvalue e = 2^-5 and a coupling of the two unit eigenvalues; the closed-form root has
    # sqrt(e) on the diagonal and 1/2 in the corner.
    e = 2.0**-5
    a = np.eye(4)
    a[1, 1] = a[2, 2] = e
    a[0, 3] = 1.0
    root = np.eye(4)
    root[1, 1] = root[2, 2] = np.sqrt(e)
    root[0, 3] = 0.5
    assert np.allclose(root @ root, a, rtol=4 * G.U64, atol=0)
    y = _sqrtm(backend, method, a)
    assert y.dtype == np.float64
    assert_principal_root(y, a, root)
    z = _inv_sqrtm(backend, method, a)
    inv_root = np.linalg.inv(root)
    err = G.rel_error(z, inv_root)
    ref = G.reference(a, inverse=True)
    assert err <= C * 4 * G.U64 * max(ref.cond_inv, 1.0)


# The matrices of SciPy's type-preservation case (spectra on [0, inf)) and their principal roots in closed
# form; for such A, sqrt(-A) = i sqrt(A).
NONNEGATIVE_SPECTRUM = {
    "identity": ([[1, 0], [0, 1]], np.eye(2)),
    "jordan_block_at_1": ([[1, 0], [1, 1]], np.array([[1, 0], [0.5, 1]])),
    "symmetric_2_1_1": ([[2, 1], [1, 1]], np.array([[3, 1], [1, 2]]) / np.sqrt(5)),
    "nonsymmetric_2_3_1_2": ([[2, 3], [1, 2]], np.array([[3, 3], [1, 3]]) / np.sqrt(6)),
    "singular_ones": ([[1, 1], [1, 1]], np.array([[1, 1], [1, 1]]) / np.sqrt(2)),
}


def _check_closed_form(y, a, root):
    a = np.asarray(a)
    if np.linalg.matrix_rank(a.astype(np.complex128)) < a.shape[-1]:
        # a semi-simple zero eigenvalue (symmetric here): the contract's singular bound
        err = G.rel_error(y, root)
        assert err <= G.singular_sqrt_bound(a.shape[-1], _u(a.dtype), 1.0), err
        assert not G.branch_violations(y, _u(a.dtype), not np.iscomplexobj(a))
    else:
        assert_principal_root(y, a, root)


@EVERYWHERE
@pytest.mark.parametrize("name", list(NONNEGATIVE_SPECTRUM))
def test_sqrtm_type_preservation_and_conversion(backend, method, name):
    matrix, root = NONNEGATIVE_SPECTRUM[name]
    w = np.linalg.eigvals(np.array(matrix, dtype=float))
    assert np.all(w.imag == 0) and np.all(w.real >= 0)
    a = np.array(matrix, dtype=float)
    y = _sqrtm(backend, method, a)
    assert y.dtype == np.float64  # real input, real principal root: kept real
    _check_closed_form(y, a, root)
    a = np.array(matrix, dtype=complex)
    y = _sqrtm(backend, method, a)
    assert y.dtype == np.complex128
    _check_closed_form(y, a, root)
    a = -np.array(matrix, dtype=float)
    y = _sqrtm(backend, method, a)
    assert y.dtype == np.complex128  # negative real eigenvalues: the principal root is complex
    if name == "jordan_block_at_1":
        # -J has a defective eigenvalue -1: real rounding splits it into a real pair or a complex pair, on
        # which the principal root jumps between +i and -i.  Only the residual of a backward-stable root
        # is meaningful: ||Y^2 - A||_F <= C n u ||Y||_F^2.
        y_w = G.wide(y)
        assert float(G.fro(y_w @ y_w - G.wide(a))) <= C * 2 * G.U64 * float(G.fro(y)) ** 2
    else:
        _check_closed_form(y, a, 1j * root)


def _three_cycle_root():
    """Principal root of P = [[0,1,0],[0,0,-1],[1,0,0]] (P^3 = -I, eigenvalues -1, exp(+-i pi/3)) as the
    polynomial in P interpolating the principal sqrt at its eigenvalues, in 40-digit arithmetic."""
    with mpmath.workdps(40):
        lam = [mpmath.mpf(-1), mpmath.expjpi(mpmath.mpf(1) / 3), mpmath.expjpi(-mpmath.mpf(1) / 3)]
        roots = [mpmath.mpc(0, 1), mpmath.expjpi(mpmath.mpf(1) / 6), mpmath.expjpi(-mpmath.mpf(1) / 6)]
        vand = mpmath.matrix([[1, v, v**2] for v in lam])
        coef = mpmath.lu_solve(vand, mpmath.matrix(roots))
        c = [complex(coef[k]) for k in range(3)]
    p = np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]], dtype=float)
    return c[0] * np.eye(3) + c[1] * p + c[2] * (p @ p)


MIXED_SPECTRUM = {
    "diag_1_minus1": ([[1, 0], [0, -1]], np.diag([1, 1j])),
    # eigenvalues +1 and -1: Y = (A + sqrt(1) sqrt(-1) I) / (sqrt(1) + sqrt(-1)) = (A + iI) / (1 + i)
    "swap": ([[0, 1], [1, 0]], (np.array([[0, 1], [1, 0]]) + 1j * np.eye(2)) / (1 + 1j)),
    "three_cycle_with_sign": ([[0, 1, 0], [0, 0, -1], [1, 0, 0]], None),
}


@EVERYWHERE
@pytest.mark.parametrize("name", list(MIXED_SPECTRUM))
def test_sqrtm_type_conversion_mixed_sign_or_complex_spectrum(backend, method, name):
    matrix, root = MIXED_SPECTRUM[name]
    if root is None:
        root = _three_cycle_root()
    w = np.linalg.eigvals(np.array(matrix, dtype=float))
    assert np.any((w.imag != 0) | (w.real < 0))
    for dtype in (complex, float):
        a = np.array(matrix, dtype=dtype)
        y = _sqrtm(backend, method, a)
        assert y.dtype == np.complex128
        assert_principal_root(y, a, root)


def _al_mohy_higham_2012_experiment_1():
    # Experiment 1 of Al-Mohy and Higham, "Improved inverse scaling and squaring algorithms for the matrix
    # logarithm" (SIAM J. Sci. Comput. 34(4), 2012): upper triangular, close diagonal, huge coupling.
    a = np.triu(np.full((4, 4), 3e4), 1)
    a[np.diag_indices(4)] = [3.2346e-1, 3.0089e-1, 3.2210e-1, 3.0744e-1]
    return a


@EVERYWHERE
def test_al_mohy_higham_2012_experiment_1(backend, method):
    # The root has entries up to 3e13 for entries of A up to 3e4: its normwise condition number is beyond
    # float64, so the normwise bounds say nothing.  SciPy's own assertions, kept: Y @ Y ~ A to rtol 1e-5,
    # and the lower triangle of Y @ Y equal to A's (the principal root of an upper triangular matrix is
    # upper triangular); and the diagonal, the principal roots sqrt(a_ii) of the eigenvalues.
    a = _al_mohy_higham_2012_experiment_1()
    y = _sqrtm(backend, method, a)
    assert y.dtype == np.float64
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y @ y, a, rtol=1e-5)
    np.testing.assert_allclose(np.tril(y @ y), np.tril(a), rtol=1e-7, atol=0)
    d = np.diagonal(a)
    assert np.all(np.abs(np.diagonal(y) - np.sqrt(d)) <= C * 4 * G.U64 * np.sqrt(d))


@EVERYWHERE
@pytest.mark.parametrize("dtype", [int, float, complex])
def test_strict_upper_triangular_has_no_square_root_and_raises(backend, method, dtype):
    # A nilpotent Jordan block of size 4 (times 3) has no square root at all.  SciPy: NaN and inf entries
    # with a LinAlgWarning.  matsqrt: ValueError.
    a = np.diag([3, 3, 3], 1).astype(dtype)
    with pytest.raises(ValueError):
        _sqrtm(backend, method, a)
    with pytest.raises(ValueError):
        _inv_sqrtm(backend, method, a)


@EVERYWHERE
@pytest.mark.parametrize("dtype", [int, float])
def test_weird_matrix_has_a_square_root_but_no_principal_one(backend, method, dtype):
    # SciPy's commented-out test_weird_matrix: B = E_12 (3 x 3) is the square of A = E_13 + E_32, but a
    # zero eigenvalue with a Jordan block of size 2 has no primary root: matsqrt raises ValueError.
    a = np.array([[0, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=dtype)
    b = np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0]], dtype=dtype)
    assert np.array_equal(a @ a, b)
    with pytest.raises(ValueError):
        _sqrtm(backend, method, b)


@EVERYWHERE
def test_opposite_sign_complex_eigenvalues(backend, method):
    # eigenvalues 2i and -2i: principal roots 1 + i and 1 - i, closed-form triangular root
    m = np.array([[2j, 4], [0, -2j]])
    r = np.array([[1 + 1j, 2], [0, 1 - 1j]])
    assert np.allclose(r @ r, m, rtol=0, atol=0)
    y = _sqrtm(backend, method, m)
    assert y.dtype == np.complex128
    assert_principal_root(y, m, r)


@EVERYWHERE
def test_gh4866_singular_symmetric_matrix(backend, method):
    # gh-4866: a rank-1 symmetric matrix coupling the first and last coordinates (integer input)
    m = np.zeros((4, 4), dtype=int)
    m[0, 0] = m[0, 3] = m[3, 0] = m[3, 3] = 1
    r = m / np.sqrt(2)
    _check_singular(backend, method, m, r)


@EVERYWHERE
def test_gh5336_singular_diagonal(backend, method):
    # gh-5336: diag(2, 1, 0) (integer input) -> diag(sqrt 2, 1, 0) in float64
    m = np.diag([2, 1, 0])
    _check_singular(backend, method, m, np.diag([np.sqrt(2), 1, 0]))


@EVERYWHERE
def test_gh7839_zero_matrix(backend, method):
    # gh-7839: the root of the zero matrix is the zero matrix; it has no inverse root
    m = np.zeros((2, 2))
    _check_singular(backend, method, m, np.zeros((2, 2)))


def _check_singular(backend, method, m, r):
    """Singular symmetric PSD input: auto must return the root (float64 for integer input) within the
    contract's singular bound; "db" (which needs inverses) may refuse.  The inverse root raises."""
    assert np.allclose(r @ r, m, rtol=0, atol=1e-15)
    try:
        y = _sqrtm(backend, method, m)
    except (ValueError, matsqrt.ConvergenceError):
        if method == "db":
            return
        raise
    assert y.dtype == np.float64
    assert G.rel_error(y, r) <= G.singular_sqrt_bound(m.shape[-1], G.U64, 1.0)
    with pytest.raises(ValueError):
        _inv_sqrtm(backend, method, m)


@EVERYWHERE
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gh17918_positive_definite_matrix_gives_real_output(backend, method, dtype):
    # gh-17918: 19 x 19, 1 on the diagonal and 0.94 elsewhere, got a complex root.  It is
    # 0.06 I + 0.94 J (J all ones): root sqrt(0.06) I + c J with c = (sqrt(17.92) - sqrt(0.06)) / 19.
    m = np.full((19, 19), 0.94)
    np.fill_diagonal(m, 1.0)
    m = m.astype(dtype)
    y = _sqrtm(backend, method, m)
    assert y.dtype == dtype
    m64 = m.astype(np.float64)  # the stored matrix: recompute the closed form for its entries
    d, off = float(m64[0, 0]), float(m64[0, 1])
    lo, hi = d - off, d + 18 * off
    root = np.sqrt(lo) * np.eye(19) + (np.sqrt(hi) - np.sqrt(lo)) / 19 * np.ones((19, 19))
    kappa = hi / lo
    assert G.rel_error(y, root) <= G.hermitian_sqrt_bound(19, _u(dtype), kappa)


@pytest.mark.parametrize("backend, method",
                         [*COMBOS, ("numpy", "eigh"), ("numpy", "matmul"), ("numpy", "ns"),
                          ("array_api_strict", "matmul")], indirect=["backend"])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_gh23278_complex_hermitian_positive_definite(backend, method, dtype):
    # gh-23278: the Hermitian matrix [[1, 0, 0], [0, 1, -i], [0, i, 2]] (eigenvalues 1, (3 +- sqrt 5) / 2)
    m = np.array([[1.0, 0, 0], [0, 1, -1j], [0, 1j, 2]], dtype=dtype)
    y = _sqrtm(backend, method, m)
    assert y.dtype == dtype
    ref = G.hermitian_reference(m)
    assert G.rel_error(y, ref.y) <= G.hermitian_sqrt_bound(3, _u(dtype), ref.kappa)


# --------------------------------------------------------------------------- dtypes


@EVERYWHERE
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32,
                                   np.int64])
def test_data_size_preservation_integer_in_float64_out(backend, method, dtype):
    y = _sqrtm(backend, method, np.eye(10, dtype=dtype))
    assert y.dtype == np.float64
    assert np.array_equal(y, np.eye(10))


@EVERYWHERE
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_data_size_preservation_integer_in_complex128_out(backend, method, dtype):
    # [[2, 4], [0, -2]]: eigenvalues 2 and -2; root [[sqrt 2, b], [0, i sqrt 2]], b = 4 / (sqrt 2 + i sqrt 2)
    m = np.array([[2, 4], [0, -2]], dtype=dtype)
    y = _sqrtm(backend, method, m)
    assert y.dtype == np.complex128
    s = np.sqrt(2)
    assert_principal_root(y, m.astype(np.float64), np.array([[s, 4 / (s + 1j * s)], [0, 1j * s]]))


@EVERYWHERE
def test_data_size_preservation_float_in_float_out(backend, method):
    # Policy difference: SciPy returns float32 for float16 input and float64 for longdouble; matsqrt
    # computes float16 in float32 and returns float16, and refuses longdouble (TypeError).
    for dtype in (np.float16, np.float32, np.float64) if backend.name == "numpy" else (np.float32, np.float64):
        y = _sqrtm(backend, method, np.eye(10, dtype=dtype))
        assert y.dtype == dtype
        assert np.array_equal(y, np.eye(10))
    if backend.name == "numpy":
        with pytest.raises(TypeError):
            _sqrtm(backend, method, np.eye(10, dtype=np.longdouble))


@EVERYWHERE
def test_data_size_preservation_float_in_complex_out(backend, method):
    m = np.array([[2, 4], [0, -2]])
    s = np.sqrt(2)
    root = np.array([[s, 4 / (s + 1j * s)], [0, 1j * s]])
    # float16: matsqrt computes in float32; the complex root comes back as complex64 (there is no narrower
    # complex type), like SciPy.
    for dtype, want in ((np.float16, np.complex64), (np.float32, np.complex64), (np.float64, np.complex128)):
        if dtype == np.float16 and backend.name != "numpy":
            continue  # array_api_strict has no float16
        y = _sqrtm(backend, method, m.astype(dtype))
        assert y.dtype == want, (dtype, y.dtype)
        assert_principal_root(y, m.astype(np.float32 if dtype == np.float16 else dtype), root)
    if backend.name == "numpy":
        with pytest.raises(TypeError):
            _sqrtm(backend, method, m.astype(np.longdouble))


@EVERYWHERE
def test_data_size_preservation_complex_in_complex_out(backend, method):
    m = np.array([[2j, 4], [0, -2j]])
    r = np.array([[1 + 1j, 2], [0, 1 - 1j]])
    for dtype in (np.complex64, np.complex128):
        y = _sqrtm(backend, method, m.astype(dtype))
        assert y.dtype == dtype
        assert_principal_root(y, m.astype(dtype), r)
    if backend.name == "numpy":
        with pytest.raises(TypeError):  # policy difference: SciPy computes clongdouble in complex128
            _sqrtm(backend, method, m.astype(np.clongdouble))


@EVERYWHERE
@pytest.mark.parametrize("dtype", [int, float, np.float32, complex, np.complex64])
def test_empty(backend, method, dtype):
    s = _sqrtm(backend, method, np.empty((0, 0), dtype=dtype))
    s0 = _sqrtm(backend, method, np.eye(2, dtype=dtype))
    assert s.shape == (0, 0)
    assert s.dtype == s0.dtype


@pytest.mark.parametrize("method", ["auto", "db"])
def test_cf_noncontig_nd_inputs(method):
    # A batch of 3 products L U (L unit lower triangular) and C- and Fortran-ordered strided views of it:
    # the views give the roots of the copies.
    rng = np.random.default_rng(26)
    n = 13
    a = rng.uniform(size=(3, 2 * n, 2 * n))
    a = (np.tril(a, -1) + np.eye(2 * n)) @ np.triu(a)
    views = (a[:, ::2, ::2], np.asfortranarray(a)[:, 1::2, 1::2])
    for view in views:
        assert not view.flags.c_contiguous
        y_view = matsqrt.sqrtm(view, method)
        y_copy = matsqrt.sqrtm(view.copy(), method)
        for i in range(3):
            if not G.certain_branch(view[i]):
                continue
            assert_principal_root(y_view[i], view[i])
            assert_principal_root(y_copy[i], view[i])


def test_empty_sizes():
    a = np.empty((4, 0, 5, 5))
    y = matsqrt.sqrtm(a)
    assert y.shape == a.shape and y.dtype == a.dtype


@pytest.mark.parametrize("method", ["auto", "db"])
def test_negative_strides(method):
    rng = np.random.default_rng(27)
    a = rng.uniform(size=(3, 5, 5))
    for view in (a[:, ::-1, ::-1], a[:, :, ::-1], a[:, ::-1, :]):
        y_view = matsqrt.sqrtm(view, method)
        y_copy = matsqrt.sqrtm(view.copy(), method)
        for i in range(3):
            if not G.certain_branch(view[i]):
                continue
            assert_principal_root(y_view[i], view[i])
            assert_principal_root(y_copy[i], view[i])


@EVERYWHERE
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_gh24508_defective_zero_eigenvalue_raises(backend, method, dtype):
    # gh-24508: [[0, 2, 2], [0, 0, 0], [0, 0, 0]] squares to zero and has rank 1: its zero eigenvalue has a
    # Jordan block of size 2, so it has no principal root.  SciPy: a LinAlgWarning and inf entries;
    # matsqrt: ValueError.
    a = np.array([[0, 2, 2], [0, 0, 0], [0, 0, 0]], dtype=dtype)
    with pytest.raises(ValueError):
        _sqrtm(backend, method, a)


@pytest.mark.parametrize("a", [4, 4.0, [4.0]], ids=["int", "float", "1-d"])
def test_scalar_and_1d_input_raise_value_error(a):
    # Policy difference: SciPy's sqrtm(4) and sqrtm([4]) give [[2.]]; matsqrt wants (..., n, n) arrays.
    with pytest.raises(ValueError, match="2-D"):
        matsqrt.sqrtm(a)
    assert np.array_equal(matsqrt.sqrtm([[4.0]]), [[2.0]])
