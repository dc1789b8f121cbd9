"""Output locations are checked before computing, and nothing computed is lost on a write failure."""

from __future__ import annotations

import pytest

from recast import output


def test_missing_directories_are_fine_and_created_on_writing(tmp_path):
    target = tmp_path / "a" / "b" / "result.json"
    assert output.prepare_file(target) == target
    assert output.prepare_dir(tmp_path / "c" / "d") == tmp_path / "c" / "d"
    assert not list(tmp_path.iterdir())  # checking creates nothing, and the probe leaves nothing behind
    assert output.save(target, b"{}") == target and target.read_bytes() == b"{}"


def test_prepare_refuses_unwritable_locations(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(output.OutputError, match="a-file: the directory of the output file is a file"):
        output.prepare_file(blocker / "result.json")
    with pytest.raises(output.OutputError, match=r"cannot create the output directory: .*a-file is a file"):
        output.prepare_dir(blocker / "sub" / "dir")
    with pytest.raises(output.OutputError, match="is a file, not a directory"):
        output.prepare_dir(blocker)
    with pytest.raises(output.OutputError, match="is a directory"):
        output.prepare_file(tmp_path)


def test_save_falls_back_and_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(output.OutputError) as info:
        output.save(blocker / "result.json", b'{"n": 1}\n')
    saved = info.value.saved_to
    assert saved is not None and saved.parent == tmp_path / "cache" / "unsaved"
    assert saved.read_bytes() == b'{"n": 1}\n' and saved.name.endswith("-result.json")
    assert str(saved) in str(info.value) and "\n" not in str(info.value)
    good = tmp_path / "out" / "result.json"
    assert output.save(good, b"ok") == good and good.read_bytes() == b"ok"
