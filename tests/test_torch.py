"""matsqrt.torch: autograd functions over the core, checked by gradcheck and against the NumPy API."""

import gc
import sys
import warnings
import weakref

import numpy as np
import pytest

import matsqrt

from helpers import central_differences, exact_gradient

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
    # gradcheck perturbs single entries, which makes A non-symmetric: auto then runs db
    assert torch.autograd.gradcheck(lambda a: f(a), (A,), **GRADCHECK)


@pytest.mark.parametrize("root", ROOTS)
def test_gradcheck_nonsymmetric_float64(root):
    f = ROOTS[root][0]
    A = tensor(nonsymmetric())
    assert torch.autograd.gradcheck(lambda a: f(a), (A,), **GRADCHECK)


def test_gradcheck_detects_a_forward_too_inaccurate_for_its_gradient():
    # The backward is the derivative of the exact root at the computed Y; a
    # two-step Newton-Schulz forward (error ~1e-2 here) has a different derivative,
    # and gradcheck must see it, or the tests above would prove nothing.
    A = tensor(nonsymmetric(spectrum=(0.3, 1.0, 2.0, 3.0)))
    inaccurate = matsqrt.NS(tol=0, maxiter=2)
    assert not torch.autograd.gradcheck(lambda a: mt.sqrtm(a, inaccurate), (A,), **GRADCHECK,
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


def test_backward_at_the_zero_matrix_raises_value_error():
    A = tensor(np.zeros((2, 2)))
    Y = mt.sqrtm(A, "mpa")
    np.testing.assert_array_equal(Y.detach().numpy(), 0.0)
    with pytest.raises(ValueError, match="singular"):
        Y.sum().backward()


def test_forward_errors_are_the_core_errors():
    with pytest.raises(ValueError, match="square"):
        mt.sqrtm(torch.ones(2, 3, dtype=torch.float64, requires_grad=True))
    with pytest.raises(ValueError, match="NaN or infinity"):
        mt.sqrtm(torch.full((2, 2), float("nan"), requires_grad=True))
    with pytest.raises(TypeError, match="takes a torch.Tensor or a NumPy array; got list"):
        mt.sqrtm([[1.0, 0.0], [0.0, 1.0]])


def test_numpy_input_is_converted_as_by_the_jax_adapter():
    # One rule for both adapters: NumPy arrays are converted, other objects refused.
    a = spd_batch()
    Y = mt.sqrtm(a)
    assert isinstance(Y, torch.Tensor) and Y.dtype == torch.float64 and not Y.requires_grad
    np.testing.assert_allclose(Y.numpy(), matsqrt.sqrtm(a), rtol=0, atol=1e-13)
    Z = mt.inv_sqrtm(np.array([[4, 0], [0, 9]]))
    assert Z.dtype == torch.float64
    np.testing.assert_allclose(Z.numpy(), np.diag([1 / 2, 1 / 3]), rtol=1e-14)


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


# --- dtypes: the core's rules (S2) -------------------------------------------

ALL_TORCH_DTYPES = sorted({d for d in vars(torch).values() if isinstance(d, torch.dtype)}, key=str)
INTEGER_DTYPES = {getattr(torch, name) for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                                    "uint64") if hasattr(torch, name)}
# [[2, 1], [1, 2]] = U diag(3, 1) U^T: its roots in closed form.
SMALL_INTEGER_MATRIX = np.array([[2, 1], [1, 2]])
_S3 = np.sqrt(3.0)
EXACT_ROOTS = {
    "sqrtm": np.array([[_S3 + 1, _S3 - 1], [_S3 - 1, _S3 + 1]]) / 2,
    "inv_sqrtm": np.array([[1 / _S3 + 1, 1 / _S3 - 1], [1 / _S3 - 1, 1 / _S3 + 1]]) / 2,
}


def _tensor_of_dtype(a, dtype):
    """``a`` as a tensor of ``dtype``, or an uninitialised one where torch cannot convert to it."""
    with warnings.catch_warnings():
        # Quantized tensors are deprecated, complex32 is experimental.
        warnings.simplefilter("ignore")
        if dtype in (torch.qint8, torch.quint8, torch.qint32):
            return torch.quantize_per_tensor(torch.tensor(a, dtype=torch.float32), 1.0, 0, dtype)
        try:
            return torch.tensor(a).to(dtype)
        except (RuntimeError, TypeError):
            # Bit, sub-byte and packed dtypes: no conversion, but a tensor can exist.
            return torch.empty(a.shape, dtype=dtype)


def test_torch_integer_input_is_computed_in_float64_not_truncated():
    Y = mt.sqrtm(torch.tensor([[2, 0], [0, 3]]))
    assert Y.dtype == torch.float64
    np.testing.assert_allclose(Y.numpy(), np.diag(np.sqrt([2.0, 3.0])), rtol=1e-14, atol=1e-15)
    Z = mt.inv_sqrtm(4 * torch.eye(2, dtype=torch.int32))
    assert Z.dtype == torch.float64
    np.testing.assert_allclose(Z.numpy(), np.eye(2) / 2, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("dtype", ALL_TORCH_DTYPES, ids=str)
def test_torch_every_dtype_is_computed_by_the_core_dtype_rules_or_refused(dtype, root):
    f = ROOTS[root][0]
    A = _tensor_of_dtype(SMALL_INTEGER_MATRIX, dtype)
    assert A.dtype == dtype
    if (dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16) or dtype in INTEGER_DTYPES
            or dtype.is_complex):
        Y = f(A)
        expected_dtype = torch.float64 if dtype in INTEGER_DTYPES else dtype
        assert Y.dtype == expected_dtype
        # A few ulps of the dtype: float16, bfloat16 and complex32 are computed
        # in float32 (complex64), and only the final rounding to the dtype is
        # left (an integer dtype truncated the roots to integers).
        real = {torch.complex32: torch.float16, torch.complex64: torch.float32, torch.complex128: torch.float64}
        tol = 4 * torch.finfo(real.get(expected_dtype, expected_dtype)).eps * np.abs(EXACT_ROOTS[root]).max()
        got = Y.to(torch.complex128).numpy() if dtype.is_complex else Y.double().numpy()
        np.testing.assert_allclose(got, EXACT_ROOTS[root], rtol=0, atol=tol)
    elif dtype == torch.bool:
        with pytest.raises(TypeError, match=rf"matsqrt\.torch\.{root}: A must be real or complex floating, or "
                                            r"integer; got dtype torch\.bool"):
            f(A)
    else:
        # float8/float4, sub-byte integers, bit types, quantized integers.
        with pytest.raises(TypeError, match=rf"matsqrt\.torch\.{root}: A has dtype {dtype}, which matsqrt does "
                                            "not compute with"):
            f(A)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_torch_half_precision_gradients_come_back_in_their_dtype(dtype):
    A = tensor(SMALL_INTEGER_MATRIX, dtype=dtype)
    Y = mt.inv_sqrtm(A)
    Y.sum().backward()
    assert A.grad.dtype == dtype
    expected = matsqrt.inv_sqrtm_vjp(SMALL_INTEGER_MATRIX.astype(float), "eigh")[1](np.ones((2, 2)))
    np.testing.assert_allclose(A.grad.double().numpy(), expected, rtol=2 * torch.finfo(dtype).eps, atol=0)


# --- second derivatives (S3) -------------------------------------------------



def corner_squared_gradient(root):
    """dL/dY for L = Y[0, 0]^2."""
    def g_of_root(y):
        g = np.zeros_like(y)
        g[0, 0] = 2 * y[0, 0]
        return g
    return g_of_root


HESSIAN_POINTS = {
    # The reported case: finite differences give entries up to 0.196.
    "symmetric": np.array([[2.0, 0.5], [0.5, 1.0]]),
    "nonsymmetric": nonsymmetric(spectrum=(1.0, 1.5, 2.5)),
}


@pytest.mark.parametrize("method", ["auto", "matmul"])
@pytest.mark.parametrize("point", HESSIAN_POINTS)
@pytest.mark.parametrize("root", ROOTS)
def test_torch_hessian_is_not_zero_but_matches_finite_differences(root, point, method):
    f = ROOTS[root][0]
    a = HESSIAN_POINTS[point]
    H = torch.autograd.functional.hessian(lambda x: f(x, method)[0, 0] ** 2, tensor(a, requires_grad=False))
    expected = central_differences(
        lambda x: exact_gradient(x, corner_squared_gradient(root), inverse=root == "inv_sqrtm"), a)
    assert np.abs(expected).max() > 1e-2
    # Central differences: truncation ~h^2 = 1e-10, rounding ~eps / h = 1e-11.
    np.testing.assert_allclose(H.numpy(), expected, rtol=0, atol=1e-8 * np.abs(expected).max())


@pytest.mark.parametrize("root", ROOTS)
def test_torch_hessian_vector_product_matches_finite_differences(root):
    f = ROOTS[root][0]
    a = HESSIAN_POINTS["symmetric"]
    v = np.array([[0.3, -1.0], [0.7, 0.2]])
    _, hv = torch.autograd.functional.hvp(lambda x: f(x)[0, 0] ** 2, tensor(a, requires_grad=False),
                                          torch.tensor(v))
    expected = np.einsum("ijkl,kl->ij", central_differences(
        lambda x: exact_gradient(x, corner_squared_gradient(root), inverse=root == "inv_sqrtm"), a), v)
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(hv.numpy(), expected, rtol=0, atol=1e-8 * np.abs(expected).max())


@pytest.mark.parametrize("case", ["symmetric", "nonsymmetric"])
@pytest.mark.parametrize("root", ROOTS)
def test_torch_gradgradcheck_passes_float64(root, case):
    f = ROOTS[root][0]
    A = tensor(spd_batch(n=3) if case == "symmetric" else nonsymmetric(spectrum=(1.0, 1.5, 2.5)))
    # Accurate methods that accept the non-symmetric perturbations gradgradcheck makes.
    for method in ("auto", "matmul"):
        assert torch.autograd.gradgradcheck(lambda a, method=method: f(a, method), (A,), **GRADCHECK)


@pytest.mark.parametrize("root", ROOTS)
def test_torch_third_derivatives_pass_gradgradcheck(root):
    # The backward's backward is differentiable too (each level solves one
    # more Lyapunov equation with the same Function).
    f = ROOTS[root][0]
    A = tensor(spd_batch(n=2, batch=()))

    def gradient(a):
        # Not (f(a) ** 2).sum(): for symmetric A that is trace(A), with a constant gradient.
        return torch.autograd.grad((f(a, "matmul") ** 3).sum(), a, create_graph=True)[0]

    hessian = torch.autograd.functional.jacobian(gradient, A)
    assert hessian.abs().max() > 1e-2
    assert torch.autograd.gradgradcheck(gradient, (A,), **GRADCHECK)


def test_torch_double_backward_of_a_sum_gives_the_second_derivative():
    # It used to fail: "element 0 of tensors does not require grad".
    a = HESSIAN_POINTS["symmetric"]
    A = tensor(a)
    (grad,) = torch.autograd.grad(mt.sqrtm(A).sum(), A, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), A)
    expected = central_differences(lambda x: exact_gradient(x, np.ones_like), a).sum(axis=(0, 1))
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(second.numpy(), expected, rtol=0, atol=1e-8 * np.abs(expected).max())


def test_torch_create_graph_keeps_the_first_derivative_and_the_paper_settings():
    # create_graph=True must not change the gradient's value, not even the
    # paper's unconverged eight iterations.
    a = ill_conditioned()
    g = torch.tensor(np.random.default_rng(4).standard_normal(a.shape))
    options = dict(lyapunov_maxiter=8, lyapunov_tol=0)
    A = tensor(a)
    (plain,) = torch.autograd.grad(mt.sqrtm(A, "mpa", **options), A, g)
    (graph,) = torch.autograd.grad(mt.sqrtm(A, "mpa", **options), A, g, create_graph=True)
    assert graph.requires_grad
    np.testing.assert_array_equal(graph.detach().numpy(), plain.numpy())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_torch_low_precision_second_derivatives_match_float64(dtype):
    a = HESSIAN_POINTS["symmetric"]

    def loss(x):
        return mt.sqrtm(x)[0, 0] ** 2

    H64 = torch.autograd.functional.hessian(loss, tensor(a, requires_grad=False))
    H = torch.autograd.functional.hessian(loss, tensor(a, dtype=dtype, requires_grad=False))
    assert H.dtype == dtype
    assert H64.abs().max() > 0.1
    # float16 and bfloat16 are computed in float32 and rounded to the dtype once per derivative level: a few
    # of their eps.  float32 is computed in float32 (eigh, then the Daleckii-Krein weights, then their
    # derivative): the working-precision bound C n eps with n = 2 (measured 4.8 eps on an AMD EPYC, 2026-12-06).
    n = a.shape[-1]
    tol = (4 * n if dtype == torch.float32 else 4) * torch.finfo(dtype).eps * H64.abs().max().item()
    np.testing.assert_allclose(H.double().numpy(), H64.numpy(), rtol=0, atol=tol)


# --- singular matrices (S5) --------------------------------------------------

@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("method", ["auto", "matmul", "mpa"])
def test_torch_backward_at_a_singular_matrix_raises_value_error(method, create_graph):
    # Depends on the core's fix (RootVJP raising ValueError at numerically
    # singular A, where the derivative is infinite); "matmul" returned a finite
    # 6.7e7 and "mpa" raised ConvergenceError before it.
    A = tensor(np.diag([1.0, 0.0]))
    Y = mt.sqrtm(A, method)
    with pytest.raises(ValueError, match="singular"):
        torch.autograd.grad(Y.sum(), A, create_graph=create_graph)
