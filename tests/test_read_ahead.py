"""Reading ahead (recast.events.ahead): the same chunks in the same order, the next one made while
the current one is used, never more than one ahead, errors where they would have been, the source
closed when the loop stops; and a whole run that reads ahead counts what one that does not does."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from recast.events import ahead
from recast.events._capture import captured_stdout


def _source(n, made, *, fail_at=None, started=None, closed=None):
    try:
        for k in range(n):
            if started is not None:
                started[k].set()
            if k == fail_at:
                raise ValueError(f"bad chunk {k}")
            made.append((k, threading.current_thread().name))
            yield k
    finally:
        if closed is not None:
            closed.set()


def test_the_same_items_in_order_made_on_the_reading_thread():
    made = []
    assert list(ahead.read_ahead(_source(5, made), enabled=True)) == [0, 1, 2, 3, 4]
    assert {name for _, name in made} == {"recast-read-ahead"}
    made = []
    assert list(ahead.read_ahead(_source(5, made), enabled=False)) == [0, 1, 2, 3, 4]
    assert {name for _, name in made} == {threading.current_thread().name}


def test_the_next_item_is_made_while_the_current_one_is_used_and_no_further():
    made = []
    started = [threading.Event() for _ in range(4)]
    items = ahead.read_ahead(_source(4, made, started=started), enabled=True)
    assert next(items) == 0
    # while 0 is used, 1 is being made: without reading ahead this would wait in vain
    assert started[1].wait(timeout=10)
    time.sleep(0.2)  # room to run further ahead, which it must not
    assert not started[2].is_set() and [k for k, _ in made] == [0, 1]
    assert next(items) == 1
    assert started[2].wait(timeout=10)
    assert list(items) == [2, 3]


def test_a_source_error_comes_after_the_items_before_it():
    made = []
    got = []
    with pytest.raises(ValueError, match="bad chunk 2"):
        for item in ahead.read_ahead(_source(5, made, fail_at=2), enabled=True):
            got.append(item)
    assert got == [0, 1]
    assert not any(t.name == "recast-read-ahead" for t in threading.enumerate())


def test_stopping_early_closes_the_source_and_ends_the_thread():
    closed = threading.Event()
    made = []
    for item in ahead.read_ahead(_source(100, made, closed=closed), enabled=True):
        if item == 1:
            break
    assert closed.is_set()
    assert len(made) <= 3  # 0 and 1 used, 2 made ahead at most
    assert not any(t.name == "recast-read-ahead" for t in threading.enumerate())


def test_wanted_only_with_a_spare_core_and_not_turned_off(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.delenv(ahead.ENV, raising=False)
    assert ahead.wanted()
    monkeypatch.setenv(ahead.ENV, "0")
    assert not ahead.wanted()
    monkeypatch.delenv(ahead.ENV)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert not ahead.wanted()
    from recast.parallel import WORKER_ENV

    assert WORKER_ENV[ahead.ENV] == "0"  # a Dask worker runs on one core


def test_captures_on_two_threads_keep_their_own_text_and_restore_stdout():
    """b starts capturing while a captures, and would end after it: unless b waits for a's block
    to end, b restores the descriptor a had redirected (a's closed temporary file)."""
    before = os.fstat(1)
    texts = {}
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with captured_stdout() as log:
            os.write(1, b"<a>")
            a_in.set()
            b_in.wait(timeout=0.5)  # b cannot get in while a is in
        a_out.set()
        texts["a"] = log[0]

    def b():
        a_in.wait(timeout=10)
        with captured_stdout() as log:
            os.write(1, b"<b>")
            b_in.set()
            a_out.wait(timeout=10)
        texts["b"] = log[0]

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = os.fstat(1)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    assert texts == {"a": "<a>", "b": "<b>"}


def test_a_run_reading_ahead_counts_what_one_reading_in_turn_does(gtt_sample, tmp_path):
    import subprocess
    import sys

    results = {}
    for flag in ("1", "0"):
        out = tmp_path / f"ahead{flag}.json"
        env = {**os.environ, ahead.ENV: flag}
        subprocess.run([sys.executable, "-m", "recast.cli", "run", "ANA-SUSY-2018-22", "--events", str(gtt_sample[1]),
                        "--chunk-size", "37", "--out", str(out), "-q"],  # 4 chunks of 120 events
                       env=env, cwd=tmp_path, check=True, capture_output=True)
        doc = json.loads(out.read_text())
        results[flag] = {k: doc[k] for k in ("complete", "events", "signal_regions", "histograms")}
    assert results["1"]["events"]["n"] == 120 and results["1"]["complete"]
    assert any(sr["n"] > 0 for sr in results["1"]["signal_regions"])  # something to compare
    assert results["1"] == results["0"]


def test_a_point_generated_ahead_counts_what_one_generated_in_turn_does(gtt_slha, monkeypatch):
    """Pythia generates the next chunk on the reading thread (holding the GIL: the main thread's
    lock-free kernels run meanwhile) and the point counts the same."""
    from recast import pipeline

    spec = pipeline.PointSpec(slha=gtt_slha, analyses=["ANA-SUSY-2018-22"], nevents=60, seed=9, chunk_size=25)
    docs = {}
    for flag in ("1", "0"):
        monkeypatch.setenv(ahead.ENV, flag)
        doc = pipeline.run_point(spec)["ANA-SUSY-2018-22"]
        docs[flag] = {k: doc[k] for k in ("complete", "events", "cross_section", "signal_regions", "histograms")}
    assert docs["1"]["events"]["n"] == 60
    assert docs["1"] == docs["0"]

