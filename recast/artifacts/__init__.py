"""External ATLAS files (ONNX and TMVA models, pyhf workspaces, SLHA cards): registry, lookup, download.

The files are never part of the repository. Each analysis lists the ones it uses in
``data/<ANA>/artifacts.yaml`` with a pinned sha256 (or, for a file only known by it, a git blob
id) and the public resource that publishes it. :func:`fetch` gives the path of a verified copy:

1. a mirror directory on ``$RECAST_DATA_MIRROR`` (``os.pathsep``-separated; each is tried as
   ``<dir>/<ANA>/<mirror_path>``, ``<dir>/<mirror_path>`` and ``<dir>/<id>``);
2. the user cache, ``<cache>/artifacts/<ANA>/<id>`` (see :mod:`recast.cache`);
3. otherwise a download of the resource (the archive is kept in ``<cache>/downloads/``), the
   member extracted and checked, and stored in the cache atomically.

A copy whose size or checksum differs from the registry is refused with an
:class:`~recast.errors.ArtifactError`, never used. ``RECAST_OFFLINE=1`` forbids downloads;
``RECAST_DOI_RESOLVER`` (default ``https://doi.org/``) and ``RECAST_GITHUB_RAW`` (default
``https://raw.githubusercontent.com/``) point the downloads at a mirror or proxy server.

Transforms: ``json-dumps`` replaces the downloaded bytes by ``json.dumps(json.loads(data))``
(Python's defaults: key order kept, ``", "``/``": "`` separators, ASCII escapes) before the checksum. It is
how the pinned copies of the ATLAS-SUSY-2018-22 workspaces were written, so the HEPData original
is accepted through it.

The registry files and their entries: :mod:`recast.artifacts.entries`; downloading, extracting and
storing a copy: :mod:`recast.artifacts.download`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from ..cache import cache_dir
from ..errors import ArtifactError, ArtifactUnavailable
from ..paths import data_dir
from .download import copy_into, fetch_from, store
from .entries import (REGISTRY_FILE, Artifact, Resource, canonical_analysis, digest, git_blob_of, load_registry,
                      problem)

__all__ = ["Artifact", "Resource", "registry", "get", "analyses_with_artifacts", "locate", "fetch", "add",
           "verify", "problem", "where", "git_blob_of"]

HOW_TO_PROVIDE = ("provide the file with 'recast data add FILE', or put a directory holding it on "
                  "RECAST_DATA_MIRROR")
Status = Literal["ok", "mismatch", "missing"]


# -- the registries -----------------------------------------------------------------------------


def analyses_with_artifacts() -> list[str]:
    """Analysis ids that have an ``artifacts.yaml``, sorted."""
    return sorted(p.parent.name for p in data_dir().glob(f"*/{REGISTRY_FILE}"))


def registry(analysis_id: str) -> list[Artifact]:
    """The artifacts of one analysis, in registry order. Unknown analysis: :class:`ArtifactError`."""
    ana = canonical_analysis(analysis_id)
    path = data_dir() / ana / REGISTRY_FILE
    if not path.is_file():
        known = ", ".join(analyses_with_artifacts()) or "none"
        raise ArtifactError(f"{analysis_id}: no artifact registry (analyses with artifacts: {known})")
    return list(load_registry(str(path)))


def get(analysis_id: str, artifact_id: str) -> Artifact:
    """One artifact by analysis and id (the file name)."""
    arts = registry(analysis_id)
    for a in arts:
        if a.id == artifact_id:
            return a
    near = difflib.get_close_matches(artifact_id, [a.id for a in arts], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(near)}?" if near else "; 'recast data list' shows them"
    raise ArtifactError(f"{artifact_id}: not an artifact of {canonical_analysis(analysis_id)}{hint}")


def _all(analysis_id: str | None) -> list[Artifact]:
    names = [analysis_id] if analysis_id else analyses_with_artifacts()
    return [a for name in names for a in registry(name)]


# -- finding a copy -----------------------------------------------------------------------------


def _mirror_dirs() -> list[Path]:
    text = os.environ.get("RECAST_DATA_MIRROR") or ""
    return [Path(p).expanduser() for p in text.split(os.pathsep) if p.strip()]


def _candidates(artifact: Artifact) -> Iterator[tuple[str, Path]]:
    for d in _mirror_dirs():
        for p in (d / artifact.analysis / artifact.mirror_path, d / artifact.mirror_path, d / artifact.id):
            yield "mirror", p
    yield "cache", cache_dir("artifacts", artifact.analysis) / artifact.id


def where(artifact: Artifact) -> tuple[str, Path | None]:
    """``("mirror"|"cache", path)`` of the copy :func:`locate` would use, unchecked; ``("missing", None)``."""
    for kind, p in _candidates(artifact):
        if p.is_file():
            return kind, p
    return "missing", None


def locate(artifact: Artifact) -> Path | None:
    """The verified mirror or cache copy, or None. A copy that fails its check raises ArtifactError."""
    kind, path = where(artifact)
    if path is None:
        return None
    why = problem(artifact, path)
    if why:
        hint = ("fix the mirror or leave it off RECAST_DATA_MIRROR" if kind == "mirror"
                else "delete it and fetch again")
        raise ArtifactError(f"{why} ({hint})")
    return path


def verify(analysis_id: str | None = None) -> list[tuple[Artifact, Status, Path | None]]:
    """Re-hash every copy present (mirror and cache) of every artifact: ``(artifact, status, path)``
    with status ``ok``, ``mismatch`` (see :func:`problem` for the reason) or ``missing`` (path None)."""
    rows: list[tuple[Artifact, Status, Path | None]] = []
    for a in _all(analysis_id):
        seen: set[Path] = set()
        for _kind, p in _candidates(a):
            if p.is_file() and p.resolve() not in seen:
                seen.add(p.resolve())
                rows.append((a, "mismatch" if problem(a, p, fresh=True) else "ok", p))
        if not seen:
            rows.append((a, "missing", None))
    return rows


# -- downloading --------------------------------------------------------------------------------


def _offline_env() -> bool:
    """True when ``RECAST_OFFLINE`` forbids downloads."""
    return (os.environ.get("RECAST_OFFLINE") or "").strip().lower() in ("1", "true", "yes", "on")


def fetch(artifact: Artifact, *, offline: bool | None = None, progress: bool = True) -> Path:
    """The path of a verified copy of ``artifact``: mirror, cache, or downloaded into the cache."""
    found = locate(artifact)
    if found is not None:
        return found
    name = f"{artifact.id} ({artifact.analysis})"
    sources = artifact.sources()
    if not sources:
        raise ArtifactUnavailable(f"{name}: not in the mirror or the cache, and no public download location is "
                                  f"known; {HOW_TO_PROVIDE} (as <dir>/{artifact.analysis}/{artifact.mirror_path})",
                                  short=f"{artifact.id} is not in the mirror or cache and has no public source")
    if _offline_env() if offline is None else offline:
        raise ArtifactUnavailable(f"{name}: not in the mirror or the cache, and downloads are off (offline: "
                                  f"RECAST_OFFLINE=1; online it comes from "
                                  f"{sources[0][0].download_url(sources[0][1])}); or {HOW_TO_PROVIDE}",
                                  short=f"{artifact.id} is not in the mirror or cache, downloads off (RECAST_OFFLINE=1)")
    failures: list[ArtifactError] = []
    for resource, member in sources:
        try:
            return fetch_from(artifact, resource, member, progress=progress)
        except ArtifactError as exc:
            failures.append(exc)
    tried = "; then ".join(map(str, failures))
    # only when no source even delivered a file is the artifact merely unavailable
    if all(isinstance(f, ArtifactUnavailable) for f in failures):
        raise ArtifactUnavailable(f"{name}: {tried}; {HOW_TO_PROVIDE}",
                                  short=f"{artifact.id} is not in the mirror or cache, download failed")
    raise ArtifactError(f"{name}: {tried}; {HOW_TO_PROVIDE}")


# -- user-provided files ------------------------------------------------------------------------


def add(path: Path | str, analysis_id: str | None = None) -> Artifact:
    """Register a user-provided copy: identify it among the registered artifacts (of one analysis,
    or all) by sha256, or by git blob id where the registry knows only that, and copy it into the
    cache. A file that matches nothing is refused with its hashes in the message."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file")
    candidates = _all(canonical_analysis(analysis_id) if analysis_id else None)
    sha = digest(path, "sha256")
    blob = digest(path, "git_blob")
    size = path.stat().st_size
    hits = [a for a in candidates if (a.sha256 and a.sha256 == sha) or (not a.sha256 and a.git_blob == blob)]
    if hits:
        for a in hits:
            store(a, lambda out: copy_into(path, out), origin=str(path), transform=False)
        return hits[0]
    if any(a.transform == "json-dumps" for a in candidates) and size < (256 << 20):
        # an original that the json-dumps transform turns into the pinned copy (HEPData's own JSON)
        try:
            dumped = json.dumps(json.loads(path.read_bytes().decode("utf-8"))).encode("ascii")
        except (UnicodeDecodeError, ValueError):
            dumped = None
        if dumped is not None:
            dsha = hashlib.sha256(dumped).hexdigest()
            hits = [a for a in candidates if a.transform == "json-dumps" and a.sha256 == dsha]
            for a in hits:
                store(a, lambda out: out.write(dumped), origin=str(path), transform=False)
            if hits:
                return hits[0]
    scope = f" of {canonical_analysis(analysis_id)}" if analysis_id else ""
    raise ArtifactError(f"{path}: matches no registered artifact{scope} (sha256 {sha}, git blob {blob}, "
                        f"{size} bytes); 'recast data list' shows the expected files")
