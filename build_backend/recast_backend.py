"""recast's build backend: setuptools' own, and a wheel build compiles the numba kernels ahead of
time into the wheel (``recast/_kernels``, see ``recast/precompile.py``), so that the first run
after ``pip install`` does not compile them.

A wheel build needs recast's run-time dependencies (compiling imports the kernels' modules):
``get_requires_for_build_wheel`` adds them, read from ``pyproject.toml``. Editable installs and
sdists are setuptools' own. ``RECAST_NO_PRECOMPILE=1`` builds a wheel without the kernels; a
compile that fails leaves them to the first run, as without this, and the build goes on.
"""

from __future__ import annotations

import os
import subprocess
import sys

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 - every other hook is setuptools' own
from setuptools.command.build_py import build_py
from setuptools.config.pyprojecttoml import read_configuration


def get_requires_for_build_wheel(config_settings=None):
    dependencies = read_configuration("pyproject.toml")["project"]["dependencies"]
    return [*_setuptools.get_requires_for_build_wheel(config_settings), *dependencies]


class BuildPyWithKernels(build_py):
    """setuptools' ``build_py``, then ``python -m recast.precompile build`` on the built package."""

    def run(self):
        super().run()
        if self.editable_mode or os.environ.get("RECAST_NO_PRECOMPILE"):
            return
        build_lib = os.path.abspath(self.build_lib)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (build_lib, os.environ.get("PYTHONPATH")) if p)}
        done = subprocess.run([sys.executable, "-m", "recast.precompile", "build"], env=env, cwd=build_lib)
        if done.returncode != 0:
            self.warn("recast: the numba kernels were not compiled ahead of time; the first run will compile them")
