"""matsqrt.torch: autograd functions over the core, checked by gradcheck and against the NumPy API."""

import gc
import sys
import weakref

import numpy as np
import pytest

import matsqrt

torch = pytest.importorskip("torch")
mt = pytest.importorskip("matsqrt.torch")

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]
ROOTS = {"sqrtm": (mt.sqrtm, matsqrt.sqrtm_vjp), "inv_sqrtm": (mt.inv_sqrtm, matsqrt.inv_sqrtm_vjp)}
# Central differences of these degree-10 Padé forwards are accurate to about
# 3e-9 at eps = 1e-4 (truncation ~eps^2; the forward's rounding, ~1e-13 after
# the Padé evaluation, divided by eps): tolerances 30x above that, far below
# gradcheck's defaults (atol 1e-5, rtol 1e-3).
GRADCHECK = dict(eps=1e-4, atol=1e-7, rtol=1e-6)


def spd_batch(seed=0, batch=(2,), n=4):
    x = np.random.default_rng(seed).standard_normal((*batch, n, 2 * n))
    return x @ np.swapaxes(x, -1, -2) / (2 * n) + np.eye(n)


def ill_conditioned(seed=9, n=6, condition=1e4):
    """SPD with a log-spaced spectrum: the paper's eight Lyapunov iterations stop short of convergence."""
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((2, n, n)))[0]
    return (q * np.logspace(0, -np.log10(condition), n)) @ np.swapaxes(q, -1, -2)


def nonsymmetric(seed=7, spectrum=(1.0, 1.3, 1.7, 2.0)):
    """V diag(spectrum) V^-1 with V near the identity: positive real spectrum, well inside the region."""
    n = len(spectrum)
    v = np.eye(n) + 0.2 * np.random.default_rng(seed).standard_normal((n, n))
    return (v * np.array(spectrum)) @ np.linalg.inv(v)


def tensor(a, device="cpu", dtype=torch.float64, requires_grad=True):
    return torch.tensor(a, dtype=dtype, device=device, requires_grad=requires_grad)


def test_the_module_imports_the_real_torch():
    # matsqrt/torch.py must not import itself through `import torch`.
    assert mt.torch is sys.modules["torch"]
    assert hasattr(mt.torch, "autograd")


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("device", DEVICES)
def test_gradcheck_symmetric_float64(root, device):
    f = ROOTS[root][0]
    A = tensor(spd_batch(), device)
    assert torch.autograd.gradcheck(lambda a: f(a, "mpa", degree=10), (A,), **GRADCHECK)


@pytest.mark.parametrize("root", ROOTS)
def test_gradcheck_nonsymmetric_float64(root):
    f = ROOTS[root][0]
    A = tensor(nonsymmetric())
    assert torch.autograd.gradcheck(lambda a: f(a, "mpa", degree=10), (A,), **GRADCHECK)


def test_gradcheck_detects_a_forward_too_inaccurate_for_its_gradient():
    # The backward is the derivative of the exact root at the computed Y; a
    # degree-1 Padé forward (error ~1e-2 here) has a different derivative, and
    # gradcheck must see it, or the tests above would prove nothing.
    A = tensor(nonsymmetric(spectrum=(0.3, 1.0, 2.0, 3.0)))
    assert not torch.autograd.gradcheck(lambda a: mt.sqrtm(a, "mpa", degree=1), (A,), **GRADCHECK,
                                         raise_exception=False)


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("device", DEVICES)
def test_forward_and_gradient_equal_the_numpy_api(root, device):
    f, f_vjp = ROOTS[root]
    a = spd_batch(seed=1, batch=(3, 2), n=5)
    g = np.random.default_rng(2).standard_normal(a.shape)
    A = tensor(a, device)
    Y = f(A)
    Y.backward(torch.tensor(g, device=device))
    y, vjp = f_vjp(a)
    np.testing.assert_allclose(Y.detach().cpu().numpy(), y, rtol=0, atol=1e-13 * np.abs(y).max())
    expected = vjp(g)
    np.testing.assert_allclose(A.grad.cpu().numpy(), expected, rtol=0, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("options", [
    dict(method="mtp", degree=20),
    dict(method=matsqrt.MPA(degree=12)),
], ids=["mtp-20", "MPA-config"])
@pytest.mark.parametrize("root", ROOTS)
def test_method_passes_through(root, options):
    f, f_vjp = ROOTS[root]
    a = spd_batch(seed=3, n=6)
    g = np.random.default_rng(4).standard_normal(a.shape)
    A = tensor(a)
    Y = f(A, **options)
    Y.backward(torch.tensor(g))
    y, vjp = f_vjp(a, **options)
    # torch's and NumPy's products round differently, amplified by high degrees.
    np.testing.assert_allclose(Y.detach().numpy(), y, rtol=0, atol=1e-10 * np.abs(y).max())
    expected = vjp(g)
    np.testing.assert_allclose(A.grad.numpy(), expected, rtol=0, atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("root", ROOTS)
def test_paper_backward_passes_through(root):
    f, f_vjp = ROOTS[root]
    a = ill_conditioned()
    g = np.random.default_rng(4).standard_normal(a.shape)
    options = dict(lyapunov_maxiter=8, lyapunov_tol=0)
    A = tensor(a)
    f(A, "mpa", **options).backward(torch.tensor(g))
    expected = f_vjp(a, "mpa", **options)[1](g)
    # Eight iterations stop far from the converged gradient: equality with the
    # NumPy result under the same settings is what shows they were used.
    converged = f_vjp(a, "mpa")[1](g)
    assert np.abs(expected - converged).max() > 1e-4 * np.abs(converged).max()
    np.testing.assert_allclose(A.grad.numpy(), expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_lyapunov_maxiter_passes_through_to_the_backward():
    # Three iterations cannot reach the default tolerance.
    A = tensor(spd_batch())
    Y = mt.sqrtm(A, "mpa", lyapunov_maxiter=3)
    with pytest.raises(matsqrt.ConvergenceError, match="3 iterations"):
        Y.sum().backward()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_low_precision_dtypes_are_kept(dtype):
    A = tensor(spd_batch(n=3), dtype=dtype)
    Y = mt.sqrtm(A, "mpa", degree=8)
    Y.sum().backward()
    assert Y.dtype == A.grad.dtype == dtype
    ref, vjp = matsqrt.sqrtm_vjp(spd_batch(n=3), "mpa", degree=8)
    tol = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}[dtype]
    np.testing.assert_allclose(Y.detach().double().numpy(), ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(A.grad.double().numpy(), vjp(np.ones_like(ref)), rtol=tol, atol=tol)


def test_without_gradients_only_the_forward_runs():
    a = spd_batch()
    A = tensor(a, requires_grad=False)
    Y = mt.inv_sqrtm(A)
    assert not Y.requires_grad
    np.testing.assert_array_equal(Y.numpy(), matsqrt.inv_sqrtm(A).numpy())
    with torch.no_grad():
        assert not mt.sqrtm(tensor(a)).requires_grad


def test_unconverged_backward_raises_convergence_error():
    A = tensor(np.zeros((2, 2)))
    Y = mt.sqrtm(A, "mpa")
    np.testing.assert_array_equal(Y.detach().numpy(), 0.0)
    with pytest.raises(matsqrt.ConvergenceError):
        Y.sum().backward()


def test_double_backward_raises():
    A = tensor(spd_batch())
    # G = 2Y depends on A, so a second derivative would pass through the backward.
    (grad,) = torch.autograd.grad((mt.sqrtm(A) ** 2).sum(), A, create_graph=True)
    with pytest.raises(RuntimeError, match="twice"):
        grad.sum().backward()


def test_forward_errors_are_the_core_errors():
    with pytest.raises(ValueError, match="square"):
        mt.sqrtm(torch.ones(2, 3, dtype=torch.float64, requires_grad=True))
    with pytest.raises(ValueError, match="NaN or infinity"):
        mt.sqrtm(torch.full((2, 2), float("nan"), requires_grad=True))
    with pytest.raises(TypeError, match="torch.Tensor"):
        mt.sqrtm(np.eye(2))


def test_the_output_is_freed_without_the_cycle_collector():
    # Training loops rely on reference counting to free each step's graph; an
    # output reachable from its own autograd node would wait for gc.collect().
    A = tensor(spd_batch())
    gc.disable()
    try:
        Y = mt.sqrtm(A)
        ref = weakref.ref(Y)
        del Y
        assert ref() is None
    finally:
        gc.enable()
