"""Strongly excluded points (issue 12, item 1): a huge signal on a small background, zero observed,
a large MC-statistical error. CLs and upper limits must come out, never a crash, and agree with an
independent calculation: the one-bin profile likelihood written out below (Poisson count,
Poisson-constrained background and signal factors as pyhf's shapesys, profiled with Nelder-Mead
from several starts in logarithms), and the closed-form asymptotic CLs without nuisance parameters.

The cases come from the issue's point (Gtt, m(gluino) = 1000 GeV, m(LSP) = 100 GeV, 1000 events:
ANA-SUSY-2018-30 crashed with "FailedMinimization: Inequality constraints incompatible") and from
a randomised comparison with the reference: each is one where pyhf's fits, as recast called them,
failed or stopped short."""

from __future__ import annotations

import json
import math

import pytest
from scipy.optimize import minimize
from scipy.special import gammaln, log_ndtr, xlogy

from recast import analysis as ana_mod
from recast import scan, stats
from recast.cli import main
from recast.errors import RecastError

ANA30 = ana_mod.load("ANA-SUSY-2018-30")

# The issue's point: yield +- MC error per region (1000 events of Gtt 1000/100 at 385 fb)
GTT_1000_100 = {"Gtt-0L-B": (53.515, 53.488), "Gtt-0L-M1": (107.03, 75.606), "Gtt-0L-M2": (749.21, 198.83),
                "Gtt-0L-C": (642.18, 184.27), "Gtt-1L-B": (160.55, 92.552), "Gtt-1L-M1": (214.06, 106.82),
                "Gtt-1L-M2": (535.15, 168.38), "Gtt-1L-C": (2194.1, 335.57), "Gbb-B": (53.515, 53.488),
                "Gbb-M": (428.12, 150.76), "Gbb-C": (802.73, 205.70), "Gtb-B": (107.03, 75.606),
                "Gtb-M": (214.06, 106.82), "Gtb-C": (642.18, 184.27)}


# -- the independent reference -------------------------------------------------------------------


def _log_poisson(n, lam):
    return xlogy(n, lam) - lam - gammaln(n + 1.0)


def _profile(nll2, mu: float | None) -> tuple[float, float]:
    """(min over the factors, and mu >= 0 when ``mu`` is None, of -2 ln L; the mu there), several starts."""
    best, best_mu = math.inf, mu
    for gb, gs in ((1, 1), (1, 0.1), (1, 0.01), (0.5, 0.5), (2, 1), (1, 1e-4)):
        for mu0 in ([mu] if mu is not None else [0.0, 0.1, 1.0, 10.0]):
            if mu is None:
                f = lambda x: nll2(x[0] ** 2, math.exp(x[1]), math.exp(x[2]))  # noqa: E731
                x0 = [math.sqrt(mu0), math.log(gb), math.log(gs)]
            else:
                f = lambda x: nll2(mu, math.exp(x[0]), math.exp(x[1]))  # noqa: E731
                x0 = [math.log(gb), math.log(gs)]
            r = minimize(f, x0, method="Nelder-Mead",
                         options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000})
            if r.fun < best:
                best, best_mu = r.fun, (r.x[0] ** 2 if mu is None else mu)
    return best, best_mu


def reference_log_cls(n: int, s: float, ds: float, b: float, db: float, mu: float = 1.0):
    """ln CLs (observed, expected -2..+2 sigma) at signal strength mu, q~_mu, asymptotic, one bin:
    Pois(n | mu gs s + gb b) Pois(tb | gb tb) Pois(ts | gs ts), tb = (b/db)^2, ts = (s/ds)^2."""
    tb, ts = (b / db) ** 2, (s / ds) ** 2

    def nll2_for(main_count, aux_b, aux_s):
        return lambda m, gb, gs: -2 * (_log_poisson(main_count, m * gs * s + gb * b) + _log_poisson(aux_b, gb * tb)
                                       + _log_poisson(aux_s, gs * ts))

    def qtilde(nll2):
        free, mu_hat = _profile(nll2, None)
        return 0.0 if mu_hat > mu else max(_profile(nll2, mu)[0] - free, 0.0)

    q = qtilde(nll2_for(n, tb, ts))
    # background-only Asimov data: the expectation at the mu = 0 fit (gs stays at 1)
    bkg = minimize(lambda x: nll2_for(n, tb, ts)(0.0, math.exp(x[0]), 1.0), [0.0], method="Nelder-Mead",
                   options={"xatol": 1e-12, "fatol": 1e-13}).x[0]
    gb0 = math.exp(bkg)
    qa = qtilde(nll2_for(gb0 * b, gb0 * tb, ts))
    a = math.sqrt(qa)
    t = math.sqrt(q) - a if math.sqrt(q) <= a else (q - qa) / (2 * a)
    return (float(log_ndtr(-(t + a)) - log_ndtr(-t)),
            [float(log_ndtr(-(k + a)) - log_ndtr(-k)) for k in (2, 1, 0, -1, -2)])


def closed_form_log_cls(n: int, s: float, b: float) -> float:
    """ln CLs at mu = 1, one bin without uncertainties (Cowan et al., q~_mu), in logarithms."""
    def nll(mu, data):
        lam = mu * s + b
        return lam - xlogy(data, lam)

    def qtilde(data):
        muhat = max((data - b) / s, 0.0)
        return 0.0 if muhat > 1 else 2 * (nll(1.0, data) - nll(muhat, data))

    q, qa = qtilde(n), qtilde(b)
    a = math.sqrt(qa)
    t = math.sqrt(q) - a if math.sqrt(q) <= a else (q - qa) / (2 * a)
    return float(log_ndtr(-(t + a)) - log_ndtr(-t))


def _doc(yields: dict[str, tuple[float, float]], analysis=ANA30) -> dict:
    regions = [{"name": name, "yield": y, "yield_err": e, "published": analysis.published[name].to_dict()}
               for name, (y, e) in yields.items()]
    return {"analysis": {"id": analysis.id}, "cross_section": {"value_fb": 385.0, "uncertainty_fb": 44.7},
            "signal_regions": regions}


def _ln(cls: float) -> float:
    return math.log(cls)


# -- the issue's point ------------------------------------------------------------------------------


def test_the_issues_point_gives_cls_and_upper_limits_for_every_region():
    lim = stats.simplified(_doc(GTT_1000_100), ANA30, upper_limits="all")  # crashed: FailedMinimization
    assert lim.excluded and len(lim.regions) == 14
    floor = _ln(stats.CLS_FLOOR)
    for r in lim.regions:
        pub = ANA30.published[r.name]
        s, ds = GTT_1000_100[r.name]
        ref_obs, ref_exp = reference_log_cls(pub.observed, s, ds, pub.background, pub.background_err)
        # a value where the reference is above the floor, the floor flagged as a bound where it is below
        assert r.cls_obs_bound == (ref_obs < floor), r.name
        assert _ln(r.cls_obs) == (pytest.approx(ref_obs, rel=1e-3, abs=1e-4) if ref_obs >= floor else floor)
        for k in range(5):
            assert r.cls_exp_bound[k] == (ref_exp[k] < floor), (r.name, k)
            if ref_exp[k] >= floor:
                assert _ln(r.cls_exp[k]) == pytest.approx(ref_exp[k], rel=1e-3, abs=1e-4), (r.name, k)
        # the upper limit is far below 1, and CLs at it is 0.05 (by the reference)
        assert r.mu95_obs < 1.1 and r.mu95_exp[0] < r.mu95_exp[2] < r.mu95_exp[4]
        at_limit, _ = reference_log_cls(pub.observed, s * r.mu95_obs, ds * r.mu95_obs, pub.background,
                                        pub.background_err)
        assert at_limit == pytest.approx(math.log(stats.CLS_LEVEL), abs=2e-3), r.name
    by = {r.name: r for r in lim.regions}
    # one MC event (100 % error) on 3.9 +- 1.4 with 7 observed: NOT excluded. pyhf's default fit
    # stops 10 units of -2 ln L short at mu = 1 and claimed CLs = 7e-4 when the yields were rescaled
    assert by["Gbb-B"].cls_obs == pytest.approx(0.0529, rel=2e-3) and by["Gbb-B"].mu95_obs > 1
    assert lim.best == "Gtt-1L-C" and lim.cls_obs_bound and lim.cls_obs == stats.CLS_FLOOR


@pytest.mark.parametrize("n, s, ds, b, db", [
    (0, 214.06, 106.82, 0.56, 0.27),  # zero observed, two MC events
    (5, 749.21, 198.83, 3.0, 1.3),  # the first region that crashed
    (7, 53.515, 53.488, 3.9, 1.4),  # one MC event: pyhf's fit stops short
    (18, 6816.9, 2725.3, 8.41, 4.19),  # the Asimov fit stops 40 units short without the tighter tolerance
    (7, 819393.0, 769478.0, 21.04, 3.11),  # ~2 MC events of a huge signal: SLSQP stalls in the valley
    (6, 286275.0, 106642.0, 12.75, 6.19),  # ditto, CLs far below the floor
    (55, 0.0247, 0.0012, 65.0, 4.0),  # a tiny signal: CLs just below 1 (pyhf: 0/0)
])
def test_cls_agrees_with_the_independent_profile(n, s, ds, b, db):
    lh = stats.simplified_likelihood.build_likelihood([s], [ds], [b], [db], None, [n])
    got_obs, got_exp = lh.log_cls(lh.mu_signal)
    ref_obs, ref_exp = reference_log_cls(n, s, ds, b, db)
    assert got_obs == pytest.approx(ref_obs, rel=1e-4, abs=1e-6)
    assert got_exp == pytest.approx(ref_exp, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("s", [30.0, 60.0, 200.0, 1e4])
def test_zero_observed_without_uncertainties_against_the_closed_form(s):
    spec = stats.simplified_likelihood.workspace_spec([s], [0.0], [0.5], [0.0], None)
    for sample in spec["channels"][0]["samples"]:
        sample["modifiers"] = [m for m in sample["modifiers"] if m["type"] == "normfactor"]
    model, data = stats.simplified_likelihood.model_and_data(spec, [0])
    lh = stats.hypotest.Likelihood(model, data)
    got, _ = lh.log_cls(1.0)
    assert got == pytest.approx(closed_form_log_cls(0, s, 0.5), rel=1e-5)
    result = lh.hypotest()
    # ln CLs ~ -s: a value down to the floor (s = 30: 4e-14), the bound beyond (pyhf: 0/0 = nan)
    assert result.obs_bound == (s > 40) and result.cls_obs == max(math.exp(got), stats.CLS_FLOOR)


def test_cls_is_pyhf_hypotest_where_that_works():
    """Moderate signals: the same fits and formulae as pyhf.infer.hypotest and its toms748 scan."""
    import pyhf

    for n, s, ds, b, db in [(34, 12.0, 1.2, 30.0, 5.0), (3, 6.0, 3.0, 0.81, 0.32), (126, 40.0, 8.0, 145.0, 12.0)]:
        spec = stats.simplified_likelihood.workspace_spec([s], [ds], [b], [db], None)
        model, data = stats.simplified_likelihood.model_and_data(spec, [n])
        obs, exp = stats.hypotest.hypotest(model, data)
        ref_obs, ref_exp = pyhf.infer.hypotest(1.0, data, model, test_stat="qtilde", return_expected_set=True)
        assert obs == pytest.approx(float(ref_obs), rel=1e-4)
        assert exp == pytest.approx([float(x) for x in ref_exp], rel=1e-4)
        ul_obs, ul_exp = stats.hypotest.upper_limit(model, data, 1.0)
        ref_ul, ref_ul_exp = pyhf.infer.intervals.upper_limits.toms748_scan(data, model, 0.25, 4.0,
                                                                            test_stat="qtilde")
        assert ul_obs == pytest.approx(float(ref_ul), rel=1e-3)
        assert ul_exp == pytest.approx([float(x) for x in ref_ul_exp], rel=1e-3)


def test_a_combination_far_beyond_its_exclusion():
    """Eight bins, a signal of 1500 events where a few are observed (the 2018-30 regions fitted
    together): bounded CLs, an upper limit at the sum's scale; the same as pyhf with the signal
    rescaled by hand (POI O(1)) and mu = 1 tested at the corresponding value."""
    import pyhf

    names = ["Gtt-0L-B", "Gtt-0L-M1", "Gtt-0L-M2", "Gtt-0L-C", "Gtt-1L-B", "Gtt-1L-M1", "Gtt-1L-M2", "Gtt-1L-C"]
    pubs = [ANA30.published[n] for n in names]
    signal = [GTT_1000_100[n][0] for n in names]
    err = [GTT_1000_100[n][1] for n in names]
    args = ([p.background for p in pubs], [p.background_err for p in pubs], None, [p.observed for p in pubs])
    lh = stats.simplified_likelihood.build_likelihood(signal, err, *args)
    result = lh.hypotest()
    assert result.obs_bound and result.cls_obs == stats.CLS_FLOOR
    mu95, band = lh.upper_limit(1.0 / lh.mu_signal)
    # rescaled by 1/20: CLs there is defined without flooring, so pyhf can be compared directly
    scaled = stats.simplified_likelihood.build_likelihood([x / 20 for x in signal], [x / 20 for x in err], *args)
    spec = stats.simplified_likelihood.workspace_spec([x / 20 for x in signal], [x / 20 for x in err], *args[:3])
    model, data = stats.simplified_likelihood.model_and_data(spec, args[3])
    ref_obs, ref_exp = pyhf.infer.hypotest(1.0, data, model, test_stat="qtilde", return_expected_set=True)
    got = scaled.hypotest()
    assert got.cls_obs == pytest.approx(float(ref_obs), rel=1e-3)
    assert got.cls_exp == pytest.approx([float(x) for x in ref_exp], rel=1e-3)
    assert scaled.upper_limit(1.0)[0] / 20 == pytest.approx(mu95, rel=1e-3)  # the same limit on the events
    assert 0 < band[0] < band[2] < band[4] < 0.1


# -- when the fits do not converge ------------------------------------------------------------------


def _failing_above(monkeypatch, poi_limit: float) -> None:
    """Fits at a POI above ``poi_limit`` (in the likelihood's units) raise FailedMinimization."""
    import pyhf

    minimize_ = stats.hypotest.Likelihood._minimize

    def fake(self, which, init, mu):
        if mu is not None and mu > poi_limit:
            raise pyhf.exceptions.FailedMinimization(type("R", (), {"message": "forced", "success": False})())
        return minimize_(self, which, init, mu)

    monkeypatch.setattr(stats.hypotest.Likelihood, "_minimize", fake)


def test_beyond_the_fit_range_the_bound_is_reported(monkeypatch):
    """The pyhf path (with a cross-section uncertainty, or forced): fits that fail above a POI."""
    lh = stats.simplified_likelihood.build_likelihood([749.21], [198.83], [3.0], [1.3], None, [5], method="pyhf")
    log_at_3, _ = lh.log_cls(3.0)  # fits up to a POI of 3 (of ~100) converge
    _failing_above(monkeypatch, 3.0)
    lh = stats.simplified_likelihood.build_likelihood([749.21], [198.83], [3.0], [1.3], None, [5], method="pyhf")
    result = lh.hypotest()
    assert result.obs_bound and all(result.exp_bound)
    assert "excluded beyond the fit range" in result.note
    # the bound is CLs at the largest tested signal where the fits converge: 1/2^k of it
    mu = lh.mu_signal
    while mu > 3.0:
        mu /= 2
    assert result.cls_obs == pytest.approx(math.exp(lh.log_cls(mu)[0]), rel=1e-9)
    assert result.cls_obs < stats.CLS_LEVEL
    assert math.log(result.cls_obs) >= log_at_3 - 1e-9  # a weaker bound than CLs at POI 3
    lim = stats.simplified(_doc({"Gtt-0L-M2": (749.21, 198.83)}), ANA30, xsec_unc=True,
                           upper_limits="none")
    assert lim.excluded and lim.cls_obs_bound
    assert any("Gtt-0L-M2: excluded beyond the fit range" in n for n in lim.notes)


def test_no_bound_that_excludes_is_an_error_not_a_guess(monkeypatch):
    _failing_above(monkeypatch, 0.01)
    lh = stats.simplified_likelihood.build_likelihood([749.21], [198.83], [3.0], [1.3], None, [5], method="pyhf")
    with pytest.raises(RecastError, match="CLs is undefined: the fit to the .* data at mu = 1 does not converge"):
        lh.hypotest()


# -- through the command line and the scan ------------------------------------------------------------


@pytest.fixture(scope="module")
def excluded_result(gtt_sample, tmp_path_factory):
    """The session's Gtt sample with a cross section of 3 pb: thousands of signal events."""
    out = tmp_path_factory.mktemp("excluded") / "r.json"
    assert main(["run", "ANA-SUSY-2018-30", "--events", str(gtt_sample[1]), "--xsec-fb", "3000", "-q",
                 "--out", str(out), "--limit"]) == 0  # was: rc 3, internal error: FailedMinimization
    return out


def test_run_limit_at_a_strongly_excluded_point(excluded_result, capsys):
    limits = json.loads(excluded_result.with_suffix(".limits.json").read_text())
    assert limits["schema_version"] == 2 and limits["cls_floor"] == stats.CLS_FLOOR
    lim = limits["limits"]["simplified"]
    assert lim["excluded"] and lim["cls_obs"] < 1e-6
    best = next(r for r in lim["regions"] if r["name"] == lim["best"])
    assert 0 < best["mu95_obs"] < 0.1
    assert main(["limit", str(excluded_result)]) == 0
    out = capsys.readouterr().out
    assert "EXCLUDED" in out and "internal error" not in out


def test_the_scan_does_not_fail_at_a_strongly_excluded_point(excluded_result, monkeypatch, tmp_path):
    """recast.scan's worker function on a point whose result is the excluded one (generation
    replaced by that result): status ok, excluded (it said "failed")."""
    from recast import pipeline, results

    result = results.read(excluded_result)
    monkeypatch.setattr(pipeline, "run_point", lambda spec, on_batch=None: {"ANA-SUSY-2018-30": result})
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text("{model: gtt, m_gluino: [1000], m_lsp: [100], nevents: 100, seed: 1}\n")
    grid = scan.load_grid(grid_file)
    settings = scan.resolve_settings(["ANA-SUSY-2018-30"])
    point = grid.points[0]
    task = scan.run.point_task(point, settings, scan.settings_hash(point, settings), tmp_path)
    doc = scan.run_task(task)
    assert doc["status"] == "ok", doc["error"]
    assert doc["combined"]["excluded"] and doc["combined"]["cls_obs"] < 1e-6
    scan.validate(doc, "scan-point", "point")
