"""The user cache: downloaded artifacts, converted models and compiled numba kernels live here,
never in the repository.

``$RECAST_CACHE_DIR`` overrides the platform's user cache directory (``platformdirs``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs


def cache_root() -> Path:
    """``$RECAST_CACHE_DIR``, else the platform's user cache directory for recast (not created)."""
    return Path(os.environ.get("RECAST_CACHE_DIR") or platformdirs.user_cache_dir("recast"))


def cache_dir(*parts: str) -> Path:
    """``<cache>/<parts...>``, created on first use."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def use_numba_cache() -> None:
    """Compiled numba kernels (``cache=True``) go to ``<cache>/numba`` unless ``NUMBA_CACHE_DIR``
    names another place.

    numba's own default is a ``__pycache__`` beside each source file, or its user-wide directory
    when the installation is read-only: here one place holds what a first run compiles (about
    15 s on one core) for every later run, child processes (Dask workers) included, and
    ``RECAST_CACHE_DIR`` moves it with the rest. Called when ``recast`` is imported, before any
    kernel is defined; numba creates the directory (and falls back to its default if it cannot).
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    where = str(cache_root() / "numba")
    os.environ["NUMBA_CACHE_DIR"] = where  # read by numba when it is imported, here and in children
    config = sys.modules.get("numba.core.config")
    if config is not None and not config.CACHE_DIR:  # numba was imported first: tell it directly
        config.CACHE_DIR = where
