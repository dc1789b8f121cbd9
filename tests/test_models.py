"""Model cards, loading checks, batched inference and the engine's model stage.

The ATLAS files come through the project's own artifact code from the mirror
(RECAST_DATA_MIRROR, ../shared/hepdata in CI)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml

from recast import analysis as ana_mod
from recast import artifacts, engine
from recast.errors import ModelError
from recast.models import card as card_mod
from recast.models import runtime

ANA = "ANA-SUSY-2018-22"
MIRROR = Path(__file__).resolve().parents[2] / "shared" / "hepdata"


@pytest.fixture(autouse=True)
def mirror(monkeypatch, tmp_path_factory):
    """Artifacts from the mirror; converted models in a per-session cache."""
    if not os.environ.get("RECAST_DATA_MIRROR"):
        monkeypatch.setenv("RECAST_DATA_MIRROR", str(MIRROR))
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


# FACTS section 3.2 (input order) and 3.1 (score thresholds), typed here independently of the cards
FACTS_INPUTS = {
    "GGd1": "met meff Ap jetPt0 jetPt1 jetPt2 jetPt3 jetEta0 jetEta1 jetEta2 jetEta3",
    "GGd2": "meff Ap jetPt0 jetPt1 jetPt2 jetPt3 jetEta0 jetEta1 jetEta2 jetEta3",
    "GGd3": "met meff Ap jetPt0 jetPt1 jetPt2 jetPt3 jetEta0 jetEta1 jetEta2 jetEta3",
    "GGd4": "met meff jetPt0 jetPt1 jetPt2 jetPt3 jetEta0 jetEta1 jetEta2 jetEta3",
    "GGo1": "meff Ap jetPt0 jetPt1 jetPt2 jetPt3 jetPt4 jetEta0 jetEta1 jetEta2 jetEta3 jetEta4",
    "GGo2": "meff Ap jetPt0 jetPt1 jetPt2 jetPt3 jetEta0 jetEta1 jetEta2 jetEta3",
    "GGo3": "meff Ap jetPt0 jetPt1 jetPt2 jetPt4 jetPt5 jetEta0 jetEta1 jetEta2 jetEta4 jetEta5",
    "GGo4": "meff met jetPt0 jetPt1 jetPt2 jetPt3 jetEta0 jetEta1 jetEta2 jetEta3",
}
FACTS_THRESHOLDS = {"GGd1": 0.97, "GGd2": 0.94, "GGd3": 0.94, "GGd4": 0.87, "GGo1": 0.96, "GGo2": 0.87,
                    "GGo3": 0.92, "GGo4": 0.84}


def test_cards_state_the_facts():
    cards = card_mod.cards(ANA)
    assert sorted(cards) == sorted(f"BDT-{k}" for k in FACTS_INPUTS)
    for name, inputs in FACTS_INPUTS.items():
        c = cards[f"BDT-{name}"]
        assert c.input_names == inputs.split()
        assert c.thresholds == {f"BDT-{name}": FACTS_THRESHOLDS[name]}
        assert c.files == {"even": f"ZeroLepton2018-SRBDT-{name}_weight1.xml",
                           "odd": f"ZeroLepton2018-SRBDT-{name}_weight2.xml"}
        assert c.fold_rule == "event-number-parity" and c.format == "tmva-xml"
        pads = {i.name: i.pad for i in c.inputs if i.pad is not None}
        assert pads == ({"jetPt5": 0.0, "jetEta5": -3.0} if name == "GGo3" else {})


def test_every_card_loads_and_reproduces_its_golden_outputs():
    for c in card_mod.cards(ANA).values():
        model = runtime.load(c)
        assert set(model.sessions) == {"even", "odd"}
        # the card's vectors pass; a perturbed expectation must not
        g = c.golden[0]
        got = model.run_fold("even", model.prepare(g.inputs[None, :]))[0, 0]
        assert got == pytest.approx(g.outputs["even"][0], abs=1e-5)


def _card_doc(name: str = "BDT-GGd1") -> dict:
    return yaml.safe_load(card_mod.card(ANA, name).path.read_text())


def _write_card(tmp_path: Path, doc: dict) -> card_mod.ModelCard:
    path = tmp_path / f"{doc['id']}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return card_mod.read(path)


def test_wrong_golden_output_refuses_the_model(tmp_path):
    doc = _card_doc()
    doc["id"] = "BDT-GGd1-bad-golden"
    doc["golden"][0]["outputs"]["odd"] = [0.5]
    with pytest.raises(ModelError, match=r"ZeroLepton2018-SRBDT-GGd1_weight2.*golden vector 'input A'.*refusing"):
        runtime.load(_write_card(tmp_path, doc))


def test_card_that_does_not_fit_the_graph_is_refused(tmp_path):
    doc = _card_doc()
    doc["id"] = "BDT-GGd1-one-input-short"
    doc["inputs"] = doc["inputs"][:-1]
    doc.pop("perturbation")  # it names the dropped input
    for g in doc["golden"]:
        g["inputs"] = g["inputs"][:-1]
    with pytest.raises(ModelError, match="does not fit the card's 10 inputs"):
        runtime.load(_write_card(tmp_path, doc))
    doc = _card_doc()
    doc["id"] = "BDT-GGd1-renamed-input"
    doc["signature"]["input"] = "input_1"
    with pytest.raises(ModelError, match=r"model inputs \['features'\] do not match the card's \['input_1'\]"):
        runtime.load(_write_card(tmp_path, doc))


def test_a_kept_forest_scores_as_the_first_load_and_reads_no_graph(tmp_path, monkeypatch):
    """The forest kernel's arrays kept after the first load (made from the weight file) are read
    back without reading the weight file's trees or any graph, and score the same, bit for bit, on
    inputs around every cut."""

    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(runtime, "_LOADED", {})
    card = card_mod.card(ANA, "BDT-GGo3")
    first = runtime.load(card)
    kept = sorted((tmp_path / "cache" / "tmva-forest").glob("*.npz"))
    assert len(kept) == 2  # one per fold
    monkeypatch.setattr(runtime, "_LOADED", {})

    def not_read(path):
        raise AssertionError(f"read {path}")

    from recast.models import tmva

    monkeypatch.setattr(runtime, "read_onnx", not_read)
    monkeypatch.setattr(tmva, "read_xml", not_read)
    again = runtime.load(card)
    rng = np.random.default_rng(3)
    for fold in ("even", "odd"):
        a, b = first.sessions[fold].arrays, again.sessions[fold].arrays
        cuts = a.threshold[a.feature == 0]
        assert len(cuts) > 100
        x = rng.normal(1.0, 0.5, (4000, len(card.inputs))).astype(np.float32) * np.abs(cuts[:4000, None]).mean()
        x[:len(cuts[:4000]), 0] = cuts[:4000]  # exactly on a cut: the >= side
        assert np.array_equal(first.run_fold(fold, x), again.run_fold(fold, x))
        assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("feature", "threshold", "kill",
                                                                          "node_offsets", "leaf_value", "leaf_offsets"))
    # a kept forest is still checked against the card's signature
    doc = _card_doc("BDT-GGo3")
    doc["id"] = "BDT-GGo3-renamed-input"
    doc["signature"]["input"] = "input_1"
    with pytest.raises(ModelError, match=r"model inputs \['features'\] do not match the card's \['input_1'\]"):
        runtime.load(_write_card(tmp_path, doc))


def test_an_unreadable_or_outdated_kept_forest_is_made_again(tmp_path, monkeypatch):
    from recast.models import forest

    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(runtime, "_LOADED", {})
    card = card_mod.card(ANA, "BDT-GGd1")
    runtime.load(card)
    kept = sorted((tmp_path / "cache" / "tmva-forest").glob("*.npz"))
    good = kept[0].read_bytes()
    kept[0].write_bytes(good[: len(good) // 2])  # truncated
    sources = {fold: runtime._artifact_path(card, a) for fold, a in card.files.items()}
    assert sum(forest.kept(s) is None for s in sources.values()) == 1
    monkeypatch.setattr(runtime, "_LOADED", {})
    model = runtime.load(card)  # converted again, golden outputs reproduced
    assert kept[0].read_bytes() == good
    assert all(forest.kept(s) is not None for s in sources.values())
    # a kept signature that is not one: converted again, not a crash
    session, signature = forest.kept(sources["even"])
    monkeypatch.setattr(forest, "kept", lambda path: (session, {"inputs": ["features"]}))
    monkeypatch.setattr(runtime, "forest_kept", forest.kept)
    monkeypatch.setattr(runtime, "_LOADED", {})
    assert set(runtime.load(card).sessions) == {"even", "odd"}
    monkeypatch.undo()
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(forest, "FOREST_FORMAT", "another")
    assert all(forest.kept(s) is None for s in sources.values())
    assert set(model.sessions) == {"even", "odd"}


def test_bdts_on_onnxruntime_convert_the_weight_file(tmp_path, monkeypatch):
    """Without the forest kernel (``forest_kernel=False``), or for a forest it cannot evaluate, a
    BDT is converted to ONNX (kept in the cache) and run by onnxruntime: the card's golden outputs
    are reproduced, and the scores are the kernel's within a few float32 ulp (onnxruntime's
    float32 Tanh)."""
    from recast.models import forest

    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(runtime, "_LOADED", {})
    card = card_mod.card(ANA, "BDT-GGd3")
    kernel = runtime.load(card)
    onnx_run = runtime.load(card, forest_kernel=False)
    assert all(isinstance(s, forest.ForestSession) for s in kernel.sessions.values())
    assert all(isinstance(s, ort.InferenceSession) for s in onnx_run.sessions.values())
    assert len(list((tmp_path / "cache" / "tmva-onnx").glob("*.onnx"))) == 2
    x = np.random.default_rng(5).normal(0.0, 1.0, (500, len(card.inputs))).astype(np.float32) * 300.0
    for fold in ("even", "odd"):
        a, b = kernel.run_fold(fold, x), onnx_run.run_fold(fold, x)
        assert np.abs(a - b).max() <= 8 * np.finfo(np.float32).eps and not np.array_equal(a, 0 * a)
    # a forest the kernel cannot lay out: onnxruntime, not an error
    monkeypatch.setattr(runtime, "_LOADED", {})
    monkeypatch.setattr(runtime, "forest_kept", lambda path: None)
    monkeypatch.setattr(runtime, "forest_from_tmva", lambda trees: None)
    fallback = runtime.load(card)
    assert all(isinstance(s, ort.InferenceSession) for s in fallback.sessions.values())


def test_a_run_on_bdts_does_not_import_onnx(tmp_path):
    """onnx takes half a second to import and a graph a tenth of a second to make: a process that
    evaluates the BDTs through the forest kernel makes their arrays from the weight files (first
    run) or reads them back (kept), and never imports onnx or writes a graph."""
    import subprocess
    import sys

    env = {**os.environ, "RECAST_CACHE_DIR": str(tmp_path / "cache")}
    code = ("import sys; from recast.models import card, runtime; "
            f"[runtime.load(c) for c in card.cards({ANA!r}).values()]; print('onnx' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), second.stdout.strip()) == ("False", "False")
    assert len(list((tmp_path / "cache" / "tmva-forest").glob("*.npz"))) == 16
    assert not (tmp_path / "cache" / "tmva-onnx").exists()


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("conventions"), "lacks 'conventions'"),
    (lambda d: d["conventions"].pop("phi_range"), "must state 'phi_range'"),
    (lambda d: d.update(format="pickle"), "format 'pickle' is not one of"),
    (lambda d: d["folds"].update(rule="average"), "need a folds.rule"),
    (lambda d: d.update(golden=[]), "at least one golden vector"),
    (lambda d: d["golden"][0].update(inputs=[1.0, 2.0]), "has 2 values for 11 inputs"),
    (lambda d: d["outputs"].update(node=3), "outputs.node 3 outside the 1 output"),
])
def test_malformed_cards_fail_loudly(tmp_path, mutate, message):
    doc = _card_doc()
    mutate(doc)
    with pytest.raises(ModelError, match=message):
        _write_card(tmp_path, doc)


def test_corrupt_onnx_is_refused(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(ModelError, match=r"broken.onnx: not a valid ONNX model"):
        runtime.read_onnx(bad)


def test_nan_features_are_refused_unless_the_card_pads_them():
    ggd1 = runtime.load(card_mod.card(ANA, "BDT-GGd1"))
    x = np.array([[1000, 2000, 0.1, 800, 500, 300, 200, 0.1, 0.2, 0.3, np.nan]])
    with pytest.raises(ModelError, match="BDT-GGd1: input jetEta3 is NaN.*no padding"):
        ggd1.predict(x, np.array([0]))
    ggo3 = runtime.load(card_mod.card(ANA, "BDT-GGo3"))
    row = np.array([[2000, 0.1, 800, 500, 300, 100, np.nan, 0.1, 0.2, 0.3, 0.4, np.nan]])
    prepared = ggo3.prepare(row)
    assert prepared[0, 6] == 0.0 and prepared[0, 11] == -3.0  # the card's padding of the 6th jet
    assert np.isfinite(ggo3.predict(row, np.array([1]))).all()


def test_event_number_parity_picks_the_fold():
    folds = runtime.assign_folds("event-number-parity", np.array([0, 1, 2, 7, 10]))
    assert folds.tolist() == [0, 1, 0, 1, 0]
    rnd = runtime.assign_folds("random", np.arange(4000), seed=3)
    assert 0.45 < rnd.mean() < 0.55 and (rnd == runtime.assign_folds("random", np.arange(4000), seed=3)).all()
    with pytest.raises(ModelError, match="unknown fold rule"):
        runtime.assign_folds("average", np.arange(3))


def test_each_fold_model_scores_its_own_events():
    model = runtime.load(card_mod.card(ANA, "BDT-GGd3"))
    rng = np.random.default_rng(5)
    lo = np.array([i.domain["even"].low for i in model.card.inputs])
    hi = np.array([i.domain["even"].high for i in model.card.inputs])
    x = lo + (hi - lo) * rng.random((500, len(lo)))
    folds = rng.integers(0, 2, 500).astype(np.int8)
    mixed = model.predict(x, folds)
    even = model.run_fold("even", model.prepare(x))
    odd = model.run_fold("odd", model.prepare(x))
    assert np.array_equal(mixed[folds == 0], even[folds == 0]) and np.array_equal(mixed[folds == 1], odd[folds == 1])
    assert not np.allclose(even, odd)  # the two folds are different models


class _CountingSession:
    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def run(self, *args, **kwargs):
        self.calls += 1
        return self.inner.run(*args, **kwargs)


def test_one_call_per_fold_per_chunk():
    model = runtime.load(card_mod.card(ANA, "BDT-GGd1"))
    counting = runtime.LoadedModel(model.card, {k: _CountingSession(s) for k, s in model.sessions.items()},
                                   model.paths)
    x = np.tile(model.card.golden[0].inputs.astype(np.float64), (3000, 1))
    counting.predict(x, np.arange(3000) % 2)
    assert [s.calls for s in counting.sessions.values()] == [1, 1]


# -- fixed batch of one: the ATLAS-SUSY-2019-04 networks ----------------------------------------

NETWORKS = [f"OneLeptonMultiJets2018_{n}jets.onnx" for n in (4, 5, 6, 7, 8)]


@pytest.mark.parametrize("name", NETWORKS)
def test_rewritten_batch_dimension_gives_identical_outputs(name):
    path = artifacts.fetch(artifacts.get("ANA-SUSY-2019-04", name))
    original = onnx.load(str(path))
    assert runtime._batch_is_fixed(original)
    per_event = ort.InferenceSession(original.SerializeToString(), providers=["CPUExecutionProvider"])
    batched = ort.InferenceSession(runtime.make_batchable(original).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    x = np.random.default_rng(7).normal(0, 2, size=(1500, 65)).astype(np.float32)
    one_by_one = np.concatenate([per_event.run(None, {"input.1": x[i:i + 1]})[0] for i in range(len(x))])
    assert np.array_equal(batched.run(None, {"input.1": x})[0], one_by_one)
    golden = json.loads(artifacts.fetch(artifacts.get("ANA-SUSY-2019-04", "golden_outputs.json")).read_text())
    key = name.split("_")[-1].removesuffix(".onnx")
    vectors = np.array([golden["vectors"][v] for v in golden["vectors"]], dtype=np.float32)
    expected = np.array([golden["outputs"][key][v] for v in golden["vectors"]], dtype=np.float64).reshape(len(vectors), -1)
    assert np.allclose(batched.run(None, {"input.1": vectors})[0], expected, atol=1e-6)
    with pytest.raises(Exception):
        per_event.run(None, {"input.1": x[:3]})  # the original graph really refuses a batch


# -- the engine's model stage ---------------------------------------------------------------------


def test_unavailable_model_skips_only_its_regions(monkeypatch, tmp_path):
    monkeypatch.setenv("RECAST_DATA_MIRROR", str(tmp_path / "empty"))
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cold-cache"))
    monkeypatch.setenv("RECAST_OFFLINE", "1")
    runtime._LOADED.clear()
    ana = ana_mod.load(ANA)
    options = ana.resolve_options()
    models = engine.prepare_models(ana, options)
    assert not models.loaded and len(models.unavailable) == 8
    skipped = engine.skipped_regions(ana, options, models)
    assert sorted(skipped) == sorted(f"BDT-{k}" for k in FACTS_INPUTS)
    assert "offline" in skipped["BDT-GGd1"].lower()
    counts = engine.Counts.for_analysis(ana, options, skipped)
    assert "SR4j-1000" in counts.cutflows and "BDT-GGd1" not in counts.cutflows
    runtime._LOADED.clear()


# -- through the command line ---------------------------------------------------------------------


def _mirror_copy(tmp_path: Path, corrupt: str | None = None) -> Path:
    """A private mirror with the ANA-SUSY-2018-22 files, optionally one of them altered."""
    import shutil

    src = Path(os.environ.get("RECAST_DATA_MIRROR", str(MIRROR)).split(os.pathsep)[0]) / ANA
    dst = tmp_path / "mirror" / ANA
    dst.mkdir(parents=True)
    for f in src.glob("ZeroLepton2018-SRBDT-*.xml"):
        shutil.copy(f, dst / f.name)
    if corrupt:
        target = dst / corrupt
        target.chmod(0o644)
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01  # same size: only the checksum can tell
        target.write_bytes(bytes(data))
    return dst.parent


def test_cli_refuses_a_mirror_copy_with_the_wrong_checksum(gtt_sample, tmp_path, monkeypatch, capsys):
    from recast.cli import main

    runtime._LOADED.clear()
    monkeypatch.setenv("RECAST_DATA_MIRROR", str(_mirror_copy(tmp_path, "ZeroLepton2018-SRBDT-GGd3_weight2.xml")))
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    code = main(["run", ANA, "--events", str(gtt_sample[1]), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith("recast: error: ") and "ZeroLepton2018-SRBDT-GGd3_weight2.xml" in err[0]
    assert "sha256" in err[0]
    runtime._LOADED.clear()


def test_cli_runs_without_the_models_and_says_what_it_skipped(gtt_sample, tmp_path, without_models, capsys):
    from recast import results
    from recast.cli import main

    out = tmp_path / "r.json"
    assert main(["run", ANA, "--events", str(gtt_sample[1]), "--max-events", "30", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    skipped = [line for line in printed.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 8 and skipped[0].startswith("skipped BDT-GGd1: model BDT-GGd1 unavailable:")  # one per model
    assert all("RECAST_OFFLINE=1" in line for line in skipped)
    doc = results.read(out)
    assert {s["name"] for s in doc["skipped_signal_regions"]} == {f"BDT-{k}" for k in FACTS_INPUTS}
    assert len(doc["signal_regions"]) == 70 and doc["events"]["n"] == 30
