"""Jets: clustering, track counts, flavour labels, b-tagging and large-R reclustering, on
constructed events (answers by hand) and cross-checked against fastjet's classic per-event API
on the Pythia sample."""

from __future__ import annotations

import math
from typing import NamedTuple

import awkward as ak
import fastjet
import numpy as np
import pytest

from recast.objects import BTagWorkingPoint, ObjectConfig, btag, build_objects, cluster_jets, recluster
from recast.objects.kinematics import pt_eta_phi_m, wrap_phi

FROM_HADRON = 1


class P(NamedTuple):
    """A final-state particle of a constructed event (massless unless m is given)."""
    pt: float
    eta: float
    phi: float
    pid: int = 211
    charge: float = 1.0
    origin: int = 0
    m: float = 0.0


def _four(pt, eta, phi, m):
    pt, eta, phi, m = (np.asarray(x, np.float64) for x in (pt, eta, phi, m))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return {"px": px, "py": py, "pz": pz, "E": np.sqrt(px**2 + py**2 + pz**2 + m**2)}


def _jagged(rows_per_event, columns):
    counts = [len(r) for r in rows_per_event]
    rows = [r for ev in rows_per_event for r in ev]
    fields = {name: np.array([r[k] if k < len(r) else default for r in rows], dtype)
              for k, (name, dtype, default) in enumerate(columns)}
    return fields, counts


def make_batch(events: list[dict]) -> ak.Array:
    """The event-batch layout (see recast.events.record) zipped from lists per event:
    ``particles`` of :class:`P`, ``bhadrons``/``chadrons`` of (pt, eta, phi[, m]),
    ``taus`` of (visible pt, eta, phi, hadronic)."""
    def collection(key, columns, extra):
        f, counts = _jagged([ev.get(key, []) for ev in events], columns)
        four = _four(f["pt"], f["eta"], f["phi"], f.get("m", np.zeros(len(f["pt"]))))
        return ak.unflatten(ak.zip({**four, **{k: f[k] for k in extra}}), counts)

    particles = collection("particles", [("pt", np.float64, 0), ("eta", np.float64, 0), ("phi", np.float64, 0),
                                         ("pid", np.int32, 211), ("charge", np.float32, 1), ("origin", np.uint8, 0),
                                         ("m", np.float64, 0)], ("pid", "charge", "origin"))
    hadron_cols = [("pt", np.float64, 0), ("eta", np.float64, 0), ("phi", np.float64, 0), ("m", np.float64, 0)]
    bhad = collection("bhadrons", hadron_cols, ())
    chad = collection("chadrons", hadron_cols, ())
    taus = collection("taus", [("pt", np.float64, 0), ("eta", np.float64, 0), ("phi", np.float64, 0),
                               ("hadronic", bool, True), ("charge", np.float32, -1), ("origin", np.uint8, 0)],
                      ("charge", "hadronic", "origin"))
    n = len(events)
    return ak.zip({"event_number": np.arange(1, n + 1, dtype=np.int64), "weight": np.ones(n),
                   "particles": particles, "bhadrons": bhad, "chadrons": chad, "taus": taus}, depth_limit=1)


def all_inputs(batch):
    return ak.ones_like(batch.particles.px, dtype=bool)


def jets_of(events, **kw):
    batch = make_batch(events)
    return cluster_jets(batch, all_inputs(batch), **kw)


# --- clustering ------------------------------------------------------------------------------------

def test_two_particles_03_apart_make_one_jet_with_their_summed_momentum():
    parts = [P(50, 0.0, 0.0), P(30, 0.0, 0.3, pid=22, charge=0)]
    jets = jets_of([{"particles": parts}])
    assert ak.num(jets).tolist() == [1]
    j = jets[0][0]
    four = _four([50, 30], [0, 0], [0, 0.3], [0, 0])
    for c in ("px", "py", "pz", "E"):
        assert j[c] == pytest.approx(four[c].sum())
    assert j.m == pytest.approx(math.sqrt(2 * 50 * 30 * (1 - math.cos(0.3))))
    assert j.pt == pytest.approx(math.hypot(50 + 30 * math.cos(0.3), 30 * math.sin(0.3)))
    assert j.ntrk == 1


def test_particles_06_apart_make_two_pt_ordered_jets():
    jets = jets_of([{"particles": [P(30, 0.0, 0.6), P(50, 0.0, 0.0)]}])
    assert jets.pt.tolist() == [[pytest.approx(50.0), pytest.approx(30.0)]]
    assert jets.phi.tolist() == [[pytest.approx(0.0), pytest.approx(0.6)]]
    # with R = 1.0 they are one jet
    assert ak.num(jets_of([{"particles": [P(30, 0.0, 0.6), P(50, 0.0, 0.0)]}], radius=1.0)).tolist() == [1]


def test_jets_pt_ordered_and_pt_threshold():
    rng = np.random.default_rng(4)
    events = [{"particles": [P(pt, eta, phi) for pt, eta, phi in
                             zip(rng.uniform(1, 200, 40), rng.uniform(-3, 3, 40), rng.uniform(-np.pi, np.pi, 40))]}
              for _ in range(20)]
    jets = jets_of(events)
    pt = jets.pt
    assert ak.all(pt[:, 1:] <= pt[:, :-1])
    assert ak.all(pt > 20.0)
    assert ak.sum(ak.num(jets)) > 100
    # a lone 15 GeV particle: no jet at the default 20 GeV, a jet at 10 GeV
    assert ak.num(jets_of([{"particles": [P(15, 0, 0)]}])).tolist() == [0]
    assert ak.num(jets_of([{"particles": [P(15, 0, 0)]}], pt_min=10.0)).tolist() == [1]


def test_empty_events_and_no_inputs():
    batch = make_batch([{"particles": [P(50, 0, 0)]}, {}, {"particles": [P(30, 1, 1)]}])
    jets = cluster_jets(batch, all_inputs(batch))
    assert ak.num(jets).tolist() == [1, 0, 1]
    assert ak.num(cluster_jets(batch, ~all_inputs(batch))).tolist() == [0, 0, 0]
    assert ak.num(cluster_jets(batch, all_inputs(batch), b_labelling="ghost")).tolist() == [1, 0, 1]


def test_ntrk_counts_charged_constituents_above_half_a_gev_in_the_tracker():
    central = [P(20, 0.0, 0.0),  # track
               P(0.4, 0.05, 0.0, pid=-211, charge=-1),  # too soft
               P(10, 0.0, 0.05, pid=22, charge=0),  # neutral
               P(1.0, 0.0, -0.05, pid=321),  # track
               P(5, -0.05, 0.0, pid=2112, charge=0)]  # neutral
    forward = [P(20, 2.45, 2.0), P(10, 2.6, 2.0, pid=-211, charge=-1)]  # the second is outside |eta| < 2.5
    jets = jets_of([{"particles": central + forward}])
    assert ak.num(jets).tolist() == [2]
    assert jets.ntrk.tolist() == [[2, 1]]
    assert jets.pt[0][0] == pytest.approx(36.4, rel=0.01)  # all five central particles are in the jet


def test_neutrinos_and_prompt_leptons_are_not_clustered():
    parts = [P(100, 0.0, 0.0, pid=14, charge=0),  # neutrino
             P(100, 0.0, 2.0, pid=13, charge=-1),  # prompt muon
             P(90, 0.0, -2.0, pid=-13, charge=1, origin=FROM_HADRON),  # muon from a hadron decay: clustered
             P(80, 1.0, 1.0, pid=-11, charge=1, origin=FROM_HADRON),  # electron from a hadron decay: clustered
             P(300, -1.0, 3.0, pid=1000022, charge=0),  # neutralino
             P(50, -1.5, -1.0)]
    batch = make_batch([{"particles": parts}])
    jets = build_objects(batch, ObjectConfig()).jets
    assert jets.pt.tolist() == [[pytest.approx(90), pytest.approx(80), pytest.approx(50)]]
    jets = build_objects(batch, ObjectConfig(jet_inputs="all-visible")).jets
    assert jets.pt.tolist() == [[pytest.approx(100), pytest.approx(90), pytest.approx(80), pytest.approx(50)]]
    assert jets.phi[0][0] == pytest.approx(2.0)


# --- flavour labels -------------------------------------------------------------------------------

def _one_jet_with(**hadrons):
    return {"particles": [P(50, 0.0, 0.0)], **hadrons}


@pytest.mark.parametrize("labelling", ["cone", "ghost"])
def test_b_label_distance_and_pt_threshold(labelling):
    events = [_one_jet_with(bhadrons=[(20, 0.0, 0.25)]),  # inside 0.3 -> b
              _one_jet_with(bhadrons=[(20, 0.0, 0.35)]),  # outside the cone, inside the R = 0.4 jet
              _one_jet_with(bhadrons=[(20, 0.5, 0.0)]),  # outside both
              _one_jet_with(bhadrons=[(4, 0.0, 0.1)]),  # pT 4 GeV < 5 GeV: ignored
              _one_jet_with(bhadrons=[(6, 0.0, -0.1)]),
              _one_jet_with()]
    jets = jets_of(events, b_labelling=labelling)
    assert ak.num(jets).tolist() == [1] * 6
    want = [5, 0, 0, 0, 5, 0] if labelling == "cone" else [5, 5, 0, 0, 5, 0]
    assert ak.flatten(jets.label).tolist() == want


@pytest.mark.parametrize("labelling", ["cone", "ghost"])
def test_b_hadron_between_two_jets_labels_only_the_nearer(labelling):
    two = [P(50, 0.0, 0.0), P(40, 0.0, 0.45)]
    events = [{"particles": two, "bhadrons": [(20, 0.0, 0.2)]},  # 0.2 from the first, 0.25 from the second
              {"particles": two, "bhadrons": [(20, 0.0, 0.27)]}]  # 0.27 from the first, 0.18 from the second
    jets = jets_of(events, b_labelling=labelling)
    assert jets.pt.tolist() == [[pytest.approx(50), pytest.approx(40)]] * 2
    assert jets.label.tolist() == [[5, 0], [0, 5]]


@pytest.mark.parametrize("labelling", ["cone", "ghost"])
def test_c_and_tau_labels_and_their_priority(labelling):
    events = [_one_jet_with(chadrons=[(10, 0.0, 0.1)]),
              _one_jet_with(chadrons=[(10, 0.0, 0.1)], bhadrons=[(10, 0.1, 0.0)]),  # b wins
              _one_jet_with(taus=[(20, 0.0, 0.1, True)]),  # hadronic tau
              _one_jet_with(taus=[(20, 0.0, 0.1, False)]),  # leptonic tau: no label
              _one_jet_with(taus=[(20, 0.0, 0.1, True)], chadrons=[(10, 0.0, -0.1)]),  # c before tau
              _one_jet_with(taus=[(4, 0.0, 0.1, True)]),  # visible pT below 5 GeV
              _one_jet_with(chadrons=[(4, 0.0, 0.1)])]
    jets = jets_of(events, b_labelling=labelling)
    assert ak.flatten(jets.label).tolist() == [4, 5, 15, 0, 4, 0, 0]


def test_label_cone_and_pt_parameters():
    events = [_one_jet_with(bhadrons=[(4, 0.0, 0.35)])]
    assert jets_of(events).label.tolist() == [[0]]
    assert jets_of(events, label_dr=0.4, label_pt_min=3.0).label.tolist() == [[5]]
    with pytest.raises(ValueError):
        jets_of(events, b_labelling="nearest")


def test_ghosts_do_not_change_jets_or_track_counts():
    events = [{"particles": [P(50, 0, 0), P(5, 0.1, 0.1, pid=22, charge=0), P(30, 1, 2), P(2, 1.1, 2)],
               "bhadrons": [(20, 0.05, 0.0), (30, 1.0, 2.1)], "chadrons": [(10, 1.0, 1.9)],
               "taus": [(15, -1, -1, True)]}]
    cone, ghost = jets_of(events), jets_of(events, b_labelling="ghost")
    for c in ("px", "py", "pz", "E"):
        np.testing.assert_allclose(ak.to_numpy(ak.flatten(ghost[c])), ak.to_numpy(ak.flatten(cone[c])), rtol=1e-12)
    assert ghost.ntrk.tolist() == cone.ntrk.tolist() == [[1, 2]]
    assert ghost.label.tolist() == cone.label.tolist() == [[5, 5]]


# --- the Pythia sample: fastjet's classic API, labels by hand, ghost vs cone --------------------------

def _dr(eta1, phi1, eta2, phi2):
    return np.hypot(eta1 - eta2, wrap_phi(phi1 - phi2))


def _jet_inputs_by_hand(p):
    """build_objects' default jet inputs for one event, written out independently: visible
    particles without prompt e/mu and without prompt photons within 0.1 of a prompt e/mu."""
    px, py, pz, e = (ak.to_numpy(p[c]) for c in ("px", "py", "pz", "E"))
    pid, q, origin = ak.to_numpy(p.pid), ak.to_numpy(p.charge), ak.to_numpy(p.origin)
    apid = np.abs(pid)
    _, eta, phi, _ = pt_eta_phi_m(px, py, pz, e)
    invisible = np.isin(apid, (12, 14, 16)) | ((apid >= 1000000) & (q == 0))
    prompt = (origin & FROM_HADRON) == 0
    lepton = prompt & ((apid == 11) | (apid == 13))
    dressed = np.zeros(len(pid), bool)
    for g in np.flatnonzero(prompt & (pid == 22)):
        dressed[g] = bool((_dr(eta[g], phi[g], eta[lepton], phi[lepton]) < 0.1).any())
    return ~invisible & ~lepton & ~dressed, (px, py, pz, e, q)


def _labels_by_hand(ev, jet_eta, jet_phi):
    counts = []
    hadrons = {"b": ev.bhadrons, "c": ev.chadrons, "tau": ev.taus[ev.taus.hadronic]}
    for kind, had in hadrons.items():
        pt, eta, phi, _ = pt_eta_phi_m(*(ak.to_numpy(had[c]) for c in ("px", "py", "pz", "E")))
        n = np.zeros(len(jet_eta), int)
        for h in np.flatnonzero(pt > 5.0):
            d = _dr(eta[h], phi[h], jet_eta, jet_phi)
            if len(d) and d.min() < 0.3:
                n[np.argmin(d)] += 1
        counts.append(n)
    nb, nc, ntau = counts
    return np.where(nb > 0, 5, np.where(nc > 0, 4, np.where(ntau > 0, 15, 0)))


def test_jets_agree_with_fastjet_classic_api_per_event(gtt_sample):
    batch = gtt_sample[0]
    obj = build_objects(batch, ObjectConfig())
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)
    n_jets, n_labelled = 0, 0
    for ev in range(len(batch)):
        mask, (px, py, pz, e, q) = _jet_inputs_by_hand(batch.particles[ev])
        inputs = []
        for i in np.flatnonzero(mask):
            pj = fastjet.PseudoJet(float(px[i]), float(py[i]), float(pz[i]), float(e[i]))
            pj.set_user_index(int(i))
            inputs.append(pj)
        cs = fastjet.ClusterSequence(inputs, jetdef)
        ref = fastjet.sorted_by_pt(cs.inclusive_jets(20.0))
        got = obj.jets[ev]
        assert len(got) == len(ref), f"event {ev}: {len(got)} jets, fastjet {len(ref)}"
        np.testing.assert_allclose(ak.to_numpy(got.pt), [j.pt() for j in ref], rtol=0, atol=1e-6)
        np.testing.assert_allclose(ak.to_numpy(got.eta), [j.eta() for j in ref], rtol=0, atol=1e-6)
        np.testing.assert_allclose(wrap_phi(ak.to_numpy(got.phi) - np.array([j.phi() for j in ref])), 0.0,
                                   atol=1e-6)
        ntrk = [sum(1 for c in j.constituents()
                    if q[c.user_index()] != 0 and c.pt() > 0.5 and abs(c.eta()) < 2.5) for j in ref]
        assert ak.to_list(got.ntrk) == ntrk
        labels = _labels_by_hand(batch[ev], np.array([j.eta() for j in ref]),
                                 wrap_phi(np.array([j.phi() for j in ref])))
        assert ak.to_list(got.label) == labels.tolist()
        n_jets += len(ref)
        n_labelled += int(np.count_nonzero(labels))
    assert n_jets > 500 and n_labelled > 100  # the sample is not trivially empty


def test_ghost_and_cone_labels_mostly_agree_on_the_sample(gtt_sample):
    batch = gtt_sample[0]
    cone = build_objects(batch, ObjectConfig()).jets
    ghost = build_objects(batch, ObjectConfig(b_labelling="ghost")).jets
    assert ak.num(cone).tolist() == ak.num(ghost).tolist()
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(ghost.pt)), ak.to_numpy(ak.flatten(cone.pt)), rtol=1e-9)
    lc, lg = (ak.to_numpy(ak.flatten(j.label)) for j in (cone, ghost))
    agreement = float(np.mean(lc == lg))
    # measured 0.985 over 1171 jets (seed 11); the two schemes differ at the jet edges
    assert agreement >= 0.95, agreement
    assert np.count_nonzero(lc == 5) > 200 and np.count_nonzero(lg == 5) > 200


# --- b-tagging --------------------------------------------------------------------------------------

WP = BTagWorkingPoint(name="test77", source="test", pt_edges=(20.0, 50.0, 100.0), eff_b=(0.6, 0.7),
                      eff_b_overflow=0.5, eff_c=0.2, eff_tau=0.1, eff_light=0.01)


def _jet_table(n_events, per_event, pt, eta, label):
    n = n_events * per_event
    cols = {k: np.broadcast_to(np.asarray(v, np.float64 if k != "label" else np.int8), (n,)).copy()
            for k, v in (("pt", pt), ("eta", eta), ("label", label))}
    return ak.unflatten(ak.zip(cols), np.full(n_events, per_event))


def test_efficiency_lookup_by_pt_bin_and_overflow():
    pt = np.array([10.0, 20.0, 49.9, 50.0, 99.0, 100.0, 2000.0])
    np.testing.assert_allclose(WP.efficiency(np.full(7, 5), pt), [0.6, 0.6, 0.6, 0.7, 0.7, 0.5, 0.5])
    np.testing.assert_allclose(WP.efficiency(np.array([4, 15, 0, 5]), np.full(4, 60.0)), [0.2, 0.1, 0.01, 0.7])


def test_working_point_validation():
    with pytest.raises(ValueError):
        WP.replace(pt_edges=(20.0, 50.0))
    with pytest.raises(ValueError):
        WP.replace(pt_edges=(50.0, 20.0, 100.0))
    with pytest.raises(ValueError):
        WP.replace(eff_c=1.2)


def test_no_tag_beyond_eta_max():
    always = WP.replace(eff_b=(1.0, 1.0), eff_b_overflow=1.0, eff_c=1.0, eff_tau=1.0, eff_light=1.0)
    jets = ak.Array([[{"pt": 60.0, "eta": 2.4, "label": 5}, {"pt": 60.0, "eta": -2.6, "label": 5},
                      {"pt": 60.0, "eta": 2.6, "label": 0}, {"pt": 60.0, "eta": -2.49, "label": 0}]])
    assert btag(jets, always, np.array([1]), seed=0).tolist() == [[True, False, False, True]]
    never = always.replace(eff_b=(0.0, 0.0), eff_b_overflow=0.0, eff_c=0.0, eff_tau=0.0, eff_light=0.0)
    assert btag(jets, never, np.array([1]), seed=0).tolist() == [[False] * 4]


@pytest.mark.parametrize("pt,label,eff", [(60.0, 5, 0.7), (30.0, 5, 0.6), (700.0, 5, 0.5), (60.0, 4, 0.2),
                                          (60.0, 15, 0.1), (60.0, 0, 0.01)])
def test_tagged_fraction_matches_the_efficiency(pt, label, eff):
    n_events, per_event = 4000, 5
    jets = _jet_table(n_events, per_event, pt, 0.5, label)
    tags = btag(jets, WP, np.arange(1, n_events + 1), seed=3)
    n = n_events * per_event
    frac = ak.sum(tags) / n
    assert abs(frac - eff) < 4 * math.sqrt(eff * (1 - eff) / n), frac
    # no position in the event is favoured: each jet index on its own within 4 sigma too
    per_index = ak.to_numpy(ak.sum(ak.values_astype(tags, np.int64), axis=0)) / n_events
    assert np.all(np.abs(per_index - eff) < 4 * math.sqrt(eff * (1 - eff) / n_events))


def test_btag_determinism_seed_and_chunking():
    n_events = 3000
    jets = _jet_table(n_events, 4, 60.0, 0.0, 5)
    numbers = np.arange(101, 101 + n_events)
    a = btag(jets, WP, numbers, seed=7)
    assert btag(jets, WP, numbers, seed=7).tolist() == a.tolist()
    chunks = [btag(jets[lo:hi], WP, numbers[lo:hi], seed=7) for lo, hi in ((0, 1000), (1000, 1700), (1700, 3000))]
    assert ak.concatenate(chunks).tolist() == a.tolist()
    # reversed event order: each event keeps its own tags
    assert btag(jets[::-1], WP, numbers[::-1], seed=7)[::-1].tolist() == a.tolist()
    b = btag(jets, WP, numbers, seed=8)
    differ = float(ak.mean(ak.flatten(a != b)))
    assert abs(differ - 2 * 0.7 * 0.3) < 0.05, differ  # independent draws differ with 2 eff (1 - eff)
    # the working point's name is part of the stream
    assert btag(jets, WP.replace(name="other"), numbers, seed=7).tolist() != a.tolist()


def test_btag_in_build_objects_is_chunk_independent(gtt_sample):
    batch = gtt_sample[0]
    config = ObjectConfig(btag=WP)
    whole = build_objects(batch, config, seed=5).jets.btag
    parts = [build_objects(batch[lo:hi], config, seed=5).jets.btag for lo, hi in ((0, 37), (37, 50), (50, 120))]
    assert ak.concatenate(parts).tolist() == whole.tolist()
    assert ak.sum(whole) > 100
    assert build_objects(batch, config, seed=6).jets.btag.tolist() != whole.tolist()
    assert ak.sum(build_objects(batch, ObjectConfig()).jets.btag) == 0  # no working point: no tags


# --- large-R reclustering ----------------------------------------------------------------------------

def small_jets(*events):
    """Small-R jets (pt, eta, phi), massless, in the layout cluster_jets returns."""
    rows = [r for ev in events for r in ev]
    pt, eta, phi = (np.array([r[k] for r in rows], np.float64) for k in range(3))
    four = _four(pt, eta, phi, np.zeros(len(rows)))
    _, _, _, m = pt_eta_phi_m(four["px"], four["py"], four["pz"], four["E"])
    return ak.unflatten(ak.zip({**four, "pt": pt, "eta": eta, "phi": phi, "m": m}), [len(ev) for ev in events])


def test_trimming_drops_the_soft_small_jet():
    jets = small_jets([(200, 0.0, 0.0), (100, 0.0, 0.5), (20, 0.3, 0.2)])
    large = recluster(jets, radius=0.8, fcut=0.1, pt_min=100.0, eta_max=2.0)
    assert ak.num(large).tolist() == [1]
    j = large[0][0]
    # untrimmed pT > 300 GeV, so the 20 GeV jet (< 0.1 x pT) is dropped; two massless jets remain
    assert j.n_constituents == 2
    assert j.pt == pytest.approx(math.sqrt(200**2 + 100**2 + 2 * 200 * 100 * math.cos(0.5)))
    assert j.m == pytest.approx(math.sqrt(2 * 200 * 100 * (1 - math.cos(0.5))))
    # a lower fcut keeps all three
    j3 = recluster(jets, fcut=0.05)[0][0]
    assert j3.n_constituents == 3
    four = _four([200, 100, 20], [0, 0, 0.3], [0, 0.5, 0.2], [0, 0, 0])
    assert [j3[c] for c in ("px", "py", "pz", "E")] == pytest.approx([four[c].sum() for c in ("px", "py", "pz", "E")])


def test_large_r_selection_and_order():
    jets = small_jets(
        [(95, 0.0, 0.0), (9, 0.0, 0.3)],  # untrimmed 103.6 GeV, trimmed 95 GeV: fails pT > 100
        [(300, 2.1, 0.0), (150, 1.9, 2.0), (200, -1.0, -2.0)],  # |eta| 2.1 fails, the others pT-ordered
        [],
        [(90, 0.0, 0.0)],
    )
    large = recluster(jets, radius=0.8, fcut=0.1, pt_min=100.0, eta_max=2.0)
    assert ak.num(large).tolist() == [0, 2, 0, 0]
    assert large.pt[1].tolist() == [pytest.approx(200.0), pytest.approx(150.0)]
    assert large.eta[1].tolist() == [pytest.approx(-1.0), pytest.approx(1.9)]
    # the same jets with the untrimmed pT in range of the cut
    assert ak.num(recluster(jets, fcut=0.0)).tolist() == [1, 2, 0, 0]
    assert recluster(jets, fcut=0.0).pt[0][0] == pytest.approx(math.hypot(95 + 9 * math.cos(0.3), 9 * math.sin(0.3)))
