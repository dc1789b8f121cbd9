"""The sigma_UL planes in the validation report: per plane its figures (the ratio recast / ATLAS
over the plane; the exclusion contours of ATLAS and recast over each other) and its blocks (what
was run and how the limit was set, the summary numbers, the status, a row per point). The numbers
come from :mod:`recast.validation.limits`; :mod:`recast.validation.report` places them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .figures import _panels, _plt, _png, number, table
from .limits import exclusion_contours, theory
from .rule import INCONCLUSIVE

RATIO_TICKS = (0.5, 0.7, 1.0, 1.4, 2.0)
_PARENT_TEX = {"gluino": r"\tilde{g}", "squark": r"\tilde{q}", "stop": r"\tilde{t}_1"}
_LSP_TEX = {"neutralino1": r"\tilde{\chi}^0_1", "stop": r"\tilde{t}_1"}


def parent_tex(model: str) -> str:
    """The TeX symbol (without $) of a template's produced sparticle."""
    from ..slha import TEMPLATES

    t = TEMPLATES.get(model)
    return _PARENT_TEX.get(t.parent, t.parent) if t else "parent"


def axis_labels(model: str) -> tuple[str, str]:
    """The x and y axis labels (TeX, GeV) of a template's mass plane."""
    from ..slha import TEMPLATES

    t = TEMPLATES.get(model)
    lsp = _LSP_TEX.get(t.lsp, t.lsp) if t else r"\tilde{\chi}^0_1"
    return f"$m({parent_tex(model)})$ [GeV]", f"$m({lsp})$ [GeV]"


def ratio_figure(plane: Mapping[str, Any]) -> bytes | None:
    """sigma_UL recast / ATLAS over the plane, observed (and expected where ATLAS published it):
    colour the ratio on a log scale, text the ratio and its MC error; hollow: not judged (ATLAS'
    limit interpolated between its grid points); hatched: inconclusive."""
    from matplotlib.colors import LogNorm

    kinds = ["obs"] + (["exp"] if plane["has_expected"] else [])
    rows = plane["points"]
    if not any(r[f"ratio_{k}"] is not None for r in rows for k in kinds):
        return None
    fig, axes = _panels(len(kinds), 2, 6.0, 4.8)
    norm = LogNorm(vmin=0.5, vmax=2.0)
    xlabel, ylabel = axis_labels(plane["model"])
    sc = None
    for ax, kind in zip(axes.flat, kinds):
        pts = [r for r in rows if r[f"ratio_{kind}"] is not None]
        x = np.array([r["m_parent"] for r in pts])
        y = np.array([r["m_lsp"] for r in pts])
        ratio = np.clip(np.array([r[f"ratio_{kind}"] for r in pts]), 0.5, 2.0)
        judged = np.array([r["judged"] for r in pts], bool)
        unsure = np.array([r[f"status_{kind}"] == INCONCLUSIVE for r in pts], bool)
        sc = ax.scatter(x[judged], y[judged], c=ratio[judged], cmap="RdBu_r", norm=norm, s=220, marker="s",
                        edgecolors="0.3")
        ax.scatter(x[~judged], y[~judged], s=220, marker="s", facecolors="none", edgecolors="0.5")
        ax.scatter(x[unsure], y[unsure], s=220, marker="s", facecolors="none", edgecolors="0.2", hatch="///")
        for r in pts:
            value = r[f"ratio_{kind}"]
            dark = r["judged"] and abs(math.log(max(min(value, 2.0), 0.5))) > 0.35
            ax.annotate(f"{value:.2f}\n±{number(r[f'ratio_{kind}_err'], 1)}", (r["m_parent"], r["m_lsp"]),
                        ha="center", va="center", fontsize=5, color="white" if dark else "black")
        ax.set_title("observed" if kind == "obs" else "expected", fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.margins(0.08)
        ax.grid(alpha=0.3)
    if sc is not None:
        cbar = fig.colorbar(sc, ax=axes, shrink=0.8)
        cbar.set_label(r"$\sigma_{UL}$ recast / ATLAS")
        cbar.set_ticks(RATIO_TICKS, labels=[f"{t:g}" for t in RATIO_TICKS], minor=False)
        cbar.minorticks_off()
    fig.suptitle(f"Cross-section upper limits recast / ATLAS, plane {plane['name']}\nhollow: ATLAS' limit "
                 f"interpolated (not judged); hatched: inconclusive", fontsize=10)
    return _png(fig)


def _draw(ax, lines: Sequence[np.ndarray], label: str, **style) -> None:
    for i, line in enumerate(lines):
        ax.plot(line[:, 0], line[:, 1], label=label if i == 0 else None, **style)


def contour_figure(plane: Mapping[str, Any], atlas_rows: Sequence[Sequence[float | None]]) -> bytes | None:
    """The exclusion contours (sigma_theory = sigma_UL, log sigma_UL interpolated in the plane's
    triangles): ATLAS' from its whole grid and from recast's points only (the interpolation's own
    effect), and recast's; observed solid, expected dashed; recast's points marked."""
    rows = [r for r in plane["points"] if r["recast_obs_fb"]]
    if len(rows) < 3:
        return None
    sigma_theory = theory(plane["theory_process"])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.4, 5.6), layout="constrained")
    xs, ys = [r["m_parent"] for r in rows], [r["m_lsp"] for r in rows]
    curves = [("ATLAS observed (its grid)", [(r[0], r[1], r[2]) for r in atlas_rows], dict(color="black", lw=2)),
              ("ATLAS observed (recast's points)", [(r["m_parent"], r["m_lsp"], r["atlas_obs_fb"]) for r in rows],
               dict(color="black", lw=1, ls=":")),
              ("recast observed", [(r["m_parent"], r["m_lsp"], r["recast_obs_fb"]) for r in rows],
               dict(color="tab:red", lw=2))]
    if plane["has_expected"]:
        curves += [("ATLAS expected (its grid)", [(r[0], r[1], r[3]) for r in atlas_rows if r[3] is not None],
                    dict(color="0.45", lw=1.5, ls="--")),
                   ("recast expected", [(r["m_parent"], r["m_lsp"], r["recast_exp_fb"]) for r in rows
                                        if r["recast_exp_fb"]], dict(color="tab:red", lw=1.5, ls="--"))]
    for label, pts, style in curves:
        pts = [p for p in pts if p[2]]
        if len(pts) >= 3:
            _draw(ax, exclusion_contours([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts],
                                         sigma_theory), label, **style)
    ax.scatter(xs, ys, s=14, color="tab:red", alpha=0.6, label="recast's points", zorder=3)
    ax.scatter([r[0] for r in atlas_rows], [r[1] for r in atlas_rows], s=6, color="0.6", marker="x",
               label="ATLAS' grid", zorder=2)
    xlabel, ylabel = axis_labels(plane["model"])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    limit = plane["mass_limit"]
    ax.set_title(f"Exclusion (σ_theory = σ_UL), plane {plane['name']}\nlight-LSP limit at m_LSP = "
                 f"{limit['m_lsp']:g} GeV: recast {_limit_text(limit.get('recast_obs'))}, ATLAS "
                 f"{_limit_text(limit.get('atlas_obs'))}", fontsize=9)
    return _png(fig)


def _limit_text(limit: Mapping[str, Any] | None) -> str:
    if not limit:
        return "–"
    return f"{limit['mass_gev']:.0f} GeV" if limit["mass_gev"] is not None else limit["note"]


def plane_figures(spec, planes: Mapping[str, Mapping[str, Any]]) -> dict[str, bytes | None]:
    """The figures of every compared plane, by their report key."""
    rows_of = {pl.name: pl.rows for pl in spec.planes}
    out: dict[str, bytes | None] = {}
    for name, plane in planes.items():
        out[f"plane_ratio_{name}"] = ratio_figure(plane)
        out[f"plane_contour_{name}"] = contour_figure(plane, rows_of[name])
    return out


def _dev(plane: Mapping[str, Any], kind: str) -> tuple[str, str]:
    med, worst = plane[f"median_dev_{kind}"], plane[f"worst_dev_{kind}"]
    if med is None:
        return "–", "–"
    return f"{med:.1%}", f"{worst:.1%} ({plane[f'worst_point_{kind}']})"


def plane_blocks(spec, planes: Mapping[str, Mapping[str, Any]], status: Mapping[str, Any],
                 figures: Mapping[str, str]) -> list:
    """The report blocks of every compared plane: a status table, then a section per plane."""
    from ..slha import TEMPLATES

    if not planes:
        return []
    b: list = [("h2", "Status per cross-section upper-limit plane"),
               table(["plane", "status", "checks", "disagrees at", "inconclusive at"],
                      [[name, v["status"], str(v["checks"]), "; ".join(v["failed"]) or "–",
                        "; ".join(v["inconclusive"]) or "–"] for name, v in status.get("planes", {}).items()])]
    for name, pl in planes.items():
        src = pl["source"]
        n_line = pl["n_points"] - pl["n_judged"]
        sel = ", ".join(f"{k} {v}" for k, v in pl["selection"].items())
        line = pl["line"]
        b.append(("h2", f"Cross-section upper limits: plane {name}"))
        b.append(("p", f"ATLAS' model: {pl['what']}. Template `{pl['model']}` (process {pl['process']}: "
                       f"{TEMPLATES[pl['model']].decays}). "
                       f"ATLAS' limits: `{pl['reference']}` ({src.get('file', '')}, HEPData "
                       f"{src.get('hepdata') or '–'}, via {src.get('via', '–')}; "
                       f"figure {src.get('figure', '–')})."))
        b.append(("p", f"**{pl['n_points']} point{'' if pl['n_points'] == 1 else 's'}, "
                       f"{', '.join(map(str, pl['events_per_point'])) or '–'} events each**: ATLAS' own grid points "
                       f"with {sel}"
                       + (f", and a line at m_LSP = {line['m_lsp']:g} GeV from {line['m_parent'][0]:g} to "
                          f"{line['m_parent'][1]:g} GeV in {line['step']:g} GeV steps" if line else "")
                       + f"; {pl['n_judged']} judged, {n_line} between ATLAS' grid points (ATLAS' limit interpolated "
                         f"in log σ_UL: shown and used for the mass limit, not judged)"
                       + (f"; failed: {', '.join(pl['failed'])}" if pl["failed"] else "") + "."))
        b.append(("p", f"recast's σ_UL = μ95 × σ: μ95 is the 95 % CL upper limit on the signal strength in the "
                       f"region that sets the limit, σ the NNLOapprox+NNLL cross section of {pl['process']} the "
                       f"yields were made with. Region: {pl['region_choice']}. Ratio error: recast's MC statistics "
                       f"(the signal's relative MC error in that region; a counting limit scales as 1 / signal). "
                       f"Exclusion: σ_UL below σ_theory of ATLAS' model ({pl['theory_process']} table)."))
        st = pl["status"]
        b.append(("p", f"**Status: {st['status']}** ({st['checks']} checks"
                       + (f"; disagrees at {'; '.join(st['failed'])}" if st["failed"] else "")
                       + (f"; inconclusive at {'; '.join(st['inconclusive'])}" if st["inconclusive"] else "") + ")."))
        lim = pl["mass_limit"]
        kinds = ["obs"] + (["exp"] if pl["has_expected"] else [])
        b.append(table(["", *("observed" if k == "obs" else "expected" for k in kinds)],
                        [["median |σ_UL(recast)/σ_UL(ATLAS) − 1|", *(_dev(pl, k)[0] for k in kinds)],
                         ["worst |σ_UL(recast)/σ_UL(ATLAS) − 1| (point)", *(_dev(pl, k)[1] for k in kinds)],
                         [f"parent mass limit at m_LSP = {lim['m_lsp']:g} GeV, recast",
                          *(_limit_text(lim.get(f"recast_{k}")) for k in kinds)],
                         [f"parent mass limit at m_LSP = {lim['m_lsp']:g} GeV, ATLAS",
                          *(_limit_text(lim.get(f"atlas_{k}")) for k in kinds)]]))
        for key, caption in ((f"plane_ratio_{name}", f"σ_UL ratio map, plane {name}"),
                             (f"plane_contour_{name}", f"exclusion contours, plane {name}")):
            if key in figures:
                b.append(("img", figures[key], caption))
        header = ["m_parent", "m_lsp", "σ [fb]", "region", "signal MC error", "ATLAS obs [fb]", "recast obs [fb]",
                  "obs ratio", "obs verdict"]
        if pl["has_expected"]:
            header += ["ATLAS exp [fb]", "recast exp [fb]", "exp ratio", "exp verdict"]
        cells_by_point = []
        for r in pl["points"]:
            cells = [number(r["m_parent"], 4), number(r["m_lsp"], 4), number(r["sigma_fb"]), r["region"] or "–",
                     "–" if r["signal_mc_rel_err"] is None else f"{r['signal_mc_rel_err']:.1%}"]
            for k in kinds:
                ratio = r[f"ratio_{k}"]
                cells += [number(r[f"atlas_{k}_fb"]) + (" (interp.)" if r["interpolated"] else ""),
                          number(r[f"recast_{k}_fb"]),
                          "–" if ratio is None else f"{ratio:.2f} ± {number(r[f'ratio_{k}_err'], 2)}",
                          r[f"status_{k}"] or ("interpolated" if r["interpolated"] else "–")]
            cells_by_point.append(cells)
        b.append(table(header, cells_by_point))
    return b
