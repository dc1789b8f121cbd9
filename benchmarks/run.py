"""Stage-by-stage speed of the pipeline on a generated gluino sample (not a test: run by hand).

    python benchmarks/run.py [--nevents 1000] [--chunk-size 1000] [--out benchmarks/results]
    python benchmarks/run.py --first-run-only   # the first-run stage alone

The sample (Gtt, m(gluino) = 2 TeV, m(LSP) = 1 GeV, seed 1) is generated once with Pythia and
cached in ``benchmarks/cache/``. Each stage is timed on its own over the same events:

* generate: Pythia 8 with hadronisation, in-process batches (a fresh 200-event run);
* read / read-gzip: HepMCSource with the columnar reader (numba kernels), plain and gzip;
* read-pyhepmc / read-pyhepmc-gzip: HepMCSource with the pyhepmc reader (the reference);
* read-ref-pyhepmc: pyhepmc's own event loop over the same file, doing nothing with the events;
* decompress-gzip: the gzip decompressor the reader uses (isal) alone, and the standard library's;
* memory: peak RSS of a fresh process reading 1 chunk and 10 chunks of the file (chunk = n/10),
  in turn and reading ahead (two chunks held at a time);
* jets: anti-kt R=0.4 with flavour labels on batches in memory;
* objects:  ``recast.detector.build`` with the analysis' own card (truth: jets, b-tags, leptons, MET)
  on batches already in memory;
* detector: the same objects through the ``atlas-run2`` card (every section: jet response and JVT,
  b-tagging with the pseudo-continuous bins, lepton identification and resolution, MET), against
  the truth card in the same run;
* selection: ANA-SUSY-2018-30 variables, cuts and cutflow accumulation on objects in memory;
  selection-2018-22+BDT: the same for ATLAS-SUSY-2018-22 with its eight BDTs (both folds);
* end-to-end: ``engine.run`` from the HepMC file (read + objects + selection), for
  ATLAS-SUSY-2018-30 (plain file) and ATLAS-SUSY-2018-22 (gzip file, as ``recast run --events``);
  the latter also in events per CPU second of the process (its gzip reader inflates in a thread
  of its own, so wall events/s can exceed what one core does). Goal (issue 17): 1000 per core.
  These are read in turn (one chunk: nothing to read ahead); the same events four times over in
  four chunks are then run in turn and reading ahead (``recast.events.ahead``: the next chunk
  read on a thread while the current one is analysed, as ``recast run`` does with a spare core);
* limits: CLs and the 95% CL upper limit of one BDT signal region (pyhf, asymptotic).
* first-run: ``recast run ANA-SUSY-2018-22 --events`` on the gzip file in a fresh process with a
  fresh user cache (``RECAST_CACHE_DIR``: compiled numba kernels, converted BDTs), then again in
  fresh processes with that cache warm (best of two); from a wheel built from this tree and
  installed alone, as after ``pip install .`` (kernels compiled ahead of time; the wheel's build
  time is recorded), and with nothing shipped (kernels compiled by the first run); wall and CPU
  time (the CPU time is what a loaded machine does not inflate) and the load average. Goal
  (issue 17): first - warm <= 5 s, from the wheel.
* selection-2019-04+NN: ATLAS-SUSY-2019-04 variables (combinatorial kernels), its five networks and
  cuts on objects in memory; minmax-kernel: the min-max split mass alone on the same jets.
* slha-to-yields: ATLAS-SUSY-2018-22 from the sample's SLHA card on one core: Pythia alone (its
  initialisation and ``nextBatch`` for ``--slha-events`` events, no conversion, no analysis) against
  ``pipeline.run_point`` on the same events and seed (generation, conversion to the batch, objects,
  selection with the BDTs, documents), wall and CPU time, no chunk read ahead; the same reading
  ahead (Pythia generates the next chunk while the current one is analysed: wall time on two
  cores, against Pythia alone; pythia8mc holds the GIL while it generates, so only the analysis'
  lock-free kernels overlap it); the one-core run instrumented, split into
  its stages (ms/event of CPU); and the wall time of a point of ``--point-events`` (20000: four
  generation blocks) on 2 local Dask workers (cluster start included, as ``recast run --slha
  --workers 2``) over the same point in one process, with the start of 2 warmed-up workers timed
  apart (the ratio is about 0.5 + start / 1-worker time). Goals: <= 1.10 and <= 0.55.
  ``--only slha-to-yields`` runs this stage alone.
* models: the eight ATLAS-SUSY-2018-22 BDTs (both folds) on 100,000 events, batched (one call
  per fold per chunk of 1000 events, as in a run: the numba forest kernel, and onnxruntime's tree
  ensemble on the same converted graphs) against one onnxruntime call per event (as other
  frameworks call them), and one ATLAS-SUSY-2019-04 network the same way. The features
  are the real ones of the sample, repeated. Needs the ATLAS files: set RECAST_DATA_MIRROR or run
  ``recast data fetch`` first.

Results go to one JSON per run, with the software versions and peak RSS, and a table of the
ratios that matter is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyhepmc

from recast import analysis, detector, engine, results
from recast.events import HepMCSource, PythiaConfig, PythiaSource
from recast.events.compression import decompressor, open_binary
from recast.memory import reuse_freed_memory
from recast.slha import simplified_model

HERE = Path(__file__).parent


def sample(n: int, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    plain = cache / f"gtt_2000_1_seed1_{n}.hepmc"
    if not plain.exists():
        card = cache / "gtt_2000_1.slha"
        card.write_text(simplified_model("gtt", 2000, 1))
        print(f"generating the {n}-event sample once (cached in {cache}) ...", file=sys.stderr)
        for _ in PythiaSource(PythiaConfig(slha=card, nevents=n, seed=1), chunk_size=500, hepmc_out=plain):
            pass
    gz = plain.with_suffix(".hepmc.gz")
    if not gz.exists():
        with open(plain, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
    return plain


def repeated(plain: Path, times: int) -> Path:
    """A gzip file of the sample's events ``times`` over (one header, one footer): a run of several
    chunks for the reading-ahead stage, cached beside the sample."""
    out = plain.with_name(f"{plain.stem}_x{times}.hepmc.gz")
    if out.exists():
        return out
    text = plain.read_bytes()
    first = text.index(b"\nE ") + 1
    last = text.rindex(b"HepMC::Asciiv3-END_EVENT_LISTING")
    try:
        from isal import igzip as fast_gzip  # level 1 of a gigabyte: seconds, not a minute
    except ImportError:
        fast_gzip = gzip
    part = out.with_suffix(".part")
    with fast_gzip.open(part, "wb", compresslevel=1) as dst:
        dst.write(text[:first])
        for _ in range(times):
            dst.write(text[first:last])
        dst.write(text[last:])
    part.replace(out)
    return out


@contextlib.contextmanager
def read_ahead(on: bool):
    """Chunks read ahead on a thread of their own (recast.events.ahead) or not, for the block."""
    from recast.events import ahead

    before = os.environ.get(ahead.ENV)
    os.environ[ahead.ENV] = "1" if on else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ahead.ENV)
        else:
            os.environ[ahead.ENV] = before


def timed(fn, repeat: int = 1):
    """Result and the best wall time of ``repeat`` calls (repeats smooth out first-call costs of
    the short in-memory stages)."""
    best = float("inf")
    for _ in range(repeat):
        out = None  # the previous call's result freed first: the next call reuses its memory, as chunks do
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def _select_all(ana, opts, objs, models):
    """The selection (variables, models, cuts) of ``ana`` over prebuilt objects, fresh counts."""
    counts = engine.prepare(ana, opts)[1]
    for o in objs:
        engine.select(ana, o, opts, counts, models)
    return counts


def model_stages(record, batches, n_events: int, chunk: int = 1000) -> None:
    """Batched vs per-event model evaluation (see the module docstring)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    from recast import artifacts
    from recast.models import runtime
    from recast.models.card import cards

    ana = analysis.load("ANA-SUSY-2018-22")
    opts = ana.resolve_options()
    config = detector.object_config(ana, opts)
    variables = [ana.compute_variables(detector.build(b, config, 1), opts) for b in batches]
    models = [runtime.load(c) for c in cards(ana.id).values()]
    onnx_models = [runtime.load(c, forest_kernel=False) for c in cards(ana.id).values()]
    inputs = []
    for m in models:
        x = np.concatenate([np.column_stack([v[n] for n in m.card.input_names]) for v in variables])
        required = [k for k, spec in enumerate(m.card.inputs) if spec.pad is None]
        x = x[~np.isnan(x[:, required]).any(axis=1)]  # events with every input the card cannot pad
        reps = -(-n_events // len(x))
        inputs.append(m.prepare(np.tile(x, (reps, 1))[:n_events]))
    folds = np.arange(n_events) % 2

    def batched(loaded):
        for m, x in zip(loaded, inputs):
            for lo in range(0, n_events, chunk):
                m.run(x[lo:lo + chunk], folds[lo:lo + chunk])

    batched(models)  # first-call costs
    _, t = timed(lambda: batched(models), repeat=2)
    record("bdt-2018-22 batched", n_events, t, models=len(models), chunk=chunk, evaluator="recast.models.forest")
    _, t = timed(lambda: batched(onnx_models), repeat=2)
    record("bdt-2018-22 batched-onnxruntime", n_events, t, models=len(models), chunk=chunk)
    n_single = min(n_events, 5000)

    def per_event():
        for m, x in zip(onnx_models, inputs):
            for i in range(n_single):
                m.run_fold("even" if i % 2 == 0 else "odd", x[i:i + 1])

    _, t = timed(per_event)
    record("bdt-2018-22 per-event", n_single, t, models=len(models), evaluator="onnxruntime")

    path = artifacts.fetch(artifacts.get("ANA-SUSY-2019-04", "OneLeptonMultiJets2018_6jets.onnx"))
    original = onnx.load(str(path))
    one = ort.InferenceSession(original.SerializeToString(), providers=["CPUExecutionProvider"])
    many = ort.InferenceSession(runtime.make_batchable(original).SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(n_events, 65)).astype(np.float32)
    _, t = timed(lambda: [many.run(None, {"input.1": x[lo:lo + chunk]}) for lo in range(0, n_events, chunk)])
    record("nn-2019-04 batched", n_events, t, chunk=chunk)
    _, t = timed(lambda: [one.run(None, {"input.1": x[i:i + 1]}) for i in range(n_single)])
    record("nn-2019-04 per-event", n_single, t)


def nn_analysis_stage(record, batches) -> None:
    """ATLAS-SUSY-2019-04 selection with its five networks, and the min-max split kernel alone."""
    from recast.objects.combinatorics import minmax_mass

    ana = analysis.load("ANA-SUSY-2019-04")
    opts = ana.resolve_options()
    config = detector.object_config(ana, opts)
    objs = [detector.build(b, config, 1) for b in batches]
    models, _ = engine.prepare(ana, opts)
    n = sum(len(o) for o in objs)

    _, t = timed(lambda: _select_all(ana, opts, objs, models), repeat=3)
    record("selection-2019-04+NN", n, t)
    jets = [o.jets[o.jets.pt > 20] for o in objs]
    _, t = timed(lambda: [minmax_mass(j) for j in jets], repeat=3)
    record("minmax-kernel", n, t)


DETECTOR_CARD = "atlas-run2"  # every section: jets, b-tagging, electrons, muons, MET


def detector_stage(record, batches, config) -> None:
    """Objects through the atlas-run2 card, against objects with the truth card, both timed here
    (best of three, interleaved) on the same batches (their ratio is among the printed ratios;
    the goal: >= 0.8)."""
    import dataclasses

    card = detector.load(DETECTOR_CARD)
    truth = dataclasses.replace(config, detector=detector.TRUTH)
    with_card = dataclasses.replace(config, detector=DETECTOR_CARD)
    detector.build(batches[0][:20], with_card, 1)  # first-call costs
    n = sum(len(b) for b in batches)
    best = {"truth": float("inf"), "card": float("inf")}
    for _ in range(3):
        for key, cfg in (("truth", truth), ("card", with_card)):
            _, t = timed(lambda cfg=cfg: [detector.build(b, cfg, 1) for b in batches])
            best[key] = min(best[key], t)
    record("objects (truth card)", n, best["truth"])
    record("objects+detector", n, best["card"], card=card.name, card_sha256=card.sha256)


def peak_rss_reading(path: Path, n: int, chunk: int, ahead: bool = False) -> float:
    """Peak RSS (MB) of a fresh process that reads the first ``n`` events in chunks of ``chunk``, with
    freed memory kept for reuse as ``recast`` keeps it (recast.memory): it must not grow with chunks.
    ``ahead``: each chunk read on a thread while the previous one is held (recast.events.ahead)."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child reports its parent's peak
    code = ("import sys; from recast.events import HepMCSource; from recast.memory import reuse_freed_memory; "
            "from recast.events.ahead import read_ahead; reuse_freed_memory(); "
            f"[None for _ in read_ahead(HepMCSource(sys.argv[1], chunk_size={chunk}, max_events={n}), enabled={ahead})]; "
            "print([int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def limit_stage(record) -> None:
    """CLs plus the 95% CL upper limit on mu of one BDT region, as ``recast limit`` computes them."""
    sys.path.insert(0, str(HERE))
    from stats import simplified_single  # benchmarks/stats.py

    likelihood, _, _ = simplified_single("counting")  # what recast uses for a simplified likelihood

    def one():  # a fresh likelihood: its fits are cached, and a limit must pay for them
        single = likelihood()
        return single.hypotest(), single.upper_limit(1.0)

    one()  # imports and first-call costs
    n = 20
    _, t = timed(lambda: [one() for _ in range(n)])
    record("limits (CLs+mu95, 1 bin)", n, t, unit="limits")


FIRST_RUN_GOAL_S = 5.0  # issue 17: the first run costs at most this much more than a warm one
HEPMC_TO_YIELDS_GOAL = 1000.0  # issue 17: events/s per core, HepMC.gz -> ATLAS-SUSY-2018-22 yields


def first_run_stage(gz: Path) -> dict:
    """Wall time of ``recast run ANA-SUSY-2018-22 --events FILE`` in a fresh process with an empty
    user cache (what the first run after installing pays: numba kernels, the TMVA conversion),
    then warm (best of two), twice: from a wheel built from this tree and installed alone (as
    ``pip install .``: the kernels compiled ahead of time, ``recast.precompile``; the wheel's
    build time is recorded), and with nothing shipped (a read-only installation, another CPU:
    the HepMC reader's and the jets' kernels compile in child processes while the models load).
    The load average is recorded with them: on a shared machine a parallel compile competes with
    other work."""
    import os
    import tempfile

    from recast import precompile

    with open(gz, "rb") as f:  # into the page cache: the first run must not pay for the disk alone
        while f.read(1 << 24):
            pass
    out = {}
    with tempfile.TemporaryDirectory(prefix="recast-first-run-") as tmp:
        tmp = Path(tmp)
        build_s = precompile.install_wheel(HERE.parent, tmp / "site")
        base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES")}
        setups = {"wheel": {**base, "PYTHONPATH": str(tmp / "site")},
                  "nothing shipped": {**base, "NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator"}}
        for name, env in setups.items():
            env["RECAST_CACHE_DIR"] = str(tmp / f"cache-{len(out)}")
            command = [sys.executable, "-m", "recast.cli", "run", "ANA-SUSY-2018-22", "--events", str(gz),
                       "--xsec-fb", "1", "-q", "--out", str(tmp / "result.json")]

            def once() -> tuple[float, float]:
                """Wall and CPU seconds (the CPU time does not grow with the load of a shared machine)."""
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(command, env=env, check=True, capture_output=True, cwd=tmp)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                return time.perf_counter() - start, cpu

            load_before = os.getloadavg()[0]
            first, first_cpu = once()
            warm, warm_cpu = min(once(), once())
            load_after = os.getloadavg()[0]
            print(f"  {name}: first run {first:.1f} s ({first_cpu:.1f} s CPU), warm run {warm:.1f} s "
                  f"({warm_cpu:.1f} s CPU) (recast run --events, fresh processes): first - warm {first - warm:.1f} s"
                  + (f" (goal <= {FIRST_RUN_GOAL_S:g} s; the wheel built in {build_s:.1f} s)" if name == "wheel" else "")
                  + f"; load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} cores", file=sys.stderr)
            out[name] = {"first_s": first, "warm_s": warm, "first_cpu_s": first_cpu, "warm_cpu_s": warm_cpu,
                         "first_minus_warm_s": first - warm, "load_average": [load_before, load_after]}
    return {**out["wheel"], "goal_s": FIRST_RUN_GOAL_S, "wheel_build_s": build_s,
            "nothing_shipped": out["nothing shipped"], "cores": os.cpu_count()}


def _bare_pythia(card: Path, n: int, seed: int, chunk: int) -> None:
    """Pythia alone, as recast sets it up for the point (block 0: the point's seed): initialise,
    then generate ``n`` events in batches of ``chunk``, nothing done with them."""
    import tempfile

    from recast import slha as slha_mod
    from recast.events._capture import captured_stdout

    cfg = PythiaConfig(slha=card, nevents=n, seed=seed)
    source = PythiaSource(cfg, chunk_size=chunk)
    with tempfile.TemporaryDirectory(prefix="recast-bench-pythia-") as tmp:
        prepared = slha_mod.prepared_for_pythia(card, slha_mod.read(card), Path(tmp), [])
        pythia = source._initialised(cfg, prepared, None)
        left = n
        while left > 0:
            with captured_stdout():
                left -= len(pythia.nextBatch(min(chunk, left)))


class _StageClock:
    """CPU seconds spent in named functions, by wrapping them where the pipeline looks them up."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._undo: list = []

    def wrap(self, owner, name: str, label: str) -> None:
        import functools

        original = getattr(owner, name)

        @functools.wraps(original)
        def timed_call(*a, **k):
            t = time.process_time()
            try:
                return original(*a, **k)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.process_time() - t

        setattr(owner, name, timed_call)
        self._undo.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


def slha_to_yields_stage(card: Path, n: int, point_events: int, seed: int = 1, chunk: int = 1000) -> dict:
    """Pythia alone against SLHA -> yields on one core, the overhead by stage, and a point on 2
    workers against 1 (see the module docstring)."""
    import os

    import pythia8mc

    from recast import analysis as analysis_mod
    from recast import parallel, pipeline
    from recast.scan.run import warm_worker
    from recast.events import pythia as pythia_mod
    from recast.objects import build as build_mod

    ana_id = "ANA-SUSY-2018-22"
    spec = pipeline.PointSpec(slha=card, analyses=[ana_id], nevents=n, seed=seed, chunk_size=chunk)
    pipeline.run_point(pipeline.PointSpec(slha=card, analyses=[ana_id], nevents=20, seed=seed + 1))  # first-call costs
    _bare_pythia(card, 20, seed + 1, chunk)
    out: dict = {"events": n, "seed": seed, "analysis": ana_id, "block_events": spec.block_events}

    def clocked(fn):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - wall, time.process_time() - cpu

    # interleaved, best of two each: the machine is shared. One core: no chunk read ahead; then the
    # same in one process reading ahead (generation of the next chunk while this one is analysed)
    pythia_runs, point_runs, ahead_runs = [], [], []
    for _ in range(2):
        pythia_runs.append(clocked(lambda: _bare_pythia(card, n, seed, chunk)))
        with read_ahead(False):
            point_runs.append(clocked(lambda: pipeline.run_point(spec)))
        with read_ahead(True):
            ahead_runs.append(clocked(lambda: pipeline.run_point(spec)))
    out["pythia_alone_s"], out["pythia_alone_cpu_s"] = min(w for w, _ in pythia_runs), min(c for _, c in pythia_runs)
    out["slha_to_yields_s"], out["slha_to_yields_cpu_s"] = min(w for w, _ in point_runs), min(c for _, c in point_runs)
    out["slha_to_yields_ahead_s"], out["slha_to_yields_ahead_cpu_s"] = (min(w for w, _ in ahead_runs),
                                                                        min(c for _, c in ahead_runs))

    clock = _StageClock()
    clock.wrap(pythia8mc.Pythia, "init", "pythia: init")
    clock.wrap(pythia8mc.Pythia, "nextBatch", "pythia: nextBatch")
    clock.wrap(pythia_mod, "record_from_pythia", "conversion: record")
    clock.wrap(pythia_mod, "check_momenta", "conversion: momentum check")
    clock.wrap(pythia_mod, "to_batch", "conversion: batch")
    clock.wrap(build_mod, "cluster_jets", "objects: jets")
    clock.wrap(detector, "build", "objects: all")
    clock.wrap(analysis_mod.Analysis, "compute_variables", "selection: variables")
    clock.wrap(engine, "_evaluate_models", "selection: BDTs")
    clock.wrap(engine, "select", "selection: all")
    clock.wrap(pipeline, "documents", "documents")
    try:
        with read_ahead(False):
            _, total = clocked(lambda: pipeline.run_point(spec))
    finally:
        clock.restore()
    spent = dict(clock.spent)
    spent["objects: other"] = spent.pop("objects: all") - spent["objects: jets"]
    spent["selection: cuts and counts"] = (spent.pop("selection: all") - spent["selection: variables"]
                                           - spent["selection: BDTs"])
    spent["rest"] = total - sum(spent.values())
    out["cpu_ms_per_event"] = {k: 1000 * v / n for k, v in sorted(spent.items())}
    print("  SLHA -> yields, CPU ms/event by stage:", file=sys.stderr)
    for k, v in out["cpu_ms_per_event"].items():
        print(f"    {k:<30} {v:8.3f}", file=sys.stderr)

    # a point of several blocks, as 'recast run --slha -n N [--workers 2]' runs it: in this process, then
    # on 2 local workers, cluster start included (what a user waits for); the start alone, timed apart,
    # is what keeps the ratio above 0.5: 0.5 + start / (1-worker time)
    many = pipeline.PointSpec(slha=card, analyses=[ana_id], nevents=point_events, seed=seed, chunk_size=chunk,
                              block_events=min(pipeline.BLOCK_EVENTS, -(-point_events // 2)))
    out.update(point_events=point_events, point_block_events=many.block_events)
    with read_ahead(False):  # one worker, one core
        out["point_1_worker_s"], _ = clocked(lambda: pipeline.run_point(many))
    out["point_2_workers_s"], _ = clocked(lambda: pipeline.run_point(many, workers=2))

    def start_cluster():
        with parallel.cluster(2) as client:
            parallel.warm_up(client, warm_worker, [ana_id], {})

    out["cluster_start_2_workers_s"], _ = clocked(start_cluster)
    out["load_1min_after"] = os.getloadavg()[0]
    print(f"  Pythia alone {out['pythia_alone_s']:.1f} s ({out['pythia_alone_cpu_s']:.1f} s CPU), SLHA -> yields "
          f"{out['slha_to_yields_s']:.1f} s ({out['slha_to_yields_cpu_s']:.1f} s CPU); a point of {point_events} events "
          f"in blocks of {many.block_events}: {out['point_1_worker_s']:.1f} s in one process, "
          f"{out['point_2_workers_s']:.1f} s on 2 workers (starting them and warming them up: "
          f"{out['cluster_start_2_workers_s']:.1f} s; load {out['load_1min_after']:.1f}); SLHA -> yields in one "
          f"process reading ahead {out['slha_to_yields_ahead_s']:.1f} s ({out['slha_to_yields_ahead_cpu_s']:.1f} s CPU)",
          file=sys.stderr)
    return out


def slha_ratios(stage: dict) -> dict[str, float]:
    return {"SLHA -> yields / Pythia alone, 1 core (wall)": stage["slha_to_yields_s"] / stage["pythia_alone_s"],
            "SLHA -> yields / Pythia alone, 1 core (CPU)": stage["slha_to_yields_cpu_s"] / stage["pythia_alone_cpu_s"],
            "point wall, 2 workers / 1 worker": stage["point_2_workers_s"] / stage["point_1_worker_s"],
            "SLHA -> yields / Pythia alone, one process reading ahead (wall)":
                stage["slha_to_yields_ahead_s"] / stage["pythia_alone_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nevents", type=int, default=1000)
    ap.add_argument("--chunk-size", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--cache", type=Path, default=HERE / "cache")
    ap.add_argument("--model-events", type=int, default=100_000, help="events for the model stages")
    ap.add_argument("--slha-events", type=int, default=2000,
                    help="events of the slha-to-yields stage (at most 5000: one generation block on one core)")
    ap.add_argument("--point-events", type=int, default=20000,
                    help="events of the point the slha-to-yields stage runs on 1 and on 2 workers (blocks of 5000; "
                         "below 10000, two blocks of half of them)")
    ap.add_argument("--only", choices=["slha-to-yields"], help="run this stage alone")
    ap.add_argument("--first-run-only", action="store_true",
                    help="only the first-run stage (fresh user cache against warm), on the gzip sample")
    args = ap.parse_args()
    reuse_freed_memory()  # as the command line and Dask workers do (recast.memory)
    if args.first_run_only:
        gz = args.cache / f"gtt_2000_1_seed1_{args.nevents}.hepmc.gz"
        if not gz.exists():
            gz = sample(args.nevents, args.cache).with_suffix(".hepmc.gz")
        first_run = first_run_stage(gz)
        write_results(args.out, {"nevents": args.nevents, "first_run": first_run})
        return

    card = args.cache / "gtt_2000_1.slha"
    if args.only == "slha-to-yields":
        args.cache.mkdir(parents=True, exist_ok=True)
        card.write_text(simplified_model("gtt", 2000, 1))
        stage = slha_to_yields_stage(card, args.slha_events, args.point_events, chunk=args.chunk_size)
        ratios = slha_ratios(stage)
        path = write_results(args.out, {"slha_to_yields": stage, "ratios": ratios})
        for k, v in ratios.items():
            print(f"  {k:<56} {v:8.3f}", file=sys.stderr)
        print(f"wrote {path}", file=sys.stderr)
        return
    plain = sample(args.nevents, args.cache)
    gz = plain.with_suffix(".hepmc.gz")
    ana = analysis.load("ANA-SUSY-2018-30")
    opts = ana.resolve_options()
    config = detector.object_config(ana, opts)

    # warm up numba kernels and fastjet on a few events so compilation is not timed
    warm = next(iter(HepMCSource(plain, chunk_size=20, max_events=20)))
    ana.compute_variables(detector.build(warm, config, 1), opts)

    stages: dict[str, dict] = {}

    def record(name, n, seconds, **extra):
        stages[name] = {"events": n, "seconds": seconds, "events_per_s": n / seconds, **extra}
        print(f"  {name:<28} {n / seconds:10.0f} {extra.get('unit', 'events')}/s  ({n}, {seconds:.2f} s)",
              file=sys.stderr)

    _, t = timed(lambda: [None for _ in PythiaSource(PythiaConfig(slha=card, nevents=200, seed=7), chunk_size=200)])
    record("generate", 200, t)

    def read(path, reader="columnar"):
        return list(HepMCSource(path, chunk_size=args.chunk_size, reader=reader))

    # best of two for every reader: the first pass also pays for the page cache and first allocations
    batches, t = timed(lambda: read(plain), repeat=2)
    n = sum(len(b) for b in batches)
    record("read", n, t, file=str(plain.name), mb_per_event=plain.stat().st_size / n / 1e6)
    _, t = timed(lambda: read(gz), repeat=2)
    record("read-gzip", n, t, decompressor=decompressor("gzip"))
    _, t = timed(lambda: read(plain, "pyhepmc"), repeat=2)
    record("read-pyhepmc", n, t)
    _, t = timed(lambda: read(gz, "pyhepmc"), repeat=2)
    record("read-pyhepmc-gzip", n, t)

    def decompress(opener):
        with opener(gz) as f:
            while f.read(1 << 20):
                pass

    _, t = timed(lambda: decompress(open_binary))
    record("decompress-gzip", n, t, decompressor=decompressor("gzip"))
    _, t = timed(lambda: decompress(lambda p: gzip.open(p, "rb")))
    record("decompress-gzip-zlib", n, t)

    small = max(1, n // 10)
    rss_1, rss_10 = peak_rss_reading(plain, small, small), peak_rss_reading(plain, n, small)
    print(f"  peak RSS reading 1 chunk {rss_1:.0f} MB, 10 chunks {rss_10:.0f} MB", file=sys.stderr)
    ahead_1, ahead_10 = (peak_rss_reading(plain, small, small, ahead=True),
                         peak_rss_reading(plain, n, small, ahead=True))
    print(f"  peak RSS reading ahead 1 chunk {ahead_1:.0f} MB, 10 chunks {ahead_10:.0f} MB", file=sys.stderr)

    def reference():
        k = 0
        with pyhepmc.open(plain) as f:
            for _ in f:
                k += 1
        return k

    k, t = timed(reference, repeat=2)
    record("read-ref-pyhepmc", k, t)

    from recast.objects.jets import cluster_jets

    def jets():
        for b in batches:
            apid = abs(b.particles.pid)
            cluster_jets(b, (apid != 12) & (apid != 14) & (apid != 16) & (apid != 1000022))

    _, t = timed(jets, repeat=3)
    record("jets", n, t)
    objs, t = timed(lambda: [detector.build(b, config, 1) for b in batches], repeat=3)
    record("objects", n, t)
    detector_stage(record, batches, config)

    models, _ = engine.prepare(ana, opts)

    def select():
        counts = engine.prepare(ana, opts)[1]
        for o in objs:
            engine.select(ana, o, opts, counts, models)
        return counts

    _, t = timed(select, repeat=3)
    record("selection", n, t)

    _, t = timed(lambda: engine.run(ana, HepMCSource(plain, chunk_size=args.chunk_size), opts, seed=1))
    record("end-to-end", n, t)

    # ATLAS-SUSY-2018-22 (BDTs) from the gzip file, against its objects + selection alone
    ana22 = analysis.load("ANA-SUSY-2018-22")
    opts22 = ana22.resolve_options()
    config22 = detector.object_config(ana22, opts22)
    models22, _ = engine.prepare(ana22, opts22)
    objs22, t = timed(lambda: [detector.build(b, config22, 1) for b in batches], repeat=2)
    record("objects-2018-22", n, t)

    _, t = timed(lambda: _select_all(ana22, opts22, objs22, models22), repeat=3)
    record("selection-2018-22+BDT", n, t)
    cpu = time.process_time()  # every thread of this process: the gzip reader inflates in a thread of its own
    with read_ahead(False):  # one chunk: nothing to read ahead
        _, t = timed(lambda: engine.run(ana22, HepMCSource(gz, chunk_size=args.chunk_size), opts22, seed=1))
    cpu = time.process_time() - cpu
    record("end-to-end-2018-22-gzip", n, t, cpu_seconds=cpu, events_per_cpu_s=n / cpu)
    # the same events four times over, four chunks: read in turn, then each chunk read while the
    # previous one is analysed (as 'recast run' does where a core is spare), interleaved, best of two
    many = repeated(plain, 4)
    runs: dict[bool, list] = {False: [], True: []}
    for _ in range(2):
        for on in (False, True):
            with read_ahead(on):
                cpu = time.process_time()
                _, t = timed(lambda: engine.run(ana22, HepMCSource(many, chunk_size=args.chunk_size), opts22, seed=1))
                runs[on].append((t, time.process_time() - cpu))
    for on, name in ((False, "end-to-end-2018-22-gzip x4, in turn"), (True, "end-to-end-2018-22-gzip x4, ahead")):
        t, cpu = min(runs[on])
        record(name, 4 * n, t, cpu_seconds=cpu, events_per_cpu_s=4 * n / cpu, chunks=-(-4 * n // args.chunk_size))

    model_stages(record, batches, args.model_events)
    nn_analysis_stage(record, batches)
    limit_stage(record)
    first_run = first_run_stage(gz)
    slha_stage = slha_to_yields_stage(card, args.slha_events, args.point_events, chunk=args.chunk_size)

    rate = {k: v["events_per_s"] for k, v in stages.items()}

    def alone(*names):  # events/s of stages run one after the other
        return 1 / sum(1 / rate[k] for k in names)

    ratios = {
        "columnar reader / pyhepmc reader (plain)": rate["read"] / rate["read-pyhepmc"],
        "columnar reader / pyhepmc reader (gzip)": rate["read-gzip"] / rate["read-pyhepmc-gzip"],
        "columnar reader / pyhepmc bare loop": rate["read"] / rate["read-ref-pyhepmc"],
        "read-gzip / read": rate["read-gzip"] / rate["read"],
        "decompression share of read-gzip time": rate["read-gzip"] / rate["decompress-gzip"],
        "isal / zlib decompression": rate["decompress-gzip"] / rate["decompress-gzip-zlib"],
        "2018-22 end-to-end (gzip) / (objects+selection alone)":
            rate["end-to-end-2018-22-gzip"] / alone("objects-2018-22", "selection-2018-22+BDT"),
        "end-to-end / generate": rate["end-to-end"] / rate["generate"],
        "objects+detector / objects (truth card), same run": rate["objects+detector"] / rate["objects (truth card)"],
        "end-to-end / (objects+selection alone)": rate["end-to-end"] / (1 / (1 / rate["objects"] + 1 / rate["selection"])),
        "read share of end-to-end time": (1 / rate["read"]) / (1 / rate["end-to-end"]),
        "HepMC.gz -> 2018-22 yields, events/s (wall) / 1000":
            rate["end-to-end-2018-22-gzip"] / HEPMC_TO_YIELDS_GOAL,
        "HepMC.gz -> 2018-22 yields, events per CPU second / 1000":
            stages["end-to-end-2018-22-gzip"]["events_per_cpu_s"] / HEPMC_TO_YIELDS_GOAL,
        "HepMC.gz -> 2018-22 yields, 4 chunks read ahead, events/s (wall) / 1000":
            rate["end-to-end-2018-22-gzip x4, ahead"] / HEPMC_TO_YIELDS_GOAL,
        "HepMC.gz -> 2018-22 yields, 4 chunks, read ahead / in turn (wall)":
            rate["end-to-end-2018-22-gzip x4, ahead"] / rate["end-to-end-2018-22-gzip x4, in turn"],
        "2018-22 BDTs batched / per event": rate["bdt-2018-22 batched"] / rate["bdt-2018-22 per-event"],
        "2018-22 BDTs forest kernel / onnxruntime, batched":
            rate["bdt-2018-22 batched"] / rate["bdt-2018-22 batched-onnxruntime"],
        "2019-04 network batched / per event": rate["nn-2019-04 batched"] / rate["nn-2019-04 per-event"],
        "min-max kernel share of the 2019-04 selection": rate["selection-2019-04+NN"] / rate["minmax-kernel"],
        "first run - warm run, recast run --events (s)": first_run["first_s"] - first_run["warm_s"],
        "first run - warm run, CPU (s)": first_run["first_cpu_s"] - first_run["warm_cpu_s"],
        "first run / warm run": first_run["first_s"] / first_run["warm_s"],
        "first run - warm run, nothing shipped (s)":
            first_run["nothing_shipped"]["first_s"] - first_run["nothing_shipped"]["warm_s"],
        "first run / pyhepmc bare read of the plain file": first_run["first_s"] * rate["read-ref-pyhepmc"] / n,
        "warm run / pyhepmc bare read of the plain file": first_run["warm_s"] * rate["read-ref-pyhepmc"] / n,
        **slha_ratios(slha_stage),
    }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\nratios:", file=sys.stderr)
    for k, v in ratios.items():
        print(f"  {k:<56} {v:8.3f}", file=sys.stderr)
    path = write_results(args.out, {
        "nevents": n, "chunk_size": args.chunk_size, "stages": stages, "ratios": ratios, "peak_rss_mb": peak_mb,
        "reading_peak_rss_mb": {"1 chunk": rss_1, "10 chunks": rss_10, "chunk_size": small,
                                "reading ahead, 1 chunk": ahead_1, "reading ahead, 10 chunks": ahead_10},
        "first_run": first_run,
        "slha_to_yields": slha_stage})
    print(f"peak RSS {peak_mb:.0f} MB; wrote {path}", file=sys.stderr)


def write_results(out: Path, figures: dict) -> Path:
    """One JSON per run (``bench-<time>.json`` in ``out``): the figures, when, on what."""
    doc = {"created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
           "software": results.software_versions(), **figures}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{doc['created'].replace(':', '')}.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


if __name__ == "__main__":
    main()
