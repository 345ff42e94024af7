"""Fast differentiable matrix square roots and inverse square roots.

One backend-neutral implementation (Python array API) of the matrix Taylor
polynomial and matrix Padé approximant forwards and the Lyapunov
(matrix-sign iteration) backward of Song, Sebe and Wang (TPAMI 2022), for
NumPy, CuPy and any array-API library, on batches ``(..., n, n)``.
"""

from ._api import RootVJP, inv_sqrtm, inv_sqrtm_vjp, sqrtm, sqrtm_vjp
from ._coefficients import pade_coefficients, taylor_coefficients
from ._errors import ConvergenceError, ConvergenceInfo
from ._methods import DB, METHODS, MPA, MTP, NS, Auto, Eigh, Matmul, Schur
from .lyapunov import solve_lyapunov

__version__ = "0.1.0"

__all__ = [
    "sqrtm",
    "inv_sqrtm",
    "sqrtm_vjp",
    "inv_sqrtm_vjp",
    "solve_lyapunov",
    "RootVJP",
    "MTP",
    "NS",
    "Eigh",
    "Matmul",
    "DB",
    "Schur",
    "Auto",
    "METHODS",
    "MPA",
    "ConvergenceError",
    "ConvergenceInfo",
    "taylor_coefficients",
    "pade_coefficients",
]
