"""Convention sensitivity: how each ML region's efficiency moves when a disputed convention is
flipped, on the same events.

Two kinds of flips:

* analysis options (:func:`recast.probe.collect.flippable`): every other value of every option
  with choices that leaves the reconstructed objects alone (b-tag encoding, MET-phi range, fold
  rule, padding choices, which leptons enter an input, ...); the selection reran on the same
  objects during the pass over the events;
* the model card's ``disputed`` list: conventions the card can flip itself on the same raw inputs
  (another padding value, another unit (scale), azimuths in the other range, the folds swapped or
  drawn at random).

The change of efficiency is paired (same events): its MC error is sqrt(sum of w^2 over the
events that entered or left the region) / sum of all weights.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from ..models.runtime import assign_folds
from ..objects import wrap_phi
from .collect import Collected, ModelSample, with_card


def _region_change(passed: np.ndarray, nominal: np.ndarray, w: np.ndarray, sumw_total: float,
                   base: float) -> dict[str, Any]:
    eff = float(w[passed].sum()) / sumw_total
    moved = passed != nominal
    return {"efficiency": eff, "change": eff - base,
            "change_err": math.sqrt(float((w[moved] ** 2).sum())) / sumw_total,
            "relative_change": eff / base - 1.0 if base > 0 else None}


def flipped_sample(sample: ModelSample, disputed) -> tuple[Any, np.ndarray, np.ndarray]:
    """The model (card), raw inputs and folds of ``sample`` with one disputed card convention
    flipped."""
    card, raw, folds = sample.card, sample.raw, sample.folds
    if disputed.pad or disputed.scale:
        inputs = list(card.inputs)
        for k, value in disputed.pad.items():
            inputs[k] = dataclasses.replace(inputs[k], pad=value)
        for k, value in disputed.scale.items():
            inputs[k] = dataclasses.replace(inputs[k], scale=value)
        card = dataclasses.replace(card, inputs=tuple(inputs))
    if disputed.phi_range is not None:
        raw = raw.copy()
        cols = list(disputed.phi_inputs)
        raw[:, cols] = np.mod(raw[:, cols], 2 * np.pi) if disputed.phi_range == "0-2pi" else wrap_phi(raw[:, cols])
    if disputed.folds == "swapped":
        folds = (1 - folds).astype(np.int8)
    elif disputed.folds == "random":
        folds = assign_folds("random", sample.event_number, sample.seed)
    return with_card(sample.model, card), raw, folds


def card_flips(sample: ModelSample, base: dict[str, float], sumw_total: float) -> list[dict[str, Any]]:
    """Every disputed convention of the sample's card, flipped: per region, the efficiency, its
    paired change and the share of the region's events outside the training domain."""
    out = []
    for d in sample.card.disputed:
        model, raw, folds = flipped_sample(sample, d)
        score = sample.scores(raw, folds, model)
        outside = sample.card.outside(raw, folds).any(axis=1)
        regions = {}
        for t in sample.regions:
            w = sample.weight
            regions[t.name] = _region_change(t.passes(score), t.passes(sample.score), w, sumw_total, base[t.name])
            wr = w[t.rest]
            regions[t.name]["fraction_outside"] = float(wr[outside[t.rest]].sum() / wr.sum()) if wr.sum() > 0 else 0.0
        out.append({"kind": "model card", "model": sample.card.id, "name": d.name, "value": d.name,
                    "description": d.description, "regions": regions})
    return out


def merged(flips: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Card conventions of the same name (the same dispute, in the cards of several models or
    model uses) as one row, with the regions of all of them."""
    out: dict[str, dict[str, Any]] = {}
    for f in flips:
        row = out.setdefault(f["name"], {**f, "model": f["model"], "regions": {}})
        if f["model"] not in row["model"].split(", "):
            row["model"] += f", {f['model']}"
        row["regions"].update(f["regions"])
    return list(out.values())


def option_flips(collected: Collected, base: dict[str, float]) -> list[dict[str, Any]]:
    """The analysis options flipped during the pass: per ML region, the efficiency, its paired
    change and the share of the region's events outside the training domain."""
    out = []
    total = collected.sumw
    for flip in collected.flips:
        regions = {}
        for name, sumw in flip.sumw_pass.items():
            eff = sumw / total
            tally = flip.counts.domain.get(name)
            regions[name] = {"efficiency": eff, "change": eff - base[name],
                             "change_err": math.sqrt(flip.sumw2_changed[name]) / total,
                             "relative_change": eff / base[name] - 1.0 if base[name] > 0 else None,
                             "fraction_outside": float(tally[3] / tally[2]) if tally is not None and tally[2] > 0
                             else None}
        out.append({"kind": "analysis option", "name": flip.option, "value": _text(flip.value),
                    "default": _text(flip.default), "description": flip.doc, "regions": regions})
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
