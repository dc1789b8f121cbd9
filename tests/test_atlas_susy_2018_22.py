"""ATLAS-SUSY-2018-22: variables by hand on constructed events, signal-region definitions against
FACTS, the multi-bin partition, and the BDT regions on generated events."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from recast import analysis as ana_mod
from recast import engine
from recast.events import PythiaConfig, PythiaSource
from recast.slha import simplified_model

ANA = ana_mod.load("ANA-SUSY-2018-22")
MIRROR = Path(__file__).resolve().parents[2] / "shared" / "hepdata"


def test_event_variables_by_hand(build):
    jets = [build.jet(900, 0.5, 0.0), build.jet(400, -1.0, 2.0), build.jet(300, 2.1, -2.0),
            build.jet(120, 0.2, 1.0), build.jet(60, -0.3, -0.5), build.jet(45, 0.0, 3.0)]  # the 45 GeV jet is no signal jet
    v = ANA.compute_variables(build.objects([{"jets": jets, "met": 600.0, "met_phi": math.pi}]), ANA.resolve_options())
    ht = 900 + 400 + 300 + 120 + 60
    assert v["nj"][0] == 5 and v["is_0L"][0]
    assert v["meff"][0] == pytest.approx(600 + ht)
    assert v["metsig"][0] == pytest.approx(600 / math.sqrt(ht))
    assert v["met_meff4"][0] == pytest.approx(600 / (600 + 900 + 400 + 300 + 120))
    assert v["met_meff6"][0] == pytest.approx(600 / (600 + ht))  # fewer than 6 jets: all of them
    assert v["dphi123"][0] == pytest.approx(min(math.pi, math.pi - 2, math.pi - 2))
    assert v["dphi_rest"][0] == pytest.approx(min(math.pi - 1, math.pi - 0.5))
    assert v["maxeta4"][0] == pytest.approx(2.1) and v["maxeta2"][0] == pytest.approx(1.0)
    assert v["jetPt4"][0] == 60 and math.isnan(v["jetPt5"][0]) and math.isnan(v["jetEta5"][0])
    assert v["pt6"][0] == 0.0
    three = ANA.compute_variables(build.objects([{"jets": jets[:3], "met": 600.0, "met_phi": 0.0}]), ANA.resolve_options())
    assert three["dphi_rest"][0] == math.inf  # no fourth jet: the cut on it passes


def test_overlap_removal_and_lepton_veto(build):
    jets = [build.jet(500, 0.0, 0.0), build.jet(300, 1.0, 2.0), build.jet(100, -1.0, -2.0)]
    # electron 0.1 from the third jet: the jet goes (step 1), the electron stays and vetoes the event
    electron = build.lepton(11, 50, -1.0, -1.9)
    v = ANA.compute_variables(build.objects([{"jets": jets, "electrons": [electron], "met": 400, "met_phi": 0}]),
                              ANA.resolve_options())
    assert v["nj"][0] == 2 and not v["is_0L"][0]
    # a muon 0.3 from a jet is removed by the simple scheme's 0.4 cone, kept by the sliding cone
    muon = build.lepton(13, 100, 0.3, 0.0)  # sliding cone: min(0.4, 0.04 + 10/100) = 0.14
    event = {"jets": jets, "muons": [muon], "met": 400, "met_phi": 0}
    assert ANA.compute_variables(build.objects([event]), ANA.resolve_options())["is_0L"][0]
    assert not ANA.compute_variables(build.objects([event]),
                                     ANA.resolve_options({"overlap_removal": "sliding"}))["is_0L"][0]


# FACTS section 4, typed independently: N_j, pT(j1), pT(jN), |eta|, dphi123, dphi(j>3), Ap, MET/sqrt(HT), meff
FACTS_MEFF = {
    "SR2j-1600": (2, 250, 250, 2.0, 0.8, 0.4, None, 16, 1600),
    "SR2j-2200": (2, 600, 50, 2.8, 0.4, 0.2, None, 16, 2200),
    "SR2j-2800": (2, 250, 250, 1.2, 0.8, 0.4, None, 16, 2800),
    "SR4j-1000": (4, 200, 100, 2.0, 0.4, 0.4, 0.04, 16, 1000),
    "SR4j-2200": (4, 200, 100, 2.0, 0.4, 0.4, 0.04, 16, 2200),
    "SR4j-3400": (4, 200, 100, 2.0, 0.4, 0.4, 0.04, 10, 3400),
    "SR5j-1600": (5, 600, 50, 2.8, 0.4, 0.2, None, 16, 1600),
    "SR6j-1000": (6, 200, 75, 2.0, 0.4, 0.2, 0.08, 16, 1000),
    "SR6j-2200": (6, 200, 75, 2.0, 0.4, 0.2, 0.08, 16, 2200),
    "SR6j-3400": (6, 200, 75, 2.0, 0.4, 0.2, 0.08, 10, 3400),
}


def _terms(region):
    return {(t.variable, t.op): t.value for c in region.cuts for t in c.terms}


@pytest.mark.parametrize("name", sorted(FACTS_MEFF))
def test_meff_regions_match_facts(name):
    nj, pt1, ptn, eta, d123, drest, ap, metsig, meff = FACTS_MEFF[name]
    t = _terms(next(r for r in ANA.signal_regions if r.name == name))
    assert t[("nj", ">=")] == nj and t[("pt1", ">")] == pt1 and t[(f"pt{nj}", ">")] == ptn
    assert t[(f"maxeta{nj}", "<")] == eta and t[("dphi123", ">")] == d123 and t[("dphi_rest", ">")] == drest
    assert t.get(("Ap", ">")) == ap and t[("metsig", ">")] == metsig and t[("meff", ">")] == meff


def test_options_change_the_disputed_cuts():
    sr4j = next(r for r in ANA.regions(ANA.resolve_options({"sr4j_dphi_rest": 0.2})) if r.name == "SR4j-1000")
    assert _terms(sr4j)[("dphi_rest", ">")] == 0.2
    ggo3 = {r.name: r for r in ANA.regions(ANA.resolve_options({"ggo34_meff_jets": 5}))}["BDT-GGo3"]
    assert ("met_meff5", ">") in _terms(ggo3)
    default_ggo3 = {r.name: r for r in ANA.signal_regions}["BDT-GGo3"]
    assert ("met_meff6", ">") in _terms(default_ggo3)
    uses = {u.card: u for u in ANA.model_uses(ANA.resolve_options({"ggo3_sixth_jet": "require-six-jets"}))}
    assert uses["BDT-GGo3"].when == "nj >= 6" and uses["BDT-GGd1"].when == "nj >= 4"
    uses = {u.card: u for u in ANA.model_uses(ANA.resolve_options({"ggo3_sixth_jet": "pad-eta-0"}))}
    assert uses["BDT-GGo3"].pad == (("jetEta5", 0.0),)


def test_every_region_has_published_numbers():
    names = [r.name for r in ANA.signal_regions]
    assert len(names) == 78 and len(set(names)) == 78
    assert set(names) == set(ANA.published)
    assert ANA.published["MB-GGd-4-2200-10"].observed == 57  # the corrected row (FACTS section 5)
    assert ANA.published["MB-GGd-4-2200-16"].observed == 23


def _random_variables(n: int, rng) -> dict[str, np.ndarray]:
    nj = rng.integers(2, 9, n)
    v = {"nj": nj, "meff": rng.uniform(800, 5000, n), "metsig": rng.uniform(5, 40, n), "Ap": rng.uniform(0, 0.2, n),
         "dphi123": rng.uniform(0, 3, n), "dphi_rest": np.where(nj > 3, rng.uniform(0, 3, n), np.inf),
         "maxeta2": rng.uniform(0, 2.8, n), "maxeta4": rng.uniform(0, 2.8, n)}
    pts = np.sort(rng.uniform(50, 1500, (n, 6)), axis=1)[:, ::-1]
    for k in range(6):
        v[f"pt{k + 1}"] = np.where(nj > k, pts[:, k], 0.0)
    v["maxeta4"] = np.maximum(v["maxeta4"], v["maxeta2"])
    return v


@pytest.mark.parametrize("group", ["MB-SSd", "MB-GGd", "MB-C"])
def test_multibin_bins_are_exclusive(group):
    v = _random_variables(200_000, np.random.default_rng(11))
    regions = [r for r in ANA.signal_regions if r.group == group]
    hits = np.zeros(len(v["nj"]), int)
    for r in regions:
        mask = np.ones(len(hits), bool)
        for c in r.cuts:
            mask &= c.evaluate(v)
        hits += mask
    assert hits.max() == 1  # a signal event is counted in at most one bin of a set
    assert hits.sum() > 1000


def test_multibin_ggd_bins_tile_the_plane():
    rng = np.random.default_rng(3)
    v = _random_variables(50_000, rng)
    v.update(nj=np.full(50_000, 5), pt1=np.full(50_000, 900.0), pt4=np.full(50_000, 300.0), maxeta4=np.zeros(50_000),
             dphi123=np.ones(50_000), dphi_rest=np.ones(50_000), Ap=np.full(50_000, 0.1),
             meff=rng.uniform(1000, 6000, 50_000), metsig=rng.uniform(10, 50, 50_000))
    regions = [r for r in ANA.signal_regions if r.group == "MB-GGd"]
    hits = sum(np.logical_and.reduce([c.evaluate(v) for c in r.cuts]) for r in regions)
    assert (hits == 1).all()  # every event passing the MB-GGd selection lands in exactly one bin


@pytest.fixture(scope="module")
def gqq_run(tmp_path_factory):
    """150 gluino -> q qbar neutralino events (2200, 500) through the whole analysis, BDTs included."""
    os.environ.setdefault("RECAST_DATA_MIRROR", str(MIRROR))
    tmp = tmp_path_factory.mktemp("gqq")
    card = tmp / "gqq.slha"
    card.write_text(simplified_model("gqq", 2200, 500))
    dump = engine.FeatureDump()
    counts = engine.run(ANA, PythiaSource(PythiaConfig(slha=card, nevents=150, seed=9), chunk_size=60),
                        seed=9, dump=dump)
    path = tmp / "features.npz"
    dump.write(path)
    return counts, np.load(path)


def test_bdt_scores_on_generated_events(gqq_run):
    counts, dump = gqq_run
    assert counts.n_events == 150 and not counts.skipped
    events = dump["event_number"]
    assert len(events) == 150
    for name, nj in (("ggd1", 4), ("ggo1", 6), ("ggo3", 5)):
        evaluated = dump[f"bdt_{name}.evaluated"]
        score = dump[f"bdt_{name}.score"]
        assert evaluated.sum() > 0 and np.isnan(score[~evaluated]).all()
        assert ((score[evaluated] > -1) & (score[evaluated] < 1)).all()
        assert (dump[f"bdt_{name}.fold"][evaluated] == events[evaluated] % 2).all()  # event-number parity
    # a 2.2 TeV gluino with a 500 GeV LSP is what GGd1/2 were trained for: many events score high
    assert (dump["bdt_ggd1.score"] > 0.97).sum() >= 20
    # 5-jet events enter the GGo3 BDT with the card's padding of the absent 6th jet (pT 0, eta -3)
    five_jets = dump["bdt_ggo3.evaluated"] & (dump["bdt_ggo3.input.jetPt5"] == 0)
    assert five_jets.any()
    assert (dump["bdt_ggo3.input.jetEta5"][five_jets] == -3.0).all()
    # the region's other cuts can only remove events that pass the score cut
    passing = int(((dump["bdt_ggd1.score"] >= 0.97) & dump["bdt_ggd1.evaluated"]).sum())
    assert 0 < counts.cutflows["BDT-GGd1"][-1].n <= passing
