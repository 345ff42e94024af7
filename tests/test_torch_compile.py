"""matsqrt.torch under torch.compile(fullgraph=True): opaque custom ops, the eager values, no warnings of ours."""

import time
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mt = pytest.importorskip("matsqrt.torch")

import matsqrt  # noqa: E402

SYNC_FREE = dict(method="mpa", check_finite=False, lyapunov_maxiter=8, lyapunov_tol=0)
ACCURATE_SYNC_FREE = dict(method=matsqrt.Matmul(sync_free=True), check_finite=False)


def spd_batch(seed=0, batch=(2,), n=4):
    x = np.random.default_rng(seed).standard_normal((*batch, n, 2 * n))
    return torch.tensor(x @ np.swapaxes(x, -1, -2) / (2 * n) + np.eye(n))


def model(root, **options):
    # A root inside surrounding tensor code, as in a network.
    def f(a, w):
        return ((root(a @ w @ w.mT @ a.mT + a, **options) @ a) ** 2).sum()
    return f


@pytest.mark.parametrize("options", [{}, SYNC_FREE, ACCURATE_SYNC_FREE],
                         ids=["default", "sync-free", "matmul-sync-free"])
@pytest.mark.parametrize("root", ["sqrtm", "inv_sqrtm"])
def test_fullgraph_compile_equals_eager_forward_and_backward(root, options):
    f = model(getattr(mt, root), **options)
    a = spd_batch()
    w = torch.tensor(np.random.default_rng(1).standard_normal((4, 4))) / 4
    torch._dynamo.reset()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = torch.compile(f, fullgraph=True)
        ac, wc = a.clone().requires_grad_(), w.clone().requires_grad_()
        out = compiled(ac, wc)
        out.backward()
    elapsed = time.perf_counter() - start
    # Nothing of matsqrt's core was traced (tracing it took 20 s and printed dozens of warnings).
    ours = [str(c.message) for c in caught if "matsqrt" in str(c.message) or "lru_cache" in str(c.message)
            or "matsqrt" in c.filename]
    assert ours == []
    assert elapsed < 60, f"compiling took {elapsed:.1f} s"
    ae, we = a.clone().requires_grad_(), w.clone().requires_grad_()
    expected = f(ae, we)
    expected.backward()
    # The same operators run in the graph as eagerly: equal to rounding of the surrounding code.
    np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-13)
    np.testing.assert_allclose(ac.grad.numpy(), ae.grad.numpy(), rtol=0, atol=1e-12 * ae.grad.abs().max().item())
    np.testing.assert_allclose(wc.grad.numpy(), we.grad.numpy(), rtol=0, atol=1e-12 * we.grad.abs().max().item())


def test_compiled_errors_are_the_eager_errors():
    compiled = torch.compile(lambda a: mt.sqrtm(a) * 2, fullgraph=True)
    with pytest.raises(ValueError, match="NaN or infinity"):
        compiled(torch.full((2, 2), float("nan"), dtype=torch.float64))
    a = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    y = torch.compile(lambda a: mt.sqrtm(a, "mpa") * 2, fullgraph=True)(a)
    with pytest.raises(ValueError, match="singular"):
        y.sum().backward()
    with pytest.raises(Exception, match="return_info is not available under torch.compile"):
        torch.compile(lambda a: mt.sqrtm(a, return_info=True), fullgraph=True)(a.detach())


def test_compiled_dtypes_and_method_configs():
    import matsqrt

    a = spd_batch(n=3)
    config = matsqrt.MPA(degree=9)
    for dtype in (torch.float16, torch.float32, torch.int64):
        x = (a * 4).round().to(dtype)
        y = torch.compile(lambda t: mt.inv_sqrtm(t, config), fullgraph=True)(x)
        expected = mt.inv_sqrtm(x, config)
        assert y.dtype == expected.dtype
        np.testing.assert_array_equal(y.double().numpy(), expected.double().numpy())


def test_the_custom_ops_pass_opcheck():
    from torch.library import opcheck

    a = spd_batch()
    for options in ({}, SYNC_FREE):
        settings = dict(degree=None, scale=None, tol=None, maxiter=None, lyapunov_maxiter=None, lyapunov_tol=None,
                        check_finite=True, return_info=False, method="auto") | options
        key = mt._options_key(*mt._Options(inverse=False, **settings))
        opcheck(torch.ops.matsqrt.root.default, (a, key))
        opcheck(torch.ops.matsqrt.root_vjp.default, (a, torch.ones_like(a), key))


def test_the_graph_holds_one_operator_not_the_core():
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    a = spd_batch()
    torch.compile(lambda x: mt.inv_sqrtm(x @ x, "matmul") + 1, backend=backend, fullgraph=True)(a)
    (gm,) = graphs
    calls = [str(node.target) for node in gm.graph.nodes if node.op == "call_function"]
    assert calls.count("matsqrt.root.default") == 1
    # x @ x, the op, + 1: the core's dozens of products and its eigh did not enter the graph.
    assert len(calls) <= 4, calls


def test_vmap_of_a_compiled_root_is_the_batched_call():
    a = spd_batch(batch=(3,))
    y = torch.compile(torch.func.vmap(lambda x: mt.inv_sqrtm(x, "mpa", degree=7)), fullgraph=True)(a)
    np.testing.assert_array_equal(y.numpy(), mt.inv_sqrtm(a, "mpa", degree=7).numpy())
    # The vjp operator's batching rule: its own matrix for each cotangent.
    key = mt._options_key(*mt._Options(False, "eigh", None, None, None, None, None, None, True, False))
    g = torch.tensor(np.random.default_rng(2).standard_normal(a.shape))
    batched = torch.func.vmap(torch.ops.matsqrt.root_vjp.default, in_dims=(None, 0, None))(a[0], g, key)
    for i in range(3):
        np.testing.assert_allclose(batched[i].numpy(), torch.ops.matsqrt.root_vjp.default(a[0], g[i], key).numpy(),
                                   rtol=0, atol=1e-15)
