"""Pythia's event record as ``Pythia.nextBatch`` returns it, made flat: the particles of a chunk of
events as numpy arrays with Pythia's mother lists as a CSR table, and from them a
:class:`~recast.events.record.GenRecord`.

Shared by the Pythia source (:mod:`recast.events.pythia`) and the HepMC3 writer
(:mod:`recast.events.hepmc_writer`), which builds its vertices from the same mother lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numba
import numpy as np

from .record import GenRecord


@numba.njit(cache=True)
def mother_lists(offsets, status, mother1, mother2):
    """Pythia's ``Particle::motherList`` for every particle, as a CSR table of global indices.

    Index 0 of each event is Pythia's "system" entry; links to it are dropped.
    """
    n = len(status)
    poff = np.zeros(n + 1, np.int64)
    parents = np.empty(0, np.int64)
    for sweep in range(2):  # first count, then fill
        if sweep == 1:
            for i in range(n):
                poff[i + 1] += poff[i]
            parents = np.empty(poff[n], np.int64)
        for e in range(len(offsets) - 1):
            base = offsets[e]
            for i in range(offsets[e], offsets[e + 1]):
                s = abs(status[i])
                a = mother1[i]
                b = mother2[i]
                if s == 11 or s == 12:
                    continue  # beams and the system entry have no mothers
                if b == 0 or b == a:
                    lo, hi, step = a, a, 1
                elif (80 < s < 90) or (100 < s < 107):
                    lo, hi, step = a, b, 1  # hadrons from a string: every parton in the range
                else:
                    lo, hi, step = min(a, b), max(a, b), max(a, b) - min(a, b)
                k = poff[i]
                m = lo
                while m <= hi:
                    if m > 0:
                        if sweep == 0:
                            poff[i + 1] += 1
                        else:
                            parents[k] = base + m
                            k += 1
                    m += step
    return poff, parents


@dataclass(frozen=True)
class PythiaParticles:
    """The particles of a chunk of Pythia events, flat. Entry 0 of each event is Pythia's "system"
    line; ``parents[parent_offsets[i]:parent_offsets[i + 1]]`` are the global indices of particle
    ``i``'s mothers (:func:`mother_lists`)."""

    offsets: np.ndarray  # int64[n_events + 1]: where each event's particles start
    pid: np.ndarray  # as Pythia gives it
    status: np.ndarray  # int32: Pythia's status codes (positive: final state)
    p4: np.ndarray  # float64[n, 4]: px, py, pz, E in GeV
    parent_offsets: np.ndarray  # int64[n + 1]
    parents: np.ndarray  # int64[m]
    flat: ak.Array  # every field of the particles, for what only some users need (the mass)


def flat_particles(events: ak.Array) -> PythiaParticles:
    """The particles of ``events`` (a ``Pythia.nextBatch`` result) as flat arrays."""
    prt = events.prt
    counts = ak.to_numpy(ak.num(prt)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = ak.flatten(prt)
    status = ak.to_numpy(flat.status).astype(np.int32)
    m1 = ak.to_numpy(flat.mother1).astype(np.int64)
    m2 = ak.to_numpy(flat.mother2).astype(np.int64)
    p = flat.p
    p4 = np.stack([ak.to_numpy(p.px), ak.to_numpy(p.py), ak.to_numpy(p.pz), ak.to_numpy(p.e)], axis=1)
    poff, parents = mother_lists(offsets, status, m1, m2)
    return PythiaParticles(offsets=offsets, pid=ak.to_numpy(flat.id), status=status, p4=p4, parent_offsets=poff,
                           parents=parents, flat=flat)


def record_from_pythia(events: ak.Array, first_number: int) -> GenRecord:
    """The generator record of ``events``, numbered from ``first_number``."""
    parts = flat_particles(events)
    weights = events.info.weights
    w = ak.to_numpy(ak.fill_none(ak.firsts(weights), 1.0)).astype(np.float64)
    return GenRecord(
        event_offsets=parts.offsets,
        pid=parts.pid.astype(np.int32),
        final=parts.status > 0,
        beam=np.abs(parts.status) == 12,
        p4=parts.p4,
        parent_offsets=parts.parent_offsets,
        parents=parts.parents,
        weight=w,
        event_number=np.arange(first_number, first_number + len(parts.offsets) - 1, dtype=np.int64),
    )
