"""Model cards: every convention a preserved model needs, as checked data.

One YAML file per model in ``data/<ANA>/models/<id>.yaml``. A card says which artifact(s) hold
the model and how to feed it:

``id``, ``analysis``, ``description``
``format``
    ``onnx`` or ``tmva-xml`` (converted to ONNX on load, cached by the XML's sha256, and evaluated
    by the forest kernel of :mod:`recast.models.forest`).
``files``
    artifact id per fold (``{all: X}`` for a single model, or ``{even: X, odd: Y}``).
``folds``
    when there are two models: ``rule`` (``event-number-parity``: even event numbers use the
    ``even`` model) and ``source`` (who says so).
``signature``
    ONNX input and output tensor names, number of outputs; ``batch: fixed-1`` when the graph
    declares a batch of one (it is rewritten to a symbolic batch so that a chunk is one call).
``inputs``
    in the model's order: ``name`` (the analysis variable that fills it), ``unit``, optional
    ``scale`` (x -> (x - offset) / scale), ``pad`` (value for an absent object; without it an
    absent value is an error), ``domain`` (what the training saw of this input, in the raw unit:
    ``[min, max]`` (either may be null), ``{even: [min, max], odd: [min, max]}`` per fold,
    ``{values: [...]}`` or ``{mean: m, width: s}``; see ``training_domain``).
``training_domain``
    with any input ``domain``: ``source`` (where the domain comes from), optional ``moments:
    normalisation`` (inputs without their own domain take the mean and width of the
    ``normalisation_from`` file) and ``sigmas`` (a value lies outside a ``{mean, width}`` domain
    beyond this many widths of the mean; default :data:`MOMENT_SIGMAS`). An absent object takes the
    card's padding, the training's own value for it, and is never outside. ``recast probe``
    reports the domain; ``recast run`` warns when many events of a region lie outside.
``perturbation``
    optional, for ``recast probe``'s worst-case band: ``inputs`` maps input names (``{k}`` stands
    for a slot number, e.g. ``jetPt{k}``) to a budget kind of :data:`BUDGETS`; ``jets`` (and
    ``leptons``) name the inputs holding a slot's ``pt`` and ``eta`` (same ``{k}``), which the
    detector card's functions take. Inputs not named never move.
``disputed``
    optional list of conventions the sources dispute that the card can flip itself (analysis
    options cover the rest), each ``name``, ``description`` (who does what) and one of ``pad:
    {input: value}``, ``scale: {input: value}``, ``phi_range: 0-2pi|pm-pi`` with ``inputs:
    [...]``, ``folds: swapped|random`` (input names may use ``{k}``). ``recast probe`` reruns the
    selection with each.
``conventions``
    free-form but required keys ``phi_range`` and ``btag_encoding`` (``not used`` when irrelevant).
``outputs``
    ``score``: how the score is formed, ``node``: the output column it is read from.
``thresholds``
    score cut per signal region (keyed by the region's name, or by the card's id when the model
    serves one region), as the source states it; the engine checks that the analysis' region table
    cuts at the same value.
``padding``
    ``before-scaling`` (default): ``pad`` values are raw (GeV) values, scaled like real ones;
    ``after-scaling``: they are what the network itself sees for an absent object.
``normalisation_from``
    optional ``{artifact: <id>, kind: simpleanalysis-config}``: offsets and scales are read from
    that file (its branch names must equal the card's inputs, in order) instead of the card.
``golden``
    input vectors with the outputs each fold must reproduce to ``tolerance`` (default 1e-5);
    ``golden_space: model-input`` when the vectors are already what the network sees. A card may
    have none only if ``golden_unavailable`` says why (a model nobody here could run); the
    artifact's checksum or git blob then pins the file.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import ModelError, read_text
from ..paths import analysis_data_dir

FORMATS = ("onnx", "tmva-xml")
# How an event picks the model of a k-fold pair: the parity of its event number (ATLAS' training
# split), or a seeded per-event coin (an option, for when the split is disputed).
FOLD_RULES = ("event-number-parity", "random")
PAD_STAGES = ("before-scaling", "after-scaling")
GOLDEN_SPACES = ("raw", "model-input")
#: A value lies outside a ``{mean, width}`` training domain beyond this many widths of the mean.
#: Whatever the distribution, at most 1/5^2 = 4 % of the training sample lies that far out
#: (Chebyshev), for a Gaussian 6e-7: the network learnt little there.
MOMENT_SIGMAS = 5.0
#: How far ``recast probe`` may move an input (the detector card's functions; ``u`` the jet energy-scale
#: uncertainty of a jet slot, ``u_mean`` the pT-weighted mean of ``u`` over the card's jet slots):
#: ``jet-energy-scale`` u x |x| of the slot's jet (pT, E, mass); ``jet-eta-resolution`` the card's eta
#: resolution of the slot's jet; ``jets-energy-scale`` u_mean x |x| (sums and masses of jets move
#: together); ``met`` u_mean x x plus the soft-term resolution; ``lepton-scale`` the larger of the
#: electron and muon resolutions at the slot's lepton, x |x|.
BUDGETS = ("jet-energy-scale", "jet-eta-resolution", "jets-energy-scale", "met", "lepton-scale")
PHI_RANGES = ("0-2pi", "pm-pi")
DISPUTED_FOLDS = ("swapped", "random")


@dataclass(frozen=True)
class InputDomain:
    """What the training saw of one input (raw unit): an interval (``low``/``high``, None = open),
    a set of ``values``, or moments (``mean``, ``width``: outside beyond ``sigmas`` widths);
    ``from_normalisation``: moments still to be read from the card's normalisation file."""

    low: float | None = None
    high: float | None = None
    values: tuple[float, ...] | None = None
    mean: float | None = None
    width: float | None = None
    sigmas: float = MOMENT_SIGMAS
    from_normalisation: bool = False

    @property
    def kind(self) -> str:
        return "values" if self.values is not None else "moments" if self.is_moments else "interval"

    @property
    def is_moments(self) -> bool:
        return self.mean is not None or self.from_normalisation

    def bounds(self) -> tuple[float, float]:
        """The interval outside which a value lies (for moments: mean -+ sigmas x width)."""
        if self.values is not None:
            return min(self.values), max(self.values)
        if self.is_moments:
            if self.mean is None:
                raise ModelError("the moments of a normalisation-file domain are not read yet")
            return self.mean - self.sigmas * self.width, self.mean + self.sigmas * self.width
        return (-np.inf if self.low is None else self.low), (np.inf if self.high is None else self.high)

    def outside(self, x: np.ndarray) -> np.ndarray:
        """Which of the values ``x`` lie outside (NaN, an absent object, never does)."""
        x = np.asarray(x, dtype=np.float64)
        if self.values is not None:
            return ~np.isnan(x) & ~np.isin(x, np.asarray(self.values, dtype=np.float64))
        lo, hi = self.bounds()
        return (x < lo) | (x > hi)

    def to_dict(self) -> dict[str, Any]:
        if self.values is not None:
            return {"kind": "values", "values": list(self.values)}
        if self.is_moments:
            return {"kind": "moments", "mean": self.mean, "width": self.width, "sigmas": self.sigmas}
        return {"kind": "interval", "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Budget:
    """How far one input may move (``kind`` of :data:`BUDGETS`); ``slot``: the inputs (indices)
    holding its object's pT and eta, for the per-object kinds."""

    input: int
    kind: str
    slot: tuple[int, int] | None = None


@dataclass(frozen=True)
class Perturbation:
    """A card's ``perturbation`` block, resolved to input indices."""

    budgets: tuple[Budget, ...]
    jet_slots: tuple[tuple[int, int], ...]  # (pT, eta) input indices of every jet slot


@dataclass(frozen=True)
class Disputed:
    """A convention the sources dispute that the card itself can flip (see ``disputed``)."""

    name: str
    description: str
    pad: dict[int, float] = field(default_factory=dict)  # input index -> pad value
    scale: dict[int, float] = field(default_factory=dict)  # input index -> scale
    phi_range: str | None = None
    phi_inputs: tuple[int, ...] = ()
    folds: str | None = None


@dataclass(frozen=True)
class CardInput:
    name: str
    unit: str = ""
    offset: float = 0.0
    scale: float = 1.0
    pad: float | None = None
    domain: dict[str, InputDomain] | None = None  # fold ('all', 'even', 'odd') -> domain


@dataclass(frozen=True)
class Golden:
    name: str
    inputs: np.ndarray  # float32 [n_inputs]
    outputs: dict[str, np.ndarray]  # fold -> expected output row


@dataclass(frozen=True)
class ModelCard:
    id: str
    analysis: str
    description: str
    format: str
    files: dict[str, str]
    inputs: tuple[CardInput, ...]
    input_tensor: str
    output_tensor: str
    n_outputs: int
    fixed_batch: bool
    score_node: int
    score_doc: str
    conventions: dict[str, Any]
    thresholds: dict[str, float]
    golden: tuple[Golden, ...]
    tolerance: float = 1e-5
    pad_stage: str = "before-scaling"
    golden_space: str = "raw"
    golden_unavailable: str = ""
    normalisation_from: dict[str, str] | None = None
    fold_rule: str | None = None
    fold_source: str = ""
    domain_source: str = ""
    perturbation: Perturbation | None = None
    disputed: tuple[Disputed, ...] = ()
    path: Path | None = None

    def threshold_for(self, region: str) -> float | None:
        """The score cut the card states for ``region`` (see ``thresholds``), if any."""
        return self.thresholds.get(region, self.thresholds.get(self.id))
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inputs]

    @property
    def folds(self) -> list[str]:
        return list(self.files)

    @property
    def has_domain(self) -> bool:
        return any(i.domain for i in self.inputs)

    def outside(self, raw: np.ndarray, folds: np.ndarray | None = None) -> np.ndarray:
        """Which raw inputs (rows: events, columns: the card's inputs, NaN = absent) lie outside
        the training domain: bool of the same shape; a per-fold domain applies to the rows of its
        fold (``folds``: 0 = even, 1 = odd, as :func:`recast.models.runtime.assign_folds`)."""
        raw = np.asarray(raw, dtype=np.float64)
        out = np.zeros(raw.shape, dtype=bool)
        for k, spec in enumerate(self.inputs):
            for fold, domain in (spec.domain or {}).items():
                rows = slice(None) if fold == "all" else (np.asarray(folds) == ("even", "odd").index(fold))
                out[rows, k] = domain.outside(raw[rows, k])
        return out


def _need(doc: dict, key: str, where: str):
    if key not in doc:
        raise ModelError(f"{where}: model card lacks '{key}'")
    return doc[key]


def parse(doc: dict, where: str) -> ModelCard:
    """Validate a card document (as loaded from YAML) and build the card."""
    if not isinstance(doc, dict):
        raise ModelError(f"{where}: a model card must be a mapping")
    fmt = _need(doc, "format", where)
    if fmt not in FORMATS:
        raise ModelError(f"{where}: format {fmt!r} is not one of {', '.join(FORMATS)}")
    files = _need(doc, "files", where)
    if not isinstance(files, dict) or not files or not all(isinstance(v, str) for v in files.values()):
        raise ModelError(f"{where}: 'files' must map folds to artifact ids")
    folds = doc.get("folds") or {}
    rule = folds.get("rule")
    if len(files) > 1:
        if rule not in FOLD_RULES:
            raise ModelError(f"{where}: two models need a folds.rule from {', '.join(FOLD_RULES)}")
        if set(files) != {"even", "odd"}:
            raise ModelError(f"{where}: with rule {rule} the files must be named 'even' and 'odd'")
    elif set(files) != {"all"}:
        raise ModelError(f"{where}: a single model is given as files: {{all: <artifact>}}")
    training = doc.get("training_domain")
    if training is not None and (not isinstance(training, dict) or not str(training.get("source") or "").strip()
                                 or set(training) - {"source", "moments", "sigmas"}):
        raise ModelError(f"{where}: training_domain needs a 'source' (and at most 'moments', 'sigmas')")
    training = training or {}
    sigmas = training.get("sigmas", MOMENT_SIGMAS)
    if not isinstance(sigmas, (int, float)) or isinstance(sigmas, bool) or not sigmas > 0:
        raise ModelError(f"{where}: training_domain.sigmas must be a positive number")
    if training.get("moments") not in (None, "normalisation"):
        raise ModelError(f"{where}: training_domain.moments can only be 'normalisation'")
    if training.get("moments") and doc.get("normalisation_from") is None:
        raise ModelError(f"{where}: training_domain.moments: normalisation needs a normalisation_from file")
    inputs = []
    for k, row in enumerate(_need(doc, "inputs", where)):
        if "name" not in row:
            raise ModelError(f"{where}: input {k} has no name")
        if "range" in row:
            raise ModelError(f"{where}: input {row['name']}: 'range' is now 'domain' (with training_domain.source)")
        domain = _domain(row.get("domain"), f"{where}: input {row['name']}", files, float(sigmas))
        if domain is None and training.get("moments"):
            domain = {"all": InputDomain(sigmas=float(sigmas), from_normalisation=True)}
        inputs.append(CardInput(name=str(row["name"]), unit=str(row.get("unit", "")),
                                offset=float(row.get("offset", 0.0)), scale=float(row.get("scale", 1.0)),
                                pad=None if row.get("pad") is None else float(row["pad"]), domain=domain))
        if inputs[-1].scale == 0:
            raise ModelError(f"{where}: input {row['name']} has scale 0")
    if len({i.name for i in inputs}) != len(inputs):
        raise ModelError(f"{where}: input names must be unique")
    if any(i.domain for i in inputs) and not training:
        raise ModelError(f"{where}: inputs have a domain but the card has no training_domain.source")
    names = [i.name for i in inputs]
    perturbation = _perturbation(doc.get("perturbation"), f"{where}: perturbation", names)
    disputed = tuple(_disputed(d, f"{where}: disputed[{n}]", names) for n, d in enumerate(doc.get("disputed") or []))
    if len({d.name for d in disputed}) != len(disputed):
        raise ModelError(f"{where}: disputed conventions need distinct names")
    sig = _need(doc, "signature", where)
    conventions = _need(doc, "conventions", where)
    for key in ("phi_range", "btag_encoding"):
        if key not in conventions:
            raise ModelError(f"{where}: conventions must state '{key}' ('not used' if irrelevant)")
    outputs = _need(doc, "outputs", where)
    n_outputs = int(sig.get("n_outputs", 1))
    node = int(outputs.get("node", 0))
    if not 0 <= node < n_outputs:
        raise ModelError(f"{where}: outputs.node {node} outside the {n_outputs} output(s)")
    pad_stage = doc.get("padding_stage", "before-scaling")
    golden_space = doc.get("golden_space", "raw")
    if pad_stage not in PAD_STAGES:
        raise ModelError(f"{where}: padding_stage must be one of {', '.join(PAD_STAGES)}")
    if golden_space not in GOLDEN_SPACES:
        raise ModelError(f"{where}: golden_space must be one of {', '.join(GOLDEN_SPACES)}")
    norm = doc.get("normalisation_from")
    if norm is not None and (not isinstance(norm, dict) or norm.get("kind") != "simpleanalysis-config"
                             or "artifact" not in norm):
        raise ModelError(f"{where}: normalisation_from needs an artifact and kind: simpleanalysis-config")
    golden = []
    for g in doc.get("golden") or []:
        x = np.asarray(g["inputs"], dtype=np.float32)
        if x.shape != (len(inputs),):
            raise ModelError(f"{where}: golden vector {g.get('name', '?')} has {x.size} values for "
                             f"{len(inputs)} inputs")
        outs = {fold: np.atleast_1d(np.asarray(v, dtype=np.float64)) for fold, v in g["outputs"].items()}
        if set(outs) != set(files):
            raise ModelError(f"{where}: golden vector {g.get('name', '?')} must give outputs for folds "
                             f"{', '.join(files)}")
        golden.append(Golden(str(g.get("name", f"vector {len(golden)}")), x, outs))
    unavailable = str(doc.get("golden_unavailable") or "")
    if not golden and not unavailable:
        raise ModelError(f"{where}: a model card needs at least one golden vector (or golden_unavailable: why)")
    return ModelCard(
        id=str(_need(doc, "id", where)), analysis=str(_need(doc, "analysis", where)),
        description=str(doc.get("description", "")), format=fmt, files=dict(files), inputs=tuple(inputs),
        input_tensor=str(sig.get("input", "features")), output_tensor=str(sig.get("output", "score")),
        n_outputs=n_outputs, fixed_batch=sig.get("batch", "dynamic") == "fixed-1",
        score_node=node, score_doc=str(outputs.get("score", "")), conventions=dict(conventions),
        thresholds={str(k): float(v) for k, v in (doc.get("thresholds") or {}).items()},
        golden=tuple(golden), tolerance=float(doc.get("tolerance", 1e-5)), pad_stage=pad_stage,
        golden_space=golden_space, golden_unavailable=unavailable, normalisation_from=norm, fold_rule=rule,
        fold_source=str(folds.get("source", "")), domain_source=str(training.get("source", "")),
        perturbation=perturbation, disputed=disputed,
        extra={k: v for k, v in doc.items() if k not in {
            "id", "analysis", "description", "format", "files", "folds", "inputs", "signature",
            "conventions", "outputs", "thresholds", "golden", "tolerance", "padding_stage", "golden_space",
            "golden_unavailable", "normalisation_from", "training_domain", "perturbation", "disputed"}})


def _number(value, what: str, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ModelError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def _interval(value, what: str, sigmas: float) -> InputDomain:
    if not isinstance(value, list) or len(value) != 2:
        raise ModelError(f"{what}: an interval domain is [min, max]")
    low, high = (_number(v, f"{what}: domain bound", allow_none=True) for v in value)
    if low is None and high is None or (low is not None and high is not None and low > high):
        raise ModelError(f"{what}: domain [{low}, {high}] is empty or unbounded on both sides")
    return InputDomain(low=low, high=high, sigmas=sigmas)


def _domain(spec, what: str, files: dict, sigmas: float) -> dict[str, InputDomain] | None:
    """An input's ``domain`` entry, by fold (``all`` when it holds for every fold)."""
    if spec is None:
        return None
    if isinstance(spec, list):
        return {"all": _interval(spec, what, sigmas)}
    if not isinstance(spec, dict):
        raise ModelError(f"{what}: domain must be [min, max], {{values: [...]}}, {{mean, width}} or one per fold")
    if set(spec) == {"values"}:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise ModelError(f"{what}: domain values must be a non-empty list")
        return {"all": InputDomain(values=tuple(_number(v, f"{what}: domain value") for v in values), sigmas=sigmas)}
    if set(spec) == {"mean", "width"}:
        width = _number(spec["width"], f"{what}: domain width")
        if width <= 0:
            raise ModelError(f"{what}: domain width must be positive")
        return {"all": InputDomain(mean=_number(spec["mean"], f"{what}: domain mean"), width=width, sigmas=sigmas)}
    if set(spec) == set(files) and set(files) != {"all"}:
        return {fold: _interval(spec[fold], f"{what} ({fold})", sigmas) for fold in files}
    raise ModelError(f"{what}: domain keys {sorted(spec)} are none of values; mean, width; "
                     f"{', '.join(files)}")


def _slot_inputs(pattern: str, names: list[str], what: str) -> dict[str, int | None]:
    """The inputs a name pattern matches (``{k}``: a slot number): name -> slot (None without {k})."""
    if not isinstance(pattern, str):
        raise ModelError(f"{what}: input pattern {pattern!r} is not text")
    if "{k}" not in pattern:
        return {pattern: None} if pattern in names else {}
    regex = re.compile("^" + re.escape(pattern).replace(re.escape("{k}"), r"(\d+)") + "$")
    return {n: int(m.group(1)) for n in names for m in [regex.match(n)] if m}


def _matching(pattern: str, names: list[str], what: str) -> dict[str, int | None]:
    found = _slot_inputs(pattern, names, what)
    if not found:
        raise ModelError(f"{what}: {pattern!r} matches no input")
    return found


def _object_slots(spec, what: str, names: list[str]) -> tuple[str, str] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) != {"pt", "eta"}:
        raise ModelError(f"{what}: give the inputs of a slot's pt and eta, "
                         f"e.g. {{pt: 'jetPt{{k}}', eta: 'jetEta{{k}}'}}")
    return str(spec["pt"]), str(spec["eta"])


def _perturbation(spec, what: str, names: list[str]) -> Perturbation | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or "inputs" not in spec or set(spec) - {"inputs", "jets", "leptons"}:
        raise ModelError(f"{what}: needs 'inputs' (and 'jets', 'leptons')")
    objects = {key: _object_slots(spec.get(key), f"{what}.{key}", names) for key in ("jets", "leptons")}

    def slot_of(kind: str, k: int | None, name: str) -> tuple[int, int]:
        patterns = objects["leptons" if kind == "lepton-scale" else "jets"]
        if patterns is None:
            raise ModelError(f"{what}: {name} ({kind}) needs the '{'leptons' if kind == 'lepton-scale' else 'jets'}' "
                             f"slots")
        pt, eta = (p.replace("{k}", str(k)) if k is not None else p for p in patterns)
        if pt not in names or eta not in names:
            raise ModelError(f"{what}: {name} ({kind}) needs inputs {pt} and {eta}, which the card lacks")
        return names.index(pt), names.index(eta)

    jet_slots = []
    if objects["jets"] is not None:
        for name, k in _matching(objects["jets"][0], names, f"{what}.jets").items():
            jet_slots.append(slot_of("jet-energy-scale", k, name))
    budgets: dict[int, Budget] = {}
    if not isinstance(spec["inputs"], dict):
        raise ModelError(f"{what}.inputs must map inputs to budget kinds")
    for pattern, kind in spec["inputs"].items():
        if kind not in BUDGETS:
            raise ModelError(f"{what}: {pattern}: budget {kind!r} is not one of {', '.join(BUDGETS)}")
        for name, k in _matching(pattern, names, f"{what}.inputs").items():
            index = names.index(name)
            if index in budgets:
                raise ModelError(f"{what}: input {name} has two budgets")
            per_object = kind in ("jet-energy-scale", "jet-eta-resolution", "lepton-scale")
            if per_object:
                budgets[index] = Budget(index, kind, slot_of(kind, k, name))
            else:
                if not jet_slots:
                    raise ModelError(f"{what}: {name} ({kind}) needs the 'jets' slots")
                budgets[index] = Budget(index, kind)
    return Perturbation(tuple(budgets[i] for i in sorted(budgets)), tuple(jet_slots))


def _disputed(spec, what: str, names: list[str]) -> Disputed:
    kinds = {"pad", "scale", "phi_range", "folds"}
    if not isinstance(spec, dict) or not spec.get("name") or not spec.get("description"):
        raise ModelError(f"{what}: needs a name and a description (who does what)")
    given = kinds & set(spec)
    if len(given) != 1 or set(spec) - kinds - {"name", "description", "inputs"}:
        raise ModelError(f"{what}: give exactly one of {', '.join(sorted(kinds))} (and 'inputs' with phi_range)")
    kind = given.pop()
    out = Disputed(str(spec["name"]), " ".join(str(spec["description"]).split()))
    if kind in ("pad", "scale"):
        if not isinstance(spec[kind], dict) or not spec[kind]:
            raise ModelError(f"{what}: {kind} maps inputs to values")
        values = {names.index(n): _number(v, f"{what}: {kind} of {n}")
                  for pattern, v in spec[kind].items() for n in _matching(pattern, names, what)}
        if kind == "scale" and any(v == 0 for v in values.values()):
            raise ModelError(f"{what}: a scale of 0")
        return dataclasses.replace(out, **{kind: values})
    if kind == "phi_range":
        if spec["phi_range"] not in PHI_RANGES or not isinstance(spec.get("inputs"), list):
            raise ModelError(f"{what}: phi_range is one of {', '.join(PHI_RANGES)}, with the 'inputs' it applies to")
        found = sorted({names.index(n) for p in spec["inputs"] for n in _matching(p, names, what)})
        return dataclasses.replace(out, phi_range=spec["phi_range"], phi_inputs=tuple(found))
    if spec["folds"] not in DISPUTED_FOLDS:
        raise ModelError(f"{what}: folds is one of {', '.join(DISPUTED_FOLDS)}")
    return dataclasses.replace(out, folds=spec["folds"])


def read(path: Path) -> ModelCard:
    text = read_text(path, ModelError, "model card")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: cannot read model card: {str(exc).splitlines()[0]}") from None
    card = parse(doc, str(path))
    return ModelCard(**{**card.__dict__, "path": Path(path)})


@lru_cache(maxsize=None)
def cards(analysis_id: str) -> dict[str, ModelCard]:
    """All model cards of an analysis, by id."""
    folder = analysis_data_dir(analysis_id) / "models"
    out = {}
    for p in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        card = read(p)
        if card.analysis != analysis_id:
            raise ModelError(f"{p}: card belongs to {card.analysis}, found under {analysis_id}")
        out[card.id] = card
    return out


def card(analysis_id: str, card_id: str) -> ModelCard:
    try:
        return cards(analysis_id)[card_id]
    except KeyError:
        raise ModelError(f"{analysis_id}: no model card {card_id!r}") from None
