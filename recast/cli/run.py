"""`recast run`, `recast generate` and `recast make-slha`: events in (SLHA point, HepMC, LHE), results out."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from .common import parse_options, progress, say, with_detector
from .limit import limits_document


def _source_from_args(args: argparse.Namespace, runs=()):
    """The event source the arguments name: a HepMC file, an LHE file for Pythia to shower, or
    Pythia generating from an SLHA card (at the analyses' collision energy, ``runs``)."""
    from .. import pipeline
    from ..errors import RecastError
    from ..events import HepMCSource, PythiaConfig, PythiaSource

    given = [f"--{k}" for k in ("events", "lhe") if getattr(args, k, None) is not None]
    if len(given) > 1:
        raise RecastError(f"give one event input: {' or '.join(given)}")
    if args.events is not None:
        if args.nevents is not None and args.max_events is None:
            args.max_events = args.nevents
        return HepMCSource(Path(args.events), chunk_size=args.chunk_size, max_events=args.max_events,
                           reader=args.reader, forward_parents=args.forward_parents,
                           momentum_unit=getattr(args, "momentum_unit", None))
    hepmc_out = Path(args.hepmc_out) if getattr(args, "hepmc_out", None) else None
    if getattr(args, "lhe", None) is not None:
        cfg = PythiaConfig(lhe=Path(args.lhe), slha=Path(args.slha) if args.slha else None, nevents=args.nevents,
                           seed=args.seed, extra_settings=tuple(args.pythia_setting))
        return PythiaSource(cfg, chunk_size=args.chunk_size, hepmc_out=hepmc_out)
    if args.slha is None:
        raise RecastError("give the events: --events FILE.hepmc[.gz], --lhe FILE.lhe[.gz] or --slha POINT.slha [-n N]")
    cfg = PythiaConfig(slha=Path(args.slha), process=args.process, nevents=args.nevents or 5000, seed=args.seed,
                       sqrt_s_gev=pipeline.collision_energy(runs) if runs else 13000.0,
                       extra_settings=tuple(args.pythia_setting))
    return PythiaSource(cfg, chunk_size=args.chunk_size, hepmc_out=hepmc_out)


def _events_total(source) -> int | None:
    """How many events the source will give, if known in advance (for the progress bar)."""
    from ..events import HepMCSource

    if isinstance(source, HepMCSource):
        return source.max_events
    return source.config.nevents


def _point_of(source, runs, args: argparse.Namespace):
    """The model point a generated source stands for (None for a HepMC or LHE input)."""
    from .. import pipeline
    from ..events import PythiaSource

    if not isinstance(source, PythiaSource) or source.config.lhe is not None:
        return None
    cfg = source.config
    return pipeline.PointSpec(slha=cfg.slha, analyses=[run.analysis.id for run in runs], nevents=cfg.nevents,
                              seed=cfg.seed, process=cfg.process, options={run.analysis.id: run.options for run in runs},
                              chunk_size=source.chunk_size, pythia_settings=tuple(cfg.extra_settings),
                              block_events=pipeline.BLOCK_EVENTS)


def _run_outputs(out: str | None, analyses) -> dict[str, tuple[Path, Path]]:
    """Where ``run --out`` writes each analysis' results and limits, checked before anything runs:
    one analysis and a file name: that file and ``<stem>.limits.json``; several analyses, or an
    existing directory (or a name ending in '/'): ``DIR/<analysis>.json`` and
    ``DIR/<analysis>.limits.json``."""
    from .. import output

    if out is None:
        return {}
    path = Path(out)
    if len(analyses) == 1 and not (path.is_dir() or out.endswith(("/", os.sep))):
        output.prepare_file(path, "results file")
        return {analyses[0].id: (path, path.with_suffix(".limits.json"))}
    if path.suffix.lower() == ".json" and not path.is_dir():
        raise output.OutputError(f"--out {out}: with several analyses, give a directory (one <analysis>.json "
                                 f"in it per analysis)")
    output.prepare_dir(path, "results directory")
    return {a.id: (path / f"{a.id}.json", path / f"{a.id}.limits.json") for a in analyses}


def _save_json(path: Path, doc: dict, what: str, remark: str = "") -> None:
    from .. import output, results

    output.save(path, results.encode(doc), what)
    say(f"wrote {path}" + (f" ({remark})" if remark else ""))


def cmd_run(args: argparse.Namespace) -> int:
    if args.events is not None:  # a first run compiles the HepMC reader while the models load
        from ..events.hepmc import compile_in_background

        compile_in_background(Path(args.events), args.reader)
    from ..objects import antikt

    antikt.compile_in_background()  # and the jets' kernel in another (fastjet stands in until it is done)
    from .. import output, pipeline, report, xsec
    from .. import slha as slha_mod
    from ..errors import RecastError
    from ..events import PythiaSource

    analyses = pipeline.load_analyses([*args.analysis, *(args.analyses or [])])
    pairs = with_detector(parse_options(args.option), args.detector, analyses)
    options = pipeline.resolve_options(analyses, *pipeline.split_options(pairs))
    outputs = _run_outputs(args.out, analyses)
    for extra, what in ((args.dump_features, "feature dump"), (args.hepmc_out, "HepMC output")):
        if extra:
            output.prepare_file(Path(extra), what)
    if args.slha:
        slha_mod.read(args.slha)  # a bad card fails before any event is read
    if args.xsec_fb is not None:
        xsec.resolve(user_fb=args.xsec_fb)  # reject a bad value before generating anything
    runs = pipeline.prepare(analyses, options)  # a bad model fails here, before any generation
    source = _source_from_args(args, runs)
    if args.hepmc_out and not isinstance(source, PythiaSource):
        raise RecastError("--hepmc-out: only generated events (--slha or --lhe) can be written")
    dump = None
    if args.dump_features:
        if len(runs) != 1:
            raise RecastError("--dump-features: run one analysis at a time")
        if not runs[0].models.loaded:
            raise RecastError(f"--dump-features: {runs[0].analysis.id} evaluates no model with these options")
        from ..engine import FeatureDump

        dump = FeatureDump()
    label = runs[0].analysis.id if len(runs) == 1 else f"{len(runs)} analyses"
    total = _events_total(source)
    point = _point_of(source, runs, args)
    if point is None and (args.workers or args.scheduler):
        raise RecastError(f"{'--workers' if args.workers else '--scheduler'}: only a generated point (--slha without "
                          f"--events or --lhe) is shared between workers, by its generation blocks")
    if point is not None and (args.workers or args.scheduler):
        from .. import parallel
        from ..events.pythia import generation_blocks

        blocks = len(generation_blocks(point.nevents, point.seed, point.block_events))
        if blocks > 1:  # one block runs here: there is nothing to share
            label += f", {blocks} blocks on {parallel.describe(args.workers, args.scheduler)}"
    error = None
    start = time.perf_counter()
    n_read = 0
    with progress(total, label) if not args.quiet else contextlib.nullcontext() as bar:
        task = bar.add_task("run", total=total, rate="") if bar else None

        def advance(n: int) -> None:
            nonlocal n_read
            n_read += n
            if bar:
                bar.update(task, advance=n, rate=f"{n_read / (time.perf_counter() - start):.0f} ev/s")

        try:
            if point is not None:  # block by block, here or on workers (the same events and counts either way)
                pipeline.generate_point(point, {None: runs}, on_events=advance, workers=args.workers,
                                        scheduler=args.scheduler, dump=dump, hepmc_out=source.hepmc_out, source=source)
            else:
                pipeline.analyse(source, runs, seed=args.seed, on_batch=advance, dump=dump,
                                 allow_beam_mismatch=args.allow_beam_mismatch)
        except RecastError as exc:
            if runs[0].counts.n_events == 0 or not args.out:
                raise
            error = str(exc)
    elapsed = time.perf_counter() - start
    docs = pipeline.documents(source, runs, seed=args.seed, xsec_fb=args.xsec_fb,
                              slha_path=Path(args.slha) if args.slha else None, process=args.process,
                              complete=error is None, error=error)
    for note in dict.fromkeys(n for doc in docs.values() for n in doc["notes"]):
        say(f"warning: {note}")
    from ..probe.domain import warning as domain_warning

    for run in runs:
        outside = domain_warning(run.counts.domain)
        if outside:
            say(f"warning: {run.analysis.id}: {outside}")
    n_events = runs[0].counts.n_events
    for aid, doc in docs.items():
        if not args.quiet:
            report.print_run(doc)
        if aid in outputs:
            _save_json(outputs[aid][0], doc, "results", "" if error is None else "incomplete")
    if not args.quiet:
        print(f"\n{n_events} events in {elapsed:.1f} s ({n_events / max(elapsed, 1e-9):.0f} events/s)"
              + (f", {len(runs)} analyses" if len(runs) > 1 else ""), file=sys.stderr)
    if dump is not None:
        dump.write(Path(args.dump_features))
        say(f"wrote the model inputs and scores of {n_events} events to {args.dump_features}")
    if args.limit:
        from .. import stats

        for run in runs:
            aid = run.analysis.id
            where = outputs.get(aid, (None, None))
            limits = limits_document(docs[aid], run.analysis, str(where[0] or "(not written)"), "result", "simplified",
                             args.xsec_unc, "best", quiet=args.quiet)
            report.print_limits(limits)
            if where[1] is not None:
                say(f"wrote {output.save(where[1], stats.encode(limits), 'limits')}")
    if error is not None:
        raise RecastError(error)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .. import output

    output.prepare_file(Path(args.output), "HepMC output")
    args.events, args.hepmc_out = None, args.output
    src = _source_from_args(args)
    total = src.config.nevents
    start = time.perf_counter()
    with progress(total, "generating") as bar:
        task = bar.add_task("gen", total=total, rate="")
        for batch in src:
            bar.update(task, advance=len(batch),
                       rate=f"{src.n_generated / (time.perf_counter() - start):.0f} ev/s")
    what = "the LHE file's" if src.config.lhe is not None else "Pythia's LO"
    say(f"wrote {src.n_generated} events to {args.output} ({what} cross section "
         f"{src.sigma_gen_fb:.4g} fb) in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_make_slha(args: argparse.Namespace) -> int:
    from .. import output
    from ..errors import RecastError
    from ..slha import SIMPLIFIED_PARENT, simplified_model

    parent = SIMPLIFIED_PARENT[args.model]
    given = {"--m-gluino": args.m_gluino, "--m-squark": args.m_squark, "--m-stop": args.m_stop,
             "--m-parent": args.m_parent}
    given = {k: v for k, v in given.items() if v is not None}
    if len(given) != 1 or next(iter(given)) not in (f"--m-{parent}", "--m-parent"):
        raise RecastError(f"make-slha {args.model}: give the {parent} mass once, with --m-{parent} or --m-parent")
    if args.output != "-":
        output.prepare_file(Path(args.output), "SLHA card")
    text = simplified_model(args.model, next(iter(given.values())), args.m_lsp, args.m_chargino)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        output.save(Path(args.output), text.encode(), "SLHA card")
        say(f"wrote {args.output}")
    return 0
