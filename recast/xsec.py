"""Signal cross sections: which one is used, and where it came from.

Precedence (the first available wins, and the result always says which it was):

1. ``--xsec-fb`` given by the user;
2. an XSECTION block of the SLHA card for the process' final state at the collision energy;
3. the LHC SUSY Cross Section Working Group table for the process (NNLOapprox+NNLL, carried in
   ``data/xsec`` with its citation), interpolated in the produced sparticle's mass (gluino-pair,
   stop-pair; squark-pair: ten degenerate squarks u, d, s, c, b, L and R, gluino decoupled, and
   only when the card's ten squark masses agree within 0.5 %; squark-pair-udsc: eight of them,
   0.8 times that table, see :data:`DERIVED_TABLES`);
4. the generator's own estimate (Pythia's leading-order ``sigmaGen``, or the cross section a
   HepMC file carries), with a warning: it is typically 2-3x below the higher-order value.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np

from .errors import RecastError
from .paths import data_dir

# process -> (final state for SLHA XSECTION lookup, pid whose mass indexes the table). squark-pair
# sums ten final states, which no single XSECTION block describes: the table only.
PROCESS_TABLES = {
    "gluino-pair": ((1000021, 1000021), 1000021),
    "stop-pair": ((1000006, -1000006), 1000006),
    "squark-pair": ((), 1000002),
    "squark-pair-udsc": ((), 1000002),
}

# Tables that hold for mass-degenerate sparticles only: process -> the pids that must share a mass
# (within 0.5 %) for the table to apply.
DEGENERATE = {
    "squark-pair": (1000001, 1000002, 1000003, 1000004, 1000005, 2000001, 2000002, 2000003, 2000004, 2000005),
    "squark-pair-udsc": (1000001, 1000002, 1000003, 1000004, 2000001, 2000002, 2000003, 2000004),
}

# Tables that are a carried table times a factor: process -> (carried table, factor, why). With the
# gluino decoupled, squark-antisquark production is flavour blind (gg and s-channel gluon only), so
# each of the ten degenerate squarks of the squark-pair table contributes a tenth at every order.
DERIVED_TABLES = {
    "squark-pair-udsc": ("squark-pair", 0.8, "eight of its ten degenerate squarks (u, d, s, c; sbottoms "
                                             "decoupled), each a tenth of the sum"),
}


@dataclass(frozen=True)
class CrossSection:
    value_fb: float
    uncertainty_fb: float | None
    kind: str  # "user" | "slha" | "table" | "generator"
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class XsecTable:
    process: str
    order: str
    citation: str
    source: str
    sqrt_s_gev: float
    mass_gev: np.ndarray
    xsec_fb: np.ndarray
    unc_fb: np.ndarray

    def __call__(self, mass: float) -> tuple[float, float]:
        """Cross section and uncertainty (fb) at ``mass`` (GeV): log-linear interpolation."""
        lo, hi = self.mass_gev[0], self.mass_gev[-1]
        if not lo <= mass <= hi:
            raise RecastError(f"{self.process}: mass {mass:g} GeV outside the cross-section table "
                              f"({lo:g}-{hi:g} GeV); give --xsec-fb")
        value = float(np.exp(np.interp(mass, self.mass_gev, np.log(self.xsec_fb))))
        rel = np.interp(mass, self.mass_gev, self.unc_fb / self.xsec_fb)
        return value, float(rel * value)


@lru_cache(maxsize=None)
def table(process: str, sqrt_s_gev: float = 13000.0) -> XsecTable | None:
    """The carried cross-section table for a process at a collision energy, if there is one."""
    if process in DERIVED_TABLES:
        base_process, factor, why = DERIVED_TABLES[process]
        base = table(base_process, sqrt_s_gev)
        if base is None:
            return None
        return replace(base, process=process, xsec_fb=factor * base.xsec_fb, unc_fb=factor * base.unc_fb,
                       citation=f"{base.citation}; x {factor:g} for {why}")
    path = data_dir() / "xsec" / f"{process}_{sqrt_s_gev / 1000:g}TeV.json"
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    return XsecTable(process=d["process"], order=d["order"], citation=d["citation"], source=d["source"],
                     sqrt_s_gev=d["sqrt_s_gev"], mass_gev=np.array(d["mass_gev"]),
                     xsec_fb=np.array(d["xsec_fb"]), unc_fb=np.array(d["unc_fb"]))


def resolve(*, user_fb: float | None = None, slha_doc=None, process: str | None = None,
            sqrt_s_gev: float = 13000.0, generator_fb: float | None = None,
            generator_name: str = "generator",
            user_source: str = "given on the command line (--xsec-fb)") -> CrossSection | None:
    """Pick the cross section by the precedence in the module docstring; None if nothing is known.
    ``user_source`` says where a user's value came from (the command line, a grid listing)."""
    from . import slha as slha_mod

    if user_fb is not None:
        if not (np.isfinite(user_fb) and user_fb > 0):
            raise RecastError(f"--xsec-fb {user_fb}: must be a positive number (fb)")
        return CrossSection(float(user_fb), None, "user", user_source)
    spec = PROCESS_TABLES.get(process or "")
    if slha_doc is not None and spec is not None:
        x = slha_mod.xsection(slha_doc, sqrt_s_gev, spec[0])
        if x is not None:
            return CrossSection(x.value_fb, None, "slha",
                                f"SLHA XSECTION block ({x.order}{', ' + x.code if x.code else ''})")
    if slha_doc is not None and spec is not None and _degenerate(slha_doc, process):
        tab = table(process, sqrt_s_gev)
        m = slha_mod.mass(slha_doc, spec[1])
        if tab is not None and m is not None:
            value, unc = tab(m)
            return CrossSection(value, unc, "table", f"{tab.citation}, m = {m:g} GeV ({tab.source})")
    if generator_fb is not None and generator_fb > 0:
        return CrossSection(float(generator_fb), None, "generator",
                            f"{generator_name} (no higher-order cross section known for this input)")
    return None


def _degenerate(slha_doc, process: str) -> bool:
    """Whether the card meets the degeneracy a process' table assumes (always, for most)."""
    from . import slha as slha_mod

    masses = [slha_mod.mass(slha_doc, pid) for pid in DEGENERATE.get(process, ())]
    if not masses:
        return True
    if any(m is None for m in masses):
        return False
    return max(masses) - min(masses) <= 0.005 * max(masses)
