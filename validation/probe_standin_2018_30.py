"""`recast probe ANA-SUSY-2018-30 ...` with the tests' stand-in for the analysis' network.

    python validation/probe_standin_2018_30.py --slha gtt_2100_1.slha -n 3000 --out validation/reports/ANA-SUSY-2018-30/probe

The network of ATLAS-SUSY-2018-30 is in no mirror reachable here (FACTS section 9), so its
example probe report runs on the stand-in of ``tests/conftest.py`` (``StandIn2018_30``: 87 -> 8,
sigmoid of a linear map of the standardised inputs, node 0 reading MET, MET phi and the three
parameters, node 1 the leading jet's pT and two parameters). It shows the machinery on the real
inputs, standardisation, parameter columns and node choice: none of its scores, importances or
bands is a statement about ATLAS' network. The stand-in is written into a temporary mirror and
accepted by its git blob id for this process only, with a temporary cache, so nothing of it
stays behind. The arguments after the script's name are those of ``recast probe``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANALYSIS = "ANA-SUSY-2018-30"


def main(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("recast_tests_conftest", ROOT / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    standin = conftest.StandIn2018_30()

    from recast import artifacts
    from recast.cli import main as recast

    with tempfile.TemporaryDirectory() as tmp:
        mirror = Path(tmp) / "mirror"
        (mirror / ANALYSIS).mkdir(parents=True)
        data = standin.write(mirror / ANALYSIS / standin.MODEL)
        real = artifacts.registry
        artifacts.registry = lambda aid: [
            dataclasses.replace(a, git_blob=artifacts.git_blob_of(data), size=len(data)) if a.id == standin.MODEL else a
            for a in real(aid)]
        os.environ["RECAST_DATA_MIRROR"] = os.pathsep.join(
            [str(mirror)] + ([os.environ["RECAST_DATA_MIRROR"]] if os.environ.get("RECAST_DATA_MIRROR") else []))
        os.environ["RECAST_CACHE_DIR"] = str(Path(tmp) / "cache")
        return recast(["probe", ANALYSIS, *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
