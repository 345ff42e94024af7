"""Method settings as small frozen configs, with strings as shortcuts.

Every config computes ``A^(+-1/2)`` of a validated batch in its working dtype
and returns a :class:`Root`: the value, its :class:`ConvergenceInfo` and a
``backward(G, maxiter, tol)`` closure for the vector-Jacobian product.
``forward(a, power, xp, symmetric, check)`` receives the input class decided
once at the boundary (:mod:`matsqrt._classify`: ``symmetric`` is ``True``,
``False``, or ``None`` when it was not classified) and whether checks that
cost a host synchronisation are wanted (``check``, the public
``check_finite``).  Symmetric batches arrive as their exact symmetric part.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from array_api_compat import array_namespace, is_cupy_namespace, is_numpy_namespace, is_torch_namespace
from array_api_compat import device as array_device

from ._classify import complex_dtype, conj_transpose, hermitian_flags, is_complex, real_dtype
from ._errors import ConvergenceInfo
from ._residual import square_residual, wider_dtype
from ._scaling import frobenius_norm, spectral_bound
from ._validate import batch_indices
from .denman_beavers import denman_beavers
from .eigh import daleckii_krein, eigh_root, hermitian_part
from .lyapunov import (
    check_settings,
    diverged,
    newton_sign_iteration,
    quarter_turn,
    raise_if_not_converged,
    replayed_sign_iteration,
    sign_iteration,
)
from .newton_schulz import (
    coupled_newton_schulz,
    nan_where,
    not_converged_to_nan,
    shifted_roots,
    smallest_eigenvalue_estimate,
)
from .pade import mpa_root
from .schedule import schedule
from .singular import DefectiveError
from .taylor import mtp_root

__all__ = ["MTP", "MPA", "Eigh", "NS", "Matmul", "DB", "Schur", "Auto", "METHODS", "Method", "Root", "configure",
           "positive_definite", "series_domain", "raise_outside_series_domain", "NegativeEigenvalueError"]

_SCALES = ("fro", "spectral")
Backward = Callable[[Any, "int | None", "float | None"], "tuple[Any, ConvergenceInfo]"]


@dataclass(frozen=True)
class Root:
    """A computed root: ``value`` in the working dtype, its ``info``, its ``backward``."""

    value: Any
    info: ConvergenceInfo
    backward: Backward


_EXACT = ConvergenceInfo(0, math.nan, True, 0.0)


def _scale(a: Any, kind: str, xp: Any) -> Any:
    return frobenius_norm(a, xp) if kind == "fro" else spectral_bound(a, xp)


def _solve(xp, a, b0, c0, maxiter, tol, lower=None, general=False, steps=()):
    """The Lyapunov solve of a backward: product-only for Hermitian input, Newton's for general input."""
    maxiter, tol = check_settings(xp, a.dtype, maxiter, tol)
    if is_complex(b0, xp) and not is_complex(c0, xp):
        c0 = xp.astype(c0, b0.dtype)
    if general:
        grad, info = newton_sign_iteration(b0, c0, xp, maxiter=maxiter, tol=tol)
        if not info.converged:
            _raise_if_singular_root(a, xp)
            turn = quarter_turn(b0, xp)
            if turn is not None:
                grad, info = newton_sign_iteration(b0 * turn, c0 * turn, xp, maxiter=maxiter, tol=tol)
    else:
        grad, info = sign_iteration(b0, c0, xp, maxiter=maxiter, tol=tol, lower=lower, steps=steps)
    raise_if_not_converged(info, "vjp", "the root must be nonsingular with its spectrum in the right half-plane")
    return grad, info


def _raise_if_singular_root(y: Any, xp: Any) -> None:
    """:class:`ValueError` for the matrices whose root ``y`` is numerically singular (condition number above
    ``1 / (n eps)``), where the square root has no derivative (error path: a host computation)."""
    import numpy as np

    from ._validate import _to_host

    host = np.asarray(_to_host(y))
    n = host.shape[-1]
    eps = float(np.finfo(host.dtype).eps)
    with np.errstate(all="ignore"):
        sv = np.linalg.svd(host, compute_uv=False)
    bad = ~(sv[..., -1] > n * eps * sv[..., 0])
    if np.any(bad):
        raise ValueError(f"A is singular or numerically singular{batch_indices(bad, tuple(y.shape[:-2]))}: the "
                         "matrix square root has no derivative there")


def positive_definite(m: Any, xp: Any) -> Any:
    """Per matrix, whether a Cholesky factorisation of symmetric ``m`` succeeds (no host synchronisation
    where the library reports failure as NaN; NumPy and PyTorch raise for the batch, and then the
    matrices are factorised one at a time to find which)."""
    try:
        return xp.all(xp.isfinite(xp.linalg.cholesky(m)), axis=(-2, -1))
    except Exception:  # LinAlgError (NumPy), RuntimeError (PyTorch): some matrix is not positive definite
        flat = xp.reshape(m, (-1, *m.shape[-2:]))
        flags = []
        for i in range(flat.shape[0]):
            try:
                flags.append(bool(xp.all(xp.isfinite(xp.linalg.cholesky(flat[i, ...])))))
            except Exception:
                flags.append(False)
        return xp.reshape(xp.asarray(flags, device=array_device(m)), m.shape[:-2])


def _shifted_identity(a: Any, xp: Any, factor: float) -> Any:
    """``A + factor n eps ||A||_F I`` (the zero matrix is shifted by ``factor n eps``)."""
    n = a.shape[-1]
    eps = float(xp.finfo(a.dtype).eps)
    eye = xp.eye(n, dtype=a.dtype, device=array_device(a))
    norm = frobenius_norm(a, xp)
    return a + (factor * n * eps) * xp.where(norm > 0, norm, xp.ones_like(norm)) * eye


def _raise_if(flags: Any, message: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error(message + batch indices)`` if any flag is set (one host synchronisation)."""
    if bool(array_namespace(flags).any(flags)):
        raise error(message.format(where=batch_indices(flags, tuple(flags.shape))))


def _not_singular(a: Any, xp: Any) -> None:
    """:class:`ValueError` for numerically singular symmetric ``a`` (smallest eigenvalue below about
    ``n eps ||A||_F``), where the square root has no derivative (one Cholesky, one host sync)."""
    _raise_if(~positive_definite(_shifted_identity(a, xp, -1.0), xp),
              "A is singular or numerically singular{where} (smallest eigenvalue below n eps ||A||_F): "
              "the matrix square root has no derivative there")


def _paper_backward(xp: Any, a: Any, value: Any, s: Any, power: Fraction, check_singular: bool) -> Backward:
    """The paper's Lyapunov backward: B_0 = Y^T / sqrt(s), or Z^T / ||Z||_F for the inverse."""
    safe = xp.where(s > 0, s, xp.ones_like(s))

    def backward(g, maxiter, tol):
        if check_singular:
            _not_singular(a, xp)
        vt = conj_transpose(value, xp)
        if power > 0:
            root_s = xp.sqrt(safe)
            return _solve(xp, value, vt / root_s, g / root_s, maxiter, tol)
        z_norm = frobenius_norm(value, xp)
        a_inv_t = conj_transpose(value @ value, xp)
        return _solve(xp, value, vt / z_norm, -(a_inv_t @ g @ a_inv_t) / z_norm, maxiter, tol)

    return backward


def _check_scale(scale: str) -> None:
    if scale not in _SCALES:
        raise ValueError(f"scale must be one of {_SCALES}; got {scale!r}")


def _check_degree(name: str, degree: Any) -> None:
    # The caps and their reasons: matsqrt/_coefficients.py.  Checked here, before any coefficient is built.
    from ._coefficients import MPA_MAX_DEGREE, MTP_MAX_DEGREE

    cap = {"MPA": MPA_MAX_DEGREE, "MTP": MTP_MAX_DEGREE}.get(name, MPA_MAX_DEGREE)
    if isinstance(degree, bool) or int(degree) != degree or not 1 <= degree <= cap:
        raise ValueError(f"{name} degree must be an integer in [1, {cap}]; got {degree!r}")


def _check_iteration(tol: Any, maxiter: Any) -> None:
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, int | float)
                            or not (math.isfinite(tol) and tol >= 0)):
        raise ValueError(f"tol must be a finite non-negative number; got {tol!r}")
    if isinstance(maxiter, bool) or not isinstance(maxiter, int | float) or int(maxiter) != maxiter or maxiter < 1:
        raise ValueError(f"maxiter must be a positive integer; got {maxiter!r}")


def series_domain(a: Any, xp: Any) -> Any:
    """Per matrix: inside the domain of the paper's series, symmetric positive semi-definite to rounding.

    Symmetric to rounding (:func:`matsqrt._classify.hermitian_flags`) and a
    Cholesky factorisation of ``A + n eps ||A||_F I`` succeeds (no eigenvalue
    below about ``-n eps ||A||_F``, the band eigh reads as zero).  Outside
    it the series return a plausible-looking matrix that is no square root
    of ``A``.  Computed inside the boundary's one host synchronisation
    (:func:`matsqrt._validate.prepare`).
    """
    return hermitian_flags(a, xp) & positive_definite(_shifted_identity(hermitian_part(a, xp), xp, 1.0), xp)


def raise_outside_series_domain(a: Any, xp: Any, name: str) -> None:
    """The :class:`ValueError` for input outside :func:`series_domain`, naming the matrices (error path)."""
    batch = tuple(a.shape[:-2])
    asymmetric = ~hermitian_flags(a, xp)
    if bool(xp.any(asymmetric)):
        raise ValueError(f"method {name!r} is defined for Hermitian (real: symmetric) positive semi-definite "
                         f"input only; A is not Hermitian{batch_indices(asymmetric, batch)}: use method='auto' or "
                         "'db'")
    raise ValueError(f"A has a negative eigenvalue{batch_indices(~series_domain(a, xp), batch)}: it is not "
                     f"positive semi-definite, outside the domain of method {name!r} (its principal square "
                     "root is not real)")


@dataclass(frozen=True)
class MTP:
    """Matrix Taylor polynomial of degree ``degree`` (the paper's: 10).

    ``degree - 1`` matrix products.  ``scale="fro"`` (the paper's) divides by
    ``||A||_F``; ``"spectral"`` by a tighter bound on the largest eigenvalue
    (two more products), which makes the series converge faster.  Domain:
    symmetric positive semi-definite input (other input raises
    :class:`ValueError` with ``check_finite``: :func:`series_domain`).
    """

    degree: int = 10
    scale: str = "fro"

    def __post_init__(self) -> None:
        _check_degree("MTP", self.degree)
        _check_scale(self.scale)

    def forward(self, a: Any, power: Fraction, xp: Any, symmetric: bool | None = None, check: bool = False) -> Root:
        s = _scale(a, self.scale, xp)
        value = mtp_root(a, s, power, int(self.degree), xp)
        return Root(value, _EXACT, _paper_backward(xp, a, value, s, power, check))


@dataclass(frozen=True)
class MPA:
    """[m/m] matrix Padé approximant, ``m = degree`` (the paper's: 5).

    ``degree - 1`` products and one linear solve, as the paper evaluates it,
    up to degree 8 (float64) or 5 (float32); above, the same approximant in
    partial fractions (``degree`` solves), whose rounding does not grow with
    the degree (:mod:`matsqrt.pade`).  Degrees up to 10 000.  ``scale`` and
    domain as for :class:`MTP`.
    """

    degree: int = 5
    scale: str = "fro"

    def __post_init__(self) -> None:
        _check_degree("MPA", self.degree)
        _check_scale(self.scale)

    def forward(self, a: Any, power: Fraction, xp: Any, symmetric: bool | None = None, check: bool = False) -> Root:
        s = _scale(a, self.scale, xp)
        value = mpa_root(a, s, power, int(self.degree), xp)
        return Root(value, _EXACT, _paper_backward(xp, a, value, s, power, check))


def _classified(a: Any, xp: Any, symmetric: bool | None) -> bool:
    """``symmetric``, classifying ``a`` (one host synchronisation) when it is not known."""
    return bool(xp.all(hermitian_flags(a, xp))) if symmetric is None else symmetric


@dataclass(frozen=True)
class Eigh:
    """Eigendecomposition of Hermitian (real symmetric or complex Hermitian) input (reference).

    ``negative="raise"`` (default) refuses a negative eigenvalue with
    :class:`ValueError` (the principal root is not Hermitian positive
    semi-definite); ``"complex"`` returns the principal root, complex, as
    ``auto`` does.  Non-Hermitian input raises :class:`ValueError`.  The
    backward is the Daleckii-Krein formula with closed-form divided
    differences, exact at repeated eigenvalues; it ignores the Lyapunov
    options.
    """

    negative: str = "raise"

    def __post_init__(self) -> None:
        if self.negative not in ("raise", "complex"):
            raise ValueError(f"negative must be 'raise' or 'complex'; got {self.negative!r}")

    def forward(self, a: Any, power: Fraction, xp: Any, symmetric: bool | None = None, check: bool = False) -> Root:
        if not _classified(a, xp, symmetric):
            where = batch_indices(~hermitian_flags(a, xp), tuple(a.shape[:-2]))
            raise ValueError(f"method 'eigh' needs Hermitian (real: symmetric) input; A is not Hermitian to "
                             f"rounding{where} (use method='auto' or 'db' for general matrices)")
        if symmetric is None:
            a = hermitian_part(a, xp)
        value, roots, u = eigh_root(a, power, xp, self.negative)

        def backward(g, maxiter, tol):
            return daleckii_krein(roots, u, g, power, xp), _EXACT

        return Root(value, _EXACT, backward)


def _verified_principal(value: Any, xp: Any, check: bool, method: str) -> Any:
    """``value`` if every matrix's symmetric part is positive definite, which puts its spectrum in the
    open right half-plane: the principal root, not another one.

    Failing matrices raise :class:`ValueError` with ``check`` (one host
    synchronisation), or become NaN on the device without it.
    """
    ok = xp.linalg.eigvalsh(hermitian_part(value, xp))[..., 0] > 0
    if check:
        _raise_if(~ok, f"method {method!r} cannot guarantee the principal root of this non-symmetric A{{where}}: "
                       "its iteration may converge to another root, and the result could not be verified; "
                       "use method='auto' or 'db'")
        return value
    return xp.where(ok[..., None, None], value, xp.full_like(value, math.nan))


class NegativeEigenvalueError(ValueError):
    """A Hermitian matrix with a negative eigenvalue reached a method for positive semi-definite input (the
    ``ValueError`` that ``auto`` answers by running the general method)."""


def _raise_products_failure(info: ConvergenceInfo, a: Any, xp: Any, symmetric: bool | None, power: Fraction,
                            method: str) -> None:
    """The error for an unconverged product-only iteration, saying what is true for the input class."""
    if info.converged:
        return
    n = a.shape[-1]
    if symmetric and diverged(info.residual, n):
        # Error path: find the matrices at fault by their eigenvalues.
        where = batch_indices(xp.linalg.eigvalsh(a)[..., 0] < 0, tuple(a.shape[:-2]))
        raise NegativeEigenvalueError(f"A has a negative eigenvalue{where} (method {method!r} diverged): it is not "
                                      "positive semi-definite, so its principal square root is not real "
                                      "(method='auto' returns it, complex)")
    if not symmetric:
        if not math.isfinite(info.residual):
            _raise_if_not_finite(a, xp)
        # Outside the region where its convergence is proven: a refusal, not a statement about A.
        raise ValueError(f"method {method!r} did not converge for this non-symmetric A (residual "
                         f"{info.residual:.3g} after {info.iterations} iterations): its iteration is guaranteed to "
                         "reach the principal root only for symmetric positive (semi-)definite input; use "
                         "method='auto' or 'db'")
    hint = "A must be positive definite" if power < 0 else "A must be positive semi-definite"
    raise_if_not_converged(info, f"method {method!r}", hint + "; for inv_sqrtm a singular A has no inverse root")


def _rounding_shift(a: Any, s: Any, shift: float, xp: Any) -> Any:
    """Per-matrix shifts for a second try of a diverged square root, or ``None`` if ``A`` is indefinite.

    A semi-definite matrix as stored can have eigenvalues slightly below zero
    (rounding, down to about ``-n eps ||A||_F``: the same band eigh reads as
    zero), below the shift ``d`` of :func:`shifted_roots`, and the iteration
    then diverges.  If every matrix is positive semi-definite to that
    rounding, the matrices whose smallest eigenvalue is below ``n eps s``
    get the shift ``2 n eps ||A||_F / s`` instead (they are
    numerically singular, and their derivative is refused as such); the
    others keep ``d``.  Error path: host synchronisations.
    """
    n = a.shape[-1]
    eps = float(xp.finfo(a.dtype).eps)
    if not bool(xp.all(positive_definite(_shifted_identity(a, xp, 1.0), xp))):
        return None
    eye = xp.eye(n, dtype=a.dtype, device=array_device(a))
    # Positive definite with a margin of n eps: the small shift suffices (rounding during the
    # iteration, not only in A, pushed the others below zero).
    fine = positive_definite(a / s - (n * eps) * eye, xp)[..., None, None]
    wide = 2.0 * n * eps * frobenius_norm(a, xp) / s
    return xp.where(fine, xp.full_like(wide, shift), xp.maximum(wide, xp.full_like(wide, shift)))


def _products_forward(a, power, xp, symmetric, check, *, s, lower, tol, maxiter, name, accelerated) -> Root:
    """The coupled Newton-Schulz forward of :class:`Matmul` and :class:`NS` and their backward."""
    n = a.shape[-1]
    eps = float(xp.finfo(a.dtype).eps)
    tol = eps if tol is None else float(tol)
    safe = xp.where(s > 0, s, xp.ones_like(s))
    if power > 0:
        shift = _SHIFT_EPS.get(xp.finfo(a.dtype).bits // 8, 1.0) * eps
        value, _, singular, info, steps = shifted_roots(a, s, xp, shift=shift, maxiter=maxiter, tol=tol,
                                                        lower=lower)
        if symmetric and not info.converged and diverged(info.residual, n):
            wider = _rounding_shift(a, safe, shift, xp)
            if wider is not None:
                shift = wider
                value, _, singular, info, steps = shifted_roots(a, s, xp, shift=shift, maxiter=maxiter, tol=tol,
                                                                lower=lower)
        y, root_s, z = value, xp.sqrt(safe * (1.0 + shift)), None
    else:
        y, z, info, steps = coupled_newton_schulz(a / safe, xp, maxiter=maxiter, tol=tol, lower=lower)
        root_s = xp.sqrt(safe)
        y, z = y * root_s, z / root_s
        value, singular = z, None
    _raise_products_failure(info, a, xp, symmetric, power, name)
    if not symmetric:
        value = _verified_principal(value, xp, check, name)

    def backward(g, maxiter, tol):
        if singular is not None:
            _raise_if(singular, "A is singular or numerically singular{where} (smallest eigenvalue at the "
                                "rounding level of its largest): the matrix square root has no derivative there")
        if power < 0:
            zt = conj_transpose(z, xp)
            g = -(zt @ g @ zt)
        b0 = conj_transpose(y, xp) / root_s
        # The backward's B_0 has the forward's spectrum: replay its steps (then adapt, from lower).
        return _solve(xp, y, b0, g / root_s, maxiter, tol, lower if accelerated else None, general=not symmetric,
                      steps=steps if accelerated and symmetric else ())

    return Root(value, info, backward)


def _sync_free_forward(a: Any, power: Fraction, xp: Any, symmetric: bool | None, check: bool, *, s: Any,
                       steps: tuple[Any, ...]) -> Root:
    """:class:`Matmul` with ``sync_free=True``: the fixed schedule ``steps`` forward and backward, every check
    on the device (a matrix that did not converge, is not verified principal, or is numerically singular
    where the derivative is asked for, becomes NaN), no host synchronisation; with ``check`` one at the end,
    to raise for the NaN matrices."""
    eps = float(xp.finfo(a.dtype).eps)
    safe = xp.where(s > 0, s, xp.ones_like(s))
    if power > 0:
        shift = _SHIFT_EPS.get(xp.finfo(a.dtype).bits // 8, 1.0) * eps
        value, _, singular, info, _ = shifted_roots(a, s, xp, shift=shift, maxiter=len(steps), tol=0.0, lower=None,
                                                    fixed=steps)
        y, z, root_s = value, None, xp.sqrt(safe * (1.0 + shift))
    else:
        y, z, info, _ = coupled_newton_schulz(a / safe, xp, maxiter=len(steps), tol=0.0, fixed=steps)
        z = not_converged_to_nan(z, y, z, xp)
        root_s = xp.sqrt(safe)
        y, z = y * root_s, z / root_s
        value, singular = z, None
    if not symmetric:
        # Outside the domain the schedule is proven for (Hermitian input), the result cannot be verified
        # without a host synchronisation or an eigendecomposition: NaN.
        other = ~hermitian_flags(a, xp)
        value, y = nan_where(other, value, xp), nan_where(other, y, xp)
    if check:
        # check_finite allows one host synchronisation: a NaN result becomes the error it stands for.
        kappa = _sync_free_kappa(a.dtype, xp)
        _raise_if(~xp.all(xp.isfinite(value), axis=(-2, -1)),
                  "method 'matmul' with sync_free=True has no result for A{where}: its fixed schedule is designed "
                  f"for Hermitian positive definite matrices with condition number up to {kappa:.0e}; this one is "
                  "not Hermitian, not positive definite, or more ill-conditioned (use sync_free=False or "
                  "method='auto')")

    def backward(g, maxiter, tol):
        if power < 0:
            zt = conj_transpose(z, xp)
            g = -(zt @ g @ zt)
        grad, deviation = replayed_sign_iteration(conj_transpose(y, xp) / root_s, g / root_s, steps, xp)
        n = y.shape[-1]
        # (B is near I: a few times the rounding floor n eps of forming its products)
        bad = ~(deviation <= 32.0 * n * eps)
        if singular is not None:
            bad = bad | singular
        return nan_where(bad, grad, xp), info

    return Root(value, info, backward)


@dataclass(frozen=True)
class NS:
    """Coupled Newton-Schulz iteration (iSQRT-COV), scaled by ``||A||_F``.

    Three products a step.  ``tol=0`` runs exactly ``maxiter`` steps, as
    iSQRT-COV does (e.g. ``NS(maxiter=5, tol=0)``); otherwise it stops at
    ``tol`` (default ``eps``) on ``||I - Z_k Y_k||_F``, raising
    :class:`ConvergenceError` after ``maxiter`` steps.  The square root runs
    on ``A + d I`` with ``d`` a few eps (as :class:`Matmul`), so singular
    positive semi-definite input converges.  The backward is the paper's
    Lyapunov iteration.  Converges to the principal root for symmetric
    positive semi-definite input; the result for non-symmetric input is
    verified to be the principal root or refused (:class:`Matmul`).
    """

    tol: float | None = None
    maxiter: int = 100
    scale: str = "fro"

    def __post_init__(self) -> None:
        _check_iteration(self.tol, self.maxiter)
        _check_scale(self.scale)

    def forward(self, a: Any, power: Fraction, xp: Any, symmetric: bool | None = None, check: bool = False) -> Root:
        s = _scale(a, self.scale, xp)
        return _products_forward(a, power, xp, symmetric, check, s=s, lower=None, tol=self.tol,
                                 maxiter=int(self.maxiter), name="ns", accelerated=False)


# Relative shift, in units of eps, for the square root by 'matmul' and 'ns' (see Matmul).
_SHIFT_EPS = {4: 0.5, 8: 1.0}
# Default lower end of sqrt(lambda / s) the accelerated steps are designed for,
# keyed by "is float32".  Measured on n = 8, condition numbers 1e1..1e10,
# float64: lower = 5e-6 takes 20 steps at every condition number, 1e-3 takes
# 12-13 up to 1e4 and 26 at 1e10, the classical iteration 8-34; smaller
# eigenvalues still converge, so the common well-conditioned case decides.
_LOWER = {False: 1e-3, True: 2e-3}
# sqrt(Ritz estimate) / _LANCZOS_MARGIN is the designed lower end (see _estimated_lower), at least _LOWEST.
_LANCZOS_MARGIN = 2.0
_LOWEST = 1e-6


@dataclass(frozen=True)
class Matmul:
    """Accurate matrix-product-only method: spectral scaling, accelerated Newton-Schulz.

    Forward: ``A`` is divided by an upper bound ``s`` on its spectral radius
    (:func:`spectral_bound`), then the coupled Newton-Schulz iteration runs
    with minimax polynomial steps (:mod:`matsqrt.schedule`, quintic, the
    Polar Express design: each step optimal for the interval the spectrum is
    known to lie in, starting from ``[lower, 1]`` and narrowed by the
    measured residual), until ``||I - Z_k Y_k||_F`` (the worst eigenvalue,
    not an average) reaches ``tol``, or one step after the residual proves
    it will.  It yields ``A^(1/2)`` and
    ``A^(-1/2)`` together.  For the square root it runs on ``A + d I`` with
    ``d = c eps s`` (c = 1 in float64, 0.5 in float32), which keeps a
    singular positive semi-definite ``A`` from stalling it, and removes the
    shift to first order, ``A^(1/2) = Y - (d/2) Z + O(d^2)``: the effect is
    below rounding for condition numbers up to 1e10 (float64) or 1e5
    (float32), and a zero eigenvalue comes out as ``sqrt(d)/2``, the size of
    what rounding does to it in an eigendecomposition.

    Which root: for symmetric input the iteration provably converges to the
    principal root or diverges (a negative eigenvalue: :class:`ValueError`).
    For non-symmetric input it may converge to another root, so the result
    is verified (its symmetric part positive definite, one symmetric
    eigenvalue computation) and refused with :class:`ValueError` when that
    fails, with ``check_finite``; without it, refused matrices become NaN.
    Use ``"db"`` (or ``"auto"``) for general matrices.

    Backward: the Lyapunov sign iteration from ``B_0 = Y^T / sqrt(s)``, whose
    spectrum is the forward's: it replays the forward's steps without checks,
    verifies ``||B - I||_F`` once, and continues with minimax steps only if
    needed (Newton's iteration with inverses for non-symmetric input).  For the inverse root it solves
    ``Y^T X + X Y^T = -Z^T G Z^T``, using the ``Z`` of the forward.  At a
    numerically singular ``A`` (smallest eigenvalue near the shift ``d``) it
    raises :class:`ValueError`: the derivative is infinite or undetermined.

    Parameters
    ----------
    tol : float, optional
        Forward tolerance (default ``eps``; see :func:`coupled_newton_schulz`).
    maxiter : int
        Maximum forward steps (default 100).
    lower : float, optional
        Lower end of the scaled spectrum ``sqrt(lambda / s)`` the first steps
        are designed for, in ``[1e-8, 1)``.  Default: for Hermitian input,
        the square root of a 12-step Lanczos estimate of the smallest
        eigenvalue over the batch, halved (:func:`_estimated_lower`, one host
        synchronisation); otherwise 1e-3 in float64, 2e-3 in float32.
        Eigenvalues below it still converge (the residual reveals them and
        the design restarts lower).  Products, 256 x 64 x 64 SPD
        (2026-12-06), forward / forward+backward: 15.3 / 51.3 in float32 at
        condition number 10 and 23.3 / 77.3 at 1e4 (the capped cubic steps
        before: 35 / 100); in float64 19.3 / 64.3, 27.3 / 90.3, and 43.3 / 142
        at 1e8 (before: 41 / 118, 41 / 118, 62 / 181).
    sync_free : bool
        A fixed schedule and no host synchronisation (for CUDA graphs,
        ``torch.compile``, asynchronous GPU pipelines): the steps are designed
        once for every Hermitian positive definite matrix with condition
        number up to :data:`SYNC_FREE_KAPPA` (1e8 in float64, 1e5 in float32;
        :func:`sync_free_lower`), there is no Lanczos estimate and no
        convergence check, and every check runs on the device: a matrix whose
        residual ``||I - Z Y||_F`` is above a few times its rounding floor
        (beyond the bound, indefinite, singular), that is not Hermitian, or
        whose backward did not converge, comes back NaN, never a value.  With
        ``check_finite=True`` (the default) one synchronisation at the end
        turns that NaN into :class:`ValueError`; with ``check_finite=False``
        there is none (the input is then not classified either).  Products,
        16 x 64 x 64, at any condition number up to the bound: forward /
        forward+backward 29 / 92 (float32), 41 / 131 (float64); the error
        meets the same bounds as the adaptive schedule (tests/test_sync_free.py).
    """

    tol: float | None = None
    maxiter: int = 100
    lower: float | None = None
    sync_free: bool = False

    def __post_init__(self) -> None:
        _check_iteration(self.tol, self.maxiter)
        if self.lower is not None and not 1e-8 <= self.lower < 1:
            raise ValueError(f"lower must lie in [1e-8, 1); got {self.lower!r}")
        if not isinstance(self.sync_free, bool):
            raise ValueError(f"sync_free must be True or False; got {self.sync_free!r}")

    def forward(self, a: Any, power: Fraction, xp: Any, symmetric: bool | None = None, check: bool = False) -> Root:
        s = spectral_bound(a, xp)
        if self.sync_free:
            lower = float(self.lower) if self.lower is not None else sync_free_lower(a.shape[-1], a.dtype, xp)
            return _sync_free_forward(a, power, xp, symmetric, check, s=s,
                                      steps=schedule(lower, float(xp.finfo(a.dtype).eps)))
        lower = float(self.lower) if self.lower is not None else _estimated_lower(a, s, xp, symmetric)
        return _products_forward(a, power, xp, symmetric, check, s=s, lower=lower,
                                 tol=self.tol, maxiter=int(self.maxiter), name="matmul", accelerated=True)


# Largest condition number the sync-free schedule of Matmul is designed for, by the real dtype's size in bytes.
SYNC_FREE_KAPPA = {4: 1e5, 8: 1e8}


def sync_free_lower(n: int, dtype: Any, xp: Any) -> float:
    """Lower end of ``sqrt(lambda / s)`` for every Hermitian positive definite ``n x n`` matrix of condition
    number up to :data:`SYNC_FREE_KAPPA`: ``1 / sqrt(kappa n^(1/8))``, because the spectral bound ``s`` of
    :func:`spectral_bound` exceeds the largest eigenvalue by at most ``n^(1/8)`` (its ``||A^4||_F^(1/4)``
    term)."""
    return 1.0 / math.sqrt(_sync_free_kappa(dtype, xp) * n ** 0.125)


def _sync_free_kappa(dtype: Any, xp: Any) -> float:
    """:data:`SYNC_FREE_KAPPA` for ``dtype`` (complex: its real precision)."""
    return SYNC_FREE_KAPPA[4 if xp.finfo(dtype).bits == 32 else 8]


def _estimated_lower(a: Any, s: Any, xp: Any, symmetric: bool | None) -> float:
    """The lower end of ``sqrt(lambda / s)`` the steps are designed for: for Hermitian input, a Lanczos
    estimate of the smallest eigenvalue over the batch, divided by :data:`_LANCZOS_MARGIN`, within
    ``[_LOWEST, 1/2]`` (one host synchronisation); otherwise the dtype's default.

    Measured, 16 x 64 x 64 SPD (forward / forward+backward products, 2026-12-06): with the estimate
    16 / 51 (float32) and 20 / 64 (float64) at condition number 10, 24 / 77 and 28 / 90 at 1e4, against
    28 / 90 and 32 / 103 with the default lower end at both; at 1e8 (float64) 44 / 142 against 40 / 129 (the
    estimate is optimistic there, 12 Lanczos steps see about 2e-4 of the spectrum's lower end, and the
    design restarts).  A margin of 4 instead of 2 cost 4 products at 10 in float32, saved none elsewhere.
    """
    default = _LOWER[xp.finfo(a.dtype).bits == 32]
    if not symmetric:
        return default
    safe = xp.where(s > 0, s, xp.ones_like(s))
    estimate = float(xp.min(smallest_eigenvalue_estimate(a / safe, xp)))
    if not estimate > 0:  # NaN, or at the rounding level of a singular or indefinite matrix: no information
        return default
    return min(max(math.sqrt(max(estimate, 0.0)) / _LANCZOS_MARGIN, _LOWEST), 0.5)


@dataclass(frozen=True)
class DB:
    """Scaled Denman-Beavers iteration (product form, one inverse and two products a step).

    For general (non-Hermitian) matrices, real or complex: converges to the
    principal root of every nonsingular ``A`` with no eigenvalue on the
    closed negative real axis, quadratically after a few determinant-scaled
    steps (:func:`matsqrt.denman_beavers.denman_beavers`); stops on
    ``||M_k - I||_F <= tol`` (default ``eps``).  The root is then corrected
    by one Newton step (a Lyapunov solve,
    :func:`matsqrt.lyapunov.newton_sign_iteration`), which brings its error
    from about ``kappa(A) eps`` to the problem's condition times eps; its
    residual ``A - Y^2`` is computed without the rounding of ``Y Y``
    (:mod:`matsqrt._residual`; in float64 for float32 work, whose step is
    solved in float64 too), which far from normality would otherwise swamp
    it.  The inverse root is that root's inverse.  32-bit work that fails
    (no convergence, a root that fails verification, a zero eigenvalue judged
    defective) is redone in 64 bits where the library has them, before any
    judgement of the branch cut or of singularity, and returned in the input's
    precision.  The root is verified, not trusted
    (rounding can carry an eigenvalue across the branch cut mid-iteration,
    and the iteration then converges to another matrix's root): the
    correction's sign iteration must converge (it does for every root with
    its spectrum in the open right half-plane), the correction must be
    small against the root, and the root must square back to ``A``
    (:func:`_corrected_root`).

    Matrices the iteration cannot take as they are (it then stops
    unconverged) are looked at once, on the host (:func:`_off_the_cut`): a
    negative real eigenvalue is taken off the branch cut by a rotation,
    ``A^(1/2) = e^(i theta / 2) (e^(-i theta) A)^(1/2)`` with ``theta``
    smaller than the angle between every other eigenvalue and the cut's
    lower side, which gives the principal root, complex (real input then
    returns complex output); numerically singular matrices (the FID case:
    ``S1 @ S2`` of rank-deficient covariances) get their roots by deflation
    onto the range (:mod:`matsqrt.singular`, on the host), and a zero
    eigenvalue that is not semi-simple (a Jordan block, such as a nilpotent
    matrix) raises :class:`ValueError`: no principal root exists.  Singular
    input has no inverse root and no derivative (:class:`ValueError`).  Backward: the Newton sign iteration with
    inverses (:func:`matsqrt.lyapunov.newton_sign_iteration`) on ``Y^H``,
    which converges for every principal root.
    """

    tol: float | None = None
    maxiter: int = 50

    def __post_init__(self) -> None:
        _check_iteration(self.tol, self.maxiter)

    def forward(self, a: Any, power: Fraction, xp: Any, symmetric: bool | None = None, check: bool = False) -> Root:
        # 32-bit work that fails (no convergence, a root that fails its verification, or a zero eigenvalue judged
        # defective) is redone in 64 bits (measured: float32 matrices with the contract's bound at 0.03-0.5
        # refused as singular, or rooted 2-5x beyond that bound through the rotation off the cut).
        return _in_64_bits_on_failure(lambda b, widen: self._forward(b, power, xp, widen), a, xp,
                                      (_Widen, DefectiveError))

    def _forward(self, a: Any, power: Fraction, xp: Any, widen: bool) -> Root:
        eps = float(xp.finfo(a.dtype).eps)
        tol = eps if self.tol is None else float(self.tol)
        maxiter = int(self.maxiter)
        s = frobenius_norm(a, xp)
        zero = ~(s > 0)
        safe = xp.where(zero, xp.ones_like(s), s)
        # A zero matrix iterates as I (its square root is zero, its inverse root NaN).
        eye = xp.eye(a.shape[-1], dtype=a.dtype, device=array_device(a))
        # (arithmetic rather than where() on the matrices: it keeps array subclasses, such as the
        # benchmark's product counter)
        flag = xp.astype(zero, s.dtype)
        u = a / safe + flag * eye
        y, z_u, info, unverified = _corrected_root(u, xp, maxiter, tol)
        if widen and not info.converged:
            raise _Widen
        singular = None
        if info.converged:
            # A (numerically) singular matrix can converge too, to the root of a nearby matrix: ||U^(-1/2)||_F^2
            # >= 1 / (n eps) (for ||U||_F = 1) marks the candidates, looked at on the host (one synchronisation).
            n, eps_u = u.shape[-1], float(xp.finfo(u.dtype).eps)
            near = frobenius_norm(z_u, xp)[..., 0, 0] ** 2 * (n * eps_u) >= 1.0
            if bool(xp.any(near)):
                y, singular = _settle_singular(u, y, near, xp)
        else:
            y, info, singular = _off_the_cut(u, xp, maxiter, tol, info, unverified)
        root_s = xp.sqrt(safe)
        batch = tuple(a.shape[:-2])
        z = None
        if power > 0:
            value = y = y * (root_s * (1.0 - flag))
        else:
            if singular is not None:
                _raise_if(singular, "A is singular{where}: it has no inverse square root")
            y = y * root_s
            z = _inverse_or_raise(y, xp) + xp.where(zero, xp.full_like(s, math.nan), xp.zeros_like(s))
            value = z

        def backward(g, maxiter, tol):
            if singular is not None and bool(xp.any(singular)):
                raise ValueError(f"A is singular{batch_indices(singular, batch)}: the matrix square root has no "
                                 "derivative there")
            return _general_backward(xp, y, z, root_s, g, maxiter, tol)

        return Root(value, info, backward)


def _general_backward(xp: Any, y: Any, z: Any, scale: Any, g: Any, maxiter: Any, tol: Any) -> tuple[Any, Any]:
    """The vjp of a general root ``y`` (with ``z = y^-1`` for the inverse root, else ``None``):
    ``Y^H X + X Y^H = G`` (``-Z^H G Z^H`` for the inverse) by Newton's sign iteration on ``Y^H / scale``.

    On NumPy a Bartels-Stewart solve that computes its own Schur form of
    ``Y`` (``scipy.linalg.schur`` and LAPACK's ``?trsyl`` per matrix) was
    measured no faster: 67 ms against 55 ms at 16 x 64 x 64 and 3.35 s
    against 3.38 s at 4 x 256 x 256 (float64, medians of 5, 2-core Intel
    Xeon, 2026-12-03), so one backend-neutral iteration serves every
    library.  :class:`Schur` keeps the forward's Schur factors and solves
    with them instead (:func:`matsqrt._schur.schur_solve`).
    """
    if is_complex(y, xp) and not is_complex(g, xp):
        g = xp.astype(g, y.dtype)
    if z is not None:
        zh = conj_transpose(z, xp)
        g = -(zh @ g @ zh)
    return _solve(xp, y, conj_transpose(y, xp) / scale, g / scale, maxiter, tol, general=True)


def _corrected_root(u: Any, xp: Any, maxiter: int, tol: float) -> tuple[Any, Any, ConvergenceInfo, bool]:
    """Denman-Beavers for ``u`` (moderate norm), then one Newton correction ``Y E + E Y = U - Y^2``.

    The coupled iterations' accuracy is limited by their inverse root (about
    ``kappa(A) eps``), the corrected root's by the problem's condition
    (measured, float64, 5 x 5 near-symmetric matrix with condition number
    5e9: 2.0e-10 -> 2.2e-13, SciPy's Schur method 4.4e-13).
    """
    y, z, info = denman_beavers(u, xp, maxiter=maxiter, tol=tol)
    if not info.converged:
        return y, z, info, False
    correction, refined = _newton_correction(u, y, xp, maxiter, tol)
    info = dataclasses.replace(info, iterations=info.iterations + refined.iterations)
    # Verified, not trusted: in floating point an eigenvalue on the negative real axis can be rounded
    # across zero during the iteration, which then "converges" to the root of another matrix (measured:
    # a real 2 x 2 matrix with eigenvalues -3.5 and -0.015 gave a real Y with eigenvalues -0.29 and -0.71,
    # ||Y^2 - A|| = 3.5).  The tests below catch such roots.
    if not refined.converged:
        # The correction's sign iteration converges for every Y with its spectrum in the open right
        # half-plane; when it does not, Y is not the principal root, or it is too far from normal to tell
        # (measured: a real iteration on float32 [[-1, 0], [-6, -4]] converged to a real Y with entries near
        # 6.5e7; a complex 6 x 6 triangular matrix far from normal to a Y with eigenvalue -0.86): refused.
        return y, z, dataclasses.replace(info, converged=False, residual=math.inf), True
    corrected = y + correction
    # Two more tests, in one host synchronisation.  The correction of a root the iteration really found is
    # of the size of its error (about kappa(A) eps relative); one of the root's own size means the
    # iteration went astray (measured: float32 [[-1, 0], [-3, -4]] "converged" to a real Y with entries
    # near 1e5 and eigenvalues in the right half-plane, which the correction moved by as much).  And the
    # corrected root must square back to U to eps^(1/4) of ||U||_F + ||Y||_F^2 (the backward error of
    # squaring it; ||U||_F = 1): one that went astray is off by a fraction of that size (measured: 5e-3 of
    # ||Y||_F^2 = 1e10 for an 11 x 11 float64 Jordan block at zero).
    small = frobenius_norm(correction, xp) <= 0.1 * frobenius_norm(y, xp)
    size = frobenius_norm(corrected, xp) ** 2
    residual = frobenius_norm(corrected @ corrected - u, xp)
    if bool(xp.all(small & (residual <= float(xp.finfo(u.dtype).eps) ** 0.25 * (1.0 + size)))):
        return corrected, z, info, False
    # The last flag: converged, but the root failed its verification (info.residual: ||Y^2 - U||_F).
    return corrected, z, dataclasses.replace(info, converged=False, residual=float(xp.max(residual))), True


class _Widen(Exception):
    """Raised inside :meth:`DB._forward` to redo 32-bit work in 64 bits."""


def _in_64_bits_on_failure(run: Callable[[Any, bool], Root], a: Any, xp: Any,
                           failures: tuple[type[Exception], ...]) -> Root:
    """``run(a, widen)``; where ``a`` is 32-bit and the library has 64 bits on its device, a failure among
    ``failures`` runs the batch again in 64 bits (``run(a64, False)``), the result in ``a``'s precision.

    An error path, before any judgement of singularity or of the branch cut
    that 32-bit rounding blurs: the common cases succeed at once, and a
    matrix that fails in 64 bits too raises from there.
    """
    wide = wider_dtype(a.dtype, xp, array_device(a))
    if wide is None:
        return run(a, False)
    try:
        return run(a, True)
    except failures:
        return _narrowed(run(xp.astype(a, wide), False), a.dtype, xp)


def _narrowed(root: Root, dtype: Any, xp: Any) -> Root:
    """``root`` (computed in a wider dtype) in ``dtype``, or its complex counterpart for a complex value;
    the backward takes and returns the narrow dtypes."""
    value = root.value
    narrow = complex_dtype(dtype, xp) if is_complex(value, xp) else dtype

    def backward(g, maxiter, tol):
        wide_g = xp.astype(g, complex_dtype(value.dtype, xp) if is_complex(g, xp) else real_dtype(value.dtype, xp))
        grad, info = root.backward(wide_g, maxiter, tol)
        return xp.astype(grad, complex_dtype(dtype, xp) if is_complex(grad, xp) else real_dtype(dtype, xp)), info

    return Root(xp.astype(value, narrow), root.info, backward)


def _newton_correction(u: Any, y: Any, xp: Any, maxiter: int, tol: float) -> tuple[Any, ConvergenceInfo]:
    """``E`` with ``Y E + E Y = U - Y^2`` (one Newton step for the root), from a residual without rounding.

    The residual of a root far from normal drowns in the rounding of ``Y Y``
    (``n u ||Y||^2``, :mod:`matsqrt._residual`), so it is computed exactly to
    the rounding of ``U``: by a split product in float64 and complex128, in
    float64 for float32 work.  The float32 step is solved in float64 too: its
    sign iteration inverts the root, which loses ``kappa(Y) u`` (measured,
    complex64 2 x 2 with ``kappa(Y)`` = 4e5: a corrected root 0.09 off where
    the float64 step leaves it at the float32 rounding).  The correction is
    returned in the working dtype.
    """
    wide = wider_dtype(u.dtype, xp, array_device(u))
    if wide is None:
        return newton_sign_iteration(y, square_residual(u, y, xp), xp, maxiter=maxiter, tol=tol)
    y_wide = xp.astype(y, wide)
    correction, info = newton_sign_iteration(y_wide, xp.astype(u, wide) - y_wide @ y_wide, xp, maxiter=maxiter,
                                             tol=tol)
    return xp.astype(correction, u.dtype), info


def _raise_db_failure(info: ConvergenceInfo, unverified: bool, unclear: Any = None, batch: tuple[int, ...] = ()
                      ) -> None:
    """The error for a Denman-Beavers root that nothing on the error path explained; matrices singular to
    working precision (``unclear``, :func:`_settle_host`) are named as such."""
    if info.converged:
        return
    import numpy as np

    if unclear is not None and np.any(unclear):
        from .singular import raise_defective

        raise_defective(unclear, batch)
    if unverified:
        why = ("its Newton correction did not converge (the root's spectrum is not in the open right half-plane, "
               "or the root is too far from normal to tell)" if math.isinf(info.residual) else
               f"its root failed verification (relative residual {info.residual:.3g}, or a correction as large "
               "as the root)")
        raise ValueError(f"A is too ill-conditioned for this dtype: the Denman-Beavers iteration converged, but {why}, "
                         "and A has no eigenvalue on the branch cut and no zero eigenvalue to explain it; the "
                         "principal root could not be verified, so none is returned")
    raise_if_not_converged(info, "method 'db'", "A is too ill-conditioned for this dtype")


def _settle_host(a: Any, y: Any, candidates: Any, batch: tuple[int, ...]) -> tuple[Any, Any, Any]:
    """``(Y, semisimple, unclear)`` on the host for the ``candidates`` of ``a`` (NumPy arrays) that may be singular.

    By :func:`matsqrt.singular.zero_eigenvalue_kind`: a Jordan block at zero
    raises :class:`ValueError`; a semi-simple zero eigenvalue gets the root
    by deflation; an UNCLEAR matrix keeps the root ``y`` computed for it if
    that squares back to ``A`` (:func:`matsqrt.singular.squares_back`; a
    ``None`` ``y``: no root to judge) and raises otherwise.  Both masks
    flag matrices singular to working precision, which have no inverse root
    and no derivative.  With ``y`` None, UNCLEAR matrices are left to the
    caller (not rooted): it computes their roots as for regular matrices
    and judges them.
    """
    import numpy as np

    from .singular import (
        DEFECTIVE,
        REGULAR,
        SEMISIMPLE,
        UNCLEAR,
        deflated_roots,
        raise_defective,
        squares_back,
        zero_eigenvalue_kind,
    )

    candidates = np.asarray(candidates, dtype=bool)
    kind = np.full(candidates.shape, REGULAR, dtype=np.int8)
    if np.any(candidates):
        kind[candidates] = zero_eigenvalue_kind(a[candidates])
    semisimple = kind == SEMISIMPLE
    deflated = None
    if np.any(semisimple):
        deflated, singular_b = deflated_roots(a, semisimple, batch)
        # The deflated B singular too: not semi-simple after all, to working precision.
        kind = np.where(singular_b, UNCLEAR, kind)
        semisimple = kind == SEMISIMPLE
    unclear = kind == UNCLEAR
    if y is not None and np.any(unclear):
        unclear = unclear & ~(np.all(np.isfinite(y), axis=(-2, -1)) & squares_back(a, y))
    raise_defective((kind == DEFECTIVE) | (unclear if y is not None else False), batch)
    if np.any(semisimple):
        y = deflated if y is None else np.where(semisimple[..., None, None], deflated, y)
    return y, semisimple, kind == UNCLEAR


def _settle_singular(u: Any, y: Any, candidates: Any, xp: Any) -> tuple[Any, Any]:
    """:func:`_settle_host` for the converged Denman-Beavers roots ``y`` of ``u``, on ``u``'s device."""
    import numpy as np

    from ._validate import _to_host
    from .singular import to_device

    batch = tuple(u.shape[:-2])
    settled, semisimple, unclear = _settle_host(np.asarray(_to_host(u)), np.asarray(_to_host(y)),
                                                _to_host(candidates), batch)
    return to_device(settled, u, xp), xp.asarray(semisimple | unclear, device=array_device(u))


def _eigenvalue_discs(host: Any, eps: float) -> tuple[Any, Any]:
    """Eigenvalues of a NumPy batch (complex128) and, per eigenvalue, the radius within which rounding at
    ``eps`` may have moved it: ``10 n eps ||A||_F`` times its condition number (first order), at most half
    its modulus.

    The condition number ``||x|| ||y|| / |y^H x|`` comes from the right
    eigenvectors and the rows of their inverse (the left ones).  A fixed band
    of ``n eps max|lambda|`` missed a simple real eigenvalue -4 of a real 5 x 5
    matrix (eigenvalue condition near 30) that LAPACK returned with an
    imaginary part just beyond it, and ``db`` then refused the matrix.  Where
    the eigenvectors are singular (a defective eigenvalue, condition infinite)
    the radius is half the modulus.
    """
    import numpy as np

    n = host.shape[-1]
    a = host.astype(np.complex128)
    lam, vectors = np.linalg.eig(a)
    vectors = vectors / np.linalg.norm(vectors, axis=-2, keepdims=True)
    with np.errstate(all="ignore"):
        try:
            left = np.linalg.inv(vectors)
            cond = np.linalg.norm(left, axis=-1)
        except np.linalg.LinAlgError:
            cond = np.full(lam.shape, np.inf)
    cond = np.where(np.isfinite(cond), cond, np.inf)
    size = np.linalg.norm(a, axis=(-2, -1))[..., None]
    radius = np.minimum(10.0 * n * eps * size * cond, 0.5 * np.abs(lam))
    return lam, radius


def _off_the_cut(u: Any, xp: Any, maxiter: int, tol: float, info: ConvergenceInfo, unverified: bool
                 ) -> tuple[Any, ConvergenceInfo, Any]:
    """``(Y, info, singular)``: the principal roots of ``u`` (``||u||_F = 1``) whose Denman-Beavers
    iteration failed.

    Error path, on the host.  Numerically singular matrices (singular values
    below ``n eps`` times the largest) get their roots by deflation
    (:mod:`matsqrt.singular`, which refuses a zero eigenvalue that is not
    semi-simple); ``singular`` flags them (``None`` if there are none).  For
    the others, a negative real eigenvalue (within ``n eps max|lambda|`` of
    the negative real axis: on the branch cut) makes ``theta`` positive, at
    most pi/8 and at most half the smallest angle between another
    eigenvalue and the cut's lower side, and
    ``e^(i theta / 2) (e^(-i theta) u)^(1/2)`` is their principal root.
    Raises :class:`ConvergenceError` when neither explains the failure.
    """
    import numpy as np

    from ._validate import _to_host
    from .singular import to_device

    _raise_if_not_finite(u, xp)
    n = u.shape[-1]
    eps = float(xp.finfo(u.dtype).eps)
    batch = tuple(u.shape[:-2])
    host = np.asarray(_to_host(u))
    device = array_device(u)
    eye = xp.eye(n, dtype=u.dtype, device=device)
    # Every matrix is a candidate: the iteration failed without saying which.
    # Singular to working precision but without as many eigenvalues at zero (unclear): rooted as regular
    # matrices below, then judged.
    deflated_host, singular_host, unclear_host = _settle_host(host, None, np.ones(batch, dtype=bool), batch)
    singular = None
    deflated = None
    if np.any(singular_host):
        deflated = to_device(deflated_host, u, xp)
        singular = xp.asarray(singular_host, device=device)
        mask = xp.astype(singular, real_dtype(u.dtype, xp))[..., None, None]
        # The singular matrices are done: the iteration runs on I in their place.
        u = u * (1.0 - mask) + eye * mask
        root, _, info, unverified = _corrected_root(u, xp, maxiter, tol)
    if singular is None or not info.converged:
        lam, radius = _eigenvalue_discs(np.where(singular_host[..., None, None], np.eye(n), host), eps)
        on_cut = (np.abs(lam.imag) <= radius) & (lam.real < -radius)
        above_lower_side = np.where(on_cut, np.pi, np.angle(lam)) + np.pi
        theta = np.where(np.any(on_cut, axis=-1), np.minimum(np.pi / 8, 0.5 * np.min(above_lower_side, axis=-1)), 0.0)
        if not np.any(theta > 0):
            _raise_db_failure(info, unverified, unclear_host, batch)
        ctype = complex_dtype(u.dtype, xp)
        half_turn = xp.asarray(np.exp(0.5j * theta)[..., None, None], dtype=ctype, device=device)
        root, _, info, unverified = _corrected_root(xp.astype(u, ctype) / (half_turn * half_turn), xp, maxiter,
                                                    tol)
        root = root * half_turn
    _raise_db_failure(info, unverified, unclear_host, batch)
    if deflated is not None:
        if is_complex(deflated, xp) and not is_complex(root, xp):
            root = xp.astype(root, deflated.dtype)
        elif is_complex(root, xp) and not is_complex(deflated, xp):
            deflated = xp.astype(deflated, root.dtype)
        root = xp.where(singular[..., None, None], deflated, root)
    if np.any(unclear_host):
        # Rooted as regular matrices and verified (_corrected_root): singular to working precision all the same,
        # so without inverse root or derivative.
        singular = xp.asarray(unclear_host | singular_host, device=device)
    return root, info, singular


def _raise_if_not_finite(a: Any, xp: Any) -> None:
    """:class:`ValueError` for non-finite input that reached a method (``check_finite=False``)."""
    _raise_if(~xp.all(xp.isfinite(a), axis=(-2, -1)),
              "A contains NaN or infinity{where} (check_finite=False skipped the check): no root was computed")


@dataclass(frozen=True)
class Schur:
    """SciPy's Schur method (``scipy.linalg.sqrtm``, batched): NumPy arrays only.

    The CPU reference for general matrices, real or complex: a real (or
    complex) Schur decomposition and a triangular recurrence (Deadman,
    Higham and Ralha 2013), backward stable, the principal root by
    construction.  Real input with a negative real eigenvalue gets its
    complex principal root (complex output).  SciPy's recurrence is not
    reliable at singular matrices (:func:`_suspicious_schur_input`), so
    numerically singular ones (the FID case, ``S1 @ S2`` of rank-deficient
    covariances) get their roots by deflation onto the range
    (:mod:`matsqrt.singular`), real for real input with a semi-simple zero
    eigenvalue, and a zero eigenvalue that is not semi-simple (no principal
    root) raises :class:`ValueError`.  The inverse root is the inverse of the
    root.  Backward: as :class:`DB`.  Other libraries raise
    :class:`TypeError` (use ``"db"``).

    A batch runs its Schur decompositions, triangular roots and
    back-transformations on the thread pool, SciPy's own Schur-form root on
    the diagonal blocks (:mod:`matsqrt._schur`: the same algorithm and
    arithmetic, 0.7-0.95x SciPy's time on two cores).  Real input already in
    Schur form with a 2 x 2 block and a negative eigenvalue, which
    ``scipy.linalg.sqrtm`` 1.16-1.17 roots wrongly, is given to SciPy as
    complex.  32-bit input judged defective is judged again in 64 bits.
    """

    def forward(self, a: Any, power: Fraction, xp: Any, symmetric: bool | None = None, check: bool = False) -> Root:
        if not is_numpy_namespace(xp):
            raise TypeError("method 'schur' runs on NumPy arrays only (it calls scipy.linalg.sqrtm); use 'db'")
        if not check:  # (with check_finite the boundary has tested it: 1.8 ms again at 16 x 64 x 64)
            _raise_if_not_finite(a, xp)
        # As DB: a 32-bit matrix judged defective is judged again in 64 bits (measured: a float32 product of two
        # covariances, the contract's bound 0.03, refused as singular), and raises if it is.
        return _in_64_bits_on_failure(lambda b, widen: self._forward(b, power, xp, symmetric, check), a, xp,
                                      (DefectiveError,))

    def _forward(self, a: Any, power: Fraction, xp: Any, symmetric: bool | None, check: bool) -> Root:
        import warnings

        import numpy as np
        import scipy.linalg

        from ._schur import schur_solve, schur_sqrtm

        host = np.asarray(a)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            roots = schur_sqrtm(host, extra=_inverse_norms)
        y = roots.y
        batch = tuple(a.shape[:-2])
        suspicious = _suspicious_schur_input(host, y, roots.extra)
        singular = np.zeros(batch, dtype=bool)
        if np.any(suspicious):
            roots = None  # (the roots below are no longer Q R Q^H)
            y, semisimple, unclear = _settle_host(host, y, suspicious, batch)
            singular = semisimple | unclear
            if not np.all(np.isfinite(y)):
                # SciPy failed on a matrix that is regular to working precision: the iteration decides.
                return DB().forward(a, power, xp, symmetric, check)
        if np.iscomplexobj(y) and not np.iscomplexobj(host) and not np.any(y.imag):
            # Complex only through SciPy's treatment of the singular matrices, whose roots are real.
            y = np.ascontiguousarray(y.real)
        y = y.astype(complex_dtype(a.dtype, xp) if np.iscomplexobj(y) else a.dtype, copy=False)
        z = None
        if power < 0:
            _raise_if(singular, "A is singular{where}: it has no inverse square root")
            z = _inverse_or_raise(y, xp)

        def backward(g, maxiter, tol):
            if np.any(singular):
                raise ValueError(f"A is singular{batch_indices(singular, batch)}: the matrix square root has no "
                                 "derivative there")
            if roots is not None and y.dtype == roots.y.dtype:
                # Bartels-Stewart on the forward's Schur factors (matsqrt._schur.schur_solve), on the pool.
                rhs = g if z is None else -(conj_transpose(z, xp) @ g @ conj_transpose(z, xp))
                x = schur_solve(roots, np.asarray(rhs))
                if x is not None:
                    return x, ConvergenceInfo(0, math.nan, True, 0.0)
            norm = frobenius_norm(y, xp)
            scale = xp.sqrt(xp.where(norm > 0, norm, xp.ones_like(norm)))
            return _general_backward(xp, y, z, scale, g, maxiter, tol)

        return Root(y if power > 0 else z, ConvergenceInfo(0, math.nan, True, 0.0), backward)


def _inverse_norms(a: Any) -> Any:
    """``||A^-1||_F`` per matrix of a NumPy stack (NumPy's batched inverse); all infinite if one is singular."""
    import numpy as np

    with np.errstate(all="ignore"):
        try:
            return np.linalg.norm(np.linalg.inv(a), axis=(-2, -1))
        except np.linalg.LinAlgError:
            return np.full(a.shape[:-2], np.inf)


def _suspicious_schur_input(a: Any, y: Any, inverse_norm: Any = None) -> Any:
    """Per matrix, whether SciPy's root ``y`` of ``a`` needs a closer look: ``a`` ill-conditioned
    (``||A||_F ||A^-1||_F >= 1 / (n eps)``, a bound above the 2-norm condition number, so every numerically
    singular matrix is caught), or ``y`` not finite or implausibly large (``||Y||_F^2 > ||A||_F / sqrt(eps)``).

    At a singular matrix SciPy's recurrence divides by zeros it replaces
    with tiny numbers: for a zero eigenvalue that is not semi-simple it
    returns finite entries near ``1 / eps`` (measured: 4.5e15 for ``[[0, 1],
    [0, 0]]``), a root of nothing near ``A``, and for some semi-simple ones
    a square root that is not a function of ``A`` (a rank-3 root of a rank-2
    integer matrix, measured).  One batched inverse (about a tenth of the
    Schur decomposition's cost).
    """
    import warnings

    import numpy as np
    import scipy.linalg

    n = a.shape[-1]
    eps = float(np.finfo(a.dtype).eps)
    norm = np.linalg.norm(a, axis=(-2, -1))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        if inverse_norm is None:
            try:
                # SciPy's inverse, in the BLAS thread pool that just ran sqrtm: NumPy's own pool, woken right
                # after SciPy's, made the pair 2.2x slower at 4 x 256 x 256 (two OpenBLAS pools spinning on 2
                # cores).
                inverse_norm = np.linalg.norm(scipy.linalg.inv(a), axis=(-2, -1))
            except (np.linalg.LinAlgError, ValueError):
                inverse_norm = np.full(norm.shape, np.inf)
        ill = ~(norm * inverse_norm < 1.0 / (n * eps))
        size = np.sum(np.abs(y) ** 2, axis=(-2, -1))
        implausible = ~(size * math.sqrt(eps) <= norm)
    return ill | implausible | ~np.all(np.isfinite(y), axis=(-2, -1))


def _inverse_or_raise(y: Any, xp: Any) -> Any:
    """``y^-1``, or :class:`ValueError` naming the singular matrices (a singular A has no inverse root)."""
    from .denman_beavers import inverse

    z = inverse(y, xp)
    bad = None if z is None else ~xp.all(xp.isfinite(z), axis=(-2, -1))
    if z is None or bool(xp.any(bad)):
        if z is None:
            bad = xp.abs(xp.linalg.det(y)) == 0
        raise ValueError(f"A is singular{batch_indices(bad, tuple(y.shape[:-2]))}: it has no inverse square root")
    return z


# Largest n for which auto runs eigh on CuPy (float64 only; see Auto.choose).
_CUPY_EIGH_MAX_N = 64


@dataclass(frozen=True)
class Auto:
    """Pick the fastest accurate method for the backend, dtype and input class.

    Hermitian input (real symmetric or complex Hermitian, to rounding,
    :mod:`matsqrt._classify`): :class:`Eigh` on NumPy and other CPU
    libraries, returning the complex principal root where an eigenvalue is
    negative; :class:`Matmul` on CuPy and CUDA tensors (except
    :class:`Eigh` for real float64 with ``n <= 64`` on CuPy), and where it
    finds a negative eigenvalue the general method instead.  General input,
    real or complex: :class:`Schur` on NumPy, :class:`DB` elsewhere.  See
    :func:`Auto.choose` for the measurements behind the choice.  ``tol``
    and ``maxiter`` are passed to the iteration chosen (eigh and schur have
    none and ignore them).
    """

    tol: float | None = None
    maxiter: int | None = None

    def __post_init__(self) -> None:
        _check_iteration(self.tol, 1 if self.maxiter is None else self.maxiter)

    def choose(self, a: Any, xp: Any, symmetric: bool | None = None) -> Eigh | Matmul | DB | Schur:
        """The method ``auto`` runs for ``a`` (classified here, one host sync, if ``symmetric`` is None).

        Measured on this project's 2-core AMD EPYC CPU (NumPy 2.4, OpenBLAS,
        2026-11-24, medians of 5, κ = 1e1 and 1e4): forward, eigh takes
        55-61 ms against matmul's 72-79 ms at 256 x 64 x 64 float32 and
        80-85 ms against 125-150 ms at 16 x 256 x 256 float32; forward and
        backward, 67 ms against 216-224 ms and 95-100 ms against 405-460 ms
        (float64: 120 ms against 1.27 s at 16 x 256 x 256).  So eigh on CPUs.

        Against what a PyTorch user writes (the bench's ``torch-eigh`` peer:
        ``torch.linalg.eigh`` with autograd, 2 threads like NumPy's BLAS),
        same machine, 2026-12-06, κ = 10, medians of 5 (one block per library
        with a pause between).  Before: 2.1x forward / 1.8x forward and
        backward at 64 x 128 x 128 float32, 1.3x / 1.0x at 16 x 256 x 256
        float64, 2.0x / 1.4x at 1 x 1024 x 1024 float32 (issue 12: 2.0x forward at
        256 x 64 x 64 float32).  The eigh path now runs a batch in two chunks
        per thread with one BLAS thread each (matsqrt._chunks.eigh_slices;
        alone: 1.3x / 0.95x, 0.74x / 0.75x, 1.8x / 1.4x) and float32 in
        single-precision LAPACK (matsqrt.eigh.eigh, within the contract:
        docs/accuracy.md; alone: 1.6x / 1.4x, 1.0x / 1.0x, 1.35x / 1.2x);
        both: 1.0x / 1.0x, 0.77x / 0.83x, 1.24x / 1.12x.  ``python -m
        matsqrt.bench`` on a quiet machine (notebooks/results/
        cpu-amd-epyc-2026-12-06-torch-eigh*.json): 16 x 256 x 256 float64
        0.81x / 0.67x, 64 x 128 x 128 float32 0.73x / 1.12x, 1 x 1024 x 1024
        float32 1.17x / 0.90x, 256 x 64 x 64 float32 0.92x / 0.91x in one run
        and 1.8x / 1.3x in another (PyTorch's own time there varied from
        45 to 89 ms between runs; docs/performance.md).  Still eigh on CPUs.

        Measured on an NVIDIA H100 with CuPy 14.2 (2026-11-24, medians,
        condition number 10, forward and backward): CuPy's float32 eigh
        (cuSOLVER syevj) is not accurate to working precision (relative error
        1.4e-5 at n = 64, 2.7e-4 at n = 256, 1.1e-3 at n = 1024, against
        matmul's 5e-7 to 2e-6), so float32 runs matmul.  In float64 eigh is
        accurate (2e-14 to 3e-12) and at 256 x 64 x 64 faster (1.6 ms against
        7.3 ms; its batched Jacobi kernel handles n <= 64), but slower from
        n = 128 on (13.9 ms against 10.3 ms at 64 x 128 x 128, 160 ms against
        27.5 ms at 4 x 1024 x 1024): eigh for n <= 64 in float64 only.
        CUDA tensors (through matsqrt.torch) were not measured: matmul.

        Non-symmetric input goes to :class:`Schur` on NumPy and :class:`DB`
        elsewhere: the product-only iterations are not guaranteed to reach
        the principal root there (measured: 6 of 1500 random right-half-plane
        matrices gave its negative).  On NumPy the Schur method is the
        faster (2-core AMD EPYC, 2026-12-06, float64 general matrices, kappa
        = 10, forward, the batch on the thread pool: 19.4 ms against db's
        37.3 ms at 16 x 64 x 64, 89.5 ms against 223 ms at 4 x 256 x 256;
        docs/performance.md); both meet the contract on the same sweeps
        (docs/accuracy.md), db with the smaller errors since its Newton
        correction has an exact residual (n = 32: 1.8e-16 against 3.7e-15 on
        real general matrices).
        """
        if not _classified(a, xp, symmetric):
            return self.general(xp)
        if is_cupy_namespace(xp):
            if a.dtype == xp.float64 and a.shape[-1] <= _CUPY_EIGH_MAX_N:
                return Eigh(negative="complex")
            return Matmul(**self._iteration_settings())
        if is_torch_namespace(xp) and getattr(a.device, "type", "") == "cuda":
            return Matmul(**self._iteration_settings())
        return Eigh(negative="complex")

    def general(self, xp: Any) -> Schur | DB:
        """The method for general input (and for Hermitian input that ``matmul`` found indefinite)."""
        return Schur() if is_numpy_namespace(xp) else DB(**self._iteration_settings())

    def _iteration_settings(self) -> dict[str, Any]:
        # (eigh and schur have no iteration: tol and maxiter only reach the iterative methods)
        return {k: v for k, v in (("tol", self.tol), ("maxiter", self.maxiter)) if v is not None}

    def forward(self, a: Any, power: Fraction, xp: Any, symmetric: bool | None = None, check: bool = False) -> Root:
        symmetric = _classified(a, xp, symmetric)
        try:
            return self.choose(a, xp, symmetric).forward(a, power, xp, symmetric, check)
        except NegativeEigenvalueError:
            return self.general(xp).forward(a, power, xp, False, check)


Method = str | MTP | MPA | Eigh | NS | Matmul | DB | Schur | Auto
_SHORTCUTS = {"auto": Auto, "eigh": Eigh, "matmul": Matmul, "db": DB, "schur": Schur, "ns": NS, "mpa": MPA,
              "mtp": MTP}
METHODS = tuple(_SHORTCUTS)
_CONFIGS = tuple(_SHORTCUTS.values())


def configure(method: Method, **settings: Any) -> MTP | MPA | Eigh | NS | Matmul | DB | Schur | Auto:
    """The config for ``method`` (a name or a config) with the non-``None`` ``settings`` applied.

    A setting the method does not have raises :class:`ValueError`, so that no
    option is silently ignored.
    """
    if isinstance(method, str):
        try:
            config = _SHORTCUTS[method.lower()]()
        except KeyError:
            raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}") from None
    elif isinstance(method, _CONFIGS):
        config = method
    else:
        raise TypeError(f"method must be a string or a method config; got {type(method).__name__}")
    given = {k: v for k, v in settings.items() if v is not None}
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(given) - fields)
    if unknown:
        name = type(config).__name__
        raise ValueError(f"method {name} has no setting {', '.join(unknown)}; its settings: {sorted(fields)}")
    return dataclasses.replace(config, **given) if given else config


