"""The gluino -> q qbar neutralino scan of ATLAS-SUSY-2018-22 checked with ATLAS' own acceptances.

    RECAST_DATA_MIRROR=../shared/hepdata recast scan gqq.yaml --analyses ANA-SUSY-2018-22 --workers 2 --out SCAN
    python validation/scan_gqq_check.py SCAN [--out validation/reports/scan-gqq]

For every finished point of SCAN, the four BDT-GGd regions are evaluated twice with the same
simplified likelihoods (recast.stats): with our signal yields (Pythia 8 + recast's objects and the
preserved BDTs), and with ATLAS' published acceptance x efficiency (data/ANA-SUSY-2018-22/acc_eff_T1.json,
interpolated linearly in (m_gluino, m_lsp) where the point is not on ATLAS' grid) times the same
cross section and 139 fb^-1. The two decisions differ only through the acceptance, so the table
says how far the scan's excluded/allowed pattern rests on our simulation. The scan's own decision
(every region and combination of the analysis) is listed beside them. Nothing here is tuned.

Writes OUT/atlas_eff_check.json and .md, and copies the scan's summary and exclusion plot to OUT.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANALYSIS = "ANA-SUSY-2018-22"
REGIONS = ("BDT-GGd1", "BDT-GGd2", "BDT-GGd3", "BDT-GGd4")
LUMI_FB = 139.0
MAPS = ROOT / "data" / ANALYSIS / "acc_eff_T1.json"


def atlas_acc_eff(m_gluino: float, m_lsp: float) -> dict[str, float | None]:
    """ATLAS' A x eff of each BDT-GGd region at a mass point (None outside ATLAS' grid)."""
    from recast.validation import acc_eff_from_map

    doc = json.loads(MAPS.read_text())
    return {sr: acc_eff_from_map(doc["maps"][sr], m_gluino, m_lsp) for sr in REGIONS}


def bdt_limits(result: dict, yields: dict[str, float], errors: dict[str, float]) -> dict:
    """CLs of the four BDT-GGd regions alone, best expected deciding, for the given yields."""
    from recast import analysis, stats

    regions = {r["name"]: r for r in result["signal_regions"]}
    sub = dict(result, signal_regions=[dict(regions[sr], **{"yield": yields[sr], "yield_err": errors[sr]})
                                       for sr in REGIONS])
    lim = stats.simplified(sub, analysis.load(ANALYSIS), upper_limits="none")
    by = {r.name: r for r in lim.regions}
    return {"best": lim.best, "excluded": bool(lim.excluded), "cls_obs": lim.cls_obs, "cls_exp": lim.cls_exp,
            "cls_exp_by_region": {sr: by[sr].cls_exp[2] for sr in REGIONS}}


def check_point(doc: dict) -> dict:
    point, entry = doc["point"], doc["analyses"][ANALYSIS]
    result = entry["result"]
    xsec = result["cross_section"]["value_fb"]
    ours = {r["name"]: r for r in result["signal_regions"] if r["name"] in REGIONS}
    ae_atlas = atlas_acc_eff(point["m_parent"], point["m_lsp"])
    row = {"name": point["name"], "m_gluino": point["m_parent"], "m_lsp": point["m_lsp"],
           "xsec_fb": xsec, "nevents": point["nevents"],
           "acc_eff_ours": {sr: ours[sr]["acc_eff"] for sr in REGIONS}, "acc_eff_atlas": ae_atlas,
           "scan": {k: entry[k] for k in ("best", "excluded", "cls_obs", "cls_exp")}}
    row["bdt_ours"] = bdt_limits(result, {sr: ours[sr]["yield"] for sr in REGIONS},
                                 {sr: ours[sr]["yield_err"] for sr in REGIONS})
    if all(v is not None for v in ae_atlas.values()):
        row["bdt_atlas_acc_eff"] = bdt_limits(result, {sr: ae_atlas[sr] * xsec * LUMI_FB for sr in REGIONS},
                                              dict.fromkeys(REGIONS, 0.0))
    else:
        row["bdt_atlas_acc_eff"] = None
    return row


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _verdict(d: dict | None) -> str:
    if d is None:
        return "–"
    return f"{'excluded' if d['excluded'] else 'allowed'} ({d['best']}, CLs {_fmt(d['cls_obs'])}, exp. {_fmt(d['cls_exp'])})"


def markdown(rows: list[dict]) -> str:
    lines = [
        "# ATLAS-SUSY-2018-22 gluino -> q qbar neutralino scan: our acceptance against ATLAS'",
        "",
        "Written by `validation/scan_gqq_check.py`. The BDT-GGd decision uses the four BDT-GGd regions alone "
        "(best expected decides) with our yields, and then with ATLAS' published A x eff times the same cross "
        "section and 139 fb^-1. The scan's decision uses every region and multi-bin combination.",
        "",
        "| m(g) | m(LSP) | xsec [fb] | scan (all regions) | BDT-GGd, our A x eff | BDT-GGd, ATLAS A x eff | "
        "A x eff GGd1-4 ours / ATLAS |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ae = " · ".join(f"{_fmt(r['acc_eff_ours'][sr])}/{_fmt(r['acc_eff_atlas'][sr])}" for sr in REGIONS)
        scan = r["scan"]
        lines.append(f"| {r['m_gluino']:g} | {r['m_lsp']:g} | {r['xsec_fb']:.3g} | "
                     f"{'excluded' if scan['excluded'] else 'allowed'} ({scan['best']}, CLs {_fmt(scan['cls_obs'])}, "
                     f"exp. {_fmt(scan['cls_exp'])}) | {_verdict(r['bdt_ours'])} | {_verdict(r['bdt_atlas_acc_eff'])} "
                     f"| {ae} |")
    same = [r for r in rows if r["bdt_atlas_acc_eff"] is not None]
    agree = sum(r["bdt_ours"]["excluded"] == r["bdt_atlas_acc_eff"]["excluded"] for r in same)
    lines += ["", f"BDT-GGd decisions with our and with ATLAS' acceptance agree at {agree} of {len(same)} points."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scan", type=Path, help="a scan directory written by 'recast scan'")
    p.add_argument("--out", type=Path, default=ROOT / "validation" / "reports" / "scan-gqq")
    args = p.parse_args(argv)
    docs = [json.loads(f.read_text()) for f in sorted((args.scan / "points").glob("*.json"))]
    docs = [d for d in docs if d["status"] == "ok" and ANALYSIS in d["analyses"]]
    if not docs:
        sys.exit(f"{args.scan}: no finished point of {ANALYSIS}")
    rows = sorted((check_point(d) for d in docs), key=lambda r: (r["m_gluino"], r["m_lsp"]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "atlas_eff_check.json").write_text(json.dumps({"analysis": ANALYSIS, "rows": rows}, indent=1) + "\n")
    (args.out / "atlas_eff_check.md").write_text(markdown(rows))
    for name in ("summary.json", "summary.csv", "exclusion.png", "exclusion.pdf"):
        if (args.scan / name).exists():
            shutil.copy2(args.scan / name, args.out / name)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
