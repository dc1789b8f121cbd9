"""The files of a scan: one JSON per point (``DIR/points/<name>.json``, schema
``recast/schemas/scan-point-1.schema.json``) and the summary (``DIR/summary.json``,
``scan-summary-1.schema.json``, and ``DIR/summary.csv``), each written atomically and validated
against its schema, and read back validated."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..atomic import write_bytes
from ..errors import RecastError, read_text
from ..results import timestamp
from ..stats import CLS_LEVEL
from .combination import COMBINATION_RULE
from .grid import Grid, GridPoint
from .settings import Settings

POINT_SCHEMA, SUMMARY_SCHEMA, SCAN_SCHEMA_VERSION = "recast-scan-point", "recast-scan-summary", 1
SUMMARY_COLUMNS = ("name", "status", "model", "process", "m_parent", "m_lsp", "nevents", "seed", "xsec_fb",
                   "xsec_kind", "excluded", "cls_obs", "cls_exp", "analysis", "region", "error", "elapsed_s",
                   "settings_hash", "file")


def point_doc(task: dict[str, Any]) -> dict[str, Any]:
    """The document of a point not run yet (``failed`` until it is): what the task says of it."""
    from .. import __version__

    p = task["point"]
    return {"schema": POINT_SCHEMA, "schema_version": SCAN_SCHEMA_VERSION,
            "created": timestamp(), "name": p["name"], "status": "failed", "error": None,
            "settings_hash": task["settings_hash"], "point": dict(p), "settings": task["settings"],
            "cross_section": None, "analyses": {}, "combined": None, "notes": [],
            "worker": None, "timing": {"run_s": None, "limits_s": None, "total_s": None},
            "recast_version": __version__}


def validate(doc: dict[str, Any], kind: str, where: str | Path) -> None:
    """Check a point (``kind="scan-point"``) or summary (``"scan-summary"``) document."""
    from .. import schemas

    schemas.validate(doc, kind, where, accept=(SCAN_SCHEMA_VERSION,))


def write_json(path: Path, doc: dict[str, Any], kind: str) -> None:
    """Validate a ``kind`` document and write it to ``path`` atomically."""
    from ..results import encode

    validate(doc, kind, path)
    try:
        data = encode(doc)
    except ValueError as exc:  # NaN or inf somewhere: the file would not be JSON
        raise RecastError(f"{doc.get('name', 'scan')}: {exc}") from None
    write_bytes(path, data)


def read_json(path: Path, kind: str) -> dict[str, Any]:
    """A point or summary file (``kind``), validated; a one-line RecastError if it is not one."""
    try:
        doc = json.loads(read_text(path, RecastError, f"{kind} file"))
    except json.JSONDecodeError as exc:
        raise RecastError(f"{path}: not readable JSON: {exc}") from None
    validate(doc, kind, path)
    return doc


def summary_row(point: GridPoint, doc: dict[str, Any] | None, shash: str) -> dict[str, Any]:
    """A point's row of the summary: pending without its document, else what the document says."""
    row = {k: None for k in SUMMARY_COLUMNS}
    row.update(name=point.name, status="pending", model=point.model, process=point.process,
               m_parent=point.m_parent, m_lsp=point.m_lsp, nevents=point.nevents, seed=point.seed,
               excluded=None, settings_hash=shash, file=f"points/{point.name}.json")
    if doc is None:
        return row
    xs = doc.get("cross_section") or {}
    comb = doc.get("combined") or {}
    row.update(status=doc["status"], error=doc["error"], xsec_fb=xs.get("value_fb"), xsec_kind=xs.get("kind"),
               elapsed_s=doc["timing"]["total_s"], settings_hash=doc["settings_hash"])
    if doc["status"] == "ok":
        row.update(excluded=comb.get("excluded"), cls_obs=comb.get("cls_obs"), cls_exp=comb.get("cls_exp"),
                   analysis=comb.get("analysis"), region=comb.get("region"))
    return row


def summary_doc(grid: Grid, settings: Settings, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The summary document of a grid's points (their rows in the grid's order)."""
    rows = list(rows)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "pending")}
    counts["excluded"] = sum(bool(r["excluded"]) for r in rows)
    return {"schema": SUMMARY_SCHEMA, "schema_version": SCAN_SCHEMA_VERSION, "updated": timestamp(),
            "grid": {"source": grid.source, "kind": grid.kind, "model": grid.model, "process": grid.process,
                     "parent": grid.parent, "nevents": grid.nevents, "seed": grid.seed, "notes": grid.notes},
            "settings": settings.to_dict(), "cls_level": CLS_LEVEL, "combination_rule": COMBINATION_RULE,
            "counts": counts, "points": rows}


def write_summary(out_dir: Path, doc: dict[str, Any]) -> None:
    """``summary.json`` and the same rows as ``summary.csv``."""
    write_json(out_dir / "summary.json", doc, "scan-summary")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in doc["points"]:
        writer.writerow({k: ("" if r[k] is None else r[k]) for k in SUMMARY_COLUMNS})
    write_bytes(out_dir / "summary.csv", buf.getvalue().encode())

