"""Convergence reporting shared by every iterative method."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConvergenceError", "ConvergenceInfo"]


@dataclass(frozen=True)
class ConvergenceInfo:
    """How an iteration ended.

    Attributes
    ----------
    iterations : int
        Iterations performed.
    residual : float
        Achieved error measure, the worst over the batch (its meaning is given
        by the function that returns it), or ``nan`` when it was not measured
        (fixed iteration counts with ``tol=0``).
    converged : bool
        Whether the iteration reached ``tol``, or the rounding floor of a
        quadratically convergent iteration just above it.  ``True`` for a
        fixed iteration count, where no tolerance was asked for.
    tol : float
        The tolerance the iteration was asked to reach (0 for a fixed count).
    """

    iterations: int
    residual: float
    converged: bool
    tol: float


class ConvergenceError(ArithmeticError):
    """An iteration did not reach its tolerance within its iteration limit.

    The :class:`ConvergenceInfo` of the failed iteration is available as the
    ``info`` attribute.
    """

    def __init__(self, message: str, info: ConvergenceInfo):
        super().__init__(message)
        self.info = info
