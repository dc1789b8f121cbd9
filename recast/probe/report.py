"""The probe's outputs: the versioned JSON (``recast/schemas/probe-1.schema.json``) and a
standalone page with its figures (input distributions with the training domain shaded,
importance bars, the perturbation band), rendered from the JSON alone, with the validation
report's page machinery (:func:`recast.validation.report.to_html`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import output, schemas
from ..results import encode, software_versions, timestamp
from ..validation.figures import FigureSet, _panels, _plt, _png, number
from ..validation.report import json_safe, to_html, to_markdown
from . import SCHEMA, SCHEMA_VERSION

#: Inputs in a model's importance figure and table.
BARS_SHOWN = 15


def document(result: Mapping[str, Any], source: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The probe document of :func:`recast.probe.probe`'s result and the events' ``source``
    (:func:`recast.pipeline.input_record`), checked against its schema."""
    doc = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "created": timestamp(),
           "software": software_versions(), "input": dict(source) if source is not None else None, **result}
    doc = _rounded(json_safe(doc))
    schemas.validate(doc, "probe", "probe document", accept=(SCHEMA_VERSION,))
    return doc


#: Significant digits of the numbers in a probe document: MC statistics make the fourth uncertain.
DIGITS = 7


def _rounded(obj):
    if isinstance(obj, float):
        return float(f"{obj:.{DIGITS}g}")
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def read(path: Path) -> dict[str, Any]:
    """A probe document from its file (``recast limit --ml-unc``), schema-checked."""
    import json

    from ..errors import RecastError, read_text

    text = read_text(path, RecastError, "probe file")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise RecastError(f"{path}: not a JSON file ({exc})") from None
    schemas.validate(doc, "probe", path)
    return doc


def ml_bands(probe_doc: Mapping[str, Any], result: Mapping[str, Any],
             where: str | Path) -> dict[str, tuple[float, float]]:
    """The ML-selection robustness band of every region of a probe document, region -> relative
    (up, down), for the limits of ``result`` (a result or yields document): the probe must be of
    the same analysis and, for a result, made with its options and detector card."""
    from ..errors import RecastError

    ana = result["analysis"]["id"]
    if probe_doc["analysis"]["id"] != ana:
        raise RecastError(f"{where}: a probe of {probe_doc['analysis']['id']}, the result is of {ana}")
    options = result["analysis"].get("options")
    if options is not None:
        probed = probe_doc["analysis"]["options"]
        differ = [k for k in sorted(set(options) | set(probed)) if options.get(k) != probed.get(k)]
        if differ:
            k = differ[0]
            raise RecastError(f"{where}: probed with {k}={probed.get(k)!r}, the result has {k}={options.get(k)!r}: "
                              f"rerun 'recast probe' with the result's options")
    card = (result.get("detector") or {}).get("sha256")
    if card is not None and card != probe_doc["detector"]["sha256"]:
        raise RecastError(f"{where}: probed with detector card {probe_doc['detector']['name']}, the result used "
                          f"{result['detector']['name']}")
    return {region: (band["up"], band["down"]) for region, band in probe_doc["ml_uncertainty"].items()
            if band["up"] is not None and band["down"] is not None}


# -- figures --------------------------------------------------------------------------------------


def domain_figure(model: Mapping[str, Any]) -> bytes | None:
    """The distributions the document keeps (the inputs most often outside the domain, then the
    most important), the training domain shaded green."""
    ranks = {r["name"]: r["mean_abs_score_change"] for r in model["importance"]}
    rows = sorted((r for r in model["domain"]["inputs"] if r["histogram"] is not None),
                  key=lambda r: (-r["fraction_outside"], -ranks.get(r["name"], 0.0)))
    if not rows:
        return None
    fig, axes = _panels(len(rows), 4, 3.0, 2.3, extra_height=0.4)
    for ax, r in zip(axes.flat, rows):
        h = r["histogram"]
        edges = np.asarray(h["edges"])
        ax.stairs(h["sumw"], edges, fill=True, color="tab:blue", alpha=0.6)
        for fold, d in (r["domain"] or {}).items():
            if d["kind"] == "values":
                for v in d["values"]:
                    ax.axvline(v, color="tab:green", lw=2, alpha=0.6)
                continue
            lo, hi = (d["low"], d["high"]) if d["kind"] == "interval" else \
                (d["mean"] - d["sigmas"] * d["width"], d["mean"] + d["sigmas"] * d["width"])
            lo = edges[0] if lo is None else max(lo, edges[0])
            hi = edges[-1] if hi is None else min(hi, edges[-1])
            ax.axvspan(lo, hi, color="tab:green", alpha=0.12 if fold == "all" else 0.08)
        unit = f" [{r['unit']}]" if r["unit"] else ""
        ax.set_title(f"{r['name']}: {100 * r['fraction_outside']:.1f} % outside", fontsize=8,
                     color="tab:red" if r["fraction_outside"] > 0 else "black")
        ax.set_xlabel(r["name"] + unit, fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle(f"{model['score']} ({model['card']}): inputs of its {model['n_events']} events; green: training "
                 f"domain", fontsize=9)
    return _png(fig)


def importance_figure(model: Mapping[str, Any]) -> bytes | None:
    """Permutation importance (mean |score change|) of the leading inputs, and for a network their
    mean |gradient|."""
    rows = sorted(model["importance"], key=lambda r: -r["mean_abs_score_change"])[:BARS_SHOWN]
    if not rows or rows[0]["mean_abs_score_change"] == 0:
        return None
    gradient = model["kind"] == "network"
    plt = _plt()
    fig, axes = plt.subplots(1, 2 if gradient else 1, figsize=(9.0 if gradient else 5.0, 0.28 * len(rows) + 1.3),
                             layout="constrained", squeeze=False)
    names = [r["name"] for r in rows][::-1]
    axes[0, 0].barh(names, [r["mean_abs_score_change"] for r in rows][::-1], color="tab:blue")
    axes[0, 0].set_xlabel("mean |score change| when the input is permuted", fontsize=8)
    if gradient:
        axes[0, 1].barh(names, [r["mean_abs_gradient"] or 0.0 for r in rows][::-1], color="tab:orange")
        axes[0, 1].set_xlabel("mean |d score / d input| (network units)", fontsize=8)
    for ax in axes.flat:
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"{model['score']} ({model['card']}): feature importance", fontsize=9)
    return _png(fig)


def band_figure(regions: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Each ML region's efficiency (MC error) and the band of the worst-case input shifts; beside
    it the band relative to the nominal efficiency (and the relative MC error, for scale)."""
    if not regions:
        return None
    plt = _plt()
    fig, (ax, rel) = plt.subplots(1, 2, figsize=(max(7.0, 1.0 * len(regions) + 3), 3.8), layout="constrained")
    x = np.arange(len(regions))
    eff = np.array([r["efficiency"] for r in regions])
    up = np.array([r["band"]["efficiency_up"] for r in regions])
    down = np.array([r["band"]["efficiency_down"] for r in regions])
    ax.bar(x, up - down, bottom=down, width=0.5, color="tab:orange", alpha=0.4,
           label="worst-case input shifts (detector-card budget)")
    ax.errorbar(x, eff, yerr=[r["efficiency_err"] for r in regions], fmt="o", color="black", capsize=3,
                label="nominal (MC error)")
    ax.set_ylabel("A×ε")
    positive = eff[eff > 0]
    if positive.size and positive.max() / positive.min() > 30:
        ax.set_yscale("log")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_up = np.where(eff > 0, 100 * (up / eff - 1), np.nan)
        rel_down = np.where(eff > 0, 100 * (down / eff - 1), np.nan)
        mc = np.where(eff > 0, 100 * np.array([r["efficiency_err"] for r in regions]) / eff, np.nan)
    rel.bar(x, rel_up, width=0.5, color="tab:orange", alpha=0.6, label="band up")
    rel.bar(x, rel_down, width=0.5, color="tab:blue", alpha=0.6, label="band down")
    rel.plot(x, mc, "_", color="black", ms=14, label="± MC error")
    rel.plot(x, -mc, "_", color="black", ms=14)
    rel.axhline(0, color="black", lw=0.8)
    rel.set_ylabel("relative to the nominal A×ε [%]")
    for a in (ax, rel):
        a.set_xticks(x)
        a.set_xticklabels([r["name"] for r in regions], rotation=45, ha="right", fontsize=8)
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.suptitle("ML regions: A×ε and the band of the worst-case input shifts", fontsize=10)
    return _png(fig)


# -- the page -------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{100 * x:+.1f} %"


def _share(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _domain_text(domain: Mapping[str, Any] | None) -> str:
    if not domain:
        return "–"
    parts = []
    for fold, d in domain.items():
        if d["kind"] == "values":
            text = "{" + ", ".join(f"{v:g}" for v in d["values"]) + "}"
        elif d["kind"] == "moments":
            text = f"{number(d['mean'])} ± {d['sigmas']:g}×{number(d['width'])}"
        else:
            text = f"[{number(d['low'])}, {number(d['high'])}]"
        parts.append(text if fold == "all" else f"{fold} {text}")
    return "; ".join(parts)


def build_blocks(doc: Mapping[str, Any], figures: Mapping[str, str]) -> list:
    ana = doc["analysis"]
    det = doc["detector"]
    regions = doc["regions"]
    b: list = [("h1", f"ML robustness probe of {ana['id']}"),
               ("p", f"{ana['title']}. `recast probe` on {doc['events']['n']} events "
                     f"({_input_text(doc.get('input'))}), detector card **{det['name']}**, created "
                     f"{doc['created'][:10]}. Options: `{_options_text(ana['options'])}`."),
               ("p", "Every number is computed on the events that reach each model, with the analysis' own options: "
                     "the share of them outside the training domain the model card records; which inputs drive the "
                     "score (permutation importance; for networks the mean absolute gradient); how each ML region's "
                     "A×ε moves when a disputed convention is flipped; and the band the worst-case shifts of the "
                     "kinematic inputs within the detector card's budget give it (FGSM then PGD, every event pushed "
                     "against the selection: a bound, not a Gaussian error), which `recast limit --ml-unc` adds to "
                     "the signal uncertainty.")]
    b.append(("h2", "ML regions"))
    b.append(("table", ["region", "model", "score cut", "A×ε ± MC", "events", "outside domain", "band down",
                        "band up"],
              [[r["name"], r["card"], f"{r['op']} {r['threshold']:g}",
                f"{number(r['efficiency'])} ± {number(r['efficiency_err'], 2)}", str(r["n_events"]),
                _share(r["fraction_outside"]), _pct(r["band"]["relative_down"]), _pct(r["band"]["relative_up"])]
               for r in regions]))
    b.append(("p", "*outside domain*: share of the region's events before its score cut with at least one input "
                   "outside the training domain; *band*: A×ε with every event's score at its lowest / highest "
                   "within the budgets, relative to the nominal."))
    if "band" in figures:
        b.append(("img", figures["band"], "A×ε of the ML regions and the worst-case band"))
    flips = doc["conventions"]["flips"]
    if flips:
        names = [r["name"] for r in regions]
        b.append(("h2", "Convention sensitivity"))
        b.append(("p", "Each disputed convention flipped on the same events: A×ε change (paired MC error) per "
                       "region (0: not one event moved); in brackets the share of the region's events outside the "
                       "training domain with that convention, when there are any. Analysis options rerun the whole "
                       "selection; model-card conventions refeed the models."))
        b.append(("table", ["convention", "value", "kind"] + names,
                  [[f["name"], f["value"], f["kind"]] + [_flip_cell(f["regions"].get(n)) for n in names]
                   for f in flips]))
        b.append(("table", ["convention", "value", "description"],
                  [[f["name"], f["value"], f["description"]] for f in flips]))
    if doc["conventions"]["not_flipped"]:
        b.append(("p", "Not flipped: " + "; ".join(f"`{r['name']}` ({r['reason']})"
                                                    for r in doc["conventions"]["not_flipped"]) + "."))
    for m in doc["models"]:
        b.append(("h2", f"{m['score']}: model {m['card']} ({m['kind']})"))
        dom = m["domain"]
        b.append(("p", f"{m['n_events']} events reach it; regions {', '.join(m['regions'])}. "
                       f"**{_share(dom['fraction_outside'])}** of them have an input outside the training domain. "
                       f"Domain source: {dom['source']}"))
        for note in m["notes"]:
            b.append(("p", f"Note: {note}"))
        if f"domain_{m['score']}" in figures:
            b.append(("img", figures[f"domain_{m['score']}"], f"inputs of {m['score']} against the training domain"))
        outside = [r for r in dom["inputs"] if r["n_outside"] > 0]
        if outside:
            b.append(("table", ["input", "training domain", "outside", "observed min", "observed max"],
                      [[r["name"], _domain_text(r["domain"]), _share(r["fraction_outside"]), number(r["min"]),
                        number(r["max"])] for r in sorted(outside, key=lambda r: -r["fraction_outside"])]))
        ranks = sorted(m["importance"], key=lambda r: -r["mean_abs_score_change"])[:BARS_SHOWN]
        b.append(("table", ["input", "mean |Δscore|", "Δ mean score", "mean |∂score|"]
                  + [f"ΔA×ε {n}" for n in m["regions"]],
                  [[r["name"], number(r["mean_abs_score_change"]), number(r["mean_score_change"]),
                    number(r["mean_abs_gradient"])]
                   + [f"{number(r['regions'][n]['efficiency_change'])} ± "
                      f"{number(r['regions'][n]['efficiency_change_sd'], 2)}" for n in m["regions"]] for r in ranks]))
        if f"importance_{m['score']}" in figures:
            b.append(("img", figures[f"importance_{m['score']}"], f"feature importance of {m['score']}"))
        if m["budgets"]:
            b.append(("table", ["moving input", "budget", "mean shift", "mean relative shift"],
                      [[r["name"], r["kind"], number(r["mean_budget"]), _share(r["mean_relative_budget"])]
                       for r in m["budgets"] if r["mean_budget"] > 0]))
    b.append(("h2", "Settings"))
    s = doc["settings"]
    b.append(("table", ["item", "value"],
              [["models", ", ".join(s["models"]) if s["models"] else "all"], ["permutation repeats", str(s["repeats"])],
               ["PGD steps", str(s["steps"])], ["gradient step", f"{s['gradient_step']:g}"],
               ["seed", str(doc["seed"])], ["recast", doc["software"].get("recast", "?")]]))
    return b


def _flip_cell(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "–"
    outside = row.get("fraction_outside")
    if row["change"] == 0 and row["change_err"] == 0:  # not one event moved
        return "0" + (f" [{100 * outside:.1f} % out]" if outside else "")
    text = f"{row['change']:+.3g} ± {number(row['change_err'], 2)}"
    if row.get("relative_change") is not None:
        text += f" ({100 * row['relative_change']:+.0f} %)"
    if outside:
        text += f" [{100 * outside:.1f} % out]"
    return text


def _options_text(options: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items())


def _input_text(source: Mapping[str, Any] | None) -> str:
    if not source:
        return "events in memory"
    if source.get("kind") == "hepmc":
        return f"HepMC file {Path(source['path']).name}"
    gen = source.get("generator") or {}
    return f"Pythia 8, {Path(gen['slha']).name if gen.get('slha') else 'LHE'}, seed {gen.get('seed')}"


def render(doc: Mapping[str, Any]) -> dict[str, bytes]:
    """Every file of the probe's output directory, by name: probe.json, report.html (figures
    embedded), report.md and the figures."""
    page = FigureSet()
    add, figures, images = page.add, page.names, page.images
    add("band", band_figure(doc["regions"]))
    for m in doc["models"]:
        add(f"domain_{m['score']}", domain_figure(m))
        add(f"importance_{m['score']}", importance_figure(m))
    blocks = build_blocks(doc, figures)
    title = f"ML robustness probe of {doc['analysis']['id']}"
    return {"probe.json": encode(doc), "report.html": to_html(blocks, title, images).encode(),
            "report.md": to_markdown(blocks).encode(), **images}


def save(out_dir: Path, files: Mapping[str, bytes]) -> dict[str, Path]:
    """Write :func:`render`'s files into ``out_dir`` (prepared with ``output.prepare_dir``), the
    JSON first; an earlier probe's figures that this one lacks are removed."""
    out_dir = Path(out_dir)
    for old in (out_dir / "figures").glob("*.png"):
        if f"figures/{old.name}" not in files:
            old.unlink(missing_ok=True)
    return {name: output.save(out_dir / name, data, f"probe file {name}") for name, data in files.items()}
