"""ATLAS-SUSY-2018-30: gluinos decaying via third-generation squarks, >= 3 b-jets + MET, 139 fb^-1.

arXiv:2211.08028, Eur. Phys. J. C 83 (2023) 561; HEPData ins2182381. The specification is
``shared/hepdata/ANA-SUSY-2018-30/FACTS.md``, assembled from CheckMATE2 [CM], Rivet [RV],
GAMBIT [GB] and the 2016 SimpleAnalysis code [SA16]; the paper's own tables were not available.
Signal regions: the 14 cut-and-count regions and the eight regions of the parametrised neural
network (model card ``data/ANA-SUSY-2018-30/models/NN.yaml``: 87 inputs in the order of its
SimpleAnalysis configuration, standardised with that file's means and widths, absent objects 0
before standardisation, one evaluation per parameter point, node 0 = P(Gtt) and node 1 = P(Gbb)).
The network file is not in any mirror: without it the NN regions are skipped, with the reason;
``recast data add`` registers a copy, accepted by its git blob id.

Choices the sources dispute are options (``recast info ANA-SUSY-2018-30`` lists them):

* ``zero_lepton_veto`` = ``baseline``: the paper text and its main tables veto baseline leptons
  in the 0L channel; only a supplementary cutflow table and SimpleAnalysis use signal leptons.
* ``overlap_removal`` = ``boosted``: ATLAS' standard sequence with the boosted-lepton cone
  min(0.4, 0.04 + 10 GeV/pT) for removing leptons near jets, as in ATLAS' own SimpleAnalysis code
  of the predecessor analysis [SA16] and for muons in [GB]; ``fixed`` uses 0.4 cones [CM][RV].
* ``mj_sum`` = ``all``: M_J^Sum sums all trimmed large-R jets ([CM][RV][GB]); ``leading4`` sums
  the four leading ones [SA16]. They differ only with five or more large-R jets.
* ``btag_mistag`` = ``pub-2016-012``: c and light mistag rates 1/6 and 1/134 [GB], the 77 %
  working point's rejections in ATL-PHYS-PUB-2016-012, the note the b-efficiency table comes
  from; tau 1/16 [RV] (the only source for taus). ``rivet``: 1/5, 1/16, 1/110.
* ``btag_overflow_eff`` = 0.68: b efficiency above 500 GeV, an extrapolation ([RV] 0.68, [GB]
  0.675); it moves SR yields by O(5-10 %).
* ``electron_isolation`` = ``FCLoose``: the FixedCutLoose working point in full (track cone
  min(0.2, 10 GeV/pT) below 0.15 pT and calorimeter cone 0.2 below 0.2 pT) [CM]; ``track-only``
  drops the calorimeter part as [RV][GB] do.
* ``electron_crack`` = ``exclude``: baseline electrons in 1.37 < |eta| < 1.52 are dropped [RV][GB];
  [CM] keeps them (``keep``).
* ``jvt`` = ``none``: no pile-up-jet efficiency at truth level [CM]; ``gambit`` applies [GB]'s JVT
  efficiency table to jets with 20 < pT < 60 GeV and |eta| < 2.4.
* ``gbb_b_jet`` = ``leading``: the Gbb-B "pT(jet) >= 65 GeV" cut applies to the leading jet in
  all three peers; FACTS suspects the paper means another jet (``fourth``).
* ``met_phi_range`` = ``0-2pi``: the network's MET azimuth input in [0, 2 pi). The configuration's
  training mean and width for met_phi are 3.158 and 1.809, those of a uniform angle on [0, 2 pi)
  (ROOT's TVector2::Phi), while every other azimuth has mean 0 and width 1.81. All three peers feed
  (-pi, pi] (``pm-pi``), which this evidence says the network never saw.

Not options, because the sources' variants are typos rather than physics: Gbb-C uses MET >= 550 and
m_eff >= 1600 (HepData auxiliary table 4 swaps them, which would make the m_eff cut vacuous);
Gtt-1L-M2 uses M_J^Sum >= 100 (GAMBIT's cutflow bookkeeping says 200, its signal-region counter and
the other peers 100); Gtb-M requires 6 jets (a Rivet plot label says 7, all code says 6).

* ``detector`` = ``atlas-run2``: objects through the ATLAS Run-2 card (``data/detectors/``): jet
  energy resolution and JVT, MV2c10 77 % b-tagging per flavour with its pT dependence (the same
  ATL-PHYS-PUB-2016-012 table as ``BTAG_77``), lepton identification (baseline electrons Loose,
  signal electrons Tight, muons Medium, as FACTS' object table), MET rebuilt from the smeared
  objects. With a card that has b-tagging, the card's tagging replaces ``btag_mistag`` and
  ``btag_overflow_eff`` (they apply with ``truth``), and its JVT makes ``jvt=gambit`` redundant.
  No published cutflow exists to judge the choice for this analysis; the default follows the
  evidence of ATLAS-SUSY-2019-04, whose b-tag step the card brings closer to ATLAS, with the same
  objects. ``truth``: truth-level objects as SimpleAnalysis has them.

Delta R uses pseudorapidity.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from recast import detector
from recast.analysis import Analysis, Cut, ModelUse, Option, ScoreCut, SignalRegion
from recast.objects import (BTagWorkingPoint, ObjectConfig, Objects, apply_efficiency, binned, delta_phi, leading_slots,
                            min_of, recluster, remove_overlap, transverse_mass)

# -- b-tagging: MV2c10 at 77 %, efficiencies from ATL-PHYS-PUB-2016-012 as used by [RV][GB] -------
MISTAG_RATES = {  # (c, tau, light)
    "pub-2016-012": (1 / 6, 1 / 16, 1 / 134),
    "rivet": (1 / 5, 1 / 16, 1 / 110),
}
BTAG_77 = BTagWorkingPoint(
    name="MV2c10-77",
    source="ATL-PHYS-PUB-2016-012 pT-dependent b efficiency (FACTS section 1)",
    pt_edges=(0, 30, 40, 50, 60, 75, 90, 105, 150, 200, 500),
    eff_b=(0.63, 0.705, 0.74, 0.76, 0.775, 0.785, 0.795, 0.80, 0.79, 0.75),
    eff_b_overflow=0.68,
    eff_c=MISTAG_RATES["pub-2016-012"][0],
    eff_tau=MISTAG_RATES["pub-2016-012"][1],
    eff_light=MISTAG_RATES["pub-2016-012"][2],
    eta_max=2.5,
)

# [GB]'s JVT efficiency: 5 GeV bins from 20 to 60 GeV (arXiv:1510.03823 fig. 17)
JVT_EDGES = np.arange(20.0, 61.0, 5.0)
JVT_EFF = np.array([0.86, 0.90, 0.92, 0.93, 0.94, 0.95, 0.95, 0.96])

OPTIONS = (
    Option("zero_lepton_veto", "baseline", "0L channel vetoes baseline (paper) or signal leptons",
           ("baseline", "signal")),
    Option("overlap_removal", "boosted", "lepton-jet cones: boosted min(0.4, 0.04+10/pT) or fixed 0.4",
           ("boosted", "fixed")),
    Option("mj_sum", "all", "M_J^Sum over all trimmed large-R jets or the leading four", ("all", "leading4")),
    Option("btag_mistag", "pub-2016-012", "c/tau/light mistag rates: 1/6,1/16,1/134 or Rivet's 1/5,1/16,1/110",
           tuple(MISTAG_RATES)),
    Option("btag_overflow_eff", 0.68, "b-tag efficiency above 500 GeV (extrapolated; GAMBIT 0.675)",
           bounds=(0.0, 1.0)),
    Option("electron_isolation", "FCLoose", "signal-electron isolation: full FCLoose or its track part",
           ("FCLoose", "track-only")),
    Option("electron_crack", "exclude", "baseline electrons in 1.37<|eta|<1.52", ("exclude", "keep")),
    Option("jvt", "none", "pile-up jet (JVT) efficiency for 20-60 GeV jets", ("none", "gambit")),
    Option("gbb_b_jet", "leading", "jet that the Gbb-B pT >= 65 GeV cut applies to", ("leading", "fourth")),
    Option("met_phi_range", "0-2pi", "range of the network's MET azimuth input (training evidence: [0, 2pi))",
           ("0-2pi", "pm-pi")),
    detector.option("atlas-run2", "detector card: atlas-run2, truth or a card file (docs/guide.md)"),
)


def object_config(opt: dict) -> ObjectConfig:
    c, tau, light = MISTAG_RATES[opt["btag_mistag"]]
    wp = BTAG_77.replace(eff_c=c, eff_tau=tau, eff_light=light, eff_b_overflow=opt["btag_overflow_eff"])
    return ObjectConfig(jet_radius=0.4, jet_pt_min=20.0, btag=wp)


def _overlap_removal(jets, electrons, muons, scheme: str):
    """ATLAS' sequence: e-mu, jets near electrons (b-jets kept), electrons near jets, jets with
    < 3 tracks near muons, muons near jets."""
    lepton_cone = "boosted-a" if scheme == "boosted" else 0.4
    electrons = remove_overlap(electrons, muons, 0.01)
    jets = remove_overlap(jets, electrons, 0.2, a_removable=~jets.btag)
    electrons = remove_overlap(electrons, jets, lepton_cone)
    jets = remove_overlap(jets, muons, 0.2, a_removable=jets.ntrk < 3)
    muons = remove_overlap(muons, jets, lepton_cone)
    return jets, electrons, muons


def variables(obj: Objects, opt: dict) -> dict[str, np.ndarray]:
    jets = obj.jets[(obj.jets.pt > 20) & (np.abs(obj.jets.eta) < 2.8)]
    el = obj.electrons[(obj.electrons.pt > 20) & (np.abs(obj.electrons.eta) < 2.47) & obj.electrons.id_loose]
    if opt["electron_crack"] == "exclude":
        el = el[(np.abs(el.eta) < 1.37) | (np.abs(el.eta) > 1.52)]
    mu = obj.muons[(obj.muons.pt > 20) & (np.abs(obj.muons.eta) < 2.5) & obj.muons.id_medium]

    jets, el, mu = _overlap_removal(jets, el, mu, opt["overlap_removal"])

    jets = jets[jets.pt > 30]
    if opt["jvt"] == "gambit":
        in_range = (jets.pt > 20) & (jets.pt < 60) & (np.abs(jets.eta) < 2.4)
        jets = apply_efficiency(jets, ak.where(in_range, binned(jets.pt, JVT_EDGES, JVT_EFF), 1.0), obj, "jvt")
    bjets = jets[jets.btag]

    signal_e = el.id_tight & (el.ptvarcone20 < 0.15 * el.pt)
    if opt["electron_isolation"] == "FCLoose":
        signal_e = signal_e & (el.topoetcone20 < 0.20 * el.pt)
    sig_leptons = ak.concatenate([el[signal_e], mu[mu.ptvarcone30 < 0.06 * mu.pt]], axis=1)
    sig_leptons = sig_leptons[ak.argsort(sig_leptons.pt, axis=1, ascending=False)]
    n_baseline = ak.to_numpy(ak.num(el) + ak.num(mu))
    n_signal = ak.to_numpy(ak.num(sig_leptons))

    met, met_phi = ak.to_numpy(obj.met.pt), ak.to_numpy(obj.met.phi)
    large_r = recluster(jets, radius=0.8, fcut=0.1, pt_min=100.0, eta_max=2.0)
    masses = large_r.m if opt["mj_sum"] == "all" else large_r.m[:, :4]
    lead_lep = ak.firsts(sig_leptons)
    jet_pts = ak.pad_none(jets.pt, 4, axis=1)

    vetoed = n_baseline if opt["zero_lepton_veto"] == "baseline" else n_signal
    dphimin4j = min_of(delta_phi(jets.phi, met_phi), 0.0, stop=4)
    nn = _network_inputs(jets, large_r, sig_leptons, met, met_phi, opt)
    nn["n_baseline"] = n_baseline
    nn["nn_gtt_channel"] = (n_signal >= 1) | ((n_baseline == 0) & (dphimin4j >= 0.4))
    return nn | {
        "njet": ak.to_numpy(ak.num(jets)),
        "nb": ak.to_numpy(ak.num(bjets)),
        "met": met,
        "meff": met + ak.to_numpy(ak.sum(jets.pt, axis=1) + ak.sum(sig_leptons.pt, axis=1)),
        "mtbmin": min_of(transverse_mass(bjets.pt, bjets.phi, met, met_phi), 0.0, stop=3),
        "dphimin4j": dphimin4j,
        "mt": ak.to_numpy(ak.fill_none(transverse_mass(lead_lep.pt, lead_lep.phi, met, met_phi), 0.0)),
        "mjsum": ak.to_numpy(ak.sum(masses, axis=1)),
        "is_0L": vetoed == 0,
        "is_1L": n_signal >= 1,
        "gbb_b_jet_pt": ak.to_numpy(ak.fill_none(jet_pts[:, 0 if opt["gbb_b_jet"] == "leading" else 3], 0.0)),
    }


def _network_inputs(jets, large_r, leptons, met, met_phi, opt) -> dict[str, np.ndarray]:
    """The 87 network inputs (model card NN) by name, raw GeV: the engine standardises them."""
    out: dict[str, np.ndarray] = {}
    for prefix, coll, n, fields in (("small_R_jets", jets, 10, ("pt", "eta", "phi", "m", "isb")),
                                    ("large_R_jets", large_r, 4, ("pt", "eta", "phi", "m")),
                                    ("leptons", leptons, 4, ("pt", "eta", "phi", "m"))):
        for f in fields:
            grid = leading_slots(ak.values_astype(coll.btag, np.float64) if f == "isb" else coll[f], n)
            for k in range(n):
                out[f"{prefix}_{f}_{k}"] = grid[:, k]
    out["met_phi"] = np.mod(met_phi, 2 * np.pi) if opt["met_phi_range"] == "0-2pi" else met_phi
    return out


# -- preselection and signal regions (GeV; FACTS sections 3 and 4) -------------------------------
PRESELECTION = (
    Cut("N_jet >= 4", "njet >= 4"),
    Cut("N_b >= 3", "nb >= 3"),
    Cut("MET > 200 (trigger)", "met >= 200"),
)

ZERO_LEPTON = (Cut("lepton veto", "is_0L"), Cut("dphimin(4j)", "dphimin4j >= 0.4"))


def gtt_0l(name, njet, nb, met, meff, mtb, mj):
    return SignalRegion(f"Gtt-0L-{name}", (
        *ZERO_LEPTON,
        Cut("N_jet, N_b", f"njet >= {njet}, nb >= {nb}"),
        Cut("MET", f"met >= {met}"),
        Cut("m_eff", f"meff >= {meff}"),
        Cut("mT,min(b)", f"mtbmin >= {mtb}"),
        Cut("M_J^Sum", f"mjsum >= {mj}"),
    ), group="Gtt-0L")


def gtt_1l(name, njet, nb, met, meff, mt, mtb, mj=None):
    cuts = (
        Cut(">= 1 signal lepton", "is_1L"),
        Cut("N_jet, N_b", f"njet >= {njet}, nb >= {nb}"),
        Cut("MET", f"met >= {met}"),
        Cut("m_eff", f"meff >= {meff}"),
        Cut("mT", f"mt >= {mt}"),
        Cut("mT,min(b)", f"mtbmin >= {mtb}"),
    )
    if mj is not None:
        cuts += (Cut("M_J^Sum", f"mjsum >= {mj}"),)
    return SignalRegion(f"Gtt-1L-{name}", cuts, group="Gtt-1L")


def gbb(name, met, meff, jet_pt=None):
    cuts = (*ZERO_LEPTON, Cut("mT,min(b)", "mtbmin >= 130"), Cut("MET", f"met >= {met}"))
    if jet_pt is not None:
        cuts += (Cut("pT(jet)", f"gbb_b_jet_pt >= {jet_pt}"),)
    return SignalRegion(f"Gbb-{name}", (*cuts, Cut("m_eff", f"meff >= {meff}")), group="Gbb")


def gtb(name, njet, nb, meff, met, mj):
    return SignalRegion(f"Gtb-{name}", (
        *ZERO_LEPTON,
        Cut("mT,min(b)", "mtbmin >= 130"),
        Cut("N_jet", f"njet >= {njet}"),
        Cut("N_b", f"nb >= {nb}"),
        Cut("m_eff", f"meff >= {meff}"),
        Cut("MET", f"met >= {met}"),
        Cut("M_J^Sum", f"mjsum >= {mj}"),
    ), group="Gtb")


SIGNAL_REGIONS = (
    #        name  N_jet N_b  MET  m_eff mT,min(b) M_J^Sum
    gtt_0l("B",    5,   3,   600, 2900, 120,      300),
    gtt_0l("M1",   9,   3,   600, 1700, 120,      300),
    gtt_0l("M2",  10,   3,   500, 1100, 120,      200),
    gtt_0l("C",   10,   4,   400,  800, 180,      100),
    #        name  N_jet N_b  MET  m_eff  mT  mT,min(b) M_J^Sum
    gtt_1l("B",    4,   3,   600, 2300, 150, 120,      200),
    gtt_1l("M1",   5,   3,   600, 2000, 200, 120,      200),
    gtt_1l("M2",   8,   3,   500, 1100, 200, 120,      100),
    gtt_1l("C",    9,   3,   300,  800, 150, 120),
    #     name  MET  m_eff  pT(jet)
    gbb("B",    550, 2600,  65),
    gbb("M",    550, 2000),
    gbb("C",    550, 1600),
    #     name N_jet N_b m_eff  MET M_J^Sum
    gtb("B",   4,   3,  2500, 550, 200),
    gtb("M",   6,   4,  2000, 550, 200),
    gtb("C",   7,   4,  1300, 500,  50),
)

# -- neural-network regions (FACTS section 5.2) ------------------------------------------------------
NN_POINTS = {  # region: (isGtt, m_gluino, m_LSP, min dphimin(4j) for Gbb, score threshold)
    "Gtt-2100-1": (1, 2100, 1, None, 0.9997), "Gtt-1800-1": (1, 1800, 1, None, 0.9997),
    "Gtt-2300-1200": (1, 2300, 1200, None, 0.9993), "Gtt-1900-1400": (1, 1900, 1400, None, 0.9987),
    "Gbb-2800-1400": (0, 2800, 1400, 0.6, 0.999), "Gbb-2300-1000": (0, 2300, 1000, 0.6, 0.9994),
    "Gbb-2100-1600": (0, 2100, 1600, 0.4, 0.9993), "Gbb-2000-1800": (0, 2000, 1800, 0.4, 0.997),
}


def _score(region: str) -> str:
    return "nn_" + region.lower().replace("-", "_")


def nn_region(region: str) -> SignalRegion:
    is_gtt, _, _, dphi, threshold = NN_POINTS[region]
    if is_gtt:
        cuts = (Cut("Gtt channel (1L, or 0L with dphimin(4j))", "nn_gtt_channel"),
                ScoreCut("P(Gtt) (node 0)", score=_score(region), threshold=threshold))
    else:
        cuts = (Cut("0 baseline leptons", "n_baseline == 0"), Cut("dphimin(4j)", f"dphimin4j >= {dphi}"),
                ScoreCut("P(Gbb) (node 1)", score=_score(region), threshold=threshold))
    return SignalRegion(region, cuts, group="NN-Gtt" if is_gtt else "NN-Gbb")


def models(opt: dict) -> tuple[ModelUse, ...]:
    uses = []
    for region, (is_gtt, mg, mlsp, _, _) in NN_POINTS.items():
        channel = "nn_gtt_channel" if is_gtt else "n_baseline == 0, dphimin4j >= 0.4"
        uses.append(ModelUse(card="NN", score=_score(region), when=channel,
                             fixed=(("isGtt", is_gtt), ("mGluino", mg), ("mLSP", mlsp)), node=0 if is_gtt else 1))
    return tuple(uses)


SIGNAL_REGIONS = SIGNAL_REGIONS + tuple(nn_region(r) for r in NN_POINTS)

ANALYSIS = Analysis(
    id="ANA-SUSY-2018-30",
    title="Gluinos via third-generation squarks: >= 3 b-jets + missing transverse momentum",
    arxiv="2211.08028",
    journal="Eur. Phys. J. C 83 (2023) 561",
    hepdata="https://doi.org/10.17182/hepdata.95928.v2",
    sqrt_s_tev=13.0,
    luminosity_ifb=139.0,
    aliases=("ATLAS-SUSY-2018-30", "ATLAS_2022_I2182381"),
    options=OPTIONS,
    object_config=object_config,
    variables=variables,
    preselection=PRESELECTION,
    signal_regions=SIGNAL_REGIONS,
    models=models,
    notes=__doc__,
)
