"""TMVA boosted decision trees (MethodBDT weight files, XML) read and converted to ONNX.

:func:`read_xml` parses a weight file into a :class:`TMVAForest` (flat numpy arrays, one entry per
node), refusing anything this reader cannot evaluate exactly as TMVA does; :func:`to_onnx` turns
the forest into an ``ai.onnx.ml`` ``TreeEnsembleRegressor`` followed by TMVA's output transform;
:func:`convert` does both, keeping the result in the user cache keyed by the XML's sha256.

TMVA's rule (``MethodBDT::PrivateGetMvaValue``, ``DecisionTree::CheckEvent``): in every tree,
start at the root and, while the node is intermediate (``nType == 0``), go right if
``float32(x[IVar]) >= float32(Cut)`` (``cType == 1``), or if that comparison is false
(``cType == 0``); the leaf gives the tree's value.

* ``BoostType=Grad``: the trees are regression trees (``<Weights AnalysisType="1">``);
  ``F = sum of leaf res`` and the MVA value is ``2 / (1 + exp(-2F)) - 1 = tanh(F)``.
* any other boost type (AdaBoost, RealAdaBoost, Bagging, ...): classification trees
  (``AnalysisType="0"``); the MVA value is ``sum_t w_t v_t / sum_t w_t`` with ``w_t`` the tree's
  ``boostWeight`` and ``v_t`` the leaf's ``nType`` (+-1) if ``UseYesNoLeaf``, else its purity;
  0 when ``sum_t w_t`` is not above the double epsilon.

The ONNX graph takes float32 features, casts them to double (exact) and runs the ensemble with
double thresholds and leaf weights: a cut is a float32 value, so comparing in double gives exactly
the float32 decision, and the sum over hundreds of trees is accumulated in double instead of
float32 (onnxruntime accumulates in the threshold type). Runs evaluate the converted trees with the
numba kernel of :mod:`recast.models.forest` (the same sums bit for bit, TMVA's output transform in
double), laid out straight from the forest read here (:func:`node_table`, as the graph is): the
graph is what ``recast convert tmva`` writes and what onnxruntime runs, and a run makes it only
for onnxruntime.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from ..atomic import write_bytes
from ..cache import cache_dir
from ..errors import ModelError, RecastError
from .tmva_xml import TMVAForest, read_weight_file, read_xml  # noqa: F401 (the reader, also used as tmva.read_xml)

#: Bumped whenever the produced ONNX graph changes: cached conversions of another version are
#: redone.
CONVERTER_VERSION = "1"
ONNX_OPSET = 17  #: default-domain opset (Cast, Tanh, Div, Mul)
ONNX_ML_OPSET = 3  #: ai.onnx.ml opset of TreeEnsembleRegressor
INPUT_NAME, OUTPUT_NAME = "features", "score"

# -- ONNX ---------------------------------------------------------------------------------------


def node_table(forest: TMVAForest) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per node, what the converted ensemble holds: the child (tree-local id) an event goes to
    when ``x >= cut`` is true and the one when it is false (0 at leaves), the threshold in double
    (0 at leaves), and the weight the ensemble adds when an event ends there (double; meaningful at
    leaves): the leaf value for Grad, else the tree's boostWeight times it. Shared by the graph
    (:func:`to_onnx`) and the forest kernel's arrays made straight from the weight file
    (:func:`recast.models.forest.from_tmva`)."""
    leaf = forest.is_leaf
    # intermediate nodes: "x >= cut" true -> right for cType 1, left for cType 0 (TMVA negates
    # the comparison, so a NaN input goes right at a cType-0 node, as in TMVA)
    ge_right = forest.ctype == 1
    true_ids = np.where(leaf, 0, np.where(ge_right, forest.right, forest.left))
    false_ids = np.where(leaf, 0, np.where(ge_right, forest.left, forest.right))
    thresholds = np.where(leaf, 0.0, forest.cut.astype(np.float64))
    leaf_value = forest.leaf_values()
    weights = leaf_value if forest.is_grad else forest.boost_weight[forest.tree_id] * leaf_value
    return true_ids, false_ids, thresholds, weights.astype(np.float64)


def boost_weight_sum(forest: TMVAForest) -> float:
    """TMVA's normalisation of a non-Grad forest: the boost weights summed in tree order in double."""
    return float(sum(forest.boost_weight.tolist()))


def graph_signature(forest: TMVAForest) -> dict:
    """The signature of the graph :func:`to_onnx` makes of ``forest``, as the fields of
    :class:`recast.models.runtime.GraphSignature`, without making it: input ``features`` float32
    (ONNX element type 1) [N, NVar], output ``score`` [N, 1]."""
    return {"inputs": [INPUT_NAME], "input_type": 1, "input_dims": ["N", forest.n_variables],
            "outputs": {OUTPUT_NAME: ["N", 1]}}


def to_onnx(forest: TMVAForest):
    """The forest as an ONNX model: input ``features`` float32 [N, NVar] in VarIndex order,
    output ``score`` float32 [N, 1], TMVA's MVA value."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from .. import __version__

    leaf = forest.is_leaf
    n = len(leaf)
    true_ids, false_ids, values, node_weights = node_table(forest)
    modes = np.where(leaf, "LEAF", "BRANCH_GTE").tolist()
    weights = node_weights[leaf]

    ensemble = helper.make_node(
        "TreeEnsembleRegressor", ["features_f64"], ["raw"], domain="ai.onnx.ml", name="forest",
        n_targets=1, aggregate_function="SUM", post_transform="NONE",
        nodes_treeids=forest.tree_id.tolist(), nodes_nodeids=forest.node_id.tolist(),
        nodes_featureids=np.where(leaf, 0, forest.feature).tolist(), nodes_modes=modes,
        nodes_values_as_tensor=numpy_helper.from_array(values.astype(np.float64), "nodes_values"),
        nodes_truenodeids=true_ids.tolist(), nodes_falsenodeids=false_ids.tolist(),
        nodes_hitrates=[1.0] * n, nodes_missing_value_tracks_true=[0] * n,
        target_treeids=forest.tree_id[leaf].tolist(), target_nodeids=forest.node_id[leaf].tolist(),
        target_ids=[0] * int(leaf.sum()),
        target_weights_as_tensor=numpy_helper.from_array(weights.astype(np.float64), "target_weights"),
        base_values_as_tensor=numpy_helper.from_array(np.zeros(1, np.float64), "base_values"))
    cast = helper.make_node("Cast", [INPUT_NAME], ["features_f64"], to=TensorProto.DOUBLE, name="to_double")
    initializers = []
    if forest.is_grad:
        post = [helper.make_node("Tanh", ["raw"], [OUTPUT_NAME], name="tmva_grad_transform")]
        doc = "MVA = tanh(sum of leaf res) = 2/(1+exp(-2F))-1 (TMVA BoostType=Grad)"
    else:
        norm = float(forest.boost_weight.sum())
        scale = 1.0 / norm if norm > sys.float_info.epsilon else 0.0
        if scale:
            initializers.append(numpy_helper.from_array(np.array(norm, np.float32), "sum_boost_weights"))
            post = [helper.make_node("Div", ["raw", "sum_boost_weights"], [OUTPUT_NAME], name="tmva_average")]
        else:
            initializers.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
            post = [helper.make_node("Mul", ["raw", "zero"], [OUTPUT_NAME], name="tmva_zero_norm")]
        leafv = "leaf nType (+-1)" if forest.use_yes_no_leaf else "leaf purity"
        doc = f"MVA = sum(boostWeight * {leafv}) / sum(boostWeight) (TMVA BoostType={forest.boost_type})"

    graph = helper.make_graph(
        [cast, ensemble, *post], "tmva_bdt",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", forest.n_variables])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 1])],
        initializer=initializers, doc_string=doc)
    opsets = [helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", ONNX_ML_OPSET)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="recast", producer_version=__version__,
                              doc_string=f"TMVA {forest.method} converted by recast from sha256 {forest.sha256}")
    # the lowest IR version that carries these opsets: readable by older onnxruntime releases
    model.ir_version = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    meta = {
        "source_sha256": forest.sha256,
        "variables": ",".join(forest.variable_names),
        "variables_json": json.dumps(forest.variable_names),
        "units_json": json.dumps([v[1] for v in forest.variables]),
        "boost_type": forest.boost_type,
        "use_yes_no_leaf": str(forest.use_yes_no_leaf),
        "method": forest.method,
        "n_trees": str(forest.n_trees),
        "n_variables": str(forest.n_variables),
        # TMVA's normalisation, summed in tree order in double (the graph's float32 copy is rounded),
        # for recast.models.forest; not a new converter version: the graph is the same, and a model
        # converted without it runs through onnxruntime if it needs it (not BoostType=Grad)
        "boost_weight_sum": repr(boost_weight_sum(forest)),
        "converted_by": f"converted by recast {__version__} (recast.models.tmva)",
        "converter_version": CONVERTER_VERSION,
    }
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def model_info(path) -> dict[str, str]:
    """The metadata properties of an ONNX model written by :func:`convert`."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


# -- conversion with a cache --------------------------------------------------------------------


def source_sha256(path: Path) -> str:
    """The sha256 of a weight file (the key of its conversions in the cache)."""
    return hashlib.sha256(read_weight_file(path)).hexdigest()


def _cached_is_valid(path: Path, sha: str) -> bool:
    if not path.is_file():
        return False
    try:
        info = model_info(path)
    except Exception:  # unreadable or corrupt: convert again
        return False
    return info.get("source_sha256") == sha and info.get("converter_version") == CONVERTER_VERSION


def convert(xml_path, out_path=None) -> Path:
    """Convert a TMVA BDT XML file to ONNX and return the model's path.

    The model is cached as ``<cache>/tmva-onnx/<sha256 of the XML>.onnx`` and reused while it is
    valid (same source hash and converter version); with ``out_path`` it is also written there
    (atomically), and that path is returned."""
    xml_path = Path(xml_path)
    sha = source_sha256(xml_path)
    cached = cache_dir("tmva-onnx") / f"{sha}.onnx"
    if _cached_is_valid(cached, sha):
        data = cached.read_bytes()
    else:
        forest = read_xml(xml_path)
        if forest.sha256 != sha:
            raise ModelError(f"{xml_path}: file changed while it was being converted")
        data = to_onnx(forest).SerializeToString()
        try:
            write_bytes(cached, data)
        except OSError as exc:
            raise RecastError(f"{cached}: cannot write the converted model to the cache: "
                              f"{exc.strerror or exc}") from None
    if out_path is None:
        return cached
    out_path = Path(out_path)
    try:
        write_bytes(out_path, data)
    except OSError as exc:
        raise RecastError(f"{out_path}: cannot write: {exc.strerror or exc}") from None
    return out_path
