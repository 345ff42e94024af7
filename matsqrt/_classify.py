"""The input classes, decided once per call, and the rounding test behind them.

A batch is real or complex (its dtype).  It is *Hermitian* when every matrix
equals its conjugate transpose to rounding (test below; for real input:
symmetric); everything else is *general*.  Which method serves which class
on which backend is the table of :class:`matsqrt.Auto`:

==========================  ===============================  ==================
class                       NumPy and other CPU libraries    CuPy, CUDA tensors
==========================  ===============================  ==================
Hermitian (real symmetric   ``eigh``                         ``matmul`` (CuPy
or complex Hermitian)                                        real float64,
                                                             n <= 64: ``eigh``)
general, real or complex    ``schur`` (NumPy), ``db``        ``db``
==========================  ===============================  ==================

Hermitian input: ``eigh`` reads the eigenvalues; a negative one makes the
principal root complex (``auto`` returns it, as SciPy does; the methods
named for positive semi-definite input refuse it), and ``matmul`` diverges
visibly on it (``auto`` then runs the general method).  General input goes
to SciPy's Schur method on NumPy and elsewhere to the Denman-Beavers
iteration, which converges to the principal root for every nonsingular
matrix without eigenvalues on the closed negative real axis, and to nothing
else; matrices with such eigenvalues are then handled by
:func:`matsqrt._methods.DB` on its fallback path (a rotation off the branch
cut, a shift for a semi-simple zero eigenvalue).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import is_numpy_namespace

from ._fused import frobenius_norm

__all__ = ["hermitian_flags", "conj_transpose", "is_complex", "real_dtype", "complex_dtype", "SYMMETRY_TOL"]

# Relative Frobenius size of A - A^T, in units of eps, below which A counts as
# symmetric and its symmetric part (A + A^T) / 2 is used.  Why 2: the skew part
# K = (A - A^T) / 2 then has ||K||_F <= eps ||A||_F, and dropping it moves the
# square root by at most ||K||_F / (2 sqrt(lambda_min)) <= (sqrt(n) / 2) eps
# sqrt(kappa) ||A^(1/2)||_F, within the documented error bound.  Products
# X @ X.T from BLAS are symmetric bitwise (same products, same order) or
# nearly so; anything larger is data and takes the general path.
SYMMETRY_TOL = 2.0


def is_complex(x: Any, xp: Any) -> bool:
    """Whether ``x`` (an array or a dtype) is complex floating."""
    return bool(xp.isdtype(getattr(x, "dtype", x), "complex floating"))


def real_dtype(dtype: Any, xp: Any) -> Any:
    """The real dtype of the same precision (``complex64 -> float32``)."""
    if not xp.isdtype(dtype, "complex floating"):
        return dtype
    return xp.float32 if xp.finfo(dtype).bits == 32 else xp.float64


def complex_dtype(dtype: Any, xp: Any) -> Any:
    """The complex dtype of the same precision (``float32 -> complex64``; narrower floats: complex64)."""
    if xp.isdtype(dtype, "complex floating"):
        return dtype
    return xp.complex128 if xp.finfo(dtype).bits == 64 else xp.complex64


def conj_transpose(x: Any, xp: Any) -> Any:
    """``X^H`` (the transpose for real ``X``), batched."""
    t = xp.matrix_transpose(x)
    return xp.conj(t) if is_complex(t, xp) else t


def hermitian_flags(a: Any, xp: Any) -> Any:
    """Per matrix: ``||A - A^H||_F <= 2 eps ||A||_F`` (a boolean array of the batch shape).

    ``A^H`` is the conjugate transpose (the transpose for real input).  No
    host synchronisation.  NaN entries make the flag false.
    """
    eps = float(xp.finfo(a.dtype).eps)
    if is_numpy_namespace(xp) and not is_complex(a, xp) and a.size:
        # One pass each (measured 8.8 ms -> 1.0 ms at 256 x 64 x 64 float32); the scaled form below where a
        # sum overflows or underflows.
        from ._fused import numpy_sum_squares

        plain = np.asarray(a)
        skew2, norm2 = numpy_sum_squares(plain - np.swapaxes(plain, -1, -2), small=True), numpy_sum_squares(plain)
        if skew2 is not None and norm2 is not None:
            return np.sqrt(skew2) <= SYMMETRY_TOL * eps * np.sqrt(norm2)
    half = 0.5 * a
    skew = frobenius_norm(half - conj_transpose(half, xp), xp)
    # ||A - A^T|| = 2 ||skew||: compare 2 ||skew|| <= tol eps ||A||.
    ok = 2.0 * skew <= SYMMETRY_TOL * eps * frobenius_norm(a, xp)
    return ok[..., 0, 0]
