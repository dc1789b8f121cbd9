"""Training domain: where the events that reach a model lie against what its card says the
training saw (``training_domain`` and each input's ``domain``, :class:`recast.models.card.InputDomain`).

A value is outside when it leaves an interval, is not one of a set of values, or lies more than
``sigmas`` widths from the training mean; an absent object takes the card's padding and is never
outside. Fractions are of the sum of weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ModelError

#: ``recast run`` warns when more than this fraction of a region's events (before its score cut)
#: has an input outside the training domain: beyond one event in twenty, the region's efficiency
#: rests on the model's extrapolation, not on what it learnt.
WARNING_FRACTION = 0.05
HISTOGRAM_BINS = 30
#: Inputs whose distribution the document keeps, per model use (the page draws them): those most
#: often outside the domain, then the most important.
INPUTS_DRAWN = 12


def require_domain(card) -> None:
    """A one-line :class:`~recast.errors.ModelError` for a card that states no training domain."""
    if not card.has_domain:
        raise ModelError(f"{card.path or card.id}: model card {card.id} states no training domain (no input has a "
                         f"'domain'): add them with training_domain.source (docs/guide.md, 'Probing the ML "
                         f"selections'), or probe another model with --model")


def _fraction(mask: np.ndarray, weight: np.ndarray) -> float:
    total = float(weight.sum())
    return float(weight[mask].sum()) / total if total > 0 else 0.0


def _domain_of(card, k: int) -> dict[str, Any] | None:
    domains = card.inputs[k].domain
    if not domains:
        return None
    return {fold: d.to_dict() for fold, d in domains.items()}


def _histogram(x: np.ndarray, weight: np.ndarray, domains) -> dict[str, Any] | None:
    """The weighted distribution of the present values on a range that shows the domain too."""
    present = ~np.isnan(x)
    if not present.any():
        return None
    lo, hi = float(np.min(x[present])), float(np.max(x[present]))
    for d in (domains or {}).values():
        a, b = d.bounds()
        lo = min(lo, a) if np.isfinite(a) else lo
        hi = max(hi, b) if np.isfinite(b) else hi
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(x[present], bins=HISTOGRAM_BINS, range=(lo, hi), weights=weight[present])
    return {"edges": edges.tolist(), "sumw": counts.tolist()}


def summary(sample) -> dict[str, Any]:
    """The training-domain block of one model use: per input, the share of its events outside (and
    the distribution, for the page); the share of events with any input outside, over all events
    that reach the model and over each region's events before the score cut."""
    card = sample.card
    outside = card.outside(sample.raw, sample.folds)
    any_outside = outside.any(axis=1)
    w = sample.weight
    inputs = []
    for k, spec in enumerate(card.inputs):
        x = sample.raw[:, k]
        present = ~np.isnan(x)
        inputs.append({
            "name": spec.name, "unit": spec.unit, "domain": _domain_of(card, k),
            "n_present": int(present.sum()), "n_outside": int(outside[:, k].sum()),
            "fraction_outside": _fraction(outside[:, k], w),
            "min": float(np.min(x[present])) if present.any() else None,
            "max": float(np.max(x[present])) if present.any() else None,
            "histogram": _histogram(x, w, spec.domain),
        })
    return {
        "source": card.domain_source, "n_events": int(len(w)), "n_outside": int(any_outside.sum()),
        "fraction_outside": _fraction(any_outside, w),
        "regions": {r.name: {"n_events": int(r.rest.sum()), "n_outside": int((r.rest & any_outside).sum()),
                             "fraction_outside": _fraction(any_outside[r.rest], w[r.rest])}
                    for r in sample.regions},
        "inputs": inputs,
    }


def keep_histograms(block: dict[str, Any], importance: list[dict[str, Any]], n: int = INPUTS_DRAWN) -> None:
    """Drop the distributions of all but ``n`` inputs of a :func:`summary` block: those most often
    outside the domain, then the most important (permutation importance on the score)."""
    rank = {r["name"]: r["mean_abs_score_change"] for r in importance}
    rows = sorted((r for r in block["inputs"] if r["histogram"] is not None),
                  key=lambda r: (-r["fraction_outside"], -rank.get(r["name"], 0.0)))
    kept = {r["name"] for r in rows[:n]}
    for r in block["inputs"]:
        if r["name"] not in kept:
            r["histogram"] = None


def warning(domain: Mapping[str, np.ndarray], threshold: float = WARNING_FRACTION) -> str | None:
    """One line naming the regions of a run (``Counts.domain``) in which more than ``threshold`` of
    the events before the score cut have an input outside the model's training domain, or None."""
    parts = []
    for region, (n, n_out, sumw, sumw_out) in domain.items():
        if n > 0 and sumw > 0 and sumw_out / sumw > threshold:
            parts.append(f"{region} {100 * sumw_out / sumw:.0f} % of {int(n)}")
    if not parts:
        return None
    return ("events outside the models' training domain (share of each region's events before its score cut): "
            + ", ".join(parts) + "; 'recast probe' shows which inputs")
