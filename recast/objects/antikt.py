"""Anti-kt clustering of many events in one numba kernel, giving jets identical (``==``, not close)
to fastjet 3.5.2's ``antikt_algorithm`` with the E-scheme.

What fastjet computes, and this kernel computes the same way (read from fastjet's PseudoJet.cc,
ClusterSequence.hh/.cc and ClusterSequence_N2.icc):

* a pseudojet's ``kt2 = px*px + py*py``; its azimuth ``atan2(py, px)`` moved into [0, 2 pi) (0 when
  kt2 == 0); its rapidity ``0.5*log((kt2 + max(0, m2))/(E + |pz|)^2)``, negated when pz > 0, with
  ``m2 = (E + pz)*(E - pz) - kt2``; a pseudojet with kt2 == 0 and E == |pz| gets the rapidity
  ``+-(1e5 + |pz|)`` (fastjet's MaxRap: distinct zero-pT momenta keep distinct rapidities);
* the anti-kt scale ``1/kt2``, or 1e300 when kt2 <= 1e-300;
* the distance ``dphi*dphi + drap*drap`` with ``dphi = |phi_a - phi_b|`` folded at pi;
* each jet's nearest neighbour (NN): the nearest other jet strictly closer than R^2, none if there
  is none; its ``diJ = NN_dist * min(scale, scale of the NN)``, or ``R^2 * scale`` without a NN;
* each step takes the smallest diJ: the jet merges with its NN (E-scheme: the sums of px, py,
  pz, E; rapidity and azimuth computed again from them), or, without a NN, becomes a jet
  (fastjet's beam recombination; diJ_min/R^2 is its dij, which nothing here needs);
* ``inclusive_jets(ptmin)`` keeps the jets with kt2 >= ptmin^2, the last jet made first; the
  multi-event interface lists each jet's constituents by increasing input index.

Since each step's choice is the smallest of values computed the same way, any exact NN algorithm
gives fastjet's merges. This one keeps each jet in a tile (a cell at least R wide in rapidity and
azimuth), so that a NN is in the 3 x 3 tiles around a jet; the tiles of a row are stored one after
the other (free places hold NaN, which no comparison accepts), and a search takes the jet's own
tile, then only the rows and columns that can hold a nearer jet. Each jet knows the jets whose NN
it is, so a merge finds the jets that lose their NN directly; every other jet is at least as far
from such a jet as its old NN was (NN distances only come down when a nearer jet appears), so the
merged jet, when strictly nearer than that, is its new NN without a search. The merged jet's
neighbourhood gives its own NN and the jets to which it is nearer than theirs. The smallest diJ
comes from blocks of list positions, each with its smallest, refreshed when one of its values
changed.

Exact ties (equal distances or diJ) only occur for degenerate inputs (identical particles,
isolated particles of exactly equal pT, several zero-pT particles). They are broken as fastjet's
N2Plain strategy breaks them, which fastjet's default strategy choice uses for small events
(N <= 30, or N <= 39/(R + 0.6)): each jet has a position in a list (first the inputs in order; a
merged jet takes the lower position of its two parents, and the last jet of the list moves into
the position freed by a merge or a jet made), the smallest diJ is the first in list order, a
recomputed NN is the first of the nearest in list order, and a NN found while updating after a
merge replaces the current one only when strictly nearer. For larger events fastjet uses tiled
strategies (N2Tiled, N2MinHeapTiled, N2MHTLazy9), whose ties follow their tile lists and heap,
and this kernel does not follow them: with such ties the jets can come out in another order or,
when a NN tie changes a merge, differ. Real momenta make ties measure-zero.

A first run after installing compiles this kernel in a child process (:func:`compile_in_background`,
started by ``recast run`` beside the HepMC reader's); until the child is done, :func:`cluster` asks
fastjet's multi-event interface for the same arrays (:func:`_with_fastjet`) instead of stalling
the run for the compile.

Floating point: the kernel uses no fused multiply-add (numba's default) and the C library's
``log``, ``atan2`` and ``hypot``, as the fastjet wheel built for x86-64 does. A fastjet built
with contraction into FMA (e.g. gcc's default on aarch64) can differ in the last bit of a
distance, hence in the rare merges that a bit decides.
"""

from __future__ import annotations

import contextlib
import math
from typing import NamedTuple

import numba
import numpy as np

from .. import kernels
from ..kernels import borrowed

MAX_RAP = 1e5
"""fastjet's MaxRap: the rapidity magnitude (plus |pz|) given to a zero-pT, massless pseudojet."""
_TWO_PI = 2.0 * math.pi  # the double nearest fastjet's twopi (doubling pi is exact)
_TILE_MARGIN = 1.0 + 1e-6
"""Tile sides are at least R times this: rounding in a distance or a tile index can never put two
jets closer than R more than one tile apart."""
_TILE_RAP_MAX = 10.0
"""The tiles cover rapidities within +-this at most (jets beyond are in the edge tiles): a few
very forward particles do not spread the tiles thin. Changes the speed, never the result."""
_MAX_TILES_PER_JET = 4
"""At most this many tiles per input (plus a few): small R on a small event makes tiles larger
than R instead of many empty ones. Changes the speed, never the result."""
_TILE_SLACK = 2
"""Room for this many more jets in each tile than it holds when laid out (a merged jet may move
into another tile); a full tile has the tiles laid out again. The free places hold NaN, which
no comparison accepts, so that the tiles of a row are searched as one range."""
_BLOCK = 8
"""The list positions are in blocks of this many, each with its smallest diJ (refreshed when one
of its values changed); the smallest of all is the first smallest of the blocks'."""
_NO_JET = -1

# work arrays (records: each field costs the compiler about half what a column of a 2-D array does)
_JET = np.dtype([("px", np.float64), ("py", np.float64), ("pz", np.float64), ("e", np.float64),
                 ("rap", np.float64), ("phi", np.float64), ("scale", np.float64), ("nn_dist", np.float64),
                 ("nn", np.int64), ("first_of", np.int64), ("next_of", np.int64), ("prev_of", np.int64),
                 ("pos", np.int64), ("tile", np.int64), ("where", np.int64), ("first", np.int64),
                 ("last", np.int64), ("next_constituent", np.int64)], align=True)
"""A jet being clustered: its four-momentum, rapidity, azimuth, anti-kt scale; ``nn`` its NN (or
_NO_JET) at ``nn_dist``; ``first_of`` the first of the jets whose NN it is, ``next_of`` and
``prev_of`` chaining those; ``pos`` its list position; ``tile`` and ``where`` its tile and place
in the tile store (_NO_JET while out of it); ``first`` and ``last`` its first and last constituent,
which ``next_constituent`` chains (by input index)."""
_STORED = np.dtype([("rap", np.float64), ("phi", np.float64), ("nn_dist", np.float64), ("id", np.int64)],
                   align=True)
"""A place in the tile store: the jet's rapidity, azimuth, NN distance and index (NaN and _NO_JET
when free)."""
_ROW = np.dtype([("lo", np.float64), ("hi", np.float64)], align=True)
"""A row of tiles: its rapidity range (the edge rows reach to infinity)."""
_BLOCK_MIN = np.dtype([("value", np.float64), ("pos", np.int64), ("stale", np.bool_)], align=True)
"""A block of list positions: its smallest diJ and where, or stale (to be refreshed)."""
_MADE = np.dtype([("px", np.float64), ("py", np.float64), ("pz", np.float64), ("e", np.float64),
                  ("first", np.int64)], align=True)
"""A jet made (fastjet: merged with the beam): four-momentum and first constituent."""


class AntiKtJets(NamedTuple):
    """Jets of many events as flat arrays.

    ``px py pz E``: the jets' four-momenta, event after event; ``counts``: jets per event;
    ``constituent_offsets`` (one more than jets) and ``constituents``: jet k's constituents are
    ``constituents[constituent_offsets[k]:constituent_offsets[k + 1]]``, indices into its event's
    inputs, increasing.
    """

    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    E: np.ndarray
    counts: np.ndarray
    constituent_offsets: np.ndarray
    constituents: np.ndarray


def cluster(px: np.ndarray, py: np.ndarray, pz: np.ndarray, E: np.ndarray, offsets: np.ndarray,
            radius: float, pt_min: float, *, by_pt: bool = True) -> AntiKtJets:
    """Anti-kt jets (radius ``radius``, E-scheme) of the events whose inputs are
    ``px[offsets[i]:offsets[i + 1]]`` (and ``py``, ``pz``, ``E``), with pT >= ``pt_min`` GeV,
    as fastjet's ``inclusive_jets(pt_min)``.

    ``by_pt``: each event's jets by decreasing pT (``hypot(px, py)``; equal pT in fastjet's
    order, as a stable sort); else in fastjet's ``inclusive_jets`` order (the last jet made first).
    """
    if not 0.0 < radius <= 1000.0:  # fastjet's JetDefinition::max_allowable_R
        raise ValueError(f"anti-kt radius must be in (0, 1000], not {radius}")
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (px, py, pz, E)]
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if len(offsets) == 0 or offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != len(arrays[0]) \
            or any(len(a) != len(arrays[0]) for a in arrays):
        raise ValueError("offsets must start at 0, not decrease and end at the number of inputs")
    if _compiling_elsewhere():
        return _with_fastjet(*arrays, offsets, float(radius), float(pt_min), bool(by_pt))
    return _as_jets(*_cluster_events(*arrays, offsets, float(radius), float(pt_min), bool(by_pt),
                                     *_work_space(offsets, _TILE_SLACK)))


# --- a first run: the kernel compiles in a child process, fastjet stands in -----------------------

_compiling: kernels.BackgroundCompile | None = None


def compile_in_background() -> None:
    """If the kernel is not in numba's cache, start compiling it in a child process (a first run
    after installing: while the reader's kernel compiles in another and the models load); until
    the child is done, :func:`cluster` asks fastjet, whose jets are the same (the kernel's tests
    compare them with ``==``), instead of compiling the kernel here. Never fails: anything wrong
    only means that the kernel compiles here at its first use, as without this."""
    global _compiling
    try:
        if _compiling is None and kernels.is_cached(_cluster_events, _made_up_arguments()) is False:
            _compiling = kernels.BackgroundCompile(__name__, "_compile_kernel")
    except OSError:
        return


def _compiling_elsewhere() -> bool:
    """Whether the kernel is still compiling in :func:`compile_in_background`'s child."""
    global _compiling
    if _compiling is None:
        return False
    if _compiling.poll() is None:
        return True
    _compiling = None  # done (loaded from the cache at the next call), or failed (compiled here then)
    return False


def _made_up_arguments() -> tuple:
    """Arguments of the types :func:`cluster` passes the kernel: two particles of one event."""
    offsets = np.array([0, 2], np.int64)
    four = [np.array([10.0, -10.0]), np.array([0.0, 5.0]), np.array([1.0, -2.0]), np.array([12.0, 12.0])]
    return (*four, offsets, 0.4, 20.0, True, *_work_space(offsets, _TILE_SLACK))


def _compile_kernel() -> None:
    """The work of :func:`compile_in_background`'s child."""
    _cluster_events(*_made_up_arguments())


_banner_shown = False


def _with_fastjet(px, py, pz, e, offsets, radius: float, pt_min: float, by_pt: bool) -> AntiKtJets:
    """The kernel's jets from fastjet's multi-event interface: the same jets, in the same order,
    with the same constituents (fastjet's banner kept off stdout)."""
    global _banner_shown
    import awkward as ak
    import fastjet

    from ..events._capture import captured_stdout

    if len(offsets) == 1:  # no events
        empty = np.zeros(0)
        return AntiKtJets(empty, empty, empty, empty, np.zeros(0, np.int64), np.zeros(1, np.int64),
                          np.zeros(0, np.int64))
    inputs = ak.unflatten(ak.zip({"px": px, "py": py, "pz": pz, "E": e}), np.diff(offsets))
    jet_definition = fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    with captured_stdout() if not _banner_shown else contextlib.nullcontext():
        sequence = fastjet.ClusterSequence(inputs, jet_definition)
        jets = sequence.inclusive_jets(min_pt=pt_min)
    _banner_shown = True
    index = sequence.constituent_index(min_pt=pt_min)
    if by_pt:
        order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False, stable=True)
        jets, index = jets[order], index[order]
    per_jet = ak.sort(ak.flatten(index, axis=1), axis=1)
    constituent_offsets = np.zeros(len(per_jet) + 1, np.int64)
    np.cumsum(ak.to_numpy(ak.num(per_jet, axis=1)), out=constituent_offsets[1:])
    return AntiKtJets(*(np.ascontiguousarray(ak.to_numpy(ak.flatten(jets[c])), dtype=np.float64)
                        for c in ("px", "py", "pz", "E")),
                      ak.to_numpy(ak.num(jets, axis=1)).astype(np.int64), constituent_offsets,
                      ak.to_numpy(ak.flatten(per_jet)).astype(np.int64))


def _work_space(offsets: np.ndarray, slack: int) -> tuple:
    """The kernel's work arrays for events of at most max(diff(offsets)) inputs (allocated
    here: numba takes seconds to compile the allocation of record arrays)."""
    n_max = int(np.max(np.diff(offsets), initial=0))
    max_tiles = _MAX_TILES_PER_JET * n_max + 16
    n_blocks = (n_max + _BLOCK - 1) // _BLOCK
    return (slack, np.empty(n_max, _JET), np.empty(n_max + slack * max_tiles + 1, _STORED),
            np.empty(max_tiles, _ROW), np.zeros(n_blocks, _BLOCK_MIN), np.empty(n_max, _MADE))


def _as_jets(px, py, pz, e, counts, constituent_offsets, constituents, n_jets, n_constituents) -> AntiKtJets:
    """The kernel's output arrays cut to their used lengths."""
    return AntiKtJets(px[:n_jets], py[:n_jets], pz[:n_jets], e[:n_jets], counts, constituent_offsets[:n_jets + 1],
                      constituents[:n_constituents])


# --- pseudojets -----------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model="numpy")
def _rap_phi(px, py, pz, e, kt2):
    """fastjet's PseudoJet::_set_rap_phi."""
    phi = 0.0 if kt2 == 0.0 else math.atan2(py, px)
    if phi < 0.0:
        phi += _TWO_PI
    if phi >= _TWO_PI:
        phi -= _TWO_PI
    if e == abs(pz) and kt2 == 0.0:
        rap = MAX_RAP + abs(pz)
        if not pz >= 0.0:
            rap = -rap
    else:
        m2 = (e + pz) * (e - pz) - kt2
        effective_m2 = m2 if 0.0 < m2 else 0.0  # std::max(0.0, m2), NaN included
        e_plus_pz = e + abs(pz)
        rap = 0.5 * math.log((kt2 + effective_m2) / (e_plus_pz * e_plus_pz))
        if pz > 0.0:
            rap = -rap
    return rap, phi


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _set_momentum(j, px, py, pz, e):
    """Jet j's four-momentum, and with it (as fastjet) its rapidity, azimuth and anti-kt scale
    (fastjet's jet_scale_for_algorithm: 1/kt2, or 1e300 when kt2 <= 1e-300)."""
    j.px, j.py, j.pz, j.e = px, py, pz, e
    kt2 = px * px + py * py
    j.rap, j.phi = _rap_phi(px, py, pz, e, kt2)
    j.scale = 1.0 / kt2 if kt2 > 1e-300 else 1e300


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _distance(rap_a, phi_a, rap_b, phi_b):
    """fastjet's _bj_dist: dphi folded at pi (``2 pi - dphi`` is below dphi exactly when
    dphi > pi, so the smaller of the two is fastjet's value)."""
    dphi = abs(phi_a - phi_b)
    folded = _TWO_PI - dphi
    if folded < dphi:
        dphi = folded
    drap = rap_a - rap_b
    return dphi * dphi + drap * drap


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _dij(i, jets):
    """fastjet's _bj_diJ: NN distance times the smaller scale of the jet and its NN."""
    s = jets[i].scale
    j = jets[i].nn
    if j != _NO_JET and jets[j].scale < s:
        s = jets[j].scale
    return jets[i].nn_dist * s


# --- tiles ------------------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model="numpy")
def _tile_of(rap, phi, rap_lo, inv_rap_size, n_rap, inv_phi_size, n_phi):
    """Tile index (rapidity row * n_phi + azimuth column); beyond the edges (and NaN) in the
    edge tiles."""
    t = (rap - rap_lo) * inv_rap_size
    row = 0
    if t >= n_rap - 1:
        row = n_rap - 1
    elif t > 0.0:
        row = int(t)
    u = phi * inv_phi_size
    col = 0
    if u >= n_phi - 1:
        col = n_phi - 1
    elif u > 0.0:
        col = int(u)
    return row * n_phi + col


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _gap2(gap, rap):
    """A rapidity or azimuth gap to a tile, shortened by far more than the rounding of a
    distance or of a tile index (so that a jet at exactly the current best distance, which may
    win a tie, is never left out), squared; 0 when negative or NaN."""
    gap -= 1e-9 * (1.0 + abs(rap))
    return gap * gap if gap > 0.0 else 0.0


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _around(y, f, t, n_rap, n_phi, rows):
    """For (y, f) in tile t: its row and column, and the squared gaps to the rows below and
    above and to the columns left and right (as _gap2)."""
    row = t // n_phi
    col = t - row * n_phi
    phi_size = _TWO_PI / n_phi
    below = _gap2(y - rows[row - 1].hi, y) if row > 0 else np.inf
    above = _gap2(rows[row + 1].lo - y, y) if row + 1 < n_rap else np.inf
    left = _gap2(f - col * phi_size, 0.0) if n_phi >= 3 else 0.0
    right = _gap2((col + 1) * phi_size - f, 0.0) if n_phi >= 3 else 0.0
    return row, col, below, above, left, right


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _nearest_in(i, y, f, lo, hi, best, best_j, jets, store):
    """(best, best_j) updated with the stored jets lo..hi-1 other than i: the nearest, the first
    in list order of equally near ones."""
    for s in range(lo, hi):
        d = _distance(y, f, store[s].rap, store[s].phi)
        if d <= best:
            j = store[s].id
            if j != i and (d < best or (best_j != _NO_JET and jets[j].pos < jets[best_j].pos)):
                best = d
                best_j = j
    return best, best_j


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _nearest(i, best, best_j, jets, store, start, n_rap, n_phi, rows):
    """Jet i's NN and their squared distance, given a candidate ``best_j`` at ``best`` (R^2 and
    _NO_JET for none: then the NN is _NO_JET at R^2 unless a jet is strictly nearer than R): of
    equally near jets, the first in list order. Searches jet i's tile, then the tiles around it
    that can hold a jet as near as the nearest found."""
    y = jets[i].rap
    f = jets[i].phi
    own = jets[i].tile
    best, best_j = _nearest_in(i, y, f, start[own], start[own + 1], best, best_j, jets, store)
    row, col, below, above, left, right = _around(y, f, own, n_rap, n_phi, rows)
    for r in range(max(row - 1, 0), min(row + 2, n_rap)):
        gap2 = 0.0 if r == row else (below if r < row else above)
        if gap2 > best:
            continue
        base = r * n_phi
        if n_phi < 3:
            for c in range(n_phi):
                if base + c != own:
                    best, best_j = _nearest_in(i, y, f, start[base + c], start[base + c + 1], best, best_j, jets,
                                               store)
            continue
        first = col - 1 if gap2 + left <= best else col
        last = col + 1 if gap2 + right <= best else col
        if first < 0:
            best, best_j = _nearest_in(i, y, f, start[base + n_phi - 1], start[base + n_phi], best, best_j, jets,
                                       store)
            first = 0
        if last >= n_phi:
            best, best_j = _nearest_in(i, y, f, start[base], start[base + 1], best, best_j, jets, store)
            last = n_phi - 1
        if r == row:  # the own tile is done
            if first < col:
                best, best_j = _nearest_in(i, y, f, start[base + first], start[base + col], best, best_j, jets,
                                           store)
            if last > col:
                best, best_j = _nearest_in(i, y, f, start[base + col + 1], start[base + last + 1], best, best_j,
                                           jets, store)
        else:
            best, best_j = _nearest_in(i, y, f, start[base + first], start[base + last + 1], best, best_j, jets,
                                       store)
    return best_j, best


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _store(i, s, jets, store):
    store[s].rap = jets[i].rap
    store[s].phi = jets[i].phi
    store[s].nn_dist = jets[i].nn_dist
    store[s].id = i
    jets[i].where = s


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _lay_out(count, start, n_tiles, slack, needy, jets, store, at_pos, n_active):
    """Place the tiles one after the other, each with room for ``slack`` more jets than it holds
    (tile ``needy``: one more), and store the active jets that are in the store
    (``where`` != _NO_JET) in them."""
    top = 0
    for t in range(n_tiles):
        start[t] = top
        top += count[t] + slack + (1 if t == needy else 0)
        count[t] = 0
    start[n_tiles] = top
    for s in range(top):
        store[s].rap = np.nan
        store[s].phi = np.nan
        store[s].nn_dist = np.nan
        store[s].id = _NO_JET
    for p in range(n_active):
        i = at_pos[p]
        if jets[i].where != _NO_JET:
            t = jets[i].tile
            _store(i, start[t] + count[t], jets, store)
            count[t] += 1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _store_add(i, t, count, start, n_tiles, slack, jets, store, at_pos, n_active):
    """Put jet i (out of the store) into tile t."""
    if start[t] + count[t] == start[t + 1]:
        _lay_out(count, start, n_tiles, slack, t, jets, store, at_pos, n_active)
    jets[i].tile = t
    _store(i, start[t] + count[t], jets, store)
    count[t] += 1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _store_remove(i, count, start, jets, store):
    """Take jet i out of its tile (the tile's last jet takes its place, NaN takes the last's)."""
    t = jets[i].tile
    s = jets[i].where
    last = start[t] + count[t] - 1
    if s != last:
        j = store[last].id
        _store(j, s, jets, store)
    store[last].rap = np.nan
    store[last].phi = np.nan
    store[last].nn_dist = np.nan
    store[last].id = _NO_JET
    count[t] -= 1
    jets[i].where = _NO_JET


# --- nearest neighbours -----------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model="numpy")
def _set_nn(i, j, d, jets, store):
    """Make j (or _NO_JET) jet i's NN at squared distance d, moving i from the list of the jets
    whose NN was its old NN to j's."""
    jets[i].nn_dist = d
    w = jets[i].where
    if w != _NO_JET:
        store[w].nn_dist = d
    old = jets[i].nn
    if old == j:
        return
    if old != _NO_JET:
        p, q = jets[i].prev_of, jets[i].next_of
        if p == _NO_JET:
            jets[old].first_of = q
        else:
            jets[p].next_of = q
        if q != _NO_JET:
            jets[q].prev_of = p
    jets[i].nn = j
    if j != _NO_JET:
        q = jets[j].first_of
        jets[i].next_of = q
        jets[i].prev_of = _NO_JET
        if q != _NO_JET:
            jets[q].prev_of = i
        jets[j].first_of = i


# --- the smallest diJ -----------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model="numpy")
def _mark_stale(p, blocks, stale, n_stale):
    """Position p's value changed: its block's smallest needs a refresh. Returns n_stale."""
    b = p // _BLOCK
    if not blocks[b].stale:
        blocks[b].stale = True
        stale[n_stale] = b
        n_stale += 1
    return n_stale


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _smallest(value, n_active, blocks, stale, n_stale):
    """The position of the smallest value among the first n_active, the first one when equal
    (fastjet's linear scan), after refreshing the stale blocks."""
    for k in range(n_stale):
        b = stale[k]
        lo = b * _BLOCK
        best = value[lo]
        best_p = lo
        for p in range(lo + 1, lo + _BLOCK):
            if value[p] < best:
                best = value[p]
                best_p = p
        blocks[b].value = best
        blocks[b].pos = best_p
        blocks[b].stale = False
    best = blocks[0].value
    best_p = blocks[0].pos
    for b in range(1, (n_active + _BLOCK - 1) // _BLOCK):
        if blocks[b].value < best:
            best = blocks[b].value
            best_p = blocks[b].pos
    return best_p


# --- one event ------------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model="numpy")
def _cluster_event(px, py, pz, e, r, r2, slack, jets, at_pos, value, lost, blocks, stale, store, count, start,
                   rows, made):
    """Cluster one event (n = len(px) > 0); fills ``made`` with the jets in the order they were
    made (their constituents: ``first`` and its ``next_constituent`` chain in ``jets``), and
    returns how many were made. Every other array is work space (see _cluster_events for the
    sizes)."""
    n = len(px)
    nobody = np.int64(_NO_JET)  # not a literal: one compiled version of the helpers it is passed to
    # pseudojets, and the tiles' extent
    rap_lo = _TILE_RAP_MAX
    rap_hi = -_TILE_RAP_MAX
    for i in range(n):
        j = jets[i]
        _set_momentum(j, px[i], py[i], pz[i], e[i])
        rap_lo = min(rap_lo, j.rap)
        rap_hi = max(rap_hi, j.rap)
        j.nn_dist = r2
        j.nn = _NO_JET
        j.first_of = _NO_JET
        j.pos = i
        j.first = i
        j.last = i
        j.next_constituent = _NO_JET
        j.where = 0  # to be stored
        at_pos[i] = i
    rap_lo = max(rap_lo, -_TILE_RAP_MAX)
    rap_hi = min(rap_hi, _TILE_RAP_MAX)
    side = r * _TILE_MARGIN
    max_tiles = _MAX_TILES_PER_JET * n + 16
    n_phi = max(1, min(int(_TWO_PI / side), max_tiles))
    n_rap = 1
    if rap_hi > rap_lo:
        n_rap = max(1, min(int((rap_hi - rap_lo) / side), max(1, max_tiles // n_phi)))
    rap_size = (rap_hi - rap_lo) / n_rap
    inv_rap_size = 1.0 / rap_size if n_rap > 1 else 0.0
    for k in range(n_rap):
        rows[k].lo = rap_lo + k * rap_size if k > 0 else -np.inf
        rows[k].hi = rap_lo + (k + 1) * rap_size if k < n_rap - 1 else np.inf
    inv_phi_size = n_phi / _TWO_PI
    n_tiles = n_rap * n_phi
    count[:n_tiles] = 0
    for i in range(n):
        t = _tile_of(jets[i].rap, jets[i].phi, rap_lo, inv_rap_size, n_rap, inv_phi_size, n_phi)
        jets[i].tile = t
        count[t] += 1
    _lay_out(count, start, n_tiles, slack, nobody, jets, store, at_pos, n)
    for i in range(n):
        j, d = _nearest(i, r2, nobody, jets, store, start, n_rap, n_phi, rows)
        _set_nn(i, j, d, jets, store)

    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for p in range(n_blocks * _BLOCK):
        value[p] = _dij(p, jets) if p < n else np.inf
    blocks.stale[:] = False  # the last step of the previous event may have left some
    n_stale = np.int64(0)
    for p in range(0, n, _BLOCK):
        n_stale = _mark_stale(p, blocks, stale, n_stale)

    n_made = 0
    n_active = n
    while n_active > 0:
        a = at_pos[_smallest(value, n_active, blocks, stale, n_stale)]
        n_stale = np.int64(0)
        b = jets[a].nn
        if b == _NO_JET:
            keep, gone = a, a
        elif jets[a].pos < jets[b].pos:
            keep, gone = a, b
        else:
            keep, gone = b, a
        # the last jet of the list moves into the position freed by a, or by the merge's leaving jet
        tail = n_active - 1
        freed = jets[gone].pos
        moved = at_pos[tail]
        at_pos[freed] = moved
        jets[moved].pos = freed
        value[freed] = value[tail]
        value[tail] = np.inf
        n_stale = _mark_stale(freed, blocks, stale, n_stale)
        n_stale = _mark_stale(tail, blocks, stale, n_stale)
        n_active -= 1
        _store_remove(gone, count, start, jets, store)
        if b == _NO_JET:
            # a is a jet; no jet has a as its NN (it would be a NN of a)
            made[n_made].px = jets[a].px
            made[n_made].py = jets[a].py
            made[n_made].pz = jets[a].pz
            made[n_made].e = jets[a].e
            made[n_made].first = jets[a].first
            n_made += 1
            continue

        # merge into keep (the lower list position); the jets whose NN was keep or gone are lost
        n_lost = 0
        for owner in (keep, gone):
            i = jets[owner].first_of
            while i != _NO_JET:
                if i != keep and i != gone:
                    lost[n_lost] = i
                    n_lost += 1
                i = jets[i].next_of
        _set_nn(keep, nobody, r2, jets, store)
        _set_nn(gone, nobody, r2, jets, store)
        for k in range(n_lost):  # their lists went with keep's and gone's
            jets[lost[k]].nn = _NO_JET
        jets[keep].first_of = _NO_JET
        jets[gone].first_of = _NO_JET
        _store_remove(keep, count, start, jets, store)
        jk, jg = jets[keep], jets[gone]
        _set_momentum(jk, jk.px + jg.px, jk.py + jg.py, jk.pz + jg.pz, jk.e + jg.e)
        y, f = jk.rap, jk.phi
        tile_new = _tile_of(y, f, rap_lo, inv_rap_size, n_rap, inv_phi_size, n_phi)
        _store_add(keep, tile_new, count, start, n_tiles, slack, jets, store, at_pos, n_active)
        jets[jk.last].next_constituent = jg.first
        jk.last = jg.last

        # the lost jets' NN again. Every other jet is at least as far from a lost jet as its old
        # NN was (the NN distances only ever come down to a nearer jet's), so the new jet, when
        # strictly nearer than that, is its NN; else a search, from the new jet
        for k in range(n_lost):
            i = lost[k]
            d = _distance(jets[i].rap, jets[i].phi, y, f)
            if d < jets[i].nn_dist:
                j = keep
            elif d < r2:
                j, d = _nearest(i, d, keep, jets, store, start, n_rap, n_phi, rows)
            else:
                j, d = _nearest(i, r2, nobody, jets, store, start, n_rap, n_phi, rows)
            _set_nn(i, j, d, jets, store)
            value[jets[i].pos] = _dij(i, jets)
            n_stale = _mark_stale(jets[i].pos, blocks, stale, n_stale)
        # around the new jet: its NN (the first of the nearest in list order, as fastjet's update
        # loop finds it), and the jets to which it is nearer than their NN (fastjet: strictly)
        best = r2
        best_j = nobody
        row, col, below, above, left, right = _around(y, f, tile_new, n_rap, n_phi, rows)
        for r_ in range(max(row - 1, 0), min(row + 2, n_rap)):
            if (below if r_ < row else above) > r2 and r_ != row:
                continue
            base = r_ * n_phi
            a0, b0, c0, d0 = start[base], start[base + n_phi], 0, 0  # n_phi < 3: the whole row
            if n_phi >= 3:
                if col == 0:
                    a0, b0, c0, d0 = start[base], start[base + 2], start[base + n_phi - 1], start[base + n_phi]
                elif col == n_phi - 1:
                    a0, b0, c0, d0 = start[base + n_phi - 2], start[base + n_phi], start[base], start[base + 1]
                else:
                    a0, b0 = start[base + col - 1], start[base + col + 2]
            for half in range(2):
                lo, hi = (a0, b0) if half == 0 else (c0, d0)
                for s in range(lo, hi):
                    d = _distance(store[s].rap, store[s].phi, y, f)
                    if d < store[s].nn_dist:
                        i = store[s].id
                        if i != keep:
                            _set_nn(i, keep, d, jets, store)
                            value[jets[i].pos] = _dij(i, jets)
                            n_stale = _mark_stale(jets[i].pos, blocks, stale, n_stale)
                    if d <= best:
                        i = store[s].id
                        if i != keep and (d < best or (best_j != _NO_JET and jets[i].pos < jets[best_j].pos)):
                            best = d
                            best_j = i
        _set_nn(keep, best_j, best, jets, store)
        value[jk.pos] = _dij(keep, jets)
        n_stale = _mark_stale(jk.pos, blocks, stale, n_stale)
    return n_made


# --- many events ----------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model="numpy")
def _cluster_events(px, py, pz, e, offsets, r, pt_min, by_pt, slack, jets, store, rows, blocks, made):
    """All events' jets (see :func:`cluster`; ``slack``: _TILE_SLACK; the record arrays from
    :func:`_work_space`) as full-size output arrays and the lengths used (:func:`_as_jets` cuts
    them)."""
    n_events = len(offsets) - 1
    n_total = offsets[-1]
    n_max = len(jets)
    r2 = r * r
    dcut = pt_min * pt_min
    max_tiles = len(rows)
    n_blocks = len(blocks)

    out_px = np.empty(n_total)
    out_py = np.empty(n_total)
    out_pz = np.empty(n_total)
    out_e = np.empty(n_total)
    counts = np.zeros(n_events, np.int64)
    constituent_offsets = np.zeros(n_total + 1, np.int64)
    constituents = np.empty(n_total, np.int64)

    at_pos = np.empty(n_max, np.int64)
    value = np.empty(n_blocks * _BLOCK)
    lost = np.empty(n_max, np.int64)
    stale = np.empty(n_blocks, np.int64)
    count = np.empty(max_tiles, np.int64)
    start = np.empty(max_tiles + 1, np.int64)
    kept = np.empty(n_max, np.int64)
    pt = np.empty(n_max)
    owner = np.empty(n_max, np.int64)
    filled = np.empty(n_max + 1, np.int64)

    n_jets = 0
    n_constituents = 0
    for ev in range(n_events):
        start_ev, stop_ev = offsets[ev], offsets[ev + 1]
        n = stop_ev - start_ev
        if n == 0:
            continue
        n_made = _cluster_event(
            borrowed(px[start_ev:stop_ev]), borrowed(py[start_ev:stop_ev]), borrowed(pz[start_ev:stop_ev]),
            borrowed(e[start_ev:stop_ev]), r, r2, slack, borrowed(jets), borrowed(at_pos), borrowed(value),
            borrowed(lost), borrowed(blocks), borrowed(stale), borrowed(store), borrowed(count), borrowed(start),
            borrowed(rows), borrowed(made))
        # inclusive_jets: the last jet made first, kt2 >= pt_min^2
        m = 0
        for k in range(n_made - 1, -1, -1):
            if made[k].px * made[k].px + made[k].py * made[k].py >= dcut:
                kept[m] = k
                pt[m] = math.hypot(made[k].px, made[k].py)
                m += 1
        if by_pt:  # insertion: a stable sort by decreasing pT
            for q in range(1, m):
                k, x = kept[q], pt[q]
                s = q - 1
                while s >= 0 and pt[s] < x:
                    kept[s + 1] = kept[s]
                    pt[s + 1] = pt[s]
                    s -= 1
                kept[s + 1] = k
                pt[s + 1] = x
        # constituents by increasing input index
        owner[:n] = _NO_JET
        for q in range(m):
            k = kept[q]
            out = n_jets + q
            out_px[out] = made[k].px
            out_py[out] = made[k].py
            out_pz[out] = made[k].pz
            out_e[out] = made[k].e
            filled[q] = 0
            c = made[k].first
            while c != _NO_JET:
                owner[c] = q
                filled[q] += 1
                c = jets[c].next_constituent
        start_of = n_constituents
        for q in range(m):
            constituent_offsets[n_jets + q] = start_of
            start_of += filled[q]
            filled[q] = constituent_offsets[n_jets + q]
        for i in range(n):
            q = owner[i]
            if q != _NO_JET:
                constituents[filled[q]] = i
                filled[q] += 1
        n_jets += m
        n_constituents = start_of
        constituent_offsets[n_jets] = n_constituents
        counts[ev] = m
    return out_px, out_py, out_pz, out_e, counts, constituent_offsets, constituents, n_jets, n_constituents
