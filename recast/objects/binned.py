"""Look-up of binned tables (efficiencies in pT bins) for flat or jagged arrays."""

from __future__ import annotations

from collections.abc import Sequence

import awkward as ak
import numpy as np


def binned(x, edges: Sequence[float], values: Sequence[float], underflow: float | None = None,
           overflow: float | None = None):
    """``values[k]`` for ``edges[k] <= x < edges[k + 1]``; ``underflow``/``overflow`` outside
    (default: the first/last value). ``x`` may be numpy or (jagged) awkward."""
    edges = np.asarray(edges, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if len(edges) != len(values) + 1:
        raise ValueError("need one more bin edge than values")
    table = np.concatenate([[values[0] if underflow is None else underflow], values,
                            [values[-1] if overflow is None else overflow]])
    if isinstance(x, ak.Array):
        counts = ak.num(x, axis=1)
        flat = ak.to_numpy(ak.flatten(x))
        return ak.unflatten(table[np.searchsorted(edges, flat, side="right")], counts)
    return table[np.searchsorted(edges, np.asarray(x), side="right")]
