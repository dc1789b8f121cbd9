"""Speed of ``recast probe`` against the plain selection, same events, same run (not a test: run by hand).

    RECAST_DATA_MIRROR=../shared/hepdata python benchmarks/probe.py [--nevents 20000] [--out benchmarks/results]

The sample is benchmarks/run.py's (Gtt, m(gluino) = 2 TeV, m(LSP) = 1 GeV, seed 1, generated once
and cached in ``benchmarks/cache/``), read into memory once; reading is timed by neither side.
For each probed model (``--probe ANA:CARD``, default one BDT of ATLAS-SUSY-2018-22 and one network
of ATLAS-SUSY-2019-04):

* plain: what ``recast run`` does with the events once read, for that analysis: objects through
  the analysis' detector card, then the selection with every model (``detector.build`` +
  ``engine.select``);
* selection: the selection alone on the objects built beforehand;
* probe: :func:`recast.probe.probe` of that one model on the same batches (objects built once,
  every option flip rerun on them, domain, permutation importance with 3 repeats, gradients for
  networks, FGSM + 3 PGD steps), as ``recast probe ANA --model CARD`` runs it.

The issue's target is probe / plain <= 20 (issue 16: never a per-event Python loop); the ratios to
the selection alone are printed too, with and without the objects the probe builds as a run does. Results go to one JSON per run in benchmarks/results/
(gitignored), with the software versions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import sys
from pathlib import Path

HERE = Path(__file__).parent
TARGET = 20.0
DEFAULT_PROBES = ("ANA-SUSY-2018-22:BDT-GGd1", "ANA-SUSY-2019-04:NN-6j")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nevents", type=int, default=20_000)
    ap.add_argument("--chunk-size", type=int, default=1000)
    ap.add_argument("--probe", action="append", metavar="ANA:CARD", help=f"default: {', '.join(DEFAULT_PROBES)}")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--cache", type=Path, default=HERE / "cache")
    args = ap.parse_args()

    sys.path.insert(0, str(HERE))
    from run import sample, timed  # benchmarks/run.py

    from recast import analysis, detector, engine, probe, results
    from recast.events import HepMCSource

    plain_file = sample(args.nevents, args.cache)
    batches = list(HepMCSource(plain_file, chunk_size=args.chunk_size))
    n = sum(len(b) for b in batches)
    rows = []
    for spec in args.probe or DEFAULT_PROBES:
        aid, card = spec.split(":", 1)
        ana = analysis.load(aid)
        opts = ana.resolve_options()
        config = detector.object_config(ana, opts)
        models, _ = engine.prepare(ana, opts)
        detector.build(batches[0][:20], config, 1)  # numba and fastjet compiled before anything is timed
        prepared = probe.prepare(ana, opts, [card])

        def plain():
            counts = engine.prepare(ana, opts)[1]
            for b in batches:
                engine.select(ana, detector.build(b, config, 1), opts, counts, models)

        objects, t_objects = timed(lambda: [detector.build(b, config, 1) for b in batches])

        def selection():
            counts = engine.prepare(ana, opts)[1]
            for o in objects:
                engine.select(ana, o, opts, counts, models)

        _, t_plain = timed(plain)
        _, t_select = timed(selection)
        chunks = (detector.build(b, config, 1) for b in batches)
        doc, t_probe = timed(lambda: probe.probe(ana, opts, chunks, only=[card], seed=1, prepared=prepared))
        reached = doc["models"][0]["n_events"]
        row = {"analysis": aid, "model": card, "events": n, "events_reaching_model": reached,
               "plain_s": t_plain, "objects_s": t_objects, "selection_s": t_select, "probe_s": t_probe,
               "probe_over_plain": t_probe / t_plain, "probe_over_selection": t_probe / t_select,
               # the probe builds its objects as a run does: what it adds is the rest
               "probe_beyond_objects_over_selection": (t_probe - t_objects) / t_select,
               "flips": len(doc["conventions"]["flips"]), "target": TARGET,
               "pass": t_probe / t_plain <= TARGET}
        rows.append(row)
        print(f"  {aid} {card}: {n} events ({reached} reach the model): plain {t_plain:.1f} s, selection alone "
              f"{t_select:.1f} s, probe {t_probe:.1f} s = {row['probe_over_plain']:.1f} x plain "
              f"({row['probe_over_selection']:.1f} x the selection alone; beyond building the objects "
              f"({t_objects:.1f} s), {row['probe_beyond_objects_over_selection']:.1f} x the selection alone) "
              f"{'<=' if row['pass'] else '>'} {TARGET:g}", file=sys.stderr)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"probe_{stamp}.json"
    path.write_text(json.dumps({"benchmark": "probe", "created": stamp, "platform": platform.platform(),
                                "software": results.software_versions(), "peak_rss_mb": peak_mb,
                                "file": plain_file.name, "rows": rows}, indent=1) + "\n")
    print(f"peak RSS {peak_mb:.0f} MB; wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
