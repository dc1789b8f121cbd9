"""The ``pyhepmc`` HepMC reader: HepMC3's own readers, through pyhepmc, in a child process.

The reference implementation of :class:`~recast.events.hepmc.HepMCSource` (``reader="pyhepmc"``)
and a fallback for the default columnar reader. Each event is taken out of HepMC3 as its
serialised arrays (``GenEventData``) in a child process (:mod:`recast.events._isolated`): HepMC3
3.2 crashes on some valid files, which must not take this process down. The child reads through
a :class:`~recast.events.hepmc_lines.CheckedStream`, so that lines HepMC3 3.2 would misread end in
an error naming them rather than in wrong events.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np
import pyhepmc

from ..errors import EventFileError
from . import _isolated
from .compression import open_binary
from .hepmc_lines import CheckedStream, first_bad_record, first_newline, locate_problem
from .record import MEV_TO_GEV, GenRecord


def records(path: Path, fmt: str, max_events: int | None, chunk_size: int, forced_scale: float,
            first_index: int) -> Iterator[tuple[GenRecord, str, tuple[float, float] | None]]:
    """The events of a ``fmt`` ("hepmc3" or "hepmc2") file as generator records of ``chunk_size``
    events: ``(record, the momentum unit the file declares, the chunk's last (cross section, error)
    in fb or None)``. ``forced_scale`` (0: as the file says) scales momenta to GeV; events are
    numbered in messages from ``first_index + 1``.

    HepMC3's readers run in a child process, which sends the events' arrays back: a crash of
    HepMC3 (pyhepmc 2.16's HepMC3 3.2 dies with a segmentation fault on some valid files) ends
    the child, not this process, and becomes a one-line error. The good events read before a
    failure are delivered before its :class:`~recast.errors.EventFileError`.
    """
    chunk: list[tuple] = []
    delivered = 0

    def record(events: list[tuple]) -> tuple[GenRecord, str, tuple[float, float] | None]:
        nonlocal delivered
        out = _record(path, events, forced_scale, first_index + delivered)
        delivered += len(events)
        return out

    messages = _isolated.run(__name__, "_pyhepmc_worker", str(path), fmt, max_events)
    try:
        while True:
            try:
                kind, payload = next(messages)
            except _isolated.ChildDied as died:
                kind, payload = "error", _crash_message(path, died.how, first_index + delivered + len(chunk) + 1)
            if kind == "event":
                chunk.append(payload)
                if len(chunk) == chunk_size:
                    full, chunk = chunk, []
                    yield record(full)
            elif kind == "error":
                _isolated.finish(messages)
                if chunk:  # the good events read before the failure still count
                    good, chunk = chunk, []
                    yield record(good)
                raise EventFileError(payload)
            else:  # "end"
                _isolated.finish(messages)
                break
        if chunk:
            yield record(chunk)
    finally:
        messages.close()


def _crash_message(path: Path, how: str, event: int) -> str:
    what = "crashed" if how.startswith("SIG") else "ended"
    return (f"{path}: event {event}: HepMC3 (inside pyhepmc {pyhepmc.__version__}, the pyhepmc reader) "
            f"{what} reading this event ({how}); the default columnar reader does not depend on it")


def _record(path: Path, chunk: list[tuple], forced_scale: float,
            n_before: int) -> tuple[GenRecord, str, tuple[float, float] | None]:
    """The generator record of events sent by the child (see :func:`_pyhepmc_events`)."""
    parts = np.concatenate([c[0] for c in chunk])
    n_part = np.array([len(c[0]) for c in chunk], np.int64)
    scale = np.repeat([forced_scale or (MEV_TO_GEV if c[6] else 1.0) for c in chunk], n_part)
    n_vert = np.array([c[1] for c in chunk], np.int64)
    n_link = np.array([len(c[2]) for c in chunk], np.int64)
    part_off, vert_off, link_off = (np.concatenate([[0], np.cumsum(x)]) for x in (n_part, n_vert, n_link))
    links1 = np.concatenate([c[2] for c in chunk]) if n_link.sum() else np.zeros(0, np.int64)
    links2 = np.concatenate([c[3] for c in chunk]) if n_link.sum() else np.zeros(0, np.int64)
    poff, parents, bad = _parents_from_links(part_off, vert_off, link_off, links1, links2)
    if bad:
        raise EventFileError(f"{path}: event {n_before + bad} links a particle or vertex that does not exist")
    cross_section = None
    for c in chunk:  # generators refine it event by event: keep the last
        if c[7] is not None:
            cross_section = c[7]
    status = parts["status"].astype(np.int32)
    rec = GenRecord(
        event_offsets=part_off,
        pid=parts["pid"].astype(np.int32),
        final=status == 1,
        beam=status == 4,
        p4=np.stack([parts["px"], parts["py"], parts["pz"], parts["e"]], axis=1) * scale[:, None],
        parent_offsets=poff,
        parents=parents,
        weight=np.array([c[4] for c in chunk], np.float64),
        event_number=np.array([c[5] for c in chunk], np.int64),
        status=status,
    )
    return rec, "MEV" if chunk[0][6] else "GEV", cross_section


@numba.njit(cache=True)
def _parents_from_links(part_off, vert_off, link_off, links1, links2):
    """Parent table (CSR over global particle indices) from HepMC3 links of many events.

    A link (p > 0, v < 0) makes particle p an incoming particle of vertex v; (v < 0, p > 0) makes
    v the production vertex of p. Parents of a particle are the incoming particles of its
    production vertex. Returns (offsets, parents, status) with status != 0 on a dangling link.
    """
    n = part_off[-1]
    nv = vert_off[-1]
    prod = np.full(n, -1, np.int64)
    vin_count = np.zeros(nv + 1, np.int64)
    for e in range(len(part_off) - 1):
        np_e = part_off[e + 1] - part_off[e]
        nv_e = vert_off[e + 1] - vert_off[e]
        for k in range(link_off[e], link_off[e + 1]):
            a = links1[k]
            b = links2[k]
            if a > 0 and b < 0:
                if a > np_e or -b > nv_e:
                    return np.zeros(1, np.int64), np.zeros(0, np.int64), e + 1
                vin_count[vert_off[e] - b] += 1  # slot vert_off[e] + (-b) - 1, shifted by one
            elif a < 0 and b > 0:
                if b > np_e or -a > nv_e:
                    return np.zeros(1, np.int64), np.zeros(0, np.int64), e + 1
                prod[part_off[e] + b - 1] = vert_off[e] - a - 1
    vin_off = np.zeros(nv + 1, np.int64)
    for v in range(nv):
        vin_off[v + 1] = vin_off[v] + vin_count[v + 1]
    vin = np.empty(vin_off[nv], np.int64)
    fill = vin_off[:-1].copy()
    for e in range(len(part_off) - 1):
        for k in range(link_off[e], link_off[e + 1]):
            a = links1[k]
            b = links2[k]
            if a > 0 and b < 0:
                v = vert_off[e] - b - 1
                vin[fill[v]] = part_off[e] + a - 1
                fill[v] += 1
    poff = np.zeros(n + 1, np.int64)
    for i in range(n):
        poff[i + 1] = poff[i] + (vin_off[prod[i] + 1] - vin_off[prod[i]] if prod[i] >= 0 else 0)
    parents = np.empty(poff[n], np.int64)
    for i in range(n):
        if prod[i] >= 0:
            k = poff[i]
            for j in range(vin_off[prod[i]], vin_off[prod[i] + 1]):
                parents[k] = vin[j]
                k += 1
    return poff, parents, 0


def _pyhepmc_worker(path: str, fmt: str, max_events: int | None, send) -> None:
    """The pyhepmc reader's work in its child process: sends ("event", arrays) per event, then
    ("end", None) or ("error", message)."""
    try:
        for event in _pyhepmc_events(Path(path), fmt, max_events):
            send(("event", event))
        send(("end", None))
    except EventFileError as exc:
        send(("error", str(exc)))
    except Exception as exc:  # noqa: BLE001 - anything else still ends in one line
        send(("error", f"{path}: the pyhepmc reader failed: {type(exc).__name__}: {exc}"))


def warm_up_isolated() -> None:
    """Load the compiled kernels the pyhepmc reader's child uses into the reader server (see
    :mod:`recast.events._isolated`), so that each child does not load them again."""
    first_bad_record(np.frombuffer(b"E 1 0 0\n", np.uint8), True, 0)
    first_newline(np.zeros(1, np.uint8))


def _pyhepmc_events(path: Path, fmt: str, max_events: int | None) -> Iterator[tuple]:
    """Events read by HepMC3's readers, as (particles (GenEventData), vertex count, links1,
    links2, first weight, event number, momenta in MeV, (cross section, error) in fb or None)."""
    reader_cls = pyhepmc.io.ReaderAscii if fmt == "hepmc3" else pyhepmc.io.ReaderAsciiHepMC2
    checked = CheckedStream(open_binary(path))
    with io.BufferedReader(checked, buffer_size=1 << 20) as f:
        reader = reader_cls(pyhepmc.io.pyiostream(f))
        evt = pyhepmc.GenEvent()
        index = 0  # of the event read last, from 1
        while max_events is None or index < max_events:
            index += 1
            try:
                # the stream is at its end (or broken) after the previous event
                ok = not reader.failed() and reader.read_event(evt)
            except Exception as exc:  # HepMC3's exceptions, e.g. more weights than names
                raise EventFileError(f"{path}: cannot read event {index}: {exc}") from None
            if ok:
                data = pyhepmc.GenEventData()  # write_data appends: one fresh container per event
                evt.write_data(data)
            # HepMC3 reports success with an empty event when only a footer was left
            if not ok or len(data.particles) == 0:
                _check_clean_end(path, fmt, index - 1, checked)
                return
            if checked.problem is not None and checked.problem[0] <= index:
                _raise_malformed(path, fmt, checked.problem)
            w = data.weights
            yield (np.array(data.particles, copy=True), len(data.vertices),
                   np.asarray(data.links1, np.int64).copy(), np.asarray(data.links2, np.int64).copy(),
                   float(w[0]) if len(w) else 1.0, int(data.event_number),
                   data.momentum_unit == pyhepmc.Units.MEV, _cross_section_fb(evt))


def _cross_section_fb(evt) -> tuple[float, float] | None:
    cs = evt.cross_section
    if cs is not None and cs.is_valid:
        xs, err = float(cs.xsec(0)), float(cs.xsec_err(0))
        if np.isfinite(xs) and xs > 0:
            return xs * 1000.0, err * 1000.0
    return None


def _check_clean_end(path: Path, fmt: str, n_good: int, checked: CheckedStream) -> None:
    """HepMC3 stops both at the end of the file and at a bad event: tell the two apart."""
    if checked.problem is not None and checked.problem[0] <= n_good + 1:
        _raise_malformed(path, fmt, checked.problem)
    if checked.error is not None:
        raise EventFileError(f"{path}: event {n_good + 1}: cannot decompress the data after "
                             f"line {checked.lines}: {checked.error}")
    problem = locate_problem(path, fmt, n_good)
    if problem is not None:
        line, reason = problem
        raise EventFileError(f"{path}: event {n_good + 1}, line {line}: {reason}")


def _raise_malformed(path: Path, fmt: str, malformed: tuple[int, int, str, bool]) -> None:
    event, line, text, spacing = malformed
    kind = {"E": "event", "V": "vertex", "P": "particle"}.get(text[:1], "record")
    if spacing:
        remedy = ("the default columnar reader reads HepMC3 text as HepMC3 3.3 does" if fmt == "hepmc3"
                  else "HepMC3 3.3 reads HepMC2 text by single spaces too")
        raise EventFileError(f"{path}: event {event}, line {line}: {kind} line with fields not separated by single "
                             f"spaces, which the pyhepmc reader (HepMC3 3.2) misreads; {remedy}: {text[:80]!r}")
    raise EventFileError(f"{path}: event {event}, line {line}: malformed {kind} line "
                         f"(a field that is not a number): {text[:80]!r}")

