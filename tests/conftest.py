"""Shared fixtures: a small Pythia sample generated once per test session (fixed seed), written
to HepMC3 as well, so that tests compare the in-process and file paths on the same events."""

from __future__ import annotations

import os
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from recast.events import PythiaConfig, PythiaSource
from recast.slha import simplified_model

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared"

# Tests never reach the Internet: artifacts come from the mirror, downloads from a server on
# 127.0.0.1 (tests/test_artifacts.py lifts this for its own server).
os.environ.setdefault("RECAST_OFFLINE", "1")
os.environ.setdefault("RECAST_DATA_MIRROR", str(SHARED / "hepdata"))


@pytest.fixture
def empty_cache_env(tmp_path) -> dict[str, str]:
    """The environment of a run that compiles every kernel afresh: an empty user cache
    (``tmp_path/cache``), and not the kernels a wheel build ships in the package
    (``recast.precompile``), which a run of an installed recast would load instead."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["RECAST_CACHE_DIR"] = str(tmp_path / "cache")
    env["NUMBA_CACHE_LOCATOR_CLASSES"] = "UserProvidedCacheLocator"
    return env


@pytest.fixture(scope="session")
def gtt_slha(tmp_path_factory) -> Path:
    """Gtt simplified model, m(gluino) = 2100 GeV, m(LSP) = 1 GeV."""
    path = tmp_path_factory.mktemp("slha") / "gtt_2100_1.slha"
    path.write_text(simplified_model("gtt", 2100, 1))
    return path


@pytest.fixture(scope="session")
def gtt_sample(gtt_slha, tmp_path_factory):
    """(batch from Pythia directly, path of the same events as HepMC3 .gz, PythiaSource).

    120 events of Gtt(2100, 1), seed 11, generated in chunks of 50.
    """
    out = tmp_path_factory.mktemp("events") / "gtt.hepmc.gz"
    src = PythiaSource(PythiaConfig(slha=gtt_slha, nevents=120, seed=11), chunk_size=50, hepmc_out=out)
    batch = ak.concatenate(list(src))
    return batch, out, src


P4 = ["px", "py", "pz", "E"]
BATCH_COLLECTIONS = {
    "particles": ["pid", *P4, "charge", "origin"],
    "bhadrons": P4,
    "chadrons": P4,
    "taus": [*P4, "charge", "hadronic", "origin"],
}


def _rows(events: ak.Array, fields: list[str]) -> list[list[tuple]]:
    """Per event, the sorted list of (field, ...) tuples: an order-independent comparison."""
    columns = [ak.to_list(events[f]) for f in fields]
    return [sorted(zip(*(c[i] for c in columns))) for i in range(len(events))]


def _assert_same_batches(a: ak.Array, b: ak.Array) -> None:
    assert len(a) == len(b)
    assert ak.to_list(a.event_number) == ak.to_list(b.event_number)
    assert ak.to_list(a.weight) == ak.to_list(b.weight)
    for coll, fields in BATCH_COLLECTIONS.items():
        ra, rb = _rows(a[coll], fields), _rows(b[coll], fields)
        bad = [i for i, (x, y) in enumerate(zip(ra, rb)) if x != y]
        assert not bad, f"{coll} differ in events {bad[:5]}"


@pytest.fixture(scope="session")
def event_rows():
    """``event_rows(collection, fields)``: per event, the sorted (field, ...) tuples."""
    return _rows


@pytest.fixture(scope="session")
def assert_same_batches():
    """Check that two event batches hold the same events: every collection compared per event,
    independently of the particles' order (a HepMC file stores them topologically sorted)."""
    return _assert_same_batches


class ObjectBuilder:
    """Hand-made physics objects (the layout of recast.objects.Objects) for analysis tests."""

    @staticmethod
    def cartesian(pt, eta, phi, m):
        import math

        px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
        return px, py, pz, math.sqrt(px * px + py * py + pz * pz + m * m)

    def jet(self, pt, eta, phi, m=10.0, btag=False, ntrk=20):
        px, py, pz, e = self.cartesian(pt, eta, phi, m)
        return dict(pt=pt, eta=eta, phi=phi, m=m, px=px, py=py, pz=pz, E=e, label=5 if btag else 0,
                    ntrk=ntrk, btag=btag, tag_bin=5 if btag else 1)

    def lepton(self, pid, pt, eta, phi, iso=0.0):
        m = 0.000511 if abs(pid) == 11 else 0.10566
        px, py, pz, e = self.cartesian(pt, eta, phi, m)
        return dict(pt=pt, eta=eta, phi=phi, m=m, px=px, py=py, pz=pz, E=e, charge=-float(np.sign(pid)),
                    pid=pid, from_tau=False, ptvarcone20=iso, ptvarcone30=iso, topoetcone20=iso, ptcone20=iso,
                    id_loose=True, id_medium=True, id_tight=True)

    def objects(self, events: list[dict]):
        """Events as dicts with 'jets', 'electrons', 'muons' (lists) and 'met', 'met_phi'."""
        from recast.objects import Objects

        def coll(key, template):
            if any(ev.get(key) for ev in events):
                return ak.Array([ev.get(key, []) for ev in events])
            return ak.Array([[template] for _ in events])[:, :0]

        pt = np.array([ev["met"] for ev in events], float)
        phi = np.array([ev["met_phi"] for ev in events], float)
        met = ak.zip({"pt": pt, "phi": phi, "px": pt * np.cos(phi), "py": pt * np.sin(phi)})
        return Objects(jets=coll("jets", self.jet(1, 0, 0)), electrons=coll("electrons", self.lepton(11, 1, 0, 0)),
                       muons=coll("muons", self.lepton(13, 1, 0, 0)), taus=ak.Array([[] for _ in events]), met=met,
                       event_number=np.arange(1, len(events) + 1), weight=np.ones(len(events)), seed=0)


@pytest.fixture(scope="session")
def build():
    """An :class:`ObjectBuilder` for constructed events."""
    return ObjectBuilder()


def pytest_sessionfinish(session, exitstatus):
    """Failures make pytest exit non-zero; a selection that collects no tests does not."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK


class StandIn2018_30:
    """A stand-in for the network of ATLAS-SUSY-2018-30 (87 -> 8, batch fixed to 1 like the real
    file): ``sigmoid(weights^T x_standardised)`` per output node. Never shipped, never a physics
    number."""

    MODEL = "ANA-SUSY-2018-30_model.onnx"

    def __init__(self) -> None:
        w = np.zeros((87, 8), np.float32)
        # node 0 (Gtt): met, met_phi and the parameters
        w[82, 0], w[83, 0], w[84, 0], w[85, 0], w[86, 0] = 6.0, 0.5, 2.0, 3.0, -1.0
        w[0, 1], w[84, 1], w[86, 1] = 9.0, -1.0, 0.5  # node 1 (Gbb): leading small-R jet pT, isGtt, mLSP
        w[70, 3] = 1.0  # node 3 (unused by the SRs): leptons_pt_1, to see the padding
        self.weights = w
        self.path: Path | None = None

    def write(self, path: Path) -> bytes:
        """Write the network to ``path``; its bytes."""
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        x = helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 87])
        y = helper.make_tensor_value_info("dense_4", TensorProto.FLOAT, [1, 8])
        nodes = [helper.make_node("MatMul", ["input_1", "W"], ["z"]), helper.make_node("Sigmoid", ["z"], ["dense_4"])]
        graph = helper.make_graph(nodes, "standin", [x], [y], [numpy_helper.from_array(self.weights, "W")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        data = model.SerializeToString()
        path.write_bytes(data)
        return data


@pytest.fixture(scope="session")
def standin_network() -> StandIn2018_30:
    """The ATLAS-SUSY-2018-30 stand-in network (:class:`StandIn2018_30`)."""
    return StandIn2018_30()


@pytest.fixture
def standin(tmp_path, monkeypatch, standin_network):
    """The stand-in in a private mirror and the registry patched to accept it (its git blob id):
    ATLAS-SUSY-2018-30's network regions run. ``.path`` is the file, ``.weights`` its weights."""
    import dataclasses

    from recast import artifacts
    from recast.models import runtime

    mirror = tmp_path / "mirror" / "ANA-SUSY-2018-30"
    mirror.mkdir(parents=True)
    data = standin_network.write(mirror / StandIn2018_30.MODEL)
    real_registry = artifacts.registry

    def registry(analysis_id):
        return [dataclasses.replace(a, git_blob=artifacts.git_blob_of(data), size=len(data))
                if a.id == StandIn2018_30.MODEL else a for a in real_registry(analysis_id)]

    monkeypatch.setattr(artifacts, "registry", registry)
    shared = os.environ.get("RECAST_DATA_MIRROR") or str(SHARED / "hepdata")
    monkeypatch.setenv("RECAST_DATA_MIRROR", os.pathsep.join([str(tmp_path / "mirror"), shared]))
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    runtime._LOADED.clear()
    standin_network.path = mirror / StandIn2018_30.MODEL
    yield standin_network
    runtime._LOADED.clear()


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]
# Appended to a copy of a page: once everything has loaded, what a reader would see, as JSON.
PAGE_CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const colour = cls => {
    const td = document.querySelector('td.' + cls);
    return td ? getComputedStyle(td).color : null;
  };
  const report = {images: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    widths: imgs.map(i => i.naturalWidth), tables: document.querySelectorAll('table').length,
    cells: document.querySelectorAll('td').length, h1: document.querySelector('h1').textContent,
    strong: [...document.querySelectorAll('strong')].map(e => e.textContent),
    classes: Object.fromEntries(['good', 'bad', 'unsure', 'num'].map(
      c => [c, document.querySelectorAll('td.' + c).length])),
    colours: Object.fromEntries(['good', 'bad', 'unsure'].map(c => [c, colour(c)]))};
  const pre = document.createElement('pre');
  pre.id = 'recast-check';
  pre.textContent = JSON.stringify(report);
  document.body.appendChild(pre);
});
</script>"""


def chromium_path() -> str:
    """Debian's chromium; a browser test is skipped without it, except where RECAST_REQUIRE_CHROMIUM
    is set (.ci/run sets it, having installed chromium): there a missing browser fails."""
    import shutil

    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("RECAST_REQUIRE_CHROMIUM"):
            pytest.fail("RECAST_REQUIRE_CHROMIUM is set but Debian's chromium is not installed (.ci/run installs it)")
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    return found


def look_at_page(page_html: str, tmp_path: Path, name: str) -> dict:
    """Load a copy of the page, with :data:`PAGE_CHECK`, in headless Chromium; what it saw."""
    import json
    import re
    import subprocess

    page = tmp_path / f"{name}.html"
    page.write_text(page_html.replace("</body>", PAGE_CHECK + "</body>"))
    proc = subprocess.run([chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / ('profile-' + name)}",
                           "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="recast-check">(.*?)</pre>', proc.stdout)
    assert found, f"chromium showed no page (exit {proc.returncode}): {proc.stderr[-500:]}"
    return json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="session")
def page_in_chromium():
    """``page_in_chromium(html, tmp_path, name)``: a standalone page loaded in headless Chromium,
    what a reader would see (images loaded, tables, cells, headings, verdict colours)."""
    return look_at_page


@pytest.fixture(scope="session")
def chromium():
    """``chromium()``: the path of Debian's chromium (skip, or fail under RECAST_REQUIRE_CHROMIUM)."""
    return chromium_path


@pytest.fixture(scope="session")
def tmva_numpy():
    """``tests/tmva_numpy.py``: the independent numpy TMVA reader/evaluator used as a reference."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("tmva_numpy", Path(__file__).parent / "tmva_numpy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def write_lhe(path: Path, slha: Path, nevents: int, seed: int) -> float:
    """Write ``nevents`` parton-level gluino-pair events (Pythia's hard process, gluinos
    undecayed) as a Les Houches Event file, as MadGraph would hand them to a shower; returns the
    cross section written into its init block (pb). Strategy 3: unit weights."""
    import pythia8mc

    from recast.events._capture import captured_stdout
    from recast.events.pythia import _xmldoc

    with captured_stdout():
        pythia = pythia8mc.Pythia(_xmldoc(), False)
        for s in ("Beams:eCM = 13000", "SUSY:gg2gluinogluino = on", "SUSY:qqbar2gluinogluino = on",
                  f"SLHA:file = {slha}", "PartonLevel:all = off", "HadronLevel:all = off",
                  "ProcessLevel:resonanceDecays = off", "Next:numberCount = 0", "Random:setSeed = on",
                  f"Random:seed = {seed}"):
            assert pythia.readString(s)
        assert pythia.init()
        events = []
        while len(events) < nevents:
            if not pythia.next():
                continue
            proc, info = pythia.process, pythia.infoPython()
            lines = []
            for i in range(3, proc.size()):  # entries 0-2: the system and the two beams
                q = proc[i]
                status = -1 if q.status() < 0 else 1
                mothers = [m - 2 if m > 2 else 0 for m in (q.mother1(), q.mother2())]
                lines.append(f"{q.id():9d} {status:2d} {mothers[0]:3d} {mothers[1]:3d} {q.col():4d} {q.acol():4d} "
                             f"{q.px():+.10e} {q.py():+.10e} {q.pz():+.10e} {q.e():.10e} {q.m():.10e} 0. 9.")
            events.append(f"<event>\n{len(lines)} 1 1.0 {info.QFac():.6e} {info.alphaEM():.6e} {info.alphaS():.6e}\n"
                          + "\n".join(lines) + "\n</event>\n")
        xs_pb = pythia.infoPython().sigmaGen() * 1e9
    with open(path, "w") as f:
        f.write('<LesHouchesEvents version="3.0">\n<header>\n</header>\n<init>\n2212 2212 6.5e3 6.5e3 0 0 0 0 3 1\n')
        f.write(f"{xs_pb:.8e} {xs_pb / 10:.8e} 1.0 1\n</init>\n")
        f.writelines(events)
        f.write("</LesHouchesEvents>\n")
    return xs_pb


@pytest.fixture(scope="session")
def gtt_lhe(gtt_slha, tmp_path_factory) -> tuple[Path, float]:
    """(80 parton-level Gtt(2100, 1) gluino-pair events as LHE, the init block's cross section in pb)."""
    path = tmp_path_factory.mktemp("lhe") / "gtt.lhe"
    return path, write_lhe(path, gtt_slha, 80, seed=4)


@pytest.fixture
def without_models(tmp_path, monkeypatch):
    """No ATLAS model anywhere: an empty mirror, an empty cache, downloads off; the models loaded
    by earlier tests forgotten before and after."""
    from recast.models import runtime

    runtime._LOADED.clear()
    monkeypatch.setenv("RECAST_DATA_MIRROR", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RECAST_OFFLINE", "1")
    yield
    runtime._LOADED.clear()
