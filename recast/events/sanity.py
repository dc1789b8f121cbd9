"""What an event file shows of its collision, and whether that is the collision an analysis needs.

An analysis of 13 TeV proton-proton data fed e+e- -> Z events at 91 GeV, a cosmic-ray air shower
or a file whose momenta are in GeV but labelled MeV runs without complaint and gives yields that
mean nothing (all zero for the mislabelled file: every object falls below its thresholds). The
event source therefore learns the collision from its first batch (:func:`collision_from_record`,
columnar, a few milliseconds) and :func:`check_collision` compares it with what the analysis
needs before the analysis spends any time:

* beams: the two status-4 particles of each event (HepMC's beam status), their PDG ids and
  energies; sqrt(s) is their invariant mass (right for fixed-target and boosted frames too);
* without beam particles, the invariant mass of all final-state particles, which equals sqrt(s)
  for a complete record of the collision and is less for a record that keeps only part of it.

A clear mismatch (other beams, or sqrt(s) off by more than :data:`SQRT_S_TOLERANCE`) is refused
in one line that names the file, what it shows and the override (:data:`OVERRIDE`); what the
check cannot decide becomes a warning. A sqrt(s) a thousand times too small (large) with the
file's unit label MeV (GeV) is reported as a wrong label, with the option that overrides it
(:data:`UNIT_OVERRIDE`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EventFileError
from .record import GenRecord

SQRT_S_TOLERANCE = 0.01
"""Relative difference beyond which the sqrt(s) of a file and of an analysis count as different.
Generators write beam energies exactly, so anything beyond rounding is another collision: 13
and 13.6 TeV differ by 4.5 %, and signal cross sections with them (about 10 % for 2 TeV gluinos)."""

PROTON_PROTON = (2212, 2212)

OVERRIDE = "--allow-beam-mismatch"
"""The command-line option that turns a refused mismatch into a warning."""

UNIT_OVERRIDE = "--momentum-unit"
"""The command-line option that overrides the momentum unit a file declares."""

_UNIT_RATIO = 1000.0  # MeV per GeV


@dataclass(frozen=True)
class CollisionInfo:
    """The collision an event source shows, learnt from its first batch."""

    beams: tuple[int, int] | None
    """PDG ids of the two beam particles (status 4), in the file's order; None if the events do
    not have exactly two."""
    beam_energies_gev: tuple[float, float] | None
    """Their energies in the first event."""
    sqrt_s_gev: float | None
    """The median over the events of the beams' invariant mass, or without beams of the final
    state's; None if neither exists."""
    from_final_state: bool
    """sqrt(s) comes from the final-state particles (no beams in the file)."""
    momentum_unit: str
    """The momentum unit the file declares ("GEV" where it declares none, as HepMC3 takes it)."""
    momentum_unit_used: str
    """The unit the momenta were read in: the file's, unless overridden."""
    n_events: int
    """Events the information comes from."""
    consistent: bool = True
    """All those events show the same beams and sqrt(s) (within :data:`SQRT_S_TOLERANCE`)."""
    beam_count: int = 2
    """Beam particles per event: 2 with ``beams``; more for a collision with a nucleus written
    nucleon by nucleon (EPOS writes one status-4 line per participating nucleon); -1 if it
    varies from event to event."""

    def describe(self) -> str:
        """What the file shows, in a few words for a message."""
        if self.sqrt_s_gev is None:
            return "no beam particles (status 4) and no final-state particles"
        s = f"sqrt(s) = {_gev(self.sqrt_s_gev)}"
        if self.beams is None:
            beams = {0: "no beam particles (status 4)",
                     -1: "a number of beam particles (status 4) that varies from event to event"}.get(
                self.beam_count, f"{self.beam_count} beam particles (status 4) per event, not a pair")
            return f"{beams}; the final-state particles' invariant mass gives {s}"
        e1, e2 = self.beam_energies_gev
        return (f"{beam_names(self.beams)} beams of {_gev(e1)} and {_gev(e2)} ({s}, momenta read in "
                f"{self.momentum_unit_used})")


def _gev(x: float) -> str:
    return f"{x:.6g} GeV"


def beam_names(beams: tuple[int, int]) -> str:
    """"p p", "e- e+", ...: PDG names where the particle package knows them."""
    from particle import Particle

    names = []
    for pid in beams:
        try:
            names.append({2212: "p", -2212: "pbar"}.get(pid) or Particle.from_pdgid(pid).name)
        except Exception:  # an id the PDG table does not have (nuclei, generator codes)
            names.append(str(pid))
    return " ".join(names)


def collision_from_record(rec: GenRecord, *, file_unit: str, unit_used: str) -> CollisionInfo:
    """The collision the events of ``rec`` show (momenta in GeV, read in ``unit_used``)."""
    n_events = rec.n_events
    counts = np.diff(rec.event_offsets)
    event_of = np.repeat(np.arange(n_events), counts)
    beam_index = np.flatnonzero(rec.beam)
    beams_per_event = np.bincount(event_of[beam_index], minlength=n_events)
    if n_events and (beams_per_event == 2).all():
        pairs = rec.pid[beam_index].reshape(n_events, 2)
        p4 = rec.p4[beam_index].reshape(n_events, 2, 4)
        sqrt_s = _mass(p4.sum(axis=1))
        same_beams = bool((np.sort(pairs, axis=1) == np.sort(pairs[0])).all())
        median = float(np.median(sqrt_s))
        return CollisionInfo(
            beams=(int(pairs[0, 0]), int(pairs[0, 1])), beam_energies_gev=(float(p4[0, 0, 3]), float(p4[0, 1, 3])),
            sqrt_s_gev=median, from_final_state=False, momentum_unit=file_unit, momentum_unit_used=unit_used,
            n_events=n_events, consistent=same_beams and _close(sqrt_s, median).all())
    beam_count = int(beams_per_event[0]) if n_events and (beams_per_event == beams_per_event[0]).all() else -1
    if not n_events:
        beam_count = 0
    final_index = np.flatnonzero(rec.final)
    if final_index.size == 0:
        return CollisionInfo(None, None, None, True, file_unit, unit_used, n_events, consistent=False,
                             beam_count=beam_count)
    total = np.stack([np.bincount(event_of[final_index], weights=rec.p4[final_index, c], minlength=n_events)
                      for c in range(4)], axis=1)
    return CollisionInfo(None, None, float(np.median(_mass(total))), True, file_unit, unit_used, n_events,
                         consistent=beam_count >= 0, beam_count=beam_count)


def _mass(p4: np.ndarray) -> np.ndarray:
    """Invariant masses of rows (px, py, pz, E); NaN for non-finite ones."""
    m2 = p4[:, 3] ** 2 - (p4[:, :3] ** 2).sum(axis=1)
    return np.sqrt(np.maximum(m2, 0.0))


def _close(x, reference: float, tolerance: float = SQRT_S_TOLERANCE):
    return np.abs(np.asarray(x) - reference) <= tolerance * abs(reference)


def check_collision(info: CollisionInfo, *, sqrt_s_gev: float, beams: tuple[int, int] = PROTON_PROTON,
                    source: str, needed_by: str = "the analysis", allow_mismatch: bool = False,
                    tolerance: float = SQRT_S_TOLERANCE) -> list[str]:
    """Compare the collision ``info`` shows with the one ``needed_by`` needs: ``beams`` (PDG ids,
    in any order) at ``sqrt_s_gev``.

    Returns warnings (what cannot be decided, or a mismatch that ``allow_mismatch`` lets
    through); raises :class:`~recast.errors.EventFileError` (one line naming ``source``, what it
    shows, what is needed and the override) on a clear mismatch.
    """
    needed = f"{beam_names(beams)} collisions at sqrt(s) = {_gev(sqrt_s_gev)}"
    if info.sqrt_s_gev is None or not np.isfinite(info.sqrt_s_gev):
        return [f"{source}: cannot tell the collision ({info.describe()}); {needed_by} needs {needed}"]
    ratio = info.sqrt_s_gev / sqrt_s_gev
    unit_hint = _unit_hint(info, ratio, tolerance)
    beams_match = info.beams is not None and sorted(info.beams) == sorted(beams)
    energy_matches = abs(ratio - 1.0) <= tolerance
    if info.from_final_state and info.beam_count > 0:
        mismatch = True  # not a collision of two beam particles
    elif info.from_final_state:
        if energy_matches:
            return []
        if ratio < 1.0 and not unit_hint:  # a record that keeps only part of the collision
            return [f"{source}: cannot tell the collision: {info.describe()}, less than the {_gev(sqrt_s_gev)} "
                    f"{needed_by} needs (a record without the beam remnants?)"]
        mismatch = True
    else:
        mismatch = not (beams_match and energy_matches)
    warnings = []
    if not mismatch:
        if not info.consistent:
            warnings.append(f"{source}: the first {info.n_events} events do not all show the same beams and sqrt(s)")
        return warnings
    message = f"{source}: {info.describe()}, but {needed_by} needs {needed}{unit_hint}"
    if allow_mismatch:
        return [message + f" (running anyway: {OVERRIDE})"]
    raise EventFileError(message + f"; give {OVERRIDE} to run anyway")


def _unit_hint(info: CollisionInfo, ratio: float, tolerance: float) -> str:
    """The sentence that says a unit label looks wrong, or ""."""
    if abs(ratio * _UNIT_RATIO - 1.0) <= tolerance and info.momentum_unit_used == "MEV":
        right, other = "GEV", info.sqrt_s_gev * _UNIT_RATIO
    elif abs(ratio / _UNIT_RATIO - 1.0) <= tolerance and info.momentum_unit_used == "GEV":
        right, other = "MEV", info.sqrt_s_gev / _UNIT_RATIO
    else:
        return ""
    said = ("the file says " + info.momentum_unit if info.momentum_unit_used == info.momentum_unit
            else f"read as {info.momentum_unit_used}")
    return (f"; the momentum unit looks wrong ({said}): in {right} the file's sqrt(s) would be {_gev(other)}, "
            f"give {UNIT_OVERRIDE} {right} if that is what it holds")


def checked_batches(source, needs: Sequence[tuple[str, float]], *, beams: tuple[int, int] = PROTON_PROTON,
                    allow_mismatch: bool = False) -> Iterator:
    """The batches of ``source``, with :func:`check_collision` run on its first batch, before the
    batch is handed on, for each ``(needed_by, sqrt_s_gev)`` of ``needs`` (the analyses run);
    warnings go to ``source.notes``. Sources that do not tell their collision (no ``collision``
    attribute: events generated for the analysis' own energy) pass unchecked."""
    batches: Iterable = iter(source)
    first = next(batches, None)
    if first is None:
        return
    info = getattr(source, "collision", None)
    if info is not None:
        label = str(getattr(source, "path", "the events"))
        for needed_by, sqrt_s_gev in needs:
            for warning in check_collision(info, sqrt_s_gev=sqrt_s_gev, beams=beams, source=label,
                                           needed_by=needed_by, allow_mismatch=allow_mismatch):
                if warning not in source.notes:
                    source.notes.append(warning)
    yield first
    yield from batches
