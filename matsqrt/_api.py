"""Public entry points: validation and dispatch, then the agnostic cores."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ._dask import dask_forward, dask_vjp
from ._errors import ConvergenceInfo
from ._methods import Method, resolve_method
from ._scaling import frobenius_norm
from ._validate import Prepared, namespace_of, prepare
from .lyapunov import DEFAULT_MAXITER, default_tol, raise_if_not_converged, sign_iteration

__all__ = ["sqrtm", "inv_sqrtm", "sqrtm_vjp", "inv_sqrtm_vjp"]

_HALF = Fraction(1, 2)


def _forward(a: Any, power: Fraction, method: Method, degree: int | None, check_finite: bool, xp: Any):
    config = resolve_method(method, degree)
    xp, (a,) = namespace_of(a, xp=xp)
    prepared = prepare(a, xp, check_finite=check_finite)
    if prepared.empty:
        return xp, prepared, prepared.zeros(xp), None
    if power < 0 and check_finite:
        # One host synchronisation; a zero matrix has no inverse square root.
        if not bool(xp.all(frobenius_norm(prepared.array, xp) > 0)):
            raise ValueError("inv_sqrtm: A contains a zero matrix, which has no inverse square root")
    y, s = config.root(prepared.array, power, xp)
    return xp, prepared, y, s


@dask_forward
def sqrtm(
    A: Any, method: Method = "mpa", *, degree: int | None = None, check_finite: bool = True, xp: Any = None
) -> Any:
    """Principal matrix square root ``A^(1/2)`` of a batch of matrices.

    Parameters
    ----------
    A : array_like, shape (..., n, n)
        Matrices with their spectrum in the region where the method converges:
        symmetric positive semi-definite, or any matrix whose eigenvalues
        ``lambda`` satisfy ``|1 - lambda / ||A||_F| < 1``.  NumPy, CuPy and
        other array-API arrays are returned as arrays of the same library and
        device.
    method : {"mpa", "mtp"} or MPA or MTP, default "mpa"
        ``"mpa"``: [m/m] matrix Padé approximant.  ``"mtp"``: matrix Taylor
        polynomial.  Both as in Song, Sebe and Wang (2022).
    degree : int, optional
        ``m`` for MPA (default 5), the polynomial degree for MTP (default 10).
    check_finite : bool, default True
        Raise :class:`ValueError` if ``A`` holds NaN or infinity (and, for
        :func:`inv_sqrtm`, a zero matrix).  These checks cost a host
        synchronisation per call on a GPU; ``False`` skips them, and the
        forward then never synchronises.
    xp : array namespace, optional
        Inferred from ``A`` when not given.

    Returns
    -------
    Y : array, shape (..., n, n)
        Same dtype as ``A`` for float32/float64; float64 for integer input;
        float16 input is computed in float32 and returned as float16.

    Raises
    ------
    ValueError
        ``A`` not at least 2-D, not square, or not finite.
    TypeError
        Complex or boolean ``A``.

    Notes
    -----
    Each matrix is scaled by ``s = ||A||_F`` and the series of
    ``(1 - z)^(1/2)`` is evaluated at ``X = I - A / s``:
    ``A^(1/2) ~ sqrt(s) r(X)``.  These are the paper's settings; their error
    grows with the condition number (about 1e-2 relative at condition number
    10, n = 64).  The error for symmetric ``A`` is exactly the scalar
    approximation error ``max_i |sqrt(lambda_i) - sqrt(s) r(1 - lambda_i / s)|``
    up to rounding.

    References
    ----------
    Y. Song, N. Sebe, W. Wang, "Fast Differentiable Matrix Square Root and
    Inverse Square Root", IEEE TPAMI 2022.

    Examples
    --------
    >>> import numpy as np
    >>> import matsqrt
    >>> A = np.array([[4.0, 0.0], [0.0, 9.0]])
    >>> Y = matsqrt.sqrtm(A, degree=12)
    >>> np.round(Y, 2)
    array([[2., 0.],
           [0., 3.]])
    """
    xp, prepared, y, _ = _forward(A, _HALF, method, degree, check_finite, xp)
    return prepared.result(xp, y)


@dask_forward
def inv_sqrtm(
    A: Any, method: Method = "mpa", *, degree: int | None = None, check_finite: bool = True, xp: Any = None
) -> Any:
    """Inverse principal square root ``A^(-1/2)`` of a batch of matrices.

    Parameters, returns and dtype rules are those of :func:`sqrtm`.  MTP uses
    the Taylor series of ``(1 - z)^(-1/2)``; MPA solves the Padé pair of the
    square root the other way round: ``A^(-1/2) ~ P(X)^-1 Q(X) / sqrt(s)``.

    Raises
    ------
    ValueError
        As :func:`sqrtm`, and when a matrix of the batch is zero (checked
        with ``check_finite=True``).
    TypeError
        Complex or boolean ``A``.

    Examples
    --------
    >>> import numpy as np
    >>> import matsqrt
    >>> A = np.array([[4.0, 0.0], [0.0, 9.0]])
    >>> np.round(matsqrt.inv_sqrtm(A, degree=12), 3)
    array([[0.5  , 0.   ],
           [0.   , 0.333]])
    """
    xp, prepared, z, _ = _forward(A, -_HALF, method, degree, check_finite, xp)
    return prepared.result(xp, z)


class RootVJP:
    """The vector-Jacobian product of ``A -> A^(+-1/2)`` at a fixed ``A``.

    Call it with an upstream gradient ``G = dL/dY`` (same shape as ``A``) to
    get ``dL/dA``; ``return_info=True`` also returns the
    :class:`ConvergenceInfo` of the Lyapunov iteration.
    """

    def __init__(self, xp: Any, prepared: Prepared, root: Any, b0: Any, scale: Any, inverse: Any,
                 maxiter: int, tol: float):
        self._xp = xp
        self._prepared = prepared
        self._root = root
        self._b0 = b0
        self._scale = scale
        self._inverse = inverse
        self.maxiter = maxiter
        self.tol = tol

    def __call__(self, G: Any, *, return_info: bool = False) -> Any:
        xp = self._xp
        prepared = self._prepared
        _, (g,) = namespace_of(G, xp=xp)
        if tuple(g.shape) != tuple(prepared.array.shape):
            raise ValueError(f"G must have the shape of A, {tuple(prepared.array.shape)}; got {tuple(g.shape)}")
        g = prepare(g, xp, name="G", check_finite=False).array
        g = g if g.dtype == prepared.array.dtype else xp.astype(g, prepared.array.dtype)
        if prepared.empty:
            grad, info = prepared.zeros(xp), ConvergenceInfo(0, 0.0, True, self.tol)
        else:
            c = g if self._inverse is None else -(self._inverse @ g @ self._inverse)
            grad, info = sign_iteration(self._b0, c / self._scale, xp, maxiter=self.maxiter, tol=self.tol)
            raise_if_not_converged(info, "vjp", "the root must be nonsingular with a well-separated spectrum")
            grad = prepared.result(xp, grad)
        return (grad, info) if return_info else grad


def _vjp(A, power, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite, xp):
    xp, prepared, y, s = _forward(A, power, method, degree, check_finite, xp)
    maxiter = DEFAULT_MAXITER if lyapunov_maxiter is None else int(lyapunov_maxiter)
    n = prepared.array.shape[-1]
    tol = default_tol(xp, prepared.array.dtype, n) if lyapunov_tol is None else float(lyapunov_tol)
    if maxiter < 0 or tol < 0:
        raise ValueError("lyapunov_maxiter and lyapunov_tol must be non-negative")
    if prepared.empty:
        return prepared.result(xp, y), RootVJP(xp, prepared, y, None, None, None, maxiter, tol)
    yt = xp.matrix_transpose(y)
    if power > 0:
        # B_0 = Y^T / sqrt(||A||_F): the paper's scaling, spectrum in (0, 1].
        scale = xp.sqrt(xp.where(s > 0, s, xp.ones_like(s)))
        inverse = None
    else:
        # B_0 = Z^T / ||Z||_F and C = -A^-T G A^-T with A^-1 = Z Z.
        scale = frobenius_norm(y, xp)
        inverse = xp.matrix_transpose(y @ y)
    vjp = RootVJP(xp, prepared, y, yt / scale, scale, inverse, maxiter, tol)
    return prepared.result(xp, y), vjp


@dask_vjp
def sqrtm_vjp(
    A: Any,
    method: Method = "mpa",
    *,
    degree: int | None = None,
    lyapunov_maxiter: int | None = None,
    lyapunov_tol: float | None = None,
    check_finite: bool = True,
    xp: Any = None,
) -> tuple[Any, RootVJP]:
    """``A^(1/2)`` and a function computing its vector-Jacobian product.

    Parameters
    ----------
    A, method, degree, check_finite, xp
        As in :func:`sqrtm`.
    lyapunov_maxiter : int, optional
        Maximum number of matrix-sign iterations in the backward (default 100).
    lyapunov_tol : float, optional
        Tolerance on the RMS entry of ``B_k - I`` (default
        ``50 * sqrt(n) * eps``).
        ``lyapunov_maxiter=8, lyapunov_tol=0`` reproduces the paper's backward
        exactly: eight iterations, no convergence check.

    Returns
    -------
    Y : array
        ``sqrtm(A, method, degree=degree)``.
    vjp : RootVJP
        ``vjp(G)`` returns ``dL/dA`` for ``G = dL/dY``.  It raises
        :class:`ConvergenceError` when the iteration does not reach its
        tolerance (singular ``A``, for instance).

    Notes
    -----
    The gradient is that of the exact square root at the computed ``Y``: it
    solves ``Y^T X + X Y^T = G`` by the Newton-Schulz sign iteration of
    :func:`solve_lyapunov`, started from ``B_0 = Y^T / sqrt(||A||_F)``,
    ``C_0 = G / sqrt(||A||_F)``.  ``A`` is treated as an unconstrained
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
    return _vjp(A, _HALF, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite, xp)


@dask_vjp
def inv_sqrtm_vjp(
    A: Any,
    method: Method = "mpa",
    *,
    degree: int | None = None,
    lyapunov_maxiter: int | None = None,
    lyapunov_tol: float | None = None,
    check_finite: bool = True,
    xp: Any = None,
) -> tuple[Any, RootVJP]:
    """``A^(-1/2)`` and a function computing its vector-Jacobian product.

    Keywords as in :func:`sqrtm_vjp`.  With ``Z = A^(-1/2)`` and ``G = dL/dZ``
    the gradient solves ``Z^T X + X Z^T = -A^-T G A^-T`` (``A^-1 = Z Z``),
    started from ``B_0 = Z^T / ||Z||_F`` as in the paper.  For symmetric
    ``A`` it equals ``U (L o (U^T G U)) U^T`` with
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
    return _vjp(A, -_HALF, method, degree, lyapunov_maxiter, lyapunov_tol, check_finite, xp)
