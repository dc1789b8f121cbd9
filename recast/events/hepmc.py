"""HepMC3 ASCII and HepMC2 IO_GenEvent files: chunked reading into event batches, and writing.

Two readers feed the same event batches (:mod:`recast.events.record`):

* ``columnar`` (the default): numba kernels (:mod:`recast.events._hepmc_text`) parse the
  decompressed text block by block straight into flat arrays, particle and vertex lines included,
  and build the parent table on the way; no Python object per event or particle.
* ``pyhepmc``: HepMC3's own readers through pyhepmc, each event taken out as its serialised
  arrays (``GenEventData``), in a child process (:mod:`recast.events._isolated`): HepMC3 3.2
  crashes on some valid files, which must not take the process down. Kept as the reference
  implementation and as a fallback.

Compression (gzip, bzip2, xz, zstd) is recognised by the file's magic bytes, not its name, and
each format is read with the fastest decompressor installed (:data:`DECOMPRESSORS`). Bad input
ends in an :class:`~recast.errors.EventFileError` naming the file, the event and the line.
Final-state particles must have finite momenta and non-negative energies; internal ones may not
(space-like partons), and are noted. The first batch tells the collision (beams, sqrt(s), the
declared momentum unit, which ``momentum_unit`` overrides) for :mod:`recast.events.sanity`.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numba
import numpy as np
import pyhepmc

from ..errors import EventFileError
from . import _hepmc_text as _text
from . import _isolated
from .record import (GenRecord, MomentumCheck, carried_records_finite, event_of_particle, momentum_check, pid_table,
                     to_batch)
from .sanity import CollisionInfo, collision_from_record

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}

MEV_TO_GEV = 1.0e-3


def compression_of(path: Path) -> str | None:
    """The compression format of a file from its first bytes, or None for plain text."""
    with open(path, "rb") as f:
        head = f.read(6)
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return None


DECOMPRESSORS = {
    "gzip": ("isal.igzip", "gzip"),  # ISA-L inflate: about 3.5x zlib on HepMC text
    "bzip2": ("indexed_bzip2", "bz2"),  # about 1.3x libbz2 single-threaded
    "xz": ("lzma",),
    "zstd": ("zstandard",),
}
"""Per compression format, the decompressors in order of preference (the first importable one is used)."""


def decompressor(kind: str | None) -> str:
    """The module that will decompress a ``kind`` file (None: plain text)."""
    if kind is None:
        return "none"
    for name in DECOMPRESSORS[kind]:
        try:
            __import__(name)
        except ImportError:
            continue
        return name
    raise ImportError(f"no decompressor for {kind}")  # the standard library always has one


def open_binary(path: Path) -> IO[bytes]:
    """Open a possibly compressed file for reading, decompressing transparently with the
    fastest decompressor installed for its format."""
    kind = compression_of(path)
    name = decompressor(kind)
    if name == "isal.igzip":
        from isal import igzip

        return igzip.open(path, "rb")
    if name == "gzip":
        return gzip.open(path, "rb")
    if name == "indexed_bzip2":
        import indexed_bzip2

        return indexed_bzip2.open(str(path), parallelization=1)
    if name == "bz2":
        return bz2.open(path, "rb")
    if name == "lzma":
        return lzma.open(path, "rb")
    if name == "zstandard":
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"),
                                                                          closefd=True))
    return open(path, "rb")


def open_for_writing(path: Path, name: str | None = None) -> IO[bytes]:
    """Open ``path`` for writing, compressed according to the suffix of ``name`` (default: the
    path's own name): .gz .bz2 .xz .zst, anything else plain."""
    name = name or path.name
    if name.endswith(".gz"):
        return gzip.open(path, "wb", compresslevel=6)
    if name.endswith(".bz2"):
        return bz2.open(path, "wb")
    if name.endswith(".xz"):
        return lzma.open(path, "wb")
    if name.endswith((".zst", ".zstd")):
        import zstandard

        return zstandard.ZstdCompressor(level=6).stream_writer(open(path, "wb"), closefd=True)
    return open(path, "wb")


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


_NAN = np.frombuffer(b"nan", np.uint8)
_INF = np.frombuffer(b"infinity", np.uint8)


@numba.njit(cache=True, inline="always")
def _blank(c):
    return c == 32 or c == 9 or c == 13 or c == 10  # space, tab, CR, LF


@numba.njit(cache=True, inline="always")
def _digit(c):
    return 48 <= c <= 57


@numba.njit(cache=True)
def _is_word(b, i, j, word):
    """b[i:j] equals ``word`` (lower case) ignoring case."""
    if j - i != len(word):
        return False
    for k in range(j - i):
        if b[i + k] | 32 != word[k]:
            return False
    return True


@numba.njit(cache=True)
def _number_end(b, i, n):
    """Index just past the number that starts at b[i] if the field holds nothing else (as C's
    strtod reads it in full: nan and inf included, so that the momentum checks can name them),
    else -1."""
    if b[i] == 43 or b[i] == 45:  # + -
        i += 1
    digits = 0
    while i < n and _digit(b[i]):
        i += 1
        digits += 1
    if i < n and b[i] == 46:  # .
        i += 1
        while i < n and _digit(b[i]):
            i += 1
            digits += 1
    if digits == 0:
        j = i
        while j < n and not _blank(b[j]):
            j += 1
        ok = _is_word(b, i, j, _NAN) or _is_word(b, i, j, _INF[:3]) or _is_word(b, i, j, _INF)
        return j if ok else -1
    if i < n and b[i] | 32 == 101:  # e E
        i += 1
        if i < n and (b[i] == 43 or b[i] == 45):
            i += 1
        if i >= n or not _digit(b[i]):
            return -1
        while i < n and _digit(b[i]):
            i += 1
    return i if i == n or _blank(b[i]) else -1


@numba.njit(cache=True)
def _first_bad_record(b, final, n_events):
    """Scan the lines of ``b`` for an event (E), vertex (V) or particle (P) record
    with a field that is not a number, or with fields not separated by single spaces. HepMC3
    3.2 reads those fields with atoi/atof, which take "3x00.0" for 3 and "abc" for 0 without
    complaint, and finds each next field after the next space, so that with two spaces (or a
    tab) it reads a field twice or skips one. Allowed besides numbers: ``@`` (before a
    position) and, in vertex records, a list of particle ids such as ``[1, 2,-3]``; blanks (a
    CR too) at the end of a line. A last line without its newline is left for the next call
    unless ``final``.

    Returns (lines scanned, events started, index of the bad line or -1, its start, its end,
    where scanning stopped, whether the fault is the spacing); the event count includes the bad
    line's own event.
    """
    n = len(b)
    line = 0
    start = 0
    while start < n:
        c = b[start]
        i = start + 1
        record = c == 69 or c == 80 or c == 86  # E P V
        bad = False
        spacing = False
        if record:
            bad = i < n and not _blank(b[i])  # the record letter stands alone
            while not bad:
                gap = i
                while i < n and _blank(b[i]) and b[i] != 10:
                    i += 1
                if i >= n or b[i] == 10:
                    break
                if i - gap != 1 or b[gap] != 32:
                    bad = spacing = True
                    break
                if b[i] == 64:  # @
                    i += 1
                    bad = i < n and not _blank(b[i])
                elif b[i] == 91 and c == 86:  # [ in a vertex record
                    i += 1
                    while i < n and (_digit(b[i]) or b[i] == 44 or b[i] == 45 or b[i] == 32 or b[i] == 9):
                        i += 1  # digits , - and blanks, which atoi skips
                    bad = i >= n or b[i] != 93 or (i + 1 < n and not _blank(b[i + 1]))  # ]
                    i += 1
                else:
                    i = _number_end(b, i, n)
                    bad = i < 0
            if bad:
                i = start
        while i < n and b[i] != 10:
            i += 1
        if i >= n and not final:
            break  # incomplete line: wait for the rest
        if c == 69:
            n_events += 1
        if bad:
            return line, n_events, line, start, i, start, spacing
        line += 1
        start = i + 1
    return line, n_events, -1, 0, 0, min(start, n), False


@numba.njit(cache=True)
def _first_newline(b):
    for i in range(len(b)):
        if b[i] == 10:
            return i
    return -1


class _CheckedStream(io.RawIOBase):
    """Pass a HepMC file's bytes through unchanged while checking that every E, V and P record
    holds only numbers, separated by single spaces; remembers the first bad one as
    ``problem = (event, line, text, whether the fault is the spacing)``.

    The reader is asked whether the event it just parsed is at fault, so the events before a
    corrupt line are still delivered.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._carry = b""  # the start of a line whose end has not been read yet
        self.lines = 0  # complete lines checked so far
        self._events = 0
        self.problem: tuple[int, int, str, bool] | None = None
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.error is not None:
            return 0
        try:
            n = self._raw.readinto(buffer)
        except Exception as exc:
            # A corrupt compressed stream. The C++ stream above would swallow the exception and
            # only report a failed read: keep it, and end the data here.
            self.error = exc
            return 0
        if self.problem is None:
            if not n:
                self._scan(np.frombuffer(self._carry, np.uint8), True)
                self._carry = b""
            else:
                data = np.frombuffer(buffer, np.uint8, count=n)
                if self._carry:  # finish the pending line first
                    newline = _first_newline(data)
                    if newline < 0:
                        self._carry += data.tobytes()
                        return n
                    self._scan(np.frombuffer(self._carry + data[:newline + 1].tobytes(), np.uint8), False)
                    self._carry = b""
                    data = data[newline + 1:]
                stop = self._scan(data, False)
                if self.problem is None:
                    self._carry = data[stop:].tobytes()
        return n

    def _scan(self, data: np.ndarray, final: bool) -> int:
        if self.problem is not None or not len(data):
            return len(data)
        lines, self._events, bad, a, b, stop, spacing = _first_bad_record(data, final, self._events)
        if bad >= 0:
            text = data[a:b].tobytes().decode("utf-8", "replace").rstrip("\r")
            self.problem = (self._events, self.lines + bad + 1, text, spacing)
        self.lines += lines
        return stop

    def close(self) -> None:
        self._raw.close()
        super().close()


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
        kernel = _text.parse_hepmc3 if self.format == "hepmc3" else _text.parse_hepmc2
        # momentum unit scale, number of weight names, links to parents further down the record, stamp,
        # the unit imposed by the user, the unit the file declares
        forced = self._forced_scale()
        state = np.array([forced or 1.0, -1.0, 1.0 if self.forward_parents == "keep" else 0.0, 0.0, forced, 0.0])
        err = np.zeros(7, np.int64)
        room = np.zeros(8, np.int64)
        buf = _text.padded(np.zeros(0, np.uint8))
        filled = pos = end = 0  # bytes of text in buf, where the kernel starts, where the last event begins
        offset = 0  # bytes of text before buf[0]
        final = _text.BOUNDARY
        acc = _text.Acc()
        with open_binary(self.path) as stream:
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
                    acc.grow(room)
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
                    try:
                        data = stream.read(_BLOCK)
                    except Exception as exc:  # gzip, isal, lzma, bz2 and zstandard each raise their own
                        message = (f"{self.path}: event {self.n_read + acc.n_ev + 1}: cannot decompress the "
                                   f"data after line {_line_number(self.path, offset + filled)}: {exc}")
                        if acc.n_ev:
                            yield self._columnar_batch(acc, file_unit)
                        raise EventFileError(message) from None
                    tail = filled - pos
                    new = _text.padded(buf[pos:filled], tail + len(data))
                    new[tail:tail + len(data)] = np.frombuffer(data, np.uint8)
                    offset += pos
                    buf, filled, pos = new, tail + len(data), 0
                    # hand the kernel whole events only: up to where the last one in the buffer starts
                    start = data.rfind(b"\nE ")
                    if not data:
                        end, final = filled, _text.LAST
                    elif start >= 0:
                        end, final = tail + start + 1, _text.BOUNDARY
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
        where = f"{self.path}: event {event}, line {_line_number(self.path, offset + at)}"
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
        """HepMC3's readers run in a child process (:mod:`recast.events._isolated`), which sends
        the events' arrays back: a crash of HepMC3 (pyhepmc 2.16's HepMC3 3.2 dies with a
        segmentation fault on some valid files) ends the child, not this process, and becomes a
        one-line error."""
        chunk: list[tuple] = []
        messages = _isolated.run(__name__, "_pyhepmc_worker", str(self.path), self.format, self.max_events)
        try:
            while True:
                try:
                    kind, payload = next(messages)
                except _isolated.ChildDied as died:
                    kind, payload = "error", self._crash_message(died.how, self.n_read + len(chunk) + 1)
                if kind == "event":
                    chunk.append(payload)
                    if len(chunk) == self.chunk_size:
                        full, chunk = chunk, []
                        yield self._batch(full)
                elif kind == "error":
                    _isolated.finish(messages)
                    if chunk:  # the good events read before the failure still count
                        good, chunk = chunk, []
                        yield self._batch(good)
                    raise EventFileError(payload)
                else:  # "end"
                    _isolated.finish(messages)
                    break
            if chunk:
                yield self._batch(chunk)
        finally:
            messages.close()

    def _crash_message(self, how: str, event: int) -> str:
        what = "crashed" if how.startswith("SIG") else "ended"
        return (f"{self.path}: event {event}: HepMC3 (inside pyhepmc {pyhepmc.__version__}, the pyhepmc reader) "
                f"{what} reading this event ({how}); the default columnar reader does not depend on it")

    def _batch(self, chunk: list[tuple]):
        forced = self._forced_scale()
        parts = np.concatenate([c[0] for c in chunk])
        n_part = np.array([len(c[0]) for c in chunk], np.int64)
        scale = np.repeat([forced or (MEV_TO_GEV if c[6] else 1.0) for c in chunk], n_part)
        n_vert = np.array([c[1] for c in chunk], np.int64)
        n_link = np.array([len(c[2]) for c in chunk], np.int64)
        part_off, vert_off, link_off = (np.concatenate([[0], np.cumsum(x)]) for x in (n_part, n_vert, n_link))
        links1 = np.concatenate([c[2] for c in chunk]) if n_link.sum() else np.zeros(0, np.int64)
        links2 = np.concatenate([c[3] for c in chunk]) if n_link.sum() else np.zeros(0, np.int64)
        poff, parents, bad = _parents_from_links(part_off, vert_off, link_off, links1, links2)
        if bad:
            raise EventFileError(f"{self.path}: event {self.n_read + bad} links a particle or vertex "
                                 f"that does not exist")
        for c in chunk:  # generators refine it event by event: keep the last
            if c[7] is not None:
                self.cross_section_fb, self.cross_section_err_fb = c[7]
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
        return self._finish_batch(rec, len(chunk), "MEV" if chunk[0][6] else "GEV")


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
    _first_bad_record(np.frombuffer(b"E 1 0 0\n", np.uint8), True, 0)
    _first_newline(np.zeros(1, np.uint8))


def _pyhepmc_events(path: Path, fmt: str, max_events: int | None) -> Iterator[tuple]:
    """Events read by HepMC3's readers, as (particles (GenEventData), vertex count, links1,
    links2, first weight, event number, momenta in MeV, (cross section, error) in fb or None)."""
    reader_cls = pyhepmc.io.ReaderAscii if fmt == "hepmc3" else pyhepmc.io.ReaderAsciiHepMC2
    checked = _CheckedStream(open_binary(path))
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


def _check_clean_end(path: Path, fmt: str, n_good: int, checked: _CheckedStream) -> None:
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


_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_INT = r"[-+]?\d+"
_P3 = re.compile(rf"^P {_INT} {_INT} {_INT}(?: (?:{_FLOAT})){{5}} {_INT}\s*$", re.IGNORECASE)
_V3 = re.compile(rf"^V {_INT} {_INT} \[[-\d,]*\](?: @(?: (?:{_FLOAT})){{4}})?\s*$", re.IGNORECASE)
_P2 = re.compile(rf"^P {_INT} {_INT}(?: (?:{_FLOAT})){{7}} {_INT} {_INT}( {_INT})*\s*$", re.IGNORECASE)
_V2 = re.compile(rf"^V {_INT} {_INT}(?: (?:{_FLOAT})){{4}} {_INT} {_INT} {_INT}( \S+)*\s*$", re.IGNORECASE)


def locate_problem(path: Path, fmt: str, event_index: int) -> tuple[int, str] | None:
    """Find the first line at fault in the ``event_index``-th event (0-based) of a HepMC file.

    Returns ``(line_number, reason)``, or None when the file simply ended after the previous
    event. This runs only on the error path, so it can afford a line-by-line scan.
    """
    p_re, v_re = (_P3, _V3) if fmt == "hepmc3" else (_P2, _V2)
    n_events = -1
    expect_p = expect_v = seen_p = seen_v = 0
    start_line = 0
    ended = False

    def count_problem() -> str | None:
        if fmt == "hepmc3" and (seen_p != expect_p or seen_v > expect_v):
            return (f"event is incomplete: the E line declares {expect_p} particles and "
                    f"{expect_v} vertices, {seen_p} particles and {seen_v} vertices follow")
        if fmt == "hepmc2" and (seen_v != expect_v or seen_p != expect_p):
            return (f"event is incomplete: {expect_v} vertices and {expect_p} particles declared, "
                    f"{seen_v} vertices and {seen_p} particles follow")
        return None

    with open_binary(path) as f:
        lineno = 0
        for raw in f:
            lineno += 1
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if n_events < event_index:
                if line.startswith("E "):
                    n_events += 1
                    if n_events == event_index:
                        start_line = lineno
                        err = _parse_event_line(line, fmt)
                        if isinstance(err, str):
                            return lineno, err
                        expect_v, expect_p = err
                continue
            # inside the target event
            if line.startswith("E ") or line.startswith("HepMC::"):
                ended = True
                break
            if line.startswith("P "):
                if not p_re.match(line):
                    return lineno, f"malformed particle line: {line[:80]!r}"
                seen_p += 1
                if fmt == "hepmc3" and seen_p > expect_p:
                    return lineno, f"more particles than the {expect_p} the E line declares"
            elif line.startswith("V "):
                if not v_re.match(line):
                    return lineno, f"malformed vertex line: {line[:80]!r}"
                seen_v += 1
                if fmt == "hepmc2":  # after each vertex: its orphan incoming and its outgoing particles
                    tok = line.split()
                    expect_p += int(tok[7]) + int(tok[8])
            elif line[:2] in ("U ", "W ", "A ", "T ", "C ", "H ", "F ", "N ") or not line.strip():
                continue
            else:
                return lineno, f"unexpected line: {line[:80]!r}"
        if n_events < event_index:
            return None  # the file ended cleanly after the last event
        problem = count_problem()
        if problem is not None:
            return (lineno if not ended else start_line), (
                problem if ended else "file ends in the middle of the event (truncated?): " + problem)
    return start_line, "HepMC3 rejected this event (inconsistent vertex or particle references)"


def _line_number(path: Path, offset: int) -> int:
    """The line of a file's text that byte ``offset`` (of the decompressed text) is on (error
    path only: reads the file again)."""
    lines = 1
    try:
        with open_binary(path) as f:
            while offset > 0:
                block = f.read(min(offset, 1 << 22))
                if not block:
                    break
                lines += block.count(b"\n")
                offset -= len(block)
    except Exception:  # a corrupt stream: count what could be read
        pass
    return lines


def locate_bad_momentum(path: Path, fmt: str, event_index: int, final_only: bool) -> tuple[int, str] | None:
    """(line number, text) of the first particle line of the ``event_index``-th event (0-based)
    with a non-finite momentum or, if ``final_only``, a final-state one (status 1) with a
    non-finite momentum or a negative energy. The file's own line names the particle the same
    way whichever reader read it (HepMC3 reorders HepMC2 particles). Error path only: a
    line-by-line scan."""
    momentum, status = (slice(4, 8), 9) if fmt == "hepmc3" else (slice(3, 7), 8)
    n_events = 0
    with open_binary(path) as f:
        for lineno, raw in enumerate(f, 1):
            if raw.startswith(b"E "):
                n_events += 1
                if n_events > event_index + 1:
                    return None
            elif raw.startswith(b"P ") and n_events == event_index + 1:
                fields = raw.split()
                try:
                    p4 = np.array([float(x) for x in fields[momentum]])
                    final = int(fields[status]) == 1
                except (ValueError, IndexError):
                    continue
                finite = np.isfinite(p4).all()
                if (final and (not finite or p4[3] < 0)) if final_only else not finite:
                    return lineno, raw.decode("utf-8", "replace").rstrip()
    return None


def _parse_event_line(line: str, fmt: str) -> tuple[int, int] | str:
    tok = line.split()
    try:
        if fmt == "hepmc3":
            return int(tok[2]), int(tok[3])
        return int(tok[8]), 0  # HepMC2: vertices declared; particles follow from the V lines
    except (IndexError, ValueError):
        return f"malformed event line: {line[:80]!r}"


# -- writing -----------------------------------------------------------------------------------


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

    def write(self, events, first_number: int) -> None:
        import awkward as ak

        from .pythia import _mother_lists

        info = self._pythia.infoPython()
        xs_pb, xs_err_pb = float(info.sigmaGen()) * 1e9, float(info.sigmaErr()) * 1e9
        prt = events.prt
        counts = ak.to_numpy(ak.num(prt)).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        flat = ak.flatten(prt)
        pid = ak.to_numpy(flat.id).astype(np.int64)
        status = ak.to_numpy(flat.status).astype(np.int64)
        m1 = ak.to_numpy(flat.mother1).astype(np.int64)
        m2 = ak.to_numpy(flat.mother2).astype(np.int64)
        mom = np.stack([ak.to_numpy(flat.p.px), ak.to_numpy(flat.p.py), ak.to_numpy(flat.p.pz),
                        ak.to_numpy(flat.p.e)], axis=1)
        mass = ak.to_numpy(flat.m)
        poff, parents = _mother_lists(offsets, status.astype(np.int32), m1, m2)
        _, hadron, _, _, _ = pid_table(pid)
        hep_status = np.where(status > 0, 1, np.where(status == -12, 4, np.where(
            (hadron | np.isin(np.abs(pid), (13, 15))) & (status < 0), 2,
            np.where((status <= -11) & (status >= -200), -status, 0))))
        weights = ak.to_list(events.info.weights)
        for e in range(len(counts)):
            lo, hi = offsets[e], offsets[e + 1]
            evt = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
            evt.event_number = first_number + e
            evt.weights = weights[e] or [1.0]
            parts = [None] * (hi - lo)
            vertices = []  # HepMC3 particles hold weak references to their vertices: keep them alive
            for i in range(1, hi - lo):  # entry 0 is Pythia's "system" line
                g = lo + i
                p = pyhepmc.GenParticle(tuple(mom[g]), int(pid[g]), int(hep_status[g]))
                p.generated_mass = float(mass[g])
                parts[i] = p
            for i in range(1, hi - lo):
                moth = parents[poff[lo + i]:poff[lo + i + 1]] - lo
                if len(moth) == 0:
                    continue
                vtx = parts[moth[0]].end_vertex
                if vtx is None:
                    vtx = pyhepmc.GenVertex()
                    vertices.append(vtx)
                    for j in moth:
                        vtx.add_particle_in(parts[j])
                vtx.add_particle_out(parts[i])
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
