"""The ATLAS-SUSY-2018-30 network regions, proved with a stand-in network built here (87 -> 8, batch
fixed to 1 like the real file): feature order, standardisation, padding, parameter columns, node
choice, thresholds, the MET-phi option, skipping without the file and running once it is registered.

The stand-in (tests/conftest.py, fixtures ``standin_network`` and ``standin``) is never shipped and
never produces a physics number: the registry entry of the real model is patched (for these tests
only) to accept the stand-in's git blob id."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from recast import analysis as ana_mod
from recast import artifacts, engine
from recast.analyses.atlas_susy_2018_30 import NN_POINTS
from recast.cli import main
from recast.models import runtime

ANA = ana_mod.load("ANA-SUSY-2018-30")
MODEL = "ANA-SUSY-2018-30_model.onnx"

def _config():
    path = artifacts.fetch(artifacts.get(ANA.id, "ANA-SUSY-2018-30_config.json"))
    cfg = json.loads(path.read_text())
    return cfg["branches"], np.array(cfg["normalization"]["mean"]), np.array(cfg["normalization"]["stddev"])


def _events(build):
    jets = [build.jet(900, 0.3, 0.2, m=40, btag=True), build.jet(600, -0.8, 2.5, m=30, btag=True),
            build.jet(400, 1.2, -2.0, m=25, btag=True), build.jet(200, -1.5, -0.7, m=15)]
    soft = [build.jet(120, 0.3, 0.2, btag=True), build.jet(100, -0.8, 2.5, btag=True),
            build.jet(80, 1.2, -2.0, btag=True), build.jet(60, -1.5, -0.7)]
    return [
        {"jets": jets, "met": 1500.0, "met_phi": -2.9},  # 0L, hard: passes Gtt and Gbb
        {"jets": soft, "met": 250.0, "met_phi": 1.0},  # 0L, soft: fails both
        {"jets": jets, "electrons": [build.lepton(11, 200.0, 0.1, 1.1)], "met": 1500.0, "met_phi": -2.9},  # 1L
    ]


def _expected(variables, region: str, weights: np.ndarray) -> np.ndarray:
    """The stand-in's score computed here from the variables, the configuration and its weights."""
    names, mean, std = _config()
    is_gtt, mg, mlsp = NN_POINTS[region][:3]
    fixed = {"isGtt": is_gtt, "mGluino": mg, "mLSP": mlsp}
    raw = np.column_stack([np.full(len(variables["met"]), fixed[n], float) if n in fixed
                           else np.nan_to_num(variables[n], nan=0.0) for n in names])
    z = ((raw - mean) / std) @ weights.astype(np.float64)
    node = 0 if is_gtt else 1
    return 1 / (1 + np.exp(-z[:, node]))


def test_stand_in_scores_follow_order_standardisation_parameters_and_nodes(build, standin):
    opts = ANA.resolve_options()
    objects = build.objects(_events(build))
    models, counts = engine.prepare(ANA, opts)
    assert len(models.loaded) == 8 and not models.unavailable
    v = engine.select(ANA, objects, opts, counts, models)
    assert v["met_phi"][0] == pytest.approx(-2.9 + 2 * math.pi)  # met_phi in [0, 2pi) by default
    for region in ("Gtt-2100-1", "Gtt-1900-1400", "Gbb-2800-1400", "Gbb-2000-1800"):
        score = v["nn_" + region.lower().replace("-", "_")]
        expected = _expected(v, region, standin.weights)
        evaluated = ~np.isnan(score)
        # Gtt: all three events are in the Gtt channel (0L with dphi, or 1L); Gbb: the two 0L events
        assert evaluated.tolist() == ([True, True, True] if region.startswith("Gtt") else [True, True, False])
        np.testing.assert_allclose(score[evaluated], expected[evaluated], rtol=2e-5)
    # thresholds: the hard event passes, the soft one does not
    final = {sr: flow[-1].n for sr, flow in counts.cutflows.items()}
    assert final["Gtt-2100-1"] == 2 and final["Gbb-2800-1400"] == 1  # (0L and 1L) vs (0L only)


def test_absent_objects_are_zero_before_standardisation(build, standin):
    names, mean, std = _config()
    opts = ANA.resolve_options()
    dump = engine.FeatureDump()
    models, counts = engine.prepare(ANA, opts)
    engine.select(ANA, build.objects(_events(build)), opts, counts, models, dump)
    cols = {k: v for c in dump.chunks for k, v in c.items()}
    k = names.index("leptons_pt_1")
    assert cols["nn_gtt_2100_1.input.leptons_pt_1"][0] == pytest.approx((0.0 - mean[k]) / std[k], rel=1e-6)
    k = names.index("small_R_jets_pt_0")
    assert cols["nn_gtt_2100_1.input.small_R_jets_pt_0"][0] == pytest.approx((900 - mean[k]) / std[k], rel=1e-6)


def test_met_phi_option(build, standin):
    opts = ANA.resolve_options({"met_phi_range": "pm-pi"})
    models, counts = engine.prepare(ANA, opts)
    v = engine.select(ANA, build.objects(_events(build)), opts, counts, models)
    assert v["met_phi"][0] == pytest.approx(-2.9)
    np.testing.assert_allclose(v["nn_gtt_2100_1"], _expected(v, "Gtt-2100-1", standin.weights), rtol=2e-5)


def test_cli_skips_the_network_regions_without_the_file_and_runs_them_once_registered(
        gtt_sample, tmp_path, monkeypatch, capsys, standin_network):
    from recast import results

    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RECAST_OFFLINE", "1")
    runtime._LOADED.clear()
    out = tmp_path / "r.json"
    assert main(["run", ANA.id, "--events", str(gtt_sample[1]), "-q", "--out", str(out)]) == 0
    doc = results.read(out)
    assert len(doc["skipped_signal_regions"]) == 8 and len(doc["signal_regions"]) == 14
    assert all("ANA-SUSY-2018-30_model.onnx" in s["reason"] for s in doc["skipped_signal_regions"])

    # a user who has the file registers it; the stand-in plays that file here
    data_dir = tmp_path / "standin"
    data_dir.mkdir()
    data = standin_network.write(data_dir / "mymodel.onnx")
    real_registry = artifacts.registry
    monkeypatch.setattr(artifacts, "registry", lambda a: [
        dataclasses.replace(x, git_blob=artifacts.git_blob_of(data), size=len(data)) if x.id == MODEL else x
        for x in real_registry(a)])
    assert main(["data", "add", str(data_dir / "mymodel.onnx"), "--analysis", ANA.id]) == 0
    assert main(["run", ANA.id, "--events", str(gtt_sample[1]), "-q", "--out", str(out)]) == 0
    doc = results.read(out)
    assert doc["skipped_signal_regions"] == [] and len(doc["signal_regions"]) == 22
    runtime._LOADED.clear()
