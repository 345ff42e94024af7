"""Sphinx configuration of matsqrt's documentation.

Build: ``sphinx-build -W --keep-going -b html docs build/docs`` (see README).
The notebooks are rendered from their stored, output-free form; executing
them is the job of ``tests/test_notebooks.py``, which keeps the build fast.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # document the checkout, whatever is installed

import matsqrt  # noqa: E402

# Sphinx reads sources only below docs/: copy the notebooks in (docs/notebooks is git-ignored).
_NOTEBOOKS = HERE / "notebooks"
_NOTEBOOKS.mkdir(exist_ok=True)
for _path in sorted((ROOT / "notebooks").glob("*.ipynb")):
    _target = _NOTEBOOKS / _path.name
    if not _target.exists() or _target.read_bytes() != _path.read_bytes():
        shutil.copyfile(_path, _target)

project = "matsqrt"
author = "The matsqrt maintainers"
copyright = "2026, The matsqrt maintainers"  # noqa: A001
version = release = matsqrt.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
root_doc = "index"

# MyST: anchors for ## and ### headings, so pages can link to sections (page.md#section).
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]
# Notebooks are shown as stored (no outputs); tests/test_notebooks.py executes them.
nb_execution_mode = "off"

autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

intersphinx_mapping: dict[str, tuple[str, None]] = {}

html_theme = "pydata_sphinx_theme"
html_title = f"matsqrt {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []
