"""README's Python scripts run as written.

pytest's doctest runs README's ``>>>`` examples; the framework sections show
plain scripts instead, so that a missing framework skips them here rather
than failing the README doctest.  Blocks starting with ``# Not run by the
tests`` need infrastructure this project does not have (a SLURM or Kubernetes
cluster) and are only shown.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
NOT_RUN = "# Not run by the tests"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)
SCRIPTS = [block for block in BLOCKS if ">>>" not in block and not block.startswith(NOT_RUN)]


def test_readme_has_the_framework_scripts():
    imported = {m for script in SCRIPTS for m in re.findall(r"^import (\S+)", script, flags=re.M)}
    assert {"matsqrt.torch", "matsqrt.jax", "dask.array"} <= imported


@pytest.mark.parametrize("script", SCRIPTS, ids=[f"block{i}" for i in range(len(SCRIPTS))])
def test_readme_script_runs(script):
    for module in sorted(set(re.findall(r"^(?:import|from) (\w+)", script, flags=re.M))):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    # A fresh interpreter per script, as a user runs it: frameworks loaded by other tests must
    # not share the process (PyTorch's OpenMP pool and OpenBLAS calls from JAX's threads
    # deadlocked in one process here, measured; OMP_NUM_THREADS=1 avoided it).
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          cwd=README.parent)
    assert done.returncode == 0, done.stderr[-4000:]
