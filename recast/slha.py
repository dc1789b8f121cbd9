"""SLHA model points: reading, checks per process, XSECTION blocks, simplified-model cards."""

from __future__ import annotations

import contextlib
import io
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


def check_process(doc: pyslha.Doc, path: Path, process: Process) -> None:
    """Refuse a card that lacks the MASS and DECAY entries the process needs.

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
        raise SLHAError(f"{path}: no DECAY block with decay channels for {ids}, "
                        f"needed for --process {process.name}")
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

SIMPLIFIED_MODELS = {
    "gtt": "gluino -> t tbar neutralino1 (100%)",
    "gbb": "gluino -> b bbar neutralino1 (100%)",
    "gqq": "gluino -> q qbar neutralino1 (q = u, d, s, c; 25% each)",
    "gtb": "gluino -> t bbar chargino1- + c.c. (50% each); chargino1 -> neutralino1 + W* (m = m_LSP + 2 GeV)",
    "sqq": "squark -> q neutralino1 (100%) for ten degenerate squarks (u, d, s, c, b; L and R), gluino decoupled",
}

# The produced sparticle of each simplified model, and the process that produces it.
SIMPLIFIED_PARENT = {"gtt": "gluino", "gbb": "gluino", "gqq": "gluino", "gtb": "gluino", "sqq": "squark"}
SIMPLIFIED_PROCESS = {"gtt": "gluino-pair", "gbb": "gluino-pair", "gqq": "gluino-pair", "gtb": "gluino-pair",
                      "sqq": "squark-pair"}


def simplified_model(kind: str, m_gluino: float, m_lsp: float) -> str:
    """The SLHA text of a simplified model; every other sparticle is decoupled at 5 TeV.

    ``m_gluino`` is the mass of the produced sparticle: the gluino, or for ``sqq`` the ten
    degenerate squarks (use it with ``--process squark-pair``)."""
    if kind not in SIMPLIFIED_MODELS:
        raise SLHAError(f"unknown simplified model {kind!r}; known: {', '.join(SIMPLIFIED_MODELS)}")
    parent = SIMPLIFIED_PARENT[kind]
    if not 0 <= m_lsp < m_gluino:
        raise SLHAError(f"{kind}: need 0 <= m_LSP < m_{parent}, got m_{parent}={m_gluino}, m_LSP={m_lsp}")
    m_chargino = m_lsp + 2.0
    masses = {pid: 5000.0 for pid in _DECOUPLED}
    masses.update({NEUTRALINO1: m_lsp})
    masses.update({pid: m_gluino for pid in LIGHT_SQUARKS} if kind == "sqq" else {GLUINO: m_gluino})
    if kind == "gtb":
        masses[CHARGINO1] = m_chargino
    lines = [f"# {kind}: {SIMPLIFIED_MODELS[kind]}; written by recast",
             "BLOCK MODSEL", "    1   0   # general MSSM", "BLOCK MASS"]
    lines += [f"   {pid:>8d}   {m:.6e}" for pid, m in sorted(masses.items())]
    if kind == "sqq":
        for pid, q in LIGHT_SQUARKS.items():
            lines += [f"DECAY   {pid}   1.0E-02   # squark", f"   1.0   2    {q}   1000022"]
        lines += ["DECAY   1000022   0.0   # stable LSP", ""]
        return "\n".join(lines)
    lines += ["DECAY   1000021   1.0E-02   # gluino"]
    if kind == "gtt":
        lines += ["   1.0   3    6   -6   1000022"]
    elif kind == "gbb":
        lines += ["   1.0   3    5   -5   1000022"]
    elif kind == "gqq":
        lines += [f"   0.25   3    {q}   -{q}   1000022" for q in (1, 2, 3, 4)]
    elif kind == "gtb":
        lines += ["   0.5   3    6   -5   -1000024", "   0.5   3   -6    5    1000024",
                  "DECAY   1000024   1.0E-10   # chargino1: off-shell W",
                  "   0.3333   3   1000022   -1    2",
                  "   0.3333   3   1000022   -3    4",
                  "   0.1111   3   1000022  -11   12",
                  "   0.1111   3   1000022  -13   14",
                  "   0.1112   3   1000022  -15   16"]
    lines += ["DECAY   1000022   0.0   # stable LSP", ""]
    return "\n".join(lines)


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
