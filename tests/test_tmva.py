"""TMVA BDT XML -> ONNX: the 16 ATLAS-SUSY-2018-22 BDTs against an independent numpy evaluator and
the reference values of tmva_format.md §6; hand-made forests with hand-computed outputs; bad
inputs; the conversion cache; ``recast convert tmva``."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from recast.cli import main
from recast.errors import ModelError
from recast.models import tmva

ANALYSIS = "ANA-SUSY-2018-22"
BDTS = [f"{sr}_weight{fold}" for sr in ("GGd1", "GGd2", "GGd3", "GGd4", "GGo1", "GGo2", "GGo3", "GGo4")
        for fold in (1, 2)]

# tmva_format.md §6: F(A), MVA(A), F(B), MVA(B)
REFERENCE = {
    "GGd1_weight1": (3.689058, 0.998751, -2.600125, -0.989030),
    "GGd1_weight2": (3.879918, 0.999147, -3.131856, -0.996199),
    "GGd2_weight1": (2.900949, 0.993975, -1.298115, -0.861237),
    "GGd2_weight2": (2.682592, 0.990690, -1.462605, -0.898157),
    "GGd3_weight1": (2.521145, 0.987165, 1.324108, 0.867802),
    "GGd3_weight2": (2.507474, 0.986812, 1.230448, 0.842709),
    "GGd4_weight1": (1.170923, 0.824568, 1.362341, 0.876935),
    "GGd4_weight2": (1.177362, 0.826618, 1.178658, 0.827028),
    "GGo1_weight1": (2.995831, 0.995013, -2.687080, -0.990773),
    "GGo1_weight2": (2.965500, 0.994702, -2.638620, -0.989839),
    "GGo2_weight1": (2.404116, 0.983808, -1.306629, -0.863420),
    "GGo2_weight2": (2.038369, 0.966640, -1.461615, -0.897966),
    "GGo3_weight1": (1.339100, 0.871456, 0.369092, 0.353197),
    "GGo3_weight2": (1.530578, 0.910523, 0.870123, 0.701437),
    "GGo4_weight1": (0.415866, 0.393442, 0.622199, 0.552657),
    "GGo4_weight2": (0.135445, 0.134623, 0.461262, 0.431112),
}
_JETS_A = {"Pt": (950, 700, 500, 350, 120, 80), "Eta": (0.3, -0.5, 0.8, -1.0, 1.2, -1.4)}
_JETS_B = {"Pt": (450, 200, 150, 100, 60, 0), "Eta": (0.2, -0.7, 1.0, -0.4, 1.5, -3.0)}
INPUT_A = {"met": 1100, "Ap": 0.10, "meff": 3800,
           **{f"jet{q}{i}": v for q, vals in _JETS_A.items() for i, v in enumerate(vals)}}
INPUT_B = {"met": 600, "Ap": 0.12, "meff": 1560,
           **{f"jet{q}{i}": v for q, vals in _JETS_B.items() for i, v in enumerate(vals)}}

N_RANDOM, N_ON_CUTS = 10_000, 3_000
TOL_ONNX_NUMPY, TOL_REFERENCE = 1e-6, 1e-5


def _mirror() -> Path:
    """``<mirror>/ANA-SUSY-2018-22``: from $RECAST_DATA_MIRROR (os.pathsep-separated), else the
    shared checkout beside the repository (conftest's ``SHARED / "hepdata"``). Never skipped:
    CI always has the mirror."""
    roots = [Path(p) for p in os.environ.get("RECAST_DATA_MIRROR", "").split(os.pathsep) if p]
    roots.append(Path(__file__).resolve().parents[2] / "shared" / "hepdata")
    for root in roots:
        if (root / ANALYSIS).is_dir():
            return root / ANALYSIS
    pytest.fail(f"data mirror not found: no {ANALYSIS}/ under {', '.join(map(str, roots))} "
                "(set RECAST_DATA_MIRROR)")


@pytest.fixture(scope="session")
def bdt_dir() -> Path:
    return _mirror()


def _xml(bdt_dir: Path, name: str) -> Path:
    path = bdt_dir / f"ZeroLepton2018-SRBDT-{name}.xml"
    if not path.is_file():
        pytest.fail(f"{path}: missing from the data mirror")
    return path


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="session")
def converted(bdt_dir, tmva_numpy):
    """Every BDT read by both readers and converted once: name -> namespace(path, forest, model,
    session, ref, seconds). Converted in memory, so the user cache is never touched."""
    out = {}
    for name in BDTS:
        path = _xml(bdt_dir, name)
        start = time.perf_counter()
        forest = tmva.read_xml(path)
        model = tmva.to_onnx(forest)
        seconds = time.perf_counter() - start
        out[name] = SimpleNamespace(path=path, forest=forest, model=model, session=_session(model),
                                    ref=tmva_numpy.read(path), seconds=seconds)
    return out


def _run(session, x) -> np.ndarray:
    (y,) = session.run(None, {"features": np.asarray(x, np.float32)})
    assert y.dtype == np.float32 and y.shape == (len(x), 1)
    return y[:, 0].astype(np.float64)


def _inputs(ref, rng) -> np.ndarray:
    """Uniform points in every variable's [Min, Max], then points with variables set exactly on a
    cut value (or on the float32 just below it), then a few with NaN."""
    nvar = len(ref.names)
    uniform = rng.uniform(ref.mins, ref.maxs, size=(N_RANDOM, nvar))
    on_cuts = rng.uniform(ref.mins, ref.maxs, size=(N_ON_CUTS, nvar)).astype(np.float32)
    for v in range(nvar):
        cuts = ref.cuts_of(v)
        if len(cuts) == 0:
            continue
        rows = rng.random(N_ON_CUTS) < 0.6
        values = rng.choice(cuts, size=int(rows.sum()))
        below = rng.random(len(values)) < 0.3
        values[below] = np.nextafter(values[below], np.float32(-np.inf))
        on_cuts[rows, v] = values
    nan = rng.uniform(ref.mins, ref.maxs, size=(20, nvar))
    nan[rng.random(nan.shape) < 0.3] = np.nan
    return np.concatenate([uniform.astype(np.float32), on_cuts, nan.astype(np.float32)])


# -- the 16 ATLAS BDTs ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", BDTS)
def test_onnx_matches_numpy_evaluator(name, converted, tmva_numpy):
    c = converted[name]
    forest, ref = c.forest, c.ref
    assert forest.variable_names == ref.names
    assert np.allclose([v[2] for v in forest.variables], ref.mins)
    assert np.allclose([v[3] for v in forest.variables], ref.maxs)
    assert forest.n_trees == len(ref.weight) == 800 and forest.boost_type == "Grad"
    x = _inputs(ref, np.random.default_rng(BDTS.index(name)))
    onnx_mva = _run(c.session, x)
    _, numpy_mva = tmva_numpy.evaluate(ref, x)
    diff = np.abs(onnx_mva - numpy_mva)
    assert np.isfinite(onnx_mva).all() and np.isfinite(numpy_mva).all()
    assert diff.max() <= TOL_ONNX_NUMPY, f"{name}: max |ONNX - numpy| = {diff.max():.3g}"
    assert (np.abs(numpy_mva[:N_RANDOM]) < 1).all()
    print(f"{name}: max |ONNX - numpy| = {diff.max():.2e} on {len(x)} inputs; "
          f"read+convert {c.seconds:.3f} s")


@pytest.mark.parametrize("name", BDTS)
def test_reference_values(name, converted, tmva_numpy):
    c = converted[name]
    x = np.array([[INPUT_A[v] for v in c.ref.names], [INPUT_B[v] for v in c.ref.names]])
    fa, mva_a, fb, mva_b = REFERENCE[name]
    raw, mva = tmva_numpy.evaluate(c.ref, x)
    assert raw == pytest.approx([fa, fb], abs=TOL_REFERENCE)
    assert mva == pytest.approx([mva_a, mva_b], abs=TOL_REFERENCE)
    assert _run(c.session, x) == pytest.approx([mva_a, mva_b], abs=TOL_REFERENCE)


def test_structure_and_metadata(converted):
    for name, c in converted.items():
        f, model = c.forest, c.model
        onnx.checker.check_model(model)
        assert len(f.tree_id) == len(f.node_id) == len(f.feature) == len(f.cut) == len(f.res)
        assert f.cut.dtype == np.float32 and (f.ctype == 1).all()
        leaf = f.is_leaf
        assert (f.ntype[leaf] == -99).all() and (f.feature[leaf] == -1).all()
        assert (f.left[~leaf] >= 0).all() and (f.right[~leaf] >= 0).all() and (f.left[leaf] == -1).all()
        assert f.node_offsets[-1] == len(f.tree_id) and len(f.sha256) == 64
        (inp,) = model.graph.input
        (out,) = model.graph.output
        assert inp.name == "features" and inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        dims = inp.type.tensor_type.shape.dim
        assert dims[0].dim_param == "N" and dims[1].dim_value == f.n_variables
        assert out.name == "score" and [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 1]
        assert {o.domain: o.version for o in model.opset_import}["ai.onnx.ml"] == tmva.ONNX_ML_OPSET
        meta = {p.key: p.value for p in model.metadata_props}
        assert meta["source_sha256"] == f.sha256 and meta["boost_type"] == "Grad"
        assert meta["variables"] == ",".join(c.ref.names)
        assert "converted by recast" in meta["converted_by"]
    assert converted["GGd1_weight1"].forest.variable_names[:3] == ["met", "meff", "Ap"]
    assert converted["GGo4_weight1"].forest.variable_names[:2] == ["meff", "met"]
    assert len(converted["GGd1_weight1"].forest.tree_id) == 4302 + 5102


def test_truncated_mirror_file(bdt_dir, tmp_path):
    src = _xml(bdt_dir, "GGd1_weight1")
    bad = tmp_path / "cut_short.xml"
    bad.write_bytes(src.read_bytes()[:100_000])
    with pytest.raises(ModelError, match=re.escape(str(bad))):
        tmva.read_xml(bad)


# -- hand-made forests ---------------------------------------------------------------------------


def leaf(res=0.0, ntype=-99, purity=0.5):
    return ("leaf", res, ntype, purity)


def cut(ivar, value, ctype, left, right):
    return ("cut", ivar, value, ctype, left, right)


def _node(spec, pos, depth, right_first, extra="") -> str:
    ind = "  " * (depth + 3)
    if spec is None:
        return ""
    if spec[0] == "leaf":
        _, res, ntype, purity = spec
        return (f'{ind}<Node pos="{pos}" depth="{depth}" NCoef="0" IVar="-1" Cut="0.0000000000000000e+00" '
                f'cType="1" res="{res!r}" rms="0.0" purity="{purity!r}" nType="{ntype}"{extra}/>\n')
    _, ivar, value, ctype, lspec, rspec = spec
    kids = [_node(lspec, "l", depth + 1, right_first), _node(rspec, "r", depth + 1, right_first)]
    if right_first:
        kids.reverse()
    return (f'{ind}<Node pos="{pos}" depth="{depth}" NCoef="0" IVar="{ivar}" Cut="{float(np.float32(value)):.16e}" '
            f'cType="{ctype}" res="0.0" rms="0.0" purity="0.5" nType="0"{extra}>\n{"".join(kids)}{ind}</Node>\n')


def make_xml(trees, *, boost="Grad", yes_no=True, weights=None, nvar=2, right_first=()) -> str:
    """A TMVA MethodBDT XML document; ``trees`` are nested leaf()/cut() specs."""
    weights = weights or [1.0] * len(trees)
    variables = "".join(
        f'    <Variable VarIndex="{i}" Expression="x{i}" Label="x{i}" Title="x{i}" Unit="" Internal="x{i}" '
        f'Type="F" Min="-5.0e+00" Max="5.0e+00"/>\n' for i in range(nvar))
    body = "".join(
        f'    <BinaryTree type="DecisionTree" boostWeight="{w!r}" itree="{t}">\n'
        f'{_node(spec, "s", 0, t in right_first)}    </BinaryTree>\n'
        for t, (spec, w) in enumerate(zip(trees, weights)))
    return f"""<?xml version="1.0"?>
<MethodSetup Method="BDT::Test">
  <GeneralInfo>
    <Info name="TMVA Release" value="4.2.1 [262657]"/>
    <Info name="AnalysisType" value="Classification"/>
  </GeneralInfo>
  <Options>
    <Option name="VarTransform" modified="No">None</Option>
    <Option name="NTrees" modified="Yes">{len(trees)}</Option>
    <Option name="BoostType" modified="Yes">{boost}</Option>
    <Option name="UseYesNoLeaf" modified="Yes">{yes_no}</Option>
    <Option name="DoPreselection" modified="No">False</Option>
  </Options>
  <Variables NVar="{nvar}">
{variables}  </Variables>
  <Spectators NSpec="0"/>
  <Classes NClass="2">
    <Class Name="Signal" Index="0"/>
    <Class Name="Background" Index="1"/>
  </Classes>
  <Transformations NTransformations="0"/>
  <MVAPdfs/>
  <Weights NTrees="{len(trees)}" AnalysisType="{1 if boost == 'Grad' else 0}">
{body}  </Weights>
</MethodSetup>
"""


GRAD_TREES = [
    # right if x0 >= 1.5; then (cType 0) right if x1 < 0
    cut(0, 1.5, 1, leaf(-0.3), cut(1, 0.0, 0, leaf(0.1), leaf(0.5))),
    # right if x1 >= float32(0.1)
    cut(1, 0.1, 1, leaf(-0.2), leaf(0.4)),
]
NAN = float("nan")
GRAD_CASES = [  # (x0, x1), F worked out by hand
    ((0.0, 0.0), -0.3 - 0.2),
    ((1.5, -1.0), 0.5 - 0.2),          # on the cut goes right; x1 < 0 goes right at the cType-0 node
    ((2.0, 0.0), 0.1 - 0.2),           # 0 < 0 is false: left at the cType-0 node
    ((2.0, 0.1), 0.1 + 0.4),           # 0.1 as float32 equals the float32 cut: right
    ((1.4999999, 5.0), -0.3 + 0.4),    # float32(1.4999999) < 1.5
    ((2.0, NAN), 0.5 - 0.2),           # TMVA: cType 0 goes right when "x >= cut" is false
    ((NAN, 1.0), -0.3 + 0.4),
]


def _write(tmp_path, text, name="bdt.xml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grad_by_hand(tmp_path, tmva_numpy):
    path = _write(tmp_path, make_xml(GRAD_TREES, right_first={0}))  # tree 0 lists r before l
    forest = tmva.read_xml(path)
    assert forest.boost_type == "Grad" and forest.n_trees == 2 and forest.variable_names == ["x0", "x1"]
    inner = ~forest.is_leaf
    assert forest.ctype[inner].tolist() == [1, 0, 1] and forest.feature[inner].tolist() == [0, 1, 1]
    # pre-order, left before right whatever the element order: leaves of tree 0, then of tree 1
    assert forest.res[forest.is_leaf].tolist() == [-0.3, 0.1, 0.5, -0.2, 0.4]
    assert forest.left[:5].tolist() == [1, -1, 3, -1, -1] and forest.right[:5].tolist() == [2, -1, 4, -1, -1]
    x = np.array([c[0] for c in GRAD_CASES])
    expected_f = np.array([c[1] for c in GRAD_CASES])
    raw, mva = tmva_numpy.evaluate(tmva_numpy.read(path), x)
    assert raw == pytest.approx(expected_f, abs=1e-12)
    assert mva == pytest.approx(np.tanh(expected_f), abs=1e-12)
    assert _run(_session(tmva.to_onnx(forest)), x) == pytest.approx(np.tanh(expected_f), abs=1e-6)


ADA_TREES = [
    cut(0, 1.0, 1, leaf(ntype=-1, purity=0.2), leaf(ntype=1, purity=0.9)),
    cut(1, 0.0, 0, leaf(ntype=1, purity=0.7), leaf(ntype=-1, purity=0.3)),
    cut(0, 2.0, 1, cut(1, 1.0, 1, leaf(ntype=-1, purity=0.1), leaf(ntype=1, purity=0.6)),
        leaf(ntype=1, purity=0.95)),
]
ADA_WEIGHTS = [0.5, 1.0, 2.0]
ADA_CASES = [  # (x0, x1), weighted nType average, weighted purity average (sum of weights 3.5)
    ((0.5, 0.5), (-0.5 + 1.0 - 2.0) / 3.5, (0.5 * 0.2 + 0.7 + 2 * 0.1) / 3.5),
    ((1.0, -1.0), (0.5 - 1.0 - 2.0) / 3.5, (0.5 * 0.9 + 0.3 + 2 * 0.1) / 3.5),
    ((3.0, 2.0), 1.0, (0.5 * 0.9 + 0.7 + 2 * 0.95) / 3.5),
    ((1.9, 1.0), 1.0, (0.5 * 0.9 + 0.7 + 2 * 0.6) / 3.5),
]


@pytest.mark.parametrize("yes_no", [True, False])
def test_adaboost_by_hand(yes_no, tmp_path, tmva_numpy):
    path = _write(tmp_path, make_xml(ADA_TREES, boost="AdaBoost", yes_no=yes_no, weights=ADA_WEIGHTS,
                                     right_first={1}))
    forest = tmva.read_xml(path)
    assert forest.boost_type == "AdaBoost" and forest.use_yes_no_leaf is yes_no
    assert forest.boost_weight.tolist() == ADA_WEIGHTS
    x = np.array([c[0] for c in ADA_CASES])
    expected = np.array([c[1] if yes_no else c[2] for c in ADA_CASES])
    _, mva = tmva_numpy.evaluate(tmva_numpy.read(path), x)
    assert mva == pytest.approx(expected, abs=1e-12)
    model = tmva.to_onnx(forest)
    assert {p.key: p.value for p in model.metadata_props}["boost_type"] == "AdaBoost"
    assert _run(_session(model), x) == pytest.approx(expected, abs=1e-6)


def test_adaboost_zero_weights_give_zero(tmp_path):
    path = _write(tmp_path, make_xml(ADA_TREES, boost="AdaBoost", weights=[0.0, 0.0, 0.0]))
    assert _run(_session(tmva.to_onnx(tmva.read_xml(path))), [[0.5, 0.5], [3.0, 2.0]]).tolist() == [0.0, 0.0]


# -- bad inputs ----------------------------------------------------------------------------------

GOOD = make_xml(GRAD_TREES)


def _first(text, old, new):
    assert old in text
    return text.replace(old, new, 1)


BAD = {
    "truncated": (GOOD[: len(GOOD) // 2], "well-formed"),
    "empty": ("", "well-formed"),
    "not TMVA": ('<?xml version="1.0"?><Foo/>', "MethodSetup"),
    "Fisher cut": (_first(GOOD, 'NCoef="0"', 'NCoef="2" fC0="1.0" fC1="0.5"'), "NCoef=2"),
    "transformation": (_first(GOOD, '<Transformations NTransformations="0"/>',
                              '<Transformations NTransformations="1"><Transform Name="Normalize"/></Transformations>'),
                       "transformation"),
    "VarTransform": (_first(GOOD, ">None</Option>", ">N</Option>"), "VarTransform"),
    "one child": (make_xml([cut(0, 1.0, 1, leaf(0.1), None)]), "1 child node"),
    "leaf with children": (make_xml([cut(0, 1.0, 1, leaf(0.1), leaf(0.2))]).replace(
        'nType="0">', 'nType="-99">', 1), "leaf"),
    "duplicate pos": (make_xml([cut(0, 1.0, 1, leaf(0.1), leaf(0.2))]).replace('pos="r"', 'pos="l"'), "pos="),
    "missing Cut": (re.sub(r' Cut="[^"]*"', "", GOOD, count=1), "no Cut attribute"),
    "bad number": (_first(GOOD, 'IVar="0"', 'IVar="zero"'), "non-numeric"),
    "IVar out of range": (_first(GOOD, 'IVar="1"', 'IVar="7"'), "IVar=7"),
    "cType 2": (_first(GOOD, 'cType="0"', 'cType="2"'), "cType=2"),
    "multiclass": (_first(GOOD, 'value="Classification"', 'value="Multiclass"'), "Multiclass"),
    "regression": (_first(GOOD, 'value="Classification"', 'value="Regression"'), "Regression"),
    "preselection": (_first(GOOD, ">False</Option>", ">True</Option>"), "DoPreselection"),
    "NTrees mismatch": (_first(GOOD, '<Weights NTrees="2"', '<Weights NTrees="3"'), "NTrees"),
    "no BoostType": (re.sub(r"<Option name=\"BoostType\".*?</Option>", "", GOOD), "BoostType"),
    "missing Variable": (re.sub(r'    <Variable VarIndex="1".*?/>\n', "", GOOD), "NVar"),
    "two roots": (_first(GOOD, "    </BinaryTree>", '      <Node pos="s" depth="0" NCoef="0" IVar="-1" Cut="0" '
                         'cType="1" res="0" rms="0" purity="0.5" nType="-99"/>\n    </BinaryTree>'), "root"),
    "AdaBoost leaf nType": (make_xml(ADA_TREES, boost="AdaBoost").replace('nType="-1"', 'nType="-99"'), "nType=-99"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_xml_is_refused(case, tmp_path):
    text, cause = BAD[case]
    path = _write(tmp_path, text, "model file.xml")
    with pytest.raises(ModelError) as err:
        tmva.read_xml(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg and cause in msg, msg


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        tmva.read_xml(tmp_path / "nope.xml")
    with pytest.raises(ModelError, match="directory"):
        tmva.convert(tmp_path)


# -- conversion cache and CLI --------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "tmva-onnx"


@pytest.fixture
def parse_count(monkeypatch) -> list:
    calls = []
    original = tmva.read_xml

    def counting(path):
        calls.append(Path(path))
        return original(path)

    monkeypatch.setattr(tmva, "read_xml", counting)
    return calls


def test_convert_is_cached_by_sha256(bdt_dir, tmp_path, cache, parse_count):
    src = _xml(bdt_dir, "GGd1_weight1")
    first = tmva.convert(src)
    assert first.parent == cache and first.suffix == ".onnx" and len(parse_count) == 1
    meta = tmva.model_info(first)
    assert first.stem == meta["source_sha256"] and meta["n_trees"] == "800"
    mtime = first.stat().st_mtime_ns

    assert tmva.convert(src) == first and len(parse_count) == 1       # no second parse
    assert first.stat().st_mtime_ns == mtime                           # nor a rewrite
    renamed = shutil.copy(src, tmp_path / "renamed.xml")               # same bytes, other name
    assert tmva.convert(renamed) == first and len(parse_count) == 1

    out = tmp_path / "sub" / "out.onnx"
    assert tmva.convert(src, out) == out and len(parse_count) == 1
    assert out.read_bytes() == first.read_bytes()
    onnx.checker.check_model(onnx.load(str(out)))
    x = np.array([[INPUT_A[v] for v in meta["variables"].split(",")]])
    assert _run(ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]), x) == \
        pytest.approx([REFERENCE["GGd1_weight1"][1]], abs=TOL_REFERENCE)

    first.write_bytes(b"not an onnx model")                            # a corrupt cache entry is redone
    assert tmva.convert(src) == first and len(parse_count) == 2
    onnx.checker.check_model(onnx.load(str(first)))
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary files left

    other = _write(tmp_path, GOOD)                                      # other content, other entry
    assert tmva.convert(other) != first and len(parse_count) == 3
    assert len(list(cache.glob("*.onnx"))) == 2


def test_cli_convert(bdt_dir, tmp_path, cache, capsys):
    src = _xml(bdt_dir, "GGo3_weight2")
    out = tmp_path / "ggo3.onnx"
    assert main(["convert", "tmva", str(src), str(out)]) == 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "800 trees" in lines[0] and "12 variables" in lines[0] and str(out) in lines[0]
    onnx.checker.check_model(onnx.load(str(out)))
    assert tmva.model_info(out)["variables"].split(",")[5:7] == ["jetPt4", "jetPt5"]


def test_cli_convert_bad_file(tmp_path, cache, capsys):
    bad = _write(tmp_path, BAD["truncated"][0], "broken.xml")
    out = tmp_path / "never.onnx"
    assert main(["convert", "tmva", str(bad), str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recast: error: ") and str(bad) in lines[0]
    assert "Traceback" not in captured.err and not out.exists()
    assert main(["convert", "tmva", str(tmp_path / "missing.xml"), str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"recast: error: {tmp_path / 'missing.xml'}: no such file"]


# -- the numba kernel (recast.models.forest) against onnxruntime and TMVA's arithmetic ------------

FLOAT32_ULP_AT_1 = 2.0 ** -24  # half the float32 spacing just below 1: the rounding error of |MVA| < 1


def _with_raw_output(model: onnx.ModelProto) -> ort.InferenceSession:
    """The graph with its tree sum (the TreeEnsembleRegressor's float32 output) exposed too."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    exposed.graph.output.append(onnx.helper.make_tensor_value_info("raw", onnx.TensorProto.FLOAT, ["N", 1]))
    return _session(exposed)


def _tmva_mva(raw: np.ndarray, forest) -> np.ndarray:
    """TMVA's MVA value in double, term for term as MethodBDT writes it (libm's exp, as TMath::Exp)."""
    import math

    if forest.is_grad:
        return np.array([2.0 / (1.0 + math.exp(-2.0 * f)) - 1.0 for f in raw.tolist()])
    norm = float(sum(forest.boost_weight.tolist()))
    return raw / norm if norm > np.finfo(float).eps else np.zeros_like(raw)


@pytest.mark.parametrize("name", BDTS)
def test_kernel_matches_onnx_bit_for_bit(name, converted, tmva_numpy):
    from recast.models import forest as forest_mod

    c = converted[name]
    session = forest_mod.session(c.model)
    assert session is not None and session.arrays.n_trees == 800
    x = _inputs(c.ref, np.random.default_rng(100 + BDTS.index(name)))
    raw = session.arrays.sums(x)
    # the sum over trees in tree order, in double, as TMVA adds it: bit for bit
    per_tree = tmva_numpy.tree_values(c.ref, x)
    assert np.array_equal(raw, np.cumsum(per_tree, axis=1)[:, -1])
    # the same sum as onnxruntime's tree ensemble computes it, rounded to its float32 output: bit for bit
    onnx_score, onnx_raw = _with_raw_output(c.model).run(["score", "raw"], {"features": x})
    assert np.array_equal(raw.astype(np.float32), onnx_raw[:, 0])
    # the score is TMVA's double value rounded once to float32: bit for bit
    (score,) = session.run(["score"], {"features": x})
    assert score.dtype == np.float32 and score.shape == (len(x), 1)
    tmva_double = _tmva_mva(raw, c.forest)
    assert np.array_equal(score[:, 0], tmva_double.astype(np.float32))
    assert np.abs(score[:, 0] - tmva_double).max() <= FLOAT32_ULP_AT_1
    # onnxruntime's float32 Tanh is a few ulp off the same value
    ulps = np.abs(score[:, 0].view(np.int32).astype(np.int64) - onnx_score[:, 0].view(np.int32))
    assert ulps.max() <= 8, f"{name}: the kernel and onnxruntime differ by {ulps.max()} ulp"


def _same_session(a, b) -> bool:
    """Two forest sessions with equal arrays (values and types) and the same settings."""
    import dataclasses

    from recast.models import forest as forest_mod

    return (all(np.array_equal(getattr(a.arrays, f.name), getattr(b.arrays, f.name))
                and getattr(a.arrays, f.name).dtype == getattr(b.arrays, f.name).dtype
                for f in dataclasses.fields(forest_mod.ForestArrays))
            and (a.grad, a.input_name, a.output_name, a.n_variables) == (b.grad, b.input_name, b.output_name,
                                                                         b.n_variables)
            and (a.boost_weight_sum == b.boost_weight_sum or a.grad and b.grad))


@pytest.mark.parametrize("name", BDTS)
def test_kernel_arrays_straight_from_the_weight_file(name, converted):
    """What a run evaluates (the arrays made from the weight file's trees, no graph) is what the
    converted graph reads back into, array for array; and the signature checked against the card
    is the graph's."""
    from recast.models import forest as forest_mod
    from recast.models.runtime import GraphSignature

    c = converted[name]
    direct = forest_mod.from_tmva(c.forest)
    assert direct is not None and direct.arrays.n_trees == 800
    assert _same_session(direct, forest_mod.session(c.model))
    assert direct.boost_weight_sum == float(sum(c.forest.boost_weight.tolist()))
    assert GraphSignature.from_dict(tmva.graph_signature(c.forest)) == GraphSignature.of(c.model)


def test_kernel_by_hand(tmp_path):
    from recast.models import forest as forest_mod

    grad = forest_mod.session(tmva.to_onnx(tmva.read_xml(_write(tmp_path, make_xml(GRAD_TREES, right_first={0})))))
    x = np.array([c[0] for c in GRAD_CASES], np.float32)
    assert grad.arrays.sums(x) == pytest.approx([c[1] for c in GRAD_CASES], abs=1e-15)
    assert grad.scores(x) == pytest.approx(np.tanh([c[1] for c in GRAD_CASES]), abs=1e-7)
    for yes_no in (True, False):
        path = _write(tmp_path, make_xml(ADA_TREES, boost="AdaBoost", yes_no=yes_no, weights=ADA_WEIGHTS,
                                         right_first={1}), f"ada_{yes_no}.xml")
        ada = forest_mod.session(tmva.to_onnx(tmva.read_xml(path)))
        expected = [c[1] if yes_no else c[2] for c in ADA_CASES]
        assert ada.scores(np.array([c[0] for c in ADA_CASES])) == pytest.approx(expected, abs=1e-7)
        assert _same_session(forest_mod.from_tmva(tmva.read_xml(path)), ada)
    zero_forest = tmva.read_xml(_write(tmp_path, make_xml(ADA_TREES, boost="AdaBoost", weights=[0.0, 0.0, 0.0]),
                                       "zero.xml"))
    zero = forest_mod.session(tmva.to_onnx(zero_forest))
    assert zero.scores(np.array([[0.5, 0.5], [3.0, 2.0]])).tolist() == [0.0, 0.0]
    assert _same_session(forest_mod.from_tmva(zero_forest), zero)
    grad_forest = tmva.read_xml(_write(tmp_path, make_xml(GRAD_TREES, right_first={0}), "grad.xml"))
    assert _same_session(forest_mod.from_tmva(grad_forest), grad)
    assert forest_mod.from_tmva(grad_forest).arrays.sums(x) == pytest.approx([c[1] for c in GRAD_CASES], abs=1e-15)


def _chain(n_leaves: int):
    """A tree with ``n_leaves`` leaves: right while x0 >= 0, 1, 2, ...; the k-th left leaf is worth k."""
    spec = leaf(float(n_leaves - 1))
    for k in reversed(range(n_leaves - 1)):
        spec = cut(0, float(k), 1, leaf(float(k)), spec)
    return spec


def test_kernel_leaf_limit(tmp_path):
    """Trees of up to 64 leaves go through the kernel (exit leaf from bit 0 to bit 63); deeper ones
    stay with onnxruntime."""
    from recast.models import forest as forest_mod

    model = tmva.to_onnx(tmva.read_xml(_write(tmp_path, make_xml([_chain(64), _chain(2)], nvar=1), "deep.xml")))
    session = forest_mod.session(model)
    assert session is not None
    x = np.array([[-1.0], [0.0], [10.5], [62.0], [63.0], [1e9], [np.nan]], np.float32)
    expected = np.array([0, 1 + 1, 11 + 1, 63 + 1, 63 + 1, 63 + 1, 0], float)
    assert session.arrays.sums(x).tolist() == expected.tolist()
    assert np.array_equal(session.arrays.sums(x).astype(np.float32), _with_raw_output(model).run(["raw"], {"features": x})[0][:, 0])
    assert _same_session(forest_mod.from_tmva(tmva.read_xml(tmp_path / "deep.xml")), session)
    too_deep_forest = tmva.read_xml(_write(tmp_path, make_xml([_chain(65)], nvar=1), "deeper.xml"))
    assert forest_mod.session(tmva.to_onnx(too_deep_forest)) is None
    assert forest_mod.from_tmva(too_deep_forest) is None


def test_runtime_uses_the_kernel(bdt_dir, cache):
    from recast.models import card as card_mod
    from recast.models import forest as forest_mod
    from recast.models import runtime

    model = runtime.load(card_mod.card(ANALYSIS, "BDT-GGd2"))
    assert all(isinstance(s, forest_mod.ForestSession) for s in model.sessions.values())


def test_kernel_on_models_converted_before_the_weight_sum(tmp_path):
    """Cached conversions made before boost_weight_sum was recorded (same converter version): a
    Grad forest does not need it and runs through the kernel; any other boost type stays with
    onnxruntime rather than normalise with the graph's rounded float32 sum."""
    from recast.models import forest as forest_mod

    def without_sum(model):
        kept = [(p.key, p.value) for p in model.metadata_props if p.key != "boost_weight_sum"]
        del model.metadata_props[:]
        onnx.helper.set_model_props(model, dict(kept))
        return model

    grad = without_sum(tmva.to_onnx(tmva.read_xml(_write(tmp_path, make_xml(GRAD_TREES)))))
    assert forest_mod.session(grad) is not None
    ada = tmva.to_onnx(tmva.read_xml(_write(tmp_path, make_xml(ADA_TREES, boost="AdaBoost", weights=ADA_WEIGHTS),
                                            "ada.xml")))
    assert forest_mod.session(ada).boost_weight_sum == 3.5
    assert forest_mod.session(without_sum(ada)) is None
