"""ATLAS-SUSY-2018-22: squarks and gluinos in final states with jets and missing transverse momentum,
0 leptons, 139 fb^-1.

arXiv:2010.14293, JHEP 02 (2021) 143; HEPData ins1827025. The specification is
``shared/hepdata/ANA-SUSY-2018-22/FACTS.md``, assembled from ATLAS' own SimpleAnalysis truth code
[SA-BDT] (the analysis' HEPData truth-code resource), CheckMATE2 [CM], GAMBIT, MadAnalysis 5 [MA5]
and the SModelS database. Signal regions: eight BDT regions (the preserved TMVA BDTs, one per
event-number fold, through the model cards in ``data/ANA-SUSY-2018-22/models``), ten meff-based
single-bin regions, and the three multi-bin sets MB-SSd (24 bins), MB-GGd (18) and MB-C (18).

Choices the sources dispute are options (``recast info ANA-SUSY-2018-22`` lists them):

* ``overlap_removal`` = ``simple``: the three steps of ATLAS' own SimpleAnalysis code for this
  analysis (jets within 0.2 of an electron, then electrons and muons within 0.4 of a jet);
  ``sliding`` is the paper's detailed scheme as CheckMATE has it (jets near muons only with at most
  two tracks, leptons removed within min(0.4, 0.04 + 10 GeV/pT)). At truth level they differ only
  for leptons near jets.
* ``ggo34_meff_jets`` = ``6``: the MET/meff(Nj) cut of BDT-GGo3/4 uses the six leading jets, as
  ATLAS' SimpleAnalysis code does for all four GGo regions; CheckMATE uses five (``5``).
* ``ggo3_sixth_jet`` = ``pad``: a 5-jet event enters the GGo3 BDT with jetPt5 = 0 and jetEta5 = -3,
  the model card's padding, because those are the values in the training (the XML's training
  minima are jetPt5 = 0 and jetEta5 = -3.0). ``pad-eta-0`` is CheckMATE's jetEta5 = 0 (which raises
  the score by 0.18 on average, FACTS 3.2); ``require-six-jets`` is SimpleAnalysis, which scores
  GGo3 only for events with six jets.
* ``sr4j_dphi_rest`` = 0.4: the SR4j cut on dphi_min(j>3) as the paper's SR table reads
  (CheckMATE, GAMBIT); its cutflow table and MadAnalysis 5 use 0.2.
* ``bdt_fold`` = ``event-number-parity``: weight1 for even, weight2 for odd event numbers, as
  SimpleAnalysis' BDTReader does when it is given the event number; ``random`` is a reproducible
  50/50 pick per event, what CheckMATE (and SimpleAnalysis without event numbers) do. The two
  models are never averaged.

Not options: dphi_min(j>3) runs over the jets after the third (CheckMATE, GAMBIT); SimpleAnalysis
takes it over all jets, which gives the same result because every region's j1-3 threshold is at
least its j>3 threshold. The bad-jet veto cannot be emulated at truth level (about 1 % in ATLAS'
cutflows). The published numbers are CheckMATE's transcription, except four MB-GGd bins where it
repeats a neighbouring row: those come from the HEPData likelihood via SModelS (``data/``).

* ``detector`` = ``atlas-run2``: objects through the ATLAS Run-2 card (``data/detectors/``: jet
  energy resolution, JVT, lepton identification, MET rebuilt from the smeared objects). Baseline
  electrons need Loose and baseline muons Medium identification [SA-BDT], which the lepton veto
  uses. The validation runs both cards on the same events: at the BDT-GGd and SR4j benchmarks the
  card moves A x eff by at most a few per cent, inside the MC errors, and the compressed-point
  excess stays (validation/reports/ANA-SUSY-2018-22/README.md); the card is the default because it
  is the physically complete description, and ``truth`` reproduces the truth-level results.

Objects: jets anti-kt 0.4, signal jets pT > 50 GeV; no b-tagging (only the control regions use
it). Delta R uses pseudorapidity.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from recast import detector
from recast.analysis import Analysis, Cut, ModelUse, Option, ScoreCut, SignalRegion
from recast.objects import ObjectConfig, Objects, aplanarity, delta_phi, leading_slots, max_of, min_of, remove_overlap

ID = "ANA-SUSY-2018-22"

OPTIONS = (
    Option("overlap_removal", "simple", "SimpleAnalysis' three fixed-cone steps, or the paper's sliding cones",
           ("simple", "sliding")),
    Option("ggo34_meff_jets", 6, "jets in meff(Nj) of the MET/meff cut of BDT-GGo3/4 (SimpleAnalysis 6, CheckMATE 5)",
           (6, 5)),
    Option("ggo3_sixth_jet", "pad", "GGo3 BDT for 5-jet events: card padding (pT 0, eta -3), eta 0, or only >= 6 jets",
           ("pad", "pad-eta-0", "require-six-jets")),
    Option("sr4j_dphi_rest", 0.4, "SR4j cut on dphi_min(j>3) (paper table 0.4, cutflow table 0.2)", (0.4, 0.2)),
    Option("bdt_fold", "event-number-parity", "which of the two BDT files scores an event",
           ("event-number-parity", "random")),
    detector.option("atlas-run2", "detector card: atlas-run2, truth or a card file (docs/guide.md)"),
)


def object_config(opt: dict) -> ObjectConfig:
    return ObjectConfig(jet_radius=0.4, jet_pt_min=20.0, btag=None)


def _overlap_removal(jets, electrons, muons, scheme: str):
    if scheme == "simple":
        jets = remove_overlap(jets, electrons, 0.2)
        electrons = remove_overlap(electrons, jets, 0.4)
        muons = remove_overlap(muons, jets, 0.4)
    else:
        jets = remove_overlap(jets, electrons, 0.2)
        jets = remove_overlap(jets, muons, 0.2, a_removable=jets.ntrk <= 2)
        electrons = remove_overlap(electrons, jets, "boosted-a")
        muons = remove_overlap(muons, jets, "boosted-a")
    return jets, electrons, muons


def variables(obj: Objects, opt: dict) -> dict[str, np.ndarray]:
    jets = obj.jets[(obj.jets.pt > 20) & (np.abs(obj.jets.eta) < 2.8)]
    el = obj.electrons[(obj.electrons.pt > 7) & (np.abs(obj.electrons.eta) < 2.47) & obj.electrons.id_loose]
    mu = obj.muons[(obj.muons.pt > 6) & (np.abs(obj.muons.eta) < 2.7) & obj.muons.id_medium]
    jets, el, mu = _overlap_removal(jets, el, mu, opt["overlap_removal"])
    jets = jets[jets.pt > 50]

    met, met_phi = ak.to_numpy(obj.met.pt), ak.to_numpy(obj.met.phi)
    ht = ak.to_numpy(ak.sum(jets.pt, axis=1))
    dphi = delta_phi(jets.phi, met_phi)
    v: dict[str, np.ndarray] = {
        "is_0L": ak.to_numpy(ak.num(el) + ak.num(mu)) == 0,
        "nj": ak.to_numpy(ak.num(jets)),
        "met": met,
        "meff": met + ht,
        "metsig": met / np.sqrt(np.where(ht > 0, ht, np.inf)),
        "Ap": aplanarity(jets),
        "dphi123": min_of(dphi, 0.0, stop=3),
        "dphi_rest": min_of(dphi, np.inf, start=3),
    }
    pts, etas = leading_slots(jets.pt, 6), leading_slots(jets.eta, 6)  # BDT inputs: NaN where absent
    for k in range(6):
        v[f"jetPt{k}"], v[f"jetEta{k}"] = pts[:, k], etas[:, k]
        v[f"pt{k + 1}"] = np.nan_to_num(pts[:, k], nan=0.0)
    for n in (2, 4, 5, 6):
        v[f"maxeta{n}"] = max_of(np.abs(jets.eta), 0.0, stop=n)
        meff_n = met + ak.to_numpy(ak.sum(jets.pt[:, :n], axis=1))
        v[f"met_meff{n}"] = met / meff_n
    return v


# -- preselection (FACTS section 2) -------------------------------------------------------------
PRESELECTION = (
    Cut("0 baseline leptons", "is_0L"),
    Cut("MET > 300", "met > 300"),
    Cut("N_jet >= 2", "nj >= 2"),
    Cut("pT(j1) > 200, pT(j2) > 50", "pt1 > 200, pt2 > 50"),
    Cut("meff(incl) > 800", "meff > 800"),
)

# -- BDT signal regions (FACTS section 3.1; the score cut is inclusive, as in [SA-BDT] and [CM]) ---
BDT_REGIONS = {
    #      N_jet dphi123 dphi(j>3) meff(incl) BDT score
    "GGd1": (4, 0.4, 0.4, 1400, 0.97),
    "GGd2": (4, 0.4, 0.4, 1400, 0.94),
    "GGd3": (4, 0.4, 0.4, 800, 0.94),
    "GGd4": (4, 0.4, 0.4, 800, 0.87),
    "GGo1": (6, 0.4, 0.4, 1400, 0.96),
    "GGo2": (6, 0.4, 0.4, 1400, 0.87),
    "GGo3": (5, 0.4, 0.4, 800, 0.92),
    "GGo4": (5, 0.2, 0.2, 800, 0.84),
}


def _bdt_region(name: str, meff_jets: int) -> SignalRegion:
    nj, dphi123, dphi_rest, meff, score = BDT_REGIONS[name]
    return SignalRegion(f"BDT-{name}", (
        Cut("N_jet", f"nj >= {nj}"),
        Cut("dphi_min(j1,2,3)", f"dphi123 > {dphi123}"),
        Cut("dphi_min(j>3)", f"dphi_rest > {dphi_rest}"),
        Cut(f"MET/meff({meff_jets}j) > 0.2", f"met_meff{meff_jets} > 0.2"),
        Cut("meff(incl)", f"meff > {meff}"),
        ScoreCut("BDT score", score=f"bdt_{name.lower()}", threshold=score, op=">="),
    ), group="BDT-GGd" if name.startswith("GGd") else "BDT-GGo")


# -- meff single-bin signal regions (FACTS section 4) -------------------------------------------
def _meff_region(name, nj, pt1, ptn, maxeta, dphi123, dphi_rest, ap, metsig, meff) -> SignalRegion:
    cuts = (
        Cut("N_jet", f"nj >= {nj}"),
        Cut("pT(j1)", f"pt1 > {pt1}"),
        Cut(f"pT(j{nj})", f"pt{nj} > {ptn}"),
        Cut(f"|eta(j1..{nj})|", f"maxeta{nj} < {maxeta}"),
        Cut("dphi_min(j1,2,3)", f"dphi123 > {dphi123}"),
        Cut("dphi_min(j>3)", f"dphi_rest > {dphi_rest}"),
    )
    if ap is not None:
        cuts += (Cut("Aplanarity", f"Ap > {ap}"),)
    cuts += (Cut("MET/sqrt(HT)", f"metsig > {metsig}"), Cut("meff(incl)", f"meff > {meff}"))
    return SignalRegion(name, cuts, group=name.split("-")[0])


def meff_regions(sr4j_dphi_rest: float) -> tuple[SignalRegion, ...]:
    d4 = sr4j_dphi_rest
    table = [
        #  name          N_j pT(j1) pT(jN) |eta| dphi123 dphi(j>3) Ap  MET/sqrtHT meff
        ("SR2j-1600",    2,  250,   250,   2.0,  0.8,    0.4,     None, 16,       1600),
        ("SR2j-2200",    2,  600,   50,    2.8,  0.4,    0.2,     None, 16,       2200),
        ("SR2j-2800",    2,  250,   250,   1.2,  0.8,    0.4,     None, 16,       2800),
        ("SR4j-1000",    4,  200,   100,   2.0,  0.4,    d4,      0.04, 16,       1000),
        ("SR4j-2200",    4,  200,   100,   2.0,  0.4,    d4,      0.04, 16,       2200),
        ("SR4j-3400",    4,  200,   100,   2.0,  0.4,    d4,      0.04, 10,       3400),
        ("SR5j-1600",    5,  600,   50,    2.8,  0.4,    0.2,     None, 16,       1600),
        ("SR6j-1000",    6,  200,   75,    2.0,  0.4,    0.2,     0.08, 16,       1000),
        ("SR6j-2200",    6,  200,   75,    2.0,  0.4,    0.2,     0.08, 16,       2200),
        ("SR6j-3400",    6,  200,   75,    2.0,  0.4,    0.2,     0.08, 10,       3400),
    ]
    return tuple(_meff_region(*row) for row in table)


# -- multi-bin signal regions (FACTS section 5) -------------------------------------------------
MEFF_EDGES = (1000, 1600, 2200, 2800, 3400, 4000)


def _bin(low: float, high: float | None, variable: str) -> str:
    return f"{variable} >= {low}" + (f", {variable} < {high}" if high is not None else "")


def _mb_region(group: str, klass: str, selection: tuple[Cut, ...], meff: tuple, metsig: tuple) -> SignalRegion:
    name = f"{group}-{klass}-{meff[0]}-{metsig[0]}"
    return SignalRegion(name, (
        *selection,
        Cut("meff bin", _bin(*meff, "meff")),
        Cut("MET/sqrt(HT) bin", _bin(*metsig, "metsig")),
    ), group=group)


def _next_edge(low: float) -> float | None:
    higher = [e for e in MEFF_EDGES if e > low]
    return higher[0] if higher else None


def multibin_regions() -> tuple[SignalRegion, ...]:
    ssd_common = (Cut("dphi_min(j1,2,3)", "dphi123 > 0.8"), Cut("dphi_min(j>3)", "dphi_rest > 0.4"))
    ssd_2 = (Cut("2-3 jets", "nj >= 2, nj <= 3"), Cut("pT(j1,j2)", "pt1 > 250, pt2 > 250"),
             Cut("|eta(j1,j2)|", "maxeta2 < 2.0"), *ssd_common)
    ssd_2_any = (Cut(">= 2 jets", "nj >= 2"), Cut("pT(j1,j2)", "pt1 > 250, pt2 > 250"),
                 Cut("|eta(j1,j2)|", "maxeta2 < 2.0"), *ssd_common)
    ssd_4 = (Cut(">= 4 jets", "nj >= 4"), Cut("pT(j1), pT(j4)", "pt1 > 200, pt4 > 100"),
             Cut("|eta(j1..4)|", "maxeta4 < 2.0"), *ssd_common)
    out = []
    for klass, sel in (("2", ssd_2), ("4", ssd_4)):
        for low in (1000, 1600, 2200, 2800):
            # the 10-16 bins at meff >= 1600 and the 16-22 bins at meff >= 2800 are open-ended
            for ms in ((10, 16), (16, 22), (22, None)):
                if ms[0] == 10 and low > 1600 or ms[0] == 16 and low > 2800:
                    continue
                open_end = (ms[0] == 10 and low == 1600) or (ms[0] == 16 and low == 2800)
                high = None if open_end else _next_edge(low)
                if ms[0] == 22 and low == 2800:
                    high = 3400
                out.append(_mb_region("MB-SSd", klass, sel, (low, high), ms))
    for low in (3400, 4000):  # all jet multiplicities, with the 2-jet kinematics
        for ms in ((22, 28), (28, None)):
            out.append(_mb_region("MB-SSd", "2", ssd_2_any, (low, _next_edge(low)), ms))

    ggd = (Cut(">= 4 jets", "nj >= 4"), Cut("pT(j1), pT(j4)", "pt1 > 200, pt4 > 100"),
           Cut("|eta(j1..4)|", "maxeta4 < 2.0"), Cut("dphi_min(j1,2,3)", "dphi123 > 0.4"),
           Cut("dphi_min(j>3)", "dphi_rest > 0.4"), Cut("Aplanarity", "Ap > 0.04"))
    for low in MEFF_EDGES:
        for ms in ((10, 16), (16, 22), (22, None)):
            out.append(_mb_region("MB-GGd", "4", ggd, (low, _next_edge(low)), ms))

    c_common = (Cut("pT(j1), pT(j2)", "pt1 > 600, pt2 > 50"), Cut("dphi_min(j1,2,3)", "dphi123 > 0.4"),
                Cut("dphi_min(j>3)", "dphi_rest > 0.2"))
    for klass, njets in (("2", "nj >= 2, nj <= 3"), ("4", "nj == 4"), ("5", "nj >= 5")):
        sel = (Cut(f"jet class {klass}", njets), *c_common)
        for low, high in ((1600, 2200), (2200, 2800), (2800, None)):
            for ms in ((16, 22), (22, None)):
                out.append(_mb_region("MB-C", klass, sel, (low, high), ms))
    return tuple(out)


def models(opt: dict) -> tuple[ModelUse, ...]:
    uses = []
    for name, (nj, *_rest) in BDT_REGIONS.items():
        when, pad = f"nj >= {nj}", ()
        if name == "GGo3" and opt["ggo3_sixth_jet"] == "require-six-jets":
            when = "nj >= 6"
        elif name == "GGo3" and opt["ggo3_sixth_jet"] == "pad-eta-0":
            pad = (("jetEta5", 0.0),)
        uses.append(ModelUse(card=f"BDT-{name}", score=f"bdt_{name.lower()}", when=when, pad=pad,
                             fold_rule=opt["bdt_fold"]))
    return tuple(uses)


def signal_regions(opt: dict | None = None) -> tuple[SignalRegion, ...]:
    opt = opt or {o.name: o.default for o in OPTIONS}
    bdt = tuple(_bdt_region(name, 4 if name.startswith("GGd") else
                            (6 if name in ("GGo1", "GGo2") else opt["ggo34_meff_jets"]))
                for name in BDT_REGIONS)
    return bdt + meff_regions(opt["sr4j_dphi_rest"]) + multibin_regions()


ANALYSIS = Analysis(
    id=ID,
    title="Squarks and gluinos: jets + missing transverse momentum, 0 leptons (BDT, meff and multi-bin regions)",
    arxiv="2010.14293",
    journal="JHEP 02 (2021) 143",
    hepdata="https://doi.org/10.17182/hepdata.95664.v2",
    sqrt_s_tev=13.0,
    luminosity_ifb=139.0,
    aliases=("ATLAS-SUSY-2018-22", "ATLAS_2020_I1827025"),
    options=OPTIONS,
    object_config=object_config,
    variables=variables,
    preselection=PRESELECTION,
    signal_regions=signal_regions(),
    regions_for=signal_regions,
    models=models,
    combinations={group: tuple(r.name for r in multibin_regions() if r.group == group)
                  for group in ("MB-SSd", "MB-GGd", "MB-C")},
    full_likelihood={"artifact": "{region}_bkgonly.json", "channel": "SR_cuts", "poi": "mu_SIG", "lumi": "lumi",
                     "source": "HEPData ins1827025 r9 background-only workspaces of the BDT and meff regions"},
    notes=__doc__,
)
