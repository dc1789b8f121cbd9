"""SLHA model points: reading, checks per process, XSECTION blocks, simplified-model cards."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyslha

from .errors import SLHAError

if TYPE_CHECKING:
    from .events.pythia import Process

GLUINO, NEUTRALINO1, CHARGINO1 = 1000021, 1000022, 1000024
# The ten squarks of the sqq model (u, d, s, c, b; L and R), each with its quark partner: the
# 10-fold degeneracy that the LHC SUSY XS WG squark-antisquark table assumes.
LIGHT_SQUARKS = {1000001: 1, 1000002: 2, 1000003: 3, 1000004: 4, 1000005: 5,
                 2000001: 1, 2000002: 2, 2000003: 3, 2000004: 4, 2000005: 5}

# Sparticles a simplified model decouples: listed at 5 TeV so that Pythia sees a complete spectrum.
_DECOUPLED = (
    1000001, 1000002, 1000003, 1000004, 1000005, 1000006, 2000001, 2000002, 2000003, 2000004,
    2000005, 2000006, 1000011, 1000012, 1000013, 1000014, 1000015, 1000016, 2000011, 2000013,
    2000015, 1000021, 1000022, 1000023, 1000024, 1000025, 1000035, 1000037, 1000039,
)


def read(path: str | Path) -> pyslha.Doc:
    """Parse an SLHA file; any problem becomes a one-line :class:`SLHAError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise SLHAError(f"{path}: no such SLHA file")
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            doc = pyslha.read(str(path), ignorenobr=True)
    except pyslha.ParseError as exc:
        raise SLHAError(f"{path}: not a usable SLHA file: {str(exc).splitlines()[0]}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SLHAError(f"{path}: cannot read SLHA file: {exc}") from None
    block = doc.blocks.get("MASS")
    for pid, value in (block.items() if block is not None else []):
        if isinstance(value, str):  # pyslha keeps what it cannot parse as text
            raise SLHAError(f"{path}: the MASS entry of {pid} is not a number: {value!r}")
    return doc


def mass(doc: pyslha.Doc, pid: int) -> float | None:
    """|mass| in GeV from the MASS block, or None when absent."""
    block = doc.blocks.get("MASS")
    if block is None or pid not in block.keys():
        return None
    return abs(float(block[pid]))


def _decay_products(doc: pyslha.Doc, pid: int) -> set[int]:
    dec = doc.decays.get(pid)
    if dec is None:
        return set()
    return {abs(i) for d in dec.decays if d.br > 0 for i in d.ids}


def check_process(doc: pyslha.Doc, path: Path, process: Process,
                  alternatives: Mapping[str, Process] | None = None) -> None:
    """Refuse a card that lacks the MASS and DECAY entries the process needs (a card without the
    process' decays names which of ``alternatives`` it has the decays for).

    The produced sparticles need a mass and a DECAY block with at least one channel; every
    sparticle reached through their decays needs a mass, and a DECAY block unless it is the
    lightest one reached (the stable LSP).
    """
    for pid in process.produced:
        if mass(doc, pid) is None:
            raise SLHAError(f"{path}: no MASS entry for {pid}, needed for --process {process.name}")
    decaying = [pid for pid in process.produced if pid in doc.decays and doc.decays[pid].decays]
    if not decaying:
        ids = ", ".join(str(p) for p in process.produced)
        fits = [name for name, other in (alternatives or {}).items()
                if all(pid in doc.decays and doc.decays[pid].decays for pid in other.produced)]
        hint = f"; the card has the decays for --process {' or '.join(fits)}" if fits else ""
        raise SLHAError(f"{path}: no DECAY block with decay channels for {ids}, "
                        f"needed for --process {process.name}{hint}")
    reached: set[int] = set()
    todo = list(decaying)
    while todo:
        for child in _decay_products(doc, todo.pop()):
            if child >= 1000000 and child not in reached:
                reached.add(child)
                todo.append(child)
    for pid in sorted(reached):
        if mass(doc, pid) is None:
            raise SLHAError(f"{path}: no MASS entry for {pid}, which appears in the decays")
    if reached:
        lightest = min(reached, key=lambda p: mass(doc, p) or 0.0)
        for pid in sorted(reached - {lightest}):
            if pid not in doc.decays:
                raise SLHAError(f"{path}: no DECAY block for {pid}, which appears in the decays "
                                f"and is not the lightest sparticle")


def prepared_for_pythia(path: Path, doc: pyslha.Doc, workdir: Path, notes: list[str]) -> Path:
    """The card Pythia should read. Pythia keeps SUSY switched off without a MODSEL block, so a
    card without one is copied with ``BLOCK MODSEL / 1 0`` (general MSSM) prepended."""
    if "MODSEL" in doc.blocks:
        return path
    patched = workdir / path.name
    patched.write_text("BLOCK MODSEL\n    1   0   # added by recast: Pythia needs MODSEL\n"
                       + path.read_text())
    notes.append(f"{path}: no MODSEL block; gave Pythia a copy with MODSEL 1 = 0 (general MSSM)")
    return patched


@dataclass(frozen=True)
class SLHACrossSection:
    value_fb: float
    order: str
    code: str


def xsection(doc: pyslha.Doc, sqrt_s_gev: float, final_state: tuple[int, ...]) -> SLHACrossSection | None:
    """The highest-QCD-order XSECTION entry for pp -> final_state at sqrt(s), in fb."""
    want = tuple(sorted(final_state))
    best = None
    for key, proc in doc.xsections.items():
        if tuple(sorted(key[2:])) != want or tuple(key[:2]) != (2212, 2212):
            continue
        for x in proc.xsecs:
            if abs(float(x.sqrts) - sqrt_s_gev) > 1.0:
                continue
            if best is None or x.qcd_order > best.qcd_order:
                best = x
    if best is None:
        return None
    code = " ".join(str(c) for c in (best.code or []) if c)
    return SLHACrossSection(float(best.value) * 1000.0, best.qcd_order_str, code)


# -- simplified models -------------------------------------------------------------------------
#
# A template is a production process and a decay table, written as an SLHA card in which every
# other sparticle is decoupled at 5 TeV. Its process names the cross-section table that
# ``recast.xsec`` uses for it, so that ``run``, ``scan`` and ``validate`` find the right one.

STOP1 = 1000006
DECOUPLED_MASS = 5000.0
PROMPT_WIDTH = 1.0e-2  # GeV: every template decay is prompt (c tau ~ 2e-14 m)

# The masses Pythia 8.3 generates the SM particles with (its ParticleData m0; the cards leave SM
# masses to Pythia, SLHA:keepSM). The kinematic checks use them because Pythia drops a channel it
# finds closed at these masses, and makes a particle stable when none of its channels is open.
SM_MASS = {1: 0.33, 2: 0.33, 3: 0.5, 4: 1.5, 5: 4.8, 6: 173.0, 11: 0.000511, 12: 0.0, 13: 0.10566,
           14: 0.0, 15: 1.77682, 16: 0.0, 24: 80.385}

_NAMES = {1: "d", 2: "u", 3: "s", 4: "c", 5: "b", 6: "t", 11: "e-", 12: "nu_e", 13: "mu-", 14: "nu_mu",
          15: "tau-", 16: "nu_tau", 24: "W+", GLUINO: "gluino", NEUTRALINO1: "neutralino1",
          CHARGINO1: "chargino1+", STOP1: "stop1", 1000001: "~d_L", 1000002: "~u_L", 1000003: "~s_L",
          1000004: "~c_L", 1000005: "~b_1", 2000001: "~d_R", 2000002: "~u_R", 2000003: "~s_R", 2000004: "~c_R",
          2000005: "~b_2"}

Channel = tuple[float, tuple[int, ...]]  # (branching ratio, daughter ids)


@dataclass(frozen=True)
class Spectrum:
    """A template's card: masses (GeV) and decay tables; an empty table is a stable LSP."""

    masses: dict[int, float]
    decays: dict[int, list[Channel]]


@dataclass(frozen=True)
class Template:
    """A simplified model: what is produced, how it decays, and the published plane it matches.

    ``m_parent`` is the produced sparticle's mass, ``m_lsp`` the lightest sparticle's (neutralino 1,
    or the stop where the stop is the LSP); ``process`` is the production process and with it the
    cross-section table (:mod:`recast.xsec`)."""

    name: str
    parent: str  # "gluino" | "squark" | "stop": the produced sparticle, the x axis of a plane
    lsp: str  # the sparticle m_lsp sets, the y axis of a plane
    process: str
    decays: str
    reference: str  # the ATLAS plane or map it reproduces, and how the axes map to masses
    spectrum: Callable[[float, float, float | None], Spectrum]
    sets_chargino: bool = False  # m_chargino may be given (else the template's mass relation)


def _name(pid: int) -> str:
    base = _NAMES.get(abs(pid), str(abs(pid)))
    if pid > 0:
        return base
    return base[:-1] + ("+" if base[-1] == "-" else "-") if base[-1] in "+-" else base + "bar"


def _card(masses: dict[int, float], decays: dict[int, list[Channel]]) -> Spectrum:
    full = {pid: DECOUPLED_MASS for pid in _DECOUPLED}
    full.update(masses)
    return Spectrum(full, decays)


# lambda''_323: neutralino1 -> t b s and chargino1+ -> sbar bbar bbar (as the ATLAS-SUSY-2019-04
# cards). lambda'_{i11} (i = e, mu): neutralino1 -> l u dbar or nu d dbar, charged and neutral
# 50 % each (the card param_card.LQD of ATLAS-SUSY-2019-04).
_RPV_NEUTRALINO = [(0.5, (6, 5, 3)), (0.5, (-6, -5, -3))]
_RPV_CHARGINO = [(1.0, (-3, -5, -5))]
_LQD_NEUTRALINO = [(0.125, ids) for lep in (11, 13)
                   for ids in ((-lep, -2, 1), (lep, 2, -1), (-lep - 1, -1, 1), (lep + 1, 1, -1))]
# chargino1+ -> neutralino1 f fbar' through W*+: W couplings, three colours per quark pair
_W_STAR_WEIGHTS = ((3.0, (-1, 2)), (3.0, (-3, 4)), (1.0, (-11, 12)), (1.0, (-13, 14)), (1.0, (-15, 16)))
_GTB_SPLIT = 2.0  # GeV: gtb's chargino1 above the LSP


def _w_star(split: float) -> list[Channel]:
    """chargino1+ -> neutralino1 f fbar' through W*+ at a mass splitting below the W mass: the
    channels open at Pythia's masses (c sbar needs 2.0 GeV), weighted as the W couples. A closed
    channel left in the card would be dropped by Pythia, silently changing the others' share."""
    open_ = [(w, ids) for w, ids in _W_STAR_WEIGHTS if sum(SM_MASS[abs(i)] for i in ids) < split]
    if not open_:
        raise SLHAError(f"chargino1 - neutralino1 = {split:g} GeV: too small for any W* decay")
    total = sum(w for w, _ in open_)
    brs = [round(w / total, 6) for w, _ in open_[:-1]]
    return [(br, (NEUTRALINO1, *ids)) for br, (_, ids) in zip([*brs, round(1.0 - sum(brs), 6)], open_)]


def _chargino_to_w(m_chargino: float, m_lsp: float) -> list[Channel]:
    """chargino1+ -> W+ neutralino1, two-body where the W can be on shell, else through W*."""
    return [(1.0, (24, NEUTRALINO1))] if m_chargino - m_lsp > SM_MASS[24] else _w_star(m_chargino - m_lsp)


def _gluino_to(*channels: Channel, lsp_decays: list[Channel] | None = None):
    """A template with the gluino decaying to ``channels`` and a stable (or decaying) neutralino1."""
    def spectrum(m_gluino: float, m_lsp: float, m_chargino: float | None = None) -> Spectrum:
        return _card({GLUINO: m_gluino, NEUTRALINO1: m_lsp}, {GLUINO: list(channels), NEUTRALINO1: lsp_decays or []})
    return spectrum


def _gtb(m_gluino: float, m_lsp: float, m_chargino: float | None = None) -> Spectrum:
    return _card({GLUINO: m_gluino, CHARGINO1: m_lsp + _GTB_SPLIT, NEUTRALINO1: m_lsp},
                 {GLUINO: [(0.5, (6, -5, -CHARGINO1)), (0.5, (-6, 5, CHARGINO1))], CHARGINO1: _w_star(_GTB_SPLIT),
                  NEUTRALINO1: []})


def _sqq(m_squark: float, m_lsp: float, m_chargino: float | None = None) -> Spectrum:
    return _card({**{pid: m_squark for pid in LIGHT_SQUARKS}, NEUTRALINO1: m_lsp},
                 {**{pid: [(1.0, (q, NEUTRALINO1))] for pid, q in LIGHT_SQUARKS.items()}, NEUTRALINO1: []})


def _t5ww(m_gluino: float, m_lsp: float, m_chargino: float | None = None) -> Spectrum:
    m_c = (m_gluino + m_lsp) / 2 if m_chargino is None else m_chargino
    # the light flavours, 25 % each: u dbar chargino1-, d ubar chargino1+, c sbar chargino1-, s cbar chargino1+
    chans = [(0.25, (2, -1, -CHARGINO1)), (0.25, (1, -2, CHARGINO1)), (0.25, (4, -3, -CHARGINO1)),
             (0.25, (3, -4, CHARGINO1))]
    return _card({GLUINO: m_gluino, CHARGINO1: m_c, NEUTRALINO1: m_lsp},
                 {GLUINO: chans, CHARGINO1: _chargino_to_w(m_c, m_lsp), NEUTRALINO1: []})


# The eight squarks of t6ww (u, d, s, c; L and R), each decaying to its SU(2) partner quark and the
# chargino1 of the right charge: u~ -> d chargino1+, d~ -> u chargino1-, c~ -> s +, s~ -> c -.
UDSC_SQUARKS = {pid: q for pid, q in LIGHT_SQUARKS.items() if q != 5}
_PARTNER = {1: (2, -CHARGINO1), 2: (1, CHARGINO1), 3: (4, -CHARGINO1), 4: (3, CHARGINO1)}


def _t6ww(m_squark: float, m_lsp: float, m_chargino: float | None = None) -> Spectrum:
    m_c = (m_squark + m_lsp) / 2 if m_chargino is None else m_chargino
    return _card({**{pid: m_squark for pid in UDSC_SQUARKS}, CHARGINO1: m_c, NEUTRALINO1: m_lsp},
                 {**{pid: [(1.0, _PARTNER[q])] for pid, q in UDSC_SQUARKS.items()},
                  CHARGINO1: _chargino_to_w(m_c, m_lsp), NEUTRALINO1: []})


def _stop_to(*channels: Channel, lsp_decays: list[Channel] | None = None, higgsino: bool = False):
    """Stop pairs with ``channels``; with ``higgsino`` a chargino1 degenerate with the LSP."""
    def spectrum(m_stop: float, m_lsp: float, m_chargino: float | None = None) -> Spectrum:
        masses = {STOP1: m_stop, NEUTRALINO1: m_lsp}
        decays = {STOP1: list(channels), NEUTRALINO1: lsp_decays or []}
        if higgsino:
            masses[CHARGINO1], decays[CHARGINO1] = m_lsp, _RPV_CHARGINO
        return _card(masses, decays)
    return spectrum


def _rpv_gtt_higgsino(m_gluino: float, m_lsp: float, m_chargino: float | None = None) -> Spectrum:
    chans = [(0.5, (NEUTRALINO1, 6, -6)), (0.2, (CHARGINO1, 5, -6)), (0.2, (-CHARGINO1, -5, 6)),
             (0.1, (NEUTRALINO1, 5, -5))]
    return _card({GLUINO: m_gluino, CHARGINO1: m_lsp, NEUTRALINO1: m_lsp},
                 {GLUINO: chans, CHARGINO1: _RPV_CHARGINO, NEUTRALINO1: _RPV_NEUTRALINO})


def _rpv_gtbs(m_gluino: float, m_stop: float, m_chargino: float | None = None) -> Spectrum:
    # gluino -> t stop1* + c.c. (50 % each); the stop is the LSP: stop1 -> bbar sbar (lambda''_323)
    return _card({GLUINO: m_gluino, STOP1: m_stop},
                 {GLUINO: [(0.5, (-6, STOP1)), (0.5, (6, -STOP1))], STOP1: [(1.0, (-5, -3))]})


_XY = "x = m({}), y = m({})"
_HIGGSINO_NOTE = "a higgsino LSP, as the mirror's ATLAS param_card.{} (ATLAS-SUSY-2019-04 FACTS.md section 5)"

# ATLAS-SUSY-2019-04's gluino and stop planes come in two readings, both templates since the stored
# sources do not settle which one ATLAS' limits hold for: the SModelS txNames of its sigma_UL
# (TRPVtttbj, TRPVttbj) constrain the pure chains, gluino -> t tbar neutralino1 and stop1 -> t
# neutralino1 at 100 % (a bino-like LSP: "-bino"), while ATLAS' param cards in the mirror (Gtt, stop)
# have a higgsino LSP: gluino -> t tbar N1 50 %, t b C1 40 %, b bbar N1 10 %; stop1 -> t N1 or b C1,
# 50 % each; C1 as heavy as N1, -> sbar bbar bbar ("-higgsino"). Use "-higgsino" to compare with
# ATLAS (its cards are what its generation read; the EW benchmark of the paper is a higgsino too),
# "-bino" for the chain SModelS' planes are labelled with.
TEMPLATES: dict[str, Template] = {t.name: t for t in [
    Template("gtt", "gluino", "neutralino1", "gluino-pair", "gluino -> t tbar neutralino1 (100%)",
             "ATLAS-SUSY-2018-30 Gtt", _gluino_to((1.0, (6, -6, NEUTRALINO1)))),
    Template("gbb", "gluino", "neutralino1", "gluino-pair", "gluino -> b bbar neutralino1 (100%)",
             "ATLAS-SUSY-2018-30 Gbb", _gluino_to((1.0, (5, -5, NEUTRALINO1)))),
    Template("gqq", "gluino", "neutralino1", "gluino-pair", "gluino -> q qbar neutralino1 (q = u, d, s, c; 25% each)",
             "ATLAS-SUSY-2018-22 T1, " + _XY.format("gluino", "neutralino1"),
             _gluino_to(*[(0.25, (q, -q, NEUTRALINO1)) for q in (1, 2, 3, 4)])),
    Template("gtb", "gluino", "neutralino1", "gluino-pair",
             "gluino -> t bbar chargino1- + c.c. (50% each); chargino1 -> neutralino1 + W* (m = m_LSP + 2 GeV)",
             "ATLAS-SUSY-2018-30 Gtb", _gtb),
    Template("sqq", "squark", "neutralino1", "squark-pair",
             "squark -> q neutralino1 (100%) for ten degenerate squarks (u, d, s, c, b; L and R), gluino decoupled",
             "ATLAS-SUSY-2018-22 T2, " + _XY.format("squark", "neutralino1"), _sqq),
    Template("t5ww", "gluino", "neutralino1", "gluino-pair",
             "gluino -> q qbar' chargino1 (u dbar, d ubar, c sbar, s cbar; 25% each); chargino1 -> W neutralino1 "
             "(W* below the W mass); m(chargino1) = (m(gluino) + m(neutralino1)) / 2",
             "ATLAS-SUSY-2018-22 SR6j A x eff maps (SModelS T5WW), " + _XY.format("gluino", "neutralino1")
             + ", m(chargino1) = (x + y) / 2", _t5ww, sets_chargino=True),
    Template("t6ww", "squark", "neutralino1", "squark-pair-udsc",
             "squark -> q' chargino1 for eight degenerate squarks (u, d, s, c; L and R: u~ -> d chargino1+, "
             "d~ -> u chargino1-, ...), gluino and sbottoms decoupled; chargino1 -> W neutralino1 "
             "(W* below the W mass); m(chargino1) = (m(squark) + m(neutralino1)) / 2",
             "ATLAS-SUSY-2018-22 squark one-step benchmarks (the CheckMATE cutflow (800, 600, 400)); "
             "no published map in the mirror", _t6ww, sets_chargino=True),
    Template("t2tt", "stop", "neutralino1", "stop-pair", "stop1 -> t neutralino1 (100%), on-shell top",
             "none in the mirror (SModelS T2tt planes, " + _XY.format("stop1", "neutralino1") + ")",
             _stop_to((1.0, (6, NEUTRALINO1)))),
    Template("rpv-gtt-bino", "gluino", "neutralino1", "gluino-pair",
             "gluino -> t tbar neutralino1 (100%); neutralino1 -> t b s (lambda''_323)",
             "ATLAS-SUSY-2019-04 TRPVtttbj sigma_UL (figaux_11), " + _XY.format("gluino", "neutralino1"),
             _gluino_to((1.0, (6, -6, NEUTRALINO1)), lsp_decays=_RPV_NEUTRALINO)),
    Template("rpv-gtt-higgsino", "gluino", "neutralino1", "gluino-pair",
             "gluino -> t tbar neutralino1 (50%), t bbar chargino1- + c.c. (40%), b bbar neutralino1 (10%); "
             "neutralino1 -> t b s, chargino1+ -> sbar bbar bbar (lambda''_323), m(chargino1) = m(neutralino1); "
             + _HIGGSINO_NOTE.format("Gtt"),
             "ATLAS-SUSY-2019-04 TRPVtttbj sigma_UL (figaux_11), " + _XY.format("gluino", "neutralino1"),
             _rpv_gtt_higgsino),
    Template("rpv-stop-bino", "stop", "neutralino1", "stop-pair",
             "stop1 -> t neutralino1 (100%); neutralino1 -> t b s (lambda''_323)",
             "ATLAS-SUSY-2019-04 TRPVttbj sigma_UL (figaux_12), " + _XY.format("stop1", "neutralino1"),
             _stop_to((1.0, (6, NEUTRALINO1)), lsp_decays=_RPV_NEUTRALINO)),
    Template("rpv-stop-higgsino", "stop", "neutralino1", "stop-pair",
             "stop1 -> t neutralino1 (50%), b chargino1+ (50%); neutralino1 -> t b s, chargino1+ -> sbar bbar bbar "
             "(lambda''_323), m(chargino1) = m(neutralino1); " + _HIGGSINO_NOTE.format("stop"),
             "ATLAS-SUSY-2019-04 TRPVttbj sigma_UL (figaux_12), " + _XY.format("stop1", "neutralino1"),
             _stop_to((0.5, (6, NEUTRALINO1)), (0.5, (5, CHARGINO1)), lsp_decays=_RPV_NEUTRALINO, higgsino=True)),
    Template("rpv-gtbs", "gluino", "stop", "gluino-pair",
             "gluino -> t stop1* + c.c. (50% each); the stop is the LSP: stop1 -> bbar sbar (lambda''_323; "
             "ATLAS' param_card.Gtbs has lambda''_313, bbar dbar: the same light jet)",
             "ATLAS-SUSY-2019-04 gluino -> t stop (SModelS TRPV5tjb, figaux_10; not in the mirror), "
             + _XY.format("gluino", "stop1"), _rpv_gtbs),
    Template("rpv-lqd", "gluino", "neutralino1", "gluino-pair",
             "gluino -> q qbar neutralino1 (q = u, d, s, c; 25% each); neutralino1 -> l u dbar / nu d dbar "
             "(l = e, mu; lambda'_{i11}; charged and neutral 50% each)",
             "ATLAS-SUSY-2019-04 lambda' model (SModelS TRPV2fjj, figaux_09; not in the mirror), "
             + _XY.format("gluino", "neutralino1"),
             _gluino_to(*[(0.25, (q, -q, NEUTRALINO1)) for q in (1, 2, 3, 4)], lsp_decays=_LQD_NEUTRALINO)),
]}

SIMPLIFIED_MODELS = {k: t.decays for k, t in TEMPLATES.items()}
SIMPLIFIED_PARENT = {k: t.parent for k, t in TEMPLATES.items()}  # the produced sparticle of each model
SIMPLIFIED_PROCESS = {k: t.process for k, t in TEMPLATES.items()}  # and the process that produces it


def _template(kind: str) -> Template:
    if kind not in TEMPLATES:
        raise SLHAError(f"unknown simplified model {kind!r}; known: {', '.join(TEMPLATES)}")
    return TEMPLATES[kind]


def template_spectrum(kind: str, m_parent: float, m_lsp: float, m_chargino: float | None = None) -> Spectrum:
    """The masses and decays of a template point, after checking that the point is possible: every
    mass finite, ``0 <= m_lsp < m_parent < 5 TeV``, and every decay channel open at the masses
    Pythia generates with. A bad point is a one-line :class:`SLHAError` naming the cause."""
    t = _template(kind)
    given = {f"m_{t.parent}": m_parent, "m_lsp": m_lsp}
    if m_chargino is not None:
        given["m_chargino"] = m_chargino
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SLHAError(f"{kind}: {key} must be a finite mass in GeV, got {value!r}")
    if m_chargino is not None and not t.sets_chargino:
        takers = ", ".join(k for k, x in TEMPLATES.items() if x.sets_chargino)
        raise SLHAError(f"{kind}: m_chargino applies to {takers} only")
    if not 0 <= m_lsp < m_parent < DECOUPLED_MASS:
        raise SLHAError(f"{kind}: need 0 <= m_LSP < m_{t.parent} < {DECOUPLED_MASS:g} GeV (the decoupled "
                        f"sparticles), got m_{t.parent}={m_parent:g}, m_LSP={m_lsp:g}")
    if m_chargino is not None and not m_lsp < m_chargino < m_parent:
        raise SLHAError(f"{kind}: need m_LSP < m_chargino < m_{t.parent}, got m_{t.parent}={m_parent:g}, "
                        f"m_chargino={m_chargino:g}, m_LSP={m_lsp:g}")
    spec = t.spectrum(float(m_parent), float(m_lsp), None if m_chargino is None else float(m_chargino))
    for parent, channels in spec.decays.items():
        for _, ids in channels:
            need = sum(spec.masses.get(abs(i), SM_MASS.get(abs(i), 0.0)) for i in ids)
            if need >= spec.masses[parent]:
                raise SLHAError(f"{kind}: the decay {_name(parent)} -> {' '.join(_name(i) for i in ids)} is closed at "
                                f"m({_name(parent)}) = {spec.masses[parent]:g} GeV (needs more than {need:g} GeV)")
    return spec


def simplified_model(kind: str, m_parent: float, m_lsp: float, m_chargino: float | None = None) -> str:
    """The SLHA text of a template point (:data:`TEMPLATES`); every other sparticle is decoupled.

    ``m_parent`` is the produced sparticle's mass (the gluino; the squarks of ``sqq`` and ``t6ww``;
    the stop of ``t2tt`` and ``rpv-stop*``), ``m_lsp`` the LSP's (the stop in ``rpv-gtbs``);
    ``m_chargino`` overrides the mass relation of ``t5ww`` and ``t6ww``."""
    t = _template(kind)
    spec = template_spectrum(kind, m_parent, m_lsp, m_chargino)
    lines = [f"# {kind}: {t.decays}; written by recast",
             f"# production: {t.process} (its cross-section table in recast.xsec); matches {t.reference}",
             "BLOCK MODSEL", "    1   0   # general MSSM", "BLOCK MASS"]
    lines += [f"   {pid:>8d}   {m:.6e}" for pid, m in sorted(spec.masses.items())]
    for pid, channels in spec.decays.items():
        if not channels:
            lines.append(f"DECAY   {pid}   0.0   # stable LSP")
            continue
        lines.append(f"DECAY   {pid}   {PROMPT_WIDTH:.1E}   # {_name(pid)}")
        lines += [f"   {br:<6g}   {len(ids)}   " + "   ".join(f"{i:>8d}" for i in ids) for br, ids in channels]
    return "\n".join(lines) + "\n"


def edited(text: str, masses: dict[int, float] | None = None,
           blocks: dict[str, list[list[float]]] | None = None) -> str:
    """An SLHA text with MASS entries set and whole blocks replaced (matrix blocks given as
    ``[[i, j, value], ...]``); everything else, decays included, is kept verbatim."""
    import re

    lines = text.splitlines()
    masses = {int(k): float(v) for k, v in (masses or {}).items()}
    blocks = {k.upper(): v for k, v in (blocks or {}).items()}
    out: list[str] = []
    current = None
    seen_mass: set[int] = set()
    for line in lines:
        head = re.match(r"^\s*(BLOCK|DECAY)\s+(\S+)", line, re.IGNORECASE)
        if head:
            if current == "MASS":
                out += [f"   {pid:>8d}   {m:.8e}   # set by recast" for pid, m in masses.items() if pid not in seen_mass]
            current = head.group(2).upper() if head.group(1).upper() == "BLOCK" else "DECAY"
            if current in blocks:
                continue
        elif current in blocks:
            continue  # the old content of a replaced block
        elif current == "MASS":
            entry = re.match(r"^\s*(-?\d+)\s+(\S+)", line)
            if entry and int(entry.group(1)) in masses:
                pid = int(entry.group(1))
                seen_mass.add(pid)
                line = f"   {pid:>8d}   {masses[pid]:.8e}   # set by recast"
        out.append(line)
    for name, rows in blocks.items():
        out.append(f"BLOCK {name}   # set by recast")
        out += ["  " + "  ".join(str(int(x)) for x in row[:-1]) + f"   {float(row[-1]):.8e}" for row in rows]
    return "\n".join(out) + "\n"
