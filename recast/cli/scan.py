"""`recast scan` (a grid of points on Dask) and `recast plot-exclusion`."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from .common import parse_options, progress, say, with_detector


def _num(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _cls(x) -> str:
    """A CLs value; at the floor below which recast.stats reports a bound, the bound."""
    from ..stats import CLS_FLOOR

    return f"<{CLS_FLOOR:g}" if x is not None and x <= CLS_FLOOR else _num(x)


def cmd_scan(args: argparse.Namespace) -> int:
    from .. import output, parallel, pipeline, scan, xsec
    from ..errors import RecastError

    output.prepare_dir(Path(args.out), "scan directory")
    if args.xsec_fb is not None:
        xsec.resolve(user_fb=args.xsec_fb)
    grid = scan.load_grid(args.grid, nevents=args.nevents, seed=args.seed, process=args.process)
    pairs = with_detector(parse_options(args.option), args.detector, pipeline.load_analyses(args.analyses))
    common, per = pipeline.split_options(pairs)
    settings = scan.resolve_settings(args.analyses, common, per, pythia_settings=tuple(args.pythia_setting),
                                     xsec_fb=args.xsec_fb, xsec_unc=args.xsec_unc,
                                     upper_limits=args.upper_limits, chunk_size=args.chunk_size)
    for n in grid.notes:
        say(f"note: {n}")
    out = Path(args.out)
    where = parallel.describe(args.workers, args.scheduler)
    state: dict = {"start": None, "done": 0}
    with contextlib.ExitStack() as stack:

        def on_start(to_run: int, reused: int) -> None:
            if reused:
                say(f"{reused} of {len(grid.points)} points already done in {out} (same settings): reused")
            if to_run:
                each = f"{grid.nevents} events each" if grid.nevents else "every event of each file"
                say(f"running {to_run} point(s) ({each}; {', '.join(settings.analyses)}) on {where}")
            state["start"] = time.perf_counter()
            if to_run and not args.quiet:
                state["bar"] = bar = stack.enter_context(progress(to_run, "scan"))
                state["task"] = bar.add_task("scan", total=to_run, rate="")

        def on_point(row: dict) -> None:
            state["done"] += 1
            minutes = (time.perf_counter() - state["start"]) / 60
            if row["status"] == "ok":
                verdict = "excluded" if row["excluded"] else "allowed"
                line = (f"{row['name']}: {verdict}, CLs {_cls(row['cls_obs'])} (exp. {_cls(row['cls_exp'])}) "
                        f"by {row['analysis'] or '-'} {row['region'] or ''}, xsec {_num(row['xsec_fb'])} fb "
                        f"({row['xsec_kind']})")
            else:
                line = f"{row['name']}: FAILED: {row['error']}"
            bar = state.get("bar")
            if bar is not None:
                bar.update(state["task"], advance=1, rate=f"{state['done'] / max(minutes, 1e-9):.1f} points/min")
            if bar is not None and not bar.disable:  # above the live bar
                bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
            elif not args.quiet:
                say(line)

        def on_note(message: str) -> None:
            bar = state.get("bar")
            if bar is not None and not bar.disable:  # above the live bar
                bar.console.print(f"recast: note: {message}", markup=False, highlight=False, soft_wrap=True)
            else:
                say(f"note: {message}")

        report = scan.run_scan(grid, settings, out, workers=args.workers, scheduler=args.scheduler,
                               on_start=on_start, on_point=on_point, on_note=on_note, replace=args.replace)
    elapsed = time.perf_counter() - (state["start"] or time.perf_counter())
    rate = f" in {elapsed:.1f} s ({report.ran / (elapsed / 60):.1f} points/min)" if report.ran and elapsed > 0 else ""
    say(f"{report.total} points: {report.ok} ok ({report.excluded} excluded), {report.failed} failed, "
         f"{report.skipped} reused; ran {report.ran}{rate}; wrote {out / 'summary.json'} and {out / 'summary.csv'}")
    if report.failed:
        raise RecastError(f"{report.failed} of {report.total} points failed (first: {report.failures[0]}); "
                          f"see {out / 'summary.csv'}; rerunning the same command retries them")
    return 0


def cmd_plot_exclusion(args: argparse.Namespace) -> int:
    from .. import output, scan

    prefix = Path(args.out) if args.out else Path(args.dir) / "exclusion"
    for ext in (".png", ".pdf"):
        output.prepare_file(prefix.with_name(prefix.name + ext), "plot")
    written, notes = scan.plot_exclusion(Path(args.dir), prefix)
    for n in notes:
        say(f"note: {n}")
    say("wrote " + " and ".join(str(p) for p in written))
    return 0
