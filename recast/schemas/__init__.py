"""The schemas of every file recast writes or reads, and the one way to check a document.

Each kind of document has a JSON Schema per version, ``<kind>-<version>.schema.json`` in this
directory, and says what it is in two fields: ``"schema": "recast-<kind>"`` and
``"schema_version": <version>``. Kinds: ``result`` (``recast run``), ``limits`` (``recast limit``),
``yields`` (a user's signal yields), ``scan-point`` and ``scan-summary`` (``recast scan``),
``validation`` and ``validation-status`` (``recast validate``), ``detector`` (detector cards,
read by :mod:`recast.detector`). Older versions stay readable where their files are kept here.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..errors import RecastError

_FILE = re.compile(r"^(?P<kind>[a-z-]+)-(?P<version>\d+)\.schema\.json$")


class SchemaError(RecastError):
    """A document that is not the kind it should be, of an unsupported version, or invalid;
    ``at`` is the path (keys and indices) of the offending element, when there is one."""

    def __init__(self, message: str, at: tuple = ()) -> None:
        super().__init__(message)
        self.at = at


@lru_cache(maxsize=None)
def _all() -> dict[tuple[str, int], dict]:
    out = {}
    for entry in files(__name__).iterdir():
        m = _FILE.match(entry.name)
        if m:
            out[(m["kind"], int(m["version"]))] = json.loads(entry.read_text())
    return out


def versions(kind: str) -> tuple[int, ...]:
    """The versions of ``kind`` this recast reads, oldest first."""
    return tuple(sorted(v for k, v in _all() if k == kind))


def schema(kind: str, version: int) -> dict:
    """The JSON Schema of version ``version`` of ``kind``."""
    return _all()[(kind, version)]


@lru_cache(maxsize=None)
def _validator(kind: str, version: int):
    """A validator that also resolves references between the schemas (a scan point holds results)."""
    import jsonschema
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in _all().values() if "$id" in doc)
    return jsonschema.Draft202012Validator(schema(kind, version), registry=registry)


def validate(doc: Any, kind: str, where: str | Path, accept: tuple[int, ...] | None = None) -> None:
    """Check that ``doc`` is a valid ``kind`` document of a version in ``accept`` (default: every
    version this recast reads); a one-line :class:`SchemaError` naming ``where`` otherwise."""
    import jsonschema

    if not isinstance(doc, dict) or doc.get("schema") != f"recast-{kind}":
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise SchemaError(f"{where}: not a recast {kind} file (schema {found!r})")
    accept = accept or versions(kind)
    version = doc.get("schema_version")
    if version not in accept:
        raise SchemaError(f"{where}: {kind} schema version {version!r} is not supported (this recast reads "
                          f"version {', '.join(map(str, accept))})")
    try:
        _validator(kind, version).validate(doc)
    except jsonschema.ValidationError as exc:
        at = tuple(exc.absolute_path)
        message = " ".join(exc.message.split())
        raise SchemaError(f"{where}: invalid {kind} file at {'/'.join(map(str, at)) or 'top level'}: "
                          f"{message[:300]}", at) from None
