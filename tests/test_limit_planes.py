"""Cross-section upper-limit planes (recast validate's ``limit_planes:``): recast's sigma_UL against a
hand-made ATLAS reference on constructed result documents (mu95 cross-checked against pyhf, ratio,
error and verdict by hand), the exclusion contour on a synthetic plane with a known answer, the
light-LSP mass limit on a synthetic line, the status with planes, the specification's checks (each
malformed entry one line), the shipped planes and grids, and one plane end to end through the
command (2 points x 200 events, resumed without generating)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from recast import analysis as ana_mod
from recast import validation
from recast.cli import main
from recast.errors import RecastError
from recast.validation import limits, planes
from recast.validation.rule import DISAGREES, INCONCLUSIVE, VALIDATED, Rule

ROOT = Path(__file__).resolve().parents[1]
ANA22 = ana_mod.load("ANA-SUSY-2018-22")
SIGMA_FB = 2.0  # the constructed points' cross section
BEST, OTHER = "SR4j-3400", "SR2j-2800"  # the region with signal, and one without


def _pub(region: str) -> dict:
    p = ANA22.published[region]
    return {"observed": p.observed, "background": p.background, "background_err": p.background_err,
            "s95_observed": p.s95_observed, "s95_expected": p.s95_expected}


def _result(signal: float, rel_err: float, other: float = 0.0) -> dict:
    """A result document with the fields the limits read: BEST holds ``signal`` events with a
    relative MC error ``rel_err``, OTHER ``other`` events (10 % error)."""
    return {"analysis": {"id": ANA22.id}, "cross_section": {"value_fb": SIGMA_FB},
            "signal_regions": [
                {"name": BEST, "yield": signal, "yield_err": signal * rel_err, "published": _pub(BEST)},
                {"name": OTHER, "yield": other, "yield_err": 0.1 * other, "published": _pub(OTHER)}]}


def _pyhf_mu95(signal: float, rel_err: float, region: str = BEST) -> tuple[float, float]:
    """The reference: pyhf's own upper limit (observed, expected median) on the one-bin likelihood
    written out here, the published count and background with its Poisson-constrained error, the
    signal with its MC error as another such factor."""
    import pyhf

    pyhf.set_backend("numpy")
    p = _pub(region)
    ws = pyhf.Workspace({
        "channels": [{"name": "SR", "samples": [
            {"name": "signal", "data": [signal], "modifiers": [
                {"name": "mu", "type": "normfactor", "data": None},
                {"name": "signal_mc", "type": "shapesys", "data": [signal * rel_err]}]},
            {"name": "background", "data": [p["background"]], "modifiers": [
                {"name": "background_err", "type": "shapesys", "data": [p["background_err"]]}]}]}],
        "observations": [{"name": "SR", "data": [p["observed"]]}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"})
    model = ws.model()
    # the bracket from 0.01: pyhf's CLs is 0/0 at mu = 0, where upper_limit's own bracket starts
    obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(ws.data(model), model, 0.01, 10.0, level=0.05,
                                                              rtol=1e-9)
    return float(obs), float(exp[2])


def _write_plane_spec(tmp_path: Path, rows: list, **plane) -> Path:
    (tmp_path / "ul.json").write_text(json.dumps({"what": "hand-made", "source": {"file": "hand"}, "rows": rows}))
    entry = {"name": "P", "model": "gqq", "upper_limits": "ul.json", "select": {"min_gap": 400}, "nevents": 100,
             "seed": 1000}
    entry.update(plane)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"analysis": ANA22.id, "limit_planes": [entry]}))
    return path


# (m_gluino, m_lsp): signal in BEST, its relative MC error, ATLAS' sigma_UL as a factor of recast's
CASES = {(2000.0, 0.0): (8.0, 0.05, 1 / 1.05), (2200.0, 0.0): (8.0, 0.05, 1 / 0.70),
         (2400.0, 0.0): (8.0, 0.30, 1 / 1.10), (2200.0, 400.0): (20.0, 0.02, 1.0)}


def test_sigma_ul_against_a_hand_made_reference(tmp_path):
    """ratio = mu95 x sigma / ATLAS with mu95 = pyhf's, its error = ratio x the signal's relative MC
    error, the verdicts by hand: |1.05 - 1| < 20 % -> validated; |0.70 - 1| = 0.30 > 20 % and > 2 x
    0.035 -> disagrees; 1.10 +- 0.33: error above 20 % -> inconclusive. The expected column the same."""
    mu = {k: _pyhf_mu95(v[0], v[1]) for k, v in CASES.items()}
    rows = [[mp, ml, mu[(mp, ml)][0] * SIGMA_FB * f, mu[(mp, ml)][1] * SIGMA_FB * f] for (mp, ml), (_, _, f) in
            CASES.items()]
    spec = validation.load_spec(_write_plane_spec(tmp_path, rows))
    plane = spec.planes[0]
    assert plane.points == ["P_2000_0", "P_2200_0", "P_2400_0", "P_2200_400"]
    by_mass = {(p.m_parent, p.m_lsp): p for p in spec.points}
    runs = {by_mass[k].name: {"result": _result(s, rel, other=0.5)} for k, (s, rel, _) in CASES.items()}
    out = limits.compare_plane(spec, plane, runs)
    got = {(r["m_parent"], r["m_lsp"]): r for r in out["points"]}
    expected_verdicts = {(2000.0, 0.0): VALIDATED, (2200.0, 0.0): DISAGREES, (2400.0, 0.0): INCONCLUSIVE,
                         (2200.0, 400.0): VALIDATED}
    for key, (signal, rel, factor) in CASES.items():
        r = got[key]
        assert r["region"] == BEST and r["signal"] == signal and r["signal_mc_rel_err"] == pytest.approx(rel)
        assert r["recast_obs_fb"] == pytest.approx(mu[key][0] * SIGMA_FB, rel=1e-4)
        assert r["recast_exp_fb"] == pytest.approx(mu[key][1] * SIGMA_FB, rel=1e-4)
        for kind in ("obs", "exp"):
            assert r[f"ratio_{kind}"] == pytest.approx(1 / factor, rel=1e-4)
            assert r[f"ratio_{kind}_err"] == pytest.approx(r[f"ratio_{kind}"] * rel, rel=1e-12)
            assert r[f"status_{kind}"] == expected_verdicts[key]
        assert r["interpolated"] is False and r["judged"] is True
    assert out["n_points"] == 4 and out["n_judged"] == 4 and out["events_per_point"] == [100]
    assert out["median_dev_obs"] == pytest.approx(np.median([0.05, 0.30, 0.10, 0.0]), abs=1e-4)
    assert out["worst_dev_obs"] == pytest.approx(0.30, abs=1e-4) and out["worst_point_obs"] == "P_2200_0"
    assert out["status"]["status"] == DISAGREES and out["status"]["checks"] == 8
    assert out["status"]["failed"] == ["P_2200_0 (obs)", "P_2200_0 (exp)"]
    assert out["status"]["inconclusive"] == ["P_2400_0 (obs)", "P_2400_0 (exp)"]


def test_atlas_regions_restrict_the_choice(tmp_path):
    """With ``regions`` (ATLAS' choice) the limit comes from a named region even where another
    region would be the best-expected."""
    rows = [[2000.0, 0.0, 1.0, None], [2200.0, 0.0, 1.0, None], [2200.0, 400.0, 1.0, None]]
    spec = validation.load_spec(_write_plane_spec(tmp_path, rows, regions=[BEST], region_source="a test"))
    plane = spec.planes[0]
    point = spec.points[0]
    free = limits.best_limit(_result(2.0, 0.05, other=40.0), ANA22)
    assert free.name == OTHER  # 40 events in SR2j-2800 beat 2 in SR4j-3400
    r = limits.compare_point(plane, point, _result(2.0, 0.05, other=40.0), ANA22, Rule())
    assert r["region"] == BEST
    assert r["recast_obs_fb"] == pytest.approx(_pyhf_mu95(2.0, 0.05)[0] * SIGMA_FB, rel=1e-4)
    assert "best-expected among SR4j-3400, ATLAS' choice (a test)" in plane.region_text()
    assert plane.has_expected is False
    # no expected published: no expected check; a point between ATLAS' points is shown, not judged
    assert r["status_exp"] is None and r["ratio_exp"] is None and r["status_obs"] is not None


def test_between_atlas_points_the_reference_is_interpolated_in_log_sigma(tmp_path):
    rows = [[2000.0, 0.0, 1.0, 4.0], [2400.0, 0.0, 0.01, 0.04], [2000.0, 400.0, 1.0, 4.0]]
    spec = validation.load_spec(_write_plane_spec(tmp_path, rows, line={"m_lsp": 0, "m_parent": [2100, 2300],
                                                                         "step": 100}))
    plane = spec.planes[0]
    assert [p.name for p in spec.points] == ["P_2000_0", "P_2400_0", "P_2000_400", "P_2100_0", "P_2200_0", "P_2300_0"]
    obs, exp, interpolated = plane.atlas(2200.0, 0.0)
    assert interpolated and obs == pytest.approx(0.1) and exp == pytest.approx(0.4)  # geometric means
    assert plane.atlas(2100.0, 0.0)[0] == pytest.approx(10 ** -0.5)
    assert plane.atlas(2000.0, 400.0) == (1.0, 4.0, False)
    r = limits.compare_point(plane, spec.points[4], _result(8.0, 0.05), ANA22, Rule())
    assert r["interpolated"] and not r["judged"] and r["status_obs"] is None and r["ratio_obs"] is not None


def test_exclusion_contour_on_a_synthetic_plane():
    """log sigma_UL = a + b m + c l and sigma_theory = exp(d + e m): the contour is the line
    m = (d - a - c l) / (b - e), exactly (the interpolation is exact for a linear log sigma)."""
    a, b, c, d, e = 2.0, -2.0e-3, 1.5e-3, 8.0, -5.0e-3
    mp, ml = np.meshgrid(np.arange(1000.0, 3001.0, 200.0), np.arange(0.0, 1201.0, 200.0))
    mp, ml = mp.ravel(), ml.ravel()
    keep = mp - ml >= 400
    ul = np.exp(a + b * mp + c * ml)
    lines = limits.exclusion_contours(mp[keep], ml[keep], ul[keep], lambda m: np.exp(d + e * np.asarray(m)))
    assert len(lines) == 1
    line = lines[0]
    expected_m = (d - a - c * line[:, 1]) / (b - e)
    assert np.max(np.abs(line[:, 0] - expected_m)) < 1e-6
    assert line[:, 1].min() == pytest.approx(0.0) and line[:, 1].max() > 800  # across the plane
    # the same with the gluino table and a flat limit: a vertical line where the table equals it
    table = limits.theory("gluino-pair")
    flat = limits.exclusion_contours(mp[keep], ml[keep], np.full(keep.sum(), 1.0), table)
    m_star = limits.mass_limit([1000.0, 3000.0], [1.0, 1.0], table)["mass_gev"]
    assert float(table(m_star)) == pytest.approx(1.0, rel=1e-9)
    assert np.max(np.abs(flat[0][:, 0] - m_star)) < 2.0  # the table is log-linear between its 5 GeV steps
    assert limits.exclusion_contours([1000, 2000], [0, 0], [1.0, 1.0], table) == []  # no triangle


def test_light_lsp_mass_limit_on_a_synthetic_line():
    """sigma_UL = exp(a + b m), sigma_theory = exp(c + d m): they cross at m = (c - a) / (b - d)."""
    a, b, c, d = -1.0, -0.5e-3, 7.0, -4.0e-3
    masses = np.arange(2000.0, 2601.0, 50.0)
    theory = lambda m: np.exp(c + d * np.asarray(m))  # noqa: E731
    got = limits.mass_limit(masses[::-1], np.exp(a + b * masses[::-1]), theory)  # any order
    assert got["mass_gev"] == pytest.approx((c - a) / (b - d), abs=1e-5) and got["note"] == ""
    assert (c - a) / (b - d) == pytest.approx(2285.714, abs=1e-3)
    low = limits.mass_limit(masses, np.full(masses.size, 1e-6), theory)
    assert low == {"mass_gev": None, "note": "every point excluded: the limit lies above 2600 GeV"}
    high = limits.mass_limit(masses, np.full(masses.size, 1e6), theory)
    assert high == {"mass_gev": None, "note": "no point excluded: the limit lies below 2000 GeV"}
    # two rises: the highest one is the limit
    two = limits.mass_limit([1000.0, 1100.0, 1200.0, 1300.0], [0.5, 2.0, 0.5, 2.0], lambda m: np.ones_like(m))
    assert 1200.0 < two["mass_gev"] < 1300.0


def test_status_with_planes():
    base = {"status": VALIDATED, "label": VALIDATED, "no_reference": "",
            "regions": {"SR1": {"status": VALIDATED, "checks": 2, "failed": [], "inconclusive": []},
                        "SR2": {"status": "not validated", "checks": 0, "failed": [], "inconclusive": []}}}
    planes_in = {"T1": {"status": {"status": DISAGREES, "checks": 3, "failed": ["T1_1 (obs)"], "inconclusive": []}}}
    out = limits.with_planes(base, planes_in, Rule())
    assert out["planes"]["T1"]["status"] == DISAGREES
    assert (out["status"], out["label"]) == ("partly validated", "partly validated (1 of 2 compared regions and "
                                                                 "sigma_UL planes)")
    assert limits.with_planes(base, {}, Rule()) == base
    unsure = {"T1": {"status": {"status": INCONCLUSIVE, "checks": 1, "failed": [], "inconclusive": ["x"]}}}
    only = dict(base, regions={"SR2": base["regions"]["SR2"]})
    assert limits.with_planes(only, unsure, Rule())["label"] == ("inconclusive (MC errors above the 20% tolerance in "
                                                                "all 1 compared regions and sigma_UL planes)")


def _entry(**change):
    entry = {"name": "P", "model": "gqq", "upper_limits": str(ROOT / "data" / ANA22.id / "upper_limits_T1.json"),
             "select": {"min_gap": 400, "m_lsp_values": [0]}, "nevents": 100, "seed": 1}
    entry.update(change)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.mark.parametrize("change, message", [
    ({"model": "t1"}, "limit plane P: model 't1' is not a simplified-model template"),
    ({"process": "stop-pair"}, "limit plane P: process 'stop-pair': template gqq is produced by gluino-pair"),
    ({"upper_limits": "nope.json"}, "limit plane P: upper_limits nope.json not found"),
    ({"select": {"min_gap": 400, "m_lsp_value": [0]}}, "limit plane P: select must be a mapping of"),
    ({"select": {"min_gap": 5000}}, "limit plane P: select picks none of the 144 points of upper_limits_T1.json"),
    ({"select": {"m_parent_range": [3000, 1000]}}, "select m_parent_range must be [low, high] in GeV"),
    ({"line": {"m_lsp": 0, "m_parent": [2100, 2500]}},
     "limit plane P: line must be {m_lsp, m_parent: [low, high], step}"),
    ({"line": {"m_lsp": 0, "m_parent": [2100, 2500], "step": 0}}, "line step must be > 0 GeV"),
    ({"line": {"m_lsp": 0, "m_parent": [3000, 3200], "step": 100}},
     "point P_3100_0: gluino-pair: mass 3100 GeV outside the cross-section table"),
    ({"line": {"m_lsp": 2000, "m_parent": [1000, 1200], "step": 100}},
     "point P_1000_2000: gqq: need 0 <= m_LSP < m_gluino"),
    ({"line": {"m_lsp": 0, "m_parent": [1000, 1200], "step": 100}},
     "point P_1000_0 lies outside ATLAS' grid in upper_limits_T1.json"),
    ({"nevents": 0}, "limit plane P: nevents must be a positive integer"),
    ({"seed": 890000000}, "point P_1800_0: seed 908000000 above Pythia's 900000000"),
    ({"regions": ["SR9j"]}, "regions: SR9j not a region or combination of ANA-SUSY-2018-22 with published numbers"),
    ({"regions": ["SR4j-3400"]}, "regions: say where ATLAS' choice is stated (region_source)"),
    ({"theory_process": "slepton-pair"}, "theory_process 'slepton-pair': no cross-section table"),
    ({"sigma": 1}, "limit plane P: unknown key(s) sigma"),
    ({"select": None}, "limit plane P: a limit plane needs select"),
    ({"options": {"nope": 1}}, "limit plane P: "),
])
def test_a_malformed_plane_is_one_line(tmp_path, change, message, capfd):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"analysis": ANA22.id, "limit_planes": [_entry(**change)]}))
    with pytest.raises(RecastError) as exc:
        validation.load_spec(path)
    assert str(exc.value).startswith(f"{path}: ") and message in str(exc.value)
    assert main(["validate", ANA22.id, "--spec", str(path), "-q"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("recast: error: ") and message in err[0]


def test_the_shipped_planes_and_grids():
    """At least 20 of ATLAS' own points per plane away from the diagonal, >= 5000 events each,
    T1's light-LSP line in 50 GeV steps about ATLAS' 2.30 TeV, the templates the guide names, and
    the new A x eff grids on ATLAS' own points."""
    specs = {a: validation.load_spec(validation.spec_path(a)) for a in ("ANA-SUSY-2018-22", "ANA-SUSY-2019-04")}
    models = {"T1": "gqq", "T2": "sqq", "TRPVtttbj": "rpv-gtt-higgsino", "TRPVttbj": "rpv-stop-higgsino"}
    seen = {}
    for spec in specs.values():
        for plane in spec.planes:
            pts = [p for p in spec.points if p.plane == plane.name]
            own = [p for p in pts if not plane.atlas(p.m_parent, p.m_lsp)[2]]
            assert len(own) >= 20, plane.name
            assert all(p.m_parent - p.m_lsp >= plane.selection["min_gap"] >= 300 for p in own)
            assert min(p.nevents for p in pts) >= 5000
            assert len({p.seed for p in pts}) == len(pts)
            seen[plane.name] = plane
    assert {k: v.model for k, v in seen.items()} == models
    assert seen["T2"].theory_process == "squark-pair-udsc" and seen["T1"].theory_process == "gluino-pair"
    assert seen["TRPVtttbj"].has_expected and not seen["T1"].has_expected
    t1_line = sorted(p.m_parent for p in specs["ANA-SUSY-2018-22"].points if p.plane == "T1" and p.m_lsp == 0)
    assert [m for m in t1_line if 2100 <= m <= 2500] == list(np.arange(2100.0, 2501.0, 50.0))
    spec22 = specs["ANA-SUSY-2018-22"]
    grids = {g["name"]: [p for p in spec22.points if p.grid == g["name"]] for g in spec22.grids}
    regions = {name: sorted({r for p in pts for r in p.acc_eff}) for name, pts in grids.items()}
    assert regions == {"gqq_map": ["BDT-GGd1", "BDT-GGd2", "BDT-GGd3", "BDT-GGd4"],
                       "gqq_meff_map": ["SR4j-1000", "SR4j-2200", "SR4j-3400", "SR5j-1600"],
                       "sqq_map": ["SR2j-1600", "SR2j-2200", "SR2j-2800"],
                       "t5ww_map": ["SR6j-1000", "SR6j-2200", "SR6j-3400"]}
    for name in ("gqq_meff_map", "sqq_map", "t5ww_map"):
        assert grids[name] and all(not p.interpolated and p.nevents >= 5000 for p in grids[name]), name
    # the point T5WW's map and the template agree on: m(chargino1) = (m_gluino + m_lsp) / 2
    t5 = next(p for p in grids["t5ww_map"] if (p.m_parent, p.m_lsp) == (2200.0, 400.0))
    assert t5.acc_eff["SR6j-1000"]["atlas"] == pytest.approx(next(
        r[2] for r in json.loads((ROOT / "data" / ANA22.id / "acc_eff_T5WW.json").read_text())["maps"]["SR6j-1000"]
        if r[:2] == [2200.0, 400.0]))
    from recast.slha import template_spectrum

    assert template_spectrum("t5ww", 2200.0, 400.0).masses[1000024] == 1300.0
    names = planes.points_named(spec22.planes, spec22.grids, spec22.points, ["T2", "sqq_map", "gqq_2200_500"])
    assert len(names) == 31 + 12 + 1 and planes.points_named(spec22.planes, spec22.grids, spec22.points, ["x"]) is None


def test_one_plane_end_to_end_and_resumed(tmp_path, capfd, monkeypatch):
    """Two points of the shipped T1 plane (one of ATLAS' own, one on the 50 GeV line between them) at
    200 events on two workers: the report's plane section, summary.json and the status with the
    plane; a rerun reuses both points without generating, --rerun runs them again."""
    out = tmp_path / "report"

    def args(n: int = 200) -> list[str]:
        return ["validate", ANA22.id, "--points", "T1_2200_0", "T1_2250_0", "-n", str(n), "--workers", "2", "--out",
                str(out), "-q"]

    assert main(args()) == 0
    summary = json.loads((out / "summary.json").read_text())
    validation.check_schema(summary, "validation", "summary.json")
    assert summary["schema_version"] == 3
    t1 = summary["planes"]["T1"]
    assert t1["n_points"] == 2 and t1["n_judged"] == 1 and t1["events_per_point"] == [200]
    p0, p1 = t1["points"]
    assert (p0["name"], p0["interpolated"], p1["name"], p1["interpolated"]) == ("T1_2200_0", False, "T1_2250_0", True)
    assert p0["atlas_obs_fb"] == 0.25 and p0["sigma_fb"] == 0.356  # ATLAS' row and the NNLOapprox+NNLL table
    assert p0["recast_obs_fb"] == pytest.approx(p0["mu95_obs"] * 0.356)
    assert p0["ratio_obs"] == pytest.approx(p0["recast_obs_fb"] / 0.25)
    assert p0["status_obs"] in (VALIDATED, DISAGREES, INCONCLUSIVE) and p1["status_obs"] is None
    assert t1["mass_limit"]["m_lsp"] == 0.0
    assert t1["mass_limit"]["atlas_obs"]["mass_gev"] == pytest.approx(2294, abs=1)  # ATLAS: 2.30 TeV
    assert summary["status"]["planes"]["T1"]["checks"] == 1
    status = json.loads((out / validation.STATUS_FILE).read_text())
    assert status["schema_version"] == 3 and status["planes"] == {"T1": t1["status"]["status"]}
    md = (out / "report.md").read_text()
    assert "## Cross-section upper limits: plane T1" in md and "## Status per cross-section upper-limit plane" in md
    assert "**2 points, 200 events each**" in md and "do not state ATLAS' choice" in md
    assert "![σ_UL ratio map, plane T1](figures/plane_ratio_T1.png)" in md
    assert "## Point T1_2200_0" not in md and "A×ε map" not in md  # plane points are not benchmark sections
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == md.count("![") >= 1
    assert sorted(p.name for p in (out / "points").iterdir()) == ["T1_2200_0.json.gz", "T1_2250_0.json.gz"]
    capfd.readouterr()

    def kept(name: str) -> dict:
        return json.loads(gzip.decompress((out / "points" / f"{name}.json.gz").read_bytes()))["outcome"]

    asked: list[str] = []

    def recorded(spec, points, **kw):
        asked.extend(p.name for p in points)
        return {p.name: kept(p.name) for p in points}

    monkeypatch.setattr(validation, "run_points", recorded)
    assert main(args()) == 0
    assert asked == [] and "reusing 2 finished point(s)" in capfd.readouterr().err
    assert json.loads((out / "summary.json").read_text())["planes"]["T1"]["points"] == t1["points"]
    assert main(args() + ["--rerun"]) == 0
    assert asked == ["T1_2200_0", "T1_2250_0"]
    asked.clear()
    assert main(args(150)) == 0  # other settings: both run again
    assert asked == ["T1_2200_0", "T1_2250_0"]


def test_what_a_kept_point_is_reused_for():
    """A kept point's hash changes with anything that changes its results (events, seed, card,
    options, detector cards beside it, a cutflow's order), not with its references."""
    import dataclasses

    from recast.validation import resume

    spec = validation.load_spec(validation.spec_path(ANA22.id))
    point = next(p for p in spec.points if p.name == "T1_2200_0")
    bench = next(p for p in spec.points if p.cutflows)
    base, base_bench = resume.settings_hash(spec, point), resume.settings_hash(spec, bench)
    assert resume.settings_hash(spec, dataclasses.replace(point, note="x", acc_eff={"SR": {"atlas": 1.0}})) == base
    other_card = "truth" if ANA22.resolve_options({})["detector"] != "truth" else "atlas-run2"
    for change in ({"nevents": 5001}, {"seed": 2}, {"options": {"sr4j_dphi_rest": 0.2}},
                   {"options": {"detector": other_card}},
                   {"slha": dict(point.slha, m_lsp=1.0)}):
        assert resume.settings_hash(spec, dataclasses.replace(point, **change)) != base, change
    beside = [] if spec.detectors else ["truth", "atlas-run2"]  # the cards shown beside the point's own
    assert resume.settings_hash(dataclasses.replace(spec, detectors=beside), point) != base
    reordered = {sr: dataclasses.replace(cf, rows=cf.rows[::-1]) for sr, cf in bench.cutflows.items()}
    assert resume.settings_hash(spec, dataclasses.replace(bench, cutflows=reordered)) != base_bench


def test_a_kept_point_of_several_generation_blocks_is_tied_to_their_seeds(monkeypatch):
    """A point above one generation block (recast.events.pythia.generation_blocks) is kept with its
    blocks' seeds and sizes: other blocks, other events, so it runs again; a one-block point's hash
    does not depend on them (the single Pythia run it always was)."""
    import dataclasses

    from recast.events import pythia
    from recast.validation import resume

    spec = validation.load_spec(validation.spec_path(ANA22.id))
    one = next(p for p in spec.points if p.name == "T1_2200_0")
    several = dataclasses.replace(one, nevents=12000)
    assert [b.nevents for b in pythia.generation_blocks(12000, one.seed)] == [5000, 5000, 2000]
    before = resume.settings_hash(spec, one), resume.settings_hash(spec, several)
    real = pythia.generation_blocks

    def other_seeds(nevents, seed, block_events=pythia.BLOCK_EVENTS):
        return [dataclasses.replace(b, seed=b.seed + 1) if b.index else b for b in real(nevents, seed, block_events)]

    monkeypatch.setattr(pythia, "generation_blocks", other_seeds)
    assert resume.settings_hash(spec, one) == before[0]
    assert resume.settings_hash(spec, several) != before[1]
