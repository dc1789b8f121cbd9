"""TMVA BDTs evaluated by a numba kernel: the trees of the ONNX graph recast converts them to,
the same decisions, about five times faster than onnxruntime's TreeEnsembleRegressor on a chunk.

:func:`from_tmva` lays out a weight file's trees for the kernel (what a run uses: no graph is
made), :func:`session` reads the tree ensemble back from a graph written by
:func:`recast.models.tmva.to_onnx` (the same arrays: both go through
:func:`recast.models.tmva.node_table` and one layout); either returns an object with
onnxruntime's ``run(output_names, feeds)`` interface, so that a
:class:`~recast.models.runtime.LoadedModel` holds it in place of an ``InferenceSession`` (one call
per fold per chunk, as before). A forest it cannot evaluate exactly (not ours, a tree with more
than :data:`MAX_LEAVES` leaves, a threshold that is not a float32 value) gets ``None``, and the
caller converts it and keeps onnxruntime.

Decisions are TMVA's (:mod:`recast.models.tmva`): a node sends the event to its *true* child when
``float32(x) >= float32(cut)`` and to its *false* child otherwise, NaN included; the converter
already wrote TMVA's ``cType`` into which child is which. Every tree is scored with the
QuickScorer rule (Lucchese et al., SIGIR 2015): number a tree's leaves left to right with the false
subtree on the left; start with every leaf alive and, at every node whose test is true, kill the
leaves of its false subtree; the exit leaf is the leftmost leaf still alive. (The leftmost alive
leaf cannot be left of the exit leaf: their lowest common ancestor sent the event right; nor is
the exit leaf ever killed: only its ancestors have it below them, and they kill it only on the
other branch.) The tests are independent of the walk, so a block of events goes through one node
at a time over a contiguous row of one feature, which the compiler vectorises.

The leaf values are summed in double in tree order, as TMVA (``MethodBDT::PrivateGetMvaValue``)
and onnxruntime do: the sum rounded to float32 equals the graph's ``raw`` tensor bit for bit.
The output transform is TMVA's own, in double, rounded once to float32: ``2/(1+exp(-2F)) - 1``
for ``BoostType=Grad``, ``F / sum of boostWeight`` (0 when that sum is not above the double
epsilon) otherwise. onnxruntime's graph applies its float32 ``Tanh`` (a rational approximation,
up to 4 float32 ulp from TMVA's value on the ATLAS BDTs) and a float32 division, so the scores of
the two paths differ in the last bits, this one being the correctly rounded TMVA value.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from ..atomic import write_bytes
from ..cache import cache_dir

#: Leaves per tree the kernel handles (a bit per leaf in one uint64); deeper trees stay with
#: onnxruntime. TMVA's default MaxDepth of 3 gives at most 8.
MAX_LEAVES = 64
_BLOCK = 256  # events per pass over the trees: their masks stay in L1, the feature rows are contiguous
_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_DEBRUIJN = np.uint64(0x03F7_9D71_B4CB_0A89)  # lowest set bit -> its index without a bit-scan instruction


def _debruijn_table() -> np.ndarray:
    table = np.zeros(64, np.int64)
    with np.errstate(over="ignore"):
        for bit in range(64):
            table[int((np.uint64(1 << bit) * _DEBRUIJN) >> np.uint64(58))] = bit
    return table


_LOWEST_BIT = _debruijn_table()


@numba.njit(cache=True, nogil=True)
def _tree_sums(x, feature, threshold, kill, node_offsets, leaf_value, leaf_offsets, lowest_bit):
    """Sum over trees (double, tree order) of each event's exit-leaf value; ``x`` float32 [N, nvar]."""
    n = x.shape[0]
    n_trees = node_offsets.shape[0] - 1
    columns = np.ascontiguousarray(x.T)
    out = np.zeros(n)
    alive = np.empty(_BLOCK, np.uint64)
    every, zero, debruijn, shift = _ALL, np.uint64(0), _DEBRUIJN, np.uint64(58)
    for lo in range(0, n, _BLOCK):
        m = min(_BLOCK, n - lo)
        for t in range(n_trees):
            for j in range(m):
                alive[j] = every
            for q in range(node_offsets[t], node_offsets[t + 1]):
                f = feature[q]
                cut = threshold[q]
                mask = kill[q]
                for j in range(m):
                    alive[j] &= mask if columns[f, lo + j] >= cut else every
            base = leaf_offsets[t]
            for j in range(m):
                a = alive[j]
                out[lo + j] += leaf_value[base + lowest_bit[((a & (zero - a)) * debruijn) >> shift]]
    return out


@numba.njit(cache=True, nogil=True)
def _tmva_grad(raw):
    """TMVA's BoostType=Grad output, written as TMVA writes it (not tanh: the last bits differ)."""
    out = np.empty(raw.shape[0], np.float32)
    for i in range(raw.shape[0]):
        out[i] = 2.0 / (1.0 + math.exp(-2.0 * raw[i])) - 1.0
    return out


@dataclass(frozen=True)
class ForestArrays:
    """A tree ensemble laid out for :func:`_tree_sums`.

    Intermediate nodes of tree ``t`` are ``node_offsets[t]:node_offsets[t+1]`` (``feature``,
    ``threshold`` float32, ``kill``: the alive-mask to AND when the test is true, i.e. without the
    false subtree's leaves); its leaves, left to right (false subtree first), are
    ``leaf_offsets[t]:leaf_offsets[t+1]`` of ``leaf_value`` (double: the weight the ensemble adds)."""

    feature: np.ndarray
    threshold: np.ndarray
    kill: np.ndarray
    node_offsets: np.ndarray
    leaf_value: np.ndarray
    leaf_offsets: np.ndarray

    @property
    def n_trees(self) -> int:
        return len(self.node_offsets) - 1

    def sums(self, x: np.ndarray) -> np.ndarray:
        """The ensemble's raw output (double) for float32 inputs ``x`` [N, nvar]."""
        return _tree_sums(np.ascontiguousarray(x, dtype=np.float32), self.feature, self.threshold, self.kill,
                          self.node_offsets, self.leaf_value, self.leaf_offsets, _LOWEST_BIT)


class ForestSession:
    """A converted TMVA BDT with onnxruntime's ``run`` interface: ``run([output], {input: x})``
    gives ``[scores]``, float32 [N, 1], TMVA's MVA value (see the module docstring)."""

    def __init__(self, arrays: ForestArrays, grad: bool, boost_weight_sum: float, input_name: str,
                 output_name: str, n_variables: int):
        self.arrays, self.grad, self.boost_weight_sum = arrays, grad, boost_weight_sum
        self.input_name, self.output_name, self.n_variables = input_name, output_name, n_variables

    def scores(self, x: np.ndarray) -> np.ndarray:
        """TMVA's MVA value, float32 [N], for inputs [N, nvar]."""
        raw = self.arrays.sums(x)
        if self.grad:
            return _tmva_grad(raw)
        if self.boost_weight_sum > sys.float_info.epsilon:
            return (raw / self.boost_weight_sum).astype(np.float32)
        return np.zeros(len(raw), np.float32)

    def run(self, output_names, feeds) -> list[np.ndarray]:
        if list(output_names) != [self.output_name] or set(feeds) != {self.input_name}:
            raise ValueError(f"this forest takes {{{self.input_name!r}: x}} and gives [{self.output_name!r}]")
        x = np.asarray(feeds[self.input_name])
        if x.ndim != 2 or x.shape[1] != self.n_variables:
            raise ValueError(f"input of shape {x.shape}, expected [N, {self.n_variables}]")
        return [self.scores(x)[:, None]]


    def to_bytes(self, meta: dict) -> bytes:
        """The session as an ``.npz`` file's bytes: the arrays, and ``meta`` (JSON-able) with what
        the constructor takes besides them (:meth:`from_bytes` reads both back)."""
        import io
        import json

        head = {**meta, "grad": self.grad, "boost_weight_sum": repr(self.boost_weight_sum),
                "input_name": self.input_name, "output_name": self.output_name, "n_variables": self.n_variables}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(head)),
                 **{f.name: getattr(self.arrays, f.name) for f in dataclasses.fields(ForestArrays)})
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> tuple[ForestSession, dict]:
        """A session and the ``meta`` given to :meth:`to_bytes` (with the session's own entries).
        Raises (``ValueError``, ``zipfile.BadZipFile``, ``KeyError``...) on anything :meth:`to_bytes`
        did not write; arrays that do not fit together (which the kernel would index out of bounds)
        are refused."""
        import io
        import json

        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            head = json.loads(str(f["meta"]))
            arrays = ForestArrays(**{field.name: f[field.name] for field in dataclasses.fields(ForestArrays)})
        dtypes = {"feature": np.int32, "threshold": np.float32, "kill": np.uint64, "node_offsets": np.int64,
                  "leaf_value": np.float64, "leaf_offsets": np.int64}
        if any(getattr(arrays, k).dtype != t or getattr(arrays, k).ndim != 1 for k, t in dtypes.items()):
            raise ValueError("forest arrays of the wrong type")
        n_variables = int(head["n_variables"])
        nodes, leaves = arrays.node_offsets, arrays.leaf_offsets
        if not (len(nodes) == len(leaves) >= 1 and nodes[0] == leaves[0] == 0 and nodes[-1] == len(arrays.feature)
                and leaves[-1] == len(arrays.leaf_value) and len(arrays.kill) == len(arrays.feature)
                and len(arrays.threshold) == len(arrays.feature) and np.all(np.diff(nodes) >= 0)
                and np.all(np.diff(leaves) >= 1) and np.all(np.diff(leaves) <= MAX_LEAVES)
                and np.all((arrays.feature >= 0) & (arrays.feature < n_variables))):
            raise ValueError("forest arrays that do not fit together")  # the kernel indexes without checks
        session = cls(arrays, bool(head["grad"]), float(head["boost_weight_sum"]), str(head["input_name"]),
                      str(head["output_name"]), n_variables)
        return session, head


# -- reading a converted graph back (the cross-check of from_tmva) --------------------------------


def _attributes(node) -> dict:
    from onnx import helper, numpy_helper

    out = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        out[a.name] = numpy_helper.to_array(value) if a.type == a.TENSOR else value
    return out


def arrays_from_onnx(model, n_variables: int) -> ForestArrays | None:
    """The kernel's arrays for the TreeEnsembleRegressor of a graph written by
    :func:`recast.models.tmva.to_onnx`; ``None`` when the kernel cannot reproduce it exactly."""
    ensembles = [n for n in model.graph.node if n.op_type == "TreeEnsembleRegressor"]
    if len(ensembles) != 1:
        return None
    a = _attributes(ensembles[0])
    modes = [m.decode() if isinstance(m, bytes) else m for m in a.get("nodes_modes", [])]
    thresholds = np.asarray(a.get("nodes_values_as_tensor", a.get("nodes_values", [])), np.float64)
    if (a.get("n_targets") != 1 or a.get("aggregate_function", b"SUM") not in (b"SUM", "SUM")
            or a.get("post_transform", b"NONE") not in (b"NONE", "NONE")
            or np.any(np.asarray(a.get("base_values_as_tensor", a.get("base_values", [0.0]))) != 0)
            or set(modes) - {"BRANCH_GTE", "LEAF"} or any(a.get("nodes_missing_value_tracks_true", []))
            or len(thresholds) != len(modes)
            or not np.array_equal(thresholds.astype(np.float32).astype(np.float64), thresholds)):
        return None
    tree = np.asarray(a["nodes_treeids"], np.int64)
    node = np.asarray(a["nodes_nodeids"], np.int64)
    feature = np.asarray(a["nodes_featureids"], np.int64)
    true_id = np.asarray(a["nodes_truenodeids"], np.int64)
    false_id = np.asarray(a["nodes_falsenodeids"], np.int64)
    is_leaf = np.array([m == "LEAF" for m in modes])
    weights = np.asarray(a.get("target_weights_as_tensor", a.get("target_weights", [])), np.float64)
    if np.any(np.asarray(a["target_ids"]) != 0):
        return None
    index = {(t, k): i for i, (t, k) in enumerate(zip(tree.tolist(), node.tolist()))}
    leaf_weight = np.zeros(len(modes))
    seen = np.zeros(len(modes), bool)
    for t, k, w in zip(a["target_treeids"], a["target_nodeids"], weights.tolist()):
        i = index.get((t, k))
        if i is None or not is_leaf[i] or seen[i]:
            return None
        leaf_weight[i], seen[i] = w, True
    if not np.array_equal(seen, is_leaf):
        return None
    return _laid_out(tree, index, feature, true_id, false_id, is_leaf, thresholds, leaf_weight, n_variables)


def _laid_out(tree: np.ndarray, index: dict, feature: np.ndarray, true_id: np.ndarray, false_id: np.ndarray,
              is_leaf: np.ndarray, thresholds: np.ndarray, leaf_weight: np.ndarray,
              n_variables: int) -> ForestArrays | None:
    """The kernel's arrays of an ensemble given per node (``index``: (tree, tree-local id) -> node):
    its tree, feature, true and false children (tree-local ids), whether it is a leaf, its
    threshold (double holding a float32 value) and its leaf weight (double). ``None`` when it is
    not a forest the kernel can evaluate exactly."""
    n_nodes = len(is_leaf)
    feat, cut, kill, node_offsets, values, leaf_offsets = [], [], [], [0], [], [0]
    visits = 0
    for t in np.unique(tree).tolist():  # tree order: TMVA's and onnxruntime's order of summation
        first_leaf = len(values)
        # depth first, the false child before the true one, so leaves come out left to right; a
        # (slot, leaves so far) entry marks the end of an intermediate node's false subtree
        stack: list = [index[(t, 0)]] if (t, 0) in index else []
        while stack:
            entry = stack.pop()
            if isinstance(entry, tuple):
                slot, start = entry
                false_leaves = ((1 << (len(values) - start)) - 1) << (start - first_leaf)
                kill[slot] = ~false_leaves & 0xFFFF_FFFF_FFFF_FFFF
                continue
            visits += 1
            if visits > n_nodes:  # a node reached twice: not a forest
                return None
            if is_leaf[entry]:
                values.append(leaf_weight[entry])
                continue
            f = int(feature[entry])
            child_true, child_false = index.get((t, int(true_id[entry]))), index.get((t, int(false_id[entry])))
            if not 0 <= f < n_variables or child_true is None or child_false is None:
                return None
            feat.append(f)
            cut.append(thresholds[entry])
            kill.append(0)
            stack.extend([child_true, (len(feat) - 1, len(values)), child_false])
        if not 0 < len(values) - first_leaf <= MAX_LEAVES:
            return None
        node_offsets.append(len(feat))
        leaf_offsets.append(len(values))
    if visits != n_nodes:  # a node no root reaches
        return None
    return ForestArrays(np.asarray(feat, np.int32), np.asarray(cut, np.float32), np.asarray(kill, np.uint64),
                        np.asarray(node_offsets, np.int64), np.asarray(values, np.float64),
                        np.asarray(leaf_offsets, np.int64))


def session(model) -> ForestSession | None:
    """A :class:`ForestSession` for a TMVA BDT converted by recast (a graph of
    :func:`recast.models.tmva.to_onnx`, as ``recast convert tmva`` writes it), or ``None``. Runs
    lay their forests out from the weight file (:func:`from_tmva`); this reads the portable graph
    back, the check that the graph and the kernel hold the same trees (``tests/test_tmva.py``)."""
    from .tmva import INPUT_NAME, OUTPUT_NAME

    meta = {p.key: p.value for p in model.metadata_props}
    if "converted by recast" not in meta.get("converted_by", ""):
        return None
    grad = meta.get("boost_type") == "Grad"
    if not grad and "boost_weight_sum" not in meta:  # converted before the sum was recorded
        return None
    arrays = arrays_from_onnx(model, int(meta["n_variables"]))
    if arrays is None or arrays.n_trees != int(meta["n_trees"]):
        return None
    return ForestSession(arrays, grad, float(meta.get("boost_weight_sum", "nan")), INPUT_NAME, OUTPUT_NAME,
                         int(meta["n_variables"]))


def from_tmva(forest) -> ForestSession | None:
    """The :class:`ForestSession` of a TMVA forest (:class:`recast.models.tmva_xml.TMVAForest`)
    straight from the weight file's trees: the arrays :func:`session` reads back from the graph
    :func:`recast.models.tmva.to_onnx` makes of it (the same node table,
    :func:`recast.models.tmva.node_table`), without making the graph or importing onnx. ``None``
    when the kernel cannot evaluate it (more than :data:`MAX_LEAVES` leaves in a tree)."""
    from . import tmva

    true_id, false_id, thresholds, weights = tmva.node_table(forest)
    tree = forest.tree_id.astype(np.int64)
    index = {(t, k): i for i, (t, k) in enumerate(zip(tree.tolist(), forest.node_id.tolist()))}
    is_leaf = forest.is_leaf
    arrays = _laid_out(tree, index, np.where(is_leaf, 0, forest.feature).astype(np.int64), true_id.astype(np.int64),
                       false_id.astype(np.int64), is_leaf, thresholds, np.where(is_leaf, weights, 0.0),
                       forest.n_variables)
    if arrays is None or arrays.n_trees != forest.n_trees:
        return None
    return ForestSession(arrays, forest.is_grad, tmva.boost_weight_sum(forest), tmva.INPUT_NAME, tmva.OUTPUT_NAME,
                         forest.n_variables)


# -- kept in the cache ----------------------------------------------------------------------------

FOREST_FORMAT = "1"
"""Bumped whenever :meth:`recast.models.forest.ForestSession.to_bytes` changes what it writes."""


def _kept_path(sha: str) -> Path:
    return cache_dir("tmva-forest") / f"{sha}.npz"


def kept(xml_path) -> tuple[ForestSession, dict] | None:
    """The forest kernel's session for a TMVA XML file and the signature of the graph it converts to (a
    dict of :class:`recast.models.runtime.GraphSignature`'s fields), as :func:`keep` kept
    them in ``<cache>/tmva-forest/<sha256 of the XML>.npz``; ``None`` when nothing valid is kept
    (another converter version or file format, an unreadable file). Neither onnx nor the graph
    is read: a run that only evaluates BDTs skips onnx's import (0.5 s) and reading 16 graphs
    back into arrays (another 0.5 s). The card's golden outputs are still reproduced on the
    result (:func:`recast.models.runtime.check_golden`)."""
    from . import tmva

    sha = tmva.source_sha256(Path(xml_path))
    try:
        session, meta = ForestSession.from_bytes(_kept_path(sha).read_bytes())
    except Exception:  # none kept, or unreadable (a truncated zip, bad JSON, arrays that do not fit): convert again
        return None
    if (meta.get("source_sha256") != sha or meta.get("converter_version") != tmva.CONVERTER_VERSION
            or meta.get("forest_format") != FOREST_FORMAT or not isinstance(meta.get("signature"), dict)):
        return None
    return session, meta["signature"]


def keep(xml_path, session: ForestSession, signature: dict) -> None:
    """Keep the session made from ``xml_path`` (:func:`from_tmva`) for :func:`kept`. A
    cache that cannot be written only means converting again next time."""
    from . import tmva

    sha = tmva.source_sha256(Path(xml_path))
    meta = {"source_sha256": sha, "converter_version": tmva.CONVERTER_VERSION, "forest_format": FOREST_FORMAT,
            "signature": signature}
    try:
        write_bytes(_kept_path(sha), session.to_bytes(meta))
    except OSError:
        pass
