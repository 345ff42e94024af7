"""Frameworks stay optional: nothing imports them but their adapter, which names its extra."""

import subprocess
import sys

import pytest

# Run first in a fresh interpreter: makes `import NAME` fail for the listed
# top-level packages, as if they were not installed.
UNINSTALL = """
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {names!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, _Absent())
"""


def run_python(code, absent=()):
    prelude = UNINSTALL.format(names=set(absent)) if absent else ""
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)


def test_import_matsqrt_imports_no_framework():
    # Also after using the NumPy API: the dask check must not import dask.
    result = run_python(
        "import sys, numpy as np, matsqrt\n"
        "matsqrt.sqrtm_vjp(np.eye(2))[1](np.eye(2))\n"
        "print(sorted(m for m in ('torch', 'jax', 'dask', 'distributed') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_matsqrt_works_with_no_framework_installed():
    result = run_python(
        "import numpy as np, matsqrt\nprint(matsqrt.sqrtm(4.0 * np.eye(2), 'mpa', degree=12)[0, 0])",
        absent=("torch", "jax", "dask", "distributed"),
    )
    assert result.returncode == 0, result.stderr
    assert abs(float(result.stdout) - 2.0) < 1e-12


@pytest.mark.parametrize("adapter", ["torch", "jax"])
def test_adapter_without_its_framework_names_the_extra(adapter):
    result = run_python(
        f"try:\n    import matsqrt.{adapter}\nexcept ImportError as exc:\n    print(exc)\n", absent=(adapter,)
    )
    assert result.returncode == 0, result.stderr
    assert f'pip install "matsqrt[{adapter}]"' in result.stdout
