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


def overlapping(
    a: ak.Array,
    b: ak.Array,
    cone: float | Literal["boosted-a", "boosted-b"],
    *,
    b_active: ak.Array | None = None,
    b_pt_above: float | None = None,
) -> ak.Array:
    """For each object of ``a`` (jagged bool like ``a``): does an object of ``b`` lie within
    Delta R < ``cone`` of it?

    ``cone`` is a fixed radius, or ``"boosted-a"``/``"boosted-b"`` for the boosted-lepton cone
    computed from the pT of the A or B object. ``b_active`` limits which B objects count;
    ``b_pt_above`` = f counts only B objects with pT > f x pT(A) (ATLAS' muon-jet rule: a muon
    carrying more than half of a jet's pT).
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
    found = any_within(a_off, a_eta, a_phi, a_cone, b_off, b_eta, b_phi, b_cone, b_mask, a_pt, b_pt,
                       -1.0 if b_pt_above is None else float(b_pt_above))
    return ak.unflatten(found, np.diff(a_off))


def remove_overlap(
    a: ak.Array,
    b: ak.Array,
    cone: float | Literal["boosted-a", "boosted-b"],
    *,
    a_removable: ak.Array | None = None,
    b_active: ak.Array | None = None,
) -> ak.Array:
    """Collection ``a`` without the objects lying within Delta R < ``cone`` of any object of ``b``
    (see :func:`overlapping`). ``a_removable`` (jagged bool like ``a``) protects A objects where
    False (e.g. b-tagged jets)."""
    overlaps = overlapping(a, b, cone, b_active=b_active)
    if a_removable is not None:
        overlaps = overlaps & a_removable
    return a[~overlaps]
