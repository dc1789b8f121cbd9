"""ATLAS-SUSY-2019-04: signal regions against FACTS, channels and overlap removal on constructed events,
the network inputs by hand, and the networks on generated events (feature sanity, batched = per event)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from recast import analysis as ana_mod
from recast import artifacts, engine
from recast.events import PythiaConfig, PythiaSource
from recast.models import runtime
from recast.models.card import card as get_card
from recast.slha import edited

ANA = ana_mod.load("ANA-SUSY-2019-04")
MIRROR = Path(__file__).resolve().parents[2] / "shared" / "hepdata"


@pytest.fixture(autouse=True, scope="module")
def mirror():
    os.environ.setdefault("RECAST_DATA_MIRROR", str(MIRROR))


# FACTS section 3, typed independently: name -> (channel, jets, pT threshold, exact?, b requirement)
FACTS_SR = {
    "1l-15j20-0b": ("is_1L", 15, 20, "0b"), "1l-15j20-3b": ("is_1L", 15, 20, "3b"),
    "1l-12j40-0b": ("is_1L", 12, 40, "0b"), "1l-12j40-3b": ("is_1L", 12, 40, "3b"),
    "1l-11j60-0b": ("is_1L", 11, 60, "0b"), "1l-11j60-3b": ("is_1L", 11, 60, "3b"),
    "1l-10j80-0b": ("is_1L", 10, 80, "0b"), "1l-10j80-3b": ("is_1L", 10, 80, "3b"),
    "1l-8j100-0b": ("is_1L", 8, 100, "0b"), "1l-8j100-3b": ("is_1L", 8, 100, "3b"),
    "2l-10j20-0b": ("is_2LSS", 10, 20, "0b"), "2l-10j20-3b": ("is_2LSS", 10, 20, "3b"),
    "2l-8j40-0b": ("is_2LSS", 8, 40, "0b"), "2l-8j40-3b": ("is_2LSS", 8, 40, "3b"),
    "2l-7j60-0b": ("is_2LSS", 7, 60, "0b"), "2l-7j60-3b": ("is_2LSS", 7, 60, "3b"),
    "2l-7j80-0b": ("is_2LSS", 7, 80, "0b"), "2l-7j80-3b": ("is_2LSS", 7, 80, "3b"),
    "2l-6j100-0b": ("is_2LSS", 6, 100, "0b"), "2l-6j100-3b": ("is_2LSS", 6, 100, "3b"),
}
NN_CUTS = {4: 0.73, 5: 0.76, 6: 0.77, 7: 0.72, 8: 0.73}


def _terms(region):
    return {(t.variable, t.op): t.value for c in region.cuts for t in c.terms}


@pytest.mark.parametrize("name", sorted(FACTS_SR))
def test_counting_regions_match_facts(name):
    channel, n, t, b = FACTS_SR[name]
    terms = _terms(next(r for r in ANA.signal_regions if r.name == name))
    assert terms[(channel, None)] is None and terms[(f"nj{t}", ">=")] == n
    assert terms[(f"nb{t}", "==" if b == "0b" else ">=")] == (0 if b == "0b" else 3)


def test_network_and_ew_regions_match_facts():
    regions = {r.name: r for r in ANA.signal_regions}
    assert len(regions) == 26 and set(ANA.published) == set(regions) - {"1l-NN-4j", "1l-NN-5j", "1l-NN-7j", "1l-NN-8j"}
    for n, cut in NN_CUTS.items():
        t = _terms(regions[f"1l-NN-{n}j"])
        assert t[("nj20", "==")] == n and t[("nb20", ">=")] == 4 and t[(f"nn_{n}j", ">")] == cut
        assert get_card(ANA.id, f"NN-{n}j").thresholds == {f"NN-{n}j": cut}
    ew = _terms(regions["2l-6j20-3b-mlj"])
    assert ew[("nj20", "==")] == 6 and ew[("nb20", ">=")] == 3 and ew[("m_lj", "<")] == 155
    assert ANA.published["1l-NN-6j"].observed == 126 and ANA.published["1l-NN-6j"].background == 145


def test_disputed_jet_counts_are_options():
    regions = {r.name: r for r in ANA.regions(ANA.resolve_options({"jets_60_1l": 12, "jets_80_2l": 6}))}
    assert _terms(regions["1l-11j60-0b"])[("nj60", ">=")] == 12
    assert _terms(regions["2l-7j80-3b"])[("nj80", ">=")] == 6


def _event(build, jets, leptons=(), met=200.0, met_phi=0.5):
    electrons = [build.lepton(pid, pt, eta, phi) for pid, pt, eta, phi in leptons if abs(pid) == 11]
    muons = [build.lepton(pid, pt, eta, phi) for pid, pt, eta, phi in leptons if abs(pid) == 13]
    return {"jets": jets, "electrons": electrons, "muons": muons, "met": met, "met_phi": met_phi}


def test_channels(build):
    jets = [build.jet(100, 0.0, 2.0), build.jet(90, 1.0, -2.0), build.jet(80, -1.0, 1.0), build.jet(70, 0.5, -1.0)]
    # two same-charge electrons: m_ee by construction near the Z (vetoed) and far from it
    z_pair = [(11, 45.6, 0.0, 0.0), (11, 45.6, 0.0, math.pi)]  # back to back: m = 91.2
    far_pair = [(11, 100.0, 0.0, 0.0), (11, 100.0, 0.0, math.pi)]  # m = 200
    muon_pair = [(13, 45.6, 0.0, 0.0), (13, 45.6, 0.0, math.pi)]
    opposite = [(11, 45.6, 0.0, 0.0), (-11, 45.6, 0.0, math.pi)]
    three = [(13, 60.0, 0.0, 0.0), (13, 50.0, 1.0, math.pi), (-11, 40.0, -1.0, 1.0)]
    events = [_event(build, jets, p) for p in (z_pair, far_pair, muon_pair, opposite, three)]
    v = ANA.compute_variables(build.objects(events), ANA.resolve_options())
    assert v["is_2LSS"].tolist() == [False, True, True, False, False]
    assert v["is_1L"].tolist() == [True, False, False, True, True]
    off = ANA.compute_variables(build.objects(events), ANA.resolve_options({"ee_z_veto": "off"}))
    assert off["is_2LSS"].tolist() == [True, True, True, False, False]


def test_jet_and_b_counting_per_threshold(build):
    pts = [25, 45, 65, 85, 105, 125]
    jets = [build.jet(pt, 0.3 * i - 1.0, 1.0 * i - 2.5, btag=pt in (45, 105, 125)) for i, pt in enumerate(pts)]
    v = ANA.compute_variables(build.objects([_event(build, jets, [(13, 50.0, 2.0, 3.0)])]), ANA.resolve_options())
    assert [v[f"nj{t}"][0] for t in (20, 40, 60, 80, 100)] == [6, 5, 4, 3, 2]
    assert [v[f"nb{t}"][0] for t in (20, 40, 60, 80, 100)] == [3, 3, 2, 2, 2]


def test_overlap_removal_options(build):
    # a non-b jet with many tracks 0.3 from a harder muon: removed by the pT condition only
    jets = [build.jet(300, 0.0, 0.0), build.jet(200, 1.0, 2.0), build.jet(150, -1.0, -2.0), build.jet(60, 0.3, 0.0, ntrk=12)]
    muon = [(13, 80.0, 0.6, 0.0)]  # 0.3 in eta from the 60 GeV jet, 0.6 from the leading one; 80 > 0.5 x 60
    event = _event(build, jets, muon, met=300, met_phi=2.5)
    both = ANA.compute_variables(build.objects([event]), ANA.resolve_options())
    tracks = ANA.compute_variables(build.objects([event]), ANA.resolve_options({"or_muon_jet": "tracks"}))
    assert both["nj20"][0] == 3 and tracks["nj20"][0] == 4
    # the muon is 0.3 from the jet kept under "tracks": the boosted cone min(0.4, 0.04 + 10/80) = 0.165 keeps
    # it; a fixed 0.4 cone removes it
    assert tracks["n_lep"][0] == 1
    fixed = ANA.compute_variables(build.objects([event]), ANA.resolve_options({"or_muon_jet": "tracks",
                                                                             "or_lepton_cone": "fixed"}))
    assert fixed["n_lep"][0] == 0


def test_network_inputs_by_hand(build):
    jets = [build.jet(400, 0.5, 0.3, m=20, btag=True), build.jet(300, -1.0, 1.3, m=15, btag=True),
            build.jet(200, 1.5, -2.0, m=12, btag=True), build.jet(150, -0.2, 2.8, m=10, btag=True),
            build.jet(90, 2.0, -0.8, m=8)]
    event = _event(build, jets, [(-11, 120.0, 0.1, -1.0)], met=250.0, met_phi=3.0)
    for encoding, untagged in (("5/1/0", 1.0), ("5/-0.5/0", -0.5)):
        v = ANA.compute_variables(build.objects([event]), ANA.resolve_options({"btag_encoding": encoding}))
        model = runtime.LoadedModel(get_card(ANA.id, "NN-5j"), {}, {})
        raw = np.column_stack([v[name] for name in model.card.input_names])
        x = dict(zip(model.card.input_names, model.prepare(raw)[0].astype(float)))
        assert (x["n_jet"], x["n_bcat"], x["n_bjet"]) == (5, 3, 4)
        assert x["ht_jet"] == pytest.approx((400 + 300 + 200 + 150 + 90) / 100, rel=1e-6)
        assert x["ht_bjet"] == pytest.approx(10.5, rel=1e-6)
        assert x["met"] == pytest.approx(2.5) and x["met_phi"] == pytest.approx(3.0)
        assert x["jet_pt_0"] == pytest.approx(4.0) and x["jet_eta_1"] == pytest.approx(-1.0)
        assert x["jet_phi_3"] == pytest.approx(2.8, abs=1e-6)
        assert x["jet_e_2"] == pytest.approx(math.sqrt((200 * math.cosh(1.5)) ** 2 + 12**2) / 100, rel=1e-6)
        assert [x[f"jet_btag_bin_{k}"] for k in range(6)] == [5, 5, 5, 5, untagged, 0]
        for k in range(5, 10):  # absent jets: the card's padding, in network units
            assert (x[f"jet_pt_{k}"], x[f"jet_eta_{k}"], x[f"jet_phi_{k}"]) == pytest.approx((1e-7, -5, -5))
            assert x[f"jet_e_{k}"] == pytest.approx(1e-7)
        assert x["lepton_pt"] == pytest.approx(1.2) and x["lepton_phi"] == pytest.approx(-1.0, abs=1e-6)
        assert x["lepton_e"] == pytest.approx(120 * math.cosh(0.1) / 100, rel=1e-5)
        dr = min(math.hypot(0.1 - j["eta"], (-1.0 - j["phi"] + math.pi) % (2 * math.pi) - math.pi) for j in jets)
        assert x["minDeltaRlj"] == pytest.approx(dr, rel=1e-6)


def test_bad_inputs_pad_truncate_or_skip(build):
    many = [build.jet(500 - 30 * i, 0.2 * i - 1.0, 0.55 * i - 3.0, btag=i < 4) for i in range(12)]
    four = many[:4]
    no_lepton = _event(build, many[:6], [])
    events = [_event(build, many, [(13, 90.0, 2.2, 0.0)]), _event(build, four, [(13, 90.0, 2.2, 0.0)]), no_lepton]
    opts = ANA.resolve_options({"nn_8jet_events": "at-least-8"})
    objects = build.objects(events)
    models, counts = engine.prepare(ANA, opts)
    v = engine.select(ANA, objects, opts, counts, models)
    # 12 jets: scored by the 8-jet network through its 8 leading jets (slots 8, 9 padded)
    assert v["n_jet"][0] == 8 and np.isnan(v["jet_pt_8"][0]) and np.isfinite(v["nn_8j"][0])
    # 4 jets: slots 4..9 padded, no index error, scored by the 4-jet network only
    assert np.isfinite(v["nn_4j"][1]) and np.isnan(v["nn_5j"][1])
    # no lepton: no lepton-channel network scores the event
    assert all(np.isnan(v[f"nn_{n}j"][2]) for n in NN_CUTS)


HIGGSINO = {"masses": {1000022: 250.0, 1000023: -250.0, 1000024: 250.0, 1000025: 2e5, 1000035: 2e5, 1000037: 2e5},
            "blocks": {"NMIX": [[1, 3, 0.70710678], [1, 4, -0.70710678], [2, 3, 0.70710678], [2, 4, 0.70710678],
                                [3, 1, 1.0], [4, 2, 1.0]],
                       "UMIX": [[1, 2, 1.0], [2, 1, 1.0]], "VMIX": [[1, 2, 1.0], [2, 1, 1.0]]}}


@pytest.fixture(scope="module")
def higgsino_dump(tmp_path_factory):
    """800 pure-higgsino (250 GeV) events -> tbs/sbb through the analysis, with the network inputs dumped."""
    text = artifacts.fetch(artifacts.get(ANA.id, "param_card.higgsino.slha")).read_text()
    path = tmp_path_factory.mktemp("hino") / "higgsino.slha"
    path.write_text(edited("BLOCK MODSEL\n    1   0\n" + text, **HIGGSINO))
    dump = engine.FeatureDump()
    counts = engine.run(ANA, PythiaSource(PythiaConfig(slha=path, process="light-electroweakinos", nevents=800,
                                                       seed=5), chunk_size=400), seed=5, dump=dump)
    out = tmp_path_factory.getbasetemp() / "hino.npz"
    dump.write(out)
    return counts, dict(np.load(out))


def test_network_inputs_are_plausible_on_generated_events(higgsino_dump):
    _, d = higgsino_dump
    for n in NN_CUTS:
        rows = d[f"nn_{n}j.evaluated"]
        assert rows.sum() >= 3, f"too few {n}-jet events to check"

        def col(name):
            return d[f"nn_{n}j.input.{name}"][rows]

        assert (col("n_jet") == n).all() and set(np.unique(col("n_bcat"))) <= {0, 1, 2, 3}
        passing_70 = np.zeros(rows.sum(), int)
        for k in range(10):
            present = k < n
            pt, eta, phi, e, btag = (col(f"jet_{f}_{k}") for f in ("pt", "eta", "phi", "e", "btag_bin"))
            if present:  # 100 GeV units: a jet of 20 GeV to 3 TeV
                assert ((pt > 0.2) & (pt < 30) & (e >= pt) & (np.abs(eta) < 2.5)).all()
                assert ((phi > -math.pi) & (phi <= math.pi)).all() and set(np.unique(btag)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
                passing_70 += btag >= 4
            else:  # padding, and only padding, where there is no jet
                assert (pt == np.float32(1e-7)).all() and (eta == -5).all() and (phi == -5).all() and (btag == 0).all()
        assert ((col("lepton_pt") > 0.27) & (col("lepton_pt") < 30)).all()
        # the b-jets the analysis counts (70 %) are exactly the jets in bins 4 and 5
        np.testing.assert_array_equal(col("n_bcat"), np.minimum(passing_70 - 1, 3))
        assert ((col("met") > 0) & (col("met") < 50)).all() and ((col("ht_jet") >= col("jet_pt_0"))).all()
        assert ((col("minmax_mass") > 0) & (col("minmax_mass") < col("ht_jet") * 2)).all()
        assert ((col("minDeltaRlj") > 0) & (col("minDeltaRlj") < 7)).all()
        score = d[f"nn_{n}j.score"][rows]
        assert ((score > 0) & (score < 1)).all()


def test_batched_scores_equal_per_event_on_real_features(higgsino_dump):
    _, d = higgsino_dump
    for n in (5, 6, 7):
        rows = d[f"nn_{n}j.evaluated"]
        c = get_card(ANA.id, f"NN-{n}j")
        x = np.column_stack([d[f"nn_{n}j.input.{name}"][rows] for name in c.input_names]).astype(np.float32)
        path = artifacts.fetch(artifacts.get(ANA.id, c.files["all"]))
        one = ort.InferenceSession(onnx.load(str(path)).SerializeToString(), providers=["CPUExecutionProvider"])
        per_event = np.array([one.run(None, {"input.1": x[i:i + 1]})[0][0, 0] for i in range(len(x))])
        assert np.array_equal(per_event.astype(np.float32), d[f"nn_{n}j.score"][rows].astype(np.float32))


def test_score_histograms_are_filled(higgsino_dump):
    counts, d = higgsino_dump
    for n in NN_CUTS:
        name = next(h for h in counts.histograms if h.startswith(f"NN-{n}j"))
        in_sr = counts.cutflows[f"1l-NN-{n}j"][-1].n
        assert counts.histograms[name]["n"][-1] == in_sr  # the last bin is the signal region
        assert counts.histograms[name]["n"].sum() == counts.cutflows[f"1l-NN-{n}j"][-2].n  # >= 4 b, any score


def test_the_8jet_score_histogram_follows_the_8jet_option():
    """The NN-8j score histogram selects the events its region selects (issue 13: it cut nj20 == 8
    whatever nn_8jet_events said)."""
    for choice, jets in (("exactly-8", "nj20 == 8"), ("at-least-8", "nj20 >= 8")):
        opts = ANA.resolve_options({"nn_8jet_events": choice})
        hist = {h.name: h for h in ANA.histograms_for(opts)}["NN-8j score (1l, 8 jets, >= 4 b)"]
        region = {sr.name: sr for sr in ANA.regions(opts)}["1l-NN-8j"]
        assert [c.condition for c in hist.cuts] == ["is_1L", jets, "nb20 >= 4"]
        assert [c.condition for c in hist.cuts] == [c.condition for c in region.cuts if c is not region.score_cut]
        assert hist.edges == (0.0, 0.25, 0.5, 0.73, 1.0) and hist.variable == "nn_8j"
