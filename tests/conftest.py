"""Shared fixtures: a small Pythia sample generated once per test session (fixed seed), written
to HepMC3 as well, so that tests compare the in-process and file paths on the same events."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import pytest

from recast.events import PythiaConfig, PythiaSource
from recast.slha import simplified_model

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def gtt_slha(tmp_path_factory) -> Path:
    """Gtt simplified model, m(gluino) = 2100 GeV, m(LSP) = 1 GeV."""
    path = tmp_path_factory.mktemp("slha") / "gtt_2100_1.slha"
    path.write_text(simplified_model("gtt", 2100, 1))
    return path


@pytest.fixture(scope="session")
def gtt_sample(gtt_slha, tmp_path_factory):
    """(batch from Pythia directly, path of the same events as HepMC3 .gz, PythiaSource).

    120 events of Gtt(2100, 1), seed 11, generated in chunks of 50.
    """
    out = tmp_path_factory.mktemp("events") / "gtt.hepmc.gz"
    src = PythiaSource(PythiaConfig(slha=gtt_slha, nevents=120, seed=11), chunk_size=50, hepmc_out=out)
    batch = ak.concatenate(list(src))
    return batch, out, src


def pytest_sessionfinish(session, exitstatus):
    """Failures make pytest exit non-zero; a selection that collects no tests does not."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK
