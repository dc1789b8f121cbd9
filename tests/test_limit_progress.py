"""Progress of limit computations (issue 12, item 7: 'recast limit --likelihood both ran 5.5 minutes
without a word'): the statistics report every region, combination and upper limit to a callback;
the command line shows a bar on stderr when it is a terminal, and nothing when it is not."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys

import pytest

from recast import analysis as ana_mod
from recast import stats
from recast.cli import main

ANA22 = ana_mod.load("ANA-SUSY-2018-22")


def _doc(yields: dict[str, float]) -> dict:
    regions = [{"name": sr.name, "yield": yields.get(sr.name, 0.0), "yield_err": 0.1 * yields.get(sr.name, 0.0),
                "published": ANA22.published[sr.name].to_dict() if sr.name in ANA22.published else None}
               for sr in ANA22.signal_regions]
    return {"analysis": {"id": ANA22.id}, "cross_section": {"value_fb": 1.0, "uncertainty_fb": None},
            "signal_regions": regions}


@pytest.mark.parametrize("likelihood, upper_limits", [("simplified", "all"), ("both", "best"), ("full", "all")])
def test_every_step_is_reported_once_up_to_the_total(likelihood, upper_limits):
    # signal where no workspace is published when the full likelihood is asked for: the steps are
    # the same, without minutes of workspace fits
    doc = _doc({"BDT-GGd1": 14.2, "SR4j-3400": 6.5} if likelihood == "simplified" else {"MB-SSd-4-1600-10": 30.0})
    calls = []
    limits = stats.compute(doc, ANA22, likelihood, upper_limits=upper_limits,
                           on_region=lambda what, done, total: calls.append((what, done, total)))
    assert [c[1] for c in calls] == list(range(1, len(calls) + 1))
    assert calls[-1][1] == calls[-1][2]  # the bar ends full
    assert calls[0][2] == stats.count_steps(doc, ANA22, likelihood, upper_limits)
    fitted = [r.name for lim in limits for r in lim.regions]
    labels = [c[0] for c in calls]
    n_ul = sum(w.endswith(": upper limit") for w in labels)
    assert n_ul == {"best": len(limits), "all": len(fitted)}[upper_limits]
    with_numbers = [sr.name for sr in ANA22.signal_regions if sr.name in ANA22.published]
    expected = []
    if likelihood != "full":
        expected += with_numbers + list(ANA22.combinations)
    if likelihood != "simplified":
        expected += [f"{n} (full)" for n in with_numbers]  # with a workspace or not: each is a step
    assert [w for w in labels if not w.endswith(": upper limit")] == expected


def _run_with_terminal_stderr(argv: list[str], cwd) -> tuple[int, str, str]:
    """Run the installed ``recast ARGV`` (from ``cwd``, outside the source tree, whose ``recast``
    lacks the analyses an install maps in) with stderr on a pseudo-terminal and stdout on a pipe."""
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="160")
    proc = subprocess.Popen([sys.executable, "-m", "recast.cli", *argv], stdout=subprocess.PIPE, stderr=slave,
                            env=env, cwd=cwd)
    os.close(slave)
    terminal = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            terminal += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read().decode()
    os.close(master)
    return proc.wait(), out, terminal.decode(errors="replace")


@pytest.fixture(scope="module")
def result_file(gtt_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("progress") / "r.json"
    assert main(["run", "ANA-SUSY-2018-30", "--events", str(gtt_sample[1]), "--xsec-fb", "2", "-q",
                 "--out", str(out)]) == 0
    return out


def test_a_bar_on_a_terminal_and_full_tables_on_the_pipe(result_file, tmp_path):
    rc, out, terminal = _run_with_terminal_stderr(["limit", str(result_file)], tmp_path)
    assert rc == 0
    assert "ANA-SUSY-2018-30 limits" in terminal and "/15" in terminal  # 14 regions and one upper limit
    assert "Gtt-0L-B" in out and "simplified likelihood:" in out and "…" not in out
    assert "\x1b[" not in out  # the pipe gets plain text


def test_run_limit_shows_the_bar_too(gtt_sample, tmp_path):
    rc, out, terminal = _run_with_terminal_stderr(["run", "ANA-SUSY-2018-30", "--events", str(gtt_sample[1]),
                                                   "--xsec-fb", "2", "--limit", "--out", str(tmp_path / "r.json")],
                                                  tmp_path)
    assert rc == 0, terminal[-500:]
    assert "ANA-SUSY-2018-30 limits" in terminal
    assert json.loads((tmp_path / "r.limits.json").read_text())["schema_version"] == stats.LIMITS_VERSION


def test_no_bar_when_stderr_is_not_a_terminal(result_file, capsys):
    assert main(["limit", str(result_file)]) == 0
    captured = capsys.readouterr()
    assert "limits" not in captured.err and "\x1b[" not in captured.err and "━" not in captured.err
