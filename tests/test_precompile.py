"""Kernels compiled ahead of time into the wheel (``recast.precompile``): the usual commands,
run from a freshly installed wheel with an empty user cache, compile nothing and give what a run
that compiled gives; a kernel whose source has changed since the build is compiled again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recast import precompile

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A wheel built from this source tree (kernels compiled in, as ``pip install .`` does) and
    installed by pip into a directory of its own."""
    site = tmp_path_factory.mktemp("wheel") / "site"
    try:
        precompile.install_wheel(ROOT, site)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"{exc.cmd[3:5]} failed: {exc.stderr.decode()[-2000:]}")
    return site


def _env(site: Path, cache: Path) -> dict[str, str]:
    """A user's environment for the installed wheel: an empty user cache, numba's caching as recast sets it."""
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES")}
    env["PYTHONPATH"] = str(site)
    env["RECAST_CACHE_DIR"] = str(cache)
    return env


def test_the_wheel_holds_every_listed_kernel(site):
    manifest = json.loads((site / "recast" / "_kernels" / precompile.MANIFEST).read_text())
    listed = json.loads(precompile.SIGNATURES.read_text())
    assert manifest["failed"] == []
    assert len(manifest["compiled"]) == len(listed) > 50
    assert {e["function"] for e in listed} >= {"parse_hepmc3", "parse_hepmc2", "_cluster_events", "_tree_sums"}


def test_a_first_run_from_the_wheel_compiles_nothing_and_gives_the_same(site, tmp_path):
    """Every command the kernels were listed for (Pythia, HepMC3 plain and gzip, HepMC2, the
    pyhepmc reader, both detector cards), run from the installed wheel with an empty user cache:
    numba writes nothing there (nothing was compiled), and the gzip run's signal regions equal
    those of the same run from the test environment's recast."""
    cache = tmp_path / "cache"
    precompile.run_workloads(tmp_path, _env(site, cache))
    assert (site / "recast" / "__init__.py").exists()
    compiled = sorted(p.name for p in cache.rglob("*.nbi"))
    assert compiled == [], (f"compiled at first use, not shipped: {compiled} "
                            "(after changing a kernel: python -m recast.precompile harvest)")
    for name in ("pythia", "gz", "hepmc2", "pyhepmc", "truth", "atlas-run2"):
        assert len(list((tmp_path / name).glob("*.json"))) == 3, name

    again = tmp_path / "again"
    gz = next(a for a in precompile.workloads(tmp_path) if "gz" in a[-1])
    args = [*gz[:-1], str(again)]
    subprocess.run([sys.executable, "-m", "recast.cli", *args], check=True, cwd=tmp_path, capture_output=True)
    for shipped in sorted((tmp_path / "gz").glob("*.json")):
        a, b = (json.loads(p.read_text()) for p in (shipped, again / shipped.name))
        assert a["signal_regions"] == b["signal_regions"], shipped.name
        assert a["histograms"] == b["histograms"], shipped.name


_ONE_KERNEL = """
import json
import numpy as np
from recast.objects.kinematics import nearest_within
offsets = np.array([0, 2], np.int64)
eta, phi = np.array([0.0, 1.0]), np.array([0.0, 0.0])
nearest = nearest_within(offsets, eta, phi, offsets, eta, phi, np.array([False, True]), 0.5).tolist()
stats = nearest_within.stats
print(json.dumps({"nearest": nearest, "loaded": sum(stats.cache_hits.values()),
                  "compiled": sum(stats.cache_misses.values())}))
"""


def test_a_kernel_whose_source_changed_since_the_build_compiles_again(site, tmp_path):
    """numba checks a shipped kernel against a hash of its source file: an edited installed file
    (here one comment more) must not load the old machine code, but compile again."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy, symlinks=True)
    env = _env(copy, tmp_path / "cache")

    def run() -> dict:
        done = subprocess.run([sys.executable, "-c", _ONE_KERNEL], env=env, capture_output=True, text=True,
                              check=True, cwd=tmp_path)  # not a checkout's top, whose recast/ would come first
        return json.loads(done.stdout)

    shipped = run()
    with open(copy / "recast" / "objects" / "kinematics.py", "a") as f:
        f.write("\n# edited after the build\n")
    edited = run()
    assert shipped == {"nearest": [-1, 1], "loaded": 1, "compiled": 0}
    assert edited == {"nearest": [-1, 1], "loaded": 0, "compiled": 1}
