"""The detector stage against the numbers of its card: jet response (mean and width in pT and |eta|
bins), JVT and b-tagging efficiencies per flavour and working point, the pseudo-continuous tag bins
against the nested working points, lepton efficiencies and resolutions, MET recomputed exactly with
smearing off, and the random numbers independent of chunk size, event order and other runs.

Objects are built by hand (known pT, eta, flavour) in large numbers, so that every expectation is
written out from the card's numbers and checked within 4 standard deviations of its statistical
error; the card is tests/data/detector_full.yaml or a part of it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import yaml

from recast import detector
from recast.objects import BTagWorkingPoint, ObjectConfig, Objects, build_objects

FULL = Path(__file__).parent / "data" / "detector_full.yaml"
HEAD = ("schema", "schema_version", "name", "title", "momentum_unit", "sources")
WP = {name: BTagWorkingPoint(name=name, source="the analysis' own truth tagging", pt_edges=(0.0, 1e5), eff_b=(0.5,),
                             eff_b_overflow=0.5, eff_c=0.0, eff_tau=0.0, eff_light=0.0)
      for name in ("WP-85", "WP-77", "WP-70", "WP-60", "MV2c10-77")}


def card(tmp_path: Path, **sections) -> detector.Card:
    """The test card with only ``sections`` (each True for the test card's own, or a mapping)."""
    full = yaml.safe_load(FULL.read_text())
    doc = {k: full[k] for k in HEAD}
    for name, section in sections.items():
        doc[name] = full[name] if section is True else section
    path = tmp_path / f"card-{'-'.join(sections)}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return detector.load(path)


def collection(per_event, pt, eta, phi=None, m=0.0, **fields) -> ak.Array:
    """Objects from flat columns (event after event), ``per_event`` per event (a number, or the
    counts of every event)."""
    pt, eta = np.asarray(pt, float), np.asarray(eta, float)
    phi = np.linspace(-3.0, 3.0, len(pt)) if phi is None else np.asarray(phi, float)
    m = np.broadcast_to(np.asarray(m, float), pt.shape)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    columns = {"px": px, "py": py, "pz": pz, "E": np.sqrt(px**2 + py**2 + pz**2 + m**2), "pt": pt, "eta": eta,
               "phi": phi, "m": m, **{k: np.asarray(v) for k, v in fields.items()}}
    return ak.unflatten(ak.zip(columns, depth_limit=1), per_event)


def jets(per_event, pt, eta, label=0, phi=None, m=10.0):
    n = len(pt)
    label = np.broadcast_to(np.asarray(label, np.int8), (n,))
    return collection(per_event, pt, eta, phi, m, label=label, ntrk=np.arange(n), btag=label == 5,
                      tag_bin=np.where(label == 5, 5, 1).astype(np.int8))


def leptons(per_event, pt, eta, pid):
    n = len(pt)
    mass = 0.000511 if pid == 11 else 0.10566
    return collection(per_event, pt, eta, None, mass, charge=np.full(n, -1.0), pid=np.full(n, pid),
                      from_tau=np.zeros(n, bool), ptvarcone20=np.arange(n, dtype=float),
                      ptvarcone30=np.zeros(n), topoetcone20=np.zeros(n), ptcone20=np.zeros(n),
                      id_loose=np.ones(n, bool), id_medium=np.ones(n, bool), id_tight=np.ones(n, bool))


def objects(n_events: int, jet=None, electron=None, muon=None, met_px=None, met_py=None, seed=3) -> Objects:
    none = np.zeros(n_events, np.int64)
    px = np.zeros(n_events) if met_px is None else np.asarray(met_px, float)
    py = np.zeros(n_events) if met_py is None else np.asarray(met_py, float)
    met = ak.zip({"pt": np.hypot(px, py), "phi": np.arctan2(py, px), "px": px, "py": py})
    return Objects(jets=jets(none, [], []) if jet is None else jet,
                   electrons=leptons(none, [], [], 11) if electron is None else electron,
                   muons=leptons(none, [], [], 13) if muon is None else muon,
                   taus=ak.Array([[] for _ in range(n_events)]), met=met,
                   event_number=np.arange(1000, 1000 + n_events), weight=np.ones(n_events), seed=seed)


def flat(array) -> np.ndarray:
    return ak.to_numpy(ak.flatten(array))


def within(measured: float, expected: float, sigma: float, n_sigma: float = 4.0) -> bool:
    return abs(measured - expected) <= n_sigma * sigma


# -- jets ------------------------------------------------------------------------------------------


def test_jet_response_has_the_cards_mean_and_width_in_pt_and_eta_bins(tmp_path):
    full = yaml.safe_load(FULL.read_text())["jets"]
    c = card(tmp_path, jets={k: full[k] for k in ("eta_max", "energy_scale", "energy_resolution", "eta_resolution")})
    cells = [(pt, aeta) for pt in (25.0, 60.0, 200.0, 1000.0) for aeta in (0.5, 3.0)]
    n_events = 25_000
    pt = np.tile([p for p, _ in cells], n_events)
    eta = np.tile([a for _, a in cells], n_events) * np.where(np.arange(len(pt)) % 3 == 0, -1.0, 1.0)
    truth = objects(n_events, jet=jets(len(cells), pt, eta))
    reco = detector.respond(truth, c, ObjectConfig(jet_pt_min=0.0), seed=3)
    ident = flat(reco.jets.ntrk)  # every jet kept, identified by its ntrk
    assert sorted(ident) == list(range(len(pt)))
    t_pt, t_eta, t_m, t_phi = pt[ident], eta[ident], 10.0, np.linspace(-3, 3, len(pt))[ident]
    ratio = flat(reco.jets.pt) / t_pt
    np.testing.assert_allclose(flat(reco.jets.m) / t_m, ratio, rtol=1e-12)  # the four-momentum is scaled
    np.testing.assert_array_equal(flat(reco.jets.phi), t_phi)
    assert np.all(np.diff(reco.jets.pt, axis=1) <= 0)  # re-sorted by reco pT
    for p, aeta in cells:
        sel = (t_pt == p) & (np.abs(t_eta) == aeta)
        n = sel.sum()
        scale = 1.02 if aeta < 2.5 else 0.97
        width = scale * np.sqrt((5 / p) ** 2 + 0.7**2 / p + 0.05**2)
        mean, std = ratio[sel].mean(), ratio[sel].std()
        assert n == n_events
        assert within(mean, scale, width / np.sqrt(n)), (p, aeta, mean, scale)
        assert within(std, width, width / np.sqrt(2 * n)), (p, aeta, std, width)
        inside = np.mean(np.abs(ratio[sel] - scale) < width)  # Gaussian: 68.27 % within one sigma
        assert within(inside, 0.6827, np.sqrt(0.6827 * 0.3173 / n))
        d_eta = flat(reco.jets.eta)[sel] - t_eta[sel]
        assert within(d_eta.mean(), 0.0, 0.01 / np.sqrt(n)) and within(d_eta.std(), 0.01, 0.01 / np.sqrt(2 * n))
    e = flat(reco.jets.E)
    np.testing.assert_allclose(e, np.sqrt((flat(reco.jets.pt) * np.cosh(flat(reco.jets.eta))) ** 2
                                          + flat(reco.jets.m) ** 2), rtol=1e-12)


def test_energy_scale_alone_scales_jets_and_moves_met_by_hand(tmp_path):
    c = card(tmp_path, jets={"energy_scale": {"form": "constant", "value": 1.1, "source": "tests"}})
    truth = objects(1, jet=jets(2, [100.0, 50.0], [0.0, 1.0], phi=[0.0, np.pi / 2]), met_px=[30.0], met_py=[0.0])
    reco = detector.respond(truth, c, ObjectConfig(), seed=1)
    assert flat(reco.jets.pt).tolist() == pytest.approx([110.0, 55.0], rel=1e-14)
    assert flat(reco.jets.E).tolist() == pytest.approx(flat(truth.jets.E * 1.1).tolist(), rel=1e-14)
    assert reco.jets.eta.tolist() == truth.jets.eta.tolist()
    # MET = truth MET - sum(reco - truth pT): (30 - 10, 0 - 5)
    assert reco.met.px.tolist() == pytest.approx([20.0], abs=1e-12)
    assert reco.met.py.tolist() == pytest.approx([-5.0], abs=1e-12)
    assert reco.met.pt.tolist() == pytest.approx([np.sqrt(425.0)], rel=1e-14)


def test_jets_below_the_threshold_after_the_response_are_dropped_and_migrate_up(tmp_path, gtt_sample):
    c = card(tmp_path, jets={"energy_scale": {"form": "constant", "value": 1.5, "source": "tests"}})
    truth = objects(1, jet=jets(3, [40.0, 15.0, 12.0], [0.0, 0.0, 0.0]))
    reco = detector.respond(truth, c, ObjectConfig(jet_pt_min=20.0), seed=1)
    assert flat(reco.jets.pt).tolist() == pytest.approx([60.0, 22.5])  # 12 x 1.5 = 18 < 20
    # build clusters truth jets from half the threshold, so 13.4 GeV truth jets scaled by 1.5 are there
    batch = gtt_sample[0]
    config = ObjectConfig(detector=str(c.path))
    low = build_objects(batch, dataclasses.replace(config, jet_pt_min=10.0)).jets
    expected = low.pt[low.pt * 1.5 >= 20.0] * 1.5
    got = detector.build(batch, config, seed=1).jets.pt
    assert ak.all(ak.num(got) >= ak.num(build_objects(batch, config).jets))
    assert ak.sum(ak.num(got)) > ak.sum(ak.num(build_objects(batch, config).jets))
    np.testing.assert_allclose(flat(got), flat(expected), rtol=1e-12)


def test_jvt_and_acceptance_keep_jets_with_the_cards_efficiency(tmp_path):
    full = yaml.safe_load(FULL.read_text())["jets"]
    c = card(tmp_path, jets={"eta_max": 4.5, "jvt": full["jvt"]})
    cells = [(30.0, 1.0, 0.85), (50.0, -2.0, 0.92), (15.0, 0.0, 0.85), (30.0, 3.0, 1.0), (70.0, 1.0, 1.0),
             (59.9, 2.39, 0.92), (100.0, 4.6, 0.0), (100.0, -4.5, 0.0)]
    n_events = 20_000
    pt = np.tile([x[0] for x in cells], n_events)
    eta = np.tile([x[1] for x in cells], n_events)
    truth = objects(n_events, jet=jets(len(cells), pt, eta), met_px=np.ones(n_events), met_py=np.full(n_events, 2.0))
    reco = detector.respond(truth, c, ObjectConfig(jet_pt_min=10.0), seed=5)
    kept = np.bincount(flat(reco.jets.ntrk) % len(cells), minlength=len(cells)) / n_events
    for k, (_, _, eff) in enumerate(cells):
        assert within(kept[k], eff, np.sqrt(eff * (1 - eff) / n_events) + 1e-12), (cells[k], kept[k])
    assert reco.met is truth.met  # nothing smeared: MET untouched
    kept_truth = truth.jets[ak.Array(np.isin(np.arange(len(pt)), flat(reco.jets.ntrk)).reshape(n_events, -1).tolist())]
    assert reco.jets.pt.tolist() == kept_truth.pt.tolist()  # kinematics and order as they were


# -- b-tagging --------------------------------------------------------------------------------------

EFFICIENCY = {  # the test card's numbers, written out: (flavour, pT, |eta|) -> WP-85, WP-77, WP-70, WP-60
    5: lambda pt, aeta: (0.85, 0.77, 0.62 if pt < 50 else 0.70 if pt < 100 else 0.74 if pt < 200 else 0.70, 0.60),
    4: lambda pt, aeta: (0.45, 0.25, (0.12 if pt < 100 else 0.10) if aeta < 1.5 else (0.14 if pt < 100 else 0.11),
                         0.04),
    15: lambda pt, aeta: (0.50, 0.20, 0.08, 0.02),
    0: lambda pt, aeta: (min(0.05 + 1e-4 * pt, 0.3), 0.01, 0.003, 0.001),
}


def _tag_sample(n_events: int):
    cells = [(label, pt, aeta) for label in (5, 4, 15, 0) for pt in (30.0, 75.0, 150.0, 400.0)
             for aeta in (1.0, 2.0, 3.0)]
    pt = np.tile([c[1] for c in cells], n_events)
    eta = np.tile([c[2] for c in cells], n_events) * np.where(np.arange(len(pt)) % 2 == 0, -1.0, 1.0)
    label = np.tile([c[0] for c in cells], n_events)
    return cells, objects(n_events, jet=jets(len(cells), pt, eta, label=label))


@pytest.mark.parametrize("point, k", [("WP-85", 0), ("WP-77", 1), ("WP-70", 2), ("WP-60", 3)])
def test_tagging_efficiency_closes_per_flavour_and_working_point(tmp_path, point, k):
    c = card(tmp_path, btagging=True)
    n_events = 4000
    cells, truth = _tag_sample(n_events)
    reco = detector.respond(truth, c, ObjectConfig(btag=WP[point]), seed=11)
    assert flat(reco.jets.ntrk).tolist() == flat(truth.jets.ntrk).tolist()  # tagging drops and moves nothing
    cell = flat(reco.jets.ntrk) % len(cells)
    tagged = flat(reco.jets.btag)
    bins = flat(reco.jets.tag_bin)
    np.testing.assert_array_equal(tagged, bins >= k + 2)  # the analysis' point is a cut on the bins, exactly
    for j, (label, pt, aeta) in enumerate(cells):
        eff = EFFICIENCY[label](pt, aeta)[k] if aeta < 2.5 else 0.0
        rate = tagged[cell == j].mean()
        assert within(rate, eff, np.sqrt(eff * (1 - eff) / n_events) + 1e-12), (point, label, pt, aeta, rate, eff)


def test_pseudo_continuous_bins_reproduce_the_nested_working_points(tmp_path):
    c = card(tmp_path, btagging=True)
    n_events = 4000
    cells, truth = _tag_sample(n_events)
    reco = detector.respond(truth, c, ObjectConfig(btag=WP["WP-70"]), seed=12)
    cell = flat(reco.jets.ntrk) % len(cells)
    bins = flat(reco.jets.tag_bin)
    assert set(np.unique(bins)) == {1, 2, 3, 4, 5}
    for j, (label, pt, aeta) in enumerate(cells):
        effs = EFFICIENCY[label](pt, aeta) if aeta < 2.5 else (0.0,) * 4
        edges = (1.0, *effs, 0.0)  # P(bin = b) = eff(point b - 1) - eff(point b)
        for b in range(1, 6):
            p = edges[b - 1] - edges[b]
            frac = np.mean(bins[cell == j] == b)
            assert within(frac, p, np.sqrt(p * (1 - p) / n_events) + 1e-12), (label, pt, aeta, b, frac, p)


def test_without_the_analysis_working_point_tagging_stays_the_analysis_own(tmp_path):
    c = card(tmp_path, btagging=True)
    _, truth = _tag_sample(10)
    for config in (ObjectConfig(btag=WP["MV2c10-77"]), ObjectConfig()):
        reco = detector.respond(truth, c, config, seed=1)
        assert reco.jets.btag.tolist() == truth.jets.btag.tolist()
        assert reco.jets.tag_bin.tolist() == ak.where(truth.jets.btag, 5, 1).tolist()


def test_tagging_closes_on_generated_jets(gtt_sample, tmp_path):
    """Pythia jets (Gtt, 120 events): per flavour, the number of tagged jets is the sum of the
    card's efficiency at each jet's own pT and eta, within its binomial error."""
    c = card(tmp_path, btagging=True)
    config = ObjectConfig(btag=WP["WP-70"], detector=str(c.path))
    reco = detector.build(gtt_sample[0], config, seed=2)
    pt, eta, label, tagged = (flat(reco.jets[f]) for f in ("pt", "eta", "label", "btag"))
    inside = np.abs(eta) < 2.5
    for flavour in (5, 4, 0):
        sel = label == flavour
        eff = np.array([EFFICIENCY[flavour](p, abs(e))[2] if abs(e) < 2.5 else 0.0 for p, e in zip(pt[sel], eta[sel])])
        assert sel.sum() > 50
        assert within(tagged[sel].sum(), eff.sum(), np.sqrt((eff * (1 - eff)).sum())), flavour
    assert not tagged[~inside].any()


# -- leptons -------------------------------------------------------------------------------------------


def test_electron_efficiencies_flags_and_resolution(tmp_path):
    c = card(tmp_path, electrons=True)
    cells = [(10.0, 0.5), (30.0, 0.5), (10.0, -2.0), (30.0, 2.0), (30.0, 2.6)]
    loose = {0: 0.90, 1: 0.95, 2: 0.85, 3: 0.92, 4: 0.0}
    tight = {0: 0.7, 1: 0.7, 2: 0.6, 3: 0.6, 4: 0.0}
    n_events = 20_000
    pt = np.tile([x[0] for x in cells], n_events)
    eta = np.tile([x[1] for x in cells], n_events)
    truth = objects(n_events, electron=leptons(len(cells), pt, eta, 11))
    reco = detector.respond(truth, c, ObjectConfig(), seed=21)
    ident = flat(reco.electrons.ptvarcone20).astype(int)
    cell = ident % len(cells)
    flags = {f: flat(reco.electrons[f]) for f in ("id_loose", "id_medium", "id_tight")}
    assert flags["id_loose"].all()  # failing Loose: not reconstructed
    assert np.all(flags["id_medium"] <= flags["id_loose"]) and np.all(flags["id_tight"] <= flags["id_medium"])
    for k in range(len(cells)):
        for name, eff in (("kept", loose[k]), ("id_medium", 0.8 if k < 4 else 0.0), ("id_tight", tight[k])):
            frac = (cell == k).sum() / n_events if name == "kept" else flags[name][cell == k].sum() / n_events
            assert within(frac, eff, np.sqrt(eff * (1 - eff) / n_events) + 1e-12), (cells[k], name, frac, eff)
    ratio = flat(reco.electrons.E) / (pt * np.cosh(eta))[ident]
    assert within(ratio.mean(), 1.0, 0.02 / np.sqrt(len(ratio)))
    assert within(ratio.std(), 0.02, 0.02 / np.sqrt(2 * len(ratio)))
    np.testing.assert_allclose(flat(reco.electrons.eta), eta[ident], rtol=0, atol=1e-12)


def test_muon_resolution_depends_on_pt_and_muons_keep_their_isolation(tmp_path):
    c = card(tmp_path, muons=True)
    n_events = 20_000
    pt = np.tile([20.0, 100.0, 500.0, 60.0], n_events)
    eta = np.tile([0.3, -1.5, 2.6, 2.8], n_events)  # 2.8 is outside the muon system
    truth = objects(n_events, muon=leptons(4, pt, eta, 13))
    reco = detector.respond(truth, c, ObjectConfig(), seed=22)
    ident = flat(reco.muons.ptvarcone20).astype(int)
    ratio = flat(reco.muons.pt) / pt[ident]
    for k, p in enumerate((20.0, 100.0, 500.0)):
        sel = ident % 4 == k
        width = 0.01 + 1e-4 * p
        assert within(sel.sum() / n_events, 0.98, np.sqrt(0.98 * 0.02 / n_events))
        assert within(ratio[sel].mean(), 1.0, width / np.sqrt(sel.sum()))
        assert within(ratio[sel].std(), width, width / np.sqrt(2 * sel.sum()))
    assert not np.any(ident % 4 == 3)
    assert set(flat(reco.muons.ptvarcone20)) <= set(flat(truth.muons.ptvarcone20))


# -- missing transverse momentum -------------------------------------------------------------------------


def test_met_is_the_truth_met_exactly_with_smearing_off(tmp_path, gtt_sample):
    full = yaml.safe_load(FULL.read_text())
    no_smearing = {"jets": {"eta_max": 2.5, "jvt": full["jets"]["jvt"]}, "btagging": True,
                   "electrons": {k: full["electrons"][k] for k in ("eta_max", "working_points")},
                   "muons": {k: full["muons"][k] for k in ("eta_max", "working_points")}}
    c = card(tmp_path, **no_smearing)
    config = ObjectConfig(btag=WP["WP-70"], detector=str(c.path))
    truth = build_objects(gtt_sample[0], config, seed=4)
    reco = detector.build(gtt_sample[0], config, seed=4)
    assert ak.sum(ak.num(reco.jets)) < ak.sum(ak.num(truth.jets))  # objects were dropped ...
    for f in ("pt", "phi", "px", "py"):  # ... and MET did not move
        np.testing.assert_array_equal(ak.to_numpy(reco.met[f]), ak.to_numpy(truth.met[f]))


def test_met_soft_term_has_the_cards_width_per_component(tmp_path):
    c = card(tmp_path, met=True)
    n_events = 40_000
    truth = objects(n_events, met_px=np.full(n_events, 50.0), met_py=np.zeros(n_events))
    reco = detector.respond(truth, c, ObjectConfig(), seed=31)
    dx, dy = ak.to_numpy(reco.met.px) - 50.0, ak.to_numpy(reco.met.py)
    for d in (dx, dy):
        assert within(d.mean(), 0.0, 10 / np.sqrt(n_events)) and within(d.std(), 10.0, 10 / np.sqrt(2 * n_events))
    assert within(np.corrcoef(dx, dy)[0, 1], 0.0, 1 / np.sqrt(n_events))
    np.testing.assert_allclose(ak.to_numpy(reco.met.pt), np.hypot(50 + dx, dy), rtol=1e-14)


def test_met_follows_the_smeared_objects_event_by_event(tmp_path, gtt_sample):
    """Full card without the soft term: reco MET + the reco pT of the reconstructed objects = truth
    MET + the truth pT of the same objects, per event and component (objects are matched by their
    azimuth, which the response never changes)."""
    c = card(tmp_path, jets=True, electrons=True, muons=True)
    config = ObjectConfig(detector=str(c.path))
    batch = gtt_sample[0]
    reco = detector.build(batch, config, seed=6)
    truth = build_objects(batch, dataclasses.replace(config, jet_pt_min=10.0), seed=6)  # as build clusters them
    totals = {"reco": [ak.to_numpy(reco.met.px), ak.to_numpy(reco.met.py)],
              "truth": [ak.to_numpy(truth.met.px), ak.to_numpy(truth.met.py)]}
    for coll in ("jets", "electrons", "muons"):
        r, t = getattr(reco, coll), getattr(truth, coll)
        kept = ak.Array([[phi in set(rs) for phi in ts] for rs, ts in zip(r.phi.tolist(), t.phi.tolist())])
        assert ak.all(ak.sum(kept, axis=1) == ak.num(r))  # every reconstructed object has its truth one
        for side, chosen in (("reco", r), ("truth", t[kept])):
            totals[side][0] = totals[side][0] + ak.to_numpy(ak.sum(chosen.px, axis=1))
            totals[side][1] = totals[side][1] + ak.to_numpy(ak.sum(chosen.py, axis=1))
    np.testing.assert_allclose(totals["reco"][0], totals["truth"][0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(totals["reco"][1], totals["truth"][1], rtol=0, atol=1e-9)
    assert np.abs(ak.to_numpy(reco.met.px) - ak.to_numpy(truth.met.px)).max() > 1.0  # MET did move


# -- random numbers ---------------------------------------------------------------------------------


def _all(obj: Objects) -> dict:
    return {"jets": obj.jets.tolist(), "electrons": obj.electrons.tolist(), "muons": obj.muons.tolist(),
            "met": obj.met.tolist()}


def test_results_do_not_depend_on_chunks_order_or_reruns(gtt_sample):
    batch = gtt_sample[0]
    config = ObjectConfig(btag=WP["WP-70"], detector=str(FULL))
    whole = _all(detector.build(batch, config, seed=5))
    parts = [_all(detector.build(batch[lo:hi], config, seed=5)) for lo, hi in ((0, 37), (37, 50), (50, 120))]
    assert {k: sum((p[k] for p in parts), []) for k in whole} == whole
    backwards = _all(detector.build(batch[::-1], config, seed=5))
    assert {k: v[::-1] for k, v in backwards.items()} == whole
    assert _all(detector.build(batch, config, seed=5)) == whole
    other = _all(detector.build(batch, config, seed=6))
    assert other["jets"] != whole["jets"] and other["met"] != whole["met"]
    assert ak.all(detector.build(batch, config, seed=5).jets.pt >= config.jet_pt_min)


def test_truth_changes_nothing(gtt_sample):
    batch = gtt_sample[0]
    config = ObjectConfig(btag=WP["WP-70"])
    truth = build_objects(batch, config, seed=8)
    reco = detector.build(batch, config, seed=8)
    assert reco.jets.tolist() == truth.jets.tolist()
    assert reco.jets.tag_bin.tolist() == ak.where(truth.jets.btag, 5, 1).tolist()  # truth tagging: bins 5 and 1
    for coll in ("electrons", "muons"):
        got = getattr(reco, coll)
        assert got[list(getattr(truth, coll).fields)].tolist() == getattr(truth, coll).tolist()
        assert all(ak.all(got[f]) for f in ("id_loose", "id_medium", "id_tight"))
    assert reco.met is truth.met or reco.met.tolist() == truth.met.tolist()
    assert reco.taus.tolist() == truth.taus.tolist()


def test_empty_chunks_and_events_without_objects(tmp_path):
    c = detector.load(FULL)
    for n in (0, 3):
        reco = detector.respond(objects(n), c, ObjectConfig(btag=WP["WP-70"]), seed=1)
        assert len(reco) == n and ak.sum(ak.num(reco.jets)) == 0
        assert len(reco.met.pt) == n
