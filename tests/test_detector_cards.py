"""Content of the detector cards (issue 14): the card format, and the physics every number carries.

The cards are read by the engine's loader (``recast.detector.card.load``: format, ranges, nesting; its
refusals are tested in test_detector_card.py); the assertions below are about the numbers.
Sources and choices: data/detectors/README.md.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from recast.analyses import atlas_susy_2018_30, atlas_susy_2019_04

from recast.detector.card import load
from recast.detector.functions import parse

ROOT = Path(__file__).resolve().parents[1]
ATLAS = ROOT / "data" / "detectors" / "atlas-run2.yaml"
CMS_LIKE = Path(__file__).parent / "data" / "cms-like.yaml"

FLAVOURS = ("b", "c", "tau", "light")
LEPTON_POINTS = ("Loose", "Medium", "Tight")
PT_GRID = np.geomspace(1.0, 5000.0, 300)


def _function(spec: dict, where: str = ""):
    """A card function as f(pt, eta) -> array (the engine's parser; energy from pt and eta)."""
    fn = parse(spec)
    return lambda pt, eta: fn(pt, eta, np.asarray(pt) * np.cosh(eta))


def _grid(eta_max: float):
    pt, eta = np.meshgrid(PT_GRID, np.linspace(-eta_max, eta_max, 41))
    return pt.ravel(), eta.ravel()


def _binned(x, edges, values, overflow):
    """An independent lookup of a 1-d table (the reference the card's electron table is checked against)."""
    edges, values = np.asarray(edges, float), np.asarray(values, float)
    index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(values) - 1)
    return np.where(x >= edges[-1], overflow, values[index])


def _read_card(path: Path) -> dict:
    """The card through the engine's loader (which checks the format, the ranges and the nesting),
    then as parsed YAML for the content checks."""
    load(path)
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def atlas() -> dict:
    return _read_card(ATLAS)


def _eval(spec: dict, pt, eta=0.0) -> np.ndarray:
    pt = np.atleast_1d(np.asarray(pt, float))
    return _function(spec, "test")(pt, np.full_like(pt, eta))


def _btag(card: dict, wp: str, flavour: str) -> dict:
    return card["btagging"]["working_points"][wp][flavour]


def test_both_cards_follow_the_format(atlas):
    assert atlas["name"] == "atlas-run2"
    assert _read_card(CMS_LIKE)["name"] == "cms-like"


# ---------------------------------------------------------------------------------------------
# b-tagging: ATL-PHYS-PUB-2016-012 MV2c10
# ---------------------------------------------------------------------------------------------

NOMINAL_B = {"MV2c10-60": 0.60, "MV2c10-70": 0.70, "MV2c10-77": 0.77, "MV2c10-85": 0.85}
# The note's rejections (1 / mistag rate) per working point: c, tau, light.
REJECTIONS = {"MV2c10-60": (34, 184, 1538), "MV2c10-70": (12, 55, 381),
              "MV2c10-77": (6, 22, 134), "MV2c10-85": (3.1, 8.2, 33)}
# The note's fig. 12 as Rivet JET_BTAG_MV2C10_77_2016 transcribes it (overflow: Rivet's extrapolation).
RIVET_77_EDGES = (0, 30, 40, 50, 60, 75, 90, 105, 150, 200, 500)
RIVET_77 = (0.63, 0.705, 0.74, 0.76, 0.775, 0.785, 0.795, 0.80, 0.79, 0.75)
RIVET_77_OVERFLOW = 0.68
# b-labelled truth jets (pT > 20 GeV, |eta| < 2.5) of Pythia 8.317 ttbar at 13 TeV (gg/qqbar -> ttbar,
# 10000 events, seed 1, recast ObjectConfig(jet_radius=0.4, jet_pt_min=20), cone labelling), counted in
# the bins of RIVET_77_EDGES (the first bin is 20-30 GeV) plus the overflow above 500 GeV: the note
# defines its working points on ttbar b jets with pT > 20 GeV and |eta| < 2.5.
TTBAR_B_JETS = (1594, 1871, 1932, 1901, 2416, 1927, 1345, 2189, 716, 389, 14)


def _ttbar_average(spec: dict) -> float:
    """Efficiency averaged over the ttbar b-jet spectrum (exact: the tables are constant per bin)."""
    lower = np.array([20.0, *RIVET_77_EDGES[1:]])
    return float(np.average(_eval(spec, lower), weights=TTBAR_B_JETS))


def _logit(x):
    return np.log(x / (1 - x))


def test_77_point_is_the_notes_figure_as_rivet_has_it(atlas):
    b = _btag(atlas, "MV2c10-77", "b")
    assert tuple(b["edges"]) == RIVET_77_EDGES and tuple(b["values"]) == RIVET_77
    assert b["overflow"] == RIVET_77_OVERFLOW
    # the same table the 2018-30 analysis applies at truth level today
    wp = atlas_susy_2018_30.BTAG_77
    assert tuple(wp.pt_edges) == RIVET_77_EDGES and tuple(wp.eff_b) == RIVET_77
    assert wp.eff_b_overflow == RIVET_77_OVERFLOW


def test_77_point_averages_its_nominal_efficiency_on_ttbar(atlas):
    """The note's 77 % is the average over its ttbar b jets: the transcribed figure gives 0.753 on
    Pythia's ttbar spectrum (a 2 % shortfall that comes with the transcription, not corrected)."""
    average = _ttbar_average(_btag(atlas, "MV2c10-77", "b"))
    assert average == pytest.approx(0.7530, abs=5e-4)
    assert abs(average - 0.77) < 0.02


@pytest.mark.parametrize("wp", ["MV2c10-60", "MV2c10-70", "MV2c10-85"])
def test_other_points_share_the_77_shape_in_logit(atlas, wp):
    """eff_wp(pT) = sigmoid(logit(wp) + logit(eff77(pT)) - logit(0.77)), to the 4 decimals written."""
    b = _btag(atlas, wp, "b")
    ref = np.array([*RIVET_77, RIVET_77_OVERFLOW])
    expected = 1 / (1 + np.exp(-(_logit(NOMINAL_B[wp]) + _logit(ref) - _logit(0.77))))
    assert tuple(b["edges"]) == RIVET_77_EDGES
    np.testing.assert_allclose([*b["values"], b["overflow"]], expected, atol=5e-5)
    # ... so each point averages within 0.02 of its nominal on ttbar, like the 77 % one
    assert abs(_ttbar_average(b) - NOMINAL_B[wp]) < 0.025


@pytest.mark.parametrize("wp", sorted(REJECTIONS))
def test_mistag_rates_are_the_notes_rejections(atlas, wp):
    for flavour, rejection in zip(("c", "tau", "light"), REJECTIONS[wp]):
        spec = _btag(atlas, wp, flavour)
        assert spec["form"] == "constant" and spec["source"] == "pub-2016-012"
        assert 1 / spec["value"] == pytest.approx(rejection, rel=1e-4)


def test_working_points_nest_and_cover_the_analyses(atlas):
    points = atlas["btagging"]["pseudo_continuous"]
    assert points == ["MV2c10-85", "MV2c10-77", "MV2c10-70", "MV2c10-60"]  # loosest first
    grid = _grid(2.5)
    for flavour in FLAVOURS:
        effs = [_function(_btag(atlas, wp, flavour), wp)(*grid) for wp in points]
        assert all(np.all(a > b) for a, b in itertools.pairwise(effs)), flavour  # strictly: no empty bin
    names = set(atlas["btagging"]["working_points"])
    assert {atlas_susy_2018_30.BTAG_77.name, atlas_susy_2019_04.BTAG_70.name} <= names
    # the 70 % mistag rates the 2019-04 analysis uses today are the card's
    c, tau, light = atlas_susy_2019_04.MISTAG_RATES["pub-2016-012"]
    assert [_btag(atlas, "MV2c10-70", f)["value"] for f in ("c", "tau", "light")] == pytest.approx([c, tau, light], rel=1e-4)


# ---------------------------------------------------------------------------------------------
# Jets
# ---------------------------------------------------------------------------------------------

def test_jet_response(atlas):
    jets = atlas["jets"]
    assert jets["eta_max"] == 4.5
    np.testing.assert_array_equal(_eval(jets["energy_scale"], [20, 500, 3000]), 1.0)
    # Rivet JET_SMEAR_ATLAS_RUN2 at representative pT (bins 0-50, 100-150, 200-1000, 1000+)
    np.testing.assert_allclose(_eval(jets["energy_resolution"], [30, 120, 500, 3000, 20000]),
                               [0.145, 0.075, 0.05, 0.04, 0.04])
    # JES uncertainty: the source's anchors (5 % at 20 GeV, 1 % on 250-2000, 3.5 % above 2.5 TeV)
    np.testing.assert_allclose(_eval(jets["energy_scale_uncertainty"], [20, 250, 1000, 2000, 3000]),
                               [0.05, 0.01, 0.01, 0.01, 0.035], atol=1e-12)
    unc = _eval(jets["energy_scale_uncertainty"], np.geomspace(20, 250, 50))
    assert np.all(np.diff(unc) < 0)  # falls monotonically between the anchors


def test_jvt_is_rivets_medium_point(atlas):
    jvt = atlas["jets"]["jvt"]
    assert (jvt["pt_max"], jvt["eta_max"]) == (60, 2.4)
    np.testing.assert_allclose(_eval(jvt["efficiency"], [10, 22, 27, 42, 57, 80]),
                               [1.0, 0.86, 0.90, 0.94, 0.96, 1.0])


# ---------------------------------------------------------------------------------------------
# Leptons
# ---------------------------------------------------------------------------------------------

# GAMBIT's digitisation of arXiv:1908.00005: reconstruction (fig. 5, 0.5 GeV bins from 0) and
# identification (fig. 23a) efficiencies in ET. The card holds their product.
EGAM_RECO_STEP = 0.5
EGAM_RECO = (0.0, 0.0, 0.0, 0.0, 0.003218, 0.049709, 0.203532, 0.388353, 0.546803, 0.662459, 0.749662,
             0.807719, 0.850278, 0.875487, 0.893757, 0.907169, 0.919424, 0.926128, 0.932831, 0.936759,
             0.940224, 0.944846, 0.947386, 0.949695, 0.951078, 0.953849, 0.955695, 0.956847, 0.958924,
             0.959845, 0.962154, 0.96238, 0.96492, 0.966766, 0.966762, 0.967914, 0.967678, 0.970912,
             0.970676, 0.97229, 0.972286, 0.97205, 0.973664, 0.97366, 0.973655, 0.973419, 0.975496,
             0.976417, 0.977106, 0.976639)
EGAM_ID_EDGES = (4.5, 7.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0, 80.0)
EGAM_ID = {
    "Loose": (0.976333, 0.928653, 0.882698, 0.830078, 0.86466, 0.884306, 0.901769, 0.920381, 0.930032,
              0.936581, 0.938994, 0.943589, 0.949449),
    "Medium": (0.790671, 0.797679, 0.816062, 0.752183, 0.794807, 0.82801, 0.847541, 0.868796, 0.882008,
               0.887868, 0.897518, 0.916475, 0.93233),
    "Tight": (0.582835, 0.608686, 0.670726, 0.651999, 0.684283, 0.716567, 0.747358, 0.768038, 0.782399,
              0.795381, 0.815832, 0.853631, 0.884536),
}


@pytest.mark.parametrize("wp", LEPTON_POINTS)
def test_electron_points_are_reconstruction_times_identification(atlas, wp):
    et = np.concatenate([np.arange(4.5, 25, 0.25), np.geomspace(25, 3000, 60)])
    reco = np.asarray(EGAM_RECO)[np.minimum((et / EGAM_RECO_STEP).astype(int), len(EGAM_RECO) - 1)]
    ident = _binned(et, EGAM_ID_EDGES, EGAM_ID[wp][:-1], overflow=EGAM_ID[wp][-1])
    np.testing.assert_allclose(_eval(atlas["electrons"]["working_points"][wp], et), reco * ident, atol=5e-5)
    assert _eval(atlas["electrons"]["working_points"][wp], [4.0, 3.0]).tolist() == [0.0, 0.0]


def test_lepton_acceptance_and_resolutions(atlas):
    assert (atlas["electrons"]["eta_max"], atlas["muons"]["eta_max"]) == (2.47, 2.7)
    # ATLAS LAr: 10.1 %/sqrt(E) (+) 0.17 %: 1.44 % at 50 GeV, 0.47 % at 500 GeV
    np.testing.assert_allclose(_eval(atlas["electrons"]["energy_resolution"], [50, 500]),
                               [math.hypot(0.0017, 0.101 / math.sqrt(50)), math.hypot(0.0017, 0.101 / math.sqrt(500))])
    mu = atlas["muons"]["momentum_resolution"]
    # arXiv:1603.05598 abstract: 1.7 % (J/psi) to 2.3 % (Z) in the central region
    assert np.all((_eval(mu, [10, 30, 45]) > 0.017) & (_eval(mu, [10, 30, 45]) < 0.023))
    np.testing.assert_allclose(_eval(mu, [30, 75, 300], eta=0.5), math.sqrt(2) * np.array([0.015, 0.019, 0.025]))
    np.testing.assert_allclose(_eval(mu, [300], eta=2.0), 1.25 * math.sqrt(2) * 0.025)


def test_muon_points_are_muon_2018_03(atlas):
    wps = atlas["muons"]["working_points"]
    np.testing.assert_allclose([_eval(wps[wp], 50.0)[0] for wp in LEPTON_POINTS], [0.98927, 0.97522, 0.93972])
    assert [_eval(wps[wp], 3.2)[0] for wp in LEPTON_POINTS] == [0.87075, 0.45262, 0.0]
    assert [_eval(wps[wp], 2.0)[0] for wp in LEPTON_POINTS] == [0.0, 0.0, 0.0]


# ---------------------------------------------------------------------------------------------
# Missing transverse momentum
# ---------------------------------------------------------------------------------------------

def test_soft_term_resolution_matches_rivets_low_met_floor(atlas):
    """Per component 10 GeV (ATLAS METSignificance, release 21). A 2D Gaussian of that width has an
    RMS magnitude of sqrt(2) x 10 = 14.1 GeV: within 10 % of the 15 GeV floor Rivet's
    MET_SMEAR_ATLAS_RUN2 gives events without genuine MET (arXiv:1802.08168 fig. 9)."""
    sigma = float(_eval(atlas["met"]["soft_term_resolution"], 100.0)[0])
    assert sigma == 10.0
    assert abs(math.sqrt(2) * sigma - 15.0) / 15.0 < 0.1


# ---------------------------------------------------------------------------------------------
# The CMS-like example card
# ---------------------------------------------------------------------------------------------

def test_cms_like_card_values():
    card = _read_card(CMS_LIKE)
    electron = card["electrons"]["working_points"]["Tight"]
    assert _eval(electron, [5, 50, 500], eta=1.0).tolist() == [0.0, 0.9025, 0.9405]
    assert _eval(electron, [50], eta=2.0).tolist() == [0.7055]
    muon = card["muons"]["working_points"]["Medium"]
    np.testing.assert_allclose(_eval(muon, [5, 50, 2000], eta=2.0), [0.0, 0.95 * 0.98, 0.95 * 0.98 * math.exp(-0.5)])
    b = _btag(card, "delphes-cms", "b")
    np.testing.assert_allclose(_eval(b, 100.0), 0.85 * math.tanh(0.25) * 25 / 7.3)
    assert "met" not in card
