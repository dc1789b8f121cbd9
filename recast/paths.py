"""Where the package's own data files live (``data/`` in the source tree, ``recast/data`` installed)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_dir() -> Path:
    """The directory holding published numbers, cross-section tables and analysis metadata."""
    return Path(str(files("recast.data")))


def analysis_data_dir(analysis_id: str) -> Path:
    """``data/<analysis_id>/``: the published numbers of one analysis."""
    return data_dir() / analysis_id
