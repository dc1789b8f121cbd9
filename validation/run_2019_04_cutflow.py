"""The electroweakino -> tbs cutflow of ATLAS-SUSY-2019-04 (FACTS section 6): recast with both b-tag
encodings of the network input, ATLAS and CheckMATE, each step relative to the leading-lepton step,
and the network efficiency given >= 4 b-jets. A report, not a fit.

    RECAST_DATA_MIRROR=../shared/hepdata python validation/run_2019_04_cutflow.py [--nevents N] [--workers 2]

Writes validation/reports/ANA-SUSY-2019-04/cutflow_<point>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

HERE = Path(__file__).parent
NN = (4, 5, 6, 7, 8)


def card_text(spec: dict) -> str:
    from recast import artifacts
    from recast.slha import edited

    text = artifacts.fetch(artifacts.get("ANA-SUSY-2019-04", spec["artifact"])).read_text()
    if "MODSEL" not in text.upper():
        text = "BLOCK MODSEL\n    1   0\n" + text
    return edited(text, {int(k): v for k, v in (spec.get("masses") or {}).items()}, spec.get("blocks"))


def run_point(point: dict, nevents: int, encodings: list[str]) -> dict:
    from recast import analysis, engine
    from recast.events import PythiaConfig, PythiaSource
    from recast.objects import build_objects

    ana = analysis.load("ANA-SUSY-2019-04")
    runs = {}
    for enc in encodings:
        opts = ana.resolve_options({"btag_encoding": enc})
        runs[enc] = (opts, *engine.prepare(ana, opts))
    config = ana.object_config(runs[encodings[0]][0])
    with tempfile.TemporaryDirectory() as tmp:
        card = Path(tmp) / f"{point['name']}.slha"
        card.write_text(card_text(point["slha"]))
        src = PythiaSource(PythiaConfig(slha=card, process=point["process"], nevents=nevents, seed=point["seed"]),
                           chunk_size=2000)
        for batch in src:
            objects = build_objects(batch, config, point["seed"])  # the same events for every encoding
            for opts, models, counts in runs.values():
                engine.select(ana, objects, opts, counts, models)
    out = {"name": point["name"], "nevents": nevents, "sigma_pythia_fb": src.sigma_gen_fb, "encodings": {}}
    for enc, (_, _, counts) in runs.items():
        flows = {n: [s.sumw for s in counts.cutflows[f"1l-NN-{n}j"]] for n in NN}
        # steps: all, lepton, >= 4 jets, 1 lepton, N jets, >= 4 b, NN
        f6 = flows[6]
        out["encodings"][enc] = {"all": f6[0], "lepton": f6[1],
                                 "jets": {n: flows[n][4] for n in NN}, "nb4": {n: flows[n][5] for n in NN},
                                 "nn": {n: flows[n][6] for n in NN},
                                 "raw_nb4": {n: counts.cutflows[f"1l-NN-{n}j"][5].n for n in NN},
                                 "raw_nn": {n: counts.cutflows[f"1l-NN-{n}j"][6].n for n in NN}}
    return out


def _binomial_err(k: float, n: float) -> float:
    return (k * (n - k) / n**3) ** 0.5 if n > 0 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nevents", type=int)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    spec = yaml.safe_load((HERE / "ANA-SUSY-2019-04.yaml").read_text())
    ref = spec["reference"]
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(run_point, spec["points"], [args.nevents or p["nevents"] for p in spec["points"]],
                             [spec["encodings"]] * len(spec["points"])))
    outdir = HERE / "reports" / "ANA-SUSY-2019-04"
    outdir.mkdir(parents=True, exist_ok=True)
    from recast.results import software_versions

    atlas_lep, cm_lep = ref["steps"][1]["atlas"], ref["steps"][1]["checkmate"]
    for run in runs:
        encs = spec["encodings"]
        lines = [f"# ATLAS-SUSY-2019-04 electroweakino -> tbs cutflow: {run['name']}", "",
                 f"{run['nevents']} Pythia events ({run['name']}), default options except the b-tag encoding. "
                 f"Reference: {ref['source']}", "",
                 "## Each step relative to the leading-lepton step (1l channel, exactly N jets)", "",
                 "| step | ATLAS | " + " | ".join(f"recast {e}" for e in encs) + " | CheckMATE |",
                 "|---|---|" + "---|" * len(encs) + "---|"]
        e0 = run["encodings"][encs[0]]
        lines.append(f"| lepton / all | {atlas_lep / ref['steps'][0]['atlas']:.3f} | "
                     + " | ".join(f"{run['encodings'][e]['lepton'] / run['encodings'][e]['all']:.3f}" for e in encs)
                     + f" | {cm_lep / ref['steps'][0]['checkmate']:.3f} |")
        for key, label in (("jets", "== {n} jets"), ("nb4", "== {n} jets, >= 4 b"), ("nn", "== {n} jets, >= 4 b, NN > cut")):
            for n in NN:
                lines.append(f"| {label.format(n=n)} | {ref[key][n]['atlas'] / atlas_lep:.4f} | "
                             + " | ".join(f"{run['encodings'][e][key][n] / run['encodings'][e]['lepton']:.4f}" for e in encs)
                             + f" | {ref[key][n]['checkmate'] / cm_lep:.4f} |")
        lines += ["", "## Network efficiency given >= 4 b-jets (NN > cut / >= 4 b)", "",
                  "| N jets | ATLAS | " + " | ".join(f"recast {e}" for e in encs) + " | CheckMATE | recast MC events (>= 4 b) |",
                  "|---|---|" + "---|" * len(encs) + "---|---|"]
        for n in NN:
            cells = []
            for e in encs:
                r = run["encodings"][e]
                eff = r["nn"][n] / r["nb4"][n] if r["nb4"][n] else float("nan")
                cells.append(f"{eff:.2f} ± {_binomial_err(r['raw_nn'][n], r['raw_nb4'][n]):.2f}")
            lines.append(f"| {n} | {ref['nn'][n]['atlas'] / ref['nb4'][n]['atlas']:.2f} | " + " | ".join(cells)
                         + f" | {ref['nn'][n]['checkmate'] / ref['nb4'][n]['checkmate']:.2f} | {e0['raw_nb4'][n]} |")
        (outdir / f"cutflow_{run['name']}.md").write_text("\n".join(lines) + "\n")
        (outdir / f"cutflow_{run['name']}.json").write_text(json.dumps({**run, "reference": ref,
                                                                        "software": software_versions()}, indent=1))
        print("\n".join(lines))


if __name__ == "__main__":
    main()
