"""Statistics: CLs checked against the closed-form asymptotic formula, the decision rule, r, the
multi-bin combination, the degenerate tiny-signal case, full likelihoods, files and the CLI.
Strongly excluded points are in tests/test_stats_extreme.py."""

from __future__ import annotations

import copy
import json
import math

import pytest
from scipy.stats import norm

from recast import analysis as ana_mod
from recast import results, stats
from recast.cli import main
from recast.errors import RecastError

ANA22 = ana_mod.load("ANA-SUSY-2018-22")


def _doc(yields: dict[str, float], analysis=ANA22, rel_err: float = 0.05, xsec_unc: float = 0.2) -> dict:
    """A result document as the engine writes it (the fields the statistics read)."""
    regions = []
    for sr in analysis.signal_regions:
        pub = analysis.published.get(sr.name)
        y = yields.get(sr.name, 0.0)
        regions.append({"name": sr.name, "yield": y, "yield_err": rel_err * y,
                        "published": pub.to_dict() if pub else None})
    return {"analysis": {"id": analysis.id}, "cross_section": {"value_fb": 1.0, "uncertainty_fb": xsec_unc},
            "signal_regions": regions}


def _cls_closed_form(n: int, s: float, b: float) -> float:
    """Asymptotic CLs at mu = 1 for one bin without uncertainties (Cowan et al., q~_mu)."""
    def nll(mu, data):
        lam = mu * s + b
        return lam - data * math.log(lam)

    def qtilde(data):
        muhat = max((data - b) / s, 0.0)
        return 0.0 if muhat > 1 else 2 * (nll(1.0, data) - nll(muhat, data))

    q, qa = qtilde(n), qtilde(b)  # Asimov data for mu' = 0 is b
    sq, sqa = math.sqrt(q), math.sqrt(qa)
    t = sq if sq <= sqa else (q + qa) / (2 * sqa)
    clsb = 1 - norm.cdf(t)
    clb = norm.cdf(sqa - t) if sq <= sqa else norm.cdf((qa - q) / (2 * sqa))
    return clsb / clb


@pytest.mark.parametrize("n, s, b", [(34, 12.0, 30.0), (4, 6.0, 5.7), (0, 3.0, 0.8), (126, 40.0, 145.0)])
def test_cls_agrees_with_the_closed_form(n, s, b):
    spec = stats.simplified_likelihood.workspace_spec([s], [0.0], [b], [0.0], None)
    for sample in spec["channels"][0]["samples"]:  # a pure counting experiment: no constraint terms
        sample["modifiers"] = [m for m in sample["modifiers"] if m["type"] == "normfactor"]
    model, data = stats.simplified_likelihood.model_and_data(spec, [n])
    obs, _ = stats.hypotest.hypotest(model, data)
    assert obs == pytest.approx(_cls_closed_form(n, s, b), rel=2e-3)


def test_decision_r_and_band():
    lim = stats.simplified(_doc({"SR4j-3400": 6.48, "BDT-GGd1": 14.2, "SR2j-1600": 5.0}), ANA22)
    by = {r.name: r for r in lim.regions}
    best = min(lim.regions, key=lambda r: r.cls_exp[2])
    assert lim.best == best.name == "SR4j-3400"
    assert lim.excluded == (by["SR4j-3400"].cls_obs < 0.05)
    assert by["SR4j-3400"].r_obs == pytest.approx(6.48 / 5.1) and by["SR4j-3400"].r_exp == pytest.approx(6.48 / 6.4)
    band = by["BDT-GGd1"].cls_exp
    assert band == sorted(band) and 0 < band[0] < band[4] <= 1
    assert by["SR4j-3400"].mu95_obs is not None and by["BDT-GGd1"].mu95_obs is None  # only the decider
    # the deciding region's upper limit: CLs at mu95 is 0.05
    assert by["SR4j-3400"].mu95_obs == pytest.approx(0.749, rel=0.02)
    assert by["SR2j-1600"].cls_obs > 0.5  # 5 events on 2190 +- 130: no sensitivity


def test_upper_limits_choice():
    doc = _doc({"SR4j-3400": 6.48, "BDT-GGd1": 14.2})
    none = stats.simplified(doc, ANA22, upper_limits="none")
    assert [r.mu95_obs for r in none.regions] == [None] * len(none.regions)
    assert none.best == "SR4j-3400" and any("not computed" in n for n in none.notes)
    every = {r.name: r for r in stats.simplified(doc, ANA22, upper_limits="all").regions}
    # an upper limit wherever there is signal; for one bin without nuisance parameters it would be
    # s95/s, so with them it sits near the published S95 over the yield
    assert every["BDT-GGd1"].mu95_obs == pytest.approx(19 / 14.2, rel=0.1)
    assert every["SR4j-3400"].mu95_obs == pytest.approx(0.749, rel=0.02)
    assert every["SR2j-1600"].mu95_obs is None  # no signal there
    with pytest.raises(RecastError, match="--upper-limits most"):
        stats.compute(doc, ANA22, upper_limits="most")


def test_cross_section_uncertainty_weakens_the_limit():
    plain = stats.simplified(_doc({"SR4j-3400": 6.48}), ANA22)
    with_xs = stats.simplified(_doc({"SR4j-3400": 6.48}), ANA22, xsec_unc=True)
    assert with_xs.cls_obs > plain.cls_obs


def test_multibin_combination_uses_all_bins():
    bins = ANA22.combinations["MB-GGd"]
    assert len(bins) == 18
    one = stats.simplified(_doc({bins[-1]: 3.0}), ANA22)
    two = stats.simplified(_doc({bins[-1]: 3.0, bins[-4]: 3.0}), ANA22)
    combo_one = next(r for r in one.regions if r.name == "MB-GGd")
    combo_two = next(r for r in two.regions if r.name == "MB-GGd")
    assert combo_one.kind == "combined" and len(combo_one.observed) == 18
    assert combo_two.cls_exp[2] < combo_one.cls_exp[2]  # more signal in independent bins: more sensitive


def test_tiny_signal_below_the_background_uncertainty_has_cls_near_one():
    """0.025 events on 65 +- 4: pyhf's CLs is 0/0 (both tails underflow as sqrt(q_A) -> 0); in
    logarithms it is defined, just below 1 (0.99547 by the independent profile likelihood of
    tests/test_stats_extreme.py)."""
    lim = stats.simplified(_doc({"MB-SSd-2-2200-16": 0.0247}), ANA22)
    r = next(r for r in lim.regions if r.name == "MB-SSd-2-2200-16")
    assert r.cls_obs == pytest.approx(0.995468, abs=2e-6) and all(0.99 < x < 1 for x in r.cls_exp)
    assert not r.cls_obs_bound and r.cls_exp == sorted(r.cls_exp)


def test_bad_inputs():
    with pytest.raises(RecastError, match="not one of ANA-SUSY-2018-22"):
        stats.compute(_doc({"BDT-GGd1": 1.0}, analysis=ana_mod.load("ANA-SUSY-2018-30")), ANA22)
    no_xs = _doc({"BDT-GGd1": 1.0})
    no_xs["cross_section"] = None  # as the engine writes it: A x eff, no yields
    for sr in no_xs["signal_regions"]:
        sr["yield"] = sr["yield_err"] = None
    with pytest.raises(RecastError, match="no cross section"):
        stats.simplified(no_xs, ANA22)
    with pytest.raises(RecastError, match="choose simplified, full or both"):
        stats.compute(_doc({}), ANA22, "profile")


def test_full_likelihood_agrees_with_the_simplified_one():
    doc = _doc({"BDT-GGd1": 14.2})
    full = stats.full(doc, ANA22)
    simp = stats.simplified(doc, ANA22)
    f = next(r for r in full.regions if r.name == "BDT-GGd1")
    s = next(r for r in simp.regions if r.name == "BDT-GGd1")
    assert f.likelihood == "full" and len(full.regions) == 18  # the 8 BDT + 10 meff workspaces
    assert f.cls_obs == pytest.approx(s.cls_obs, rel=0.1) and f.cls_exp[2] == pytest.approx(s.cls_exp[2], rel=0.1)
    assert full.best == "BDT-GGd1" and f.mu95_obs is not None


def test_a_workspace_that_fails_pyhf_is_refused(monkeypatch, tmp_path):
    from recast import artifacts

    broken = tmp_path / "BDT-GGd1_bkgonly.json"
    ws = json.loads(artifacts.fetch(artifacts.get(ANA22.id, "BDT-GGd1_bkgonly.json")).read_text())
    ws["channels"][1]["samples"][0]["modifiers"][0]["type"] = "no-such-modifier"
    broken.write_text(json.dumps(ws))
    monkeypatch.setattr(artifacts, "fetch", lambda a: broken)
    with pytest.raises(RecastError, match="BDT-GGd1_bkgonly.json: not a usable pyhf workspace"):
        stats.full(_doc({"BDT-GGd1": 14.2}), ANA22)


def test_cli_limit_and_run_limit(gtt_sample, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "ANA-SUSY-2018-30", "--events", str(gtt_sample[1]), "--xsec-fb", "2.0", "-q",
                 "--out", str(out), "--limit"]) == 0
    printed = capsys.readouterr()
    assert "simplified likelihood:" in printed.out and (tmp_path / "r.limits.json").is_file()
    lim_path = tmp_path / "lim.json"
    assert main(["limit", str(out), "--out", str(lim_path)]) == 0
    doc = json.loads(lim_path.read_text())
    assert doc["schema"] == "recast-limits" and doc["analysis"] == "ANA-SUSY-2018-30"
    lim = doc["limits"]["simplified"]
    assert lim["best"] in {r["name"] for r in lim["regions"]} and isinstance(lim["excluded"], bool)
    # a result of a newer schema version, or not a result at all, is refused in one line
    newer = copy.deepcopy(results.read(out))
    newer["schema_version"] = 2
    bad = tmp_path / "newer.json"
    bad.write_text(json.dumps(newer))
    assert main(["limit", str(bad)]) == 2
    assert "schema version 2 is not supported" in capsys.readouterr().err
