"""matsqrt.torch on complex and general matrices: values against SciPy, PyTorch's complex gradient convention."""

import warnings

import numpy as np
import pytest
import scipy.linalg

from helpers import general_complex, hermitian_pd, real_with_negative_eigenvalue

torch = pytest.importorskip("torch")
mt = pytest.importorskip("matsqrt.torch")

ROOTS = {"sqrtm": mt.sqrtm, "inv_sqrtm": mt.inv_sqrtm}
# Central differences of the exact (float64, accurate to rounding) roots: truncation ~eps^2 = 1e-12,
# rounding ~1e-16 / eps = 1e-10; far below gradcheck's defaults (atol 1e-5, rtol 1e-3).
GRADCHECK = dict(eps=1e-6, atol=1e-7, rtol=1e-6)
GRADGRADCHECK = dict(eps=1e-6, atol=1e-6, rtol=1e-5)


CASES = {"general": general_complex, "hermitian": hermitian_pd, "real-negative": real_with_negative_eigenvalue}


def reference(a, root):
    y = scipy.linalg.sqrtm(a)
    return y if root == "sqrtm" else np.linalg.inv(y)


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("case", CASES)
def test_complex_and_general_values_equal_scipy(case, root):
    a = CASES[case]()
    Y = ROOTS[root](torch.tensor(a))
    assert Y.dtype == torch.complex128
    np.testing.assert_allclose(Y.numpy(), reference(a, root), rtol=0, atol=1e-13)


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("case", CASES)
def test_gradcheck_complex_and_general_reverse_and_forward_mode(case, root):
    A = torch.tensor(CASES[case](), requires_grad=True)
    assert torch.autograd.gradcheck(ROOTS[root], (A,), check_forward_ad=True, **GRADCHECK)


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("case", ["general", "real-negative"])
def test_gradgradcheck_complex_and_general(case, root):
    # The second derivatives solve Lyapunov equations with matsqrt.solve_lyapunov, with the complex root's
    # spectrum (on the imaginary axis for a negative eigenvalue) turned into the right half-plane.
    A = torch.tensor(CASES[case](), requires_grad=True)
    assert torch.autograd.gradgradcheck(ROOTS[root], (A,), **GRADGRADCHECK)


def test_gradient_of_a_real_input_with_a_complex_root_is_real_and_is_the_real_loss_gradient():
    a = real_with_negative_eigenvalue()
    A = torch.tensor(a, requires_grad=True)
    Y = mt.sqrtm(A)
    assert Y.dtype == torch.complex128
    w = torch.tensor(general_complex(seed=5))
    loss = (w.conj() * Y).sum().real
    loss.backward()
    assert A.grad.dtype == torch.float64
    # The same loss by central differences of SciPy's root, entry by entry.
    expected = np.zeros_like(a)
    h = 1e-6
    for i in range(3):
        for j in range(3):
            e = np.zeros_like(a)
            e[i, j] = h
            diff = scipy.linalg.sqrtm(a + e) - scipy.linalg.sqrtm(a - e)
            expected[i, j] = np.sum(w.numpy().conj() * diff).real / (2 * h)
    np.testing.assert_allclose(A.grad.numpy(), expected, rtol=0, atol=1e-8)


def test_complex_gradient_follows_pytorch_convention_against_finite_differences_of_both_parts():
    # grad = dL/dRe(A) + i dL/dIm(A) for the real loss L = Re sum(conj(W) * Y).
    a = general_complex(seed=3)
    w = general_complex(seed=4)
    A = torch.tensor(a, requires_grad=True)
    (torch.tensor(w).conj() * mt.sqrtm(A)).sum().real.backward()

    def loss(x):
        return np.sum(w.conj() * scipy.linalg.sqrtm(x)).real

    h = 1e-6
    expected = np.zeros_like(a)
    for i in range(3):
        for j in range(3):
            e = np.zeros_like(a)
            e[i, j] = h
            expected[i, j] = ((loss(a + e) - loss(a - e)) + 1j * (loss(a + 1j * e) - loss(a - 1j * e))) / (2 * h)
    np.testing.assert_allclose(A.grad.numpy(), expected, rtol=0, atol=1e-8)


def test_forward_and_reverse_mode_are_adjoint_in_the_real_inner_product():
    a = torch.tensor(general_complex(batch=(2,)))
    rng = np.random.default_rng(8)
    e = torch.tensor(rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3)))
    g = torch.tensor(rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3)))
    _, dy = torch.func.jvp(mt.sqrtm, (a,), (e,))
    _, vjp = torch.func.vjp(mt.sqrtm, a)
    (ga,) = vjp(g)
    lhs = torch.vdot(g.flatten(), dy.flatten()).real
    rhs = torch.vdot(ga.flatten(), e.flatten()).real
    assert abs(float(lhs - rhs)) < 1e-12 * float(g.abs().sum() * dy.abs().sum())
    # vmap over a complex batch: the core's batching.
    Y = torch.func.vmap(mt.sqrtm)(a)
    torch.testing.assert_close(Y @ Y, a, rtol=0, atol=1e-13)


@pytest.mark.parametrize("dtype", [torch.complex32, torch.complex64])
def test_complex_dtypes_are_kept_and_complex32_computed_in_complex64(dtype):
    a = general_complex(seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complex32 is experimental in PyTorch
        A = torch.tensor(a).to(dtype)
        Y = mt.sqrtm(A)
        assert Y.dtype == dtype
        got = Y.to(torch.complex128).numpy()
    eps = float(torch.finfo(torch.float16 if dtype == torch.complex32 else torch.float32).eps)
    # The input's own rounding to the dtype, then a few ulps.
    exact = scipy.linalg.sqrtm(A.to(torch.complex128).numpy())
    np.testing.assert_allclose(got, exact, rtol=0, atol=8 * eps * np.abs(exact).max())


@pytest.mark.parametrize("dtype, expected", [(torch.float16, torch.complex64), (torch.float32, torch.complex64),
                                             (torch.int64, torch.complex128), (torch.float64, torch.complex128)])
def test_a_complex_root_of_real_input_is_returned_complex_never_cast_to_real(dtype, expected):
    A = torch.diag(torch.tensor([-4, 1, 9])).to(dtype)
    Y = mt.sqrtm(A)
    assert Y.dtype == expected
    np.testing.assert_allclose(Y.diagonal().to(torch.complex128).numpy(), [2j, 1, 3], rtol=0, atol=1e-6)


def test_compiled_complex_root_equals_eager_and_real_input_with_complex_root_raises():
    a = torch.tensor(general_complex(batch=(2,)))
    f = torch.compile(mt.sqrtm, fullgraph=True)
    A = a.clone().requires_grad_()
    f(A).abs().sum().backward()
    B = a.clone().requires_grad_()
    mt.sqrtm(B).abs().sum().backward()
    torch.testing.assert_close(A.grad, B.grad, rtol=0, atol=1e-13)
    # The graph's result dtype is fixed by A's before the values exist: refused, not cast to real.
    with pytest.raises(ValueError, match="A is real but its principal square root is complex"):
        torch.compile(mt.sqrtm)(torch.tensor(real_with_negative_eigenvalue()))
