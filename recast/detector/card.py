"""Detector cards: finding, reading and checking them.

A card is a YAML file (``recast/schemas/detector-1.schema.json``; the format is in docs/guide.md,
"Detector cards"): a shipped one by name (``data/detectors/<name>.yaml``: ``truth``,
``atlas-run2``) or a user's file by path. :func:`load` checks it completely before any event is
processed: the schema (required fields, no unknown keys, the four function forms), the momentum unit
(GeV only), bin edges that increase and value counts that match them, formulas within their
whitelist, efficiencies in [0, 1], resolutions and uncertainties >= 0 and energy scales > 0 (every
table entry, and formulas on a grid: pT log-spaced from 1 GeV to 5 TeV, |eta| from 0 to the
section's eta_max), and the nesting of working points (each looser b-tagging point of
``pseudo_continuous`` at least as efficient as the next, per flavour; electrons and muons
Loose >= Medium >= Tight). Every problem is one :class:`~recast.errors.DetectorCardError` line
naming the file and the field. Cards are parsed once per process (keyed by path and sha256).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import DetectorCardError, read_bytes
from ..paths import data_dir
from .functions import Binned, Binned2D, Function, FunctionError, parse

FLAVOURS = {"b": 5, "c": 4, "tau": 15, "light": 0}  # HadronConeExclTruthLabelID of recast.objects.jets
LEPTON_WORKING_POINTS = ("Loose", "Medium", "Tight")  # loosest first
GRID_PT_GEV = (1.0, 5000.0)
DEFAULT_ETA_MAX = 4.9  # the calorimeters' reach: the check grid of sections without an eta_max


@dataclass(frozen=True)
class Jvt:
    """Pile-up jet suppression: jets with pT < pt_max and |eta| < eta_max kept with ``efficiency``."""

    pt_max: float
    eta_max: float
    efficiency: Function


@dataclass(frozen=True)
class JetResponse:
    eta_max: float | None = None
    energy_scale: Function | None = None
    energy_scale_uncertainty: Function | None = None  # a budget for robustness studies; not applied
    energy_resolution: Function | None = None
    eta_resolution: Function | None = None
    jvt: Jvt | None = None

    @property
    def changes_momentum(self) -> bool:
        return any(f is not None for f in (self.energy_scale, self.energy_resolution, self.eta_resolution))


@dataclass(frozen=True)
class BTagging:
    eta_max: float
    working_points: Mapping[str, Mapping[int, Function]]  # name -> truth label (5, 4, 15, 0) -> efficiency
    pseudo_continuous: tuple[str, ...] = ()  # loosest first


@dataclass(frozen=True)
class LeptonResponse:
    eta_max: float
    working_points: Mapping[str, Function] | None = None  # Loose, Medium, Tight
    resolution: Function | None = None  # sigma(E)/E for electrons, sigma(pT)/pT for muons


@dataclass(frozen=True)
class MetResponse:
    soft_term_resolution: Function | None = None


@dataclass(frozen=True)
class Card:
    """A checked detector card. ``None`` sections leave their objects at truth level."""

    name: str
    title: str
    path: Path
    sha256: str
    sources: Mapping[str, str] = field(default_factory=dict)
    jets: JetResponse | None = None
    btagging: BTagging | None = None
    electrons: LeptonResponse | None = None
    muons: LeptonResponse | None = None
    met: MetResponse | None = None

    @property
    def is_truth(self) -> bool:
        """True when the card changes nothing (the ``truth`` card)."""
        return all(s is None for s in (self.jets, self.btagging, self.electrons, self.muons, self.met))

    def describe(self) -> dict[str, str]:
        """The ``detector`` block of a result document."""
        return {"name": self.name, "path": str(self.path), "sha256": self.sha256}


# -- finding cards ------------------------------------------------------------------------------------


def cards_dir() -> Path:
    """``data/detectors``: the shipped cards."""
    return data_dir() / "detectors"


@lru_cache(maxsize=None)
def available_cards() -> tuple[str, ...]:
    """The names of the shipped cards, sorted."""
    return tuple(sorted(p.stem for p in cards_dir().glob("*.yaml")))


def resolve(ref: str | Path) -> Path:
    """The file of a card: a shipped card's name, or a path (made absolute)."""
    text = str(ref)
    if text in available_cards():
        return cards_dir() / f"{text}.yaml"
    path = Path(text).expanduser()
    if path.exists():
        return path.resolve()
    raise DetectorCardError(f"detector card {text!r}: neither a shipped card ({', '.join(available_cards())}) "
                            f"nor a file")


def canonical(ref: str | Path) -> str:
    """How options and results name a card: a shipped card by its name, a file by its absolute
    path (so that workers in other directories find it)."""
    text = str(ref)
    return text if text in available_cards() else str(resolve(text))


_CACHE: dict[tuple[str, str], Card] = {}


def load(ref: str | Path) -> Card:
    """The checked card ``ref`` names (a shipped card's name or a path); parsed once per process
    for a given path and content."""
    path = resolve(ref)
    raw = read_bytes(path, DetectorCardError, "detector card")
    sha = hashlib.sha256(raw).hexdigest()
    key = (str(path), sha)
    if key not in _CACHE:
        _CACHE[key] = _Reader(path).card(raw, sha)
    return _CACHE[key]


# -- reading -----------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML with two fixes for cards: 1e-3 is a number (YAML 1.1 wants 1.0e-3), and a key
    given twice is an error (PyYAML silently keeps the last)."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"), list("-+0123456789."))


def _unique_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, (str, int, float)) and key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)

_SCHEMA_MISSING = re.compile(r"^'([^']+)' is a required property$")
_SCHEMA_UNKNOWN = re.compile(r"^Additional properties are not allowed \((.+) (?:was|were) unexpected\)$")
_RANGES = {  # kind -> (lowest, highest, lowest allowed itself, word)
    "efficiency": (0.0, 1.0, True), "resolution": (0.0, np.inf, True), "uncertainty": (0.0, np.inf, True),
    "energy scale": (0.0, np.inf, False),
}


class _Reader:
    """Reads one card; every error names ``path`` and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, where: str, message: str) -> DetectorCardError:
        return DetectorCardError(f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}")

    def card(self, raw: bytes, sha: str) -> Card:
        doc = self._yaml(raw)
        self._schema(doc)
        if doc["momentum_unit"] != "GeV":
            raise self.error("momentum_unit", f"{doc['momentum_unit']!r} is not accepted: cards are in GeV "
                                              f"(convert its numbers and write 'momentum_unit: GeV')")
        jets = self._jets(doc["jets"]) if "jets" in doc else None
        btagging = self._btagging(doc["btagging"]) if "btagging" in doc else None
        electrons = self._lepton(doc["electrons"], "electrons", "energy_resolution") if "electrons" in doc else None
        muons = self._lepton(doc["muons"], "muons", "momentum_resolution") if "muons" in doc else None
        met = None
        if "met" in doc:
            soft = self._function(doc["met"], "met", "soft_term_resolution", "resolution", DEFAULT_ETA_MAX)
            met = MetResponse(soft)
        return Card(name=doc["name"], title=doc["title"], path=self.path, sha256=sha, sources=dict(doc["sources"]),
                    jets=jets, btagging=btagging, electrons=electrons, muons=muons, met=met)

    def _yaml(self, raw: bytes) -> dict:
        try:
            doc = yaml.load(raw.decode("utf-8"), Loader=_Loader)
        except UnicodeDecodeError as exc:
            raise self.error("", f"not UTF-8 text (byte at offset {exc.start})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" (line {mark.line + 1})" if mark is not None else ""
            raise self.error("", f"not valid YAML: {getattr(exc, 'problem', None) or exc}{line}") from None
        if not isinstance(doc, dict):
            raise self.error("", "not a detector card (expected a mapping starting with 'schema: recast-detector')")
        if "schema" not in doc:
            raise self.error("schema", "missing (a detector card starts with 'schema: recast-detector')")
        return doc

    def _schema(self, doc: dict) -> None:
        from .. import schemas

        try:
            schemas.validate(doc, "detector", self.path)
        except schemas.SchemaError as exc:
            where = ".".join(map(str, exc.at))
            detail = str(exc).partition(f" file at {'/'.join(map(str, exc.at)) or 'top level'}: ")[2]
            if not detail:  # not a detector card, or another version
                raise DetectorCardError(str(exc)) from None
            missing, unknown = _SCHEMA_MISSING.match(detail), _SCHEMA_UNKNOWN.match(detail)
            if missing:
                raise self.error(_join(where, missing[1]), "missing (required)") from None
            if unknown:
                names = [n.strip("' ") for n in unknown[1].split(",")]
                raise self.error(_join(where, names[0]), "unknown field" + (f" (also {', '.join(names[1:])})"
                                                                           if len(names) > 1 else "")) from None
            raise self.error(where or "top level", detail) from None

    # -- sections ------------------------------------------------------------------------------------

    def _jets(self, sec: dict) -> JetResponse:
        eta_max = sec.get("eta_max", DEFAULT_ETA_MAX)
        functions = {key: self._function(sec, "jets", key, kind, eta_max)
                     for key, kind in (("energy_scale", "energy scale"), ("energy_scale_uncertainty", "uncertainty"),
                                       ("energy_resolution", "resolution"), ("eta_resolution", "resolution"))}
        jvt = None
        if "jvt" in sec:
            j = sec["jvt"]
            jvt = Jvt(float(j["pt_max"]), float(j["eta_max"]),
                      self._function(j, "jets.jvt", "efficiency", "efficiency", j["eta_max"], pt_max=j["pt_max"]))
        return JetResponse(eta_max=sec.get("eta_max"), jvt=jvt, **functions)

    def _btagging(self, sec: dict) -> BTagging:
        eta_max = sec["eta_max"]
        points = {name: {FLAVOURS[f]: self._function(effs, f"btagging.working_points.{name}", f, "efficiency", eta_max)
                         for f in FLAVOURS}
                  for name, effs in sec["working_points"].items()}
        nested = tuple(sec.get("pseudo_continuous", ()))
        for k, name in enumerate(nested):
            if name not in points:
                raise self.error(f"btagging.pseudo_continuous[{k}]", f"{name!r} is not one of the card's working "
                                                                     f"points ({', '.join(points)})")
        for flavour, label in FLAVOURS.items():
            self._nesting("btagging.pseudo_continuous", [(f"{n}.{flavour}", points[n][label]) for n in nested],
                          eta_max, "the points must nest, listed loosest first")
        return BTagging(eta_max=eta_max, working_points=points, pseudo_continuous=nested)

    def _lepton(self, sec: dict, name: str, resolution_key: str) -> LeptonResponse:
        eta_max = sec["eta_max"]
        points = None
        if "working_points" in sec:
            points = {wp: self._function(sec["working_points"], f"{name}.working_points", wp, "efficiency", eta_max)
                      for wp in LEPTON_WORKING_POINTS}
            self._nesting(f"{name}.working_points", list(points.items()), eta_max, "Loose >= Medium >= Tight")
        return LeptonResponse(eta_max=eta_max, working_points=points,
                              resolution=self._function(sec, name, resolution_key, "resolution", eta_max))

    # -- functions ---------------------------------------------------------------------------------

    def _function(self, parent: Mapping[str, Any], where: str, key: str, kind: str, eta_max: float,
                  pt_max: float = GRID_PT_GEV[1]) -> Function | None:
        if key not in parent:
            return None
        at = _join(where, key)
        try:
            fn = parse(parent[key])
        except FunctionError as exc:
            raise self.error(_join(at, exc.field), str(exc)) from None
        lo, hi, closed = _RANGES[kind]

        def bad(v: float) -> bool:
            return not np.isfinite(v) or v > hi or (v < lo if closed else v <= lo)

        def describe(v: float) -> str:
            if not np.isfinite(v):
                return f"{kind} is {v} (not a finite number)"
            if kind == "efficiency":
                return f"efficiency {v:g} outside [0, 1]"
            return f"{kind} {v:g} {'negative' if closed else 'not positive'}"

        for place, v in fn.table():
            if bad(v):
                raise self.error(at, f"{describe(v)} at {place}")
        pt, eta, energy = _grid(eta_max, [fn], pt_max)
        values = fn(pt, eta, energy)
        wrong = np.flatnonzero(~np.isfinite(values) | (values > hi) | ((values < lo) if closed else (values <= lo)))
        if len(wrong):
            k = wrong[0]
            raise self.error(at, f"{describe(values[k])} at pt={pt[k]:.4g} GeV, eta={eta[k]:.3g}")
        return fn

    def _nesting(self, where: str, ordered: Sequence[tuple[str, Function]], eta_max: float, rule: str) -> None:
        """Each function of ``ordered`` (loosest first) at least as large as the next, on the grid."""
        if len(ordered) < 2:
            return
        pt, eta, energy = _grid(eta_max, [f for _, f in ordered])
        names = [n for n, _ in ordered]
        values = [f(pt, eta, energy) for _, f in ordered]
        for loose, tight, a, b in zip(names, names[1:], values, values[1:]):
            wrong = np.flatnonzero(a < b - 1e-12)
            if len(wrong):
                k = wrong[0]
                raise self.error(where, f"{loose} efficiency {a[k]:.4g} is below {tight}'s {b[k]:.4g} at "
                                        f"pt={pt[k]:.4g} GeV, eta={eta[k]:.3g} ({rule})")


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _grid(eta_max: float, functions: Sequence[Function], pt_max: float = GRID_PT_GEV[1]):
    """(pt, eta, energy) of the check grid: pT log-spaced from 1 GeV to ``pt_max`` (just below it),
    eta from -eta_max to eta_max (just inside), plus every bin edge and bin centre of the tables
    in that range."""
    pt = list(np.geomspace(GRID_PT_GEV[0], pt_max * (1 - 1e-9), 81))
    abs_eta = list(np.linspace(0.0, eta_max * (1 - 1e-9), 25))
    for fn in functions:
        axes = []
        if isinstance(fn, Binned):
            axes = [(fn.variable, fn.edges)]
        elif isinstance(fn, Binned2D):
            axes = [(fn.x, fn.x_edges), (fn.y, fn.y_edges)]
        for variable, edges in axes:
            points = [*edges, *((lo + hi) / 2 for lo, hi in zip(edges, edges[1:]))]
            if variable == "pt":
                pt += [x for x in points if GRID_PT_GEV[0] <= x < pt_max]
            elif variable == "abs_eta":
                abs_eta += [x for x in points if 0 <= x < eta_max]
    pt_axis = np.unique(pt)
    a = np.unique(abs_eta)
    eta_axis = np.concatenate([-a[::-1], a])
    pt_mesh, eta_mesh = (m.ravel() for m in np.meshgrid(pt_axis, eta_axis, indexing="ij"))
    return pt_mesh, eta_mesh, pt_mesh * np.cosh(eta_mesh)
