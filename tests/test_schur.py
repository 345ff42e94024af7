"""The parallel Schur decompositions of matsqrt._schur against scipy.linalg.sqrtm itself.

The batch path (two or more matrices of n >= MIN_N, several threads) computes ``A = Q T Q^H`` with
LAPACK ?gees through ctypes in worker threads and hands ``T`` to SciPy.  Referee: SciPy's own root of
the same batch and the refined references of general_oracles; every dtype; real input whose root is
complex; a batch mixing regular, singular and branch-cut matrices through the public API.
"""

from __future__ import annotations

import functools
import threading

import general_oracles as G
import numpy as np
import pytest
import scipy.linalg

import matsqrt
import matsqrt._methods as M
import matsqrt._schur as S

DTYPES = [np.float64, np.float32, np.complex128, np.complex64]


def _batch(rng, batch, n, dtype, negative=False):
    a = np.eye(n) + 0.4 * rng.standard_normal((batch, n, n)) / np.sqrt(n)
    if np.dtype(dtype).kind == "c":
        a = a + 0.4j * rng.standard_normal((batch, n, n)) / np.sqrt(n)
    if negative:  # a real eigenvalue near -2 in every matrix (complex principal root of real input)
        a[..., 0, 0] -= 3.0
    return a.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("negative", [False, True])
@pytest.mark.parametrize("shape", [(3, 24), (4, 40), (2, S.POOL_TRIANGULAR_MIN_N + 3)])
def test_batched_path_agrees_with_scipy(monkeypatch, dtype, negative, shape):
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")
    rng = np.random.default_rng(7)
    a = _batch(rng, *shape, dtype, negative)
    out = S.schur_sqrtm(a, extra=lambda x: np.linalg.norm(np.linalg.inv(x), axis=(-2, -1)))
    y, inverse_norm = out.y, out.extra
    assert inverse_norm is not None, "the batch did not take the parallel path"
    want = scipy.linalg.sqrtm(a)
    assert y.dtype == want.dtype
    eps = float(np.finfo(a.dtype).eps)
    n = shape[1]
    if n >= S.POOL_TRIANGULAR_MIN_N:
        # (triangular roots in the pool; these matrices are well conditioned, and references at this size are
        # slow to refine: SciPy's root is the referee)
        assert max(G.rel_error(y[i], want[i]) for i in range(shape[0])) <= 100 * n * eps
        return
    for i in range(shape[0]):
        ref = G.reference(a[i]).y
        # Same algorithm: as close to the refined root as SciPy's own (both within the contract's C n u cond).
        err, scipy_err = G.rel_error(y[i], ref), G.rel_error(want[i], ref)
        assert err <= max(4 * scipy_err, 100 * n * eps), (i, err, scipy_err)
    np.testing.assert_allclose(inverse_norm, np.linalg.norm(np.linalg.inv(a), axis=(-2, -1)), rtol=1e-3)


def test_batch_shape_is_kept(monkeypatch):
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")
    a = _batch(np.random.default_rng(1), 6, 32, np.float64).reshape(2, 3, 32, 32)
    out = S.schur_sqrtm(a, extra=lambda x: np.zeros(x.shape[0]))
    y, extra = out.y, out.extra
    assert y.shape == a.shape and extra.shape == (2, 3)
    np.testing.assert_allclose(y @ y, a, atol=1e-12)


def test_a_failed_decomposition_falls_back_to_scipy(monkeypatch):
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")
    monkeypatch.setattr(S, "_decompose", lambda *args: False)
    a = _batch(np.random.default_rng(2), 3, 32, np.float64)
    out = S.schur_sqrtm(a)
    np.testing.assert_array_equal(out.y, scipy.linalg.sqrtm(a))
    assert out.q is None and out.extra is None


@pytest.mark.parametrize("why", ["one thread", "small n", "one matrix", "worker thread", "float16", "no lapack"])
def test_other_batches_run_in_scipy_as_they_are(monkeypatch, why):
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "1" if why == "one thread" else "2")
    if why == "no lapack":  # a SciPy whose cython_lapack table lacks the routines
        def missing(char):
            raise KeyError(f"{char}gees")

        monkeypatch.setattr(S, "_gees", missing)
        S._lapack_reachable.cache_clear()
        monkeypatch.setattr(S, "_lapack_reachable", functools.cache(S._lapack_reachable.__wrapped__))
    shape = {"small n": (3, S.MIN_N - 1), "one matrix": (1, 32)}.get(why, (3, 32))
    a = _batch(np.random.default_rng(3), *shape, np.float64)
    if why == "float16":
        a = a.astype(np.float16)
    result = {}
    if why == "worker thread":
        thread = threading.Thread(target=lambda: result.update(out=S.schur_sqrtm(a, extra=len)))
        thread.start()
        thread.join()
    else:
        result["out"] = S.schur_sqrtm(a, extra=len)
    y, extra = result["out"].y, result["out"].extra
    assert extra is None and result["out"].q is None
    np.testing.assert_array_equal(y, scipy.linalg.sqrtm(a))


def test_public_api_batch_mixing_regular_singular_and_branch_cut_matrices(monkeypatch):
    # Through matsqrt.sqrtm: per matrix, the principal root of each, singular ones deflated, real input with a
    # negative eigenvalue in the batch making the whole output complex.
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")
    rng = np.random.default_rng(4)
    n = 32
    regular = _batch(rng, 1, n, np.float64)[0]
    negative = _batch(rng, 1, n, np.float64, negative=True)[0]
    prod = G.covariance_product(rng, n, 20, 12)  # rank-deficient covariances: a semi-simple zero eigenvalue
    a = np.stack([regular, negative, prod.a, regular.T])
    y = matsqrt.sqrtm(a)
    assert y.dtype == np.complex128
    for i, ref in [(0, G.reference(regular).y), (1, G.reference(negative).y), (3, G.reference(regular.T).y)]:
        assert G.rel_error(y[i], ref) <= 1e-12, i
    bound = G.singular_sqrt_bound(n, G.U64, prod.kappa_v)
    assert G.rel_error(y[2], prod.root) <= bound
    assert not G.branch_violations(y[1], G.U64, real_input=True)


def _schur_forms_with_a_negative_eigenvalue(count):
    rng = np.random.default_rng(11)
    found = []
    while len(found) < count:
        n = int(rng.integers(3, 9))
        a = np.eye(n) + 0.8 * rng.standard_normal((n, n))
        a[0, 0] -= 3.0
        t = scipy.linalg.schur(a)[0]
        w = np.linalg.eigvals(t)
        if np.any(np.diag(t, -1) != 0) and np.any((w.imag == 0) & (w.real < 0)) and G.certain_branch(t):
            found.append(t)
    return found


@pytest.mark.parametrize("method", ["auto", "schur", "db"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_real_schur_forms_with_a_negative_eigenvalue(method, dtype):
    # scipy.linalg.sqrtm (1.16-1.17) returns a matrix that does not square back for most real quasi-triangular
    # input with a 2 x 2 block and a negative eigenvalue (it skips its Schur step); matsqrt must not pass that on.
    u = G.unit_roundoff(dtype)
    for t in _schur_forms_with_a_negative_eigenvalue(12):
        a = t.astype(dtype)
        ref = G.reference(a)
        assert np.isfinite(ref.cond), "the reference did not converge"
        y = matsqrt.sqrtm(a, method)
        n = a.shape[-1]
        assert y.dtype == np.dtype(np.complex64 if dtype == np.float32 else np.complex128)
        assert G.rel_error(y, ref.y) <= G.C * n * u * max(ref.cond, 1.0), (t, G.rel_error(y, ref.y), ref.cond)
        assert not G.branch_violations(y, u, real_input=True)
    batch = np.stack(_schur_forms_with_a_negative_eigenvalue(6)[:1] * 3).astype(dtype)
    y = matsqrt.sqrtm(batch, method)
    ref = G.reference(batch[0].astype(dtype))
    for i in range(3):
        assert G.rel_error(y[i], ref.y) <= G.C * batch.shape[-1] * u * max(ref.cond, 1.0)


@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3, S.LEAF, S.LEAF + 1, S.LEAF + 2, 2 * S.LEAF + 3])
def test_triangular_root_is_the_principal_root_within_the_bound(complex_, n):
    # Recursion boundaries (LEAF, splits moved past 2 x 2 blocks) against the refined reference of the full
    # matrix; the spectrum spirals around the origin in the right half-plane, so real T has many 2 x 2 blocks.
    rng = np.random.default_rng(n)
    angles = rng.uniform(-0.45 * np.pi, 0.45 * np.pi, n)
    lam = 10.0 ** rng.uniform(-0.5, 0.5, n) * np.exp(1j * angles)
    if complex_:
        t = np.diag(lam) + np.triu(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)), 1) / n
        q = G.haar(rng, n, complex_=True)
    else:
        t = np.zeros((n, n))
        i = 0
        while i < n:  # 2 x 2 blocks for pairs, 1 x 1 for the rest
            if i + 1 < n and rng.random() < 0.6:
                re, im = lam[i].real, abs(lam[i].imag) + 0.1
                t[i:i + 2, i:i + 2] = [[re, im], [-im, re]]
                i += 2
            else:
                t[i, i] = abs(lam[i])
                i += 1
        t += np.triu(rng.standard_normal((n, n)), 2) / n
        q = G.haar(rng, n)
    a = q @ t @ q.conj().T
    tt, qq = scipy.linalg.schur(a, output="complex" if complex_ else "real")
    r = S.triangular_sqrt(tt, "z" if complex_ else "d")
    assert r is not None
    y = qq @ r @ qq.conj().T
    ref = G.reference(a)
    assert np.isfinite(ref.cond)
    assert G.rel_error(y, ref.y) <= G.C * n * G.U64 * max(ref.cond, 1.0)
    assert not G.branch_violations(y, G.U64, real_input=not complex_)


def test_triangular_root_declines_a_negative_real_eigenvalue():
    t = np.array([[2.0, 1.0, 0.3], [0.0, -1.0, 0.5], [0.0, 0.0, 3.0]])
    assert S.triangular_sqrt(t, "d") is None
    big = np.diag(np.r_[np.ones(S.LEAF + 5), -1.0]) + np.triu(np.ones((S.LEAF + 6, S.LEAF + 6)), 1) * 0.01
    assert S.triangular_sqrt(big, "d") is None


@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm_vjp", "inv_sqrtm_vjp"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
@pytest.mark.parametrize("negative", [False, True])
def test_batched_vjp_solves_the_sylvester_equation(monkeypatch, inverse, dtype, negative):
    # The forward's Schur factors serve the backward (Bartels-Stewart on the pool); a real batch with a
    # complex root (negative eigenvalue) takes the sign iteration.  Referee: the refined Sylvester solution.
    from test_general import _kron_condition

    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")
    rng = np.random.default_rng(5)
    n = 32
    a = _batch(rng, 3, n, dtype, negative)
    complex_out = np.dtype(dtype).kind == "c" or negative
    g = rng.standard_normal(a.shape) + (1j * rng.standard_normal(a.shape) if complex_out else 0)
    if not negative:  # the Schur path must serve it, not the iteration
        def no_iteration(*args, **kwargs):
            raise AssertionError("the sign iteration ran where the Schur factors should have served")

        monkeypatch.setattr(M, "_general_backward", no_iteration)
    fn = matsqrt.inv_sqrtm_vjp if inverse else matsqrt.sqrtm_vjp
    _, vjp = fn(a)
    grad = vjp(g.astype(np.complex64 if dtype == np.float32 and complex_out else g.dtype))
    u = G.unit_roundoff(dtype)
    for i in range(3):
        ref = G.reference(a[i], inverse=inverse)
        exact = G.sylvester_gradient(ref.y, g[i], ref.z if inverse else None)
        if np.dtype(dtype).kind != "c":
            exact = np.real(exact)
        cond = ref.cond_inv if inverse else ref.cond
        bound = G.C * n * u * max(cond, 1.0) * _kron_condition(ref.y.astype(np.complex128))
        assert G.rel_error(grad[i], exact) <= bound, (i, G.rel_error(grad[i], exact), bound)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_batched_vjp_with_triangular_roots_from_the_pool_solves_its_equation(monkeypatch, dtype):
    # n above POOL_TRIANGULAR_MIN_N: R from triangular_sqrt; the residual of Y^H X + X Y^H = G (a backward
    # error, with Y the returned root) at working precision, and the sign iteration never runs.
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")

    def no_iteration(*args, **kwargs):
        raise AssertionError("the sign iteration ran where the Schur factors should have served")

    monkeypatch.setattr(M, "_general_backward", no_iteration)
    rng = np.random.default_rng(9)
    n = S.POOL_TRIANGULAR_MIN_N + 3
    a = _batch(rng, 2, n, dtype)
    g = rng.standard_normal(a.shape).astype(dtype)
    y, vjp = matsqrt.sqrtm_vjp(a)
    x = vjp(g)
    eps = float(np.finfo(dtype).eps)
    for i in range(2):
        yh = np.conj(y[i]).T
        residual = np.linalg.norm(yh @ x[i] + x[i] @ yh - g[i])
        assert residual <= 100 * n * eps * (2 * np.linalg.norm(y[i]) * np.linalg.norm(x[i]) + np.linalg.norm(g[i]))


def test_the_input_is_not_modified_even_when_its_matrices_are_fortran_ordered(monkeypatch):
    # ?gees overwrites its argument in place; a batch of transposed views hands it Fortran-ordered matrices.
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")
    base = _batch(np.random.default_rng(8), 3, 32, np.float64)
    a = np.swapaxes(base, -1, -2)  # every matrix Fortran-contiguous, a view of base
    keep = a.copy()
    y = matsqrt.sqrtm(a)
    np.testing.assert_array_equal(a, keep)
    np.testing.assert_allclose(y @ y, keep, atol=1e-12)


def test_fid_batch_with_triangular_roots_in_the_pool(monkeypatch):
    # Rank-deficient covariance products (a semi-simple zero eigenvalue) at n above POOL_TRIANGULAR_MIN_N:
    # the pool's roots are flagged by the singularity test and deflated, real, within the Hoelder bound.
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")
    rng = np.random.default_rng(0)
    n = S.POOL_TRIANGULAR_MIN_N + 3
    prods = [G.covariance_product(rng, n, 80, 50) for _ in range(2)]
    y = matsqrt.sqrtm(np.stack([p.a for p in prods]))
    assert y.dtype == np.float64
    for i, p in enumerate(prods):
        assert G.rel_error(y[i], p.root) <= G.singular_sqrt_bound(n, G.U64, p.kappa_v)
