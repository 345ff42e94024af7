"""Method settings as small frozen configs, with strings as shortcuts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from .pade import mpa_root
from .taylor import mtp_root

__all__ = ["MTP", "MPA", "METHODS", "Method", "resolve_method"]


@dataclass(frozen=True)
class MTP:
    """Matrix Taylor polynomial of degree ``degree`` (the paper's: 10).

    Costs ``degree - 1`` matrix products.  Accuracy degrades as the smallest
    eigenvalue of ``A / ||A||_F`` approaches 0.
    """

    degree: int = 10

    def __post_init__(self) -> None:
        if int(self.degree) != self.degree or self.degree < 1:
            raise ValueError(f"MTP degree must be a positive integer; got {self.degree!r}")

    def root(self, a: Any, power: Fraction, xp: Any) -> tuple[Any, Any]:
        return mtp_root(a, power, int(self.degree), xp)


@dataclass(frozen=True)
class MPA:
    """[m/m] matrix Padé approximant with ``m = degree`` (the paper's: 5).

    Costs ``degree - 1`` matrix products and one linear solve.
    """

    degree: int = 5

    def __post_init__(self) -> None:
        if int(self.degree) != self.degree or self.degree < 1:
            raise ValueError(f"MPA degree must be a positive integer; got {self.degree!r}")

    def root(self, a: Any, power: Fraction, xp: Any) -> tuple[Any, Any]:
        return mpa_root(a, power, int(self.degree), xp)


Method = str | MTP | MPA
_SHORTCUTS = {"mtp": MTP, "mpa": MPA}
METHODS = tuple(_SHORTCUTS)


def resolve_method(method: Method, degree: int | None) -> MTP | MPA:
    """The config for ``method`` (a name or a config), with ``degree`` applied."""
    if isinstance(method, str):
        try:
            config = _SHORTCUTS[method.lower()]()
        except KeyError:
            raise ValueError(f"unknown method {method!r}; choose one of {sorted(_SHORTCUTS)}") from None
    elif isinstance(method, (MTP, MPA)):
        config = method
    else:
        raise TypeError(f"method must be a string or a method config; got {type(method).__name__}")
    return config if degree is None else replace(config, degree=degree)
