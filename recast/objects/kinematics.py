"""Kinematic helpers and the per-event combinatorial kernels (numba) used by object building
and analyses.

Conventions: momenta in GeV; azimuths in (-pi, pi]; Delta R uses pseudorapidity.

Kernels take *flat* arrays plus event ``offsets`` (as :func:`flat` returns them), so one call
covers a whole chunk of events; the event loop itself never runs in Python.
"""

from __future__ import annotations

import awkward as ak
import numba
import numpy as np

TWO_PI = 2.0 * np.pi


def wrap_phi(phi):
    """Map angles into (-pi, pi]; works on numpy and awkward arrays."""
    if isinstance(phi, ak.Array):
        out = np.mod(phi + np.pi, TWO_PI) - np.pi
        return ak.where(out == -np.pi, np.pi, out)
    out = np.mod(np.asarray(phi, dtype=np.float64) + np.pi, TWO_PI) - np.pi
    return np.where(out == -np.pi, np.pi, out)


def pt_eta_phi_m(px, py, pz, e):
    """(pT, eta, phi, m) from Cartesian components; works on numpy and awkward arrays.

    eta of a particle along the beam axis is +-1e10 rather than infinite; m is the signed
    sqrt(E^2 - p^2) clipped at zero (rounding can make massless four-vectors slightly spacelike).
    """
    pt, eta, phi = pt_eta_phi(px, py, pz)
    p = np.sqrt(pt**2 + pz**2)
    m2 = e**2 - p**2
    m = np.sqrt(np.maximum(m2, 0.0))
    return pt, eta, phi, m


def pt_eta_phi(px, py, pz):
    """(pT, eta, phi) as :func:`pt_eta_phi_m` gives them, without the mass."""
    pt = np.hypot(px, py)
    return pt, pseudorapidity(pt, pz), np.arctan2(py, px)


def pseudorapidity(pt, pz):
    """eta from pT and pz (numpy or awkward), +-1e10 along the beam axis (as :func:`pt_eta_phi_m`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    where = ak.where if isinstance(pt, ak.Array) else np.where
    return where(pt > 0, eta, np.sign(pz) * 1e10)


def delta_phi(phi1, phi2):
    """|phi1 - phi2| folded into [0, pi]."""
    d = np.abs(phi1 - phi2) % TWO_PI
    return np.minimum(d, TWO_PI - d)


def transverse_mass(pt1, phi1, pt2, phi2):
    """mT = sqrt(2 pT1 pT2 (1 - cos dphi)) for two massless objects."""
    return np.sqrt(np.maximum(2.0 * pt1 * pt2 * (1.0 - np.cos(phi1 - phi2)), 0.0))


def pair_mass(a: ak.Array, b: ak.Array) -> np.ndarray:
    """Invariant mass of two optional objects (``px, py, pz, E``) per event; NaN where either is
    absent."""
    def component(x, f):
        return ak.to_numpy(ak.fill_none(x[f], np.nan)).astype(np.float64)

    e = component(a, "E") + component(b, "E")
    px, py, pz = (component(a, f) + component(b, f) for f in ("px", "py", "pz"))
    return np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))


def min_of(values: ak.Array, fill: float, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Per event, the smallest of ``values[start:stop]`` (``fill`` where there is none), e.g. the
    smallest Delta phi(jet, MET) of the four leading jets."""
    return ak.to_numpy(ak.fill_none(ak.min(values[:, start:stop], axis=1), fill))


def max_of(values: ak.Array, fill: float, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Per event, the largest of ``values[start:stop]`` (``fill`` where there is none)."""
    return ak.to_numpy(ak.fill_none(ak.max(values[:, start:stop], axis=1), fill))


def flat(collection: ak.Array, *fields: str):
    """(offsets, field arrays...) of a jagged collection, as contiguous numpy arrays."""
    counts = ak.to_numpy(ak.num(collection, axis=1)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    arrays = [np.ascontiguousarray(ak.to_numpy(ak.flatten(collection[f], axis=1)), dtype=np.float64)
              for f in fields]
    return (offsets, *arrays)


def leading_slots(values: ak.Array, n: int) -> np.ndarray:
    """[events, n] float array of the first ``n`` entries of a jagged per-object quantity, NaN where
    an event has fewer objects (the fixed-size input of a network; its model card pads the NaN)."""
    padded = ak.fill_none(ak.pad_none(values, n, axis=1, clip=True), np.nan)
    return ak.to_numpy(padded).astype(np.float64)


def unflat(offsets: np.ndarray, values: np.ndarray) -> ak.Array:
    """Inverse of :func:`flat` for one per-object array."""
    return ak.unflatten(values, np.diff(offsets))


def gather(values: ak.Array, index: ak.Array) -> ak.Array:
    """``values[event][index[event][k][c]]`` for a per-event collection ``values`` and doubly
    jagged indices (e.g. jet constituents); plain ``values[index]`` would be a jagged slice."""
    inner = ak.num(index, axis=2)
    picked = values[ak.flatten(index, axis=2)]
    return ak.unflatten(picked, ak.flatten(inner), axis=1)


@numba.njit(cache=True, inline="always")
def _dr2(eta1, phi1, eta2, phi2):
    dphi = abs(phi1 - phi2) % (2.0 * np.pi)
    if dphi > np.pi:
        dphi = 2.0 * np.pi - dphi
    deta = eta1 - eta2
    return deta * deta + dphi * dphi


@numba.njit(cache=True)
def any_within(a_off, a_eta, a_phi, a_cone, b_off, b_eta, b_phi, b_cone, b_mask, a_pt, b_pt, pt_fraction):
    """For every object of collection A: is any object of B (with ``b_mask``, and with a pT above
    ``pt_fraction`` times the A object's; pass -1 for no such condition) within Delta R?

    The cone for a pair is ``a_cone[i] + b_cone[j]``: pass the radius on the side that defines
    it (e.g. a lepton-pT-dependent cone) and zeros on the other.
    """
    out = np.zeros(len(a_eta), np.bool_)
    for e in range(len(a_off) - 1):
        for i in range(a_off[e], a_off[e + 1]):
            for j in range(b_off[e], b_off[e + 1]):
                if not b_mask[j] or (pt_fraction >= 0.0 and b_pt[j] <= pt_fraction * a_pt[i]):
                    continue
                r = a_cone[i] + b_cone[j]
                if _dr2(a_eta[i], a_phi[i], b_eta[j], b_phi[j]) < r * r:
                    out[i] = True
                    break
    return out


@numba.njit(cache=True)
def nearest_within(a_off, a_eta, a_phi, b_off, b_eta, b_phi, b_mask, dr_max):
    """For every object of A, the index (into B's flat arrays) of the nearest B object with
    ``b_mask`` inside ``dr_max``, or -1."""
    out = np.full(len(a_eta), -1, np.int64)
    for e in range(len(a_off) - 1):
        for i in range(a_off[e], a_off[e + 1]):
            best = dr_max * dr_max
            for j in range(b_off[e], b_off[e + 1]):
                if not b_mask[j]:
                    continue
                d = _dr2(a_eta[i], a_phi[i], b_eta[j], b_phi[j])
                if d < best:
                    best = d
                    out[i] = j
    return out


@numba.njit(cache=True)
def cone_sums(a_off, a_eta, a_phi, a_self, b_off, b_eta, b_phi, b_val, b_mask, radius):
    """For every object of A: sum of ``b_val`` over B objects with ``b_mask`` inside
    ``radius[i]`` of it, excluding B object ``a_self[i]`` (the object itself, -1 for none)."""
    out = np.zeros(len(a_eta), np.float64)
    for e in range(len(a_off) - 1):
        for i in range(a_off[e], a_off[e + 1]):
            r2 = radius[i] * radius[i]
            s = 0.0
            for j in range(b_off[e], b_off[e + 1]):
                if b_mask[j] and j != a_self[i] and _dr2(a_eta[i], a_phi[i], b_eta[j], b_phi[j]) < r2:
                    s += b_val[j]
            out[i] = s
    return out
