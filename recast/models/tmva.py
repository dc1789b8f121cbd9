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
float32 (onnxruntime accumulates in the threshold type).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import write_bytes
from ..cache import cache_dir
from ..errors import ModelError, RecastError, read_bytes

#: Bumped whenever the produced ONNX graph changes: cached conversions of another version are
#: redone.
CONVERTER_VERSION = "1"
ONNX_OPSET = 17  #: default-domain opset (Cast, Tanh, Div, Mul)
ONNX_ML_OPSET = 3  #: ai.onnx.ml opset of TreeEnsembleRegressor
INPUT_NAME, OUTPUT_NAME = "features", "score"

_NODE_ATTRS = ("pos", "NCoef", "IVar", "Cut", "cType", "res", "purity", "nType")


@dataclass(eq=False)
class TMVAForest:
    """A TMVA MethodBDT forest as flat arrays.

    Node arrays have one entry per XML ``Node``, tree after tree (tree ``t`` occupies
    ``node_offsets[t]:node_offsets[t+1]``); within a tree, nodes are numbered in pre-order
    (root 0, then the left subtree, then the right), and ``left``/``right`` hold those
    tree-local ids (-1 at leaves). ``feature`` is -1 at leaves; ``cut`` is float32 as in TMVA.
    """

    path: str
    sha256: str
    method: str  #: the ``Method`` attribute, e.g. ``BDT::BDTG``
    variables: list[tuple[str, str, float, float]]  #: (name, unit, min, max) in VarIndex order
    boost_type: str
    use_yes_no_leaf: bool
    tree_id: np.ndarray  #: int32, tree of each node
    node_id: np.ndarray  #: int32, tree-local id of each node
    feature: np.ndarray  #: int32, IVar (-1 at leaves)
    cut: np.ndarray  #: float32, Cut
    ctype: np.ndarray  #: int8, cType (1: right if x >= cut; 0: right if not)
    left: np.ndarray  #: int32, tree-local id of the pos="l" child (-1 at leaves)
    right: np.ndarray  #: int32, tree-local id of the pos="r" child (-1 at leaves)
    res: np.ndarray  #: float64, node response
    ntype: np.ndarray  #: int32, nType (0 intermediate, +-1 classification leaf, -99 regression leaf)
    purity: np.ndarray  #: float64
    boost_weight: np.ndarray  #: float64, one per tree
    node_offsets: np.ndarray = field(repr=False)  #: int64, n_trees + 1

    @property
    def n_trees(self) -> int:
        return len(self.boost_weight)

    @property
    def n_variables(self) -> int:
        return len(self.variables)

    @property
    def variable_names(self) -> list[str]:
        return [v[0] for v in self.variables]

    @property
    def is_leaf(self) -> np.ndarray:
        return self.ntype != 0

    @property
    def is_grad(self) -> bool:
        return self.boost_type == "Grad"

    def leaf_values(self) -> np.ndarray:
        """float64 per node: what a tree returns when the event ends in that node (meaningful at
        leaves): ``res`` for Grad, else ``nType`` (UseYesNoLeaf) or the purity."""
        if self.is_grad:
            return self.res.copy()
        if self.use_yes_no_leaf:
            return self.ntype.astype(np.float64)
        return self.purity.copy()


# -- reading ------------------------------------------------------------------------------------


class _Bad(Exception):
    """A problem in the document; turned into a ModelError naming the file."""


def _attr(el: ET.Element, name: str, what: str) -> str:
    value = el.get(name)
    if value is None:
        raise _Bad(f"{what} has no {name} attribute")
    return value


def _num(el: ET.Element, name: str, what: str, kind=float):
    text = _attr(el, name, what)
    try:
        return kind(text)
    except ValueError:
        raise _Bad(f"{what}: {name}={text!r} is not a number") from None


def _bool(text: str, what: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "1", "yes", "t"):
        return True
    if t in ("false", "0", "no", "f"):
        return False
    raise _Bad(f"{what}={text!r} is not a boolean")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _read_bytes(path: Path) -> bytes:
    return read_bytes(path, ModelError, "TMVA XML file")


def read_xml(path) -> TMVAForest:
    """Parse a TMVA MethodBDT weight file; :class:`ModelError` (naming the file) if it is not one
    or uses something this reader cannot evaluate exactly."""
    path = Path(path)
    data = _read_bytes(path)
    sha = hashlib.sha256(data).hexdigest()
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ModelError(f"{path}: not a well-formed XML file ({_one_line(exc)}); truncated or corrupt?") from None
    try:
        return _read_root(root, path, sha)
    except _Bad as exc:
        raise ModelError(f"{path}: {_one_line(exc)}") from None


def _read_root(root: ET.Element, path: Path, sha: str) -> TMVAForest:
    if root.tag != "MethodSetup":
        raise _Bad(f"not a TMVA weight file (root element <{root.tag}>, expected <MethodSetup>)")
    method = _attr(root, "Method", "<MethodSetup>")
    if not method.startswith("BDT::"):
        raise _Bad(f"method {method!r} is not a TMVA BDT (expected Method=\"BDT::...\")")

    info = {i.get("name"): i.get("value") for i in root.iterfind("GeneralInfo/Info")}
    analysis = info.get("AnalysisType")
    if analysis is None:
        raise _Bad("no AnalysisType in <GeneralInfo>")
    if analysis.strip().lower() != "classification":
        raise _Bad(f"AnalysisType {analysis!r} is not supported (only two-class Classification)")

    options = {o.get("name"): (o.text or "").strip() for o in root.iterfind("Options/Option")}
    boost_type = options.get("BoostType")
    if not boost_type:
        raise _Bad("no BoostType option in <Options>")
    use_yes_no_leaf = _bool(options.get("UseYesNoLeaf", "True"), "option UseYesNoLeaf")
    var_transform = options.get("VarTransform", "None")
    if var_transform not in ("", "None"):
        raise _Bad(f"input transformation VarTransform={var_transform!r} is not supported")
    if _bool(options.get("DoPreselection", "False"), "option DoPreselection"):
        raise _Bad("DoPreselection=True (preselection cuts before the trees) is not supported")

    trans = root.find("Transformations")
    if trans is None:
        raise _Bad("no <Transformations> element")
    n_trans = _num(trans, "NTransformations", "<Transformations>", int)
    if n_trans != 0 or trans.find("Transform") is not None:
        raise _Bad(f"{n_trans} input transformation(s) present; only NTransformations=0 is supported")

    variables = _read_variables(root)
    nvar = len(variables)

    weights = root.find("Weights")
    if weights is None:
        raise _Bad("no <Weights> element")
    n_trees_decl = _num(weights, "NTrees", "<Weights>", int)
    tree_type = _num(weights, "AnalysisType", "<Weights>", int)
    if boost_type == "Grad" and tree_type != 1:
        raise _Bad(f"BoostType=Grad needs regression trees (<Weights AnalysisType=\"1\">), found {tree_type}")
    if boost_type != "Grad" and tree_type != 0:
        raise _Bad(f"BoostType={boost_type} with <Weights AnalysisType=\"{tree_type}\"> is not supported "
                   "(expected classification trees, 0)")
    trees = weights.findall("BinaryTree")
    if not trees:
        raise _Bad("no <BinaryTree> in <Weights>")
    if len(trees) != n_trees_decl:
        raise _Bad(f"<Weights NTrees=\"{n_trees_decl}\"> but {len(trees)} <BinaryTree> elements")

    cols: dict[str, list] = {k: [] for k in ("tree", "node", "feature", "cut", "ctype", "left", "right",
                                             "res", "ntype", "purity")}
    boost_weights, offsets = [], [0]
    leaf_kind = "res" if boost_type == "Grad" else ("nType" if use_yes_no_leaf else "purity")
    for t, tree in enumerate(trees):
        what = f"tree {t}"
        boost_weights.append(_num(tree, "boostWeight", what))
        _read_tree(tree, t, nvar, cols, leaf_kind)
        offsets.append(len(cols["tree"]))

    if not all(math.isfinite(w) for w in boost_weights):
        raise _Bad("a tree has a non-finite boostWeight")
    return TMVAForest(
        path=str(path), sha256=sha, method=method, variables=variables, boost_type=boost_type,
        use_yes_no_leaf=use_yes_no_leaf,
        tree_id=np.asarray(cols["tree"], np.int32), node_id=np.asarray(cols["node"], np.int32),
        feature=np.asarray(cols["feature"], np.int32), cut=np.asarray(cols["cut"], np.float64).astype(np.float32),
        ctype=np.asarray(cols["ctype"], np.int8), left=np.asarray(cols["left"], np.int32),
        right=np.asarray(cols["right"], np.int32), res=np.asarray(cols["res"], np.float64),
        ntype=np.asarray(cols["ntype"], np.int32), purity=np.asarray(cols["purity"], np.float64),
        boost_weight=np.asarray(boost_weights, np.float64), node_offsets=np.asarray(offsets, np.int64))


def _read_variables(root: ET.Element) -> list[tuple[str, str, float, float]]:
    block = root.find("Variables")
    if block is None:
        raise _Bad("no <Variables> element")
    nvar = _num(block, "NVar", "<Variables>", int)
    elems = block.findall("Variable")
    if nvar < 1 or len(elems) != nvar:
        raise _Bad(f"<Variables NVar=\"{nvar}\"> but {len(elems)} <Variable> elements")
    slots: list = [None] * nvar
    for el in elems:
        idx = _num(el, "VarIndex", "a <Variable>", int)
        what = f"variable {idx}"
        if not 0 <= idx < nvar or slots[idx] is not None:
            raise _Bad(f"<Variable VarIndex=\"{idx}\"> is out of range or repeated")
        slots[idx] = (_attr(el, "Expression", what), el.get("Unit", ""), _num(el, "Min", what), _num(el, "Max", what))
    return slots


def _read_tree(tree: ET.Element, t: int, nvar: int, cols: dict, leaf_kind: str) -> None:
    """Append one tree's nodes to ``cols``; ``leaf_kind`` is the leaf attribute the MVA uses."""
    roots = tree.findall("Node")
    if len(roots) != 1:
        raise _Bad(f"tree {t} has {len(roots)} root nodes, expected 1")
    if roots[0].get("pos") != "s":
        raise _Bad(f"tree {t}: root node has pos={roots[0].get('pos')!r}, expected 's'")
    tree_col, node_col, feat_col, cut_col = cols["tree"], cols["node"], cols["feature"], cols["cut"]
    ctype_col, left_col, right_col = cols["ctype"], cols["left"], cols["right"]
    res_col, ntype_col, pur_col = cols["res"], cols["ntype"], cols["purity"]
    base = len(tree_col)
    # pre-order with an explicit stack: (element, global index of the parent, side, depth)
    stack = [(roots[0], -1, None, 0)]
    while stack:
        el, parent, side, depth = stack.pop()
        local = len(tree_col) - base
        where = f"tree {t} node {local} (depth {depth})"
        attrs = el.attrib
        missing = [a for a in _NODE_ATTRS if a not in attrs]
        if missing:
            raise _Bad(f"{where} has no {', '.join(missing)} attribute{'s' if len(missing) > 1 else ''}")
        try:
            ncoef, ivar, ctype, ntype = (int(attrs["NCoef"]), int(attrs["IVar"]), int(attrs["cType"]),
                                         int(attrs["nType"]))
            cut, res, purity = float(attrs["Cut"]), float(attrs["res"]), float(attrs["purity"])
        except ValueError:
            raise _Bad(f"{where} has a non-numeric attribute") from None
        if ncoef != 0:
            raise _Bad(f"{where} has NCoef={ncoef}: Fisher-discriminant cuts (UseFisherCuts) are not supported")
        children = {}
        for child in el.iterfind("Node"):
            pos = child.get("pos")
            if pos not in ("l", "r") or pos in children:
                raise _Bad(f"{where} has a child with pos={pos!r} (expected one 'l' and one 'r')")
            children[pos] = child
        if ntype == 0:  # intermediate node
            if len(children) != 2:
                raise _Bad(f"{where} is an intermediate node (nType=0) with {len(children)} child node(s), "
                           "expected 2 (pos 'l' and 'r')")
            if not 0 <= ivar < nvar:
                raise _Bad(f"{where} cuts on IVar={ivar}, outside 0..{nvar - 1}")
            if ctype not in (0, 1):
                raise _Bad(f"{where} has cType={ctype}, expected 0 or 1")
            if math.isnan(cut):
                raise _Bad(f"{where} has Cut={attrs['Cut']!r}")
        else:
            if children:
                raise _Bad(f"{where} is a leaf (nType={ntype}) but has child nodes")
            if leaf_kind == "nType" and ntype not in (-1, 1):
                raise _Bad(f"{where}: leaf nType={ntype}, expected +1 or -1 with UseYesNoLeaf")
            if not math.isfinite(res if leaf_kind == "res" else purity if leaf_kind == "purity" else 0.0):
                raise _Bad(f"{where}: leaf {leaf_kind} is not finite")
            ivar = -1
        me = len(tree_col)
        tree_col.append(t)
        node_col.append(local)
        feat_col.append(ivar)
        cut_col.append(cut if ntype == 0 else 0.0)
        ctype_col.append(ctype)
        left_col.append(-1)
        right_col.append(-1)
        res_col.append(res)
        ntype_col.append(ntype)
        pur_col.append(purity)
        if parent >= 0:
            (left_col if side == "l" else right_col)[parent] = local
        if ntype == 0:
            stack.append((children["r"], me, "r", depth + 1))
            stack.append((children["l"], me, "l", depth + 1))


# -- ONNX ---------------------------------------------------------------------------------------


def to_onnx(forest: TMVAForest):
    """The forest as an ONNX model: input ``features`` float32 [N, NVar] in VarIndex order,
    output ``score`` float32 [N, 1], TMVA's MVA value."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from .. import __version__

    leaf = forest.is_leaf
    n = len(leaf)
    # intermediate nodes: "x >= cut" true -> right for cType 1, left for cType 0 (TMVA negates
    # the comparison, so a NaN input goes right at a cType-0 node, as in TMVA)
    ge_right = forest.ctype == 1
    true_ids = np.where(leaf, 0, np.where(ge_right, forest.right, forest.left))
    false_ids = np.where(leaf, 0, np.where(ge_right, forest.left, forest.right))
    modes = np.where(leaf, "LEAF", "BRANCH_GTE").tolist()
    values = np.where(leaf, 0.0, forest.cut.astype(np.float64))
    leaf_value = forest.leaf_values()
    if forest.is_grad:
        weights = leaf_value[leaf]
    else:
        weights = (forest.boost_weight[forest.tree_id] * leaf_value)[leaf]

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


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(_read_bytes(path)).hexdigest()


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
    sha = _sha256_file(xml_path)
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
