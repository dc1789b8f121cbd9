"""Generator records -> event batch (ancestry kernel) -> leptons, MET, isolation, overlap removal
and efficiencies, on hand-built events whose answers are worked out by hand."""

from __future__ import annotations

import math
import multiprocessing

import awkward as ak
import numpy as np
import pytest

from recast.events.record import FROM_BSM, FROM_HADRON, FROM_TAU, GenRecord, _ancestor_flags, to_batch
from recast.objects import ObjectConfig, Objects, apply_efficiency, build_objects, remove_overlap
from recast.objects.overlap import boosted_cone


def p4(pt, eta, phi, m=0.0):
    """(px, py, pz, E) of a particle given pT, eta, phi and mass."""
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return (px, py, pz, math.sqrt(px * px + py * py + pz * pz + m * m))


def xyz(px, py, pz, m=0.0):
    return (px, py, pz, math.sqrt(px * px + py * py + pz * pz + m * m))


class Truth:
    """Builds a :class:`GenRecord` event by event; parents are given as indices within the event,
    so the batch comes out of the real ``to_batch`` and ancestry kernels."""

    def __init__(self):
        self.events: list[dict] = []

    def event(self, number: int | None = None, weight: float = 1.0) -> Truth:
        self.events.append({"number": len(self.events) + 1 if number is None else number,
                            "weight": weight, "rows": []})
        return self

    def add(self, pid, mom, parents=(), final=True, beam=False) -> int:
        rows = self.events[-1]["rows"]
        rows.append((int(pid), tuple(float(x) for x in mom), tuple(parents), final, beam))
        return len(rows) - 1

    def hard_process(self) -> tuple[int, int]:
        """Two beam protons, a gluon from each, a gluino pair; returns (gluino 1, gluino 2)."""
        b1 = self.add(2212, (0, 0, 6500, 6500), final=False, beam=True)
        b2 = self.add(2212, (0, 0, -6500, 6500), final=False, beam=True)
        g1 = self.add(21, (0, 0, 1000, 1000), [b1], final=False)
        g2 = self.add(21, (0, 0, -1000, 1000), [b2], final=False)
        return (self.add(1000021, (0, 0, 0, 2000), [g1, g2], final=False),
                self.add(1000021, (0, 0, 0, 2000), [g1, g2], final=False))

    def record(self) -> GenRecord:
        pid, final, beam, mom, poff, parents = [], [], [], [], [0], []
        offsets = [0]
        for ev in self.events:
            base = offsets[-1]
            for r_pid, r_mom, r_par, r_final, r_beam in ev["rows"]:
                pid.append(r_pid)
                mom.append(r_mom)
                final.append(r_final)
                beam.append(r_beam)
                parents.extend(base + j for j in r_par)
                poff.append(len(parents))
            offsets.append(base + len(ev["rows"]))
        return GenRecord(
            event_offsets=np.array(offsets, np.int64), pid=np.array(pid, np.int32),
            final=np.array(final, bool), beam=np.array(beam, bool),
            p4=np.array(mom, np.float64).reshape(-1, 4), parent_offsets=np.array(poff, np.int64),
            parents=np.array(parents, np.int64),
            weight=np.array([ev["weight"] for ev in self.events], np.float64),
            event_number=np.array([ev["number"] for ev in self.events], np.int64))

    def batch(self) -> ak.Array:
        return to_batch(self.record())


# --- ancestry ------------------------------------------------------------------------------------

def _ancestry_event(t: Truth, beam: bool = True) -> dict[str, int]:
    """gluino pair -> (W -> e nu, chi) and (b -> B* -> B -> D e nu, tau- -> tau- gamma, tau- -> nu pi pi0,
    tau+ -> mu nu nu, D*+ -> D0 pi+), plus a pion from an initial-state gluon."""
    i = {}
    b1 = t.add(2212, (0, 0, 6500, 6500), final=False, beam=beam)
    b2 = t.add(2212, (0, 0, -6500, 6500), final=False, beam=beam)
    i["g1"] = g1 = t.add(21, (0, 0, 1000, 1000), [b1], final=False)
    g2 = t.add(21, (0, 0, -1000, 1000), [b2], final=False)
    go1 = t.add(1000021, (0, 0, 0, 2000), [g1, g2], final=False)
    go2 = t.add(1000021, (0, 0, 0, 2000), [g1, g2], final=False)
    w = t.add(24, (100, 0, 0, 130), [go1], final=False)
    i["e_w"] = t.add(-11, (60, 20, 0, math.hypot(60, 20)), [w])
    i["nu_w"] = t.add(12, (40, -20, 0, math.hypot(40, 20)), [w])
    i["chi1"] = t.add(1000022, xyz(300, 0, 0, 1.0), [go1])
    bq = t.add(5, xyz(0, 200, 0, 4.8), [go2], final=False)
    bstar = t.add(513, xyz(0, 150, 10, 5.325), [bq], final=False)
    i["B0"] = t.add(511, xyz(0, 149, 10, 5.28), [bstar], final=False)
    i["gamma_bstar"] = t.add(22, xyz(0, 1, 0), [bstar])
    dm = t.add(-411, xyz(0, 100, 5, 1.87), [i["B0"]], final=False)
    i["D-"] = dm
    i["e_b"] = t.add(-11, xyz(0, 30, 3), [i["B0"]])
    t.add(12, xyz(0, 19, 2), [i["B0"]])
    i["K+"] = t.add(321, xyz(0, 50, 2, 0.494), [dm])
    t.add(-211, xyz(0, 30, 2, 0.14), [dm])
    t.add(-211, xyz(0, 20, 1, 0.14), [dm])
    i["pi_isr"] = t.add(211, xyz(5, 5, 300, 0.14), [g1])
    tau1 = t.add(15, xyz(-50, -10, 20, 1.777), [go2], final=False)
    i["tau_last"] = tau2 = t.add(15, xyz(-45, -9, 18, 1.777), [tau1], final=False)
    i["gamma_tau"] = t.add(22, xyz(-5, -1, 2), [tau1])
    i["nu_tau"] = t.add(16, xyz(-15, -2, 5), [tau2])
    i["pi_tau"] = t.add(-211, xyz(-20, -4, 8, 0.14), [tau2])
    pi0 = t.add(111, xyz(-10, -3, 5, 0.135), [tau2], final=False)
    i["gamma_pi0"] = t.add(22, xyz(-5, -1, 2.5), [pi0])
    t.add(22, xyz(-5, -2, 2.5), [pi0])
    i["tau_lep"] = taul = t.add(-15, xyz(20, 30, -10, 1.777), [go2], final=False)
    i["nu_tau_lep"] = t.add(-16, xyz(5, 10, -3), [taul])
    i["mu_tau"] = t.add(-13, xyz(10, 15, -5, 0.106), [taul])
    t.add(14, xyz(5, 5, -2), [taul])
    dstar = t.add(413, xyz(0, 0, 50, 2.01), [go2], final=False)
    i["D0"] = d0 = t.add(421, xyz(0, 0, 45, 1.865), [dstar], final=False)
    t.add(211, xyz(0, 0, 5, 0.14), [dstar])
    t.add(-321, xyz(1, 0, 25, 0.494), [d0])
    t.add(211, xyz(-1, 0, 20, 0.14), [d0])
    return i


def _origin_of(t: Truth, batch: ak.Array, event: int, index: int) -> int:
    """origin of particle ``index`` (row within the event) in the batch's final-state list."""
    finals = [k for k, row in enumerate(t.events[event]["rows"]) if row[3]]
    return int(batch.particles.origin[event][finals.index(index)])


def test_ancestry_flags_of_a_hand_built_event():
    t = Truth().event()
    i = _ancestry_event(t)
    batch = t.batch()
    o = lambda k: _origin_of(t, batch, 0, i[k])  # noqa: E731
    assert o("e_w") == FROM_BSM  # W from a gluino: prompt (not from a hadron), from BSM
    assert o("nu_w") == FROM_BSM
    assert o("chi1") == FROM_BSM
    assert o("e_b") == FROM_HADRON | FROM_BSM  # semileptonic B decay
    assert o("K+") == FROM_HADRON | FROM_BSM
    assert o("gamma_bstar") == FROM_HADRON | FROM_BSM
    assert o("pi_isr") == 0  # descends only from a beam proton: not "from a hadron"
    assert o("gamma_tau") == FROM_TAU | FROM_BSM
    assert o("pi_tau") == FROM_TAU | FROM_BSM  # the tau is not a hadron
    assert o("gamma_pi0") == FROM_HADRON | FROM_TAU | FROM_BSM
    assert o("mu_tau") == FROM_TAU | FROM_BSM
    # the particle table holds the final state only
    assert len(batch.particles[0]) == sum(row[3] for row in t.events[0]["rows"])


def test_beam_flag_is_what_keeps_the_protons_out():
    # the same event with the protons not marked as beams: everything descends from a hadron
    t = Truth().event()
    i = _ancestry_event(t, beam=False)
    batch = t.batch()
    assert _origin_of(t, batch, 0, i["e_w"]) == FROM_HADRON | FROM_BSM
    assert _origin_of(t, batch, 0, i["pi_isr"]) == FROM_HADRON


def test_weakly_decaying_b_and_c_hadrons_only():
    t = Truth().event()
    i = _ancestry_event(t)
    batch = t.batch()
    rows = t.events[0]["rows"]
    # B* -> B gamma: only the B (no B-hadron child) is listed
    assert len(batch.bhadrons[0]) == 1
    assert [batch.bhadrons[0][0][c] for c in ("px", "py", "pz", "E")] == pytest.approx(list(rows[i["B0"]][1]))
    # D- (from the B) and D0 (from D*+ -> D0 pi+), not the D*+
    got = sorted(tuple(round(batch.chadrons[0][k][c], 9) for c in ("px", "py", "pz", "E"))
                 for k in range(len(batch.chadrons[0])))
    want = sorted(tuple(round(x, 9) for x in rows[i[k]][1]) for k in ("D-", "D0"))
    assert got == want


def test_taus_visible_momentum_and_decay_mode():
    t = Truth().event()
    i = _ancestry_event(t)
    batch = t.batch()
    rows = t.events[0]["rows"]
    taus = batch.taus[0]
    assert len(taus) == 2  # the tau before the photon emission is not listed
    had, lep = taus[0], taus[1]
    vis_had = np.subtract(rows[i["tau_last"]][1], rows[i["nu_tau"]][1])
    vis_lep = np.subtract(rows[i["tau_lep"]][1], rows[i["nu_tau_lep"]][1])  # only direct neutrino children
    vis_lep = vis_lep - np.array(rows[i["mu_tau"] + 1][1])  # the nu_mu is a child too
    assert [had[c] for c in ("px", "py", "pz", "E")] == pytest.approx(list(vis_had))
    assert [lep[c] for c in ("px", "py", "pz", "E")] == pytest.approx(list(vis_lep))
    assert bool(had.hadronic) is True and bool(lep.hadronic) is False
    assert (had.charge, lep.charge) == (-1.0, 1.0)
    assert had.origin & FROM_HADRON == 0 and had.origin & FROM_BSM


def test_events_do_not_share_ancestry():
    # event 1: a prompt electron; event 2: an electron from a B hadron; event 3: a prompt electron again
    t = Truth()
    for from_b in (False, True, False):
        t.event()
        go, _ = t.hard_process()
        parent = t.add(511, xyz(0, 50, 0, 5.28), [go], final=False) if from_b else go
        t.add(11, p4(30, 0, 0), [parent])
    batch = t.batch()
    electrons = batch.particles[batch.particles.pid == 11]
    assert electrons.origin.tolist() == [[FROM_BSM], [FROM_HADRON | FROM_BSM], [FROM_BSM]]
    assert ak.num(batch.bhadrons).tolist() == [0, 1, 0]
    assert batch.event_number.tolist() == [1, 2, 3]


def _run_flags(conn, poff, parents, own):
    conn.send(_ancestor_flags(poff, parents, own))


def _flags_with_timeout(poff, parents, own, timeout=30.0):
    """The kernel in a forked process, so that an endless loop fails the test instead of hanging it."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_run_flags, args=(send, poff, parents, own))
    proc.start()
    ready = recv.poll(timeout)
    if not ready:
        proc.kill()
        proc.join()
        pytest.fail("the ancestry kernel did not finish on a record with a parent cycle")
    out = recv.recv()
    proc.join()
    return out


@pytest.mark.parametrize("order", ["electron-last", "electron-first"])
def test_parent_cycle_terminates_and_keeps_flags(order):
    # B0 <-> gluon form a cycle; an electron hangs off the gluon. Its ancestors are {gluon, B0}
    # whichever order the particles come in, so it is FROM_HADRON either way.
    if order == "electron-last":  # 0: B0 (parent 1), 1: gluon (parent 0), 2: electron (parent 1)
        poff, parents, own, e = [0, 1, 2, 3], [1, 0, 1], [FROM_HADRON, 0, 0], 2
    else:  # 0: electron (parent 1), 1: gluon (parent 2), 2: B0 (parent 1)
        poff, parents, own, e = [0, 1, 2, 3], [1, 2, 1], [0, 0, FROM_HADRON], 0
    flags = _flags_with_timeout(np.array(poff, np.int64), np.array(parents, np.int64), np.array(own, np.uint8))
    assert flags[e] == FROM_HADRON
    assert flags[1] == FROM_HADRON  # the gluon's parent is the B0


def test_self_parent_and_cycle_through_to_batch():
    t = Truth().event()
    go, _ = t.hard_process()
    # particle 6 lists itself as parent, 7 and 8 are each other's parents
    s = t.add(23, xyz(0, 0, 10, 91), [go], final=False)
    t.events[-1]["rows"][s] = (23, t.events[-1]["rows"][s][1], (go, s), False, False)
    a = t.add(21, xyz(1, 0, 0), [s], final=False)
    b = t.add(21, xyz(1, 0, 0), [a], final=False)
    t.events[-1]["rows"][a] = (21, t.events[-1]["rows"][a][1], (s, b), False, False)
    t.add(13, p4(20, 0, 0), [b])
    batch = t.batch()
    assert batch.particles.origin.tolist() == [[FROM_BSM]]


# --- missing transverse momentum ----------------------------------------------------------------------

def test_met_is_the_sum_of_neutrinos_and_neutral_bsm():
    t = Truth().event()
    go1, go2 = t.hard_process()
    d = t.add(411, xyz(0, 0, 30, 1.87), [go2], final=False)
    t.add(12, xyz(10, 0, 5), [go1])  # neutrinos
    t.add(-14, xyz(0, 20, -3), [go1])
    t.add(12, xyz(-3, 0, 1), [d])  # a neutrino from a hadron decay counts too
    t.add(1000022, xyz(30, -5, 100, 1.0), [go1])  # neutral sparticles
    t.add(1000039, xyz(-5, -5, 0), [go2])
    t.add(1000024, xyz(50, 50, 0, 200.0), [go2])  # charged sparticle: visible
    t.add(22, xyz(0, -40, 0), [go2])  # photon: visible
    t.add(2112, xyz(-25, 0, 0, 0.94), [go2])  # neutron: visible
    t.event()  # nothing invisible
    t.hard_process()
    t.add(211, p4(50, 0, 1.0, 0.14), [2])
    obj = build_objects(t.batch(), ObjectConfig())
    assert obj.met.px.tolist() == pytest.approx([32.0, 0.0])
    assert obj.met.py.tolist() == pytest.approx([10.0, 0.0])
    assert obj.met.pt[0] == pytest.approx(math.hypot(32, 10))
    assert obj.met.phi[0] == pytest.approx(math.atan2(10, 32))
    assert obj.met.pt[1] == 0.0


# --- dressing ------------------------------------------------------------------------------------------

def test_dressing_adds_nearby_prompt_photons_to_the_nearest_lepton():
    t = Truth()
    # event 1: photon at dR 0.05 is added, the one at dR 0.15 is not
    t.event()
    go, _ = t.hard_process()
    t.add(11, p4(50, 0, 0), [go])
    g_in = p4(5, 0.05, 0)
    t.add(22, g_in, [go])
    t.add(22, p4(4, 0, 0.15), [go])
    # event 2: electron at phi 0, muon at phi 0.12; photons at phi 0.05 (-> e) and 0.09 (-> mu)
    t.event()
    go, _ = t.hard_process()
    t.add(11, p4(40, 0, 0), [go])
    t.add(-13, p4(30, 0, 0.12), [go])
    t.add(22, p4(3, 0, 0.05), [go])
    t.add(22, p4(2, 0, 0.09), [go])
    # event 3: a photon from a pi0 at dR 0.02 is never added
    t.event()
    go, _ = t.hard_process()
    t.add(11, p4(50, 0, 0), [go])
    pi0 = t.add(111, p4(6, 0.02, 0, 0.135), [go], final=False)
    t.add(22, p4(6, 0.02, 0), [pi0])
    obj = build_objects(t.batch(), ObjectConfig())
    e, mu = obj.electrons, obj.muons
    assert ak.num(e).tolist() == [1, 1, 1] and ak.num(mu).tolist() == [0, 1, 0]
    assert e.px[0][0] == pytest.approx(50 + g_in[0])
    assert e.pz[0][0] == pytest.approx(g_in[2])
    assert e.E[0][0] == pytest.approx(50 + g_in[3])
    assert e.pt[0][0] == pytest.approx(55.0)
    assert e.m[0][0] == pytest.approx(math.sqrt(2 * 50 * 5 * (math.cosh(0.05) - 1)), rel=1e-6)
    assert e.E[1][0] == pytest.approx(43.0)  # everything at eta = 0 and massless: E adds up like pT
    assert mu.E[1][0] == pytest.approx(32.0)
    assert e.E[2][0] == pytest.approx(50.0)
    assert e.pt[2][0] == pytest.approx(50.0)


def _dressed_photon_event(t: Truth) -> None:
    t.event()
    go, _ = t.hard_process()
    t.add(11, p4(50, 0, 0), [go])
    t.add(22, p4(25, 0.05, 0), [go])  # dressed into the electron
    t.add(22, p4(30, 0, 1.5), [go])  # far from it: an ordinary jet input


def test_dressed_photons_are_not_jet_inputs_by_default():
    t = Truth()
    _dressed_photon_event(t)
    batch = t.batch()
    jets = build_objects(batch, ObjectConfig()).jets
    assert ak.num(jets).tolist() == [1]
    assert jets.pt[0][0] == pytest.approx(30.0)
    assert jets.phi[0][0] == pytest.approx(1.5)
    # all visible particles: the electron and its photon form a jet of their summed momentum
    jets = build_objects(batch, ObjectConfig(jet_inputs="all-visible")).jets
    assert ak.num(jets).tolist() == [2]
    assert jets.E[0][0] == pytest.approx(50 + 25 * math.cosh(0.05))
    assert jets.px[0][0] == pytest.approx(75.0)
    assert jets.pt[0][1] == pytest.approx(30.0)


def test_leptons_prompt_only_with_from_tau_flag():
    t = Truth().event()
    _ancestry_event(t)
    obj = build_objects(t.batch(), ObjectConfig())
    # e+ from the W is kept, the e+ from the B decay is not; the mu+ from the tau is kept, flagged
    assert obj.electrons.pt[0].tolist() == pytest.approx([math.hypot(60, 20)])
    assert obj.electrons.charge[0].tolist() == [1.0]
    assert obj.electrons.from_tau[0].tolist() == [False]
    assert obj.muons.pid[0].tolist() == [-13]
    assert obj.muons.from_tau[0].tolist() == [True]
    # taus: pT-ordered visible momenta, both prompt
    assert obj.taus.hadronic[0].tolist() == [True, False]
    assert obj.taus.prompt[0].tolist() == [True, True]


def test_config_rejects_unknown_choices():
    with pytest.raises(ValueError):
        ObjectConfig(jet_inputs="everything")
    with pytest.raises(ValueError):
        ObjectConfig(b_labelling="nearest")


# --- isolation -----------------------------------------------------------------------------------------

ETA0, PHI0 = 2.4, 3.1  # near phi = pi, so some neighbours sit across the wrap


def _isolation_event(t: Truth, lepton_pt: float) -> None:
    t.event()
    go, _ = t.hard_process()
    g = t.add(21, p4(100, ETA0, PHI0), [go], final=False)
    t.add(11, p4(lepton_pt, ETA0, PHI0), [go])
    t.add(22, p4(1.5, ETA0 + 0.03, PHI0), [go])  # dressed into the electron: in no sum
    t.add(211, p4(2.0, ETA0, PHI0 + 0.05), [g])  # track, dR 0.05
    t.add(-211, p4(3.0, ETA0, PHI0 - 0.15), [g])  # track, dR 0.15
    t.add(321, p4(4.0, ETA0, PHI0 + 0.25), [g])  # track, dR 0.25
    t.add(211, p4(0.8, ETA0, PHI0 + 0.10), [g])  # pT < 1 GeV: calorimeter only
    t.add(211, p4(5.0, 2.55, PHI0), [g])  # |eta| > 2.5, dR 0.15: calorimeter only
    t.add(2112, p4(6.0, ETA0, PHI0 - 0.10), [g])  # neutral hadron: calorimeter only
    pi0 = t.add(111, p4(7.0, ETA0, PHI0 + 0.12, 0.135), [g], final=False)
    t.add(22, p4(7.0, ETA0, PHI0 + 0.12), [pi0])  # photon from a hadron, dR 0.12: calorimeter
    t.add(12, p4(8.0, ETA0, PHI0 + 0.05), [go])  # neutrino: in no sum
    d = t.add(411, p4(12.0, ETA0, PHI0 - 0.12, 1.87), [g], final=False)
    t.add(13, p4(9.0, ETA0, PHI0 - 0.12), [d])  # non-prompt muon, dR 0.12: a track, not calorimeter


def test_isolation_sums_by_hand():
    t = Truth()
    _isolation_event(t, 20.0)
    _isolation_event(t, 100.0)
    e = build_objects(t.batch(), ObjectConfig()).electrons
    assert ak.num(e).tolist() == [1, 1]
    assert e.pt[0][0] == pytest.approx(21.5) and e.pt[1][0] == pytest.approx(101.5)
    # low pT: 10 GeV / 21.5 GeV > 0.3, so the variable cones are 0.2 and 0.3
    low = e[0][0]
    assert low.ptvarcone20 == pytest.approx(2 + 3 + 9)
    assert low.ptvarcone30 == pytest.approx(2 + 3 + 4 + 9)
    assert low.ptcone20 == pytest.approx(2 + 3 + 9)
    assert low.topoetcone20 == pytest.approx(2 + 3 + 0.8 + 5 + 6 + 7)
    # high pT: both variable cones shrink to 10 / 101.5 = 0.0985, only the dR 0.05 track is inside
    high = e[1][0]
    assert high.ptvarcone20 == pytest.approx(2.0)
    assert high.ptvarcone30 == pytest.approx(2.0)
    assert high.ptcone20 == pytest.approx(2 + 3 + 9)
    assert high.topoetcone20 == pytest.approx(2 + 3 + 0.8 + 5 + 6 + 7)


def test_isolation_track_threshold_follows_the_config():
    t = Truth()
    _isolation_event(t, 20.0)
    e = build_objects(t.batch(), ObjectConfig(track_pt_min=0.5)).electrons
    assert e.ptcone20[0][0] == pytest.approx(2 + 3 + 9 + 0.8)


# --- overlap removal ---------------------------------------------------------------------------------

def coll(*events):
    """Jagged collection of {pt, eta, phi} records; each object is (pt, eta, phi)."""
    return ak.Array([[{"pt": float(p), "eta": float(e), "phi": float(f)} for p, e, f in ev] for ev in events])


def test_fixed_cone_removes_at_019_keeps_at_021():
    jets = coll([(50, 0, 0.19), (60, 0, 0.21), (70, 0.19, 3.0)], [(40, 0, 0.1)])
    electrons = coll([(30, 0, 0)], [])
    out = remove_overlap(jets, electrons, 0.2)
    assert out.pt.tolist() == [[60.0, 70.0], [40.0]]  # the electron of event 1 does not reach event 2


def test_fixed_cone_across_the_phi_wrap():
    jets = coll([(50, 0, math.pi - 0.05), (60, 0, -math.pi + 0.3)])
    muons = coll([(30, 0, -math.pi + 0.05)])
    assert remove_overlap(jets, muons, 0.2).pt.tolist() == [[60.0]]


def test_boosted_cone_depends_on_the_lepton_pt():
    assert boosted_cone(np.array([25.0, 250.0, 10.0])).tolist() == pytest.approx([0.4, 0.08, 0.4])
    # 25 GeV lepton: cone 0.4; 250 GeV lepton: cone 0.04 + 0.04 = 0.08
    jets = coll([(100, 0, 0.39), (100, 0, 0.41)], [(100, 0, 0.07), (100, 0, 0.09)])
    leptons = coll([(25, 0, 0)], [(250, 0, 0)])
    out = remove_overlap(jets, leptons, "boosted-b")  # cone from the B side (the lepton)
    assert out.phi.tolist() == [[0.41], [0.09]]
    # the other way round: leptons removed near jets, cone from the A side (the lepton)
    out = remove_overlap(leptons, jets, "boosted-a")
    assert out.pt.tolist() == [[], []]
    far_jets = coll([(100, 0, 0.41)], [(100, 0, 0.09)])
    assert remove_overlap(leptons, far_jets, "boosted-a").pt.tolist() == [[25.0], [250.0]]


def test_a_removable_protects_and_b_active_limits():
    jets = ak.with_field(coll([(50, 0, 0.1), (60, 0, -0.1), (70, 0, 2.0)]), ak.Array([[True, False, False]]), "btag")
    electrons = coll([(30, 0, 0)])
    out = remove_overlap(jets, electrons, 0.2, a_removable=~jets.btag)
    assert out.pt.tolist() == [[50.0, 70.0]]  # the b-tagged jet stays
    # two electrons, only the second active
    electrons = coll([(30, 0, 0), (30, 0, 2.1)])
    out = remove_overlap(jets, electrons, 0.2, b_active=ak.Array([[False, True]]))
    assert out.pt.tolist() == [[50.0, 60.0]]


def test_overlap_rejects_an_unknown_cone():
    with pytest.raises(ValueError):
        remove_overlap(coll([(1, 0, 0)]), coll([(1, 0, 0)]), "boosted")


# --- efficiencies ----------------------------------------------------------------------------------------

def _objects_with_jets(n_events=2000, per_event=5, seed=0, first=1):
    rng_ = np.random.default_rng(5)
    counts = np.full(n_events, per_event)
    jets = ak.unflatten(ak.zip({"pt": rng_.uniform(20, 500, n_events * per_event)}), counts)
    return Objects(jets=jets, electrons=None, muons=None, taus=None, met=None,
                   event_number=np.arange(first, first + n_events, dtype=np.int64),
                   weight=np.ones(n_events), seed=seed)


def test_apply_efficiency_extremes_fraction_and_determinism():
    obj = _objects_with_jets()
    n = len(ak.flatten(obj.jets.pt))
    assert ak.all(ak.num(apply_efficiency(obj.jets, 1.0, obj, "jvt")) == 5)
    assert ak.all(ak.num(apply_efficiency(obj.jets, 1, obj, "jvt")) == 5)
    assert ak.sum(ak.num(apply_efficiency(obj.jets, 0.0, obj, "jvt"))) == 0
    a = apply_efficiency(obj.jets, 0.7, obj, "jvt")
    b = apply_efficiency(obj.jets, 0.7, obj, "jvt")
    assert a.pt.tolist() == b.pt.tolist()
    kept = ak.sum(ak.num(a))
    assert abs(kept / n - 0.7) < 4 * math.sqrt(0.7 * 0.3 / n)
    # another stream or another seed draws other numbers
    assert apply_efficiency(obj.jets, 0.7, obj, "other").pt.tolist() != a.pt.tolist()
    other_seed = _objects_with_jets(seed=1)
    assert apply_efficiency(other_seed.jets, 0.7, other_seed, "jvt").pt.tolist() != a.pt.tolist()


def test_apply_efficiency_jagged_efficiencies():
    obj = _objects_with_jets(n_events=3, per_event=3)
    eff = ak.Array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    out = apply_efficiency(obj.jets, eff, obj, "jvt")
    pt = obj.jets.pt
    assert out.pt.tolist() == [[pt[0][0], pt[0][2]], [], pt[2].tolist()]


def test_apply_efficiency_depends_on_the_event_not_the_chunk():
    obj = _objects_with_jets(n_events=300)
    whole = apply_efficiency(obj.jets, 0.5, obj, "jvt").pt.tolist()
    parts = []
    for lo, hi in ((0, 120), (120, 300)):
        sub = Objects(jets=obj.jets[lo:hi], electrons=None, muons=None, taus=None, met=None,
                      event_number=obj.event_number[lo:hi], weight=obj.weight[lo:hi], seed=obj.seed)
        parts += apply_efficiency(sub.jets, 0.5, sub, "jvt").pt.tolist()
    assert parts == whole


def test_pid_table_matches_per_id_lookup():
    """pid_table finds distinct ids by direct indexing (|pid| < 2**15) and sorts only the others:
    every particle still gets its own id's properties, whatever the mix and order."""
    from recast.events.record import _distinct_ids, _pid_properties, pid_table

    pid = np.array([211, -211, 22, 1000022, 5122, -5122, 2212, 22, 9900110, 32767, -32767, 32768, -32768,
                    100443, 211, 11, -1000024, 1000022], np.int32)
    uniq, inverse = _distinct_ids(pid)
    assert np.array_equal(uniq[inverse], pid) and sorted(uniq.tolist()) == sorted(set(pid.tolist()))
    charge, hadron, is_b, is_c, bsm = pid_table(pid)
    expected = np.array([_pid_properties(int(p)) for p in pid], dtype=np.float64)
    assert charge.tolist() == expected[:, 0].tolist()
    assert [hadron.tolist(), is_b.tolist(), is_c.tolist(), bsm.tolist()] == expected[:, 1:].astype(bool).T.tolist()
    assert charge[[0, 1, 6, 16]].tolist() == [1, -1, 1, -1] and bsm[[3, 16]].all() and is_b[[4, 5]].all()
    assert [len(a) for a in _distinct_ids(pid[:0])] == [0, 0]
