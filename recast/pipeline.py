"""One pass over one event source through every requested analysis.

The events are read (or generated) once; each chunk's objects are built once per distinct object
definition and shared by the analyses that use it; each analysis accumulates its own counts. At
the end every analysis gets its result document, with the cross section by the precedence of
:mod:`recast.xsec`. Used by ``recast run`` (one or several analyses, HepMC, LHE or SLHA input),
``recast scan`` (one task per point) and ``recast validate``; usable from Python::

    runs = pipeline.prepare(["ANA-SUSY-2018-22", "ANA-SUSY-2018-30"])
    pipeline.analyse(HepMCSource(Path("events.hepmc.gz")), runs, seed=1)
    docs = pipeline.documents(source, runs, seed=1)

A model point (:func:`run_point`, :func:`generate_point`) is generated in blocks
(:func:`recast.events.pythia.generation_blocks`: a Pythia run of its own seed per
:data:`~recast.events.pythia.BLOCK_EVENTS` events, block 0 with the point's seed). Each block is
counted apart (:func:`count_block`), in this process or on Dask workers (:func:`run_block`), and
the counts are added in block order, so a point's result is the same, to the last bit, on one
worker or many.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import analysis as ana_mod
from . import detector, engine, results, xsec
from . import slha as slha_mod
from .errors import RecastError
from .events import HepMCSource, PythiaConfig, PythiaSource
from .events.pythia import BLOCK_EVENTS, GenerationBlock, combined_sigma, generation_blocks


def input_record(source) -> dict[str, Any]:
    """How the events were obtained, for the results' ``input`` block."""
    from .events.pythia import pythia_version

    if isinstance(source, HepMCSource):
        return {"kind": "hepmc", "path": str(source.path), "sha256": results.sha256_of(source.path),
                "format": source.format, "chunk_size": source.chunk_size, "reader": source.reader,
                "forward_parents": source.forward_parents}
    cfg = source.config
    lhe = cfg.lhe is not None
    generator = {"name": "Pythia 8", "version": pythia_version(), "process": None if lhe else cfg.process,
                 "seed": cfg.seed, "nevents": cfg.nevents,
                 "sqrt_s_gev": source.sqrt_s_gev if lhe and source.sqrt_s_gev else cfg.sqrt_s_gev,
                 "settings": cfg.settings(),
                 "slha": str(cfg.slha) if cfg.slha else None,
                 "slha_sha256": results.sha256_of(Path(cfg.slha)) if cfg.slha else None,
                 "sigma_gen_fb": source.sigma_gen_fb}
    if not lhe:  # every Pythia run of the point, with its seed
        generator["block_events"] = source.block_events
        generator["blocks"] = [b.to_dict() for b in source.generated_blocks]
    if lhe:
        generator["lhe"] = str(cfg.lhe)
        generator["lhe_sha256"] = results.sha256_of(Path(cfg.lhe))
    return {"kind": "lhe" if lhe else "pythia", "chunk_size": source.chunk_size,
            "generator": generator}


def cross_section(source, *, user_fb: float | None, slha_path: Path | None, process: str | None,
                  sqrt_s_gev: float, user_source: str | None = None) -> xsec.CrossSection | None:
    """The run's cross section by the precedence of :mod:`recast.xsec`; ``user_source`` says where
    ``user_fb`` came from when not from ``--xsec-fb``."""
    slha_doc = slha_mod.read(slha_path) if slha_path else None
    if isinstance(source, HepMCSource):
        generator_fb = source.cross_section_fb
    else:
        generator_fb = source.sigma_gen_fb
        if source.config.lhe is not None:
            process = None  # the LHE file says what was produced, not the --process switches
    return xsec.resolve(user_fb=user_fb, slha_doc=slha_doc, process=process if slha_path else None,
                        sqrt_s_gev=sqrt_s_gev, generator_fb=generator_fb, generator_name=generator_name(source),
                        **({"user_source": user_source} if user_source else {}))


def generator_name(source) -> str:
    """Where the generator's own cross section of ``source`` comes from, in words."""
    if isinstance(source, HepMCSource):
        return "the cross section recorded in the HepMC file"
    if source.config.lhe is not None:
        return "the LHE file (as Pythia reads it)"
    return "Pythia 8's leading-order sigmaGen"


# -- analyses and their options -------------------------------------------------------------------


def load_analyses(names: Iterable[str | ana_mod.Analysis]) -> list[ana_mod.Analysis]:
    """The analyses named (ids or aliases; ``all`` for every registered one), each once, in order."""
    out: dict[str, ana_mod.Analysis] = {}
    for name in names:
        if isinstance(name, str) and name.lower() == "all":
            for known in ana_mod.available():
                ana = ana_mod.load(known)
                out.setdefault(ana.id, ana)
            continue
        ana = ana_mod.load(name) if isinstance(name, str) else name
        out.setdefault(ana.id, ana)
    if not out:
        raise RecastError("give at least one analysis (or 'all'; see 'recast list')")
    return list(out.values())


def split_options(pairs: Mapping[str, str]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """``NAME=VALUE`` options (for every analysis that has the option) and ``ANA:NAME=VALUE``
    ones (for one analysis), as given on the command line with ``-O``."""
    common: dict[str, str] = {}
    per: dict[str, dict[str, str]] = {}
    for key, value in pairs.items():
        if ":" in key:
            ana, name = (x.strip() for x in key.split(":", 1))
            per.setdefault(ana, {})[name] = value
        else:
            common[key] = value
    return common, per


def resolve_options(analyses: Sequence[ana_mod.Analysis], common: Mapping[str, str] | None = None,
                    per: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, dict[str, Any]]:
    """Resolved options by analysis id: ``common`` apply to every analysis that declares them (an
    option none declares is an error), ``per`` (keyed by analysis id or alias) to one each."""
    import difflib

    by_id = {a.id: a for a in analyses}
    everyone = sorted({o.name for a in analyses for o in a.options})
    for opt in common or {}:
        if len(analyses) > 1 and opt not in everyone:  # one analysis says it itself, below
            hint = difflib.get_close_matches(opt, everyone, n=1)
            raise RecastError(f"-O {opt}: none of {', '.join(by_id)} has this option"
                              + (f"; did you mean {hint[0]!r}?" if hint else " (see 'recast info ANA')"))
    targeted: dict[str, dict[str, str]] = {}
    for key, values in (per or {}).items():
        aid = ana_mod.load(key).id
        if aid not in by_id:
            raise RecastError(f"-O {key}:...: {key} is not one of the analyses run ({', '.join(by_id)})")
        targeted.setdefault(aid, {}).update(values)
    out = {}
    for aid, ana in by_id.items():
        given = {k: v for k, v in (common or {}).items()
                 if len(analyses) == 1 or k in {o.name for o in ana.options}}
        given.update(targeted.get(aid, {}))
        try:
            out[aid] = ana.resolve_options(given)
        except RecastError as exc:
            msg = str(exc)
            raise RecastError(msg if msg.startswith(aid) else f"{aid}: {msg}") from None
    return out


# -- one pass ---------------------------------------------------------------------------------------


@dataclass
class AnalysisRun:
    """One analysis in a pass: its resolved options, loaded models and accumulated counts."""

    analysis: ana_mod.Analysis
    options: dict[str, Any]
    models: engine.Models
    counts: engine.Counts
    object_config: Any = field(repr=False, default=None)


def prepare(analyses: Iterable[str | ana_mod.Analysis],
            options: Mapping[str, Mapping[str, Any]] | None = None) -> list[AnalysisRun]:
    """Load the analyses and their models (a bad model fails here, before any event) with
    ``options`` by analysis id (unresolved values are resolved)."""
    runs = []
    for ana in load_analyses(analyses):
        opts = ana.resolve_options((options or {}).get(ana.id, {}))
        config = detector.object_config(ana, opts)
        detector.load(config.detector)  # a bad card fails here too
        models, counts = engine.prepare(ana, opts)
        runs.append(AnalysisRun(ana, opts, models, counts, config))
    return runs


def analyse(source: Iterable, runs: Sequence[AnalysisRun], *, seed: int,
            on_batch: Callable[[int], None] | None = None, dump: engine.FeatureDump | None = None,
            allow_beam_mismatch: bool = False) -> None:
    """Read ``source`` once and add every chunk to every run's counts. The collision a file shows
    (beams, sqrt(s)) is checked against every analysis on the first chunk
    (:func:`recast.events.sanity.checked_batches`; ``allow_beam_mismatch`` turns a refusal into a
    warning). If the source fails part-way, the counts keep every chunk read before the failure
    and the error propagates. The next chunk is read ahead on a thread where a spare core allows
    (:mod:`recast.events.ahead`)."""
    from .events.ahead import read_ahead
    from .events.sanity import checked_batches

    if dump is not None and len(runs) != 1:
        raise RecastError("the model inputs can be dumped for one analysis at a time")
    needs = [(run.analysis.id, run.analysis.sqrt_s_tev * 1000.0) for run in runs]
    if isinstance(source, HepMCSource):  # while a first run's HepMC reader compiles, the rest compiles too
        source.on_wait = lambda batch: _compile_on(batch, runs, seed)
    for batch in read_ahead(checked_batches(source, needs, allow_mismatch=allow_beam_mismatch)):
        objects_by_config: dict = {}
        for run in runs:
            if run.object_config not in objects_by_config:
                objects_by_config[run.object_config] = detector.build(batch, run.object_config, seed)
            engine.select(run.analysis, objects_by_config[run.object_config], run.options, run.counts,
                          run.models, dump)
        if on_batch is not None:
            on_batch(len(batch))


def warm_up(runs: Sequence[AnalysisRun]) -> None:
    """Take a made-up event through ``runs``' objects, selections and models, into counts thrown
    away: what a fresh process pays on its first batch (numba kernels loaded from the cache, the
    models' first evaluation), paid before its first real one (the workers of a scan and of a
    point's blocks)."""
    from .events.hepmc import made_up_event
    from .events.record import to_batch

    _compile_on(to_batch(made_up_event()), runs, seed=1)


def _compile_on(batch, runs: Sequence[AnalysisRun], seed: int) -> None:
    """Build the objects of ``batch`` and select them once, into counts thrown away, so that the
    kernels this takes compile (into the cache) while the HepMC reader's kernel compiles in a
    child process (see :class:`~recast.events.HepMCSource`, ``on_wait``)."""
    try:
        for run in runs:
            objects = detector.build(batch, run.object_config, seed)
            engine.select(run.analysis, objects, run.options,
                          engine.Counts.for_analysis(run.analysis, run.options, run.counts.skipped), run.models)
    except Exception:  # noqa: BLE001 - only a head start: the real batches say what is wrong, if anything
        pass


def documents(source, runs: Sequence[AnalysisRun], *, seed: int, xsec_fb: float | None = None,
              xsec_source: str | None = None, slha_path: Path | None = None, process: str | None = None,
              complete: bool = True, error: str | None = None, notes: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """The result document of every run, by analysis id (``xsec_source``: where ``xsec_fb`` came
    from, if not from ``--xsec-fb``)."""
    record = input_record(source)
    docs = {}
    for run in runs:
        ana = run.analysis
        xs = cross_section(source, user_fb=xsec_fb, slha_path=slha_path, process=process,
                           sqrt_s_gev=ana.sqrt_s_tev * 1000, user_source=xsec_source)
        run_notes = list(getattr(source, "notes", [])) + list(notes)
        if xs is not None and xs.kind == "generator":
            run_notes.append(f"cross section taken from {generator_name(source)}; give --xsec-fb for a better one")
        card = detector.describe(run.object_config.detector if run.object_config is not None else detector.TRUTH)
        docs[ana.id] = results.build(ana, run.counts, options=run.options, seed=seed, source=record,
                                     cross_section=xs, complete=complete, error=error, notes=run_notes,
                                     detector=card)
    return docs


def collision_energy(runs: Sequence[AnalysisRun]) -> float:
    """The one centre-of-mass energy (GeV) of the analyses, which a generator run needs."""
    energies = {run.analysis.sqrt_s_tev for run in runs}
    if len(energies) != 1:
        raise RecastError("the analyses were run at different collision energies ("
                          + ", ".join(f"{r.analysis.id}: {r.analysis.sqrt_s_tev:g} TeV" for r in runs)
                          + "): generate for each separately")
    return energies.pop() * 1000.0


# -- one model point ------------------------------------------------------------------------------


@dataclass
class PointSpec:
    """A model point to generate and analyse."""

    slha: Path
    analyses: Sequence[str | ana_mod.Analysis]  # names, or analysis objects (e.g. a validation's variant)
    nevents: int = 5000
    seed: int = 1
    process: str = "gluino-pair"
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # analysis id -> options
    chunk_size: int = 1000
    xsec_fb: float | None = None
    pythia_settings: tuple[str, ...] = ()
    block_events: int = BLOCK_EVENTS  # events per generation block: part of what decides the events


def run_point(spec: PointSpec, on_batch: Callable[[int], None] | None = None, *, workers: int | None = None,
              scheduler: str | None = None, outcomes: Sequence[BlockOutcome] | None = None) -> dict[str, dict[str, Any]]:
    """Generate ``spec`` once and run every analysis on the same events; result documents by
    analysis id. ``workers``/``scheduler``: the point's blocks on Dask; ``outcomes``: its blocks
    counted already (:func:`generate_point`)."""
    return run_point_with_cards(spec, (), on_batch, workers=workers, scheduler=scheduler, outcomes=outcomes)[None]


def point_variants(spec: PointSpec, cards: Sequence[str] = ()) -> dict[str | None, list[AnalysisRun]]:
    """The prepared runs of ``spec``: its analyses with their options under ``None``, and again
    with each detector card of ``cards`` under its name."""
    analyses = load_analyses(spec.analyses)
    variants: dict[str | None, list[AnalysisRun]] = {None: prepare(analyses, spec.options)}
    for card in cards:
        variants[card] = prepare(analyses, {a.id: {**spec.options.get(a.id, {}), "detector": card} for a in analyses})
    return variants


def run_point_with_cards(spec: PointSpec, cards: Sequence[str], on_batch: Callable[[int], None] | None = None, *,
                         workers: int | None = None, scheduler: str | None = None,
                         outcomes: Sequence[BlockOutcome] | None = None) -> dict[str | None, dict[str, dict[str, Any]]]:
    """:func:`run_point`, and every analysis again with each detector card of ``cards`` on the same
    generated events (generated once, read once): the documents of the
    options as given under ``None``, those of each card under its name."""
    variants = point_variants(spec, cards)
    source = generate_point(spec, variants, cards=cards, on_events=on_batch, workers=workers, scheduler=scheduler,
                            outcomes=outcomes)
    return {key: documents(source, runs, seed=spec.seed, xsec_fb=spec.xsec_fb, slha_path=Path(spec.slha),
                           process=spec.process) for key, runs in variants.items()}


def point_config(spec: PointSpec, sqrt_s_gev: float) -> PythiaConfig:
    """Pythia's configuration of the point (its own seed: block 0's)."""
    return PythiaConfig(slha=Path(spec.slha), process=spec.process, nevents=spec.nevents, seed=spec.seed,
                        sqrt_s_gev=sqrt_s_gev, extra_settings=tuple(spec.pythia_settings))


@dataclass
class BlockOutcome:
    """What one generation block of a point gives back to be merged: per variant (``None``, or a
    detector card's name) and analysis id the block's counts (without their region and histogram
    definitions, which the merging side holds), and what Pythia said. ``failure``: why the block
    stopped part-way (its counts hold the chunks read before)."""

    block: GenerationBlock
    counts: dict[str | None, dict[str, engine.Counts]]
    n_generated: int
    sigma_gen_fb: float | None
    sigma_err_fb: float | None
    sqrt_s_gev: float | None
    notes: list[str]
    failure: RecastError | None = None
    seconds: float = 0.0  # generating and counting the block

    @property
    def error(self) -> str | None:
        return None if self.failure is None else str(self.failure)


def count_block(spec: PointSpec, block: GenerationBlock, variants: Mapping[str | None, Sequence[AnalysisRun]], *,
                on_batch: Callable[[int], None] | None = None, dump: engine.FeatureDump | None = None,
                hepmc_out: Path | None = None) -> BlockOutcome:
    """Generate one block of ``spec`` and count it with fresh counts for every run of ``variants``
    (their models reused); the per-event random streams use the point's seed, whatever the block."""
    fresh = {key: [dataclasses.replace(run, counts=engine.Counts.for_analysis(run.analysis, run.options,
                                                                               run.counts.skipped))
                   for run in runs] for key, runs in variants.items()}
    source = PythiaSource(point_config(spec, collision_energy(fresh[None])), chunk_size=spec.chunk_size,
                          block_events=spec.block_events, blocks=(block,), hepmc_out=hepmc_out)
    failure = None
    start = time.perf_counter()
    try:
        analyse(source, [run for runs in fresh.values() for run in runs], seed=spec.seed, on_batch=on_batch,
                dump=dump)
    except RecastError as exc:
        failure = exc
    return BlockOutcome(block, {key: {run.analysis.id: _bare(run.counts) for run in runs} for key, runs in fresh.items()},
                        source.n_generated, source.sigma_gen_fb, source.sigma_err_fb, source.sqrt_s_gev,
                        list(source.notes), failure, time.perf_counter() - start)


def _bare(counts: engine.Counts) -> engine.Counts:
    """Counts without the definitions of what they count (small to send between processes)."""
    return dataclasses.replace(counts, regions=(), histogram_definitions=())


def run_block(task: tuple[PointSpec, tuple[str, ...], GenerationBlock]) -> BlockOutcome:
    """One block of a point on a Dask worker: ``(spec, detector cards, block)``; the analyses'
    models are loaded once per worker process."""
    from .parallel import limit_threads

    limit_threads()
    spec, cards, block = task
    return count_block(spec, block, point_variants(spec, cards))


def warm_block_worker(spec: PointSpec, cards: tuple[str, ...]) -> None:
    """What a worker pays once before its first block of ``spec`` (:func:`run_block`): Pythia
    imported, the analyses and models loaded, a made-up event through them (:func:`warm_up`)."""
    from .parallel import limit_threads

    limit_threads()
    import pythia8mc  # noqa: F401

    for runs in point_variants(spec, cards).values():
        warm_up(runs)


def generate_point(spec: PointSpec, variants: Mapping[str | None, Sequence[AnalysisRun]], *, cards: Sequence[str] = (),
                   on_events: Callable[[int], None] | None = None, workers: int | None = None,
                   scheduler: str | None = None, dump: engine.FeatureDump | None = None,
                   hepmc_out: Path | None = None, source: PythiaSource | None = None,
                   outcomes: Sequence[BlockOutcome] | None = None) -> PythiaSource:
    """Generate the blocks of ``spec`` and add their counts, in block order, to the counts of the
    runs of ``variants`` (:func:`point_variants` of ``spec`` and ``cards``). In this process when
    neither ``workers`` (above 1) nor ``scheduler`` is given, else one Dask task per block
    (:func:`run_block`; ``dump`` and ``hepmc_out`` need this process). ``on_events(n)`` follows the
    events counted (per chunk here, per block on Dask). Returns the point's source as the result
    documents describe it (its seeds, blocks, cross section and notes). A block that fails stops
    the point: the blocks before it (and its chunks read, in this process) are counted, then its
    error is raised. ``source``: the record to fill (a :class:`PythiaSource` of the point's
    configuration, as a caller made it before; by default a new one). ``outcomes``: the blocks
    counted already (by :func:`run_block` tasks a scan submitted), merged instead of generating."""
    blocks = generation_blocks(spec.nevents, spec.seed, spec.block_events)
    merged = source if source is not None else PythiaSource(point_config(spec, collision_energy(variants[None])),
                                                            chunk_size=spec.chunk_size)
    merged.block_events, merged.blocks, merged.generated_blocks = spec.block_events, tuple(blocks), []
    counted: list[BlockOutcome] = []

    def merge(outcome: BlockOutcome) -> None:
        for key, runs in variants.items():
            for run in runs:
                if outcome.counts:  # none when the block's worker was lost
                    run.counts += outcome.counts[key][run.analysis.id]
        merged.n_generated += outcome.n_generated
        merged.sqrt_s_gev = outcome.sqrt_s_gev or merged.sqrt_s_gev
        merged.notes.extend(n for n in outcome.notes if n not in merged.notes)
        if outcome.error is None:
            merged.generated_blocks.append(outcome.block)
        counted.append(outcome)

    if hepmc_out is not None and len(blocks) > 1:
        raise RecastError(f"--hepmc-out: {spec.nevents} events are generated in {len(blocks)} blocks (Pythia runs) of "
                          f"up to {spec.block_events}; write them with 'recast generate' (the same events) and run "
                          f"on the file with --events, or give -n {spec.block_events} or fewer")
    if outcomes is not None:
        if [o.block for o in outcomes] != blocks:
            raise RecastError(f"the counted blocks ({len(outcomes)}) are not the point's {len(blocks)}")
        for outcome in outcomes:
            merge(outcome)
            if outcome.error is not None:
                break
    elif len(blocks) == 1 or (scheduler is None and (workers or 1) == 1):  # one block: no cluster to start
        for block in blocks:
            merge(count_block(spec, block, variants, on_batch=on_events, dump=dump, hepmc_out=hepmc_out))
            if counted[-1].error is not None:
                break
    else:
        if dump is not None or hepmc_out is not None:
            raise RecastError(f"{'--dump-features' if dump is not None else '--hepmc-out'}: runs in one process; "
                              f"drop --workers/--scheduler")
        _on_dask(spec, tuple(cards), blocks, merge, on_events, workers, scheduler)
    done = [o for o in counted if o.error is None and o.sigma_gen_fb is not None]
    merged.sigma_gen_fb, merged.sigma_err_fb = combined_sigma([(o.n_generated, o.sigma_gen_fb, o.sigma_err_fb)
                                                               for o in done])
    failed = next((o for o in counted if o.failure is not None), None)
    if failed is not None and len(blocks) == 1:
        raise failed.failure  # as a single Pythia run raised it
    if failed is not None:
        raise RecastError(f"generation block {failed.block.index + 1} of {len(blocks)} (seed {failed.block.seed}): "
                          f"{failed.error}") from failed.failure
    return merged


def _on_dask(spec: PointSpec, cards: tuple[str, ...], blocks: Sequence[GenerationBlock],
             merge: Callable[[BlockOutcome], None], on_events: Callable[[int], None] | None,
             workers: int | None, scheduler: str | None) -> None:
    """The blocks as Dask tasks, merged in block order as they finish; a block whose worker failed
    (or that failed part-way) stops the merge there."""
    from . import parallel

    pending: dict[int, BlockOutcome | BaseException] = {}
    following = 0
    tasks = {str(b.index): (spec, cards, b) for b in blocks}
    with parallel.cluster(workers, scheduler) as client:
        parallel.warm_up(client, warm_block_worker, spec, cards)
        for name, outcome in parallel.as_finished(client, run_block, tasks, "recast-block"):
            pending[int(name)] = outcome
            if on_events is not None and isinstance(outcome, BlockOutcome):
                on_events(outcome.n_generated)
            while following in pending:
                outcome = pending.pop(following)
                if isinstance(outcome, BaseException):
                    outcome = BlockOutcome(blocks[following], {}, 0, None, None, None, [], failure=RecastError(
                        f"the worker generating it failed: {type(outcome).__name__}: {outcome}"))
                merge(outcome)
                if outcome.error is not None:
                    return
                following += 1
