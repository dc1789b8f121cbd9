"""The numba anti-kt kernel (recast.objects.antikt) against fastjet's classic per-event API, with
``==`` and not closeness: every event of the Pythia sample, random events (hypothesis), and
hand-computed events; and the pseudojet rapidity and azimuth it shares with fastjet."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import fastjet
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from recast.objects import antikt

INVISIBLE = (12, 14, 16, 1000022)


def _fastjet(event: np.ndarray, radius: float, pt_min: float):
    """fastjet's ``inclusive_jets(pt_min)`` of one event (rows px, py, pz, E): the jets' (px, py,
    pz, E) in fastjet's order and their constituents' input indices, sorted."""
    inputs = []
    for i, (px, py, pz, e) in enumerate(event):
        pj = fastjet.PseudoJet(float(px), float(py), float(pz), float(e))
        pj.set_user_index(i)
        inputs.append(pj)
    sequence = fastjet.ClusterSequence(inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    jets = sequence.inclusive_jets(pt_min)  # whose constituents need the sequence alive
    return ([(j.px(), j.py(), j.pz(), j.E()) for j in jets],
            [sorted(c.user_index() for c in j.constituents()) for j in jets])


def _ours(events: list[np.ndarray], radius: float, pt_min: float, by_pt: bool = False):
    """The kernel's jets of several events at once, per event as _fastjet gives them."""
    counts = [len(ev) for ev in events]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    flat = np.concatenate([np.reshape(ev, (-1, 4)) for ev in events]) if events else np.zeros((0, 4))
    found = antikt.cluster(flat[:, 0], flat[:, 1], flat[:, 2], flat[:, 3], offsets, radius, pt_min, by_pt=by_pt)
    jet_offsets = np.concatenate([[0], np.cumsum(found.counts)])
    out = []
    for ev in range(len(events)):
        jets = range(jet_offsets[ev], jet_offsets[ev + 1])
        out.append(([(found.px[k], found.py[k], found.pz[k], found.E[k]) for k in jets],
                    [found.constituents[found.constituent_offsets[k]:found.constituent_offsets[k + 1]].tolist()
                     for k in jets]))
    return out


def _by_pt(jets, constituents):
    """fastjet's jets by decreasing hypot(px, py), equal ones in fastjet's order (a stable sort,
    as ak.argsort orders them in recast.objects.jets)."""
    order = sorted(range(len(jets)), key=lambda k: -np.hypot(jets[k][0], jets[k][1]))
    return [jets[k] for k in order], [constituents[k] for k in order]


def _assert_same_as_fastjet(events: list[np.ndarray], radius: float, pt_min: float) -> int:
    """Every event's jets == fastjet's (all four components, count, order; constituent sets), in
    fastjet's order and by pT; the number of jets."""
    ours = _ours(events, radius, pt_min)
    ours_by_pt = _ours(events, radius, pt_min, by_pt=True)
    n = 0
    for ev, event in enumerate(events):
        ref = _fastjet(event, radius, pt_min)
        assert ours[ev] == ref, f"event {ev} (R = {radius}, pT > {pt_min}): {ours[ev]} != fastjet {ref}"
        assert ours_by_pt[ev] == _by_pt(*ref), f"event {ev}: by pT"
        n += len(ref[0])
    return n


# --- the Pythia sample -----------------------------------------------------------------------------

def _sample_events(batch, ghosts: bool = False) -> list[np.ndarray]:
    """Each event's visible final-state particles (px, py, pz, E); with ``ghosts``, then its B
    and C hadrons scaled by 1e-18 (as the ghost labelling clusters them)."""
    events = []
    for ev in range(len(batch)):
        p = batch.particles[ev]
        keep = ~np.isin(np.abs(np.asarray(p.pid)), INVISIBLE)
        rows = [np.column_stack([np.asarray(p[c])[keep] for c in ("px", "py", "pz", "E")])]
        if ghosts:
            for had in (batch.bhadrons[ev], batch.chadrons[ev]):
                rows.append(1e-18 * np.column_stack([np.asarray(had[c], dtype=np.float64)
                                                     for c in ("px", "py", "pz", "E")]).reshape(-1, 4))
        events.append(np.concatenate(rows))
    return events


@pytest.mark.parametrize("radius", [0.4, 0.8, 1.0])
def test_every_jet_of_the_sample_is_fastjets(gtt_sample, radius):
    events = _sample_events(gtt_sample[0])
    assert sum(len(ev) for ev in events) / len(events) > 300  # real events, many inputs each
    assert _assert_same_as_fastjet(events, radius, 0.0) > 30 * len(events)  # soft jets included
    assert _assert_same_as_fastjet(events, radius, 20.0) > 2 * len(events)


def test_sample_with_ghost_hadrons_is_fastjets(gtt_sample):
    events = _sample_events(gtt_sample[0], ghosts=True)
    _assert_same_as_fastjet(events, 0.4, 0.0)
    _assert_same_as_fastjet(events, 0.4, 20.0)


def test_all_events_of_a_chunk_at_once_equal_one_at_a_time(gtt_sample):
    """One kernel call over many events (work space reused between them) gives each event's jets
    as a call on that event alone."""
    events = _sample_events(gtt_sample[0])[:40]
    together = _ours(events, 0.4, 0.0)
    assert together == [_ours([ev], 0.4, 0.0)[0] for ev in events]
    assert together == _ours(events[::-1], 0.4, 0.0)[::-1]


def test_tiles_laid_out_again_when_full_change_nothing(gtt_sample):
    """Without spare room in the tiles, every merged jet that moves to another tile has them laid
    out again: the jets stay fastjet's."""
    events = _sample_events(gtt_sample[0])[:30]
    offsets = np.concatenate([[0], np.cumsum([len(ev) for ev in events])])
    flat = np.concatenate(events)
    for radius in (0.4, 1.0):
        tight = antikt._as_jets(*antikt._cluster_events(*flat.T.copy(), offsets, radius, 0.0, False,
                                                        *antikt._work_space(offsets, 0)))
        roomy = antikt.cluster(*flat.T, offsets, radius, 0.0, by_pt=False)
        assert all(np.array_equal(a, b) for a, b in zip(tight, roomy))
    assert _ours(events, 0.4, 0.0) == [_fastjet(ev, 0.4, 0.0) for ev in events]


# --- random events ---------------------------------------------------------------------------------

_SPECIAL_PHI = [0.0, 1e-15, -1e-15, math.pi, -math.pi, math.pi - 1e-13, -math.pi + 1e-13, 2 * math.pi - 1e-15, 0.5]


@st.composite
def _particle(draw) -> tuple[float, float, float, float]:
    kind = draw(st.sampled_from(["massless", "massive", "beam", "beam-massive"]))
    if kind.startswith("beam"):
        p = draw(st.floats(0.0, 7000.0)) * draw(st.sampled_from([1.0, -1.0]))
        e = abs(p) if kind == "beam" else math.hypot(p, draw(st.floats(0.001, 100.0)))
        return (0.0, draw(st.sampled_from([0.0, -0.0])), p, e)
    pt = draw(st.floats(1e-3, 2000.0))
    y = draw(st.one_of(st.floats(-5.0, 5.0), st.floats(-40.0, 40.0)))
    phi = draw(st.one_of(st.floats(-math.pi, math.pi), st.sampled_from(_SPECIAL_PHI)))
    m = 0.0 if kind == "massless" else draw(st.floats(0.0, 100.0))
    mt = math.hypot(pt, m)
    return (pt * math.cos(phi), pt * math.sin(phi), mt * math.sinh(y), mt * math.cosh(y))


@st.composite
def _event(draw, max_size: int) -> np.ndarray:
    """Random particles (0, 1, 2 and up to max_size), some duplicated (exact ties), and soft
    ghosts: copies of particles scaled by 1e-18."""
    rows = draw(st.lists(_particle(), min_size=0, max_size=max_size))
    rows += [rows[k] for k in draw(st.lists(st.integers(0, max(len(rows) - 1, 0)), max_size=3)) if rows]
    rows += [tuple(1e-18 * x for x in rows[k])
             for k in draw(st.lists(st.integers(0, max(len(rows) - 1, 0)), max_size=3)) if rows]
    order = draw(st.permutations(range(len(rows))))
    return np.array([rows[k] for k in order], dtype=np.float64).reshape(-1, 4)


# fastjet's default strategy clusters up to 30 inputs with N2Plain, whose order for exact ties
# (duplicated particles, equal pT) the kernel follows: ties included, the jets must be the same.
@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(_event(max_size=24), min_size=1, max_size=4),
       radius=st.sampled_from([0.4, 0.8, 1.0, 0.05, 2.5]), pt_min=st.sampled_from([0.0, 5.0]))
@example(events=[np.zeros((0, 4)), np.array([[1.0, 0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0, 1.0]] * 2)],
         radius=0.4, pt_min=0.0)
@example(events=[np.array([[0.0, 0.0, 5.0, 5.0], [0.0, 0.0, 5.2, 5.2], [0.0, 0.0, -3.0, 3.0], [0.0, 0.0, 0.0, 0.0]])],
         radius=0.4, pt_min=0.0)  # zero-pT inputs along the beam: rapidities +-(1e5 + |pz|), equal diJ
@example(events=[np.array([[1e-160, 0.0, 0.0, 1e-160], [0.0, 0.0, 5.0, 5.0]])],
         radius=0.4, pt_min=0.0)  # kt2 below 1e-300: its scale is 1e300 (not 1/kt2), as a zero pT's
@example(events=[np.array([[10.0, 0.0, 0.0, 10.0], [1.0, 0.0, 0.3, math.hypot(1.0, 0.3)],
                           [1.0, 0.0, -0.3, math.hypot(1.0, 0.3)], [1.0, 0.0, -0.3, math.hypot(1.0, 0.3)]])],
         radius=0.4, pt_min=0.0)  # the merged pair lands exactly as far from the first as its NN: no change
@example(events=[np.array([[10.0, 0.0, 0.0, 10.0], [-1.0, 0.0, 0.0, 1.0], [-1.0, 0.0, 0.0, 1.0],
                           [1.0, 0.0, 0.39, math.hypot(1.0, 0.39)], [1.0, 0.0, 0.39, math.hypot(1.0, 0.39)],
                           [1.0, 0.0, -0.39, math.hypot(1.0, 0.39)]])],
         radius=0.4, pt_min=0.0)  # the last input moves to position 2, then ties with the merged 4th+5th
def test_small_random_events_ties_included(events, radius, pt_min):
    _assert_same_as_fastjet(events, radius, pt_min)


def _large_event(seed: int, n: int) -> np.ndarray:
    """A busy event: a few hard particles each with a spray of soft ones around it, soft
    particles everywhere, one along the beam (zero pT) or none, ghosts next to hard particles.
    No exact ties: beyond 30 inputs fastjet's tiled strategies break those otherwise than the
    kernel (several zero-pT inputs have equal diJ; their jets come in another order)."""
    rng = np.random.default_rng(seed)
    n_hard = int(rng.integers(1, 8))
    hard_y, hard_phi = rng.uniform(-3, 3, n_hard), rng.uniform(-np.pi, np.pi, n_hard)
    k = rng.integers(0, n_hard, n)
    spray = rng.random(n) < 0.6
    y = np.where(spray, hard_y[k] + rng.normal(0, 0.15, n), rng.uniform(-6, 6, n))
    phi = np.where(spray, hard_phi[k] + rng.normal(0, 0.15, n), rng.uniform(-np.pi, np.pi, n))
    pt = np.where(spray, rng.exponential(5.0, n), rng.exponential(1.0, n))
    pt[:n_hard] = rng.uniform(50, 1000, n_hard)
    y[:n_hard], phi[:n_hard] = hard_y, hard_phi
    m = np.where(rng.random(n) < 0.3, rng.uniform(0.1, 2.0, n), 0.0)
    mt = np.hypot(pt, m)
    rows = np.column_stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y), mt * np.cosh(y)])
    if rng.random() < 0.5:
        pz = rng.uniform(-3000, 3000)
        rows[n - 1] = (0.0, 0.0, pz, abs(pz))
    ghosts = 1e-18 * rows[:n_hard] * rng.uniform(0.5, 1.5, (n_hard, 1))
    return np.concatenate([rows, ghosts])[rng.permutation(n + n_hard)]


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(31, 1500), radius=st.sampled_from([0.4, 0.8, 1.0, 1.5]))
def test_large_random_events(seed, n, radius):
    _assert_same_as_fastjet([_large_event(seed, n)], radius, 0.0)


# --- constructed events ----------------------------------------------------------------------------

def _massless(pt: float, phi: float) -> tuple[float, float, float, float]:
    """A massless particle at pz = 0 (rapidity 0 up to rounding)."""
    px, py = pt * math.cos(phi), pt * math.sin(phi)
    return (px, py, 0.0, math.hypot(px, py))


def _sum(*particles):
    out = particles[0]
    for p in particles[1:]:
        out = tuple(a + b for a, b in zip(out, p))
    return out


def test_two_particles_closer_than_r_are_one_jet():
    a, b = _massless(50.0, 0.0), _massless(30.0, 0.3)
    assert _ours([np.array([a, b])], 0.4, 0.0) == [([_sum(a, b)], [[0, 1]])]


def test_two_particles_farther_than_r_are_two_jets_by_pt():
    a, b = _massless(30.0, 0.0), _massless(50.0, 0.5)
    assert _ours([np.array([a, b])], 0.4, 0.0, by_pt=True) == [([b, a], [[1], [0]])]


def test_two_particles_exactly_r_apart_are_two_jets():
    """fastjet's neighbours are strictly closer than R: R chosen so that R*R is the computed
    distance of the pair, which then stays apart."""
    a = (40.0, 0.0, 0.0, 40.0)  # rapidity and azimuth exactly 0
    for k in range(100):
        b = _massless(20.0, 0.3 + k * 1e-9)
        rap_b, phi_b = antikt._rap_phi(*b, b[0] * b[0] + b[1] * b[1])
        assert rap_b == 0.0 or abs(rap_b) < 1e-15
        d = phi_b * phi_b + rap_b * rap_b
        radius = math.sqrt(d)
        if radius * radius == d:
            break
    assert radius * radius == d
    event = np.array([a, b])
    assert _ours([event], radius, 0.0, by_pt=True) == [([a, b], [[0], [1]])] == [_by_pt(*_fastjet(event, radius, 0.0))]
    wider = np.nextafter(radius, 1.0)
    assert wider * wider > d
    assert _ours([event], wider, 0.0) == [([_sum(a, b)], [[0, 1]])]


def test_the_hardest_pair_merges_first_so_a_chain_splits():
    """A (100 GeV, phi 0), B (50 GeV, phi 0.35), C (1 GeV, phi 0.7), R = 0.4: anti-kt merges A
    and B first (diJ 0.35^2/100^2 below B-C's 0.35^2/50^2); A+B then sits at phi ~ 0.12, more
    than R from C, which stays a jet of its own. Merging B and C first would have put all three
    into one jet (B+C at phi ~ 0.36 is 0.36 from A)."""
    a, b, c = _massless(100.0, 0.0), _massless(50.0, 0.35), _massless(1.0, 0.7)
    assert _ours([np.array([c, a, b])], 0.4, 0.0, by_pt=True) == [([_sum(a, b), c], [[1, 2], [0]])]


def test_inclusive_jets_keep_pt2_at_least_pt_min_squared():
    a = (3.0, 4.0, 1.0, 6.0)  # kt2 = 25 exactly
    assert _ours([np.array([a])], 0.4, 5.0) == [([a], [[0]])]
    assert _ours([np.array([a])], 0.4, np.nextafter(5.0, 6.0)) == [([], [])]


def test_equal_pt_jets_keep_fastjets_order():
    """Two isolated particles of the same pT have the same diJ: fastjet (N2Plain) takes the first
    in its list, so the second is made last and comes first in inclusive_jets; by pT the tie
    keeps that order."""
    a, b = (10.0, 0.0, 0.0, 10.0), (0.0, 10.0, 0.0, 10.0)
    event = np.array([a, b])
    assert _ours([event], 0.4, 0.0) == [([b, a], [[1], [0]])] == [_fastjet(event, 0.4, 0.0)]
    assert _ours([event], 0.4, 0.0, by_pt=True) == [([b, a], [[1], [0]])]


# --- pseudojet kinematics ---------------------------------------------------------------------------

@settings(max_examples=500, deadline=None, derandomize=True)
@given(p=_particle())
@example(p=(0.0, 0.0, 5.0, 5.0))  # along the beam: MaxRap + |pz|
@example(p=(0.0, -0.0, -5.0, 5.0))
@example(p=(0.0, 0.0, 0.0, 0.0))
@example(p=(0.0, 0.0, 3.0, 5.0))  # massive along the beam: a finite rapidity
@example(p=(1.0, -1e-300, 0.0, 1.0))  # azimuth -1e-300 + 2 pi rounds to 2 pi: back to 0
@example(p=(1.0, 1.0, 5.0, 2.0))  # tachyonic: its mass squared taken as 0
@example(p=(-1.0, -0.0, 0.0, 1.0))
def test_rapidity_and_azimuth_are_fastjets(p):
    pj = fastjet.PseudoJet(*(float(x) for x in p))
    rap, phi = antikt._rap_phi(*p, p[0] * p[0] + p[1] * p[1])
    assert (rap, phi) == (pj.rap(), pj.phi_02pi())


# --- the kernel's contract ---------------------------------------------------------------------------

_SIGNATURES = """
import json, numba, numpy as np
from recast.objects import antikt
offsets = np.array([0, 3, 5])
x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
antikt.cluster(x, x, x, x + 10, offsets, 0.4, 0.0)
print(json.dumps({name: len(f.signatures) for name, f in vars(antikt).items()
                  if isinstance(f, numba.core.registry.CPUDispatcher)}))
"""


def test_each_helper_compiles_once(tmp_path, empty_cache_env):
    """An argument given as a literal (the constant _NO_JET, a counter starting at 0) made numba
    compile the helper it is passed to once for the literal's type and again for int64: seconds
    of a first run. Compiled afresh (an empty cache), the kernel asks each helper for one
    signature."""
    env = {**empty_cache_env, "NUMBA_CACHE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", _SIGNATURES], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    signatures = json.loads(run.stdout.strip().splitlines()[-1])
    assert signatures["_nearest"] == signatures["_set_nn"] == 1  # the count has teeth: the helpers were compiled
    assert {name: n for name, n in signatures.items() if n > 1} == {}


def test_no_events_and_empty_events():
    empty = antikt.cluster(*(np.zeros(0),) * 4, np.zeros(1, np.int64), 0.4, 0.0)
    assert len(empty.px) == 0 and len(empty.counts) == 0 and empty.constituent_offsets.tolist() == [0]
    found = antikt.cluster(*(np.array([1.0, 1.0]),) * 2, np.zeros(2), np.array([2.0, 2.0]),
                           np.array([0, 0, 2, 2]), 0.4, 0.0)
    assert found.counts.tolist() == [0, 1, 0]
    assert found.constituent_offsets.tolist() == [0, 2] and found.constituents.tolist() == [0, 1]


@pytest.mark.parametrize("radius", [0.0, -0.4, 1001.0, float("nan")])
def test_radius_outside_fastjets_range_is_refused(radius):
    with pytest.raises(ValueError, match="radius"):
        antikt.cluster(np.ones(1), np.ones(1), np.ones(1), np.ones(1) * 2, np.array([0, 1]), radius, 0.0)


@pytest.mark.parametrize("offsets", [[1, 1], [0, 2, 1], [0, 2], []])
def test_offsets_must_cover_the_inputs(offsets):
    with pytest.raises(ValueError, match="offsets"):
        antikt.cluster(np.ones(1), np.ones(1), np.ones(1), np.ones(1) * 2, np.array(offsets, np.int64), 0.4, 0.0)


# --- a first run: fastjet stands in while the kernel compiles in a child process -------------------

@pytest.mark.parametrize(("radius", "pt_min", "by_pt"), [(0.4, 20.0, True), (0.4, 20.0, False), (1.0, 0.0, True)])
def test_fastjet_stand_in_gives_the_kernels_arrays(gtt_sample, radius, pt_min, by_pt):
    """What a run gets while the kernel compiles elsewhere: the same arrays, order and dtypes."""
    events = _sample_events(gtt_sample[0], ghosts=True)
    offsets = np.concatenate([[0], np.cumsum([len(ev) for ev in events])]).astype(np.int64)
    flat = np.ascontiguousarray(np.concatenate(events).T)
    kernel = antikt.cluster(*flat, offsets, radius, pt_min, by_pt=by_pt)
    stand_in = antikt._with_fastjet(*flat, offsets, radius, pt_min, by_pt)
    assert len(kernel.px) > 2 * len(events)
    for ours, theirs in zip(kernel, stand_in):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    empty = antikt._with_fastjet(*(np.zeros(0),) * 4, np.zeros(1, np.int64), 0.4, 0.0, True)
    assert [len(a) for a in empty] == [0, 0, 0, 0, 0, 1, 0]


FIRST_RUN = """
import numpy as np
from recast.objects import antikt

stood_in = []
fastjet_jets = antikt._with_fastjet
antikt._with_fastjet = lambda *a: stood_in.append(1) or fastjet_jets(*a)
event = (np.array([10.0, -10.0, 3.0]), np.array([0.0, 5.0, 40.0]), np.array([1.0, -2.0, 0.5]),
         np.array([12.0, 12.0, 41.0]), np.array([0, 3], np.int64), 0.4, 5.0)
antikt.compile_in_background()
child = antikt._compiling
assert child is not None, "nothing to compile: the cache is not fresh"
first = antikt.cluster(*event)
assert stood_in == [1], "fastjet did not stand in while the child compiled"
assert child.wait(), "the child failed"
second = antikt.cluster(*event)
assert stood_in == [1], "fastjet asked again after the child was done"
assert antikt._cluster_events.stats.cache_hits, "the kernel was compiled here, not loaded from the cache"
assert all(np.array_equal(a, b) for a, b in zip(first, second))
assert list(first.counts) == [3] and first.constituents.tolist() == [2, 1, 0]  # far apart: by pT
print("ok")
"""


def test_first_run_stands_in_with_fastjet_until_the_child_has_compiled(tmp_path, empty_cache_env):
    """A fresh cache (a first run after installing): the kernel compiles in a child, the run's
    first jets come from fastjet, the next ones from the kernel the child put in the cache."""
    env = empty_cache_env
    done = subprocess.run([sys.executable, "-c", FIRST_RUN], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
