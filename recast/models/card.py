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
    absent value is an error), ``range`` (training range, informational).
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


@dataclass(frozen=True)
class CardInput:
    name: str
    unit: str = ""
    offset: float = 0.0
    scale: float = 1.0
    pad: float | None = None
    range: tuple[float, float] | None = None


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
    inputs = []
    for k, row in enumerate(_need(doc, "inputs", where)):
        if "name" not in row:
            raise ModelError(f"{where}: input {k} has no name")
        rng = row.get("range")
        inputs.append(CardInput(name=str(row["name"]), unit=str(row.get("unit", "")),
                                offset=float(row.get("offset", 0.0)), scale=float(row.get("scale", 1.0)),
                                pad=None if row.get("pad") is None else float(row["pad"]),
                                range=tuple(map(float, rng)) if rng is not None else None))
        if inputs[-1].scale == 0:
            raise ModelError(f"{where}: input {row['name']} has scale 0")
    if len({i.name for i in inputs}) != len(inputs):
        raise ModelError(f"{where}: input names must be unique")
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
        fold_source=str(folds.get("source", "")),
        extra={k: v for k, v in doc.items() if k not in {
            "id", "analysis", "description", "format", "files", "folds", "inputs", "signature",
            "conventions", "outputs", "thresholds", "golden", "tolerance", "padding_stage", "golden_space",
            "golden_unavailable", "normalisation_from"}})


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
