"""HepMC3 ASCII and HepMC2 IO_GenEvent files, read in chunks into event batches.

Two readers feed the same event batches (:mod:`recast.events.record`):

* ``columnar`` (the default): numba kernels (:mod:`recast.events._hepmc_text`) parse the
  decompressed text block by block straight into flat arrays, particle and vertex lines included,
  and build the parent table on the way; no Python object per event or particle.
* ``pyhepmc``: HepMC3's own readers through pyhepmc, in a child process
  (:mod:`recast.events.hepmc_reference`). Kept as the reference implementation and as a fallback.

The columnar kernels take seconds to compile, once (numba's cache keeps them): a first run starts
compiling the one its file needs in a child process early (:func:`compile_in_background`) and
reads once it is in the cache, its consumer compiling the rest meanwhile (``on_wait``).

Compression (gzip, bzip2, xz, zstd) is recognised by the file's magic bytes, not its name, and
each format is read with the fastest decompressor installed (:mod:`recast.events.compression`).
Bad input ends in an :class:`~recast.errors.EventFileError` naming the file, the event and the
line (:mod:`recast.events.hepmc_lines` finds it). Final-state particles must have finite momenta
and non-negative energies; internal ones may not (space-like partons), and are noted. The first
batch tells the collision (beams, sqrt(s), the declared momentum unit, which ``momentum_unit``
overrides) for :mod:`recast.events.sanity`. Writing: :mod:`recast.events.hepmc_writer`.
"""

from __future__ import annotations

import lzma
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import kernels
from ..errors import EventFileError, RecastError
from . import _hepmc_text as _text
from . import hepmc_reference
from .compression import compression_of, open_binary
from .hepmc_lines import line_number, locate_bad_momentum
from .record import (MEV_TO_GEV, GenRecord, MomentumCheck, carried_records_finite, event_of_particle, momentum_check,
                     to_batch)
from .sanity import CollisionInfo, collision_from_record


def detect_format(path: Path) -> str:
    """'hepmc3' or 'hepmc2' from the listing header; a one-line error for anything else."""
    try:
        with open_binary(path) as f:
            head = f.read(4096)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise EventFileError(f"{path}: cannot read: {exc}") from None
    except Exception as exc:  # zstandard raises its own ZstdError
        raise EventFileError(f"{path}: cannot decompress: {exc}") from None
    if not head.strip():
        raise EventFileError(f"{path}: empty file (no events)")
    if b"HepMC::Asciiv3" in head:
        return "hepmc3"
    if b"HepMC::IO_GenEvent" in head:
        return "hepmc2"
    first = head.strip().splitlines()[0][:60].decode("utf-8", "replace")
    raise EventFileError(f"{path}: not a HepMC3 or HepMC2 ASCII file (starts with {first!r})")


READERS = ("columnar", "pyhepmc")
"""The HepMC readers: ``columnar`` (numba kernels, the default) and ``pyhepmc`` (HepMC3's own
readers, the reference implementation)."""

FORWARD_PARENTS = ("keep", "drop")
"""What to do with a HepMC3 particle line whose parent particle comes later in the event (Pythia
records with colour-reconnection loops have them): ``keep`` the link, as HepMC3 3.3 does and as
the generator's own record has it (the default), or ``drop`` it, as HepMC3 3.2 (inside pyhepmc
2.16, the ``pyhepmc`` reader) does."""

MOMENTUM_UNITS = ("GEV", "MEV")
"""Momentum units a HepMC file can declare; ``HepMCSource(momentum_unit=...)`` overrides the
file's declaration with one of them (for files whose label is wrong, see
:mod:`recast.events.sanity`)."""

_BLOCK = 1 << 20  # bytes of decompressed text per read: the buffer holds one block and one event


@dataclass
class HepMCSource:
    """Read a HepMC3 or HepMC2 file (plain or compressed) and yield event batches of
    ``chunk_size`` events; memory stays bounded by the chunk size whatever the file length.

    ``reader`` picks the parser (:data:`READERS`); both give the same batches. ``momentum_unit``
    (None, "GEV" or "MEV") overrides the unit the file declares.

    ``on_wait``: when the columnar reader must wait for its kernel, compiling in a child process
    (:func:`compile_in_background`: a first run after installing), it makes a batch of one
    made-up event (:func:`made_up_event`), which compiles its own kernels, and calls ``on_wait``
    with it: time in which the consumer can compile what it does with batches. Reading the file's
    first event with the pyhepmc reader instead would cost seconds more (its own process, imports
    and kernels to compile).

    After (or during) iteration: ``n_read`` events read, ``cross_section_fb`` the last cross
    section the file carried (HepMC ``GenCrossSection``), or None; ``collision`` what the first
    batch shows of the collision (beams, sqrt(s), momentum unit: a
    :class:`~recast.events.sanity.CollisionInfo`), ``notes`` remarks on the input for the user
    (internal particles with negative energies, collision warnings).
    """

    path: Path
    chunk_size: int = 1000
    max_events: int | None = None
    reader: str = "columnar"
    forward_parents: str = "keep"
    momentum_unit: str | None = None
    on_wait: Callable[[object], None] | None = field(default=None, repr=False, compare=False)
    n_read: int = 0
    cross_section_fb: float | None = None
    cross_section_err_fb: float | None = None
    format: str = ""
    notes: list[str] = field(default_factory=list)
    collision: CollisionInfo | None = None
    _internal: InternalMomenta = field(default_factory=lambda: InternalMomenta(), repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.exists():
            raise EventFileError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise EventFileError(f"{self.path}: not a regular file")
        if not os.access(self.path, os.R_OK):
            raise EventFileError(f"{self.path}: permission denied")
        if self.forward_parents not in FORWARD_PARENTS:
            raise ValueError(f"forward_parents must be one of {', '.join(FORWARD_PARENTS)}")
        if self.reader not in READERS:
            raise ValueError(f"unknown HepMC reader {self.reader!r}: choose from {', '.join(READERS)}")
        if self.momentum_unit is not None:
            self.momentum_unit = self.momentum_unit.upper()
            if self.momentum_unit not in MOMENTUM_UNITS:
                raise ValueError(f"momentum_unit must be one of {', '.join(MOMENTUM_UNITS)} "
                                 f"(or None: as the file says)")
        self.format = detect_format(self.path)

    @property
    def description(self) -> str:
        kind = compression_of(self.path)
        return f"{self.format.upper()} file {self.path}" + (f" ({kind})" if kind else "")

    def __iter__(self) -> Iterator:
        batches = self._iter_columnar() if self.reader == "columnar" else self._iter_pyhepmc()
        try:
            yield from batches
        finally:
            note = self._internal.note()
            if note and note not in self.notes:
                self.notes.append(note)
        if self.n_read == 0:
            raise EventFileError(f"{self.path}: no events in file")

    def _forced_scale(self) -> float:
        """The scale to GeV the user imposes (0: as the file says)."""
        return {None: 0.0, "GEV": 1.0, "MEV": MEV_TO_GEV}[self.momentum_unit]

    # -- the columnar reader ------------------------------------------------------------------

    def _iter_columnar(self) -> Iterator:
        kernel = kernel_for(self.format)
        background = _compiling.pop(self.format, None)  # compiling the kernel into the cache
        if background is not None:
            try:  # meanwhile what makes and takes batches compiles here (later otherwise: no loss)
                self._made_up_batch_to(self.on_wait)
            except BaseException:  # Ctrl-C: the child must not outlive the read
                background.stop()
                raise
            background.wait()  # the kernel's first call below loads it from the cache
        yield from self._read_columnar(kernel)

    @staticmethod
    def _made_up_batch_to(on_wait: Callable[[object], None] | None) -> None:
        """Make a batch of the made-up event as a read makes one and hand it to ``on_wait``: the
        kernels this takes compile. Only a head start: if it fails, the read will compile them."""
        try:
            rec = made_up_event()
            momentum_check(rec)
            batch = to_batch(rec)
        except Exception:  # noqa: BLE001
            return
        if on_wait is not None:
            on_wait(batch)

    def _read_columnar(self, kernel) -> Iterator:
        forced = self._forced_scale()
        # momentum unit scale, number of weight names, links to parents further down the record, stamp,
        # the unit imposed by the user, the unit the file declares
        state = np.array([forced or 1.0, -1.0, 1.0 if self.forward_parents == "keep" else 0.0, 0.0, forced, 0.0])
        err = np.zeros(7, np.int64)
        room = np.zeros(8, np.int64)
        # one buffer for the whole file: each block of text is read into it after the unparsed tail
        # of the one before (moved to the front), instead of a new zeroed buffer per block
        text = bytearray(_text.padded_size(2 * _BLOCK))
        buf = np.frombuffer(text, np.uint8)  # the kernel's view of the same bytes
        filled = pos = end = 0  # bytes of text in buf, where the kernel starts, where the last event begins
        offset = 0  # bytes of text before buf[0]
        final = _text.BOUNDARY
        acc = _text.Acc()
        with open_binary(self.path, threaded=True) as stream:
            while True:
                target = self.chunk_size
                if self.max_events is not None:
                    target = min(target, self.max_events - self.n_read)
                    if target <= 0:
                        break
                err[:] = 0
                room[:] = 0
                acc.ensure_events(target)
                counts = acc.counts()
                status, pos = kernel(buf, pos, end, final, target, state, acc.arrays(), counts, acc.scratch,
                                     err, room)
                acc.set_counts(counts)
                self._apply_fixes(acc, buf)
                if status == _text.NEED_ROOM:
                    acc.grow(room, target)
                    continue
                file_unit = "MEV" if state[5] == MEV_TO_GEV else "GEV"
                if status == _text.ERROR:
                    message = self._parse_error(err, buf[:filled], offset, self.n_read + acc.n_ev + 1)
                    if acc.n_ev:  # the good events read before the failure still count
                        yield self._columnar_batch(acc, file_unit)
                    raise EventFileError(message)
                if status == _text.CHUNK_FULL:
                    yield self._columnar_batch(acc, file_unit)
                    acc = _text.Acc(capacity=len(acc.pid), events=len(acc.ev_number), parents=len(acc.parents),
                                    scratch=acc.scratch)
                elif status == _text.END:
                    break
                else:  # NEED_DATA: keep the unparsed tail, append the next block
                    tail = filled - pos
                    if _text.padded_size(tail + _BLOCK) > len(text):  # an event longer than a block: more room
                        larger = bytearray(_text.padded_size(tail + _BLOCK))
                        larger[:tail] = text[pos:filled]
                        text, buf = larger, np.frombuffer(larger, np.uint8)
                    elif tail:
                        text[:tail] = text[pos:filled]
                    try:
                        n_read = stream.readinto(memoryview(text)[tail:tail + _BLOCK])
                    except Exception as exc:  # gzip, isal, lzma, bz2 and zstandard each raise their own
                        message = (f"{self.path}: event {self.n_read + acc.n_ev + 1}: cannot decompress the "
                                   f"data after line {line_number(self.path, offset + filled)}: {exc}")
                        if acc.n_ev:
                            yield self._columnar_batch(acc, file_unit)
                        raise EventFileError(message) from None
                    offset += pos
                    filled, pos = tail + n_read, 0
                    text[filled:filled + _text.PAD] = bytes(_text.PAD)  # the kernels read whole words past the text
                    # hand the kernel whole events only: up to where the last one in the buffer starts
                    # (searched in the new text only, as a line starting there is whole)
                    start = text.rfind(b"\nE ", tail, filled)
                    if not n_read:
                        end, final = filled, _text.LAST
                    elif start >= 0:
                        end, final = start + 1, _text.BOUNDARY
                    else:
                        end, final = 0, _text.BOUNDARY
        if acc.n_ev:
            yield self._columnar_batch(acc, "MEV" if state[5] == MEV_TO_GEV else "GEV")

    @staticmethod
    def _apply_fixes(acc: _text.Acc, buf: np.ndarray) -> None:
        """Numbers the kernel left to Python (beyond its exact-rounding range), converted while
        their text is still in the buffer."""
        for target, start, stop, mev in acc.fix[:acc.n_fix]:
            value = float(buf[start:stop].tobytes())
            if target >= 0:
                acc.p4.reshape(-1)[target] = value * 1.0e-3 if mev else value
            else:
                acc.ev_weight[-1 - target] = value
        acc.n_fix = 0

    def _columnar_batch(self, acc: _text.Acc, file_unit: str):
        n_ev, n_p, n_par = acc.n_ev, acc.n_p, acc.n_par
        status = acc.status[:n_p]
        rec = GenRecord(
            event_offsets=acc.ev_poff[:n_ev + 1].copy(),
            pid=acc.pid[:n_p],
            final=status == 1,
            beam=status == 4,
            p4=acc.p4[:n_p],
            parent_offsets=acc.par_off[:n_p + 1],
            parents=acc.parents[:n_par],
            weight=acc.ev_weight[:n_ev].copy(),
            event_number=acc.ev_number[:n_ev].copy(),
            status=status,
        )
        if self.format == "hepmc2":
            rec = _without_dropped(rec)
        xs = acc.ev_xs[:n_ev]
        good = np.flatnonzero(np.isfinite(xs[:, 0]) & (xs[:, 0] > 0))
        if good.size:  # generators refine it event by event: keep the last
            self.cross_section_fb = float(xs[good[-1], 0]) * 1000.0
            self.cross_section_err_fb = float(xs[good[-1], 1]) * 1000.0
        return self._finish_batch(rec, n_ev, file_unit)

    def _parse_error(self, err: np.ndarray, buf: np.ndarray, offset: int, event: int) -> str:
        code, at, a, b, c, d, truncated = (int(x) for x in err)
        stop = at + int(np.argmax(buf[at:] == 10)) if (buf[at:] == 10).any() else buf.size
        text = buf[at:stop].tobytes().decode("utf-8", "replace").rstrip("\r")
        kind = {"E": "event", "V": "vertex", "P": "particle"}.get(text[:1], "record")
        where = f"{self.path}: event {event}, line {line_number(self.path, offset + at)}"
        if code == _text.E_MALFORMED and self.format == "hepmc2" and re.search(r"\S(?: [ \t]|\t)", text.rstrip()):
            reason = (f"{kind} line with fields not separated by single spaces (HepMC3 3.3 reads HepMC2 fields by "
                      f"single spaces and would misread it): {text[:80]!r}")
        elif code == _text.E_MALFORMED:
            reason = (f"malformed {kind} line (a field that is not a number, or a field missing or extra): "
                      f"{text[:80]!r}")
        elif code == _text.E_COUNT and self.format == "hepmc3":
            reason = (f"event is incomplete: the E line declares {a} particles and {b} vertices, {c} particles "
                      f"and {d} vertices (V lines and implied single-parent vertices) follow")
        elif code == _text.E_COUNT:
            reason = f"event is incomplete: {a} vertices declared, {b} vertices and {c} particles follow"
        elif code == _text.E_VERTEX_OUT:
            reason = f"vertex {a} declares {b} outgoing particles, {c} particle lines follow it"
        elif code == _text.E_PARTICLE_ID:
            reason = f"particle id {a} out of order (expected {b}): {text[:80]!r}"
        elif code == _text.E_MOTHER:
            reason = f"particle {a} names particle {b} as its parent, which does not come before it"
        elif code == _text.E_VERTEX_REF:
            reason = f"particle {a} comes from vertex {b}, which is not in the event"
        elif code == _text.E_VIN_REF:
            reason = f"vertex {a} lists particle {b} as incoming, which is not in the event"
        elif code == _text.E_VERTEX_ID:
            reason = f"vertex id {a} outside -1..-{b} (the E line declares {b} vertices)"
        elif code == _text.E_VERTEX_DUP:
            reason = f"vertex {a} appears twice"
        elif code == _text.E_CONFLICT:
            reason = f"particle {a} is an incoming particle of two vertices"
        elif code == _text.E_WEIGHTS:
            reason = f"{a} event weights, but the header names {b}"
        elif code == _text.E_UNITS:
            reason = f"unknown momentum unit (GEV or MEV): {text[:80]!r}"
        elif code == _text.E_OUTSIDE:
            reason = f"{kind} line before the first event line"
        elif code == _text.E_NO_INCOMING:
            reason = (f"vertex {a} has no incoming particle (no particle names it as its end vertex) and an "
                      f"outgoing final-state particle: HepMC3 removes the vertex and drops that particle from "
                      f"the event")
        elif code == _text.E_NO_VERTEX:
            reason = "particle line before the event's first vertex line"
        else:
            reason = f"cannot parse the event (error code {code})"
        if code == _text.E_COUNT and truncated:
            reason = "file ends in the middle of the event (truncated?): " + reason
        return f"{where}: {reason}"

    def _finish_batch(self, rec: GenRecord, n_events: int, file_unit: str):
        """Check the chunk's momenta, learn the collision from the first chunk, make the batch."""
        check = momentum_check(rec)
        if check.bad_final >= 0:
            event = event_of_particle(rec, check.bad_final)
            i = check.bad_final
            what = "a non-finite momentum" if not np.isfinite(rec.p4[i]).all() else "a negative energy"
            raise EventFileError(self._bad_momentum_message(event, rec, "final-state particle{pid} with " + what, True))
        self._internal.add(check, n_events)
        if self.collision is None:
            unit_used = self.momentum_unit or file_unit
            self.collision = collision_from_record(rec, file_unit=file_unit, unit_used=unit_used)
        batch = to_batch(rec)
        carried = carried_records_finite(batch)
        if carried is not None:
            name, event = carried
            what = {"bhadrons": "a B hadron", "chadrons": "a C hadron", "taus": "a tau"}[name]
            raise EventFileError(self._bad_momentum_message(
                event, rec, what + "{pid} with a non-finite momentum (the analysis uses it)", False))
        self.n_read += n_events
        return batch

    def _bad_momentum_message(self, event: int, rec: GenRecord, what: str, final_only: bool) -> str:
        """One line naming the event, the file's line of the particle at fault and the line
        itself (the file's own numbering, so that both readers name the same particle: HepMC3
        reorders HepMC2 particles). ``what`` has a ``{pid}`` field."""
        index = self.n_read + event + 1
        found = locate_bad_momentum(self.path, self.format, index - 1, final_only)
        where = f"{self.path}: event {index} (number {int(rec.event_number[event])})"
        if found is None:  # not expected: the file's text shows what the reader read
            return f"{where}: {what.format(pid='')}"
        line, text = found
        pid = text.split()[3 if self.format == "hepmc3" else 2]
        return f"{where}, line {line}: {what.format(pid=f' (pid {pid})')}: {text[:100]!r}"

    # -- the pyhepmc reader -------------------------------------------------------------------

    def _iter_pyhepmc(self) -> Iterator:
        records = hepmc_reference.records(self.path, self.format, self.max_events, self.chunk_size,
                                          self._forced_scale(), self.n_read)
        for rec, file_unit, cross_section in records:
            if cross_section is not None:
                self.cross_section_fb, self.cross_section_err_fb = cross_section
            yield self._finish_batch(rec, len(rec.weight), file_unit)



_compiling: dict[str, kernels.BackgroundCompile] = {}  # by format: kernels compiling for the next columnar read


def compile_in_background(path: Path, reader: str = "columnar") -> None:
    """If the columnar reader's kernel for the file's format is not in numba's cache, start
    compiling it in a child process, so that it compiles while this process does other work (a
    first run after installing: while the analyses' models load); the next read of a file of that
    format waits for it (see ``HepMCSource.on_wait``) and loads it from the cache. Never fails:
    anything wrong (with the file, the child) only means the reader compiles in this process, as
    it does without this."""
    try:
        if reader != "columnar":
            return
        fmt = detect_format(Path(path))
        if fmt in _compiling or kernels.is_cached(kernel_for(fmt), first_call_arguments()) is not False:
            return
        _compiling[fmt] = kernels.BackgroundCompile(__name__, "_compile_reader", fmt)
    except (RecastError, OSError):  # the source says what is wrong with the file when it reads it
        return


def _compile_reader(fmt: str) -> None:
    """The work of :func:`compile_in_background`'s child."""
    kernel_for(fmt)(*first_call_arguments())


def made_up_event() -> GenRecord:
    """One made-up event with the arrays of a read chunk and the usual kinds of particles (beams;
    a top pair with a leptonic and a tau decay, a B and a C hadron decaying, a photon near the
    electron; a prompt muon and an invisible BSM particle), for compiling what batches go
    through: its numbers mean nothing."""
    # pid, status, first parent, last parent (-1: none), px, py, pz, mass
    rows = [(2212, 4, -1, -1, 0, 0, 6500, 0.938), (2212, 4, -1, -1, 0, 0, -6500, 0.938),
            (21, 21, 0, 0, 0, 0, 300, 0), (21, 21, 1, 1, 0, 0, -200, 0),
            (6, 22, 2, 3, 100, 50, 80, 173), (-6, 22, 2, 3, -100, -50, -30, 173),
            (24, 22, 4, 4, 60, 40, 50, 80.4), (5, 23, 4, 4, 40, 10, 30, 4.8),
            (-11, 1, 6, 6, 40, 30, 20, 0.000511), (12, 1, 6, 6, 20, 10, 30, 0), (22, 1, 6, 6, 4, 3, 2, 0),
            (511, 2, 7, 7, 35, 9, 26, 5.28), (13, 1, 11, 11, 8, 2, 6, 0.106), (211, 1, 11, 11, 27, 7, 20, 0.14),
            (-24, 22, 5, 5, -60, -30, -10, 80.4), (15, 2, 14, 14, -40, -20, -5, 1.777),
            (-16, 1, 14, 14, -20, -10, -5, 0), (-211, 1, 15, 15, -30, -15, -4, 0.14), (16, 1, 15, 15, -10, -5, -1, 0),
            (-5, 23, 5, 5, -40, -20, -20, 4.8), (421, 2, 19, 19, -38, -19, -19, 1.865),
            (-321, 1, 20, 20, -20, -10, -10, 0.494), (211, 1, 20, 20, -18, -9, -9, 0.14),
            (1000022, 1, 2, 3, 30, -60, 40, 100), (13, 1, 2, 3, 30, -40, 10, 0.106), (22, 1, 13, 13, 3, 1, 2, 0)]
    pid, status, first, last, px, py, pz, mass = (np.array(c) for c in zip(*rows))
    p4 = np.stack([px, py, pz, np.sqrt(px ** 2 + py ** 2 + pz ** 2 + mass ** 2)], axis=1).astype(np.float64)
    n_parents = np.where(first >= 0, last - first + 1, 0)
    parents = np.concatenate([np.arange(a, a + k) for a, k in zip(first, n_parents)]).astype(np.int64)
    return GenRecord(event_offsets=np.array([0, len(rows)], np.int64), pid=pid.astype(np.int32), final=status == 1,
                     beam=status == 4, p4=p4, parent_offsets=np.concatenate([[0], np.cumsum(n_parents)]),
                     parents=parents, weight=np.ones(1), event_number=np.ones(1, np.int64),
                     status=status.astype(np.int32))


def kernel_for(fmt: str):
    """The columnar reader's parsing kernel for ``fmt`` ("hepmc3" or "hepmc2")."""
    return _text.parse_hepmc3 if fmt == "hepmc3" else _text.parse_hepmc2


def first_call_arguments() -> tuple:
    """Arguments of the kind :meth:`HepMCSource._iter_columnar` gives the kernel (the types that
    make its signature), on no text: the call returns at once (NEED_DATA), once compiled."""
    acc = _text.Acc(capacity=16, events=1, parents=16)
    return (_text.padded(np.zeros(0, np.uint8)), 0, 0, _text.BOUNDARY, 1, np.zeros(6), acc.arrays(), acc.counts(),
            acc.scratch, np.zeros(7, np.int64), np.zeros(8, np.int64))


def _without_dropped(rec: GenRecord) -> GenRecord:
    """``rec`` without the particles the HepMC2 kernel marked as dropped (status
    :data:`~recast.events._hepmc_text.DROPPED`: HepMC3 leaves them out of its event). They have
    neither parents nor children, so only indices shift."""
    keep = rec.status != _text.DROPPED
    if keep.all():
        return rec
    kept = np.flatnonzero(keep)
    before = np.concatenate([[0], np.cumsum(keep)])  # kept particles before each index
    return GenRecord(
        event_offsets=before[rec.event_offsets], pid=rec.pid[kept], final=rec.final[kept], beam=rec.beam[kept],
        p4=rec.p4[kept], parent_offsets=np.append(rec.parent_offsets[kept], rec.parent_offsets[-1]),
        parents=before[rec.parents], weight=rec.weight, event_number=rec.event_number, status=rec.status[kept])


@dataclass
class InternalMomenta:
    """Internal particles (status other than 1) with negative energies or non-finite momenta,
    counted over a file for one note (see :class:`~recast.events.record.MomentumCheck`)."""

    negative_energy: int = 0
    non_finite: int = 0
    events: int = 0  # events read
    statuses: set[int] = field(default_factory=set)

    def add(self, check: MomentumCheck, n_events: int) -> None:
        self.negative_energy += check.internal_negative_energy
        self.non_finite += check.internal_non_finite
        self.statuses.update(check.internal_statuses)
        self.events += n_events

    def note(self) -> str | None:
        if not self.negative_energy and not self.non_finite:
            return None
        found = " and ".join(f"{n} {what}" for n, what in (
            (self.negative_energy, "with a negative energy"), (self.non_finite, "with a non-finite momentum")) if n)
        statuses = ", ".join(str(s) for s in sorted(self.statuses)[:8])
        return (f"internal particles (not final-state) in {self.events} events read: {found} (status {statuses}; "
                f"e.g. space-like partons of the initial-state shower); no object is built from them, so they "
                f"were kept as the file has them")
