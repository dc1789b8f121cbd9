"""The columnar HepMC reader against the pyhepmc reader (HepMC3's own parsers): generated
samples of three processes in both formats, the hand-written files, exact number conversion,
and mutated files (hypothesis) that must give a clean error or the same events, never a crash
or a hang."""

from __future__ import annotations

import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import awkward as ak
import numpy as np
import pyhepmc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recast.errors import EventFileError
from recast.events import HepMCSource, PythiaConfig, PythiaSource
from recast.events import _hepmc_text as text
from recast.slha import simplified_model

DATA = Path(__file__).parent / "data"
HAND3 = DATA / "handmade.hepmc3"
HAND2 = DATA / "handmade.hepmc2"

# (process, simplified model, parent mass, LSP mass): three different final states
PROCESSES = [("gluino-pair", "gbb", 1600, 100), ("squark-pair", "sqq", 1200, 200),
             ("gluino-pair", "gtb", 1500, 300)]


def read(path, **kw) -> ak.Array:
    return ak.concatenate(list(HepMCSource(path, **kw)))


def _to_hepmc2(src: Path, dst: Path) -> Path:
    with pyhepmc.open(src) as f, pyhepmc.io.WriterAsciiHepMC2(str(dst)) as w:
        for evt in f:
            w.write_event(evt)
    return dst


@pytest.fixture(scope="module", params=PROCESSES, ids=[f"{p[1]}" for p in PROCESSES])
def sample(request, tmp_path_factory) -> tuple[Path, Path]:
    """30 Pythia events of the process as HepMC3 (plain) and as HepMC2 written by HepMC3."""
    process, model, m_parent, m_lsp = request.param
    tmp = tmp_path_factory.mktemp(model)
    card = tmp / f"{model}.slha"
    card.write_text(simplified_model(model, m_parent, m_lsp))
    h3 = tmp / f"{model}.hepmc"
    for _ in PythiaSource(PythiaConfig(slha=card, nevents=30, seed=5, process=process), chunk_size=30,
                          hepmc_out=h3):
        pass
    return h3, _to_hepmc2(h3, tmp / f"{model}.hepmc2")


@pytest.mark.parametrize("forward_parents", ["drop", "keep"])
def test_generated_samples_equal_the_pyhepmc_reader(sample, forward_parents, assert_same_batches):
    h3, h2 = sample
    reference = read(h3, reader="pyhepmc")
    assert len(reference) == 30 and ak.sum(ak.num(reference.particles)) > 5000
    assert_same_batches(read(h3, chunk_size=7, forward_parents=forward_parents), reference)
    assert_same_batches(read(h2, chunk_size=7), read(h2, reader="pyhepmc"))
    assert_same_batches(read(h2), reference)  # HepMC2 written by HepMC3 holds the same events
    # the comparison has teeth: flags of every kind are set, and prompt particles exist
    origin = ak.flatten(reference.particles.origin).to_numpy()
    assert (origin & 1).any() and (origin & 4).any() and (origin == 0).any()


def test_the_momenta_are_bit_identical(sample):
    """Not just equal to the comparison's precision: the same doubles strtod gives."""
    h3, _ = sample
    a, b = read(h3), read(h3, reader="pyhepmc")
    for field in ("px", "py", "pz", "E"):
        x = ak.sort(ak.flatten(a.particles[field])).to_numpy()
        y = ak.sort(ak.flatten(b.particles[field])).to_numpy()
        assert np.array_equal(x.view(np.int64), y.view(np.int64))


def test_hand_written_files_equal_the_pyhepmc_reader(assert_same_batches):
    for path in (HAND3, HAND2):
        assert_same_batches(read(path, chunk_size=1), read(path, reader="pyhepmc"))


def test_cross_section_units_and_weights_as_the_pyhepmc_reader():
    for path in (HAND3, HAND2):
        new, ref = HepMCSource(path), HepMCSource(path, reader="pyhepmc")
        a, b = read(path), read(path, reader="pyhepmc")
        for src in (new, ref):
            list(src)
        assert (new.cross_section_fb, new.cross_section_err_fb) == (ref.cross_section_fb, ref.cross_section_err_fb)
        assert ak.to_list(a.weight) == ak.to_list(b.weight) == [2.5, 1.0]


def test_a_parent_further_down_the_record():
    """A particle line naming a later particle as its parent: HepMC3 3.2 (pyhepmc) drops the
    link, HepMC3 3.3 and the generator keep it; both choices are available."""
    lines = HAND3.read_text().splitlines()
    # event 8: the pi- (10, written before the pi0 11) becomes a daughter of the pi0, as a sibling
    # of its two photons, so the vertex count stays right for both readings
    i = lines.index("P 10 7 -211 25.0 -4.0 20.0 32.3 0.1396 1")
    lines[i] = "P 10 11 -211 25.0 -4.0 20.0 32.3 0.1396 1"
    path = Path(HAND3.parent / "forward.hepmc3")
    try:
        path.write_text("\n".join(lines) + "\n")
        origin = {}
        for mode in ("keep", "drop"):
            ev = read(path, forward_parents=mode)[1]
            origin[mode] = [p["origin"] for p in ev.particles.to_list() if p["pid"] == -211][0]
        ref = read(path, reader="pyhepmc")[1]
        assert origin["drop"] == [p["origin"] for p in ref.particles.to_list() if p["pid"] == -211][0] == 0
        assert origin["keep"] == 1 | 2 | 4  # from the pi0, the tau and the BSM decay
    finally:
        path.unlink(missing_ok=True)


def test_numbers_convert_exactly_as_strtod():
    rng = random.Random(3)
    texts = [f"{rng.uniform(-1e4, 1e4) * 10 ** rng.randint(-30, 30):.16e}" for _ in range(3000)]
    texts += [f"{rng.uniform(-1, 1) * 10 ** rng.randint(-300, 300):.8e}" for _ in range(1000)]
    texts += [repr(rng.uniform(-1e6, 1e6)) for _ in range(1000)]
    texts += [str(rng.randint(-10 ** 18, 10 ** 18)) + "e-7" for _ in range(500)]
    texts += ["0", "-0.0", "1e308", "1.7976931348623157e308", "2.2250738585072014e-308", "4.9e-324",
              "1e-400", "1e400", "1.0000000000000000000000e+00", "9007199254740993", "0.1e1", ".5", "5."]
    slow = 0
    for t in texts:
        raw = t.encode()
        b = text.padded(np.frombuffer(raw, np.uint8))
        v, j, exact = text._float(b, b.view(np.uint64), 0, len(raw))
        assert j == len(raw), t
        if not exact:  # left to Python: only the rare cases the kernel cannot round
            slow += 1
            continue
        assert np.float64(v).view(np.int64) == np.float64(float(t)).view(np.int64), t
    assert slow < 30
    for bad in ("3x00", "1e", "--1", ".", "1.0a", "e5", "1e+"):
        raw = bad.encode()
        b = text.padded(np.frombuffer(raw, np.uint8))
        assert text._float(b, b.view(np.uint64), 0, len(raw))[1] == -1, bad


# -- mutated files ----------------------------------------------------------------------------

_BYTES = b"0123456789 -.e[],@\nPVEWUAx"
_FILES = {name: path.read_bytes() for name, path in (("hepmc3", HAND3), ("hepmc2", HAND2))}


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(sorted(_FILES)))
    data = bytearray(_FILES[name])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "delete", "insert", "duplicate line", "truncate"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "replace":
            data[at] = draw(st.sampled_from(_BYTES))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 12))]
        elif kind == "insert":
            data[at:at] = bytes([draw(st.sampled_from(_BYTES))])
        elif kind == "duplicate line":
            start = data.rfind(b"\n", 0, at) + 1
            stop = data.find(b"\n", at)
            stop = len(data) if stop < 0 else stop + 1
            data[start:start] = data[start:stop]
        else:
            del data[at:]
        if not data:
            data = bytearray(b"\n")
    return name, bytes(data)


def _outcome(path: Path, reader: str):
    try:
        return read(path, chunk_size=1, reader=reader)
    except EventFileError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return None


def _reference_events(path: str):
    """The pyhepmc reader's events as plain lists, or None if it refuses the file (run in a
    worker process: HepMC3 3.2 itself crashes on some corrupt files, e.g. a malformed
    GenCrossSection attribute, which the columnar reader reads cleanly)."""
    out = _outcome(Path(path), "pyhepmc")
    return None if out is None else ak.to_list(out)


class _Reference:
    """One worker process for the reference reader, restarted after a crash."""

    def __init__(self) -> None:
        self.pool = None

    def __call__(self, path: Path):
        for _ in range(2):
            if self.pool is None:
                self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            try:
                events = self.pool.submit(_reference_events, str(path)).result(timeout=60)
                return None if events is None else ak.Array(events)
            except BrokenProcessPool:  # the reference reader crashed on this file
                self.pool = None
                return None
        return None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


@pytest.fixture(scope="module")
def reference_reader():
    ref = _Reference()
    yield ref
    ref.close()


@settings(max_examples=300, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_mutated_files_give_a_clean_error_or_the_same_events(case, tmp_path, assert_same_batches,
                                                               reference_reader):
    name, data = case
    path = tmp_path / f"mutated.{name}"
    path.write_bytes(data)
    ours = _outcome(path, "columnar")  # anything but EventFileError (or a crash) fails the test
    if ours is None:
        return
    reference = reference_reader(path)
    if reference is not None:  # both read it: they must agree
        assert_same_batches(ours, reference)


def test_a_file_that_crashes_hepmc3_is_read_cleanly(tmp_path, reference_reader, assert_same_batches):
    """Found by the mutation test: HepMC3 3.2 (pyhepmc 2.16) dies with a segmentation fault on
    this GenCrossSection attribute; the columnar reader ignores the unreadable cross section."""
    path = tmp_path / "xsec.hepmc3"
    path.write_text(HAND3.read_text().replace("A 0 GenCrossSection 1.5e-03 2.0e-04 2 -1",
                                              "A 0 GenCrossSection 1.5e-03P2.0e-04 2 -1"))
    assert reference_reader(path) is None
    src = HepMCSource(path)
    assert_same_batches(read(path), read(HAND3))
    list(src)
    assert src.cross_section_fb is None
