"""The specification file: the benchmarks a validation runs and the published numbers it compares
them with.

A specification (``data/<ANA>/validation_spec.yaml``; the format is in ``validation/README.md``)
lists benchmark points with their reference numbers (cutflows, final A x eff) and grids of mass
points compared with a published A x eff map. :func:`load_spec` reads and checks it into a
:class:`Spec` of :class:`Benchmark` s, each with its :class:`CutflowRef` s.

A published cutflow often orders the cuts differently from the analysis' signal-region table; the
rows of a reference name recast's steps (``ours``), and :mod:`recast.validation.run` runs each
region's cuts in the reference's order (the final yields do not depend on it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import RecastError, read_text
from .planes import LimitPlane, read_planes
from .rule import Rule

SPEC_FILE = "validation_spec.yaml"  # data/<ANA>/: the specification recast validate reads by default


@dataclass
class CutflowRef:
    """A published cutflow of one signal region: its rows, each naming the recast steps it adds."""

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
class Benchmark:
    """A point of the specification: a model to generate (its SLHA card, process, events and seed)
    and the published numbers to compare with. A grid's mass points are benchmarks too (``grid``
    names the grid; their A x eff reference comes from the published map)."""

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
    plane: str | None = None  # the sigma_UL plane it belongs to (recast.validation.planes)


@dataclass
class Spec:
    """A read and checked specification file."""

    path: Path
    analysis: Any
    rule: Rule
    references: dict[str, dict[str, Any]]
    points: list[Benchmark]
    grids: list[dict[str, Any]]
    no_reference: str = ""  # why there is nothing to compare, for an analysis without published references
    detectors: list[str] = field(default_factory=list)
    """Detector cards shown side by side: each point is also run with each of these cards (on the
    same events) that is not the point's own; the point's own card (the analysis' default, or
    ``--detector``) alone decides the status."""
    planes: list[LimitPlane] = field(default_factory=list)  # cross-section upper-limit planes (limit_planes:)


def _fail(path: Path, where: str, msg: str) -> RecastError:
    return RecastError(f"{path}: {where}: {msg}")


def spec_path(analysis_id: str) -> Path:
    """The specification ``recast validate`` reads by default: ``data/<ANA>/validation_spec.yaml``,
    shipped with the package beside the analysis' published numbers, so found from any directory."""
    from ..paths import analysis_data_dir

    return analysis_data_dir(analysis_id) / SPEC_FILE


def _spec_file(spec: Path, name: str) -> Path:
    """A file a specification names (an SLHA card, an A x eff map): absolute, or relative to the
    specification's directory; a relative name starting with ``data/`` that is not there names a
    file of the package's data directory (so a copy of a specification elsewhere still finds the
    published maps)."""
    from ..paths import data_dir

    named = Path(name)
    if named.is_absolute():
        return named
    beside = (spec.parent / named).resolve()
    if beside.is_file() or named.parts[0] != "data":
        return beside
    return data_dir().joinpath(*named.parts[1:])


def load_spec(path: str | Path, analysis=None) -> Spec:
    """Read and check a specification file (see ``validation/README.md``)."""
    from .. import analysis as ana_mod

    path = Path(path)
    text = read_text(path, RecastError, "validation specification")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RecastError(f"{path}: not valid YAML ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(doc, dict) or "analysis" not in doc:
        raise RecastError(f"{path}: not a validation specification (no 'analysis' key)")
    ana = analysis or ana_mod.load(doc["analysis"])
    rule = Rule(**(doc.get("rule") or {}))
    refs = doc.get("references") or {"atlas": {"label": "ATLAS", "source": ""}}
    if "atlas" not in refs:
        raise _fail(path, "references", "needs an 'atlas' entry (the published numbers judged)")
    points: list[Benchmark] = []
    for i, p in enumerate(doc.get("points") or []):
        points.append(_benchmark(path, ana, refs, p, f"points[{i}]"))
    grids = list(doc.get("grids") or [])
    for i, g in enumerate(grids):
        points.extend(_map_benchmarks(path, ana, g, f"grids[{i}]"))
    planes = read_planes(path, ana, doc.get("limit_planes"), lambda name: _spec_file(path, name))
    for plane in planes:
        points.extend(_plane_benchmarks(plane))
    names = [p.name for p in points]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(path, "points", f"duplicate names {', '.join(dupes)}")
    return Spec(path=path, analysis=ana, rule=rule, references=refs, points=points, grids=grids,
                no_reference=str(doc.get("no_reference") or ""), detectors=_detectors(path, doc.get("detectors")),
                planes=planes)


def _detectors(path: Path, raw: Any) -> list[str]:
    """The spec's ``detectors``: a list of card names or files (relative to the specification),
    each loaded here, so that a bad card fails before any event."""
    from .. import detector

    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise _fail(path, "detectors", "a list of detector card names or files")
    cards = []
    for ref in raw:
        target = ref if ref in detector.available_cards() else str(_spec_file(path, ref))
        try:
            detector.load(target)
        except RecastError as exc:
            raise _fail(path, "detectors", str(exc)) from None
        cards.append(detector.canonical(target))
    return list(dict.fromkeys(cards))


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


def _benchmark(path: Path, ana, refs: Mapping[str, Any], p: dict[str, Any], where: str) -> Benchmark:
    if not isinstance(p, dict) or "name" not in p:
        raise _fail(path, where, "a point needs a name")
    where = f"point {p['name']}"
    out = Benchmark(name=str(p["name"]), process=p.get("process", "gluino-pair"),
                    nevents=int(p.get("nevents", 20000)), seed=int(p.get("seed", 1)), slha=_slha_of(path, p, where),
                    cross_section_fb=p.get("cross_section_fb"),
                    cross_section_source=p.get("cross_section_source", ""), options=dict(p.get("options") or {}),
                    note=p.get("note", ""), judge=bool(p.get("judge", True)))
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


def _map_benchmarks(path: Path, ana, g: dict[str, Any], where: str) -> list[Benchmark]:
    """The mass points of a grid that the published map covers, each a benchmark with the map's A x eff."""
    for key in ("name", "model", "m_parent", "m_lsp", "acc_eff_map"):
        if key not in g:
            raise _fail(path, where, f"a grid needs {key}")
    amap = g["acc_eff_map"]
    map_path = _spec_file(path, amap["file"])
    if not map_path.is_file():
        raise _fail(path, where, f"acc_eff_map {amap['file']} not found (looked for {map_path})")
    maps = json.loads(map_path.read_text())["maps"]
    ref = amap.get("reference", "atlas")
    cells = [(i, j, mp, ml) for i, mp in enumerate(g["m_parent"]) for j, ml in enumerate(g["m_lsp"]) if ml < mp]
    # one triangulation per region for all the grid's points (each costs ~1 ms, or far more with busy BLAS threads)
    values = {sr: map_values(rows, [(mp, ml) for _, _, mp, ml in cells]) for sr, rows in maps.items()}
    out = []
    for k, (i, j, mp, ml) in enumerate(cells):
        name = f"{g['name']}_{mp:g}_{ml:g}"
        point = Benchmark(name=name, process=g.get("process", "gluino-pair"),
                          nevents=int(g.get("nevents", 20000)), seed=int(g.get("seed", 1)) * 1000 + 31 * i + j,
                          slha={"simplified": g["model"], "m_parent": float(mp), "m_lsp": float(ml)},
                          cross_section_fb=None, cross_section_source="NNLOapprox+NNLL table (recast.xsec)",
                          options=dict(g.get("options") or {}), grid=g["name"], m_parent=float(mp),
                          m_lsp=float(ml))
        for sr, rows in maps.items():
            value = values[sr][k]
            if value is not None:
                point.acc_eff[sr] = {ref: value}
                if not any(r[0] == mp and r[1] == ml for r in rows):
                    point.interpolated.add(sr)
        if point.acc_eff:  # outside the published map: nothing to compare
            out.append(point)
    return out


def _plane_benchmarks(plane: LimitPlane) -> list[Benchmark]:
    """A sigma_UL plane's points as benchmarks: its template at each point's masses, the cross
    section from the template's table."""
    return [Benchmark(name=p.name, process=plane.process, nevents=plane.nevents, seed=p.seed,
                      slha={"simplified": plane.model, "m_parent": p.m_parent, "m_lsp": p.m_lsp},
                      cross_section_source="NNLOapprox+NNLL table (recast.xsec)", options=dict(plane.options),
                      plane=plane.name, m_parent=p.m_parent, m_lsp=p.m_lsp) for p in plane.point_list]


def acc_eff_from_map(rows: Sequence[Sequence[float]], m_parent: float, m_lsp: float) -> float | None:
    """A published A x eff at a mass point, linear in the Delaunay triangles of the map's points;
    None outside the map."""
    return map_values(rows, [(m_parent, m_lsp)])[0]


def map_values(rows: Sequence[Sequence[float]], masses: Sequence[tuple[float, float]]) -> list[float | None]:
    """:func:`acc_eff_from_map` at several mass points (m_parent, m_lsp), on one triangulation."""
    import numpy as np
    from scipy.interpolate import LinearNDInterpolator

    if not masses:
        return []
    arr, at = np.asarray(rows, float), np.asarray(masses, float)
    values = LinearNDInterpolator(arr[:, :2], arr[:, 2])(at[:, 0], at[:, 1])
    return [None if math.isnan(v) else float(v) for v in values]
