"""The cross-section upper-limit planes of a specification (its ``limit_planes:`` section).

ATLAS published, over a simplified model's mass plane, the 95 % CL upper limit on the production
cross section (observed, and expected for some). A :class:`LimitPlane` names the template that
reproduces ATLAS' model, the file holding ATLAS' limits (``data/<ANA>/upper_limits_*.json``, rows
``[m_parent, m_lsp, sigma_UL observed fb, sigma_UL expected fb | null]``), which of ATLAS' grid
points run (a selection rule, plus optionally a line of extra points at one LSP mass), the events
and seeds, and which signal region sets recast's limit. :func:`read_planes` checks the section and lists each
plane's points (:class:`PlanePoint`); :mod:`recast.validation.spec` makes them benchmarks (``plane``
names their plane) run like any other point, and :mod:`recast.validation.limits` compares the
finished points. The format is in ``validation/README.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import RecastError

BEST_EXPECTED = "best-expected"
SEED_STRIDE = 10_000  # a point's seed: seed + SEED_STRIDE x m_parent + m_lsp (GeV, rounded)
MAX_SEED = 900_000_000  # Pythia's
PLANE_KEYS = {"name", "model", "process", "theory_process", "upper_limits", "select", "line", "nevents", "seed",
              "regions", "region_source", "options", "note"}
SELECT_KEYS = {"min_gap", "m_parent_range", "m_lsp_range", "m_lsp_values"}
LINE_KEYS = {"m_lsp", "m_parent", "step"}


class PlanePoint(NamedTuple):
    """A point of a plane: its name (``<plane>_<m_parent>_<m_lsp>``), masses (GeV) and seed."""

    name: str
    m_parent: float
    m_lsp: float
    seed: int


@dataclass
class LimitPlane:
    """One published sigma_UL plane and the points that reproduce it (see the module docstring)."""

    name: str
    model: str  # the simplified-model template (recast.slha.TEMPLATES)
    process: str  # the template's production process: its table is the cross section recast's limit scales
    theory_process: str  # the cross-section table of ATLAS' model, for the exclusion contour and the mass limit
    file: Path
    what: str  # the file's description of ATLAS' model
    source: dict[str, Any]  # the file's provenance (file, sha256, HEPData record, figure)
    rows: list[tuple[float, float, float, float | None]]  # ATLAS' grid: m_parent, m_lsp, observed, expected
    selection: dict[str, Any]
    line: dict[str, Any] | None
    nevents: int
    seed: int
    regions: list[str] | None  # None: the best-expected region (or combination) of each point
    region_source: str  # where ATLAS' choice of regions is stated (with regions), or why best-expected
    note: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # analysis options of its points
    point_list: list[PlanePoint] = field(default_factory=list)

    @property
    def points(self) -> list[str]:
        """The names of its points (benchmarks of the specification)."""
        return [p.name for p in self.point_list]

    @property
    def has_expected(self) -> bool:
        """Whether ATLAS published expected limits for this plane."""
        return any(r[3] is not None for r in self.rows)

    @property
    def line_m_lsp(self) -> float:
        """The LSP mass of the light-LSP line the mass limit is read along: the line's, else the
        lowest LSP mass of the plane's points."""
        return float(self.line["m_lsp"]) if self.line else min(r[1] for r in self.selected_rows())

    def selected_rows(self) -> list[tuple[float, float, float, float | None]]:
        """ATLAS' grid points the selection rule picks."""
        sel = self.selection
        lo_p, hi_p = sel.get("m_parent_range", (-math.inf, math.inf))
        lo_l, hi_l = sel.get("m_lsp_range", (-math.inf, math.inf))
        values = sel.get("m_lsp_values")
        return [r for r in self.rows
                if r[0] - r[1] >= sel.get("min_gap", 0.0) and lo_p <= r[0] <= hi_p and lo_l <= r[1] <= hi_l
                and (values is None or r[1] in values)]

    def atlas(self, m_parent: float, m_lsp: float) -> tuple[float | None, float | None, bool]:
        """ATLAS' observed and expected sigma_UL (fb) at a mass point, and whether they are
        interpolated (log sigma_UL linear in the Delaunay triangles of ATLAS' grid) rather than one
        of ATLAS' own points; None outside ATLAS' grid."""
        for r in self.rows:
            if r[0] == m_parent and r[1] == m_lsp:
                return r[2], r[3], False
        obs, exp = self._interpolators
        value = float(obs(m_parent, m_lsp)) if obs else math.nan
        expected = float(exp(m_parent, m_lsp)) if exp else math.nan
        return (None if math.isnan(value) else value), (None if math.isnan(expected) else expected), True

    @cached_property
    def _interpolators(self):
        """ATLAS' observed and expected limits over the plane (:func:`~recast.validation.limits.log_interpolator`)."""
        from .limits import log_interpolator

        with_exp = [r for r in self.rows if r[3] is not None]
        return (log_interpolator([r[0] for r in self.rows], [r[1] for r in self.rows], [r[2] for r in self.rows]),
                log_interpolator([r[0] for r in with_exp], [r[1] for r in with_exp], [r[3] for r in with_exp])
                if with_exp else None)

    def region_text(self) -> str:
        """How each point's limit picks its region, in words (the report says it)."""
        if self.regions is None:
            return (f"the best-expected region or multi-bin combination of each point (the smallest expected CLs at "
                    f"the theory cross section, as recast scan decides), since {self.region_source}")
        return f"the best-expected among {', '.join(self.regions)}, ATLAS' choice ({self.region_source})"


def _fail(path: Path, where: str, msg: str) -> RecastError:
    return RecastError(f"{path}: {where}: {msg}")


def point_seed(seed: int, m_parent: float, m_lsp: float) -> int:
    """A plane point's seed: ``seed + 10000 x m_parent + m_lsp`` (GeV, rounded), so that a point keeps
    its seed (and its cached result) when the selection around it changes."""
    return int(seed + SEED_STRIDE * round(m_parent) + round(m_lsp))


def _pair(path: Path, where: str, key: str, value: Any) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(v) for v in value)
            and value[0] <= value[1]):
        raise _fail(path, where, f"{key} must be [low, high] in GeV, got {value!r}")
    return float(value[0]), float(value[1])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_rows(path: Path, where: str, file: Path) -> tuple[dict[str, Any], list[tuple]]:
    try:
        doc = json.loads(file.read_text())
        rows = [(float(r[0]), float(r[1]), float(r[2]), None if r[3] is None else float(r[3])) for r in doc["rows"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise _fail(path, where, f"upper_limits {file}: not an upper-limits file with rows [m_parent, m_lsp, "
                                 f"observed, expected|null] ({type(exc).__name__}: {exc})") from None
    if not rows or any(r[2] <= 0 or (r[3] is not None and r[3] <= 0) for r in rows):
        raise _fail(path, where, f"upper_limits {file}: no rows, or a limit that is not positive")
    return doc, rows


def read_planes(path: Path, ana, entries: Any, resolve: Callable[[str], Path]) -> list[LimitPlane]:
    """The ``limit_planes:`` section of the specification at ``path`` for analysis ``ana``, each
    entry checked (a one-line error naming the entry and the cause); ``resolve`` finds a file the
    specification names."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise _fail(path, "limit_planes", "must be a list of planes")
    return [_plane(path, ana, entry, f"limit_planes[{i}]", resolve) for i, entry in enumerate(entries)]


def _plane(path: Path, ana, g: Any, where: str, resolve: Callable[[str], Path]) -> LimitPlane:
    from .. import xsec
    from ..slha import SIMPLIFIED_PROCESS, TEMPLATES, template_spectrum

    if not isinstance(g, dict):
        raise _fail(path, where, "a plane must be a mapping")
    if "name" in g:
        where = f"limit plane {g['name']}"
    for key in ("name", "model", "upper_limits", "select"):
        if key not in g:
            raise _fail(path, where, f"a limit plane needs {key}")
    unknown = set(g) - PLANE_KEYS
    if unknown:
        raise _fail(path, where, f"unknown key(s) {', '.join(sorted(unknown))} "
                                 f"(known: {', '.join(sorted(PLANE_KEYS))})")
    model = g["model"]
    if model not in TEMPLATES:
        raise _fail(path, where, f"model {model!r} is not a simplified-model template ({', '.join(TEMPLATES)})")
    process = g.get("process", SIMPLIFIED_PROCESS[model])
    if process != SIMPLIFIED_PROCESS[model]:
        raise _fail(path, where, f"process {process!r}: template {model} is produced by {SIMPLIFIED_PROCESS[model]}")
    theory = g.get("theory_process", process)
    if xsec.table(theory) is None:
        raise _fail(path, where, f"theory_process {theory!r}: no cross-section table (tables: "
                                 f"{', '.join(xsec.PROCESS_TABLES)})")
    file = resolve(str(g["upper_limits"]))
    if not file.is_file():
        raise _fail(path, where, f"upper_limits {g['upper_limits']} not found (looked for {file})")
    doc, rows = _read_rows(path, where, file)
    sel = g["select"]
    if not isinstance(sel, dict) or set(sel) - SELECT_KEYS:
        raise _fail(path, where, f"select must be a mapping of {', '.join(sorted(SELECT_KEYS))}, got {sel!r}")
    selection: dict[str, Any] = {}
    if "min_gap" in sel:
        if not _is_number(sel["min_gap"]) or sel["min_gap"] < 0:
            raise _fail(path, where, f"select min_gap must be a mass difference >= 0 GeV, got {sel['min_gap']!r}")
        selection["min_gap"] = float(sel["min_gap"])
    for key in ("m_parent_range", "m_lsp_range"):
        if key in sel:
            selection[key] = _pair(path, where, f"select {key}", sel[key])
    if "m_lsp_values" in sel:
        values = sel["m_lsp_values"]
        if not (isinstance(values, list) and values and all(_is_number(v) for v in values)):
            raise _fail(path, where, f"select m_lsp_values must be a list of masses in GeV, got {values!r}")
        selection["m_lsp_values"] = [float(v) for v in values]
    line = g.get("line")
    if line is not None:
        if not isinstance(line, dict) or set(line) != LINE_KEYS:
            raise _fail(path, where, f"line must be {{m_lsp, m_parent: [low, high], step}}, got {line!r}")
        lo, hi = _pair(path, where, "line m_parent", line["m_parent"])
        if not _is_number(line["step"]) or line["step"] <= 0 or not _is_number(line["m_lsp"]):
            raise _fail(path, where, f"line step must be > 0 GeV and m_lsp a mass, got {line!r}")
        line = {"m_lsp": float(line["m_lsp"]), "m_parent": (lo, hi), "step": float(line["step"])}
    nevents, seed = g.get("nevents", 5000), g.get("seed", 1)
    if isinstance(nevents, bool) or not isinstance(nevents, int) or nevents < 1:
        raise _fail(path, where, f"nevents must be a positive integer, got {nevents!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _fail(path, where, f"seed must be an integer >= 0, got {seed!r}")
    regions = _regions(path, where, ana, g.get("regions", BEST_EXPECTED))
    region_source = str(g.get("region_source") or "")
    if regions is not None and not region_source:
        raise _fail(path, where, "regions: say where ATLAS' choice is stated (region_source)")
    plane = LimitPlane(name=str(g["name"]), model=model, process=process, theory_process=theory, file=file,
                       what=str(doc.get("what", "")), rows=rows,
                       source={**(doc.get("source") or {}), **({"figure": doc["figure"]} if doc.get("figure") else {})},
                       selection=selection, line=line, nevents=nevents, seed=seed, regions=regions,
                       region_source=region_source or "the sources (FACTS.md) do not state ATLAS' choice",
                       note=str(g.get("note", "")), options=dict(g.get("options") or {}))
    masses = [(r[0], r[1]) for r in plane.selected_rows()]
    if not masses:
        raise _fail(path, where, f"select picks none of the {len(rows)} points of {file.name}")
    if line is not None:
        lo, hi = line["m_parent"]
        n = int(math.floor((hi - lo) / line["step"] + 1e-9)) + 1
        masses += [(lo + k * line["step"], line["m_lsp"]) for k in range(n)]
    try:
        ana.resolve_options(dict(plane.options))
    except RecastError as exc:
        raise _fail(path, where, str(exc)) from None
    seen = set()
    for mp, ml in masses:
        if (mp, ml) in seen:
            continue
        seen.add((mp, ml))
        name = f"{plane.name}_{mp:g}_{ml:g}"
        try:
            template_spectrum(model, mp, ml)
            xsec.table(theory)(mp)
        except RecastError as exc:
            raise _fail(path, where, f"point {name}: {exc}") from None
        obs, _, _ = plane.atlas(mp, ml)
        if obs is None:
            raise _fail(path, where, f"point {name} lies outside ATLAS' grid in {file.name}: no sigma_UL to compare")
        pseed = point_seed(seed, mp, ml)
        if pseed > MAX_SEED:
            raise _fail(path, where, f"point {name}: seed {pseed} above Pythia's {MAX_SEED} (seed + {SEED_STRIDE} "
                                     f"x m_parent + m_lsp); give a smaller seed")
        plane.point_list.append(PlanePoint(name, float(mp), float(ml), pseed))
    return plane


def _regions(path: Path, where: str, ana, value: Any) -> list[str] | None:
    """``regions``: best-expected (None), or the names among which the best-expected decides."""
    if value == BEST_EXPECTED:
        return None
    with_numbers = [sr.name for sr in ana.signal_regions if ana.published.get(sr.name) is not None]
    known = with_numbers + [c for c, members in ana.combinations.items() if all(m in with_numbers for m in members)]
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        raise _fail(path, where, f"regions must be {BEST_EXPECTED!r} or a list of region names, got {value!r}")
    bad = [v for v in value if v not in known]
    if bad:
        raise _fail(path, where, f"regions: {', '.join(bad)} not a region or combination of {ana.id} with "
                                 f"published numbers")
    return list(value)


def points_named(planes: Sequence[LimitPlane], grids: Sequence[Mapping[str, Any]], points: Sequence[Any],
                 names: Sequence[str]) -> list[Any] | None:
    """The points ``names`` select (a point's name, or a plane's or grid's name for all its points),
    in the specification's order; None when a name is unknown."""
    groups = {pl.name: set(pl.points) for pl in planes}
    groups.update({g["name"]: {p.name for p in points if p.grid == g["name"]} for g in grids})
    wanted: set[str] = set()
    for n in names:
        if n in groups:
            wanted |= groups[n]
        elif any(p.name == n for p in points):
            wanted.add(n)
        else:
            return None
    return [p for p in points if p.name in wanted]
