"""The simplified-model templates: each one generates the decay chain it names (checked particle by
particle on a few dozen Pythia events, read back from the HepMC file recast writes), its mass
relations hold, its cross section is the table's value, and impossible points are one-line errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyhepmc
import pytest

from recast import slha, xsec
from recast.cli import main
from recast.errors import RecastError, SLHAError
from recast.events import PROCESSES, PythiaConfig, PythiaSource
from recast.scan.grid import load_grid

GLUINO, N1, C1, STOP = 1000021, 1000022, 1000024, 1000006
NEVENTS = 24
T, B, S = 6, 5, 3


def _decays(path: Path) -> tuple[list[tuple[int, tuple[int, ...]]], Counter]:
    """Every sparticle decay in a HepMC file as (parent id, sorted daughter ids), taken at the last
    copy of the parent (the one whose end vertex makes no particle of its own id); and the
    final-state sparticles."""
    out, final = [], Counter()
    with pyhepmc.open(path) as f:
        for event in f:
            for p in event.particles:
                if not 1000000 <= abs(p.pid) < 3000000:
                    continue
                v = p.end_vertex
                if v is None:
                    final[p.pid] += 1
                    continue
                ids = [q.pid for q in v.particles_out]
                if p.pid in ids:
                    continue  # a shower copy, not the decay
                assert len(v.particles_in) == 1, "a decay vertex with more than the decaying sparticle"
                out.append((p.pid, tuple(sorted(ids))))
    return out, final


def _generate(tmp: Path, kind: str, m_parent: float, m_lsp: float, seed: int = 7) -> Path:
    card = tmp / f"{kind}.slha"
    card.write_text(slha.simplified_model(kind, m_parent, m_lsp))
    out = tmp / f"{kind}.hepmc"
    config = PythiaConfig(slha=card, process=slha.TEMPLATES[kind].process, nevents=NEVENTS, seed=seed)
    for _ in PythiaSource(config, chunk_size=NEVENTS, hepmc_out=out):
        pass
    return out


def _cc(ids: tuple[int, ...]) -> tuple[int, ...]:
    """The charge conjugate of a final state (self-conjugate ids: gluino, neutralino, W0 ...)."""
    selfconj = {GLUINO, N1, 21, 22, 23, 25}
    return tuple(sorted(i if i in selfconj else -i for i in ids))


def _both(*channels: tuple[int, ...]) -> set[tuple[int, ...]]:
    return {tuple(sorted(c)) for c in channels} | {_cc(c) for c in channels}


LIGHT_Q = (1, 2, 3, 4)
T5WW_GLUINO = _both((2, -1, -C1), (4, -3, -C1))  # u dbar chargino-, c sbar chargino- and their c.c.
W_STAR = {(N1, -1, 2), (N1, -3, 4), (N1, -11, 12), (N1, -13, 14), (N1, -15, 16)}  # chargino+ -> N1 f fbar'
TBS = _both((T, B, S))
SBB = {(-S, -B, -B)}  # chargino+ -> sbar bbar bbar
LQD = _both((-11, -2, 1), (11, 2, -1), (-13, -2, 1), (13, 2, -1), (-12, -1, 1), (12, 1, -1), (-14, -1, 1), (14, 1, -1))
UDSC_SQUARK_DECAY = {1000002: (1, C1), 2000002: (1, C1), 1000001: (2, -C1), 2000001: (2, -C1),
                     1000004: (3, C1), 2000004: (3, C1), 1000003: (4, -C1), 2000003: (4, -C1)}

# template, masses, {parent id: allowed sorted daughters (the antiparticle's are the conjugates)},
# {parent id: decays expected in NEVENTS events}, sparticles allowed in the final state
CHAINS = [
    ("t5ww", (2000, 1000), {GLUINO: T5WW_GLUINO, C1: {(N1, 24)}}, {GLUINO: 2, C1: 2}, {N1}),
    ("t5ww", (1500, 1400), {GLUINO: T5WW_GLUINO, C1: W_STAR}, {GLUINO: 2, C1: 2}, {N1}),  # W* below m(W)
    ("t6ww", (1200, 400), {**{k: {tuple(sorted(v))} for k, v in UDSC_SQUARK_DECAY.items()}, C1: {(N1, 24)}},
     {"squark": 2, C1: 2}, {N1}),
    ("t2tt", (1000, 300), {STOP: {(T, N1)}}, {STOP: 2}, {N1}),
    ("rpv-gtt-bino", (2000, 500), {GLUINO: {(-T, T, N1)}, N1: TBS}, {GLUINO: 2, N1: 2}, set()),
    ("rpv-gtt-higgsino", (2000, 500),
     {GLUINO: _both((N1, T, -T), (C1, B, -T), (N1, B, -B)), N1: TBS, C1: SBB}, {GLUINO: 2, "lsp": 2}, set()),
    ("rpv-stop-bino", (1000, 400), {STOP: {(T, N1)}, N1: TBS}, {STOP: 2, N1: 2}, set()),
    ("rpv-stop-higgsino", (1000, 400), {STOP: {(T, N1), (B, C1)}, N1: TBS, C1: SBB}, {STOP: 2, "lsp": 2}, set()),
    ("rpv-gtbs", (1600, 800), {GLUINO: _both((-T, STOP)), STOP: {(-B, -S)}}, {GLUINO: 2, STOP: 2}, set()),
    ("rpv-lqd", (1600, 300), {GLUINO: {(-q, q, N1) for q in LIGHT_Q}, N1: LQD}, {GLUINO: 2, N1: 2}, set()),
    ("gtb", (1500, 300), {GLUINO: _both((T, -B, -C1)), C1: W_STAR - {(N1, -3, 4)}}, {GLUINO: 2, C1: 2}, {N1}),
]


@pytest.mark.parametrize("kind, masses, allowed, per_event, final_ok", CHAINS,
                         ids=[f"{c[0]}-{c[1][0]}-{c[1][1]}" for c in CHAINS])
def test_each_template_generates_its_decay_chain(kind, masses, allowed, per_event, final_ok, tmp_path):
    decays, final = _decays(_generate(tmp_path, kind, *masses))
    for pid, ids in decays:
        table = allowed.get(abs(pid))
        assert table is not None, f"{kind}: unexpected decay of {pid} to {ids}"
        assert (ids if pid > 0 else _cc(ids)) in {tuple(sorted(c)) for c in table}, f"{kind}: {pid} -> {ids}"
    n = Counter(abs(pid) for pid, _ in decays)
    for who, k in per_event.items():
        if who == "squark":  # every squark decays, none of them a sbottom
            assert sum(n[q] for q in UDSC_SQUARK_DECAY) == k * NEVENTS and 1000005 not in n and 2000005 not in n
        elif who == "lsp":  # each cascade ends in one RPV decay of a neutralino1 or a chargino1
            assert n[N1] + n[C1] == k * NEVENTS and n[N1] > 0 and n[C1] > 0
        else:
            assert n[who] == k * NEVENTS, (who, n)
    assert {abs(p) for p in final} <= final_ok  # RPV: no sparticle leaves the event
    if final_ok:
        assert final[N1] == 2 * NEVENTS


def test_rpv_neutralino_gives_three_quarks_and_its_top_decays_to_b_w(tmp_path):
    """neutralino1 -> t b s and its conjugate each about half the time (a Majorana LSP); the top
    of every such decay ends, after its shower copies, in b W."""
    out = _generate(tmp_path, "rpv-stop-bino", 1000, 400, seed=3)
    lsp, top_ends = [], []
    with pyhepmc.open(out) as f:
        for event in f:
            for p in event.particles:
                if p.pid != N1 or p.end_vertex is None or N1 in [q.pid for q in p.end_vertex.particles_out]:
                    continue
                daughters = p.end_vertex.particles_out
                lsp.append(tuple(sorted(q.pid for q in daughters)))
                top = next(q for q in daughters if abs(q.pid) == T)
                while any(q.pid == top.pid for q in top.end_vertex.particles_out):  # follow the shower copies
                    top = next(q for q in top.end_vertex.particles_out if q.pid == top.pid)
                top_ends.append((top.pid, sorted(q.pid for q in top.end_vertex.particles_out)))
    assert len(lsp) == 2 * NEVENTS and set(lsp) == {(S, B, T), (-T, -B, -S)}
    assert 0.25 < lsp.count((S, B, T)) / len(lsp) < 0.75
    assert all(ids == ([B, 24] if pid == T else [-24, -B]) for pid, ids in top_ends), top_ends


def test_one_step_mass_relation_in_the_card_and_the_events(tmp_path):
    for kind, parent_ids in (("t5ww", (GLUINO,)), ("t6ww", tuple(UDSC_SQUARK_DECAY))):
        for m_parent, m_lsp in ((2000, 1000), (1400, 800), (1000, 24)):
            spec = slha.template_spectrum(kind, m_parent, m_lsp)
            assert spec.masses[C1] == (m_parent + m_lsp) / 2
            assert all(spec.masses[p] == m_parent for p in parent_ids) and spec.masses[N1] == m_lsp
        assert slha.template_spectrum(kind, 1400, 800, 1100).masses[C1] == 1100  # the CheckMATE benchmarks
    assert slha.template_spectrum("gtb", 1500, 300).masses[C1] == 302
    for kind in ("rpv-gtt-higgsino", "rpv-stop-higgsino"):
        assert slha.template_spectrum(kind, 1500, 600).masses[C1] == 600  # degenerate higgsinos
    assert slha.template_spectrum("rpv-gtbs", 1600, 800).masses[STOP] == 800  # the stop is the LSP
    # the generated chargino has the card's mass: (2000 + 1000) / 2
    card = tmp_path / "t5ww.slha"
    card.write_text(slha.simplified_model("t5ww", 2000, 1000))
    out = tmp_path / "t5ww.hepmc"
    for _ in PythiaSource(PythiaConfig(slha=card, nevents=5, seed=2), chunk_size=5, hepmc_out=out):
        pass
    masses = []
    with pyhepmc.open(out) as f:
        for event in f:
            masses += [p.momentum.m() for p in event.particles if abs(p.pid) == C1]
    assert masses and all(abs(m - 1500.0) < 0.5 for m in masses)


def test_every_card_channel_is_open_at_pythias_masses(tmp_path):
    """Pythia drops a channel that is closed at its masses and rescales the others. gtb listed
    chargino1 -> neutralino1 c sbar at a 2 GeV splitting (m_c + m_s = 2.0 GeV), so its stated
    W* branching ratios (c sbar 1/3) were not the generated ones (none)."""
    import pythia8mc

    from recast.events.pythia import _xmldoc

    pdata = pythia8mc.Pythia(_xmldoc(), False).particleData
    points = {"t5ww": [(2000, 1000), (1500, 1400), (800, 790)], "t6ww": [(1200, 400), (700, 650)],
              "rpv-gtt-bino": [(1600, 180), (2400, 2040)], "rpv-stop-bino": [(650, 180), (1500, 1320)],
              "rpv-gtbs": [(1000, 800), (2000, 400)], "gtb": [(1500, 300), (2000, 1)]}
    for kind in slha.SIMPLIFIED_MODELS:
        for m_parent, m_lsp in points.get(kind, [(1600, 400)]):
            card = tmp_path / f"{kind}_{m_parent}_{m_lsp}.slha"
            card.write_text(slha.simplified_model(kind, m_parent, m_lsp))
            doc = slha.read(card)
            for parent, table in doc.decays.items():
                if not table.decays:
                    continue
                assert sum(d.br for d in table.decays) == pytest.approx(1.0, abs=1e-6)
                for d in table.decays:
                    need = sum(slha.mass(doc, abs(i)) if abs(i) > 1000000 else pdata.m0(abs(i)) for i in d.ids)
                    assert need < slha.mass(doc, parent), (kind, m_parent, m_lsp, parent, d.ids)


def test_the_kinematic_checks_use_pythias_masses():
    import pythia8mc

    from recast.events.pythia import _xmldoc

    pdata = pythia8mc.Pythia(_xmldoc(), False).particleData
    assert {pid: pdata.m0(pid) for pid in slha.SM_MASS} == slha.SM_MASS


# template -> (parent mass on the table's grid, hand-copied LHC SUSY XS WG 13 TeV NNLOapprox+NNLL
# value in fb, uncertainty in fb)
TABLE_VALUES = {
    "t5ww": (2000, 1.01, 0.196), "rpv-gtt-bino": (2000, 1.01, 0.196), "rpv-gtt-higgsino": (2200, 0.356, 0.0777),
    "rpv-gtbs": (1600, 8.87, 1.41), "rpv-lqd": (1500, 15.7, 2.38),
    "t2tt": (1000, 6.83, 0.765), "rpv-stop-bino": (1000, 6.83, 0.765), "rpv-stop-higgsino": (1350, 0.646, 0.0955),
    "t6ww": (1200, 0.8 * 17.1, 0.8 * 2.23), "sqq": (1200, 17.1, 2.23),
}


@pytest.mark.parametrize("kind", sorted(TABLE_VALUES))
def test_the_cross_section_of_a_template_point_is_its_tables_value(kind, tmp_path):
    m_parent, value, unc = TABLE_VALUES[kind]
    card = tmp_path / "card.slha"
    card.write_text(slha.simplified_model(kind, m_parent, 180 if kind.startswith("rpv") else 100))
    x = xsec.resolve(slha_doc=slha.read(card), process=slha.TEMPLATES[kind].process)
    assert x.kind == "table"
    assert x.value_fb == pytest.approx(value, rel=1e-9)
    assert x.uncertainty_fb == pytest.approx(unc, rel=1e-9)
    assert f"m = {m_parent:g} GeV" in x.source
    if kind == "t6ww":
        assert "x 0.8 for eight of its ten degenerate squarks" in x.source


def test_every_template_names_a_process_with_a_cross_section_table():
    for kind, t in slha.TEMPLATES.items():
        assert t.process in PROCESSES, kind
        assert xsec.table(t.process) is not None, kind
        assert slha.SIMPLIFIED_PROCESS[kind] == t.process and slha.SIMPLIFIED_PARENT[kind] == t.parent


BAD = [
    ("t2tt", 400, 300, None,
     "t2tt: the decay stop1 -> t neutralino1 is closed at m(stop1) = 400 GeV (needs more than 473 GeV)"),
    ("rpv-gtt-bino", 1000, 150, None, "the decay neutralino1 -> t b s is closed at m(neutralino1) = 150 GeV"),
    ("rpv-gtt-bino", 600, 300, None,
     "the decay gluino -> t tbar neutralino1 is closed at m(gluino) = 600 GeV (needs more than 646 GeV)"),
    ("rpv-stop-bino", 650, 500, None, "the decay stop1 -> t neutralino1 is closed"),
    ("rpv-gtbs", 1000, 900, None, "the decay gluino -> tbar stop1 is closed"),
    ("t5ww", 2000, 1000, 2500, "t5ww: need m_LSP < m_chargino < m_gluino, got m_gluino=2000, m_chargino=2500"),
    ("t6ww", 2000, 1000, 900, "t6ww: need m_LSP < m_chargino < m_squark"),
    ("t5ww", 2000, 1999.5, None, "the decay gluino -> u dbar chargino1- is closed"),
    ("gtt", 2000, 100, 1500, "gtt: m_chargino applies to t5ww, t6ww only"),
    ("t6ww", 1200, 1200, None, "t6ww: need 0 <= m_LSP < m_squark < 5000 GeV"),
    ("t5ww", 6000, 100, None, "need 0 <= m_LSP < m_gluino < 5000 GeV"),
    ("t5ww", float("nan"), 100, None, "t5ww: m_gluino must be a finite mass in GeV, got nan"),
    ("t1", 1000, 100, None, "unknown simplified model 't1'; known: gtt, gbb"),
]


@pytest.mark.parametrize("kind, m_parent, m_lsp, m_chargino, message", BAD, ids=[b[4][:40] for b in BAD])
def test_impossible_points_are_one_line_errors(kind, m_parent, m_lsp, m_chargino, message):
    with pytest.raises(SLHAError) as exc:
        slha.simplified_model(kind, m_parent, m_lsp, m_chargino)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def _cli(capfd, *args: str) -> tuple[int, list[str], str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capfd.readouterr()
    return code, err.splitlines(), out


@pytest.mark.parametrize("args, message", [
    (["t2tt", "--m-stop", "400", "--m-lsp", "300"], "t2tt: the decay stop1 -> t neutralino1 is closed"),
    (["t2tt", "--m-gluino", "1000", "--m-lsp", "300"],
     "make-slha t2tt: give the stop mass once, with --m-stop or --m-parent"),
    (["rpv-stop-bino", "--m-stop", "1000", "--m-lsp", "400", "--m-chargino", "700"],
     "m_chargino applies to t5ww, t6ww only"),
])
def test_make_slha_refuses_bad_points_in_one_line(args, message, capfd, tmp_path):
    code, err, out = _cli(capfd, "make-slha", *args, "-o", str(tmp_path / "c.slha"))
    assert code == 2 and out == "" and len(err) == 1, err
    assert err[0].startswith("recast: error: ") and message in err[0]
    assert not (tmp_path / "c.slha").exists()


def test_make_slha_writes_the_template_card(capfd, tmp_path):
    card = tmp_path / "t5ww.slha"
    code, err, _ = _cli(capfd, "make-slha", "t5ww", "--m-gluino", "1400", "--m-lsp", "800", "--m-chargino", "1100",
                        "-o", str(card))
    assert code == 0, err
    doc = slha.read(card)
    assert (slha.mass(doc, GLUINO), slha.mass(doc, C1), slha.mass(doc, N1)) == (1400, 1100, 800)
    assert [(d.br, sorted(d.ids)) for d in doc.decays[C1].decays] == [(1.0, [24, N1])]


def test_a_template_grid_skips_closed_points_and_says_why(tmp_path):
    spec = tmp_path / "grid.yaml"
    spec.write_text("{model: rpv-stop-bino, name: s, m_stop: [700, 1000], m_lsp: [150, 400, 600, 900]}\n")
    grid = load_grid(spec)
    assert [p.name for p in grid.points] == ["s_700_400", "s_1000_400", "s_1000_600"]
    assert grid.process == "stop-pair" and grid.parent == "stop"
    tbs = ("rpv-stop-bino: the decay neutralino1 -> t b s is closed at m(neutralino1) = 150 GeV "
           "(needs more than 178.3 GeV)")
    top = "rpv-stop-bino: the decay stop1 -> t neutralino1 is closed at m(stop1) = {} GeV (needs more than {} GeV)"
    assert grid.notes == [f"skipped s_700_150: {tbs}", f"skipped s_700_600: {top.format(700, 773)}",
                          "skipped s_700_900: m_lsp = 900 GeV is not below m_stop = 700 GeV",
                          f"skipped s_1000_150: {tbs}", f"skipped s_1000_900: {top.format(1000, 1073)}"]
    spec.write_text("{model: t2tt, m_stop: 400, m_lsp: [250, 300]}\n")
    with pytest.raises(RecastError, match=r"grid.yaml: the grid has no usable point \(e.g. t2tt: the decay stop1"):
        load_grid(spec)
    spec.write_text("{model: t2tt, m_gluino: 1000, m_lsp: 300}\n")
    with pytest.raises(RecastError, match="model t2tt has a stop parent: give m_stop"):
        load_grid(spec)


def test_a_card_run_with_the_wrong_process_names_the_right_one(tmp_path):
    """`recast run` defaults to gluino-pair; a stop or t6ww card says which process it is for."""
    from recast.events.pythia import PROCESSES, get_process

    for kind, right in (("rpv-stop-bino", "stop-pair"), ("t6ww", "squark-pair-udsc")):
        card = tmp_path / f"{kind}.slha"
        card.write_text(slha.simplified_model(kind, 1000, 400))
        with pytest.raises(SLHAError) as exc:
            slha.check_process(slha.read(card), card, get_process("gluino-pair"), PROCESSES)
        assert str(exc.value) == (f"{card}: no DECAY block with decay channels for 1000021, needed for --process "
                                  f"gluino-pair; the card has the decays for --process {right}")
        slha.check_process(slha.read(card), card, get_process(right))
