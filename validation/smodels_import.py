"""Carry ATLAS' published upper limits and acceptance x efficiency maps into recast's data/.

    python validation/smodels_import.py ../shared/hepdata

ATLAS publishes, on HEPData, the 95 % CL cross-section upper limits of its simplified-model planes
and the acceptance x efficiency of its signal regions; the SModelS database keeps them as
Python-literal text files (``upperLimits: [[[masses], value*fb], ...]``, ``efficiencyMap: ...``),
which the mirror holds (``hepdata/*/smodels_upper_limits``, ``hepdata/ANA-SUSY-2018-22/smodels_effmaps``,
origin and HEPData record in each MANIFEST.json). This script rewrites the numbers as JSON files in
``data/<analysis>/`` (one row per grid point: the plane's axes, then the values), each naming its
source file, that file's sha256 and the HEPData record: published figures, carried like the other
published numbers, so that validation needs no mirror. Run it again when the sources change; the
output is deterministic.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
_UNIT = re.compile(r"\*\s*(fb|pb|GeV|TeV)\b")
_SCALE = {"fb": 1.0, "pb": 1000.0, "GeV": 1.0, "TeV": 1000.0}

# output file -> (analysis, source file in the mirror, what the rows hold, which entries of each
# branch's mass vector are the plane's x and y)
UPPER_LIMITS = {
    "upper_limits_T1.json": ("ANA-SUSY-2018-22", "smodels_upper_limits/T1.txt",
                             "gluino pairs, gluino -> q qbar neutralino1 (squarks decoupled); rows [m_gluino, m_lsp, "
                             "sigma_UL observed fb, sigma_UL expected fb or null]", (0, 1)),
    "upper_limits_T2.json": ("ANA-SUSY-2018-22", "smodels_upper_limits/T2.txt",
                             "squark-antisquark pairs, squark -> q neutralino1; rows [m_squark, m_lsp, sigma_UL observed "
                             "fb, sigma_UL expected fb or null]", (0, 1)),
    "upper_limits_TRPVtttbj.json": ("ANA-SUSY-2019-04", "smodels_upper_limits/TRPVtttbj.txt",
                                    "see the template that matches this plane (recast make-slha --help); rows [x, y, "
                                    "sigma_UL observed fb, sigma_UL expected fb or null] with x, y the plane's axes",
                                    (0, 1)),
    "upper_limits_TRPVttbj.json": ("ANA-SUSY-2019-04", "smodels_upper_limits/TRPVttbj.txt",
                                   "see the template that matches this plane (recast make-slha --help); rows [x, y, "
                                   "sigma_UL observed fb, sigma_UL expected fb or null] with x, y the plane's axes",
                                   (0, 1)),
}
EFFICIENCY_MAPS = {  # output file -> (analysis, maps: region -> source file, model, mass entries kept)
    "acc_eff_T2.json": ("ANA-SUSY-2018-22", {f"SR2j-{m}": f"smodels_effmaps/SR2j_{m}_T2.txt" for m in (1600, 2200, 2800)},
                        "squark-antisquark pairs, squark -> q neutralino1; rows [m_squark, m_lsp, A x eff]", (0, 1)),
    "acc_eff_T1_meff.json": ("ANA-SUSY-2018-22",
                             {**{f"SR4j-{m}": f"smodels_effmaps/SR4j_{m}_T1.txt" for m in (1000, 2200, 3400)},
                              "SR5j-1600": "smodels_effmaps/SR5j_1600_T1.txt"},
                             "gluino pairs, gluino -> q qbar neutralino1; rows [m_gluino, m_lsp, A x eff]", (0, 1)),
    "acc_eff_T5WW.json": ("ANA-SUSY-2018-22", {f"SR6j-{m}": f"smodels_effmaps/SR6j_{m}_T5WW.txt" for m in (1000, 2200, 3400)},
                          "gluino pairs, gluino -> q qbar' chargino1, chargino1 -> W neutralino1, m(chargino1) = "
                          "(m_gluino + m_lsp) / 2; rows [m_gluino, m_lsp, A x eff]", (0, 2)),
}


def _literal(text: str, key: str):
    """The value of ``key:`` in a SModelS text file, units turned into numbers (fb, GeV)."""
    m = re.search(rf"^{key}:\s*(.*?)(?=^\w+:|\Z)", text, re.S | re.M)
    if m is None:
        return None
    body = _UNIT.sub(lambda u: f"*{_SCALE[u.group(1)]}", m.group(1).strip())
    return _evaluate(ast.parse(body, mode="eval").body)


def _evaluate(node):
    """Lists of numbers, and number * unit factor: nothing else is accepted."""
    if isinstance(node, ast.List):
        return [_evaluate(e) for e in node.elts]
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _evaluate(node.left) * _evaluate(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    raise ValueError(f"unexpected element {ast.dump(node)[:80]}")


def _masses(point, axes: tuple[int, int]) -> list[float]:
    """The plane's two axes from one branch of a SModelS mass vector (nested or flat)."""
    branch = point[0] if isinstance(point[0], list) else point
    return [round(branch[axes[0]], 6), round(branch[axes[1]], 6)]


def _source(mirror: Path, analysis: str, rel: str) -> tuple[str, dict]:
    path = mirror / analysis / rel
    manifest = json.loads((mirror / analysis / "MANIFEST.json").read_text())
    entry = next(f for f in manifest["files"] if f["name"] == rel)
    text = path.read_text()
    origin = entry.get("origin", {})
    return text, {"file": rel, "sha256": hashlib.sha256(text.encode()).hexdigest(),
                  "hepdata": manifest.get("hepdata_doi"),
                  "via": f"SModelS database {origin.get('repo', '?')} @ {str(origin.get('commit', '?'))[:8]}: "
                         f"{origin.get('path', '?')}"}


def upper_limits(mirror: Path) -> None:
    for out, (analysis, rel, what, axes) in UPPER_LIMITS.items():
        text, source = _source(mirror, analysis, rel)
        observed = _literal(text, "upperLimits")
        expected = {tuple(_masses(p, axes)): v for p, v in (_literal(text, "expectedUpperLimits") or [])}
        rows = [[*_masses(p, axes), v, expected.get(tuple(_masses(p, axes)))] for p, v in observed]
        _write(DATA / analysis / out, {"analysis": analysis, "what": what, "tx_name": _literal_line(text, "txName"),
                                       "constraint": _literal_line(text, "constraint"),
                                       "figure": _literal_line(text, "figureUrl"), "source": source,
                                       "units": {"masses": "GeV", "sigma_UL": "fb"}, "rows": sorted(rows)})


def efficiency_maps(mirror: Path) -> None:
    for out, (analysis, maps, what, axes) in EFFICIENCY_MAPS.items():
        doc = {"analysis": analysis, "what": what, "maps": {}, "sources": {}}
        for region, rel in maps.items():
            text, source = _source(mirror, analysis, rel)
            doc["maps"][region] = sorted([*_masses(p, axes), v] for p, v in _literal(text, "efficiencyMap"))
            doc["sources"][region] = source
        _write(DATA / analysis / out, doc)


def _literal_line(text: str, key: str) -> str | None:
    m = re.search(rf"^{key}:\s*(.*)$", text, re.M)
    return m.group(1).strip() if m else None


def _write(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "hepdata")
    upper_limits(root)
    efficiency_maps(root)
