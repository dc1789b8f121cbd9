"""Counter-based random numbers: a uniform number per (seed, stream, event number, object index).

Efficiencies (b-tagging, JVT: :mod:`recast.objects`) are applied by comparing such a number with
the efficiency, and the ``random`` fold rule of models (:mod:`recast.models.runtime`) draws one per
event. The number depends only on the event's own identity, never on the chunk size, the order of
events or what else ran, so reruns (and reruns with other chunk sizes or other analyses) are
identical.
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective avalanche of 64-bit integers."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform(seed: int, stream: str, event_number: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Uniform numbers in [0, 1), one per element of ``event_number``/``index`` (broadcast)."""
    key = np.uint64((int(seed) & 0xFFFFFFFF) << 32 | zlib.crc32(stream.encode()))
    with np.errstate(over="ignore"):
        ev = np.asarray(event_number).astype(np.int64).view(np.uint64)
        ix = np.asarray(index).astype(np.int64).view(np.uint64)
        h = _mix(_mix(key + _GOLDEN) ^ (ev * _GOLDEN))
        h = _mix(h ^ (ix + _GOLDEN))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
