"""What a user installs: the wheel's contents and the type checker's view of the installed package.

The wheel is built from a copy of the sources (no build artefacts in the
checkout) with the test environment's setuptools, unpacked into a directory
that stands for site-packages, and mypy is run on a small typed example with
that directory on ``PYTHONPATH``: mypy treats it as an installed package, which
it type-checks only if the wheel ships ``py.typed``.
"""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import matsqrt

ROOT = Path(__file__).resolve().parents[1]

EXAMPLE = '''\
import numpy as np
import numpy.typing as npt

import matsqrt

A: npt.NDArray[np.float64] = np.eye(3)
reveal_type(matsqrt.sqrtm(A))
reveal_type(matsqrt.sqrtm(A, "matmul", return_info=True))
reveal_type(matsqrt.inv_sqrtm(A, degree=3))
Y, vjp = matsqrt.sqrtm_vjp(A)
reveal_type(Y)
reveal_type(vjp(A))
reveal_type(matsqrt.inv_sqrtm_vjp(A)[0])
reveal_type(matsqrt.solve_lyapunov(A, A))
reveal_type(matsqrt.solve_lyapunov(A, A, return_info=True))
matsqrt.sqrtm(A, degree="five")
'''

ARRAY = "numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.float64]]"
WITH_INFO = f"tuple[{ARRAY}, matsqrt._errors.ConvergenceInfo]"
EXPECTED = [ARRAY, WITH_INFO, ARRAY, ARRAY, ARRAY, ARRAY, ARRAY, WITH_INFO]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "matsqrt", src / "matsqrt", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"), "."],
        cwd=src, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    (path,) = (tmp / "dist").glob("matsqrt-*.whl")
    return path


def test_wheel_ships_py_typed_license_and_the_single_version(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_string(zf.read(meta_name).decode())
        (license_name,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert zf.read(license_name).decode().startswith("MIT License")
    assert "matsqrt/py.typed" in names
    assert {"matsqrt/__init__.py", "matsqrt/_api.py", "matsqrt/torch.py", "matsqrt/jax.py"} <= names
    assert not any(n.startswith(("tests/", "notebooks/", "docs/", "scripts/")) for n in names)
    # one source for the version: __init__.py; pyproject.toml reads it
    assert meta["Version"] == matsqrt.__version__
    assert not re.search(r"^version\s*=\s*\"", (ROOT / "pyproject.toml").read_text(), flags=re.M)
    assert meta["License-Expression"] == "MIT"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert meta["Author"]


def test_type_checker_sees_array_in_array_out(wheel, tmp_path):
    pytest.importorskip("mypy")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    (tmp_path / "example.py").write_text(EXAMPLE)
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", "example.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    out = done.stdout + done.stderr
    revealed = re.findall(r'Revealed type is "(.*)"', out)
    assert revealed == EXPECTED, out
    # the typed signatures catch a wrong argument; nothing else in the example is an error
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "example.py:16:" in errors[0] and "sqrtm" in errors[0], out
