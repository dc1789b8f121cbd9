"""Errors a user can act on.

Every problem caused by input (files, options, SLHA cards, analysis names) is raised as a
:class:`RecastError` whose message is one line naming the file or object and the cause. The
command line prints that line and exits non-zero, never a traceback.
"""

from __future__ import annotations


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
