"""NumPy batches in cache-sized chunks on a thread pool: same results as the whole batch."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import matsqrt
from matsqrt import _chunks
from matsqrt._errors import ConvergenceInfo

from helpers import rel_fro


def _spd_stack(batch, n, seed=0):
    x = np.random.default_rng(seed).standard_normal((batch, n, n + 3))
    return x @ np.swapaxes(x, -1, -2) / (n + 3) + 0.1 * np.eye(n)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of four 6 x 6 float64 matrices, so that a batch of 22 runs in 5 or 6 chunks."""
    monkeypatch.setattr(_chunks, "CHUNK_BYTES", 4 * 6 * 6 * 8)


def _whole(monkeypatch):
    monkeypatch.setattr(_chunks, "chunk_slices", lambda a, xp: None)
    monkeypatch.setattr(_chunks, "eigh_slices", lambda a, xp: None)


def test_slices_cover_the_batch_in_order(small_chunks):
    a = np.zeros((2, 11, 6, 6))
    slices = _chunks.chunk_slices(a, matsqrt._api.namespace_of(a)[0])
    assert slices is not None and len(slices) == 6
    assert slices[0].start == 0 and slices[-1].stop == 22
    assert all(s.stop == t.start for s, t in zip(slices[:-1], slices[1:], strict=True))
    assert all(3 <= s.stop - s.start <= 4 for s in slices)


def test_what_is_not_chunked(small_chunks):
    import array_api_strict
    from array_api_compat import numpy as xp

    assert _chunks.chunk_slices(np.zeros((7, 6, 6)), xp) is None  # fewer than two chunks' worth
    assert _chunks.chunk_slices(np.zeros((22, 6, 6)), array_api_strict) is None  # not NumPy
    assert _chunks.chunk_slices(np.zeros((6, 6)), xp) is None
    big = np.zeros((4, _chunks.MAX_N + 1, _chunks.MAX_N + 1), dtype=np.float32)
    assert _chunks.chunk_slices(big, xp) is None  # BLAS threads these products itself
    seen = []
    worker = threading.Thread(target=lambda: seen.append(_chunks.chunk_slices(np.zeros((22, 6, 6)), xp)))
    worker.start()
    worker.join()
    assert seen == [None]  # already inside someone's thread pool


@pytest.mark.parametrize("method", ["mpa", "matmul", "eigh", "auto", "ns"])
@pytest.mark.parametrize("inverse", [False, True], ids=["sqrt", "inv_sqrt"])
def test_chunked_equals_whole(small_chunks, monkeypatch, method, inverse):
    a = _spd_stack(22, 6).reshape(2, 11, 6, 6)
    g = np.random.default_rng(1).standard_normal(a.shape)
    root_vjp = matsqrt.inv_sqrtm_vjp if inverse else matsqrt.sqrtm_vjp
    y, vjp = root_vjp(a, method)
    grad, info = vjp(g, return_info=True)
    _whole(monkeypatch)
    y_ref, vjp_ref = root_vjp(a, method)
    grad_ref, info_ref = vjp_ref(g, return_info=True)
    assert y.shape == grad.shape == a.shape
    # Per matrix the arithmetic is the same; iterations that stop on a
    # tolerance may stop earlier in a chunk than in the whole batch.
    assert rel_fro(y, y_ref) <= 1e-14 and rel_fro(grad, grad_ref) <= 1e-13
    assert info.converged and info.iterations <= info_ref.iterations
    if method == "mpa":
        np.testing.assert_array_equal(y, y_ref)


def test_forward_info_merges_the_chunks(small_chunks):
    infos = [ConvergenceInfo(3, 1e-16, True, 2e-16), ConvergenceInfo(5, 4e-16, True, 2e-16),
             ConvergenceInfo(4, float("nan"), False, 2e-16)]
    merged = _chunks.merge_info(infos)
    assert merged == ConvergenceInfo(5, 4e-16, False, 2e-16)
    a = _spd_stack(22, 6)
    _, info = matsqrt.sqrtm(a, "matmul", return_info=True)
    assert info.converged and info.iterations > 0


def test_auto_chooses_once_for_the_whole_batch(small_chunks, monkeypatch):
    calls = []
    monkeypatch.setattr(matsqrt.Eigh, "forward", lambda self, *args: calls.append(1))
    a = _spd_stack(22, 6)
    a[-1, 0, 1] += 0.5  # one non-symmetric matrix in the last chunk: matmul for all
    matsqrt.sqrtm(a)
    assert calls == []


def test_an_error_in_one_chunk_is_raised(small_chunks):
    a = _spd_stack(22, 6)
    a[13] = -a[13]
    for method in ("eigh", "matmul"):
        with pytest.raises(ValueError, match=r"negative eigenvalue \(batch index 13\)"):
            matsqrt.sqrtm(a, method)


def test_thread_count_setting(small_chunks, monkeypatch):
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "1")
    assert _chunks.threads() == 1
    monkeypatch.setattr(_chunks, "_pool", lambda workers: pytest.fail("one thread needs no pool"))
    y = matsqrt.sqrtm(_spd_stack(22, 6), "mpa")
    assert y.shape == (22, 6, 6)
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "two")
    with pytest.raises(ValueError, match="MATSQRT_NUM_THREADS"):
        _chunks.threads()


def test_the_eigendecomposition_runs_in_its_own_chunks_with_one_blas_thread(monkeypatch):
    from threadpoolctl import threadpool_info

    blas_threads = lambda: {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}  # noqa: E731
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")
    monkeypatch.setattr(_chunks, "chunk_slices", lambda a, xp: pytest.fail("the product chunks are not for eigh"))
    before = blas_threads()
    seen = []
    real = matsqrt.eigh.eigh
    monkeypatch.setattr(matsqrt.eigh, "eigh", lambda a, xp: seen.append(
        (a.shape[0], threading.current_thread().name, blas_threads())) or real(a, xp))
    a = _spd_stack(9, 70)  # any n, unlike the product chunks
    g = np.random.default_rng(2).standard_normal(a.shape)
    y, vjp = matsqrt.sqrtm_vjp(a)  # auto: eigh on NumPy for symmetric input
    grad = vjp(g)
    assert blas_threads() == before  # restored
    assert sorted(size for size, _, _ in seen) == [2, 2, 2, 3]  # two chunks per thread
    assert all(name.startswith("matsqrt") and threads == {1} for _, name, threads in seen)
    assert len({name for _, name, _ in seen}) == 2
    seen.clear()
    _whole(monkeypatch)
    assert rel_fro(matsqrt.sqrtm(a), y) <= 1e-14
    assert seen == [(9, threading.main_thread().name, before)]
    assert rel_fro(matsqrt.sqrtm_vjp(a)[1](g), grad) <= 1e-13
    # One matrix runs whole, with every BLAS thread.
    assert _chunks.eigh_slices(a[:1], matsqrt._api.namespace_of(a)[0]) is None


def _chunked_root_in_child(queue):
    _chunks.CHUNK_BYTES = 4 * 6 * 6 * 8
    queue.put(float(matsqrt.sqrtm(_spd_stack(22, 6), "mpa").sum()))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_pool(small_chunks):
    import multiprocessing

    expected = float(matsqrt.sqrtm(_spd_stack(22, 6), "mpa").sum())  # the parent's pool now has threads
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_chunked_root_in_child, args=(queue,))
    child.start()
    child.join(timeout=20)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the child hung on the parent's thread pool"
    assert queue.get(timeout=5) == pytest.approx(expected, rel=1e-14)


def test_read_only_input_in_chunks(small_chunks):
    a = _spd_stack(22, 6)
    a.flags.writeable = False
    y, vjp = matsqrt.sqrtm_vjp(a, "matmul")
    grad = vjp(np.ones_like(a))
    assert rel_fro(y @ y, a) < 1e-13 and grad.shape == a.shape


def test_errors_of_a_chunked_eigendecomposition_name_every_matrix_at_fault(monkeypatch):
    monkeypatch.setenv("MATSQRT_NUM_THREADS", "2")
    a = _spd_stack(8, 5)
    a[1], a[6] = -a[1], -a[6]  # in different chunks
    with pytest.raises(ValueError, match=r"negative eigenvalue \(batch index 1, 6\)"):
        matsqrt.sqrtm(a, "eigh")
    b = _spd_stack(8, 5)
    b[2, :, 0] = b[2, 0, :] = 0.0  # singular (positive semi-definite): a root, but no gradient there
    b[7, :, 0] = b[7, 0, :] = 0.0
    _, vjp = matsqrt.sqrtm_vjp(b, "eigh")
    with pytest.raises(ValueError, match=r"singular \(batch index 2, 7\)"):
        vjp(np.ones_like(b))
