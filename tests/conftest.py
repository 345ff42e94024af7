"""Backends every test runs on: one test body, each array library.

``array_api_strict`` is the referee: code that passes there uses only the
standard.  ``numpy_readonly`` hands the library read-only arrays, so any write
into a caller's array fails loudly.  ``cupy`` is skipped without a GPU.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The backend fixture is constant across examples, so sharing it is safe.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("ci", max_examples=40, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("dev", max_examples=20, **_COMMON)
settings.register_profile("thorough", max_examples=500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@dataclass(frozen=True)
class Backend:
    name: str
    xp: Any
    to_backend: Callable[[np.ndarray], Any]
    to_numpy: Callable[[Any], np.ndarray]

    def asarray(self, a: np.ndarray, dtype: Any = None) -> Any:
        a = np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype)
        return self.to_backend(a)

    def __repr__(self) -> str:
        return self.name


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def _cupy_backend() -> Backend | None:
    try:
        cupy = importlib.import_module("cupy")
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:
        return None
    from array_api_compat import array_namespace

    xp = array_namespace(cupy.empty(0))
    return Backend("cupy", xp, cupy.asarray, cupy.asnumpy)


def _make(name: str) -> Backend | None:
    from array_api_compat import array_namespace

    if name == "numpy":
        return Backend(name, array_namespace(np.empty(0)), np.asarray, np.asarray)
    if name == "numpy_readonly":
        return Backend(name, array_namespace(np.empty(0)), _readonly, np.asarray)
    if name == "array_api_strict":
        strict = importlib.import_module("array_api_strict")
        return Backend(name, strict, strict.asarray, lambda a: np.from_dlpack(a).copy())
    if name == "cupy":
        return _cupy_backend()
    raise ValueError(name)


BACKEND_NAMES = ("numpy", "numpy_readonly", "array_api_strict", "cupy")
_CACHE: dict[str, Backend | None] = {}


@pytest.fixture(params=BACKEND_NAMES)
def backend(request) -> Backend:
    name = request.param
    if name not in _CACHE:
        _CACHE[name] = _make(name)
    if _CACHE[name] is None:
        pytest.skip(f"{name} is not available on this machine")
    return _CACHE[name]
