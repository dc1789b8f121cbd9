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


P4 = ["px", "py", "pz", "E"]
BATCH_COLLECTIONS = {
    "particles": ["pid", *P4, "charge", "origin"],
    "bhadrons": P4,
    "chadrons": P4,
    "taus": [*P4, "charge", "hadronic", "origin"],
}


def _rows(events: ak.Array, fields: list[str]) -> list[list[tuple]]:
    """Per event, the sorted list of (field, ...) tuples: an order-independent comparison."""
    columns = [ak.to_list(events[f]) for f in fields]
    return [sorted(zip(*(c[i] for c in columns))) for i in range(len(events))]


def _assert_same_batches(a: ak.Array, b: ak.Array) -> None:
    assert len(a) == len(b)
    assert ak.to_list(a.event_number) == ak.to_list(b.event_number)
    assert ak.to_list(a.weight) == ak.to_list(b.weight)
    for coll, fields in BATCH_COLLECTIONS.items():
        ra, rb = _rows(a[coll], fields), _rows(b[coll], fields)
        bad = [i for i, (x, y) in enumerate(zip(ra, rb)) if x != y]
        assert not bad, f"{coll} differ in events {bad[:5]}"


@pytest.fixture(scope="session")
def event_rows():
    """``event_rows(collection, fields)``: per event, the sorted (field, ...) tuples."""
    return _rows


@pytest.fixture(scope="session")
def assert_same_batches():
    """Check that two event batches hold the same events: every collection compared per event,
    independently of the particles' order (a HepMC file stores them topologically sorted)."""
    return _assert_same_batches


def pytest_sessionfinish(session, exitstatus):
    """Failures make pytest exit non-zero; a selection that collects no tests does not."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK
