"""Signal yields from a user's own table: limits without running an analysis in recast.

``recast limit FILE`` reads a recast result JSON, or a table of signal events per signal region
(the numbers of another simulation, of CheckMATE or MadAnalysis 5, or of a reweighted sample), in
one of two formats:

* **CSV** with a header line naming the columns ``region``, ``yield`` and optionally ``yield_err``
  (the signal's MC-statistical error, in events) and ``analysis``; blank lines and lines starting
  with ``#`` are ignored. Without an ``analysis`` column the analysis is given with ``--analysis``.
* **JSON** following ``recast/schemas/yields-1.schema.json``: ``{"schema": "recast-yields",
  "schema_version": 1, "analysis": "ANA-SUSY-2018-22", "signal_regions": [{"name": ...,
  "yield": ..., "yield_err": ...}, ...]}``, optionally with the cross section it was computed with
  (``cross_section``: ``value_fb``, ``uncertainty_fb``, ``source``; the uncertainty enters the
  limits with ``--xsec-unc``), the luminosity (``luminosity_ifb``, which must be the analysis')
  and free-text ``description`` and ``provenance``.

Yields are expected signal events at the analysis' luminosity. A region without ``yield_err`` has
an exact signal (the likelihood floors its relative MC error at 0.1 %). Only the listed regions are
evaluated; a multi-bin combination needs all its bins. The result is the document
:func:`recast.stats.compute` reads, with the analysis' published numbers: the same numbers give the
same CLs as a result file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

from ..errors import RecastError, read_text

YIELDS_SCHEMA = "recast-yields"
YIELDS_VERSION = 1
CSV_COLUMNS = ("region", "yield", "yield_err", "analysis")


class YieldsError(RecastError):
    """A yields table that cannot be used: unreadable, malformed, or not matching its analysis."""


def load(path: Path | str, analysis_id: str | None = None) -> tuple[dict[str, Any], Any, str]:
    """What ``recast limit FILE`` reads: ``(document for the statistics, analysis, kind)`` where
    kind is ``"result"`` (a recast result JSON) or ``"yields"`` (a CSV or JSON yields table).
    ``analysis_id`` (``--analysis``) names the analysis where a yields table does not, and must
    agree with the file where it does."""
    from .. import analysis as ana_mod
    from .. import results

    path = Path(path)
    text = _text(path)
    if path.suffix.lower() == ".csv":
        rows = _read_csv(path, text)
        xsec, name = None, _csv_analysis(path, rows, analysis_id)
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise YieldsError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        if not (isinstance(doc, dict) and doc.get("schema") == YIELDS_SCHEMA):
            result = results.read(path)
            analysis = ana_mod.load(result["analysis"]["id"])
            if analysis_id is not None and ana_mod.load(analysis_id).id != analysis.id:
                raise YieldsError(f"{path}: a result of {analysis.id}, but --analysis says {analysis_id}")
            return result, analysis, "result"
        rows, name, xsec = _read_json(path, doc, text, analysis_id)
    analysis = _load_analysis(path, name)
    return _document(path, analysis, rows, xsec), analysis, "yields"


def _text(path: Path) -> str:
    return read_text(path, YieldsError, "yields table")


# -- CSV ------------------------------------------------------------------------------------------


def _read_csv(path: Path, text: str) -> list[dict[str, Any]]:
    """Rows ``{"line", "name", "yield", "yield_err", "analysis"}`` of a CSV table."""
    lines = [(k, line) for k, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise YieldsError(f"{path}: no header and no rows (expected a header line 'region,yield[,yield_err]')")
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)))
    header_line, header = lines[0][0], [c.strip().lower() for c in next(reader)]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown or "region" not in header or "yield" not in header or len(set(header)) != len(header):
        why = (f"unknown column {unknown[0]!r}" if unknown else
               "repeated column" if len(set(header)) != len(header) else "missing column 'region' or 'yield'")
        raise YieldsError(f"{path}:{header_line}: {why}: the header must name region, yield and optionally "
                          f"yield_err and analysis (e.g. 'region,yield,yield_err')")
    rows = []
    for (line, _), cells in zip(lines[1:], reader):
        if len(cells) != len(header):
            raise YieldsError(f"{path}:{line}: {len(cells)} fields where the header has {len(header)}")
        row = dict(zip(header, (c.strip() for c in cells)))
        rows.append({"line": line, "name": row["region"],
                     "yield": _number(path, line, "yield", row["yield"]),
                     "yield_err": _number(path, line, "yield_err", row["yield_err"]) if row.get("yield_err") else None,
                     "analysis": row.get("analysis") or None})
    if not rows:
        raise YieldsError(f"{path}: a header but no rows")
    return rows


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise YieldsError(f"{path}:{line}: {column} {text!r} is not a number") from None
    return value


def _csv_analysis(path: Path, rows: list[dict[str, Any]], given: str | None) -> str:
    named = {r["analysis"] for r in rows if r["analysis"]}
    if len(named) > 1:
        first = next(r for r in rows if r["analysis"] and r["analysis"] != rows[0]["analysis"])
        raise YieldsError(f"{path}:{first['line']}: analysis {first['analysis']!r}, but an earlier row names "
                          f"{rows[0]['analysis']!r}: one analysis per file")
    if named and any(not r["analysis"] for r in rows):
        blank = next(r for r in rows if not r["analysis"])
        raise YieldsError(f"{path}:{blank['line']}: no analysis in this row, while others name one")
    return _agree(path, named.pop() if named else None, given, "an 'analysis' column")


def _agree(path: Path, in_file: str | None, given: str | None, how: str) -> str:
    if in_file is None and given is None:
        raise YieldsError(f"{path}: which analysis are these yields of? Give --analysis ANA or {how}")
    if in_file is not None and given is not None:
        from .. import analysis as ana_mod

        if ana_mod.load(in_file).id != ana_mod.load(given).id:
            raise YieldsError(f"{path}: the file's analysis is {in_file}, but --analysis says {given}")
    return in_file or given


# -- JSON -----------------------------------------------------------------------------------------


def _read_json(path: Path, doc: dict[str, Any], text: str,
               given: str | None) -> tuple[list[dict[str, Any]], str, dict | None]:
    from .. import schemas

    lines = _region_lines(text)
    try:
        schemas.validate(doc, "yields", path, accept=(YIELDS_VERSION,))
    except schemas.SchemaError as exc:
        at = exc.at
        if len(at) >= 2 and at[0] == "signal_regions" and isinstance(at[1], int):  # name the line
            raise YieldsError(str(exc).replace(f"{path}: ", f"{path}:{lines.get(at[1], '?')}: ", 1)) from None
        raise YieldsError(str(exc)) from None
    rows = [{"line": lines.get(k, "?"), "name": sr["name"], "yield": float(sr["yield"]),
             "yield_err": None if sr.get("yield_err") is None else float(sr["yield_err"]), "analysis": None}
            for k, sr in enumerate(doc["signal_regions"])]
    analysis = _agree(path, doc["analysis"], given, "an \"analysis\" entry")
    if doc.get("luminosity_ifb") is not None:
        lumi = _load_analysis(path, analysis).luminosity_ifb
        if not math.isclose(doc["luminosity_ifb"], lumi, rel_tol=1e-6):
            raise YieldsError(f"{path}: the yields are for {doc['luminosity_ifb']:g} fb^-1, but {analysis} has "
                              f"{lumi:g} fb^-1: give the expected events at the analysis' luminosity")
    return rows, analysis, doc.get("cross_section")


def _region_lines(text: str) -> dict[int, int]:
    """Line number of each signal-region entry (the line of its ``"name"``), by position."""
    start = text.find('"signal_regions"')
    if start < 0:
        return {}
    out = {}
    for k, m in enumerate(re.finditer(r'"name"\s*:', text[start:])):
        out[k] = text.count("\n", 0, start + m.start()) + 1
    return out


# -- both -----------------------------------------------------------------------------------------


def _load_analysis(path: Path, name: str):
    from .. import analysis as ana_mod

    try:
        return ana_mod.load(name)
    except RecastError as exc:
        raise YieldsError(f"{path}: {exc}") from None


def _document(path: Path, analysis, rows: list[dict[str, Any]], xsec: dict | None) -> dict[str, Any]:
    known = [sr.name for sr in analysis.signal_regions]
    seen: dict[str, Any] = {}
    for r in rows:
        where = f"{path}:{r['line']}"
        if r["name"] not in known:
            raise YieldsError(f"{where}: {analysis.id} has no signal region {r['name']!r} "
                              f"(its regions: {', '.join(known)})")
        if r["name"] in seen:
            raise YieldsError(f"{where}: region {r['name']} is listed twice (first on line {seen[r['name']]})")
        seen[r["name"]] = r["line"]
        for key in ("yield", "yield_err"):
            value = r[key]
            if value is not None and (not math.isfinite(value) or value < 0):
                raise YieldsError(f"{where}: {key} of {r['name']} is {value:g}: expected events, finite and >= 0")
    published = analysis.published
    regions = [{"name": r["name"], "yield": r["yield"], "yield_err": r["yield_err"] or 0.0,
                "published": published[r["name"]].to_dict() if r["name"] in published else None} for r in rows]
    return {"analysis": {"id": analysis.id, "luminosity_ifb": analysis.luminosity_ifb},
            "cross_section": xsec, "signal_regions": regions, "input": {"kind": "yields", "path": str(path)}}
