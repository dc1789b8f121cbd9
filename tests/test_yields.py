"""Limits from a table of signal yields (issue 12: 'recast limit yields.csv|json'): the same CLs as
the result-JSON path for the same numbers, the analysis' combinations, and one-line errors naming
the file and line for bad tables."""

from __future__ import annotations

import json

import pytest

from recast import analysis as ana_mod
from recast import stats
from recast.stats import yields
from recast.cli import main
from recast.errors import RecastError

ANA22 = ana_mod.load("ANA-SUSY-2018-22")


@pytest.fixture(scope="module")
def result(gtt_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("yields") / "r.json"
    assert main(["run", "ANA-SUSY-2018-30", "--events", str(gtt_sample[1]), "--xsec-fb", "2", "-q",
                 "--out", str(out)]) == 0
    return out, json.loads(out.read_text())


def _limits(capsys, *argv) -> dict:
    assert main(["limit", *argv]) == 0, capsys.readouterr().err
    out = capsys.readouterr()
    path = argv[argv.index("--out") + 1]
    assert f"wrote {path}" in out.err
    return json.loads(open(path).read())


def _cls(doc: dict) -> dict:
    return {r["name"]: (r["cls_obs"], r["cls_exp"], r["mu95_obs"], r["mu95_exp"])
            for r in doc["limits"]["simplified"]["regions"]}


def test_the_same_numbers_give_the_same_cls_as_the_result(result, tmp_path, capsys):
    path, doc = result
    regions = [sr for sr in doc["signal_regions"] if sr["published"] is not None]
    csv_file = tmp_path / "y.csv"
    csv_file.write_text("# yields of the test sample, 2 fb\nregion,yield,yield_err\n"
                        + "".join(f"{sr['name']},{sr['yield']!r},{sr['yield_err']!r}\n" for sr in regions))
    json_file = tmp_path / "y.json"
    json_file.write_text(json.dumps({"schema": "recast-yields", "schema_version": 1, "analysis": "ATLAS-SUSY-2018-30",
                                     "cross_section": {"value_fb": 2.0, "uncertainty_fb": 0.2, "source": "test"},
                                     "luminosity_ifb": 139,
                                     "signal_regions": [{"name": sr["name"], "yield": sr["yield"],
                                                         "yield_err": sr["yield_err"]} for sr in regions]}, indent=1))
    from_result = _limits(capsys, str(path), "--upper-limits", "all", "--out", str(tmp_path / "a.json"))
    from_csv = _limits(capsys, str(csv_file), "--analysis", "ANA-SUSY-2018-30", "--upper-limits", "all",
                       "--out", str(tmp_path / "b.json"))
    from_json = _limits(capsys, str(json_file), "--upper-limits", "all", "--out", str(tmp_path / "c.json"))
    assert from_result["source_kind"] == "result" and from_csv["source_kind"] == from_json["source_kind"] == "yields"
    assert from_csv["source"] == str(csv_file)
    assert len(_cls(from_result)) == 14 and any(v[2] is not None for v in _cls(from_result).values())
    assert _cls(from_csv) == _cls(from_result) == _cls(from_json)  # the same fits on the same numbers
    for a, b in ((from_csv, from_result), (from_json, from_result)):
        assert a["limits"]["simplified"]["best"] == b["limits"]["simplified"]["best"]
    # the cross-section uncertainty of the JSON (10 %) enters with --xsec-unc and weakens the limit
    with_unc = _limits(capsys, str(json_file), "--xsec-unc", "--out", str(tmp_path / "d.json"))
    best = from_json["limits"]["simplified"]["best"]
    assert _cls(with_unc)[best][0] > _cls(from_json)[best][0]
    without = _limits(capsys, str(csv_file), "--analysis", "ANA-SUSY-2018-30", "--xsec-unc",
                      "--out", str(tmp_path / "e.json"))
    assert "no cross-section uncertainty known" in " ".join(without["limits"]["simplified"]["notes"])


def test_an_analysis_column_and_a_combination(tmp_path):
    bins = ANA22.combinations["MB-GGd"]
    table = tmp_path / "mb.csv"
    table.write_text("analysis,region,yield\n" + "".join(f"ANA-SUSY-2018-22,{b},1.5\n" for b in bins))
    doc, analysis, kind = yields.load(table)
    assert analysis.id == ANA22.id and kind == "yields"
    assert [sr["yield_err"] for sr in doc["signal_regions"]] == [0.0] * len(bins)  # no yield_err: exact
    lim = stats.compute(doc, analysis, upper_limits="none")[0]
    combo = next(r for r in lim.regions if r.name == "MB-GGd")
    assert combo.kind == "combined" and combo.signal == [1.5] * 18
    # only the listed regions: 18 bins and their combination, no other
    assert {r.name for r in lim.regions} == set(bins) | {"MB-GGd"}


@pytest.mark.parametrize("text, expect", [
    ("region,yield\nGtt-0L-B,3\nSR-nonsense,2\n", r"y.csv:3: ANA-SUSY-2018-30 has no signal region 'SR-nonsense' "
                                                  r"\(its regions: Gtt-0L-B, Gtt-0L-M1, .*, Gtb-C, Gtt-2100-1, .*\)$"),
    ("region,yield\nGtt-0L-B,three\n", r"y.csv:2: yield 'three' is not a number"),
    ("region,yield,yield_err\nGtt-0L-B,3\n", r"y.csv:2: 2 fields where the header has 3"),
    ("# a comment\nregion,events\nGtt-0L-B,3\n", r"y.csv:2: unknown column 'events'"),
    ("region,yield\n\nGtt-0L-B,3\n# again\nGtt-0L-B,4\n", r"y.csv:5: region Gtt-0L-B is listed twice \(first on line 3\)"),
    ("region,yield,yield_err\nGtt-0L-B,3,-1\n", r"y.csv:2: yield_err of Gtt-0L-B is -1"),
    ("region,yield\nGtt-0L-B,nan\n", r"y.csv:2: yield of Gtt-0L-B is nan"),
    ("region,yield\n", r"y.csv: a header but no rows"),
    ("# only a comment\n", r"y.csv: no header and no rows"),
])
def test_bad_csv_tables(tmp_path, text, expect):
    table = tmp_path / "y.csv"
    table.write_text(text)
    with pytest.raises(RecastError, match=expect):
        yields.load(table, "ANA-SUSY-2018-30")


def test_which_analysis(tmp_path):
    table = tmp_path / "y.csv"
    table.write_text("region,yield\nGtt-0L-B,3\n")
    with pytest.raises(RecastError, match="y.csv: which analysis are these yields of"):
        yields.load(table)
    table.write_text("region,yield,analysis\nGtt-0L-B,3,ANA-SUSY-2018-30\n")
    with pytest.raises(RecastError, match="the file's analysis is ANA-SUSY-2018-30, but --analysis says "
                                          "ANA-SUSY-2018-22"):
        yields.load(table, "ANA-SUSY-2018-22")
    table.write_text("region,yield,analysis\nGtt-0L-B,3,ANA-SUSY-2018-30\nGtt-0L-C,3,ANA-SUSY-2018-22\n")
    with pytest.raises(RecastError, match="y.csv:3: analysis 'ANA-SUSY-2018-22', but an earlier row names"):
        yields.load(table)
    table.write_text("region,yield,analysis\nGtt-0L-B,3,ANA-NO-SUCH\n")
    with pytest.raises(RecastError, match="y.csv: .*ANA-NO-SUCH"):
        yields.load(table)


def _json(tmp_path, **changes) -> str:
    doc = {"schema": "recast-yields", "schema_version": 1, "analysis": "ANA-SUSY-2018-30",
           "signal_regions": [{"name": "Gtt-0L-B", "yield": 3.0, "yield_err": 0.3},
                              {"name": "Gtt-0L-C", "yield": 2.0}]}
    doc.update(changes)
    path = tmp_path / "y.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def test_bad_json_tables(tmp_path):
    path = _json(tmp_path)
    doc, analysis, kind = yields.load(path)
    assert kind == "yields" and [sr["yield_err"] for sr in doc["signal_regions"]] == [0.3, 0.0]
    path.write_text(path.read_text().replace('"yield": 2.0', '"yield": -2.0'))
    with pytest.raises(RecastError, match=r"y.json:12: invalid yields file at signal_regions/1/yield: -2.0 is less"):
        yields.load(path)
    path.write_text(path.read_text().replace('"yield": -2.0', '"yield": 2.0,'))
    with pytest.raises(RecastError, match=r"y.json:14: not valid JSON: Expecting property name"):
        yields.load(path)
    bad = [{"name": "Gtt-0L-B", "yield": 3.0}, {"name": "Gtt-9L-X", "yield": 1.0}]
    with pytest.raises(RecastError, match=r"y.json:11: ANA-SUSY-2018-30 has no signal region 'Gtt-9L-X'"):
        yields.load(_json(tmp_path, signal_regions=bad))
    with pytest.raises(RecastError, match=r"y.json: the yields are for 36.1 fb\^-1, but ANA-SUSY-2018-30 has 139"):
        yields.load(_json(tmp_path, luminosity_ifb=36.1))
    with pytest.raises(RecastError, match=r"y.json: yields schema version 2 is not supported"):
        yields.load(_json(tmp_path, schema_version=2))
    with pytest.raises(RecastError, match=r"y.json: invalid yields file at top level: .*'seed' was unexpected"):
        yields.load(_json(tmp_path, seed=3))


def test_errors_through_the_cli(tmp_path, capsys):
    table = tmp_path / "y.csv"
    table.write_text("region,yield\nGtt-0L-B,3\nBDT-GGd1,2\n")
    assert main(["limit", str(table), "--analysis", "ANA-SUSY-2018-30"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"recast: error: {table}:3: ANA-SUSY-2018-30 has no signal region 'BDT-GGd1'")
    assert "\n" not in err
    assert main(["limit", str(tmp_path / "missing.csv"), "--analysis", "ANA-SUSY-2018-30"]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
    # the output location is checked before anything is computed
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["limit", str(table), "--out", str(blocker / "out.json")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
