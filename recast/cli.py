"""The ``recast`` command line.

Every input problem ends as one line on stderr (``recast: error: <file or object>: <cause>``)
and a non-zero exit code, never a traceback; ``--debug`` shows tracebacks of internal errors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

from . import __version__

EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 2, 3, 130


def _parse_options(pairs: list[str]) -> dict[str, str]:
    from .errors import RecastError

    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise RecastError(f"-O {p!r}: write options as name=value")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@contextlib.contextmanager
def _progress(total: int | None, label: str):
    """A progress bar on stderr. Its console writes to its own duplicate of the terminal's
    descriptor: the readers silence descriptor 2 while HepMC3 parses, and the bar must not vanish
    with it. No live display at all (not even its blank line) when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = [SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn() if total else
               TextColumn("{task.completed} events"), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn()]
    if total:
        columns.append(TimeRemainingColumn())
    with os.fdopen(os.dup(2), "w", buffering=1) as stream:
        console = Console(file=stream)
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
            yield bar


def _say(msg: str) -> None:
    print(f"recast: {msg}", file=sys.stderr)


# -- commands -----------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from . import analysis as ana_mod
    from . import report

    from .validation import read_status

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

    from . import analysis as ana_mod
    from . import report
    from .validation import read_status

    a = ana_mod.load(args.analysis)
    con = report.console()
    con.print(f"[bold]{a.id}[/bold]: {a.title}")
    con.print(f"arXiv:{a.arxiv}  {a.journal}  HEPData {a.hepdata}")
    con.print(f"sqrt(s) = {a.sqrt_s_tev:g} TeV, luminosity {a.luminosity_ifb:g} fb^-1; aliases: "
              f"{', '.join(a.aliases) or '-'}")
    st = read_status(a.id)
    con.print(f"validation: {st['label']} ({st['created'][:10]}, report {st['report']}; rule: {st['rule']})"
              if st else "validation: not validated (no report; run 'recast validate')", markup=False)
    _print_models(con, a)
    opts = Table(title="Options (-O name=value)", title_justify="left", show_edge=False)
    for col in ("option", "default", "choices", "meaning"):
        opts.add_column(col)
    for o in a.options:
        opts.add_row(o.name, str(o.default), ", ".join(map(str, o.choices)) if o.choices else "number",
                     o.doc)
    con.print(opts)
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


def _source_from_args(args: argparse.Namespace, runs=()):
    """The event source the arguments name: a HepMC file, an LHE file for Pythia to shower, or
    Pythia generating from an SLHA card (at the analyses' collision energy, ``runs``)."""
    from . import pipeline
    from .errors import RecastError
    from .events import HepMCSource, PythiaConfig, PythiaSource

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
    from .events import HepMCSource

    if isinstance(source, HepMCSource):
        return source.max_events
    return source.config.nevents


def _run_outputs(out: str | None, analyses) -> dict[str, tuple[Path, Path]]:
    """Where ``run --out`` writes each analysis' results and limits, checked before anything runs:
    one analysis and a file name: that file and ``<stem>.limits.json``; several analyses, or an
    existing directory (or a name ending in '/'): ``DIR/<analysis>.json`` and
    ``DIR/<analysis>.limits.json``."""
    from . import output

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
    from . import output, results

    output.save(path, results.encode(doc), what)
    _say(f"wrote {path}" + (f" ({remark})" if remark else ""))


def cmd_run(args: argparse.Namespace) -> int:
    from . import output, pipeline, report, xsec
    from . import slha as slha_mod
    from .errors import RecastError
    from .events import PythiaSource

    analyses = pipeline.load_analyses([*args.analysis, *(args.analyses or [])])
    options = pipeline.resolve_options(analyses, *pipeline.split_options(_parse_options(args.option)))
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
        from .engine import FeatureDump

        dump = FeatureDump()
    label = runs[0].analysis.id if len(runs) == 1 else f"{len(runs)} analyses"
    total = _events_total(source)
    error = None
    start = time.perf_counter()
    n_read = 0
    with _progress(total, label) if not args.quiet else contextlib.nullcontext() as bar:
        task = bar.add_task("run", total=total, rate="") if bar else None

        def advance(n: int) -> None:
            nonlocal n_read
            n_read += n
            if bar:
                bar.update(task, advance=n, rate=f"{n_read / (time.perf_counter() - start):.0f} ev/s")

        try:
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
        _say(f"warning: {note}")
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
        _say(f"wrote the model inputs and scores of {n_events} events to {args.dump_features}")
    if args.limit:
        from . import stats

        for run in runs:
            aid = run.analysis.id
            where = outputs.get(aid, (None, None))
            limits = _limits(docs[aid], run.analysis, str(where[0] or "(not written)"), "result", "simplified",
                             args.xsec_unc, "best", quiet=args.quiet)
            report.print_limits(limits)
            if where[1] is not None:
                _say(f"wrote {output.save(where[1], stats.encode(limits), 'limits')}")
    if error is not None:
        raise RecastError(error)
    return 0


def _limits(doc: dict, ana, source: str, source_kind: str, likelihood: str, xsec_unc: bool, upper_limits: str,
            quiet: bool = False) -> dict:
    """The limits document of a result (or yields table), with a progress bar over the regions
    and combinations fitted (on stderr, when it is a terminal)."""
    from . import stats

    total = stats.count_steps(doc, ana, likelihood, upper_limits)
    with _progress(total, f"{ana.id} limits") if not quiet else contextlib.nullcontext() as bar:
        task = bar.add_task("limits", total=total, rate="") if bar else None

        def on_region(what: str, done: int, steps: int) -> None:
            if bar:
                bar.update(task, completed=done, total=steps, rate=what)

        limits = stats.compute(doc, ana, likelihood, xsec_unc=xsec_unc, upper_limits=upper_limits,
                               on_region=on_region)
    return stats.document(ana.id, source, limits, source_kind)


def cmd_limit(args: argparse.Namespace) -> int:
    from . import output, report, stats, yields

    if args.out:
        output.prepare_file(args.out, "limits file")
    doc, ana, kind = yields.load(Path(args.results), args.analysis)
    out = _limits(doc, ana, str(args.results), kind, args.likelihood, args.xsec_unc, args.upper_limits)
    report.print_limits(out)
    if args.out:
        written = output.save(args.out, stats.encode(out), "limits")
        _say(f"wrote {written}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from . import output

    output.prepare_file(Path(args.output), "HepMC output")
    args.events, args.hepmc_out = None, args.output
    src = _source_from_args(args)
    total = src.config.nevents
    start = time.perf_counter()
    with _progress(total, "generating") as bar:
        task = bar.add_task("gen", total=total, rate="")
        for batch in src:
            bar.update(task, advance=len(batch),
                       rate=f"{src.n_generated / (time.perf_counter() - start):.0f} ev/s")
    what = "the LHE file's" if src.config.lhe is not None else "Pythia's LO"
    _say(f"wrote {src.n_generated} events to {args.output} ({what} cross section "
         f"{src.sigma_gen_fb:.4g} fb) in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_make_slha(args: argparse.Namespace) -> int:
    from . import output
    from .errors import RecastError
    from .slha import SIMPLIFIED_PARENT, simplified_model

    given = {"--m-gluino": args.m_gluino, "--m-squark": args.m_squark, "--m-parent": args.m_parent}
    given = {k: v for k, v in given.items() if v is not None}
    wrong = "--m-squark" if SIMPLIFIED_PARENT[args.model] == "gluino" else "--m-gluino"
    if len(given) != 1 or wrong in given:
        right = "--m-gluino" if wrong == "--m-squark" else "--m-squark"
        raise RecastError(f"make-slha {args.model}: give the {SIMPLIFIED_PARENT[args.model]} mass once, "
                          f"with {right} or --m-parent")
    if args.output != "-":
        output.prepare_file(Path(args.output), "SLHA card")
    text = simplified_model(args.model, next(iter(given.values())), args.m_lsp)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        output.save(Path(args.output), text.encode(), "SLHA card")
        _say(f"wrote {args.output}")
    return 0


def cmd_convert_tmva(args: argparse.Namespace) -> int:
    from .models import tmva

    out = tmva.convert(Path(args.input), Path(args.output))
    info = tmva.model_info(out)
    _say(f"converted {args.input} ({info.get('n_trees')} trees, {info.get('n_variables')} variables, "
         f"BoostType={info.get('boost_type')}) to {out}")
    return 0


# -- recast data: the external ATLAS files (recast/artifacts.py) ---------------------------------


def _data_analyses(names: list[str] | str | None) -> list[str]:
    from . import artifacts

    if not names:
        return artifacts.analyses_with_artifacts()
    out = []
    for n in [names] if isinstance(names, str) else names:
        artifacts.registry(n)  # an unknown analysis is an input error
        out.append(artifacts.canonical_analysis(n))
    return out


def _human_size(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def cmd_data_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from . import artifacts, report

    table = Table(show_edge=False)
    for col in ("analysis", "id", "size", "where", "source"):
        table.add_column(col, no_wrap=col in ("analysis", "id", "where"))
    counts: dict[str, int] = {}
    for ana in _data_analyses(args.analysis):
        for a in artifacts.registry(ana):
            kind, path = artifacts.where(a)
            if path is not None and artifacts.problem(a, path):
                kind += " (mismatch)"
            counts[kind] = counts.get(kind, 0) + 1
            src = a.resource.label() if a.resource else "none: mirror or 'recast data add'"
            if a.alternatives:
                src += ", then " + ", ".join(r.label() for r, _ in a.alternatives)
            table.add_row(a.analysis, a.id, _human_size(a.size), kind, src)
    report.console().print(table)
    print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from . import artifacts
    from .errors import ArtifactError

    ok = failed = 0
    for ana in _data_analyses(args.analyses):
        for a in artifacts.registry(ana):
            kind, _ = artifacts.where(a)
            try:
                path = artifacts.fetch(a, progress=not args.quiet)
            except ArtifactError as exc:
                _say(f"error: {exc}")
                failed += 1
                continue
            ok += 1
            print(f"ok  {a.analysis}  {a.id}  {'downloaded' if kind == 'missing' else kind}  {path}")
    _say(f"{ok} artifacts ready, {failed} failed")
    return EXIT_INPUT if failed else 0


def cmd_data_verify(args: argparse.Namespace) -> int:
    from . import artifacts

    tally: dict[str, int] = {}
    for a, status, path in artifacts.verify(_data_analyses(args.analysis)[0] if args.analysis else None):
        tally[status] = tally.get(status, 0) + 1
        print(f"{status:8s}  {a.analysis}  {a.id}  {path or '-'}")
        if status == "mismatch":
            _say(f"error: {artifacts.problem(a, path)}")
    _say(", ".join(f"{n} {k}" for k, n in sorted(tally.items())))
    return EXIT_INPUT if tally.get("mismatch") else 0


def cmd_data_path(args: argparse.Namespace) -> int:
    from . import artifacts

    print(artifacts.fetch(artifacts.get(args.analysis, args.id)))
    return 0


def cmd_data_add(args: argparse.Namespace) -> int:
    from . import artifacts

    a = artifacts.add(Path(args.file), args.analysis)
    print(f"{args.file}: {a.analysis} {a.id} ({a.checksum()}) -> {a.cache_path}")
    return 0


# -- recast scan: many points on Dask (recast/scan.py) -------------------------------------------


def cmd_scan(args: argparse.Namespace) -> int:
    from . import output, parallel, pipeline, scan, xsec
    from .errors import RecastError

    output.prepare_dir(Path(args.out), "scan directory")
    if args.xsec_fb is not None:
        xsec.resolve(user_fb=args.xsec_fb)
    grid = scan.load_grid(args.grid, nevents=args.nevents, seed=args.seed, process=args.process)
    common, per = pipeline.split_options(_parse_options(args.option))
    settings = scan.resolve_settings(args.analyses, common, per, pythia_settings=tuple(args.pythia_setting),
                                     xsec_fb=args.xsec_fb, xsec_unc=args.xsec_unc,
                                     upper_limits=args.upper_limits, chunk_size=args.chunk_size)
    for n in grid.notes:
        _say(f"note: {n}")
    out = Path(args.out)
    where = parallel.describe(args.workers, args.scheduler)
    state: dict = {"start": None, "done": 0}
    with contextlib.ExitStack() as stack:

        def on_start(to_run: int, reused: int) -> None:
            if reused:
                _say(f"{reused} of {len(grid.points)} points already done in {out} (same settings): reused")
            if to_run:
                each = f"{grid.nevents} events each" if grid.nevents else "every event of each file"
                _say(f"running {to_run} point(s) ({each}; {', '.join(settings.analyses)}) on {where}")
            state["start"] = time.perf_counter()
            if to_run and not args.quiet:
                state["bar"] = bar = stack.enter_context(_progress(to_run, "scan"))
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
                _say(line)

        def on_note(message: str) -> None:
            bar = state.get("bar")
            if bar is not None and not bar.disable:  # above the live bar
                bar.console.print(f"recast: note: {message}", markup=False, highlight=False, soft_wrap=True)
            else:
                _say(f"note: {message}")

        report = scan.run_scan(grid, settings, out, workers=args.workers, scheduler=args.scheduler,
                               on_start=on_start, on_point=on_point, on_note=on_note, replace=args.replace)
    elapsed = time.perf_counter() - (state["start"] or time.perf_counter())
    rate = f" in {elapsed:.1f} s ({report.ran / (elapsed / 60):.1f} points/min)" if report.ran and elapsed > 0 else ""
    _say(f"{report.total} points: {report.ok} ok ({report.excluded} excluded), {report.failed} failed, "
         f"{report.skipped} reused; ran {report.ran}{rate}; wrote {out / 'summary.json'} and {out / 'summary.csv'}")
    if report.failed:
        raise RecastError(f"{report.failed} of {report.total} points failed (first: {report.failures[0]}); "
                          f"see {out / 'summary.csv'}; rerunning the same command retries them")
    return 0


VALIDATION_OUT = "recast-validation"  # cmd_validate's default report directory: ./recast-validation/<ANA>


def cmd_validate(args: argparse.Namespace) -> int:
    from . import analysis as ana_mod
    from . import output, parallel, paths, validation
    from .validation import report as validation_report
    from .errors import RecastError

    ana = ana_mod.load(args.analysis)
    spec = validation.load_spec(Path(args.spec) if args.spec else validation.spec_path(ana.id), ana)
    points = spec.points
    if args.points:
        known = {p.name for p in points}
        unknown = [n for n in args.points if n not in known]
        if unknown:
            raise RecastError(f"--points: {', '.join(unknown)} not in {spec.path} (points: {', '.join(sorted(known))})")
        points = [p for p in points if p.name in args.points]
    fewer = bool(args.nevents) and any(args.nevents < p.nevents for p in points)
    if args.nevents:
        for p in points:
            p.nevents = args.nevents
    if not points and not spec.no_reference:
        raise RecastError(f"{spec.path}: no points to run")
    out = Path(args.out) if args.out else Path(VALIDATION_OUT) / ana.id
    # every output location is checked before the first event is generated
    committed = paths.committed_reports(out)
    if committed is not None and not args.store_status:
        raise RecastError(f"{out}: inside the repository's committed validation reports ({committed}); give another "
                          f"--out, or add --store-status to regenerate the committed report with the stored status")
    stored = None
    if args.store_status:
        if len(points) < len(spec.points) or fewer:
            raise RecastError(f"--store-status: the stored status needs every point of {spec.path} with at least "
                              f"its number of events; --points or -n ask for fewer")
        stored = output.prepare_file(paths.analysis_data_dir(ana.id) / validation.STATUS_FILE, "stored validation status")
    output.prepare_dir(out, "report directory")
    output.prepare_dir(out / "figures", "report's figures directory")
    # where the status says its report is: relative to the checkout for a committed report
    report_at = out.resolve().relative_to(committed.parent.parent).as_posix() if committed else str(out.resolve())

    runs: dict = {}
    start = time.perf_counter()
    if points:
        where = parallel.describe(args.workers, args.scheduler)
        _say(f"validating {ana.id}: {len(points)} point(s), {sum(p.nevents for p in points)} events in all, on {where}")
        with contextlib.ExitStack() as stack:
            bar = None if args.quiet else stack.enter_context(_progress(len(points), "validate"))
            task = bar.add_task("validate", total=len(points), rate="") if bar else None

            def on_done(outcome: dict) -> None:
                line = (f"{outcome['name']}: FAILED: {outcome['error']}" if outcome.get("error")
                        else f"{outcome['name']}: done in {outcome['seconds']:.0f} s")
                if bar is not None:
                    bar.update(task, advance=1)
                    if not bar.disable:
                        bar.console.print(line, markup=False, highlight=False)
                        return
                if not args.quiet:
                    _say(line)

            runs = validation.run_points(spec, points, workers=args.workers, scheduler=args.scheduler,
                                         on_done=on_done)
    compared = {p.name: validation.compare_point(spec, p, runs[p.name]["result"])
                for p in points if runs[p.name].get("result")}
    status = validation.status(spec, compared)
    provenance = validation.provenance(spec, points, runs, args)
    status_doc = validation.status_document(ana.id, status, provenance, report_at)
    files = validation_report.save(out, validation_report.render(spec, runs, compared, status, provenance, status_doc))
    failed = [n for n, r in runs.items() if r.get("error")]
    if stored is not None and not failed:
        validation.write_status(stored, status_doc)
        _say(f"stored the status in {stored}")
    elif stored is not None:
        _say(f"note: the stored status in {stored} is unchanged: {len(failed)} point(s) failed")
    what = f": {spec.no_reference.rstrip('.')}" if not points and spec.no_reference else \
        f" in {time.perf_counter() - start:.0f} s"
    _say(f"{ana.id}: {status['label']}{what}; wrote {files['report.html']}, {files['report.md']}, "
         f"{files['summary.json']}")
    if failed:
        raise RecastError(f"{len(failed)} of {len(points)} points failed (first: {failed[0]}: "
                          f"{runs[failed[0]]['error']}); the report shows them")
    return 0


def _process_names() -> list[str]:
    from .events.pythia import PROCESSES

    return sorted(PROCESSES)


def _num(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _cls(x) -> str:
    """A CLs value; at the floor below which recast.stats reports a bound, the bound."""
    from .stats import CLS_FLOOR

    return f"<{CLS_FLOOR:g}" if x is not None and x <= CLS_FLOOR else _num(x)


def cmd_plot_exclusion(args: argparse.Namespace) -> int:
    from . import scan

    from . import output

    prefix = Path(args.out) if args.out else Path(args.dir) / "exclusion"
    for ext in (".png", ".pdf"):
        output.prepare_file(prefix.with_name(prefix.name + ext), "plot")
    written, notes = scan.plot_exclusion(Path(args.dir), prefix)
    for n in notes:
        _say(f"note: {n}")
    _say("wrote " + " and ".join(str(p) for p in written))
    return 0


# -- parser -------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error reported in one line like every other input problem."""

    def error(self, message: str):
        self.exit(EXIT_INPUT, f"recast: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _add_generation(p: argparse.ArgumentParser, events_default: int | None) -> None:
    from .events.pythia import PROCESSES

    p.add_argument("--process", default="gluino-pair", choices=sorted(PROCESSES),
                   help="production process for Pythia (default: gluino-pair)")
    p.add_argument("-n", "--nevents", type=_positive_int, default=events_default,
                   help="events to generate (default 5000; with --events or --lhe: read at most this many, "
                        "default all)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed for Pythia and for the per-event random streams (default: 1)")
    p.add_argument("--chunk-size", type=_positive_int, default=1000,
                   help="events per columnar batch (default 1000)")
    p.add_argument("--pythia-setting", action="append", default=[], metavar="'KEY = VALUE'",
                   help="extra Pythia setting (repeatable), e.g. 'SpaceShower:pTmaxMatch = 1'; recorded in the results")


def build_parser() -> argparse.ArgumentParser:
    from .events.hepmc import FORWARD_PARENTS, MOMENTUM_UNITS, READERS
    from .slha import SIMPLIFIED_MODELS

    parser = _Parser(prog="recast", description="Recast LHC searches on truth-level events.")
    parser.add_argument("--version", action="version", version=f"recast {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the available analyses")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="signal regions, published numbers and options of an analysis")
    p.add_argument("analysis")
    p.add_argument("--notes", action="store_true", help="also print the analysis' documentation")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("run", help="run analyses on HepMC events, on LHE events showered by Pythia, or on Pythia "
                                   "events from an SLHA point (one pass over the events for all analyses)")
    p.add_argument("analysis", nargs="*", metavar="ANA",
                   help="analyses to run (ids or aliases; 'all' for every one, see 'recast list')")
    p.add_argument("--analyses", nargs="+", metavar="ANA", help="the same, as an option (e.g. --analyses all)")
    p.add_argument("--events", help="HepMC3 or HepMC2 file, plain or .gz/.bz2/.xz/.zst")
    p.add_argument("--lhe", help="Les Houches Event file (plain or .gz), showered and hadronised by Pythia; "
                                 "beams, energy and cross section from the file")
    p.add_argument("--slha", help="SLHA model point: generate with Pythia (with --events: only look up the cross "
                                  "section; with --lhe: the decay tables)")
    _add_generation(p, None)
    p.add_argument("--max-events", type=_positive_int, help=argparse.SUPPRESS)
    p.add_argument("--reader", choices=READERS, default="columnar",
                   help="HepMC parser: columnar (numba, default) or pyhepmc (HepMC3's own, the reference)")
    p.add_argument("--forward-parents", choices=FORWARD_PARENTS, default="keep",
                   help="HepMC3 particle lines naming a parent further down the event: keep the link "
                        "(default, as HepMC3 3.3 and the generator) or drop it (as HepMC3 3.2)")
    p.add_argument("--momentum-unit", type=str.upper, choices=MOMENTUM_UNITS,
                   help="HepMC momentum unit, overriding the one the file declares (default: as the file says)")
    p.add_argument("--allow-beam-mismatch", action="store_true",
                   help="run even if the HepMC file's beams or sqrt(s) are not the analysis' (a warning instead)")
    p.add_argument("--xsec-fb", type=float, help="signal cross section in fb (overrides SLHA and tables)")
    p.add_argument("-O", "--option", action="append", metavar="[ANA:]NAME=VALUE",
                   help="set an analysis option (see 'recast info ANA'): for every analysis that has it, or ANA only")
    p.add_argument("--out", help="write the results JSON here (atomically); with several analyses a directory "
                                 "(DIR/<ANA>.json each)")
    p.add_argument("--hepmc-out", help="with --slha or --lhe: also write the generated events as HepMC3")
    p.add_argument("--dump-features", metavar="FILE",
                   help="write every model's exact inputs, fold and score per event (.parquet or .npz)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no tables")
    p.add_argument("--limit", action="store_true",
                   help="also compute CLs and limits (simplified likelihoods; OUT.limits.json with --out)")
    p.add_argument("--xsec-unc", action="store_true", help="with --limit: include the cross-section uncertainty")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("limit", help="CLs, r and upper limits of a results file or of a table of signal yields "
                                     "(simplified and/or full likelihoods)")
    p.add_argument("results", metavar="FILE",
                   help="a results JSON written by 'recast run --out', or your own signal yields: a CSV with the "
                        "header 'region,yield[,yield_err][,analysis]' or a recast-yields JSON "
                        "(recast/schemas/yields-1.schema.json); expected events at the analysis' luminosity")
    p.add_argument("--analysis", metavar="ANA", help="the analysis of a yields table that does not name it")
    p.add_argument("--likelihood", choices=("simplified", "full", "both"), default="simplified",
                   help="simplified per-region likelihoods, the published full ones where they exist, or both")
    p.add_argument("--xsec-unc", action="store_true", help="include the cross-section uncertainty in the signal")
    p.add_argument("--upper-limits", choices=("none", "best", "all"), default="best",
                   help="95%% CL upper limits on mu: for the deciding region (default), every region (slower) "
                        "or none")
    p.add_argument("--out", help="write the limits JSON here (atomically)")
    p.set_defaults(func=cmd_limit)

    p = sub.add_parser("generate", help="generate events with Pythia 8 from an SLHA point (or shower an LHE file) "
                                        "into a HepMC3 file")
    p.add_argument("--slha", help="SLHA model point (with --lhe: the decay tables)")
    p.add_argument("--lhe", help="Les Houches Event file (plain or .gz) to shower and hadronise instead")
    _add_generation(p, None)
    p.add_argument("-o", "--output", required=True, help="output file (.hepmc, .hepmc.gz, .bz2, .xz, .zst)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("make-slha", help="write a simplified-model SLHA card (gluino or squark pairs)")
    p.add_argument("model", choices=sorted(SIMPLIFIED_MODELS),
                   help="; ".join(f"{k}: {v}" for k, v in SIMPLIFIED_MODELS.items()).replace("%", "%%"))
    p.add_argument("--m-gluino", type=float, help="gluino mass in GeV (gtt, gbb, gqq, gtb)")
    p.add_argument("--m-squark", type=float, help="mass of the ten light-flavour squarks in GeV (sqq)")
    p.add_argument("--m-parent", type=float, help="the produced sparticle's mass in GeV, whichever it is")
    p.add_argument("--m-lsp", type=float, required=True, help="neutralino-1 mass in GeV")
    p.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    p.set_defaults(func=cmd_make_slha)

    p = sub.add_parser("convert", help="convert a preserved model to ONNX")
    formats = p.add_subparsers(dest="format", required=True, metavar="FORMAT")
    q = formats.add_parser("tmva", help="TMVA BDT weight file (XML) to ONNX (TreeEnsembleRegressor)")
    q.add_argument("input", metavar="IN.xml", help="TMVA MethodBDT weight file")
    q.add_argument("output", metavar="OUT.onnx", help="ONNX model to write (atomically)")
    q.set_defaults(func=cmd_convert_tmva)

    p = sub.add_parser("data", help="the external ATLAS files (models, workspaces, cards): list, fetch, verify")
    data = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    q = data.add_parser("list", help="the registered files and where each is found (mirror, cache, missing)")
    q.add_argument("analysis", nargs="?")
    q.set_defaults(func=cmd_data_list)
    q = data.add_parser("fetch", help="make every file (of the given analyses) available: mirror, cache or download")
    q.add_argument("analyses", nargs="*", metavar="ANA")
    q.add_argument("-q", "--quiet", action="store_true", help="no download progress bar")
    q.set_defaults(func=cmd_data_fetch)
    q = data.add_parser("verify", help="re-hash every copy present in the mirror and the cache")
    q.add_argument("analysis", nargs="?")
    q.set_defaults(func=cmd_data_verify)
    q = data.add_parser("path", help="print the path of one file, fetching it if needed")
    q.add_argument("analysis")
    q.add_argument("id", help="the file name, as in 'recast data list'")
    q.set_defaults(func=cmd_data_path)
    q = data.add_parser("add", help="register a copy you obtained yourself (matched by checksum)")
    q.add_argument("file")
    q.add_argument("--analysis", help="only match the files of this analysis")
    q.set_defaults(func=cmd_data_add)

    p = sub.add_parser("validate", help="compare an analysis with ATLAS' published cutflows and A x eff: a report")
    p.add_argument("analysis", help="analysis id or alias")
    p.add_argument("--spec", help="the specification (default: the one shipped with recast, "
                                  "data/<ANA>/validation_spec.yaml)")
    p.add_argument("--points", nargs="+", metavar="NAME", help="only these points")
    p.add_argument("-n", "--nevents", type=_positive_int, help="events per point (default: each point's own)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, help="local worker processes (default: min(2, cores))")
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler instead")
    p.add_argument("--out", metavar="DIR",
                   help=f"report directory: report.html, report.md, summary.json, the status (validation.json), "
                        f"figures/ (default: ./{VALIDATION_OUT}/<ANA> in the current directory; the repository's "
                        f"committed validation/reports/ only with --store-status)")
    p.add_argument("--store-status", action="store_true",
                   help="for developers regenerating the committed report: also store the status in recast's "
                        "data/<ANA>/validation.json, which 'recast list' and 'recast info' show (needs every point "
                        "of the specification at its own number of events or more)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no line per point")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("scan", help="run a grid of model points through analyses on Dask, one results directory")
    p.add_argument("grid", metavar="GRID",
                   help="a directory or glob of SLHA files, or a YAML template over a mass grid, e.g. "
                        "{model: gqq, m_gluino: [1800, 2200], m_lsp: [100, 600], nevents: 5000, seed: 1}; or "
                        "existing events: a directory or glob of HepMC files (NAME.slha beside NAME.hepmc.gz gives "
                        "masses and cross section) or a YAML listing {points: [{events: FILE, xsec_fb: X, m_parent: "
                        "M, m_lsp: M}, ...]}")
    p.add_argument("--analyses", nargs="+", required=True, metavar="ANA", help="analyses to run on every point")
    p.add_argument("-n", "--nevents", type=_positive_int,
                   help="events per point (default: the template's, else 5000; events grids: all of each file)")
    p.add_argument("--seed", type=int, help="grid seed; each point's seed derives from it and the point "
                                            "(default: the template's, else 1)")
    p.add_argument("--process", choices=_process_names(),
                   help="production process (default: the template model's, else gluino-pair)")
    p.add_argument("--chunk-size", type=_positive_int, default=1000, help="events per columnar batch (default 1000)")
    p.add_argument("--pythia-setting", action="append", default=[], metavar="'KEY = VALUE'",
                   help="extra Pythia setting for every point (repeatable)")
    p.add_argument("-O", "--option", action="append", metavar="[ANA:]NAME=VALUE",
                   help="analysis option: for every analysis that has it, or for ANA only")
    p.add_argument("--xsec-fb", type=float, help="one cross section in fb for every point (overrides SLHA and tables)")
    p.add_argument("--xsec-unc", action="store_true", help="include the cross-section uncertainty in the limits")
    p.add_argument("--upper-limits", choices=("none", "best", "all"), default="none",
                   help="95%% CL upper limits on mu per point: none (default: CLs decides, and a multi-bin "
                        "limit costs 20-90 s), the deciding region, or every region")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int,
                       help="local worker processes, one thread each (default: min(2, cores))")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="an existing Dask scheduler, e.g. tcp://host:8786, instead of a local cluster")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="results directory: points/<name>.json, summary.json, summary.csv (reruns skip finished points)")
    p.add_argument("--replace", action="store_true",
                   help="rerun points that DIR holds finished with other settings (otherwise an error: results are "
                        "never replaced silently)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no line per point")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("plot-exclusion", help="draw a scan in the (m_parent, m_LSP) plane with its CLs = 0.05 contour")
    p.add_argument("dir", metavar="DIR", help="a scan's results directory (with summary.json)")
    p.add_argument("--out", metavar="PREFIX", help="write PREFIX.png and PREFIX.pdf (default: DIR/exclusion)")
    p.set_defaults(func=cmd_plot_exclusion)
    return parser


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    _say(f"warning: {message}")


def main(argv: list[str] | None = None) -> int:
    from .errors import RecastError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run" and not (args.analysis or args.analyses):
        parser.error("run: give the analyses to run (ids, aliases or 'all'; see 'recast list')")
    warnings.showwarning = _warning_line
    try:
        return args.func(args)
    except RecastError as exc:
        _say(f"error: {exc}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not bad input: say so in one line unless debugging
        if args.debug:
            raise
        _say(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
