"""One pass over the events for ``recast probe``: per chunk, the objects are built once and the
selection runs with the analysis' options and with every flipped option on the same objects; what
is kept, per model use, is the raw inputs of the events that reach the model (through the engine's
:class:`~recast.engine.FeatureDump`) and, per ML region, which of them pass the region's other
cuts. Everything after the pass works on these arrays, batched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import engine
from ..analysis import Analysis, Cut, ModelUse, ScoreCut
from ..errors import AnalysisError, RecastError
from ..objects import Objects

NOT_PROBED = "not probed (recast probe --model selects other models)"


@dataclass
class RegionTarget:
    """An ML region as seen from its model's events: its score cut and, per event of the sample,
    whether the event passes every other cut of the region (preselection included)."""

    name: str
    cut: ScoreCut
    rest: np.ndarray

    def passes(self, score: np.ndarray) -> np.ndarray:
        """Per event of the sample: in the region with this score."""
        return self.rest & self.cut.evaluate({self.cut.score: score})


@dataclass
class ModelSample:
    """The events that reach one model use, as the model sees them."""

    use: ModelUse
    model: Any  # recast.models.runtime.LoadedModel
    raw: np.ndarray  # [N, n_inputs] float64, the card's order, NaN for an absent object
    folds: np.ndarray  # int8: 0 = even model, 1 = odd
    event_number: np.ndarray
    weight: np.ndarray
    score: np.ndarray  # the engine's score of each event
    regions: list[RegionTarget]
    seed: int = 0

    @property
    def card(self):
        return self.model.card

    @property
    def node(self) -> int:
        return self.card.score_node if self.use.node is None else self.use.node

    @property
    def fixed(self) -> set[int]:
        """Indices of the inputs the analysis fixes (parameters of a parametrised network)."""
        names = self.card.input_names
        return {names.index(name) for name, _ in self.use.fixed}

    def scores(self, raw: np.ndarray, folds: np.ndarray | None = None, model=None) -> np.ndarray:
        """The model's score for raw inputs (rows: events of this sample, or repeats of them with
        ``folds`` to match), one call per fold."""
        model = model or self.model
        folds = self.folds if folds is None else folds
        return model.run(model.prepare(raw), folds)[:, self.node].astype(np.float64)


@dataclass
class Flip:
    """One analysis option set to another of its values."""

    option: str
    value: Any
    default: Any
    doc: str
    options: dict[str, Any]
    models: engine.Models
    counts: engine.Counts
    sumw_pass: dict[str, float] = field(default_factory=dict)  # region -> sum of weights in the region
    sumw2_changed: dict[str, float] = field(default_factory=dict)  # region -> sum w^2 of events that moved


@dataclass
class Collected:
    """What one pass over the events gives the probe."""

    analysis: Analysis
    options: dict[str, Any]
    counts: engine.Counts
    samples: list[ModelSample]
    flips: list[Flip]
    not_flipped: dict[str, str]  # option -> why it was not flipped
    n_events: int = 0
    sumw: float = 0.0


def ml_regions(analysis: Analysis, options: Mapping[str, Any], scores: Iterable[str]) -> list:
    """The signal regions that cut on one of ``scores``."""
    wanted = set(scores)
    return [sr for sr in analysis.regions(options) if sr.score_cut is not None and sr.score_cut.score in wanted]


def select_models(analysis: Analysis, options: Mapping[str, Any], loaded: Mapping[str, Any],
                  only: Sequence[str] | None = None) -> engine.Models:
    """The models of ``analysis`` with ``options``, reusing the loaded ones (card id -> model);
    the uses of cards outside ``only`` are left unevaluated (their regions are skipped)."""
    from ..models import runtime
    from ..models.card import card as get_card

    out = engine.Models()
    for use in analysis.model_uses(options):
        if only is not None and use.card not in only:
            out.unavailable[use.score] = NOT_PROBED
            continue
        if use.card not in loaded:
            loaded = {**loaded, use.card: runtime.load(get_card(analysis.id, use.card))}
        out.loaded.append((use, loaded[use.card]))
    engine.check_thresholds(analysis, options, {u.score: m.card for u, m in out.loaded})
    return out


def _passes(cuts: Sequence[Cut], variables: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    mask = np.ones(n, bool)
    for c in cuts:
        mask &= c.evaluate(variables)
    return mask


def flippable(analysis: Analysis, options: Mapping[str, Any]) -> tuple[list[tuple[Any, Any]], dict[str, str]]:
    """The option values to try, ``(option, value)``, and the options left alone with the reason:
    every other choice of an option with choices, unless it changes the reconstructed objects (a
    detector-level choice: compare those with two ``recast run``)."""
    from .. import detector

    config = detector.object_config(analysis, options)
    values, skipped = [], {}
    for opt in analysis.options:
        if opt.name == "detector":
            skipped[opt.name] = "the detector card: compare cards with 'recast run --detector'"
            continue
        if opt.choices is None:
            skipped[opt.name] = "a number without stated alternatives"
            continue
        for value in opt.choices:
            if value == options[opt.name]:
                continue
            changed = {**options, opt.name: value}
            if detector.object_config(analysis, changed) != config:
                skipped[opt.name] = "changes the reconstructed objects, not how the models are fed"
                break
            values.append((opt, value))
    return values, skipped


def prepare_flips(analysis: Analysis, options: Mapping[str, Any], loaded: Mapping[str, Any],
                  only: Sequence[str] | None = None) -> tuple[list[Flip], dict[str, str]]:
    """A :class:`Flip` (models and empty counts) for every option value :func:`flippable` gives."""
    values, skipped = flippable(analysis, options)
    flips = []
    for opt, value in values:
        changed = analysis.resolve_options({**options, opt.name: value})
        models = select_models(analysis, changed, loaded, only)
        counts = engine.Counts.for_analysis(analysis, changed, engine.skipped_regions(analysis, changed, models))
        flips.append(Flip(opt.name, value, options[opt.name], opt.doc, changed, models, counts))
    return flips, skipped


def collect(analysis: Analysis, options: Mapping[str, Any], chunks: Iterable[Objects], models: engine.Models,
            flips: Sequence[Flip] = (), not_flipped: Mapping[str, str] | None = None,
            on_chunk: Callable[[int], None] | None = None) -> Collected:
    """Run the selection over ``chunks`` (built objects) with ``options`` and ``models``, and with
    every flip on the same objects; keep each model use's events (see the module docstring)."""
    options = dict(options)
    counts = engine.Counts.for_analysis(analysis, options, engine.skipped_regions(analysis, options, models))
    uses = [use for use, _ in models.loaded]
    if not uses:
        raise AnalysisError(f"{analysis.id} evaluates no model with these options: nothing to probe")
    regions = ml_regions(analysis, options, [u.score for u in uses])
    parts: dict[str, dict[str, list]] = {u.score: {k: [] for k in ("raw", "folds", "event_number", "weight", "score",
                                                                  *[f"rest:{r.name}" for r in regions])}
                                         for u in uses}
    n_events, sumw, seed = 0, 0.0, 0
    for objects in chunks:
        seed = objects.seed
        dump = engine.FeatureDump(raw=True)
        variables = engine.select(analysis, objects, options, counts, models, dump)
        columns = dump.chunks[0]
        n = len(objects)
        w = objects.weight
        base_pass = {}
        for sr in regions:
            rest = _passes(analysis.preselection + tuple(c for c in sr.cuts if c is not sr.score_cut), variables, n)
            base_pass[sr.name] = rest & sr.score_cut.evaluate(variables)
            part = parts[sr.score_cut.score]
            part[f"rest:{sr.name}"].append(rest[columns[f"{sr.score_cut.score}.evaluated"]])
        for use, model in models.loaded:
            rows = columns[f"{use.score}.evaluated"]
            part = parts[use.score]
            part["raw"].append(np.column_stack([columns[f"{use.score}.raw.{name}"][rows]
                                                for name in model.card.input_names]))
            part["folds"].append(columns[f"{use.score}.fold"][rows])
            part["event_number"].append(objects.event_number[rows])
            part["weight"].append(w[rows])
            part["score"].append(variables[use.score][rows])
        for flip in flips:
            changed = engine.select(analysis, objects, flip.options, flip.counts, flip.models)
            by_name = {sr.name: sr for sr in analysis.regions(flip.options)}
            for sr in regions:
                passed = _passes(analysis.preselection + by_name[sr.name].cuts, changed, n)
                moved = passed != base_pass[sr.name]
                flip.sumw_pass[sr.name] = flip.sumw_pass.get(sr.name, 0.0) + float(w[passed].sum())
                flip.sumw2_changed[sr.name] = flip.sumw2_changed.get(sr.name, 0.0) + float((w[moved] ** 2).sum())
        n_events += n
        sumw += float(w.sum())
        if on_chunk is not None:
            on_chunk(n)
    if n_events == 0:
        raise RecastError("no events to probe")
    samples = []
    for use, model in models.loaded:
        part = parts[use.score]
        width = len(model.card.inputs)
        cat = {k: np.concatenate(v) if v else np.zeros((0, width) if k == "raw" else 0) for k, v in part.items()}
        targets = [RegionTarget(sr.name, sr.score_cut, cat[f"rest:{sr.name}"].astype(bool))
                   for sr in regions if sr.score_cut.score == use.score]
        samples.append(ModelSample(use, model, cat["raw"].astype(np.float64), cat["folds"].astype(np.int8),
                                   cat["event_number"], cat["weight"].astype(np.float64), cat["score"], targets,
                                   seed=seed))
    return Collected(analysis, options, counts, samples, list(flips), dict(not_flipped or {}), n_events, sumw)


def with_card(model, card):
    """A loaded model fed through another card (same sessions): a convention flipped."""
    return dataclasses.replace(model, card=card)
