"""Kinematic helpers, the per-event numba kernels, binned look-ups and the counter-based RNG,
checked against answers worked out by hand."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from recast.objects import binned, delta_phi, transverse_mass, wrap_phi
from recast import rng
from recast.objects.kinematics import (any_within, cone_sums, flat, gather, nearest_within, pt_eta_phi_m,
                                       unflat)

PI = math.pi


# --- pt, eta, phi, m ---------------------------------------------------------------------------

def test_pt_eta_phi_m_of_known_four_vectors():
    # (3, 4, 0, 5): massless, transverse; a 5 GeV mass at eta = 1, phi = pi/2; a 10 GeV particle
    # with pz < 0 at eta = -2 and phi = -3pi/4 (m = 1.5).
    e2 = math.sqrt((10 * math.cosh(2.0)) ** 2 + 1.5**2)
    px = np.array([3.0, 0.0, -10 / math.sqrt(2)])
    py = np.array([4.0, 10.0, -10 / math.sqrt(2)])
    pz = np.array([0.0, 10 * math.sinh(1.0), -10 * math.sinh(2.0)])
    e = np.array([5.0, math.sqrt((10 * math.cosh(1.0)) ** 2 + 25.0), e2])
    pt, eta, phi, m = pt_eta_phi_m(px, py, pz, e)
    np.testing.assert_allclose(pt, [5.0, 10.0, 10.0], rtol=1e-12)
    np.testing.assert_allclose(eta, [0.0, 1.0, -2.0], atol=1e-12)
    np.testing.assert_allclose(phi, [math.atan2(4, 3), PI / 2, -3 * PI / 4], atol=1e-12)
    np.testing.assert_allclose(m, [0.0, 5.0, 1.5], atol=1e-6)


def test_pt_eta_phi_m_beam_axis_and_spacelike_rounding():
    # along the beam: eta = +-1e10 (finite); a slightly spacelike massless vector: m = 0, not NaN
    pt, eta, phi, m = pt_eta_phi_m(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.0]),
                                   np.array([7.0, -3.0, 0.0]), np.array([7.0, 3.0, 1.0 - 1e-12]))
    assert list(pt) == [0.0, 0.0, 1.0]
    assert list(eta) == [1e10, -1e10, 0.0]
    assert list(m) == [0.0, 0.0, 0.0]
    assert np.isfinite(phi).all()


def test_pt_eta_phi_m_on_jagged_awkward():
    px = ak.Array([[3.0, 0.0], [], [1.0]])
    py = ak.Array([[4.0, 0.0], [], [0.0]])
    pz = ak.Array([[0.0, -2.0], [], [math.sinh(0.5)]])
    e = ak.Array([[5.0, 2.0], [], [math.cosh(0.5)]])
    pt, eta, phi, m = pt_eta_phi_m(px, py, pz, e)
    assert pt.tolist() == [[5.0, 0.0], [], [1.0]]
    assert eta.tolist()[0] == [0.0, -1e10]
    assert eta.tolist()[2] == pytest.approx([0.5])
    assert m.tolist()[2] == pytest.approx([0.0], abs=1e-7)


# --- azimuths ----------------------------------------------------------------------------------

def test_wrap_phi_known_values():
    got = wrap_phi([-PI, PI, 3 * PI / 2, -3 * PI / 2, 7.0, 0.5, 2 * PI + 0.1, -0.25])
    want = [PI, PI, -PI / 2, PI / 2, 7.0 - 2 * PI, 0.5, 0.1, -0.25]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert wrap_phi(-PI) == PI  # -pi is not in the half-open range: it maps to +pi exactly


def test_wrap_phi_range_and_invariance():
    x = np.random.default_rng(1).uniform(-50, 50, 10_000)
    x = np.concatenate([x, [0.0, -PI, PI, 3 * PI, -3 * PI, -1e-17, np.nextafter(-PI, 0.0)]])
    w = wrap_phi(x)
    assert np.all(w > -PI) and np.all(w <= PI)
    np.testing.assert_allclose(np.cos(w), np.cos(x), atol=1e-12)
    np.testing.assert_allclose(np.sin(w), np.sin(x), atol=1e-12)


def test_wrap_phi_on_jagged_awkward():
    w = wrap_phi(ak.Array([[-PI, 4.0], [], [0.5]]))
    assert isinstance(w, ak.Array)
    assert w.tolist() == [[PI, pytest.approx(4.0 - 2 * PI)], [], [0.5]]


def test_delta_phi_folding():
    got = delta_phi(np.array([3.0, 0.1, PI, 1.0, -2.0, 0.0]),
                    np.array([-3.0, 2 * PI + 0.2, -PI, -1.0, 2.0, 5 * PI]))
    want = [2 * PI - 6.0, 0.1, 0.0, 2.0, 2 * PI - 4.0, PI]
    np.testing.assert_allclose(got, want, atol=1e-12)
    x = np.random.default_rng(2).uniform(-20, 20, (2, 1000))
    d = delta_phi(x[0], x[1])
    assert np.all(d >= 0) and np.all(d <= PI)
    np.testing.assert_allclose(np.cos(d), np.cos(x[0] - x[1]), atol=1e-9)


def test_delta_phi_jagged_against_per_event_numbers():
    d = delta_phi(ak.Array([[0.5, 4.0], [], [-4.0]]), np.array([0.0, 1.0, 3.0]))
    assert d.tolist() == [[0.5, pytest.approx(2 * PI - 4.0)], [], [pytest.approx(7.0 - 2 * PI)]]


def test_transverse_mass_by_hand():
    # back to back: sqrt(2 * 100 * 50 * 2) = 141.42; collinear: 0; perpendicular: sqrt(2 * 100 * 50) = 100
    mt = transverse_mass(np.array([100.0, 100.0, 100.0, 100.0]), np.array([0.0, 1.0, 0.0, 3.0]),
                         np.array([50.0, 50.0, 50.0, 50.0]), np.array([PI, 1.0, PI / 2, 3.0 - 2 * PI]))
    np.testing.assert_allclose(mt, [math.sqrt(20000.0), 0.0, 100.0, 0.0], atol=1e-5)
    assert mt[0] == pytest.approx(141.42, abs=0.01)


# --- flat / unflat / gather ----------------------------------------------------------------------

def test_flat_unflat_round_trip():
    coll = ak.Array([[{"eta": 1.0, "phi": 2.0}, {"eta": 3.0, "phi": 4.0}], [], [{"eta": 5.0, "phi": 6.0}]])
    off, eta, phi = flat(coll, "eta", "phi")
    assert off.tolist() == [0, 2, 2, 3]
    assert eta.dtype == np.float64 and eta.flags.c_contiguous
    assert eta.tolist() == [1.0, 3.0, 5.0] and phi.tolist() == [2.0, 4.0, 6.0]
    assert unflat(off, eta).tolist() == [[1.0, 3.0], [], [5.0]]


def test_gather_picks_per_event_constituents():
    values = ak.Array([[10, 11, 12], [20], []])
    index = ak.Array([[[2, 0], [1]], [[0], []], []])
    assert gather(values, index).tolist() == [[[12, 10], [11]], [[20], []], []]


# --- numba kernels -------------------------------------------------------------------------------

def _offsets(*counts):
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


NO_PT = (np.ones(3), np.ones(3), -1.0)  # pT of A and B, no pT-fraction condition


def test_any_within_cones_and_event_boundaries():
    # event 0: A at (0, 3.1); B at (0, -3.1) is 2pi - 6.2 = 0.083 away (across the phi wrap)
    # event 1: A at (0, 0); B at (0.25, 0) and a masked-out B at (0.05, 0)
    # event 2: A at (1, 1), no B at all (the B of event 1 must not leak into it)
    a_off, b_off = _offsets(1, 1, 1), _offsets(1, 2, 0)
    a_eta, a_phi = np.array([0.0, 0.0, 1.0]), np.array([3.1, 0.0, 1.0])
    b_eta, b_phi = np.array([0.0, 0.25, 0.05]), np.array([-3.1, 0.0, 0.0])
    mask = np.array([True, True, False])
    zero_a, zero_b = np.zeros(3), np.zeros(3)
    got = any_within(a_off, a_eta, a_phi, np.full(3, 0.1), b_off, b_eta, b_phi, zero_b, mask, *NO_PT)
    assert got.tolist() == [True, False, False]
    got = any_within(a_off, a_eta, a_phi, zero_a, b_off, b_eta, b_phi, np.array([0.05, 0.3, 0.3]), mask, *NO_PT)
    assert got.tolist() == [False, True, False]  # the cone comes from the B side here
    got = any_within(a_off, a_eta, a_phi, np.full(3, 0.25), b_off, b_eta, b_phi, zero_b, mask, *NO_PT)
    assert got.tolist() == [True, False, False]  # Delta R < cone is strict


def test_nearest_within_picks_the_nearest_unmasked():
    # one A at (0, 0); B candidates at dR 0.2, 0.1 (masked), 0.15, 0.5 -> index 2 (the 0.15 one)
    a_off, b_off = _offsets(1, 1), _offsets(4, 1)
    b_eta = np.array([0.2, 0.0, 0.0, 0.5, 0.0])
    b_phi = np.array([0.0, 0.1, -0.15, 0.0, 2.0])
    mask = np.array([True, False, True, True, True])
    got = nearest_within(a_off, np.zeros(2), np.zeros(2), b_off, b_eta, b_phi, mask, 0.3)
    assert got.tolist() == [2, -1]  # event 1: its only B is 2.0 away


def test_cone_sums_excludes_self_and_respects_radius():
    # A = B collection (a lepton among particles): lepton at index 0 with pT 50;
    # neighbours with values 1 (dR 0.05), 2 (dR 0.15), 4 (dR 0.25), 8 (dR 0.05 but masked)
    off = _offsets(5)
    eta = np.array([0.0, 0.05, 0.0, 0.0, 0.0])
    phi = np.array([0.0, 0.0, 0.15, -0.25, 0.05])
    val = np.array([50.0, 1.0, 2.0, 4.0, 8.0])
    mask = np.array([True, True, True, True, False])
    a_self = np.array([0, -1, -1, -1, -1])
    got = cone_sums(off, eta, phi, a_self, off, eta, phi, val, mask, np.array([0.2, 0.0, 0.0, 0.0, 0.0]))
    assert got[0] == pytest.approx(3.0)
    got = cone_sums(off, eta, phi, a_self, off, eta, phi, val, mask, np.array([0.3, 0.0, 0.0, 0.0, 0.0]))
    assert got[0] == pytest.approx(7.0)


# --- binned look-ups -----------------------------------------------------------------------------

def test_binned_bins_underflow_overflow():
    edges, values = [20.0, 50.0, 100.0], [0.6, 0.7]
    x = np.array([10.0, 20.0, 49.999, 50.0, 99.0, 100.0, 1e4])
    assert binned(x, edges, values).tolist() == [0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7]
    assert binned(x, edges, values, underflow=0.0, overflow=0.5).tolist() == [0.0, 0.6, 0.6, 0.7, 0.7, 0.5, 0.5]
    jag = binned(ak.Array([[10.0, 60.0], [], [200.0]]), edges, values, overflow=0.1)
    assert jag.tolist() == [[0.6, 0.7], [], [0.1]]
    with pytest.raises(ValueError):
        binned(x, [0.0, 1.0], [0.5, 0.6])


# --- counter-based random numbers ------------------------------------------------------------------

def test_rng_uniform_is_a_function_of_its_keys():
    ev = np.repeat(np.arange(1, 2001), 5)
    ix = np.tile(np.arange(5), 2000)
    u = rng.uniform(7, "btag", ev, ix)
    assert u.shape == ev.shape and np.all(u >= 0) and np.all(u < 1)
    # same keys -> same numbers, whatever the order or the slicing of the call
    np.testing.assert_array_equal(u, rng.uniform(7, "btag", ev, ix))
    perm = np.random.default_rng(3).permutation(len(ev))
    np.testing.assert_array_equal(u[perm], rng.uniform(7, "btag", ev[perm], ix[perm]))
    np.testing.assert_array_equal(u[:7], rng.uniform(7, "btag", ev[:7], ix[:7]))
    # any key changed -> (almost always) another number
    for other in (rng.uniform(8, "btag", ev, ix), rng.uniform(7, "jvt", ev, ix),
                  rng.uniform(7, "btag", ev + 1, ix)):
        assert np.mean(other == u) < 0.001
    # flat: 10,000 numbers, mean 1/2 within 4 sigma (sigma = 1/sqrt(12 n)) and all deciles populated
    assert abs(u.mean() - 0.5) < 4 / math.sqrt(12 * len(u))
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - 1000) < 4 * math.sqrt(1000 * 0.9))
    # broadcasting: one event number against an index array
    np.testing.assert_array_equal(rng.uniform(7, "btag", 5, np.arange(3)),
                                  rng.uniform(7, "btag", np.array([5, 5, 5]), np.arange(3)))


def test_aplanarity_by_hand(build):
    from recast.objects import aplanarity

    # three equal jets along x, y and z: S = 1/3 * identity, Ap = 1.5 / 3
    along_axes = [build.jet(100, 0.0, 0.0, m=0.0), build.jet(100, 0.0, math.pi / 2, m=0.0),
                  build.jet(100 / math.sinh(5.0), 5.0, 0.0, m=0.0)]
    planar = [build.jet(300, 0.0, 0.3), build.jet(200, 0.0, 2.0), build.jet(150, 0.0, -2.5)]  # all with pz = 0
    objs = build.objects([{"jets": along_axes, "met": 0, "met_phi": 0}, {"jets": planar, "met": 0, "met_phi": 0},
                          {"jets": [], "met": 0, "met_phi": 0}])
    ap = aplanarity(objs.jets)
    # the "z" jet is not exactly along z (eta = 5): compute S by hand for it
    p = np.array([[100, 0, 0], [0, 100, 0], [100 / math.sinh(5.0), 0, 100]])
    s = p.T @ p / (p**2).sum()
    assert ap[0] == pytest.approx(1.5 * np.linalg.eigvalsh(s)[0], rel=1e-9)
    assert ap[0] == pytest.approx(0.5, abs=0.01)
    assert ap[1] == pytest.approx(0.0, abs=1e-12) and ap[2] == 0.0


def test_pair_mass_min_of_and_max_of_by_hand(build):
    from recast.objects import max_of, min_of, pair_mass

    # two back-to-back 45 GeV massless leptons: m = 90 GeV; a lone lepton has no pair: NaN
    objs = build.objects([{"electrons": [build.lepton(11, 45, 0.0, 0.0), build.lepton(-11, 45, 0.0, math.pi)],
                           "met": 0, "met_phi": 0},
                          {"electrons": [build.lepton(11, 45, 0.0, 0.0)], "met": 0, "met_phi": 0}])
    two = ak.pad_none(objs.electrons, 2, axis=1)
    m = pair_mass(two[:, 0], two[:, 1])
    assert m[0] == pytest.approx(90.0, abs=1e-3) and math.isnan(m[1])
    values = ak.Array([[3.0, 1.0, 2.0, 0.5, 7.0], [4.0], []])
    assert min_of(values, -1.0, stop=3).tolist() == [1.0, 4.0, -1.0]
    assert min_of(values, 99.0, start=3).tolist() == [0.5, 99.0, 99.0]
    assert max_of(values, 0.0, stop=2).tolist() == [3.0, 4.0, 0.0]


def test_overlapping_with_the_muon_pt_fraction(build):
    """ATLAS' muon-jet rule: a jet is near a 'hard' muon when the muon, within the cone, carries
    more than the given fraction of the jet's pT."""
    from recast.objects import overlapping

    jets = [build.jet(100, 0.0, 0.0), build.jet(40, 1.0, 1.0), build.jet(50, -1.0, 2.5)]
    muons = [build.lepton(13, 30, 0.1, 0.0), build.lepton(13, 25, 1.0, 1.2), build.lepton(13, 60, 2.0, 2.5)]
    objs = build.objects([{"jets": jets, "muons": muons, "met": 0, "met_phi": 0}])
    # jet 0: muon 0 at dR 0.1, 30 < 0.5 x 100; jet 1: muon 1 at dR 0.2, 25 > 0.5 x 40; jet 2: muon 2 at dR 3
    assert overlapping(objs.jets, objs.muons, 0.4).tolist() == [[True, True, False]]
    assert overlapping(objs.jets, objs.muons, 0.4, b_pt_above=0.5).tolist() == [[False, True, False]]
    assert overlapping(objs.jets, objs.muons, 0.15, b_pt_above=0.2).tolist() == [[True, False, False]]
