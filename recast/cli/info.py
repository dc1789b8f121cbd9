"""`recast list` and `recast info`: the analyses, their regions, options, models, detector cards and
validation status."""

from __future__ import annotations

import argparse


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .. import analysis as ana_mod
    from .. import report
    from ..validation import read_status

    table = Table(show_edge=False)
    for col in ("analysis", "arXiv", "sqrt(s)", "lumi [fb^-1]", "signal regions", "validation", "title"):
        table.add_column(col)
    rules = []
    for name in ana_mod.available():
        a = ana_mod.load(name)
        st = read_status(a.id)
        table.add_row(a.id, a.arxiv, f"{a.sqrt_s_tev:g} TeV", f"{a.luminosity_ifb:g}",
                      str(len(a.signal_regions)), st["label"] if st else "not validated (no report)", a.title)
        if st and st["rule"] not in rules:
            rules.append(st["rule"])
    report.console().print(table)
    for rule in rules:  # what "validated", "disagrees" and "inconclusive" mean
        report.console().print(f"validation rule: {rule}", markup=False)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .. import analysis as ana_mod
    from .. import report
    from ..validation import read_status

    a = ana_mod.load(args.analysis)
    con = report.console()
    con.print(f"[bold]{a.id}[/bold]: {a.title}")
    con.print(f"arXiv:{a.arxiv}  {a.journal}  HEPData {a.hepdata}")
    con.print(f"sqrt(s) = {a.sqrt_s_tev:g} TeV, luminosity {a.luminosity_ifb:g} fb^-1; aliases: "
              f"{', '.join(a.aliases) or '-'}")
    st = read_status(a.id)
    con.print(f"validation: {st['label']} ({st['created'][:10]}, report {', '.join(st.get('reports') or [st['report']])}; rule: {st['rule']})"
              if st else "validation: not validated (no report; run 'recast validate')", markup=False)
    if st and st.get("planes"):
        con.print("cross-section upper-limit planes: " + ", ".join(f"{k} {v}" for k, v in st["planes"].items()),
                  markup=False)
    _print_models(con, a)
    opts = Table(title="Options (-O name=value)", title_justify="left", show_edge=False)
    for col in ("option", "default", "choices", "meaning"):
        opts.add_column(col)
    for o in a.options:
        opts.add_row(o.name, str(o.default), _choices(o), o.doc)
    con.print(opts)
    _print_detectors(con, a)
    pre = ", ".join(c.condition for c in a.preselection)
    con.print(f"\npreselection: {pre}")
    srs = Table(title="Signal regions (after the preselection)", title_justify="left", show_edge=False)
    for col in ("SR", "cuts", "obs", "bkg", "S95 exp/obs") + (("validation",) if st else ()):
        srs.add_column(col)
    for sr in a.signal_regions:
        p = a.published.get(sr.name)
        srs.add_row(sr.name, "; ".join(c.condition for c in sr.cuts),
                    str(p.observed) if p else "-", f"{p.background:g} +- {p.background_err:g}" if p else "-",
                    f"{p.s95_expected} / {p.s95_observed}" if p else "-",
                    *((st["regions"].get(sr.name, "-"),) if st else ()))
    con.print(srs)
    src = {p.source for p in a.published.values()}
    if src:
        con.print(f"published numbers: {'; '.join(sorted(src))}")
    if args.notes:
        con.print(a.notes)
    return 0


def _choices(option) -> str:
    from ..detector import DetectorOption, available_cards

    if option.choices:
        return ", ".join(map(str, option.choices))
    if isinstance(option, DetectorOption):
        return ", ".join(available_cards()) + " or a card file"
    return "number"


def _print_detectors(con, a) -> None:
    """The shipped detector cards (title, sha256) and the analysis' default one."""
    from rich.table import Table

    from .. import detector

    default = next((o.default for o in a.options if o.name == "detector"), None)
    how = "-O detector=NAME|FILE or --detector" if default is not None else "no 'detector' option: truth-level objects"
    table = Table(title=f"Detector cards ({how}; data/detectors)", title_justify="left", show_edge=False)
    for col in ("card", "default", "title", "sha256"):
        table.add_column(col)
    names = list(detector.available_cards())
    default = default or detector.TRUTH
    if default not in names:  # a file named by the analysis
        names.append(default)
    for name in names:
        card = detector.load(name)
        table.add_row(name, "yes" if name == default else "", card.title, card.sha256)
    con.print(table)
    con.print(f"default detector card: {default}", markup=False)


def _print_models(con, a) -> None:
    cards = a.model_cards()
    if not cards:
        con.print("models: none (cut-and-count regions only)")
        return
    con.print(f"[bold]Model cards[/bold] (data/{a.id}/models; artifacts via 'recast data list {a.id}')")
    for c in cards.values():
        files = ", ".join(f"{fold}: {art}" for fold, art in c.files.items())
        con.print(f" [bold]{c.id}[/bold] ({c.format}) {files}" + (f" [{c.fold_rule}]" if c.fold_rule else ""))
        con.print("   inputs: " + ", ".join(i.name + (f" [{i.unit}]" if i.unit else "") for i in c.inputs))
        pads = ", ".join(f"{i.name}={i.pad:g}" for i in c.inputs if i.pad is not None) or "none (all inputs required)"
        conv = "; ".join(f"{k}: {v}" for k, v in c.conventions.items() if k in ("phi_range", "btag_encoding"))
        con.print(f"   padding: {pads}; {conv}")
        cuts = ", ".join(f"{k} >= {v:g}" for k, v in c.thresholds.items())
        con.print(f"   score: output node {c.score_node}, {c.score_doc}; thresholds: {cuts}; "
                  f"{len(c.golden)} golden vectors (tolerance {c.tolerance:g})")
