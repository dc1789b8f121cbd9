"""The user cache: downloaded artifacts and converted models live here, never in the repository.

``$RECAST_CACHE_DIR`` overrides the platform's user cache directory (``platformdirs``).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir(*parts: str) -> Path:
    """``<cache>/<parts...>``, created on first use."""
    base = os.environ.get("RECAST_CACHE_DIR") or platformdirs.user_cache_dir("recast")
    path = Path(base).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
