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
gives fastjet's merges; this one keeps each jet in a tile (a cell at least R wide in rapidity and
azimuth) so that a NN is searched in the 3 x 3 tiles around a jet, and the diJ in a tournament
tree, whose root is the smallest.

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

Floating point: the kernel uses no fused multiply-add (numba's default) and the C library's
``log``, ``atan2`` and ``hypot``, as the fastjet wheel built for x86-64 does. A fastjet built
with contraction into FMA (e.g. gcc's default on aarch64) can differ in the last bit of a
distance, hence in the rare merges that a bit decides.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from ..kernels import borrowed

MAX_RAP = 1e5
"""fastjet's MaxRap: the rapidity magnitude (plus |pz|) given to a zero-pT, massless pseudojet."""
_PI = math.pi
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
_NO_JET = -1
_REACH = 2
"""Tiles have sides of at least R/_REACH; a NN is searched up to _REACH tiles away."""
_SORTED_BY_INSERTION = 32  # more jets than this in an event: merge sort


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
    return AntiKtJets(*_cluster_events(*arrays, offsets, float(radius), float(pt_min), bool(by_pt), _REACH))


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
def _scale(kt2):
    """fastjet's jet_scale_for_algorithm for anti-kt."""
    return 1.0 / kt2 if kt2 > 1e-300 else 1e300


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
def _below(rap, phi, row, col, row_lo, row_hi, phi_size):
    """A lower bound of the distance from (rap, phi) to any jet in the tile (row, col), as
    _distance computes it: the gaps to the tile's edges, each shortened by far more than the
    rounding of a distance or of a tile index (so that a jet at exactly the current best
    distance, which may win a tie, is never left out). Edge rows reach to infinity."""
    lo = row_lo[row]
    hi = row_hi[row]
    gap_rap = 0.0
    if rap < lo:
        gap_rap = lo - rap
    elif rap > hi:
        gap_rap = rap - hi
    gap_rap -= 1e-9 * (1.0 + abs(rap))
    if not gap_rap > 0.0:  # NaN too: then no bound
        gap_rap = 0.0
    phi_lo = col * phi_size
    phi_hi = phi_lo + phi_size
    gap_phi = 0.0
    if phi < phi_lo:
        gap_phi = min(phi_lo - phi, phi + _TWO_PI - phi_hi)
    elif phi > phi_hi:
        gap_phi = min(phi - phi_hi, _TWO_PI - phi + phi_lo)
    gap_phi -= 1e-9
    if not gap_phi > 0.0:
        gap_phi = 0.0
    return gap_rap * gap_rap + gap_phi * gap_phi


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _nearest(i, rap, phi, pos, tile, head, next_in_tile, n_rap, n_phi, phi_nb, n_phi_nb, reach,
             row_lo, row_hi, phi_size, r2):
    """Jet i's NN and their squared distance (_NO_JET and R^2 when no jet is strictly nearer
    than R): of equally near jets, the first in list order. Searches jet i's own tile, then the
    tiles around it that can hold a jet as near as the nearest found so far."""
    best = r2
    best_j = _NO_JET
    rap_i = rap[i]
    phi_i = phi[i]
    own = tile[i]
    row = own // n_phi
    col = own - row * n_phi
    j = head[own]
    while j != _NO_JET:
        if j != i:
            d = _distance(rap_i, phi_i, rap[j], phi[j])
            if d <= best:
                if d < best or (best_j != _NO_JET and pos[j] < pos[best_j]):
                    best = d
                    best_j = j
        j = next_in_tile[j]
    for r in range(max(row - reach, 0), min(row + reach + 1, n_rap)):
        for k in range(n_phi_nb):
            c = phi_nb[col, k]
            if (r == row and c == col) or _below(rap_i, phi_i, r, c, row_lo, row_hi, phi_size) > best:
                continue
            j = head[r * n_phi + c]
            while j != _NO_JET:
                d = _distance(rap_i, phi_i, rap[j], phi[j])
                if d <= best:
                    if d < best or (best_j != _NO_JET and pos[j] < pos[best_j]):
                        best = d
                        best_j = j
                j = next_in_tile[j]
    return best_j, best


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _unlink(j, tile, head, next_in_tile, prev_in_tile):
    p, q = prev_in_tile[j], next_in_tile[j]
    if p == _NO_JET:
        head[tile[j]] = q
    else:
        next_in_tile[p] = q
    if q != _NO_JET:
        prev_in_tile[q] = p


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _link(j, t, tile, head, next_in_tile, prev_in_tile):
    tile[j] = t
    q = head[t]
    next_in_tile[j] = q
    prev_in_tile[j] = _NO_JET
    if q != _NO_JET:
        prev_in_tile[q] = j
    head[t] = j


# --- nearest-neighbour lists ------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model="numpy")
def _set_nn(i, j, nn, first_of, next_of, prev_of):
    """Make j (or _NO_JET) jet i's NN, moving i from the list of the jets whose NN was its old
    NN (``first_of[old]``, chained by ``next_of``/``prev_of``) to j's."""
    old = nn[i]
    if old == j:
        return
    if old != _NO_JET:
        p, q = prev_of[i], next_of[i]
        if p == _NO_JET:
            first_of[old] = q
        else:
            next_of[p] = q
        if q != _NO_JET:
            prev_of[q] = p
    nn[i] = j
    if j != _NO_JET:
        q = first_of[j]
        next_of[i] = q
        prev_of[i] = _NO_JET
        if q != _NO_JET:
            prev_of[q] = i
        first_of[j] = i


# --- the smallest diJ -----------------------------------------------------------------------------

_BLOCK = 16
"""The list positions are in blocks of this many, each with its smallest diJ (refreshed when
one of its values changed); the smallest of all is the first smallest of the blocks'."""


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _dij(i, nn, nn_dist, scale):
    """fastjet's _bj_diJ."""
    s = scale[i]
    j = nn[i]
    if j != _NO_JET and scale[j] < s:
        s = scale[j]
    return nn_dist[i] * s


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _smallest(value, n_active, block_value, block_pos, stale, n_stale):
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
        block_value[b] = best
        block_pos[b] = best_p
    n_blocks = (n_active + _BLOCK - 1) // _BLOCK
    best = block_value[0]
    best_p = block_pos[0]
    for b in range(1, n_blocks):
        if block_value[b] < best:
            best = block_value[b]
            best_p = block_pos[b]
    return best_p


# --- one event ------------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model="numpy")
def _cluster_event(px, py, pz, e, r, r2, reach,
                   jpx, jpy, jpz, je, rap, phi, scale, nn, nn_dist, first_of, next_of, prev_of, lost,
                   pos, at_pos, value, block_value, block_pos, is_stale, stale,
                   tile, head, next_in_tile, prev_in_tile, most, row_lo, row_hi, phi_nb,
                   first, last, next_constituent, made, made_first):
    """Cluster one event (n = len(px) > 0); fills ``made`` (four-momenta) and ``made_first``
    (the first constituent, whose ``next_constituent`` chain lists the others) of the jets in the
    order they were made, and returns how many were made. Every other array is work space of at
    least n (tiles: at least the tile count; ``value``: n rounded up to whole blocks).

    Tiles have sides of at least R/reach, so that jets closer than R are at most ``reach`` rows
    and columns apart. ``most[t]`` is at least the NN distance of every jet in tile t."""
    n = len(px)
    # pseudojets, and the tiles' extent
    rap_lo = _TILE_RAP_MAX
    rap_hi = -_TILE_RAP_MAX
    for i in range(n):
        kt2 = px[i] * px[i] + py[i] * py[i]
        y, f = _rap_phi(px[i], py[i], pz[i], e[i], kt2)
        jpx[i], jpy[i], jpz[i], je[i] = px[i], py[i], pz[i], e[i]
        rap[i] = y
        phi[i] = f
        scale[i] = _scale(kt2)
        if y < rap_lo:
            rap_lo = y
        if y > rap_hi:
            rap_hi = y
        first[i] = i
        last[i] = i
        next_constituent[i] = _NO_JET
        pos[i] = i
        at_pos[i] = i
        nn[i] = _NO_JET
        first_of[i] = _NO_JET
    rap_lo = max(rap_lo, -_TILE_RAP_MAX)
    rap_hi = min(rap_hi, _TILE_RAP_MAX)
    side = r * _TILE_MARGIN / reach
    max_tiles = _MAX_TILES_PER_JET * n + 16
    n_phi = max(1, min(int(_TWO_PI / side), phi_nb.shape[0], max_tiles))
    n_rap = 1
    if rap_hi > rap_lo:
        n_rap = max(1, min(int((rap_hi - rap_lo) / side), max(1, max_tiles // n_phi), len(row_lo)))
    rap_size = (rap_hi - rap_lo) / n_rap
    inv_rap_size = 1.0 / rap_size if n_rap > 1 else 0.0
    for k in range(n_rap):
        row_lo[k] = rap_lo + k * rap_size if k > 0 else -np.inf
        row_hi[k] = rap_lo + (k + 1) * rap_size if k < n_rap - 1 else np.inf
    phi_size = _TWO_PI / n_phi
    inv_phi_size = n_phi / _TWO_PI
    n_phi_nb = min(2 * reach + 1, n_phi)
    for c in range(n_phi):
        for k in range(n_phi_nb):
            phi_nb[c, k] = (c - reach + k) % n_phi if n_phi_nb == 2 * reach + 1 else k
    n_tiles = n_rap * n_phi
    for t in range(n_tiles):
        head[t] = _NO_JET
        most[t] = 0.0
    # inputs into tiles in reverse so that each tile lists its jets in input order
    for i in range(n - 1, -1, -1):
        _link(i, _tile_of(rap[i], phi[i], rap_lo, inv_rap_size, n_rap, inv_phi_size, n_phi),
              tile, head, next_in_tile, prev_in_tile)
    for i in range(n):
        j, d = _nearest(i, rap, phi, pos, tile, head, next_in_tile, n_rap, n_phi, phi_nb, n_phi_nb, reach,
                        row_lo, row_hi, phi_size, r2)
        _set_nn(i, j, nn, first_of, next_of, prev_of)
        nn_dist[i] = d
        if d > most[tile[i]]:
            most[tile[i]] = d

    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for p in range(n_blocks * _BLOCK):
        value[p] = _dij(p, nn, nn_dist, scale) if p < n else np.inf
    for b in range(n_blocks):
        stale[b] = b
        is_stale[b] = True
    n_stale = n_blocks

    n_made = 0
    n_active = n
    while n_active > 0:
        a = at_pos[_smallest(value, n_active, block_value, block_pos, stale, n_stale)]
        for k in range(n_stale):
            is_stale[stale[k]] = False
        n_stale = 0
        b = nn[a]
        # the last jet of the list moves into the position freed by a or by the merge's leaving jet
        if b == _NO_JET:
            keep, gone = a, a
        elif pos[a] < pos[b]:
            keep, gone = a, b
        else:
            keep, gone = b, a
        tail = n_active - 1
        freed = pos[gone]
        moved = at_pos[tail]
        at_pos[freed] = moved
        pos[moved] = freed
        value[freed] = value[tail]
        value[tail] = np.inf
        for p in (freed, tail):
            if not is_stale[p // _BLOCK]:
                is_stale[p // _BLOCK] = True
                stale[n_stale] = p // _BLOCK
                n_stale += 1
        n_active -= 1
        if b == _NO_JET:
            # a is a jet; no jet has a as its NN (it would be a NN of a)
            made[n_made, 0] = jpx[a]
            made[n_made, 1] = jpy[a]
            made[n_made, 2] = jpz[a]
            made[n_made, 3] = je[a]
            made_first[n_made] = first[a]
            n_made += 1
            _unlink(a, tile, head, next_in_tile, prev_in_tile)
            continue

        # merge into keep (the lower list position)
        n_lost = 0
        for owner in (keep, gone):
            i = first_of[owner]
            while i != _NO_JET:
                if i != keep and i != gone:
                    lost[n_lost] = i
                    n_lost += 1
                i = next_of[i]
        _set_nn(keep, _NO_JET, nn, first_of, next_of, prev_of)
        _set_nn(gone, _NO_JET, nn, first_of, next_of, prev_of)
        for k in range(n_lost):  # their lists are gone with keep's and gone's
            nn[lost[k]] = _NO_JET
        first_of[keep] = _NO_JET
        first_of[gone] = _NO_JET
        _unlink(gone, tile, head, next_in_tile, prev_in_tile)
        _unlink(keep, tile, head, next_in_tile, prev_in_tile)
        jpx[keep] += jpx[gone]
        jpy[keep] += jpy[gone]
        jpz[keep] += jpz[gone]
        je[keep] += je[gone]
        kt2 = jpx[keep] * jpx[keep] + jpy[keep] * jpy[keep]
        y, f = _rap_phi(jpx[keep], jpy[keep], jpz[keep], je[keep], kt2)
        rap[keep] = y
        phi[keep] = f
        scale[keep] = _scale(kt2)
        tile_new = _tile_of(y, f, rap_lo, inv_rap_size, n_rap, inv_phi_size, n_phi)
        _link(keep, tile_new, tile, head, next_in_tile, prev_in_tile)
        next_constituent[last[keep]] = first[gone]
        last[keep] = last[gone]

        # the jets whose NN was keep or gone: their NN again (the new jet included)
        for k in range(n_lost):
            i = lost[k]
            j, d = _nearest(i, rap, phi, pos, tile, head, next_in_tile, n_rap, n_phi, phi_nb, n_phi_nb, reach,
                            row_lo, row_hi, phi_size, r2)
            _set_nn(i, j, nn, first_of, next_of, prev_of)
            nn_dist[i] = d
            if d > most[tile[i]]:
                most[tile[i]] = d
            p = pos[i]
            value[p] = _dij(i, nn, nn_dist, scale)
            if not is_stale[p // _BLOCK]:
                is_stale[p // _BLOCK] = True
                stale[n_stale] = p // _BLOCK
                n_stale += 1
        # around the new jet: its NN (the first of the nearest in list order, as fastjet's
        # update loop finds it), and the jets to which it is nearer than their NN (fastjet:
        # strictly). A tile is searched if it can hold a jet for either.
        best = r2
        best_j = _NO_JET
        row = tile_new // n_phi
        col = tile_new - row * n_phi
        for pass_ in range(2):
            for r_ in range(max(row - reach, 0), min(row + reach + 1, n_rap)):
                for k in range(n_phi_nb):
                    c = phi_nb[col, k]
                    t = r_ * n_phi + c
                    if pass_ == 0:
                        if t != tile_new:
                            continue
                    elif t == tile_new or _below(y, f, r_, c, row_lo, row_hi, phi_size) > max(most[t], best):
                        continue
                    bound = 0.0
                    i = head[t]
                    while i != _NO_JET:
                        if i != keep:
                            d = _distance(rap[i], phi[i], y, f)
                            if d < nn_dist[i]:
                                _set_nn(i, keep, nn, first_of, next_of, prev_of)
                                nn_dist[i] = d
                                p = pos[i]
                                value[p] = _dij(i, nn, nn_dist, scale)
                                if not is_stale[p // _BLOCK]:
                                    is_stale[p // _BLOCK] = True
                                    stale[n_stale] = p // _BLOCK
                                    n_stale += 1
                            if d <= best:
                                if d < best or (best_j != _NO_JET and pos[i] < pos[best_j]):
                                    best = d
                                    best_j = i
                            if nn_dist[i] > bound:
                                bound = nn_dist[i]
                        i = next_in_tile[i]
                    most[t] = bound
        _set_nn(keep, best_j, nn, first_of, next_of, prev_of)
        nn_dist[keep] = best
        if best > most[tile_new]:
            most[tile_new] = best
        p = pos[keep]
        value[p] = _dij(keep, nn, nn_dist, scale)
        if not is_stale[p // _BLOCK]:
            is_stale[p // _BLOCK] = True
            stale[n_stale] = p // _BLOCK
            n_stale += 1
    return n_made


# --- many events ----------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True, error_model="numpy")
def _cluster_events(px, py, pz, e, offsets, r, pt_min, by_pt, reach):
    n_events = len(offsets) - 1
    n_total = offsets[-1]
    n_max = 0
    for ev in range(n_events):
        n_max = max(n_max, offsets[ev + 1] - offsets[ev])
    r2 = r * r
    dcut = pt_min * pt_min
    max_phi_tiles = max(1, int(_TWO_PI * reach / (r * _TILE_MARGIN)))
    max_tiles = _MAX_TILES_PER_JET * n_max + 16 + max_phi_tiles

    out_px = np.empty(n_total)
    out_py = np.empty(n_total)
    out_pz = np.empty(n_total)
    out_e = np.empty(n_total)
    counts = np.zeros(n_events, np.int64)
    constituent_offsets = np.zeros(n_total + 1, np.int64)
    constituents = np.empty(n_total, np.int64)

    jpx, jpy, jpz, je = np.empty(n_max), np.empty(n_max), np.empty(n_max), np.empty(n_max)
    rap, phi, scale, nn_dist = np.empty(n_max), np.empty(n_max), np.empty(n_max), np.empty(n_max)
    nn, first_of, next_of, prev_of = (np.empty(n_max, np.int64), np.empty(n_max, np.int64),
                                      np.empty(n_max, np.int64), np.empty(n_max, np.int64))
    lost, pos, at_pos = np.empty(n_max, np.int64), np.empty(n_max, np.int64), np.empty(n_max, np.int64)
    n_blocks = (n_max + _BLOCK - 1) // _BLOCK
    value = np.empty(n_blocks * _BLOCK)
    block_value, block_pos = np.empty(n_blocks), np.empty(n_blocks, np.int64)
    is_stale, stale = np.zeros(n_blocks, np.bool_), np.empty(n_blocks, np.int64)
    tile, next_in_tile, prev_in_tile = np.empty(n_max, np.int64), np.empty(n_max, np.int64), np.empty(n_max, np.int64)
    first, last, next_constituent = np.empty(n_max, np.int64), np.empty(n_max, np.int64), np.empty(n_max, np.int64)
    head = np.empty(max_tiles, np.int64)
    most = np.empty(max_tiles)
    row_lo = np.empty(max_tiles)
    row_hi = np.empty(max_tiles)
    phi_nb = np.empty((max_phi_tiles, 2 * reach + 1), np.int64)
    made = np.empty((n_max, 4))
    made_first = np.empty(n_max, np.int64)
    kept = np.empty(n_max, np.int64)
    pt = np.empty(n_max)
    owner = np.empty(n_max, np.int64)
    filled = np.empty(n_max + 1, np.int64)

    n_jets = 0
    n_constituents = 0
    for ev in range(n_events):
        start, stop = offsets[ev], offsets[ev + 1]
        n = stop - start
        if n == 0:
            continue
        n_made = _cluster_event(
            borrowed(px[start:stop]), borrowed(py[start:stop]), borrowed(pz[start:stop]), borrowed(e[start:stop]),
            r, r2, reach, borrowed(jpx), borrowed(jpy), borrowed(jpz), borrowed(je), borrowed(rap), borrowed(phi),
            borrowed(scale), borrowed(nn), borrowed(nn_dist), borrowed(first_of), borrowed(next_of), borrowed(prev_of),
            borrowed(lost), borrowed(pos), borrowed(at_pos), borrowed(value), borrowed(block_value),
            borrowed(block_pos), borrowed(is_stale), borrowed(stale), borrowed(tile), borrowed(head),
            borrowed(next_in_tile), borrowed(prev_in_tile), borrowed(most), borrowed(row_lo), borrowed(row_hi),
            borrowed(phi_nb), borrowed(first), borrowed(last), borrowed(next_constituent), borrowed(made),
            borrowed(made_first))
        # inclusive_jets: the last jet made first, kt2 >= pt_min^2
        m = 0
        for k in range(n_made - 1, -1, -1):
            if made[k, 0] * made[k, 0] + made[k, 1] * made[k, 1] >= dcut:
                kept[m] = k
                pt[m] = math.hypot(made[k, 0], made[k, 1])
                m += 1
        if by_pt:
            if m <= _SORTED_BY_INSERTION:
                for q in range(1, m):
                    k, x = kept[q], pt[q]
                    s = q - 1
                    while s >= 0 and pt[s] < x:
                        kept[s + 1] = kept[s]
                        pt[s + 1] = pt[s]
                        s -= 1
                    kept[s + 1] = k
                    pt[s + 1] = x
            else:
                order = np.argsort(-pt[:m], kind="mergesort")
                kept[:m] = kept[:m][order]
        # constituents by increasing input index
        for i in range(n):
            owner[i] = _NO_JET
        for q in range(m):
            k = kept[q]
            jet = n_jets + q
            out_px[jet] = made[k, 0]
            out_py[jet] = made[k, 1]
            out_pz[jet] = made[k, 2]
            out_e[jet] = made[k, 3]
            filled[q] = 0
            c = made_first[k]
            while c != _NO_JET:
                owner[c] = q
                filled[q] += 1
                c = next_constituent[c]
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
    return (out_px[:n_jets].copy(), out_py[:n_jets].copy(), out_pz[:n_jets].copy(), out_e[:n_jets].copy(),
            counts, constituent_offsets[:n_jets + 1].copy(), constituents[:n_constituents].copy())
