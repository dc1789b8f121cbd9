"""Bad input through the command line: one line on stderr naming the file (and, for a corrupt or
truncated event, the event and the line), exit code 2, never a traceback; with --out, the
events before a failure are still written, marked incomplete."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recast import results
from recast.cli import main
from recast.slha import simplified_model

DATA = Path(__file__).parent / "data"
HAND3 = DATA / "handmade.hepmc3"
HAND2 = DATA / "handmade.hepmc2"
ANA = "ANA-SUSY-2018-30"


def run_cli(capfd, *args: str) -> tuple[int, list[str], str]:
    """Run ``recast ARGS``; returns (exit code, stderr lines, stdout). capfd sees what C/C++
    libraries write to the file descriptors too."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    out, err = capfd.readouterr()
    return code, err.splitlines(), out


def assert_one_error(code: int, err: list[str], out: str, *fragments: str) -> str:
    assert code == 2
    assert "Traceback" not in "\n".join(err) + out
    assert len(err) == 1, err
    assert err[0].startswith("recast: error: "), err
    for f in fragments:
        assert f in err[0], (f, err[0])
    assert out == ""
    return err[0]


def edit(src: Path, dst: Path, old: str, new: str) -> Path:
    text = src.read_text()
    assert text.count(old) == 1, old
    dst.write_text(text.replace(old, new))
    return dst


def first_lines(src: Path, dst: Path, n: int) -> Path:
    dst.write_text("".join(src.read_text().splitlines(keepends=True)[:n]))
    return dst


# -- event files ------------------------------------------------------------------------------

def _case(name: str, tmp: Path, reader: str = "columnar") -> tuple[Path, list[str]]:
    """A bad event file and the fragments its error line must contain (besides its path) with
    the given HepMC reader."""
    columnar = reader == "columnar"
    if name == "missing":
        return tmp / "nope.hepmc", ["no such file"]
    if name == "directory":
        (tmp / "adir").mkdir()
        return tmp / "adir", ["not a regular file"]
    if name == "empty":
        (tmp / "empty.hepmc").write_bytes(b"")
        return tmp / "empty.hepmc", ["empty file"]
    if name == "blank lines":
        (tmp / "blank.hepmc").write_text("\n  \n\n")
        return tmp / "blank.hepmc", ["empty file"]
    if name == "not hepmc":
        (tmp / "notes.hepmc").write_text("Some notes about the run\nnothing else\n")
        return tmp / "notes.hepmc", ["not a HepMC3 or HepMC2 ASCII file", "Some notes"]
    if name == "header only":
        (tmp / "hdr.hepmc").write_text("HepMC::Version 3.02.05\nHepMC::Asciiv3-START_EVENT_LISTING\n")
        return tmp / "hdr.hepmc", ["no events in file"]
    if name == "truncated":  # cut after line 20, inside event 1 (13 particles declared, 11 there)
        # the columnar reader counts the vertices as HepMC3 does: V lines and implied ones
        return first_lines(HAND3, tmp / "cut.hepmc", 20), [
            "event 1, line 20:", "truncated", "declares 13 particles and 5 vertices",
            "11 particles and 5 vertices" if columnar else "11 particles and 1 vertices follow"]
    if name == "truncated hepmc2":  # inside event 2: V -1 (2 orphans + 1 out), V -2 (3 out)
        return first_lines(HAND2, tmp / "cut2.hepmc", 35), [
            "event 2, line 35:", "truncated",
            "6 vertices declared, 2 vertices and 6 particles follow" if columnar
            else "6 vertices and 6 particles declared, 2 vertices and 6 particles follow"]
    if name == "letters":
        return edit(HAND3, tmp / "letters.hepmc", "P 9 6 -13 3000.0", "P 9 6 -13 3x00.0"), [
            "event 1, line 18:", "malformed particle line", "3x00.0"]
    if name == "letters hepmc2":
        return edit(HAND2, tmp / "letters2.hepmc", "P 10 -211 25.0", "P 10 -211 2x5.0"), [
            "event 2, line 41:", "malformed particle line", "2x5.0"]
    if name == "letters in vertex":
        return edit(HAND3, tmp / "vertex.hepmc", "V -1 0 [1,2]\nP 3 -1 5", "V -1 0 [1,2] @ 0 0 1O 0\nP 3 -1 5"), [
            "event 1, line 11:", "malformed vertex line"]
    if name == "bad reference":  # no footer: the last event used to be dropped silently
        path = edit(HAND3, tmp / "ref.hepmc", "P 14 5 -16", "P 99 5 -16")
        path.write_text(path.read_text().replace("HepMC::Asciiv3-END_EVENT_LISTING\n", ""))
        if columnar:  # names the line and the cause
            return path, ["event 2, line 40:", "particle id 99 out of order (expected 14)", "P 99 5 -16"]
        return path, ["event 2, line 23:", "HepMC3 rejected this event"]
    if name == "nan":
        return edit(HAND3, tmp / "nan.hepmc", "P 9 6 -13 3000.0", "P 9 6 -13 nan"), [
            "event 1 (number 7), line 18: final-state particle (pid -13) with a non-finite momentum: "
            "'P 9 6 -13 nan 6000.0"]
    if name == "negative energy":  # the file's line names the particle: HepMC3 reorders HepMC2 particles
        return edit(HAND2, tmp / "negE.hepmc", "-4.0 20.0 32.3", "-4.0 20.0 -32.3"), [
            "event 2 (number 8), line 41: final-state particle (pid -211) with a negative energy: "
            "'P 10 -211 25.0 -4.0 20.0 -32.3 0.1396 1 0 0 0 0'"]
    if name == "corrupt gzip":
        blob = bytearray(gzip.compress(HAND3.read_bytes()))
        for k in range(30, 60, 3):
            blob[k] ^= 0xFF
        (tmp / "bad.hepmc.gz").write_bytes(bytes(blob))
        return tmp / "bad.hepmc.gz", ["cannot decompress"]
    if name == "truncated gzip":
        blob = gzip.compress(HAND3.read_bytes())
        (tmp / "short.hepmc.gz").write_bytes(blob[: len(blob) // 2])
        return tmp / "short.hepmc.gz", ["Compressed file ended"]
    raise AssertionError(name)


CASES = ["missing", "directory", "empty", "blank lines", "not hepmc", "header only", "truncated",
         "truncated hepmc2", "letters", "letters hepmc2", "letters in vertex", "bad reference", "nan",
         "negative energy", "corrupt gzip", "truncated gzip"]


@pytest.mark.parametrize("reader", ["columnar", "pyhepmc"])
@pytest.mark.parametrize("name", CASES)
def test_bad_event_file(name, reader, tmp_path, capfd):
    path, fragments = _case(name, tmp_path, reader)
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(path), "-q", "--reader", reader)
    assert_one_error(code, err, out, str(path), *fragments)


def test_bad_event_file_without_quiet(tmp_path, capfd):
    """The progress display and the reports stay out of the way of the one error line."""
    path, fragments = _case("letters", tmp_path)
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(path))
    assert_one_error(code, err, out, str(path), *fragments)


@pytest.mark.parametrize("name", ["nan", "negative energy"])
def test_both_readers_name_the_same_particle(name, tmp_path, capfd):
    """The particle at fault is named by the file's own line, not by a reader's index (HepMC3
    reorders HepMC2 particles: the two readers used to say "particle 10" and "particle 13")."""
    path, _ = _case(name, tmp_path)
    lines = []
    for reader in ("columnar", "pyhepmc"):
        code, err, out = run_cli(capfd, "run", ANA, "--events", str(path), "-q", "--reader", reader)
        lines.append(assert_one_error(code, err, out, str(path)))
    assert lines[0] == lines[1]


def test_a_crash_of_hepmc3_is_one_line(tmp_path):
    """HepMC3 3.2 (pyhepmc 2.16) dies with a segmentation fault on Sherpa's vertex weights on a
    beam-remnant vertex: the recast process used to die with it (exit status 139, no message)."""
    path = DATA / "remnants.hepmc2"
    proc = subprocess.run([sys.executable, "-m", "recast.cli", "run", ANA, "--events", str(path), "-q",
                           "--reader", "pyhepmc"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == [
        f"recast: error: {path}: event 1: HepMC3 (inside pyhepmc {pyhepmc_version()}, the pyhepmc reader) crashed "
        f"reading this event (SIGSEGV); the default columnar reader does not depend on it"]


def pyhepmc_version() -> str:
    import pyhepmc

    return pyhepmc.__version__


# -- the collision an event file shows ---------------------------------------------------------

def _collision_file(tmp: Path, name: str, beams: list[str], final: list[str], unit: str = "GEV") -> Path:
    """A HepMC3 file of one event: two beams into vertex -1, final-state particles out of it."""
    lines = ["HepMC::Version 3.02.05", "HepMC::Asciiv3-START_EVENT_LISTING", f"E 1 1 {2 + len(final)}",
             f"U {unit} MM"]
    lines += [f"P {i + 1} 0 {b} 4" for i, b in enumerate(beams)] + ["V -1 0 [1,2]"]
    lines += [f"P {i + 3} -1 {f} 1" for i, f in enumerate(final)] + ["HepMC::Asciiv3-END_EVENT_LISTING"]
    path = tmp / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_other_beams_are_refused_before_the_analysis_runs(tmp_path, capfd):
    """e+e- -> Z at 91.2 GeV and a 10 TeV cosmic-ray proton on a nitrogen nucleus at rest used to
    run through the 13 TeV pp analysis without a word."""
    z = _collision_file(tmp_path, "z.hepmc", ["11 0 0 45.6 45.6 0.000511", "-11 0 0 -45.6 45.6 0.000511"],
                        ["13 10.0 20.0 30.0 38.7427 0.10566", "-13 -10.0 -20.0 -30.0 38.7427 0.10566"])
    out_json = tmp_path / "z.json"
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(z), "-q", "--out", str(out_json))
    assert_one_error(code, err, out, f"{z}: e- e+ beams of 45.6 GeV and 45.6 GeV (sqrt(s) = 91.2 GeV, momenta read "
                                     f"in GEV), but {ANA} needs p p collisions at sqrt(s) = 13000 GeV; give "
                                     f"--allow-beam-mismatch to run anyway")
    assert not out_json.exists()  # refused before any event was analysed
    # the beams as written: (0, 0, 10000, 10000) and (0, 0, 0, 13.04): sqrt(2 * 10000 * 13.04 + 13.04^2) GeV
    cosmic = _collision_file(tmp_path, "cosmic.hepmc", ["2212 0 0 10000.0 10000.0 0.938272",
                                                        "1000070140 0 0 0 13.04 13.04"],
                             ["2212 1.0 2.0 9000.0 9000.0 0.938272", "211 -1.0 -2.0 1000.0 1013.04 0.13957"])
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(cosmic), "-q")
    assert_one_error(code, err, out, "p N14 beams of 10000 GeV and 13.04 GeV (sqrt(s) = 510.852 GeV",
                     "--allow-beam-mismatch")
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(cosmic), "-q", "--allow-beam-mismatch")
    assert code == 0 and out == ""
    assert err == [f"recast: warning: {cosmic}: p N14 beams of 10000 GeV and 13.04 GeV (sqrt(s) = 510.852 GeV, "
                   f"momenta read in GEV), but {ANA} needs p p collisions at sqrt(s) = 13000 GeV (running anyway: "
                   f"--allow-beam-mismatch)"]


def test_a_gev_file_labelled_mev_is_caught(tmp_path, capfd):
    """Momenta in GeV under a MEV label used to give all-zero yields silently: the beams show
    sqrt(s) = 13 GeV, which points at the label, and --momentum-unit GEV reads it right."""
    beams = ["2212 0 0 6500.0 6500.0 0.938272", "2212 0 0 -6500.0 6500.0 0.938272"]
    final = ["13 300.0 40.0 50.0 306.7 0.10566", "-13 -300.0 -40.0 -50.0 306.7 0.10566"]
    path = _collision_file(tmp_path, "labelled-mev.hepmc", beams, final, unit="MEV")
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(path), "-q")
    assert_one_error(code, err, out, f"{path}: p p beams of 6.5 GeV and 6.5 GeV (sqrt(s) = 13 GeV, momenta read in "
                                     f"MEV), but {ANA} needs p p collisions at sqrt(s) = 13000 GeV; the momentum unit "
                                     f"looks wrong (the file says MEV): in GEV the file's sqrt(s) would be 13000 GeV, "
                                     f"give --momentum-unit GEV if that is what it holds; give --allow-beam-mismatch "
                                     f"to run anyway")
    for unit in ("GEV", "gev"):
        code, err, out = run_cli(capfd, "run", ANA, "--events", str(path), "-q", "--momentum-unit", unit,
                                 "--out", str(tmp_path / "r.json"))
        assert code == 0 and err == [f"recast: wrote {tmp_path / 'r.json'}"]
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(path), "-q", "--momentum-unit", "TEV")
    assert_one_error(code, err, out, "--momentum-unit", "invalid choice: 'TEV'")


def test_hepmc3_complaints_stay_off_both_streams(tmp_path):
    """HepMC3 prints its own diagnostics (to stdout via printf, buffered in a pipe, and to
    stderr): in a real process, with pipes, only our line may appear."""
    path, fragments = _case("truncated", tmp_path)
    # run outside the checkout: from its top directory, "python -m" would import the source tree's
    # recast/, which lacks the recast.analyses that installing maps in
    proc = subprocess.run([sys.executable, "-m", "recast.cli", "run", ANA, "--events", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(f"recast: error: {path}: event 1, line 20:")


# -- failure after some events: the partial result is kept ------------------------------------

@pytest.fixture(scope="module")
def first30(gtt_sample, tmp_path_factory) -> tuple[Path, list[int]]:
    """The first 30 events of the fixture as plain text, and the line numbers of their E lines."""
    out = tmp_path_factory.mktemp("partial") / "first30.hepmc"
    starts = []
    with gzip.open(gtt_sample[1], "rb") as src, open(out, "wb") as dst:
        for lineno, line in enumerate(src, 1):
            if line.startswith(b"E "):
                if len(starts) == 30:
                    break
                starts.append(lineno)
            dst.write(line)
    return out, starts


def _check_partial(doc_path: Path, error_line: str, n_events: int) -> dict:
    doc = results.read(doc_path)  # validates against the schema
    assert doc["complete"] is False
    assert doc["error"] and doc["error"] in error_line
    assert doc["events"]["n"] == n_events
    assert doc["events"]["sumw"] == pytest.approx(n_events)
    regions = doc["signal_regions"]
    assert regions and all(r["cutflow"][0]["n"] == n_events for r in regions)
    return doc


def test_corrupt_line_after_first_chunks_keeps_partial_results(first30, tmp_path, capfd):
    src, starts = first30
    lines = src.read_bytes().splitlines(keepends=True)
    target = starts[22] + 5  # a particle line of event 23
    assert lines[target - 1].startswith(b"P ")
    fields = lines[target - 1].split(b" ")
    fields[4] = b"1.2.3"
    lines[target - 1] = b" ".join(fields)
    bad = tmp_path / "corrupt.hepmc"
    bad.write_bytes(b"".join(lines))
    out_json = tmp_path / "res.json"
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(bad), "--chunk-size", "10", "-q",
                             "--out", str(out_json))
    assert code == 2 and out == ""
    errors = [e for e in err if e.startswith("recast: error: ")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err)
    assert f"{bad}: event 23, line {target}: malformed particle line" in errors[0]
    assert any(e.startswith("recast: wrote") and "(incomplete)" in e for e in err)
    _check_partial(out_json, errors[0], 22)  # every good event before the bad one, not whole chunks


def test_truncated_file_after_first_chunk_keeps_partial_results(first30, tmp_path, capfd):
    src, starts = first30
    lines = src.read_bytes().splitlines(keepends=True)
    cut = starts[14] + 100  # inside event 15
    bad = tmp_path / "truncated.hepmc"
    bad.write_bytes(b"".join(lines[:cut]))
    out_json = tmp_path / "res.json"
    code, err, _ = run_cli(capfd, "run", ANA, "--events", str(bad), "--chunk-size", "6", "-q",
                           "--out", str(out_json))
    errors = [e for e in err if e.startswith("recast: error: ")]
    assert code == 2 and len(errors) == 1
    assert f"{bad}: event 15, line {cut}: file ends in the middle of the event" in errors[0]
    _check_partial(out_json, errors[0], 14)


def test_corrupt_gzip_stream_after_first_chunk_keeps_partial_results(first30, tmp_path, capfd):
    src, _ = first30
    blob = gzip.compress(src.read_bytes(), compresslevel=1)
    bad = tmp_path / "short.hepmc.gz"
    bad.write_bytes(blob[: int(len(blob) * 0.6)])
    out_json = tmp_path / "res.json"
    code, err, _ = run_cli(capfd, "run", ANA, "--events", str(bad), "--chunk-size", "5", "-q",
                           "--out", str(out_json))
    errors = [e for e in err if e.startswith("recast: error: ")]
    assert code == 2 and len(errors) == 1, err
    assert f"{bad}: event " in errors[0] and "cannot decompress" in errors[0]
    assert "Compressed file ended before the end-of-stream marker" in errors[0]
    doc = results.read(out_json)
    assert doc["complete"] is False and doc["events"]["n"] >= 10


def test_failure_before_any_event_writes_no_result(tmp_path, capfd):
    path, _ = _case("letters", tmp_path)
    out_json = tmp_path / "res.json"
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(path), "-q", "--out", str(out_json))
    assert_one_error(code, err, out, str(path))
    assert not out_json.exists()


# -- SLHA cards -------------------------------------------------------------------------------

def _card(kind: str, tmp: Path) -> tuple[Path, list[str]]:
    good = simplified_model("gtt", 2100, 1)
    path = tmp / f"{kind}.slha"
    if kind == "missing":
        return path, ["no such SLHA file"]
    if kind == "no gluino mass":
        path.write_text("\n".join(ln for ln in good.splitlines() if not ln.strip().startswith("1000021 ")))
        return path, ["no MASS entry for 1000021"]
    if kind == "no gluino decay":
        lines = good.splitlines()
        i = next(k for k, ln in enumerate(lines) if ln.startswith("DECAY   1000021"))
        path.write_text("\n".join(lines[:i] + lines[i + 2:]))
        return path, ["no DECAY block with decay channels for 1000021"]
    if kind == "garbage":
        path.write_text("this is not\nan SLHA card {}\n")
        return path, ["not a usable SLHA file"]
    if kind == "binary":
        path.write_bytes(bytes(range(256)) * 4)
        return path, ["cannot read SLHA file"]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "no gluino mass", "no gluino decay", "garbage", "binary"])
def test_bad_slha(kind, tmp_path, capfd):
    path, fragments = _card(kind, tmp_path)
    code, err, out = run_cli(capfd, "run", ANA, "--slha", str(path), "-n", "10", "-q")
    assert_one_error(code, err, out, str(path), *fragments)


def test_bad_slha_for_generate(tmp_path, capfd):
    path, fragments = _card("no gluino decay", tmp_path)
    code, err, out = run_cli(capfd, "generate", "--slha", str(path), "-n", "10",
                             "-o", str(tmp_path / "x.hepmc"))
    assert_one_error(code, err, out, str(path), *fragments)
    assert not list(tmp_path.glob("*x.hepmc*"))


# -- analysis names, options, command-line values ---------------------------------------------

def test_unknown_analysis_suggests_the_closest(capfd):
    code, err, out = run_cli(capfd, "run", "ANA-SUSY-2018-31", "--events", str(HAND3), "-q")
    assert_one_error(code, err, out, "unknown analysis 'ANA-SUSY-2018-31'",
                     "did you mean ANA-SUSY-2018-30?")
    code, err, out = run_cli(capfd, "info", "ANA-SUSY-2018-31")
    assert_one_error(code, err, out, "did you mean ANA-SUSY-2018-30?")


@pytest.mark.parametrize("args, fragments", [
    (["-O", "foo=1"], ["has no option 'foo'", "jvt"]),
    (["-O", "jvtt=none"], ["has no option 'jvtt'", "did you mean 'jvt'"]),
    (["-O", "jvt=maybe"], ["option jvt='maybe'", "none, gambit"]),
    (["-O", "btag_overflow_eff=high"], ["btag_overflow_eff='high'", "must be a number"]),
    (["-O", "jvt"], ["-O 'jvt'", "name=value"]),
    (["--xsec-fb", "-3"], ["--xsec-fb", "positive"]),
    (["--chunk-size", "0"], ["--chunk-size", "0 must be at least 1"]),
    (["-n", "0"], ["-n/--nevents", "0 must be at least 1"]),
    (["-n", "ten"], ["-n/--nevents", "'ten' is not a whole number"]),
    (["--process", "sleptons"], ["--process", "invalid choice"]),
    (["--no-such-flag"], ["unrecognized arguments: --no-such-flag"]),
])
def test_bad_option(args, fragments, capfd):
    code, err, out = run_cli(capfd, "run", ANA, "--events", str(HAND3), "-q", *args)
    assert_one_error(code, err, out, *fragments)


def test_argparse_errors_are_one_line_too(capfd):
    for argv in (["run"], ["generate", "--slha", "x.slha"], ["frobnicate"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        out, err = capfd.readouterr()
        assert exc.value.code == 2 and out == ""
        assert len(err.splitlines()) == 1 and err.startswith("recast: error: "), err


@pytest.mark.parametrize("args, fragment", [
    (["sqq", "--m-gluino", "1500"], "make-slha sqq: give the squark mass once, with --m-squark or --m-parent"),
    (["gqq", "--m-squark", "1500"], "make-slha gqq: give the gluino mass once, with --m-gluino or --m-parent"),
    (["gqq", "--m-gluino", "1500", "--m-parent", "1600"], "give the gluino mass once"),
    (["gqq"], "give the gluino mass once"),
])
def test_make_slha_parent_mass(args, fragment, capfd):
    code, err, out = run_cli(capfd, "make-slha", *args, "--m-lsp", "100")
    assert_one_error(code, err, out, fragment)


# -- files the user names: one mapping of read errors (recast.errors.read_bytes / read_text) ---------

def test_read_errors_are_one_line_naming_the_file(tmp_path):
    from recast.errors import ModelError, RecastError, read_bytes, read_text

    text = tmp_path / "table.csv"
    text.write_bytes(b"a,b\r\n1,2\r\n")
    assert read_bytes(text) == b"a,b\r\n1,2\r\n" and read_text(text) == "a,b\n1,2\n"  # text mode: CRLF read as LF
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(b"m\xe9ff\n")
    missing = tmp_path / "nope.xml"
    cases = [
        (lambda: read_bytes(missing, ModelError, "TMVA XML file"), f"{missing}: no such file"),
        (lambda: read_bytes(tmp_path, ModelError, "TMVA XML file"), f"{tmp_path}: is a directory, not a TMVA XML file"),
        (lambda: read_text(text / "x", ModelError), f"{text / 'x'}: cannot read: Not a directory"),
        (lambda: read_text(latin1, ModelError), f"{latin1}: not UTF-8 text (byte 0xe9 at offset 1)"),
    ]
    for read, message in cases:
        with pytest.raises(ModelError) as exc:
            read()
        assert str(exc.value) == message and exc.value.__cause__ is None and exc.value.__suppress_context__
    with pytest.raises(RecastError, match="no such file"):  # the default error type
        read_text(tmp_path / "nope.csv")


def test_tmva_reader_maps_read_errors_the_same_way(tmp_path):
    from recast.errors import ModelError
    from recast.models import tmva

    with pytest.raises(ModelError) as exc:
        tmva.read_xml(tmp_path)
    assert str(exc.value) == f"{tmp_path}: is a directory, not a TMVA XML file"
