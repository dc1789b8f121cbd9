"""`recast probe`: how far an analysis' ML selections can be trusted on these events."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from .common import parse_options, progress, say, with_detector

PROBE_OUT = "recast-probe"


def cmd_probe(args: argparse.Namespace) -> int:
    from .. import detector, engine, output, pipeline, probe
    from .. import slha as slha_mod
    from ..events.sanity import checked_batches
    from ..probe import report
    from .run import _events_total, _source_from_args

    analysis = pipeline.load_analyses([args.analysis])[0]
    pairs = with_detector(parse_options(args.option), args.detector, [analysis])
    options = pipeline.resolve_options([analysis], *pipeline.split_options(pairs))[analysis.id]
    out = Path(args.out) if args.out else Path(PROBE_OUT) / analysis.id
    output.prepare_dir(out, "probe directory")
    if args.slha:
        slha_mod.read(args.slha)  # a bad card fails before anything else
    prepared = probe.prepare(analysis, options, args.model, not args.no_conventions)
    config = detector.object_config(analysis, options)
    run = pipeline.AnalysisRun(analysis, options, prepared[0], engine.Counts(analysis.id), config)
    source = _source_from_args(args, [run])
    total = _events_total(source)
    start = time.perf_counter()
    with progress(total, f"{analysis.id} probe") if not args.quiet else contextlib.nullcontext() as bar:
        task = bar.add_task("events", total=total, rate="") if bar else None
        n_read = 0

        def advance(n: int) -> None:
            nonlocal n_read
            n_read += n
            if bar:
                bar.update(task, advance=n, rate=f"{n_read / (time.perf_counter() - start):.0f} ev/s")

        def on_model(name: str) -> None:
            if bar:
                bar.update(task, rate=f"probing {name}")

        batches = checked_batches(source, [(analysis.id, analysis.sqrt_s_tev * 1000.0)],
                                  allow_mismatch=args.allow_beam_mismatch)
        chunks = (detector.build(batch, config, args.seed) for batch in batches)
        result = probe.probe(analysis, options, chunks, only=args.model, repeats=args.repeats, steps=args.steps,
                             seed=args.seed, prepared=prepared, on_chunk=advance, on_model=on_model)
    doc = report.document(result, pipeline.input_record(source))
    written = report.save(out, report.render(doc))
    if not args.quiet:
        _print_summary(doc)
        print(f"\n{doc['events']['n']} events probed in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    say(f"wrote {written['report.html']} and {written['probe.json']}")
    return 0


def _print_summary(doc: dict) -> None:
    """The ML regions: A x eff, share outside the domain, the worst-case band."""
    def pct(x):
        return "-" if x is None else f"{100 * x:+.1f}%"

    print(f"{'region':<22} {'model':<10} {'A x eff':>10} {'outside':>8} {'band down':>10} {'band up':>9}")
    for r in doc["regions"]:
        print(f"{r['name']:<22} {r['card']:<10} {r['efficiency']:>10.4g} {100 * r['fraction_outside']:>7.1f}% "
              f"{pct(r['band']['relative_down']):>10} {pct(r['band']['relative_up']):>9}")
