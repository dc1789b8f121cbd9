"""Where recast finds its own files: the committed validation reports of a source checkout."""

from __future__ import annotations

from pathlib import Path

from recast import paths

ROOT = Path(__file__).resolve().parents[1]


def test_committed_reports_of_this_checkout():
    reports = ROOT / "validation" / "reports"
    assert paths.committed_reports(reports / "ANA-SUSY-2018-22") == reports
    assert paths.committed_reports(reports / "ANA-SUSY-2018-22" / "new" / "sub") == reports
    assert paths.committed_reports(ROOT / "validation") is None
    assert paths.committed_reports(ROOT / "recast-validation" / "ANA-SUSY-2018-22") is None


def test_a_checkout_is_recognised_whatever_its_modules_are_called(tmp_path):
    """The package's layout changes (validate.py became a subpackage in issue 13); the checkout
    is the directory with pyproject.toml and the recast package."""
    (tmp_path / "recast").mkdir()
    (tmp_path / "recast" / "__init__.py").write_text("")
    out = tmp_path / "validation" / "reports" / "ANA-X"
    assert paths.committed_reports(out) is None  # not a checkout without pyproject.toml
    (tmp_path / "pyproject.toml").write_text("")
    assert paths.committed_reports(out) == tmp_path / "validation" / "reports"
    (tmp_path / "recast" / "__init__.py").unlink()
    assert paths.committed_reports(out) is None  # nor without the package
