"""recast validate: the specification's checks, the comparison arithmetic on constructed cutflows
(hand-computed ratios, errors, normalisation, empty rows), the status rule (inconclusive checks),
the reordered cutflow (same final yields), the command end to end on a two-worker cluster with a
failing point, run by the installed command from another directory, its output locations (checked
first, the committed reports refused, nothing lost on a write failure), and the page in Chromium."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml

from recast import analysis as ana_mod
from recast import engine, validation
from recast.cli import main
from recast.errors import RecastError
from recast.objects import build_objects
from recast.validation import report as vr

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
        validation.load_spec(_spec(tmp_path, rows))
    assert message in str(exc.value)


def test_bad_points(tmp_path, capfd):
    with pytest.raises(RecastError, match="SLHA card nope.slha not found"):
        validation.load_spec(_spec(tmp_path, model=None, slha={"path": "nope.slha"}))
    with pytest.raises(RecastError, match="acc_eff: ANA-SUSY-2018-22 has no signal region 'BDT-GGd9'"):
        validation.load_spec(_spec(tmp_path, acc_eff={"BDT-GGd9": {"atlas": 0.1}}))
    with pytest.raises(RecastError, match="unknown reference"):
        validation.load_spec(_spec(tmp_path, acc_eff={"BDT-GGd1": {"rivet": 0.1}}))
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
    spec = validation.load_spec(_spec(tmp_path))
    point = spec.points[0]
    # counts in the reference's order: presel 5 steps, then N_jet, dphi x2, pT(j1), pT(j4), the rest x4
    counts = [4000, 3000, 2500, 2200, 2000, 1600, 1300, 1200, 1200, 600, 550, 400, 300, 25]
    region = _region([float(c) for c in counts], xsec_lumi=2.0 * 139, total=5000.0)
    cf = validation.compare_cutflow(spec, point.cutflows["SR4j-1000"], region, 2.0, 139.0)
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
    assert cf["judged"] and cf["final_status"] == "disagrees"  # 0.14: neither within 20 % nor within 2 sigma (0.06)
    assert rows[0]["status"] == "disagrees" and last["status"] == "disagrees"


def test_normalised_cutflow_and_empty_rows(tmp_path):
    spec_path = _spec(tmp_path)
    doc = yaml.safe_load(spec_path.read_text())
    doc["points"][0]["cutflows"]["SR4j-1000"].update(normalise_to=0, atlas_mc_events=10000)
    spec_path.write_text(yaml.safe_dump(doc))
    spec = validation.load_spec(spec_path)
    counts = [4000, 3000, 2500, 2200, 2000, 1600, 1300, 1200, 1200, 600, 550, 400, 300, 0]
    cf = validation.compare_cutflow(spec, spec.points[0].cutflows["SR4j-1000"],
                                    _region([float(c) for c in counts], 278.0, 5000.0), 2.0, 139.0)
    rows = cf["rows"]
    assert rows[0]["recast"] == pytest.approx(1000.0) and rows[0]["recast_err"] == pytest.approx(0.0)
    assert rows[0]["references"]["checkmate"] == pytest.approx(1000.0)  # peers scaled the same way
    # N_jet row: 1600 of the 2000 preselected, binomial relative to the normalisation row
    assert rows[2]["recast"] == pytest.approx(800.0)
    assert rows[2]["recast_err"] == pytest.approx(800.0 * math.sqrt(1 / 1600 - 1 / 2000))
    # ATLAS' MC error: 10000 generated events, row at 800 of sigma x L = 278 events (as given)
    assert rows[2]["atlas_mc_rel_err"] == pytest.approx(1 / math.sqrt(10000 * 800 / 278))
    # an empty final row: ratio 0, its error the one-sigma Poisson bound of -ln(1 - 0.6827) = 1.1479 MC
    # events, each worth 1000/2000 events after the normalisation
    assert rows[-1]["ratio"] == 0.0 and rows[-1]["recast_err"] == pytest.approx(1.1479 * 0.5, rel=1e-4)
    assert rows[-1]["ratio_err"] == pytest.approx(1.1479 * 0.05, rel=1e-4)
    assert rows[0]["status"] is None  # the normalisation row checks nothing
    assert cf["final_status"] == "disagrees"  # 0 +- 0.057: precise enough to say it is not 1


def test_an_empty_count_is_never_validated(tmp_path):
    """Issue 12: '0.00 +- 25' passed by the 2 sigma clause. An empty row whose one-event bound is
    coarse is inconclusive; an empty A x eff has the same bound (it had none: 0 +- 0 looked exact)."""
    spec = validation.load_spec(_spec(tmp_path, acc_eff={"BDT-GGd3": {"atlas": 0.001}}))
    counts = [40, 30, 25, 22, 20, 16, 13, 12, 12, 6, 5, 4, 3, 0]  # 50 MC events, at 278 events in all
    region = _region([float(c) for c in counts], 278.0, 50.0)
    cf = validation.compare_cutflow(spec, spec.points[0].cutflows["SR4j-1000"], region, 2.0, 139.0)
    last = cf["rows"][-1]
    assert last["recast"] == 0 and last["ratio_err"] == pytest.approx(1.1479 * 278 / 50 / 10, rel=1e-4)  # 0.64
    assert last["status"] == cf["final_status"] == "inconclusive"
    empty = dict(region, name="BDT-GGd3", n=0, acc_eff=0.0, acc_eff_err=0.0)
    comp = validation.compare_point(spec, spec.points[0], {"signal_regions": [region, empty],
                                                         "cross_section": {"value_fb": 2.0}})
    acc = comp["acc_eff"][0]
    assert acc["recast_err"] == pytest.approx(1.1479 / 50, rel=1e-4)  # one of 50 events, not 0
    assert acc["ratio_err"] == pytest.approx(1.1479 / 50 / 0.001, rel=1e-4) and acc["status"] == "inconclusive"
    # however lenient a specification's rule, a zero does not validate
    assert validation.Rule(tolerance=1.5).verdict(0.0, 0.1) == "inconclusive"


def test_status_rule():
    rule = validation.Rule()
    assert rule.verdict(1.19, 0.01) == "validated"
    assert rule.verdict(1.3, 0.18) == "validated"  # beyond 20 % but within 2 sigma of a precise check
    assert rule.verdict(0.5, 0.2) == "disagrees"
    assert rule.verdict(None, 1) is None
    # issue 12: a check whose error exceeds the tolerance cannot validate, whatever its pull
    assert rule.verdict(0.5, 0.3) == "inconclusive"
    assert rule.verdict(0.0, 25.0) == "inconclusive"  # the 500-event run's "0.00 +- 25"
    assert rule.verdict(1.0, 0.25) == "inconclusive"
    assert rule.verdict(float("nan"), 0.1) is None and rule.verdict(1.0, None) == "inconclusive"
    # ... but a significant deviation beyond the tolerance disagrees, however coarse (200k events, 1l-NN-5j)
    assert rule.verdict(3.13, 0.255) == "disagrees"
    spec = validation.Spec(path=Path("x"), analysis=ANA22, rule=rule, references={"atlas": {}}, points=[], grids=[])

    def acc(region, ratio, err, judged=True):
        return {"region": region, "ratio": ratio, "ratio_err": err, "judged": judged}

    def flow(ratio, err):
        return {"judged": True, "rows": [{"ratio": 1.0, "ratio_err": 0.0}, {"ratio": ratio, "ratio_err": err}]}

    compared = {"a": {"acc_eff": [acc("BDT-GGd1", 1.1, 0.05), acc("BDT-GGd2", 0.5, 0.1),
                                  acc("BDT-GGd3", 9.0, 0.1, False), acc("BDT-GGd4", 1.0, 0.5)],
                      "cutflows": {"SR4j-1000": flow(1.0, 0.5), "SR2j-1600": flow(0.9, 0.1)}},
                "b": {"acc_eff": [acc("BDT-GGd1", 1.0, 0.6), acc("BDT-GGd4", 1.4, 0.3)], "cutflows": {}}}
    st = validation.status(spec, compared)
    r = st["regions"]
    assert r["BDT-GGd1"] == {"status": "validated", "checks": 2, "failed": [], "inconclusive": ["b (A x eff)"]}
    assert r["BDT-GGd2"] == {"status": "disagrees", "checks": 1, "failed": ["a (A x eff)"], "inconclusive": []}
    assert r["BDT-GGd3"]["status"] == "not validated"  # not judged (below the floor, interpolated, a study)
    assert r["BDT-GGd4"]["status"] == "inconclusive" and r["BDT-GGd4"]["inconclusive"] == ["a (A x eff)", "b (A x eff)"]
    assert r["SR4j-1000"]["status"] == "inconclusive" and r["SR2j-1600"]["status"] == "validated"
    assert (st["status"], st["regions_compared"], st["regions_validated"], st["regions_inconclusive"]) == \
        ("partly validated", 5, 2, 2)
    assert st["label"] == "partly validated (2 of 5 compared regions; 2 inconclusive)"
    only_unsure = validation.status(spec, {"a": {"acc_eff": [acc("BDT-GGd1", 0.0, 25.0)], "cutflows": {}}})
    assert only_unsure["status"] == "inconclusive"
    assert only_unsure["label"] == "inconclusive (MC errors above the 20% tolerance in all 1 compared regions)"
    # a version-1 summary (final_ok, no judged) reads the same: the verdicts come from the numbers
    v1 = {"a": {"acc_eff": [], "cutflows": {"SR4j-1000": {"final_ok": True, "rows": flow(1.0, 0.5)["rows"]},
                                              "SR2j-1600": {"final_ok": None, "rows": flow(0.5, 0.01)["rows"]}}}}
    st1 = validation.status(spec, v1)["regions"]
    assert st1["SR4j-1000"]["status"] == "inconclusive" and st1["SR2j-1600"]["status"] == "not validated"


def test_reordered_cutflow_keeps_the_final_yields(gtt_sample):
    batch = gtt_sample[0]
    cf = validation.CutflowRef(region="SR4j-1000", table="", unit="events", rows=[
        {"label": r["label"], "ours": r["ours"], "values": {}, "note": ""} for r in _rows()])
    variant = validation.ordered_analysis(ANA22, {"SR4j-1000": cf})
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
    status_file = ROOT / "data" / "ANA-SUSY-2018-22" / validation.STATUS_FILE
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
    own = json.loads((out / validation.STATUS_FILE).read_text())  # the run's status stays in its directory
    assert own["schema_version"] == validation.compare.STATUS_VERSION == 3
    assert own["label"] == summary["status"]["label"] and own["report"] == str(out)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The hand-made SR4j reference with an A x eff, one point of 150 events run in-process (no
    Dask): real results for the tests of the command's output and of the page."""
    tmp = tmp_path_factory.mktemp("tiny")
    doc = yaml.safe_load(_spec(tmp).read_text())
    doc["points"][0].update(nevents=150, acc_eff={"BDT-GGd3": {"atlas": 0.176, "checkmate": 0.152}})
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    spec = validation.load_spec(path)
    with mock.patch.dict(os.environ):  # run_one limits the worker's threads through the environment
        runs = {p.name: validation.run_one({"analysis": spec.analysis.id, "point": p}) for p in spec.points}
    assert runs["p1"]["error"] is None, runs["p1"]["error"]
    return path, runs


def _no_run(*args, **kwargs):
    pytest.fail("points ran before the output locations were checked")


def test_output_locations_are_checked_before_any_point_runs(tiny_run, tmp_path, monkeypatch, capfd):
    spec = str(tiny_run[0])
    monkeypatch.setattr(validation, "run_points", _no_run)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    committed = ROOT / "validation" / "reports" / "ANA-SUSY-2018-22"
    cases = [(["--out", str(blocker)], f"{blocker}: the report directory is a file, not a directory"),
             (["--out", str(blocker / "report")], f"{blocker / 'report'}: cannot create the report directory"),
             (["--out", str(committed)], f"{committed}: inside the repository's committed validation reports"),
             (["--out", str(committed / "sub")], "add --store-status to regenerate the committed report"),
             (["--out", str(tmp_path / "r"), "--store-status", "-n", "10"],
              "--store-status: the stored status needs every point"),
             (["--out", str(tmp_path / "r"), "--store-status", "--points", "p1", "-n", "10"],
              "--store-status: the stored status needs every point")]
    before = sorted(committed.rglob("*"))
    for extra, message in cases:
        assert main(["validate", "ANA-SUSY-2018-22", "--spec", spec, "-q", *extra]) == 2, extra
        err = capfd.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("recast: error: ") and message in err[0], (extra, err)
    assert sorted(committed.rglob("*")) == before


def test_a_write_failure_after_the_points_ran_loses_nothing(tiny_run, tmp_path, monkeypatch, capfd):
    """The report directory fills up after the points ran: every file goes to a fallback file and
    one line says where the numbers (summary.json) and the page are."""
    spec, runs = tiny_run
    monkeypatch.setattr(validation, "run_points", lambda *args, **kwargs: runs)
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "report"
    replace = os.replace

    def full_disk(src, dst, *args, **kwargs):  # the last step of every atomic write
        if Path(dst).is_relative_to(out):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    assert main(["validate", "ANA-SUSY-2018-22", "--spec", str(spec), "--out", str(out), "-q"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"recast: error: {out / 'summary.json'}: cannot write the validation summary (every "
                              f"number of the report) (No space left on device); they were saved to ")
    assert "the page (report.html) was saved to " in err[-1] and "more report file(s) were saved beside it" in err[-1]
    saved = {p.name.split("-", 3)[-1]: p for p in (tmp_path / "cache" / "unsaved").iterdir()}
    assert {"summary.json", "report.html", "report.md", "validation.json", "cutflow_p1.png"} <= set(saved)
    summary = json.loads(saved["summary.json"].read_text())
    last = summary["points"]["p1"]["cutflows"]["SR4j-1000"]["rows"][-1]
    ran = next(r for r in runs["p1"]["result"]["signal_regions"] if r["name"] == "SR4j-1000")
    assert last["n"] == ran["n"] and last["status"] in ("validated", "disagrees", "inconclusive")
    assert saved["report.html"].read_text().count("data:image/png;base64,") >= 2
    assert not list(out.rglob("*.json"))


def test_report_page_renders_in_headless_chromium(tiny_run, tmp_path, page_in_chromium):
    """The generated page of a real run, in Chromium: every figure decodes, the tables and the
    verdict colours are there; and the same check sees a broken figure."""
    spec_path, runs = tiny_run
    spec = validation.load_spec(spec_path)
    compared = {n: validation.compare_point(spec, p, runs[n]["result"]) for p in spec.points for n in [p.name]}
    status = validation.status(spec, compared)
    provenance = validation.provenance(spec, spec.points, runs)
    files = vr.save(tmp_path / "report", vr.render(spec, runs, compared, status, provenance))
    page = files["report.html"].read_text()
    figures = sorted(p.name for p in (tmp_path / "report" / "figures").iterdir())
    assert figures == ["acc_eff.png", "cutflow_p1.png", "scores_p1.png"]
    seen = page_in_chromium(page, tmp_path, "report")
    assert seen["images"] == seen["loaded"] == 3 and min(seen["widths"]) > 300
    assert seen["h1"] == "Validation of ANA-SUSY-2018-22: ATLAS against recast"
    assert f"Status: {status['label']}." in seen["strong"]
    verdicts = [r["status"] for r in compared["p1"]["cutflows"]["SR4j-1000"]["rows"]]
    verdicts.append(compared["p1"]["acc_eff"][0]["status"])
    for verdict, cls, rgb in (("validated", "good", "rgb(0, 119, 0)"), ("disagrees", "bad", "rgb(187, 0, 0)"),
                              ("inconclusive", "unsure", "rgb(170, 102, 0)")):
        if verdict in verdicts:
            assert seen["classes"][cls] >= verdicts.count(verdict) and seen["colours"][cls] == rgb
    # every table and cell of the page parsed: status, A x eff, cutflow and two provenance tables
    assert seen["tables"] == page.count("<table>") == 5 and seen["cells"] == page.count("<td") > 80
    assert seen["classes"]["num"] > 20
    broken = page.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1)
    assert page_in_chromium(broken, tmp_path, "broken")["loaded"] == 2  # the check sees a figure that does not decode


def test_ci_runs_the_browser_test(monkeypatch, chromium):
    """Issue 12: the browser test never ran in CI. .ci/run installs Debian's chromium and sets
    RECAST_REQUIRE_CHROMIUM, under which a missing chromium fails the test instead of skipping it."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install -y" in ci and " chromium" in ci and "export RECAST_REQUIRE_CHROMIUM=1" in ci
    assert ci.index("export RECAST_REQUIRE_CHROMIUM=1") < ci.index("pytest")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("RECAST_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="RECAST_REQUIRE_CHROMIUM is set"):
        chromium()
    monkeypatch.delenv("RECAST_REQUIRE_CHROMIUM")
    with pytest.raises(pytest.skip.Exception):
        chromium()


def test_the_installed_command_finds_its_specification_anywhere_and_few_events_are_inconclusive(tmp_path):
    """Issue 12 as reported: 'recast validate ANA-SUSY-2019-04 -n 500' called all five NN regions
    validated (a last row of 0 events against ATLAS' 2.9, '0.00 +- 25'), overwrote the committed
    report when run from the repository and found no specification elsewhere. The installed
    command, from an empty directory: the specification shipped with recast, the report in
    ./recast-validation/<ANA>, every region inconclusive, the committed report untouched."""
    committed = [ROOT / "validation" / "reports" / "ANA-SUSY-2019-04" / "summary.json",
                 ROOT / "data" / "ANA-SUSY-2019-04" / validation.STATUS_FILE]
    before = [p.read_bytes() for p in committed]
    command = Path(sys.executable).with_name("recast")
    proc = subprocess.run([str(command), "validate", "ANA-SUSY-2019-04", "-n", "500", "--points", "higgsino_250",
                           "--workers", "1", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "recast-validation" / "ANA-SUSY-2019-04"
    summary = json.loads((out / "summary.json").read_text())
    assert Path(summary["provenance"]["specification"]).parts[-2:] == ("ANA-SUSY-2019-04", "validation_spec.yaml")
    compared = {sr: v for sr, v in summary["status"]["regions"].items() if v["checks"]}
    assert sorted(compared) == ["1l-NN-4j", "1l-NN-5j", "1l-NN-6j", "1l-NN-7j", "1l-NN-8j"]
    assert {v["status"] for v in compared.values()} == {"inconclusive"}
    assert summary["status"]["status"] == "inconclusive"
    for sr, cf in summary["points"]["higgsino_250"]["cutflows"].items():
        last = cf["rows"][-1]
        assert cf["final_status"] == "inconclusive" and last["ratio_err"] > 0.2, (sr, last)
        if last["n"] == 0:  # an empty row has the one-event bound as its error, not a pass
            assert last["recast_err"] > 0
    assert "1l-NN-4j | inconclusive | 1 |" in (out / "report.md").read_text()
    assert [p.read_bytes() for p in committed] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recast-validation"]


@pytest.mark.parametrize("aid", ["ANA-SUSY-2018-22", "ANA-SUSY-2019-04"])
def test_committed_status_matches_its_report_and_is_shown(aid, capsys):
    """The status recast list/info show is the current rule applied to the numbers of the committed
    report parts it names (recast.validation.parts; summary.json version 1 or later), region by
    region and plane by plane, over every point of the specification at its events or more."""
    from recast.validation import limits

    stored = validation.read_status(aid)
    assert stored is not None
    spec = validation.load_spec(validation.spec_path(aid))
    points, planes, events = {}, {}, {}
    reports = stored.get("reports") or [stored["report"]]
    for rel in reports:
        summary = json.loads((ROOT / rel / "summary.json").read_text())
        validation.check_schema(summary, "validation", "summary.json")
        points.update(summary["points"])
        planes.update(summary.get("planes") or {})
        events.update({p["name"]: p["nevents"] for p in summary["provenance"]["points"]})
        if len(reports) == 1:
            assert summary["status"]["label"] == stored["label"]
    assert all(events[p.name] >= p.nevents and not points[p.name].get("error") for p in spec.points)
    now = limits.with_planes(validation.status(spec, {p.name: points[p.name] for p in spec.points}),
                             {pl.name: planes[pl.name] for pl in spec.planes}, spec.rule)
    assert stored["label"] == now["label"]
    assert stored["regions"] == {sr: v["status"] for sr, v in now["regions"].items()}
    assert stored.get("planes", {}) == {name: v["status"] for name, v in now.get("planes", {}).items()}
    assert stored["rule"] == spec.rule.text()
    assert stored["events_per_point"] == sorted({events[p.name] for p in spec.points})
    assert main(["list"]) == 0
    listed = " ".join(capsys.readouterr().out.split())
    assert stored["label"].split(" (")[0] in listed and f"validation rule: {spec.rule.text()}" in listed
    assert main(["info", aid]) == 0
    out = capsys.readouterr().out
    assert f"validation: {stored['label']}" in " ".join(out.split())
    assert "not validated (no report" not in out


def test_an_analysis_without_references_says_why(capsys):
    stored = validation.read_status("ANA-SUSY-2018-30")
    assert stored["label"] == "not validated (no published reference)" and "HEPData" in stored["no_reference"]
    assert main(["info", "ANA-SUSY-2018-30"]) == 0
    assert "validation: not validated (no published reference)" in " ".join(capsys.readouterr().out.split())


def test_a_broken_status_file_reads_as_no_report(tmp_path, monkeypatch):
    import recast.paths

    (tmp_path / "ANA-SUSY-2018-22").mkdir()
    (tmp_path / "ANA-SUSY-2018-22" / validation.STATUS_FILE).write_text(
        json.dumps({"schema": "recast-validation-status", "schema_version": 1, "status": "great"}))
    monkeypatch.setattr(recast.paths, "analysis_data_dir", lambda aid: tmp_path / aid)
    assert validation.read_status("ANA-SUSY-2018-22") is None
    with pytest.raises(RecastError, match="x: validation-status schema version 4 is not supported"):
        validation.check_schema({"schema": "recast-validation-status", "schema_version": 4}, "validation-status", "x")
    with pytest.raises(RecastError, match="x: not a recast validation-status file"):
        validation.check_schema({"schema_version": 2}, "validation-status", "x")
    with pytest.raises(RecastError, match="invalid validation-status file at status"):
        validation.check_schema({"schema": "recast-validation-status", "schema_version": 1, "analysis": "A",
                                 "created": "t", "report": "r", "status": "great", "label": "", "rule": "",
                                 "regions": {}}, "validation-status", "x")


def test_map_points_off_atlas_grid_are_shown_not_judged(tmp_path):
    doc = {"analysis": "ANA-SUSY-2018-22", "points": [], "grids": [{
        "name": "g", "model": "gqq", "m_parent": [1400, 1800], "m_lsp": [600, 100],
        "acc_eff_map": {"file": str(ROOT / "data" / "ANA-SUSY-2018-22" / "acc_eff_T1.json")}}]}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(doc))
    points = {p.name: p for p in validation.load_spec(path).points}
    assert set(points) == {"g_1400_600", "g_1800_600", "g_1800_100"}  # (1400, 100) lies outside ATLAS' maps
    assert points["g_1800_600"].interpolated == set()
    assert points["g_1800_600"].acc_eff["BDT-GGd1"]["atlas"] == pytest.approx(0.1058869)
    assert points["g_1400_600"].interpolated == {"BDT-GGd1", "BDT-GGd2", "BDT-GGd3", "BDT-GGd4"}
    assert points["g_1800_100"].interpolated  # between (1800, 0.5) and (1800, 200)


def test_a_study_point_is_shown_not_judged(tmp_path):
    spec = validation.load_spec(_spec(tmp_path, judge=False, acc_eff={"BDT-GGd3": {"atlas": 0.1}}))
    counts = [4000, 3000, 2500, 2200, 2000, 1600, 1300, 1200, 1200, 600, 550, 400, 300, 25]
    region = _region([float(c) for c in counts], 278.0, 5000.0)
    result = {"signal_regions": [region, dict(region, name="BDT-GGd3")], "cross_section": {"value_fb": 2.0}}
    comp = validation.compare_point(spec, spec.points[0], result)
    assert comp["cutflows"]["SR4j-1000"]["final_status"] is None and comp["cutflows"]["SR4j-1000"]["rows"][-1]["ratio"]
    assert comp["acc_eff"][0]["judged"] is False and comp["acc_eff"][0]["ratio"] == pytest.approx(0.005 / 0.1)
    assert validation.status(spec, {"p1": comp})["status"] == "not validated"


def test_a_directory_given_as_the_specification_is_one_line(tmp_path, capfd):
    """`recast validate ANA --spec DIR` was an internal error (IsADirectoryError)."""
    assert main(["validate", "ANA-SUSY-2018-22", "--spec", str(tmp_path), "-q"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [f"recast: error: {tmp_path}: is a directory, not a validation specification"]


def test_other_detector_cards_run_on_the_same_events_beside_the_points_own(tmp_path):
    """A spec's ``detectors``: each point also runs with the other card on the same generated events.
    The result beside equals a run with that card alone (same seed) count for count, the point's own
    result equals a run without the other card, the comparison has a column per card, and the
    status is the own card's."""
    doc = yaml.safe_load(_spec(tmp_path).read_text())
    doc["points"][0].update(nevents=120, acc_eff={"BDT-GGd3": {"atlas": 0.176}}, options={"detector": "truth"})
    doc["detectors"] = ["truth", "atlas-run2"]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    spec = validation.load_spec(path)
    assert spec.detectors == ["truth", "atlas-run2"]
    point = spec.points[0]
    with mock.patch.dict(os.environ):
        both = validation.run_one({"analysis": spec.analysis.id, "point": point, "detectors": spec.detectors})
        own = validation.run_one({"analysis": spec.analysis.id, "point": point})
        point.options = {"detector": "atlas-run2"}
        alone = validation.run_one({"analysis": spec.analysis.id, "point": point})
    assert both["error"] is None and set(both["by_detector"]) == {"atlas-run2"}  # truth is the point's own

    def counts(doc):
        return [(sr["name"], [(s["n"], s["sumw"]) for s in sr["cutflow"]]) for sr in doc["signal_regions"]]

    beside = both["by_detector"]["atlas-run2"]
    assert beside["detector"]["name"] == "atlas-run2" and both["result"]["detector"]["name"] == "truth"
    assert counts(both["result"]) == counts(own["result"])
    assert counts(beside) == counts(alone["result"])
    assert counts(beside) != counts(both["result"])  # the card moved something
    assert beside["signal_regions"][0]["cutflow"][0]["n"] == both["result"]["signal_regions"][0]["cutflow"][0]["n"]

    point.options = {"detector": "truth"}
    compared = {"p1": validation.compare_point(spec, point, both["result"], both["by_detector"])}
    by = compared["p1"]["by_detector"]["atlas-run2"]
    assert compared["p1"]["detector"] == "truth" and by["detector"] == "atlas-run2"
    alone_cmp = validation.compare_point(spec, point, alone["result"])
    assert by["acc_eff"][0]["ratio"] == alone_cmp["acc_eff"][0]["ratio"]
    status = validation.status(spec, compared)
    assert status == validation.status(spec, {"p1": validation.compare_point(spec, point, both["result"])})
    prov = validation.provenance(spec, spec.points, {"p1": both})
    files = vr.render(spec, {"p1": both}, compared, status, prov)
    md = files["report.md"].decode()
    assert "Detector card: **truth**" in md and "beside it, on the same generated events: atlas-run2" in md
    row = next(line for line in md.splitlines() if line.startswith("| p1 | BDT-GGd3 |"))
    assert row.split(" | ")[6].startswith(f"{by['acc_eff'][0]['ratio']:.2f} ± ")  # the column beside
    header = next(line for line in md.splitlines() if line.startswith("| row | recast step |"))
    assert "recast/ATLAS, atlas-run2" in header
    summary = json.loads(files["summary.json"])
    assert summary["points"]["p1"]["by_detector"]["atlas-run2"]["acc_eff"][0]["ratio"] == by["acc_eff"][0]["ratio"]


def test_a_bad_detector_in_the_spec_is_one_line(tmp_path):
    doc = yaml.safe_load(_spec(tmp_path).read_text())
    doc["detectors"] = ["truth", "no-such-card"]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(RecastError, match=r"spec.yaml: detectors: detector card '.*no-such-card': neither a shipped card"):
        validation.load_spec(path)
