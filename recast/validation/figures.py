"""The report's figures (matplotlib, PNG bytes): cutflow ratios, model scores, A x eff ratios at
the benchmark points and over a mass plane; :func:`number`, the number format they share with the
report's tables, and :func:`table`, a table block of the report."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .rule import INCONCLUSIVE

FIG_DPI = 80  # PNGs stay small in the repository
OTHER_CARD_COLOURS = ("tab:green", "tab:purple", "tab:brown")  # detector cards shown beside the points' own


def card_label(card: str) -> str:
    """A detector card in a legend or a column heading: a shipped card's name, a file's stem."""
    return card.rsplit("/", 1)[-1].removesuffix(".yaml")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple:
    """A table block of the report (:mod:`recast.validation.report`): its header and rows of cells."""
    return ("table", list(header), [list(r) for r in rows])


def number(x: float | None, digits: int = 3) -> str:
    """A number as the report shows it: ``digits`` significant digits, "–" for none or not finite."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


class FigureSet:
    """The figures of a page: ``add(key, png)`` keeps a PNG (None is skipped) under
    ``figures/<key>.png``; ``names`` maps each key to that file name (the page's image blocks),
    ``images`` each file name to its bytes (embedded in the HTML, written beside it)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.images: dict[str, bytes] = {}

    def add(self, key: str, png: bytes | None) -> None:
        if png:
            self.names[key] = f"figures/{key}.png"
            self.images[self.names[key]] = png


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


def _panels(n: int, max_cols: int, width: float, height: float, extra_height: float = 0.0):
    """A figure of ``n`` panels, at most ``max_cols`` a row, each ``width`` x ``height`` inches (plus
    ``extra_height`` for the whole): (figure, axes array); the panels past ``n`` are blanked."""
    plt = _plt()
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + extra_height), squeeze=False,
                             layout="constrained")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, axes


def cutflow_figure(point: str, cutflows: Mapping[str, dict[str, Any]], labels: Mapping[str, str]) -> bytes:
    """Ratio recast / ATLAS per cutflow row, one panel per region, with recast's MC error (and
    ATLAS' where known) as error bars; the peers' ratios as open markers."""
    n = len(cutflows)
    fig, axes = _panels(n, 3, 4.6, 4.3, extra_height=0.6)
    handles = {}
    for ax, (sr, cf) in zip(axes.flat, cutflows.items()):
        rows = cf["rows"]
        x = list(range(len(rows)))
        r = [row["ratio"] if row["ratio"] is not None else float("nan") for row in rows]
        e = [row["ratio_err"] if row["ratio_err"] is not None else 0.0 for row in rows]
        handles["ATLAS"] = ax.axhline(1.0, color="black", lw=1)
        handles["±20 %"] = ax.axhspan(0.8, 1.2, color="0.9", zorder=0)
        handles["recast / ATLAS (MC error)"] = ax.errorbar(x, r, yerr=e, fmt="o-", color="tab:blue", capsize=3, ms=5)
        for card, colour in zip(sorted({c for row in rows for c in row.get("others", {})}), OTHER_CARD_COLOURS):
            other = [row["others"][card][0] if row["others"].get(card, (None,))[0] is not None else float("nan")
                     for row in rows]
            handles[f"recast with {card_label(card)} / ATLAS"], = ax.plot(x, other, "x--", color=colour, ms=6, lw=0.8)
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
    fig, axes = _panels(len(hists), 4, 3.4, 2.9)
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
    fig, axes = _panels(len(regions), 2, 5.6, 4.6)
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
            ax.annotate(f"{r['ratio']:.2f}\n±{number(r['ratio_err'], 1)}", (r["m_parent"], r["m_lsp"]),
                        ha="center", va="center", fontsize=6.5, color="white" if dark else "black")
        ax.set_title(sr, fontsize=10)
        ax.set_xlabel(f"$m({parent_label})$ [GeV]")
        ax.set_ylabel(r"$m(\tilde{\chi}^0_1)$ [GeV]")
        ax.margins(0.12)
        ax.grid(alpha=0.3)
    if sc is not None:
        cbar = fig.colorbar(sc, ax=axes, shrink=0.8)
        cbar.set_label("A×ε recast / ATLAS")
    fig.suptitle(f"A×ε recast / ATLAS over the mass plane ({grid})\nhollow: not judged (tiny or interpolated ATLAS "
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
    for card, colour in zip(sorted({c for r in rows for c in r.get("others", {})}), OTHER_CARD_COLOURS):
        ratio = [r.get("others", {}).get(card, (None,))[0] for r in rows]
        ax.plot(x, [v if v is not None else float("nan") for v in ratio], "x", color=colour, ms=7,
                label=f"recast with {card_label(card)} / ATLAS")
    ax.set_xticks(list(x))
    ax.set_xticklabels([f"{r['point']} {r['region']}" for r in rows], rotation=70, ha="right", fontsize=7)
    ax.set_ylabel("A×ε ratio to ATLAS")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)
