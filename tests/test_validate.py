"""recast validate: the specification's checks, the comparison arithmetic on constructed cutflows
(hand-computed ratios, errors, normalisation, empty rows), the status rule, the reordered cutflow
(same final yields), and the command end to end on a two-worker cluster with a failing point."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from recast import analysis as ana_mod
from recast import engine, validate
from recast.cli import main
from recast.errors import RecastError
from recast.objects import build_objects

ROOT = Path(__file__).resolve().parents[1]
ANA22 = ana_mod.load("ANA-SUSY-2018-22")
PRE = [c.step for c in ANA22.preselection]
# SR4j's cuts in the order of the reference below (the engine's order for the reordered analysis)
SR4J = ["N_jet", "dphi_min(j1,2,3)", "dphi_min(j>3)", "pT(j1)", "pT(j4)", "|eta(j1..4)|", "Aplanarity",
        "MET/sqrt(HT)", "meff(incl)"]


def _rows():
    """An SR4j reference in the CONF table's order (Delta phi before the pT cuts)."""
    return [
        {"label": "preselection", "ours": list(PRE), "atlas": 1000.0, "checkmate": 990.0},
        {"label": "cleaning", "ours": None, "atlas": 990.0},
        {"label": "N_jet >= 4", "ours": ["N_jet"], "atlas": 800.0},
        {"label": "dphi", "ours": ["dphi_min(j1,2,3)", "dphi_min(j>3)"], "atlas": 600.0},
        {"label": "pT(j4) > 100", "ours": ["pT(j1)", "pT(j4)"], "atlas": 300.0},
        {"label": "rest", "ours": ["|eta(j1..4)|", "Aplanarity", "MET/sqrt(HT)", "meff(incl)"], "atlas": 10.0},
    ]


def _spec(tmp_path, rows=None, **point) -> Path:
    p = {"name": "p1", "model": {"simplified": "gqq", "m_parent": 1800, "m_lsp": 1000}, "process": "gluino-pair",
         "cross_section_fb": 2.0, "nevents": 100, "seed": 5,
         "cutflows": {"SR4j-1000": {"table": "hand-made", "rows": rows if rows is not None else _rows()}}}
    p.update(point)
    doc = {"analysis": "ANA-SUSY-2018-22",
           "references": {"atlas": {"label": "ATLAS", "source": "test"}, "checkmate": {"label": "CM", "source": "t"}},
           "points": [p]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r[2].update(ours=["N_jets"]), "row 'N_jet >= 4': 'N_jets' is not a step of recast's cutflow"),
    (lambda r: r[5]["ours"].remove("Aplanarity"), "step(s) 'Aplanarity' are in no row's 'ours'"),
    (lambda r: r[3]["ours"].append("N_jet"), "row 'dphi': step 'N_jet' appears twice"),
    (lambda r: r.insert(3, {"label": "late MET", "ours": [r[0]["ours"].pop(1)], "atlas": 1}),
     "row 'late MET': preselection step 'MET > 300' after a signal-region cut"),
    (lambda r: r[0].update(ours=list(reversed(PRE))), "preselection steps out of recast's order"),
])
def test_bad_references_name_the_row_and_the_step(tmp_path, mutate, message):
    rows = _rows()
    mutate(rows)
    with pytest.raises(RecastError, match="spec.yaml: point p1, cutflow SR4j-1000: ") as exc:
        validate.load_spec(_spec(tmp_path, rows))
    assert message in str(exc.value)


def test_bad_points(tmp_path, capfd):
    with pytest.raises(RecastError, match="SLHA card nope.slha not found"):
        validate.load_spec(_spec(tmp_path, model=None, slha={"path": "nope.slha"}))
    with pytest.raises(RecastError, match="acc_eff: ANA-SUSY-2018-22 has no signal region 'BDT-GGd9'"):
        validate.load_spec(_spec(tmp_path, acc_eff={"BDT-GGd9": {"atlas": 0.1}}))
    with pytest.raises(RecastError, match="unknown reference"):
        validate.load_spec(_spec(tmp_path, acc_eff={"BDT-GGd1": {"rivet": 0.1}}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("points: [")
    assert main(["validate", "ANA-SUSY-2018-22", "--spec", str(bad)]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"recast: error: {bad}: not valid YAML")


def _region(sumws: list[float], xsec_lumi: float, total: float) -> dict:
    """A result's region with a cutflow of unit-weight events: all events, then the given counts."""
    steps = []
    for name, w in zip(["all events"] + PRE + SR4J, [total] + sumws):
        steps.append({"step": name, "n": int(w), "sumw": w, "sumw2": w, "acc_eff": w / total,
                      "acc_eff_err": math.sqrt(w) / total, "yield": w / total * xsec_lumi})
    return {"name": "SR4j-1000", "acc_eff": steps[-1]["acc_eff"], "acc_eff_err": steps[-1]["acc_eff_err"],
            "n": steps[-1]["n"], "cutflow": steps}


def test_cutflow_arithmetic_by_hand(tmp_path):
    spec = validate.load_spec(_spec(tmp_path))
    point = spec.points[0]
    # counts in the reference's order: presel 5 steps, then N_jet, dphi x2, pT(j1), pT(j4), the rest x4
    counts = [4000, 3000, 2500, 2200, 2000, 1600, 1300, 1200, 1200, 600, 550, 400, 300, 25]
    region = _region([float(c) for c in counts], xsec_lumi=2.0 * 139, total=5000.0)
    cf = validate._compare_cutflow(spec, point.cutflows["SR4j-1000"], region, 2.0, 139.0)
    rows = cf["rows"]
    # preselection row: 2000 of 5000 events at 278 events -> 111.2 against 1000
    assert rows[0]["recast"] == pytest.approx(2000 / 5000 * 278)
    assert rows[0]["ratio"] == pytest.approx(0.1112)
    assert rows[0]["ratio_err"] == pytest.approx(0.1112 / math.sqrt(2000))
    assert rows[1]["recast"] == rows[0]["recast"] and not rows[1]["modelled"]  # cleaning: not modelled
    assert rows[2]["step"] == "N_jet" and rows[3]["step"] == "dphi_min(j>3)" and rows[4]["step"] == "pT(j4)"
    last = rows[-1]
    assert last["recast"] == pytest.approx(25 / 5000 * 278) and last["ratio"] == pytest.approx(0.139)
    assert last["pull"] == pytest.approx((0.139 - 1) / (0.139 / 5))
    assert cf["final_ok"] is False  # 0.14 is neither within 20 % nor within 2 sigma (0.06)


def test_normalised_cutflow_and_empty_rows(tmp_path):
    spec_path = _spec(tmp_path)
    doc = yaml.safe_load(spec_path.read_text())
    doc["points"][0]["cutflows"]["SR4j-1000"].update(normalise_to=0, atlas_mc_events=10000)
    spec_path.write_text(yaml.safe_dump(doc))
    spec = validate.load_spec(spec_path)
    counts = [4000, 3000, 2500, 2200, 2000, 1600, 1300, 1200, 1200, 600, 550, 400, 300, 0]
    cf = validate._compare_cutflow(spec, spec.points[0].cutflows["SR4j-1000"],
                                   _region([float(c) for c in counts], 278.0, 5000.0), 2.0, 139.0)
    rows = cf["rows"]
    assert rows[0]["recast"] == pytest.approx(1000.0) and rows[0]["recast_err"] == pytest.approx(0.0)
    assert rows[0]["references"]["checkmate"] == pytest.approx(1000.0)  # peers scaled the same way
    # N_jet row: 1600 of the 2000 preselected, binomial relative to the normalisation row
    assert rows[2]["recast"] == pytest.approx(800.0)
    assert rows[2]["recast_err"] == pytest.approx(800.0 * math.sqrt(1 / 1600 - 1 / 2000))
    # ATLAS' MC error: 10000 generated events, row at 800 of sigma x L = 278 events (as given)
    assert rows[2]["atlas_mc_rel_err"] == pytest.approx(1 / math.sqrt(10000 * 800 / 278))
    # an empty final row: ratio 0 with one MC event's worth as its error (1000/2000 events per MC event)
    assert rows[-1]["ratio"] == 0.0 and rows[-1]["recast_err"] == pytest.approx(0.5)
    assert rows[-1]["ratio_err"] == pytest.approx(0.05)
    assert cf["final_ok"] is False


def test_status_rule():
    rule = validate.Rule()
    assert rule.judge(1.19, 0.01) and rule.judge(0.5, 0.3) and not rule.judge(0.5, 0.2) and rule.judge(None, 1) is None
    spec = validate.Spec(path=Path("x"), analysis=ANA22, rule=rule, references={"atlas": {}}, points=[], grids=[])
    ok = {"region": "BDT-GGd1", "ok": True}
    compared = {"a": {"acc_eff": [ok, {"region": "BDT-GGd2", "ok": False}, {"region": "BDT-GGd3", "ok": None}],
                      "cutflows": {"SR4j-1000": {"final_ok": True}}},
                "b": {"acc_eff": [ok], "cutflows": {}}}
    st = validate.status(spec, compared)
    assert st["regions"]["BDT-GGd1"] == {"status": "validated", "checks": 2, "failed": []}
    assert st["regions"]["BDT-GGd2"] == {"status": "disagrees", "checks": 1, "failed": ["a (A x eff)"]}
    assert st["regions"]["BDT-GGd3"]["status"] == "not validated"  # below the floor: not judged
    assert st["status"] == "partly validated" and st["label"] == "partly validated (2 of 3 compared regions)"


def test_reordered_cutflow_keeps_the_final_yields(gtt_sample):
    batch = gtt_sample[0]
    cf = validate.CutflowRef(region="SR4j-1000", table="", unit="events", rows=[
        {"label": r["label"], "ours": r["ours"], "values": {}, "note": ""} for r in _rows()])
    variant = validate.ordered_analysis(ANA22, {"SR4j-1000": cf})
    assert [c.step for c in next(r for r in variant.signal_regions if r.name == "SR4j-1000").cuts] == SR4J
    opts = ANA22.resolve_options({})
    counts = []
    for a in (ANA22, variant):
        models, c = engine.prepare(a, opts)
        engine.select(a, build_objects(batch, a.object_config(opts), 1), opts, c, models)
        counts.append(c)
    before = [s.sumw for s in counts[0].cutflows["SR4j-1000"]]
    after = [s.sumw for s in counts[1].cutflows["SR4j-1000"]]
    assert before[-1] == after[-1] > 0
    assert before[:7] == after[:7]  # all events, the preselection and N_jet
    assert before != after  # the intermediate rows follow the new order


def test_validate_command_end_to_end(tmp_path, capfd, monkeypatch):
    """Two points on two local workers: one runs, one's card has no gluino decay and fails in
    Pythia; the report still appears, with the failure, and the stored status is left alone."""
    monkeypatch.setenv("RECAST_DATA_MIRROR", str(ROOT.parent / "shared" / "hepdata"))
    broken = tmp_path / "broken.slha"
    from recast.slha import simplified_model

    broken.write_text(simplified_model("gqq", 1800, 1000).replace("DECAY   1000021", "DECAY   1000099"))
    doc = yaml.safe_load(_spec(tmp_path).read_text())
    doc["points"][0]["acc_eff"] = {"BDT-GGd3": {"atlas": 0.176, "checkmate": 0.152}}
    doc["points"].append({"name": "broken", "slha": {"path": "broken.slha"}, "process": "gluino-pair",
                          "cross_section_fb": 2.93, "nevents": 100, "seed": 1})
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc))
    status_file = ROOT / "data" / "ANA-SUSY-2018-22" / validate.STATUS_FILE
    before = status_file.read_bytes() if status_file.exists() else None
    out = tmp_path / "report"
    code = main(["validate", "ANA-SUSY-2018-22", "--spec", str(spec), "-n", "150", "--workers", "2", "--out", str(out),
                 "-q"])
    err = capfd.readouterr().err
    assert code == 2 and "1 of 2 points failed (first: broken:" in err
    assert (status_file.read_bytes() if status_file.exists() else None) == before
    summary = json.loads((out / "summary.json").read_text())
    assert summary["schema"] == "recast-validation" and summary["points"]["broken"]["error"]
    p1 = summary["points"]["p1"]
    assert [r["label"] for r in p1["cutflows"]["SR4j-1000"]["rows"]] == [r["label"] for r in _rows()]
    assert p1["acc_eff"][0]["region"] == "BDT-GGd3" and p1["acc_eff"][0]["recast"] > 0
    md = (out / "report.md").read_text()
    assert "## Points that failed" in md and "| broken |" in md
    assert "![cutflow ratios at p1](figures/cutflow_p1.png)" in md
    assert (out / "figures" / "cutflow_p1.png").stat().st_size > 5000
    assert (out / "figures" / "scores_p1.png").exists()  # BDT scores of the point
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == md.count("![") and "<table>" in html
    assert summary["provenance"]["points"][0]["seed"] == 5
    assert summary["provenance"]["model_artifacts_sha256"]["ZeroLepton2018-SRBDT-GGd1_weight1.xml"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_report_page_renders_in_headless_chromium(tmp_path):
    """The standalone page renders: Chromium prints its DOM with every table and embedded figure."""
    import subprocess

    from recast import validation_report as vr

    fig = tmp_path / "f.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.figure(figsize=(2, 2)).savefig(fig)
    blocks = [("h1", "T"), ("p", "**Status: validated.**"), ("table", ["a", "b"], [["1", "2"]]), ("img", fig, "x")]
    page = tmp_path / "report.html"
    page.write_text(vr.to_html(blocks, "T"))
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=60)
    assert "<strong>Status: validated.</strong>" in proc.stdout
    assert proc.stdout.count("<td") == 2 and 'class="num"' in proc.stdout
    assert "data:image/png;base64," in proc.stdout


@pytest.mark.parametrize("aid", ["ANA-SUSY-2018-22", "ANA-SUSY-2019-04"])
def test_committed_status_matches_its_report_and_is_shown(aid, capsys):
    """The status recast list/info show is the one of the committed report, region by region."""
    stored = validate.read_status(aid)
    summary = json.loads((ROOT / "validation" / "reports" / aid / "summary.json").read_text())
    assert stored is not None and stored["label"] == summary["status"]["label"]
    assert stored["regions"] == {sr: v["status"] for sr, v in summary["status"]["regions"].items()}
    assert min(stored["events_per_point"]) >= 20000
    assert main(["list"]) == 0
    assert stored["label"].split(" (")[0] in " ".join(capsys.readouterr().out.split())
    assert main(["info", aid]) == 0
    out = capsys.readouterr().out
    assert f"validation: {stored['label']}" in " ".join(out.split())
    assert "not validated (no report" not in out


def test_an_analysis_without_references_says_why(capsys):
    stored = validate.read_status("ANA-SUSY-2018-30")
    assert stored["label"] == "not validated (no published reference)" and "HEPData" in stored["no_reference"]
    assert main(["info", "ANA-SUSY-2018-30"]) == 0
    assert "validation: not validated (no published reference)" in " ".join(capsys.readouterr().out.split())


def test_a_broken_status_file_reads_as_no_report(tmp_path, monkeypatch):
    import recast.paths

    (tmp_path / "ANA-SUSY-2018-22").mkdir()
    (tmp_path / "ANA-SUSY-2018-22" / validate.STATUS_FILE).write_text(json.dumps({"schema": "recast-validation-status",
                                                                                 "schema_version": 1, "status": "great"}))
    monkeypatch.setattr(recast.paths, "analysis_data_dir", lambda aid: tmp_path / aid)
    assert validate.read_status("ANA-SUSY-2018-22") is None
    with pytest.raises(RecastError, match="invalid validation-status document at status"):
        validate.check_schema({"schema": "recast-validation-status", "schema_version": 1, "analysis": "A",
                               "created": "t", "report": "r", "status": "great", "label": "", "rule": "",
                               "regions": {}}, "validation-status", "x")


def test_map_points_off_atlas_grid_are_shown_not_judged(tmp_path):
    doc = {"analysis": "ANA-SUSY-2018-22", "points": [], "grids": [{
        "name": "g", "model": "gqq", "m_parent": [1400, 1800], "m_lsp": [600, 100],
        "acc_eff_map": {"file": str(ROOT / "data" / "ANA-SUSY-2018-22" / "acc_eff_T1.json")}}]}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(doc))
    points = {p.name: p for p in validate.load_spec(path).points}
    assert set(points) == {"g_1400_600", "g_1800_600", "g_1800_100"}  # (1400, 100) lies outside ATLAS' maps
    assert points["g_1800_600"].interpolated == set()
    assert points["g_1800_600"].acc_eff["BDT-GGd1"]["atlas"] == pytest.approx(0.1058869)
    assert points["g_1400_600"].interpolated == {"BDT-GGd1", "BDT-GGd2", "BDT-GGd3", "BDT-GGd4"}
    assert points["g_1800_100"].interpolated  # between (1800, 0.5) and (1800, 200)


def test_a_study_point_is_shown_not_judged(tmp_path):
    spec = validate.load_spec(_spec(tmp_path, judge=False, acc_eff={"BDT-GGd3": {"atlas": 0.1}}))
    counts = [4000, 3000, 2500, 2200, 2000, 1600, 1300, 1200, 1200, 600, 550, 400, 300, 25]
    region = _region([float(c) for c in counts], 278.0, 5000.0)
    result = {"signal_regions": [region, dict(region, name="BDT-GGd3")], "cross_section": {"value_fb": 2.0}}
    comp = validate.compare_point(spec, spec.points[0], result)
    assert comp["cutflows"]["SR4j-1000"]["final_ok"] is None and comp["cutflows"]["SR4j-1000"]["rows"][-1]["ratio"]
    assert comp["acc_eff"][0]["judged"] is False and comp["acc_eff"][0]["ratio"] == pytest.approx(0.005 / 0.1)
    assert validate.status(spec, {"p1": comp})["status"] == "not validated"
