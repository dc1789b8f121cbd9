"""The exclusion plot of a scan: its points in the (m_parent, m_LSP) plane, coloured by the
deciding observed CLs, with the CLs = CLS_LEVEL contours (observed and expected) where they can be
drawn."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import RecastError
from ..stats import CLS_LEVEL
from .documents import read_json

_MODEL_LABELS = {
    "gtt": r"$\tilde{g}\tilde{g}$, $\tilde{g}\to t\bar{t}\tilde{\chi}^0_1$",
    "gbb": r"$\tilde{g}\tilde{g}$, $\tilde{g}\to b\bar{b}\tilde{\chi}^0_1$",
    "gqq": r"$\tilde{g}\tilde{g}$, $\tilde{g}\to q\bar{q}\tilde{\chi}^0_1$",
    "gtb": r"$\tilde{g}\tilde{g}$, $\tilde{g}\to t\bar{b}\tilde{\chi}^{\pm}_1$",
    "sqq": r"$\tilde{q}\tilde{q}^*$ (10 $\tilde{q}$), $\tilde{q}\to q\tilde{\chi}^0_1$",
}
_PARENT_SYMBOLS = {"gluino": r"\tilde{g}", "squark": r"\tilde{q}", "stop": r"\tilde{t}_1"}


def _noncollinear(x, y) -> bool:
    """Whether the points span a plane: a contour needs a triangulation, which needs that."""
    import numpy as np

    pts = np.column_stack([x, y]).astype(float)
    if len(pts) < 3:
        return False
    centred = pts - pts.mean(axis=0)
    scale = np.abs(centred).max() or 1.0
    return np.linalg.matrix_rank(centred / scale, tol=1e-9) >= 2


def plot_exclusion(scan_dir: Path, prefix: Path) -> tuple[list[Path], list[str]]:
    """Draw the scan in the (m_parent, m_LSP) plane: points coloured by the deciding observed CLs
    (log scale), excluded ones marked, the CLs = 0.05 contour where it can be drawn. Writes
    ``PREFIX.png`` and ``PREFIX.pdf``; returns the files and notes (e.g. why there is no contour)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    summary = read_json(Path(scan_dir) / "summary.json", "scan-summary")
    rows = summary["points"]
    placed = [r for r in rows if r["m_parent"] is not None and r["m_lsp"] is not None]
    ok = [r for r in placed if r["status"] == "ok" and r["cls_obs"] is not None]
    failed = [r for r in placed if r["status"] == "failed"]
    pending = [r for r in placed if r["status"] == "pending"]
    if not ok and not failed:
        raise RecastError(f"{scan_dir}: no finished point with known masses to draw")
    notes = []
    grid = summary["grid"]
    parent = _PARENT_SYMBOLS.get(grid["parent"], r"\mathrm{parent}")
    floor = 1e-6
    fig, ax = plt.subplots(figsize=(8, 6.5), layout="constrained")
    handles = []
    if ok:
        x = np.array([r["m_parent"] for r in ok], float)
        y = np.array([r["m_lsp"] for r in ok], float)
        cls = np.clip(np.array([r["cls_obs"] for r in ok], float), floor, 1.0)
        excl = np.array([bool(r["excluded"]) for r in ok])
        norm = LogNorm(vmin=min(1e-3, cls.min()), vmax=1.0)
        sc = ax.scatter(x, y, c=cls, cmap="viridis_r", norm=norm, s=90, edgecolors="0.3", linewidths=0.6, zorder=3)
        if excl.any():
            ax.scatter(x[excl], y[excl], s=190, facecolors="none", edgecolors="red", linewidths=1.8, zorder=4)
        cbar = fig.colorbar(sc, ax=ax)
        cbar.set_label(r"CL$_s$ observed (deciding region)")
        cbar.ax.axhline(CLS_LEVEL, color="red", lw=1.5)
        handles.append(Line2D([], [], ls="", marker="o", mfc="none", mec="red", mew=1.8, ms=12,
                              label=f"excluded (CLs < {CLS_LEVEL:g}): {int(excl.sum())}"))
        handles.append(Line2D([], [], ls="", marker="o", mfc="0.7", mec="0.3", ms=8,
                              label=f"not excluded: {int((~excl).sum())}"))
        reason = None
        if len(ok) < 3:
            reason = f"{len(ok)} finished point(s); a contour needs at least 3"
        elif not _noncollinear(x, y):
            reason = "the finished points lie on a line"
        elif excl.all() or not excl.any():
            reason = "every finished point is excluded" if excl.all() else "no finished point is excluded"
        if reason is None:
            try:
                ax.tricontour(x, y, np.log10(cls), levels=[math.log10(CLS_LEVEL)], colors="red", linewidths=2,
                              linestyles="solid", zorder=2)
                handles.append(Line2D([], [], color="red", lw=2, label=f"observed exclusion (CLs = {CLS_LEVEL:g})"))
            except (ValueError, RuntimeError) as exc:
                reason = f"the triangulation failed: {exc}"
        exp = np.array([r["cls_exp"] if r["cls_exp"] is not None else np.nan for r in ok], float)
        if reason is None and np.isfinite(exp).all() and exp.min() < CLS_LEVEL < exp.max():
            # the expected contour (median expected CLs of each point's deciding region), as in
            # the experiments' plots: where observed and expected part, the data fluctuated
            try:
                ax.tricontour(x, y, np.log10(np.clip(exp, floor, 1.0)), levels=[math.log10(CLS_LEVEL)],
                              colors="red", linewidths=1.5, linestyles="dashed", zorder=2)
                handles.append(Line2D([], [], color="red", lw=1.5, ls="--", label="expected exclusion"))
            except (ValueError, RuntimeError) as exc:
                notes.append(f"no expected contour: the triangulation failed: {exc}")
        if reason is not None:
            notes.append(f"no CLs = {CLS_LEVEL:g} contour: {reason}")
            ax.text(0.02, 0.98, f"no contour: {reason}", transform=ax.transAxes, va="top", fontsize=8,
                    color="0.3")
    if failed:
        ax.scatter([r["m_parent"] for r in failed], [r["m_lsp"] for r in failed], marker="x", c="0.4", s=60,
                   zorder=3)
        handles.append(Line2D([], [], ls="", marker="x", color="0.4", label=f"failed: {len(failed)}"))
    if pending:
        ax.scatter([r["m_parent"] for r in pending], [r["m_lsp"] for r in pending], marker=".", c="0.6", s=30,
                   zorder=3)
        handles.append(Line2D([], [], ls="", marker=".", color="0.6", label=f"not run yet: {len(pending)}"))
    allx = [r["m_parent"] for r in placed]
    ally = [r["m_lsp"] for r in placed]
    lo, hi = min(allx + ally), max(allx)
    ax.plot([lo, hi], [lo, hi], ls="--", color="0.5", lw=1, zorder=1)
    handles.append(Line2D([], [], ls="--", color="0.5", lw=1, label=f"$m(\\tilde{{\\chi}}^0_1) = m({parent})$"))
    pad_x = 0.06 * (max(allx) - min(allx) or max(allx) or 1.0)
    pad_y = 0.08 * (max(ally) - min(ally) or max(ally) or 1.0)
    ax.set_xlim(min(allx) - pad_x, max(allx) + pad_x)
    ax.set_ylim(min(ally) - pad_y, max(ally) + pad_y)
    ax.set_xlabel(f"$m({parent})$ [GeV]")
    ax.set_ylabel(r"$m(\tilde{\chi}^0_1)$ [GeV]")
    model = _MODEL_LABELS.get(grid["model"] or "", grid["model"] or "SLHA grid")
    analyses = ", ".join(summary["settings"]["analyses"])
    ax.set_title(f"{model} ({grid['process']}), 13 TeV\n{analyses}", fontsize=11)
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    ax.grid(alpha=0.2)
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    written = []
    from ..atomic import atomic_path

    for ext in ("png", "pdf"):
        target = prefix.parent / f"{prefix.name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=150 if ext == "png" else None)
        written.append(target)
    plt.close(fig)
    return written, notes
