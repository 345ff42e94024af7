"""Public entry points: validation and dispatch, then the agnostic cores."""

from __future__ import annotations

import dataclasses
import functools
from fractions import Fraction
from typing import Any, Literal, TypeVar, overload

from array_api_compat import device as array_device

from ._chunks import chunked_forward
from ._dask import dask_forward, dask_vjp
from ._errors import ConvergenceInfo
from ._methods import (
    MPA,
    MTP,
    Auto,
    Eigh,
    Method,
    NegativeEigenvalueError,
    Root,
    configure,
    raise_outside_series_domain,
    series_domain,
)
from ._scaling import frobenius_norm
from ._validate import Prepared, batch_indices, namespace_of, prepare
from .eigh import hermitian_part
from .lyapunov import check_settings

__all__ = ["sqrtm", "inv_sqrtm", "sqrtm_vjp", "inv_sqrtm_vjp", "RootVJP"]

_HALF = Fraction(1, 2)
ArrayT = TypeVar("ArrayT")  # the result has the input's array type (NumPy in, NumPy out; CuPy in, CuPy out)
_EMPTY_INFO = ConvergenceInfo(0, 0.0, True, 0.0)


def _residual(a: Any, value: Any, power: Fraction, xp: Any) -> float:
    """||Y^2 - A||_F / ||A||_F, or ||Z A Z - I||_F / sqrt(n) for the inverse, worst over the batch."""
    if power > 0:
        d = value @ value - a
        den = frobenius_norm(a, xp)
        rel = frobenius_norm(d, xp) / xp.where(den > 0, den, xp.ones_like(den))
    else:
        n = a.shape[-1]
        rel = frobenius_norm(value @ a @ value - xp.eye(n, dtype=a.dtype, device=array_device(a)), xp) / n**0.5
    return float(xp.max(rel))


def _root(a, power, method, settings, check_finite, xp) -> tuple[Any, Prepared, Root | None]:
    config = configure(method, **settings)
    xp, (a,) = namespace_of(a, xp=xp)
    # The input class is decided here, once (one host synchronisation, shared
    # with the finiteness check); eigh and auto need it even without checks.
    classify = check_finite or isinstance(config, Auto | Eigh)
    series = isinstance(config, MPA | MTP) and check_finite
    domain = functools.partial(series_domain, xp=xp) if series else None
    prepared = prepare(a, xp, check_finite=check_finite, classify=classify, domain=domain)
    if prepared.empty:
        return xp, prepared, None
    if prepared.outside:
        raise_outside_series_domain(prepared.array, xp, type(config).__name__.lower())
    if power < 0 and check_finite:
        # One host synchronisation; a zero matrix has no inverse square root.
        zero = ~(frobenius_norm(prepared.array, xp)[..., 0, 0] > 0)
        if bool(xp.any(zero)):
            where = batch_indices(zero, tuple(prepared.array.shape[:-2]))
            raise ValueError(f"inv_sqrtm: A contains a zero matrix{where}, which has no inverse square root")
    symmetric = prepared.symmetric
    array = hermitian_part(prepared.array, xp) if symmetric else prepared.array
    auto = config if isinstance(config, Auto) else None
    if auto is not None:
        # Chosen once for the whole batch, so that every chunk runs the same method.
        config = auto.choose(array, xp, symmetric)
    forward = functools.partial(config.forward, power=power, xp=xp, symmetric=symmetric, check=check_finite)
    try:
        # The eigendecomposition runs in chunks of its own, with one BLAS thread each (see _chunks).
        root = chunked_forward(forward, array, xp, eigh=isinstance(config, Eigh))
    except NegativeEigenvalueError:
        if auto is None:
            raise
        # matmul found an indefinite Hermitian matrix: its principal root is complex.
        general = functools.partial(auto.general(xp).forward, power=power, xp=xp, symmetric=False,
                                    check=check_finite)
        root = chunked_forward(general, prepared.array, xp)
    return xp, prepared, root


def _function(a, power, method, settings, return_info, check_finite, xp):
    xp, prepared, root = _root(a, power, method, settings, check_finite, xp)
    if root is None:
        value, info = prepared.zeros(xp), _EMPTY_INFO
    else:
        value, info = prepared.result(xp, root.value), root.info
        if return_info:
            info = dataclasses.replace(info, residual=_residual(prepared.array, root.value, power, xp))
    return (value, info) if return_info else value


_COMMON_DOC = """
    Parameters
    ----------
    A : array_like, shape (..., n, n)
        NumPy, CuPy or other array-API arrays are returned as arrays of the
        same library and device; anything else is converted with NumPy.
    method : str or method config, default "auto"
        ``"auto"``: the fastest accurate method for the backend and the input
        class (symmetric input: eigh on CPUs, matmul on GPUs; non-symmetric
        input: schur on NumPy, db elsewhere; see :class:`Auto`).
        ``"eigh"``: eigendecomposition (symmetric input).  ``"matmul"``:
        accelerated Newton-Schulz, matrix products only, accurate to working
        precision.  ``"db"``: Denman-Beavers with inverses, any matrix with
        a principal root.  ``"schur"``: SciPy's Schur method (NumPy).
        ``"ns"``: coupled Newton-Schulz (iSQRT-COV).  ``"mpa"`` and
        ``"mtp"``: the paper's Padé and Taylor series (symmetric positive
        semi-definite input only).  Configs (:class:`MPA`, :class:`Matmul`,
        ...) give every setting.
    degree : int, optional
        Degree of ``"mpa"`` (default 5) or ``"mtp"`` (default 10).
    scale : {"fro", "spectral"}, optional
        Scaling of ``"mpa"``, ``"mtp"`` and ``"ns"``: ``"fro"`` (default, the
        paper's) divides by ``||A||_F``; ``"spectral"`` by
        ``min(||A||_1, ||A||_inf, ||A^4||_F^(1/4))``, a tighter bound on the
        largest eigenvalue (two more products), which makes the series
        markedly more accurate.
    tol, maxiter : optional
        Stopping settings of the iterative methods (``"matmul"``, ``"ns"``).
    return_info : bool, default False
        Also return a :class:`ConvergenceInfo` whose ``residual`` is
        ``||Y^2 - A||_F / ||A||_F`` (``||Z A Z - I||_F / sqrt(n)`` for the
        inverse root), computed for the purpose.
    check_finite : bool, default True
        Raise :class:`ValueError` if ``A`` holds NaN or infinity (and, for
        the inverse root, a zero matrix); the same synchronisation classifies
        the input (symmetric or not) and lets the series check their domain
        and matmul/ns verify a non-symmetric result.  These checks cost a
        host synchronisation per call on a GPU; ``False`` skips them (a
        non-symmetric result matmul/ns cannot verify is then NaN).
    xp : array namespace, optional
        Inferred from ``A`` when not given.
"""

_ACCURACY_DOC = """
    The result is the principal root (every eigenvalue in the open right
    half-plane) within the documented bound: for symmetric positive
    semi-definite ``A`` with condition number ``kappa`` the accurate methods
    are within ``4 sqrt(n) eps min(sqrt(kappa), sqrt(n / eps))`` (relative
    Frobenius norm) for the root and ``4 sqrt(n) eps kappa`` for the inverse
    root and the gradients, or they raise (see README, "The contract").
"""

_RAISES_DOC = """
    Raises
    ------
    ValueError
        ``A`` not at least 2-D, not square or not finite; a setting the method
        does not have; a matrix without a real principal root (a negative
        eigenvalue, or a singular matrix for the inverse root); input outside
        a method's domain (non-symmetric input to ``"eigh"``, ``"mpa"``,
        ``"mtp"``, or to ``"matmul"``/``"ns"`` when their result cannot be
        verified to be the principal root).  Messages name the batch indices
        at fault.
    TypeError
        Complex, boolean or wider-than-float64 ``A``.
    ConvergenceError
        An iterative method did not reach its tolerance within ``maxiter``.

"""


@overload
def sqrtm(
    A: ArrayT,
    method: Method = ...,
    *,
    degree: int | None = ...,
    scale: str | None = ...,
    tol: float | None = ...,
    maxiter: int | None = ...,
    return_info: Literal[False] = ...,
    check_finite: bool = ...,
    xp: Any = ...,
) -> ArrayT: ...


@overload
def sqrtm(
    A: ArrayT,
    method: Method = ...,
    *,
    degree: int | None = ...,
    scale: str | None = ...,
    tol: float | None = ...,
    maxiter: int | None = ...,
    return_info: Literal[True],
    check_finite: bool = ...,
    xp: Any = ...,
) -> tuple[ArrayT, ConvergenceInfo]: ...


@overload
def sqrtm(
    A: ArrayT,
    method: Method = ...,
    *,
    degree: int | None = ...,
    scale: str | None = ...,
    tol: float | None = ...,
    maxiter: int | None = ...,
    return_info: bool,
    check_finite: bool = ...,
    xp: Any = ...,
) -> ArrayT | tuple[ArrayT, ConvergenceInfo]: ...


@dask_forward
def sqrtm(
    A: Any,
    method: Method = "auto",
    *,
    degree: int | None = None,
    scale: str | None = None,
    tol: float | None = None,
    maxiter: int | None = None,
    return_info: bool = False,
    check_finite: bool = True,
    xp: Any = None,
) -> Any:
    """Principal matrix square root ``A^(1/2)`` of a batch of matrices.
    {common}
    Returns
    -------
    Y : array, shape (..., n, n)
        Same dtype as ``A`` for float32/float64; float64 for integer input;
        float16 input is computed in float32 and returned as float16.
    info : ConvergenceInfo
        Only with ``return_info=True``.
    {raises}
    Notes
    -----
    {accuracy}
    ``"mpa"`` and ``"mtp"`` scale each matrix by ``s = ||A||_F`` (the
    paper's; ``MPA(scale="spectral")`` uses a tighter bound) and evaluate the
    series of ``(1 - z)^(1/2)`` at ``X = I - A / s``: ``A^(1/2) ~ sqrt(s) r(X)``.
    Their error for symmetric ``A`` is exactly the scalar approximation error
    ``max_i |sqrt(lambda_i) - sqrt(s) r(1 - lambda_i / s)|`` up to rounding,
    about 1e-2 relative at condition number 10 and n = 64 for the defaults.

    References
    ----------
    Y. Song, N. Sebe, W. Wang, "Fast Differentiable Matrix Square Root and
    Inverse Square Root", IEEE TPAMI 2022.

    Examples
    --------
    >>> import numpy as np
    >>> import matsqrt
    >>> A = np.array([[4.0, 0.0], [0.0, 9.0]])
    >>> matsqrt.sqrtm(A)
    array([[2., 0.],
           [0., 3.]])
    >>> Y, info = matsqrt.sqrtm(A, "matmul", return_info=True)
    >>> bool(np.allclose(Y, [[2, 0], [0, 3]], rtol=1e-14)), info.converged
    (True, True)
    """
    settings = dict(degree=degree, scale=scale, tol=tol, maxiter=maxiter)
    return _function(A, _HALF, method, settings, return_info, check_finite, xp)


@overload
def inv_sqrtm(
    A: ArrayT,
    method: Method = ...,
    *,
    degree: int | None = ...,
    scale: str | None = ...,
    tol: float | None = ...,
    maxiter: int | None = ...,
    return_info: Literal[False] = ...,
    check_finite: bool = ...,
    xp: Any = ...,
) -> ArrayT: ...


@overload
def inv_sqrtm(
    A: ArrayT,
    method: Method = ...,
    *,
    degree: int | None = ...,
    scale: str | None = ...,
    tol: float | None = ...,
    maxiter: int | None = ...,
    return_info: Literal[True],
    check_finite: bool = ...,
    xp: Any = ...,
) -> tuple[ArrayT, ConvergenceInfo]: ...


@overload
def inv_sqrtm(
    A: ArrayT,
    method: Method = ...,
    *,
    degree: int | None = ...,
    scale: str | None = ...,
    tol: float | None = ...,
    maxiter: int | None = ...,
    return_info: bool,
    check_finite: bool = ...,
    xp: Any = ...,
) -> ArrayT | tuple[ArrayT, ConvergenceInfo]: ...


@dask_forward
def inv_sqrtm(
    A: Any,
    method: Method = "auto",
    *,
    degree: int | None = None,
    scale: str | None = None,
    tol: float | None = None,
    maxiter: int | None = None,
    return_info: bool = False,
    check_finite: bool = True,
    xp: Any = None,
) -> Any:
    """Inverse principal square root ``A^(-1/2)`` of a batch of matrices.
    {common}
    Returns
    -------
    Z : array, shape (..., n, n)
        Dtype rules as :func:`sqrtm`.
    info : ConvergenceInfo
        Only with ``return_info=True``.
    {raises}
    Notes
    -----
    {accuracy}
    Singular input raises: :class:`ValueError` for a zero matrix or with
    ``"eigh"``, :class:`ConvergenceError` with ``"matmul"`` and ``"ns"``.
    ``"mtp"`` uses the series of ``(1 - z)^(-1/2)``; ``"mpa"`` solves the
    Padé pair of the square root the other way round,
    ``A^(-1/2) ~ P(X)^-1 Q(X) / sqrt(s)``.

    Examples
    --------
    >>> import numpy as np
    >>> import matsqrt
    >>> A = np.array([[4.0, 0.0], [0.0, 9.0]])
    >>> np.round(matsqrt.inv_sqrtm(A), 4)
    array([[0.5   , 0.    ],
           [0.    , 0.3333]])
    """
    settings = dict(degree=degree, scale=scale, tol=tol, maxiter=maxiter)
    return _function(A, -_HALF, method, settings, return_info, check_finite, xp)


for _f in (sqrtm, inv_sqrtm):
    _f.__doc__ = (_f.__doc__.replace("{common}", _COMMON_DOC).replace("{raises}", _RAISES_DOC)
                  .replace("{accuracy}", _ACCURACY_DOC.strip() + "\n"))


class RootVJP:
    """The vector-Jacobian product of ``A -> A^(+-1/2)`` at a fixed ``A``.

    Call it with an upstream gradient ``G = dL/dY`` (same shape as ``A``) to
    get ``dL/dA``; ``return_info=True`` also returns the
    :class:`ConvergenceInfo` of the Lyapunov iteration.  ``forward_info`` is
    the info of the forward computation.
    """

    def __init__(self, xp: Any, prepared: Prepared, root: Root | None, maxiter: int | None, tol: float | None):
        self._xp = xp
        self._prepared = prepared
        self._root = root
        self.maxiter = maxiter
        self.tol = tol
        self.forward_info = _EMPTY_INFO if root is None else root.info

    @overload
    def __call__(self, G: ArrayT, *, return_info: Literal[False] = ...) -> ArrayT: ...

    @overload
    def __call__(self, G: ArrayT, *, return_info: Literal[True]) -> tuple[ArrayT, ConvergenceInfo]: ...

    def __call__(self, G: Any, *, return_info: bool = False) -> Any:
        xp = self._xp
        prepared = self._prepared
        _, (g,) = namespace_of(G, xp=xp)
        if tuple(g.shape) != tuple(prepared.array.shape):
            raise ValueError(f"G must have the shape of A, {tuple(prepared.array.shape)}; got {tuple(g.shape)}")
        g = prepare(g, xp, name="G", check_finite=False).array
        if self._root is None:
            grad, info = prepared.zeros(xp), _EMPTY_INFO
        else:
            g = _like(g, self._root.value.dtype, xp)
            grad, info = self._root.backward(g, self.maxiter, self.tol)
            # For real A the gradient of the real loss Re tr(G^H Y) is real, also where Y is complex.
            grad = _like(grad, prepared.array.dtype, xp)
            grad = prepared.result(xp, grad)
        return (grad, info) if return_info else grad


def _like(x: Any, dtype: Any, xp: Any) -> Any:
    """``x`` in ``dtype``; a complex ``x`` going to a real dtype keeps its real part (the part a real
    variable's gradient sees)."""
    if x.dtype == dtype:
        return x
    if xp.isdtype(x.dtype, "complex floating") and not xp.isdtype(dtype, "complex floating"):
        x = xp.real(x)
    return xp.astype(x, dtype)


def _vjp(A, power, method, settings, lyapunov_maxiter, lyapunov_tol, check_finite, xp):
    xp, prepared, root = _root(A, power, method, settings, check_finite, xp)
    check_settings(xp, prepared.array.dtype, lyapunov_maxiter, lyapunov_tol)
    value = prepared.zeros(xp) if root is None else prepared.result(xp, root.value)
    return value, RootVJP(xp, prepared, root, lyapunov_maxiter, lyapunov_tol)


@dask_vjp
def sqrtm_vjp(
    A: ArrayT,
    method: Method = "auto",
    *,
    degree: int | None = None,
    scale: str | None = None,
    tol: float | None = None,
    maxiter: int | None = None,
    lyapunov_maxiter: int | None = None,
    lyapunov_tol: float | None = None,
    check_finite: bool = True,
    xp: Any = None,
) -> tuple[ArrayT, RootVJP]:
    """``A^(1/2)`` and a function computing its vector-Jacobian product.

    Parameters
    ----------
    A, method, degree, scale, tol, maxiter, check_finite, xp
        As in :func:`sqrtm`.
    lyapunov_maxiter : int, optional
        Maximum number of matrix-sign iterations in the backward (default 100).
    lyapunov_tol : float, optional
        Tolerance on ``||B_k - I||_F`` (default
        ``eps`` of the dtype, with one step more once below ``sqrt(eps / 2)``).  ``method="mpa", lyapunov_maxiter=8,
        lyapunov_tol=0`` reproduces the paper's backward exactly: eight
        iterations, no convergence check.  Ignored by ``"eigh"``, whose
        backward is a closed formula.

    Returns
    -------
    Y : array
        ``sqrtm(A, method, ...)``.
    vjp : RootVJP
        ``vjp(G)`` returns ``dL/dA`` for ``G = dL/dY``.  It raises
        :class:`ConvergenceError` when the iteration does not reach its
        tolerance (singular ``A``, for instance), and ``"eigh"`` raises
        :class:`ValueError` at a singular ``A``, where no gradient exists.

    Notes
    -----
    The gradient is that of the exact square root at the computed ``Y``: it
    solves ``Y^T X + X Y^T = G`` by the Newton-Schulz sign iteration of
    :func:`solve_lyapunov` (``"eigh"``: by the Daleckii-Krein formula).  For
    the series methods it starts, as in the paper, from
    ``B_0 = Y^T / sqrt(s)``, ``C_0 = G / sqrt(s)``; ``"matmul"`` adds the
    accelerated step scalings.  ``A`` is treated as an unconstrained
    ``n x n`` matrix: ``X`` has all ``n^2`` entries.  For symmetric
    ``A = U diag(lambda) U^T`` it is ``U (L o (U^T G U)) U^T`` with
    ``L_ij = 1 / (sqrt(lambda_i) + sqrt(lambda_j))``; for symmetric ``G`` this
    equals the gradient under the symmetric-matrix convention.

    Examples
    --------
    >>> import numpy as np
    >>> import matsqrt
    >>> Y, vjp = matsqrt.sqrtm_vjp(np.eye(3))
    >>> E = np.arange(9.0).reshape(3, 3)
    >>> bool(np.allclose(vjp(E), E / 2))
    True
    """
    settings = dict(degree=degree, scale=scale, tol=tol, maxiter=maxiter)
    return _vjp(A, _HALF, method, settings, lyapunov_maxiter, lyapunov_tol, check_finite, xp)


@dask_vjp
def inv_sqrtm_vjp(
    A: ArrayT,
    method: Method = "auto",
    *,
    degree: int | None = None,
    scale: str | None = None,
    tol: float | None = None,
    maxiter: int | None = None,
    lyapunov_maxiter: int | None = None,
    lyapunov_tol: float | None = None,
    check_finite: bool = True,
    xp: Any = None,
) -> tuple[ArrayT, RootVJP]:
    """``A^(-1/2)`` and a function computing its vector-Jacobian product.

    Keywords as in :func:`sqrtm_vjp`.  With ``Z = A^(-1/2)`` and ``G = dL/dZ``
    the series methods solve ``Z^T X + X Z^T = -A^-T G A^-T`` (``A^-1 = Z Z``)
    from ``B_0 = Z^T / ||Z||_F``, as in the paper; ``"matmul"`` solves the
    equivalent ``Y^T X + X Y^T = -Z^T G Z^T`` with the ``Y = A^(1/2)`` it
    computes alongside.  For symmetric ``A`` the gradient is
    ``U (L o (U^T G U)) U^T`` with
    ``L_ij = -1 / (sqrt(l_i) sqrt(l_j) (sqrt(l_i) + sqrt(l_j)))``.

    Examples
    --------
    >>> import numpy as np
    >>> import matsqrt
    >>> Z, vjp = matsqrt.inv_sqrtm_vjp(4.0 * np.eye(2))
    >>> np.round(vjp(np.eye(2)), 4)
    array([[-0.0625,  0.    ],
           [ 0.    , -0.0625]])
    """
    settings = dict(degree=degree, scale=scale, tol=tol, maxiter=maxiter)
    return _vjp(A, -_HALF, method, settings, lyapunov_maxiter, lyapunov_tol, check_finite, xp)
