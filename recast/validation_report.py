"""The validation report: one list of blocks (headings, text, tables, figures) rendered as Markdown
and as a standalone HTML page (figures embedded), the figures (matplotlib) and the summary JSON.
The numbers come from :mod:`recast.validate`.

:func:`render` makes every file in memory; :func:`save` writes them with :func:`recast.output.save`,
the summary (every number) and the page (every table and figure) first, so that a write failure
after hours of generation loses nothing: what cannot be written goes to a named fallback file."""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import output
from .validate import (DISAGREES, INCONCLUSIVE, STATUS_FILE, SUMMARY_SCHEMA, SUMMARY_VERSION, VALIDATED, Spec,
                       check_schema, score_cuts)

FIG_DPI = 80  # PNGs stay small in the repository


def _f(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def _ratio_cell(r: float | None, err: float | None) -> str:
    return "–" if r is None else f"{r:.2f} ± {_f(err, 2)}" if err is not None else f"{r:.2f}"


# -- figures -------------------------------------------------------------------------------------


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    """The figure as PNG bytes (closed): written by :func:`save`, embedded by :func:`to_html`."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIG_DPI)
    plt.close(fig)
    return buf.getvalue()


def cutflow_figure(point: str, cutflows: Mapping[str, dict[str, Any]], labels: Mapping[str, str]) -> bytes:
    """Ratio recast / ATLAS per cutflow row, one panel per region, with recast's MC error (and
    ATLAS' where known) as error bars; the peers' ratios as open markers."""
    plt = _plt()
    n = len(cutflows)
    cols = min(n, 3)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 4.3 * nrows + 0.6), squeeze=False, layout="constrained")
    handles = {}
    for ax, (sr, cf) in zip(axes.flat, cutflows.items()):
        rows = cf["rows"]
        x = list(range(len(rows)))
        r = [row["ratio"] if row["ratio"] is not None else float("nan") for row in rows]
        e = [row["ratio_err"] if row["ratio_err"] is not None else 0.0 for row in rows]
        handles["ATLAS"] = ax.axhline(1.0, color="black", lw=1)
        handles["±20 %"] = ax.axhspan(0.8, 1.2, color="0.9", zorder=0)
        handles["recast / ATLAS (MC error)"] = ax.errorbar(x, r, yerr=e, fmt="o-", color="tab:blue", capsize=3, ms=5)
        peers = sorted({k for row in rows for k in row["references"] if k != "atlas"})
        for k, marker in zip(peers, "sD^v"):
            pr = [row["references"][k] / row["references"]["atlas"]
                  if row["references"].get(k) is not None and row["references"].get("atlas") else float("nan")
                  for row in rows]
            handles[f"{labels.get(k, k)} / ATLAS"], = ax.plot(x, pr, marker, mfc="none", color="tab:orange", ms=6)
        for i, row in enumerate(rows):
            if not row["modelled"]:
                ax.axvspan(i - 0.4, i + 0.4, color="tab:red", alpha=0.08)
        ax.set_xticks(x)
        ax.set_xticklabels([row["label"][:30] for row in rows], rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("events after the cut: ratio to ATLAS")
        ax.set_title(sr, fontsize=10)
        finite = [v for v in r + [a - b for a, b in zip(r, e)] + [a + b for a, b in zip(r, e)] if math.isfinite(v)]
        ax.set_ylim(max(0.0, min(finite + [0.7]) - 0.05), min(3.0, max(finite + [1.3]) + 0.05))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(f"Cutflow, {point} (shaded columns: cuts recast does not model)", fontsize=11)
    return _png(fig)


def score_figure(point: str, histograms: Sequence[dict[str, Any]], cuts: Mapping[str, tuple[str, float]],
                 lumi: float) -> bytes | None:
    """The model score of each region after all its other cuts (recast's events at the luminosity),
    with the region's score cut."""
    hists = [h for h in histograms if h["name"].startswith("score ")]
    if not hists:
        return None
    plt = _plt()
    n = len(hists)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows), squeeze=False, layout="constrained")
    for ax, h in zip(axes.flat, hists):
        edges = h["edges"]
        vals = h.get("yield") or h.get("sumw")
        sr = h["name"].removeprefix("score ")
        ax.stairs(vals, edges, fill=True, alpha=0.5, color="tab:blue", label="recast")
        if sr in cuts:
            ax.axvline(cuts[sr][1], color="red", ls="--", lw=1.2, label=f"SR cut {cuts[sr][1]:g}")
            ax.legend(fontsize=6, loc="upper left")
        ax.set_title(sr, fontsize=9)
        ax.set_xlabel("model score")
        ax.set_ylabel(f"events / bin ({lumi:g} fb$^{{-1}}$)" if h.get("yield") else "MC weight / bin")
        ax.set_yscale("log" if max(vals or [0]) > 0 else "linear")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"Model scores after the other cuts of each region, {point}", fontsize=11)
    return _png(fig)


def map_figure(grid: str, rows: Sequence[dict[str, Any]], parent_label: str) -> bytes | None:
    """recast / ATLAS A x eff per region over the mass plane (colour: the ratio on a log scale,
    text: ratio and its error); points where ATLAS' A x eff is below the judging floor are hollow."""
    import numpy as np
    from matplotlib.colors import LogNorm

    regions = sorted({r["region"] for r in rows})
    if not regions:
        return None
    plt = _plt()
    cols = min(len(regions), 2)
    nrows = math.ceil(len(regions) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.6 * cols, 4.6 * nrows), squeeze=False, layout="constrained")
    norm = LogNorm(vmin=0.5, vmax=2.0)
    sc = None
    for ax, sr in zip(axes.flat, regions):
        pts = [r for r in rows if r["region"] == sr and r["ratio"] is not None]
        x = np.array([r["m_parent"] for r in pts])
        y = np.array([r["m_lsp"] for r in pts])
        ratio = np.clip(np.array([r["ratio"] for r in pts]), 0.5, 2.0)
        judged = np.array([r["judged"] for r in pts], bool)
        sc = ax.scatter(x[judged], y[judged], c=ratio[judged], cmap="RdBu_r", norm=norm, s=420, marker="s",
                        edgecolors="0.3")
        ax.scatter(x[~judged], y[~judged], s=420, marker="s", facecolors="none", edgecolors="0.5")
        unsure = np.array([r.get("status") == INCONCLUSIVE for r in pts], bool)
        ax.scatter(x[unsure], y[unsure], s=420, marker="s", facecolors="none", edgecolors="0.2", hatch="///")
        for r in pts:
            dark = r["judged"] and abs(math.log(max(min(r["ratio"], 2.0), 0.5))) > 0.35  # white on the deep colours
            ax.annotate(f"{r['ratio']:.2f}\n±{_f(r['ratio_err'], 1)}", (r["m_parent"], r["m_lsp"]),
                        ha="center", va="center", fontsize=6.5, color="white" if dark else "black")
        ax.set_title(sr, fontsize=10)
        ax.set_xlabel(f"$m({parent_label})$ [GeV]")
        ax.set_ylabel(r"$m(\tilde{\chi}^0_1)$ [GeV]")
        ax.margins(0.12)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(regions):]:
        ax.axis("off")
    if sc is not None:
        cbar = fig.colorbar(sc, ax=axes, shrink=0.8)
        cbar.set_label("A×ε recast / ATLAS")
    fig.suptitle(f"A×ε recast / ATLAS over the mass plane ({grid}); hollow: not judged (tiny or interpolated ATLAS "
                 f"A×ε); hatched: inconclusive (MC error above the tolerance)", fontsize=10)
    return _png(fig)


def acc_eff_figure(rows: Sequence[dict[str, Any]], labels: Mapping[str, str]) -> bytes | None:
    """A x eff ratio to ATLAS per (point, region) of the benchmark points, with the peers'."""
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(rows) + 2), 4.2), layout="constrained")
    x = range(len(rows))
    ax.axhline(1.0, color="black", lw=1, label="ATLAS")
    ax.axhspan(0.8, 1.2, color="0.92", zorder=0, label="±20 %")
    ax.errorbar(x, [r["ratio"] for r in rows], yerr=[r["ratio_err"] or 0 for r in rows], fmt="o", color="tab:blue",
                label="recast / ATLAS (MC error)")
    peers = sorted({k for r in rows for k in r["references"] if k != "atlas"})
    for k, marker in zip(peers, "sD^v"):
        ax.plot(x, [r["references"].get(k, float("nan")) / r["references"]["atlas"] for r in rows], marker,
                mfc="none", color="tab:orange", label=f"{labels.get(k, k)} / ATLAS")
    ax.set_xticks(list(x))
    ax.set_xticklabels([f"{r['point']} {r['region']}" for r in rows], rotation=70, ha="right", fontsize=7)
    ax.set_ylabel("A×ε ratio to ATLAS")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


# -- blocks, Markdown and HTML -----------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple:
    return ("table", list(header), [list(r) for r in rows])


def build_blocks(spec: Spec, runs: Mapping[str, dict[str, Any]], compared: Mapping[str, dict[str, Any]],
                 status: Mapping[str, Any], figures: Mapping[str, str], provenance: Mapping[str, Any]) -> list:
    """The report's blocks; ``figures`` maps a figure's key to its file name in the report directory."""
    ana = spec.analysis
    floor = spec.rule.min_reference
    labels = {k: v.get("label", k) for k, v in spec.references.items()}
    peers = [k for k in spec.references if k != "atlas"]
    b: list = [("h1", f"Validation of {ana.id}: ATLAS against recast"),
               ("p", f"{ana.title} (arXiv:{ana.arxiv}). Generated by `recast validate {ana.id}` on "
                     f"{provenance['created'][:10]} from `{spec.path.name}`. Nothing in the analysis is tuned to "
                     f"these numbers."),
               ("p", f"**Status: {status['label']}.** Rule: {status['rule_text']}.")]
    if spec.no_reference:
        b.append(("p", f"**Nothing to compare.** {spec.no_reference}"))
    for key, ref in spec.references.items():
        b.append(("p", f"*{ref.get('label', key)}*: {ref.get('source', '')}"))
    srs = status["regions"]
    if any(v["checks"] for v in srs.values()):
        b.append(("h2", "Status per signal region"))
        b.append(_table(["region", "status", "checks", "disagrees at", "inconclusive at"],
                        [[sr, v["status"], str(v["checks"]), "; ".join(v["failed"]) or "–",
                          "; ".join(v.get("inconclusive", [])) or "–"]
                         for sr, v in srs.items() if v["checks"]]))
    unchecked = [sr for sr, v in srs.items() if not v["checks"]]
    if unchecked:
        groups: dict[str, int] = {}
        for sr in ana.signal_regions:
            if sr.name in unchecked:
                groups[sr.group or sr.name] = groups.get(sr.group or sr.name, 0) + 1
        b.append(("p", f"Not validated, for want of a published reference: {len(unchecked)} region(s) ("
                       + ", ".join(f"{g}: {n}" for g, n in groups.items()) + ")."))
    failed = {n: r for n, r in runs.items() if r.get("error")}
    if failed:
        b.append(("h2", "Points that failed"))
        b.append(_table(["point", "error"], [[n, r["error"]] for n, r in failed.items()]))
    bench = [p for p in spec.points if p.grid is None and p.name in compared]
    acc_rows = [dict(r, point=p.name) for p in bench for r in compared[p.name]["acc_eff"]]
    if acc_rows:
        b.append(("h2", "A×ε of the final signal regions at the benchmark points"))
        b.append(_table(["point", "region", "ATLAS", "recast ± MC", "recast/ATLAS", "pull"]
                        + [labels[k] for k in peers] + ["verdict"],
                        [[r["point"], r["region"], _f(r["references"].get("atlas")),
                          f"{_f(r['recast'])} ± {_f(r['recast_err'], 2)}", _ratio_cell(r["ratio"], r["ratio_err"]),
                          _f(r["pull"], 2)] + [_f(r["references"].get(k)) for k in peers]
                         + [_verdict(r, floor)] for r in acc_rows]))
        if "acc_eff" in figures:
            b.append(("img", figures["acc_eff"], "A×ε ratio to ATLAS at the benchmark points"))
    for p in bench:
        comp, run = compared[p.name], runs[p.name]
        if not comp["cutflows"] and f"scores_{p.name}" not in figures:
            continue
        b.append(("h2", f"Point {p.name}"))
        b.append(("p", _point_text(p, run)))
        for sr, cf in comp["cutflows"].items():
            b.append(("h3", f"{sr} cutflow"))
            extra = f"; every column scaled so that row {cf['normalise_to']} equals ATLAS" \
                if cf["normalise_to"] is not None else ""
            b.append(("p", f"{cf['table']}. Unit: {cf['unit']}{extra}. Ratio error: recast MC statistics"
                           + (f", with ATLAS' ({cf['atlas_mc_events']} generated events)" if cf["atlas_mc_events"]
                              else "") + ". Every row gets the rule's verdict; "
                           + ("the last row decides the region's status." if cf["judged"] else
                              "none decides the region's status here.")))
            last = len(cf["rows"]) - 1
            b.append(_table(["row", "recast step", "ATLAS", "recast ± MC", "recast/ATLAS", "pull", "verdict"]
                            + [labels[k] for k in peers] + ["note"],
                            [[row["label"], row["step"] if row["modelled"] else "not modelled",
                              _f(row["references"].get("atlas")), f"{_f(row['recast'])} ± {_f(row['recast_err'], 2)}",
                              _ratio_cell(row["ratio"], row["ratio_err"]), _f(row["pull"], 2),
                              _row_verdict(row, i == cf["normalise_to"], i == last and cf["judged"])]
                             + [_f(row["references"].get(k)) for k in peers] + [row["note"] or ""]
                             for i, row in enumerate(cf["rows"])]))
        if f"cutflow_{p.name}" in figures:
            b.append(("img", figures[f"cutflow_{p.name}"], f"cutflow ratios at {p.name}"))
        if f"scores_{p.name}" in figures:
            b.append(("img", figures[f"scores_{p.name}"], f"model scores at {p.name}"))
    for g in spec.grids:
        pts = [p for p in spec.points if p.grid == g["name"] and p.name in compared]
        rows = [dict(r, point=p.name, m_parent=p.m_parent, m_lsp=p.m_lsp) for p in pts for r in compared[p.name]["acc_eff"]]
        b.append(("h2", f"A×ε map: {g['name']}"))
        b.append(("p", f"{g['model']} over m_parent {g['m_parent']} × m_lsp {g['m_lsp']}, {pts[0].nevents if pts else '–'} "
                       f"events per point; reference: `{g['acc_eff_map']['file']}`."))
        if f"map_{g['name']}" in figures:
            b.append(("img", figures[f"map_{g['name']}"], f"A×ε ratio map {g['name']}"))
        b.append(_table(["m_parent", "m_lsp", "region", "ATLAS", "recast ± MC", "recast/ATLAS", "pull", "verdict"],
                        [[_f(r["m_parent"], 4), _f(r["m_lsp"], 4), r["region"], _f(r["references"].get("atlas")),
                          f"{_f(r['recast'])} ± {_f(r['recast_err'], 2)}", _ratio_cell(r["ratio"], r["ratio_err"]),
                          _f(r["pull"], 2), _verdict(r, floor)]
                         for r in sorted(rows, key=lambda r: (r["region"], r["m_parent"], r["m_lsp"]))]))
    b.append(("h2", "Provenance"))
    b.append(_table(["item", "value"], [[k, v if isinstance(v, str) else json.dumps(v)]
                                        for k, v in provenance.items() if k != "points"]))
    b.append(_table(["point", "process", "events", "seed", "cross section [fb]", "options", "seconds"],
                    [[p["name"], p["process"], str(p["nevents"]), str(p["seed"]), _f(p["cross_section_fb"]),
                      json.dumps(p["options"]), _f(p["seconds"], 3)] for p in provenance["points"]]))
    return b


def _verdict(r: dict[str, Any], floor: float) -> str:
    """An A x eff row's verdict, or why it is not judged."""
    if r["judged"]:
        return r["status"] or "–"
    if r.get("interpolated"):
        return "interpolated"
    ref = r["references"].get("atlas")
    return "below floor" if ref is not None and ref < floor else "not judged"


def _row_verdict(row: dict[str, Any], normalisation: bool, deciding: bool) -> str:
    if normalisation:
        return "scaled to ATLAS"
    text = row["status"] or "–"
    return f"{text} (decides)" if deciding and row["status"] else text


def _point_text(p, run: dict[str, Any]) -> str:
    return _model_text(p, run) + ("" if p.judge else " **Not judged**: a study beside the default configuration, "
                                                       "not part of the status.")


def _model_text(p, run: dict[str, Any]) -> str:
    res = run.get("result") or {}
    xs = res.get("cross_section") or {}
    model = (f"{p.slha['simplified']} m_parent = {p.m_parent:g} GeV, m_LSP = {p.m_lsp:g} GeV" if p.slha.get("simplified")
             else f"SLHA {p.slha.get('path') or p.slha.get('artifact')}")
    text = (f"{model}; process {p.process}; {p.nevents} Pythia 8 events, seed {p.seed}; cross section "
            f"{_f(xs.get('value_fb'))} fb ({p.cross_section_source or xs.get('source', '')}).")
    if p.options:
        text += f" Options: {json.dumps(p.options)}."
    return text + (f" {p.note}" if p.note else "")


def to_markdown(blocks: list) -> str:
    out = []
    for blk in blocks:
        kind = blk[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + blk[1])
        elif kind == "p":
            out.append(blk[1])
        elif kind == "table":
            header, rows = blk[1], blk[2]
            cell = lambda s: str(s).replace("|", "\\|")  # noqa: E731
            out.append("| " + " | ".join(map(cell, header)) + " |\n|" + "---|" * len(header) + "\n"
                       + "\n".join("| " + " | ".join(map(cell, r)) + " |" for r in rows))
        elif kind == "img":
            out.append(f"![{blk[2]}]({blk[1]})")
        out.append("")
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.6em 0;font-size:0.85em}th,td{border:1px solid #ccc;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f0f0f0}td.num{text-align:right;white-space:nowrap}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}h2{border-bottom:1px solid #ddd;margin-top:1.6em}
td.bad{color:#b00;font-weight:bold}td.good{color:#070}td.unsure{color:#a60;font-weight:bold}
figcaption{font-size:0.85em;color:#555}"""

_NUMERIC = r"^[-+±–0-9.e ]+$"
_VERDICT_CLASS = {DISAGREES: "bad", VALIDATED: "good", INCONCLUSIVE: "unsure"}


def _cell_class(text: str) -> str:
    import re

    verdict = _VERDICT_CLASS.get(text.split(" (")[0])  # "validated", "disagrees (decides)", ...
    if verdict:
        return f" class='{verdict}'"
    return " class='num'" if re.match(_NUMERIC, text) else ""


def _inline(text: str) -> str:
    import re

    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"\*(.+?)\*", r"<em>\1</em>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def to_html(blocks: list, title: str, images: Mapping[str, bytes]) -> str:
    """A standalone page: ``images`` holds the PNG of each figure block, embedded as a data URI."""
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{_CSS}</style></head><body>"]
    for blk in blocks:
        kind = blk[0]
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{_inline(blk[1])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline(blk[1])}</p>")
        elif kind == "table":
            head = "".join(f"<th>{_inline(h)}</th>" for h in blk[1])
            body = "".join("<tr>" + "".join(f"<td{_cell_class(str(c))}>{_inline(str(c))}</td>" for c in r) + "</tr>"
                           for r in blk[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(images[blk[1]]).decode()
            out.append(f"<figure><img alt='{html.escape(blk[2])}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{html.escape(blk[2])}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def render(spec: Spec, runs: Mapping[str, dict[str, Any]], compared: Mapping[str, dict[str, Any]],
           status: Mapping[str, Any], provenance: Mapping[str, Any],
           status_doc: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    """Every file of the report, by its name in the report directory, in the order :func:`save`
    writes them: summary.json, report.html, the status document (validation.json, if given),
    report.md, the figures."""
    labels = {k: v.get("label", k) for k, v in spec.references.items()}
    images: dict[str, bytes] = {}
    figures: dict[str, str] = {}

    def add(key: str, png: bytes | None) -> None:
        if png:
            figures[key] = f"figures/{key}.png"
            images[figures[key]] = png

    bench = [p for p in spec.points if p.grid is None and p.name in compared]
    acc_rows = [dict(r, point=p.name) for p in bench for r in compared[p.name]["acc_eff"] if r["ratio"] is not None]
    if acc_rows:
        add("acc_eff", acc_eff_figure(acc_rows, labels))
    for p in bench:
        if compared[p.name]["cutflows"]:
            add(f"cutflow_{p.name}", cutflow_figure(p.name, compared[p.name]["cutflows"], labels))
        res = runs[p.name].get("result")
        if res:
            add(f"scores_{p.name}", score_figure(p.name, res.get("histograms", []), score_cuts(spec.analysis),
                                                 spec.analysis.luminosity_ifb))
    parent = {"gqq": r"\tilde{g}", "gtt": r"\tilde{g}", "gbb": r"\tilde{g}", "gtb": r"\tilde{g}", "sqq": r"\tilde{q}"}
    for g in spec.grids:
        rows = [dict(r, m_parent=p.m_parent, m_lsp=p.m_lsp) for p in spec.points
                if p.grid == g["name"] and p.name in compared for r in compared[p.name]["acc_eff"]]
        add(f"map_{g['name']}", map_figure(g["name"], rows, parent.get(g["model"], "parent")))
    blocks = build_blocks(spec, runs, compared, status, figures, provenance)
    summary = {"schema": SUMMARY_SCHEMA, "schema_version": SUMMARY_VERSION, "analysis": spec.analysis.id,
               "created": provenance["created"], "status": status, "provenance": provenance,
               "points": {name: {"error": runs[name].get("error"), **compared.get(name, {})} for name in runs}}
    summary = json_safe(summary)
    check_schema(summary, "validation", "summary.json")
    files = {"summary.json": (json.dumps(summary, indent=1) + "\n").encode(),
             "report.html": to_html(blocks, f"Validation of {spec.analysis.id}", images).encode()}
    if status_doc is not None:
        files[STATUS_FILE] = (json.dumps(status_doc, indent=1) + "\n").encode()
    files["report.md"] = to_markdown(blocks).encode()
    return {**files, **images}


def save(out_dir: Path, files: Mapping[str, bytes]) -> dict[str, Path]:
    """Write :func:`render`'s files into ``out_dir`` (prepared with ``output.prepare_dir``), each
    with ``output.save``: whatever cannot be written goes to a fallback file, and one
    :class:`~recast.output.OutputError` names the failure and where the summary (every number)
    and the page (every table and figure) went."""
    out_dir = Path(out_dir)
    for old in (out_dir / "figures").glob("*.png"):  # an earlier report's figures are not this one's
        if f"figures/{old.name}" not in files:
            with contextlib.suppress(OSError):
                old.unlink()
    written: dict[str, Path] = {}
    unsaved: list[tuple[str, output.OutputError]] = []
    for name, data in files.items():
        try:
            written[name] = output.save(out_dir / name, data, _WHAT.get(name, f"report file {name}"))
        except output.OutputError as exc:
            unsaved.append((name, exc))
    if unsaved:
        (first_name, first), rest = unsaved[0], unsaved[1:]
        parts = [str(first)]
        page = dict(rest).get("report.html")
        if page is not None and page.saved_to is not None:
            parts.append(f"the page (report.html) was saved to {page.saved_to}")
        kept = [name for name, exc in rest if exc.saved_to is not None]
        if kept:
            parts.append(f"{len(kept)} more report file(s) were saved beside it")
        lost = [name for name, exc in unsaved if exc.saved_to is None]
        if lost:
            parts.append(f"not saved anywhere: {', '.join(lost)}")
        raise output.OutputError("; ".join(parts), first.saved_to)
    return written


_WHAT = {"summary.json": "validation summary (every number of the report)",
         "report.html": "report page (every table and figure)", STATUS_FILE: "validation status"}


def json_safe(obj):
    """NaN and infinities (a ratio to zero) become null: JSON has no form for them."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
