"""`recast limit`: CLs, r and upper limits of a result file or of a table of yields."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from .common import progress, say


def limits_document(doc: dict, ana, source: str, source_kind: str, likelihood: str, xsec_unc: bool, upper_limits: str,
            quiet: bool = False, ml_unc: dict | None = None, ml_source: str = "") -> dict:
    """The limits document of a result (or yields table), with a progress bar over the regions
    and combinations fitted (on stderr, when it is a terminal); ``ml_unc``: the ML-selection
    robustness bands of a probe (read from ``ml_source``)."""
    from .. import stats

    total = stats.count_steps(doc, ana, likelihood, upper_limits)
    with progress(total, f"{ana.id} limits") if not quiet else contextlib.nullcontext() as bar:
        task = bar.add_task("limits", total=total, rate="") if bar else None

        def on_region(what: str, done: int, steps: int) -> None:
            if bar:
                bar.update(task, completed=done, total=steps, rate=what)

        limits = stats.compute(doc, ana, likelihood, xsec_unc=xsec_unc, upper_limits=upper_limits,
                               on_region=on_region, ml_unc=ml_unc, ml_source=ml_source)
    return stats.document(ana.id, source, limits, source_kind)


def cmd_limit(args: argparse.Namespace) -> int:
    from .. import output, report, stats
    from ..stats import yields

    if args.out:
        output.prepare_file(args.out, "limits file")
    doc, ana, kind = yields.load(Path(args.results), args.analysis)
    ml_unc = None
    if args.ml_unc:
        from ..probe import report as probe_report

        ml_unc = probe_report.ml_bands(probe_report.read(Path(args.ml_unc)), doc, args.ml_unc)
    out = limits_document(doc, ana, str(args.results), kind, args.likelihood, args.xsec_unc, args.upper_limits,
                          ml_unc=ml_unc, ml_source=str(args.ml_unc))
    report.print_limits(out)
    if args.out:
        written = output.save(args.out, stats.encode(out), "limits")
        say(f"wrote {written}")
    return 0
