"""A model point generated in blocks (recast.events.pythia.generation_blocks): each block a Pythia
run of its own seed, block 0 with the point's seed, event numbers continuous; the blocks counted
apart and added in block order, so that a point's result does not depend on how many workers
generated it (recast.pipeline.generate_point)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import awkward as ak
import pytest

from recast import pipeline, results
from recast.cli import main
from recast.events import HepMCSource, PythiaConfig, PythiaSource
from recast.events.pythia import MAX_SEED, GenerationBlock, block_seed, combined_sigma, generation_blocks

ANA = "ANA-SUSY-2018-22"


def test_blocks_of_a_point():
    blocks = generation_blocks(12000, 7)
    assert [(b.index, b.first_event, b.nevents) for b in blocks] == [(0, 0, 5000), (1, 5000, 5000), (2, 10000, 2000)]
    assert blocks[0].seed == 7  # the point's own seed: a point of up to 5000 events is the one run it was
    # pinned: another derivation would silently change the events of every point above 5000 events
    assert [b.seed for b in blocks] == [7, block_seed(7, 1), block_seed(7, 2)] == [7, 620459606, 719148568]
    assert len({b.seed for b in generation_blocks(200, 3, 2)}) == 100  # distinct seeds
    assert all(1 <= b.seed <= MAX_SEED for b in generation_blocks(200, 3, 2)[1:])
    assert generation_blocks(5000, 9) == [GenerationBlock(0, 9, 0, 5000)]
    assert [b.nevents for b in generation_blocks(5001, 9)] == [5000, 1]
    assert generation_blocks(12000, 7) == blocks  # deterministic
    assert block_seed(8, 1) != block_seed(7, 1)
    assert blocks[1].to_dict() == {"index": 1, "seed": 620459606, "first_event_number": 5001, "nevents": 5000}


def test_cross_section_over_blocks():
    # events-weighted mean, errors in quadrature: (100 * 2 + 300 * 4) / 400, sqrt(20^2 + 120^2) / 400
    sigma, err = combined_sigma([(100, 2.0, 0.2), (300, 4.0, 0.4)])
    assert sigma == pytest.approx(3.5, rel=1e-15) and err == pytest.approx(math.sqrt(14800) / 400, rel=1e-15)
    assert combined_sigma([(7, 0.1 + 0.2, 0.3)]) == (0.1 + 0.2, 0.3)  # one run: its numbers, not n * x / n
    assert combined_sigma([]) == (None, None)


def test_blocks_continue_the_event_numbers_and_the_file(gtt_slha, tmp_path, assert_same_batches):
    out = tmp_path / "blocked.hepmc"
    cfg = PythiaConfig(slha=gtt_slha, nevents=7, seed=4)
    src = PythiaSource(cfg, chunk_size=2, block_events=3, hepmc_out=out)
    events = ak.concatenate(list(src))
    assert ak.to_list(events.event_number) == [1, 2, 3, 4, 5, 6, 7]
    assert [b.to_dict()["seed"] for b in src.generated_blocks] == [4, block_seed(4, 1), block_seed(4, 2)]
    assert src.n_generated == 7 and src.sigma_gen_fb > 0
    # block 0 is the point's own run: a 3-event point gives the same events
    alone = ak.concatenate(list(PythiaSource(PythiaConfig(slha=gtt_slha, nevents=3, seed=4), chunk_size=3)))
    assert_same_batches(events[:3], alone)
    # block 1 alone (as a worker generates it): its events, numbered 4..6
    blocks = generation_blocks(7, 4, 3)
    one = ak.concatenate(list(PythiaSource(cfg, chunk_size=2, block_events=3, blocks=(blocks[1],))))
    assert_same_batches(events[3:6], one)
    # a single Pythia run of 7 events differs after its first 3: the blocks really have their own seeds
    single = ak.concatenate(list(PythiaSource(cfg, chunk_size=7, block_events=7)))
    assert ak.to_list(single.particles.px[3]) != ak.to_list(events.particles.px[3])
    # the HepMC file holds the same 7 events, numbered on
    assert_same_batches(ak.concatenate(list(HepMCSource(out, chunk_size=7))), events)


def _without_time(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    doc.pop("created")
    return doc


@pytest.fixture(scope="module")
def two_block_point(gtt_slha):
    """ANA-SUSY-2018-22 on a point of 2 blocks of 80 events (chunks of 50), in this process."""
    spec = pipeline.PointSpec(slha=gtt_slha, analyses=[ANA], nevents=160, seed=4, chunk_size=50, block_events=80)
    return spec, pipeline.run_point(spec)[ANA]


def test_point_in_blocks(two_block_point):
    spec, doc = two_block_point
    gen = doc["input"]["generator"]
    assert gen["seed"] == 4 and gen["nevents"] == 160 and gen["block_events"] == 80
    assert gen["blocks"] == [b.to_dict() for b in generation_blocks(160, 4, 80)]
    assert [b["seed"] for b in gen["blocks"]] == [4, block_seed(4, 1)]
    assert doc["events"]["n"] == 160 and doc["complete"]
    # the counts are those of the two blocks added: block by block through the same engine
    variants = pipeline.point_variants(spec)
    parts = [pipeline.count_block(spec, b, variants).counts[None][ANA] for b in generation_blocks(160, 4, 80)]
    assert [p.n_events for p in parts] == [80, 80]
    total = variants[None][0].counts
    for part in parts:
        total += part
    region = doc["signal_regions"][0]
    assert [s["n"] for s in region["cutflow"]] == [s.n for s in total.cutflows[region["name"]]]
    assert [s["sumw"] for s in region["cutflow"]] == [s.sumw for s in total.cutflows[region["name"]]]


def test_point_on_two_workers_is_the_same(two_block_point, gtt_slha, tmp_path, monkeypatch, capsys):
    """``recast run --slha --workers 2``: one block per worker, merged in block order: the document of
    the point generated in this process, to the last bit (only its time of writing differs)."""
    monkeypatch.setattr(pipeline, "BLOCK_EVENTS", 80)
    out = tmp_path / "two.json"
    assert main(["run", ANA, "--slha", str(gtt_slha), "-n", "160", "--seed", "4", "--chunk-size", "50",
                 "--workers", "2", "-q", "--out", str(out)]) == 0, capsys.readouterr().err
    _, alone = two_block_point
    assert _without_time(results.read(out)) == _without_time(alone)


def test_workers_need_a_generated_point(gtt_sample, gtt_slha, tmp_path, capfd):
    code = main(["run", ANA, "--events", str(gtt_sample[1]), "--workers", "2", "-q"])
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["recast: error: --workers: only a generated point (--slha without --events or "
                                 "--lhe) is shared between workers, by its generation blocks"]
    # several blocks cannot go to one HepMC file from 'run': refused before any event
    code = main(["run", ANA, "--slha", str(gtt_slha), "-n", "5001", "--hepmc-out", str(tmp_path / "e.hepmc"), "-q"])
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("recast: error: --hepmc-out: 5001 events are generated "
                                                             "in 2 blocks")
    assert not (tmp_path / "e.hepmc").exists()


def test_scan_point_from_block_tasks(two_block_point, gtt_slha, monkeypatch):
    """A scan point of two blocks, as a scan runs it: one task per block, then one that merges them
    and computes the limits; its result is the point's run in one process."""
    from recast import scan

    monkeypatch.setattr(pipeline, "BLOCK_EVENTS", 80)
    point = scan.GridPoint(name="gtt", process="gluino-pair", seed=4, nevents=160, slha_path=str(gtt_slha),
                           slha_text=gtt_slha.read_text())
    settings = scan.resolve_settings([ANA], chunk_size=50)
    shash = scan.settings_hash(point, settings)
    task = scan.point_task(point, settings, shash, gtt_slha.parent)
    blocks = scan.point_blocks(task)
    assert blocks == generation_blocks(160, 4, 80)
    outcomes = [scan.run_block_task(task, b) for b in blocks]
    doc = scan.run_task(task, *outcomes)
    assert doc["status"] == "ok", doc["error"]
    _, alone = two_block_point
    assert _without_time(doc["analyses"][ANA]["result"]) == _without_time(alone)
    assert doc["timing"]["run_s"] >= sum(o.seconds for o in outcomes) > 0
    # the blocks' seeds are part of what a rerun compares: a point of one block keeps its old hash
    monkeypatch.setattr(pipeline, "BLOCK_EVENTS", 5000)
    assert scan.settings_hash(point, settings) != shash


def test_validation_point_from_block_tasks(tmp_path, monkeypatch):
    """A validation point of two blocks as 'recast validate' runs it on Dask (a task per block, then
    run_one merging them): the same result and detector comparison as the point run in one task."""
    import os
    from unittest import mock

    import yaml

    from recast import validation
    from recast.validation import run as validation_run

    monkeypatch.setattr(pipeline, "BLOCK_EVENTS", 60)
    doc = {"analysis": ANA, "references": {"atlas": {"label": "ATLAS", "source": "test"}},
           "points": [{"name": "p1", "model": {"simplified": "gqq", "m_parent": 1800, "m_lsp": 1000},
                       "process": "gluino-pair", "cross_section_fb": 2.0, "nevents": 120, "seed": 5}]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    spec = validation.load_spec(path)
    task = {"analysis": spec.analysis.id, "point": spec.points[0], "detectors": ["truth"]}
    blocks = validation_run.point_blocks(spec.points[0])
    assert blocks == generation_blocks(120, 5, 60)
    with mock.patch.dict(os.environ):  # the worker functions limit the threads through the environment
        outcomes = [validation_run.run_block(task, b) for b in blocks]
        merged = validation.run_one(task, *outcomes)
        whole = validation.run_one(task)
    assert merged["error"] is None and whole["error"] is None, (merged["error"], whole["error"])
    for run in (merged, whole):  # each task writes the point's card in a temporary directory of its own
        for doc in (run["result"], *run["by_detector"].values()):
            gen = doc["input"]["generator"]
            assert Path(gen.pop("slha")).name == "p1.slha"
            gen["settings"] = [x for x in gen["settings"] if not x.startswith("SLHA:file = ")]
    assert _without_time(merged["result"]) == _without_time(whole["result"])
    assert merged["result"]["input"]["generator"]["blocks"] == [b.to_dict() for b in blocks]
    assert set(merged["by_detector"]) == set(whole["by_detector"]) == {"truth"}  # the default card is atlas-run2
    assert _without_time(merged["by_detector"]["truth"]) == _without_time(whole["by_detector"]["truth"])
