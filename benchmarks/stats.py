"""Speed of the statistics (not a test: run by hand).

    RECAST_DATA_MIRROR=../shared/hepdata python benchmarks/stats.py [--repeat 10] [--out benchmarks/results]

Three likelihoods of ATLAS-SUSY-2018-22, each timed for one CLs computation (at mu = 1, q~_mu,
asymptotic, with the expected band) and one 95 % CL upper limit on mu (TOMS 748 root finding,
observed and expected band), each from a fresh likelihood (fits are cached within one). The two
simplified likelihoods are timed twice, solved bin by bin (``recast.stats.counting``, what recast
uses) and with pyhf's fits (what it used before, and still uses with a cross-section
uncertainty), so that one run shows both and their numbers side by side:

* single-bin: the simplified likelihood of BDT-GGd1 as recast builds it (published observed count
  and background with a Poisson-constrained uncertainty, a signal of 12 events with a 10 % MC error);
* multi-bin: the simplified likelihood of the 18 bins of MB-GGd fitted together (a signal growing
  with meff, 0.5-3 events per bin, 10 % MC error);
* full: the HEPData background-only workspace of BDT-GGd1 (SR_cuts plus the four control regions,
  59 parameters) with a signal sample of 12 events patched into SR_cuts: normfactor mu_SIG, the
  workspace's ``lumi`` modifier, a shapesys for its 10 % MC error. Needs the ATLAS file: set
  RECAST_DATA_MIRROR or run ``recast data fetch`` first.

Model building is timed once and apart. Each CLs is timed ``--repeat`` times and each upper limit
``max(2, repeat // 4)`` times, on the same model and data; the table gives the median and the
fastest. Results go to one JSON per run in benchmarks/results/ (gitignored), with the software
versions, like benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
SIGNAL, SIGNAL_REL_ERR = 12.0, 0.10


def timed(fn, repeat: int):
    """The last result and the wall times of ``repeat`` calls."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, times


def simplified_single(method: str):
    from recast import analysis
    from recast.stats.simplified_likelihood import build_likelihood

    p = analysis.load("ANA-SUSY-2018-22").published["BDT-GGd1"]
    args = ([SIGNAL], [SIGNAL_REL_ERR * SIGNAL], [p.background], [p.background_err], None, [p.observed])
    return (lambda: build_likelihood(*args, method=method)), f"BDT-GGd1, 1 bin ({method})", 1


def simplified_multibin(method: str):
    from recast import analysis
    from recast.stats.simplified_likelihood import build_likelihood

    ana = analysis.load("ANA-SUSY-2018-22")
    bins = ana.combinations["MB-GGd"]
    pubs = [ana.published[b] for b in bins]
    # a signal at high meff: bins ordered meff 1000 ... 4000, three MET/sqrt(HT) bins each
    signal = [0.5 * (1 + k // 3) if k // 3 < 4 else 3.0 - 0.5 * (k // 3 - 4) for k in range(len(bins))]
    args = (signal, [SIGNAL_REL_ERR * x for x in signal], [p.background for p in pubs],
            [p.background_err for p in pubs], None, [p.observed for p in pubs])
    return (lambda: build_likelihood(*args, method=method)), f"MB-GGd, {len(bins)} bins ({method})", len(bins)


def full_workspace():
    import pyhf

    from recast import artifacts, stats

    path = artifacts.fetch(artifacts.get("ANA-SUSY-2018-22", "BDT-GGd1_bkgonly.json"))
    ws = json.loads(path.read_text())
    sr = next(c for c in ws["channels"] if c["name"] == "SR_cuts")
    sr["samples"].append({"name": "signal", "data": [SIGNAL], "modifiers": [
        {"name": "mu_SIG", "type": "normfactor", "data": None},
        {"name": "lumi", "type": "lumi", "data": None},
        {"name": "signal_mcstat", "type": "shapesys", "data": [SIGNAL_REL_ERR * SIGNAL]}]})
    for m in ws["measurements"]:
        params = [q for q in m["config"]["parameters"] if q["name"] != "mu_SIG"]
        m["config"]["parameters"] = params + [{"name": "mu_SIG", "bounds": [[0.0, stats.fits.MU_MAX]], "inits": [1.0]}]
    workspace = pyhf.Workspace(ws)
    model = workspace.model()
    data = workspace.data(model)
    channels = ", ".join(c["name"] for c in ws["channels"])
    bins = int(model.config.nmaindata)
    return (lambda: stats.hypotest.Likelihood(model, data)), f"BDT-GGd1 workspace ({channels}; pyhf)", bins


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10, help="CLs computations per likelihood")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    from recast import results, stats

    stats.fits.pyhf_numpy()  # numpy backend, imports done before timing
    cases: dict[str, dict] = {}
    builds = [("simplified single-bin, pyhf fits", lambda: simplified_single("pyhf")),
              ("simplified single-bin, bin by bin", lambda: simplified_single("counting")),
              ("simplified multi-bin, pyhf fits", lambda: simplified_multibin("pyhf")),
              ("simplified multi-bin, bin by bin", lambda: simplified_multibin("counting")),
              ("full likelihood", full_workspace)]
    for name, build in builds:
        t = time.perf_counter()
        likelihood, what, bins = build()
        likelihood()
        t_build = time.perf_counter() - t
        likelihood().hypotest()  # warm-up: first-call costs are not timed
        # a fresh likelihood per call: its fits are cached, and a CLs or limit must pay for them
        result, t_cls = timed(lambda: likelihood().hypotest(), args.repeat)
        (mu_obs, mu_exp), t_ul = timed(lambda: likelihood().upper_limit(1.0), max(2, args.repeat // 4))
        cases[name] = {"what": what, "bins": bins, "build_seconds": t_build,
                       "cls_seconds": t_cls, "cls_median": statistics.median(t_cls), "cls_min": min(t_cls),
                       "upper_limit_seconds": t_ul, "upper_limit_median": statistics.median(t_ul),
                       "upper_limit_min": min(t_ul), "cls_obs": result.cls_obs, "cls_exp": result.cls_exp,
                       "mu95_obs": mu_obs, "mu95_exp": mu_exp}
        print(f"  {name}: {what}: CLs {statistics.median(t_cls) * 1e3:.1f} ms, upper limit "
              f"{statistics.median(t_ul):.3f} s", file=sys.stderr)

    print(f"\n{'likelihood':<36} {'bins':>4} {'build':>8} {'CLs (median/min)':>18} "
          f"{'upper limit (median/min)':>25} {'CLs obs':>9} {'mu95 obs':>9} {'mu95 exp':>9}")
    for name, c in cases.items():
        print(f"{name:<36} {c['bins']:>4} {c['build_seconds'] * 1e3:>6.0f}ms "
              f"{c['cls_median'] * 1e3:>8.1f} / {c['cls_min'] * 1e3:>5.1f} ms "
              f"{c['upper_limit_median']:>13.3f} / {c['upper_limit_min']:.3f} s "
              f"{c['cls_obs']:>9.4g} {c['mu95_obs']:>9.4g} {c['mu95_exp'][2]:>9.4g}")
    for kind in ("single-bin", "multi-bin"):
        slow, fast = cases[f"simplified {kind}, pyhf fits"], cases[f"simplified {kind}, bin by bin"]
        print(f"simplified {kind}: upper limit {slow['upper_limit_median'] / fast['upper_limit_median']:.0f}x faster bin "
              f"by bin; mu95 {fast['mu95_obs']:.5g} vs {slow['mu95_obs']:.5g} "
              f"({fast['mu95_obs'] / slow['mu95_obs'] - 1:+.1e})")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    doc = {"benchmark": "stats", "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
           "software": results.software_versions(), "repeat": args.repeat,
           "signal": {"events": SIGNAL, "rel_mc_err": SIGNAL_REL_ERR}, "cases": cases, "peak_rss_mb": peak_mb}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"stats-{doc['created'].replace(':', '')}.json"
    path.write_text(json.dumps(doc, indent=1))
    print(f"\npeak RSS {peak_mb:.0f} MB; wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
