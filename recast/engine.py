"""Run an analysis over event batches: objects -> variables -> cut masks -> weighted counts.

Per chunk of events the engine builds the objects once, asks the analysis for its variables,
evaluates every cut as a boolean mask and adds raw counts, sum of weights and sum of squared
weights for each cumulative cutflow step. Nothing is kept per event, so memory is bounded by
the chunk size.

Acceptance x efficiency of a step is ``sum(w, passing) / sum(w, all)``; its MC-statistical error
is the weighted binomial ``sqrt((1 - 2 eff) sum(w^2, passing) + eff^2 sum(w^2, all)) / sum(w, all)``
(equal to ``sqrt(sum w^2)/sum w`` for small efficiencies, and correct for steps near 100 %).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

from .analysis import Analysis, Cut
from .objects import Objects, build_objects

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
    """What an analysis run accumulates: totals, and one cutflow per signal region (each starting
    with "all events" and the preselection)."""

    analysis_id: str
    n_events: int = 0
    sumw: float = 0.0
    sumw2: float = 0.0
    cutflows: dict[str, list[Step]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_analysis(cls, analysis: Analysis) -> Counts:
        pre = [Step(ALL_EVENTS, "")] + [Step(c.step, c.condition) for c in analysis.preselection]
        flows = {sr.name: [Step(s.step, s.condition) for s in pre] + [Step(c.step, c.condition) for c in sr.cuts]
                 for sr in analysis.signal_regions}
        return cls(analysis.id, cutflows=flows, groups={sr.name: sr.group for sr in analysis.signal_regions})

    def efficiency(self, step: Step) -> tuple[float, float]:
        """(A x eff, its MC-statistical error) of a step relative to all events."""
        if self.sumw == 0:
            return 0.0, 0.0
        eff = step.sumw / self.sumw
        var = (1.0 - 2.0 * eff) * step.sumw2 + eff * eff * self.sumw2
        return eff, float(np.sqrt(max(var, 0.0))) / abs(self.sumw)

    def final(self, region: str) -> Step:
        return self.cutflows[region][-1]


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


def select(analysis: Analysis, objects: Objects, options: Mapping[str, Any], counts: Counts) -> dict[str, np.ndarray]:
    """Evaluate the analysis on built objects and add them to ``counts``; returns the variables."""
    variables = analysis.compute_variables(objects, options)
    w = objects.weight
    w2 = w * w
    counts.n_events += len(w)
    counts.sumw += float(w.sum())
    counts.sumw2 += float(w2.sum())
    everything = np.ones(len(w), bool)
    pre_masks = [everything] + _cumulative(analysis.preselection, everything, variables)
    for sr in analysis.signal_regions:
        masks = pre_masks + _cumulative(sr.cuts, pre_masks[-1], variables)
        _accumulate(counts.cutflows[sr.name], masks, w, w2)
    return variables


def process_batch(analysis: Analysis, batch: ak.Array, options: Mapping[str, Any], seed: int,
                  counts: Counts, object_config=None) -> dict[str, np.ndarray]:
    """Build the objects of one event batch and add it to ``counts``; returns the variables."""
    objects = build_objects(batch, object_config or analysis.object_config(options), seed)
    return select(analysis, objects, options, counts)


def run(analysis: Analysis, batches: Iterable[ak.Array], options: Mapping[str, Any] | None = None,
        seed: int = 0, counts: Counts | None = None,
        on_batch: Callable[[int], None] | None = None) -> Counts:
    """Run ``analysis`` over ``batches``; pass ``counts`` to keep what was accumulated if the
    source fails part-way (the caller can still report the events already processed)."""
    options = analysis.resolve_options(options)
    counts = counts if counts is not None else Counts.for_analysis(analysis)
    config = analysis.object_config(options)
    for batch in batches:
        process_batch(analysis, batch, options, seed, counts, config)
        if on_batch is not None:
            on_batch(len(batch))
    return counts
