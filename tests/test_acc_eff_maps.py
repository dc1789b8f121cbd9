"""ATLAS' BDT-GGd acceptance maps (data/ANA-SUSY-2018-22/acc_eff_T1.json), as the scan check of
validation/scan_gqq_check.py reads them: the transcription matches the SModelS files it came from
(when the mirror has them), and the interpolation reproduces the benchmark numbers that FACTS
section 6 derived independently from CheckMATE's event counts."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("scan_gqq_check", ROOT / "validation" / "scan_gqq_check.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)
DOC = json.loads(check.MAPS.read_text())


def test_interpolation_reproduces_the_benchmark_acceptances():
    points = yaml.safe_load((ROOT / "data" / "ANA-SUSY-2018-22" / "validation_spec.yaml").read_text())["points"]
    benchmarks = [p for p in points if any(sr.startswith("BDT-GGd") for sr in p.get("acc_eff", {}))]
    assert len(benchmarks) == 4
    for p in benchmarks:
        got = check.atlas_acc_eff(p["model"]["m_parent"], p["model"]["m_lsp"])
        for sr, refs in p["acc_eff"].items():
            assert got[sr] == pytest.approx(refs["atlas"], rel=0.01), (p["name"], sr)


def test_off_grid_is_linear_and_outside_is_none():
    rows = {(m1, m2): e for m1, m2, e in DOC["maps"]["BDT-GGd1"]}
    a, b = rows[(2200.0, 600.0)], rows[(2200.0, 700.0)]
    assert check.atlas_acc_eff(2200, 650)["BDT-GGd1"] == pytest.approx((a + b) / 2, rel=1e-9)
    assert check.atlas_acc_eff(9000, 100)["BDT-GGd1"] is None


def test_transcription_matches_the_mirrored_smodels_files():
    mirror = Path(os.environ.get("RECAST_DATA_MIRROR", ROOT.parent / "shared" / "hepdata"))
    base = mirror / "ANA-SUSY-2018-22" / "smodels_effmaps"
    if not base.is_dir():
        pytest.skip(f"no SModelS efficiency maps under {mirror}")
    for name, sha in DOC["source_sha256"].items():
        raw = (base / name).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == sha
        found = re.findall(r"\[\[\[([0-9.E+-]+)\*GeV,([0-9.E+-]+)\*GeV\],\[[^\]]*\]\],([0-9.E+-]+)\]", raw.decode())
        want = sorted((float(a), float(b), abs(float(e))) for a, b, e in found)
        sr = "BDT-GGd" + name.split("_")[1][-1]
        assert [tuple(r) for r in DOC["maps"][sr]] == want
