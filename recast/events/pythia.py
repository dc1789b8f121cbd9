"""Pythia 8 in the same process: SLHA model point, or LHE file -> event batches, optionally also a HepMC file.

Pythia is driven through the official ``pythia8mc`` wheels and read in whole batches with
``Pythia.nextBatch`` (particles one by one through the bindings cost as much as generating them).
Decays come from the SLHA DECAY blocks (``SLHA:useDecayTable = on``). The run is reproducible:
the seed is always set explicitly and recorded.

A model point's events are generated in blocks of :data:`BLOCK_EVENTS` (:func:`generation_blocks`):
block ``k`` is a Pythia run of its own, seeded with :func:`block_seed` (block 0 with the point's own
seed) and numbering its events from ``k * BLOCK_EVENTS + 1``, so that the events of a point are the
same whether its blocks run one after the other in one process (:class:`PythiaSource`) or on
several workers (:mod:`recast.pipeline`), and the per-event random streams and fold choices, which
key on the event number, see one continuous stream.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np

from ..errors import EventFileError, RecastError, SLHAError
from .. import rng
from .. import slha as slha_mod
from ._capture import captured_stdout
from .compression import compression_of, open_binary
from .pythia_record import record_from_pythia
from .record import check_momenta, to_batch

MB_TO_FB = 1.0e12
MAX_SEED = 900_000_000  # Pythia's Random:seed range (0 means "from the clock": never derived)

BLOCK_EVENTS = 5000
"""Events per generation block of a model point (see the module docstring). 5000: every point of
up to 5000 events (the default of ``recast run`` and ``recast scan``, and every pinned reference
result) is one block with the point's own seed, i.e. the single Pythia run it always was; a
bigger point has blocks that workers can share, each paying Pythia's initialisation (about 0.3 s
of CPU, under 1% of a block's generation)."""


@dataclass(frozen=True)
class GenerationBlock:
    """One Pythia run of a model point: the ``index``-th block, generated with ``seed``, its
    ``nevents`` events numbered from ``first_event + 1``."""

    index: int
    seed: int
    first_event: int
    nevents: int

    def to_dict(self) -> dict[str, int]:
        return {"index": self.index, "seed": self.seed, "first_event_number": self.first_event + 1,
                "nevents": self.nevents}


def block_seed(seed: int, index: int, attempt: int = 0) -> int:
    """Pythia's seed for block ``index`` of a point seeded with ``seed``: ``seed`` itself for
    block 0; else a counter-based hash of (seed, index) in 1..900000000 (:func:`recast.rng.uniform`;
    ``attempt`` > 0 draws again, for the rare collision :func:`generation_blocks` avoids). Pythia's
    generator (Marsaglia-Zaman RANMAR) gives each seed of that range its own sequence, so blocks
    with distinct seeds are independent samples."""
    if index == 0:
        return seed
    u = rng.uniform(seed, f"pythia-block-seed-{attempt}" if attempt else "pythia-block-seed",
                    np.array([index]), np.zeros(1, np.int64))[0]
    return 1 + int(u * MAX_SEED)


def generation_blocks(nevents: int, seed: int, block_events: int = BLOCK_EVENTS) -> list[GenerationBlock]:
    """The blocks of a point of ``nevents`` events: full blocks of ``block_events`` and the rest,
    each with its own seed (all distinct)."""
    if block_events < 1:
        raise RecastError(f"events per generation block must be at least 1, not {block_events}")
    if nevents < 1:
        raise RecastError(f"-n/--nevents {nevents}: generate at least one event")
    blocks: list[GenerationBlock] = []
    used: set[int] = set()
    for index, first in enumerate(range(0, nevents, block_events)):
        attempt, s = 0, block_seed(seed, index)
        while s in used:
            attempt += 1
            s = block_seed(seed, index, attempt)
        used.add(s)
        blocks.append(GenerationBlock(index, s, first, min(block_events, nevents - first)))
    return blocks


def combined_sigma(parts: list[tuple[int, float, float]]) -> tuple[float | None, float | None]:
    """Pythia's cross-section estimate over several runs, from ``(events, sigma, error)`` of each:
    the mean weighted by events (each estimate averages over its accepted events), its error
    combined in quadrature; one run's own numbers unchanged."""
    parts = [p for p in parts if p[0] > 0]
    if not parts:
        return None, None
    if len(parts) == 1:
        return parts[0][1], parts[0][2]
    total = sum(n for n, _, _ in parts)
    sigma = sum(n * s for n, s, _ in parts) / total
    error = sum((n * e) ** 2 for n, _, e in parts) ** 0.5 / total
    return sigma, error


@dataclass(frozen=True)
class Process:
    """A production process: Pythia switches and the particles whose MASS/DECAY entries it needs."""

    name: str
    settings: tuple[str, ...]
    produced: tuple[int, ...]
    description: str


_LIGHT_SQUARKS = "1000001,1000002,1000003,1000004,1000005,2000001,2000002,2000003,2000004,2000005"
_UDSC_SQUARKS = "1000001,1000002,1000003,1000004,2000001,2000002,2000003,2000004"

PROCESSES: dict[str, Process] = {
    p.name: p
    for p in [
        Process("gluino-pair", ("SUSY:gg2gluinogluino = on", "SUSY:qqbar2gluinogluino = on"),
                (1000021,), "gluino pair production (gg and qqbar initial states)"),
        Process("stop-pair", ("SUSY:gg2squarkantisquark = on", "SUSY:qqbar2squarkantisquark = on",
                              "SUSY:idA = 1000006", "SUSY:idB = 1000006"),
                (1000006,), "stop-antistop pair production"),
        # The ten squarks of the LHC SUSY XS WG squark-antisquark table (data/xsec), which assumes
        # them degenerate and the gluino decoupled; squark-squark production needs gluino exchange
        # and vanishes in that limit, so it is not generated (stops: see stop-pair).
        Process("squark-pair", ("SUSY:gg2squarkantisquark = on", "SUSY:qqbar2squarkantisquark = on",
                                f"SUSY:idVecA = {_LIGHT_SQUARKS}", f"SUSY:idVecB = {_LIGHT_SQUARKS}"),
                (1000001, 1000002, 1000003, 1000004, 1000005, 2000001, 2000002, 2000003, 2000004, 2000005),
                "squark-antisquark production of the ten light-flavour squarks (u, d, s, c, b; L and R)"),
        # The eight of them without sbottoms (the t6ww template: a sbottom has no light partner
        # quark to decay to with a chargino); cross section 0.8 times the ten-squark table.
        Process("squark-pair-udsc", ("SUSY:gg2squarkantisquark = on", "SUSY:qqbar2squarkantisquark = on",
                                     f"SUSY:idVecA = {_UDSC_SQUARKS}", f"SUSY:idVecB = {_UDSC_SQUARKS}"),
                (1000001, 1000002, 1000003, 1000004, 2000001, 2000002, 2000003, 2000004),
                "squark-antisquark production of the eight u, d, s, c squarks (L and R)"),
        Process("electroweakino", ("SUSY:qqbar2chi0chi0 = on", "SUSY:qqbar2chi+-chi0 = on",
                                   "SUSY:qqbar2chi+chi- = on"),
                (1000022, 1000023, 1000024), "neutralino and chargino pair production"),
        Process("light-electroweakinos", ("SUSY:qqbar2chi0chi0 = on", "SUSY:qqbar2chi+-chi0 = on",
                                          "SUSY:qqbar2chi+chi- = on",
                                          "SUSY:idVecA = 1000022,1000023,1000024",
                                          "SUSY:idVecB = 1000022,1000023,1000024"),
                (1000022, 1000023, 1000024),
                "every pair of chi1_0, chi2_0 and chi1_+- (e.g. a higgsino triplet): N1N2, C1N1, C1N2, C1C1, N1N1, N2N2"),
    ]
}


def get_process(name: str) -> Process:
    try:
        return PROCESSES[name]
    except KeyError:
        raise RecastError(f"unknown process {name!r}; known: {', '.join(PROCESSES)}") from None


@dataclass
class PythiaConfig:
    """Everything that determines the generated events; recorded in every result file.

    Either a SUSY process from an SLHA card (``slha`` and ``process``), or parton-level events from
    a Les Houches Event file (``lhe``, plain or gzip; e.g. from MadGraph) that Pythia showers and
    hadronises; its beams and energy come from the file, and decays of the particles it leaves
    undecayed from ``slha`` when given, else from an SLHA block in the file's header. ``nevents``
    None with ``lhe`` means every event of the file.
    """

    slha: Path | None = None
    process: str = "gluino-pair"
    nevents: int | None = 5000
    seed: int = 1
    sqrt_s_gev: float = 13000.0
    extra_settings: tuple[str, ...] = ()
    lhe: Path | None = None

    def settings(self, slha_path: Path | None = None, lhe_path: Path | None = None) -> list[str]:
        """Pythia's settings; ``slha_path`` and ``lhe_path`` replace the card's and the LHE file's
        paths (by copies Pythia can read), as the generator is given them."""
        if not 0 <= self.seed <= 900_000_000:
            raise RecastError(f"--seed {self.seed}: Pythia seeds must lie in 0..900000000")
        slha_path = slha_path or self.slha
        if self.lhe is not None:
            hard = ["Beams:frameType = 4", f"Beams:LHEF = {lhe_path or self.lhe}"]  # beams and energy from the file
        else:
            hard = [f"Beams:eCM = {self.sqrt_s_gev:g}", *get_process(self.process).settings]  # Pythia's default is 14 TeV
        return [
            *hard,
            *([f"SLHA:file = {slha_path}", "SLHA:useDecayTable = on"] if slha_path else []),
            "Random:setSeed = on",
            f"Random:seed = {self.seed}",
            "Next:numberCount = 0",
            "Init:showChangedSettings = off",
            "Init:showChangedParticleData = off",
            *self.extra_settings,
        ]


def check_lhe(path: Path) -> None:
    """Refuse what Pythia would not read as a Les Houches Event file, in one line naming it."""
    path = Path(path)
    if not path.is_file():
        raise EventFileError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        with open_binary(path) as f:
            head = f.read(1 << 16)
    except Exception as exc:  # the decompressors raise their own errors
        raise EventFileError(f"{path}: cannot read: {exc}") from None
    if b"<LesHouchesEvents" not in head:
        first = (head.strip().splitlines() or [b""])[0][:60].decode("utf-8", "replace")
        raise EventFileError(f"{path}: not a Les Houches Event file (starts with {first!r})")
    kind = compression_of(path)
    if kind not in (None, "gzip"):
        raise EventFileError(f"{path}: a {kind}-compressed LHE file: Pythia reads plain or gzip LHE only")


def _first_problem(log: str) -> str:
    for line in log.splitlines():
        if "PYTHIA Error" in line or "PYTHIA Abort" in line:
            return line.strip().removeprefix("PYTHIA ").strip()
    return "see Pythia's log"


GENERATION_BATCH = 250
"""Events Pythia makes at a time (``nextBatch``): its record of a chunk's events, every line of
every event with all its fields, is 8 times larger than the chunk's batch (a 1000-event chunk of
gluino pairs: 204 MB against 25), and making the batch from it takes as much again. Made in parts,
a chunk's memory is the batch and one part's record; in a fresh process (a scan's worker, a first
point) that is about 1 s less per 1000 events spent faulting in fresh pages, measured on this
project's 2-core benchmark machine."""


@dataclass
class PythiaSource:
    """Generate ``config.nevents`` events in chunks and yield event batches.

    An SLHA point is generated block by block (:func:`generation_blocks`, ``block_events`` each;
    ``blocks`` names the blocks to generate, by default all of them), a fresh Pythia run per block;
    an LHE file is one run with ``config.seed``. After iteration, ``sigma_gen_fb`` holds Pythia's
    own (leading-order) cross section (over several blocks: :func:`combined_sigma`) and
    ``generated_blocks`` the blocks generated (index, seed, first event number, events).
    With ``hepmc_out`` the full event record is also written as HepMC3 ASCII.
    """

    config: PythiaConfig
    chunk_size: int = 1000
    hepmc_out: Path | None = None
    sigma_gen_fb: float | None = None
    sigma_err_fb: float | None = None
    sqrt_s_gev: float | None = None  # the collision energy Pythia set up (from the LHE file's beams)
    collision: object = None  # LHE input: the beams the file chose (recast.events.sanity.CollisionInfo)
    path: Path | None = None  # LHE input: the file, as the collision check names it
    n_generated: int = 0
    notes: list[str] = field(default_factory=list)
    block_events: int = BLOCK_EVENTS
    blocks: tuple[GenerationBlock, ...] | None = None
    generated_blocks: list[GenerationBlock] = field(default_factory=list)

    @property
    def description(self) -> str:
        what = f"the LHE file {self.config.lhe}" if self.config.lhe is not None else self.config.slha
        return f"Pythia {pythia_version()} from {what}"

    def planned_blocks(self) -> list[GenerationBlock] | None:
        """The blocks this source generates (None for an LHE file: one run, no blocks)."""
        if self.config.lhe is not None:
            return None
        if self.blocks is not None:
            return list(self.blocks)
        return generation_blocks(self.config.nevents, self.config.seed, self.block_events)

    def __iter__(self) -> Iterator[ak.Array]:
        cfg = self.config
        slha_doc = slha_mod.read(cfg.slha) if cfg.slha is not None else None
        if cfg.lhe is not None:
            check_lhe(cfg.lhe)
        elif slha_doc is None:
            raise SLHAError("a SUSY process needs an SLHA card (--slha)")
        else:
            slha_mod.check_process(slha_doc, cfg.slha, get_process(cfg.process), PROCESSES)
        self.path = cfg.lhe
        blocks = self.planned_blocks()
        self.generated_blocks = []
        workdir = Path(tempfile.mkdtemp(prefix="recast-pythia-"))
        writer = None
        estimates: list[tuple[int, float, float]] = []
        try:
            slha_path = (slha_mod.prepared_for_pythia(cfg.slha, slha_doc, workdir, self.notes)
                         if slha_doc is not None else None)
            lhe_path = _readable_by_pythia(Path(cfg.lhe), workdir) if cfg.lhe is not None else None
            for block in blocks if blocks is not None else [None]:
                pythia = self._initialised(cfg if block is None else dataclasses.replace(cfg, seed=block.seed),
                                           slha_path, lhe_path)
                if self.hepmc_out is not None:
                    from .hepmc_writer import PythiaHepMCWriter

                    if writer is None:
                        writer = PythiaHepMCWriter(self.hepmc_out, pythia)
                    else:
                        writer.follow(pythia)
                before = self.n_generated
                yield from self._generate(pythia, writer, cfg.nevents if block is None else block.nevents,
                                          0 if block is None else block.first_event)
                info = pythia.infoPython()  # a snapshot: take it after the loop
                estimates.append((self.n_generated - before, float(info.sigmaGen()) * MB_TO_FB,
                                  float(info.sigmaErr()) * MB_TO_FB))
                if block is not None:
                    self.generated_blocks.append(block)
            self.sigma_gen_fb, self.sigma_err_fb = combined_sigma(estimates)
            if writer is not None:
                writer.close()
                writer = None
        finally:
            if writer is not None:
                writer.abort()
            shutil.rmtree(workdir, ignore_errors=True)

    def _initialised(self, cfg: PythiaConfig, slha_path: Path | None, lhe_path: Path | None):
        """A Pythia instance set up and initialised for ``cfg`` (its seed: one block's)."""
        import pythia8mc

        what = cfg.lhe if cfg.lhe is not None else cfg.slha
        with captured_stdout() as log:
            pythia = pythia8mc.Pythia(_xmldoc(), False)
            for s in cfg.settings(slha_path, lhe_path):
                if not pythia.readString(s):
                    raise RecastError(f"Pythia rejected the setting {s!r}")
            ok = pythia.init()
        if not ok:
            raise (SLHAError if cfg.lhe is None else EventFileError)(
                f"{what}: Pythia could not initialise: {_first_problem(log[0])}")
        info = pythia.infoPython()
        self.sqrt_s_gev = float(info.eCM())
        if cfg.lhe is not None:  # the file chose the beams: checked against the analyses like a HepMC file's
            from .sanity import CollisionInfo

            self.collision = CollisionInfo(
                beams=(int(info.idA()), int(info.idB())), beam_energies_gev=(float(info.eA()), float(info.eB())),
                sqrt_s_gev=self.sqrt_s_gev, from_final_state=False, momentum_unit="GEV",
                momentum_unit_used="GEV", n_events=0)
        return pythia

    def _generate(self, pythia, writer, nevents: int | None, first_event: int) -> Iterator[ak.Array]:
        """``nevents`` events (None: to the end of the LHE file) in chunks, numbered from
        ``first_event + 1``. Pythia makes each chunk in parts of at most :data:`GENERATION_BATCH`
        events, each turned into a batch at once (the same events: Pythia's one random stream
        goes on from part to part)."""
        cfg = self.config
        what = cfg.lhe if cfg.lhe is not None else cfg.slha
        remaining = nevents
        generated = 0
        at_end = False
        while not at_end and (remaining is None or remaining > 0):
            n = self.chunk_size if remaining is None else min(self.chunk_size, remaining)
            parts = []
            while n > 0:
                k = min(GENERATION_BATCH, n)
                with captured_stdout():
                    events = pythia.nextBatch(k)
                at_end = cfg.lhe is not None and len(events) < k  # the LHE file has no more events
                if len(events) == 0 and not (at_end and self.n_generated):
                    raise (EventFileError if cfg.lhe is not None else RecastError)(
                        f"{what}: Pythia failed to generate events (see its log)" if cfg.lhe is None
                        else f"{what}: no event could be read and showered")
                if len(events):
                    number = first_event + generated
                    if writer is not None:
                        writer.write(events, first_number=number + 1)
                    rec = record_from_pythia(events, number + 1)
                    check_momenta(rec, "Pythia", number)
                    generated += len(events)
                    self.n_generated += len(events)
                    n -= len(events)
                    if remaining is not None:
                        remaining -= len(events)
                    parts.append(to_batch(rec))
                if at_end:
                    break
            if parts:
                yield parts[0] if len(parts) == 1 else ak.to_packed(ak.concatenate(parts))
        if at_end and remaining:
            self.notes.append(f"{cfg.lhe} holds {self.n_generated} events, fewer than the "
                              f"{cfg.nevents} asked for")


def _readable_by_pythia(path: Path, workdir: Path) -> Path:
    """An absolute path to ``path`` without blanks (Pythia's settings end a file name at the first
    one): the file itself, or a link to it in ``workdir``."""
    path = path.resolve()
    if not any(c.isspace() for c in str(path)):
        return path
    link = workdir / ("events.lhe.gz" if path.name.endswith(".gz") else "events.lhe")
    link.symlink_to(path)
    return link


def _xmldoc() -> str:
    """Pythia's data directory: $PYTHIA8DATA if set (needed for ``pip --target`` installs)."""
    env = os.environ.get("PYTHIA8DATA")
    if env:
        return env
    import pythia8mc

    base = Path(pythia8mc.__file__).parent
    for cand in (base / "share" / "Pythia8" / "xmldoc", base.parent / "share" / "Pythia8" / "xmldoc"):
        if cand.is_dir():
            return str(cand)
    return ""


def pythia_version() -> str:
    from importlib.metadata import version

    return version("pythia8mc")
