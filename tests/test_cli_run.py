"""The command line on its happy paths: list, info, make-slha, generate, run (twice, same seed)."""

from __future__ import annotations

import json

import pytest

from recast import results
from recast.cli import main

SR_NAMES = ["Gtt-0L-B", "Gtt-0L-M1", "Gtt-0L-M2", "Gtt-0L-C", "Gtt-1L-B", "Gtt-1L-M1", "Gtt-1L-M2",
            "Gtt-1L-C", "Gbb-B", "Gbb-M", "Gbb-C", "Gtb-B", "Gtb-M", "Gtb-C"]


def test_list_and_info(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "ANA-SUSY-2018-30" in out and "2211.08028" in out
    assert main(["info", "ATLAS-SUSY-2018-30"]) == 0
    out = capsys.readouterr().out
    for text in ("zero_lepton_veto", "overlap_removal", "btag_overflow_eff", "Gtb-C", "meff >= 1300", "0.81"):
        assert text in out


def test_run_from_slha_is_reproducible(tmp_path, capsys):
    card = tmp_path / "gtt.slha"
    assert main(["make-slha", "gtt", "--m-gluino", "2100", "--m-lsp", "1", "-o", str(card)]) == 0
    outs = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        assert main(["run", "ANA-SUSY-2018-30", "--slha", str(card), "-n", "150", "--seed", "5",
                     "--chunk-size", "60", "--out", str(out)]) == 0
        outs.append(results.read(out))
        printed = capsys.readouterr().out
        assert all(sr in printed for sr in SR_NAMES) and "Cutflow Gtt-0L" in printed
    a, b = outs
    assert [sr["name"] for sr in a["signal_regions"]] == SR_NAMES
    strip = lambda d: [(sr["n"], sr["sumw"], sr["yield"]) for sr in d["signal_regions"]]  # noqa: E731
    assert strip(a) == strip(b)
    assert a["cross_section"]["kind"] == "table" and a["cross_section"]["value_fb"] == pytest.approx(0.598)
    gen = a["input"]["generator"]
    assert gen["seed"] == 5 and gen["nevents"] == 150 and "Beams:eCM = 13000" in gen["settings"]
    assert a["input"]["kind"] == "pythia" and a["events"]["n"] == 150 and a["complete"]
    assert a["signal_regions"][0]["published"]["observed"] == 3
    assert a["software"]["pythia8mc"] == "8.317.2"


def test_generate_then_run_on_the_file(tmp_path, gtt_slha, capsys):
    events = tmp_path / "ev.hepmc.gz"
    assert main(["generate", "--slha", str(gtt_slha), "-n", "40", "--seed", "3", "-o", str(events)]) == 0
    out = tmp_path / "r.json"
    assert main(["run", "ANA-SUSY-2018-30", "--events", str(events), "--xsec-fb", "2.0", "-q", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["events"]["n"] == 40 and doc["cross_section"]["kind"] == "user"
    assert doc["input"]["sha256"] == results.sha256_of(events)
    first = doc["signal_regions"][0]["cutflow"][0]
    assert first["yield"] == pytest.approx(2.0 * 139.0)
    # with the SLHA card beside the events, the cross section comes from the NNLO+NNLL table
    assert main(["run", "ANA-SUSY-2018-30", "--events", str(events), "--slha", str(gtt_slha), "-q",
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text())["cross_section"]["kind"] == "table"


def test_extra_pythia_settings_are_used_and_recorded(tmp_path, gtt_slha, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "ANA-SUSY-2018-30", "--slha", str(gtt_slha), "-n", "20", "-q", "--out", str(out),
                 "--pythia-setting", "SpaceShower:pTmaxMatch = 1"]) == 0
    settings = results.read(out)["input"]["generator"]["settings"]
    assert "SpaceShower:pTmaxMatch = 1" in settings
    assert main(["run", "ANA-SUSY-2018-30", "--slha", str(gtt_slha), "-n", "5", "-q",
                 "--pythia-setting", "NoSuch:thing = 3"]) == 2
    assert "Pythia rejected the setting 'NoSuch:thing = 3'" in capsys.readouterr().err
