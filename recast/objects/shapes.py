"""Event shapes of a set of objects."""

from __future__ import annotations

import awkward as ak
import numpy as np


def aplanarity(objects: ak.Array) -> np.ndarray:
    """Per event, 1.5 times the smallest eigenvalue of the sphericity tensor
    S_ab = sum p_a p_b / sum |p|^2 over the objects (``px, py, pz``): 0 for a planar event, 1/2
    for an isotropic one, 0 without objects."""
    comps = (objects.px, objects.py, objects.pz)
    norm = ak.to_numpy(ak.sum(objects.px**2 + objects.py**2 + objects.pz**2, axis=1))
    tensor = np.empty((len(norm), 3, 3))
    for a in range(3):
        for b in range(a, 3):
            tensor[:, a, b] = tensor[:, b, a] = ak.to_numpy(ak.sum(comps[a] * comps[b], axis=1))
    tensor /= np.where(norm > 0, norm, 1.0)[:, None, None]
    return 1.5 * np.clip(np.linalg.eigvalsh(tensor)[:, 0], 0.0, None)
