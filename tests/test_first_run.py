"""The first run after installing: what numba compiles, and that a run with an empty user cache
gives what a warm one gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numba
import pytest

from recast import kernels
from recast.events import HepMCSource, hepmc
from recast.events import _hepmc_text as text
from recast.events.hepmc import first_call_arguments, kernel_for

DATA = Path(__file__).parent / "data"
HAND3 = DATA / "handmade.hepmc3"
HAND2 = DATA / "handmade.hepmc2"


def _helpers() -> dict[str, numba.core.registry.CPUDispatcher]:
    return {name: f for name, f in vars(text).items() if isinstance(f, numba.core.registry.CPUDispatcher)}


@pytest.mark.parametrize("fmt", ["hepmc3", "hepmc2"])
def test_the_reader_kernels_compile_each_helper_once(fmt):
    """Counters that start as the literal 0 made numba compile the helpers they are passed to once
    for the literal's type and again for int64 (and a count given as a literal, once per count):
    seconds of a first run. The kernel, compiled afresh here, asks each helper for one
    signature."""
    kernel = kernel_for(fmt)
    fresh = numba.njit(kernel.py_func)  # not cached: typing it asks the helpers for their signatures
    for helper in _helpers().values():
        helper.overloads.clear()  # forget what other tests in this process asked for
    assert fresh(*first_call_arguments())[0] == text.NEED_DATA
    asked = {name: len(f.overloads) for name, f in _helpers().items() if f.overloads}
    assert "_value" in asked and "_int" in asked  # the count has teeth: the helpers were asked
    assert {name: n for name, n in asked.items() if n > 1} == {}


# -- compiling in a child process while the run goes on --------------------------------------

def _sleeper(seconds: float, started: str | None = None) -> None:
    """A stand-in for a background compile (run in the child): takes ``seconds``; creates the
    file ``started`` first if given."""
    if started:
        Path(started).touch()
    time.sleep(seconds)


def _failing() -> None:
    raise RuntimeError("a compile that fails")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its new parent to collect it has ended
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def importable(monkeypatch):
    """This module importable as ``test_first_run`` in child processes (they take this sys.path)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return "test_first_run"


def test_a_background_compile_that_fails_says_so_quietly(importable, capfd):
    assert kernels.BackgroundCompile(importable, "_sleeper", 0.0).wait() is True
    child = kernels.BackgroundCompile(importable, "_failing")
    missing = kernels.BackgroundCompile(importable, "no_such_function")
    assert child.wait() is False and missing.wait() is False
    assert not _alive(child.proc.pid) and not _alive(missing.proc.pid)
    assert capfd.readouterr() == ("", "")  # nothing printed: the caller compiles for itself


def test_a_background_compile_ends_with_its_parent(importable, tmp_path):
    """Killed when the parent exits while it runs; ending by itself when the parent dies without
    cleaning up (its stdin closes)."""
    started = tmp_path / "started"
    code = ("import os, sys, time; sys.path[:0] = {path!r}; from recast import kernels; "
            "child = kernels.BackgroundCompile({module!r}, '_sleeper', 120.0, {started!r}); "
            "[time.sleep(0.05) for _ in range(6000) if not os.path.exists({started!r})]; "
            "print(child.proc.pid, flush=True); {end}")
    for end in ("sys.exit(0)", "os._exit(0)"):  # an ordinary exit; a crash (no atexit)
        started.unlink(missing_ok=True)
        script = code.format(path=sys.path, module=importable, started=str(started), end=end)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600)
        pid = int(out.stdout)
        assert started.exists()  # it was running its function when the parent ended
        assert _gone_within(pid, 60), f"background compile {pid} outlived its parent ({end})"


def test_reading_waits_for_the_background_compile_and_reads_the_same(importable, assert_same_batches):
    """The reader waits for a background compile of its format (handing ``on_wait`` the made-up
    event meanwhile), then reads as ever; one that fails changes nothing either."""
    import awkward as ak

    reference = ak.concatenate(list(HepMCSource(HAND3, chunk_size=1)))
    for function in ("_sleeper", "_failing"):
        child = kernels.BackgroundCompile(importable, function, *((0.5,) if function == "_sleeper" else ()))
        hepmc._compiling["hepmc3"] = child
        handed = []
        batches = list(HepMCSource(HAND3, chunk_size=1, on_wait=handed.append))
        assert "hepmc3" not in hepmc._compiling and child.proc.returncode is not None  # waited for
        assert (child.proc.returncode == 0) == (function == "_sleeper")
        assert_same_batches(ak.concatenate(batches), reference)
        assert len(batches) == 2
        assert len(handed) == 1 and len(handed[0]) == 1 and handed[0].particles.pid.tolist()[0][0] == -11
    handed = []
    list(HepMCSource(HAND3, on_wait=handed.append))
    assert handed == []  # nothing to wait for


def test_the_made_up_event_goes_where_events_go():
    """What the pipeline does with the made-up event while the reader compiles: objects of every
    kind (the kernels of each compile), and a selection."""
    from recast import detector, engine, pipeline
    from recast.events.record import to_batch

    batch = to_batch(hepmc.made_up_event())
    assert [len(batch[c][0]) for c in ("bhadrons", "chadrons", "taus")] == [1, 1, 1]
    (run,) = pipeline.prepare(["ANA-SUSY-2018-22"])
    objects = detector.build(batch, run.object_config, 1)
    assert [len(getattr(objects, c)[0]) for c in ("electrons", "muons", "taus")] == [1, 1, 1]
    assert len(objects.jets[0]) >= 2
    counts = engine.Counts.for_analysis(run.analysis, run.options, run.counts.skipped)
    engine.select(run.analysis, objects, run.options, counts, run.models)
    assert counts.n_events == 1


def test_nothing_to_compile_starts_nothing(tmp_path):
    """The kernels this process has (as after any read) start no child; neither do a missing
    file and the pyhepmc reader."""
    list(HepMCSource(HAND3))
    hepmc.compile_in_background(HAND3)
    hepmc.compile_in_background(tmp_path / "missing.hepmc")
    hepmc.compile_in_background(HAND2, reader="pyhepmc")
    assert hepmc._compiling == {}
    assert kernels.is_cached(kernel_for("hepmc3"), first_call_arguments()) is True


_FIRST_RUN = """
import json, sys
from numba.core import event
from recast import kernels, pipeline
started, compiled, warmed = [], [], []
original = kernels.BackgroundCompile.__init__
def recorded(self, *args):
    original(self, *args)
    started.append(self.proc.pid)
kernels.BackgroundCompile.__init__ = recorded
compile_on = pipeline._compile_on
pipeline._compile_on = lambda *args: (compile_on(*args), warmed.append(len(compiled)))
class Compiled(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__ if ev.data.get("dispatcher") else "?")
    def on_end(self, ev):
        pass
event.register("numba:compile", Compiled())
from recast.cli import main
code = main(sys.argv[1:])
from recast.events import _hepmc_text
stats = _hepmc_text.parse_hepmc3.stats
print(json.dumps({"code": code, "children": started, "loaded": sum(stats.cache_hits.values()),
                  "compiled": sum(stats.cache_misses.values()),
                  "compiled after the warm-up": compiled[warmed[0]:] if warmed else None}))
"""


def test_a_first_run_gives_what_a_warm_run_gives(gtt_sample, tmp_path, empty_cache_env):
    """`recast run` with an empty user cache (as after installing: the HepMC reader compiles in a
    child process while the models load and the rest compiles on a made-up event, this process
    loads the reader from the cache) writes the result document a warm run writes, and leaves no
    process behind."""
    _, events, _ = gtt_sample
    env = empty_cache_env
    docs, reports = [], []
    for name in ("first", "warm"):
        out = tmp_path / f"{name}.json"
        run = subprocess.run([sys.executable, "-c", _FIRST_RUN, "run", "ANA-SUSY-2018-22", "--events", str(events),
                              "-q", "--out", str(out)], env=env, capture_output=True, text=True, timeout=3000,
                             cwd=tmp_path)  # as a user runs it: not from a checkout's top, whose recast/ is not installed
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        reports.append(json.loads(run.stdout.strip().splitlines()[-1]))
        assert reports[-1]["code"] == 0, run.stderr
        doc = json.loads(out.read_text())
        doc.pop("created")
        docs.append(doc)
    first, warm = reports
    assert first["code"] == warm["code"] == 0
    # the reader's kernel and the jets' compiled in children the first time (fastjet stands in for the jets'
    # until its child is done); a first run this short may end before the jets' child, which a warm run restarts
    assert len(first["children"]) == 2 and len(warm["children"]) <= 1
    assert (first["loaded"], first["compiled"]) == (1, 0)  # this process loaded what the child compiled
    assert first["compiled after the warm-up"] == []  # the made-up event took everything else
    assert warm["compiled after the warm-up"] is None  # nothing to wait for, nothing made up
    assert all(_gone_within(pid, 30) for pid in first["children"] + warm["children"])
    assert docs[0]["events"]["n"] == 120
    assert docs[0] == docs[1]


_WARM_UP = """
import json
from recast import pipeline
from recast.models import forest
from recast.objects import antikt, combinatorics, leptons
kernels = {"jets": antikt._cluster_events, "BDTs": forest._tree_sums, "min-max mass": combinatorics.minmax_mass_kernel,
           "dressing": leptons.dress}
before = {name: len(k.overloads) for name, k in kernels.items()}
pipeline.warm_up(pipeline.prepare(["ANA-SUSY-2018-22", "ANA-SUSY-2018-30", "ANA-SUSY-2019-04"]))
print(json.dumps([before, {name: len(k.overloads) for name, k in kernels.items()}]))
"""


def test_the_warm_up_reaches_the_kernels_and_the_models(tmp_path):
    """pipeline.warm_up (a scan's or a point's workers, before their first point or block) takes
    the made-up event through objects, selections and the BDTs: a fresh process has their
    kernels afterwards (it swallows errors, so nothing else would show that it did less)."""
    done = subprocess.run([sys.executable, "-c", _WARM_UP], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == {"jets": 0, "BDTs": 0, "min-max mass": 0, "dressing": 0}
    assert after == {"jets": 1, "BDTs": 1, "min-max mass": 1, "dressing": 1}
