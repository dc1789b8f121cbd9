"""Running a validation: every benchmark generated with Pythia 8 (one Dask task per point, through
:mod:`recast.parallel`, as ``recast scan`` does; a point of several generation blocks, more than
:data:`~recast.events.pythia.BLOCK_EVENTS` events, one task per block and one merging them) and run
through the analysis with each referenced region's cuts in its reference's order, plus a
histogram of each region's model score."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import RecastError
from .spec import Benchmark, CutflowRef, Spec

SCORE_BINS = 25


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
    from ..analysis import Histogram
    from ..models.card import card

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


def slha_text(point: Benchmark, analysis_id: str) -> str:
    """The point's SLHA card: a simplified model, a file, or an edited card of the analysis' registry."""
    from .. import artifacts
    from ..slha import edited, simplified_model

    s = point.slha
    if s.get("simplified"):
        return simplified_model(s["simplified"], s["m_parent"], s["m_lsp"])
    if "path" in s:
        return Path(s["path"]).read_text()
    text = artifacts.fetch(artifacts.get(analysis_id, s["artifact"]), progress=False).read_text()
    if "MODSEL" not in text.upper():  # some published cards omit it; Pythia's SLHA reader wants one
        text = "BLOCK MODSEL\n    1   0\n" + text
    return edited(text, {int(k): v for k, v in (s.get("masses") or {}).items()}, s.get("blocks"))


def _point_spec(task: dict[str, Any], tmp: Path):
    """The point's run (its card written in ``tmp``) and the detector cards to compare, as
    :func:`run_one` and :func:`run_block` make them on a worker."""
    from .. import analysis as ana_mod
    from .. import pipeline

    point: Benchmark = task["point"]
    ana = ana_mod.load(task["analysis"])
    options = ana.resolve_options(point.options)
    others = [c for c in task.get("detectors", ()) if c != options.get("detector")]
    variant = ordered_analysis(ana, point.cutflows, options)
    variant = dataclasses.replace(variant, histograms=variant.histograms_for(options)
                                  + score_histograms(variant, options))
    card = tmp / f"{point.name}.slha"
    card.write_text(slha_text(point, ana.id))
    spec = pipeline.PointSpec(slha=card, analyses=[variant], nevents=point.nevents, seed=point.seed,
                              process=point.process, options={ana.id: point.options},
                              chunk_size=2000, xsec_fb=point.cross_section_fb, block_events=pipeline.BLOCK_EVENTS)
    return ana, spec, others


def point_blocks(point: Benchmark) -> list:
    """The generation blocks of a point (:func:`recast.events.pythia.generation_blocks`)."""
    from .. import pipeline
    from ..events.pythia import generation_blocks

    return generation_blocks(point.nevents, point.seed, pipeline.BLOCK_EVENTS)


def run_block(task: dict[str, Any], block) -> Any:
    """One generation block of a point on a worker, counted for :func:`run_one` to merge."""
    from .. import pipeline
    from ..parallel import limit_threads

    limit_threads()
    with tempfile.TemporaryDirectory(prefix="recast-validate-") as tmp:
        _, spec, others = _point_spec(task, Path(tmp))
        return pipeline.count_block(spec, block, pipeline.point_variants(spec, others))


def run_one(task: dict[str, Any], *outcomes: Any) -> dict[str, Any]:
    """One point on a worker: generate, run the (reordered) analysis, return the result document
    (and, for each card of ``task["detectors"]`` other than the point's own, the document with that
    card, on the same events, under ``by_detector``) or the error. Never raises for a bad point.
    ``outcomes``: the point's generation blocks counted already by :func:`run_block` tasks."""
    from .. import pipeline
    from ..parallel import limit_threads

    limit_threads()
    point: Benchmark = task["point"]
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="recast-validate-") as tmp:
            ana, spec, others = _point_spec(task, Path(tmp))
            docs = pipeline.run_point_with_cards(spec, others, outcomes=outcomes or None)
        return {"name": point.name, "result": docs[None][ana.id], "by_detector": {c: docs[c][ana.id] for c in others},
                "error": None, "seconds": time.perf_counter() - t0 + sum(o.seconds for o in outcomes)}
    except Exception as exc:  # a point that fails is reported in the page; the others run on
        msg = " ".join(f"{type(exc).__name__}: {exc}".split()) if not isinstance(exc, RecastError) else \
            " ".join(str(exc).split())
        return {"name": point.name, "result": None, "error": msg[:400], "seconds": time.perf_counter() - t0}


def run_points(spec: Spec, points: Sequence[Benchmark], *, workers: int | None = None, scheduler: str | None = None,
               on_done: Callable[[dict[str, Any]], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run ``points`` on Dask (:func:`run_one` each); outcome (result or error) by point name.
    ``on_done`` is called with each outcome as it arrives."""
    from ..parallel import cluster, in_turn, submit

    tasks = {p.name: {"analysis": spec.analysis.id, "point": p, "detectors": list(spec.detectors)} for p in points}
    out: dict[str, dict[str, Any]] = {}
    if not tasks:
        return out
    with cluster(workers, scheduler) as client:
        # a point of several generation blocks: a task per block, and run_one merging them, so that the
        # blocks of a big point are shared by every worker
        order = {name: i for i, name in enumerate(tasks)}

        def submit_point(name: str) -> tuple[list, Any]:
            task, i = tasks[name], order[name]
            blocks = point_blocks(task["point"])
            blocks = [submit(client, run_block, f"{name}-{b.index}", task, b, key_prefix="recast-validate-block",
                             priority=-i) for b in blocks] if len(blocks) > 1 else []
            return blocks, submit(client, run_one, name, task, *blocks, key_prefix="recast-validate", priority=-i)

        for name, outcome in in_turn(client, list(tasks), submit_point):
            if isinstance(outcome, BaseException):
                outcome = {"name": name, "result": None, "seconds": None,
                           "error": f"the worker running this point failed: {type(outcome).__name__}: {outcome}"}
            out[name] = outcome
            if on_done:
                on_done(outcome)
    return out
