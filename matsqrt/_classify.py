"""The input classes, decided once per call, and the rounding test behind them.

A batch is *symmetric* when every matrix is symmetric to rounding (test
below); everything else is *general*.  Which method serves which class on
which backend is the table of :class:`matsqrt.Auto`:

=========================  ===============================  ==================
class                      NumPy and other CPU libraries    CuPy, CUDA tensors
=========================  ===============================  ==================
symmetric                  ``eigh``                         ``matmul`` (CuPy
                                                            float64, n <= 64:
                                                            ``eigh``)
general (non-symmetric)    ``schur`` (NumPy), ``db``        ``db``
=========================  ===============================  ==================

Symmetric input is positive semi-definite or refused: ``eigh`` reads the
eigenvalues, ``matmul`` diverges visibly on a negative eigenvalue.  General
input goes to SciPy's Schur method on NumPy and elsewhere to the
Denman-Beavers iteration, which converges to the principal root for every
nonsingular matrix without eigenvalues on the negative real axis, and to
nothing else.
"""

from __future__ import annotations

from typing import Any

from ._fused import frobenius_norm

__all__ = ["symmetric_flags", "SYMMETRY_TOL"]

# Relative Frobenius size of A - A^T, in units of eps, below which A counts as
# symmetric and its symmetric part (A + A^T) / 2 is used.  Why 2: the skew part
# K = (A - A^T) / 2 then has ||K||_F <= eps ||A||_F, and dropping it moves the
# square root by at most ||K||_F / (2 sqrt(lambda_min)) <= (sqrt(n) / 2) eps
# sqrt(kappa) ||A^(1/2)||_F, within the documented error bound.  Products
# X @ X.T from BLAS are symmetric bitwise (same products, same order) or
# nearly so; anything larger is data and takes the general path.
SYMMETRY_TOL = 2.0


def symmetric_flags(a: Any, xp: Any) -> Any:
    """Per matrix: ``||A - A^T||_F <= 2 eps ||A||_F`` (a boolean array of the batch shape).

    No host synchronisation.  NaN entries make the flag false.
    """
    eps = float(xp.finfo(a.dtype).eps)
    half = 0.5 * a
    skew = frobenius_norm(half - xp.matrix_transpose(half), xp)
    # ||A - A^T|| = 2 ||skew||: compare 2 ||skew|| <= tol eps ||A||.
    ok = 2.0 * skew <= SYMMETRY_TOL * eps * frobenius_norm(a, xp)
    return ok[..., 0, 0]
