"""Run an analysis over event batches: objects -> variables -> models -> cut masks -> weighted counts.

Per chunk of events the engine builds the objects once (truth objects through the analysis' detector
card, :func:`recast.detector.build`), asks the analysis for its variables,
evaluates each preserved model on the whole chunk (one onnxruntime call per fold), adds the scores
to the variables, evaluates every cut as a boolean mask and adds raw counts, sum of weights and sum
of squared weights for each cumulative cutflow step. Nothing is kept per event (unless a feature
dump is asked for), so memory is bounded by the chunk size.

A model whose artifact is unavailable (offline, not in a mirror) does not stop the run: the
signal regions that cut on its score are skipped, with the reason.

Acceptance x efficiency of a step is ``sum(w, passing) / sum(w, all)``; its MC-statistical error
is the weighted binomial ``sqrt((1 - 2 eff) sum(w^2, passing) + eff^2 sum(w^2, all)) / sum(w, all)``
(equal to ``sqrt(sum w^2)/sum w`` for small efficiencies, and correct for steps near 100 %).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from .analysis import Analysis, Cut, ModelUse
from .errors import AnalysisError, ArtifactUnavailable, RecastError
from . import detector
from .objects import Objects

ALL_EVENTS = "all events"


@dataclass
class Step:
    """Cumulative counts after one cutflow step."""

    step: str
    condition: str
    n: int = 0
    sumw: float = 0.0
    sumw2: float = 0.0


@dataclass
class Counts:
    """What an analysis run accumulates: totals, and one cutflow per evaluated signal region (each
    starting with "all events" and the preselection); ``skipped`` maps the others to the reason.

    Counts add up like coffea's accumulators: ``a + b`` (or ``a += b``) are the counts of both sets
    of events, so chunks, files or Dask partials of one sample can be counted apart and merged. Both
    must count the same regions and histograms (the same analysis and options)."""

    analysis_id: str
    n_events: int = 0
    sumw: float = 0.0
    sumw2: float = 0.0
    cutflows: dict[str, list[Step]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    regions: tuple = ()  # the SignalRegion definitions being counted
    histograms: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # name -> n, sumw, sumw2
    histogram_definitions: tuple = ()  # the Histogram definitions being filled
    # region cutting on a model with a training domain -> (events before its score cut, of which with an
    # input outside the domain, and their sums of weights): what 'recast run' warns about
    domain: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def for_analysis(cls, analysis: Analysis, options: Mapping[str, Any] | None = None,
                     skipped: Mapping[str, str] | None = None) -> Counts:
        skipped = dict(skipped or {})
        regions = tuple(sr for sr in analysis.regions(options) if sr.name not in skipped)
        pre = [Step(ALL_EVENTS, "")] + [Step(c.step, c.condition) for c in analysis.preselection]
        flows = {sr.name: [Step(s.step, s.condition) for s in pre] + [Step(c.step, c.condition) for c in sr.cuts]
                 for sr in regions}
        definitions = analysis.histograms_for(options)
        hists = {h.name: {k: np.zeros(len(h.edges) - 1) for k in ("n", "sumw", "sumw2")} for h in definitions}
        return cls(analysis.id, cutflows=flows, groups={sr.name: sr.group for sr in regions},
                   skipped=skipped, regions=regions, histograms=hists, histogram_definitions=definitions)

    def __iadd__(self, other: Counts) -> Counts:
        if (other.analysis_id, list(other.cutflows), [[s.condition for s in f] for f in other.cutflows.values()],
                list(other.histograms)) != (self.analysis_id, list(self.cutflows),
                                            [[s.condition for s in f] for f in self.cutflows.values()],
                                            list(self.histograms)):
            raise ValueError(f"cannot add the counts of {other.analysis_id} to those of {self.analysis_id}: "
                             f"other regions, cuts or histograms (other options?)")
        self.n_events += other.n_events
        self.sumw += other.sumw
        self.sumw2 += other.sumw2
        for name, flow in self.cutflows.items():
            for mine, theirs in zip(flow, other.cutflows[name]):
                mine.n += theirs.n
                mine.sumw += theirs.sumw
                mine.sumw2 += theirs.sumw2
        for name, bins in self.histograms.items():
            for key in bins:
                bins[key] = bins[key] + other.histograms[name][key]
        for region, tally in other.domain.items():
            self.domain[region] = self.domain.get(region, np.zeros(4)) + tally
        return self

    def __add__(self, other: Counts) -> Counts:
        import copy

        total = copy.deepcopy(self)
        total += other
        return total

    def efficiency(self, step: Step) -> tuple[float, float]:
        """(A x eff, its MC-statistical error) of a step relative to all events."""
        if self.sumw == 0:
            return 0.0, 0.0
        eff = step.sumw / self.sumw
        var = (1.0 - 2.0 * eff) * step.sumw2 + eff * eff * self.sumw2
        return eff, float(np.sqrt(max(var, 0.0))) / abs(self.sumw)

    def final(self, region: str) -> Step:
        return self.cutflows[region][-1]


# -- models ---------------------------------------------------------------------------------------


@dataclass
class Models:
    """The analysis' models for one run: loaded ones, and unavailable ones with the reason."""

    loaded: list[tuple[ModelUse, Any]] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # score variable -> reason


def prepare_models(analysis: Analysis, options: Mapping[str, Any], threads: int = 1) -> Models:
    """Load every model the analysis uses with these options. An artifact that is not available
    (offline, no source) makes the model unavailable; anything else wrong with a model (checksum,
    corrupt file, signature, golden outputs) is an error."""
    from .models import runtime
    from .models.card import card as get_card

    out = Models()
    uses = analysis.model_uses(options)
    scored = {u.score for u in uses} & set().union(*(c.variables for c in analysis.preselection))
    if scored:  # models are scored on preselected events only
        raise AnalysisError(f"{analysis.id}: the preselection cuts on model scores ({', '.join(sorted(scored))}); "
                            f"score cuts belong in the signal regions")
    check_thresholds(analysis, options, {u.score: get_card(analysis.id, u.card) for u in uses})
    for use in uses:
        model_card = get_card(analysis.id, use.card)
        try:
            out.loaded.append((use, runtime.load(model_card, threads=threads)))
        except ArtifactUnavailable as exc:
            # the full story (sources tried, how to provide the file) is one 'recast data fetch' away
            out.unavailable[use.score] = (f"model {use.card} unavailable: {exc.short}; 'recast data fetch "
                                          f"{analysis.id}' says more")
    return out


def check_thresholds(analysis: Analysis, options: Mapping[str, Any], cards: Mapping[str, Any]) -> None:
    """Every score cut of the analysis' regions at the threshold its model card states (``cards``:
    score variable -> card); an :class:`~recast.errors.AnalysisError` naming both otherwise."""
    for sr in analysis.regions(options):
        cut = sr.score_cut
        if cut is None or cut.score not in cards:
            continue
        card = cards[cut.score]
        stated = card.threshold_for(sr.name)
        if stated is not None and stated != cut.threshold:
            raise AnalysisError(f"{analysis.id} {sr.name}: the region cuts {cut.score} at {cut.threshold}, the model "
                                f"card {card.id} ({card.path}) states {stated}")


def prepare(analysis: Analysis, options: Mapping[str, Any], threads: int = 1) -> tuple[Models, Counts]:
    """Everything a run needs before the first event: the loaded models (a bad model fails here)
    and empty counts for the signal regions that can be evaluated."""
    models = prepare_models(analysis, options, threads)
    return models, Counts.for_analysis(analysis, options, skipped_regions(analysis, options, models))


def skipped_regions(analysis: Analysis, options: Mapping[str, Any], models: Models) -> dict[str, str]:
    """Signal regions that cut on the score of an unavailable model, with the reason."""
    out = {}
    for sr in analysis.regions(options):
        used = set().union(*(c.variables for c in analysis.preselection + sr.cuts))
        for score in sorted(used & set(models.unavailable)):
            out[sr.name] = models.unavailable[score]
    return out


@dataclass
class FeatureDump:
    """Collects, per event, the exact inputs, fold and score of every model (for debugging an
    implementation against a reference); written as .npz or .parquet. With ``raw``, also the
    inputs before the card's scaling and padding (``<score>.raw.<input>``, float64, NaN for an
    absent object), which ``recast probe`` works on."""

    chunks: list[dict[str, np.ndarray]] = field(default_factory=list)
    raw: bool = False

    def add(self, columns: dict[str, np.ndarray]) -> None:
        self.chunks.append(columns)

    def write(self, path: Path) -> None:
        from .atomic import atomic_path

        path = Path(path)
        columns = {k: np.concatenate([c[k] for c in self.chunks]) for k in self.chunks[0]} if self.chunks else {}
        if path.suffix == ".npz":
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez_compressed(f, **columns)
        elif path.suffix == ".parquet":
            with atomic_path(path) as tmp:
                ak.to_parquet(ak.zip(columns, depth_limit=1), tmp)
        else:
            raise RecastError(f"--dump-features {path}: use a .npz or .parquet file name")


def _evaluate_models(models: Models, variables: dict[str, np.ndarray], objects: Objects,
                     dump: FeatureDump | None, preselected: np.ndarray) -> dict[str, np.ndarray]:
    """Score every loaded model on the ``preselected`` events that meet its extra condition
    (``ModelUse.when``), one call per fold; the score is NaN for every other event. Returns, for
    the models whose card states a training domain, which events have an input outside it."""
    from .models.runtime import assign_folds

    n = len(objects)
    outside: dict[str, np.ndarray] = {}
    columns: dict[str, np.ndarray] = {"event_number": objects.event_number} if dump is not None else {}
    for use, model in models.loaded:
        card = model.card
        mask = preselected & use.condition.evaluate(variables) if use.condition is not None else preselected
        fixed = dict(use.fixed)
        raw = np.column_stack([np.full(n, fixed[name], dtype=np.float64) if name in fixed
                               else np.asarray(variables[name], dtype=np.float64)
                               for name in card.input_names])[mask]
        for name, value in use.pad:
            k = card.input_names.index(name)
            raw[np.isnan(raw[:, k]), k] = value
        folds = assign_folds(use.fold_rule or card.fold_rule, objects.event_number[mask], objects.seed) \
            if len(card.files) > 1 else np.zeros(int(mask.sum()), np.int8)
        x = model.prepare(raw, where=f"for {use.score}")
        score = np.full(n, np.nan)
        score[mask] = model.run(x, folds)[:, card.score_node if use.node is None else use.node]
        variables[use.score] = score
        if card.has_domain:
            outside[use.score] = np.zeros(n, bool)
            outside[use.score][mask] = card.outside(raw, folds).any(axis=1)
        if dump is not None:
            columns[f"{use.score}.evaluated"] = mask
            full_folds = np.full(n, -1, np.int8)
            full_folds[mask] = folds
            columns[f"{use.score}.fold"] = full_folds
            columns[f"{use.score}.score"] = score.astype(np.float32)
            for k, name in enumerate(card.input_names):
                col = np.full(n, np.nan, np.float32)
                col[mask] = x[:, k]
                columns[f"{use.score}.input.{name}"] = col
                if dump.raw:
                    col = np.full(n, np.nan)
                    col[mask] = raw[:, k]
                    columns[f"{use.score}.raw.{name}"] = col
    for score in models.unavailable:
        variables[score] = np.full(n, np.nan)
    if dump is not None:
        dump.add(columns)
    return outside


# -- counting -------------------------------------------------------------------------------------


def _accumulate(steps: list[Step], masks: list[np.ndarray], w: np.ndarray, w2: np.ndarray) -> None:
    for s, m in zip(steps, masks):
        s.n += int(np.count_nonzero(m))
        s.sumw += float(w[m].sum())
        s.sumw2 += float(w2[m].sum())


def _cumulative(cuts: Iterable[Cut], start: np.ndarray, variables: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    masks, mask = [], start
    for c in cuts:
        mask = mask & c.evaluate(variables)
        masks.append(mask)
    return masks


def select(analysis: Analysis, objects: Objects, options: Mapping[str, Any], counts: Counts,
           models: Models | None = None, dump: FeatureDump | None = None) -> dict[str, np.ndarray]:
    """Evaluate the analysis (and its models) on built objects and add them to ``counts``;
    returns the variables, scores included."""
    models = models or Models()
    variables = analysis.compute_variables(objects, options)
    everything = np.ones(len(objects), bool)
    pre_masks = [everything] + _cumulative(analysis.preselection, everything, variables)
    outside = _evaluate_models(models, variables, objects, dump, pre_masks[-1])  # the preselection first
    missing = {u.score for u in analysis.model_uses(options)} - set(variables)
    if missing:
        raise RecastError(f"{analysis.id}: model scores {', '.join(sorted(missing))} were not computed: "
                          f"prepare the models first (engine.prepare)")
    w = objects.weight
    w2 = w * w
    counts.n_events += len(w)
    counts.sumw += float(w.sum())
    counts.sumw2 += float(w2.sum())
    for sr in counts.regions:
        masks = pre_masks + _cumulative(sr.cuts, pre_masks[-1], variables)
        _accumulate(counts.cutflows[sr.name], masks, w, w2)
        cut = sr.score_cut
        if cut is not None and cut.score in outside:
            before = _cumulative([c for c in sr.cuts if c is not cut], pre_masks[-1], variables)[-1] \
                if len(sr.cuts) > 1 else pre_masks[-1]
            before = before & ~np.isnan(variables[cut.score])
            out = before & outside[cut.score]
            counts.domain[sr.name] = counts.domain.get(sr.name, np.zeros(4)) + np.array(
                [np.count_nonzero(before), np.count_nonzero(out), w[before].sum(), w[out].sum()])
    for h in counts.histogram_definitions:
        mask = _cumulative(h.cuts, pre_masks[-1], variables)[-1] if h.cuts else pre_masks[-1]
        x = np.asarray(variables[h.variable], dtype=np.float64)[mask]
        bins = counts.histograms[h.name]
        for key, weights in (("n", None), ("sumw", w[mask]), ("sumw2", w2[mask])):
            bins[key] += np.histogram(x, bins=h.edges, weights=weights)[0]
    return variables


def process_batch(analysis: Analysis, batch: ak.Array, options: Mapping[str, Any], seed: int,
                  counts: Counts, object_config=None, models: Models | None = None,
                  dump: FeatureDump | None = None) -> dict[str, np.ndarray]:
    """Build the (reconstructed) objects of one event batch and add it to ``counts``; returns the
    variables."""
    objects = detector.build(batch, object_config or detector.object_config(analysis, options), seed)
    return select(analysis, objects, options, counts, models, dump)


def run(analysis: Analysis, batches: Iterable[ak.Array], options: Mapping[str, Any] | None = None,
        seed: int = 0, counts: Counts | None = None, models: Models | None = None,
        dump: FeatureDump | None = None, on_batch: Callable[[int], None] | None = None) -> Counts:
    """Run ``analysis`` over ``batches``. Models are loaded here unless given; pass ``counts``
    (built with :meth:`Counts.for_analysis`) to keep what was accumulated if the source fails
    part-way. The next batch is read ahead on a thread where a spare core allows
    (:mod:`recast.events.ahead`).

    A toy analysis over two events of one neutrino each (the truth MET is its pT):

    >>> import numpy as np
    >>> from recast.analysis import Analysis, Cut, SignalRegion
    >>> from recast.events.record import GenRecord, to_batch
    >>> from recast.objects import ObjectConfig
    >>> events = to_batch(GenRecord(
    ...     event_offsets=np.array([0, 1, 2]), pid=np.array([12, 12], np.int32), final=np.ones(2, bool),
    ...     beam=np.zeros(2, bool), p4=np.array([[300.0, 0, 0, 300], [100.0, 0, 0, 100]]),
    ...     parent_offsets=np.zeros(3, np.int64), parents=np.zeros(0, np.int64),
    ...     weight=np.ones(2), event_number=np.array([1, 2])))
    >>> toy = Analysis(id="TOY", title="MET", arxiv="-", sqrt_s_tev=13.0, luminosity_ifb=139.0,
    ...     preselection=(), signal_regions=(SignalRegion("SR", (Cut("MET > 200", "met > 200"),)),),
    ...     variables=lambda obj, opt: {"met": np.asarray(obj.met.pt)}, object_config=lambda opt: ObjectConfig())
    >>> counts = run(toy, [events])
    >>> [(step.step, step.n) for step in counts.cutflows["SR"]]
    [('all events', 2), ('MET > 200', 1)]
    """
    from .events.ahead import read_ahead

    options = analysis.resolve_options(options)
    if models is None:
        models, prepared = prepare(analysis, options)
        counts = counts if counts is not None else prepared
    elif counts is None:
        counts = Counts.for_analysis(analysis, options, skipped_regions(analysis, options, models))
    config = detector.object_config(analysis, options)
    for batch in read_ahead(batches):
        process_batch(analysis, batch, options, seed, counts, config, models, dump)
        if on_batch is not None:
            on_batch(len(batch))
    return counts
