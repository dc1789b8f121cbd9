"""Running a scan: one Dask task per point, the files kept up to date as points finish.

Each point (:func:`run_task`, on a worker) is generated once with Pythia and analysed by every
requested analysis on the same events (:func:`recast.pipeline.run_point`), with the cross section
by the precedence of :mod:`recast.xsec`; then the simplified-likelihood limits of each analysis
(:func:`recast.stats.simplified`) and their combination (:func:`recast.scan.combine`).

The client (:func:`run_scan`) writes one JSON per point as each point finishes, and rewrites the
summary after each (:mod:`recast.scan.documents`). A rerun skips the points whose file says ``ok``
with the same settings hash (:func:`recast.scan.settings_hash`); failed points are retried. The
summary lists the points of the grid of the latest command (point files of other grids in the same
directory are left alone).

Points run on Dask through :mod:`recast.parallel`: a local cluster of single-threaded worker
processes, or an existing scheduler, whose workers get the same limits and are warmed up first
(:func:`warm_worker`: imports and models loaded on every worker at once, not by its first point).
A point of several generation blocks (more than
:data:`~recast.events.pythia.BLOCK_EVENTS` events) is one task per block (:func:`run_block_task`)
and a task that merges them and computes the limits (:func:`run_task` given the blocks), so
that the blocks of the last points are shared by every worker instead of leaving all but one
idle; the result is the same as the point's run in one process.

A worker that dies (killed, out of memory, a crash in a C++ library) takes its running tasks
with it; the scheduler gives them to another worker (Dask retries a task up to
``distributed.scheduler.allowed-failures`` times), so the scan finishes; a task that still fails
is recorded as the point's failure, which a rerun retries. A scan whose client is stopped
resumes from its point files (finished points are reused).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import parallel
from ..atomic import write_bytes
from ..errors import RecastError
from .combination import combine
from .documents import point_doc, read_json, summary_doc, summary_row, timestamp, write_json, write_summary
from .grid import Grid, GridPoint
from .settings import Settings, differences, settings_hash, sha256_text


def warm_worker(analyses: list[str], options: dict[str, dict[str, Any]]) -> None:
    """What a worker pays once before its first point: the libraries imported, the analyses and
    their models loaded (memoised per process), a made-up event through them
    (:func:`recast.pipeline.warm_up`: 0.1 s, against 1.4 s more for a first point without it)."""
    parallel.limit_threads()
    import pythia8mc  # noqa: F401

    from .. import pipeline, stats  # noqa: F401

    pipeline.warm_up(pipeline.prepare(analyses, options))


def run_block_task(task: dict[str, Any], block) -> Any:
    """One generation block of a point (:func:`recast.pipeline.run_block`), on a worker."""
    from .. import pipeline

    parallel.limit_threads()
    with _card(task) as card:
        return pipeline.run_block((_spec(task, card), (), block))


def point_blocks(task: dict[str, Any]) -> list:
    """The generation blocks of a point task (one for an events grid's point or a bad point)."""
    from .. import pipeline
    from ..events.pythia import generation_blocks

    p = task["point"]
    if p.get("events") or task.get("problem") or not p.get("nevents"):
        return []
    return generation_blocks(p["nevents"], p["seed"], pipeline.BLOCK_EVENTS)


def run_task(task: dict[str, Any], *outcomes: Any) -> dict[str, Any]:
    """Generate, analyse and compute the limits of one point (``outcomes``: its generation blocks
    counted already by :func:`run_block_task`, merged here); never raises for a bad point: the
    returned point document says ``failed`` and why."""
    parallel.limit_threads()
    import logging
    import warnings

    logging.getLogger("pyhf").setLevel(logging.CRITICAL)  # fit retries are handled by stats
    start = time.perf_counter()
    doc = point_doc(task)
    doc["worker"] = {"host": os.uname().nodename, "pid": os.getpid(),
                     "env": {k: os.environ.get(k) for k in parallel.WORKER_ENV}}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _run_point(task, doc, outcomes or None)
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


@contextlib.contextmanager
def _card(task: dict[str, Any]):
    """The point's SLHA card as a file here: its path, or its text written to a temporary file
    (another machine, or the file changed since the scan started)."""
    import tempfile

    p, text = task["point"], task["slha_text"]
    with tempfile.TemporaryDirectory(prefix="recast-scan-") as tmp:
        card = Path(p["slha"]) if p.get("slha") else None
        if text is not None and (card is None or not _same_text(card, text)):
            card = Path(tmp) / f"{p['name']}.slha"
            card.write_text(text)
        yield card


def _spec(task: dict[str, Any], card: Path | None):
    from .. import pipeline

    p, s = task["point"], task["settings"]
    return pipeline.PointSpec(slha=card, analyses=s["analyses"], nevents=p["nevents"], seed=p["seed"],
                              process=p["process"], options=s["options"], chunk_size=s["chunk_size"],
                              xsec_fb=s["xsec_fb"], pythia_settings=tuple(s["pythia_settings"]),
                              block_events=pipeline.BLOCK_EVENTS)


def _run_point(task: dict[str, Any], doc: dict[str, Any], outcomes: tuple | None = None) -> None:
    from .. import analysis as ana_mod
    from .. import pipeline, stats

    p, s = task["point"], task["settings"]
    if task.get("problem"):
        raise RecastError(task["problem"])
    with _card(task) as card:
        t0 = time.perf_counter()
        if p.get("events"):
            from ..events import HepMCSource

            runs = pipeline.prepare(s["analyses"], s["options"])
            source = HepMCSource(Path(p["events"]), chunk_size=s["chunk_size"], max_events=p["nevents"])
            pipeline.analyse(source, runs, seed=p["seed"])
            listed = p.get("xsec_fb") is not None
            results = pipeline.documents(source, runs, seed=p["seed"], xsec_fb=p["xsec_fb"] if listed else s["xsec_fb"],
                                         xsec_source="the grid listing (xsec_fb)" if listed else None,
                                         slha_path=card, process=p["process"])
        else:
            spec = _spec(task, card)
            results = pipeline.run_point(spec, outcomes=outcomes) if outcomes else pipeline.run_point(spec)
    t1 = time.perf_counter()
    # with blocks counted by other tasks: their time, on whichever workers, plus the merge
    doc["timing"]["run_s"] = round(t1 - t0 + sum(o.seconds for o in outcomes or ()), 3)
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


@dataclass
class ScanReport:
    """What a scan did, for the command line's last lines."""

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


def point_task(point: GridPoint, settings: Settings, shash: str, out_dir: Path) -> dict[str, Any]:
    """What a worker needs to run a point (:func:`run_task`); a template point's card is written
    to ``out_dir/slha`` first, where the point file can name it."""
    slha = point.slha_path
    if point.slha_path is None and point.slha_text is not None:  # a template point: keep its card
        card = out_dir / "slha" / f"{point.name}.slha"
        if not _same_text(card, point.slha_text):
            write_bytes(card, point.slha_text.encode())
        slha = str(card.resolve())
    record = {"name": point.name, "model": point.model, "process": point.process, "m_parent": point.m_parent,
              "m_lsp": point.m_lsp, "nevents": point.nevents, "seed": point.seed, "slha": slha,
              "slha_sha256": sha256_text(point.slha_text)}
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
    ``on_start(to_run, reused)`` is called once the work is known (and the workers are warmed up),
    ``on_point(row)`` after each point is written, ``on_note(text)`` for anything the user should
    know (each skipped signal region is named once per scan, with the reason, when the first point
    that skips it finishes)."""
    note = on_note or (lambda _msg: None)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RecastError(f"--out {out_dir}: exists and is not a directory")
    points_dir = out_dir / "points"
    report = ScanReport(total=len(grid.points))
    rows: dict[str, dict[str, Any]] = {}
    todo: list[tuple[GridPoint, str]] = []
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
            replaced.append((point.name, differences(prev, point, settings)))
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
        if todo:  # what every worker pays once, paid by all at once before the first point
            parallel.warm_up(client, warm_worker, list(settings.analyses),
                             {k: dict(v) for k, v in settings.options.items()})
        if on_start:
            on_start(len(todo), report.skipped)
        if not todo:
            return report
        tasks = {p.name: point_task(p, settings, shash, out_dir) for p, shash in todo}
        told: set[tuple[str, str]] = set()
        by_name = {p.name: p for p, _ in todo}
        order = {name: i for i, name in enumerate(tasks)}

        def submit_point(name: str) -> tuple[list, Any]:  # first points first, each point's blocks before others
            task, i = tasks[name], order[name]
            blocks = point_blocks(task)
            blocks = [parallel.submit(client, run_block_task, f"{name}-{b.index}", task, b, key_prefix="recast-block",
                                      priority=-i) for b in blocks] if len(blocks) > 1 else []
            return blocks, parallel.submit(client, run_task, name, task, *blocks, key_prefix="recast-point", priority=-i)

        for name, doc in parallel.in_turn(client, list(tasks), submit_point):
            point = by_name[name]
            if isinstance(doc, BaseException):  # the worker died (e.g. a crash in a C++ library) or was lost
                exc, doc = doc, point_doc(tasks[point.name])
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
    doc["created"] = timestamp()
    try:
        write_json(path, doc, "scan-point")
    except RecastError as exc:
        failed = point_doc(task)
        failed["error"] = _one_line(f"the point's document is invalid: {exc}")
        failed["worker"], failed["timing"] = doc.get("worker"), doc.get("timing", failed["timing"])
        write_json(path, failed, "scan-point")
        return failed
    return doc

