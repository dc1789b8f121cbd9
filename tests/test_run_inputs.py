"""recast run: several analyses in one pass, LHE input showered by Pythia, and output locations
checked before any work and never losing what was computed."""

from __future__ import annotations

import gzip
import time

import pytest

from recast import results
from recast.cli import main

A30, A22, A19 = "ANA-SUSY-2018-30", "ANA-SUSY-2018-22", "ANA-SUSY-2019-04"


def _yields(doc: dict) -> dict[str, tuple]:
    return {sr["name"]: (sr["n"], sr["sumw"], sr["yield"]) for sr in doc["signal_regions"]}


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [e for e in err if e.startswith("recast: error: ")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err), err
    return errors[0]


# -- several analyses, one pass -------------------------------------------------------------------


def test_several_analyses_in_one_pass_equal_separate_runs(gtt_sample, tmp_path, capsys):
    events = str(gtt_sample[1])
    both = tmp_path / "both"
    assert main(["run", A30, A22, "--events", events, "--xsec-fb", "1.5", "-q", "--out", str(both),
                 "-O", f"{A30}:zero_lepton_veto=signal", "-O", "jvt=none"]) == 0
    assert sorted(p.name for p in both.iterdir()) == [f"{A22}.json", f"{A30}.json"]
    for aid, opts in ((A30, ["-O", "zero_lepton_veto=signal", "-O", "jvt=none"]), (A22, [])):  # jvt is an option of 2018-30 only
        alone = tmp_path / f"{aid}.json"
        assert main(["run", aid, "--events", events, "--xsec-fb", "1.5", "-q", "--out", str(alone), *opts]) == 0
        together, single = results.read(both / f"{aid}.json"), results.read(alone)
        assert together["analysis"]["options"] == single["analysis"]["options"]
        assert _yields(together) == _yields(single) and together["events"]["n"] == 120
    assert results.read(both / f"{A30}.json")["analysis"]["options"]["zero_lepton_veto"] == "signal"
    capsys.readouterr()


def test_all_analyses_and_option_errors(gtt_sample, tmp_path, capsys):
    out = tmp_path / "all"
    assert main(["run", "--analyses", "all", "--events", str(gtt_sample[1]), "-n", "30", "-q", "--out", str(out)]) == 0
    assert sorted(p.stem for p in out.iterdir()) == sorted([A22, A30, A19])
    assert all(results.read(p)["events"]["n"] == 30 for p in out.iterdir())
    capsys.readouterr()
    assert main(["run", A30, A22, "--events", str(gtt_sample[1]), "-O", "jvtt=none"]) == 2
    assert "none of ANA-SUSY-2018-30, ANA-SUSY-2018-22 has this option; did you mean 'jvt'?" in _one_error(capsys)
    assert main(["run", A30, "--events", str(gtt_sample[1]), "-O", f"{A22}:jvt=none"]) == 2
    assert "is not one of the analyses run" in _one_error(capsys)
    start = time.perf_counter()
    assert main(["run", A30, A22, "--events", str(gtt_sample[1]), "--out", str(tmp_path / "r.json")]) == 2
    assert "with several analyses, give a directory" in _one_error(capsys)
    assert time.perf_counter() - start < 5 and not (tmp_path / "r.json").exists()


# -- LHE input --------------------------------------------------------------------------------------


def test_lhe_input_is_showered_and_reproducible(gtt_lhe, gtt_slha, gtt_sample, tmp_path, capsys):
    lhe, xs_pb = gtt_lhe
    gz = tmp_path / "gtt.lhe.gz"
    gz.write_bytes(gzip.compress(lhe.read_bytes()))
    docs = []
    for path in (lhe, gz):
        out = tmp_path / f"{path.name}.json"
        assert main(["run", A30, "--lhe", str(path), "--slha", str(gtt_slha), "--seed", "3", "-q",
                     "--out", str(out)]) == 0
        docs.append(results.read(out))
    plain, zipped = docs
    assert plain["events"]["n"] == 80  # every event of the file, showered
    assert plain["input"]["kind"] == "lhe" and plain["input"]["generator"]["process"] is None
    assert plain["input"]["generator"]["sqrt_s_gev"] == 13000.0
    assert "Beams:frameType = 4" in plain["input"]["generator"]["settings"]
    xs = plain["cross_section"]
    assert xs["kind"] == "generator" and xs["value_fb"] == pytest.approx(xs_pb * 1000, rel=1e-6)
    assert "LHE file" in xs["source"]
    assert _yields(plain) == _yields(zipped)  # gzip or not: the same events, the same showers
    # the same model generated directly by Pythia (gtt_sample, 120 events): the showered LHE events must
    # pass the b-tag and lepton steps of Gtt-1L as often, within 3 sigma (binomial, pooled)
    direct = tmp_path / "direct.json"
    assert main(["run", A30, "--events", str(gtt_sample[1]), "-q", "--out", str(direct)]) == 0
    for step in ("N_b >= 3", ">= 1 signal lepton"):
        k = [next(s["n"] for s in doc["signal_regions"][4]["cutflow"] if s["step"] == step)
             for doc in (plain, results.read(direct))]
        n = [80, 120]
        pooled = sum(k) / sum(n)
        sigma = (pooled * (1 - pooled) * (1 / n[0] + 1 / n[1])) ** 0.5
        assert k[0] / n[0] > 0.2 and abs(k[0] / n[0] - k[1] / n[1]) < 3 * sigma, (step, k)
    err = capsys.readouterr().err
    assert "cross section taken from the LHE file" in err


def test_lhe_event_count_and_bad_lhe(gtt_lhe, gtt_slha, tmp_path, capsys):
    lhe, _ = gtt_lhe
    out = tmp_path / "r.json"
    assert main(["run", A30, "--lhe", str(lhe), "--slha", str(gtt_slha), "-n", "25", "-q", "--out", str(out)]) == 0
    assert results.read(out)["events"]["n"] == 25
    assert main(["run", A30, "--lhe", str(lhe), "--slha", str(gtt_slha), "-n", "200", "-q", "--out", str(out)]) == 0
    doc = results.read(out)
    assert doc["events"]["n"] == 80 and any("holds 80 events, fewer than the 200" in n for n in doc["notes"])
    capsys.readouterr()
    not_lhe = tmp_path / "x.lhe"
    not_lhe.write_text("HepMC::Version 3\n")
    assert main(["run", A30, "--lhe", str(not_lhe)]) == 2
    assert f"{not_lhe}: not a Les Houches Event file" in _one_error(capsys)
    assert main(["run", A30, "--lhe", str(lhe), "--events", str(lhe)]) == 2
    assert "give one event input" in _one_error(capsys)


def test_generate_showers_an_lhe_file(gtt_lhe, gtt_slha, tmp_path, capsys):
    from recast.events import HepMCSource

    out = tmp_path / "showered.hepmc.gz"
    assert main(["generate", "--lhe", str(gtt_lhe[0]), "--slha", str(gtt_slha), "-n", "10", "-o", str(out)]) == 0
    assert sum(len(b) for b in HepMCSource(out)) == 10
    assert "the LHE file's cross section" in capsys.readouterr().err


# -- output locations ------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["run", A30, "--slha", "{card}", "-n", "5000", "--out", "{bad}/r.json"],
    ["run", A30, "--slha", "{card}", "-n", "5000", "--hepmc-out", "{bad}/e.hepmc"],
    ["generate", "--slha", "{card}", "-n", "5000", "-o", "{bad}/e.hepmc"],
    ["make-slha", "gtt", "--m-gluino", "2000", "--m-lsp", "1", "-o", "{bad}/c.slha"],
    ["scan", "{card}", "--analyses", A30, "--out", "{bad}/scan"],
    ["plot-exclusion", "{tmp}", "--out", "{bad}/plot"],
])
def test_unwritable_outputs_fail_before_any_work(argv, gtt_slha, tmp_path, capsys):
    bad = tmp_path / "a-file"
    bad.write_text("not a directory")
    argv = [a.format(card=gtt_slha, bad=bad, tmp=tmp_path) for a in argv]
    start = time.perf_counter()
    assert main(argv) == 2
    line = _one_error(capsys)
    assert str(bad) in line and "is a file" in line
    assert time.perf_counter() - start < 5  # nothing generated: 5000 events take a minute


def test_results_survive_a_failing_write(gtt_sample, tmp_path, monkeypatch, capsys):
    from recast import output

    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / "out" / "r.json"
    real = output.write_bytes

    def disk_full(path, data):
        if path == target:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(output, "write_bytes", disk_full)
    assert main(["run", A30, "--events", str(gtt_sample[1]), "-q", "--out", str(target)]) == 2
    line = _one_error(capsys)
    assert f"{target}: cannot write the results (No space left on device); they were saved to" in line
    saved = sorted((tmp_path / "cache" / "unsaved").iterdir())
    assert len(saved) == 1 and str(saved[0]) in line
    doc = results.read(saved[0])
    assert doc["events"]["n"] == 120 and not target.exists()


def test_lhe_beams_are_checked_against_the_analysis(gtt_lhe, gtt_slha, tmp_path, capsys):
    lhe = tmp_path / "gtt_8tev.lhe"
    lhe.write_text(gtt_lhe[0].read_text().replace("\n2212 2212 6.5e3 6.5e3 ", "\n2212 2212 4.0e3 4.0e3 ", 1))
    argv = ["run", A30, "--lhe", str(lhe), "--slha", str(gtt_slha), "-n", "10", "-q"]
    assert main(argv) == 2
    line = _one_error(capsys)
    assert f"{lhe}: p p beams of 4000 GeV and 4000 GeV (sqrt(s) = 8000 GeV" in line
    assert f"but {A30} needs p p collisions at sqrt(s) = 13000 GeV; give --allow-beam-mismatch" in line
    assert main(argv + ["--allow-beam-mismatch"]) == 0
    assert "(running anyway: --allow-beam-mismatch)" in capsys.readouterr().err
