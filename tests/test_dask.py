"""Dask arrays at the public boundary: lazy, blockwise, equal to the in-memory results."""

import numpy as np
import pytest

import matsqrt

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

FORWARDS = [matsqrt.sqrtm, matsqrt.inv_sqrtm]
VJPS = [matsqrt.sqrtm_vjp, matsqrt.inv_sqrtm_vjp]
EPS64 = np.finfo(np.float64).eps


def spd_batch(shape=(50,), n=5, seed=0):
    x = np.random.default_rng(seed).standard_normal((*shape, n, 2 * n))
    return x @ np.swapaxes(x, -1, -2) / (2 * n) + np.eye(n)


def assert_same(actual, expected, ulps=4):
    # The same in-memory code runs on each block; only rounding that depends
    # on a block's size (none is expected) could separate the two.
    np.testing.assert_allclose(actual, expected, rtol=0, atol=ulps * EPS64 * np.abs(expected).max())


@pytest.fixture
def computed_blocks():
    """A list that records every block computed from arrays made by ``counted``."""
    calls = []

    def counted(x):
        def record(block):
            calls.append(block.shape)
            return block

        return x.map_blocks(record, dtype=x.dtype, meta=x._meta)

    return calls, counted


@pytest.mark.parametrize("f", FORWARDS)
@pytest.mark.parametrize("chunks", [(7, 5, 5), (7, 2, 3), (20, 5, 5)], ids=["batch", "matrix-axes", "uneven"])
def test_forward_is_blockwise_and_equals_numpy(f, chunks):
    a = spd_batch()
    y = f(da.from_array(a, chunks=chunks), "mpa", degree=10)
    assert isinstance(y, da.Array)
    assert y.chunks[-2:] == ((5,), (5,))
    assert y.chunks[0] == da.from_array(a, chunks=chunks).chunks[0]
    assert_same(y.compute(), f(a, "mpa", degree=10))


@pytest.mark.parametrize("f_vjp", VJPS)
def test_vjp_is_blockwise_and_equals_numpy_block_by_block(f_vjp):
    a = spd_batch()
    g = np.random.default_rng(1).standard_normal(a.shape)
    y, vjp = f_vjp(da.from_array(a, chunks=(7, 5, 5)))
    y_ref, vjp_ref = f_vjp(a)
    assert (vjp.maxiter, vjp.tol) == (vjp_ref.maxiter, vjp_ref.tol)
    assert_same(y.compute(), y_ref)
    # The Lyapunov iteration stops when the worst matrix of its batch has
    # converged, so each block is the in-memory result for that block ...
    blocks = [f_vjp(a[i:i + 7])[1](g[i:i + 7]) for i in range(0, 50, 7)]
    expected = np.concatenate(blocks)
    assert_same(vjp(g).compute(), expected)
    # (G lazy with chunks of its own is rechunked to A's) ...
    assert_same(vjp(da.from_array(g, chunks=(13, 2, 5))).compute(), expected)
    # ... and differs from the whole batch in one call only at the iteration's rounding floor.
    whole = vjp_ref(g)
    assert np.abs(expected - whole).max() <= 1e3 * EPS64 * np.abs(whole).max()


def test_lyapunov_settings_reach_every_block():
    a = spd_batch(n=6)
    g = np.ones_like(a)
    options = dict(lyapunov_maxiter=8, lyapunov_tol=0)
    _, vjp = matsqrt.sqrtm_vjp(da.from_array(a, chunks=(10, 6, 6)), "mpa", **options)
    assert_same(vjp(g).compute(), matsqrt.sqrtm_vjp(a, "mpa", **options)[1](g))
    _, vjp = matsqrt.sqrtm_vjp(da.from_array(a, chunks=(10, 6, 6)), "mpa", lyapunov_maxiter=2)
    with pytest.raises(matsqrt.ConvergenceError):
        vjp(g).compute()


def test_several_batch_axes_and_integer_input():
    a = np.round(10 * spd_batch(shape=(4, 6), n=3)).astype(np.int64)
    y = matsqrt.sqrtm(da.from_array(a, chunks=(2, 3, 3, 3)), "mpa", degree=12)
    assert y.dtype == np.float64
    assert_same(y.compute(), matsqrt.sqrtm(a, "mpa", degree=12))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_dtypes_follow_the_numpy_rules(dtype):
    a = spd_batch().astype(dtype)
    y = matsqrt.sqrtm(da.from_array(a, chunks=(10, 5, 5)))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.compute(), matsqrt.sqrtm(a))


def test_nothing_is_computed_until_asked(computed_blocks):
    calls, counted = computed_blocks
    a = counted(da.from_array(spd_batch(), chunks=(10, 5, 5)))
    with dask.config.set(scheduler="synchronous"):
        y = matsqrt.sqrtm(a)
        z, vjp = matsqrt.inv_sqrtm_vjp(a)
        grad = vjp(np.ones(a.shape))
        assert calls == []
        y.compute()
        assert len(calls) == 5
        grad.compute()
        assert len(calls) == 10


@pytest.mark.parametrize("f", FORWARDS + VJPS)
def test_shape_and_dtype_errors_are_raised_at_call_time(f):
    with pytest.raises(ValueError, match=r"square .*got shape \(6, 3, 4\)"):
        f(da.ones((6, 3, 4), chunks=(2, 3, 4)))
    with pytest.raises(ValueError, match="2-D"):
        f(da.ones((3,)))
    with pytest.raises(TypeError, match="real or complex floating"):
        f(da.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="unknown method"):
        f(da.ones((2, 2)), "newton")


def test_value_errors_are_raised_when_the_block_is_computed():
    a = spd_batch()
    a[13, 0, 1] = np.nan
    y = matsqrt.sqrtm(da.from_array(a, chunks=(10, 5, 5)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        y.compute()
    z = matsqrt.inv_sqrtm(da.from_array(np.zeros((4, 2, 2)), chunks=(2, 2, 2)))
    with pytest.raises(ValueError, match="zero matrix"):
        z.compute()


def test_vjp_checks_its_upstream_gradient():
    _, vjp = matsqrt.sqrtm_vjp(da.from_array(spd_batch(), chunks=(10, 5, 5)))
    with pytest.raises(ValueError, match="shape of A"):
        vjp(np.ones((50, 4, 4)))
    with pytest.raises(NotImplementedError, match="return_info"):
        vjp(np.ones((50, 5, 5)), return_info=True)


def test_unknown_matrix_size_is_an_error_and_unknown_batch_size_is_not():
    a = da.from_array(spd_batch(), chunks=(10, 5, 5))
    kept = a[a[:, 0, 0] > 0]
    assert np.isnan(kept.shape[0])
    assert_same(matsqrt.sqrtm(kept).compute(), matsqrt.sqrtm(spd_batch()))
    unknown = a.map_blocks(lambda block: block, chunks=(a.chunks[0], (np.nan,), (np.nan,)))
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        matsqrt.sqrtm(unknown)


def test_explicit_dask_namespace_is_accepted():
    from array_api_compat import array_namespace

    a = da.from_array(spd_batch(), chunks=(10, 5, 5))
    y = matsqrt.sqrtm(a, xp=array_namespace(a))
    assert_same(y.compute(), matsqrt.sqrtm(spd_batch()))


@pytest.fixture(scope="module")
def cluster_client():
    """Two worker processes of one thread each: blocks and results cross process boundaries."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


def test_local_cluster_batch_of_200000_equals_in_memory(cluster_client):
    n, batch = 8, 200_000
    x = da.random.default_rng(0).standard_normal((batch, n, 2 * n), chunks=(20_000, n, 2 * n))
    a = x @ da.swapaxes(x, -1, -2) / (2 * n) + np.eye(n)
    y = matsqrt.sqrtm(a)
    z, vjp = matsqrt.inv_sqrtm_vjp(a[:20_000])
    grad = vjp(da.ones_like(z))
    a, y, grad = dask.compute(a, y, grad)
    assert y.shape == (batch, n, n)
    assert_same(y, matsqrt.sqrtm(a))
    assert_same(grad, matsqrt.inv_sqrtm_vjp(a[:20_000])[1](np.ones((20_000, n, n))))


def test_a_complex_root_of_a_real_block_is_refused_not_truncated():
    a = np.stack([np.eye(3), np.diag([1.0, -4.0, 9.0])])
    with pytest.raises(ValueError, match="complex"):
        matsqrt.sqrtm(da.from_array(a, chunks=(1, 3, 3))).compute()
    y = matsqrt.sqrtm(da.from_array(a.astype(complex), chunks=(1, 3, 3))).compute()
    np.testing.assert_allclose(y[1], np.diag([1.0, 2.0j, 3.0]), atol=1e-14)
