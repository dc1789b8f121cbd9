"""Validation: ATLAS' published numbers against recast's, cut by cut and point by point.

A specification file (``validation/<ANA>.yaml``; the format is in ``validation/README.md``) lists
benchmark points with their published reference numbers: cutflows, final A x eff, and grids
compared with a published A x eff map. :func:`run` generates every point (Pythia 8, one Dask task
per point, as ``recast scan`` does), runs the analysis on it, and :func:`compare` turns the
results into comparisons: per cutflow row the reference, recast, their ratio with its error and
the pull; per region a status by a stated rule (:class:`Rule`). :mod:`recast.validation_report`
writes the report.

A published cutflow often orders the cuts differently from the analysis' signal-region table; the
rows of a reference name recast's steps (``ours``) and the comparison runs the analysis with each
region's cuts in the reference's order (the final yields do not depend on it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import RecastError

SUMMARY_SCHEMA = "recast-validation"
SUMMARY_VERSION = 2  # 2: a verdict per check (validated, disagrees, inconclusive); version 1 still reads
STATUS_SCHEMA = "recast-validation-status"
STATUS_VERSION = 2  # 2: "inconclusive" regions and analyses
SCHEMA_VERSIONS = (1, 2)  # the versions check_schema and read_status accept
STATUS_FILE = "validation.json"  # data/<ANA>/: the status recast list and recast info show
SPEC_FILE = "validation_spec.yaml"  # data/<ANA>/: the specification recast validate reads by default
SCORE_BINS = 25

VALIDATED, DISAGREES, INCONCLUSIVE, NOT_VALIDATED = "validated", "disagrees", "inconclusive", "not validated"

# The error of an empty recast count, in MC events: the one-sigma (68.27 % CL) Poisson upper limit
# on the mean when nothing is observed, -ln(1 - 0.6827). A zero has an error like any count; with
# none (or the zero a Gaussian sqrt(n) gives) an empty row would look precise.
ZERO_COUNT_EVENTS = -math.log(1.0 - 0.6827)


@dataclass(frozen=True)
class Rule:
    """How a check is judged. A check is one ratio r = recast / reference (the last row of a
    cutflow, the A x eff of a benchmark point or of a map cell) with its error sigma_r:

    - it **disagrees** when |r - 1| exceeds both ``tolerance`` and ``sigma`` x sigma_r: a
      significant deviation beyond the tolerance, however imprecise the check;
    - otherwise it is **inconclusive** when sigma_r exceeds ``tolerance`` (the MC statistics cannot
      tell whether r lies inside the tolerance, whatever its pull) or recast counts no event;
    - otherwise it is **validated**.

    A region disagrees when any of its checks does, is validated when none does and at least one
    is validated, and is inconclusive when all its checks are. A reference A x eff below
    ``min_reference`` is shown but not judged: the region has no sensitivity there and its MC
    statistics on both sides are poor."""

    tolerance: float = 0.20
    sigma: float = 2.0
    min_reference: float = 1e-3

    def text(self) -> str:
        tol, sig = f"{self.tolerance:.0%}", f"{self.sigma:g} sigma_r"
        return (f"a check (a cutflow's last row, an A x eff, a map cell) compares r = recast/ATLAS, its error sigma_r "
                f"from recast's MC statistics (and ATLAS' where its number of generated events is known; an empty "
                f"count's is the one-sigma Poisson bound of {ZERO_COUNT_EVENTS:.2f} MC events); it disagrees when "
                f"|r - 1| exceeds both {tol} and {sig}, is inconclusive otherwise when sigma_r > {tol} or recast "
                f"counts no event, and is validated otherwise; a region disagrees when one of its checks does, is "
                f"validated when none does and one is validated, and is inconclusive when all its checks are; "
                f"reference A x eff below {self.min_reference:g} not judged")

    def verdict(self, ratio: float | None, err: float | None) -> str | None:
        """``VALIDATED``, ``DISAGREES`` or ``INCONCLUSIVE`` for a ratio and its error; None when
        there is no ratio (no reference, or no cross section for a yield)."""
        if ratio is None or not math.isfinite(ratio):
            return None
        if err is None or not math.isfinite(err):
            return INCONCLUSIVE
        dev = abs(ratio - 1.0)
        if dev > self.tolerance and dev > self.sigma * err:
            return DISAGREES
        if err > self.tolerance or ratio == 0.0:
            return INCONCLUSIVE
        return VALIDATED


# -- the specification ---------------------------------------------------------------------------


@dataclass
class CutflowRef:
    region: str
    table: str
    unit: str  # "events" | "fraction"
    rows: list[dict[str, Any]]  # label, ours (list | None), values {ref: number}, note
    normalise_to: int | None = None
    atlas_mc_events: int | None = None

    def steps(self) -> list[str]:
        """recast's steps named by the rows, in row order: the order the comparison applies them."""
        return [s for r in self.rows for s in (r["ours"] or [])]


@dataclass
class Point:
    name: str
    process: str
    nevents: int
    seed: int
    slha: dict[str, Any]  # {"simplified": kind, "m_parent", "m_lsp"} | {"path"} | {"artifact", ...}
    cross_section_fb: float | None = None
    cross_section_source: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    judge: bool = True  # False: a study (e.g. a non-default convention), shown but not part of the status
    acc_eff: dict[str, dict[str, float]] = field(default_factory=dict)  # region -> ref -> value
    interpolated: set[str] = field(default_factory=set)  # regions whose reference is interpolated in a map
    cutflows: dict[str, CutflowRef] = field(default_factory=dict)
    grid: str | None = None
    m_parent: float | None = None
    m_lsp: float | None = None


@dataclass
class Spec:
    path: Path
    analysis: Any
    rule: Rule
    references: dict[str, dict[str, Any]]
    points: list[Point]
    grids: list[dict[str, Any]]
    no_reference: str = ""  # why there is nothing to compare, for an analysis without published references


def _fail(path: Path, where: str, msg: str) -> RecastError:
    return RecastError(f"{path}: {where}: {msg}")


def spec_path(analysis_id: str) -> Path:
    """The specification ``recast validate`` reads by default: ``data/<ANA>/validation_spec.yaml``,
    shipped with the package beside the analysis' published numbers, so found from any directory."""
    from .paths import analysis_data_dir

    return analysis_data_dir(analysis_id) / SPEC_FILE


def _spec_file(spec: Path, name: str) -> Path:
    """A file a specification names (an SLHA card, an A x eff map): absolute, or relative to the
    specification's directory; a relative name starting with ``data/`` that is not there names a
    file of the package's data directory (so a copy of a specification elsewhere still finds the
    published maps)."""
    from .paths import data_dir

    named = Path(name)
    if named.is_absolute():
        return named
    beside = (spec.parent / named).resolve()
    if beside.is_file() or named.parts[0] != "data":
        return beside
    return data_dir().joinpath(*named.parts[1:])


def load_spec(path: str | Path, analysis=None) -> Spec:
    """Read and check a specification file (see ``validation/README.md``)."""
    from . import analysis as ana_mod

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RecastError(f"{path}: no such validation specification") from None
    except yaml.YAMLError as exc:
        raise RecastError(f"{path}: not valid YAML ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(doc, dict) or "analysis" not in doc:
        raise RecastError(f"{path}: not a validation specification (no 'analysis' key)")
    ana = analysis or ana_mod.load(doc["analysis"])
    rule = Rule(**(doc.get("rule") or {}))
    refs = doc.get("references") or {"atlas": {"label": "ATLAS", "source": ""}}
    if "atlas" not in refs:
        raise _fail(path, "references", "needs an 'atlas' entry (the published numbers judged)")
    points: list[Point] = []
    for i, p in enumerate(doc.get("points") or []):
        points.append(_point(path, ana, refs, p, f"points[{i}]"))
    grids = list(doc.get("grids") or [])
    for i, g in enumerate(grids):
        points.extend(_grid_points(path, ana, g, f"grids[{i}]"))
    names = [p.name for p in points]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(path, "points", f"duplicate names {', '.join(dupes)}")
    return Spec(path=path, analysis=ana, rule=rule, references=refs, points=points, grids=grids,
                no_reference=str(doc.get("no_reference") or ""))


def _slha_of(path: Path, p: dict[str, Any], where: str) -> dict[str, Any]:
    if p.get("model") is not None:
        if not isinstance(p["model"], dict):
            raise _fail(path, where, "model must be a mapping {simplified, m_parent, m_lsp}")
        m = dict(p["model"])
        kind = m.get("simplified")
        parent = m.get("m_parent", m.get("m_gluino", m.get("m_squark")))
        if kind is None or parent is None or "m_lsp" not in m:
            raise _fail(path, where, "model needs simplified, m_parent (or m_gluino/m_squark) and m_lsp")
        return {"simplified": kind, "m_parent": float(parent), "m_lsp": float(m["m_lsp"])}
    s = p.get("slha")
    if isinstance(s, dict) and ("path" in s or "artifact" in s):
        s = dict(s)
        if "path" in s:
            card = _spec_file(path, s["path"])
            if not card.is_file():
                raise _fail(path, where, f"SLHA card {s['path']} not found (looked for {card})")
            s["path"] = str(card)
        return s
    raise _fail(path, where, "give model: {simplified, m_parent, m_lsp} or slha: {path | artifact}")


def _point(path: Path, ana, refs: Mapping[str, Any], p: dict[str, Any], where: str) -> Point:
    if not isinstance(p, dict) or "name" not in p:
        raise _fail(path, where, "a point needs a name")
    where = f"point {p['name']}"
    out = Point(name=str(p["name"]), process=p.get("process", "gluino-pair"), nevents=int(p.get("nevents", 20000)),
                seed=int(p.get("seed", 1)), slha=_slha_of(path, p, where),
                cross_section_fb=p.get("cross_section_fb"), cross_section_source=p.get("cross_section_source", ""),
                options=dict(p.get("options") or {}), note=p.get("note", ""), judge=bool(p.get("judge", True)))
    if out.slha.get("simplified"):
        out.m_parent, out.m_lsp = out.slha["m_parent"], out.slha["m_lsp"]
    regions = {sr.name for sr in ana.signal_regions}
    for sr, vals in (p.get("acc_eff") or {}).items():
        if sr not in regions:
            raise _fail(path, where, f"acc_eff: {ana.id} has no signal region {sr!r}")
        unknown = set(vals) - set(refs)
        if unknown:
            raise _fail(path, where, f"acc_eff {sr}: unknown reference(s) {', '.join(sorted(unknown))}")
        out.acc_eff[sr] = {k: float(v) for k, v in vals.items()}
    for sr, cf in (p.get("cutflows") or {}).items():
        if sr not in regions:
            raise _fail(path, where, f"cutflows: {ana.id} has no signal region {sr!r}")
        out.cutflows[sr] = _cutflow(path, ana, refs, sr, cf, f"{where}, cutflow {sr}")
    try:
        ana.resolve_options(out.options)
    except RecastError as exc:
        raise _fail(path, where, str(exc)) from None
    return out


def _cutflow(path: Path, ana, refs, sr: str, cf: dict[str, Any], where: str) -> CutflowRef:
    rows_in = cf.get("rows") or []
    if not rows_in:
        raise _fail(path, where, "no rows")
    pre = [c.step for c in ana.preselection]
    cuts = [c.step for c in next(r for r in ana.signal_regions if r.name == sr).cuts]
    seen: list[str] = []
    rows = []
    for i, r in enumerate(rows_in):
        label = str(r.get("label", f"row {i}"))
        ours = r.get("ours", [])
        if isinstance(ours, str):
            ours = [ours]
        for name in ours or []:
            if name not in pre and name not in cuts:
                raise _fail(path, where, f"row {label!r}: {name!r} is not a step of recast's cutflow for {sr} "
                                         f"(steps: {', '.join(pre + cuts)})")
            if name in seen:
                raise _fail(path, where, f"row {label!r}: step {name!r} appears twice")
            if name in pre and any(s in cuts for s in seen):
                raise _fail(path, where, f"row {label!r}: preselection step {name!r} after a signal-region cut "
                                         f"(recast applies the preselection first)")
            seen.append(name)
        values = {k: float(v) for k, v in r.items() if k in refs and v is not None}
        rows.append({"label": label, "ours": None if ours is None else list(ours), "values": values,
                     "note": r.get("note", "")})
    seen_pre = [s for s in seen if s in pre]
    if seen_pre != [s for s in pre if s in seen_pre]:
        raise _fail(path, where, f"preselection steps out of recast's order: {', '.join(seen_pre)}")
    missing = [s for s in pre + cuts if s not in seen]
    if missing:
        raise _fail(path, where, f"recast's step(s) {', '.join(repr(s) for s in missing)} are in no row's 'ours'")
    unit = cf.get("unit", "events")
    if unit not in ("events", "fraction"):
        raise _fail(path, where, f"unit {unit!r}: events or fraction")
    norm = cf.get("normalise_to")
    if norm is not None and not (isinstance(norm, int) and 0 <= norm < len(rows)):
        raise _fail(path, where, f"normalise_to {norm!r}: a row index 0..{len(rows) - 1}")
    return CutflowRef(region=sr, table=str(cf.get("table", "")), unit=unit, rows=rows, normalise_to=norm,
                      atlas_mc_events=cf.get("atlas_mc_events"))


def _grid_points(path: Path, ana, g: dict[str, Any], where: str) -> list[Point]:
    for key in ("name", "model", "m_parent", "m_lsp", "acc_eff_map"):
        if key not in g:
            raise _fail(path, where, f"a grid needs {key}")
    amap = g["acc_eff_map"]
    map_path = _spec_file(path, amap["file"])
    if not map_path.is_file():
        raise _fail(path, where, f"acc_eff_map {amap['file']} not found (looked for {map_path})")
    maps = json.loads(map_path.read_text())["maps"]
    ref = amap.get("reference", "atlas")
    out = []
    for i, mp in enumerate(g["m_parent"]):
        for j, ml in enumerate(g["m_lsp"]):
            if ml >= mp:
                continue
            name = f"{g['name']}_{mp:g}_{ml:g}"
            point = Point(name=name, process=g.get("process", "gluino-pair"), nevents=int(g.get("nevents", 20000)),
                          seed=int(g.get("seed", 1)) * 1000 + 31 * i + j,
                          slha={"simplified": g["model"], "m_parent": float(mp), "m_lsp": float(ml)},
                          cross_section_fb=None, cross_section_source="NNLOapprox+NNLL table (recast.xsec)",
                          options=dict(g.get("options") or {}), grid=g["name"], m_parent=float(mp), m_lsp=float(ml))
            for sr, rows in maps.items():
                value = acc_eff_from_map(rows, mp, ml)
                if value is not None:
                    point.acc_eff[sr] = {ref: value}
                    if not any(r[0] == mp and r[1] == ml for r in rows):
                        point.interpolated.add(sr)
            if point.acc_eff:  # outside the published map: nothing to compare
                out.append(point)
    return out


def acc_eff_from_map(rows: Sequence[Sequence[float]], m_parent: float, m_lsp: float) -> float | None:
    """A published A x eff at a mass point, linear in the Delaunay triangles of the map's points;
    None outside the map."""
    import numpy as np
    from scipy.interpolate import LinearNDInterpolator

    arr = np.asarray(rows, float)
    value = float(LinearNDInterpolator(arr[:, :2], arr[:, 2])(m_parent, m_lsp))
    return None if math.isnan(value) else value


# -- running ---------------------------------------------------------------------------------------


def ordered_analysis(ana, cutflows: Mapping[str, CutflowRef], options: Mapping[str, Any] | None = None):
    """The analysis for ``options`` with each referenced region's cuts in its reference's row order
    (its regions fixed to those of the options: an option may change a region's cuts)."""
    regions = []
    for sr in ana.regions(ana.resolve_options(dict(options or {}))):
        cf = cutflows.get(sr.name)
        if cf is None:
            regions.append(sr)
            continue
        by_step = {c.step: c for c in sr.cuts}
        regions.append(dataclasses.replace(sr, cuts=tuple(by_step[s] for s in cf.steps() if s in by_step)))
    return dataclasses.replace(ana, signal_regions=tuple(regions), regions_for=None)


def score_histograms(ana, options: Mapping[str, Any]):
    """One histogram per region that cuts on a model score: the score after every other cut."""
    from .analysis import Histogram
    from .models.card import card

    uses = {u.score: u for u in ana.model_uses(options)}
    out = []
    for sr in ana.regions(options):
        cut = sr.score_cut
        if cut is not None and cut.score in uses:
            lo = -1.0 if "tmva" in card(ana.id, uses[cut.score].card).format.lower() else 0.0
            edges = tuple(lo + (1.0 - lo) * k / SCORE_BINS for k in range(SCORE_BINS + 1))
            out.append(Histogram(f"score {sr.name}", cut.score, edges, tuple(x for x in sr.cuts if x is not cut)))
    return tuple(out)


def score_cuts(ana) -> dict[str, tuple[str, float]]:
    """Region -> (score variable, threshold) for the regions that cut on a model score."""
    return {sr.name: (sr.score_cut.score, sr.score_cut.threshold) for sr in ana.signal_regions if sr.score_cut}


def slha_text(point: Point, analysis_id: str) -> str:
    """The point's SLHA card: a simplified model, a file, or an edited card of the analysis' registry."""
    from . import artifacts
    from .slha import edited, simplified_model

    s = point.slha
    if s.get("simplified"):
        return simplified_model(s["simplified"], s["m_parent"], s["m_lsp"])
    if "path" in s:
        return Path(s["path"]).read_text()
    text = artifacts.fetch(artifacts.get(analysis_id, s["artifact"]), progress=False).read_text()
    if "MODSEL" not in text.upper():  # some published cards omit it; Pythia's SLHA reader wants one
        text = "BLOCK MODSEL\n    1   0\n" + text
    return edited(text, {int(k): v for k, v in (s.get("masses") or {}).items()}, s.get("blocks"))


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """One point on a worker: generate, run the (reordered) analysis, return the result document
    or the error. Never raises for a bad point."""
    from . import analysis as ana_mod
    from . import pipeline
    from .parallel import limit_threads

    limit_threads()
    point: Point = task["point"]
    t0 = time.perf_counter()
    try:
        ana = ana_mod.load(task["analysis"])
        options = ana.resolve_options(point.options)
        variant = ordered_analysis(ana, point.cutflows, options)
        variant = dataclasses.replace(variant, histograms=variant.histograms_for(options)
                                      + score_histograms(variant, options))
        with tempfile.TemporaryDirectory(prefix="recast-validate-") as tmp:
            card = Path(tmp) / f"{point.name}.slha"
            card.write_text(slha_text(point, ana.id))
            spec = pipeline.PointSpec(slha=card, analyses=[variant], nevents=point.nevents, seed=point.seed,
                                      process=point.process, options={ana.id: point.options},
                                      chunk_size=2000, xsec_fb=point.cross_section_fb)
            result = pipeline.run_point(spec)[ana.id]
        return {"name": point.name, "result": result, "error": None, "seconds": time.perf_counter() - t0}
    except Exception as exc:  # a point that fails is reported in the page; the others run on
        msg = " ".join(f"{type(exc).__name__}: {exc}".split()) if not isinstance(exc, RecastError) else \
            " ".join(str(exc).split())
        return {"name": point.name, "result": None, "error": msg[:400], "seconds": time.perf_counter() - t0}


def run(spec: Spec, points: Sequence[Point], *, workers: int | None = None, scheduler: str | None = None,
        on_done: Callable[[dict[str, Any]], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run ``points`` on Dask; outcome (result or error) by point name."""
    from .parallel import map_on_dask

    tasks = {p.name: {"analysis": spec.analysis.id, "point": p} for p in points}
    out = {}
    for name, outcome in map_on_dask(run_one, tasks, workers=workers, scheduler=scheduler, key_prefix="recast-validate"):
        if isinstance(outcome, BaseException):
            outcome = {"name": name, "result": None, "seconds": None,
                       "error": f"the worker running this point failed: {type(outcome).__name__}: {outcome}"}
        out[name] = outcome
        if on_done:
            on_done(outcome)
    return out


# -- comparing -------------------------------------------------------------------------------------


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


def compare_point(spec: Spec, point: Point, result: dict[str, Any]) -> dict[str, Any]:
    """The comparisons of one finished point: A x eff per region and each cutflow row, each with
    its verdict by the spec's rule (``status``: None where it is not judged)."""
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
        cutflows[sr] = _compare_cutflow(spec, cf, regions[sr], xsec, lumi)
        if not point.judge:
            cutflows[sr]["judged"], cutflows[sr]["final_status"] = False, None
    return {"acc_eff": acc, "cutflows": cutflows}


def _compare_cutflow(spec: Spec, cf: CutflowRef, region: dict[str, Any], xsec: float | None,
                     lumi: float) -> dict[str, Any]:
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
    regions = {}
    for sr in (r.name for r in spec.analysis.signal_regions):
        checks = per.get(sr, [])
        failed = [c for c, v in checks if v == DISAGREES]
        unsure = [c for c, v in checks if v == INCONCLUSIVE]
        if not checks:
            verdict = NOT_VALIDATED
        elif failed:
            verdict = DISAGREES
        elif len(unsure) < len(checks):
            verdict = VALIDATED
        else:
            verdict = INCONCLUSIVE
        regions[sr] = {"status": verdict, "checks": len(checks), "failed": failed, "inconclusive": unsure}
    compared_srs = [s for s, v in regions.items() if v["checks"]]
    good = [s for s in compared_srs if regions[s]["status"] == VALIDATED]
    unsure_srs = [s for s in compared_srs if regions[s]["status"] == INCONCLUSIVE]
    if not compared_srs:
        overall = NOT_VALIDATED
        label = "not validated (no published reference)" if spec.no_reference else overall
    elif len(good) == len(compared_srs):
        overall = label = VALIDATED
    elif len(unsure_srs) == len(compared_srs):
        overall = INCONCLUSIVE
        label = (f"inconclusive (MC errors above the {spec.rule.tolerance:.0%} tolerance in all "
                 f"{len(compared_srs)} compared regions)")
    else:
        overall = "partly validated"
        label = (f"partly validated ({len(good)} of {len(compared_srs)} compared regions"
                 + (f"; {len(unsure_srs)} inconclusive" if unsure_srs else "") + ")")
    return {"status": overall, "label": label, "regions_compared": len(compared_srs),
            "regions_validated": len(good), "regions_inconclusive": len(unsure_srs), "regions_total": len(regions),
            "rule": dataclasses.asdict(spec.rule), "rule_text": spec.rule.text(), "regions": regions,
            "no_reference": spec.no_reference}


def check_schema(doc: dict[str, Any], name: str, where: str | Path) -> None:
    """Validate a document of this module (``validation`` or ``validation-status``) against the
    schema of the version it states: committed reports of an older version stay readable."""
    from . import schemas

    schemas.validate(doc, name, where, accept=SCHEMA_VERSIONS)


def read_status(analysis_id: str) -> dict[str, Any] | None:
    """The stored validation status of an analysis (``data/<ANA>/validation.json``); None when there
    is none or it is not a valid status file (``recast list`` then says "no report")."""
    from .paths import analysis_data_dir

    path = analysis_data_dir(analysis_id) / STATUS_FILE
    try:
        doc = json.loads(path.read_text())
        check_schema(doc, "validation-status", path)
        return doc
    except (OSError, ValueError, RecastError):
        return None


def provenance(spec: Spec, points: Sequence[Point], runs: Mapping[str, dict[str, Any]], args=None) -> dict[str, Any]:
    """What a reader needs to reproduce the report: software, options, artifact hashes, seeds."""
    import datetime as _dt

    from . import __version__, artifacts
    from .models.card import card

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
    return {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": "recast validate " + " ".join(getattr(args, "argv", []) or [ana.id]),
            "specification": str(spec.path), "software": software,
            "default_options": ana.resolve_options({}), "model_artifacts_sha256": used,
            "points": [{"name": p.name, "process": p.process, "nevents": p.nevents, "seed": p.seed,
                        "cross_section_fb": (((runs.get(p.name) or {}).get("result") or {}).get("cross_section")
                                             or {}).get("value_fb", p.cross_section_fb),
                        "options": p.options, "seconds": runs.get(p.name, {}).get("seconds"),
                        "error": runs.get(p.name, {}).get("error")} for p in points]}


def status_document(analysis_id: str, status: Mapping[str, Any], prov: Mapping[str, Any],
                    report: str) -> dict[str, Any]:
    """The status ``recast list`` and ``recast info`` show, with where it came from (``report``)."""
    doc = {"schema": STATUS_SCHEMA, "schema_version": STATUS_VERSION, "analysis": analysis_id,
           "created": prov["created"], "report": report, "status": status["status"],
           "label": status["label"], "rule": status["rule_text"],
           "regions": {sr: v["status"] for sr, v in status["regions"].items()},
           "events_per_point": sorted({p["nevents"] for p in prov["points"]}),
           "no_reference": status.get("no_reference", "")}
    check_schema(doc, "validation-status", STATUS_FILE)
    return doc


def write_status(path: Path, doc: Mapping[str, Any]) -> Path:
    """Write a :func:`status_document` (``output.save``: a fallback file if ``path`` cannot be written)."""
    from . import output

    return output.save(path, (json.dumps(doc, indent=1) + "\n").encode(), "validation status")
