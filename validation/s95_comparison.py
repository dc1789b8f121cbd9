"""Model-independent S95 from the published numbers, compared with the published S95, for every
signal region of the three analyses (an external check of ``recast.stats``). Not tuned: a report.

    RECAST_DATA_MIRROR=../shared/hepdata python validation/s95_comparison.py [--workers 2]
        [--method rule|asymptotic|toys] [--toys-below 10] [--ntoys 4000] [--seed 1] [--tag TAG]

For every region with a published S95 (observed and expected) in ``data/<ANA>/published.yaml``, the
95 % CL upper limit on signal events is computed from the published observed count, background and
background uncertainty with the model of ``recast.stats.s95`` (one bin, signal without uncertainty,
background with a Poisson-constrained uncertainty, CLs with q~_mu), by one of two methods:

* ``asymptotic``: ``recast.stats.s95`` (the asymptotic formulae; every region, always computed);
* ``toys``: ``recast.stats.s95_toys`` (pseudo-experiments; seeded, ``--ntoys`` per hypothesis and
  tested signal yield, with its Monte Carlo precision).

Which one is compared with the reference (``--method rule``, the default) is decided by one rule,
fixed before the comparison and the same for every region (see ``method_for``):

1. pseudo-experiments where the counts are low, min(observed, expected background) < ``--toys-below``
   (10 events): there the test statistic is far from its asymptotic distribution, and ATLAS
   computes its model-independent limits with pseudo-experiments;
2. except where the reference S95 is itself an asymptotic number: the rows whose S95 is the SModelS
   database's limit (``source`` says "S95 = SModelS ..."; SModelS' limits are asymptotic, see
   ``--smodels-crosscheck`` and the note ``validation/reports/s95/README.md``) are compared with our
   asymptotic limit, like with like.

Toy limits are computed for every low-count region, rule 2 or not, and reported next to the
asymptotic ones; the summary also gives the statistics with rule 1 alone and with asymptotics alone.
Writes ``validation/reports/s95/comparison{_TAG}.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "reports" / "s95"
ANALYSES = ("ANA-SUSY-2018-22", "ANA-SUSY-2018-30", "ANA-SUSY-2019-04")
TOYS_BELOW = 10.0  # events: min(observed, background) below this -> pseudo-experiments
FLAG = 0.10  # |ours/reference - 1| above this is flagged in the table
SCHEMA = "recast-s95-comparison"
VERSION = 1


SMODELS_S95 = "S95 = SModelS"  # how published.yaml marks a row whose S95 is SModelS', not ATLAS'


def reference_is_asymptotic(source: str) -> bool:
    """The published S95 of the row was computed by SModelS (asymptotic formulae), not by ATLAS."""
    return SMODELS_S95 in source


def low_count(observed: int, background: float, toys_below: float = TOYS_BELOW) -> bool:
    return min(observed, background) < toys_below


def method_for(row: dict, method: str = "rule", toys_below: float = TOYS_BELOW) -> str:
    """The method whose limit is compared with the reference: the rule of the module docstring, or
    one method forced for every region."""
    if method != "rule":
        return method
    if reference_is_asymptotic(row["source"]):
        return "asymptotic"
    return "toys" if low_count(row["observed"], row["background"], toys_below) else "asymptotic"


def published_rows() -> list[dict]:
    """Every region of the three analyses with both published S95 numbers (others are listed as
    skipped)."""
    from recast import analysis

    rows, skipped = [], []
    for ana_id in ANALYSES:
        for region, p in analysis.load(ana_id).published.items():
            row = {"analysis": ana_id, "region": region, "observed": p.observed, "background": p.background,
                   "background_err": p.background_err, "s95_obs": p.s95_observed, "s95_exp": p.s95_expected,
                   "source": p.source}
            (rows if p.s95_observed and p.s95_expected else skipped).append(row)
    return rows, skipped


def _asymptotic(key: tuple[int, float, float]) -> dict:
    from recast import stats

    t = time.perf_counter()
    obs, exp = stats.s95(*key)
    return {"obs": obs, "exp": exp, "seconds": time.perf_counter() - t}


def _toys(key: tuple[int, float, float], ntoys: int, seed: int) -> dict:
    from recast import stats

    t = time.perf_counter()
    r = stats.s95_toys(*key, ntoys=ntoys, seed=seed, details=True)
    return {"obs": r.observed, "exp": r.expected, "obs_mc_err": r.observed_mc_err, "exp_mc_err": r.expected_mc_err,
            "ntoys": r.ntoys, "seed": r.seed, "scan": r.scan, "seconds": time.perf_counter() - t}


def _key(row: dict) -> tuple[int, float, float]:
    return (int(row["observed"]), float(row["background"]), float(row["background_err"]))


def compute(rows: list[dict], method: str, toys_below: float, ntoys: int, seed: int, workers: int) -> None:
    """Fill every row with the asymptotic limits, the toy limits where the counts are low (or
    everywhere with ``method='toys'``), the method used, ours and the ratios."""
    keys = sorted({_key(r) for r in rows})
    want_toys = [r for r in rows if method == "toys" or low_count(r["observed"], r["background"], toys_below)]
    toy_keys = sorted({_key(r) for r in want_toys}, key=lambda k: -(k[0] + k[1]))  # the slowest first
    with ProcessPoolExecutor(workers) as pool:
        toy_jobs = {k: pool.submit(_toys, k, ntoys, seed) for k in toy_keys}
        asym = dict(zip(keys, pool.map(_asymptotic, keys)))
        toys = {k: job.result() for k, job in toy_jobs.items()}
    for r in rows:
        k = _key(r)
        r["reference_method"] = "asymptotic (SModelS)" if reference_is_asymptotic(r["source"]) else "ATLAS"
        r["asymptotic"] = asym[k]
        r["toys"] = toys.get(k)
        r["method"] = method_for(r, method, toys_below)
        ours = r[r["method"]]
        r["ours_obs"], r["ours_exp"] = ours["obs"], ours["exp"][2]
        r["ratio_obs"], r["ratio_exp"] = r["ours_obs"] / r["s95_obs"], r["ours_exp"] / r["s95_exp"]
        r["flags"] = [f"{what} {ratio - 1:+.0%}" for what, ratio in (("obs", r["ratio_obs"]), ("exp", r["ratio_exp"]))
                      if abs(ratio - 1) > FLAG]


def stats_of(rows: list[dict], pick) -> dict:
    """Median and worst |ours/reference - 1| for observed and expected, ours = pick(row) -> (obs, exp)."""
    out = {}
    for k, what in enumerate(("obs", "exp")):
        devs = []
        for r in rows:
            ours = pick(r)
            if ours is None:
                continue
            devs.append((abs(ours[k] / r[f"s95_{what}"] - 1), r, ours[k]))
        devs.sort(key=lambda d: -d[0])
        out[what] = {"n": len(devs), "median_abs_dev": statistics.median(d[0] for d in devs),
                     "max_abs_dev": devs[0][0], "over_10pc": sum(int(d[0] > 0.10) for d in devs),
                     "over_30pc": sum(int(d[0] > 0.30) for d in devs),
                     "worst": [{"analysis": r["analysis"], "region": r["region"], "ratio": v / r[f"s95_{what}"],
                                "ours": v, "reference": r[f"s95_{what}"]} for _, r, v in devs[:5]]}
    return out


def summary(rows: list[dict], toys_below: float) -> dict:
    def by(method):
        return lambda r: (r[method]["obs"], r[method]["exp"][2]) if r.get(method) else None

    def count_rule(r):
        m = "toys" if low_count(r["observed"], r["background"], toys_below) and r["toys"] else "asymptotic"
        return r[m]["obs"], r[m]["exp"][2]

    toy_rows = [r for r in rows if r["method"] == "toys"]
    errs = [r["toys"]["obs_mc_err"] / r["toys"]["obs"] for r in toy_rows] + \
           [r["toys"]["exp_mc_err"][2] / r["toys"]["exp"][2] for r in toy_rows]
    return {"regions": len(rows), "regions_toys": len(toy_rows),
            "regions_low_count": sum(1 for r in rows if low_count(r["observed"], r["background"], toys_below)),
            "toy_mc_precision": {"median_rel": statistics.median(errs), "max_rel": max(errs)} if errs else None,
            "used": stats_of(rows, lambda r: (r["ours_obs"], r["ours_exp"])),
            "asymptotic_everywhere": stats_of(rows, by("asymptotic")),
            "count_rule_alone": stats_of(rows, count_rule),
            "toys_where_computed": stats_of([r for r in rows if r["toys"]], by("toys")),
            "asymptotic_where_toys_computed": stats_of([r for r in rows if r["toys"]], by("asymptotic"))}


def markdown(doc: dict) -> str:
    s, rule = doc["summary"], doc["rule"]
    lines = ["# Model-independent S95: recast (pyhf) vs the published numbers", "",
             f"Generated by `validation/s95_comparison.py` on {doc['created'][:10]} (pyhf "
             f"{doc['software'].get('pyhf', '?')}). Method per region: `{doc['method']}`"
             + (f" — {rule['text']}" if doc["method"] == "rule" else "") + ".", "",
             f"{s['regions']} regions with published S95; {s['regions_toys']} compared with toy limits "
             f"({rule['ntoys']} toys per hypothesis and tested yield, seed {rule['seed']}"
             + (f", MC precision median {s['toy_mc_precision']['median_rel']:.1%}, at most "
                f"{s['toy_mc_precision']['max_rel']:.1%}" if s["toy_mc_precision"] else "") + ").", "",
             "| ours = | regions | obs: median abs(ratio-1) | obs: worst | exp: median | exp: worst "
             "| > 10 % (obs/exp) | > 30 % (obs/exp) |",
             "|---|---|---|---|---|---|---|---|"]
    for label, key in (("the rule (used)", "used"), ("asymptotic everywhere", "asymptotic_everywhere"),
                       ("count rule alone (toys also against SModelS numbers)", "count_rule_alone"),
                       ("low-count regions: toys", "toys_where_computed"),
                       ("low-count regions: asymptotic", "asymptotic_where_toys_computed")):
        o, e = s[key]["obs"], s[key]["exp"]
        lines.append(f"| {label} | {o['n']} | {o['median_abs_dev']:.1%} | {o['max_abs_dev']:.1%} "
                     f"({o['worst'][0]['region']}) | {e['median_abs_dev']:.1%} | {e['max_abs_dev']:.1%} "
                     f"({e['worst'][0]['region']}) | {o['over_10pc']}/{e['over_10pc']} | "
                     f"{o['over_30pc']}/{e['over_30pc']} |")
    lines += ["", "Ratios are ours/published. Asymptotic and toy columns are ours by each method (toys only "
              "where the counts are low); `method` says which one is compared. Reference: `ATLAS` = the "
              "paper's table (via CheckMATE's transcription), `SModelS` = the SModelS limit x 139 fb^-1.", "",
              "| analysis | SR | obs | bkg ± err | ref. | pub. S95 obs / exp | asymptotic obs / exp "
              "| toys obs / exp (± MC) | method | ratio obs | ratio exp | flags |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        a, t = r["asymptotic"], r["toys"]
        toys = (f"{t['obs']:.3g} ± {t['obs_mc_err']:.2g} / {t['exp'][2]:.3g} ± {t['exp_mc_err'][2]:.2g}"
                if t else "–")
        ref = "SModelS" if reference_is_asymptotic(r["source"]) else "ATLAS"
        lines.append(f"| {r['analysis'].removeprefix('ANA-SUSY-')} | {r['region']} | {r['observed']} | "
                     f"{r['background']:g} ± {r['background_err']:g} | {ref} | "
                     f"{r['s95_obs']:g} / {r['s95_exp']:g} | {a['obs']:.3g} / {a['exp'][2]:.3g} | {toys} | "
                     f"{r['method']} | "
                     f"{r['ratio_obs']:.2f} | {r['ratio_exp']:.2f} | {', '.join(r['flags'])} |")
    return "\n".join(lines) + "\n"


def smodels_entries(mirror: Path) -> list[dict]:
    """The SModelS database's signal regions in the mirror: its own observed count, background and
    uncertainty, and its upper limits (visible cross section x luminosity = signal events)."""
    out = []
    for ana_id, pattern in (("ANA-SUSY-2018-22", "smodels_effmaps/**/*dataInfo.txt"),
                            ("ANA-SUSY-2019-04", "smodels/**/dataInfo.txt")):
        base = mirror / ana_id
        glob_info = next(base.glob("smodels*/globalInfo.txt"), None)
        if glob_info is None:
            continue
        lumi = float(_info(glob_info)["lumi"].split("/")[0])
        for path in sorted(base.glob(pattern)):
            info = _info(path)
            name = info["dataId"].replace("_", "-")
            out.append({"analysis": ana_id, "region": name, "file": str(path.relative_to(mirror)),
                        "observed": int(info["observedN"]), "background": float(info["expectedBG"]),
                        "background_err": float(info["bgError"]),
                        "smodels_obs": float(info["upperLimit"].split("*")[0]) * lumi,
                        "smodels_exp": float(info["expectedUpperLimit"].split("*")[0]) * lumi})
    return out


def _info(path: Path) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def smodels_crosscheck(rows: list[dict], mirror: Path, workers: int) -> dict:
    """Our asymptotic limits from SModelS' own numbers against SModelS' limits, and ATLAS' S95 of the
    same region where published.yaml has one from ATLAS: which method do SModelS' limits follow?"""
    entries = smodels_entries(mirror)
    keys = sorted({_key(e) for e in entries})
    with ProcessPoolExecutor(workers) as pool:
        asym = dict(zip(keys, pool.map(_asymptotic, keys)))
    atlas = {(r["analysis"], r["region"]): r for r in rows if not reference_is_asymptotic(r["source"])}
    for e in entries:
        a = asym[_key(e)]
        e["asymptotic_obs"], e["asymptotic_exp"] = a["obs"], a["exp"][2]
        e["ratio_obs"], e["ratio_exp"] = a["obs"] / e["smodels_obs"], a["exp"][2] / e["smodels_exp"]
        ref = atlas.get((e["analysis"], e["region"]))
        e["atlas_obs"], e["atlas_exp"] = (ref["s95_obs"], ref["s95_exp"]) if ref else (None, None)
        e["atlas_toys_obs"] = ref["toys"]["obs"] if ref and ref.get("toys") else None
    devs = {w: sorted(abs(e[f"ratio_{w}"] - 1) for e in entries) for w in ("obs", "exp")}
    low = [e for e in entries if e["observed"] == 0]
    return {"entries": entries, "n": len(entries),
            "median_abs_dev": {w: statistics.median(d) for w, d in devs.items()},
            "max_abs_dev": {w: d[-1] for w, d in devs.items()},
            "zero_observed": [{k: e[k] for k in ("region", "background", "smodels_obs", "asymptotic_obs", "atlas_obs",
                                                 "atlas_toys_obs")} for e in low]}


def smodels_markdown(x: dict) -> str:
    lines = ["# SModelS' model-independent limits against our asymptotic ones", "",
             "Generated by `validation/s95_comparison.py --smodels-crosscheck`: every SModelS dataInfo file in the "
             "mirror, our asymptotic S95 from SModelS' own observed count, background and uncertainty, against "
             "SModelS' limit (visible cross section x 139 fb^-1), and ATLAS' S95 of the same region where we have "
             "one (`data/<ANA>/published.yaml`, not SModelS-derived).", "",
             f"{x['n']} regions: median abs(ours/SModelS - 1) {x['median_abs_dev']['obs']:.1%} (obs), "
             f"{x['median_abs_dev']['exp']:.1%} (exp); worst {x['max_abs_dev']['obs']:.1%} / "
             f"{x['max_abs_dev']['exp']:.1%}.", "",
             "| analysis | SR | obs | bkg ± err | SModelS S95 obs / exp | ours asymptotic obs / exp | ratio obs / exp "
             "| ATLAS S95 obs / exp | ours toys obs |", "|---|---|---|---|---|---|---|---|---|"]
    for e in x["entries"]:
        atlas = f"{e['atlas_obs']:g} / {e['atlas_exp']:g}" if e["atlas_obs"] else "–"
        toys = f"{e['atlas_toys_obs']:.3g}" if e["atlas_toys_obs"] else "–"
        lines.append(f"| {e['analysis'].removeprefix('ANA-SUSY-')} | {e['region']} | {e['observed']} | "
                     f"{e['background']:g} ± {e['background_err']:g} | "
                     f"{e['smodels_obs']:.3g} / {e['smodels_exp']:.3g} | "
                     f"{e['asymptotic_obs']:.3g} / {e['asymptotic_exp']:.3g} | "
                     f"{e['ratio_obs']:.2f} / {e['ratio_exp']:.2f} | "
                     f"{atlas} | {toys} |")
    return "\n".join(lines) + "\n"


def _plain(obj):
    """NumPy scalars as Python numbers in the JSON."""
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} in the report")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=("rule", "asymptotic", "toys"), default="rule")
    ap.add_argument("--toys-below", type=float, default=TOYS_BELOW,
                    help="toys where min(observed, background) is below this (events)")
    ap.add_argument("--ntoys", type=int, default=None, help="toys per hypothesis and tested yield "
                                                             "(default recast.stats.TOY_NTOYS)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--tag", default="", help="suffix of the output files (for sensitivity studies)")
    ap.add_argument("--smodels-crosscheck", action="store_true",
                    help="also compare SModelS' limits in the mirror (RECAST_DATA_MIRROR) with our asymptotic ones")
    args = ap.parse_args()
    from recast import stats
    from recast.results import software_versions

    ntoys = args.ntoys or stats.TOY_NTOYS
    rows, skipped = published_rows()
    start = time.perf_counter()
    compute(rows, args.method, args.toys_below, ntoys, args.seed, args.workers)
    rule_text = (f"pseudo-experiments where min(observed, background) < {args.toys_below:g} events, asymptotic "
                 f"formulae elsewhere and wherever the published S95 is itself asymptotic (SModelS-derived rows)")
    doc = {"schema": SCHEMA, "schema_version": VERSION,
           "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "software": software_versions(), "method": args.method,
           "rule": {"text": rule_text, "toys_below": args.toys_below, "ntoys": ntoys, "seed": args.seed,
                    "scan_points": stats.TOY_SCAN_POINTS, "tie_tolerance": stats.TOY_TIE_TOLERANCE, "flag": FLAG},
           "seconds": time.perf_counter() - start, "workers": args.workers,
           "summary": summary(rows, args.toys_below),
           "skipped": [{k: r[k] for k in ("analysis", "region")} | {"why": "no published S95"} for r in skipped],
           "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "comparison" + (f"_{args.tag}" if args.tag else "")
    (args.out / f"{stem}.json").write_text(json.dumps(doc, indent=1, default=_plain) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(doc))
    if args.smodels_crosscheck:
        mirror = Path(os.environ["RECAST_DATA_MIRROR"].split(os.pathsep)[0])
        x = smodels_crosscheck(rows, mirror, args.workers)
        x |= {"created": doc["created"], "software": doc["software"], "mirror": str(mirror)}
        (args.out / f"smodels_crosscheck{'_' + args.tag if args.tag else ''}.json").write_text(
            json.dumps(x, indent=1, default=_plain) + "\n")
        (args.out / f"smodels_crosscheck{'_' + args.tag if args.tag else ''}.md").write_text(smodels_markdown(x))
        print(f"SModelS cross-check: {x['n']} regions, median abs(ours/SModelS - 1) "
              f"{x['median_abs_dev']['obs']:.1%} obs, {x['median_abs_dev']['exp']:.1%} exp", file=sys.stderr)
    s = doc["summary"]["used"]
    print(f"{len(rows)} regions ({doc['summary']['regions_toys']} with toys) in {doc['seconds']:.0f} s: "
          f"obs median {s['obs']['median_abs_dev']:.1%} worst {s['obs']['max_abs_dev']:.1%}; "
          f"exp median {s['exp']['median_abs_dev']:.1%} worst {s['exp']['max_abs_dev']:.1%}; "
          f"wrote {args.out / stem}.{{json,md}}", file=sys.stderr)
    if not all(math.isfinite(r["ours_obs"]) and math.isfinite(r["ours_exp"]) for r in rows):
        sys.exit("some limit is not finite: see the table")


if __name__ == "__main__":
    main()
