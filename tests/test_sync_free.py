"""Matmul(sync_free=True): a fixed schedule, every check on the device, no host synchronisation; accurate up to
its stated condition number, NaN (never a plausible value) beyond it and outside its domain."""

import math

import numpy as np
import pytest

import matsqrt
from matsqrt._methods import SYNC_FREE_KAPPA, sync_free_lower
from matsqrt.bench import spd_batch
from matsqrt.schedule import schedule

SYNC_FREE = matsqrt.Matmul(sync_free=True)
EPS = {np.float32: float(np.finfo(np.float32).eps), np.float64: float(np.finfo(np.float64).eps)}


class NoSync(np.ndarray):
    """An ndarray whose every route to a host value raises: a computation that passes never synchronised."""

    def __float__(self):
        raise AssertionError("host synchronisation: float()")

    def __bool__(self):
        raise AssertionError("host synchronisation: bool()")

    def __int__(self):
        raise AssertionError("host synchronisation: int()")

    def __index__(self):
        raise AssertionError("host synchronisation: index")

    def item(self, *args):
        raise AssertionError("host synchronisation: item()")

    def tolist(self):
        raise AssertionError("host synchronisation: tolist()")


def _eigh_reference(a, g):
    w, v = np.linalg.eigh(a)
    r = np.sqrt(w)
    vt = np.swapaxes(v, -1, -2)
    y = (v * r[..., None, :]) @ vt
    grad = v @ ((vt @ g @ v) / (r[..., :, None] + r[..., None, :])) @ vt
    z = (v / r[..., None, :]) @ vt
    return y, grad, z


def _rel(x, ref):
    return np.linalg.norm(x - ref, axis=(-2, -1)) / np.linalg.norm(ref, axis=(-2, -1))


def test_no_host_synchronisation_forward_and_backward():
    a = spd_batch(np.random.default_rng(0), 4, 16, 1e3)
    g = np.random.default_rng(1).standard_normal(a.shape)
    for function in (matsqrt.sqrtm_vjp, matsqrt.inv_sqrtm_vjp):
        y, vjp = function(a.view(NoSync), SYNC_FREE, check_finite=False)
        grad = vjp(g.view(NoSync))
        assert isinstance(y, NoSync) and isinstance(grad, NoSync)
    # the control: the adaptive schedule synchronises (it checks convergence on the host)
    with pytest.raises(AssertionError, match="host synchronisation"):
        matsqrt.sqrtm(a.view(NoSync), "matmul", check_finite=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accurate_up_to_the_stated_condition_number(backend, dtype):
    rng = np.random.default_rng(2)
    kappa_max = SYNC_FREE_KAPPA[np.dtype(dtype).itemsize]
    eps = EPS[dtype]
    for kappa in (1.0, 10.0, math.sqrt(kappa_max), kappa_max):
        a = spd_batch(rng, 6, 24, kappa)
        g = rng.standard_normal(a.shape)
        y_ref, g_ref, z_ref = _eigh_reference(a, g)
        y, vjp = matsqrt.sqrtm_vjp(backend.asarray(a.astype(dtype)), SYNC_FREE, check_finite=False)
        grad = backend.to_numpy(vjp(backend.asarray(g.astype(dtype))))
        z = backend.to_numpy(matsqrt.inv_sqrtm(backend.asarray(a.astype(dtype)), SYNC_FREE, check_finite=False))
        y = backend.to_numpy(y)
        # the contract's bounds: C n u times the condition number of the problem (relative, for an eps ||A||
        # perturbation: sqrt: sqrt(kappa); its derivative, the Lyapunov solve, and the inverse root: kappa)
        n = a.shape[-1]
        assert np.all(_rel(y, y_ref) <= 4 * n * eps * math.sqrt(kappa)), kappa
        assert np.all(_rel(z, z_ref) <= 4 * n * eps * kappa), kappa
        assert np.all(_rel(grad, g_ref) <= 4 * n * eps * kappa), kappa


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_beyond_the_bound_the_matrix_is_nan_and_the_others_are_not(backend, dtype):
    rng = np.random.default_rng(3)
    kappa_max = SYNC_FREE_KAPPA[np.dtype(dtype).itemsize]
    good = spd_batch(rng, 2, 16, 10.0)
    bad = spd_batch(rng, 1, 16, 1e3 * kappa_max)
    a = np.concatenate([good[:1], bad, good[1:]])
    g = rng.standard_normal(a.shape)
    for function in (matsqrt.sqrtm_vjp, matsqrt.inv_sqrtm_vjp):
        y, vjp = function(backend.asarray(a.astype(dtype)), SYNC_FREE, check_finite=False)
        y, grad = backend.to_numpy(y), backend.to_numpy(vjp(backend.asarray(g.astype(dtype))))
        assert np.all(np.isnan(y[1])) and np.all(np.isnan(grad[1]))
        assert np.all(np.isfinite(y[[0, 2]])) and np.all(np.isfinite(grad[[0, 2]]))


def test_outside_the_domain_nan():
    # Not Hermitian (the schedule is proven for Hermitian input only), and indefinite: NaN, never a value.
    rng = np.random.default_rng(4)
    spd = spd_batch(rng, 1, 5, 10.0)[0]
    nonsym = spd + 0.1 * np.triu(rng.standard_normal((5, 5)), 1)
    indefinite = spd - 0.5 * np.eye(5) * np.linalg.eigvalsh(spd)[-1]
    for a in (nonsym, indefinite):
        y = matsqrt.sqrtm(a, SYNC_FREE, check_finite=False)
        assert np.all(np.isnan(y))
    # with check_finite (a host synchronisation allowed) the NaN becomes the error it stands for
    for a in (nonsym, indefinite):
        with pytest.raises(ValueError, match="sync_free=True has no result for A"):
            matsqrt.sqrtm(a, SYNC_FREE)


def test_the_schedule_is_the_designed_one():
    # The number of steps follows from the bound alone (tested against the scalar map in test_schedule.py).
    n = 64
    lower = sync_free_lower(n, np.float64, np)
    assert lower == pytest.approx(1 / math.sqrt(1e8 * n ** 0.125))
    steps = schedule(lower, EPS[np.float64])
    x = np.geomspace(lower, 1.0, 10001)
    for step in steps:
        x = step(x)
    assert np.max(np.abs(1 - x)) <= 4 * EPS[np.float64]
    assert len(steps) <= 10


def test_under_jax_jit_accurate_and_nan_beyond_the_bound():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    mj = pytest.importorskip("matsqrt.jax")
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        rng = np.random.default_rng(5)
        a = np.concatenate([spd_batch(rng, 2, 12, 1e6), spd_batch(rng, 1, 12, 1e11)])
        y_ref, _, _ = _eigh_reference(a, np.zeros_like(a))
        y = np.asarray(jax.jit(lambda x: mj.sqrtm(x, SYNC_FREE))(jnp.asarray(a)))
        assert y.dtype == np.float64
        assert np.all(_rel(y[:2], y_ref[:2]) <= 4 * 12 * EPS[np.float64] * 1e3)
        assert np.all(np.isnan(y[2]))
        # the adapter's own backward (a device sign iteration; a batch with a NaN root is NaN as a whole)
        g = rng.standard_normal(a[:2].shape)
        _, g_ref, _ = _eigh_reference(a[:2], g)
        grad = jax.jit(jax.grad(lambda x: jnp.sum(mj.sqrtm(x, SYNC_FREE) * g)))(jnp.asarray(a[:2]))
        assert np.all(_rel(np.asarray(grad), g_ref) <= 4 * 12 * EPS[np.float64] * 1e6)
    finally:
        jax.config.update("jax_enable_x64", previous)
