"""Terminal output written to a pipe or a file (issue 12, item 7): tables at their full width, every
region's name whole, every column present; bounds on CLs shown as bounds."""

from __future__ import annotations

import io

import pytest

from recast import analysis as ana_mod
from recast import report, stats

ANA22 = ana_mod.load("ANA-SUSY-2018-22")


@pytest.fixture(scope="module")
def limits_22():
    """Limits of ANA-SUSY-2018-22 with signal in the multi-bin sets (long names: MB-GGd-4-3400-10)."""
    names = [sr.name for sr in ANA22.signal_regions if ANA22.published.get(sr.name)]
    regions = [{"name": n, "yield": 2.0, "yield_err": 0.2, "published": ANA22.published[n].to_dict()} for n in names]
    doc = {"analysis": {"id": ANA22.id}, "cross_section": {"value_fb": 1.0, "uncertainty_fb": None},
           "signal_regions": regions}
    out = stats.document(ANA22.id, "test", stats.compute(doc, ANA22, "simplified", upper_limits="none"))
    # both likelihoods side by side, as 'recast limit --likelihood both' prints them: 10 columns
    out["limits"]["full"] = {**out["limits"]["simplified"], "likelihood": "full"}
    return out, names


def _printed(capsys) -> str:
    out = capsys.readouterr().out
    assert out
    return out


def test_limits_to_a_pipe_are_complete(limits_22, capsys):
    doc, names = limits_22
    report.print_limits(doc)  # capsys' stdout is not a terminal, as a pipe
    out = _printed(capsys)
    assert "…" not in out
    rows = {line.split()[0].rstrip("*") for line in out.splitlines()[3:] if "│" in line}
    assert set(names) <= rows  # every region by its whole name, on one line
    header = out.splitlines()[1]
    for column in ("region", "S ± MC", "obs", "bkg", "CLs obs", "CLs exp [±1σ]", "r obs / exp", "mu95 obs / exp"):
        assert column in header
    width = max(len(line) for line in out.splitlines())
    assert width > 132  # the width it needs, not the 132 columns a pipe used to get


def test_a_console_on_a_file_is_as_wide_as_its_tables(limits_22):
    doc, names = limits_22
    buf = io.StringIO()
    report.print_limits(doc, report.console(buf))
    text = buf.getvalue()
    assert "…" not in text and all(n in text for n in names)
    assert max(len(line) for line in text.splitlines()) < 400  # no padding to the console's width


def test_region_names_fold_on_a_narrow_terminal_rather_than_being_cut(limits_22):
    from rich.console import Console

    doc, names = limits_22
    buf = io.StringIO()
    report.print_limits(doc, Console(file=buf, width=100))
    text = buf.getvalue()
    rows: list[str] = []
    for line in text.splitlines():
        cells = line.split("│")
        if len(cells) < 3:
            continue
        if cells[2].strip():  # a row's first line has its observed count
            rows.append("")
        rows[-1] += cells[0].strip().rstrip("*")
    assert set(names) <= set(rows) and set(rows) - set(names) == set(ANA22.combinations)


def test_bounds_are_shown_as_bounds():
    lim = stats.Limits(analysis=ANA22.id, likelihood="simplified")
    pub = ANA22.published["SR4j-1000"]
    region = stats.RegionLimit(name="SR4j-1000", kind="single", likelihood="simplified", regions=["SR4j-1000"],
                               signal=[5000.0], signal_err=[50.0], observed=[pub.observed],
                               background=[pub.background], background_err=[pub.background_err],
                               cls_obs=stats.CLS_FLOOR, cls_exp=[stats.CLS_FLOOR] * 4 + [3e-18],
                               cls_obs_bound=True, cls_exp_bound=[True] * 4 + [False], r_obs=9.0, r_exp=9.0)
    lim.regions.append(region)
    lim.best, lim.excluded, lim.cls_obs, lim.cls_exp = "SR4j-1000", True, stats.CLS_FLOOR, stats.CLS_FLOOR
    lim.cls_obs_bound = lim.cls_exp_bound = True
    buf = io.StringIO()
    report.print_limits(stats.document(ANA22.id, "test", [lim]), report.console(buf))
    text = buf.getvalue()
    assert "<1e-20 [<1e-20–<1e-20]" in text
    assert "CLs observed <1e-20, expected <1e-20" in text
