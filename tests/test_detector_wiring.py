"""The detector card from the command line to the result: the ``detector`` option, the one build
call site of pipeline and engine, the result's ``detector`` block, ``--detector`` on run, scan and
validate, the cards in ``recast info``, and the scan's reuse check."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from recast import analysis as ana_mod
from recast import detector, engine, pipeline, results
from recast.analysis import Analysis, Cut, SignalRegion
from recast.cli import main
from recast.cli.common import with_detector
from recast.errors import AnalysisError, DetectorCardError, RecastError
from recast.events import HepMCSource
from recast.objects import ObjectConfig

FULL = Path(__file__).parent / "data" / "detector_full.yaml"
A22 = "ANA-SUSY-2018-22"


def _variables(obj, opt):
    jets = obj.jets[(obj.jets.pt > 20) & (np.abs(obj.jets.eta) < 2.5)]
    return {"njet": ak.to_numpy(ak.num(jets)), "met": ak.to_numpy(obj.met.pt)}


def toy(with_option: bool = True) -> Analysis:
    return Analysis(id="TOY-DET", title="jets", arxiv="-", sqrt_s_tev=13.0, luminosity_ifb=139.0, preselection=(),
                    signal_regions=(SignalRegion("SR", (Cut(">= 6 jets", "njet >= 6"), Cut("MET", "met > 400"))),),
                    variables=_variables, object_config=lambda opt: ObjectConfig(),
                    options=(detector.option("truth", "the toy's card"),) if with_option else ())


def test_the_option_checks_the_card_and_names_files_absolutely(tmp_path, monkeypatch):
    ana = toy()
    assert ana.resolve_options() == {"detector": "truth"}
    monkeypatch.chdir(FULL.parent)
    assert ana.resolve_options({"detector": FULL.name}) == {"detector": str(FULL.resolve())}
    bad = tmp_path / "mev.yaml"
    bad.write_text(FULL.read_text().replace("momentum_unit: GeV", "momentum_unit: MeV"))
    with pytest.raises(DetectorCardError, match=r"mev.yaml: momentum_unit: 'MeV' is not accepted"):
        ana.resolve_options({"detector": str(bad)})
    with pytest.raises(RecastError) as info:
        pipeline.resolve_options([ana], {"detector": "cms"})
    assert str(info.value) == (f"TOY-DET: detector card 'cms': neither a shipped card "
                               f"({', '.join(detector.available_cards())}) nor a file")
    assert detector.object_config(ana, {"detector": str(FULL)}).detector == str(FULL)
    assert detector.object_config(toy(False), {}).detector == "truth"
    with pytest.raises(AnalysisError, match="TOY-DET has no option 'detector'"):
        toy(False).resolve_options({"detector": "truth"})


def test_engine_and_pipeline_count_the_reconstructed_objects(gtt_sample):
    batch, path, _ = gtt_sample
    ana = toy()
    counts = {}
    for card in ("truth", str(FULL)):
        counts[card] = engine.run(ana, [batch[:60], batch[60:]], {"detector": card}, seed=4)
        objects = detector.build(batch, ObjectConfig(detector=card), seed=4)
        v = _variables(objects, {})
        assert [s.n for s in counts[card].cutflows["SR"]] == [120, int((v["njet"] >= 6).sum()),
                                                             int(((v["njet"] >= 6) & (v["met"] > 400)).sum())]
    assert [s.n for s in counts["truth"].cutflows["SR"]] != [s.n for s in counts[str(FULL)].cutflows["SR"]]

    runs = pipeline.prepare([ana], {ana.id: {"detector": str(FULL)}})
    assert runs[0].object_config.detector == str(FULL.resolve())
    source = HepMCSource(path, chunk_size=50)
    pipeline.analyse(source, runs, seed=4)
    assert [s.n for s in runs[0].counts.cutflows["SR"]] == [s.n for s in counts[str(FULL)].cutflows["SR"]]
    doc = pipeline.documents(source, runs, seed=4, xsec_fb=1.0)[ana.id]
    card = detector.load(FULL)
    assert doc["detector"] == {"name": "test-full", "path": str(FULL.resolve()), "sha256": card.sha256}
    assert doc["analysis"]["options"] == {"detector": str(FULL.resolve())}
    results.validate(doc)
    del doc["detector"]  # files written before detector cards stay valid
    results.validate(doc)
    with pytest.raises(RecastError, match="invalid result file at detector: 'sha256' is a required property"):
        results.validate({**doc, "detector": {"name": "x", "path": "y"}})


def test_a_bad_card_fails_before_any_event(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(FULL.read_text().replace("[20, 50, 100, 200]", "[20, 100, 50, 200]"))
    ana = dataclasses.replace(toy(), object_config=lambda opt: ObjectConfig(detector=str(bad)), options=())
    with pytest.raises(DetectorCardError) as info:
        pipeline.prepare([ana])
    assert str(info.value) == (f"{bad.resolve()}: btagging.working_points.WP-70.b.edges: not strictly increasing "
                               f"(50 after 100 at index 2)")


def test_with_detector_sets_the_card_for_every_analysis(monkeypatch):
    assert with_detector({"x": "1"}, None, []) == {"x": "1"}
    assert with_detector({"x": "1"}, str(FULL), [toy()]) == {"x": "1", "detector": str(FULL.resolve())}
    monkeypatch.chdir(FULL.parent)
    assert with_detector({}, FULL.name, [toy()])["detector"] == str(FULL.resolve())
    with pytest.raises(RecastError) as info:
        with_detector({}, "truth", [toy(), dataclasses.replace(toy(False), id="OTHER")])
    assert str(info.value) == "--detector: OTHER has no 'detector' option (truth-level objects only)"
    with pytest.raises(RecastError) as info:
        with_detector({"detector": "truth"}, FULL.name, [toy()])
    assert str(info.value) == f"--detector {FULL.name} and -O detector=truth: give the card once"


def test_run_with_detector_file_names_the_card_in_the_result(gtt_sample, tmp_path, capsys):
    events = str(gtt_sample[1])
    docs = {}
    for name, extra in (("default", []), ("truth", ["--detector", "truth"]), ("card", ["--detector", str(FULL)])):
        out = tmp_path / f"{name}.json"
        assert main(["run", A22, "--events", events, "--xsec-fb", "1", "--seed", "7", "-q", "--out", str(out),
                     *extra]) == 0
        docs[name] = results.read(out)
    assert docs["default"]["detector"] == detector.load("atlas-run2").describe()  # the analysis' default card
    assert docs["truth"]["detector"] == detector.load("truth").describe()
    assert docs["card"]["detector"] == detector.load(FULL).describe()
    assert docs["card"]["analysis"]["options"]["detector"] == str(FULL.resolve())

    def steps(doc):
        return [(s["step"], s["n"]) for r in doc["signal_regions"] for s in r["cutflow"]]

    assert steps(docs["truth"]) != steps(docs["card"])
    assert steps(docs["truth"])[0] == steps(docs["card"])[0] == ("all events", 120)


def test_run_refuses_a_bad_card_in_one_line(gtt_sample, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(FULL.read_text().replace("value: 0.25, source", "value: 1.25, source"))
    assert main(["run", A22, "--events", str(gtt_sample[1]), "-q", "--detector", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == (f"recast: error: {bad.resolve()}: btagging.working_points.WP-77.c: efficiency 1.25 outside [0, 1] "
                   f"at value\n")


def test_info_lists_the_shipped_cards(capsys):
    assert main(["info", A22]) == 0
    out = capsys.readouterr().out
    ana = ana_mod.load(A22)
    default = next((o.default for o in ana.options if o.name == "detector"), "truth")
    for name in detector.available_cards():
        card = detector.load(name)
        assert name in out and card.sha256 in out and card.title in out
    assert f"default detector card: {default}" in out


def test_scan_reuse_check_sees_an_edited_card(tmp_path):
    from recast.scan.grid import GridPoint
    from recast.scan.settings import Settings, detector_hashes, settings_hash

    card = tmp_path / "card.yaml"
    card.write_text(FULL.read_text())
    point = GridPoint(name="p", process="gluino-pair", seed=1, nevents=10, slha_text="BLOCK MASS\n")
    settings = Settings(analyses=("TOY-DET",), options={"TOY-DET": {"detector": str(card)}})
    before = settings_hash(point, settings)
    assert detector_hashes(settings.options) == {"TOY-DET": detector.load(card).sha256}
    card.write_text(FULL.read_text().replace("value: 10, source", "value: 12, source"))
    assert settings_hash(point, settings) != before
    assert detector_hashes({"TOY-DET": {"detector": "truth"}, "OTHER": {}}) == {}


def test_validate_gives_every_point_the_card(monkeypatch, tmp_path, capsys):
    from recast import validation

    seen = {}

    def run_points(spec, points, **kw):
        seen.update({p.name: dict(p.options) for p in points})
        return {p.name: {"name": p.name, "result": None, "error": "not run (test)", "seconds": 0.0} for p in points}

    monkeypatch.setattr(validation, "run_points", run_points)
    spec = validation.load_spec(validation.spec_path(A22), ana_mod.load(A22))
    first = spec.points[0].name
    code = main(["validate", A22, "--points", first, "-n", "10", "-q", "--detector", str(FULL),
                 "--out", str(tmp_path / "report")])
    assert code == 2 and "1 of 1 points failed" in capsys.readouterr().err
    assert seen[first]["detector"] == str(FULL.resolve())
    default = next(o.default for o in ana_mod.load(A22).options if o.name == "detector")
    assert main(["validate", A22, "--detector", str(FULL), "--store-status", "-q",
                 "--out", str(tmp_path / "report")]) == 2
    assert capsys.readouterr().err == (f"recast: error: --store-status: the stored status is that of {A22}'s default "
                                       f"detector card ({default}), not of --detector {FULL}\n")
    report = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert report  # the report of the first run was written
