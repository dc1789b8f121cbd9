"""A stored status over several committed report parts (recast.validation.parts): the points a
part does not run come from the committed summaries, with their verdicts recomputed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from recast import validation
from recast.errors import RecastError
from recast.validation import parts

ROOT = Path(__file__).resolve().parents[1]
A22 = "ANA-SUSY-2018-22"
BENCH = f"validation/reports/{A22}"  # the committed part holding the benchmark points and the gqq_map grid


@pytest.fixture(scope="module")
def spec22():
    return validation.load_spec(validation.spec_path(A22))


@pytest.fixture()
def checkout(tmp_path, monkeypatch):
    """A checkout holding a copy of the committed benchmark part, named by the stored status."""
    (tmp_path / BENCH).mkdir(parents=True)
    shutil.copy(ROOT / BENCH / "summary.json", tmp_path / BENCH / "summary.json")
    monkeypatch.setattr(parts, "read_status", lambda ana: {"report": BENCH})
    return tmp_path


def _plane_points(spec):
    return [p for p in spec.points if p.plane or p.grid in ("gqq_meff_map", "sqq_map", "t5ww_map")]


def test_the_benchmark_part_is_carried_with_its_verdicts_recomputed(spec22, checkout):
    running = _plane_points(spec22)
    carried = parts.carry(spec22, running, checkout, f"{BENCH}/planes")
    summary = json.loads((checkout / BENCH / "summary.json").read_text())
    assert sorted(carried.compared) == sorted(p.name for p in spec22.points if p not in running)
    assert len(carried.compared) == 8 + 16 and carried.reports == [BENCH] and carried.planes == {}
    assert carried.provenance["gqq_2200_500"]["nevents"] == 20000
    # the committed status per region, recomputed from the committed numbers under today's rule
    again = validation.status(spec22, carried.compared)
    assert {sr: v["status"] for sr, v in again["regions"].items()} == \
        {sr: v["status"] for sr, v in summary["status"]["regions"].items()}
    assert again["regions_validated"] == 3 and again["regions"]["SR2j-1600"]["status"] == "validated"


def test_a_point_no_part_holds_is_named(spec22, checkout):
    t1 = [p for p in spec22.points if p.plane == "T1"]
    with pytest.raises(RecastError, match=r"point gqq_meff_map_1800_0.5 of .* is neither run here \(--points\) nor held, with seed "
                                          rf"\d+ and at least 5000 events, by {BENCH}$"):
        parts.carry(spec22, t1, checkout, f"{BENCH}/planes")


@pytest.mark.parametrize("change, message", [
    (lambda s: s["provenance"]["points"][0].update(seed=1), "point gqq_2200_500 of .* is neither run here"),
    (lambda s: s["provenance"]["points"][0].update(nevents=19999), "point gqq_2200_500 of .* is neither run here"),
    (lambda s: s["points"]["gqq_2200_500"].update(error="boom"), "point gqq_2200_500 of .* is neither run here"),
    (lambda s: s["provenance"]["default_options"].update(detector="truth"), "made with other default options"),
])
def test_a_part_that_does_not_hold_a_point_as_the_spec_says_is_not_used(spec22, checkout, change, message):
    path = checkout / BENCH / "summary.json"
    summary = json.loads(path.read_text())
    change(summary)
    path.write_text(json.dumps(summary))
    with pytest.raises(RecastError, match=message):
        parts.carry(spec22, _plane_points(spec22), checkout, f"{BENCH}/planes")


def test_the_part_being_written_is_not_read(spec22, checkout, monkeypatch):
    """Regenerating the benchmark part itself: nothing is carried from its own old summary."""
    monkeypatch.setattr(parts, "read_status", lambda ana: {"report": BENCH, "reports": [BENCH, f"{BENCH}/planes"]})
    bench = [p for p in spec22.points if p not in _plane_points(spec22)]
    with pytest.raises(RecastError, match=f"{BENCH}/planes/summary.json: the committed report part cannot be read"):
        parts.carry(spec22, bench, checkout, BENCH)  # the planes part is named but absent in this checkout


def test_the_status_document_names_its_parts():
    status = {"status": "validated", "label": "validated (1 of 1 compared regions)", "rule_text": "r",
              "regions": {"SR2j-1600": {"status": "validated"}}, "no_reference": ""}
    prov = {"created": "2026-12-04T00:00:00+00:00", "points": [{"nevents": 5000}, {"nevents": 20000}]}
    doc = validation.status_document(A22, status, prov, "a/planes", reports=["a", "a/planes"])
    assert doc["reports"] == ["a", "a/planes"] and doc["events_per_point"] == [5000, 20000]
    assert "reports" not in validation.status_document(A22, status, prov, "a", reports=["a"])


def _no_run(*args, **kwargs):
    pytest.fail("points ran before the stored status' other parts were checked")


def test_the_command_checks_the_parts_before_any_point_runs(tmp_path, monkeypatch, capfd):
    from recast.cli import main

    monkeypatch.setattr(validation, "run_points", _no_run)
    monkeypatch.setattr(parts, "read_status", lambda ana: {"report": BENCH})
    outside = tmp_path / "r"
    assert main(["validate", A22, "--points", "T1", "--store-status", "--out", str(outside), "-q"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [f"recast: error: --store-status with --points regenerates one part of the committed reports (the "
                   f"other points come from the parts the stored status names): --out must lie in the repository's "
                   f"validation/reports/, not {outside}"]
    inside = ROOT / BENCH / "planes-test-never-written"
    assert main(["validate", A22, "--points", "T1", "--store-status", "--out", str(inside), "-q"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "point gqq_meff_map_1800_0.5 " in err[0] and f"by {BENCH}" in err[0]
    assert not inside.exists() and not outside.exists()
