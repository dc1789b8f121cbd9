"""Pythia 8 in the same process: SLHA model point, or LHE file -> event batches, optionally also a HepMC file.

Pythia is driven through the official ``pythia8mc`` wheels and read in whole batches with
``Pythia.nextBatch`` (particles one by one through the bindings cost as much as generating them).
Decays come from the SLHA DECAY blocks (``SLHA:useDecayTable = on``). The run is reproducible:
the seed is always set explicitly and recorded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak

from ..errors import EventFileError, RecastError, SLHAError
from .. import slha as slha_mod
from ._capture import captured_stdout
from .compression import compression_of, open_binary
from .pythia_record import record_from_pythia
from .record import check_momenta, to_batch

MB_TO_FB = 1.0e12


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


@dataclass
class PythiaSource:
    """Generate ``config.nevents`` events in chunks and yield event batches.

    After iteration, ``sigma_gen_fb`` holds Pythia's own (leading-order) cross section.
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

    @property
    def description(self) -> str:
        what = f"the LHE file {self.config.lhe}" if self.config.lhe is not None else self.config.slha
        return f"Pythia {pythia_version()} from {what}"

    def __iter__(self) -> Iterator[ak.Array]:
        import pythia8mc

        cfg = self.config
        slha_doc = slha_mod.read(cfg.slha) if cfg.slha is not None else None
        if cfg.lhe is not None:
            check_lhe(cfg.lhe)
        elif slha_doc is None:
            raise SLHAError("a SUSY process needs an SLHA card (--slha)")
        else:
            slha_mod.check_process(slha_doc, cfg.slha, get_process(cfg.process), PROCESSES)
        what = cfg.lhe if cfg.lhe is not None else cfg.slha
        self.path = cfg.lhe
        workdir = Path(tempfile.mkdtemp(prefix="recast-pythia-"))
        writer = None
        try:
            slha_path = (slha_mod.prepared_for_pythia(cfg.slha, slha_doc, workdir, self.notes)
                         if slha_doc is not None else None)
            lhe_path = _readable_by_pythia(Path(cfg.lhe), workdir) if cfg.lhe is not None else None
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
            if self.hepmc_out is not None:
                from .hepmc_writer import PythiaHepMCWriter

                writer = PythiaHepMCWriter(self.hepmc_out, pythia)
            remaining = cfg.nevents
            while remaining is None or remaining > 0:
                n = self.chunk_size if remaining is None else min(self.chunk_size, remaining)
                with captured_stdout():
                    events = pythia.nextBatch(n)
                at_end = cfg.lhe is not None and len(events) < n  # the LHE file has no more events
                if len(events) == 0 and not (at_end and self.n_generated):
                    raise (EventFileError if cfg.lhe is not None else RecastError)(
                        f"{what}: Pythia failed to generate events (see its log)" if cfg.lhe is None
                        else f"{what}: no event could be read and showered")
                if len(events):
                    if writer is not None:
                        writer.write(events, first_number=self.n_generated + 1)
                    rec = record_from_pythia(events, self.n_generated + 1)
                    check_momenta(rec, "Pythia", self.n_generated)
                    self.n_generated += len(events)
                    if remaining is not None:
                        remaining -= len(events)
                    yield to_batch(rec)
                if at_end:
                    if remaining:
                        self.notes.append(f"{cfg.lhe} holds {self.n_generated} events, fewer than the "
                                          f"{cfg.nevents} asked for")
                    break
            info = pythia.infoPython()  # a snapshot: take it after the loop
            self.sigma_gen_fb = float(info.sigmaGen()) * MB_TO_FB
            self.sigma_err_fb = float(info.sigmaErr()) * MB_TO_FB
            if writer is not None:
                writer.close()
                writer = None
        finally:
            if writer is not None:
                writer.abort()
            shutil.rmtree(workdir, ignore_errors=True)


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
