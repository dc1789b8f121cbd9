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


def committed_reports(path: Path | str) -> Path | None:
    """The committed validation reports (``validation/reports/`` of a recast source checkout) that
    ``path`` lies in, or None. Found from the path itself, so an installed recast recognises a
    checkout's reports as well as an editable one. A checkout is a directory holding
    ``pyproject.toml`` and the ``recast`` package, whatever modules the package has."""
    target = Path(path).resolve()
    for root in target.parents:
        reports = root / "validation" / "reports"
        if target.is_relative_to(reports) and (root / "pyproject.toml").is_file() \
                and (root / "recast" / "__init__.py").is_file():
            return reports
    return None
