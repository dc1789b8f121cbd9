"""How far a preserved ML selection can be trusted on recast's events (``recast probe``).

For every model an analysis evaluates, on the events that reach it (one pass over the events,
:mod:`.collect`):

=================  =============================================================================
``domain``         each input against the training domain the model card records; the share of
                   events with any input outside (:mod:`.domain`)
``importance``     permutation importance on each region's efficiency and on the mean score;
                   for networks the mean absolute gradient (:mod:`.importance`)
``conventions``    each disputed convention flipped (analysis options, the card's own
                   ``disputed`` list): the change of every ML region's efficiency (:mod:`.conventions`)
``perturb``        worst-case shifts of the kinematic inputs within the detector card's budget:
                   the band on every ML region's efficiency, the ML-selection robustness
                   uncertainty that ``recast limit --ml-unc`` adds to the signal (:mod:`.perturb`)
``report``         the versioned JSON (``recast/schemas/probe-1.schema.json``) and a standalone
                   page with the figures (:mod:`.report`)
=================  =============================================================================

:func:`probe` does it all from chunks of built objects; ``recast probe`` feeds it events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .. import detector, engine
from ..analysis import Analysis
from ..errors import AnalysisError, ModelError
from ..objects import Objects
from . import collect, conventions, domain, importance, perturb

SCHEMA = "recast-probe"
SCHEMA_VERSION = 1
DEFAULT_REPEATS = 3

__all__ = ["DEFAULT_REPEATS", "SCHEMA", "SCHEMA_VERSION", "prepare", "probe"]


def prepare(analysis: Analysis, options: Mapping[str, Any], only: Sequence[str] | None = None,
            conventions_too: bool = True) -> tuple[engine.Models, list[collect.Flip], dict[str, str]]:
    """Everything before the first event: the models to probe (all, or the cards ``only``), each
    checked for a training domain, and the option flips. One-line errors for an analysis without
    models, an unknown or unavailable model, a card without a domain."""
    uses = analysis.model_uses(options)
    if not uses:
        raise AnalysisError(f"{analysis.id} uses no machine-learned model (with these options): nothing to probe")
    cards = list(dict.fromkeys(u.card for u in uses))
    unknown = sorted(set(only or ()) - set(cards))
    if unknown:
        raise AnalysisError(f"{analysis.id} has no model {', '.join(unknown)} (its models: {', '.join(cards)})")
    full = engine.prepare_models(analysis, options)
    wanted = {u.score for u in uses if only is None or u.card in only}
    for score, reason in full.unavailable.items():
        if score in wanted:
            raise ModelError(f"{analysis.id}: cannot probe {score}: {reason}")
    loaded = {use.card: model for use, model in full.loaded}
    for card in (only or cards):
        domain.require_domain(loaded[card].card)
    models = collect.select_models(analysis, options, loaded, only)
    flips, skipped = collect.prepare_flips(analysis, options, loaded, only) if conventions_too else ([], {})
    return models, flips, skipped


def probe(analysis: Analysis, options: Mapping[str, Any], chunks: Iterable[Objects], *,
          only: Sequence[str] | None = None, repeats: int = DEFAULT_REPEATS, steps: int = perturb.DEFAULT_STEPS,
          seed: int = 0, conventions_too: bool = True, prepared=None,
          on_chunk: Callable[[int], None] | None = None,
          on_model: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Probe every model of ``analysis`` (or the cards ``only``) on ``chunks`` of built objects
    (:func:`recast.detector.build` with the options' card); the probe document without its
    ``input`` block (:func:`recast.probe.report.document` completes it). ``prepared``: what
    :func:`prepare` returned, when the caller checked before reading events; ``on_chunk(n)`` after
    every chunk, ``on_model(score)`` before each model use is probed."""
    options = analysis.resolve_options(options)
    models, flips, skipped = prepared or prepare(analysis, options, only, conventions_too)
    got = collect.collect(analysis, options, chunks, models, flips, skipped, on_chunk)
    card = detector.load(detector.object_config(analysis, options).detector)
    total = got.sumw
    regions_out, models_out, card_flips = [], [], []
    uncertainty = {}
    for sample in got.samples:
        if on_model is not None:
            on_model(sample.use.score)
        base = {t.name: got.counts.efficiency(got.counts.final(t.name))[0] for t in sample.regions}
        eps, notes = perturb.budgets(sample, card)
        bands = perturb.band(sample, eps, total, steps)
        network = sample.card.format == "onnx"
        gradient = importance.mean_abs_gradient(sample) if network and len(sample.raw) else None
        ranks = importance.permutation(sample, repeats, seed, total)
        for k, row in enumerate(ranks):
            row["mean_abs_gradient"] = float(gradient[k]) if gradient is not None else None
        dom = domain.summary(sample)
        domain.keep_histograms(dom, ranks)
        models_out.append({
            "score": sample.use.score, "card": sample.card.id,
            "card_path": str(sample.card.path) if sample.card.path else None,
            "kind": "network" if network else "boosted decision trees", "format": sample.card.format,
            "n_events": int(len(sample.weight)), "sumw": float(sample.weight.sum()),
            "regions": [t.name for t in sample.regions], "domain": dom, "importance": ranks,
            "budgets": perturb.budget_summary(sample, eps), "notes": notes,
        })
        for t in sample.regions:
            eff, err = got.counts.efficiency(got.counts.final(t.name))
            b = bands[t.name]
            regions_out.append({
                "name": t.name, "score": sample.use.score, "card": sample.card.id, "op": t.cut.op,
                "threshold": t.cut.threshold, "efficiency": eff, "efficiency_err": err,
                "n_events": int(got.counts.final(t.name).n), "n_before_score_cut": int(t.rest.sum()),
                "fraction_outside": dom["regions"][t.name]["fraction_outside"], "band": b,
            })
            uncertainty[t.name] = {"up": b["relative_up"], "down": b["relative_down"]}
        card_flips += conventions.card_flips(sample, base, total)
    card_flips = conventions.merged(card_flips)
    base_all = {r["name"]: r["efficiency"] for r in regions_out}
    return {
        "analysis": {"id": analysis.id, "title": analysis.title, "options": options},
        "detector": card.describe(),
        "seed": seed,
        "settings": {"models": list(only) if only else None, "repeats": repeats, "steps": steps,
                     "gradient_step": importance.GRADIENT_STEP, "domain_warning_fraction": domain.WARNING_FRACTION},
        "events": {"n": got.n_events, "sumw": got.sumw},
        "models": models_out,
        "regions": regions_out,
        "conventions": {"flips": conventions.option_flips(got, base_all) + card_flips,
                        "not_flipped": [{"name": k, "reason": v} for k, v in got.not_flipped.items()]},
        "ml_uncertainty": uncertainty,
    }
