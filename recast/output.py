"""Where results go: output locations checked before any computation, and nothing computed lost.

Every command that writes files calls :func:`prepare_file` or :func:`prepare_dir` on its output
locations *before* it generates, reads or fits anything: a location that cannot be written (a
read-only directory or file system, a parent that is a file) is a one-line :class:`OutputError` at
once instead of an error after minutes of work; missing directories are created when written to.

Results are then written with :func:`save`: atomically, and if the write still fails (the disk
filled up, the directory vanished), into a fallback file in the user cache (or the system's
temporary directory), and the :class:`OutputError` names both the location that failed and the
file that holds the results.
"""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
from pathlib import Path

from .atomic import write_bytes
from .errors import RecastError


class OutputError(RecastError):
    """An output location that cannot be written. ``saved_to`` is the fallback file holding what
    could not be written where asked (None when nothing was computed yet)."""

    def __init__(self, message: str, saved_to: Path | None = None) -> None:
        super().__init__(message)
        self.saved_to = saved_to


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _probe(directory: Path) -> None:
    """Create and remove a file in ``directory``: the only check that also catches read-only
    file systems and permissions that ``os.access`` misjudges (root, ACLs, network mounts)."""
    fd, tmp = tempfile.mkstemp(prefix=".recast-probe.", dir=directory)
    os.close(fd)
    os.unlink(tmp)


def prepare_dir(path: Path | str, what: str = "output directory") -> Path:
    """Make sure ``path`` is, or can be created as, a directory this process can write into; a
    one-line :class:`OutputError` otherwise. Nothing is created: a command that then fails on its
    input leaves no empty directory behind (the writers create what is missing)."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{path}: the {what} is a file, not a directory" if existing == path else
                          f"{path}: cannot create the {what}: {existing} is a file")
    try:
        _probe(existing)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write into the {what}" + (f" (in {existing})" if existing != path else "")
                          + f": {_reason(exc)}") from None
    return path


def prepare_file(path: Path | str, what: str = "output file") -> Path:
    """Make sure ``path`` can be written (atomically, so its directory must be writable, or
    creatable); a one-line :class:`OutputError` otherwise."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: the {what} is a directory")
    if not path.name or path.name in (".", ".."):
        raise OutputError(f"{path}: the {what} needs a file name")
    prepare_dir(path.parent, f"directory of the {what}")
    return path


def fallback_path(path: Path | str) -> Path:
    """A new file name for what could not be written to ``path``: ``<cache>/unsaved/`` (or the
    system's temporary directory), with a time stamp and the original name."""
    path = Path(path)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{os.getpid()}-{path.name or 'output'}"
    try:
        from .cache import cache_dir

        directory = cache_dir("unsaved")
        _probe(directory)
    except OSError:
        directory = Path(tempfile.gettempdir())
    return directory / name


def save(path: Path | str, data: bytes, what: str = "results") -> Path:
    """Write ``data`` to ``path`` atomically and return ``path``. If that fails, the data go to a
    :func:`fallback_path` and an :class:`OutputError` says where; only if that fails too are
    they lost, and the error says so."""
    path = Path(path)
    try:
        write_bytes(path, data)
        return path
    except OSError as exc:
        reason = _reason(exc)
    fallback = fallback_path(path)
    try:
        write_bytes(fallback, data)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the {what} ({reason}), nor the fallback file {fallback} "
                          f"({_reason(exc)})") from None
    raise OutputError(f"{path}: cannot write the {what} ({reason}); they were saved to {fallback}", fallback)
