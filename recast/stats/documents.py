"""What ``recast limit`` computes and writes: the limits of a result with the requested
likelihoods (:func:`compute`), as the versioned limits document (:func:`document`,
``recast/schemas/limits-2.schema.json``) and the bytes of its file (:func:`encode`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import RecastError
from ..results import timestamp
from . import limits
from .full_likelihood import full
from .hypotest import CLS_FLOOR, CLS_LEVEL
from .limits import Limits, ProgressCallback, Steps
from .simplified_likelihood import simplified

LIMITS_SCHEMA = "recast-limits"
LIMITS_VERSION = 2
SOURCE_KINDS = ("result", "yields")
LIKELIHOODS = ("simplified", "full", "both")


def compute(doc: dict[str, Any], analysis, likelihood: str = "simplified", xsec_unc: bool = False,
            upper_limits: str = "best", on_region: ProgressCallback | None = None,
            ml_unc: limits.MLUncertainty | None = None, ml_source: str = "recast probe") -> list[Limits]:
    """Limits of a result with the requested likelihood(s): ``simplified``, ``full`` or ``both``;
    ``upper_limits`` chooses the regions that get an upper limit on mu (``none``, ``best``, ``all``).
    ``on_region(what, done, total)`` is called after every region, combination and upper limit.
    ``ml_unc``: region -> relative (up, down) ML-selection robustness band (``recast probe``, read
    from ``ml_source``), a normsys on each such region's signal."""
    if likelihood not in LIKELIHOODS:
        raise RecastError(f"--likelihood {likelihood}: choose simplified, full or both")
    limits.check_upper_limits(upper_limits)
    known = {r.name for r in analysis.signal_regions}
    foreign = [sr["name"] for sr in doc["signal_regions"] if sr["name"] not in known]
    if doc["analysis"]["id"] != analysis.id or foreign:
        raise RecastError(f"the result is not one of {analysis.id} as recast knows it (signal regions "
                          f"{', '.join(foreign[:5]) or doc['analysis']['id']})")
    steps = Steps(limits.count_steps(doc, analysis, likelihood, upper_limits), on_region)
    ml_unc = {region: band for region, band in (ml_unc or {}).items() if band[0] or band[1]}  # (0, 0): no modifier
    unknown = sorted(set(ml_unc) - known)
    if unknown:
        raise RecastError(f"{ml_source}: ML-selection uncertainty for regions {analysis.id} does not have: "
                          f"{', '.join(unknown)}")
    out = []
    if likelihood in ("simplified", "both"):
        out.append(simplified(doc, analysis, xsec_unc, upper_limits, _steps=steps, ml_unc=ml_unc))
    if likelihood in ("full", "both"):
        out.append(full(doc, analysis, xsec_unc, upper_limits, _steps=steps, ml_unc=ml_unc))
    note = limits.ml_note(ml_unc, ml_source)
    for lim in out:
        if note:
            lim.notes.append(note)
    return out


def document(analysis_id: str, source: str, limits: Sequence[Limits], source_kind: str = "result") -> dict[str, Any]:
    """The versioned limits file (``recast/schemas/limits-2.schema.json``) of one result or yields
    table (``source_kind``), checked against its schema."""
    from .. import schemas

    if source_kind not in SOURCE_KINDS:
        raise ValueError(f"source_kind {source_kind!r}")
    doc = {"schema": LIMITS_SCHEMA, "schema_version": LIMITS_VERSION,
           "created": timestamp(),
           "analysis": analysis_id, "source": source, "source_kind": source_kind, "cls_level": CLS_LEVEL,
           "cls_floor": CLS_FLOOR, "limits": {lim.likelihood: lim.to_dict() for lim in limits}}
    schemas.validate(_finite(doc), "limits", "limits", accept=(LIMITS_VERSION,))
    return doc


def encode(doc: dict[str, Any]) -> bytes:
    """A limits document as the bytes of its file."""
    from ..results import encode as encode_json

    return encode_json(doc)


def _finite(obj):
    """NaN/inf have no JSON form: refuse them loudly rather than write an invalid file."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise RecastError(f"a limit came out as {obj}: the fit did not converge")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
