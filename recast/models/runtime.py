"""Loading and batched evaluation of preserved models through onnxruntime.

``load(card)`` fetches the card's artifacts (mirror, cache or download), converts TMVA XML to
ONNX, rewrites a graph whose batch dimension is fixed to 1 into a batchable one, checks the
graph's signature against the card and reproduces the card's golden outputs; a model that fails
any check is refused with a one-line :class:`ModelError`. ``LoadedModel.predict`` evaluates a
whole chunk with one call per fold: TMVA BDTs through the numba kernel of
:mod:`recast.models.forest` (same trees, TMVA's own output transform; its arrays kept in the
cache, so that later loads read neither the graph nor onnx), everything else through
onnxruntime.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # onnx takes half a second to import: only the paths that read a graph do
    import onnx
    import onnxruntime as ort

from ..errors import ModelError, read_text
from .. import rng
from .card import FOLD_RULES, ModelCard
from .forest import ForestSession
from .forest import from_tmva as forest_from_tmva
from .forest import keep as forest_keep
from .forest import kept as forest_kept


def make_batchable(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose inputs and outputs have a symbolic first (batch) dimension.

    Intermediate shapes recorded in ``value_info`` are dropped (onnxruntime infers them). A graph
    that hard-codes the batch elsewhere (e.g. ``Reshape`` to ``[1, ...]``) would still give wrong
    shapes, which is why every rewritten model is checked against per-event evaluation in tests.
    """
    out = copy.deepcopy(model)
    for tensor in list(out.graph.input) + list(out.graph.output):
        dims = tensor.type.tensor_type.shape.dim
        if len(dims):
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "batch"
    del out.graph.value_info[:]
    return out


_ONNX_FLOAT = 1  # onnx.TensorProto.FLOAT


@dataclass(frozen=True)
class GraphSignature:
    """What :func:`_check_signature` compares with a card: the graph's inputs that are not
    initializers, the first one's element type (ONNX's enum) and dimensions, and each output's
    dimensions (an ``int`` when fixed, else the symbolic name). Kept beside a cached forest
    (:func:`recast.models.forest.kept`), so that a cached BDT is checked without reading its
    graph."""

    inputs: tuple[str, ...]
    input_type: int
    input_dims: tuple[int | str, ...]
    outputs: dict[str, tuple[int | str, ...]]

    @classmethod
    def of(cls, model: onnx.ModelProto) -> GraphSignature:
        graph = model.graph
        inits = {i.name for i in graph.initializer}
        real = [i for i in graph.input if i.name not in inits]

        def dims(value_info) -> tuple[int | str, ...]:
            return tuple(d.dim_value if d.HasField("dim_value") else d.dim_param
                         for d in value_info.type.tensor_type.shape.dim)

        return cls(tuple(i.name for i in real), real[0].type.tensor_type.elem_type if real else 0,
                   dims(real[0]) if real else (), {o.name: dims(o) for o in graph.output})

    @classmethod
    def from_dict(cls, d: dict) -> GraphSignature:
        return cls(tuple(d["inputs"]), int(d["input_type"]), tuple(d["input_dims"]),
                   {k: tuple(v) for k, v in d["outputs"].items()})

    @property
    def batch_is_fixed(self) -> bool:
        return len(self.input_dims) > 0 and self.input_dims[0] == 1


def _signature_from(kept: dict) -> GraphSignature | None:
    """The signature kept beside a cached forest, or None if it is not one (an edited cache file)."""
    try:
        return GraphSignature.from_dict(kept)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _batch_is_fixed(model: onnx.ModelProto) -> bool:
    return GraphSignature.of(model).batch_is_fixed


def _check_signature(sig: GraphSignature, card: ModelCard, where: str) -> None:
    if list(sig.inputs) != [card.input_tensor]:
        raise ModelError(f"{where}: model inputs {list(sig.inputs)} do not match the card's "
                         f"['{card.input_tensor}']")
    if sig.input_type != _ONNX_FLOAT:
        raise ModelError(f"{where}: input {card.input_tensor} is not float32")
    dims = sig.input_dims
    if len(dims) != 2 or (isinstance(dims[1], int) and dims[1] != len(card.inputs)):
        raise ModelError(f"{where}: input shape {list(dims)} does not fit the card's {len(card.inputs)} inputs")
    if sig.batch_is_fixed != card.fixed_batch:
        raise ModelError(f"{where}: the card says batch {'fixed-1' if card.fixed_batch else 'dynamic'}, "
                         f"the graph {'fixes it to 1' if sig.batch_is_fixed else 'does not'}")
    if card.output_tensor not in sig.outputs:
        raise ModelError(f"{where}: no output {card.output_tensor!r} (outputs: {list(sig.outputs)})")
    odims = sig.outputs[card.output_tensor]
    if len(odims) == 2 and isinstance(odims[1], int) and odims[1] != card.n_outputs:
        raise ModelError(f"{where}: output {card.output_tensor} has {odims[1]} columns, the card "
                         f"says {card.n_outputs}")


def _session(model: onnx.ModelProto, where: str, threads: int) -> ort.InferenceSession:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"{where}: onnxruntime cannot load the model: {str(exc).splitlines()[0]}") from None


def read_onnx(path: Path) -> onnx.ModelProto:
    import onnx

    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # DecodeError, ValidationError, OSError
        raise ModelError(f"{path}: not a valid ONNX model: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return model


@dataclass
class LoadedModel:
    """A card with one session per fold: an onnxruntime ``InferenceSession``, or a
    :class:`~recast.models.forest.ForestSession` (same ``run`` interface) for a converted BDT."""

    card: ModelCard
    sessions: dict[str, ort.InferenceSession | ForestSession]
    paths: dict[str, Path]

    def run_fold(self, fold: str, x: np.ndarray) -> np.ndarray:
        """Raw outputs [N, n_outputs] of one fold's model for prepared inputs ``x`` [N, n_inputs]."""
        if len(x) == 0:
            return np.zeros((0, self.card.n_outputs), np.float32)
        out = self.sessions[fold].run([self.card.output_tensor], {self.card.input_tensor: x})[0]
        return np.asarray(out, dtype=np.float32).reshape(len(x), -1)

    def prepare(self, raw: np.ndarray, where: str = "") -> np.ndarray:
        """Card order in, model input out: scaling, and the card's padding of absent values (NaN),
        applied before or after the scaling as the card says."""
        card = self.card
        x = np.array(raw, dtype=np.float64, copy=True)
        offsets = np.array([i.offset for i in card.inputs])
        scales = np.array([i.scale for i in card.inputs])
        missing = np.isnan(x)
        for k in np.flatnonzero(missing.any(axis=0)):
            if card.inputs[k].pad is None:
                row = int(np.argmax(missing[:, k]))
                raise ModelError(f"{card.id}: input {card.inputs[k].name} is NaN{where and ' ' + where} "
                                 f"(row {row}) and the card gives no padding for it")
        if card.pad_stage == "before-scaling":
            for k in np.flatnonzero(missing.any(axis=0)):
                x[missing[:, k], k] = card.inputs[k].pad
            x = (x - offsets) / scales
        else:
            x = (x - offsets) / scales
            for k in np.flatnonzero(missing.any(axis=0)):
                x[missing[:, k], k] = card.inputs[k].pad
        if not np.isfinite(x).all():
            k = int(np.argmax(~np.isfinite(x).all(axis=0)))
            raise ModelError(f"{card.id}: input {card.inputs[k].name} is infinite{where and ' ' + where}")
        return x.astype(np.float32)

    def run(self, x: np.ndarray, folds: np.ndarray | None = None) -> np.ndarray:
        """Outputs [N, n_outputs] for prepared inputs ``x``; with two folds, ``folds`` (0 = the
        'even' model, 1 = the 'odd' one, per row) picks the model: one call per fold."""
        if len(self.sessions) == 1:
            return self.run_fold(next(iter(self.sessions)), x)
        out = np.empty((len(x), self.card.n_outputs), np.float32)
        for index, fold in enumerate(("even", "odd")):
            rows = folds == index
            out[rows] = self.run_fold(fold, x[rows])
        return out

    def predict(self, raw: np.ndarray, folds: np.ndarray | None = None) -> np.ndarray:
        """Outputs for raw inputs [N, n_inputs] in card order (NaN = absent object)."""
        return self.run(self.prepare(raw), folds)

    def score(self, raw: np.ndarray, folds: np.ndarray | None = None) -> np.ndarray:
        return self.predict(raw, folds)[:, self.card.score_node]


def assign_folds(rule: str, event_number: np.ndarray, seed: int = 0) -> np.ndarray:
    """Fold index per event (0: the 'even' model, 1: the 'odd' one).

    ``event-number-parity``: even event numbers use the even model (ATLAS SimpleAnalysis BDTReader).
    ``random``: a 50/50 pick per event from the event's seeded random stream (what CheckMATE and,
    in practice, SimpleAnalysis without event numbers do), reproducible across reruns.
    """
    if rule == "event-number-parity":
        return (np.asarray(event_number) % 2).astype(np.int8)
    if rule == "random":
        return (rng.uniform(seed, "fold", event_number, np.zeros_like(event_number)) >= 0.5).astype(np.int8)
    raise ModelError(f"unknown fold rule {rule!r}; known: {', '.join(FOLD_RULES)}")


def _artifact_path(card: ModelCard, artifact_id: str) -> Path:
    from .. import artifacts

    return artifacts.fetch(artifacts.get(card.analysis, artifact_id))


def _open(card: ModelCard, artifact_id: str, threads: int, forest_kernel: bool) -> tuple[ForestSession | ort.InferenceSession, Path]:
    """One artifact's session, checked against the card's signature, and the artifact's own path
    (named in error messages). A TMVA BDT runs through the forest kernel when ``forest_kernel``:
    its arrays are made straight from the weight file's trees (no ONNX graph) and kept in the
    cache, and read back from there (:func:`recast.models.forest.kept`); the graph is made only
    for onnxruntime (a forest the kernel cannot evaluate, or ``forest_kernel`` off)."""
    source = _artifact_path(card, artifact_id)
    where = f"{source} (model card {card.id})"
    use_forest = forest_kernel and card.format == "tmva-xml"
    if use_forest:
        kept = forest_kept(source)
        signature = _signature_from(kept[1]) if kept is not None else None
        if signature is not None:  # else nothing usable is kept: make the arrays again, keep them again
            _check_signature(signature, card, where)
            return kept[0], source
        from .tmva import graph_signature, read_xml

        trees = read_xml(source)
        forest = forest_from_tmva(trees)
        if forest is not None:
            signature = GraphSignature.from_dict(graph_signature(trees))
            _check_signature(signature, card, where)
            forest_keep(source, forest, dataclasses.asdict(signature))
            return forest, source
    if card.format == "tmva-xml":
        from .tmva import convert

        model = read_onnx(convert(source))
    else:
        model = read_onnx(source)
    signature = GraphSignature.of(model)
    _check_signature(signature, card, where)
    if card.fixed_batch:
        model = make_batchable(model)
    return _session(model, where, threads), source


def check_golden(model: LoadedModel) -> None:
    """Reproduce the card's golden outputs; refuse the model otherwise."""
    card = model.card
    for g in card.golden:
        if card.golden_space == "model-input":
            x = g.inputs[None, :].astype(np.float32)
        else:
            x = model.prepare(g.inputs[None, :], where=f"in golden vector {g.name}")
        for fold, expected in g.outputs.items():
            got = model.run_fold(fold, x)[0].astype(np.float64)
            if got.shape != expected.shape or not np.allclose(got, expected, rtol=0.0, atol=card.tolerance):
                raise ModelError(f"{model.paths[fold]}: golden vector {g.name!r} of card {card.id} gives "
                                 f"{np.array2string(got, precision=7)}, the card expects "
                                 f"{np.array2string(expected, precision=7)} (tolerance {card.tolerance:g}); "
                                 f"refusing the model")


def with_normalisation(card: ModelCard) -> ModelCard:
    """The card with offsets and scales from its ``normalisation_from`` artifact (if any)."""
    import json

    spec = card.normalisation_from
    if spec is None:
        return card
    path = _artifact_path(card, spec["artifact"])
    text = read_text(path, ModelError, "network configuration")
    try:
        config = json.loads(text)
        names, mean, std = config["branches"], config["normalization"]["mean"], config["normalization"]["stddev"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: not a SimpleAnalysis network configuration ({exc})") from None
    if list(names) != card.input_names:
        first = next((i for i, (a, b) in enumerate(zip(names, card.input_names)) if a != b), min(len(names), len(card.inputs)))
        raise ModelError(f"{path}: its input order differs from model card {card.id} at position {first} "
                         f"({names[first] if first < len(names) else 'end'} vs "
                         f"{card.input_names[first] if first < len(card.inputs) else 'end'})")
    if len(mean) != len(names) or len(std) != len(names) or any(s == 0 for s in std):
        raise ModelError(f"{path}: normalisation arrays do not fit its {len(names)} branches")
    inputs = tuple(dataclasses.replace(i, offset=float(m), scale=float(s), domain=_moments(i.domain, float(m), float(s)))
                   for i, m, s in zip(card.inputs, mean, std))
    return dataclasses.replace(card, inputs=inputs)


def _moments(domain, mean: float, width: float):
    """An input's training domain with the normalisation file's moments filled in where the card
    takes them from it (``training_domain.moments: normalisation``)."""
    if not domain:
        return domain
    return {fold: dataclasses.replace(d, mean=mean, width=width) if d.from_normalisation else d
            for fold, d in domain.items()}


_LOADED: dict[tuple, LoadedModel] = {}


def load(card: ModelCard, threads: int = 1, forest_kernel: bool = True) -> LoadedModel:
    """Fetch, convert, check and open the model(s) of a card (memoised per process). A TMVA BDT
    runs through the numba kernel (:mod:`recast.models.forest`, its arrays made from the weight
    file) unless ``forest_kernel`` is false (converted to ONNX and run by onnxruntime, as before
    the kernel: for comparisons)."""
    key = (card.analysis, card.id, card.path, threads, forest_kernel)
    if key in _LOADED:
        return _LOADED[key]
    sessions, paths = {}, {}
    card = with_normalisation(card)
    for fold, artifact_id in card.files.items():
        sessions[fold], paths[fold] = _open(card, artifact_id, threads, forest_kernel)
    loaded = LoadedModel(card, sessions, paths)
    check_golden(loaded)
    _LOADED[key] = loaded
    return loaded
