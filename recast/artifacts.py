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
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import posixpath
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Literal

import yaml

from .atomic import atomic_path
from .cache import cache_dir
from .errors import ArtifactError, ArtifactUnavailable
from .paths import data_dir

__all__ = ["Artifact", "Resource", "registry", "get", "analyses_with_artifacts", "locate", "fetch", "add",
           "verify", "problem", "where", "git_blob_of"]

REGISTRY_FILE = "artifacts.yaml"
DEFAULT_DOI_RESOLVER = "https://doi.org/"
DEFAULT_GITHUB_RAW = "https://raw.githubusercontent.com/"
TRANSFORMS = ("json-dumps",)
HOW_TO_PROVIDE = ("provide the file with 'recast data add FILE', or put a directory holding it on "
                  "RECAST_DATA_MIRROR")
_HEX = {"sha256": 64, "git_blob": 40}
Status = Literal["ok", "mismatch", "missing"]


# -- the registry -------------------------------------------------------------------------------


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
    return list(_load(str(path)))


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


@lru_cache(maxsize=None)
def _load(path_text: str) -> tuple[Artifact, ...]:
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
        resources[key] = _resource(key, r, bad)
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
            if member is not None and not _safe_member(member):
                raise bad(f"{aid}: member {member!r} must be a relative path without '..'")
            if resources[key].kind == "github" and not member:
                raise bad(f"{aid}: a github resource needs the member (path in the repository)")
            return resources[key]

        alts = []
        for alt in e.get("alternatives") or []:
            alts.append((source(alt.get("resource"), alt.get("member"), "alternative resource"), alt.get("member")))
        mirror_path = e.get("mirror_path") or aid
        if not _safe_member(mirror_path):
            raise bad(f"{aid}: mirror_path {mirror_path!r} must be a relative path without '..'")
        out.append(Artifact(
            analysis=ana, id=aid, sha256=e.get("sha256"), size=e.get("size"), mirror_path=mirror_path,
            description=" ".join(str(e.get("description") or "").split()),
            resource=source(e.get("resource"), e.get("member"), "resource"), member=e.get("member"),
            member_basename=e.get("member_basename"), git_blob=e.get("git_blob"), transform=e.get("transform"),
            alternatives=tuple(alts)))
    return tuple(out)


def _resource(key: str, r: dict, bad) -> Resource:
    if not isinstance(r, dict) or r.get("kind") not in ("hepdata", "github"):
        raise bad(f"resource {key}: kind must be hepdata or github")
    if r["kind"] == "hepdata":
        if not isinstance(r.get("doi"), str) or not r["doi"].startswith("10."):
            raise bad(f"resource {key}: a hepdata resource needs its doi (10.17182/...)")
        if r.get("archive") and _archive_kind(r["archive"]) is None:
            raise bad(f"resource {key}: archive {r['archive']!r} is not .tar.gz/.tgz/.tar/.zip")
        url = r.get("url") or DEFAULT_DOI_RESOLVER + r["doi"]
    else:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", str(r.get("repo"))) or not re.fullmatch(r"[0-9a-f]{40}",
                                                                                      str(r.get("commit"))):
            raise bad(f"resource {key}: a github resource needs repo (owner/name) and a 40-hex commit")
        url = r.get("url") or f"https://github.com/{r['repo']}/tree/{r['commit']}"
    return Resource(key=key, kind=r["kind"], url=url, description=" ".join(str(r.get("description") or "").split()),
                    doi=r.get("doi"), archive=r.get("archive"), repo=r.get("repo"), commit=r.get("commit"))


def _safe_member(name: str) -> bool:
    if not isinstance(name, str) or not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return False
    return ".." not in re.split(r"[\\/]", name)


# -- hashing and checks -------------------------------------------------------------------------

_DIGESTS: dict[tuple[str, int, int, int, int, str], str] = {}


def _digest(path: Path, algo: str, *, fresh: bool = False) -> str:
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
        found = _digest(path, "sha256", fresh=fresh)
        if found != artifact.sha256:
            return (f"{path}: sha256 mismatch for {artifact.id}: expected {artifact.sha256}, found {found}; "
                    "refusing it")
    else:
        found = _digest(path, "git_blob", fresh=fresh)
        if found != artifact.git_blob:
            return (f"{path}: git blob mismatch for {artifact.id}: expected {artifact.git_blob}, found {found}; "
                    "refusing it")
    return None


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
            return _fetch_from(artifact, resource, member, progress=progress)
        except ArtifactError as exc:
            failures.append(exc)
    tried = "; then ".join(map(str, failures))
    # only when no source even delivered a file is the artifact merely unavailable
    if all(isinstance(f, ArtifactUnavailable) for f in failures):
        raise ArtifactUnavailable(f"{name}: {tried}; {HOW_TO_PROVIDE}",
                                  short=f"{artifact.id} is not in the mirror or cache, download failed")
    raise ArtifactError(f"{name}: {tried}; {HOW_TO_PROVIDE}")


def _fetch_from(artifact: Artifact, resource: Resource, member: str | None, *, progress: bool) -> Path:
    url = resource.download_url(member)
    if resource.kind == "hepdata" and resource.archive:
        archive = cache_dir("downloads", _slug(resource.doi)) / resource.archive
        if not archive.is_file():
            _download(url, archive, accept=_accept(resource.archive), progress=progress)
        try:
            return _store(artifact, lambda out: _extract(archive, artifact, member, out),
                          origin=f"{url} member {member or '*/' + (artifact.member_basename or artifact.id)}")
        except ArtifactError:
            # the archive did not give a good copy: never reuse it
            archive.unlink(missing_ok=True)
            raise
    # one file per download: a github raw URL, or a hepdata resource that is the file itself
    with tempfile.TemporaryDirectory(dir=cache_dir("downloads")) as tmp:
        got = Path(tmp) / artifact.id
        _download(url, got, accept="application/octet-stream", progress=progress)

        def copy(out: IO[bytes]) -> None:
            with open(got, "rb") as f:
                shutil.copyfileobj(f, out)

        return _store(artifact, copy, origin=url)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _accept(archive: str) -> str:
    # HEPData serves the file itself (not its landing page) for these Accept types
    return "application/zip" if _archive_kind(archive) == "zip" else "application/x-tar"


def _archive_kind(name: str) -> str | None:
    low = name.lower()
    if low.endswith(".zip"):
        return "zip"
    if low.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
        return "tar"
    return None


def _timeout() -> float:
    try:
        return float(os.environ.get("RECAST_HTTP_TIMEOUT") or 60)
    except ValueError:
        return 60.0


def _download(url: str, dest: Path, *, accept: str, progress: bool) -> None:
    """``url`` into ``dest`` (atomically), following redirects; failures are ArtifactError."""
    from . import __version__

    req = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": f"recast/{__version__}"})
    with atomic_path(dest) as tmp, open(tmp, "wb") as out:
        try:
            with urllib.request.urlopen(req, timeout=_timeout()) as resp:
                ctype = resp.headers.get("Content-Type", "")
                if ctype.split(";")[0].strip().lower() == "text/html":
                    raise ArtifactUnavailable(f"{url}: the server returned a web page (text/html) instead of "
                                              f"the file (final URL {resp.geturl()})")
                total = resp.headers.get("Content-Length")
                total = int(total) if total and total.isdigit() else None
                with _bar(dest.name, total, enabled=progress) as advance:
                    while block := resp.read(1 << 16):
                        out.write(block)
                        advance(len(block))
        except urllib.error.HTTPError as exc:
            exc.close()
            raise ArtifactUnavailable(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise ArtifactUnavailable(f"{url}: cannot connect ({exc.reason})") from None
        except TimeoutError:
            raise ArtifactUnavailable(f"{url}: no answer within {_timeout():g} s (RECAST_HTTP_TIMEOUT)") from None
        except OSError as exc:
            raise ArtifactUnavailable(f"{url}: download failed ({exc})") from None


@contextlib.contextmanager
def _bar(label: str, total: int | None, *, enabled: bool):
    """A rich progress bar on stderr for large or unknown-size downloads on a terminal."""
    if not enabled or not sys.stderr.isatty() or (total is not None and total < (1 << 20)):
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    with Progress(TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("download", total=total)
        yield lambda n: bar.update(task, advance=n)


def _extract(archive: Path, artifact: Artifact, member: str | None, out: IO[bytes]) -> None:
    """Copy one member of ``archive`` into ``out``: the named member (``./`` ignored), else the one
    regular file with the expected base name. Absolute, ``..``, and link members are refused."""
    want_base = posixpath.basename(member) if member else (artifact.member_basename or artifact.id)
    want = _norm(member) if member else None
    kind = _archive_kind(archive.name) or ("zip" if zipfile.is_zipfile(archive) else "tar")

    def pick(names: list[str]) -> str:
        exact = [n for n in names if want and _norm(n) == want]
        hits = exact or [n for n in names if posixpath.basename(n.rstrip("/")) == want_base]
        what = f"member {member}" if member else f"a member named {want_base}"
        if not hits:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise ArtifactError(f"{archive}: {what} is not in the archive (it holds {len(names)} files: "
                                f"{shown or 'none'})")
        if len(hits) > 1:
            raise ArtifactError(f"{archive}: {what} is ambiguous: {', '.join(hits[:5])}")
        if not _safe_member(hits[0]):
            raise ArtifactError(f"{archive}: refusing member {hits[0]!r} (absolute path or '..')")
        return hits[0]

    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as z:
                infos = {i.filename: i for i in z.infolist() if not i.is_dir()}
                name = pick(list(infos))
                if (infos[name].external_attr >> 16) & 0o170000 == 0o120000:
                    raise ArtifactError(f"{archive}: refusing member {name!r}: it is a symbolic link")
                with z.open(infos[name]) as src:
                    shutil.copyfileobj(src, out)
        else:
            with tarfile.open(archive, "r:*") as t:
                entries = {m.name: m for m in t.getmembers() if not m.isdir()}
                name = pick(list(entries))
                if not entries[name].isfile():
                    raise ArtifactError(f"{archive}: refusing member {name!r}: not a regular file (link or device)")
                with t.extractfile(entries[name]) as src:
                    shutil.copyfileobj(src, out)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ArtifactError(f"{archive}: not a readable {kind} archive ({exc})") from None


def _norm(name: str) -> str:
    return re.sub(r"^(\./)+", "", name)


def _apply_transform(artifact: Artifact, path: Path) -> None:
    if artifact.transform == "json-dumps":
        try:
            obj = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ArtifactError(f"{path}: not JSON, cannot apply the json-dumps transform ({exc})") from None
        path.write_bytes(json.dumps(obj).encode("ascii"))


def _store(artifact: Artifact, write, *, origin: str, transform: bool = True) -> Path:
    """Write the candidate bytes with ``write(fileobj)`` next to the cache copy, transform, verify,
    and move into place atomically. Nothing is left behind on failure."""
    final = artifact.cache_path
    with atomic_path(final) as tmp:
        with open(tmp, "wb") as out:
            write(out)
        if transform:
            _apply_transform(artifact, tmp)
        why = problem(artifact, tmp, fresh=True)
        if why:
            raise ArtifactError(why.replace(str(tmp), origin, 1))
    return final


# -- user-provided files ------------------------------------------------------------------------


def add(path: Path | str, analysis_id: str | None = None) -> Artifact:
    """Register a user-provided copy: identify it among the registered artifacts (of one analysis,
    or all) by sha256, or by git blob id where the registry knows only that, and copy it into the
    cache. A file that matches nothing is refused with its hashes in the message."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file")
    candidates = _all(canonical_analysis(analysis_id) if analysis_id else None)
    sha = _digest(path, "sha256")
    blob = _digest(path, "git_blob")
    size = path.stat().st_size
    hits = [a for a in candidates if (a.sha256 and a.sha256 == sha) or (not a.sha256 and a.git_blob == blob)]
    if hits:
        for a in hits:
            _store(a, lambda out: _copy_into(path, out), origin=str(path), transform=False)
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
                _store(a, lambda out: out.write(dumped), origin=str(path), transform=False)
            if hits:
                return hits[0]
    scope = f" of {canonical_analysis(analysis_id)}" if analysis_id else ""
    raise ArtifactError(f"{path}: matches no registered artifact{scope} (sha256 {sha}, git blob {blob}, "
                        f"{size} bytes); 'recast data list' shows the expected files")


def _copy_into(path: Path, out: IO[bytes]) -> None:
    with open(path, "rb") as f:
        shutil.copyfileobj(f, out)
