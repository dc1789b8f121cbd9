"""Numba kernels that parse HepMC3 ASCII and HepMC2 IO_GenEvent text straight into flat arrays.

One call parses as many whole events as it is asked for from a byte buffer and appends them to the
chunk accumulator (:class:`Acc`): per event the number, the first weight and the cross section,
per particle the PDG id, status and four-momentum, and the parent table as CSR over the chunk's
particles. No Python object is made per event or per particle.

The links follow what HepMC3's own readers build (pyhepmc 2.16, HepMC3 3.2):

* HepMC3: a particle line names its production vertex (< 0) or a single parent particle (> 0).
  A parent particle that already has an end vertex (an explicit ``V`` line listing it, or an
  implied vertex made by an earlier sibling) gives that vertex, and so all its incoming
  particles; otherwise it gets a new implied vertex. Particle ids must come in order.
* HepMC2: the particles after a ``V`` line are its outgoing particles, except the ones whose end
  vertex is that same vertex (its orphan incoming particles); a particle's end-vertex barcode
  makes it an incoming particle of the first vertex with that barcode (an unknown barcode is
  ignored, as HepMC3 does). A vertex without incoming particles takes its outgoing beam
  particles (status 4) as incoming; one without those is removed, and its outgoing particles
  have no parents (HepMC3 3.3; 3.2, inside pyhepmc, crashes on such a vertex when it carries
  weights, as Sherpa 1.4 writes them).

Fields are separated as HepMC3 3.3 separates them: in HepMC3 text by runs of spaces and tabs
(since HepMC3's commit c149a6ad; HepMC3 3.2 and the 3.3.1 release read fields by single spaces
and silently misread a line with two), in HepMC2 text by single spaces (HepMC3 3.3 still reads
HepMC2 that way: a line it would misread is refused). Lines may end in CR LF.

Files whose links HepMC3 would silently rewrite (a particle listed as incoming to two vertices, a
reference to a particle or vertex that is not in the event) are refused with an error code
instead. Numbers are read in full (a field that is not a number is an error, where C's atof
would read "3x00" as 3). Floating-point fields are converted exactly as strtod does: digits and
exponents within the exact range (all of HepMC3's ``%.8e`` output) in the kernel, the rare
others marked for Python's ``float`` (``fix_*`` arrays).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..kernels import borrowed

# what the end of the buffer is (the kernels' ``final`` argument); the buffer always ends where an
# event starts, so every event in it is whole
BOUNDARY = 1  # more text follows
LAST = 2  # the end of the text

# kernel exit status
NEED_DATA = 1  # stopped at the start of an event that is not complete in the buffer
CHUNK_FULL = 2  # parsed as many events as asked for
END = 3  # every event of the (final) buffer parsed
ERROR = 4
NEED_ROOM = 5  # an array is too small for the event at the position: grow it (see ``room``) and call again

# ``room`` slots: the sizes the kernel asks for when it returns NEED_ROOM
R_PART = 0  # particle arrays of the accumulator (pid, status, p4; par_off one more)
R_PARENTS = 1  # accumulator parents
R_FIX = 2  # accumulator fix rows
R_SPART = 3  # per-particle scratch of the current event
R_SVERT = 4  # per-vertex scratch of the current event
R_VIN = 5  # incoming-particle lists of the current event
R_FWD = 6  # links named before their particles

# error codes (the Python side turns them into messages)
E_MALFORMED = 1  # a field that is not a number, a missing field or an extra one
E_PARTICLE_ID = 2  # particle ids out of order
E_MOTHER = 3  # parent particle that does not exist (yet)
E_VERTEX_REF = 4  # production vertex that is not in the event
E_VERTEX_ID = 5  # vertex id outside -1..-(declared vertices)
E_VERTEX_DUP = 6  # two V lines with the same id
E_COUNT = 7  # particles or vertices fewer/more than declared
E_CONFLICT = 8  # a particle incoming to two vertices
E_WEIGHTS = 9  # number of weights differs from the number of weight names
E_UNITS = 10  # unknown momentum unit
E_OUTSIDE = 11  # a particle or vertex line before the first event line
E_NO_VERTEX = 12  # HepMC2: a particle line before the event's first vertex line
E_VERTEX_OUT = 13  # HepMC2: fewer particles after a vertex than its outgoing count
E_VIN_REF = 14  # a vertex lists an incoming particle that is not in the event
E_NO_INCOMING = 15  # HepMC2: a vertex without incoming particles and with a final-state particle HepMC3 drops

DROPPED = -(2 ** 31)  # the status of a particle HepMC3 drops from its event (a status no line can have)

_POW10 = np.array([10.0 ** k for k in range(23)])
_NAN = np.frombuffer(b"nan", np.uint8)
_INF = np.frombuffer(b"inf", np.uint8)
_INFINITY = np.frombuffer(b"infinity", np.uint8)
_GEV = np.frombuffer(b"GEV", np.uint8)
_MEV = np.frombuffer(b"MEV", np.uint8)
_XSEC = np.frombuffer(b"GenCrossSection", np.uint8)
_HEPMC = np.frombuffer(b"HepMC", np.uint8)
_INT32 = 2 ** 31


def _resized(a: np.ndarray, n: int) -> np.ndarray:
    """A copy of ``a`` with at least ``n`` rows (and at least twice as many), zero-filled."""
    out = np.zeros((max(int(n), 2 * len(a)), *a.shape[1:]), a.dtype)
    out[:len(a)] = a
    return out


class Acc:
    """The arrays a chunk of events is parsed into (grown by the kernels as needed)."""

    def __init__(self, capacity: int = 1 << 16, events: int = 64, parents: int = 1 << 16,
                 scratch: tuple | None = None) -> None:
        self.ev_number = np.zeros(events, np.int64)
        self.ev_weight = np.zeros(events, np.float64)
        self.ev_xs = np.zeros((events, 2), np.float64)  # cross section and its error (pb); NaN if none
        self.ev_poff = np.zeros(events + 1, np.int64)
        self.pid = np.zeros(capacity, np.int32)
        self.status = np.zeros(capacity, np.int32)
        self.p4 = np.zeros((capacity, 4), np.float64)
        self.par_off = np.zeros(capacity + 1, np.int64)
        self.parents = np.zeros(parents, np.int64)
        self.fix = np.zeros((16, 4), np.int64)  # (target, start, end, in MeV): numbers left to Python
        self.n_ev = self.n_p = self.n_par = self.n_fix = 0
        # per-event scratch of the kernels (per particle, per vertex, lists); shareable between chunks
        self.scratch = scratch or (np.zeros(4096, np.int64), np.zeros(4096, np.int64), np.zeros(4096, np.int64),
                        np.zeros((4096, 2), np.int64), np.zeros(4096, np.bool_), np.zeros(256, np.int64),
                        np.zeros(256, np.int64), np.zeros(256, np.bool_), np.zeros(4096, np.int64),
                        np.zeros((64, 2), np.int64))

    def ensure_events(self, n: int) -> None:
        """Room for ``n`` events (the kernels do not grow the per-event arrays)."""
        if len(self.ev_number) < n:
            self.ev_number, self.ev_weight, self.ev_poff = (_resized(a, n + 1) for a in
                                                            (self.ev_number, self.ev_weight, self.ev_poff))
            self.ev_xs = _resized(self.ev_xs, n + 1)

    def grow(self, room: np.ndarray, events: int = 0) -> None:
        """Enlarge the arrays a kernel asked for (returning NEED_ROOM) to at least twice their size,
        and the particle arrays to what ``events`` events will need at the mean size of the events
        parsed so far (plus 10%): a chunk's arrays then grow once or twice, not a dozen times
        (each growth is a fresh allocation, whose pages the copy faults in)."""
        def projected(used: int) -> int:
            return int(used / self.n_ev * events * 1.1) if self.n_ev and events > self.n_ev else 0

        if room[R_PART] > len(self.pid):
            n = max(int(room[R_PART]), projected(self.n_p))
            self.pid, self.status, self.p4 = (_resized(a, n) for a in (self.pid, self.status, self.p4))
            self.par_off = _resized(self.par_off, n + 1)
        if room[R_PARENTS] > len(self.parents):
            self.parents = _resized(self.parents, max(int(room[R_PARENTS]), projected(self.n_par)))
        if room[R_FIX] > len(self.fix):
            self.fix = _resized(self.fix, room[R_FIX])
        prod, endv, mark, later, orphan, vin_start, vin_len, vdef, vin, fwd = self.scratch
        if room[R_SPART] > len(prod):
            prod, endv, mark, later, orphan = (_resized(a, room[R_SPART]) for a in (prod, endv, mark, later, orphan))
        if room[R_SVERT] > len(vdef):
            vin_start, vin_len, vdef = (_resized(a, room[R_SVERT]) for a in (vin_start, vin_len, vdef))
        if room[R_VIN] > len(vin):
            vin = _resized(vin, room[R_VIN])
        if room[R_FWD] > len(fwd):
            fwd = _resized(fwd, room[R_FWD])
        self.scratch = (prod, endv, mark, later, orphan, vin_start, vin_len, vdef, vin, fwd)

    def arrays(self) -> tuple:
        return (self.ev_number, self.ev_weight, self.ev_xs, self.ev_poff, self.pid, self.status, self.p4,
                self.par_off, self.parents, self.fix)

    def counts(self) -> np.ndarray:
        return np.array([self.n_ev, self.n_p, self.n_par, self.n_fix], np.int64)

    def set_counts(self, counts: np.ndarray) -> None:
        self.n_ev, self.n_p, self.n_par, self.n_fix = (int(c) for c in counts)


# -- field readers ---------------------------------------------------------------------------

# The helpers are called from the kernels only: without the wrappers numba makes for calls from
# Python (and from C), a first run compiles the HepMC3 kernel in 0.6 s less. Small ones on scalars
# are left for LLVM to inline: inlining them in numba's IR (``inline="always"``) types them again
# at every call.
_HELPER = {"cache": True, "no_cpython_wrapper": True, "no_cfunc_wrapper": True}


@numba.njit(**_HELPER, inline="always")
def _ends(b, i, n):
    """A field ends at a blank, a newline or the end of the data."""
    return i >= n or b[i] == 32 or b[i] == 9 or b[i] == 13 or b[i] == 10


@numba.njit(**_HELPER, inline="always")
def _skip(b, i, n):
    while i < n and (b[i] == 32 or b[i] == 9 or b[i] == 13):
        i += 1
    return i


@numba.njit(**_HELPER, inline="always")
def _blanks(b, i, n):
    """Index of the first character at or after ``i`` that is not a space or a tab."""
    while i < n and (b[i] == 32 or b[i] == 9):
        i += 1
    return i


@numba.njit(**_HELPER)
def _eol(b, i, n):
    while i < n and b[i] != 10:
        i += 1
    return i


@numba.njit(**_HELPER)
def _line_done(b, i, n):
    """Index past the newline if only blanks are left on the line, else -1 (an extra field)."""
    i = _skip(b, i, n)
    if i >= n:
        return n
    return i + 1 if b[i] == 10 else -1


@numba.njit(**_HELPER, inline="always")
def _field(b, i, n, runs):
    """Start of the field after the separator at ``i``, or -1 if there is no separator there.

    The separator is what HepMC3's readers take: for HepMC2 text a single space (its reader,
    in HepMC3 3.3 as in 3.2, finds the next field with ``strchr(cursor + 1, ' ')``, so with two
    spaces it would read the same field twice); with ``runs`` (HepMC3 ASCII) any run of spaces
    and tabs (HepMC3's reader skips spaces and lets ``strtol``/``strtod`` skip the rest, since
    its commit c149a6ad of April 2025, which HepMC3's test ``testIO30`` checks)."""
    if i >= n or not (b[i] == 32 or (runs and b[i] == 9)):
        return -1
    i += 1
    if runs:
        while i < n and (b[i] == 32 or b[i] == 9):
            i += 1
    return i


@numba.njit(**_HELPER)
def _int(b, i, n, runs):
    """(value, index after the field) of the integer field after the separator at ``i`` (see
    :func:`_field`); index -1 if the field is not an integer (up to 18 digits) or not after a
    separator (HepMC3 would misread the line)."""
    i = _field(b, i, n, runs)
    if i < 0:
        return 0, -1
    neg = False
    if i < n and (b[i] == 45 or b[i] == 43):
        neg = b[i] == 45
        i += 1
    s = i
    v = 0
    while i < n and 48 <= b[i] <= 57 and i - s < 18:
        v = v * 10 + (b[i] - 48)
        i += 1
    if i == s or not _ends(b, i, n):
        return 0, -1
    return (-v if neg else v), i


@numba.njit(**_HELPER)
def _is_word(b, i, j, word):
    """b[i:j] equals ``word`` (lower case) ignoring case."""
    if j - i != len(word):
        return False
    for t in range(len(word)):
        if b[i + t] | 32 != word[t]:
            return False
    return True


def _powers_of_five() -> np.ndarray:
    """128-bit mantissas of 5**q (= those of 10**q) for q in [-342, 308], as (high, low) uint64:
    truncated for q >= 0, rounded up for q < 0 (the table of Lemire's fast_float)."""
    rows = []
    for q in range(_Q_MIN, _Q_MAX + 1):
        if q >= 0:
            c = 5 ** q
            while c < 1 << 127:
                c <<= 1
            while c >= 1 << 128:
                c >>= 1
        else:
            power5 = 5 ** -q
            z = power5.bit_length()
            b = z + 127 if q >= -27 else 2 * z + 2 * 64
            c = 2 ** b // power5 + 1
            while c >= 1 << 128:
                c >>= 1
        rows.append((c >> 64, c & (2 ** 64 - 1)))
    return np.array(rows, dtype=np.uint64)


_Q_MIN, _Q_MAX = -342, 308
_POW2 = np.array([math.ldexp(1.0, e - 1075) for e in range(0x7FF)])  # 2**(biased exponent - 1075)
_POW5 = _powers_of_five()
_U32 = np.uint64(0xFFFFFFFF)


@numba.njit(**_HELPER)
def _mul128(a, b):
    """High and low 64 bits of the product of two uint64."""
    a_lo = a & _U32
    a_hi = a >> np.uint64(32)
    b_lo = b & _U32
    b_hi = b >> np.uint64(32)
    p0 = a_lo * b_lo
    p1 = a_lo * b_hi
    p2 = a_hi * b_lo
    p3 = a_hi * b_hi
    mid = (p0 >> np.uint64(32)) + (p1 & _U32) + (p2 & _U32)
    lo = (p0 & _U32) | (mid << np.uint64(32))
    hi = p3 + (p1 >> np.uint64(32)) + (p2 >> np.uint64(32)) + (mid >> np.uint64(32))
    return hi, lo


@numba.njit(**_HELPER)
def _eisel_lemire(man, e10):
    """The double nearest to man * 10**e10 (man: uint64 > 0), by the Eisel-Lemire algorithm;
    (value, True), or (0, False) in the rare cases it cannot decide (left to Python)."""
    if e10 < _Q_MIN or e10 > _Q_MAX:
        return 0.0, False
    clz = 0
    x = man
    for shift in (32, 16, 8, 4, 2, 1):
        if x < np.uint64(1) << np.uint64(64 - shift):
            x = x << np.uint64(shift)
            clz += shift
    man = x
    ret_exp2 = np.int64(((217706 * e10) >> 16) + 64 + 1023 - clz)
    row = e10 - _Q_MIN
    x_hi, x_lo = _mul128(man, _POW5[row, 0])
    if x_hi & np.uint64(0x1FF) == np.uint64(0x1FF) and x_lo + man < man:
        y_hi, y_lo = _mul128(man, _POW5[row, 1])
        merged_hi = x_hi
        merged_lo = x_lo + y_hi
        if merged_lo < x_lo:
            merged_hi += np.uint64(1)
        if merged_hi & np.uint64(0x1FF) == np.uint64(0x1FF) and merged_lo + np.uint64(1) == np.uint64(0) \
                and y_lo + man < man:
            return 0.0, False
        x_hi = merged_hi
        x_lo = merged_lo
    msb = x_hi >> np.uint64(63)
    mant = x_hi >> (msb + np.uint64(9))
    ret_exp2 -= np.int64(1 - np.int64(msb))
    if x_lo == np.uint64(0) and x_hi & np.uint64(0x1FF) == np.uint64(0) and mant & np.uint64(3) == np.uint64(1):
        return 0.0, False  # exactly half-way between two doubles
    mant += mant & np.uint64(1)
    mant >>= np.uint64(1)
    if mant >> np.uint64(53) > np.uint64(0):
        mant >>= np.uint64(1)
        ret_exp2 += 1
    if ret_exp2 <= 0 or ret_exp2 >= 0x7FF:
        return 0.0, False  # subnormal or overflow
    # mant has 53 bits (the leading one included): scaling it by a power of two is exact
    return np.float64(mant) * _POW2[ret_exp2], True


@numba.njit(**_HELPER, inline="always")
def _eight_bytes(b64, i):
    """Bytes i..i+7 of the buffer as a little-endian uint64, from the two aligned words they
    straddle (the buffer is padded: see :func:`padded`)."""
    w = i >> 3
    s = np.uint64((i & 7) * 8)
    return (b64[w] >> s) | ((b64[w + 1] << np.uint64(1)) << (np.uint64(63) - s))


PAD = 16


def padded_size(length: int) -> int:
    """The size of a buffer for ``length`` bytes of text: a multiple of 8 with at least :data:`PAD`
    bytes after the text, which must be zeros, as the kernels read whole words."""
    return (length + PAD + 7) // 8 * 8


def padded(data: np.ndarray, length: int | None = None) -> np.ndarray:
    """A copy of ``data`` (uint8) in a buffer of :func:`padded_size` for ``length`` (default: its
    own length) bytes, zeros after the data."""
    length = len(data) if length is None else length
    out = np.zeros(padded_size(length), np.uint8)
    out[:len(data)] = data
    return out


@numba.njit(**_HELPER)
def _all_digits(v):
    """All eight bytes of ``v`` are ASCII digits."""
    return ((v + np.uint64(0x4646464646464646)) | (v - np.uint64(0x3030303030303030))) \
        & np.uint64(0x8080808080808080) == np.uint64(0)


@numba.njit(**_HELPER)
def _eight_digits(v):
    """The number written by eight ASCII digits packed little-endian in ``v`` (SWAR)."""
    v = v - np.uint64(0x3030303030303030)
    v = v * np.uint64(10) + (v >> np.uint64(8))
    mask = np.uint64(0x000000FF000000FF)
    return ((v & mask) * np.uint64(0x000F424000000064)
            + ((v >> np.uint64(16)) & mask) * np.uint64(0x0000271000000001)) >> np.uint64(32)


@numba.njit(cache=True)
def _float(b, b64, i, n):
    """(value, index after the field, exact) of a number field starting at ``i`` (no blanks
    before it). Index -1 if the field is not a number. The value is the double nearest to the
    decimal, as strtod gives it: by Clinger's fast path or the Eisel-Lemire algorithm; ``exact``
    False in the rare cases neither decides (over 19 significant digits, half-way cases,
    subnormals), which the caller leaves to Python."""
    neg = False
    if i < n and (b[i] == 45 or b[i] == 43):
        neg = b[i] == 45
        i += 1
    # HepMC3's own layout, d.dddddddddddddddde+dd (17 significant digits), read in one go
    if i + 21 <= n and b[i + 1] == 46 and 48 <= b[i] <= 57 and b[i + 18] | 32 == 101:
        hi = _eight_bytes(b64, i + 2)
        lo = _eight_bytes(b64, i + 10)
        c = b[i + 19]
        if _all_digits(hi) and _all_digits(lo) and (c == 43 or c == 45):
            j = i + 20
            ev = 0
            while j < n and 48 <= b[j] <= 57 and j < i + 24:
                ev = ev * 10 + (b[j] - 48)
                j += 1
            if j > i + 20 and _ends(b, j, n):
                mant = (np.uint64(b[i] - 48) * np.uint64(10000000000000000)
                        + _eight_digits(hi) * np.uint64(100000000) + _eight_digits(lo))
                e10 = (-ev if c == 45 else ev) - 16
                if mant == np.uint64(0):
                    v = 0.0
                    ok = True
                elif mant <= np.uint64(1 << 53) and -22 <= e10 <= 22:
                    v = np.float64(mant) * _POW10[e10] if e10 >= 0 else np.float64(mant) / _POW10[-e10]
                    ok = True
                else:
                    v, ok = _eisel_lemire(mant, e10)
                return (-v if neg else v), j, ok
    mant = np.uint64(0)
    nd = 0  # significant digits in mant (at most 19: below 2**64)
    e10 = 0
    digits = 0
    exact = True
    while i < n and b[i] == 48:  # leading zeros
        i += 1
        digits += 1
    while i < n and 48 <= b[i] <= 57:
        if nd < 19:
            mant = mant * np.uint64(10) + np.uint64(b[i] - 48)
            nd += 1
        else:
            e10 += 1
            exact = exact and b[i] == 48  # dropped zeros change nothing
        digits += 1
        i += 1
    if i < n and b[i] == 46:  # .
        i += 1
        if nd == 0:
            while i < n and b[i] == 48:
                i += 1
                e10 -= 1
                digits += 1
        while nd + 8 <= 19 and i + 8 <= n:  # eight digits at a time (HepMC3 writes 17)
            v = _eight_bytes(b64, i)
            if not _all_digits(v):
                break
            mant = mant * np.uint64(100000000) + _eight_digits(v)
            nd += 8
            e10 -= 8
            digits += 8
            i += 8
        while i < n and 48 <= b[i] <= 57:
            if nd < 19:
                mant = mant * np.uint64(10) + np.uint64(b[i] - 48)
                nd += 1
                e10 -= 1
            else:
                exact = exact and b[i] == 48
            digits += 1
            i += 1
    if digits == 0:
        j = i
        while not _ends(b, j, n):
            j += 1
        if _is_word(b, i, j, _NAN):
            return np.nan, j, True
        if _is_word(b, i, j, _INF) or _is_word(b, i, j, _INFINITY):
            return (-np.inf if neg else np.inf), j, True
        return 0.0, -1, True
    if i < n and b[i] | 32 == 101:  # e E
        i += 1
        eneg = False
        if i < n and (b[i] == 45 or b[i] == 43):
            eneg = b[i] == 45
            i += 1
        s = i
        ev = 0
        while i < n and 48 <= b[i] <= 57:
            if ev < 100000:
                ev = ev * 10 + (b[i] - 48)
            i += 1
        if i == s:
            return 0.0, -1, True
        e10 += -ev if eneg else ev
    if not _ends(b, i, n):
        return 0.0, -1, True
    if mant == np.uint64(0):
        v = 0.0
    elif not exact:
        v = 0.0
    elif mant <= np.uint64(1 << 53) and -22 <= e10 <= 22:
        v = np.float64(mant) * _POW10[e10] if e10 >= 0 else np.float64(mant) / _POW10[-e10]
    else:
        v, exact = _eisel_lemire(mant, e10)
    return (-v if neg else v), i, exact


@numba.njit(**_HELPER)
def _check_number(b, b64, i, n, runs):
    """Index after the number field after the separator at ``i`` (or -1 if it is not one),
    without converting it: for fields that are checked but not kept."""
    i = _field(b, i, n, runs)
    if i < 0:
        return -1
    j = i + 1 if i < n and b[i] == 45 else i
    if j + 22 <= n and b[j + 1] == 46 and 48 <= b[j] <= 57 and b[j + 18] | 32 == 101 \
            and (b[j + 19] == 43 or b[j + 19] == 45) and 48 <= b[j + 20] <= 57 and 48 <= b[j + 21] <= 57 \
            and _ends(b, j + 22, n) and _all_digits(_eight_bytes(b64, j + 2)) \
            and _all_digits(_eight_bytes(b64, j + 10)):
        return j + 22
    _, j, _ = _float(b, b64, i, n)
    return j


@numba.njit(**_HELPER)
def _value(b, b64, i, n, runs):
    """The number field after the separator at ``i``: (value, its start, its end or -1,
    exact)."""
    s = _field(b, i, n, runs)
    if s < 0:
        return 0.0, i, -1, True
    v, j, exact = _float(b, b64, s, n)
    return v, s, j, exact


@numba.njit(**_HELPER)
def _numbers_to_eol(b, b64, i, n, runs):
    """Check that the rest of the line holds only number fields: index past the line or -1."""
    while True:
        j = _line_done(b, i, n)
        if j >= 0:
            return j
        _, _, i, _ = _value(b, b64, i, n, runs)
        if i < 0:
            return -1


@numba.njit(**_HELPER)
def _starts_with(b, i, n, word):
    if i + len(word) > n:
        return False
    for t in range(len(word)):
        if b[i + t] != word[t]:
            return False
    return True


# -- numbers left to Python ---------------------------------------------------------------

@numba.njit(**_HELPER)
def _add_fix(fix, n_fix, target, start, end):
    """Record a number for Python; returns the new count, or -1 if ``fix`` is full."""
    if n_fix >= len(fix):
        return -1
    fix[n_fix, 0] = target
    fix[n_fix, 1] = start
    fix[n_fix, 2] = end
    fix[n_fix, 3] = 0
    return n_fix + 1


@numba.njit(**_HELPER)
def _momentum_unit(b, i, end):
    """Scale to GeV of the momentum unit named by the ``U`` line at ``i``, or -1 if unknown."""
    j = _skip(b, i + 1, end)
    if _starts_with(b, j, end, _GEV):
        return 1.0
    if _starts_with(b, j, end, _MEV):
        return 1.0e-3
    return -1.0


@numba.njit(**_HELPER)
def _to_gev(p4, n_p, k, scale, fix, n_fix0, n_fix):
    """Scale the momenta of the event just closed (``k`` particles from ``n_p``) to GeV; its
    numbers left to Python are scaled when converted."""
    if scale != 1.0:
        for p in range(n_p, n_p + k):
            for t in range(4):
                p4[p, t] *= scale
        for t in range(n_fix0, n_fix):
            fix[t, 3] = 1


# -- HepMC3 ----------------------------------------------------------------------------------

@numba.njit(**_HELPER)
def _vertex_list(b, j, end, vin, n_vin, mark, stamp):
    """Read "[1,2,...]" at ``j``: append the distinct positive ids to ``vin`` (``mark[id] ==
    stamp`` flags an id already in this list; ids beyond ``len(mark) - 1`` are returned as
    they are, for the caller to refuse). Returns (index after the list, -1 if malformed or -2 if
    ``vin`` is full; the new count; the largest id). Spaces and tabs may stand around the ids
    and commas, as HepMC3 3.3 reads them."""
    j = _blanks(b, j + 1, end)
    largest = 0
    if j < end and b[j] == 93:  # "[]"
        j += 1
    else:
        while True:
            j = _blanks(b, j, end)
            neg = False
            if j < end and b[j] == 45:
                neg = True
                j += 1
            s = j
            m = 0
            while j < end and 48 <= b[j] <= 57 and j - s < 10:
                m = m * 10 + (b[j] - 48)
                j += 1
            if j == s:
                return -1, n_vin, largest
            j = _blanks(b, j, end)
            if not neg and m > 0:  # HepMC3 ignores the others
                largest = max(largest, m)
                if m >= len(mark) or mark[m] != stamp:
                    if m < len(mark):
                        mark[m] = stamp
                    if n_vin >= len(vin):
                        return -2, n_vin, largest  # vin is full
                    vin[n_vin] = m
                    n_vin += 1
            if j < end and b[j] == 44:  # ,
                j += 1
                continue
            if j < end and b[j] == 93:  # ]
                j += 1
                break
            return -1, n_vin, largest
    if not _ends(b, j, end):
        return -1, n_vin, largest
    return j, n_vin, largest


@numba.njit(**_HELPER)
def _position(b, b64, j, end):
    """Optional " @ x y z t" (HepMC3: blanks as in :func:`_field`) then the end of the line:
    index past the line or -1."""
    at = _field(b, j, end, True)
    if at >= 0 and at < end and b[at] == 64:  # @
        j = at + 1
        for _ in range(4):
            _, _, j, _ = _value(b, b64, j, end, True)
            if j < 0:
                return -1
    return _line_done(b, j, end)


@numba.njit(**_HELPER)
def _particle3(b, b64, i, end, p4, g):
    """Fields of the HepMC3 particle line at ``i``: the momentum into ``p4[g]``; returns (index
    past the line or -1, id, mother, pid, status, bit mask of the momentum components left to
    Python). The generated mass is checked, not kept."""
    pid_in, j = _int(b, i + 1, end, True)
    mo, j = _int(b, j, end, True) if j >= 0 else (0, -1)
    pdg, j = _int(b, j, end, True) if j >= 0 else (0, -1)
    inexact = 0
    for t in range(4):
        if j < 0:
            return -1, 0, 0, 0, 0, 0
        v, _, j, exact = _value(b, b64, j, end, True)
        p4[g, t] = v
        if not exact:
            inexact |= 1 << t
    j = _check_number(b, b64, j, end, True) if j >= 0 else -1
    st, j = _int(b, j, end, True) if j >= 0 else (0, -1)
    j = _line_done(b, j, end) if j >= 0 else -1
    if abs(pdg) >= _INT32 or abs(st) >= _INT32:
        j = -1
    return j, pid_in, mo, pdg, st, inexact


@numba.njit(**_HELPER)
def _fix_fields(b, b64, i, end, first, mask, target, fix, n_fix):
    """Record the text spans of the fields ``first + t`` (t in ``mask``) of the line at ``i`` for
    Python to convert (targets ``target + t``)."""
    j = i + 1
    field = 0
    while field < first + 4:
        j = _skip(b, j, end)
        s = j
        while not _ends(b, j, end):
            j += 1
        t = field - first
        if t >= 0 and mask & (1 << t) and n_fix >= 0:
            n_fix = _add_fix(fix, n_fix, target + t, s, j)
        field += 1
    return n_fix


@numba.njit(**_HELPER)
def _finish3(k, np_decl, nv_decl, n_vlines, n_implied, scratch, n_fwd, n_later, n_p, n_par, parents, par_off,
             err, room):
    """Close a HepMC3 event: check the counts, resolve the links named before their particles,
    append the parents of its ``k`` particles. Returns (error code, 0, or -1 when ``parents`` is
    too small (``room`` says how big it must be); the new parent count)."""
    prod, endv, _, later, _, vin_start, vin_len, vdef, vin, fwd = scratch
    code = 0
    if k != np_decl:
        code = E_COUNT
    for t in range(n_fwd):
        m = fwd[t, 0]
        if code != 0:
            break
        if m > k:
            code = E_VIN_REF
            err[2] = fwd[t, 1]
            err[3] = m
        elif endv[m - 1] != 0:
            code = E_CONFLICT
            err[2] = m
        else:
            endv[m - 1] = fwd[t, 1]
    for t in range(n_later):
        if code != 0:
            break
        m = later[t, 1]
        if endv[m - 1] == 0:
            endv[m - 1] = m
            n_implied += 1
        prod[later[t, 0] - 1] = endv[m - 1]
    if code == 0 and n_vlines + n_implied != nv_decl:
        code = E_COUNT
    if code == E_COUNT:
        err[2] = np_decl
        err[3] = nv_decl
        err[4] = k
        err[5] = n_vlines + n_implied
    if code != 0:
        return code, n_par
    need = n_par
    for p in range(k):
        pc = prod[p]
        if pc > 0:
            need += 1
        elif pc < 0:
            slot = -pc - 1
            if slot >= nv_decl or slot >= len(vdef) or not vdef[slot]:
                err[2] = p + 1
                err[3] = pc
                return E_VERTEX_REF, n_par
            need += vin_len[slot]
    if need > len(parents):
        room[R_PARENTS] = need
        return -1, n_par
    for p in range(k):
        par_off[n_p + p] = n_par
        pc = prod[p]
        if pc > 0:
            parents[n_par] = n_p + pc - 1
            n_par += 1
        elif pc < 0:
            slot = -pc - 1
            for t in range(vin_start[slot], vin_start[slot] + vin_len[slot]):
                parents[n_par] = n_p + vin[t] - 1
                n_par += 1
    par_off[n_p + k] = n_par
    return 0, n_par


@numba.njit(cache=True, nogil=True)  # the gzip reader's thread inflates meanwhile
def parse_hepmc3(b, pos, end, final, max_events, state, acc, counts, scratch, err, room):
    """Parse up to ``max_events`` whole events of HepMC3 ASCII text from ``b[pos:end]``;
    ``final`` says what follows ``end`` (:data:`BOUNDARY` or :data:`LAST`).

    ``state`` (float64[6]): the momentum unit's scale to GeV (it persists from event to event,
    as in HepMC3), the number of weight names of the run (-1 if none), 1 to keep links to a
    parent particle further down the record (HepMC3 >= 3.3) or 0 to drop them (HepMC3 3.2, the
    pyhepmc reader), the number of vertex lists read so far, the scale to use whatever the file
    declares (0: as the file says) and the scale the file's last ``U`` line declared (0: none
    yet). ``acc``/``counts``: the accumulator arrays and fill counts, ``scratch`` the
    per-event work arrays (see :class:`Acc`); the event arrays must have room for
    ``max_events``. ``err`` (int64[7]) receives the error code, the byte offset of the line at
    fault, up to four numbers for the message and whether the text ended inside the event.

    No array is reallocated here (in the hot loop that would cost reference counting on every
    line): when one is too small the kernel stops at the start of the event with NEED_ROOM and
    the sizes it needs in ``room``.

    Returns (status, position, counts). The position is where the next call starts: the first
    line not consumed, or the start of the event that is incomplete, too big or at fault; the
    counts include only whole, good events.
    """
    # borrowed views (recast.kernels): the helpers called for every line, particle and number cost
    # no reference counting
    b = borrowed(b)
    b64 = b.view(np.uint64)  # the same bytes as words (b is padded: see padded())
    acc = (borrowed(acc[0]), borrowed(acc[1]), borrowed(acc[2]), borrowed(acc[3]), borrowed(acc[4]),
           borrowed(acc[5]), borrowed(acc[6]), borrowed(acc[7]), borrowed(acc[8]), borrowed(acc[9]))
    scratch = (borrowed(scratch[0]), borrowed(scratch[1]), borrowed(scratch[2]), borrowed(scratch[3]),
               borrowed(scratch[4]), borrowed(scratch[5]), borrowed(scratch[6]), borrowed(scratch[7]),
               borrowed(scratch[8]), borrowed(scratch[9]))
    err, room = borrowed(err), borrowed(room)
    ev_number, ev_weight, ev_xs, ev_poff, pid, status, p4, par_off, parents, fix = acc
    prod, endv, mark, later, _, vin_start, vin_len, vdef, vin, fwd = scratch
    n_ev, n_p, n_par, n_fix = counts[0], counts[1], counts[2], counts[3]
    scale = state[0]
    n_names = int(state[1])
    follow_forward = state[2] != 0.0
    stamp = np.int64(state[3])  # vertex lists read so far: marks in ``mark`` from earlier calls stay valid

    i = pos
    in_event = False
    ev_start = pos
    last_line = pos
    # counters passed to compiled helpers start as int64, not as the literal 0: numba would compile
    # each helper once more for the literal's type (seconds of a first run)
    zero = np.int64(0)
    k = zero  # particles read in the current event
    nv_decl = zero
    np_decl = zero
    n_vlines = zero
    n_implied = zero
    n_vin = zero
    n_fwd = zero
    n_later = zero
    n_fix0 = n_fix
    weights_done = False
    pv_seen = False
    out_status = 0
    out_pos = pos
    while True:
        at_end = i >= end
        c = 0 if at_end else b[i]
        if c == 10:
            i += 1
            continue
        if in_event:
            closes = at_end or c == 69 or c == 84 or (c == 87 and weights_done) or (c == 65 and pv_seen) \
                or (c == 72 and _starts_with(b, i, end, _HEPMC))
            if closes:
                code, n_par_new = _finish3(k, np_decl, nv_decl, n_vlines, n_implied, scratch, n_fwd, n_later,
                                           n_p, n_par, parents, par_off, err, room)
                if code == -1:
                    n_fix = n_fix0
                    out_status, out_pos = NEED_ROOM, ev_start
                    break
                if code != 0:
                    err[0] = code
                    err[1] = last_line if at_end else ev_start
                    err[6] = at_end and final == LAST
                    n_fix = n_fix0
                    out_status, out_pos = ERROR, ev_start
                    break
                n_par = n_par_new
                _to_gev(p4, n_p, k, scale, fix, n_fix0, n_fix)
                n_p += k
                n_ev += 1
                ev_poff[n_ev] = n_p
                n_fix0 = n_fix
                in_event = False
                if n_ev >= max_events:
                    out_status, out_pos = CHUNK_FULL, i
                    break
        if at_end:
            out_status, out_pos = (END if final == LAST else NEED_DATA), i
            break

        line = i
        last_line = i
        bad = 0
        if (c == 80 or c == 86 or c == 69) and (i + 1 >= end or b[i + 1] != 32):
            bad = E_MALFORMED  # P V E and a space, as HepMC3 3.3 requires
        elif (c == 80 or c == 86) and not in_event:
            bad = E_OUTSIDE
        elif c == 80:  # P id mother pid px py pz e m status
            pv_seen = True
            g = n_p + k
            if k >= np_decl or k >= len(prod) - 1 or g >= len(pid):  # more particles than declared
                bad = E_COUNT
                err[2] = np_decl
                err[3] = nv_decl
                err[4] = k + 1
                err[5] = n_vlines + n_implied
            else:
                j, pid_in, mo, pdg, st, inexact = _particle3(b, b64, i, end, p4, g)
                if j >= 0 and inexact:
                    n_fix = _fix_fields(b, b64, i, end, 3, inexact, 4 * g, fix, n_fix)
                    if n_fix < 0:
                        room[R_FIX] = len(fix) + 4
                        n_fix = n_fix0
                        out_status, out_pos = NEED_ROOM, ev_start
                        break
                if j < 0:
                    bad = E_MALFORMED
                elif pid_in != k + 1:
                    bad = E_PARTICLE_ID
                    err[2] = pid_in
                    err[3] = k + 1
                elif mo < -nv_decl:
                    bad = E_VERTEX_REF
                    err[2] = k + 1
                    err[3] = mo
                elif mo > np_decl or (mo == k + 1 and follow_forward):
                    bad = E_MOTHER
                    err[2] = k + 1
                    err[3] = mo
                else:
                    endv[k] = 0
                    if mo > k:  # a parent further down the record
                        prod[k] = 0  # HepMC3 3.2 drops the link; HepMC3 3.3 keeps it
                        if follow_forward:
                            later[n_later, 0] = k + 1
                            later[n_later, 1] = mo
                            n_later += 1
                    elif mo > 0:
                        if endv[mo - 1] == 0:  # a new implied vertex with this single parent
                            endv[mo - 1] = mo
                            n_implied += 1
                        prod[k] = endv[mo - 1]
                    else:
                        prod[k] = mo
                    pid[g] = pdg
                    status[g] = st
                    k += 1
                    i = j
        elif c == 86:  # V id status [in,...] @ x y z t
            pv_seen = True
            vid, j = _int(b, i + 1, end, True)
            _, j = _int(b, j, end, True) if j >= 0 else (0, -1)
            first = n_vin
            largest = 0
            bracket = _field(b, j, end, True) if j >= 0 else -1
            if bracket >= 0 and bracket < end and b[bracket] == 91:  # [
                stamp += 1
                j, n_vin, largest = _vertex_list(b, bracket, end, vin, n_vin, mark, stamp)
                if j == -2:
                    room[R_VIN] = len(vin) + 1
                    n_fix = n_fix0
                    out_status, out_pos = NEED_ROOM, ev_start
                    break
            else:
                j = -1  # HepMC3 requires the list of incoming particles, "[]" if there are none
            j = _position(b, b64, j, end) if j >= 0 else -1
            slot = -vid - 1
            if j < 0:
                bad = E_MALFORMED
            elif largest > np_decl:
                bad = E_VIN_REF
                err[2] = vid
                err[3] = largest
            elif slot < 0 or slot >= nv_decl or slot >= len(vdef):
                bad = E_VERTEX_ID
                err[2] = vid
                err[3] = nv_decl
            elif vdef[slot]:
                bad = E_VERTEX_DUP
                err[2] = vid
            else:
                vdef[slot] = True
                vin_start[slot] = first
                vin_len[slot] = n_vin - first
                n_vlines += 1
                for t in range(first, n_vin):
                    m = vin[t]
                    if m <= k:
                        if endv[m - 1] != 0:
                            bad = E_CONFLICT
                            err[2] = m
                            break
                        endv[m - 1] = vid
                    else:
                        if n_fwd >= len(fwd):
                            bad = -1
                            break
                        fwd[n_fwd, 0] = m
                        fwd[n_fwd, 1] = vid
                        n_fwd += 1
                if bad == -1:
                    room[R_FWD] = len(fwd) + 1
                    n_fix = n_fix0
                    out_status, out_pos = NEED_ROOM, ev_start
                    break
                i = j
        elif c == 69:  # E number vertices particles [@ x y z t]
            evn, j = _int(b, i + 1, end, True)
            nv, j = _int(b, j, end, True) if j >= 0 else (0, -1)
            npart, j = _int(b, j, end, True) if j >= 0 else (0, -1)
            j = _position(b, b64, j, end) if j >= 0 else -1
            # room for no more particles and vertices than the event's text can hold (a particle
            # line takes at least 20 bytes, a vertex one 7): a corrupt count asks for no more
            cap_p = min(npart, (end - line) // 16 + 1)
            cap_v = min(nv, (end - line) // 4 + 1)
            if j < 0 or nv < 0 or npart < 0:
                bad = E_MALFORMED
            elif n_p + cap_p > len(pid) or cap_p + 1 > len(prod) or cap_v > len(vdef):
                if n_p + cap_p > len(pid):
                    room[R_PART] = n_p + cap_p
                if cap_p + 1 > len(prod):
                    room[R_SPART] = cap_p + 1
                if cap_v > len(vdef):
                    room[R_SVERT] = cap_v
                out_status, out_pos = NEED_ROOM, line
                break
            else:
                in_event = True
                ev_start = line
                k = 0
                nv_decl = nv
                np_decl = npart
                n_vlines = 0
                n_implied = 0
                n_vin = 0
                n_fwd = 0
                n_later = 0
                weights_done = False
                pv_seen = False
                n_fix0 = n_fix
                vdef[:cap_v] = False
                ev_number[n_ev] = evn
                ev_weight[n_ev] = 1.0
                ev_xs[n_ev, 0] = np.nan
                ev_xs[n_ev, 1] = np.nan
                i = j
        elif c == 87 and in_event:  # W: the event's weights
            j = i + 1
            nw = 0
            while True:
                done = _line_done(b, j, end)  # nothing but blanks (a CR too) left on the line
                if done >= 0:
                    j = done
                    break
                v, s, j, exact = _value(b, b64, j, end, True)
                if j < 0:
                    break
                if nw == 0:
                    ev_weight[n_ev] = v
                    if not exact:
                        n_fix = _add_fix(fix, n_fix, -1 - n_ev, s, j)
                        if n_fix < 0:
                            break
                nw += 1
            if n_fix < 0:
                room[R_FIX] = len(fix) + 4
                n_fix = n_fix0
                out_status, out_pos = NEED_ROOM, ev_start
                break
            if j < 0:
                bad = E_MALFORMED
            elif n_names > 0 and nw != n_names:
                bad = E_WEIGHTS
                err[2] = nw
                err[3] = n_names
            else:
                weights_done = True
                i = j
        elif c == 87:  # W outside an event: the run's weight names
            # HepMC3 drops a CR inside a name ("n\rminal" is one name, as a trailing CR is no name):
            # only spaces and tabs separate names
            j = i + 1
            n_names = 0
            while True:
                j = _skip(b, j, end)
                if j >= end or b[j] == 10:
                    break
                n_names += 1
                while j < end and b[j] != 32 and b[j] != 9 and b[j] != 10:
                    j += 1
            i = j
        elif c == 85:  # U momentum-unit length-unit
            unit = _momentum_unit(b, i, end)
            if unit > 0:
                state[5] = unit  # the unit the file declares
                scale = unit if state[4] == 0.0 else state[4]  # unless the user overrides it
            else:
                bad = E_UNITS
            i = _eol(b, i, end)
        elif c == 65 and in_event:  # A id name value: the event's cross section
            aid, j = _int(b, i + 1, end, True)
            if j >= 0:
                j = _skip(b, j, end)
                s = j
                while not _ends(b, j, end):
                    j += 1
                if aid == 0 and j - s == len(_XSEC) and _starts_with(b, s, end, _XSEC):
                    xs, _, j1, _ = _value(b, b64, j, end, True)
                    if j1 >= 0:
                        xe, _, j2, _ = _value(b, b64, j1, end, True)
                        if j2 >= 0:
                            ev_xs[n_ev, 0] = xs
                            ev_xs[n_ev, 1] = xe
            i = _eol(b, i, end)
        else:  # headers, tool lines, run attributes, unknown lines: skipped, as HepMC3 does
            i = _eol(b, i, end)
        if bad != 0:
            err[0] = bad
            err[1] = line
            n_fix = n_fix0
            out_status, out_pos = ERROR, (ev_start if in_event else line)
            break
    state[0] = scale
    state[1] = n_names
    state[3] = stamp
    counts[0] = n_ev
    counts[1] = n_p
    counts[2] = n_par
    counts[3] = n_fix
    return out_status, out_pos


# -- HepMC2 ----------------------------------------------------------------------------------

@numba.njit(**_HELPER, inline="always")  # inlined: the counts are literals, each would compile it anew
def _ints(b, j, end, count):
    """Skip ``count`` integer fields: index after them or -1."""
    for _ in range(count):
        if j < 0:
            return -1
        _, j = _int(b, j, end, False)
    return j


@numba.njit(**_HELPER, inline="always")  # as _ints
def _floats(b, b64, j, end, count):
    for _ in range(count):
        if j < 0:
            return -1
        _, _, j, _ = _value(b, b64, j, end, False)
    return j


@numba.njit(**_HELPER)
def _hepmc2_links(k, n_v, vbc, prodv, endbc, orphan, status_ev):
    """End vertex (index) of every particle from its end-vertex barcode (the first vertex with
    that barcode; none if there is no such vertex, as in HepMC3), then the beam rule: a vertex
    without incoming particles takes its outgoing status-4 particles as incoming, and one left
    without any is removed (its outgoing particles lose their production vertex, ``prodv``).
    Returns the end vertices, which particles HepMC3 drops from the event, and the index of a
    removed vertex with a final-state particle among those (-1 if none)."""
    endv = np.full(k, -1, np.int64)
    direct = True  # barcodes -1, -2, ... in order: the usual case, no search needed
    for j in range(n_v):
        if vbc[j] != -(j + 1):
            direct = False
            break
    order = np.argsort(vbc[:n_v], kind="mergesort")
    sorted_bc = vbc[:n_v][order]
    for p in range(k):
        bc = endbc[p]
        if orphan[p]:  # an incoming particle of the vertex it is listed under
            endv[p] = prodv[p]
            prodv[p] = -1
            continue
        if bc == 0:
            continue
        if direct:
            if -n_v <= bc <= -1:
                endv[p] = -bc - 1
        else:
            t = np.searchsorted(sorted_bc, bc)
            if t < n_v and sorted_bc[t] == bc:
                endv[p] = order[t]
    n_in = np.zeros(n_v, np.int64)
    for p in range(k):
        if endv[p] >= 0:
            n_in[endv[p]] += 1
    for p in range(k):
        v = prodv[p]
        if v >= 0 and n_in[v] == 0 and status_ev[p] == 4 and endv[p] < 0:
            endv[p] = v
            prodv[p] = -1
    n_in[:] = 0
    n_out = np.zeros(n_v, np.int64)
    for p in range(k):
        if endv[p] >= 0:
            n_in[endv[p]] += 1
        if prodv[p] >= 0:
            n_out[prodv[p]] += 1
    # HepMC3 removes a vertex left without incoming particles (Sherpa writes such vertices for
    # its beam remnants, Pythia 6 for documentation lines): its outgoing particles stay in the
    # event without parents if they have an end vertex, from which HepMC3 reaches them; the
    # others (an end vertex without outgoing particles is removed too) are dropped from the
    # event. So are they here, but a final-state particle is refused rather than lost.
    dropped = np.zeros(k, np.bool_)
    for p in range(k):
        v = prodv[p]
        if v >= 0 and n_in[v] == 0:
            w = endv[p]
            if w < 0 or n_out[w] == 0:
                if status_ev[p] == 1:
                    return endv, dropped, v
                dropped[p] = True
            prodv[p] = -1
    return endv, dropped, -1


@numba.njit(**_HELPER)
def _finish2(k, n_v, vbc, prodv, endbc, orphan, status, n_p, n_par, parents, par_off, room, err):
    """Close a HepMC2 event: links from the end-vertex barcodes, then the parents of its ``k``
    particles; the particles HepMC3 drops get the status :data:`DROPPED`. Returns the new parent
    count, -1 when ``parents`` is too small (see ``room``), or -2 for a vertex without incoming
    particles with a final-state particle HepMC3 would drop (``err``)."""
    endv, dropped, orphaned = _hepmc2_links(k, n_v, vbc, prodv, endbc, orphan, status[n_p:n_p + k])
    if orphaned >= 0:
        err[0] = E_NO_INCOMING
        err[2] = vbc[orphaned]
        return -2
    n_in = np.zeros(n_v + 1, np.int64)  # incoming particles of each vertex, as CSR
    for p in range(k):
        if endv[p] >= 0:
            n_in[endv[p] + 1] += 1
    in_off = np.cumsum(n_in)
    incoming = np.zeros(in_off[n_v], np.int64)
    fill = in_off[:n_v].copy()
    for p in range(k):
        v = endv[p]
        if v >= 0:
            incoming[fill[v]] = p
            fill[v] += 1
    need = n_par
    for p in range(k):
        v = prodv[p]
        if v >= 0:
            need += in_off[v + 1] - in_off[v]
    if need > len(parents):
        room[R_PARENTS] = need
        return -1
    for p in range(k):
        par_off[n_p + p] = n_par
        v = prodv[p]
        if v >= 0:
            for t in range(in_off[v], in_off[v + 1]):
                parents[n_par] = n_p + incoming[t]
                n_par += 1
        if dropped[p]:  # neither parents nor children: the Python side removes it
            status[n_p + p] = DROPPED
    par_off[n_p + k] = n_par
    return n_par


@numba.njit(cache=True, nogil=True)  # the gzip reader's thread inflates meanwhile
def parse_hepmc2(b, pos, end, final, max_events, state, acc, counts, scratch, err, room):
    """Parse up to ``max_events`` whole events of HepMC2 IO_GenEvent text; the same interface
    as :func:`parse_hepmc3` (``state[1:4]`` unused). Particles keep the file's order."""
    # borrowed views (recast.kernels): the helpers called for every line, particle and number cost
    # no reference counting
    b = borrowed(b)
    b64 = b.view(np.uint64)  # the same bytes as words (b is padded: see padded())
    acc = (borrowed(acc[0]), borrowed(acc[1]), borrowed(acc[2]), borrowed(acc[3]), borrowed(acc[4]),
           borrowed(acc[5]), borrowed(acc[6]), borrowed(acc[7]), borrowed(acc[8]), borrowed(acc[9]))
    scratch = (borrowed(scratch[0]), borrowed(scratch[1]), borrowed(scratch[2]), borrowed(scratch[3]),
               borrowed(scratch[4]), borrowed(scratch[5]), borrowed(scratch[6]), borrowed(scratch[7]),
               borrowed(scratch[8]), borrowed(scratch[9]))
    err, room = borrowed(err), borrowed(room)
    ev_number, ev_weight, ev_xs, ev_poff, pid, status, p4, par_off, parents, fix = acc
    # production vertex (index in the event, or -1), end-vertex barcode, orphan flag per
    # particle; barcode per vertex
    prodv, endbc, _, _, orphan, vbc, _, _, _, _ = scratch
    n_ev, n_p, n_par, n_fix = counts[0], counts[1], counts[2], counts[3]
    scale = state[0]

    i = pos
    in_event = False
    ev_start = pos
    last_line = pos
    zero = np.int64(0)  # not the literal 0: see parse_hepmc3
    k = zero
    nv_decl = zero
    n_v = zero
    nout_cur = zero
    parsed_cur = zero
    n_fix0 = n_fix
    out_status = 0
    out_pos = pos
    while True:
        at_end = i >= end
        c = 0 if at_end else b[i]
        if c == 10:
            i += 1
            continue
        if in_event:
            closes = at_end or c == 69 or (c == 72 and _starts_with(b, i, end, _HEPMC))
            if closes:
                code = 0
                if n_v != nv_decl:
                    code = E_COUNT
                    err[2] = nv_decl
                    err[3] = n_v
                    err[4] = k
                elif n_v > 0 and parsed_cur < nout_cur:
                    code = E_VERTEX_OUT
                    err[2] = vbc[n_v - 1]
                    err[3] = nout_cur
                    err[4] = parsed_cur
                if code != 0:
                    err[0] = code
                    err[1] = last_line if at_end else ev_start
                    err[6] = at_end and final == LAST
                    n_fix = n_fix0
                    out_status, out_pos = ERROR, ev_start
                    break
                n_par_new = _finish2(k, n_v, vbc, prodv, endbc, orphan, status, n_p, n_par, parents, par_off, room,
                                     err)
                if n_par_new == -2:
                    err[1] = last_line if at_end else ev_start
                    n_fix = n_fix0
                    out_status, out_pos = ERROR, ev_start
                    break
                if n_par_new < 0:
                    n_fix = n_fix0
                    out_status, out_pos = NEED_ROOM, ev_start
                    break
                n_par = n_par_new
                _to_gev(p4, n_p, k, scale, fix, n_fix0, n_fix)
                n_p += k
                n_ev += 1
                ev_poff[n_ev] = n_p
                n_fix0 = n_fix
                in_event = False
                if n_ev >= max_events:
                    out_status, out_pos = CHUNK_FULL, i
                    break
        if at_end:
            out_status, out_pos = (END if final == LAST else NEED_DATA), i
            break

        line = i
        last_line = i
        bad = 0
        if (c == 80 or c == 86 or c == 69) and (i + 1 >= end or b[i + 1] != 32):
            bad = E_MALFORMED  # HepMC3 would misread the first field
        elif (c == 80 or c == 86) and not in_event:
            bad = E_OUTSIDE
        elif c == 80:  # P barcode pid px py pz e m status theta phi end-barcode nflow [flows]
            g = n_p + k
            if g >= len(pid) or k >= len(prodv):
                if g >= len(pid):
                    room[R_PART] = g + 1
                if k >= len(prodv):
                    room[R_SPART] = k + 1
                n_fix = n_fix0
                out_status, out_pos = NEED_ROOM, ev_start
                break
            _, j = _int(b, i + 1, end, False)
            pdg, j = _int(b, j, end, False) if j >= 0 else (0, -1)
            inexact = zero
            for t in range(4):
                if j < 0:
                    break
                v, s, j, exact = _value(b, b64, j, end, False)
                p4[g, t] = v
                if j >= 0 and not exact:
                    inexact |= 1 << t
            j = _floats(b, b64, j, end, 1)
            st, j = _int(b, j, end, False) if j >= 0 else (0, -1)
            j = _floats(b, b64, j, end, 2)
            ebc, j = _int(b, j, end, False) if j >= 0 else (0, -1)
            nflow, j = _int(b, j, end, False) if j >= 0 else (0, -1)
            if j >= 0 and 0 <= nflow < 1000:
                j = _ints(b, j, end, 2 * nflow)
            else:
                j = -1
            j = _line_done(b, j, end) if j >= 0 else -1
            if j >= 0 and inexact:
                n_fix = _fix_fields(b, b64, i, end, 2, inexact, 4 * g, fix, n_fix)
                if n_fix < 0:
                    room[R_FIX] = len(fix) + 4
                    n_fix = n_fix0
                    out_status, out_pos = NEED_ROOM, ev_start
                    break
            if j < 0 or abs(pdg) >= _INT32 or abs(st) >= _INT32:
                bad = E_MALFORMED
            elif n_v == 0:
                bad = E_NO_VERTEX
            else:
                prodv[k] = n_v - 1
                orphan[k] = ebc == vbc[n_v - 1]
                endbc[k] = ebc
                pid[g] = pdg
                status[g] = st
                k += 1
                parsed_cur += 1
                i = j
        elif c == 86:  # V barcode id x y z t orphans outgoing nweights [weights]
            if n_v > 0 and parsed_cur < nout_cur:
                bad = E_VERTEX_OUT
                err[2] = vbc[n_v - 1]
                err[3] = nout_cur
                err[4] = parsed_cur
            else:
                bc, j = _int(b, i + 1, end, False)
                j = _ints(b, j, end, 1)
                j = _floats(b, b64, j, end, 4)
                _, j = _int(b, j, end, False) if j >= 0 else (0, -1)
                nout, j = _int(b, j, end, False) if j >= 0 else (0, -1)
                nw, j = _int(b, j, end, False) if j >= 0 else (0, -1)
                if j >= 0 and 0 <= nw < 100000:
                    j = _floats(b, b64, j, end, nw)
                else:
                    j = -1
                j = _numbers_to_eol(b, b64, j, end, False) if j >= 0 else -1
                if j < 0 or nout < 0:
                    bad = E_MALFORMED
                elif n_v >= nv_decl or n_v >= len(vbc):
                    bad = E_COUNT
                    err[2] = nv_decl
                    err[3] = n_v + 1
                    err[4] = k
                else:
                    vbc[n_v] = bc  # room for the declared vertices was made at the event line
                    n_v += 1
                    nout_cur = nout
                    parsed_cur = 0
                    i = j
        elif c == 69:  # E number mpi scale aQCD aQED process vertex nvertices beam1 beam2 nrandom [..] nweights [..]
            evn, j = _int(b, i + 1, end, False)
            j = _ints(b, j, end, 1)
            j = _floats(b, b64, j, end, 3)
            j = _ints(b, j, end, 2)
            nv, j = _int(b, j, end, False) if j >= 0 else (0, -1)
            j = _ints(b, j, end, 2)
            nr, j = _int(b, j, end, False) if j >= 0 else (0, -1)
            if j >= 0 and 0 <= nr < 100000:
                j = _ints(b, j, end, nr)
            else:
                j = -1
            nw, j = _int(b, j, end, False) if j >= 0 else (0, -1)
            w0 = 1.0
            w0_exact = True
            w0_s = zero
            w0_e = zero
            if j >= 0 and 0 <= nw < 100000:
                for t in range(nw):
                    v, s, j, exact = _value(b, b64, j, end, False)
                    if j < 0:
                        break
                    if t == 0:
                        w0, w0_exact, w0_s, w0_e = v, exact, s, j
            else:
                j = -1
            j = _numbers_to_eol(b, b64, j, end, False) if j >= 0 else -1
            cap_v = min(nv, (end - line) // 16 + 1)  # a vertex line takes at least 21 bytes
            if j < 0 or nv < 0:
                bad = E_MALFORMED
            elif cap_v > len(vbc) or n_fix + 1 > len(fix):
                if cap_v > len(vbc):
                    room[R_SVERT] = cap_v
                room[R_FIX] = n_fix + 1
                out_status, out_pos = NEED_ROOM, line
                break
            else:
                in_event = True
                ev_start = line
                k = 0
                nv_decl = nv
                n_v = 0
                nout_cur = 0
                parsed_cur = 0
                n_fix0 = n_fix
                ev_number[n_ev] = evn
                ev_weight[n_ev] = w0
                if not w0_exact:
                    n_fix = _add_fix(fix, n_fix, -1 - n_ev, w0_s, w0_e)
                ev_xs[n_ev, 0] = np.nan
                ev_xs[n_ev, 1] = np.nan
                i = j
        elif c == 85:  # U momentum-unit length-unit
            unit = _momentum_unit(b, i, end)
            if unit > 0:
                state[5] = unit  # the unit the file declares
                scale = unit if state[4] == 0.0 else state[4]  # unless the user overrides it
            else:
                bad = E_UNITS
            i = _eol(b, i, end)
        elif c == 67 and in_event:  # C cross-section error (pb)
            xs, _, j1, _ = _value(b, b64, i + 1, end, False)
            if j1 >= 0:
                xe, _, j2, _ = _value(b, b64, j1, end, False)
                if j2 >= 0:
                    ev_xs[n_ev, 0] = xs
                    ev_xs[n_ev, 1] = xe
            i = _eol(b, i, end)
        else:  # N (weight names), H, F, headers, unknown lines: skipped
            i = _eol(b, i, end)
        if bad != 0:
            err[0] = bad
            err[1] = line
            n_fix = n_fix0
            out_status, out_pos = ERROR, (ev_start if in_event else line)
            break
    state[0] = scale
    counts[0] = n_ev
    counts[1] = n_p
    counts[2] = n_par
    counts[3] = n_fix
    return out_status, out_pos
