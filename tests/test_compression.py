"""Files recast writes, compressed by their suffix."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst", ""])
def test_written_files_open_with_the_standard_tools(tmp_path, suffix):
    """recast's HepMC output, compressed by its suffix (gzip by ISA-L in a thread of its own), is
    read back whole by the standard library's and zstandard's own readers."""
    import bz2
    import gzip
    import lzma

    import zstandard

    from recast.events.compression import open_for_writing

    text = b"".join(b"P %d 1 211 1.5e+01 -2.25e+00 3.0e+02 3.0e+02 1.4e-01 1\n" % k for k in range(200_000))
    path = tmp_path / f"events.hepmc{suffix}"
    with open_for_writing(path) as f:
        for k in range(0, len(text), 65536):
            f.write(text[k:k + 65536])
    readers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open,
               ".zst": lambda p: zstandard.ZstdDecompressor().stream_reader(open(p, "rb")), "": open}
    with readers[suffix](path, **({"mode": "rb"} if suffix != ".zst" else {})) as f:
        assert f.read() == text
    if suffix == ".gz":
        assert path.stat().st_size < len(text) / 4
