"""One model point through every requested analysis: generate once, analyse the same events with
each analysis, attach the cross section, build the result documents. Used by ``recast scan`` (one
task per point) and usable from Python."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import analysis as ana_mod
from . import engine, results, xsec
from . import slha as slha_mod
from .events import HepMCSource, PythiaConfig, PythiaSource
from .objects import build_objects


def input_record(source) -> dict[str, Any]:
    """How the events were obtained, for the results' ``input`` block."""
    from .events.pythia import pythia_version

    if isinstance(source, HepMCSource):
        return {"kind": "hepmc", "path": str(source.path), "sha256": results.sha256_of(source.path),
                "format": source.format, "chunk_size": source.chunk_size, "reader": source.reader,
                "forward_parents": source.forward_parents}
    cfg = source.config
    return {"kind": "pythia", "chunk_size": source.chunk_size, "generator": {
        "name": "Pythia 8", "version": pythia_version(), "process": cfg.process, "seed": cfg.seed,
        "nevents": cfg.nevents, "sqrt_s_gev": cfg.sqrt_s_gev, "settings": cfg.settings(Path(cfg.slha)),
        "slha": str(cfg.slha), "slha_sha256": results.sha256_of(Path(cfg.slha)),
        "sigma_gen_fb": source.sigma_gen_fb}}


def cross_section(source, *, user_fb: float | None, slha_path: Path | None, process: str | None,
                  sqrt_s_gev: float) -> xsec.CrossSection | None:
    """The run's cross section by the precedence of :mod:`recast.xsec`."""
    slha_doc = slha_mod.read(slha_path) if slha_path else None
    if isinstance(source, HepMCSource):
        generator_fb, name = source.cross_section_fb, "the cross section recorded in the HepMC file"
    else:
        generator_fb, name = source.sigma_gen_fb, "Pythia 8's leading-order sigmaGen"
    return xsec.resolve(user_fb=user_fb, slha_doc=slha_doc, process=process if slha_path else None,
                        sqrt_s_gev=sqrt_s_gev, generator_fb=generator_fb, generator_name=name)


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


def run_point(spec: PointSpec, on_batch: Callable[[int], None] | None = None) -> dict[str, dict[str, Any]]:
    """Generate ``spec`` once and run every analysis on the same events; result documents by
    analysis id. Analyses with the same object definitions share the objects of each chunk."""
    analyses = [ana_mod.load(a) if isinstance(a, str) else a for a in spec.analyses]
    setups = []
    for ana in analyses:
        options = ana.resolve_options(spec.options.get(ana.id, {}))
        models, counts = engine.prepare(ana, options)
        setups.append((ana, options, models, counts, ana.object_config(options)))
    source = PythiaSource(PythiaConfig(slha=Path(spec.slha), process=spec.process, nevents=spec.nevents,
                                       seed=spec.seed, extra_settings=tuple(spec.pythia_settings)),
                          chunk_size=spec.chunk_size)
    for batch in source:
        objects_by_config: dict = {}
        for ana, options, models, counts, config in setups:
            if config not in objects_by_config:
                objects_by_config[config] = build_objects(batch, config, spec.seed)
            engine.select(ana, objects_by_config[config], options, counts, models)
        if on_batch is not None:
            on_batch(len(batch))
    record = input_record(source)
    docs = {}
    for ana, options, _, counts, _ in setups:
        xs = cross_section(source, user_fb=spec.xsec_fb, slha_path=Path(spec.slha), process=spec.process,
                           sqrt_s_gev=ana.sqrt_s_tev * 1000)
        notes = list(source.notes)
        if xs is not None and xs.kind == "generator":
            notes.append("cross section from the generator's leading-order estimate")
        docs[ana.id] = results.build(ana, counts, options=options, seed=spec.seed, source=record,
                                     cross_section=xs, notes=notes)
    return docs
