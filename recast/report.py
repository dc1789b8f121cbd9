"""Terminal output of a run: cutflow tables per signal-region group, and the SR table with the
published numbers beside our yields."""

from __future__ import annotations

import re
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _merged_steps(flows: list[list[dict]]) -> list[str]:
    """Union of step labels keeping each cutflow's order (steps absent from a region stay blank)."""
    order: list[str] = []
    for flow in flows:
        pos = 0
        for s in flow:
            if s["step"] in order:
                pos = order.index(s["step"]) + 1
            else:
                order.insert(pos, s["step"])
                pos += 1
    return order


MAX_CUTFLOW_COLUMNS = 6


def _states(label: str, threshold: str) -> bool:
    """Whether a step label already shows every number of its cut."""
    return all(num in label for num in re.findall(r"\d+(?:\.\d+)?", threshold))


def _threshold(condition: str) -> str:
    """The cut values of a condition, e.g. 'njet >= 9, nb >= 3' -> '9, 3' and 'meff >= 1000,
    meff < 1600' -> '1000, <1600' (only non-lower bounds keep their operator)."""
    out = []
    for term in condition.split(","):
        m = re.match(r"\s*\w+\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$", term)
        if m is None:
            out.append(term.strip())
        else:
            out.append(m.group(2) if m.group(1) in (">=", ">") else m.group(1) + m.group(2))
    return ", ".join(out)


def cutflow_tables(doc: dict[str, Any]) -> list[Table]:
    """One table per signal-region group: rows are cutflow steps, columns the regions.

    A cell shows the weighted yield (or A x eff without a cross section) and the number of MC
    events; the cut value sits in the step label when all regions share it, else in the cell.
    """
    with_yield = doc["cross_section"] is not None
    groups: dict[str, list[dict]] = {}
    for sr in doc["signal_regions"]:
        groups.setdefault(sr["group"] or sr["name"], []).append(sr)
    lumi = doc["analysis"]["luminosity_ifb"]
    unit = f"events at {lumi:g} fb^-1 (MC events)" if with_yield else "A x eff in % (MC events)"
    tables = []
    for group, regions in groups.items():
        if len(regions) > MAX_CUTFLOW_COLUMNS:
            continue  # multi-bin sets: one column per bin would not fit; see the SR table and the JSON
        table = Table(title=f"Cutflow {group}: {unit}", title_justify="left", show_edge=False)
        table.add_column("step")
        for sr in regions:
            table.add_column(sr["name"], justify="right")
        for step in _merged_steps([sr["cutflow"] for sr in regions]):
            cells = [next((s for s in sr["cutflow"] if s["step"] == step), None) for sr in regions]
            conditions = {c["condition"] for c in cells if c is not None}
            shared = len(conditions) == 1
            label = step
            if shared and (cond := conditions.pop()) and not _states(step, _threshold(cond)):
                label = f"{step} [{_threshold(cond)}]"
            row = [label]
            for s in cells:
                if s is None:
                    row.append("")
                    continue
                value = s["yield"] if with_yield else 100.0 * s["acc_eff"]
                cell = f"{_fmt(value)} ({s['n']})"
                row.append(cell if shared else f"[{_threshold(s['condition'])}] {cell}")
            table.add_row(*row)
        tables.append(table)
    return tables


def region_table(doc: dict[str, Any]) -> Table:
    with_yield = doc["cross_section"] is not None
    lumi = doc["analysis"]["luminosity_ifb"]
    table = Table(title=f"Signal regions ({lumi:g} fb^-1): recast vs published", title_justify="left",
                  show_edge=False)
    table.add_column("SR", overflow="fold")  # a name is never cut: it folds onto a second line
    for name, just in [("MC events", "right"), ("yield ± MC stat", "right"),
                       ("A x eff [%]", "right"), ("obs", "right"), ("bkg", "right"),
                       ("S95 exp / obs", "right")]:
        table.add_column(name, justify=just)
    for sr in doc["signal_regions"]:
        pub = sr["published"] or {}
        y = f"{_fmt(sr['yield'])} ± {_fmt(sr['yield_err'], 2)}" if with_yield else "-"
        table.add_row(
            sr["name"], str(sr["n"]), y,
            f"{100 * sr['acc_eff']:.3g} ± {100 * sr['acc_eff_err']:.2g}",
            str(pub.get("observed", "-")),
            f"{_fmt(pub['background'])} ± {_fmt(pub['background_err'], 2)}" if pub else "-",
            f"{_fmt(pub.get('s95_expected'))} / {_fmt(pub.get('s95_observed'))}" if pub else "-",
        )
    return table


# Width of output that goes to a pipe or a file: wide enough that no table is ever squeezed (rich
# would cut names to "MB-GGd-4-3…" and drop columns); tables and lines take only the width they need.
PIPE_WIDTH = 100_000


def console(file: TextIO | None = None) -> Console:
    """A console on ``file`` (stdout by default): a terminal's own width, else ``PIPE_WIDTH``, so
    that tables written to a pipe or a file are complete (every column, no ellipsis)."""
    import sys

    stream = file or sys.stdout
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=file, width=None if is_tty else PIPE_WIDTH)


def print_run(doc: dict[str, Any], con: Console | None = None) -> None:
    console = con or globals()["console"]()
    a = doc["analysis"]
    src = doc["input"]
    console.print(f"[bold]{a['id']}[/bold]  {a['title']}  (arXiv:{a['arxiv']}, {a['sqrt_s_tev']:g} TeV, "
                  f"{a['luminosity_ifb']:g} fb^-1)")
    what = src.get("path") or src.get("generator", {}).get("slha", "")
    console.print(f"input: {src['kind']} {what}; {doc['events']['n']} events, sum of weights "
                  f"{doc['events']['sumw']:.6g}; seed {doc['seed']}")
    xs = doc["cross_section"]
    if xs is not None:
        console.print(f"cross section: {xs['value_fb']:.4g} fb ({xs['source']})")
    else:
        console.print("cross section: unknown, so yields are shown as A x eff (give --xsec-fb)")
    for t in cutflow_tables(doc):
        console.print()
        console.print(t)
    wide = sorted({sr["group"] for sr in doc["signal_regions"]
                   if sum(o["group"] == sr["group"] for o in doc["signal_regions"]) > MAX_CUTFLOW_COLUMNS})
    if wide:
        console.print(f"\n(cutflows of the multi-bin sets {', '.join(wide)}: one per bin in the results JSON, --out)")
    console.print()
    console.print(region_table(doc))
    if doc.get("histograms"):
        console.print()
        unit = "events" if doc["cross_section"] is not None else "sum of weights"
        for h in doc["histograms"]:
            values = h["yield"] if h["yield"] is not None else h["sumw"]
            bins = "  ".join(f"[{lo:g},{hi:g}): {_fmt(v)} ({n})"
                             for lo, hi, v, n in zip(h["edges"][:-1], h["edges"][1:], values, h["n"]))
            console.print(f"{h['name']} ({unit}, MC events): {bins}", soft_wrap=True)
    by_reason: dict[str, list[str]] = {}
    for skipped in doc.get("skipped_signal_regions", []):
        by_reason.setdefault(skipped["reason"], []).append(skipped["name"])
    for reason, names in by_reason.items():
        console.print(f"[yellow]skipped[/yellow] {', '.join(names)}: {reason}", soft_wrap=True)
    if not doc["complete"]:
        console.print(f"[bold red]incomplete:[/bold red] {doc['error']}")


def _cls(value: float, bound: bool, digits: int = 2) -> str:
    """A CLs, or its upper bound ("<1e-20") where the limits file flags it as one."""
    return f"<{value:.{digits}g}" if bound else f"{value:.{digits}g}"


def limits_table(doc: dict[str, Any]) -> Table:
    """Every region, most sensitive first; simplified and full likelihood side by side."""
    kinds = list(doc["limits"])
    by_name: dict[str, dict[str, dict]] = {}
    for kind in kinds:
        for r in doc["limits"][kind]["regions"]:
            by_name.setdefault(r["name"], {})[kind] = r
    best = {kind: doc["limits"][kind]["best"] for kind in kinds}

    def sensitivity(name: str) -> float:
        return min((r["cls_exp"][2] for r in by_name[name].values() if r["cls_exp"]), default=1.0)

    table = Table(title=f"Limits {doc['analysis']}: CLs at mu = 1, expected median [-1–+1 sigma]; "
                        f"r = S / S95 (published); * decides", title_justify="left", show_edge=False)
    table.add_column("region", overflow="fold")  # a name is never cut: it folds onto a second line
    for col in ("S ± MC", "obs", "bkg"):
        table.add_column(col, justify="right")
    for kind in kinds:
        prefix = "" if len(kinds) == 1 else f"{kind}: "
        table.add_column(f"{prefix}CLs obs", justify="right")
        table.add_column(f"{prefix}CLs exp [±1σ]", justify="right")
    table.add_column("r obs / exp", justify="right")
    table.add_column("mu95 obs / exp", justify="right")
    for name in sorted(by_name, key=sensitivity):
        entries = by_name[name]
        first = next(iter(entries.values()))
        marks = "".join("*" if best[k] == name else "" for k in entries)[:1]
        signal = sum(first["signal"])
        err = sum(e * e for e in first["signal_err"]) ** 0.5
        obs = sum(first["observed"])
        bkg = sum(first["background"])
        row = [f"{name}{marks}", f"{_fmt(signal)} ± {_fmt(err, 2)}", str(obs),
               f"{_fmt(bkg)}" + (f" ({len(first['regions'])} bins)" if first["kind"] == "combined" else "")]
        for kind in kinds:
            r = entries.get(kind)
            if r is None or r["cls_exp"] is None:
                row += ["", ""]
                continue
            exp, bound = r["cls_exp"], r.get("cls_exp_bound") or [False] * 5
            row += [_cls(r["cls_obs"], r.get("cls_obs_bound", False), 3),
                    f"{_cls(exp[2], bound[2])} [{_cls(exp[1], bound[1])}–{_cls(exp[3], bound[3])}]"]
        rr = [r for r in entries.values() if r.get("r_obs") is not None]
        row.append(f"{rr[0]['r_obs']:.2g} / {rr[0]['r_exp']:.2g}" if rr and rr[0]["r_exp"] is not None else "")
        mu = [r for r in entries.values() if r.get("mu95_obs") is not None]
        row.append(f"{mu[0]['mu95_obs']:.3g} / {mu[0]['mu95_exp'][2]:.3g}" if mu else "")
        table.add_row(*row)
    return table


def print_limits(doc: dict[str, Any], con: Console | None = None) -> None:
    out = con or console()
    out.print(limits_table(doc))
    for kind, lim in doc["limits"].items():
        if lim["best"] is None:
            out.print(f"{kind}: no decision ({'; '.join(lim['notes']) or 'no regions'})")
            continue
        verdict = "[bold red]EXCLUDED[/bold red]" if lim["excluded"] else "[bold green]not excluded[/bold green]"
        out.print(f"{kind} likelihood: {verdict} at 95 % CL, decided by {lim['best']} "
                  f"(CLs observed {_cls(lim['cls_obs'], lim.get('cls_obs_bound', False), 3)}, "
                  f"expected {_cls(lim['cls_exp'], lim.get('cls_exp_bound', False), 3)})")
        for note in lim["notes"]:
            out.print(f"  note: {note}", soft_wrap=True)
