"""recast.memory: with freed memory reused, a second array of the same size faults in no fresh
pages; without it (glibc's default for large sizes: fresh mmap pages each time) it faults in all."""

from __future__ import annotations

import subprocess
import sys

import pytest

FAULTS = """
import resource, sys
import numpy as np
from recast.memory import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
a = np.ones(8 << 20); del a  # 64 MB, touched, freed
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(8 << 20)  # the same size again, touched
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_chunks_arrays_reuse_the_previous_chunks_memory(tmp_path):
    faults = {mode: int(subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True,
                                       check=True, cwd=tmp_path).stdout)
              for mode in ("reuse", "default")}
    huge_pages = (64 << 20) // (2 << 20)  # numpy asks for huge pages on large arrays: one fault each at least
    assert faults["default"] >= huge_pages  # measured 544
    assert faults["reuse"] <= 2  # measured 0
