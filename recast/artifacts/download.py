"""Getting a verified copy of an artifact from where it is published: the download (HEPData
archives kept in ``<cache>/downloads/``, GitHub raw files), the member taken out of the archive,
the registry's transform applied, the checksum verified, and the copy stored in the cache
atomically. Nothing that fails its check is ever left in the cache."""

from __future__ import annotations

import contextlib
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
from pathlib import Path
from typing import IO

from ..atomic import atomic_path
from ..cache import cache_dir
from ..errors import ArtifactError, ArtifactUnavailable
from .entries import Artifact, Resource, archive_kind, problem, safe_member


def fetch_from(artifact: Artifact, resource: Resource, member: str | None, *, progress: bool) -> Path:
    """Download ``artifact`` from ``resource`` (``member``: its path there, None if unknown) into the
    cache, verified; an :class:`ArtifactUnavailable` when nothing could be downloaded, an
    :class:`ArtifactError` when what came is not the file."""
    url = resource.download_url(member)
    if resource.kind == "hepdata" and resource.archive:
        archive = cache_dir("downloads", _slug(resource.doi)) / resource.archive
        if not archive.is_file():
            _download(url, archive, accept=_accept(resource.archive), progress=progress)
        try:
            return store(artifact, lambda out: _extract(archive, artifact, member, out),
                         origin=f"{url} member {member or '*/' + (artifact.member_basename or artifact.id)}")
        except ArtifactError:
            # the archive did not give a good copy: never reuse it
            archive.unlink(missing_ok=True)
            raise
    # one file per download: a github raw URL, or a hepdata resource that is the file itself
    with tempfile.TemporaryDirectory(dir=cache_dir("downloads")) as tmp:
        got = Path(tmp) / artifact.id
        _download(url, got, accept="application/octet-stream", progress=progress)
        return store(artifact, lambda out: copy_into(got, out), origin=url)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _accept(archive: str) -> str:
    # HEPData serves the file itself (not its landing page) for these Accept types
    return "application/zip" if archive_kind(archive) == "zip" else "application/x-tar"


def _timeout() -> float:
    try:
        return float(os.environ.get("RECAST_HTTP_TIMEOUT") or 60)
    except ValueError:
        return 60.0


def _download(url: str, dest: Path, *, accept: str, progress: bool) -> None:
    """``url`` into ``dest`` (atomically), following redirects; failures are ArtifactError."""
    from .. import __version__

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
    kind = archive_kind(archive.name) or ("zip" if zipfile.is_zipfile(archive) else "tar")

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
        if not safe_member(hits[0]):
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


def store(artifact: Artifact, write, *, origin: str, transform: bool = True) -> Path:
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


def copy_into(path: Path, out: IO[bytes]) -> None:
    with open(path, "rb") as f:
        shutil.copyfileobj(f, out)
