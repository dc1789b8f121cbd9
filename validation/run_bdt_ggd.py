"""A x eff of the BDT-GGd regions of ATLAS-SUSY-2018-22 at the four benchmark points of
ANA-SUSY-2018-22.yaml, compared with ATLAS (and CheckMATE). Not tuned: a report.

    RECAST_DATA_MIRROR=../shared/hepdata python validation/run_bdt_ggd.py [--nevents N] [--workers 2]

Writes validation/reports/ANA-SUSY-2018-22/bdt_ggd.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

HERE = Path(__file__).parent
SRS = ("BDT-GGd1", "BDT-GGd2", "BDT-GGd3", "BDT-GGd4")


def run_point(point: dict, nevents: int, settings: tuple[str, ...] = ()) -> dict:
    from recast import analysis, engine
    from recast.events import PythiaConfig, PythiaSource
    from recast.slha import simplified_model

    ana = analysis.load("ANA-SUSY-2018-22")
    m = point["model"]
    with tempfile.TemporaryDirectory() as tmp:
        card = Path(tmp) / f"{point['name']}.slha"
        card.write_text(simplified_model(m["simplified"], m["m_gluino"], m["m_lsp"]))
        src = PythiaSource(PythiaConfig(slha=card, process=point["process"], nevents=nevents, seed=point["seed"],
                                        extra_settings=tuple(settings)), chunk_size=2000)
        start = time.perf_counter()
        counts = engine.run(ana, src, seed=point["seed"])
        seconds = time.perf_counter() - start
    out = {"name": point["name"], "nevents": counts.n_events, "pythia_settings": list(settings), "seconds": seconds, "sigma_pythia_fb": src.sigma_gen_fb,
           "regions": {}}
    for sr in SRS:
        eff, err = counts.efficiency(counts.final(sr))
        flow = [{"step": s.step, "acc_eff": counts.efficiency(s)[0]} for s in counts.cutflows[sr]]
        out["regions"][sr] = {"acc_eff": eff, "acc_eff_err": err, "n": counts.final(sr).n, "cutflow": flow}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nevents", type=int, default=None, help="override the events per point")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--points", nargs="*", help="only these benchmark points")
    ap.add_argument("--pythia-setting", action="append", default=[],
                    help="extra Pythia setting for a sensitivity study, e.g. 'SpaceShower:pTmaxMatch = 1'")
    ap.add_argument("--tag", default="", help="suffix of the output files (for sensitivity studies)")
    args = ap.parse_args()
    spec = yaml.safe_load((HERE / "ANA-SUSY-2018-22.yaml").read_text())
    points = [p for p in spec["points"] if not args.points or p["name"] in args.points]
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(run_point, points, [args.nevents or p["nevents"] for p in points],
                             [tuple(args.pythia_setting)] * len(points)))
    rows = []
    for point, run in zip(points, runs):
        for sr in SRS:
            ours = run["regions"][sr]
            atlas = point["reference"]["acc_eff"][sr]
            cm = point["reference"]["checkmate_acc_eff"][sr]
            ratio = ours["acc_eff"] / atlas
            rows.append({"point": point["name"], "region": sr, "recast": ours["acc_eff"],
                         "recast_err": ours["acc_eff_err"], "atlas": atlas, "checkmate": cm,
                         "ratio": ratio, "ratio_err": ours["acc_eff_err"] / atlas,
                         "pull": (ours["acc_eff"] - atlas) / ours["acc_eff_err"] if ours["acc_eff_err"] else math.inf,
                         "checkmate_ratio": cm / atlas, "n_mc": ours["n"]})
    outdir = HERE / "reports" / "ANA-SUSY-2018-22"
    outdir.mkdir(parents=True, exist_ok=True)
    from recast.results import software_versions

    doc = {"analysis": "ANA-SUSY-2018-22", "reference_source": spec["reference_source"],
           "checkmate_source": spec["checkmate_source"], "software": software_versions(),
           "runs": runs, "comparison": rows}
    stem = "bdt_ggd" + (f"_{args.tag}" if args.tag else "")
    doc["pythia_settings"] = args.pythia_setting
    (outdir / f"{stem}.json").write_text(json.dumps(doc, indent=1))
    lines = ["# ATLAS-SUSY-2018-22 BDT-GGd: recast vs ATLAS acceptance x efficiency", "",
             f"Gluino pairs, gluino -> q qbar neutralino1, Pythia {doc['software'].get('pythia8mc')} at 13 TeV, "
             f"{runs[0]['nevents']} events per point, default analysis options"
             + (f", extra Pythia settings: {'; '.join(args.pythia_setting)}" if args.pythia_setting else "")
             + f". ATLAS: {spec['reference_source']}",
             "", "| point (m_gluino, m_LSP) | SR | recast A×ε | ATLAS A×ε | recast/ATLAS | pull | CheckMATE/ATLAS |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['point']} | {r['region']} | {r['recast']:.4g} ± {r['recast_err']:.2g} | {r['atlas']:.4g} | "
                     f"{r['ratio']:.2f} ± {r['ratio_err']:.2f} | {r['pull']:+.1f} | {r['checkmate_ratio']:.2f} |")
    (outdir / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    main()
