"""Doctest collection of the optional adapters.

``pytest --doctest-modules`` imports every module under ``matsqrt/``; an
adapter whose framework is not installed raises ImportError on import (by
design, naming the extra to install), so it is left out of collection then,
and only then.  Its tests in ``tests/`` report their own skips.
"""

import importlib.util

_OPTIONAL = {"matsqrt/torch.py": "torch", "matsqrt/jax.py": "jax", "matsqrt/_dask.py": "dask"}

collect_ignore = [path for path, module in _OPTIONAL.items() if importlib.util.find_spec(module) is None]
# Sphinx's configuration is not a module to doctest (it copies the notebooks into docs/ on import).
collect_ignore += ["docs/conf.py"]
collect_ignore_glob = ["docs/_build/*", "docs/generated/*", "docs/notebooks/*"]
