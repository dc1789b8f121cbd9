"""Engine arithmetic on a toy analysis, the results file, and cross-section resolution."""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pytest

from recast import engine, results, xsec
from recast import slha as slha_mod
from recast.analysis import Analysis, Cut, SignalRegion
from recast.errors import RecastError
from recast.events.record import GenRecord, to_batch
from recast.objects import ObjectConfig

# six events; one pion each, no decay history (the objects do not matter, the toy variables are keyed by event number)
pytestmark = pytest.mark.filterwarnings("ignore:events carry no decay history")

WEIGHTS = np.array([1.0, 2.0, -0.5, 1.5, 3.0, 0.5])
X = {1: 10.0, 2: 20.0, 3: 30.0, 4: 40.0, 5: 50.0, 6: 60.0}
Y = {1: 1, 2: 0, 3: 1, 4: 1, 5: 0, 6: 1}


def _batch(numbers, weights):
    n = len(numbers)
    p4 = np.tile([[5.0, 0.0, 1.0, 5.2]], (n, 1))
    rec = GenRecord(event_offsets=np.arange(n + 1, dtype=np.int64), pid=np.full(n, 211, np.int32),
                    final=np.ones(n, bool), beam=np.zeros(n, bool), p4=p4,
                    parent_offsets=np.zeros(n + 1, np.int64), parents=np.zeros(0, np.int64),
                    weight=np.asarray(weights, float), event_number=np.asarray(numbers, np.int64))
    return to_batch(rec)


def _toy() -> Analysis:
    def variables(obj, opt):
        return {"x": np.array([X[int(e)] for e in obj.event_number]),
                "y": np.array([Y[int(e)] for e in obj.event_number], bool)}

    return Analysis(
        id="TOY", title="toy", arxiv="0000.00000", sqrt_s_tev=13.0, luminosity_ifb=100.0,
        preselection=(Cut("x > 15", "x > 15"),),
        signal_regions=(SignalRegion("A", (Cut("y", "y"), Cut("x <= 40", "x <= 40"))),
                        SignalRegion("B", (Cut("x >= 50", "x >= 50"),))),
        variables=variables, object_config=lambda opt: ObjectConfig(), options=())


def test_weighted_cutflows_by_hand():
    ana = _toy()
    counts = engine.run(ana, [_batch([1, 2, 3], WEIGHTS[:3]), _batch([4, 5, 6], WEIGHTS[3:])])
    assert counts.n_events == 6 and counts.sumw == pytest.approx(WEIGHTS.sum())
    a = counts.cutflows["A"]
    assert [s.step for s in a] == ["all events", "x > 15", "y", "x <= 40"]
    # x > 15: events 2..6; y: 3, 4, 6; x <= 40: 3, 4
    assert [s.n for s in a] == [6, 5, 3, 2]
    assert a[2].sumw == pytest.approx(-0.5 + 1.5 + 0.5)
    assert a[3].sumw == pytest.approx(1.0) and a[3].sumw2 == pytest.approx(0.25 + 2.25)
    b = counts.final("B")
    assert (b.n, b.sumw, b.sumw2) == (2, pytest.approx(3.5), pytest.approx(9.25))
    eff, err = counts.efficiency(b)
    total, total2 = WEIGHTS.sum(), (WEIGHTS**2).sum()
    assert eff == pytest.approx(3.5 / total)
    assert err == pytest.approx(math.sqrt((1 - 2 * eff) * 9.25 + eff**2 * total2) / total)


def test_binomial_error_limits():
    ana = _toy()
    counts = engine.run(ana, [_batch([2, 4, 6], [1.0, 1.0, 1.0])])
    # every event passes "x > 15": efficiency 1 with zero error (not sqrt(N)/N)
    eff, err = counts.efficiency(counts.cutflows["A"][1])
    assert (eff, err) == (1.0, 0.0)


def test_result_document_and_atomic_write(tmp_path):
    ana = _toy()
    counts = engine.run(ana, [_batch([1, 2, 3, 4, 5, 6], WEIGHTS)])
    xs = xsec.CrossSection(2.0, 0.2, "user", "test")
    doc = results.build(ana, counts, options={}, seed=3, source={"kind": "hepmc", "path": "x"}, cross_section=xs)
    b = next(sr for sr in doc["signal_regions"] if sr["name"] == "B")
    assert b["yield"] == pytest.approx(2.0 * 100.0 * 3.5 / WEIGHTS.sum())
    assert b["cutflow"][0]["yield"] == pytest.approx(200.0)
    out = tmp_path / "sub" / "r.json"
    results.write_atomic(out, doc)
    assert results.read(out)["signal_regions"][1]["n"] == 2
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]  # no temporary files left
    old = os.umask(0o022)
    try:  # the mode of a plain open(), not mkstemp's private 0600
        results.write_atomic(out, doc)
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_result_files_are_checked(tmp_path):
    ana = _toy()
    counts = engine.run(ana, [_batch([1, 2], [1.0, 1.0])])
    doc = results.build(ana, counts, options={}, seed=1, source={"kind": "hepmc"}, cross_section=None)
    path = tmp_path / "r.json"
    for mutate, message in [
        (lambda d: d.update(schema_version=2), "schema version 2 is not supported"),
        (lambda d: d.update(schema="other"), "not a recast result file"),
        (lambda d: d["events"].update(n=-1), "invalid result file at events/n"),
    ]:
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        path.write_text(json.dumps(bad))
        with pytest.raises(RecastError, match=message):
            results.read(path)
    path.write_text("{not json")
    with pytest.raises(RecastError, match="not readable JSON"):
        results.read(path)


def test_cross_section_precedence(tmp_path):
    card = tmp_path / "g.slha"
    card.write_text(slha_mod.simplified_model("gtt", 2100, 1))
    doc = slha_mod.read(card)
    table = xsec.resolve(slha_doc=doc, process="gluino-pair", generator_fb=0.3)
    assert table.kind == "table" and table.value_fb == pytest.approx(0.598)  # FACTS: 2100 GeV -> 0.598 fb
    assert table.uncertainty_fb == pytest.approx(0.123)
    assert xsec.resolve(user_fb=1.5, slha_doc=doc, process="gluino-pair").kind == "user"
    assert xsec.resolve(generator_fb=0.3).kind == "generator"
    assert xsec.resolve() is None
    card.write_text(card.read_text() + "XSECTION  1.30E+04  2212 2212 2 1000021 1000021\n"
                    "  0  0  0  0  0  0    3.0E-04 Pythia8\n  0  2  0  0  0  0    6.5E-04 NNLL-fast\n")
    from_slha = xsec.resolve(slha_doc=slha_mod.read(card), process="gluino-pair")
    assert from_slha.kind == "slha" and from_slha.value_fb == pytest.approx(0.65)  # highest order wins
    with pytest.raises(RecastError, match="positive"):
        xsec.resolve(user_fb=-1.0)


def test_cross_section_table_interpolates_in_log():
    tab = xsec.table("gluino-pair")
    lo, hi = tab(2100.0)[0], tab(2105.0)[0]
    mid = tab(2102.5)[0]
    assert mid == pytest.approx(math.sqrt(lo * hi))
    with pytest.raises(RecastError, match="outside the cross-section table"):
        tab(4000.0)


def test_counts_of_parts_add_up_to_the_counts_of_the_whole(gtt_sample):
    """Counts merge like accumulators: two halves of a sample, counted apart (as two workers would),
    add up to the counts of the whole, step by step and bin by bin."""
    from recast import analysis as ana_mod

    ana = ana_mod.load("ANA-SUSY-2019-04")
    batch = gtt_sample[0]
    whole = engine.run(ana, [batch], seed=4)
    first, second = engine.run(ana, [batch[:50]], seed=4), engine.run(ana, [batch[50:]], seed=4)
    merged = first + second
    assert merged.n_events == whole.n_events == 120 and first.n_events == 50
    assert merged.sumw == whole.sumw
    for name, flow in whole.cutflows.items():
        assert [(s.n, s.sumw, s.sumw2) for s in merged.cutflows[name]] == [(s.n, s.sumw, s.sumw2) for s in flow]
    assert any(s.n for flow in whole.cutflows.values() for s in flow[3:])  # the test sees selected events
    for name, bins in whole.histograms.items():
        for key in ("n", "sumw", "sumw2"):
            assert list(merged.histograms[name][key]) == list(bins[key])
    assert first.n_events == 50  # a + b leaves a alone
    other = engine.run(ana, [batch[:10]], ana.resolve_options({"nn_8jet_events": "at-least-8"}), seed=4)
    with pytest.raises(ValueError, match="other regions, cuts or histograms"):
        first + other
