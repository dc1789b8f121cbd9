"""Errors a user can act on.

Every problem caused by input (files, options, SLHA cards, analysis names) is raised as a
:class:`RecastError` whose message is one line naming the file or object and the cause. The
command line prints that line and exits non-zero, never a traceback.
"""

from __future__ import annotations

from pathlib import Path


class RecastError(Exception):
    """An input problem the user can fix; ``str(err)`` is a complete one-line message."""


class EventFileError(RecastError):
    """A HepMC file that cannot be read: missing, empty, truncated or corrupt."""


class SLHAError(RecastError):
    """An SLHA card that is unreadable or lacks what the requested process needs."""


class AnalysisError(RecastError):
    """An unknown analysis, an invalid option, or an analysis definition that is inconsistent."""


class ArtifactError(RecastError):
    """An external file (ATLAS model, workspace) that is missing, unavailable offline, or fails
    its checksum."""


class ArtifactUnavailable(ArtifactError):
    """No verified copy of an artifact here, and none obtainable now (offline, no public source,
    network or HTTP failure). A run skips what needs it; a file that fails its checksum is an
    :class:`ArtifactError` instead, never skipped silently. ``short`` is the cause in a few words,
    for a line that names many skipped regions."""

    def __init__(self, message: str, short: str | None = None) -> None:
        super().__init__(message)
        self.short = short or message


class ModelError(RecastError):
    """A model file or card that cannot be used: corrupt, wrong signature, golden outputs not
    reproduced, or invalid features."""


class DetectorCardError(RecastError):
    """A detector card (``data/detectors/*.yaml`` or a user's file) that is missing, malformed
    or physically impossible; the message names the file and the field."""


# -- reading a file the user named ----------------------------------------------------------------


def read_bytes(path: Path | str, error: type[RecastError] = RecastError, what: str = "file") -> bytes:
    """The bytes of ``path``; a missing file, a directory or a failed read raise ``error`` with one
    line naming the file and the cause (``what`` the file should have been, for the directory case).

    >>> try:
    ...     read_bytes("no/such.xml", ModelError, "TMVA XML file")
    ... except ModelError as exc:
    ...     print(exc)
    no/such.xml: no such file
    """
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _read_error(path, exc, error, what) from None


def read_text(path: Path | str, error: type[RecastError] = RecastError, what: str = "file") -> str:
    """The text of ``path`` (UTF-8, newlines as Python's text mode reads them); the errors of
    :func:`read_bytes`, and bytes that are not UTF-8 text, raise ``error`` in one line."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _read_error(path, exc, error, what) from None


def _read_error(path: Path | str, exc: OSError | UnicodeDecodeError, error: type[RecastError],
                what: str) -> RecastError:
    if isinstance(exc, FileNotFoundError):
        return error(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return error(f"{path}: is a directory, not a {what}")
    if isinstance(exc, UnicodeDecodeError):
        return error(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})")
    return error(f"{path}: cannot read: {exc.strerror or exc}")
