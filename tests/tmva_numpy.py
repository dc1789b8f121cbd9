"""A reference TMVA BDT reader and evaluator in plain numpy, for the tests only.

Written separately from ``recast.models.tmva`` so the two can check each other: streaming
parsing (``iterparse``) instead of a full tree, and a different node layout: each tree is stored
as a complete binary tree in heap order (root 0; children of ``k`` at ``2k+1`` (pos="l") and
``2k+2`` (pos="r")), so an event's position after one more level is ``2k + 1 + went_right``.
Evaluation walks all events through all trees at once, one depth level per step, with numpy
fancy indexing, comparing ``float32(x) >= float32(cut)`` as TMVA does.

Loaded through the ``tmva_numpy`` fixture (pytest's importlib mode: test modules cannot import
each other).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np


@dataclass
class RefForest:
    names: list            # variable names, VarIndex order
    mins: np.ndarray
    maxs: np.ndarray
    boost: str
    yes_no_leaf: bool
    depth: int             # deepest leaf
    feat: np.ndarray       # [T, H] int, -1 where not an intermediate node
    cut: np.ndarray        # [T, H] float32
    ctype: np.ndarray      # [T, H] int
    leaf: np.ndarray       # [T, H] bool: a leaf exists here
    inner: np.ndarray      # [T, H] bool: an intermediate node exists here
    value: np.ndarray      # [T, H] float64, the leaf value used by the boost type (NaN elsewhere)
    weight: np.ndarray     # [T] boostWeight

    def cuts_of(self, var: int) -> np.ndarray:
        """All distinct float32 cut values on variable ``var``."""
        return np.unique(self.cut[self.inner & (self.feat == var)])


def read(path) -> RefForest:
    variables, options, trees = {}, {}, []
    stack = []  # heap positions of the open Node elements
    for event, el in ET.iterparse(str(path), events=("start", "end")):
        tag = el.tag
        if event == "start":
            if tag == "BinaryTree":
                trees.append({"w": float(el.attrib["boostWeight"]), "nodes": {}})
            elif tag == "Node":
                pos = el.attrib["pos"]
                if pos == "s":
                    assert not stack, "root node inside a node"
                    k = 0
                else:
                    k = 2 * stack[-1] + (1 if pos == "l" else 2)
                assert k not in trees[-1]["nodes"], f"two nodes at heap slot {k}"
                a = el.attrib
                assert int(a["NCoef"]) == 0
                trees[-1]["nodes"][k] = (int(a["nType"]), int(a["IVar"]), float(a["Cut"]), int(a["cType"]),
                                         float(a["res"]), float(a["purity"]), len(stack))
                stack.append(k)
            elif tag == "Variable":
                a = el.attrib
                variables[int(a["VarIndex"])] = (a["Expression"], float(a["Min"]), float(a["Max"]))
        else:
            if tag == "Node":
                stack.pop()
            elif tag == "Option":
                options[el.attrib["name"]] = (el.text or "").strip()
            elif tag == "Transformations":
                assert int(el.attrib["NTransformations"]) == 0

    assert options.get("VarTransform", "None") in ("None", "")
    boost = options["BoostType"]
    yes_no = options.get("UseYesNoLeaf", "True").lower() == "true"
    depth = max(n[6] for t in trees for n in t["nodes"].values())
    H = 2 ** (depth + 1) - 1
    T = len(trees)
    feat = np.full((T, H), -1, np.int64)
    cut = np.zeros((T, H), np.float32)
    ctype = np.ones((T, H), np.int64)
    leaf = np.zeros((T, H), bool)
    inner = np.zeros((T, H), bool)
    value = np.full((T, H), np.nan)
    for t, tree in enumerate(trees):
        for k, (ntype, ivar, c, ct, res, pur, _) in tree["nodes"].items():
            if ntype == 0:
                inner[t, k] = True
                feat[t, k] = ivar
                cut[t, k] = np.float32(c)
                ctype[t, k] = ct
            else:
                leaf[t, k] = True
                value[t, k] = res if boost == "Grad" else (float(ntype) if yes_no else pur)
    # every intermediate node has both children
    for t in range(T):
        for k in np.flatnonzero(inner[t]):
            assert 2 * k + 2 < H and (inner[t, 2 * k + 1] or leaf[t, 2 * k + 1]) and \
                (inner[t, 2 * k + 2] or leaf[t, 2 * k + 2]), f"tree {t} slot {k} lacks a child"
    names = [variables[i][0] for i in range(len(variables))]
    mins = np.array([variables[i][1] for i in range(len(variables))])
    maxs = np.array([variables[i][2] for i in range(len(variables))])
    return RefForest(names, mins, maxs, boost, yes_no, depth, feat, cut, ctype, leaf, inner, value,
                     np.array([t["w"] for t in trees]))


def tree_values(forest: RefForest, x, chunk: int = 2048) -> np.ndarray:
    """[N, T] float64: what each tree adds for each event of ``x`` [N, NVar]: the exit leaf's
    value, times the tree's boostWeight unless the boost type is Grad."""
    x = np.asarray(x, dtype=np.float32)
    T = forest.feat.shape[0]
    trees = np.arange(T)[None, :]
    out = np.empty((len(x), T))
    for start in range(0, len(x), chunk):
        xc = x[start:start + chunk]
        rows = np.arange(len(xc))[:, None]
        k = np.zeros((len(xc), T), np.int64)
        for _ in range(forest.depth):
            at_inner = forest.inner[trees, k]
            f = forest.feat[trees, k]
            xv = xc[rows, np.where(at_inner, f, 0)]
            ge = xv >= forest.cut[trees, k]            # float32 against float32
            right = np.where(forest.ctype[trees, k] == 1, ge, ~ge)
            k = np.where(at_inner, 2 * k + 1 + right, k)
        assert forest.leaf[trees, k].all(), "an event did not reach a leaf"
        v = forest.value[trees, k]
        out[start:start + chunk] = v if forest.boost == "Grad" else v * forest.weight[None, :]
    return out


def evaluate(forest: RefForest, x, chunk: int = 2048):
    """(F, MVA) for events ``x`` [N, NVar]: F is the sum over trees of the leaf values (Grad) or the
    weighted sum (others); MVA is TMVA's output. Both float64."""
    raw = tree_values(forest, x, chunk).sum(axis=1)
    if forest.boost == "Grad":
        return raw, 2.0 / (1.0 + np.exp(-2.0 * raw)) - 1.0   # TMVA writes it this way
    norm = forest.weight.sum()
    return raw, (raw / norm if norm > np.finfo(float).eps else np.zeros_like(raw))
