"""The Python examples of README.md and of the documentation's pages (docs/*.md) run as written.

pytest's doctest runs their ``>>>`` examples (``--doctest-glob=*.md``); the
framework guide shows plain scripts instead, so that a missing framework
skips them here rather than failing a doctest.  Blocks starting with
``# Not run by the tests`` need infrastructure this project does not have (a
SLURM or Kubernetes cluster) and are only shown.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = "# Not run by the tests"


def _blocks(path):
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


SCRIPTS = [(path, block) for path in PAGES for block in _blocks(path)
           if ">>>" not in block and not block.startswith(NOT_RUN)]
IDS = [f"{path.relative_to(ROOT)}-{i}" for i, (path, _) in enumerate(SCRIPTS)]


def test_readme_is_short_and_has_a_doctest():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert any(">>>" in block for block in _blocks(README))


def test_docs_have_the_framework_scripts():
    imported = {m for _, script in SCRIPTS for m in re.findall(r"^import (\S+)", script, flags=re.M)}
    assert {"matsqrt.torch", "matsqrt.jax", "dask.array"} <= imported


def test_doctest_collects_the_docs_pages():
    # pytest's doctest options must reach docs/*.md, or their >>> examples are never run.
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^testpaths = \[.*"docs".*\]$', config, flags=re.M)
    assert re.search(r'^addopts = ".*--doctest-glob=\*\.md.*"$', config, flags=re.M)
    assert any(">>>" in block for path in PAGES[1:] for block in _blocks(path))


@pytest.mark.parametrize(("path", "script"), SCRIPTS, ids=IDS)
def test_readme_script_runs(path, script, tmp_path):
    for module in sorted(set(re.findall(r"^(?:import|from) (\w+)", script, flags=re.M))):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    # A fresh interpreter per script, run from a file as a user runs it (so worker processes that
    # import the script again, as Dask's do, see it as written): frameworks loaded by other tests
    # must not share the process (PyTorch's OpenMP pool and OpenBLAS calls from JAX's threads
    # deadlocked in one process here, measured; OMP_NUM_THREADS=1 avoided it).
    file = tmp_path / "example.py"
    file.write_text(script, encoding="utf-8")
    done = subprocess.run([sys.executable, str(file)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
