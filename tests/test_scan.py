"""recast scan: grids, the combination rule, a real two-worker Dask cluster end to end through the
CLI (point files, summary, reruns, a broken card), an unreachable scheduler, and the exclusion
plot of a hand-written summary."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recast import parallel, scan, slha, xsec
from recast.cli import main
from recast.errors import RecastError
from recast.events import PythiaConfig, PythiaSource
from recast.events.pythia import get_process

ANA = "ANA-SUSY-2018-30"  # a few seconds per point with its limits (2018-22's combinations take minutes)


def _yaml(tmp_path: Path, text: str, name: str = "grid.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- grids ----------------------------------------------------------------------------------------


def test_template_grid_names_masses_seeds(tmp_path):
    path = _yaml(tmp_path, "{model: gqq, m_gluino: [1800, 2200], m_lsp: [100, 600, 2200], nevents: 300, seed: 5}\n")
    grid = scan.load_grid(path)
    assert [p.name for p in grid.points] == ["gqq_1800_100", "gqq_1800_600", "gqq_2200_100", "gqq_2200_600"]
    assert [(p.m_parent, p.m_lsp) for p in grid.points][1] == (1800.0, 600.0)
    assert grid.process == "gluino-pair" and grid.parent == "gluino" and grid.nevents == 300
    assert {p.nevents for p in grid.points} == {300}
    assert grid.notes == ["skipped gqq_1800_2200: m_lsp = 2200 GeV is not below m_gluino = 1800 GeV",
                          "skipped gqq_2200_2200: m_lsp = 2200 GeV is not below m_gluino = 2200 GeV"]
    seeds = [p.seed for p in grid.points]
    assert len(set(seeds)) == len(seeds) and all(1 <= s <= 900_000_000 for s in seeds)
    assert [p.seed for p in scan.load_grid(path).points] == seeds  # reproducible
    assert seeds[0] == scan.derive_seed(5, "gqq", 1800.0, 100.0)
    other = scan.load_grid(path, seed=6, nevents=50)  # the command line overrides the template
    assert other.nevents == 50 and {p.seed for p in other.points}.isdisjoint(seeds)
    # the card of each point is the simplified model at its masses
    doc = slha.read(_write(tmp_path / "c.slha", grid.points[3].slha_text))
    assert slha.mass(doc, slha.GLUINO) == 2200 and slha.mass(doc, slha.NEUTRALINO1) == 600


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_template_ranges_and_squarks(tmp_path):
    path = _yaml(tmp_path, "model: sqq\nm_squark: {start: 1000, stop: 1400, step: 200}\nm_lsp: 0\nname: sq\n")
    grid = scan.load_grid(path)
    assert [p.name for p in grid.points] == ["sq_1000_0", "sq_1200_0", "sq_1400_0"]
    assert grid.process == "squark-pair" and grid.parent == "squark"
    card = slha.read(_write(tmp_path / "sq.slha", grid.points[2].slha_text))
    slha.check_process(card, tmp_path / "sq.slha", get_process("squark-pair"))
    assert {slha.mass(card, pid) for pid in slha.LIGHT_SQUARKS} == {1400.0}
    assert slha.mass(card, slha.GLUINO) == 5000.0  # decoupled
    # the ten-squark table applies to the ten-squark model, and only to a degenerate spectrum
    xs = xsec.resolve(slha_doc=card, process="squark-pair", generator_fb=1.0)
    assert xs.kind == "table" and xs.value_fb == pytest.approx(4.77)
    split = slha.read(_write(tmp_path / "split.slha", slha.edited(grid.points[2].slha_text, masses={1000005: 2000})))
    assert xsec.resolve(slha_doc=split, process="squark-pair", generator_fb=1.0).kind == "generator"
    # the card generates with the squark-pair process
    src = PythiaSource(PythiaConfig(slha=tmp_path / "sq.slha", process="squark-pair", nevents=40, seed=3))
    n = sum(len(b) for b in src)
    assert n == 40 and 0.5 * 4.77 < src.sigma_gen_fb < 4.77  # leading order, below the NNLO+NNLL table


def test_file_grids(tmp_path):
    cards = tmp_path / "cards"
    cards.mkdir()
    _write(cards / "b.slha", slha.simplified_model("gbb", 1900, 300))
    _write(cards / "a.slha", slha.simplified_model("gtt", 1700, 10))
    _write(cards / "notes.txt", "not a card")
    _write(cards / "c.slha", "BLOCK MASS\n 1000021 garbage\n")
    grid = scan.load_grid(cards)
    assert grid.kind == "files" and [p.name for p in grid.points] == ["a", "b", "c"]
    assert grid.points[2].m_parent is None and grid.points[2].problem is None  # fails on its worker
    with pytest.raises(RecastError, match="c.slha: the MASS entry of 1000021 is not a number: 'garbage'"):
        slha.read(cards / "c.slha")
    assert (grid.points[1].m_parent, grid.points[1].m_lsp) == (1900.0, 300.0)
    assert grid.points[0].seed == scan.derive_seed(1, "file", "a")
    by_glob = scan.load_grid(str(cards / "a*.slha"), seed=3)
    assert [p.name for p in by_glob.points] == ["a"] and by_glob.points[0].seed == scan.derive_seed(3, "file", "a")


@pytest.mark.parametrize("text, expect", [
    ("{model: gqq, m_gluino: [1,2", "not valid YAML (line 1, column 28)"),
    ("[1, 2]", "a grid template is a YAML mapping"),
    ("{model: gxx, m_gluino: 1000, m_lsp: 1}", "unknown model 'gxx'"),
    ("{model: gqq, m_gluino: 1000, m_lsp: 1, colour: red}", "unknown key(s) colour"),
    ("{model: gqq, m_squark: 1000, m_lsp: 1}", "give m_gluino (or m_parent), not m_squark"),
    ("{model: gqq, m_gluino: 1000}", "no 'm_lsp'"),
    ("{model: gqq, m_gluino: {start: 1, stop: 0, step: 1}, m_lsp: 1}", "step > 0 and stop >= start"),
    ("{model: gqq, m_gluino: [1000, -5], m_lsp: 1}", "must be a mass in GeV"),
    ("{model: gqq, m_gluino: 1000, m_lsp: [1000, 1200]}", "no point with m_lsp below m_gluino"),
    ("{model: gqq, m_gluino: 1000, m_lsp: 1, nevents: 0}", "nevents must be a whole number >= 1"),
    ("{model: gqq, m_gluino: 1000, m_lsp: 1, process: warp-drive}", "unknown process 'warp-drive'"),
])
def test_bad_templates(tmp_path, text, expect):
    path = _yaml(tmp_path, text)
    with pytest.raises(RecastError) as err:
        scan.load_grid(path)
    msg = str(err.value)
    assert str(path) in msg and expect in msg and "\n" not in msg


def test_bad_input_through_the_cli(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    grid = _yaml(tmp_path, "{model: gqq, m_gluino: 2000, m_lsp: 100}")
    out = ["--out", str(tmp_path / "o")]
    cases = [
        (["scan", str(empty), "--analyses", ANA], "no SLHA files"),
        (["scan", str(tmp_path / "none" / "*.slha"), "--analyses", ANA], "no files match"),
        (["scan", str(tmp_path / "missing.yaml"), "--analyses", ANA], "missing.yaml: no such file"),
        (["scan", str(grid), "--analyses", "ANA-NOPE"], "unknown analysis 'ANA-NOPE'"),
        (["scan", str(grid), "--analyses", ANA, "-O", "no_such=1"], "has no option 'no_such'"),
        (["scan", str(grid), "--analyses", ANA, "--scheduler", "nonsense"], "not a scheduler address"),
    ]
    for argv, expect in cases:
        assert main(argv + out) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("recast: error: ") and expect in err[0], err
    assert not (tmp_path / "o").exists()  # nothing ran, nothing written


def test_options_for_several_analyses():
    s = scan.resolve_settings(["ATLAS-SUSY-2018-30", "ANA-SUSY-2018-22", ANA],  # an alias, and a repeat
                              {"zero_lepton_veto": "signal"}, {"ANA-SUSY-2018-22": {"sr4j_dphi_rest": "0.2"}})
    assert s.analyses == (ANA, "ANA-SUSY-2018-22")
    assert s.options[ANA]["zero_lepton_veto"] == "signal" and s.options["ANA-SUSY-2018-22"]["sr4j_dphi_rest"] == 0.2
    with pytest.raises(RecastError, match="ANA-SUSY-2018-22: option overlap_removal='fixed': choose one of simple"):
        scan.resolve_settings([ANA, "ANA-SUSY-2018-22"], {"overlap_removal": "fixed"})  # both have it
    with pytest.raises(RecastError, match="ANA-SUSY-2018-22 has no option 'met_phi_range'"):
        scan.resolve_settings(["ANA-SUSY-2018-22"], {}, {"ANA-SUSY-2018-22": {"met_phi_range": "pm-pi"}})
    with pytest.raises(RecastError, match="is not one of the analyses run"):
        scan.resolve_settings([ANA], {}, {"ANA-SUSY-2018-22": {"sr4j_dphi_rest": "0.2"}})


def test_settings_hash_tracks_what_changes_the_events():
    point = scan.GridPoint(name="p", process="gluino-pair", seed=3, nevents=100, slha_text="x")
    base = scan.Settings(analyses=(ANA,), options={ANA: {"a": 1}})
    h = scan.settings_hash(point, base)
    assert h == scan.settings_hash(point, scan.Settings(analyses=(ANA,), options={ANA: {"a": 1}}))
    changed = [
        scan.GridPoint(name="p", process="gluino-pair", seed=4, nevents=100, slha_text="x"),
        scan.GridPoint(name="p", process="gluino-pair", seed=3, nevents=101, slha_text="x"),
        scan.GridPoint(name="p", process="gluino-pair", seed=3, nevents=100, slha_text="y"),
    ]
    assert all(scan.settings_hash(p, base) != h for p in changed)
    for other in (scan.Settings(analyses=(ANA,), options={ANA: {"a": 2}}),
                  scan.Settings(analyses=(ANA,), options={ANA: {"a": 1}}, pythia_settings=("X = 1",)),
                  scan.Settings(analyses=(ANA, "ANA-SUSY-2019-04"), options={ANA: {"a": 1}}),
                  scan.Settings(analyses=(ANA,), options={ANA: {"a": 1}}, upper_limits="best")):
        assert scan.settings_hash(point, other) != h


def test_combination_rule():
    a = {"best": "SR-A", "excluded": False, "cls_obs": 0.2, "cls_exp": 0.01}  # best expected, not excluded
    b = {"best": "SR-B", "excluded": True, "cls_obs": 0.03, "cls_exp": 0.04}
    c = {"best": "SR-C", "excluded": True, "cls_obs": 0.001, "cls_exp": 0.2}
    out = scan.combine({"A": a, "B": b, "C": c})
    assert out["excluded"] and (out["analysis"], out["region"], out["cls_obs"]) == ("B", "SR-B", 0.03)
    assert out["best_expected"]["analysis"] == "A" and not out["best_expected"]["excluded"]
    out = scan.combine({"A": a, "D": {"best": "SR-D", "excluded": False, "cls_obs": 0.5, "cls_exp": 0.3}})
    assert not out["excluded"] and (out["analysis"], out["cls_obs"], out["cls_exp"]) == ("A", 0.2, 0.01)
    assert scan.combine({"E": {"best": None, "excluded": False, "cls_obs": None, "cls_exp": None}})["analysis"] is None


# -- a real cluster -------------------------------------------------------------------------------


def _mtimes(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(directory.glob("*.json"))}


def test_scan_on_a_two_worker_cluster(tmp_path, monkeypatch, capsys):
    grid = _yaml(tmp_path, "{model: gqq, m_gluino: [1400, 2200], m_lsp: [100, 900], nevents: 150, seed: 2}\n")
    out = tmp_path / "scan"
    argv = ["scan", str(grid), "--analyses", ANA, "--workers", "2", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "running 4 point(s)" in err and "4 ok" in err
    summary = scan.read_json(out / "summary.json", "scan-summary")  # validates against the schema
    assert summary["counts"] == {"ok": 4, "failed": 0, "pending": 0, "excluded": summary["counts"]["excluded"]}
    rows = {r["name"]: r for r in summary["points"]}
    assert sorted(rows) == ["gqq_1400_100", "gqq_1400_900", "gqq_2200_100", "gqq_2200_900"]
    table = xsec.table("gluino-pair")
    pids = set()
    for name, row in rows.items():
        doc = scan.read_json(out / "points" / f"{name}.json", "scan-point")  # validates, result included
        assert doc["status"] == "ok" and doc["error"] is None
        assert doc["point"]["seed"] == scan.derive_seed(2, "gqq", row["m_parent"], row["m_lsp"]) == row["seed"]
        assert doc["cross_section"]["kind"] == "table"
        assert doc["cross_section"]["value_fb"] == pytest.approx(table(row["m_parent"])[0]) == row["xsec_fb"]
        result = doc["analyses"][ANA]["result"]
        assert result["events"]["n"] == 150 and result["input"]["generator"]["seed"] == doc["point"]["seed"]
        assert doc["analyses"][ANA]["limits"]["schema"] == "recast-limits"
        comb = doc["combined"]
        assert (row["analysis"], row["region"], row["cls_obs"]) == (ANA, comb["region"], comb["cls_obs"])
        assert row["excluded"] == (comb["cls_obs"] < 0.05)
        assert doc["worker"]["pid"] != os.getpid()  # worker processes, single-threaded
        assert doc["worker"]["env"] == parallel.WORKER_ENV  # one thread each, no chunk read ahead
        pids.add(doc["worker"]["pid"])
    assert rows["gqq_1400_100"]["cls_exp"] < rows["gqq_2200_900"]["cls_exp"]  # more signal, lower CLs
    with open(out / "summary.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert [r["name"] for r in csv_rows] == [r["name"] for r in summary["points"]]
    assert {r["status"] for r in csv_rows} == {"ok"}

    # a rerun reuses every point: no cluster, no generation, the point files untouched
    before = _mtimes(out / "points")

    def no_cluster(*a, **k):
        raise AssertionError("a rerun of a finished scan must not start workers")

    monkeypatch.setattr(parallel, "connect", no_cluster)
    start = time.perf_counter()
    assert main(argv) == 0
    assert time.perf_counter() - start < 10
    assert "4 of 4 points already done" in capsys.readouterr().err
    assert _mtimes(out / "points") == before
    assert scan.read_json(out / "summary.json", "scan-summary")["counts"]["ok"] == 4


def test_directory_grid_with_a_broken_card_on_an_existing_scheduler(tmp_path, capsys):
    from distributed import LocalCluster

    cards = tmp_path / "cards"
    cards.mkdir()
    _write(cards / "gtt_1800_100.slha", slha.simplified_model("gtt", 1800, 100))
    _write(cards / "gqq_1600_100.slha", slha.simplified_model("gqq", 1600, 100))
    _write(cards / "broken.slha", "BLOCK MASS\n 1000021 garbage\n")
    out = tmp_path / "scan"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        argv = ["scan", str(cards), "--analyses", ANA, "-n", "100", "--scheduler", cluster.scheduler_address,
                "--out", str(out), "-q"]
        assert main(argv) == 2  # the scan finishes, and says that a point failed
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("recast: error: 1 of 3 points failed (first: broken: ")
        summary = scan.read_json(out / "summary.json", "scan-summary")
        status = {r["name"]: r["status"] for r in summary["points"]}
        assert status == {"broken": "failed", "gqq_1600_100": "ok", "gtt_1800_100": "ok"}
        broken = scan.read_json(out / "points" / "broken.json", "scan-point")
        assert "broken.slha" in broken["error"] and "not a number" in broken["error"]
        ok = scan.read_json(out / "points" / "gtt_1800_100.json", "scan-point")
        assert (ok["point"]["m_parent"], ok["point"]["m_lsp"]) == (1800.0, 100.0)
        assert ok["worker"]["env"] == parallel.WORKER_ENV  # set on the existing cluster's workers too
        # a rerun retries the failed point only
        before = _mtimes(out / "points")
        assert main(argv) == 2
        after = _mtimes(out / "points")
        assert after["gtt_1800_100.json"] == before["gtt_1800_100.json"]
        assert after["broken.json"] != before["broken.json"]


def test_unreachable_scheduler(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    grid = _yaml(tmp_path, "{model: gqq, m_gluino: 2000, m_lsp: 100, nevents: 100}")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "recast.cli", "scan", str(grid), "--analyses", ANA,
                           "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)  # the installed recast
    assert time.perf_counter() - start < 10
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"recast: error: --scheduler tcp://127.0.0.1:{port}: "), lines
    assert not (tmp_path / "o").exists()


# -- the exclusion plot ---------------------------------------------------------------------------


def _hand_written_summary(directory: Path, cls: dict[tuple[float, float], float | None]) -> None:
    points = [scan.GridPoint(name=scan.point_name("gqq", mp, ml), process="gluino-pair", seed=1, nevents=100,
                             slha_text=None, model="gqq", m_parent=mp, m_lsp=ml) for mp, ml in cls]
    grid = scan.Grid(source="hand", kind="template", model="gqq", process="gluino-pair", nevents=100, seed=1,
                     points=points)
    settings = scan.Settings(analyses=(ANA,), options={ANA: {}})
    rows = []
    for p in points:
        row = scan.summary_row(p, None, "0" * 16)
        value = cls[(p.m_parent, p.m_lsp)]
        if value is None:
            row.update(status="failed", error="Pythia could not initialise")
        else:
            row.update(status="ok", cls_obs=value, cls_exp=value, excluded=value < 0.05, analysis=ANA,
                       region="SR", xsec_fb=1.0, xsec_kind="table")
        rows.append(row)
    scan.write_summary(directory, scan.summary_doc(grid, settings, rows))


def test_plot_exclusion_from_a_hand_written_summary(tmp_path, capsys):
    cls = {}
    for mp in (1400.0, 1800.0, 2200.0, 2600.0):
        for ml in (0.0, 600.0, 1200.0):
            cls[(mp, ml)] = 10 ** (-4 + 4 * (mp - 1400) / 1200 - ml / 1200)  # excluded at low masses
    cls[(2600.0, 1200.0)] = None  # one failed point
    _hand_written_summary(tmp_path, cls)
    prefix = tmp_path / "plots" / "gqq"
    assert main(["plot-exclusion", str(tmp_path), "--out", str(prefix)]) == 0
    err = capsys.readouterr().err
    assert "no CLs = 0.05 contour" not in err  # the contour is there
    for ext in ("png", "pdf"):
        assert (tmp_path / "plots" / f"gqq.{ext}").stat().st_size > 10_000
    assert (tmp_path / "plots" / "gqq.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # points on one line: drawn, with the reason why there is no contour
    line = tmp_path / "line"
    line.mkdir()
    _hand_written_summary(line, {(1400.0, 0.0): 0.001, (1800.0, 0.0): 0.04, (2200.0, 0.0): 0.5})
    assert main(["plot-exclusion", str(line)]) == 0
    assert "no CLs = 0.05 contour: the finished points lie on a line" in capsys.readouterr().err
    assert (line / "exclusion.png").stat().st_size > 0 and (line / "exclusion.pdf").stat().st_size > 0

    assert main(["plot-exclusion", str(tmp_path / "nowhere")]) == 2
    assert "summary.json: no such file" in capsys.readouterr().err


# -- events grids, reruns with other settings, skipped regions --------------------------------------


def test_events_grid_directory_and_listing(gtt_sample, gtt_slha, tmp_path, capsys, monkeypatch):
    import shutil

    events = tmp_path / "events"
    events.mkdir()
    shutil.copy(gtt_sample[1], events / "gtt_2100_1.hepmc.gz")
    shutil.copy(gtt_slha, events / "gtt_2100_1.slha")  # masses and the table's cross section
    shutil.copy(gtt_sample[1], events / "bare.hepmc.gz")  # no card: the cross section the file carries
    grid = scan.load_grid(str(events))
    assert grid.kind == "events" and [p.name for p in grid.points] == ["bare", "gtt_2100_1"]
    named = grid.points[1]
    assert (named.m_parent, named.m_lsp, named.nevents) == (2100.0, 1.0, None)
    assert named.events == str((events / "gtt_2100_1.hepmc.gz").resolve())
    listing = _yaml(tmp_path, "points:\n"
                              "  - {events: events/gtt_2100_1.hepmc.gz, name: listed, xsec_fb: 0.25, m_parent: 2100, m_lsp: 1}\n"
                              "  - {events: events/bare.hepmc.gz, nevents: 40}\n", "listing.yaml")
    out = tmp_path / "scan"
    argv = ["scan", str(listing), "--analyses", ANA, "--workers", "1", "--out", str(out), "-q"]
    assert main(argv) == 0, capsys.readouterr().err
    rows = {r["name"]: r for r in scan.read_json(out / "summary.json", "scan-summary")["points"]}
    assert set(rows) == {"listed", "bare"} and rows["bare"]["nevents"] == 40
    listed = scan.read_json(out / "points" / "listed.json", "scan-point")
    result = listed["analyses"][ANA]["result"]
    assert result["events"]["n"] == 120 and result["input"]["kind"] == "hepmc"
    assert listed["cross_section"] == {"value_fb": 0.25, "uncertainty_fb": None, "kind": "user",
                                       "source": "the grid listing (xsec_fb)"}
    first = result["signal_regions"][0]["cutflow"][0]
    assert first["yield"] == pytest.approx(0.25 * 139.0)
    bare = scan.read_json(out / "points" / "bare.json", "scan-point")
    assert bare["analyses"][ANA]["result"]["events"]["n"] == 40
    assert bare["cross_section"]["kind"] == "generator"  # the file's GenCrossSection (Pythia's LO)

    # a rerun with other settings does not silently replace the finished points
    capsys.readouterr()
    before = _mtimes(out / "points")
    assert main(argv + ["-n", "30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 finished point(s) were made with other settings" in err[0]
    assert "nevents" in err[0] and "--replace" in err[0]
    assert _mtimes(out / "points") == before
    assert main(argv + ["-n", "30", "--replace"]) == 0
    assert scan.read_json(out / "points" / "listed.json", "scan-point")["analyses"][ANA]["result"]["events"]["n"] == 30
    assert "replacing 2 finished point(s)" in capsys.readouterr().err


def test_skipped_regions_are_named_once_per_scan(gtt_sample, tmp_path, capsys, without_models):
    import shutil

    events = tmp_path / "events"
    events.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(gtt_sample[1], events / f"{name}.hepmc.gz")
    argv = ["scan", str(events), "--analyses", ANA, "-n", "20", "--xsec-fb", "1", "--workers", "1",
            "--out", str(tmp_path / "scan"), "-q"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "signal region(s) skipped" in line]
    assert len(notes) == 1, err
    assert notes[0].startswith(f"recast: note: {ANA}: 8 signal region(s) skipped (Gtt-2100-1, ")
    assert "downloads off (RECAST_OFFLINE=1)" in notes[0] and len(notes[0]) < 360


def test_points_go_to_the_worker_that_is_free():
    """parallel.in_turn gives a point to a worker when that worker is free: one long point and
    three short ones on two workers (submitted at once, Dask queues the third behind the long
    one on its worker): the long point's worker runs it alone, the other runs the three short
    ones; points are submitted in their order."""
    durations = {"long": 4.0, "a": 0.2, "b": 0.2, "c": 0.2}
    submitted, futures, running_before = [], {}, []
    with parallel.cluster(2) as client:
        def submit_point(name):
            submitted.append(name)
            running_before.append(sum(not f.done() for f in futures.values()))
            futures[name] = parallel.submit(client, time.sleep, name, durations[name], key_prefix="test-point")
            return [], futures[name]

        done = dict(parallel.in_turn(client, list(durations), submit_point))
        ran_on = {name: tuple(workers) for name, workers in client.who_has(list(futures.values())).items()}
        ran_on = {name: ran_on[f.key] for name, f in futures.items()}
    assert submitted == list(durations)
    assert running_before[:2] == [0, 1] and max(running_before) == 1  # a point waits for a free worker
    assert done == dict.fromkeys(durations)  # time.sleep's results, one per point
    assert ran_on["a"] == ran_on["b"] == ran_on["c"] != ran_on["long"]


def test_local_workers_are_not_profiled():
    """A local cluster's workers run without Dask's statistical profiler, with its system
    monitor, event-loop ticks and memory checks slowed down (parallel.UNWATCHED: nobody looks at
    them, and they cost CPU)."""
    import dask

    with parallel.cluster(1) as client:
        watching = {key: list(client.run(dask.config.get, key).values()) for key in parallel.UNWATCHED}
    assert watching == {"distributed.worker.profile.enabled": [False], "distributed.admin.system-monitor.interval": ["5s"],
                        "distributed.admin.tick.interval": ["500ms"],
                        "distributed.worker.memory.monitor-interval": ["1s"]}
