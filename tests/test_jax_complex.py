"""matsqrt.jax on complex and general matrices: values against SciPy, check_grads (JAX's convention), fidelity."""

import numpy as np
import pytest
import scipy.linalg

import matsqrt

from helpers import general_complex, hermitian_pd, jax_x64, real_with_negative_eigenvalue  # noqa: F401 (jax_x64: autouse)

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
mj = pytest.importorskip("matsqrt.jax")
from jax.test_util import check_grads  # noqa: E402  (after the importorskip above)

ROOTS = {"sqrtm": mj.sqrtm, "inv_sqrtm": mj.inv_sqrtm}
# The forwards below are accurate to rounding (float64): central differences at eps = 1e-6 are good to
# about 1e-10, far below check_grads' float64 tolerances (1e-5), which a wrong transpose misses by O(1).
FIRST = dict(order=1, modes=["fwd", "rev"], eps=1e-6)
SECOND = dict(order=2, modes=["fwd", "rev"], eps=1e-5)
COMPLEX_ROOTS = matsqrt.Eigh(negative="complex")



CASES = {"general": general_complex, "hermitian": hermitian_pd, "real-negative": real_with_negative_eigenvalue}


def reference(a, root):
    y = scipy.linalg.sqrtm(a)
    return y if root == "sqrtm" else np.linalg.inv(y)


def hermitian(x):
    return (x + jnp.conj(jnp.swapaxes(x, -1, -2))) / 2


@pytest.mark.parametrize("method", ["auto", "db"])
@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("case", CASES)
def test_eager_complex_and_general_values_equal_scipy(case, root, method):
    a = CASES[case]()
    y = ROOTS[root](jnp.asarray(a), method)
    assert y.dtype == jnp.complex128
    np.testing.assert_allclose(np.asarray(y), reference(a, root), rtol=0, atol=2e-14)


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("case", CASES)
def test_eager_check_grads_first_order_complex_and_general(case, root):
    # Reverse mode is the transpose of the jvp's Lyapunov solve (Y^T X + X Y^T = C, no conjugation, and
    # Newton's iteration with the spectrum turned off the imaginary axis for general roots).
    check_grads(lambda a: ROOTS[root](a, "auto"), (jnp.asarray(CASES[case]()),), **FIRST)


@pytest.mark.parametrize("case", ["general", "real-negative"])
def test_eager_check_grads_second_order_general(case):
    check_grads(lambda a: mj.sqrtm(a, "db"), (jnp.asarray(CASES[case]()),), **SECOND)


@pytest.mark.parametrize("method", ["eigh", COMPLEX_ROOTS, matsqrt.MPA(degree=12)], ids=["eigh", "eigh-complex", "mpa"])
@pytest.mark.parametrize("root", ROOTS)
def test_jit_complex_hermitian_values_and_check_grads(root, method):
    # check_grads perturbs in arbitrary complex directions: the function of A's Hermitian part.
    f = jax.jit(lambda a: ROOTS[root](hermitian(a), method))
    a = jnp.asarray(hermitian_pd())
    y = f(a)
    assert y.dtype == jnp.complex128
    # Padé degree 12 at condition number ~5: ~5e-11 (measured); eigh to rounding.
    atol = 1e-9 if isinstance(method, matsqrt.MPA) else 1e-14
    np.testing.assert_allclose(np.asarray(y), reference(hermitian_pd(), root), rtol=0, atol=atol)
    check_grads(f, (a,), **(SECOND if method == "eigh" else FIRST))


def test_jit_complex_roots_of_an_indefinite_matrix_with_gradients():
    q = np.linalg.qr(np.random.default_rng(3).standard_normal((3, 3)))[0]
    a = q @ np.diag([-1.0, 2.0, 3.0]) @ q.T
    f = jax.jit(lambda x: mj.sqrtm(hermitian(x), COMPLEX_ROOTS))
    y = f(jnp.asarray(a))
    # Complex for real input under jit (the dtype cannot depend on the values there).
    assert y.dtype == jnp.complex128
    np.testing.assert_allclose(np.asarray(y), scipy.linalg.sqrtm(a), rtol=0, atol=1e-14)
    check_grads(f, (jnp.asarray(a),), **SECOND)
    # The default eigh refuses it, eagerly and under jit.
    with pytest.raises(ValueError, match="negative eigenvalue.*Eigh\\(negative='complex'\\)"):
        mj.sqrtm(jnp.asarray(a), "eigh")
    assert np.isnan(np.asarray(jax.jit(lambda x: mj.sqrtm(x, "eigh"))(jnp.asarray(a)))).all()


def test_real_input_gradient_with_a_complex_root_is_real_and_transposes_the_jvp():
    a = jnp.asarray(real_with_negative_eigenvalue())
    g = jnp.asarray(general_complex(seed=4))
    e = jnp.asarray(np.random.default_rng(5).standard_normal((3, 3)))
    y, dy = jax.jvp(lambda x: mj.sqrtm(x, "auto"), (a,), (e,))
    assert y.dtype == dy.dtype == jnp.complex128
    _, vjp = jax.vjp(lambda x: mj.sqrtm(x, "auto"), a)
    (ga,) = vjp(g)
    assert ga.dtype == jnp.float64
    # JAX's convention: <ct, J e> = <J^T ct, e> with the bilinear pairing sum(a * b), real part for real input.
    np.testing.assert_allclose(float(jnp.sum(g * dy).real), float(jnp.sum(ga * e)), rtol=1e-12)


def test_complex_dtypes_are_kept_and_bool_still_refused():
    a = general_complex(seed=6)
    y = mj.sqrtm(jnp.asarray(a, dtype=jnp.complex64), "db")
    assert y.dtype == jnp.complex64
    np.testing.assert_allclose(np.asarray(y), scipy.linalg.sqrtm(a), rtol=0, atol=1e-5)
    with pytest.raises(TypeError, match="must be real or complex floating, or integer; got dtype bool"):
        mj.sqrtm(jnp.eye(2, dtype=bool))


# --- quantum fidelity F(rho, sigma) = (tr sqrt(sqrt(rho) sigma sqrt(rho)))^2 under jit ----------------------

def density_matrix(rng, n, rank):
    x = rng.standard_normal((n, rank)) + 1j * rng.standard_normal((n, rank))
    rho = x @ x.conj().T
    return rho / np.trace(rho).real


@jax.jit
def fidelity(rho, sigma):
    # Eigh(negative="complex"): a rank-deficient product's zero eigenvalues come out of eigh as +-eps, which
    # the default "eigh" refuses below -n eps max|lambda| (NaN); their complex roots are as small as their
    # real ones.  The product of Hermitian matrices is Hermitian only to the rounding of its factors: made so.
    r = mj.sqrtm(rho, COMPLEX_ROOTS)
    m = r @ sigma @ r
    return jnp.abs(jnp.trace(mj.sqrtm(hermitian(m), COMPLEX_ROOTS))) ** 2


def fidelity_reference(rho, sigma):
    r = scipy.linalg.sqrtm(rho)
    return np.trace(scipy.linalg.sqrtm(r @ sigma @ r)).real ** 2


def test_fidelity_of_mixed_states_under_jit_equals_scipy_with_gradients():
    rng = np.random.default_rng(10)
    for _ in range(5):
        rho, sigma = density_matrix(rng, 4, 4), density_matrix(rng, 4, 4)
        np.testing.assert_allclose(float(fidelity(rho, sigma)), fidelity_reference(rho, sigma), rtol=1e-12)
    # Gradients at full-rank states: of the Hermitian parametrisation, in both arguments.
    check_grads(lambda x, s: fidelity(hermitian(x), hermitian(s)), (jnp.asarray(rho), jnp.asarray(sigma)),
                **FIRST)


def test_fidelity_of_pure_states_under_jit_is_the_squared_overlap():
    rng = np.random.default_rng(11)
    for _ in range(20):
        psi, phi = (v / np.linalg.norm(v) for v in rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4)))
        rho, sigma = np.outer(psi, psi.conj()), np.outer(phi, phi.conj())
        # The root of a rank-deficient matrix is sensitive as sqrt(eps) there: 1e-8 (measured: 2e-8 at most).
        assert abs(float(fidelity(rho, sigma)) - abs(np.vdot(psi, phi)) ** 2) < 1e-7
        # A pure and a mixed state: <psi| sigma |psi>.
        mixed = density_matrix(rng, 4, 4)
        assert abs(float(fidelity(rho, mixed)) - np.vdot(psi, mixed @ psi).real) < 1e-7
    # At a rank-deficient matrix the root's derivative is infinite: NaN under jit, not a finite wrong number.
    grad = jax.jit(jax.grad(fidelity, argnums=1))(rho, mixed)
    assert np.isnan(np.asarray(grad)).all()
