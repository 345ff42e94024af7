"""Method settings as small frozen configs, with strings as shortcuts.

Every config computes ``A^(+-1/2)`` of a validated batch in its working dtype
and returns a :class:`Root`: the value, its :class:`ConvergenceInfo` and a
``backward(G, maxiter, tol)`` closure for the vector-Jacobian product.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from array_api_compat import device as array_device
from array_api_compat import is_cupy_namespace, is_torch_namespace

from ._errors import ConvergenceError, ConvergenceInfo
from ._scaling import frobenius_norm, spectral_bound
from .eigh import check_symmetric, daleckii_krein, eigh_root
from .lyapunov import DEFAULT_MAXITER, default_tol, raise_if_not_converged, sign_iteration
from .newton_schulz import DIVERGED, coupled_newton_schulz
from .pade import mpa_root
from .taylor import mtp_root

__all__ = ["MTP", "MPA", "Eigh", "NS", "Matmul", "Auto", "METHODS", "Method", "Root", "configure"]

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


def _lyapunov_settings(xp: Any, a: Any, maxiter: int | None, tol: float | None) -> tuple[int, float]:
    maxiter = DEFAULT_MAXITER if maxiter is None else int(maxiter)
    tol = default_tol(xp, a.dtype) if tol is None else float(tol)
    return maxiter, tol


def _solve(xp, a, b0, c0, maxiter, tol, lower=None):
    maxiter, tol = _lyapunov_settings(xp, a, maxiter, tol)
    grad, info = sign_iteration(b0, c0, xp, maxiter=maxiter, tol=tol, lower=lower)
    raise_if_not_converged(info, "vjp", "the root must be nonsingular with its spectrum in the right half-plane")
    return grad, info


def _paper_backward(xp: Any, value: Any, s: Any, power: Fraction) -> Backward:
    """The paper's Lyapunov backward: B_0 = Y^T / sqrt(s), or Z^T / ||Z||_F for the inverse."""
    safe = xp.where(s > 0, s, xp.ones_like(s))

    def backward(g, maxiter, tol):
        vt = xp.matrix_transpose(value)
        if power > 0:
            root_s = xp.sqrt(safe)
            return _solve(xp, value, vt / root_s, g / root_s, maxiter, tol)
        z_norm = frobenius_norm(value, xp)
        a_inv_t = xp.matrix_transpose(value @ value)
        return _solve(xp, value, vt / z_norm, -(a_inv_t @ g @ a_inv_t) / z_norm, maxiter, tol)

    return backward


def _check_scale(scale: str) -> None:
    if scale not in _SCALES:
        raise ValueError(f"scale must be one of {_SCALES}; got {scale!r}")


def _check_degree(name: str, degree: Any) -> None:
    if isinstance(degree, bool) or int(degree) != degree or degree < 1:
        raise ValueError(f"{name} degree must be a positive integer; got {degree!r}")


def _check_iteration(tol: Any, maxiter: Any) -> None:
    if tol is not None and not tol >= 0:
        raise ValueError(f"tol must be non-negative; got {tol!r}")
    if isinstance(maxiter, bool) or int(maxiter) != maxiter or maxiter < 1:
        raise ValueError(f"maxiter must be a positive integer; got {maxiter!r}")


@dataclass(frozen=True)
class MTP:
    """Matrix Taylor polynomial of degree ``degree`` (the paper's: 10).

    ``degree - 1`` matrix products.  ``scale="fro"`` (the paper's) divides by
    ``||A||_F``; ``"spectral"`` by a tighter bound on the largest eigenvalue
    (two more products), which makes the series converge faster.
    """

    degree: int = 10
    scale: str = "fro"

    def __post_init__(self) -> None:
        _check_degree("MTP", self.degree)
        _check_scale(self.scale)

    def forward(self, a: Any, power: Fraction, xp: Any) -> Root:
        s = _scale(a, self.scale, xp)
        value = mtp_root(a, s, power, int(self.degree), xp)
        return Root(value, _EXACT, _paper_backward(xp, value, s, power))


@dataclass(frozen=True)
class MPA:
    """[m/m] matrix Padé approximant, ``m = degree`` (the paper's: 5).

    ``degree - 1`` products and one linear solve; ``scale`` as for :class:`MTP`.
    """

    degree: int = 5
    scale: str = "fro"

    def __post_init__(self) -> None:
        _check_degree("MPA", self.degree)
        _check_scale(self.scale)

    def forward(self, a: Any, power: Fraction, xp: Any) -> Root:
        s = _scale(a, self.scale, xp)
        value = mpa_root(a, s, power, int(self.degree), xp)
        return Root(value, _EXACT, _paper_backward(xp, value, s, power))


@dataclass(frozen=True)
class Eigh:
    """Eigendecomposition of symmetric positive semi-definite input (reference).

    The backward is the Daleckii-Krein formula with closed-form divided
    differences, exact at repeated eigenvalues; it ignores the Lyapunov options.
    """

    def forward(self, a: Any, power: Fraction, xp: Any) -> Root:
        check_symmetric(a, xp, "method 'eigh'")
        return self.forward_symmetric(a, power, xp)

    @staticmethod
    def forward_symmetric(a: Any, power: Fraction, xp: Any) -> Root:
        """:meth:`forward` for input already known to be symmetric (no second check, no host sync)."""
        value, roots, u = eigh_root(a, power, xp)

        def backward(g, maxiter, tol):
            return daleckii_krein(roots, u, g, power, xp), _EXACT

        return Root(value, _EXACT, backward)


@dataclass(frozen=True)
class NS:
    """Coupled Newton-Schulz iteration (iSQRT-COV), scaled by ``||A||_F``.

    Three products a step.  ``tol=0`` runs exactly ``maxiter`` steps, as
    iSQRT-COV does (e.g. ``NS(maxiter=5, tol=0)``); otherwise it stops at
    ``tol`` (default ``eps``), raising :class:`ConvergenceError`
    after ``maxiter`` steps.  The backward is the paper's Lyapunov iteration.
    """

    tol: float | None = None
    maxiter: int = DEFAULT_MAXITER
    scale: str = "fro"

    def __post_init__(self) -> None:
        _check_iteration(self.tol, self.maxiter)
        _check_scale(self.scale)

    def forward(self, a: Any, power: Fraction, xp: Any) -> Root:
        s = _scale(a, self.scale, xp)
        safe = xp.where(s > 0, s, xp.ones_like(s))
        tol = default_tol(xp, a.dtype) if self.tol is None else float(self.tol)
        y, z, info = coupled_newton_schulz(a / safe, xp, maxiter=int(self.maxiter), tol=tol)
        raise_if_not_converged(info, "method 'ns'", "A must be nonsingular with eigenvalues in the right half-plane")
        value = y * xp.sqrt(s) if power > 0 else z / xp.sqrt(safe)
        return Root(value, info, _paper_backward(xp, value, s, power))


# Relative shift, in units of eps, for the square root by 'matmul' (see Matmul).
_SHIFT_EPS = {4: 0.5, 8: 1.0}
# Default lower end of sqrt(lambda / s) the accelerated steps are designed for,
# keyed by "is float32".  Measured on n = 8, condition numbers 1e1..1e10,
# float64: lower = 5e-6 takes 20 steps at every condition number, 1e-3 takes
# 12-13 up to 1e4 and 26 at 1e10, the classical iteration 8-34; smaller
# eigenvalues still converge, so the common well-conditioned case decides.
_LOWER = {False: 1e-3, True: 2e-3}


@dataclass(frozen=True)
class Matmul:
    """Accurate matrix-product-only method: spectral scaling, accelerated Newton-Schulz.

    Forward: ``A`` is divided by an upper bound ``s`` on its spectral radius
    (:func:`spectral_bound`), then the coupled Newton-Schulz iteration runs
    with the step scalings of Chen and Chow (2014), capped so that no
    eigenvalue near 1 loses accuracy, which make small eigenvalues grow 2.25x
    per step instead of 1.5x, until it converges to ``tol``.  It yields
    ``A^(1/2)`` and ``A^(-1/2)`` together.  For the square root it runs on
    ``A + d I`` with ``d = c eps s`` (c = 1 in float64, 0.5 in float32), which
    keeps a singular positive semi-definite ``A`` from stalling it, and removes
    the shift to first order, ``A^(1/2) = Y - (d/2) Z + O(d^2)``: the effect is
    below rounding for condition numbers up to 1e10 (float64) or 1e5
    (float32), and a zero eigenvalue comes out as ``sqrt(d)/2``, the size of
    what rounding does to it in an eigendecomposition.

    Backward: the Lyapunov sign iteration from ``B_0 = Y^T / sqrt(s)``, with
    the same accelerated scalings and stop rule.  For the inverse root it
    solves ``Y^T X + X Y^T = -Z^T G Z^T``, using the ``Z`` of the forward.

    Parameters
    ----------
    tol : float, optional
        Forward tolerance (default ``eps``; see :func:`coupled_newton_schulz`).
    maxiter : int
        Maximum forward steps (default 100).
    lower : float, optional
        Lower end of the scaled spectrum ``sqrt(lambda / s)`` the step scalings
        are designed for (default 1e-3 in float64, 2e-3 in float32, i.e.
        condition numbers to about 1e6 and 2.5e5).  Larger values save steps
        on well-conditioned input; eigenvalues below it still converge, more
        slowly.  The iteration raises it itself once ``||I - Z Y||_F < 1``.
    """

    tol: float | None = None
    maxiter: int = DEFAULT_MAXITER
    lower: float | None = None

    def __post_init__(self) -> None:
        _check_iteration(self.tol, self.maxiter)
        if self.lower is not None and not 0 < self.lower < 1:
            raise ValueError(f"lower must lie in (0, 1); got {self.lower!r}")

    def forward(self, a: Any, power: Fraction, xp: Any) -> Root:
        n = a.shape[-1]
        eps = float(xp.finfo(a.dtype).eps)
        shift = _SHIFT_EPS.get(xp.finfo(a.dtype).bits // 8, 1.0) * eps
        lower = _LOWER[a.dtype == xp.float32] if self.lower is None else float(self.lower)
        tol = default_tol(xp, a.dtype) if self.tol is None else float(self.tol)
        s = spectral_bound(a, xp)
        safe = xp.where(s > 0, s, xp.ones_like(s))
        if power > 0:
            eye = xp.eye(n, dtype=a.dtype, device=array_device(a))
            u = (a / safe + shift * eye) / (1.0 + shift)
        else:
            u = a / safe
        y, z, info = coupled_newton_schulz(u, xp, maxiter=int(self.maxiter), tol=tol, lower=lower)
        raise_if_not_converged(
            info, "method 'matmul'",
            "A must be positive definite (inv_sqrtm) or semi-definite, or have eigenvalues with positive real part",
        )
        if power > 0:
            # Undo the shift to first order: sqrt(U - d) = sqrt(U) - (d/2) U^(-1/2) + O(d^2).
            value = y = (y - (0.5 * shift / (1.0 + shift)) * z) * xp.sqrt(s * (1.0 + shift))
            root_s = xp.sqrt(safe * (1.0 + shift))
            z = None  # the backward of the square root does not need it: free it now
        else:
            root_s = xp.sqrt(safe)
            y, z = y * root_s, z / root_s
            value = z

        def backward(g, maxiter, tol):
            if power < 0:
                zt = xp.matrix_transpose(z)
                g = -(zt @ g @ zt)
            b0 = xp.matrix_transpose(y) / root_s
            return _solve(xp, y, b0, g / root_s, maxiter, tol, lower)

        return Root(value, info, backward)


# Largest n for which auto runs eigh on CuPy (float64 only; see Auto.choose).
_CUPY_EIGH_MAX_N = 64


def _is_symmetric(a: Any, xp: Any) -> bool:
    try:
        check_symmetric(a, xp, "eigh")
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Auto:
    """Pick the fastest accurate method for the backend, dtype and input.

    On NumPy and other CPU libraries: :class:`Eigh` for symmetric input, else
    :class:`Matmul`.  On CuPy and CUDA tensors: :class:`Matmul`, except
    :class:`Eigh` for symmetric float64 input with ``n <= 64`` on CuPy.  See
    :func:`Auto.choose` for the measurements behind the choice.  Input with
    eigenvalues in the left half-plane raises :class:`ValueError` whichever
    method runs (matmul's diverging iteration is reported as such).
    """

    @staticmethod
    def choose(a: Any, xp: Any) -> Eigh | Matmul:
        """The method ``auto`` runs for ``a``.

        Measured on this project's 2-core AMD EPYC CPU (NumPy 2.4, OpenBLAS,
        2026-11-24, medians of 5, κ = 1e1 and 1e4): forward, eigh takes
        55-61 ms against matmul's 72-79 ms at 256 x 64 x 64 float32 and
        80-85 ms against 125-150 ms at 16 x 256 x 256 float32; forward and
        backward, 67 ms against 216-224 ms and 95-100 ms against 405-460 ms
        (float64: 120 ms against 1.27 s at 16 x 256 x 256).  So eigh on CPUs.

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
        """
        if is_cupy_namespace(xp):
            if a.dtype == xp.float64 and a.shape[-1] <= _CUPY_EIGH_MAX_N and _is_symmetric(a, xp):
                return Eigh()
            return Matmul()
        if is_torch_namespace(xp) and getattr(a.device, "type", "") == "cuda":
            return Matmul()
        return Eigh() if _is_symmetric(a, xp) else Matmul()

    def forward(self, a: Any, power: Fraction, xp: Any) -> Root:
        return self.run(self.choose(a, xp), a, power, xp)

    @staticmethod
    def run(method: Eigh | Matmul, a: Any, power: Fraction, xp: Any) -> Root:
        """``method.forward`` for the ``method`` :meth:`choose` returned.

        Eigh was chosen because ``a`` is symmetric, so it is not checked again;
        a diverging matmul is reported as :class:`ValueError`.
        """
        try:
            if isinstance(method, Eigh):
                return method.forward_symmetric(a, power, xp)
            return method.forward(a, power, xp)
        except ConvergenceError as exc:
            # Where auto runs matmul, a diverging iteration means what eigh reports
            # as a ValueError elsewhere: eigenvalues outside the right half-plane.
            if not exc.info.residual <= DIVERGED:
                raise ValueError("A has eigenvalues with negative real part, or too far from the real axis for "
                                 f"the iteration (auto ran matmul: {exc})") from exc
            raise


Method = str | MTP | MPA | Eigh | NS | Matmul | Auto
_SHORTCUTS = {"auto": Auto, "eigh": Eigh, "matmul": Matmul, "ns": NS, "mpa": MPA, "mtp": MTP}
METHODS = tuple(_SHORTCUTS)
_CONFIGS = tuple(_SHORTCUTS.values())


def configure(method: Method, **settings: Any) -> MTP | MPA | Eigh | NS | Matmul | Auto:
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
