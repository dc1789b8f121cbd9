"""Generator records (particles plus decay history) for a chunk of events, and the event batch.

Every event source (Pythia in-process, HepMC3 or HepMC2 files) fills a :class:`GenRecord`:
flat numpy arrays over all particles of a chunk of events, with the parent links as a CSR
table. :func:`to_batch` turns it into the columnar **event batch** that the object stage reads:

``batch`` (an awkward array, one entry per event) has the fields

==============  =====================================================================================
``event_number``  int64, from the file or the generator's event counter
``weight``        float64, the nominal event weight
``particles``     final-state particles: ``px, py, pz, E`` (GeV), ``pid``, ``charge`` (units of e),
                  ``origin`` (bit mask of :data:`FROM_HADRON`, :data:`FROM_TAU`, :data:`FROM_BSM`)
``bhadrons``      weakly decaying B hadrons (no B hadron among their children): ``px, py, pz, E``
``chadrons``      weakly decaying C hadrons: ``px, py, pz, E``
``taus``          last taus of each decay chain: visible ``px, py, pz, E`` (tau minus its neutrinos),
                  ``charge``, ``hadronic`` (no electron or muon among the decay products),
                  ``origin``
==============  =====================================================================================

The origin flags are computed from the full ancestry in one numba pass per chunk. "From hadron"
means some ancestor is a decayed hadron; beam particles do not count (every particle descends
from the protons).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import awkward as ak
import numba
import numpy as np
from particle.pdgid import charge as _pdg_charge
from particle.pdgid import has_bottom, has_charm, is_hadron

MEV_TO_GEV = 1.0e-3
"""A momentum in MeV times this is the momentum in GeV."""

FROM_HADRON = np.uint8(1)
FROM_TAU = np.uint8(2)
FROM_BSM = np.uint8(4)

_NEUTRINOS = (12, 14, 16)


@dataclass
class GenRecord:
    """All particles of a chunk of events, flattened, with their parent links.

    ``parents[parent_offsets[i]:parent_offsets[i + 1]]`` are the indices (into the flat arrays)
    of the parents of particle ``i``. ``final`` marks stable final-state particles and ``beam``
    the incoming beam particles.
    """

    event_offsets: np.ndarray  # int64[n_events + 1]
    pid: np.ndarray  # int32[n]
    final: np.ndarray  # bool[n]
    beam: np.ndarray  # bool[n]
    p4: np.ndarray  # float64[n, 4]: px, py, pz, E in GeV
    parent_offsets: np.ndarray  # int64[n + 1]
    parents: np.ndarray  # int64[m]
    weight: np.ndarray  # float64[n_events]
    event_number: np.ndarray  # int64[n_events]
    status: np.ndarray | None = None  # int32[n]: the generator's status codes, where the source has them

    @property
    def n_events(self) -> int:
        return len(self.event_offsets) - 1


@lru_cache(maxsize=None)
def _pid_properties(pid: int) -> tuple[float, bool, bool, bool, bool]:
    """(charge, is hadron, is B hadron, is C hadron, is BSM) for one PDG id."""
    try:
        q = float(_pdg_charge(pid) or 0.0)
        hadron = bool(is_hadron(pid))
        b = hadron and bool(has_bottom(pid))
        c = hadron and bool(has_charm(pid)) and not b
    except Exception:  # ids the PDG scheme does not know (generator specials): neutral, not a hadron
        q, hadron, b, c = 0.0, False, False, False
    return q, hadron, b, c, 1000000 <= abs(pid) < 9000000


_DIRECT = 1 << 15  # ids with |pid| below this (quarks to most hadrons) are found by direct indexing


@numba.njit(cache=True)
def _direct_slots(pid):
    """Per particle, the index of its id among the distinct direct-range ids in order of first
    appearance (-1 for ids outside the range), and those ids."""
    slot = np.full(2 * _DIRECT, -1, np.int64)
    inverse = np.empty(len(pid), np.int64)
    ids = np.empty(min(len(pid), 2 * _DIRECT), np.int64)
    n = 0
    for i in range(len(pid)):
        p = np.int64(pid[i])
        if -_DIRECT < p < _DIRECT:
            k = slot[p + _DIRECT]
            if k < 0:
                k = n
                slot[p + _DIRECT] = k
                ids[n] = p
                n += 1
            inverse[i] = k
        else:
            inverse[i] = -1
    return inverse, ids[:n]


def _distinct_ids(pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct ids, index of each particle's id among them): what ``np.unique(pid,
    return_inverse=True)`` gives (in another order), in one pass over the chunk's million ids
    instead of a sort; only the rare large ids (BSM, excited hadrons, nuclei) are sorted."""
    inverse, small = _direct_slots(pid)
    other = inverse < 0
    if other.any():
        large, large_inverse = np.unique(pid[other], return_inverse=True)
        inverse[other] = len(small) + large_inverse.reshape(-1)
        return np.concatenate([small, large.astype(np.int64)]), inverse
    return small, inverse


def pid_table(pid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-particle charge, hadron, B-hadron, C-hadron and BSM flags, looked up once per distinct id."""
    uniq, inverse = _distinct_ids(pid)
    props = np.array([_pid_properties(int(p)) for p in uniq], dtype=np.float64).reshape(-1, 5)
    charge = props[:, 0][inverse]
    flags = props[:, 1:].astype(bool)[inverse]
    return charge, flags[:, 0], flags[:, 1], flags[:, 2], flags[:, 3]


@numba.njit(cache=True)
def _ancestor_flags(parent_offsets, parents, own):
    """OR of ``own`` over all ancestors of each particle (iterative DFS, memoised; a cycle in the
    parent links is tolerated, its members count as each other's ancestors)."""
    n = len(own)
    flags = np.zeros(n, np.uint8)
    state = np.zeros(n, np.uint8)  # 0 unvisited, 1 on the stack, 2 done
    stack = np.empty(n, np.int64)
    cyclic = False
    for root in range(n):
        if state[root] == 2:
            continue
        top = 0
        stack[0] = root
        state[root] = 1
        while top >= 0:
            i = stack[top]
            pushed = False
            for k in range(parent_offsets[i], parent_offsets[i + 1]):
                j = parents[k]
                if state[j] == 0:
                    state[j] = 1
                    top += 1
                    stack[top] = j
                    pushed = True
                    break
                if state[j] == 1:
                    cyclic = True
            if pushed:
                continue
            f = np.uint8(0)
            for k in range(parent_offsets[i], parent_offsets[i + 1]):
                j = parents[k]
                if state[j] == 2:
                    f |= flags[j] | own[j]
            flags[i] = f
            state[i] = 2
            top -= 1
    if cyclic:
        # The DFS skips a parent that is still on the stack, so particles on a cycle (and their
        # descendants already memoised) can miss flags, depending on the visiting order.
        # Propagate along all links until nothing changes.
        changed = True
        while changed:
            changed = False
            for i in range(n):
                f = flags[i]
                for k in range(parent_offsets[i], parent_offsets[i + 1]):
                    j = parents[k]
                    f |= flags[j] | own[j]
                if f != flags[i]:
                    flags[i] = f
                    changed = True
    return flags


@numba.njit(cache=True)
def _children_summary(parent_offsets, parents, abspid, is_b, is_c, p4):
    """Per particle: has a B-hadron child, a C-hadron child, a tau child, an e/mu child, and the
    summed four-momentum of its neutrino children."""
    n = len(abspid)
    b_child = np.zeros(n, np.bool_)
    c_child = np.zeros(n, np.bool_)
    tau_child = np.zeros(n, np.bool_)
    lep_child = np.zeros(n, np.bool_)
    nu_sum = np.zeros((n, 4), np.float64)
    for i in range(n):
        a = abspid[i]
        for k in range(parent_offsets[i], parent_offsets[i + 1]):
            j = parents[k]
            if is_b[i]:
                b_child[j] = True
            if is_c[i]:
                c_child[j] = True
            if a == 15:
                tau_child[j] = True
            elif a == 11 or a == 13:
                lep_child[j] = True
            elif a == 12 or a == 14 or a == 16:
                for c in range(4):
                    nu_sum[j, c] += p4[i, c]
    return b_child, c_child, tau_child, lep_child, nu_sum


def _jagged(event_offsets: np.ndarray, mask: np.ndarray, p4: np.ndarray, columns: dict[str, np.ndarray],
            minus: np.ndarray | None = None) -> ak.Array:
    """The particles in ``mask`` as a jagged record array: their four-momenta (rows of ``p4``,
    less those of ``minus`` if given) and ``columns``, split into events (``event_offsets``: where
    each event's particles start)."""
    idx = np.flatnonzero(mask)
    rows = p4[idx] if minus is None else p4[idx] - minus[idx]
    fields = {"px": rows[:, 0], "py": rows[:, 1], "pz": rows[:, 2], "E": rows[:, 3],
              **{k: v[idx] for k, v in columns.items()}}
    counts = np.diff(np.searchsorted(idx, event_offsets))  # idx is increasing: how many fall in each event
    return ak.unflatten(ak.zip(fields, depth_limit=1), counts)


def to_batch(rec: GenRecord) -> ak.Array:
    """Build the columnar event batch (see module docstring) from a generator record."""
    abspid = np.abs(rec.pid)
    charge, hadron, is_b, is_c, bsm = pid_table(rec.pid)
    if len(rec.pid) and len(rec.parents) == 0:
        warnings.warn(
            "events carry no decay history: every lepton looks prompt and there are no B hadrons "
            "for b-labelling", stacklevel=2)
    # the flags each particle passes to its descendants (bit by bit, without indexing a million rows)
    own = ((hadron & ~rec.beam).view(np.uint8) * FROM_HADRON | (abspid == 15).view(np.uint8) * FROM_TAU
           | bsm.view(np.uint8) * FROM_BSM)
    origin = _ancestor_flags(rec.parent_offsets, rec.parents, own)
    b_child, c_child, tau_child, lep_child, nu_sum = _children_summary(
        rec.parent_offsets, rec.parents, abspid, is_b, is_c, rec.p4)

    charge = charge.astype(np.float32)
    particles = _jagged(rec.event_offsets, rec.final, rec.p4, {"pid": rec.pid, "charge": charge, "origin": origin})
    bhadrons = _jagged(rec.event_offsets, is_b & ~b_child, rec.p4, {})
    chadrons = _jagged(rec.event_offsets, is_c & ~c_child, rec.p4, {})
    last_tau = (abspid == 15) & ~tau_child
    taus = _jagged(rec.event_offsets, last_tau, rec.p4, {"charge": charge, "hadronic": ~lep_child, "origin": origin},
                   minus=nu_sum)
    return ak.zip({"event_number": rec.event_number, "weight": rec.weight, "particles": particles,
                   "bhadrons": bhadrons, "chadrons": chadrons, "taus": taus}, depth_limit=1)


@dataclass
class MomentumCheck:
    """What :func:`momentum_check` found in a chunk of events.

    Only final-state particles (status 1) must have a finite momentum and a non-negative energy:
    they make every object of the analysis. Internal particles may have a negative energy as a
    matter of physics (space-like partons of the initial-state shower, status 3 in Pythia 6 and
    status 11 gluons in Herwig records); they feed no object, only the ancestry (by their links,
    not their momenta) and the collision check (beams), so they are counted, not refused. The
    B/C-hadron and tau records the batch carries are checked on the batch itself (see
    :func:`carried_records_finite`).
    """

    bad_final: int  # flat index of the first final-state particle at fault, -1 if none
    internal_negative_energy: int  # internal particles with E < 0
    internal_non_finite: int  # internal particles with a non-finite momentum component
    internal_statuses: tuple[int, ...]  # the statuses of those internal particles


@numba.njit(cache=True)
def _momentum_faults(p4, final):
    """One pass over the momenta: (first final-state particle with a non-finite component or
    E < 0, or -1; internal particles with E < 0; internal ones with a non-finite component)."""
    first = -1
    negative = 0
    non_finite = 0
    for i in range(len(p4)):
        finite = np.isfinite(p4[i, 0]) and np.isfinite(p4[i, 1]) and np.isfinite(p4[i, 2]) and np.isfinite(p4[i, 3])
        if finite and p4[i, 3] >= 0:
            continue
        if final[i]:
            if first < 0:
                first = i
        elif finite:
            negative += 1
        else:
            non_finite += 1
    return first, negative, non_finite


def momentum_check(rec: GenRecord) -> MomentumCheck:
    """Look for non-finite momenta and negative energies (one compiled pass over the chunk)."""
    first, negative, non_finite = _momentum_faults(rec.p4, rec.final)
    statuses: tuple[int, ...] = ()
    if (negative or non_finite) and rec.status is not None:
        bad = ~(np.isfinite(rec.p4).all(axis=1) & (rec.p4[:, 3] >= 0)) & ~rec.final
        statuses = tuple(int(x) for x in np.unique(rec.status[bad]))
    return MomentumCheck(first, negative, non_finite, statuses)


def event_of_particle(rec: GenRecord, i: int) -> int:
    """Index (in the chunk) of the event that flat particle ``i`` belongs to."""
    return int(np.searchsorted(rec.event_offsets, i, side="right") - 1)


def check_momenta(rec: GenRecord, source: str, first_event_index: int) -> MomentumCheck:
    """Refuse a final-state particle with a NaN or infinite momentum or a negative energy,
    naming the event and particle; return what was found in internal particles."""
    from ..errors import EventFileError

    check = momentum_check(rec)
    i = check.bad_final
    if i >= 0:
        ev = event_of_particle(rec, i)
        what = "a non-finite momentum" if not np.isfinite(rec.p4[i]).all() else "a negative energy"
        raise EventFileError(
            f"{source}: event {first_event_index + ev + 1} (number {int(rec.event_number[ev])}) has "
            f"{what} in final-state particle {i - int(rec.event_offsets[ev]) + 1} (pid {int(rec.pid[i])}): "
            f"p = {tuple(float(x) for x in rec.p4[i])}")
    return check


def carried_records_finite(batch: ak.Array) -> tuple[str, int] | None:
    """The first internal-particle record of the batch (B and C hadrons, visible taus) with a
    non-finite momentum component, as (collection, event index), or None. Those momenta reach
    the analysis (b-labelling, taus), so they must be finite, unlike other internal particles'."""
    for name in ("bhadrons", "chadrons", "taus"):
        records = batch[name]
        flat = ak.flatten(records)
        if all(np.isfinite(ak.to_numpy(flat[c])).all() for c in ("px", "py", "pz", "E")):
            continue  # the usual case: no per-event work
        bad = None
        for c in ("px", "py", "pz", "E"):
            not_finite = ~np.isfinite(records[c])
            bad = not_finite if bad is None else bad | not_finite
        return name, int(np.argmax(ak.to_numpy(ak.any(bad, axis=1))))
    return None
