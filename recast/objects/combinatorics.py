"""Combinatorial event variables of ATLAS-SUSY-2019-04 (the 1l neural-network inputs and the
2lSS m_lj), as numba kernels over whole chunks.

Source: /work/shared/hepdata/ANA-SUSY-2019-04/FACTS.md, section 4.2 (NN inputs 3, 6, 7 and 8)
and the m_lj note in section 3. The three re-implementations FACTS lists (CheckMATE [CM], the
Rivet draft [RIV], GAMBIT [GAM]) all say they follow the ATLAS SimpleAnalysis code. Where they
disagree, each docstring says which one we follow and why.

Conventions (the same as :mod:`recast.objects.kinematics`):

- Momenta are in GeV. An invariant mass is ``sqrt(max(E^2 - p^2, 0))``, so rounding never
  produces NaN for (nearly) massless systems. Delta R uses pseudorapidity, and Delta phi is
  folded, so any phi convention works.
- Kernels (``*_kernel``) take flat float64 arrays plus event offsets, as
  :func:`~recast.objects.kinematics.flat` returns them. One call covers a whole chunk; the
  event loop runs inside numba.
- Wrappers take jagged awkward collections (fields ``px py pz E``, plus ``eta phi`` for Delta R)
  and return one float64 per event. An undefined value is NaN (too few jets or leptons, no
  lepton). Collections are used in the order given: pass jets and leptons pT-ordered.
- Ties (several combinations with exactly the same figure of merit) go to the first
  combination in loop order, i.e. the lowest indices, because comparisons are strict. The
  C++ implementations do the same. This matters only for constructed events.
"""

from __future__ import annotations

import math

import awkward as ak
import numba
import numpy as np

from .kinematics import _dr2, flat

P4 = ("px", "py", "pz", "E")
MAX_MINMAX_JETS = 20  # 2^20 subset sums per event is already ~40 MB of scratch and slow


@numba.njit(cache=True, inline="always")
def _m2(px, py, pz, e):
    return e * e - px * px - py * py - pz * pz


@numba.njit(cache=True, inline="always")
def _mass(px, py, pz, e):
    m2 = e * e - px * px - py * py - pz * pz
    return math.sqrt(m2) if m2 > 0.0 else 0.0


# --- three-jet masses ---------------------------------------------------------------------------

@numba.njit(cache=True)
def three_jet_max_pt_mass_kernel(off, px, py, pz, e, cx, cy, cz, ce):
    """Per event: the invariant mass of ``j_i + j_j + j_k + C`` for the triplet of distinct
    jets (i < j < k) that maximises the pT of that sum. ``C`` is one four-vector per event
    (``cx cy cz ce``, arrays of length n_events). Pass zeros for the plain three-jet mass, or
    lepton + MET for the lepton-MET variant.

    NaN for events with fewer than 3 jets or a non-finite ``C``.
    """
    n_ev = len(off) - 1
    out = np.full(n_ev, np.nan)
    for ev in range(n_ev):
        a, b = off[ev], off[ev + 1]
        if b - a < 3:
            continue
        x0, y0, z0, e0 = cx[ev], cy[ev], cz[ev], ce[ev]
        if not (np.isfinite(x0) and np.isfinite(y0) and np.isfinite(z0) and np.isfinite(e0)):
            continue
        best = -1.0
        bx = by = bz = be = 0.0
        for i in range(a, b - 2):
            xi, yi, zi, ei = x0 + px[i], y0 + py[i], z0 + pz[i], e0 + e[i]
            for j in range(i + 1, b - 1):
                xj, yj, zj, ej = xi + px[j], yi + py[j], zi + pz[j], ei + e[j]
                for k in range(j + 1, b):
                    x = xj + px[k]
                    y = yj + py[k]
                    pt2 = x * x + y * y
                    if pt2 > best:
                        best = pt2
                        bx, by, bz, be = x, y, zj + pz[k], ej + e[k]
        out[ev] = _mass(bx, by, bz, be)
    return out


def _per_event(obj: ak.Array, fields, n_events: int, what: str) -> list[np.ndarray]:
    """Fields of a one-record-per-event array as float64 numpy (None -> NaN). A jagged
    collection is reduced to its first element (NaN where empty)."""
    if obj.ndim > 1:
        obj = ak.firsts(obj, axis=1)
    if len(obj) != n_events:
        raise ValueError(f"{what} has {len(obj)} events, the jets {n_events}")
    return [np.ascontiguousarray(ak.to_numpy(ak.fill_none(obj[f], np.nan)), dtype=np.float64)
            for f in fields]


def three_jet_maxpt_mass(jets: ak.Array) -> np.ndarray:
    """``three_jet_maxpt_mass`` (NN input 3, FACTS 4.2). Among all triplets of distinct jets,
    take the one with the largest vector-sum pT and return its invariant mass in GeV (not
    divided by 100). NaN for fewer than 3 jets. The C++ implementations return 0 there, but
    the NN is only evaluated with at least 4 jets.

    Follows [RIV]/[GAM]/[CM], which agree: i < j < k loops, strict ``>``, so ties go to the
    first triplet. One difference: the C++ starts from ``max_pt = 0``, so a triplet with exactly
    zero pT is never chosen and gives mass 0. Here the first triplet is always a candidate.
    """
    off, px, py, pz, e = flat(jets, *P4)
    z = np.zeros(len(off) - 1)
    return three_jet_max_pt_mass_kernel(off, px, py, pz, e, z, z, z, z)


def three_jet_lep_met_mass(jets: ak.Array, lepton: ak.Array, met: ak.Array) -> np.ndarray:
    """``three_jet_lep_met_mass_max_pt`` (NN input 6, FACTS 4.2). Among all triplets of
    distinct jets, take the one that maximises pT(j1 + j2 + j3 + lepton + MET) and return the
    invariant mass of that **whole five-object system**, in GeV.

    MET is a massless four-vector with pz = 0: ``(met.px, met.py, 0, hypot(px, py))``.
    ``lepton`` is one four-vector per event (fields ``px py pz E``). A NaN or None lepton means
    "no lepton" and gives NaN. A jagged collection may also be passed; its first element (the
    leading lepton, if pT-ordered) is used. NaN for fewer than 3 jets.

    Follows [CM] and [GAM], which return the mass including MET (FACTS 4.2). [RIV] selects with
    MET but returns the mass without it. Ties go to the first triplet.
    """
    off, px, py, pz, e = flat(jets, *P4)
    n = len(off) - 1
    lx, ly, lz, le = _per_event(lepton, P4, n, "lepton")
    mx, my = _per_event(met, ("px", "py"), n, "met")
    return three_jet_max_pt_mass_kernel(off, px, py, pz, e, lx + mx, ly + my, lz, le + np.hypot(mx, my))


# --- minimum Delta R ----------------------------------------------------------------------------

@numba.njit(cache=True)
def min_delta_r_kernel(a_off, a_eta, a_phi, b_off, b_eta, b_phi):
    """Per event: the minimum Delta R between any object of A and any object of B (NaN if
    either is empty)."""
    n_ev = len(a_off) - 1
    out = np.full(n_ev, np.nan)
    for ev in range(n_ev):
        if a_off[ev + 1] == a_off[ev] or b_off[ev + 1] == b_off[ev]:
            continue
        best = np.inf
        for i in range(a_off[ev], a_off[ev + 1]):
            for j in range(b_off[ev], b_off[ev + 1]):
                d = _dr2(a_eta[i], a_phi[i], b_eta[j], b_phi[j])
                if d < best:
                    best = d
        out[ev] = math.sqrt(best)
    return out


def min_delta_r_lepton_jet(jets: ak.Array, leptons: ak.Array) -> np.ndarray:
    """``minDeltaRlj`` (NN input 7, FACTS 4.2). The minimum Delta R = sqrt(d_eta^2 + d_phi^2),
    with pseudorapidity and folded d_phi, between any lepton of ``leptons`` and any jet. Needs
    fields ``eta phi`` on both collections. NaN when either collection is empty in an event.

    FACTS leaves the lepton set open: [CM] uses the leading lepton only, [RIV]/[GAM] all signal
    leptons, and FACTS 8.5 recommends the leading lepton. The caller chooses. Pass
    ``leptons[:, :1]`` for the leading lepton only, or the full collection for all leptons.
    The C++ returns 100 ([CM]) or DBL_MAX ([RIV]) where we return NaN.
    """
    j_off, j_eta, j_phi = flat(jets, "eta", "phi")
    l_off, l_eta, l_phi = flat(leptons, "eta", "phi")
    if len(j_off) != len(l_off):
        raise ValueError(f"leptons have {len(l_off) - 1} events, the jets {len(j_off) - 1}")
    return min_delta_r_kernel(l_off, l_eta, l_phi, j_off, j_eta, j_phi)


# --- min-max mass -------------------------------------------------------------------------------

@numba.njit(cache=True)
def minmax_mass_kernel(off, px, py, pz, e, max_jets):
    """Per event, with the first n = min(N, max_jets) jets: min over the 2^(n-1) two-group
    splits (empty group allowed) of max(m(A), m(B)). NaN for 0 jets.

    The 2^n subset sums are built once per event by doubling (subset s | 2^j = subset s + jet j).
    Each split is then a table look-up of m^2(A) and m^2(complement).
    """
    n_ev = len(off) - 1
    out = np.full(n_ev, np.nan)
    size = 1 << max_jets
    sx = np.zeros(size)
    sy = np.zeros(size)
    sz = np.zeros(size)
    se = np.zeros(size)
    m2 = np.zeros(size)
    for ev in range(n_ev):
        start = off[ev]
        n = min(off[ev + 1] - start, max_jets)
        if n == 0:
            continue
        for j in range(n):
            bit = 1 << j
            k = start + j
            qx, qy, qz, qe = px[k], py[k], pz[k], e[k]
            for s in range(bit):
                t = s | bit
                x = sx[s] + qx
                y = sy[s] + qy
                z = sz[s] + qz
                w = se[s] + qe
                sx[t] = x
                sy[t] = y
                sz[t] = z
                se[t] = w
                m2[t] = _m2(x, y, z, w)
        full = (1 << n) - 1
        best = np.inf
        # A runs over the subsets without the last jet, so every split appears exactly once.
        for a in range(1 << (n - 1)):
            ma = m2[a]
            mb = m2[full ^ a]
            v = ma if ma > mb else mb
            if v < best:
                best = v
        out[ev] = math.sqrt(best) if best > 0.0 else 0.0
    return out


def minmax_mass(jets: ak.Array, max_jets: int = 10) -> np.ndarray:
    """``minmax_mass`` (NN input 8, FACTS 4.2), in GeV. Each of the first n = min(N, max_jets)
    jets goes to group A or B. Over all 2^(n-1) distinct splits (A|B and B|A count once),
    compute max(m(A), m(B)) and return the minimum. An empty group has mass 0.

    Empty groups are allowed. The SimpleAnalysis loop copied by [RIV] and [CM] runs over every
    bit pattern, including 0, and with its ``jetdiff = 10`` no split is skipped for N <= 10
    (this is FACTS' "all splits when N <= 10"). This only matters for 1 jet, which gives
    that jet's mass. For physical four-vectors the mass is superadditive
    (m(A+B) >= m(A) + m(B)), so the all-in-one split never beats a proper split.
    0 jets: NaN. The C++ returns 999999999 there.

    Events with more than ``max_jets`` jets use the leading ``max_jets``, in the order given.
    SimpleAnalysis instead uses all jets and skips splits with |n_A - n_B| > 10. The two
    agree for N <= 10, which covers the NN (N = 4..8).

    Tie rule differs from the C++: that code updates only when one group is strictly heavier,
    so splits with m(A) == m(B) (e.g. two massless jets) are skipped. We take max(m(A), m(B))
    for every split. This gives the same result unless two group masses are exactly equal.
    """
    max_jets = int(max_jets)
    if not 1 <= max_jets <= MAX_MINMAX_JETS:
        raise ValueError(f"max_jets must be in [1, {MAX_MINMAX_JETS}], not {max_jets}")
    off, px, py, pz, e = flat(jets, *P4)
    return minmax_mass_kernel(off, px, py, pz, e, max_jets)


# --- 2lSS m_lj ----------------------------------------------------------------------------------

@numba.njit(cache=True)
def min_max_lepton_jet_mass_kernel(j_off, px, py, pz, e, l_off, lpx, lpy, lpz, le, n_jets):
    """Per event with at least 2 leptons and 2 jets (the first ``n_jets`` jets, all if
    ``n_jets < 0``): min over ordered pairs of distinct jets (i, j) of
    max(m(l1 + j_i), m(l2 + j_j)), with l1, l2 the first two leptons. NaN otherwise."""
    n_ev = len(j_off) - 1
    out = np.full(n_ev, np.nan)
    for ev in range(n_ev):
        a = j_off[ev]
        nj = j_off[ev + 1] - a
        if n_jets >= 0 and nj > n_jets:
            nj = n_jets
        if nj < 2 or l_off[ev + 1] - l_off[ev] < 2:
            continue
        l1 = l_off[ev]
        l2 = l1 + 1
        best = np.inf
        for i in range(a, a + nj):
            m1 = _m2(lpx[l1] + px[i], lpy[l1] + py[i], lpz[l1] + pz[i], le[l1] + e[i])
            for j in range(a, a + nj):
                if j == i:
                    continue
                m2 = _m2(lpx[l2] + px[j], lpy[l2] + py[j], lpz[l2] + pz[j], le[l2] + e[j])
                v = m1 if m1 > m2 else m2
                if v < best:
                    best = v
        out[ev] = math.sqrt(best) if best > 0.0 else 0.0
    return out


def min_max_lepton_jet_mass(jets: ak.Array, leptons: ak.Array, n_jets: int | None = None) -> np.ndarray:
    """The 2lSS ``m_lj`` of SR11 (FACTS 3, "m_lj for SR11"), in GeV. With l1, l2 the first two
    leptons of ``leptons``, return the minimum over ordered pairs of distinct jets (i, j) of
    max(m(l1 + j_i), m(l2 + j_j)). NaN when an event has fewer than 2 leptons or fewer than 2
    (considered) jets. Any further leptons are ignored. SR11 applies this to exactly two
    same-charge leptons.

    Follows [RIV]/[GAM]. [CM] pairs the leading lepton with both jets, which FACTS calls a bug.
    ``n_jets`` restricts the jets to the first ``n_jets`` in the order given. The C++ passes
    "4", which suggests the leading four were intended, but its loop runs over all jets
    (``max(4, N)``). The default ``None`` therefore uses all jets, as the implementations do.
    """
    j_off, px, py, pz, e = flat(jets, *P4)
    l_off, lpx, lpy, lpz, le = flat(leptons, *P4)
    if len(j_off) != len(l_off):
        raise ValueError(f"leptons have {len(l_off) - 1} events, the jets {len(j_off) - 1}")
    if n_jets is not None and n_jets < 0:
        raise ValueError(f"n_jets must be >= 0 or None, not {n_jets}")
    return min_max_lepton_jet_mass_kernel(j_off, px, py, pz, e, l_off, lpx, lpy, lpz, le,
                                          -1 if n_jets is None else int(n_jets))
