"""HepMC text read line by line, outside the columnar kernel: the record check that guards the
``pyhepmc`` reader, and the locators that name the line at fault once a reader has failed.

HepMC3 3.2 (inside pyhepmc) reads record fields with atoi/atof and finds each next field after
the next space, so it misreads fields that are not numbers and fields separated by more than one
space without complaint: :class:`CheckedStream` passes the file's bytes to it unchanged while
checking every E, V and P line (a numba kernel, :func:`first_bad_record`). The locators
(:func:`locate_problem`, :func:`locate_bad_momentum`, :func:`line_number`) read the file again,
so they run on the error path only.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import IO

import numba
import numpy as np

from .compression import open_binary

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
def first_bad_record(b, final, n_events):
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
def first_newline(b):
    for i in range(len(b)):
        if b[i] == 10:
            return i
    return -1


class CheckedStream(io.RawIOBase):
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
                    newline = first_newline(data)
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
        lines, self._events, bad, a, b, stop, spacing = first_bad_record(data, final, self._events)
        if bad >= 0:
            text = data[a:b].tobytes().decode("utf-8", "replace").rstrip("\r")
            self.problem = (self._events, self.lines + bad + 1, text, spacing)
        self.lines += lines
        return stop

    def close(self) -> None:
        self._raw.close()
        super().close()


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


def line_number(path: Path, offset: int) -> int:
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

