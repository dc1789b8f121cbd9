"""Grids: the model points of a scan, each with a stable name and its own Pythia seed.

A **grid** is a directory or glob of SLHA files, or a YAML template that writes the SLHA cards of a
simplified model over a mass grid::

    {model: gqq, m_gluino: [1800, 2200, 2600], m_lsp: [100, 600, 1200], nevents: 5000, seed: 1}

``model`` is any template of :data:`recast.slha.TEMPLATES`. Masses are a number, a list, or
``{start, stop, step}`` (``stop`` included when it falls on the grid); the parent's mass is
``m_gluino``, ``m_squark`` or ``m_stop`` as the model's produced sparticle is (or ``m_parent`` for
any), ``m_lsp`` the LSP's (the stop's in rpv-gtbs). ``process`` defaults to the model's (which names
its cross-section table); ``name`` (the prefix of the point names) to the model. Points with
``m_lsp >= m_parent``, or where one of the model's decays is closed (a top too heavy for the
splitting), are skipped with a note saying why.

An **events grid** is a directory or glob of HepMC files (an SLHA card of the same name beside a
file gives its masses and cross section), or a YAML listing of them (:func:`load_grid`).

Every point has a stable name (``gqq_2200_600``, or the file's stem) and its own Pythia seed,
derived from the grid's seed and the masses (or the file's stem), so that reruns and partial
reruns reproduce the same events.
"""

from __future__ import annotations

import glob as _glob
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecastError, read_text

MAX_SEED = 900_000_000  # Pythia's seeds lie in 0..900000000
MAX_POINTS = 100_000
_TEMPLATE_KEYS = {"model", "process", "name", "m_gluino", "m_squark", "m_stop", "m_parent", "m_lsp", "nevents", "seed"}


@dataclass(frozen=True)
class GridPoint:
    """One model point of a grid. ``slha_text`` is what the worker generates from; ``problem`` is
    set when the point is known to be unusable before generation (an unreadable file)."""

    name: str
    process: str
    seed: int
    nevents: int
    slha_text: str | None
    slha_path: str | None = None  # the grid's file, for file grids
    model: str | None = None
    m_parent: float | None = None
    m_lsp: float | None = None
    problem: str | None = None
    events: str | None = None  # an events grid: the HepMC file (its path, which every worker must see)
    xsec_fb: float | None = None  # an events grid: the point's own cross section (fb), if listed


@dataclass
class Grid:
    """The points of a scan and where they came from (``source``: the template, directory, glob or
    listing), with the notes of what was skipped."""

    source: str
    kind: str  # "template" | "files" | "events"
    model: str | None
    process: str
    nevents: int | None  # None: every event of each file (events grids)
    seed: int
    points: list[GridPoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def parent(self) -> str:
        """The parent particle of the grid's process, in words (the x axis of the plot)."""
        from ..slha import SIMPLIFIED_PARENT

        if self.model in SIMPLIFIED_PARENT:
            return SIMPLIFIED_PARENT[self.model]
        return {"gluino-pair": "gluino", "squark-pair": "squark", "squark-pair-udsc": "squark",
                "stop-pair": "stop"}.get(self.process, "parent")


def derive_seed(base: int, *parts: Any) -> int:
    """A Pythia seed in 1..900000000 from the grid's seed and the point's identity (masses or
    file stem): stable across runs, machines and Python versions."""
    text = "recast-scan:" + ":".join([str(int(base)), *(_fmt(p) if isinstance(p, float) else str(p) for p in parts)])
    return 1 + int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % MAX_SEED


def _fmt(m: float) -> str:
    return f"{float(m):.10g}"


def point_name(prefix: str, m_parent: float, m_lsp: float) -> str:
    """The name of a template point: ``<prefix>_<m_parent>_<m_lsp>`` (``gqq_2200_600``)."""
    return f"{prefix}_{_fmt(m_parent)}_{_fmt(m_lsp)}"


def load_grid(spec: str | Path, *, nevents: int | None = None, seed: int | None = None,
              process: str | None = None) -> Grid:
    """The points of a grid (see the module docstring). ``nevents``, ``seed`` and ``process``
    given here (the command line) override the template's."""
    text = str(spec)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml"):
        raw = _read_yaml(path)
        if isinstance(raw, dict) and "points" in raw:
            return _listed_events_grid(path, raw, nevents=nevents, seed=seed, process=process)
        return _template_grid(path, raw, nevents=nevents, seed=seed, process=process)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and (_is_events_file(p) or p.suffix.lower() == ".slha"))
        if not found:
            raise RecastError(f"{path}: no SLHA files (*.slha) or HepMC files (*.hepmc[.gz...]) in this directory")
    elif any(c in text for c in "*?["):
        found = sorted(Path(p) for p in _glob.glob(text) if Path(p).is_file())
        if not found:
            raise RecastError(f"{text}: no files match this pattern")
    elif path.is_file():
        found = [path]
    else:
        raise RecastError(f"{text}: no such directory, file or pattern (give a directory or glob of SLHA "
                          f"or HepMC files, or a YAML grid)")
    events = [p for p in found if _is_events_file(p)]
    if events:  # HepMC files are the points; an SLHA file of the same name gives masses and cross section
        return _events_grid(text, events, nevents=nevents, seed=seed, process=process)
    return _file_grid(text, found, nevents=nevents, seed=seed, process=process)


def _check_process(process: str, where: str) -> str:
    from ..events.pythia import PROCESSES

    if process not in PROCESSES:
        raise RecastError(f"{where}: unknown process {process!r}; known: {', '.join(PROCESSES)}")
    return process


def _parent_pid(process: str) -> int:
    """The PDG id of the parent a process pair-produces: the particle whose mass the grid plots."""
    from .. import xsec
    from ..events.pythia import get_process

    return (xsec.PROCESS_TABLES.get(process) or (None, get_process(process).produced[0]))[1]


def _file_grid(source: str, paths: list[Path], *, nevents, seed, process) -> Grid:
    from .. import slha as slha_mod

    process = _check_process(process or "gluino-pair", "--process")
    seed = 1 if seed is None else seed
    grid = Grid(source=source, kind="files", model=None, process=process, nevents=nevents or 5000, seed=seed)
    parent_pid = _parent_pid(process)
    names: dict[str, Path] = {}
    for p in paths:
        name = _safe_name(p.stem)
        if name in names:
            raise RecastError(f"{source}: two files give the point name {name!r}: {names[name]} and {p}")
        names[name] = p
        text = problem = None
        m_parent = m_lsp = None
        try:
            text = p.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"{p}: cannot read SLHA file: {exc}"
        if text is not None:
            try:  # masses for the summary and the plot; a broken card fails on its worker
                doc = slha_mod.read(p)
                m_parent, m_lsp = slha_mod.mass(doc, parent_pid), slha_mod.mass(doc, slha_mod.NEUTRALINO1)
            except RecastError:
                pass
        grid.points.append(GridPoint(name=name, process=process, seed=derive_seed(seed, "file", name),
                                     nevents=grid.nevents, slha_text=text, slha_path=str(p.resolve()),
                                     m_parent=m_parent, m_lsp=m_lsp, problem=problem))
    return grid


_EVENTS_NAME = re.compile(r"\.hepmc[23]?(?:\.(?:gz|bz2|xz|zst|zstd))?$", re.IGNORECASE)
_EVENTS_KEYS = {"events", "name", "xsec_fb", "slha", "m_parent", "m_lsp", "nevents", "process"}


def _is_events_file(path: Path) -> bool:
    return bool(_EVENTS_NAME.search(path.name))


def _events_point(grid: Grid, path: Path, *, name: str | None = None, xsec_fb: float | None = None,
                  slha: Path | None = None, m_parent: float | None = None, m_lsp: float | None = None,
                  nevents: int | None = None, process: str | None = None) -> GridPoint:
    """One point of an events grid: the HepMC file, the SLHA card beside it (``<name>.slha``) if
    any, for the cross-section lookup and the masses; masses given explicitly win."""
    from .. import slha as slha_mod

    name = _safe_name(name or _EVENTS_NAME.sub("", path.name))
    process = process or grid.process
    problem = None if path.is_file() else f"{path}: no such events file"
    if slha is None and (path.parent / f"{name}.slha").is_file():
        slha = path.parent / f"{name}.slha"
    text = None
    if slha is not None:
        try:
            text = slha.read_text()
            doc = slha_mod.read(slha)
            m_parent = m_parent if m_parent is not None else slha_mod.mass(doc, _parent_pid(process))
            m_lsp = m_lsp if m_lsp is not None else slha_mod.mass(doc, slha_mod.NEUTRALINO1)
        except (OSError, UnicodeDecodeError) as exc:
            problem = problem or f"{slha}: cannot read SLHA file: {exc}"
        except RecastError as exc:
            problem = problem or str(exc)
    return GridPoint(name=name, process=process, seed=derive_seed(grid.seed, "events", name),
                     nevents=nevents or grid.nevents, slha_text=text,
                     slha_path=str(slha.resolve()) if slha is not None else None, m_parent=m_parent, m_lsp=m_lsp,
                     problem=problem, events=str(path.resolve()), xsec_fb=xsec_fb)


def _add_unique(grid: Grid, point: GridPoint, where: str) -> None:
    if any(p.name == point.name for p in grid.points):
        raise RecastError(f"{where}: two points named {point.name!r}")
    grid.points.append(point)


def _events_grid(source: str, paths: list[Path], *, nevents, seed, process) -> Grid:
    grid = Grid(source=source, kind="events", model=None, process=_check_process(process or "gluino-pair", "--process"),
                nevents=nevents, seed=1 if seed is None else seed)
    for path in paths:
        _add_unique(grid, _events_point(grid, path), source)
    return grid


def _listed_events_grid(path: Path, raw: dict, *, nevents, seed, process) -> Grid:
    """A YAML listing of event files: ``{points: [{events: FILE, xsec_fb: X, m_parent: M, m_lsp: M,
    slha: CARD, name: NAME, nevents: N, process: P}, ...], seed: S}``; relative paths are relative
    to the listing."""
    unknown = sorted(str(k) for k in raw if k not in ("points", "seed", "nevents", "process"))
    if unknown:
        raise RecastError(f"{path}: unknown key(s) {', '.join(unknown)} beside 'points'")
    items = raw["points"]
    if not isinstance(items, list) or not items:
        raise RecastError(f"{path}: 'points' must be a non-empty list of {{events: FILE, xsec_fb: X, ...}}")
    grid = Grid(source=str(path), kind="events", model=None,
                process=_check_process(process or raw.get("process") or "gluino-pair", f"{path}: process"),
                nevents=nevents or (_whole(raw["nevents"], path, "nevents", 1) if "nevents" in raw else None),
                seed=seed if seed is not None else _whole(raw.get("seed", 1), path, "seed", 0))
    for k, item in enumerate(items, 1):
        where = f"{path}: point {k}"
        if not isinstance(item, dict) or "events" not in item:
            raise RecastError(f"{where}: give at least its events file, as {{events: FILE, ...}}")
        bad = sorted(str(x) for x in item if x not in _EVENTS_KEYS)
        if bad:
            raise RecastError(f"{where}: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(_EVENTS_KEYS))}")
        xs = item.get("xsec_fb")
        if xs is not None and (isinstance(xs, bool) or not isinstance(xs, (int, float)) or not math.isfinite(xs)
                               or xs <= 0):
            raise RecastError(f"{where}: xsec_fb must be a positive number (fb), got {xs!r}")
        masses = {k2: _masses(item[k2], path, k2)[0] for k2 in ("m_parent", "m_lsp") if k2 in item}
        _add_unique(grid, _events_point(
            grid, path.parent / str(item["events"]), name=item.get("name"), xsec_fb=None if xs is None else float(xs),
            slha=path.parent / str(item["slha"]) if item.get("slha") else None, **masses,
            nevents=nevents or (_whole(item["nevents"], path, "nevents", 1) if "nevents" in item else None),
            process=_check_process(item["process"], where) if item.get("process") else None), str(path))
    return grid


def _safe_name(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", stem) or "point"


def _read_yaml(path: Path) -> Any:
    import yaml

    text = read_text(path, RecastError, "grid file")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        cause = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecastError(f"{path}: not valid YAML{where}: {cause}") from None


def _template_grid(path: Path, raw: Any, *, nevents, seed, process) -> Grid:
    from ..errors import SLHAError
    from ..slha import SIMPLIFIED_MODELS, SIMPLIFIED_PARENT, SIMPLIFIED_PROCESS, simplified_model

    if not isinstance(raw, dict):
        raise RecastError(f"{path}: a grid template is a YAML mapping such as "
                          f"{{model: gqq, m_gluino: [1800, 2200], m_lsp: [100, 600]}}")
    unknown = sorted(str(k) for k in raw if k not in _TEMPLATE_KEYS)
    if unknown:
        raise RecastError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TEMPLATE_KEYS))}")
    model = raw.get("model")
    if model is None:
        raise RecastError(f"{path}: no 'model' (one of {', '.join(SIMPLIFIED_MODELS)})")
    if model not in SIMPLIFIED_MODELS:
        raise RecastError(f"{path}: unknown model {model!r}; known: {', '.join(SIMPLIFIED_MODELS)}")
    parent = SIMPLIFIED_PARENT[model]
    parent_keys = [k for k in ("m_parent", f"m_{parent}") if k in raw]
    wrong = [k for k in ("m_gluino", "m_squark", "m_stop") if k in raw and k != f"m_{parent}"]
    if wrong:
        raise RecastError(f"{path}: model {model} has a {parent} parent: give m_{parent} (or m_parent), not {wrong[0]}")
    if len(parent_keys) != 1:
        raise RecastError(f"{path}: give the {parent} masses once, as m_{parent} (or m_parent)")
    if "m_lsp" not in raw:
        raise RecastError(f"{path}: no 'm_lsp' (the LSP masses)")
    parents = _masses(raw[parent_keys[0]], path, parent_keys[0])
    lsps = _masses(raw["m_lsp"], path, "m_lsp")
    t_seed = _whole(raw.get("seed", 1), path, "seed", 0)
    t_nevents = _whole(raw.get("nevents", 5000), path, "nevents", 1)
    process = _check_process(process or raw.get("process") or SIMPLIFIED_PROCESS[model], f"{path}: process")
    prefix = _safe_name(str(raw.get("name") or model))
    seed = t_seed if seed is None else seed
    grid = Grid(source=str(path), kind="template", model=model, process=process,
                nevents=nevents or t_nevents, seed=seed)
    if len(parents) * len(lsps) > MAX_POINTS:
        raise RecastError(f"{path}: {len(parents) * len(lsps)} points; at most {MAX_POINTS} in one scan")
    for mp in parents:
        for ml in lsps:
            name = point_name(prefix, mp, ml)
            if ml >= mp:
                grid.notes.append(f"skipped {name}: m_lsp = {_fmt(ml)} GeV is not below m_{parent} = {_fmt(mp)} GeV")
                continue
            try:
                text = simplified_model(model, mp, ml)
            except SLHAError as exc:  # a decay closed at these masses
                grid.notes.append(f"skipped {name}: {exc}")
                continue
            grid.points.append(GridPoint(name=name, process=process, seed=derive_seed(seed, model, mp, ml),
                                         nevents=grid.nevents, slha_text=text, model=model, m_parent=mp, m_lsp=ml))
    if not grid.points:
        closed = next((n.split(": ", 1)[1] for n in grid.notes if "is not below" not in n), None)
        raise RecastError(f"{path}: the grid has no point with m_lsp below m_{parent}" if closed is None
                          else f"{path}: the grid has no usable point (e.g. {closed})")
    return grid


def _whole(value: Any, path: Path, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RecastError(f"{path}: {key} must be a whole number >= {minimum}, got {value!r}")
    return value


def _masses(value: Any, path: Path, key: str) -> list[float]:
    """A mass axis: a number, a list, or {start, stop, step} with stop included when on the grid."""
    def number(v: Any, what: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise RecastError(f"{path}: {what} must be a mass in GeV (a number >= 0), got {v!r}")
        return float(v)

    if isinstance(value, dict):
        missing = [k for k in ("start", "stop", "step") if k not in value]
        extra = [str(k) for k in value if k not in ("start", "stop", "step")]
        if missing or extra:
            raise RecastError(f"{path}: {key} as a range needs exactly start, stop and step"
                              + (f" (missing {', '.join(missing)})" if missing else f" (unknown {', '.join(extra)})"))
        start, stop = number(value["start"], f"{key}.start"), number(value["stop"], f"{key}.stop")
        step = number(value["step"], f"{key}.step")
        if step <= 0 or stop < start:
            raise RecastError(f"{path}: {key} needs step > 0 and stop >= start")
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        if n > MAX_POINTS:
            raise RecastError(f"{path}: {key} has {n} values; at most {MAX_POINTS}")
        out = [round(start + i * step, 9) for i in range(n)]
    elif isinstance(value, list):
        if not value:
            raise RecastError(f"{path}: {key} is an empty list")
        out = [number(v, key) for v in value]
    else:
        out = [number(value, key)]
    return list(dict.fromkeys(out))  # duplicates would be the same point twice

