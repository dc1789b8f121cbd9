"""Comparing: recast's numbers against the published ones, and what they add up to.

:func:`compare_point` turns a finished benchmark into its checks: per cutflow row the reference,
recast, their ratio with its error and the pull; per A x eff its ratio; each with its verdict by
the specification's :class:`~recast.validation.rule.Rule`. :func:`status` sums the verdicts up per
region and for the analysis; :func:`provenance` records what a reader needs to reproduce them;
:func:`status_document` is the status ``recast list`` and ``recast info`` show
(``data/<ANA>/validation.json``, :func:`read_status`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import RecastError
from ..results import timestamp
from .rule import INCONCLUSIVE, VALIDATED, ZERO_COUNT_EVENTS, summarise
from .rule import overall as overall_status
from .spec import Benchmark, CutflowRef, Spec

STATUS_SCHEMA = "recast-validation-status"
STATUS_VERSION = 3  # 2: "inconclusive" regions and analyses; 3: sigma_UL planes
SCHEMA_VERSIONS = (1, 2, 3)  # the versions check_schema and read_status accept
STATUS_FILE = "validation.json"  # data/<ANA>/: the status recast list and recast info show


def _ratio(ours: float, ours_err: float, ref: float, ref_rel: float = 0.0) -> tuple[float | None, float | None]:
    if not ref or ours is None:
        return None, None
    r = ours / ref
    rel = math.hypot(ours_err / ours if ours else float("inf"), ref_rel)
    err = r * rel if ours else (ours_err / ref)
    return r, err


def _empty_count_error(all_events: Mapping[str, Any], key: str, scale: float = 1.0) -> float:
    """The error of an empty count in the unit of ``key`` (``yield`` or ``acc_eff``): the one-sigma
    Poisson bound, :data:`ZERO_COUNT_EVENTS` MC events of the sample's mean weight."""
    n = all_events["n"]
    return ZERO_COUNT_EVENTS * all_events[key] * scale / n if n else float("nan")


def compare_point(spec: Spec, point: Benchmark, result: dict[str, Any],
                  by_detector: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The comparisons of one finished point: A x eff per region and each cutflow row, each with
    its verdict by the spec's rule (``status``: None where it is not judged); ``detector``: the
    result's card. ``by_detector``: the point's results with other detector cards (same events),
    compared the same way under ``by_detector`` (shown beside, never part of the status)."""
    lumi = spec.analysis.luminosity_ifb
    regions = {r["name"]: r for r in result["signal_regions"]}
    acc = []
    for sr, refs in point.acc_eff.items():
        ours = regions[sr]
        err = ours["acc_eff_err"] if ours["n"] else _empty_count_error(ours["cutflow"][0], "acc_eff")
        row = {"region": sr, "recast": ours["acc_eff"], "recast_err": err, "mc_events": ours["n"], "references": refs}
        ref = refs.get("atlas")
        row["ratio"], row["ratio_err"] = _ratio(ours["acc_eff"], err, ref)
        row["pull"] = ((row["ratio"] - 1) / row["ratio_err"]) if row["ratio"] is not None and row["ratio_err"] else None
        # an interpolated map value is shown, not judged: between ATLAS' grid points A x eff can vary fast
        row["interpolated"] = sr in point.interpolated
        row["judged"] = (point.judge and ref is not None and ref >= spec.rule.min_reference
                         and not row["interpolated"])
        row["status"] = spec.rule.verdict(row["ratio"], row["ratio_err"]) if row["judged"] else None
        acc.append(row)
    xsec = (result.get("cross_section") or {}).get("value_fb")
    cutflows = {}
    for sr, cf in point.cutflows.items():
        cutflows[sr] = compare_cutflow(spec, cf, regions[sr], xsec, lumi)
        if not point.judge:
            cutflows[sr]["judged"], cutflows[sr]["final_status"] = False, None
    out = {"detector": detector_name(result), "acc_eff": acc, "cutflows": cutflows}
    if by_detector:
        out["by_detector"] = {detector_name(doc): compare_point(spec, point, doc) for doc in by_detector.values()}
    return out


def detector_name(result: Mapping[str, Any]) -> str:
    """The detector card a result was made with (results without a detector block are truth level)."""
    return (result.get("detector") or {}).get("name", "truth")


def compare_cutflow(spec: Spec, cf: CutflowRef, region: dict[str, Any], xsec: float | None,
                    lumi: float) -> dict[str, Any]:
    """One cutflow reference against a region of a result (its cutflow in the reference's order,
    the cross section ``xsec`` in fb or None, ``lumi`` in fb^-1): per row recast's number and
    error, the ratio to ATLAS with its error, the pull and the verdict; the last row's decides."""
    steps = region["cutflow"]  # all events, preselection..., the region's cuts (reordered)
    n_pre = len(spec.analysis.preselection)
    index_of = {c.step: 1 + i for i, c in enumerate(spec.analysis.preselection)}
    sr_order = [s for s in cf.steps() if s not in index_of]
    index_of.update({s: 1 + n_pre + i for i, s in enumerate(sr_order)})
    rows, current = [], 0
    for r in cf.rows:
        if r["ours"]:
            current = max(index_of[s] for s in r["ours"])
        step = steps[current]
        value = step["yield"] if cf.unit == "events" else step["acc_eff"]
        if value is None:  # no cross section: events cannot be compared
            value = step["acc_eff"] * (xsec or float("nan")) * lumi
        rows.append({"label": r["label"], "ours_steps": r["ours"], "modelled": r["ours"] is not None,
                     "step": step["step"], "recast": value, "n": step["n"], "sumw": step["sumw"],
                     "sumw2": step["sumw2"], "references": dict(r["values"]), "note": r["note"]})
    norm = cf.normalise_to
    scale = 1.0  # applied to recast's column by the normalisation
    if norm is not None and rows[norm]["references"].get("atlas"):
        target = rows[norm]["references"]["atlas"]
        for key in {k for row in rows for k in row["references"]}:
            base = rows[norm]["references"].get(key)
            for row in rows:
                if base and key in row["references"]:
                    row["references"][key] *= target / base
        if rows[norm]["recast"]:
            scale = target / rows[norm]["recast"]
            for row in rows:
                row["recast"] *= scale
    empty_err = _empty_count_error(steps[0], "yield" if cf.unit == "events" and steps[0]["yield"] is not None
                                   else "acc_eff", scale)
    total_ref = (xsec or 0.0) * lumi if cf.unit == "events" else 1.0
    for i, row in enumerate(rows):
        ref = row["references"].get("atlas")
        ref_rel = 0.0
        if cf.atlas_mc_events and ref and total_ref:
            n_atlas = cf.atlas_mc_events * ref / total_ref
            ref_rel = 1.0 / math.sqrt(n_atlas) if n_atlas > 0 else 0.0
        row["atlas_mc_rel_err"] = ref_rel or None
        if row["sumw"] > 0:
            if norm is not None:  # binomial, relative to the normalisation row (a subset of it or its superset)
                n_i, n_k = row["sumw"] ** 2 / row["sumw2"], rows[norm]["sumw"] ** 2 / rows[norm]["sumw2"]
                rel = math.sqrt(abs(1.0 / n_i - 1.0 / n_k))
            else:
                rel = math.sqrt(row["sumw2"]) / row["sumw"]
            row["recast_err"] = row["recast"] * rel
        else:
            rel, row["recast_err"] = None, empty_err
        row["ratio"] = row["ratio_err"] = row["pull"] = None
        if ref:
            r = row["recast"] / ref
            err = r * math.hypot(rel, ref_rel) if rel is not None else empty_err / ref
            row["ratio"], row["ratio_err"] = r, err
            row["pull"] = (r - 1) / err if err else None
        # the normalisation row equals ATLAS by construction: it checks nothing
        row["status"] = None if i == norm else spec.rule.verdict(row["ratio"], row["ratio_err"])
    last = rows[-1]
    judged = last["references"].get("atlas") is not None and (
        cf.unit == "events" or last["references"]["atlas"] >= spec.rule.min_reference)
    return {"region": cf.region, "table": cf.table, "unit": cf.unit, "normalise_to": norm,
            "atlas_mc_events": cf.atlas_mc_events, "rows": rows, "judged": judged,
            "final_status": last["status"] if judged else None}


def deciding_checks(compared: Mapping[str, dict[str, Any]]):
    """(region, point, kind, ratio, ratio error) of every judged check that decides a region's
    status: the A x eff rows and the last row of each cutflow. ``compared`` is what
    :func:`compare_point` returns per point, or the ``points`` of a summary.json (version 1 or 2):
    the verdicts are recomputed from the stored numbers."""
    for name, comp in compared.items():
        for row in comp.get("acc_eff") or []:
            if row["judged"]:
                yield row["region"], name, "A x eff", row["ratio"], row["ratio_err"]
        for sr, cf in (comp.get("cutflows") or {}).items():
            judged = cf["judged"] if "judged" in cf else cf.get("final_ok") is not None  # version 1: final_ok
            if judged:
                last = cf["rows"][-1]
                yield sr, name, "cutflow", last["ratio"], last["ratio_err"]


def status(spec: Spec, compared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Per region and for the analysis, by the spec's rule (see :class:`Rule`)."""
    per: dict[str, list[tuple[str, str]]] = {}
    for region, name, kind, ratio, err in deciding_checks(compared):
        verdict = spec.rule.verdict(ratio, err)
        if verdict is not None:
            per.setdefault(region, []).append((f"{name} ({kind})", verdict))
    regions = {sr.name: summarise(per.get(sr.name, [])) for sr in spec.analysis.signal_regions}
    compared_srs = [s for s, v in regions.items() if v["checks"]]
    good = [s for s in compared_srs if regions[s]["status"] == VALIDATED]
    unsure_srs = [s for s in compared_srs if regions[s]["status"] == INCONCLUSIVE]
    overall, label = overall_status(regions, spec.rule.tolerance, spec.no_reference)
    return {"status": overall, "label": label, "regions_compared": len(compared_srs),
            "regions_validated": len(good), "regions_inconclusive": len(unsure_srs), "regions_total": len(regions),
            "rule": dataclasses.asdict(spec.rule), "rule_text": spec.rule.text(), "regions": regions,
            "no_reference": spec.no_reference}


def check_schema(doc: dict[str, Any], name: str, where: str | Path) -> None:
    """Validate a document of this module (``validation`` or ``validation-status``) against the
    schema of the version it states: committed reports of an older version stay readable."""
    from .. import schemas

    schemas.validate(doc, name, where, accept=SCHEMA_VERSIONS)


def read_status(analysis_id: str) -> dict[str, Any] | None:
    """The stored validation status of an analysis (``data/<ANA>/validation.json``); None when there
    is none or it is not a valid status file (``recast list`` then says "no report")."""
    from ..paths import analysis_data_dir

    path = analysis_data_dir(analysis_id) / STATUS_FILE
    try:
        doc = json.loads(path.read_text())
        check_schema(doc, "validation-status", path)
        return doc
    except (OSError, ValueError, RecastError):
        return None


def provenance(spec: Spec, points: Sequence[Benchmark], runs: Mapping[str, dict[str, Any]],
               args=None) -> dict[str, Any]:
    """What a reader needs to reproduce the report: software, options, artifact hashes, seeds."""
    from .. import __version__, artifacts
    from ..models.card import card

    ana = spec.analysis
    results = [r["result"] for r in runs.values() if r.get("result")]
    software = results[0]["software"] if results else {"recast": __version__}
    used: dict[str, str | None] = {}
    try:
        registry = {a.id: a.sha256 for a in artifacts.registry(ana.id)}
    except RecastError:
        registry = {}
    for use in ana.model_uses(ana.resolve_options({})):
        for fname in card(ana.id, use.card).files.values():
            used[fname] = registry.get(fname)
    return {"created": timestamp(),
            "command": "recast validate " + " ".join(getattr(args, "argv", []) or [ana.id]),
            "specification": str(spec.path), "software": software,
            "default_options": ana.resolve_options({}), "model_artifacts_sha256": used,
            "points": [{"name": p.name, "process": p.process, "nevents": p.nevents, "seed": p.seed,
                        "cross_section_fb": (((runs.get(p.name) or {}).get("result") or {}).get("cross_section")
                                             or {}).get("value_fb", p.cross_section_fb),
                        "options": p.options, "seconds": runs.get(p.name, {}).get("seconds"),
                        "error": runs.get(p.name, {}).get("error")} for p in points]}


def status_document(analysis_id: str, status: Mapping[str, Any], prov: Mapping[str, Any],
                    report: str, reports: Sequence[str] = ()) -> dict[str, Any]:
    """The status ``recast list`` and ``recast info`` show, with where it came from (``report``;
    ``reports``: every committed report part it counts, :mod:`recast.validation.parts`)."""
    doc = {"schema": STATUS_SCHEMA, "schema_version": STATUS_VERSION, "analysis": analysis_id,
           "created": prov["created"], "report": report, "status": status["status"],
           "label": status["label"], "rule": status["rule_text"],
           "regions": {sr: v["status"] for sr, v in status["regions"].items()},
           "events_per_point": sorted({p["nevents"] for p in prov["points"]}),
           "no_reference": status.get("no_reference", "")}
    if status.get("planes"):  # recast.validation.limits.with_planes
        doc["planes"] = {name: v["status"] for name, v in status["planes"].items()}
    if len(reports) > 1:
        doc["reports"] = list(reports)
    check_schema(doc, "validation-status", STATUS_FILE)
    return doc


def write_status(path: Path, doc: Mapping[str, Any]) -> Path:
    """Write a :func:`status_document` (``output.save``: a fallback file if ``path`` cannot be written)."""
    from .. import output
    from ..results import encode

    return output.save(path, encode(doc), "validation status")
