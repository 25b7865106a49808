"""Where the companion reads and writes, resolved from the package so notebooks work from any directory.

papermill runs a kernel in the caller's directory and nbval in the notebook's directory, so relative paths
break one or the other; every path is resolved here instead. Environment variables override each location:

- ``AQA_FIGURES_DIR``: where figures are written (default ``<repo>/figures``).
- ``AQA_CACHE_DIR``: generated synthetic data and cached training results (default ``<repo>/.cache``, or
  ``~/.cache/aqa_companion`` when the package is installed outside a checkout).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE_DATA = PACKAGE_DIR / "data" / "package_data"


def repo_root() -> Path | None:
    """The checkout holding this package (None for a non-editable install)."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").exists() else None


def figures_dir() -> Path:
    """Directory figures are saved to (created on first use)."""
    env = os.environ.get("AQA_FIGURES_DIR")
    root = repo_root()
    path = Path(env) if env else (root / "figures" if root else Path.cwd() / "figures")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str) -> Path:
    """Cache directory (created on first use), optionally a sub-directory of it."""
    env = os.environ.get("AQA_CACHE_DIR")
    root = repo_root()
    if env:
        base = Path(env)
    elif root is not None:
        base = root / ".cache"
    else:
        base = Path.home() / ".cache" / "aqa_companion"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
