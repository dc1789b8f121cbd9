"""TMVA MethodBDT weight files (XML) read into flat arrays, refusing what cannot be evaluated
exactly as TMVA does (the rule is in :mod:`recast.models.tmva`)."""

from __future__ import annotations

import hashlib
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError, read_bytes

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


def read_weight_file(path: Path) -> bytes:
    return read_bytes(path, ModelError, "TMVA XML file")


def read_xml(path) -> TMVAForest:
    """Parse a TMVA MethodBDT weight file; :class:`ModelError` (naming the file) if it is not one
    or uses something this reader cannot evaluate exactly."""
    path = Path(path)
    data = read_weight_file(path)
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


def _where(t: int, local: int, depth: int) -> str:
    return f"tree {t} node {local} (depth {depth})"


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
    # pre-order with an explicit stack: (element, global index of the parent, side, depth); the
    # checks run on every one of the forest's ~10^4-10^5 nodes, so the message naming the node is
    # made only when there is a problem (_where)
    stack = [(roots[0], -1, None, 0)]
    while stack:
        el, parent, side, depth = stack.pop()
        local = len(tree_col) - base
        attrs = el.attrib
        try:
            ncoef, ivar, ctype, ntype = (int(attrs["NCoef"]), int(attrs["IVar"]), int(attrs["cType"]),
                                         int(attrs["nType"]))
            cut, res, purity = float(attrs["Cut"]), float(attrs["res"]), float(attrs["purity"])
            complete = "pos" in attrs
        except (KeyError, ValueError):
            complete = False
        if not complete:
            missing = [a for a in _NODE_ATTRS if a not in attrs]
            if missing:
                raise _Bad(f"{_where(t, local, depth)} has no {', '.join(missing)} "
                           f"attribute{'s' if len(missing) > 1 else ''}")
            raise _Bad(f"{_where(t, local, depth)} has a non-numeric attribute")
        if ncoef != 0:
            raise _Bad(f"{_where(t, local, depth)} has NCoef={ncoef}: Fisher-discriminant cuts (UseFisherCuts) "
                       "are not supported")
        left = right = None
        for child in el:
            if child.tag != "Node":
                continue
            pos = child.get("pos")
            if pos == "l" and left is None:
                left = child
            elif pos == "r" and right is None:
                right = child
            else:
                raise _Bad(f"{_where(t, local, depth)} has a child with pos={pos!r} (expected one 'l' and one 'r')")
        if ntype == 0:  # intermediate node
            if left is None or right is None:
                n_children = (left is not None) + (right is not None)
                raise _Bad(f"{_where(t, local, depth)} is an intermediate node (nType=0) with {n_children} child "
                           "node(s), expected 2 (pos 'l' and 'r')")
            if not 0 <= ivar < nvar:
                raise _Bad(f"{_where(t, local, depth)} cuts on IVar={ivar}, outside 0..{nvar - 1}")
            if ctype not in (0, 1):
                raise _Bad(f"{_where(t, local, depth)} has cType={ctype}, expected 0 or 1")
            if math.isnan(cut):
                raise _Bad(f"{_where(t, local, depth)} has Cut={attrs['Cut']!r}")
        else:
            if left is not None or right is not None:
                raise _Bad(f"{_where(t, local, depth)} is a leaf (nType={ntype}) but has child nodes")
            if leaf_kind == "nType" and ntype not in (-1, 1):
                raise _Bad(f"{_where(t, local, depth)}: leaf nType={ntype}, expected +1 or -1 with UseYesNoLeaf")
            if not math.isfinite(res if leaf_kind == "res" else purity if leaf_kind == "purity" else 0.0):
                raise _Bad(f"{_where(t, local, depth)}: leaf {leaf_kind} is not finite")
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
            stack.append((right, me, "r", depth + 1))
            stack.append((left, me, "l", depth + 1))
