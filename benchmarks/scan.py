"""Scan throughput: points per minute with 1 and 2 Dask workers on the same grid (not a test: run by hand).

    python benchmarks/scan.py [--nevents 1000] [--analyses ANA-SUSY-2018-22] [--workers 1 2] [--out benchmarks/results]

The grid is 4 gqq points (m(gluino) = 1800, 2200 GeV x m(LSP) = 100, 800 GeV), each generated with
Pythia and run through the analyses with their limits, exactly as ``recast scan`` does
(:func:`recast.scan.run_scan`, a fresh local cluster of single-threaded worker processes and a
fresh results directory per worker count). Two rates are reported per worker count:

* wall: points / minute from the call to the last point written, cluster start included;
* steady: the same without the cluster start (from the first submission).

Each point's own time is split into generation + analyses (``run_s``) and limits (``limits_s``),
from the point files. The scaling ratio is steady rate(2 workers) / rate(1 worker); 4 points on
2 workers scale by at most 2, less when the points take unequal times. Needs the ATLAS files
(RECAST_DATA_MIRROR or ``recast data fetch``). Results go to benchmarks/results/scan-<time>.json,
with the 1-minute load average before and after each run: on a shared machine, a load above the
run's own worker count means that something else competed for the cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from recast import results, scan

HERE = Path(__file__).parent


def one_run(template: Path, analyses: list[str], workers: int, nevents: int, workdir: Path) -> dict:
    out = workdir / f"scan-{workers}w"
    shutil.rmtree(out, ignore_errors=True)
    grid = scan.load_grid(template, nevents=nevents)
    settings = scan.resolve_settings(analyses)
    marks: dict = {}
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    report = scan.run_scan(grid, settings, out, workers=workers,
                           on_start=lambda n, reused: marks.setdefault("submitted", time.perf_counter()),
                           on_point=lambda row: print(f"  {workers} worker(s): {row['name']} {row['status']} "
                                                      f"({row['elapsed_s']} s)", file=sys.stderr))
    end = time.perf_counter()
    if report.failed:
        raise SystemExit(f"{report.failed} point(s) failed: {report.failures}")
    points = []
    for p in grid.points:
        doc = scan.read_json(out / "points" / f"{p.name}.json", "scan-point")
        points.append({"name": p.name, **doc["timing"], "pid": doc["worker"]["pid"]})
    wall, steady = end - start, end - marks["submitted"]
    return {"workers": workers, "points": len(grid.points), "nevents": nevents, "wall_s": wall,
            "cluster_start_s": marks["submitted"] - start, "steady_s": steady,
            "points_per_min_wall": 60 * len(grid.points) / wall,
            "points_per_min_steady": 60 * len(grid.points) / steady,
            "worker_processes": len({p["pid"] for p in points}), "per_point": points,
            "load_1min_before": load_before, "load_1min_after": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nevents", type=int, default=1000)
    ap.add_argument("--analyses", nargs="+", default=["ANA-SUSY-2018-22"])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="recast-bench-scan-") as tmp:
        template = Path(tmp) / "grid.yaml"
        template.write_text("{model: gqq, m_gluino: [1800, 2200], m_lsp: [100, 800], seed: 1}\n")
        for w in args.workers:
            print(f"{w} worker(s): 4 points x {args.nevents} events, {', '.join(args.analyses)} ...", file=sys.stderr)
            runs.append(one_run(template, args.analyses, w, args.nevents, Path(tmp)))
    by = {r["workers"]: r for r in runs}
    ratios = {}
    if 1 in by and 2 in by:
        ratios = {"steady 2 workers / 1 worker": by[2]["points_per_min_steady"] / by[1]["points_per_min_steady"],
                  "wall 2 workers / 1 worker": by[2]["points_per_min_wall"] / by[1]["points_per_min_wall"]}
    doc = {"created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                       "cores": os.cpu_count()},
           "software": results.software_versions(), "grid": "gqq 1800,2200 x 100,800", "analyses": args.analyses,
           "nevents": args.nevents, "runs": runs, "ratios": ratios}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"scan-{doc['created'].replace(':', '')}.json"
    path.write_text(json.dumps(doc, indent=1))
    print(f"\n{'workers':>7} {'wall s':>8} {'start s':>8} {'pts/min wall':>13} {'pts/min steady':>15} "
          f"{'gen+ana s/pt':>13} {'limits s/pt':>12} {'load after':>11}", file=sys.stderr)
    for r in runs:
        run_s = sum(p["run_s"] for p in r["per_point"]) / r["points"]
        lim_s = sum(p["limits_s"] for p in r["per_point"]) / r["points"]
        print(f"{r['workers']:>7} {r['wall_s']:8.1f} {r['cluster_start_s']:8.1f} {r['points_per_min_wall']:13.2f} "
              f"{r['points_per_min_steady']:15.2f} {run_s:13.1f} {lim_s:12.1f} {r['load_1min_after']:11.2f}",
              file=sys.stderr)
    for k, v in ratios.items():
        print(f"scaling, {k}: {v:.2f}", file=sys.stderr)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
