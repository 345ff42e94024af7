"""matsqrt.torch under torch.func (vmap, grad, jacrev, jacfwd, jvp, hessian), against torch.autograd."""

import numpy as np
import pytest

import matsqrt

from helpers import central_differences, exact_gradient

torch = pytest.importorskip("torch")
mt = pytest.importorskip("matsqrt.torch")
from torch.func import grad, hessian, jacfwd, jacrev, jvp, vmap  # noqa: E402  (after the importorskip above)

ROOTS = {"sqrtm": mt.sqrtm, "inv_sqrtm": mt.inv_sqrtm}
CORE = {"sqrtm": (matsqrt.sqrtm, matsqrt.sqrtm_vjp), "inv_sqrtm": (matsqrt.inv_sqrtm, matsqrt.inv_sqrtm_vjp)}


def spd_batch(seed=0, batch=(3,), n=4):
    x = np.random.default_rng(seed).standard_normal((*batch, n, 2 * n))
    return torch.tensor(x @ np.swapaxes(x, -1, -2) / (2 * n) + np.eye(n))


def nonsymmetric(seed=7, spectrum=(1.0, 1.3, 1.7, 2.0)):
    n = len(spectrum)
    v = np.eye(n) + 0.2 * np.random.default_rng(seed).standard_normal((n, n))
    return torch.tensor((v * np.array(spectrum)) @ np.linalg.inv(v))


POINTS = {"symmetric": lambda: spd_batch(batch=())[...], "nonsymmetric": nonsymmetric}
# Settings whose derivatives differ visibly (the paper's unconverged eight Lyapunov
# iterations, an inaccurate degree-5 forward): transforms must reproduce them, not a converged value.
SETTINGS = {"default": {}, "paper": dict(method="mpa", lyapunov_maxiter=8, lyapunov_tol=0), "matmul": dict(
    method="matmul")}


def cubic_loss(f, **options):
    # Not sum(f(a)^2): for symmetric A that is trace(A), whose gradient is constant.
    return lambda a: (f(a, **options) ** 3).sum()


def autograd_gradient(loss, a):
    a = a.clone().requires_grad_()
    return torch.autograd.grad(loss(a), a)[0]


@pytest.mark.parametrize("root", ROOTS)
def test_vmap_equals_the_batched_call(root):
    f = ROOTS[root]
    a = spd_batch(batch=(3, 2))
    np.testing.assert_array_equal(vmap(f)(a).numpy(), f(a).numpy())
    # Another axis, nested vmaps, keywords through a closure.
    moved = a.movedim(0, 2)  # (2, 4, 3, 4): the vmapped axis is axis 2
    np.testing.assert_array_equal(vmap(f, in_dims=2)(moved).numpy(), f(a).numpy())
    np.testing.assert_array_equal(vmap(vmap(lambda x: f(x, "mpa", degree=7)))(a).numpy(),
                                  f(a, "mpa", degree=7).numpy())


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("root", ROOTS)
def test_grad_and_vmap_of_grad_equal_autograd(root, settings):
    loss = cubic_loss(ROOTS[root], **SETTINGS[settings])
    a = spd_batch()
    expected = autograd_gradient(loss, a)
    np.testing.assert_array_equal(grad(loss)(a).numpy(), expected.numpy())
    # Per-sample gradients: each matrix's gradient is that of the batched loss.
    np.testing.assert_allclose(vmap(grad(loss))(a).numpy(), expected.numpy(), rtol=0,
                               atol=1e-13 * expected.abs().max().item())


# (the paper's series are defined for symmetric input only, and refuse the other)
@pytest.mark.parametrize("point, settings", [(p, s) for p in POINTS for s in SETTINGS
                                             if not (p == "nonsymmetric" and s == "paper")])
@pytest.mark.parametrize("root", ROOTS)
def test_jacrev_and_jacfwd_equal_the_autograd_jacobian(root, point, settings):
    options = SETTINGS[settings]
    a = POINTS[point]()

    def f(x):
        return ROOTS[root](x, **options)

    expected = torch.autograd.functional.jacobian(f, a)
    assert expected.abs().max() > 0.1
    np.testing.assert_allclose(jacrev(f)(a).numpy(), expected.numpy(), rtol=0, atol=1e-14)
    # Forward mode solves the transposed equation with the same solver: the same Jacobian,
    # even for the paper's unconverged eight iterations.
    np.testing.assert_allclose(jacfwd(f)(a).numpy(), expected.numpy(), rtol=0,
                               atol=1e-12 * expected.abs().max().item())
    t = torch.tensor(np.random.default_rng(3).standard_normal(a.shape))
    value, tangent = jvp(f, (a,), (t,))
    np.testing.assert_array_equal(value.numpy(), f(a).numpy())
    np.testing.assert_allclose(tangent.numpy(), torch.einsum("ijkl,kl->ij", expected, t).numpy(), rtol=0,
                               atol=1e-12 * expected.abs().max().item())


def test_the_paper_settings_reach_the_derivatives_of_every_transform():
    # Eight iterations differ visibly from the converged derivative here, so the
    # equalities above show the settings were used, not a converged solve.
    q = np.linalg.qr(np.random.default_rng(9).standard_normal((6, 6)))[0]
    a = torch.tensor((q * np.logspace(0, -4, 6)) @ q.T)
    paper = jacrev(lambda x: mt.sqrtm(x, "mpa", lyapunov_maxiter=8, lyapunov_tol=0))(a)
    converged = jacrev(lambda x: mt.sqrtm(x, "mpa"))(a)
    assert (paper - converged).abs().max() > 1e-3 * converged.abs().max()
    np.testing.assert_allclose(jacfwd(lambda x: mt.sqrtm(x, "mpa", lyapunov_maxiter=8, lyapunov_tol=0))(a).numpy(),
                               paper.numpy(), rtol=0, atol=1e-12 * paper.abs().max().item())


@pytest.mark.parametrize("root", ROOTS)
def test_jvp_solves_the_forward_equation(root):
    # Y dY + dY Y = dA (square root); Z dZ + dZ Z = -Z^2 dA Z^2 (inverse root): checked directly.
    a = nonsymmetric()
    t = torch.tensor(np.random.default_rng(4).standard_normal(a.shape))
    y, dy = jvp(ROOTS[root], (a,), (t,))
    rhs = t if root == "sqrtm" else -(y @ y @ t @ y @ y)
    np.testing.assert_allclose((y @ dy + dy @ y).numpy(), rhs.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("root", ROOTS)
def test_hessian_equals_autograd_and_finite_differences(root, point):
    f = ROOTS[root]
    a = POINTS[point]()[:3, :3] if point == "symmetric" else nonsymmetric(spectrum=(1.0, 1.5, 2.5))

    def loss(x):
        return f(x)[0, 0] ** 2

    expected = torch.autograd.functional.hessian(loss, a)

    def g_of_root(y):
        g = np.zeros_like(y)
        g[0, 0] = 2 * y[0, 0]
        return g

    fd = central_differences(lambda x: exact_gradient(x, g_of_root, inverse=root == "inv_sqrtm"), a.numpy())
    assert np.abs(fd).max() > 1e-2
    np.testing.assert_allclose(expected.numpy(), fd, rtol=0, atol=1e-8 * np.abs(fd).max())
    for h in (hessian(loss)(a), jacrev(jacrev(loss))(a)):
        np.testing.assert_allclose(h.numpy(), expected.numpy(), rtol=0, atol=1e-12 * expected.abs().max().item())


@pytest.mark.parametrize("batch, n", [(2, 3), (4, 2)], ids=["2x3x3", "4x2x2"])
@pytest.mark.parametrize("root", ROOTS)
def test_per_sample_jacobians(root, batch, n):
    # 4 x 2 x 2: as many matrices as Jacobian rows, so that pairing the wrong ones would go unnoticed
    # by the shapes.
    f = ROOTS[root]
    a = spd_batch(batch=(batch,), n=n)
    for jacobian in (jacrev, jacfwd):
        jacobians = vmap(jacobian(f))(a)
        for i in range(batch):
            np.testing.assert_allclose(jacobians[i].numpy(), torch.autograd.functional.jacobian(f, a[i]).numpy(),
                                       rtol=0, atol=1e-13)


@pytest.mark.parametrize("root", ROOTS)
def test_forward_mode_of_torch_autograd(root):
    import torch.autograd.forward_ad as fwAD

    f = ROOTS[root]
    a = spd_batch()
    t = torch.tensor(np.random.default_rng(6).standard_normal(a.shape))
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(f(fwAD.make_dual(a, t))).tangent
    np.testing.assert_allclose(tangent.numpy(), jvp(f, (a,), (t,))[1].numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("transform", ["vmap-grad", "grad", "jacrev", "jacfwd"])
def test_errors_are_raised_under_the_transforms_too(transform):
    # A singular A has no derivative: ValueError, as from backward(), never a NaN or a finite value.
    singular = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)

    def loss(x):
        return mt.sqrtm(x, "mpa").sum()

    run = {"vmap-grad": lambda: vmap(grad(loss))(singular[None]), "grad": lambda: grad(loss)(singular),
           "jacrev": lambda: jacrev(lambda x: mt.sqrtm(x, "mpa"))(singular),
           "jacfwd": lambda: jacfwd(lambda x: mt.sqrtm(x, "mpa"))(singular)}[transform]
    with pytest.raises(ValueError, match="singular"):
        run()
    with pytest.raises(ValueError, match="NaN or infinity"):
        vmap(mt.sqrtm)(torch.full((2, 2, 2), float("nan"), dtype=torch.float64))


# --- the core's keywords -----------------------------------------------------

@pytest.mark.parametrize("options", [
    dict(method="matmul", tol=1e-6, maxiter=30),
    dict(method="mpa", degree=7, scale="spectral"),
    dict(method="ns", maxiter=6, tol=0),
    dict(method=matsqrt.MPA(degree=9), scale="spectral"),
], ids=["matmul-tol", "mpa-spectral", "ns-fixed", "config-with-scale"])
@pytest.mark.parametrize("root", ROOTS)
def test_every_core_keyword_passes_through(root, options):
    # The reference is the core on the same tensors (its iterations check convergence every
    # fourth step on PyTorch, every step on NumPy, so the stopping points differ there).
    f = ROOTS[root]
    core, core_vjp = CORE[root]
    a = spd_batch()
    y = core(a, **options)
    # Each setting changes the value (if only in the last digits), so bitwise equality shows it arrived.
    plain = options["method"] if isinstance(options["method"], str) else "mpa"
    assert not torch.equal(y, core(a, plain))
    g = torch.tensor(np.random.default_rng(5).standard_normal(a.shape))
    A = a.clone().requires_grad_()
    Y = f(A, **options)
    Y.backward(g)
    np.testing.assert_array_equal(Y.detach().numpy(), y.numpy())
    np.testing.assert_array_equal(A.grad.numpy(), core_vjp(a, **options)[1](g).numpy())


@pytest.mark.parametrize("root", ROOTS)
def test_return_info_is_the_core_info(root):
    f = ROOTS[root]
    core = CORE[root][0]
    a = spd_batch()
    y, info = f(a, "matmul", return_info=True)
    y_ref, info_ref = core(a, "matmul", return_info=True)
    assert isinstance(info, matsqrt.ConvergenceInfo) and info.converged and info.iterations > 3
    assert (info.iterations, info.converged, info.tol) == (info_ref.iterations, info_ref.converged, info_ref.tol)
    assert 0 < info.residual < 1e-14 and info.residual == pytest.approx(info_ref.residual, rel=1e-6)
    np.testing.assert_array_equal(y.numpy(), y_ref.numpy())
    assert isinstance(f(a, "matmul"), torch.Tensor)


def test_a_setting_the_method_does_not_have_is_refused():
    with pytest.raises(ValueError, match="has no setting degree"):
        mt.sqrtm(spd_batch(), "eigh", degree=3)
    with pytest.raises(ValueError, match="has no setting scale"):
        mt.inv_sqrtm(spd_batch(), "matmul", scale="fro")
