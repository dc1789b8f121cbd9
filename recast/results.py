"""Results files: one versioned JSON per analysis run, with everything needed to reproduce it.

The layout is fixed by ``recast/schemas/result-1.schema.json`` (JSON Schema 2020-12); every
file is validated against it before it is written, and again when it is read. Files are written
atomically (a temporary file in the same directory, then a rename), so an interrupted run never
leaves a half-written result, and a run that fails part-way still records the events it processed
(with ``complete: false`` and the error).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


from .analysis import Analysis
from .atomic import write_bytes
from .engine import Counts
from .errors import RecastError, read_text
from .xsec import CrossSection

SCHEMA_NAME = "recast-result"
SCHEMA_VERSION = 1
_PACKAGES = ("recast", "numpy", "awkward", "numba", "fastjet", "pyhepmc", "pythia8mc", "onnxruntime", "pyhf")


@lru_cache(maxsize=None)
def schema() -> dict:
    from . import schemas

    return schemas.schema("result", SCHEMA_VERSION)


def software_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def build(analysis: Analysis, counts: Counts, *, options: dict[str, Any], seed: int,
          source: dict[str, Any], cross_section: CrossSection | None, complete: bool = True,
          error: str | None = None, notes: list[str] | None = None,
          detector: dict[str, str] | None = None) -> dict[str, Any]:
    """The result document of one run (see the schema for the meaning of every field);
    ``detector``: the card's name, path and sha256 (:func:`recast.detector.describe`)."""
    lumi = analysis.luminosity_ifb
    scale = cross_section.value_fb * lumi if cross_section is not None else None
    published = analysis.published
    regions = []
    for sr in counts.regions:
        steps = counts.cutflows[sr.name]
        flow = []
        for s in steps:
            eff, err = counts.efficiency(s)
            flow.append({"step": s.step, "condition": s.condition, "n": s.n, "sumw": s.sumw,
                         "sumw2": s.sumw2, "acc_eff": eff, "acc_eff_err": err,
                         "yield": eff * scale if scale is not None else None})
        last = flow[-1]
        pub = published.get(sr.name)
        regions.append({
            "name": sr.name, "group": sr.group, "n": last["n"], "sumw": last["sumw"], "sumw2": last["sumw2"],
            "acc_eff": last["acc_eff"], "acc_eff_err": last["acc_eff_err"],
            "yield": last["yield"],
            "yield_err": last["acc_eff_err"] * scale if scale is not None else None,
            "published": pub.to_dict() if pub is not None else None,
            "cutflow": flow,
        })
    doc = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "created": timestamp(),
        "complete": complete,
        "error": error,
        "analysis": {"id": analysis.id, "title": analysis.title, "arxiv": analysis.arxiv,
                     "sqrt_s_tev": analysis.sqrt_s_tev, "luminosity_ifb": lumi, "options": options},
        **({"detector": dict(detector)} if detector is not None else {}),
        "input": source,
        "events": {"n": counts.n_events, "sumw": counts.sumw, "sumw2": counts.sumw2},
        "cross_section": cross_section.to_dict() if cross_section is not None else None,
        "seed": seed,
        "software": software_versions(),
        "notes": list(notes or []),
        "signal_regions": regions,
        "skipped_signal_regions": [{"name": k, "reason": v} for k, v in counts.skipped.items()],
        "histograms": [_histogram(h, counts, scale) for h in counts.histogram_definitions],
    }
    validate(doc)
    return doc


def _histogram(h, counts: Counts, scale: float | None) -> dict[str, Any]:
    bins = counts.histograms[h.name]
    total = counts.sumw if counts.sumw else 1.0
    return {"name": h.name, "variable": h.variable, "unit": h.unit, "edges": list(map(float, h.edges)),
            "selection": [c.condition for c in h.cuts], "n": [int(x) for x in bins["n"]],
            "sumw": bins["sumw"].tolist(), "sumw2": bins["sumw2"].tolist(),
            "yield": [x / total * scale for x in bins["sumw"]] if scale is not None else None}


def validate(doc: dict[str, Any], path: str | Path = "result") -> None:
    """Check a result document against the schema; a one-line RecastError otherwise."""
    from . import schemas

    schemas.validate(doc, "result", path, accept=(SCHEMA_VERSION,))


def timestamp() -> str:
    """Now, in UTC, to the second (ISO 8601): when a document was made."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def encode(doc: dict[str, Any]) -> bytes:
    """A JSON document as the bytes of its file (NaN and infinities refused: they are not JSON)."""
    return (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write any JSON document to ``path`` atomically (temporary file beside it, then rename)."""
    write_bytes(path, encode(doc))


write_atomic = write_json_atomic  # result documents


def read(path: Path) -> dict[str, Any]:
    """Read and validate a result file."""
    path = Path(path)
    try:
        doc = json.loads(read_text(path, RecastError, "result file"))
    except json.JSONDecodeError as exc:
        raise RecastError(f"{path}: not readable JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RecastError(f"{path}: not a recast result file")
    validate(doc, path)
    return doc
