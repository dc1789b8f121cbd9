"""Overlap removal between object collections.

One primitive covers the variants the re-implementations use: remove objects of collection A
that lie within a cone of an object of collection B. The cone may be fixed, or the ATLAS
"boosted lepton" cone ``min(0.4, 0.04 + 10 GeV / pT(lepton))``, defined by either side; the
removal may be restricted to some A objects (e.g. non-b-tagged jets) and some B objects.
"""

from __future__ import annotations

from typing import Literal

import awkward as ak
import numpy as np

from .kinematics import any_within, flat


def boosted_cone(pt):
    """ATLAS' pT-dependent lepton cone: min(0.4, 0.04 + 10 GeV / pT)."""
    return np.minimum(0.4, 0.04 + 10.0 / pt)


def remove_overlap(
    a: ak.Array,
    b: ak.Array,
    cone: float | Literal["boosted-a", "boosted-b"],
    *,
    a_removable: ak.Array | None = None,
    b_active: ak.Array | None = None,
) -> ak.Array:
    """Collection ``a`` without the objects lying within Delta R < ``cone`` of any object of ``b``.

    ``cone`` is a fixed radius, or ``"boosted-a"``/``"boosted-b"`` for the boosted-lepton cone
    computed from the pT of the A or B object. ``a_removable`` (jagged bool like ``a``) protects
    A objects where False (e.g. b-tagged jets); ``b_active`` limits which B objects count.
    """
    a_off, a_eta, a_phi, a_pt = flat(a, "eta", "phi", "pt")
    b_off, b_eta, b_phi, b_pt = flat(b, "eta", "phi", "pt")
    a_cone = np.zeros_like(a_eta)
    b_cone = np.zeros_like(b_eta)
    if cone == "boosted-a":
        a_cone = boosted_cone(a_pt)
    elif cone == "boosted-b":
        b_cone = boosted_cone(b_pt)
    elif isinstance(cone, (int, float)):
        a_cone[:] = float(cone)
    else:
        raise ValueError(f"cone must be a radius, 'boosted-a' or 'boosted-b', not {cone!r}")
    b_mask = (np.ones(len(b_eta), bool) if b_active is None
              else np.ascontiguousarray(ak.to_numpy(ak.flatten(b_active)), dtype=bool))
    overlaps = any_within(a_off, a_eta, a_phi, a_cone, b_off, b_eta, b_phi, b_cone, b_mask)
    if a_removable is not None:
        overlaps &= ak.to_numpy(ak.flatten(a_removable)).astype(bool)
    return a[ak.unflatten(~overlaps, np.diff(a_off))]
