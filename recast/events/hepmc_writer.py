"""Pythia events written as HepMC3 ASCII (``recast generate``, ``PythiaSource(hepmc_out=...)``),
plain or compressed by the file name's suffix (:func:`~recast.events.compression.open_for_writing`)."""

from __future__ import annotations

import os
from pathlib import Path

import awkward as ak
import numpy as np
import pyhepmc

from .compression import open_for_writing
from .pythia_record import flat_particles
from .record import pid_table


class PythiaHepMCWriter:
    """Write Pythia events (as returned by ``nextBatch``) to a HepMC3 ASCII file.

    Vertices are built the way Pythia's own HepMC3 interface builds them: a particle's production
    vertex is the end vertex of its first mother, created on first use with all of that
    particle's mothers as incoming particles; ``GenEvent.add_tree`` then stores the record in
    topological order, which the HepMC3 reader requires. The file appears under its final name
    only once complete.
    """

    def __init__(self, path: Path, pythia) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._stream = open_for_writing(self._tmp, self.path.name)
        self._ios = pyhepmc.io.pyiostream(self._stream)
        self._writer = pyhepmc.io.WriterAscii(self._ios)
        self._pythia = pythia

    def follow(self, pythia) -> None:
        """Take the cross section of the next events from ``pythia`` (the next generation block)."""
        self._pythia = pythia

    def write(self, events: ak.Array, first_number: int) -> None:
        """Append ``events`` (a ``Pythia.nextBatch`` result), numbered from ``first_number``."""
        info = self._pythia.infoPython()
        xs_pb, xs_err_pb = float(info.sigmaGen()) * 1e9, float(info.sigmaErr()) * 1e9
        particles = flat_particles(events)
        offsets, poff, parents, mom = particles.offsets, particles.parent_offsets, particles.parents, particles.p4
        counts = np.diff(offsets)
        pid = particles.pid.astype(np.int64)
        status = particles.status.astype(np.int64)
        mass = ak.to_numpy(particles.flat.m)
        _, hadron, _, _, _ = pid_table(pid)
        hep_status = np.where(status > 0, 1, np.where(status == -12, 4, np.where(
            (hadron | np.isin(np.abs(pid), (13, 15))) & (status < 0), 2,
            np.where((status <= -11) & (status >= -200), -status, 0))))
        weights = ak.to_list(events.info.weights)
        # Python lists: the loops below make one pyhepmc object per particle, and reading numpy
        # arrays element by element would cost as much again
        mom_l, pid_l, status_l, mass_l = mom.tolist(), pid.tolist(), hep_status.tolist(), mass.tolist()
        poff_l, parents_l, offsets_l = poff.tolist(), parents.tolist(), offsets.tolist()
        for e in range(len(counts)):
            lo, hi = offsets_l[e], offsets_l[e + 1]
            evt = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
            evt.event_number = first_number + e
            evt.weights = weights[e] or [1.0]
            parts = [None] * (hi - lo)
            vertices = []  # HepMC3 particles hold weak references to their vertices: keep them alive
            for g in range(lo + 1, hi):  # entry 0 is Pythia's "system" line
                p = pyhepmc.GenParticle(mom_l[g], pid_l[g], status_l[g])
                p.generated_mass = mass_l[g]
                parts[g - lo] = p
            for g in range(lo + 1, hi):
                first, last = poff_l[g], poff_l[g + 1]
                if first == last:
                    continue
                vtx = parts[parents_l[first] - lo].end_vertex
                if vtx is None:
                    vtx = pyhepmc.GenVertex()
                    vertices.append(vtx)
                    for j in parents_l[first:last]:
                        vtx.add_particle_in(parts[j - lo])
                vtx.add_particle_out(parts[g - lo])
            evt.add_tree([parts[1], parts[2]])
            cs = pyhepmc.GenCrossSection()
            cs.set_cross_section(xs_pb, xs_err_pb, self._pythia.infoPython().nAccepted(), -1)
            evt.cross_section = cs
            self._writer.write_event(evt)

    def _finish(self) -> None:
        self._writer.close()
        self._ios.flush()  # the C++ stream buffers: flush it into the Python file before closing
        self._stream.close()

    def close(self) -> None:
        self._finish()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        try:
            self._finish()
        finally:
            self._tmp.unlink(missing_ok=True)
