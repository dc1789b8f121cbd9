"""The analysis plugin API: cut parsing, options, registry, published numbers."""

from __future__ import annotations

import numpy as np
import pytest

from recast import analysis as ana_mod
from recast.analysis import Cut, Option
from recast.errors import AnalysisError


def test_cut_terms_and_evaluation():
    v = {"met": np.array([100.0, 600.0, 700.0]), "njet": np.array([9, 8, 10]), "is_0L": np.array([1, 1, 0])}
    assert Cut("MET", "met >= 600").evaluate(v).tolist() == [False, True, True]
    assert Cut("jets+MET", "njet >= 9, met > 600").evaluate(v).tolist() == [False, False, True]
    assert Cut("veto", "is_0L").evaluate(v).tolist() == [True, True, False]
    assert Cut("not", "not is_0L").evaluate(v).tolist() == [False, False, True]
    assert Cut("eq", "njet == 8").evaluate(v).tolist() == [False, True, False]
    assert Cut("neg", "met < -1e3").evaluate(v).tolist() == [False, False, False]
    assert Cut("x", "njet >= 9, met > 600").variables == {"njet", "met"}


@pytest.mark.parametrize("bad", ["met >== 600", "met >= abc", "600 <= met", "met >= 1 or njet", "not met > 3", ""])
def test_malformed_cuts_fail_loudly(bad):
    with pytest.raises(AnalysisError, match="cut"):
        Cut("bad", bad).terms


def test_option_conversion():
    choice = Option("veto", "baseline", "doc", ("baseline", "signal"))
    assert choice.convert("signal") == "signal"
    with pytest.raises(AnalysisError, match="choose one of baseline, signal"):
        choice.convert("loose")
    number = Option("eff", 0.68, "doc", bounds=(0.0, 1.0))
    assert number.convert("0.675") == pytest.approx(0.675)
    with pytest.raises(AnalysisError, match="must be a number"):
        number.convert("high")
    with pytest.raises(AnalysisError, match=r"must lie in \[0, 1\]"):
        number.convert("7")


def test_registry_aliases_and_suggestions():
    assert "ANA-SUSY-2018-30" in ana_mod.available()
    for name in ("ANA-SUSY-2018-30", "ATLAS-SUSY-2018-30", "atlas_susy_2018_30", "2211.08028"):
        assert ana_mod.load(name).id == "ANA-SUSY-2018-30"
    with pytest.raises(AnalysisError, match="did you mean ANA-SUSY-2018-30"):
        ana_mod.load("ANA-SUSY-2018-31")


def test_unknown_option_is_refused_with_hint():
    ana = ana_mod.load("ANA-SUSY-2018-30")
    with pytest.raises(AnalysisError, match="did you mean 'mj_sum'"):
        ana.resolve_options({"mjsum": "all"})
    opts = ana.resolve_options({"zero_lepton_veto": "signal", "btag_overflow_eff": "0.675"})
    assert opts["zero_lepton_veto"] == "signal" and opts["btag_overflow_eff"] == 0.675
    assert ana.resolve_options()["overlap_removal"] == "boosted"


# FACTS.md section 4, typed here independently of the analysis module:
# SR: (channel, N_jet, N_b, MET, m_eff, mT, mT,min(b), M_J^Sum, pT(jet))
FACTS_SR = {
    "Gtt-0L-B": ("0L", 5, 3, 600, 2900, None, 120, 300, None),
    "Gtt-0L-M1": ("0L", 9, 3, 600, 1700, None, 120, 300, None),
    "Gtt-0L-M2": ("0L", 10, 3, 500, 1100, None, 120, 200, None),
    "Gtt-0L-C": ("0L", 10, 4, 400, 800, None, 180, 100, None),
    "Gtt-1L-B": ("1L", 4, 3, 600, 2300, 150, 120, 200, None),
    "Gtt-1L-M1": ("1L", 5, 3, 600, 2000, 200, 120, 200, None),
    "Gtt-1L-M2": ("1L", 8, 3, 500, 1100, 200, 120, 100, None),
    "Gtt-1L-C": ("1L", 9, 3, 300, 800, 150, 120, None, None),
    "Gbb-B": ("0L", 4, 3, 550, 2600, None, 130, None, 65),
    "Gbb-M": ("0L", 4, 3, 550, 2000, None, 130, None, None),
    "Gbb-C": ("0L", 4, 3, 550, 1600, None, 130, None, None),
    "Gtb-B": ("0L", 4, 3, 550, 2500, None, 130, 200, None),
    "Gtb-M": ("0L", 6, 4, 550, 2000, None, 130, 200, None),
    "Gtb-C": ("0L", 7, 4, 500, 1300, None, 130, 50, None),
}


def _thresholds(cuts) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in cuts:
        for t in c.terms:
            if t.op == ">=":
                out[t.variable] = max(out.get(t.variable, -np.inf), t.value)
            elif t.op is None:
                out[t.variable] = 1.0
    return out


@pytest.mark.parametrize("name", sorted(FACTS_SR))
def test_2018_30_signal_regions_match_facts(name):
    ana = ana_mod.load("ANA-SUSY-2018-30")
    sr = next(s for s in ana.signal_regions if s.name == name)
    th = _thresholds(ana.preselection + sr.cuts)
    channel, njet, nb, met, meff, mt, mtb, mj, jetpt = FACTS_SR[name]
    assert th["njet"] == njet and th["nb"] == nb and th["met"] == met and th["meff"] == meff
    assert th["mtbmin"] == mtb
    assert th.get("mt") == mt
    assert th.get("mjsum") == mj
    assert th.get("gbb_b_jet_pt") == jetpt
    if channel == "0L":
        assert th["is_0L"] == 1 and th["dphimin4j"] == 0.4 and "is_1L" not in th
    else:
        assert th["is_1L"] == 1 and "is_0L" not in th and "dphimin4j" not in th


def test_2018_30_preselection_and_published_numbers():
    ana = ana_mod.load("ANA-SUSY-2018-30")
    assert _thresholds(ana.preselection) == {"njet": 4, "nb": 3, "met": 200}
    assert ana.luminosity_ifb == 139.0 and ana.sqrt_s_tev == 13.0
    pub = ana.published
    assert len(ana.signal_regions) == 22 and set(FACTS_SR) <= set(pub) and set(pub) == {r.name for r in ana.signal_regions}
    assert (pub["Gtt-0L-B"].observed, pub["Gtt-0L-B"].background, pub["Gtt-0L-B"].background_err) == (3, 0.81, 0.32)
    assert (pub["Gbb-C"].observed, pub["Gbb-C"].s95_expected) == (32, 19)
    assert pub["Gtt-2100-1"].s95_observed == 3.1
    assert all("2211.08028" in p.source for p in pub.values())


# FACTS section 5.2, typed independently: region -> (node read, threshold, Gbb dphimin(4j) cut)
FACTS_NN = {"Gtt-2100-1": (0, 0.9997, None), "Gtt-1800-1": (0, 0.9997, None), "Gtt-2300-1200": (0, 0.9993, None),
            "Gtt-1900-1400": (0, 0.9987, None), "Gbb-2800-1400": (1, 0.999, 0.6), "Gbb-2300-1000": (1, 0.9994, 0.6),
            "Gbb-2100-1600": (1, 0.9993, 0.4), "Gbb-2000-1800": (1, 0.997, 0.4)}


@pytest.mark.parametrize("name", sorted(FACTS_NN))
def test_2018_30_network_regions_match_facts(name):
    ana = ana_mod.load("ANA-SUSY-2018-30")
    node, threshold, dphi = FACTS_NN[name]
    region = next(s for s in ana.signal_regions if s.name == name)
    terms = {(t.variable, t.op): t.value for c in region.cuts for t in c.terms}
    score = "nn_" + name.lower().replace("-", "_")
    assert terms[(score, ">")] == threshold
    use = next(u for u in ana.model_uses(ana.resolve_options()) if u.score == score)
    mg, mlsp = (int(x) for x in name.split("-")[1:])
    assert use.node == node and dict(use.fixed) == {"isGtt": int(node == 0), "mGluino": mg, "mLSP": mlsp}
    if dphi is None:
        assert ("nn_gtt_channel", None) in terms
    else:
        assert terms[("n_baseline", "==")] == 0 and terms[("dphimin4j", ">=")] == dphi


def test_score_cuts_carry_their_threshold_and_the_card_must_agree():
    import dataclasses

    from recast import analysis as ana_mod
    from recast import engine
    from recast.analysis import ScoreCut, SignalRegion
    from recast.errors import AnalysisError
    from recast.models.card import card

    cut = ScoreCut("BDT score", score="bdt_ggd1", threshold=0.97, op=">=")
    assert cut.condition == "bdt_ggd1 >= 0.97" and cut.variables == {"bdt_ggd1"}
    assert list(cut.evaluate({"bdt_ggd1": np.array([0.96, 0.97, 0.99])})) == [False, True, True]
    with pytest.raises(AnalysisError, match="needs a score variable"):
        ScoreCut("x", score="s", threshold=0.5, op="=>")
    ana = ana_mod.load("ANA-SUSY-2018-22")
    opts = ana.resolve_options()
    regions = {sr.name: sr for sr in ana.signal_regions}
    assert regions["BDT-GGd1"].score_cut == cut and regions["SR4j-3400"].score_cut is None
    cards = {u.score: card(ana.id, u.card) for u in ana.model_uses(opts)}
    engine.check_thresholds(ana, opts, cards)  # the region table and the cards agree
    moved = SignalRegion("BDT-GGd1", regions["BDT-GGd1"].cuts[:-1] + (dataclasses.replace(cut, threshold=0.96),),
                         regions["BDT-GGd1"].group)
    changed = dataclasses.replace(ana, signal_regions=tuple(moved if sr.name == "BDT-GGd1" else sr
                                                            for sr in ana.signal_regions), regions_for=None)
    with pytest.raises(AnalysisError, match=r"BDT-GGd1: the region cuts bdt_ggd1 at 0.96, the model card BDT-GGd1 .* "
                                            r"states 0.97"):
        engine.check_thresholds(changed, opts, cards)
