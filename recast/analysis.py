"""The analysis plugin API and the registry of analyses.

An analysis is a module that reads like the paper's tables: metadata, object definitions,
options (every convention the sources dispute), a ``variables`` function that turns physics
objects into per-event quantities, a preselection and the signal regions as named, ordered lists
of cuts. It contains no engine plumbing: the engine builds the objects, evaluates the cuts and
accumulates yields and cutflows.

Cuts are written as text, ``"met >= 600"`` or ``"njet >= 9, nb >= 3"`` (comma = and), or a bare
boolean variable (``"is_0L"``, ``"not is_1L"``). They are parsed once, and every variable they
use is checked against what ``variables`` returns, so a typo fails loudly on the first chunk.

Analyses are found through the entry-point group ``recast.analyses``: another package adds its
own with ``[project.entry-points."recast.analyses"] MY-ANA = "mypkg.module:ANALYSIS"``.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from typing import Any

import numpy as np
import yaml

from .errors import AnalysisError
from .objects import Objects
from .paths import analysis_data_dir

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
        "==": operator.eq, "!=": operator.ne}
_TERM = re.compile(r"^\s*(?:(not)\s+)?([A-Za-z_]\w*)\s*(?:(>=|<=|==|!=|>|<)\s*"
                   r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))?\s*$")


@dataclass(frozen=True)
class Option:
    """A convention the sources dispute, with its default and the reason for it."""

    name: str
    default: Any
    doc: str
    choices: tuple | None = None  # None: any value of the default's type
    bounds: tuple[float, float] | None = None  # allowed range of a numeric option

    def convert(self, raw: Any) -> Any:
        """Validate (and parse, when given as text on the command line) a value."""
        value = raw
        if isinstance(raw, str) and not isinstance(self.default, str):
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError:
                value = raw
        if self.choices is not None:
            if value not in self.choices:
                raise AnalysisError(f"option {self.name}={raw!r}: choose one of "
                                    f"{', '.join(map(str, self.choices))}")
            return value
        if isinstance(self.default, bool) and not isinstance(value, bool):
            raise AnalysisError(f"option {self.name}={raw!r}: must be true or false")
        if isinstance(self.default, (int, float)) and not isinstance(self.default, bool):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise AnalysisError(f"option {self.name}={raw!r}: must be a number")
            if self.bounds is not None and not self.bounds[0] <= value <= self.bounds[1]:
                raise AnalysisError(f"option {self.name}={raw!r}: must lie in "
                                    f"[{self.bounds[0]:g}, {self.bounds[1]:g}]")
            return type(self.default)(value) if isinstance(self.default, float) else value
        return value


@dataclass(frozen=True)
class _Term:
    variable: str
    op: str | None
    value: float | None
    negate: bool

    def evaluate(self, variables: Mapping[str, np.ndarray]) -> np.ndarray:
        x = np.asarray(variables[self.variable])
        if self.op is None:
            mask = x.astype(bool)
            return ~mask if self.negate else mask
        return _OPS[self.op](x, self.value)


@dataclass(frozen=True)
class Cut:
    """One cutflow step: a label (as in the paper's cutflow table) and a condition.

    >>> import numpy as np
    >>> cut = Cut("N_jet, MET", "njet >= 4, met > 600")
    >>> sorted(cut.variables)
    ['met', 'njet']
    >>> cut.evaluate({"njet": np.array([4, 6, 3]), "met": np.array([650.0, 500.0, 900.0])}).tolist()
    [True, False, False]
    """

    step: str
    condition: str

    @cached_property
    def terms(self) -> tuple[_Term, ...]:
        terms = []
        for text in self.condition.split(","):
            m = _TERM.match(text)
            if not m:
                raise AnalysisError(f"cut {self.step!r}: cannot parse {text.strip()!r} (write "
                                    f"'variable >= number', comma-separated, or a boolean variable)")
            negate, var, op, num = m.groups()
            if negate and op:
                raise AnalysisError(f"cut {self.step!r}: 'not' applies to boolean variables only")
            terms.append(_Term(var, op, float(num) if num is not None else None, bool(negate)))
        return tuple(terms)

    @property
    def variables(self) -> set[str]:
        return {t.variable for t in self.terms}

    def evaluate(self, variables: Mapping[str, np.ndarray]) -> np.ndarray:
        mask = self.terms[0].evaluate(variables)
        for t in self.terms[1:]:
            mask = mask & t.evaluate(variables)
        return mask


@dataclass(frozen=True)
class ScoreCut(Cut):
    """A cut on a preserved model's score, ``score op threshold``, with the threshold the paper's
    table gives (the model card states it too, and the engine checks that they agree). The
    condition text is made from these fields, so code that needs the threshold (a validation's
    score histogram) reads ``threshold``, never the text."""

    condition: str = field(init=False)
    score: str = ""
    threshold: float = float("nan")
    op: str = ">"

    def __post_init__(self) -> None:
        if self.op not in _OPS or not self.score:
            raise AnalysisError(f"score cut {self.step!r}: needs a score variable and one of {', '.join(_OPS)}")
        object.__setattr__(self, "condition", f"{self.score} {self.op} {self.threshold}")

    @cached_property
    def terms(self) -> tuple[_Term, ...]:
        return (_Term(self.score, self.op, float(self.threshold), False),)


@dataclass(frozen=True)
class SignalRegion:
    """A signal region: its cuts after the analysis' preselection, in the published order."""

    name: str
    cuts: tuple[Cut, ...]
    group: str = ""

    @property
    def score_cut(self) -> ScoreCut | None:
        """The region's cut on a model score, if it has one."""
        return next((c for c in self.cuts if isinstance(c, ScoreCut)), None)


@dataclass(frozen=True)
class Histogram:
    """A weighted distribution the engine fills: ``variable`` in ``edges`` (left-closed bins, the
    last one closed), for events passing the preselection and ``cuts``; values outside the edges
    are not counted."""

    name: str
    variable: str
    edges: tuple[float, ...]
    cuts: tuple[Cut, ...] = ()
    unit: str = ""

    def __post_init__(self) -> None:
        if len(self.edges) < 2 or list(self.edges) != sorted(self.edges):
            raise AnalysisError(f"histogram {self.name}: edges must increase")


@dataclass(frozen=True)
class ModelUse:
    """A preserved model the analysis evaluates: the engine builds its inputs from the variables
    named in the model card, in the card's order, calls it once per chunk, and stores the score
    as the variable ``score`` for the cuts.

    The engine scores preselected events only; ``when`` (cut syntax) states any further condition,
    never the preselection again (the score is NaN elsewhere, so no score cut passes); ``pad`` overrides the card's padding of absent inputs and ``fold_rule`` its
    fold rule, for options that dispute them. ``fixed`` gives inputs a constant value (the
    parameters of a parametrised network) and ``node`` reads another output than the card's.
    """

    card: str
    score: str
    when: str = ""
    pad: tuple[tuple[str, float], ...] = ()
    fold_rule: str | None = None
    fixed: tuple[tuple[str, float], ...] = ()
    node: int | None = None

    @cached_property
    def condition(self) -> Cut | None:
        return Cut(f"{self.score} evaluated", self.when) if self.when else None


@dataclass(frozen=True)
class Published:
    """The published numbers of one signal region."""

    observed: int
    background: float
    background_err: float
    s95_observed: float | None = None
    s95_expected: float | None = None
    source: str = ""

    def to_dict(self) -> dict:
        return {"observed": self.observed, "background": self.background,
                "background_err": self.background_err, "s95_observed": self.s95_observed,
                "s95_expected": self.s95_expected, "source": self.source}


@dataclass(frozen=True)
class Analysis:
    """An analysis definition (see the module docstring).

    >>> import numpy as np
    >>> from recast.objects import ObjectConfig
    >>> toy = Analysis(id="TOY", title="jets and MET", arxiv="-", sqrt_s_tev=13.0, luminosity_ifb=139.0,
    ...     preselection=(Cut("MET > 200", "met > 200"),),
    ...     signal_regions=(SignalRegion("SR-4j", (Cut(">= 4 jets", "njet >= 4"), Cut("MET", "met > 600"))),),
    ...     variables=lambda obj, opt: {}, object_config=lambda opt: ObjectConfig(),
    ...     options=(Option("jet_pt", 30.0, "signal-jet pT threshold (GeV)", bounds=(20.0, 60.0)),))
    >>> sorted(toy.needed_variables())
    ['met', 'njet']
    >>> toy.resolve_options({"jet_pt": "25"})
    {'jet_pt': 25.0}
    >>> toy.resolve_options({"jet_pts": 25})
    Traceback (most recent call last):
    ...
    recast.errors.AnalysisError: TOY has no option 'jet_pts'; did you mean 'jet_pt'?
    """

    id: str
    title: str
    arxiv: str
    sqrt_s_tev: float
    luminosity_ifb: float
    preselection: tuple[Cut, ...]
    signal_regions: tuple[SignalRegion, ...]
    variables: Any  # callable(objects: Objects, options: dict) -> dict[str, np.ndarray]
    object_config: Any  # callable(options: dict) -> ObjectConfig
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    journal: str = ""
    hepdata: str = ""
    notes: str = ""  # documentation of the analysis' choices
    models: Any = ()  # tuple[ModelUse, ...], or callable(options) -> tuple[ModelUse, ...]
    regions_for: Any = None  # callable(options) -> signal regions, when options change the cuts
    histograms: Any = ()  # tuple[Histogram, ...], or callable(options) -> tuple[Histogram, ...]
    combinations: dict = field(default_factory=dict)  # multi-bin region -> its (disjoint) bins, fitted together
    # published background-only workspaces: {artifact: "{region}_bkgonly.json", channel, poi, lumi, source}
    full_likelihood: dict | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [sr.name for sr in self.signal_regions]
        if len(set(names)) != len(names):
            raise AnalysisError(f"{self.id}: duplicate signal-region names")
        for c in self.preselection + tuple(c for sr in self.signal_regions for c in sr.cuts):
            c.terms  # parse now: a malformed cut fails at import, not mid-run

    def resolve_options(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overridden by ``given`` (values may be text from the command line)."""
        known = {o.name: o for o in self.options}
        out = {o.name: o.default for o in self.options}
        for name, raw in (given or {}).items():
            if name not in known:
                hint = difflib.get_close_matches(name, known, n=1)
                raise AnalysisError(f"{self.id} has no option {name!r}"
                                    + (f"; did you mean {hint[0]!r}?" if hint else
                                       f"; options: {', '.join(known) or 'none'}"))
            out[name] = known[name].convert(raw)
        return out

    def regions(self, options: Mapping[str, Any] | None = None) -> tuple[SignalRegion, ...]:
        """The signal regions for these options (``signal_regions`` holds the defaults')."""
        if self.regions_for is None or options is None:
            return self.signal_regions
        regions = tuple(self.regions_for(dict(options)))
        if [r.name for r in regions] != [r.name for r in self.signal_regions]:
            raise AnalysisError(f"{self.id}: options must not change the list of signal regions")
        return regions

    def model_uses(self, options: Mapping[str, Any]) -> tuple[ModelUse, ...]:
        uses = self.models(dict(options)) if callable(self.models) else tuple(self.models)
        return tuple(uses)

    def histograms_for(self, options: Mapping[str, Any] | None = None) -> tuple[Histogram, ...]:
        """The histograms the engine fills with these options."""
        if callable(self.histograms):
            return tuple(self.histograms(dict(options) if options is not None else self.resolve_options()))
        return tuple(self.histograms)

    def model_cards(self):
        """The analysis' model cards (``data/<id>/models/*.yaml``), by card id."""
        from .models.card import cards

        return cards(self.id)

    def compute_variables(self, objects: Objects, options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run the analysis' ``variables`` and check that every cut finds what it needs (the
        scores of its models excepted: the engine adds those afterwards)."""
        values = self.variables(objects, dict(options))
        missing = self.needed_variables(options) - set(values) - {u.score for u in self.model_uses(options)}
        if missing:
            raise AnalysisError(f"{self.id}: cuts use undefined variables: {', '.join(sorted(missing))}")
        n = len(objects)
        for k, v in values.items():
            if np.shape(v) != (n,):
                raise AnalysisError(f"{self.id}: variable {k!r} has shape {np.shape(v)}, expected ({n},)")
        return values

    def all_cuts(self, options: Mapping[str, Any] | None = None) -> tuple[Cut, ...]:
        return (self.preselection + tuple(c for sr in self.regions(options) for c in sr.cuts)
                + tuple(c for h in self.histograms_for(options) for c in h.cuts))

    def needed_variables(self, options: Mapping[str, Any] | None = None) -> set[str]:
        """Every variable a cut or histogram uses."""
        return (set().union(*(c.variables for c in self.all_cuts(options)))
                | {h.variable for h in self.histograms_for(options)})

    @cached_property
    def published(self) -> dict[str, Published]:
        """Published numbers per signal region from ``data/<id>/published.yaml``."""
        path = analysis_data_dir(self.id) / "published.yaml"
        if not path.is_file():
            return {}
        doc = yaml.safe_load(path.read_text())
        source = doc.get("source", "")
        out = {}
        for name, row in doc["signal_regions"].items():
            out[name] = Published(observed=int(row["obs"]), background=float(row["bkg"]),
                                  background_err=float(row["bkg_err"]),
                                  s95_observed=row.get("s95_obs"), s95_expected=row.get("s95_exp"),
                                  source=row.get("source", source))
        unknown = set(out) - {sr.name for sr in self.signal_regions} - set(doc.get("not_implemented", []))
        if unknown:
            raise AnalysisError(f"{path}: published numbers for unknown signal regions: "
                                f"{', '.join(sorted(unknown))}")
        return out


def _entry_points():
    return {ep.name: ep for ep in entry_points(group="recast.analyses")}


def available() -> list[str]:
    """Ids of all registered analyses."""
    return sorted(_entry_points())


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", name.upper()).removeprefix("ATLAS").removeprefix("ANA")


def load(name: str) -> Analysis:
    """The analysis registered under ``name`` (or an alias such as ATLAS-SUSY-2018-30 or the
    arXiv number); an unknown name gets the closest known one suggested."""
    eps = _entry_points()
    if name in eps:
        return _load_ep(eps[name])
    wanted = _normalise(name)
    for ep_name, ep in eps.items():
        if _normalise(ep_name) == wanted:
            return _load_ep(ep)
    for ep in eps.values():
        ana = _load_ep(ep)
        if wanted in {_normalise(a) for a in (*ana.aliases, ana.arxiv)}:
            return ana
    hint = difflib.get_close_matches(name, list(eps), n=1, cutoff=0.3)
    raise AnalysisError(f"unknown analysis {name!r}" + (f"; did you mean {hint[0]}?" if hint else "")
                        + f" (known: {', '.join(sorted(eps)) or 'none'})")


def _load_ep(ep) -> Analysis:
    try:
        obj = ep.load()
    except ImportError as exc:
        raise AnalysisError(
            f"analysis {ep.name} is registered ({ep.value}) but cannot be imported: {exc}. In a "
            f"source checkout, install it (pip install -e .) and do not run from its top directory "
            f"with 'python -m': analyses/ and data/ become recast.analyses and recast.data on "
            f"install") from None
    if not isinstance(obj, Analysis):
        raise AnalysisError(f"entry point {ep.name} ({ep.value}) is not a recast Analysis")
    return obj
