"""Truth leptons: photon dressing and isolation variables (numba kernels over whole chunks)."""

from __future__ import annotations

import numba
import numpy as np

from .kinematics import _dr2


@numba.njit(cache=True)
def dress(offsets, eta, phi, p4, is_lepton, is_photon, dr):
    """Add each photon to the nearest lepton within ``dr`` (ATLAS truth dressing).

    Works on the flat final-state particle arrays of a chunk. Returns the dressed four-momenta
    (equal to ``p4`` for non-leptons) and, per particle, the index of the lepton a photon was
    added to (-1 otherwise).
    """
    out = p4.copy()
    owner = np.full(len(eta), -1, np.int64)
    dr2max = dr * dr
    for e in range(len(offsets) - 1):
        for g in range(offsets[e], offsets[e + 1]):
            if not is_photon[g]:
                continue
            best = dr2max
            for j in range(offsets[e], offsets[e + 1]):
                if is_lepton[j]:
                    d = _dr2(eta[g], phi[g], eta[j], phi[j])
                    if d < best:
                        best = d
                        owner[g] = j
            if owner[g] >= 0:
                for c in range(4):
                    out[owner[g], c] += p4[g, c]
    return out, owner


@numba.njit(cache=True)
def isolation(offsets, pt, eta, phi, is_lepton, lep_pt, is_track, is_calo, owner):
    """Truth isolation sums for every lepton (zeros elsewhere), in GeV.

    Columns: ptvarcone20, ptvarcone30 (tracks within min(R, 10 GeV / pT) of the lepton, R = 0.2,
    0.3), topoetcone20 (visible energy flow within 0.2), ptcone20 (tracks within a fixed 0.2).
    The lepton itself and the photons dressed into it are excluded from all sums.
    """
    n = len(pt)
    out = np.zeros((n, 4), np.float64)
    for e in range(len(offsets) - 1):
        for i in range(offsets[e], offsets[e + 1]):
            if not is_lepton[i]:
                continue
            r20 = min(0.2, 10.0 / lep_pt[i])
            r30 = min(0.3, 10.0 / lep_pt[i])
            for j in range(offsets[e], offsets[e + 1]):
                if j == i or owner[j] == i:
                    continue
                d2 = _dr2(eta[i], phi[i], eta[j], phi[j])
                if d2 >= 0.09:
                    continue
                if is_track[j]:
                    if d2 < r20 * r20:
                        out[i, 0] += pt[j]
                    if d2 < r30 * r30:
                        out[i, 1] += pt[j]
                    if d2 < 0.04:
                        out[i, 3] += pt[j]
                if is_calo[j] and d2 < 0.04:
                    out[i, 2] += pt[j]
    return out
