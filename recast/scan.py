"""Scans: many model points through the same analyses, one Dask task per point.

A **grid** is a directory or glob of SLHA files, or a YAML template that writes the SLHA cards of a
simplified model over a mass grid::

    {model: gqq, m_gluino: [1800, 2200, 2600], m_lsp: [100, 600, 1200], nevents: 5000, seed: 1}

Masses are a number, a list, or ``{start, stop, step}`` (``stop`` included when it falls on the
grid); the parent's mass is ``m_gluino`` (gtt, gbb, gqq, gtb), ``m_squark`` (sqq) or ``m_parent``
(any). ``process`` defaults to the model's (gluino-pair, or squark-pair for sqq); ``name`` (the
prefix of the point names) to the model. Points with ``m_lsp >= m_parent`` are skipped with a note.
Every point has a stable name (``gqq_2200_600``, or the file's stem) and its own Pythia seed,
derived from the grid's seed and the masses (or the file's stem), so that reruns and partial
reruns reproduce the same events.

Each point (:func:`run_task`, on a worker) is generated once with Pythia and analysed by every
requested analysis on the same events (:func:`recast.pipeline.run_point`), with the cross section
by the precedence of :mod:`recast.xsec`; then the simplified-likelihood limits of each analysis
(:func:`recast.stats.simplified`) and their combination (:func:`combine`):

    **Combination rule.** Each analysis decides with its best-expected region (the region or
    multi-bin combination of smallest expected CLs; CLs observed < 0.05 excludes). The point is
    excluded when any analysis excludes it. The deciding analysis is the one of smallest expected
    CLs among the analyses that exclude the point, or among all analyses when none does; the
    point's CLs (observed and expected) are those of that analysis' best-expected region, so a
    point is excluded exactly when its CLs observed is below 0.05. (Taking the OR over analyses
    is slightly less conservative than one best-expected choice across all analyses; the point
    files also record that choice, ``best_expected``.)

The client writes one JSON per point (``DIR/points/<name>.json``, schema
``recast/schemas/scan-point-1.schema.json``) as each point finishes, and rewrites the summary
(``DIR/summary.json``, ``scan-summary-1.schema.json``, and ``DIR/summary.csv``) after each: every
file atomically and validated. A rerun skips the points whose file says ``ok`` with the same
settings hash (nevents, seed, process, analyses, resolved options, Pythia settings, cross-section
settings and the SLHA text); failed points are retried. The summary lists the points of the grid
of the latest command (point files of other grids in the same directory are left alone).

Points run on Dask through :mod:`recast.parallel`: a local cluster of single-threaded worker
processes, or an existing scheduler, whose workers get the same limits.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import glob as _glob
import hashlib
import io
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import parallel
from .errors import RecastError

POINT_SCHEMA, SUMMARY_SCHEMA, SCAN_SCHEMA_VERSION = "recast-scan-point", "recast-scan-summary", 1
CLS_LEVEL = 0.05
MAX_SEED = 900_000_000  # Pythia's seeds lie in 0..900000000
MAX_POINTS = 100_000
COMBINATION_RULE = (
    "each analysis decides with its best-expected region (smallest expected CLs; excluded when CLs "
    "observed < 0.05); the point is excluded when any analysis excludes it; the deciding analysis is "
    "the one of smallest expected CLs among those that exclude it (among all when none does), and its "
    "best-expected region gives the point's CLs")
SUMMARY_COLUMNS = ("name", "status", "model", "process", "m_parent", "m_lsp", "nevents", "seed", "xsec_fb",
                   "xsec_kind", "excluded", "cls_obs", "cls_exp", "analysis", "region", "error", "elapsed_s",
                   "settings_hash", "file")
_TEMPLATE_KEYS = {"model", "process", "name", "m_gluino", "m_squark", "m_parent", "m_lsp", "nevents", "seed"}


# -- grids --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
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
    source: str
    kind: str  # "template" | "files" | "events"
    model: str | None
    process: str
    nevents: int | None  # None: every event of each file (events grids)
    seed: int
    points: list[Point] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def parent(self) -> str:
        from .slha import SIMPLIFIED_PARENT

        if self.model in SIMPLIFIED_PARENT:
            return SIMPLIFIED_PARENT[self.model]
        return {"gluino-pair": "gluino", "squark-pair": "squark", "stop-pair": "stop"}.get(self.process, "parent")


def derive_seed(base: int, *parts: Any) -> int:
    """A Pythia seed in 1..900000000 from the grid's seed and the point's identity (masses or
    file stem): stable across runs, machines and Python versions."""
    text = "recast-scan:" + ":".join([str(int(base)), *(_fmt(p) if isinstance(p, float) else str(p) for p in parts)])
    return 1 + int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % MAX_SEED


def _fmt(m: float) -> str:
    return f"{float(m):.10g}"


def point_name(prefix: str, m_parent: float, m_lsp: float) -> str:
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
    from .events.pythia import PROCESSES

    if process not in PROCESSES:
        raise RecastError(f"{where}: unknown process {process!r}; known: {', '.join(PROCESSES)}")
    return process


def _file_grid(source: str, paths: list[Path], *, nevents, seed, process) -> Grid:
    from .events.pythia import get_process
    from . import slha as slha_mod
    from . import xsec

    process = _check_process(process or "gluino-pair", "--process")
    seed = 1 if seed is None else seed
    grid = Grid(source=source, kind="files", model=None, process=process, nevents=nevents or 5000, seed=seed)
    parent_pid = (xsec.PROCESS_TABLES.get(process) or (None, get_process(process).produced[0]))[1]
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
        grid.points.append(Point(name=name, process=process, seed=derive_seed(seed, "file", name),
                                 nevents=grid.nevents, slha_text=text, slha_path=str(p.resolve()),
                                 m_parent=m_parent, m_lsp=m_lsp, problem=problem))
    return grid


_EVENTS_NAME = re.compile(r"\.hepmc[23]?(?:\.(?:gz|bz2|xz|zst|zstd))?$", re.IGNORECASE)
_EVENTS_KEYS = {"events", "name", "xsec_fb", "slha", "m_parent", "m_lsp", "nevents", "process"}


def _is_events_file(path: Path) -> bool:
    return bool(_EVENTS_NAME.search(path.name))


def _events_point(grid: Grid, path: Path, *, name: str | None = None, xsec_fb: float | None = None,
                  slha: Path | None = None, m_parent: float | None = None, m_lsp: float | None = None,
                  nevents: int | None = None, process: str | None = None) -> Point:
    """One point of an events grid: the HepMC file, the SLHA card beside it (``<name>.slha``) if
    any, for the cross-section lookup and the masses; masses given explicitly win."""
    from . import slha as slha_mod
    from . import xsec
    from .events.pythia import get_process

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
            parent_pid = (xsec.PROCESS_TABLES.get(process) or (None, get_process(process).produced[0]))[1]
            m_parent = m_parent if m_parent is not None else slha_mod.mass(doc, parent_pid)
            m_lsp = m_lsp if m_lsp is not None else slha_mod.mass(doc, slha_mod.NEUTRALINO1)
        except (OSError, UnicodeDecodeError) as exc:
            problem = problem or f"{slha}: cannot read SLHA file: {exc}"
        except RecastError as exc:
            problem = problem or str(exc)
    return Point(name=name, process=process, seed=derive_seed(grid.seed, "events", name), nevents=nevents or grid.nevents,
                 slha_text=text, slha_path=str(slha.resolve()) if slha is not None else None, m_parent=m_parent,
                 m_lsp=m_lsp, problem=problem, events=str(path.resolve()), xsec_fb=xsec_fb)


def _add_unique(grid: Grid, point: Point, where: str) -> None:
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

    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RecastError(f"{path}: no such grid file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecastError(f"{path}: cannot read the grid: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        cause = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecastError(f"{path}: not valid YAML{where}: {cause}") from None


def _template_grid(path: Path, raw: Any, *, nevents, seed, process) -> Grid:
    from .slha import SIMPLIFIED_MODELS, SIMPLIFIED_PARENT, SIMPLIFIED_PROCESS, simplified_model

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
    wrong = [k for k in ("m_gluino", "m_squark") if k in raw and k != f"m_{parent}"]
    if wrong:
        raise RecastError(f"{path}: model {model} has a {parent} parent: give m_{parent} (or m_parent), not {wrong[0]}")
    if len(parent_keys) != 1:
        raise RecastError(f"{path}: give the {parent} masses once, as m_{parent} (or m_parent)")
    if "m_lsp" not in raw:
        raise RecastError(f"{path}: no 'm_lsp' (the neutralino-1 masses)")
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
            grid.points.append(Point(name=name, process=process, seed=derive_seed(seed, model, mp, ml),
                                     nevents=grid.nevents, slha_text=simplified_model(model, mp, ml),
                                     model=model, m_parent=mp, m_lsp=ml))
    if not grid.points:
        raise RecastError(f"{path}: the grid has no point with m_lsp below m_{parent}")
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


# -- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What every point of a scan shares besides its card, seed and event count."""

    analyses: tuple[str, ...]
    options: Mapping[str, Mapping[str, Any]]  # analysis id -> resolved options
    pythia_settings: tuple[str, ...] = ()
    xsec_fb: float | None = None
    xsec_unc: bool = False
    upper_limits: str = "none"  # the decision needs CLs only; a multi-bin upper limit costs 20-90 s
    chunk_size: int = 1000

    def to_dict(self) -> dict[str, Any]:
        return {"analyses": list(self.analyses), "options": {k: dict(v) for k, v in self.options.items()},
                "pythia_settings": list(self.pythia_settings), "xsec_fb": self.xsec_fb, "xsec_unc": self.xsec_unc,
                "upper_limits": self.upper_limits, "chunk_size": self.chunk_size}


def resolve_settings(analyses: Sequence[str], options: Mapping[str, str] | None = None,
                     analysis_options: Mapping[str, Mapping[str, str]] | None = None, **kw) -> Settings:
    """Check the analyses (unknown names fail here, before anything runs) and resolve options:
    ``options`` apply to every analysis that declares them (an option none declares is an
    error), ``analysis_options`` to one analysis each."""
    from . import pipeline

    if not analyses:
        raise RecastError("--analyses: give at least one analysis")
    loaded = pipeline.load_analyses(analyses)
    per = pipeline.resolve_options(loaded, options, analysis_options)
    return Settings(analyses=tuple(a.id for a in loaded), options=per, **kw)


def _sha256_text(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else None


def _file_identity(path: str) -> dict[str, Any]:
    """An events file as the reuse check knows it: path, size and modification time (hashing
    gigabytes of events on the client for every rerun would cost more than it protects)."""
    try:
        st = os.stat(path)
    except OSError:
        return {"path": path, "size": None, "mtime_ns": None}
    return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def settings_hash(point: Point, settings: Settings) -> str:
    """What decides whether a finished point can be reused."""
    payload = {"nevents": point.nevents, "seed": point.seed, "process": point.process,
               "slha_sha256": _sha256_text(point.slha_text), **settings.to_dict()}
    if point.events is not None:  # only for events grids: the hashes of SLHA grids stay as they were
        payload["events"] = _file_identity(point.events)
        payload["point_xsec_fb"] = point.xsec_fb
    payload["analyses"] = sorted(payload["analyses"])
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- one point (on a worker) ----------------------------------------------------------------------


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Generate, analyse and compute the limits of one point; never raises for a bad point: the
    returned point document says ``failed`` and why."""
    parallel.limit_threads()
    import logging
    import warnings

    logging.getLogger("pyhf").setLevel(logging.CRITICAL)  # fit retries are handled by stats
    start = time.perf_counter()
    doc = _point_doc(task)
    doc["worker"] = {"host": os.uname().nodename, "pid": os.getpid(),
                     "env": {k: os.environ.get(k) for k in parallel.WORKER_ENV}}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _run_point(task, doc)
        for w in caught:
            if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
                continue  # about the libraries' code, not the point
            note = f"warning: {w.message}"
            if note not in doc["notes"]:
                doc["notes"].append(note)
        doc["status"] = "ok"
    except RecastError as exc:
        doc["status"], doc["error"] = "failed", _one_line(str(exc))
    except Exception as exc:  # a bug or a library failure: recorded, the scan goes on
        doc["status"], doc["error"] = "failed", _one_line(f"internal error: {type(exc).__name__}: {exc}")
    if doc["status"] == "failed":
        doc["analyses"], doc["combined"] = {}, None
    doc["timing"]["total_s"] = round(time.perf_counter() - start, 3)
    return doc


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def _point_doc(task: dict[str, Any]) -> dict[str, Any]:
    from . import __version__

    p = task["point"]
    return {"schema": POINT_SCHEMA, "schema_version": SCAN_SCHEMA_VERSION,
            "created": _now(), "name": p["name"], "status": "failed", "error": None,
            "settings_hash": task["settings_hash"], "point": dict(p), "settings": task["settings"],
            "cross_section": None, "analyses": {}, "combined": None, "notes": [],
            "worker": None, "timing": {"run_s": None, "limits_s": None, "total_s": None},
            "recast_version": __version__}


def _run_point(task: dict[str, Any], doc: dict[str, Any]) -> None:
    import tempfile

    from . import analysis as ana_mod
    from . import pipeline, stats

    p, s = task["point"], task["settings"]
    if task.get("problem"):
        raise RecastError(task["problem"])
    text = task["slha_text"]
    with tempfile.TemporaryDirectory(prefix="recast-scan-") as tmp:
        card = Path(p["slha"]) if p.get("slha") else None
        if text is not None and (card is None or not _same_text(card, text)):  # another machine, or the file changed
            card = Path(tmp) / f"{p['name']}.slha"
            card.write_text(text)
        t0 = time.perf_counter()
        if p.get("events"):
            from .events import HepMCSource

            runs = pipeline.prepare(s["analyses"], s["options"])
            source = HepMCSource(Path(p["events"]), chunk_size=s["chunk_size"], max_events=p["nevents"])
            pipeline.analyse(source, runs, seed=p["seed"])
            listed = p.get("xsec_fb") is not None
            results = pipeline.documents(source, runs, seed=p["seed"], xsec_fb=p["xsec_fb"] if listed else s["xsec_fb"],
                                         xsec_source="the grid listing (xsec_fb)" if listed else None,
                                         slha_path=card, process=p["process"])
        else:
            spec = pipeline.PointSpec(slha=card, analyses=s["analyses"], nevents=p["nevents"], seed=p["seed"],
                                      process=p["process"], options=s["options"], chunk_size=s["chunk_size"],
                                      xsec_fb=s["xsec_fb"], pythia_settings=tuple(s["pythia_settings"]))
            results = pipeline.run_point(spec)
    t1 = time.perf_counter()
    doc["timing"]["run_s"] = round(t1 - t0, 3)
    source = f"points/{p['name']}.json"
    summaries = {}
    for aid, result in results.items():
        if doc["cross_section"] is None:
            doc["cross_section"] = result["cross_section"]
        for n in result["notes"]:
            if n not in doc["notes"]:
                doc["notes"].append(n)
        lim = stats.simplified(result, ana_mod.load(aid), xsec_unc=s["xsec_unc"], upper_limits=s["upper_limits"])
        summaries[aid] = {"best": lim.best, "excluded": bool(lim.excluded), "cls_obs": lim.cls_obs,
                          "cls_exp": lim.cls_exp}
        doc["analyses"][aid] = {"result": result, "limits": stats.document(aid, source, [lim]),
                                **summaries[aid]}
    doc["timing"]["limits_s"] = round(time.perf_counter() - t1, 3)
    doc["combined"] = combine(summaries)


def _same_text(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except (OSError, UnicodeDecodeError):
        return False


def combine(per_analysis: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The point's decision from each analysis' ``best``, ``excluded``, ``cls_obs``, ``cls_exp``
    (see the rule in the module docstring)."""
    decided = [(aid, s) for aid, s in per_analysis.items()
               if s.get("best") is not None and s.get("cls_exp") is not None]
    out: dict[str, Any] = {"rule": COMBINATION_RULE, "excluded": False, "analysis": None, "region": None,
                           "cls_obs": None, "cls_exp": None, "best_expected": None}
    if not decided:
        return out
    key = lambda item: (item[1]["cls_exp"], item[1]["cls_obs"] if item[1]["cls_obs"] is not None else 1.0)  # noqa: E731
    best_aid, best = min(decided, key=key)
    out["best_expected"] = {"analysis": best_aid, "region": best["best"], "excluded": bool(best["excluded"]),
                            "cls_obs": best["cls_obs"], "cls_exp": best["cls_exp"]}
    excluding = [item for item in decided if item[1]["excluded"]]
    aid, s = min(excluding or decided, key=key)
    out.update(excluded=bool(excluding), analysis=aid, region=s["best"], cls_obs=s["cls_obs"], cls_exp=s["cls_exp"])
    return out


# -- schemas and files ----------------------------------------------------------------------------


def validate(doc: dict[str, Any], kind: str, where: str | Path) -> None:
    """Check a point (``kind="scan-point"``) or summary (``"scan-summary"``) document."""
    from . import schemas

    schemas.validate(doc, kind, where, accept=(SCAN_SCHEMA_VERSION,))


def _dumps(doc: dict[str, Any]) -> bytes:
    try:
        return (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()
    except ValueError as exc:  # NaN or inf somewhere: the file would not be JSON
        raise RecastError(f"{doc.get('name', 'scan')}: {exc}") from None


def write_json(path: Path, doc: dict[str, Any], kind: str) -> None:
    from .atomic import write_bytes

    validate(doc, kind, path)
    write_bytes(path, _dumps(doc))


def read_json(path: Path, kind: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RecastError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecastError(f"{path}: not readable JSON: {exc}") from None
    validate(doc, kind, path)
    return doc


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def summary_row(point: Point, doc: dict[str, Any] | None, shash: str) -> dict[str, Any]:
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
    rows = list(rows)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "pending")}
    counts["excluded"] = sum(bool(r["excluded"]) for r in rows)
    return {"schema": SUMMARY_SCHEMA, "schema_version": SCAN_SCHEMA_VERSION, "updated": _now(),
            "grid": {"source": grid.source, "kind": grid.kind, "model": grid.model, "process": grid.process,
                     "parent": grid.parent, "nevents": grid.nevents, "seed": grid.seed, "notes": grid.notes},
            "settings": settings.to_dict(), "cls_level": CLS_LEVEL, "combination_rule": COMBINATION_RULE,
            "counts": counts, "points": rows}


def write_summary(out_dir: Path, doc: dict[str, Any]) -> None:
    from .atomic import write_bytes

    write_json(out_dir / "summary.json", doc, "scan-summary")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in doc["points"]:
        writer.writerow({k: ("" if r[k] is None else r[k]) for k in SUMMARY_COLUMNS})
    write_bytes(out_dir / "summary.csv", buf.getvalue().encode())


# -- the scan (client side) -----------------------------------------------------------------------


@dataclass
class ScanReport:
    total: int = 0
    skipped: int = 0  # finished before, reused
    ran: int = 0
    ok: int = 0
    failed: int = 0
    excluded: int = 0
    failures: list[str] = field(default_factory=list)


def _previous(path: Path, note: Callable[[str], None]) -> dict[str, Any] | None:
    """The point's earlier file, if it is a readable point document."""
    if not path.exists():
        return None
    try:
        return read_json(path, "scan-point")
    except RecastError as exc:
        note(f"{exc}; running the point again")
        return None


def _differences(prev: dict[str, Any], point: Point, settings: Settings) -> list[str]:
    """What a finished point's settings and this run's differ in, in words (``key old -> new``)."""
    now = {"nevents": point.nevents, "seed": point.seed, "process": point.process,
           "SLHA card": _sha256_text(point.slha_text), "events file": point.events, **settings.to_dict()}
    then = {"nevents": prev["point"].get("nevents"), "seed": prev["point"].get("seed"),
            "process": prev["point"].get("process"), "SLHA card": prev["point"].get("slha_sha256"),
            "events file": prev["point"].get("events"), **prev["settings"]}

    def show(key: str, value: Any) -> str:
        if key == "SLHA card":
            return "(none)" if value is None else value[:8]
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "(none)"
        return str(value)

    out = [f"{key} {show(key, then.get(key))} -> {show(key, value)}" for key, value in now.items()
           if then.get(key) != value and not (key == "analyses" and set(then.get(key) or ()) == set(value))]
    return out or ["the events file changed (size or modification time)"]


def _task(point: Point, settings: Settings, shash: str, out_dir: Path) -> dict[str, Any]:
    slha = point.slha_path
    if point.slha_path is None and point.slha_text is not None:  # a template point: keep its card
        from .atomic import write_bytes

        card = out_dir / "slha" / f"{point.name}.slha"
        if not _same_text(card, point.slha_text):
            write_bytes(card, point.slha_text.encode())
        slha = str(card.resolve())
    record = {"name": point.name, "model": point.model, "process": point.process, "m_parent": point.m_parent,
              "m_lsp": point.m_lsp, "nevents": point.nevents, "seed": point.seed, "slha": slha,
              "slha_sha256": _sha256_text(point.slha_text)}
    if point.events is not None:
        record.update(events=point.events, xsec_fb=point.xsec_fb)
    return {"point": record,
            "settings": settings.to_dict(), "settings_hash": shash, "slha_text": point.slha_text,
            "problem": point.problem}


def run_scan(grid: Grid, settings: Settings, out_dir: Path, *, workers: int | None = None,
             scheduler: str | None = None, on_start: Callable[[int, int], None] | None = None,
             on_point: Callable[[dict[str, Any]], None] | None = None,
             on_note: Callable[[str], None] | None = None, replace: bool = False) -> ScanReport:
    """Run the points of ``grid`` not finished yet and keep ``out_dir`` up to date after each.

    A point finished earlier with other settings (events, seed, analyses, options, ...) is an
    error before anything runs, unless ``replace``: a rerun never overwrites results silently.
    ``on_start(to_run, reused)`` is called once the work is known, ``on_point(row)`` after each
    point is written, ``on_note(text)`` for anything the user should know (each skipped signal
    region is named once per scan, with the reason, when the first point that skips it finishes)."""
    note = on_note or (lambda _msg: None)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RecastError(f"--out {out_dir}: exists and is not a directory")
    points_dir = out_dir / "points"
    report = ScanReport(total=len(grid.points))
    rows: dict[str, dict[str, Any]] = {}
    todo: list[tuple[Point, str]] = []
    replaced: list[tuple[str, list[str]]] = []
    for point in grid.points:
        shash = settings_hash(point, settings)
        prev = _previous(points_dir / f"{point.name}.json", note)
        if prev is not None and prev["status"] == "ok" and prev["settings_hash"] == shash:
            rows[point.name] = summary_row(point, prev, shash)
            report.skipped += 1
            report.ok += 1
            report.excluded += bool(rows[point.name]["excluded"])
            continue
        if prev is not None and prev["status"] == "ok":
            replaced.append((point.name, _differences(prev, point, settings)))
        rows[point.name] = summary_row(point, None, shash)
        todo.append((point, shash))
    if replaced and not replace:
        name, diff = replaced[0]
        raise RecastError(f"{out_dir}: {len(replaced)} finished point(s) were made with other settings ({name}: "
                          f"{'; '.join(diff)}); give another --out, or --replace to run them again with these "
                          f"settings")
    if replaced:
        note(f"replacing {len(replaced)} finished point(s) made with other settings ({replaced[0][0]}: "
             f"{'; '.join(replaced[0][1])})")

    def flush() -> None:
        write_summary(out_dir, summary_doc(grid, settings, (rows[p.name] for p in grid.points)))

    with parallel.cluster(workers, scheduler) if todo else contextlib.nullcontext() as client:
        # connected first: an unreachable scheduler leaves nothing behind
        points_dir.mkdir(parents=True, exist_ok=True)
        flush()
        if on_start:
            on_start(len(todo), report.skipped)
        if not todo:
            return report
        tasks = {p.name: _task(p, settings, shash, out_dir) for p, shash in todo}
        told: set[tuple[str, str]] = set()
        by_name = {p.name: p for p, _ in todo}
        for name, doc in parallel.as_finished(client, run_task, tasks, "recast-point"):
            point = by_name[name]
            if isinstance(doc, BaseException):  # the worker died (e.g. a crash in a C++ library) or was lost
                exc, doc = doc, _point_doc(tasks[point.name])
                doc["error"] = _one_line(f"the worker running this point failed: {type(exc).__name__}: {exc}")
            doc = _finish(doc, tasks[point.name], points_dir / f"{point.name}.json")
            _note_skipped_regions(doc, told, note)
            rows[point.name] = summary_row(point, doc, tasks[point.name]["settings_hash"])
            report.ran += 1
            if doc["status"] == "ok":
                report.ok += 1
                report.excluded += bool(doc["combined"]["excluded"])
            else:
                report.failed += 1
                report.failures.append(f"{point.name}: {doc['error']}")
            flush()
            if on_point:
                on_point(rows[point.name])
    return report


def _note_skipped_regions(doc: dict[str, Any], told: set[tuple[str, str]], note: Callable[[str], None]) -> None:
    """Name the signal regions a point skipped (e.g. a model unavailable offline), each analysis
    and reason once per scan."""
    for aid, entry in (doc.get("analyses") or {}).items():
        by_reason: dict[str, list[str]] = {}
        for skipped in entry["result"].get("skipped_signal_regions", []):
            by_reason.setdefault(skipped["reason"], []).append(skipped["name"])
        for reason, names in by_reason.items():
            if (aid, reason) not in told:
                told.add((aid, reason))
                note(f"{aid}: {len(names)} signal region(s) skipped ({', '.join(names)}): {reason}")


def _finish(doc: dict[str, Any], task: dict[str, Any], path: Path) -> dict[str, Any]:
    """Write a point's file; a document that does not validate is recorded as a failure."""
    doc["created"] = _now()
    try:
        write_json(path, doc, "scan-point")
    except RecastError as exc:
        failed = _point_doc(task)
        failed["error"] = _one_line(f"the point's document is invalid: {exc}")
        failed["worker"], failed["timing"] = doc.get("worker"), doc.get("timing", failed["timing"])
        write_json(path, failed, "scan-point")
        return failed
    return doc


# -- the exclusion plot ---------------------------------------------------------------------------

_MODEL_LABELS = {
    "gtt": r"$\tilde{g}\tilde{g}$, $\tilde{g}\to t\bar{t}\tilde{\chi}^0_1$",
    "gbb": r"$\tilde{g}\tilde{g}$, $\tilde{g}\to b\bar{b}\tilde{\chi}^0_1$",
    "gqq": r"$\tilde{g}\tilde{g}$, $\tilde{g}\to q\bar{q}\tilde{\chi}^0_1$",
    "gtb": r"$\tilde{g}\tilde{g}$, $\tilde{g}\to t\bar{b}\tilde{\chi}^{\pm}_1$",
    "sqq": r"$\tilde{q}\tilde{q}^*$ (10 $\tilde{q}$), $\tilde{q}\to q\tilde{\chi}^0_1$",
}
_PARENT_SYMBOLS = {"gluino": r"\tilde{g}", "squark": r"\tilde{q}", "stop": r"\tilde{t}_1"}


def _noncollinear(x, y) -> bool:
    import numpy as np

    pts = np.column_stack([x, y]).astype(float)
    if len(pts) < 3:
        return False
    centred = pts - pts.mean(axis=0)
    scale = np.abs(centred).max() or 1.0
    return np.linalg.matrix_rank(centred / scale, tol=1e-9) >= 2


def plot_exclusion(scan_dir: Path, prefix: Path) -> tuple[list[Path], list[str]]:
    """Draw the scan in the (m_parent, m_LSP) plane: points coloured by the deciding observed CLs
    (log scale), excluded ones marked, the CLs = 0.05 contour where it can be drawn. Writes
    ``PREFIX.png`` and ``PREFIX.pdf``; returns the files and notes (e.g. why there is no contour)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    summary = read_json(Path(scan_dir) / "summary.json", "scan-summary")
    rows = summary["points"]
    placed = [r for r in rows if r["m_parent"] is not None and r["m_lsp"] is not None]
    ok = [r for r in placed if r["status"] == "ok" and r["cls_obs"] is not None]
    failed = [r for r in placed if r["status"] == "failed"]
    pending = [r for r in placed if r["status"] == "pending"]
    if not ok and not failed:
        raise RecastError(f"{scan_dir}: no finished point with known masses to draw")
    notes = []
    grid = summary["grid"]
    parent = _PARENT_SYMBOLS.get(grid["parent"], r"\mathrm{parent}")
    floor = 1e-6
    fig, ax = plt.subplots(figsize=(8, 6.5), layout="constrained")
    handles = []
    if ok:
        x = np.array([r["m_parent"] for r in ok], float)
        y = np.array([r["m_lsp"] for r in ok], float)
        cls = np.clip(np.array([r["cls_obs"] for r in ok], float), floor, 1.0)
        excl = np.array([bool(r["excluded"]) for r in ok])
        norm = LogNorm(vmin=min(1e-3, cls.min()), vmax=1.0)
        sc = ax.scatter(x, y, c=cls, cmap="viridis_r", norm=norm, s=90, edgecolors="0.3", linewidths=0.6, zorder=3)
        if excl.any():
            ax.scatter(x[excl], y[excl], s=190, facecolors="none", edgecolors="red", linewidths=1.8, zorder=4)
        cbar = fig.colorbar(sc, ax=ax)
        cbar.set_label(r"CL$_s$ observed (deciding region)")
        cbar.ax.axhline(CLS_LEVEL, color="red", lw=1.5)
        handles.append(Line2D([], [], ls="", marker="o", mfc="none", mec="red", mew=1.8, ms=12,
                              label=f"excluded (CLs < {CLS_LEVEL:g}): {int(excl.sum())}"))
        handles.append(Line2D([], [], ls="", marker="o", mfc="0.7", mec="0.3", ms=8,
                              label=f"not excluded: {int((~excl).sum())}"))
        reason = None
        if len(ok) < 3:
            reason = f"{len(ok)} finished point(s); a contour needs at least 3"
        elif not _noncollinear(x, y):
            reason = "the finished points lie on a line"
        elif excl.all() or not excl.any():
            reason = "every finished point is excluded" if excl.all() else "no finished point is excluded"
        if reason is None:
            try:
                ax.tricontour(x, y, np.log10(cls), levels=[math.log10(CLS_LEVEL)], colors="red", linewidths=2,
                              linestyles="solid", zorder=2)
                handles.append(Line2D([], [], color="red", lw=2, label=f"observed exclusion (CLs = {CLS_LEVEL:g})"))
            except (ValueError, RuntimeError) as exc:
                reason = f"the triangulation failed: {exc}"
        exp = np.array([r["cls_exp"] if r["cls_exp"] is not None else np.nan for r in ok], float)
        if reason is None and np.isfinite(exp).all() and exp.min() < CLS_LEVEL < exp.max():
            # the expected contour (median expected CLs of each point's deciding region), as in
            # the experiments' plots: where observed and expected part, the data fluctuated
            try:
                ax.tricontour(x, y, np.log10(np.clip(exp, floor, 1.0)), levels=[math.log10(CLS_LEVEL)],
                              colors="red", linewidths=1.5, linestyles="dashed", zorder=2)
                handles.append(Line2D([], [], color="red", lw=1.5, ls="--", label="expected exclusion"))
            except (ValueError, RuntimeError) as exc:
                notes.append(f"no expected contour: the triangulation failed: {exc}")
        if reason is not None:
            notes.append(f"no CLs = {CLS_LEVEL:g} contour: {reason}")
            ax.text(0.02, 0.98, f"no contour: {reason}", transform=ax.transAxes, va="top", fontsize=8,
                    color="0.3")
    if failed:
        ax.scatter([r["m_parent"] for r in failed], [r["m_lsp"] for r in failed], marker="x", c="0.4", s=60,
                   zorder=3)
        handles.append(Line2D([], [], ls="", marker="x", color="0.4", label=f"failed: {len(failed)}"))
    if pending:
        ax.scatter([r["m_parent"] for r in pending], [r["m_lsp"] for r in pending], marker=".", c="0.6", s=30,
                   zorder=3)
        handles.append(Line2D([], [], ls="", marker=".", color="0.6", label=f"not run yet: {len(pending)}"))
    allx = [r["m_parent"] for r in placed]
    ally = [r["m_lsp"] for r in placed]
    lo, hi = min(allx + ally), max(allx)
    ax.plot([lo, hi], [lo, hi], ls="--", color="0.5", lw=1, zorder=1)
    handles.append(Line2D([], [], ls="--", color="0.5", lw=1, label=f"$m(\\tilde{{\\chi}}^0_1) = m({parent})$"))
    pad_x = 0.06 * (max(allx) - min(allx) or max(allx) or 1.0)
    pad_y = 0.08 * (max(ally) - min(ally) or max(ally) or 1.0)
    ax.set_xlim(min(allx) - pad_x, max(allx) + pad_x)
    ax.set_ylim(min(ally) - pad_y, max(ally) + pad_y)
    ax.set_xlabel(f"$m({parent})$ [GeV]")
    ax.set_ylabel(r"$m(\tilde{\chi}^0_1)$ [GeV]")
    model = _MODEL_LABELS.get(grid["model"] or "", grid["model"] or "SLHA grid")
    analyses = ", ".join(summary["settings"]["analyses"])
    ax.set_title(f"{model} ({grid['process']}), 13 TeV\n{analyses}", fontsize=11)
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    ax.grid(alpha=0.2)
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    written = []
    from .atomic import atomic_path

    for ext in ("png", "pdf"):
        target = prefix.parent / f"{prefix.name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=150 if ext == "png" else None)
        written.append(target)
    plt.close(fig)
    return written, notes
