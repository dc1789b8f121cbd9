"""recast.kernels.borrowed: a view of the same memory, usable like the array it borrows."""

from __future__ import annotations

import numba
import numpy as np

from recast.kernels import borrowed


@numba.njit
def _fill(view, value):
    for i in range(view.shape[0]):
        for j in range(view.shape[1]):
            view[i, j] = value * (i + 1) + j


@numba.njit
def _through_borrowed(a, value):
    """Writes through a borrowed view passed on to another kernel; returns the view's shape and
    its sum read back through a word view of the same bytes."""
    v = borrowed(a)
    _fill(v, value)
    return v.shape[0], v.shape[1], v.strides[0], v.strides[1], v.sum()


def test_borrowed_view_is_the_same_memory():
    a = np.zeros((3, 4))
    assert _through_borrowed(a, 10.0) == (3, 4, 32, 8, 10 * 4 * 6 + 3 * 6)
    assert a.tolist() == [[10 * (i + 1) + j for j in range(4)] for i in range(3)]
    column_pairs = np.zeros((5, 6))[1:4, ::2]  # not contiguous: strides kept
    assert _through_borrowed(column_pairs, 1.0)[:4] == (3, 3, 48, 16)
    assert column_pairs.tolist() == [[(i + 1) + j for j in range(3)] for i in range(3)]


_COMPILE_ONE_KERNEL = """
import numpy as np
from recast.objects.kinematics import nearest_within
off = np.array([0, 1]); x = np.zeros(1)
assert nearest_within(off, x, x, off, x, x, np.ones(1, bool), 0.4).tolist() == [0]
"""


def _compiled_in(directory):
    return sorted(p.name.split("-")[0] for p in directory.rglob("*.nbi")) if directory.exists() else []


def test_kernels_are_cached_in_the_user_cache(tmp_path, empty_cache_env):
    """A first run's compiled kernels land in <RECAST_CACHE_DIR>/numba (child processes too),
    unless NUMBA_CACHE_DIR names another place."""
    import subprocess
    import sys

    env = empty_cache_env
    subprocess.run([sys.executable, "-c", _COMPILE_ONE_KERNEL], env=env, check=True)
    assert _compiled_in(tmp_path / "cache" / "numba") == ["kinematics.nearest_within"]

    env["RECAST_CACHE_DIR"] = str(tmp_path / "other")
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "chosen")
    subprocess.run([sys.executable, "-c", _COMPILE_ONE_KERNEL], env=env, check=True)
    assert _compiled_in(tmp_path / "chosen") == ["kinematics.nearest_within"]
    assert _compiled_in(tmp_path / "other") == []
