"""HepMC reading: cross-checks against pyhepmc's object API and the in-process Pythia batch,
compression and chunking independence, and hand-written files with hand-computed answers."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import shutil
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pyhepmc
import pytest
import zstandard
from particle import PDGID

from recast.errors import EventFileError
from recast.events import FROM_BSM, FROM_HADRON, FROM_TAU, HepMCSource
from recast.events import compression, hepmc_lines

DATA = Path(__file__).parent / "data"
HAND3 = DATA / "handmade.hepmc3"
HAND2 = DATA / "handmade.hepmc2"
# constructed for these tests, in the structure of HepMC3's test/inputIO30.hepmc (extra
# whitespace) and test/inputSherpa140Crash.hepmc (Sherpa's beam-remnant vertices), which are LGPL
WHITESPACE3 = DATA / "whitespace.hepmc3"
REMNANTS2 = DATA / "remnants.hepmc2"
P4 = ["px", "py", "pz", "E"]



def read(path, chunk_size=1000, **kw) -> ak.Array:
    return ak.concatenate(list(HepMCSource(path, chunk_size=chunk_size, **kw)))



@pytest.fixture(scope="module")
def file_batch(gtt_sample):
    """The fixture's HepMC3 file read in chunks of 50."""
    return read(gtt_sample[1], chunk_size=50)


# -- 1. against pyhepmc's own object API ------------------------------------------------------

def _own_flags(p) -> int:
    f = 0
    if p.status != 4 and PDGID(p.pid).is_hadron:  # beam protons do not count
        f |= int(FROM_HADRON)
    if abs(p.pid) == 15:
        f |= int(FROM_TAU)
    if 1_000_000 <= abs(p.pid) < 9_000_000:
        f |= int(FROM_BSM)
    return f


def _origin(p, memo: dict[int, int]) -> int:
    """OR of the own flags of all ancestors, by walking production vertices recursively."""
    if p.id in memo:
        return memo[p.id]
    memo[p.id] = 0  # guards against a cycle
    f = 0
    v = p.production_vertex
    if v is not None:
        for q in v.particles_in:
            f |= _own_flags(q) | _origin(q, memo)
    memo[p.id] = f
    return f


def _is_b_hadron(pid: int) -> bool:
    pdg = PDGID(pid)
    return bool(pdg.is_hadron and pdg.has_bottom)


def pyhepmc_view(path: Path) -> tuple[list[list[tuple]], list[int], list[int]]:
    """Per event: sorted (pid, px, py, pz, E, origin) of status-1 particles, the number of
    weakly decaying B hadrons, and the event number -- from pyhepmc's objects only."""
    finals, n_b, numbers = [], [], []
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        with pyhepmc.open(path) as f:
            for evt in f:
                scale = 1e-3 if evt.momentum_unit == pyhepmc.Units.MEV else 1.0
                memo: dict[int, int] = {}
                fs = []
                nb = 0
                for p in evt.particles:
                    if p.status == 1:
                        m = p.momentum
                        fs.append((p.pid, m.px * scale, m.py * scale, m.pz * scale, m.e * scale,
                                   _origin(p, memo)))
                    if _is_b_hadron(p.pid):
                        children = p.end_vertex.particles_out if p.end_vertex is not None else []
                        if not any(_is_b_hadron(c.pid) for c in children):
                            nb += 1
                finals.append(sorted(fs))
                n_b.append(nb)
                numbers.append(evt.event_number)
    finally:
        sys.setrecursionlimit(limit)
    return finals, n_b, numbers


def test_final_state_and_ancestry_match_pyhepmc_objects(gtt_sample, file_batch, event_rows):
    finals, n_b, numbers = pyhepmc_view(gtt_sample[1])
    assert len(finals) == len(file_batch) == 120
    assert ak.to_list(file_batch.event_number) == numbers
    ours = event_rows(file_batch.particles, ["pid", *P4, "origin"])
    for i, (mine, theirs) in enumerate(zip(ours, finals)):
        assert mine == theirs, f"event {i + 1}: final state or origin flags differ"
    assert ak.to_list(ak.num(file_batch.bhadrons)) == n_b
    # the comparison has teeth: every flag occurs, and gluino pairs give B hadrons
    origin = ak.flatten(file_batch.particles.origin).to_numpy()
    for flag in (FROM_HADRON, FROM_TAU, FROM_BSM):
        assert (origin & flag).any()
    assert (origin == 0).any()
    assert sum(n_b) > 100


def test_hand_written_files_match_pyhepmc_objects(event_rows):
    for path in (HAND3, HAND2):
        finals, n_b, numbers = pyhepmc_view(path)
        batch = read(path)
        assert ak.to_list(batch.event_number) == numbers == [7, 8]
        ours = event_rows(batch.particles, ["pid", *P4, "origin"])
        assert [[t[:5] for t in ev] for ev in ours] == [[t[:5] for t in ev] for ev in finals]
        assert [[t[5] for t in ev] for ev in ours] == [[t[5] for t in ev] for ev in finals]
        assert ak.to_list(ak.num(batch.bhadrons)) == n_b == [1, 0]


# -- 2. in-process Pythia and the HepMC round trip --------------------------------------------

def test_pythia_batch_equals_hepmc_round_trip(gtt_sample, file_batch, assert_same_batches):
    direct = gtt_sample[0]
    assert_same_batches(direct, file_batch)
    assert ak.sum(ak.num(direct.taus)) > 0 and ak.sum(ak.num(direct.chadrons)) > 0


def test_round_trip_keeps_cross_section(gtt_sample):
    _, path, src = gtt_sample
    reader = HepMCSource(path)
    for _ in reader:
        pass
    assert reader.n_read == 120 and reader.format == "hepmc3"
    # written with 9 significant digits by HepMC3
    assert reader.cross_section_fb == pytest.approx(src.sigma_gen_fb, rel=1e-7)


# -- 3. compression and chunking --------------------------------------------------------------

@pytest.fixture(scope="module")
def small_plain(gtt_sample, tmp_path_factory) -> Path:
    """The first 12 events of the fixture as plain HepMC3 text (a few MB)."""
    out = tmp_path_factory.mktemp("small") / "first12.hepmc"
    n_events = 0
    with gzip.open(gtt_sample[1], "rb") as src, open(out, "wb") as dst:
        for line in src:
            if line.startswith(b"E "):
                n_events += 1
                if n_events > 12:
                    break
            dst.write(line)
        dst.write(b"HepMC::Asciiv3-END_EVENT_LISTING\n")
    return out


def test_compressed_copies_give_the_same_batches(small_plain, file_batch, tmp_path, assert_same_batches):
    text = small_plain.read_bytes()
    copies = {
        "gzip": (tmp_path / "ev.hepmc.gz", gzip.compress(text, compresslevel=1)),
        "bzip2": (tmp_path / "ev.hepmc.bz2", bz2.compress(text, compresslevel=1)),
        "xz": (tmp_path / "ev.hepmc.xz", lzma.compress(text, preset=0)),
        "zstd": (tmp_path / "ev.hepmc.zst", zstandard.ZstdCompressor(level=1).compress(text)),
        # detection goes by magic bytes, not by the name
        "gzip ": (tmp_path / "gzipped_but_named.hepmc", gzip.compress(text, compresslevel=1)),
        "zstd ": (tmp_path / "zstd_named.hepmc.gz", zstandard.ZstdCompressor(level=1).compress(text)),
    }
    plain = read(small_plain, chunk_size=5)
    assert len(plain) == 12
    assert_same_batches(plain, file_batch[:12])
    assert compression.compression_of(small_plain) is None
    for kind, (path, blob) in copies.items():
        path.write_bytes(blob)
        assert compression.compression_of(path) == kind.strip()
        src = HepMCSource(path, chunk_size=5)
        assert kind.strip() in src.description
        assert_same_batches(ak.concatenate(list(src)), plain)


def test_zstd_stream_without_content_size(small_plain, tmp_path, assert_same_batches):
    """zstd written in streaming mode (no frame content size), as the zstd tool does for pipes."""
    path = tmp_path / "stream.hepmc.zst"
    with open(path, "wb") as f, zstandard.ZstdCompressor(level=1).stream_writer(f) as w:
        with open(small_plain, "rb") as src:
            shutil.copyfileobj(src, w, length=65536)
    assert_same_batches(read(path), read(small_plain))


def test_chunk_size_does_not_change_the_batch(gtt_sample, file_batch, assert_same_batches):
    src = HepMCSource(gtt_sample[1], chunk_size=7)
    chunks = list(src)
    assert [len(c) for c in chunks] == [7] * 17 + [1]
    assert_same_batches(ak.concatenate(chunks), file_batch)


def test_max_events(gtt_sample, file_batch, assert_same_batches):
    src = HepMCSource(gtt_sample[1], chunk_size=4, max_events=10)
    batch = ak.concatenate(list(src))
    assert src.n_read == 10
    assert_same_batches(batch, file_batch[:10])


# -- 4. hand-written files --------------------------------------------------------------------

def _by_pid(event_particles: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for p in event_particles:
        out.setdefault(p["pid"], []).append(p)
    return out


@pytest.mark.parametrize("path", [HAND3, HAND2], ids=["hepmc3", "hepmc2"])
def test_hand_written_event_content(path):
    src = HepMCSource(path, chunk_size=1)
    batch = ak.concatenate(list(src))
    assert src.format == ("hepmc3" if path == HAND3 else "hepmc2")
    assert src.n_read == 2
    assert src.cross_section_fb == pytest.approx(1.5)  # 1.5e-3 pb
    assert src.cross_section_err_fb == pytest.approx(0.2)
    ev1, ev2 = batch.to_list()

    # event 7: MEV units, two weights (the first is kept)
    assert ev1["event_number"] == 7 and ev1["weight"] == 2.5
    parts = _by_pid(ev1["particles"])
    assert sorted(parts) == [-211, -13, 11, 14, 22, 321]
    electron = parts[11][0]
    assert (electron["px"], electron["py"], electron["pz"]) == pytest.approx((-15.0, 5.0, -2.0))
    assert electron["E"] == pytest.approx(15.93738)
    assert electron["charge"] == -1.0
    assert electron["origin"] == 0  # prompt: only the beams are above it
    muon = parts[-13][0]  # from B0 -> D- mu+ nu
    assert (muon["px"], muon["py"], muon["pz"], muon["E"]) == pytest.approx((3.0, 6.0, 9.0, 11.23))
    assert muon["charge"] == 1.0 and muon["origin"] == FROM_HADRON
    assert parts[22][0]["origin"] == FROM_HADRON  # photon of B*0 -> B0 gamma
    assert all(p["origin"] == FROM_HADRON for p in parts[-211] + parts[321] + parts[14])
    # B*0 decays to B0: only the B0 is weakly decaying; the D- is the C hadron
    assert ev1["bhadrons"] == [pytest.approx({"px": 8.9, "py": 18.5, "pz": 27.5, "E": 34.6})]
    assert ev1["chadrons"] == [pytest.approx({"px": 5.0, "py": 10.0, "pz": 15.0, "E": 19.0})]
    assert ev1["taus"] == []

    # event 8: GEV units; chi2 -> tau- tau+ chi1, tau- -> tau- gamma -> nu pi- pi0, tau+ -> nu e nu
    assert ev2["event_number"] == 8 and ev2["weight"] == 1.0
    assert ev2["bhadrons"] == [] and ev2["chadrons"] == []
    parts = _by_pid(ev2["particles"])
    assert sorted(parts) == [-211, -16, -11, 12, 16, 22, 1000022]
    assert parts[1000022][0]["origin"] == FROM_BSM
    assert parts[-211][0]["origin"] == FROM_TAU | FROM_BSM
    assert parts[-11][0]["origin"] == FROM_TAU | FROM_BSM
    photons = sorted(parts[22], key=lambda p: p["E"])
    assert [p["E"] for p in photons] == [5.47, 9.17, 13.45]
    assert [p["origin"] for p in photons] == [FROM_TAU | FROM_BSM,  # radiated by the tau
                                             FROM_HADRON | FROM_TAU | FROM_BSM,  # from the pi0
                                             FROM_HADRON | FROM_TAU | FROM_BSM]
    taus = sorted(ev2["taus"], key=lambda t: t["charge"])
    assert len(taus) == 2  # the tau- before the photon emission is not the last one
    had, lep = taus
    # tau- (55, -9, 38, 67.5) minus nu_tau (10, -2, 8, 13)
    assert (had["px"], had["py"], had["pz"], had["E"]) == pytest.approx((45.0, -7.0, 30.0, 54.5))
    assert had["charge"] == -1.0 and had["hadronic"] is True
    assert had["origin"] == FROM_TAU | FROM_BSM
    # tau+ (-20, 30, 50, 61.7) minus nu_tau-bar (-5, 10, 20, 22.9) minus nu_e (-5, 5, 10, 12.25)
    assert (lep["px"], lep["py"], lep["pz"], lep["E"]) == pytest.approx((-10.0, 15.0, 20.0, 26.55))
    assert lep["charge"] == 1.0 and lep["hadronic"] is False
    assert lep["origin"] == FROM_BSM


def test_hepmc2_and_hepmc3_hand_written_files_agree(assert_same_batches):
    assert_same_batches(read(HAND3), read(HAND2))


def test_file_without_footer_keeps_its_last_event(tmp_path, assert_same_batches):
    """HepMC3 flags the end of the stream while reading the last event of a file without the
    END_EVENT_LISTING line; that event must not be dropped."""
    for path, name in ((HAND3, "nofooter.hepmc3"), (HAND2, "nofooter.hepmc2")):
        lines = [ln for ln in path.read_text().splitlines() if "END_EVENT_LISTING" not in ln]
        with_newline = tmp_path / name
        with_newline.write_text("\n".join(lines) + "\n")
        without_newline = tmp_path / ("nonl-" + name)
        without_newline.write_text("\n".join(lines))
        for p in (with_newline, without_newline):
            assert_same_batches(read(p), read(path))


def test_scan_accepts_number_forms_and_rejects_garbage():
    scan = hepmc_lines.first_bad_record

    def bad_line(text: str) -> int:
        return scan(np.frombuffer(text.encode(), np.uint8), True, 0)[2]

    good = ("E 1 2 3\nV -1 0 [1,2] @ 0 -1.5 2e3 +.5\nV -2 0 [3]\n"
            "P 1 0 2212 0 0 6.5e+03 6500.0 0.938 4\nP 2 -1 11 nan -inf Infinity 1E-3 0 1\n"
            "A 0 GenCrossSection 1 2 3 -1\nW 1.0 2.0\nU MEV MM\nT tool 1.0 text\n")
    assert bad_line(good) == -1
    assert scan(np.frombuffer(good.encode(), np.uint8), True, 0)[:2] == (9, 1)
    for corrupt in ("P 1 0 22 3x00.0 0 0 1 0 1", "P 1 0 22 1.0a 0 0 1 0 1", "P 1 0 22 1e 0 0 1 0 1",
                    "P 1 0 22 --1 0 0 1 0 1", "P 1 0 22 abc 0 0 1 0 1", "E 1 2 3x", "V -1 0 [1,a]",
                    "V -1 0 [1,2]x", "P1 0 22 1 0 0 1 0 1", "P 1 0 22 . 0 0 1 0 1"):
        assert bad_line("E 1 1 1\n" + corrupt + "\nP 5 0 22 1 1 1 1 0 1\n") == 1, corrupt


def _pump(stream, size: int) -> bytes:
    out, buf = bytearray(), bytearray(size)
    while n := stream.readinto(buf):
        out += buf[:n]
    return bytes(out)


def test_checked_stream_across_buffer_boundaries():
    """Lines split between reads are checked once whole: no false alarms, right line numbers."""
    text = HAND3.read_bytes()
    for size in (1, 7, 64, 4096):
        stream = hepmc_lines.CheckedStream(io.BytesIO(text))
        assert _pump(stream, size) == text
        assert stream.problem is None
    corrupt = text.replace(b"P 14 5 -16 -5.0", b"P 14 5 -16 -5.x")
    line = b"P 14 5 -16 -5.x 10.0 20.0 22.9 0.0 1"
    lineno = corrupt.splitlines().index(line) + 1
    for size in (1, 7, 64, 4096):
        stream = hepmc_lines.CheckedStream(io.BytesIO(corrupt))
        assert _pump(stream, size) == corrupt  # the bytes still pass unchanged
        assert stream.problem == (2, lineno, line.decode(), False)
    # a bad last line without its newline is found at the end of the stream
    stream = hepmc_lines.CheckedStream(io.BytesIO(b"E 1 1 1\nP 1 0 22 1 2 3 4x 0 1"))
    _pump(stream, 5)
    assert stream.problem == (1, 2, "P 1 0 22 1 2 3 4x 0 1", False)
    # fields HepMC3 3.2 would misread: two spaces, a tab (trailing blanks and CR are fine)
    for line, spacing in ((b"P 1 0 22  1 2 3 4 0 1", True), (b"P 1 0 22 1\t2 3 4 0 1", True),
                          (b"P  1 0 22 1 2 3 4 0 1", True), (b"V -1 0 [1, 2] @ 0 0 0 0", None),
                          (b"P 1 0 22 1 2 3 4 0 1 \r", None)):
        stream = hepmc_lines.CheckedStream(io.BytesIO(b"E 1 1 1\n" + line + b"\n"))
        _pump(stream, 64)
        assert (stream.problem is None if spacing is None
                else stream.problem == (1, 2, line.decode().rstrip(), spacing)), line


def test_empty_event_list_is_an_error(tmp_path):
    path = tmp_path / "header-only.hepmc"
    path.write_text("HepMC::Version 3.02.05\nHepMC::Asciiv3-START_EVENT_LISTING\n"
                    "HepMC::Asciiv3-END_EVENT_LISTING\n")
    with pytest.raises(EventFileError, match="no events in file"):
        list(HepMCSource(path))


# -- 5. files other programs write (issue 12) ---------------------------------------------------

def _crlf(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes().replace(b"\n", b"\r\n"))
    return dst


@pytest.mark.parametrize("reader", ["columnar", "pyhepmc"])
def test_crlf_line_ends_read_as_lf(reader, tmp_path, assert_same_batches):
    """Windows line ends: HepMC3 (3.2 and 3.3) reads them as the same file; the columnar reader
    used to refuse a weight line ending in CR."""
    for src in (HAND3, HAND2):
        crlf = _crlf(src, tmp_path / f"crlf-{src.name}")
        new, plain = HepMCSource(crlf, reader=reader), HepMCSource(src, reader=reader)
        assert_same_batches(ak.concatenate(list(new)), ak.concatenate(list(plain)))
        assert (new.cross_section_fb, new.n_read) == (plain.cross_section_fb, plain.n_read) == (pytest.approx(1.5), 2)


def test_hepmc3_fields_separated_as_hepmc3_33_separates_them(tmp_path):
    """HepMC3 3.3 (since its commit c149a6ad, tested by its testIO30) reads fields separated by
    runs of spaces and tabs, and refuses a record letter not followed by a space (event 4: "P3").
    Events 1-3 hold the same particles, written with single spaces, extra spaces, and tabs and
    spaces in the vertex list."""
    for path in (WHITESPACE3, _crlf(WHITESPACE3, tmp_path / "ws-crlf.hepmc3")):
        src = HepMCSource(path, chunk_size=1)
        batches = []
        with pytest.raises(EventFileError, match=r"event 4, line 34: malformed particle line .*'P3 -1 13"):
            for b in src:
                batches.append(b)
        events = ak.concatenate(batches).to_list()
        assert len(events) == 3 and src.n_read == 3
        for ev in events:  # hand-written values
            assert ev["weight"] == 1.5
            assert [(p["pid"], p["px"], p["py"], p["pz"], p["E"]) for p in ev["particles"]] == [
                (13, 1.23, 0.0, 4.5, 4.8), (-13, -1.23, 0.0, -4.5, 4.8)]


def test_the_pyhepmc_reader_refuses_what_its_hepmc3_would_misread():
    """HepMC3 3.2 (pyhepmc 2.16) finds each next field after the next space: on event 2 of the
    file it silently reads the muon's (px, py, pz, E) as (1.23, 1.23, 0, 0) and its status as
    4. The pyhepmc reader refuses that line instead, pointing to the columnar reader."""
    with pyhepmc.open(WHITESPACE3) as f:
        f.read()
        misread = f.read()
    muon = [p for p in misread.particles if p.pid == 13][0]
    assert (tuple(muon.momentum), muon.status) == ((1.23, 1.23, 0.0, 0.0), 4)
    with pytest.raises(EventFileError, match=r"event 2, line 15: particle line with fields not separated by single "
                                             r"spaces, which the pyhepmc reader \(HepMC3 3.2\) misreads"):
        list(HepMCSource(WHITESPACE3, reader="pyhepmc"))


@pytest.mark.parametrize("reader", ["columnar", "pyhepmc"])
def test_hepmc2_fields_need_single_spaces(reader, tmp_path):
    """HepMC3 3.3 still reads HepMC2 fields by single spaces (and would misread this line):
    both readers refuse it, naming the line."""
    path = tmp_path / "spaces.hepmc2"
    path.write_text(HAND2.read_text().replace("P 4 11 -15000.0 5000.0", "P 4 11 -15000.0  5000.0"))
    with pytest.raises(EventFileError, match=r"event 1, line 11: .*single spaces"):
        list(HepMCSource(path, reader=reader))


def _edit(src: Path, dst: Path, *changes: tuple[str, str]) -> Path:
    text = src.read_text()
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    dst.write_text(text)
    return dst


@pytest.mark.parametrize("reader", ["columnar", "pyhepmc"])
def test_negative_energies_of_internal_particles_are_noted(reader, tmp_path, assert_same_batches):
    """A space-like parton (E < 0) inside the record is physics, not a corrupt file: the events
    read as before, with one note for the file. Event 1's b quark (status 23) and event 2's tau
    (status 2, not the last of its chain) are made space-like."""
    cases = {HAND3: [("P 3 -1 5 10000.0 20000.0 30000.0 38000.0", "P 3 -1 5 10000.0 20000.0 30000.0 -38000.0"),
                     ("P 4 3 15 60.0 -10.0 40.0 72.9", "P 4 3 15 60.0 -10.0 40.0 -72.9")],
             HAND2: [("P 3 5 10000.0 20000.0 30000.0 38000.0", "P 3 5 10000.0 20000.0 30000.0 -38000.0"),
                     ("P 4 15 60.0 -10.0 40.0 72.9", "P 4 15 60.0 -10.0 40.0 -72.9")]}
    for src, changes in cases.items():
        path = _edit(src, tmp_path / f"spacelike-{src.name}", *changes)
        source = HepMCSource(path, reader=reader)
        assert_same_batches(ak.concatenate(list(source)), read(src))
        assert source.notes == ["internal particles (not final-state) in 2 events read: 2 with a negative energy "
                                "(status 2, 23; e.g. space-like partons of the initial-state shower); no object is "
                                "built from them, so they were kept as the file has them"]


@pytest.mark.parametrize("reader", ["columnar", "pyhepmc"])
def test_non_finite_momenta_inside_the_record(reader, tmp_path):
    """A NaN in a parton that feeds no object is noted; in a B hadron, whose momentum the batch
    carries for b-labelling, it is refused, naming the file's line."""
    path = _edit(HAND3, tmp_path / "nan-quark.hepmc3", ("P 3 -1 5 10000.0", "P 3 -1 5 nan"))
    source = HepMCSource(path, reader=reader)
    assert len(ak.concatenate(list(source))) == 2
    assert "1 with a non-finite momentum (status 23;" in source.notes[0]
    path = _edit(HAND3, tmp_path / "nan-b.hepmc3", ("P 6 5 511 8900.0", "P 6 5 511 inf"))
    with pytest.raises(EventFileError) as exc:
        list(HepMCSource(path, reader=reader))
    assert str(exc.value) == (f"{path}: event 1 (number 7), line 15: a B hadron (pid 511) with a non-finite momentum "
                              f"(the analysis uses it): 'P 6 5 511 inf 18500.0 27500.0 34600.0 5279.6 2'")


def _without_vertex_weights(src: Path, dst: Path) -> Path:
    lines = []
    for line in src.read_text().splitlines():
        if line.startswith("V "):
            line = " ".join(line.split(" ")[:9] + ["0"])
        lines.append(line)
    dst.write_text("\n".join(lines) + "\n")
    return dst


def test_vertex_without_incoming_particles(tmp_path, assert_same_batches):
    """Sherpa writes its beam remnants as a vertex without incoming particles (V -2 here).
    HepMC3 removes the vertex; its outgoing particles, which go on to V -4, stay without parents.
    HepMC3 3.2 (pyhepmc) crashes on it when vertices carry weights, as Sherpa's do (fixed in
    HepMC3 by e38f6ff9): without the weights, it reads what the columnar reader reads."""
    batch = read(REMNANTS2)
    assert [(p["pid"], p["pz"], p["origin"]) for p in batch.particles[0].to_list()] == [
        (13, 60.0, 0), (-13, 40.0, 0), (2212, 2900.0, 0), (211, -2900.0, 0)]
    with pytest.raises(EventFileError, match=r"event 1: HepMC3 \(inside pyhepmc .*\) crashed reading this event "
                                             r"\(SIGSEGV\)"):
        list(HepMCSource(REMNANTS2, reader="pyhepmc"))
    stripped = _without_vertex_weights(REMNANTS2, tmp_path / "remnants-no-weights.hepmc2")
    assert_same_batches(batch, read(stripped, reader="pyhepmc"))


def test_particles_hepmc3_drops_with_a_removed_vertex(tmp_path, assert_same_batches):
    """An outgoing particle of a removed vertex (no incoming particles) that decays no further is
    left out of HepMC3's event, as Pythia 6's status-3 documentation lines are: so it is here (a
    B hadron, which would otherwise show among the B hadrons), while a final-state one is refused
    rather than lost."""
    hadron = _edit(REMNANTS2, tmp_path / "dropped.hepmc2", ("V -2 0 0 0 0 0 0 2 1 1.0", "V -2 0 0 0 0 0 0 3 1 1.0"),
                   ("P 6 1 -1.0", "P 11 521 1.0 2.0 3.0 6.0 5.279 2 0 0 0 0\nP 6 1 -1.0"))
    batch = read(hadron)
    assert len(batch.bhadrons[0]) == 0 and len(batch.particles[0]) == 4
    stripped = _without_vertex_weights(hadron, tmp_path / "dropped-nw.hepmc2")
    assert_same_batches(batch, read(stripped, reader="pyhepmc"))
    final = _edit(hadron, tmp_path / "dropped-final.hepmc2",
                  ("P 11 521 1.0 2.0 3.0 6.0 5.279 2", "P 11 22 1.0 2.0 3.0 6.0 0 1"))
    with pytest.raises(EventFileError, match=r"event 1, line 3: vertex -2 has no incoming particle .* an outgoing "
                                             r"final-state particle: HepMC3 removes the vertex and drops that particle"):
        read(final)


def test_momentum_unit_override(tmp_path, assert_same_batches):
    """A GeV file labelled MeV reads as GeV with momentum_unit="GEV", and the collision it shows
    says which unit was used."""
    text = HAND3.read_text().replace("U GEV MM", "U MEV MM")
    mislabelled = tmp_path / "mislabelled.hepmc3"  # event 2 holds GeV values under a MEV label
    mislabelled.write_text(text)
    src = HepMCSource(mislabelled, momentum_unit="GEV", max_events=2)
    with pytest.raises(ValueError, match="momentum_unit"):
        HepMCSource(mislabelled, momentum_unit="TEV")
    batch = ak.concatenate(list(src))
    assert_same_batches(batch[1:], read(HAND3)[1:])
    assert src.collision.momentum_unit == "MEV" and src.collision.momentum_unit_used == "GEV"
    # event 1 holds MeV values: read as GeV they are a thousand times too large
    assert batch[0].particles.E.to_list()[0] == pytest.approx(15937.38)


@pytest.mark.parametrize("reader", ["columnar", "pyhepmc"])
def test_a_vertex_line_needs_its_particle_list(reader, tmp_path):
    """HepMC3 (3.2 and 3.3) refuses a V line without its list of incoming particles ("[]" when
    there are none); the columnar reader used to read it as a vertex without incoming particles."""
    path = _edit(HAND3, tmp_path / "nolist.hepmc3", ("V -1 0 [1,2]\nP 3 -1 5", "V -1 0\nP 3 -1 5"))
    with pytest.raises(EventFileError, match=r"event 1, line 11: malformed vertex line"):
        list(HepMCSource(path, reader=reader))


def test_the_isolated_child_process():
    """The pyhepmc reader's child process: a crash leaves the reader server usable, a read
    stopped half-way ends its child and server, a finished one frees its server."""
    from recast.events import _isolated

    with pytest.raises(EventFileError, match="SIGSEGV"):
        list(HepMCSource(REMNANTS2, reader="pyhepmc"))
    servers = [s.proc.pid for s in _isolated._idle]
    assert servers  # the server outlived its child
    first = iter(HepMCSource(HAND3, chunk_size=1, reader="pyhepmc"))
    assert len(next(first)) == 1
    first.close()  # stopped after one event: that server is ended, not reused
    assert len(ak.concatenate(list(HepMCSource(HAND2, reader="pyhepmc")))) == 2
    again = [s.proc.pid for s in _isolated._idle]
    assert len(ak.concatenate(list(HepMCSource(HAND3, reader="pyhepmc")))) == 2
    assert [s.proc.pid for s in _isolated._idle] == again  # the same server again
