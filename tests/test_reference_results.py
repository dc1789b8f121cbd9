"""Results pinned bit for bit: one analysis per kind of source (HepMC file, Pythia from an SLHA
card, LHE file showered by Pythia) against result files written before the engine was
restructured (issue 13). Every count, sum of weights, A x eff, yield and histogram bin must be
identical; only what describes the run (time, paths, versions) is left out.

Options added since the files were written are run at the values that keep the old behaviour
(``-O detector=truth``) and must leave every number unchanged: :data:`SINCE` lists them, and for
ANA-SUSY-2019-04 the ``pseudo-continuous`` b-tag input, which on truth-tagged jets (bins 5 and 1)
must give exactly what the ``5/1/0`` encoding gave.

``RECAST_WRITE_REFERENCE=1 pytest tests/test_reference_results.py`` rewrites the files: do that only
for a change that is meant to change results, and say so in its commit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from recast import results
from recast.cli import main

REFERENCE = Path(__file__).parent / "data" / "reference"
WRITE = os.environ.get("RECAST_WRITE_REFERENCE") == "1"
TRUTH = ["-O", "detector=truth"]
SINCE = {"detector": "truth"}  # options added after the reference files, at their old-behaviour values
RENAMED_DEFAULTS = {"ANA-SUSY-2019-04": {"btag_encoding": ("5/1/0", "pseudo-continuous")}}


def _numbers(doc: dict) -> dict:
    """What a result says about the events: options, counts, cutflows, yields, histograms."""
    return {"analysis": doc["analysis"], "events": doc["events"], "cross_section": doc["cross_section"],
            "signal_regions": doc["signal_regions"], "skipped": doc["skipped_signal_regions"],
            "histograms": doc["histograms"], "complete": doc["complete"]}


def _check(name: str, out: Path) -> None:
    got = _numbers(results.read(out))
    options = got["analysis"]["options"]
    for key, value in SINCE.items():
        assert options.pop(key) == value
    for key, (old, new) in RENAMED_DEFAULTS.get(got["analysis"]["id"], {}).items():
        assert options[key] == new
        options[key] = old
    path = REFERENCE / f"{name}.json"
    if WRITE:
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(path.read_text())
    assert json.loads(json.dumps(got, sort_keys=True)) == want  # exact floats, through the same JSON round trip


def test_hepmc_file_2018_22(gtt_sample, tmp_path):
    out = tmp_path / "r.json"
    assert main(["run", "ANA-SUSY-2018-22", "--events", str(gtt_sample[1]), "--xsec-fb", "1.5", "--seed", "7",
                 "-q", "--out", str(out), *TRUTH]) == 0
    _check("hepmc_2018_22", out)


def test_pythia_slha_2019_04(tmp_path):
    from recast.slha import simplified_model

    card = tmp_path / "gtt_1800_200.slha"
    card.write_text(simplified_model("gtt", 1800, 200))
    out = tmp_path / "r.json"
    assert main(["run", "ANA-SUSY-2019-04", "--slha", str(card), "-n", "150", "--seed", "3", "--chunk-size", "70",
                 "-q", "--out", str(out), *TRUTH]) == 0
    _check("pythia_2019_04", out)


def test_lhe_2018_30(gtt_lhe, gtt_slha, tmp_path):
    out = tmp_path / "r.json"
    assert main(["run", "ANA-SUSY-2018-30", "--lhe", str(gtt_lhe[0]), "--slha", str(gtt_slha), "--seed", "5",
                 "-q", "--out", str(out), *TRUTH]) == 0
    _check("lhe_2018_30", out)


@pytest.mark.skipif(WRITE, reason="writing the reference files")
def test_reference_files_exist():
    assert sorted(p.name for p in REFERENCE.glob("*.json")) == ["hepmc_2018_22.json", "lhe_2018_30.json",
                                                                "pythia_2019_04.json"]
