"""ATLAS-SUSY-2018-30 event variables on constructed events, computed by hand, and the analysis on
generated events: determinism, chunk independence, option effects."""

from __future__ import annotations

import math

import pytest

from recast import analysis as ana_mod
from recast import engine
from recast.events import HepMCSource

ANA = ana_mod.load("ANA-SUSY-2018-30")


def event_a(b):
    """Zero leptons, five signal jets (+ one below 30 GeV), three b-tags, MET 700 GeV at phi = pi
    (``b``: the conftest fixture ``build``)."""
    return {
        "jets": [b.jet(500, 0.0, 0.0, btag=True), b.jet(400, 0.5, 1.0, btag=True), b.jet(300, -0.5, 2.0, btag=True),
                 b.jet(200, 1.0, -2.0), b.jet(150, -1.0, -1.0), b.jet(25, 2.0, 0.5)],
        "met": 700.0, "met_phi": math.pi,
    }


def event_b(b):
    """An electron 0.1 from a soft non-b jet (jet removed), a muon 0.3 from the leading jet (kept
    by the boosted cone min(0.4, 0.04 + 10/50) = 0.24, removed by a fixed 0.4 cone)."""
    return {
        "jets": [b.jet(400, 0.0, 0.0, btag=True), b.jet(300, 1.0, 1.5, btag=True), b.jet(250, -1.0, -1.5, btag=True),
                 b.jet(200, 2.0, 3.0), b.jet(60, 0.0, 2.5)],
        "electrons": [b.lepton(11, 100, 0.0, 2.6)],
        "muons": [b.lepton(13, 50, 0.0, 0.3)],
        "met": 400.0, "met_phi": -math.pi / 2,
    }


def _mt(pt1, pt2, dphi):
    return math.sqrt(2 * pt1 * pt2 * (1 - math.cos(dphi)))


def test_zero_lepton_event_by_hand(build):
    v = ANA.compute_variables(build.objects([event_a(build)]), ANA.resolve_options())
    assert v["njet"][0] == 5 and v["nb"][0] == 3  # the 25 GeV jet is below the 30 GeV signal threshold
    assert v["meff"][0] == pytest.approx(700 + 500 + 400 + 300 + 200 + 150)
    # |dphi| to MET for the four leading jets: pi, pi-1, pi-2, 2pi-(2+pi) = pi-2
    assert v["dphimin4j"][0] == pytest.approx(math.pi - 2)
    # mT,min over the three b-jets (the third, at dphi = pi - 2, is the smallest)
    assert v["mtbmin"][0] == pytest.approx(min(_mt(500, 700, math.pi), _mt(400, 700, math.pi - 1),
                                               _mt(300, 700, math.pi - 2)))
    # all jets are > 0.8 apart: five single-jet large-R jets, each with pT > 100 and |eta| < 2
    assert v["mjsum"][0] == pytest.approx(50.0)
    assert v["is_0L"][0] and not v["is_1L"][0] and v["mt"][0] == 0
    four = ANA.compute_variables(build.objects([event_a(build)]), ANA.resolve_options({"mj_sum": "leading4"}))
    assert four["mjsum"][0] == pytest.approx(40.0)


def test_one_lepton_event_and_overlap_options(build):
    boosted = ANA.compute_variables(build.objects([event_b(build)]), ANA.resolve_options())
    assert boosted["njet"][0] == 4 and boosted["nb"][0] == 3  # the 60 GeV jet next to the electron is gone
    assert boosted["is_1L"][0] and not boosted["is_0L"][0]
    assert boosted["meff"][0] == pytest.approx(400 + (400 + 300 + 250 + 200) + (100 + 50))
    dphi = 2 * math.pi - (2.6 + math.pi / 2)
    assert boosted["mt"][0] == pytest.approx(_mt(100, 400, dphi))

    fixed = ANA.compute_variables(build.objects([event_b(build)]), ANA.resolve_options({"overlap_removal": "fixed"}))
    assert fixed["meff"][0] == pytest.approx(400 + 1150 + 100)  # the muon is removed by the 0.4 cone
    assert fixed["njet"][0] == 4


def test_zero_lepton_veto_option_and_electron_crack(build):
    event = dict(event_a(build), electrons=[build.lepton(11, 80, 0.8, -2.8, iso=40.0)])  # baseline, not isolated
    base = ANA.compute_variables(build.objects([event]), ANA.resolve_options())
    sig = ANA.compute_variables(build.objects([event]), ANA.resolve_options({"zero_lepton_veto": "signal"}))
    assert not base["is_0L"][0] and not base["is_1L"][0]
    assert sig["is_0L"][0] and not sig["is_1L"][0]

    crack = dict(event_a(build), electrons=[build.lepton(11, 80, 1.45, -2.8)])
    assert ANA.compute_variables(build.objects([crack]), ANA.resolve_options())["is_0L"][0]
    assert ANA.compute_variables(build.objects([crack]), ANA.resolve_options({"electron_crack": "keep"}))["is_1L"][0]


def test_gbb_b_jet_option(build):
    lead = ANA.compute_variables(build.objects([event_a(build)]), ANA.resolve_options())
    fourth = ANA.compute_variables(build.objects([event_a(build)]), ANA.resolve_options({"gbb_b_jet": "fourth"}))
    assert lead["gbb_b_jet_pt"][0] == 500 and fourth["gbb_b_jet_pt"][0] == 200


@pytest.fixture(scope="module")
def runs(gtt_sample):
    _, path, _ = gtt_sample

    def run(chunk, seed=1, **opts):
        return engine.run(ANA, HepMCSource(path, chunk_size=chunk), ANA.resolve_options(opts), seed=seed)

    return run


def _final(counts):
    return {sr: (c[-1].n, c[-1].sumw) for sr, c in counts.cutflows.items()}


def test_generated_events_are_reproducible_and_chunk_independent(runs):
    a, b, c = runs(50), runs(50), runs(17)
    assert _final(a) == _final(b) == _final(c)
    assert a.n_events == 120 and a.sumw == pytest.approx(120.0)
    # a gluino pair at 2.1 TeV decaying to four tops: most events pass the jet multiplicity
    pre = a.cutflows["Gtt-0L-B"]
    assert pre[1].n >= 110 and 40 <= pre[2].n <= 100  # >= 4 jets, then >= 3 b-tags at 77 %
    assert sum(n for n, _ in _final(a).values()) > 0


def test_options_move_yields_the_expected_way(runs):
    default = runs(50)
    rivet = runs(50, btag_mistag="rivet")
    # more mistags can only add b-tags: N_b >= 3 passes at least as often
    assert rivet.cutflows["Gbb-M"][2].n >= default.cutflows["Gbb-M"][2].n
    other_seed = runs(50, seed=2)
    assert _final(other_seed) != _final(default)  # b-tagging draws depend on the seed


def test_cutflows_are_monotonic(runs):
    counts = runs(50)
    for steps in counts.cutflows.values():
        n = [s.n for s in steps]
        assert n == sorted(n, reverse=True)
        assert steps[0].n == counts.n_events
