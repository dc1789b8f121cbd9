"""ATLAS-SUSY-2019-04 combinatorial variables (recast.objects.combinatorics): answers worked out by
hand on constructed events, and a cross-check of every kernel against a slow pure-Python
brute force on random jagged events."""

from __future__ import annotations

import itertools
import math

import awkward as ak
import numpy as np
import pytest

from recast.objects.combinatorics import (min_delta_r_lepton_jet, min_max_lepton_jet_mass, minmax_mass,
                                          three_jet_lep_met_mass, three_jet_maxpt_mass)

NAN = float("nan")


def p4(*vectors):
    """Jagged collection (one list per event) of (px, py, pz, E) tuples, with eta and phi."""
    counts = [len(ev) for ev in vectors]
    rows = np.array([v for ev in vectors for v in ev], dtype=np.float64).reshape(-1, 4)
    px, py, pz, e = rows.T
    pt = np.hypot(px, py)
    counts = np.asarray(counts, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(pz / pt), np.sign(pz) * 1e10)
    rec = ak.zip({"px": px, "py": py, "pz": pz, "E": e, "pt": pt, "eta": eta, "phi": np.arctan2(py, px)})
    return ak.unflatten(rec, counts)


def eta_phi(*vectors):
    """Jagged collection of (eta, phi) pairs."""
    counts = [len(ev) for ev in vectors]
    rows = np.array([v for ev in vectors for v in ev], dtype=np.float64).reshape(-1, 2)
    return ak.unflatten(ak.zip({"eta": rows[:, 0], "phi": rows[:, 1]}), np.asarray(counts, dtype=np.int64))


def records(rows, fields):
    rows = np.array(rows, dtype=np.float64)
    return ak.zip({f: rows[:, i] for i, f in enumerate(fields)})


# --- hand-computed answers ----------------------------------------------------------------------

def test_three_jet_maxpt_mass_by_hand():
    # j1 + j2 + j4 = (100, 130, 40, 250) has the largest pT (164 against 139, 112, 58);
    # m^2 = 250^2 - 100^2 - 130^2 - 40^2 = 34000. With exactly 3 jets the triplet is forced:
    # (0, 100, 0, 300) -> m^2 = 80000.
    jets = p4([(100, 0, 0, 100), (0, 100, 0, 100), (-50, 0, 0, 50), (0, 30, 40, 50)],
              [(100, 0, 0, 100), (0, 100, 0, 100), (-100, 0, 0, 100)])
    np.testing.assert_allclose(three_jet_maxpt_mass(jets), [math.sqrt(34000), math.sqrt(80000)], rtol=1e-12)


def test_three_jet_lep_met_mass_by_hand():
    # Four jets at 90 degrees: every triplet has pT = 100, so without MET the first, (1, 2, 3),
    # wins the tie: (0, 100, 0, 300), m^2 = 80000. With a lepton (0, 0, 50, 50) and MET
    # (200, 0) -> (200, 0, 0, 200), triplet (1, 2, 4) maximises the total pT (300). The whole
    # system is (300, 0, 50, 550): m^2 = 550^2 - 300^2 - 50^2 = 210000. The mass includes MET.
    jets = p4([(100, 0, 0, 100), (0, 100, 0, 100), (-100, 0, 0, 100), (0, -100, 0, 100)])
    lepton = records([(0, 0, 50, 50)], ["px", "py", "pz", "E"])
    met = records([(200, 0)], ["px", "py"])
    np.testing.assert_allclose(three_jet_maxpt_mass(jets), [math.sqrt(80000)], rtol=1e-12)
    np.testing.assert_allclose(three_jet_lep_met_mass(jets, lepton, met), [math.sqrt(210000)], rtol=1e-12)
    # three jets: (0, 100, 0, 300) + lepton + MET (0, -100, 0, 100) = (0, 0, 50, 450)
    jets3 = p4([(100, 0, 0, 100), (0, 100, 0, 100), (-100, 0, 0, 100)])
    met3 = records([(0, -100)], ["px", "py"])
    np.testing.assert_allclose(three_jet_lep_met_mass(jets3, lepton, met3), [math.sqrt(200000)], rtol=1e-12)


def test_min_delta_r_by_hand():
    # event 0: jets at Delta R 0.5 (0.3, 0.4) and 1.0 from a lepton at the origin
    # event 1: across the phi = pi boundary, Delta phi = 2 pi - 6, Delta eta = 0.1
    # event 2: two leptons, the second one closer (0.2) to the jet
    # event 3: no lepton; event 4: no jet
    jets = eta_phi([(0.3, 0.4), (1.0, 0.0)], [(-0.5, -3.0)], [(2.0, 1.0)], [(0.0, 0.0)], [])
    leps = eta_phi([(0.0, 0.0)], [(-0.4, 3.0)], [(0.0, 1.0), (2.0, 1.2)], [], [(0.0, 0.0)])
    expected = [0.5, math.hypot(0.1, 2 * math.pi - 6.0), 0.2, NAN, NAN]
    np.testing.assert_allclose(min_delta_r_lepton_jet(jets, leps), expected, rtol=1e-12)
    # leading lepton only: event 2 then gives Delta R = 2
    np.testing.assert_allclose(min_delta_r_lepton_jet(jets, leps[:, :1]), [0.5, expected[1], 2.0, NAN, NAN],
                               rtol=1e-12)


def test_minmax_mass_by_hand():
    # Pair a: j1, j2 back to back along x (m = 200); pair b: j3, j4 along y (m = 100).
    # The 8 splits give max masses 300 ({}|1234), 173.2 ({1}|234, {2}|134), 244.9 ({3}|124,
    # {4}|123), 200 ({12}|{34}) and 100 ({13}|{24}: both (+-100, +-50, 0, 150), m^2 = 10000; the
    # same for {14}|{23}). Minimum: 100.
    jets = p4([(100, 0, 0, 100), (-100, 0, 0, 100), (0, 50, 0, 50), (0, -50, 0, 50)])
    np.testing.assert_allclose(minmax_mass(jets), [100.0], rtol=1e-12)


def test_minmax_mass_small_events():
    # 0 jets: NaN; 1 jet: its mass; 2 jets: the heavier single jet; 3 jets with a light pair
    # (j1, j2 collinear: m = 0 together) against a heavy single jet: m = 30.
    heavy = (0, 0, 40, 50)  # m = 30
    jets = p4([], [(30, 0, 40, 70)], [(3, 4, 0, 13), (0, 0, 40, 50)],
              [(10, 0, 0, 10), (20, 0, 0, 20), heavy])
    np.testing.assert_allclose(minmax_mass(jets), [NAN, math.sqrt(70**2 - 50**2), 30.0, 30.0], rtol=1e-12)


def test_min_max_lepton_jet_mass_by_hand():
    # l1 = (10, 0, 0, 10), l2 = (0, 10, 0, 10); massless jets so m^2 = 2 (E_l E_j - p_l.p_j):
    #   m(l1, j) = 20, 20, 10 and m(l2, j) = sqrt(200), sqrt(800), 10 for j1, j2, j3.
    # Over ordered distinct pairs (i, j), max(m(l1 j_i), m(l2 j_j)) is minimal for (3, 1):
    # sqrt(200). (3, 3) would give 10 but uses the same jet twice.
    # With the leading two jets only: (2, 1) -> max(20, sqrt(200)) = 20.
    jets = p4([(-10, 0, 0, 10), (0, -20, 0, 20), (0, 0, 5, 5)])
    leps = p4([(10, 0, 0, 10), (0, 10, 0, 10)])
    np.testing.assert_allclose(min_max_lepton_jet_mass(jets, leps), [math.sqrt(200)], rtol=1e-12)
    np.testing.assert_allclose(min_max_lepton_jet_mass(jets, leps, n_jets=2), [20.0], rtol=1e-12)
    # a third lepton is ignored; one lepton, or fewer than 2 (considered) jets: NaN
    leps3 = p4([(10, 0, 0, 10), (0, 10, 0, 10), (0, 0, -1, 1)])
    np.testing.assert_allclose(min_max_lepton_jet_mass(jets, leps3), [math.sqrt(200)], rtol=1e-12)
    assert np.isnan(min_max_lepton_jet_mass(jets, leps[:, :1])).all()
    assert np.isnan(min_max_lepton_jet_mass(jets, leps, n_jets=1)).all()
    assert np.isnan(min_max_lepton_jet_mass(jets[:, :1], leps)).all()


# --- edge cases ---------------------------------------------------------------------------------

def test_too_few_jets_and_no_lepton():
    jets = p4([], [(10, 0, 0, 10)], [(10, 0, 0, 10), (0, 10, 0, 10)],
              [(10, 0, 0, 10), (0, 10, 0, 10), (0, 0, 10, 10)],
              [(10, 0, 0, 10), (0, 10, 0, 10), (0, 0, 10, 10)])
    lepton = records([(1, 0, 0, 1)] * 4 + [(NAN, NAN, NAN, NAN)], ["px", "py", "pz", "E"])
    met = records([(0, 0)] * 5, ["px", "py"])
    m3 = three_jet_maxpt_mass(jets)
    assert np.isnan(m3[:3]).all() and np.isfinite(m3[3:]).all()
    m3l = three_jet_lep_met_mass(jets, lepton, met)
    assert np.isnan(m3l[:3]).all() and np.isfinite(m3l[3]) and np.isnan(m3l[4])
    # a jagged lepton collection: its first element, NaN where empty (same as above)
    leading = p4([(1, 0, 0, 1)], [(1, 0, 0, 1)], [(1, 0, 0, 1)], [(1, 0, 0, 1), (0, 1, 0, 1)], [])
    np.testing.assert_array_equal(three_jet_lep_met_mass(jets, leading, met), m3l)
    # option-typed (None) leptons as ak.firsts gives them
    np.testing.assert_array_equal(three_jet_lep_met_mass(jets, ak.firsts(leading), met), m3l)
    mm = minmax_mass(jets)
    assert np.isnan(mm[0]) and mm[1] == 0.0 and mm[2] == 0.0
    no_leptons = p4(*([[]] * 5))
    assert np.isnan(min_delta_r_lepton_jet(jets, no_leptons)).all()
    assert np.isnan(min_max_lepton_jet_mass(jets, no_leptons)).all()


def test_empty_chunk():
    jets = p4()
    assert len(three_jet_maxpt_mass(jets)) == 0
    assert len(minmax_mass(jets)) == 0
    assert len(min_delta_r_lepton_jet(jets, jets)) == 0
    assert len(min_max_lepton_jet_mass(jets, jets)) == 0


def test_minmax_mass_truncates_to_leading_jets():
    jets = random_jets(np.random.default_rng(5), 40, 11, 14)
    np.testing.assert_allclose(minmax_mass(jets), minmax_mass(jets[:, :10]), rtol=0, atol=0)
    np.testing.assert_allclose(minmax_mass(jets, max_jets=4), minmax_mass(jets[:, :4]), rtol=0, atol=0)
    np.testing.assert_allclose(minmax_mass(jets, max_jets=12), brute_minmax(jets, 12), rtol=1e-9)
    with pytest.raises(ValueError):
        minmax_mass(jets, max_jets=0)
    with pytest.raises(ValueError):
        minmax_mass(jets, max_jets=30)


def test_mismatched_event_counts():
    jets = p4([(10, 0, 0, 10)], [])
    with pytest.raises(ValueError):
        min_delta_r_lepton_jet(jets, jets[:1])
    with pytest.raises(ValueError):
        min_max_lepton_jet_mass(jets, jets[:1])
    with pytest.raises(ValueError):
        three_jet_lep_met_mass(jets, records([(1, 0, 0, 1)], ["px", "py", "pz", "E"]),
                               records([(0, 0), (0, 0)], ["px", "py"]))


# --- brute force on random events ---------------------------------------------------------------

def random_p4(rng, counts, pt_lo=20.0, pt_hi=400.0, m_hi=30.0):
    n = int(np.sum(counts))
    pt = rng.uniform(pt_lo, pt_hi, n)
    eta = rng.uniform(-2.5, 2.5, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    m = rng.uniform(0.0, m_hi, n)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    rec = ak.zip({"px": px, "py": py, "pz": pz, "E": e, "pt": pt, "eta": eta, "phi": phi})
    return ak.unflatten(rec, np.asarray(counts, dtype=np.int64))


def random_jets(rng, n_events, lo=0, hi=12):
    jets = random_p4(rng, rng.integers(lo, hi + 1, n_events))
    return jets[ak.argsort(jets.pt, axis=1, ascending=False)]


def vectors(collection):
    return [[(o["px"], o["py"], o["pz"], o["E"]) for o in ev] for ev in ak.to_list(collection)]


def mass(*vs):
    e = sum(v[3] for v in vs)
    px = sum(v[0] for v in vs)
    py = sum(v[1] for v in vs)
    pz = sum(v[2] for v in vs)
    return math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))


def pt_of(*vs):
    return math.hypot(sum(v[0] for v in vs), sum(v[1] for v in vs))


def brute_three_jet(jets, extra=None):
    out = []
    for ev, js in enumerate(vectors(jets)):
        add = [] if extra is None else [extra[ev]]
        if len(js) < 3 or any(math.isnan(c) for v in add for c in v):
            out.append(NAN)
            continue
        best = max(itertools.combinations(js, 3), key=lambda t: pt_of(*t, *add))
        out.append(mass(*best, *add))
    return np.array(out)


def brute_min_dr(jets, leptons):
    out = []
    for js, ls in zip(ak.to_list(jets), ak.to_list(leptons)):
        drs = [math.hypot(j["eta"] - l["eta"], math.remainder(j["phi"] - l["phi"], 2 * math.pi))
               for j, l in itertools.product(js, ls)]
        out.append(min(drs) if drs else NAN)
    return np.array(out)


def brute_minmax(jets, max_jets=10):
    out = []
    for js in vectors(jets):
        js = js[:max_jets]
        if not js:
            out.append(NAN)
            continue
        best = math.inf
        for assign in itertools.product((0, 1), repeat=len(js)):  # every assignment, both orders
            a = [j for j, g in zip(js, assign) if g == 0]
            b = [j for j, g in zip(js, assign) if g == 1]
            best = min(best, max(mass(*a) if a else 0.0, mass(*b) if b else 0.0))
        out.append(best)
    return np.array(out)


def brute_mlj(jets, leptons, n_jets=None):
    out = []
    for js, ls in zip(vectors(jets), vectors(leptons)):
        js = js if n_jets is None else js[:n_jets]
        if len(ls) < 2 or len(js) < 2:
            out.append(NAN)
            continue
        out.append(min(max(mass(ls[0], ji), mass(ls[1], jj)) for ji, jj in itertools.permutations(js, 2)))
    return np.array(out)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(20190404)
    n = 300
    jets = random_jets(rng, n)
    leptons = random_p4(rng, rng.integers(0, 4, n), pt_lo=10.0, m_hi=0.1)
    leptons = leptons[ak.argsort(leptons.pt, axis=1, ascending=False)]
    lead = ak.firsts(leptons)
    lepton = ak.zip({f: ak.fill_none(lead[f], NAN) for f in ("px", "py", "pz", "E")})
    mpt, mphi = rng.uniform(0, 300, n), rng.uniform(-np.pi, np.pi, n)
    met = ak.zip({"px": mpt * np.cos(mphi), "py": mpt * np.sin(mphi)})
    return jets, leptons, lepton, met


def test_sample_covers_the_edge_cases(sample):
    jets, leptons, lepton, _ = sample
    nj, nl = ak.to_numpy(ak.num(jets)), ak.to_numpy(ak.num(leptons))
    assert (nj == 0).any() and (nj < 3).any() and (nj > 10).any() and (nl == 0).any() and (nl >= 2).any()


def test_three_jet_maxpt_mass_brute_force(sample):
    jets = sample[0]
    np.testing.assert_allclose(three_jet_maxpt_mass(jets), brute_three_jet(jets), rtol=1e-9)


def test_three_jet_lep_met_mass_brute_force(sample):
    jets, _, lepton, met = sample
    extra = []
    for l, m in zip(ak.to_list(lepton), ak.to_list(met)):
        extra.append((l["px"] + m["px"], l["py"] + m["py"], l["pz"], l["E"] + math.hypot(m["px"], m["py"])))
    expected = brute_three_jet(jets, extra)
    np.testing.assert_allclose(three_jet_lep_met_mass(jets, lepton, met), expected, rtol=1e-9)


def test_min_delta_r_brute_force(sample):
    jets, leptons = sample[0], sample[1]
    np.testing.assert_allclose(min_delta_r_lepton_jet(jets, leptons), brute_min_dr(jets, leptons), rtol=1e-9)
    np.testing.assert_allclose(min_delta_r_lepton_jet(jets, leptons[:, :1]),
                               brute_min_dr(jets, leptons[:, :1]), rtol=1e-9)


def test_minmax_mass_brute_force(sample):
    jets = sample[0]
    np.testing.assert_allclose(minmax_mass(jets), brute_minmax(jets), rtol=1e-9)


def test_min_max_lepton_jet_mass_brute_force(sample):
    jets, leptons = sample[0], sample[1]
    np.testing.assert_allclose(min_max_lepton_jet_mass(jets, leptons), brute_mlj(jets, leptons), rtol=1e-9)
    np.testing.assert_allclose(min_max_lepton_jet_mass(jets, leptons, n_jets=4),
                               brute_mlj(jets, leptons, 4), rtol=1e-9)


def test_chunk_independence(sample):
    jets, leptons, lepton, met = sample
    cut = 137
    calls = [
        lambda j, l, l1, m: three_jet_maxpt_mass(j),
        lambda j, l, l1, m: three_jet_lep_met_mass(j, l1, m),
        lambda j, l, l1, m: min_delta_r_lepton_jet(j, l),
        lambda j, l, l1, m: minmax_mass(j),
        lambda j, l, l1, m: min_max_lepton_jet_mass(j, l),
    ]
    for f in calls:
        whole = f(jets, leptons, lepton, met)
        parts = [f(jets[s], leptons[s], lepton[s], met[s]) for s in (slice(None, cut), slice(cut, None))]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
        # and on a concatenation of two separately built chunks
        joined = f(*(ak.concatenate([x[cut:], x[:cut]]) for x in (jets, leptons, lepton, met)))
        np.testing.assert_array_equal(joined, np.concatenate([parts[1], parts[0]]))
