"""The artifact registry of an analysis, ``data/<ANA>/artifacts.yaml``: its entries (one
:class:`Artifact` per external file, each published by a :class:`Resource`), read and checked,
and the check of a copy against its entry (size, sha256 or git blob id)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from ..cache import cache_dir
from ..errors import ArtifactError

REGISTRY_FILE = "artifacts.yaml"
DEFAULT_DOI_RESOLVER = "https://doi.org/"
DEFAULT_GITHUB_RAW = "https://raw.githubusercontent.com/"
TRANSFORMS = ("json-dumps",)
_HEX = {"sha256": 64, "git_blob": 40}


@dataclass(frozen=True)
class Resource:
    """Where artifacts are published: a HEPData resource (usually an archive) or a pinned commit of
    a public GitHub repository (one file per artifact)."""

    key: str
    kind: Literal["hepdata", "github"]
    url: str  # for people: the DOI link, or the repository tree at the commit
    description: str = ""
    doi: str | None = None  # hepdata: "10.17182/hepdata.95664.v2/r8"
    archive: str | None = None  # hepdata: the file the DOI serves; None = the artifact itself
    repo: str | None = None  # github: "owner/name"
    commit: str | None = None  # github: 40 hex digits

    def download_url(self, member: str | None) -> str:
        """The URL that is downloaded (honours ``RECAST_DOI_RESOLVER`` / ``RECAST_GITHUB_RAW``)."""
        if self.kind == "hepdata":
            base = os.environ.get("RECAST_DOI_RESOLVER") or DEFAULT_DOI_RESOLVER
            return base.rstrip("/") + "/" + self.doi
        base = os.environ.get("RECAST_GITHUB_RAW") or DEFAULT_GITHUB_RAW
        return f"{base.rstrip('/')}/{self.repo}/{self.commit}/{member}"

    def label(self) -> str:
        return f"HEPData {self.doi}" if self.kind == "hepdata" else f"GitHub {self.repo}@{self.commit[:8]}"


@dataclass(frozen=True)
class Artifact:
    """One external file of an analysis, as listed in its ``artifacts.yaml``."""

    analysis: str
    id: str
    sha256: str | None
    size: int | None
    mirror_path: str
    description: str = ""
    resource: Resource | None = None
    member: str | None = None  # path inside the archive (hepdata) or repository (github); None = unknown
    member_basename: str | None = None  # with member None: the archive member's base name (default: id)
    git_blob: str | None = None
    transform: str | None = None
    alternatives: tuple[tuple[Resource, str | None], ...] = ()

    @property
    def cache_path(self) -> Path:
        """Where the verified copy lives in the user cache."""
        return cache_dir("artifacts", self.analysis) / self.id

    def sources(self) -> list[tuple[Resource, str | None]]:
        """(resource, member) places to download from, in order."""
        first = [(self.resource, self.member)] if self.resource is not None else []
        return first + list(self.alternatives)

    def checksum(self) -> str:
        return f"sha256 {self.sha256}" if self.sha256 else f"git blob {self.git_blob}"


def canonical_analysis(analysis_id: str) -> str:
    """``ATLAS-SUSY-2018-22`` and ``ana-susy-2018-22`` name ``ANA-SUSY-2018-22``."""
    text = analysis_id.strip().upper()
    return "ANA-" + text[6:] if text.startswith("ATLAS-") else text


@lru_cache(maxsize=None)
def load_registry(path_text: str) -> tuple[Artifact, ...]:
    """The entries of one registry file, checked; an :class:`ArtifactError` names what is wrong."""
    path = Path(path_text)
    ana = path.parent.name

    def bad(what: str) -> ArtifactError:
        return ArtifactError(f"{path}: {what}")

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise bad(f"unreadable artifact registry ({exc})".replace("\n", " ")) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("artifacts"), list):
        raise bad("an artifact registry needs an 'artifacts' list")
    if doc.get("analysis", ana) != ana:
        raise bad(f"says analysis {doc.get('analysis')!r} but lives in {ana}/")
    resources: dict[str, Resource] = {}
    for key, r in (doc.get("resources") or {}).items():
        resources[key] = _resource_entry(key, r, bad)
    out, seen = [], set()
    for i, e in enumerate(doc["artifacts"]):
        if not isinstance(e, dict) or not isinstance(e.get("id"), str):
            raise bad(f"artifact #{i + 1} has no id")
        aid = e["id"]
        if aid in seen:
            raise bad(f"artifact id {aid} is listed twice")
        seen.add(aid)
        if "/" in aid or "\\" in aid or aid in (".", ".."):
            raise bad(f"artifact id {aid!r} must be a plain file name")
        for field, n in _HEX.items():
            v = e.get(field)
            if v is not None and not (isinstance(v, str) and re.fullmatch(f"[0-9a-f]{{{n}}}", v)):
                raise bad(f"{aid}: {field} must be {n} lowercase hex digits")
        if not e.get("sha256") and not e.get("git_blob"):
            raise bad(f"{aid}: needs a sha256 or a git_blob to be checked against")
        if e.get("size") is not None and not (isinstance(e["size"], int) and e["size"] >= 0):
            raise bad(f"{aid}: size must be a whole number of bytes")
        if e.get("transform") not in (None, *TRANSFORMS):
            raise bad(f"{aid}: unknown transform {e['transform']!r} (known: {', '.join(TRANSFORMS)})")

        def source(key, member, where):
            if key is None:
                return None
            if key not in resources:
                raise bad(f"{aid}: {where} {key!r} is not in 'resources'")
            if member is not None and not safe_member(member):
                raise bad(f"{aid}: member {member!r} must be a relative path without '..'")
            if resources[key].kind == "github" and not member:
                raise bad(f"{aid}: a github resource needs the member (path in the repository)")
            return resources[key]

        alts = []
        for alt in e.get("alternatives") or []:
            alts.append((source(alt.get("resource"), alt.get("member"), "alternative resource"), alt.get("member")))
        mirror_path = e.get("mirror_path") or aid
        if not safe_member(mirror_path):
            raise bad(f"{aid}: mirror_path {mirror_path!r} must be a relative path without '..'")
        out.append(Artifact(
            analysis=ana, id=aid, sha256=e.get("sha256"), size=e.get("size"), mirror_path=mirror_path,
            description=" ".join(str(e.get("description") or "").split()),
            resource=source(e.get("resource"), e.get("member"), "resource"), member=e.get("member"),
            member_basename=e.get("member_basename"), git_blob=e.get("git_blob"), transform=e.get("transform"),
            alternatives=tuple(alts)))
    return tuple(out)


def _resource_entry(key: str, r: dict, bad) -> Resource:
    if not isinstance(r, dict) or r.get("kind") not in ("hepdata", "github"):
        raise bad(f"resource {key}: kind must be hepdata or github")
    if r["kind"] == "hepdata":
        if not isinstance(r.get("doi"), str) or not r["doi"].startswith("10."):
            raise bad(f"resource {key}: a hepdata resource needs its doi (10.17182/...)")
        if r.get("archive") and archive_kind(r["archive"]) is None:
            raise bad(f"resource {key}: archive {r['archive']!r} is not .tar.gz/.tgz/.tar/.zip")
        url = r.get("url") or DEFAULT_DOI_RESOLVER + r["doi"]
    else:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", str(r.get("repo"))) or not re.fullmatch(r"[0-9a-f]{40}",
                                                                                      str(r.get("commit"))):
            raise bad(f"resource {key}: a github resource needs repo (owner/name) and a 40-hex commit")
        url = r.get("url") or f"https://github.com/{r['repo']}/tree/{r['commit']}"
    return Resource(key=key, kind=r["kind"], url=url, description=" ".join(str(r.get("description") or "").split()),
                    doi=r.get("doi"), archive=r.get("archive"), repo=r.get("repo"), commit=r.get("commit"))


def safe_member(name: str) -> bool:
    if not isinstance(name, str) or not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return False
    return ".." not in re.split(r"[\\/]", name)


def archive_kind(name: str) -> str | None:
    low = name.lower()
    if low.endswith(".zip"):
        return "zip"
    if low.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
        return "tar"
    return None


# -- hashing and checks -------------------------------------------------------------------------

_DIGESTS: dict[tuple[str, int, int, int, int, str], str] = {}


def digest(path: Path, algo: str, *, fresh: bool = False) -> str:
    """sha256 or git blob id of a file, memoised per (path, mtime, size) within the process (inode and
    ctime too, so that a file replaced within the mtime resolution is hashed again)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns, algo)
    if not fresh and key in _DIGESTS:
        return _DIGESTS[key]
    if algo == "sha256":
        h = hashlib.sha256()
    else:
        h = hashlib.sha1(b"blob %d\0" % st.st_size)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def git_blob_of(data: bytes) -> str:
    """The id git gives a file with these bytes: sha1 of ``b"blob <size>\\0"`` + bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def problem(artifact: Artifact, path: Path, *, fresh: bool = False) -> str | None:
    """Why the file at ``path`` is not a good copy of ``artifact`` (one line), or None if it is."""
    size = path.stat().st_size
    if artifact.size is not None and size != artifact.size:
        return (f"{path}: size mismatch for {artifact.id}: expected {artifact.size} bytes, found {size}; "
                "refusing it")
    if artifact.sha256:
        found = digest(path, "sha256", fresh=fresh)
        if found != artifact.sha256:
            return (f"{path}: sha256 mismatch for {artifact.id}: expected {artifact.sha256}, found {found}; "
                    "refusing it")
    else:
        found = digest(path, "git_blob", fresh=fresh)
        if found != artifact.git_blob:
            return (f"{path}: git blob mismatch for {artifact.id}: expected {artifact.git_blob}, found {found}; "
                    "refusing it")
    return None
