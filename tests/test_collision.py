"""The collision an event file shows (recast.events.sanity): learnt from the first batch, compared
with what an analysis needs, with hand-computed invariant masses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recast.errors import EventFileError
from recast.events import HepMCSource
from recast.events.record import GenRecord
from recast.events.sanity import CollisionInfo, check_collision, checked_batches, collision_from_record

HAND3 = Path(__file__).parent / "data" / "handmade.hepmc3"
HAND2 = Path(__file__).parent / "data" / "handmade.hepmc2"


def _record(events: list[list[tuple[int, int, tuple[float, float, float, float]]]]) -> GenRecord:
    """Events as lists of (pid, status, (px, py, pz, E)); no parent links."""
    flat = [p for ev in events for p in ev]
    status = np.array([s for _, s, _ in flat], np.int32)
    return GenRecord(event_offsets=np.concatenate([[0], np.cumsum([len(ev) for ev in events])]),
                     pid=np.array([p for p, _, _ in flat], np.int32), final=status == 1, beam=status == 4,
                     p4=np.array([m for _, _, m in flat], np.float64).reshape(-1, 4),
                     parent_offsets=np.zeros(len(flat) + 1, np.int64), parents=np.zeros(0, np.int64),
                     weight=np.ones(len(events)), event_number=np.arange(len(events)), status=status)


def _info(events, unit="GEV") -> CollisionInfo:
    return collision_from_record(_record(events), file_unit=unit, unit_used=unit)


PP13 = [(2212, 4, (0.0, 0.0, 6500.0, 6500.0)), (2212, 4, (0.0, 0.0, -6500.0, 6500.0))]


@pytest.mark.parametrize("path", [HAND3, HAND2], ids=["hepmc3", "hepmc2"])
def test_the_hand_written_files_show_13_tev_pp(path):
    src = HepMCSource(path, chunk_size=1)
    list(src)
    # event 1 (the first batch) is in MeV: beams of 6.5e6 MeV along +-z, so sqrt(s) = 13000 GeV
    assert src.collision == CollisionInfo(beams=(2212, 2212), beam_energies_gev=(6500.0, 6500.0), sqrt_s_gev=13000.0,
                                          from_final_state=False, momentum_unit="MEV", momentum_unit_used="MEV",
                                          n_events=1, consistent=True)
    assert check_collision(src.collision, sqrt_s_gev=13000.0, source="f") == []


def test_sqrt_s_of_beams_in_any_frame():
    # a 7 TeV proton on a proton at rest: s = 2 m^2 + 2 E m
    m = 0.938272
    fixed = _info([[(2212, 4, (0.0, 0.0, np.sqrt(7000.0 ** 2 - m * m), 7000.0)), (2212, 4, (0.0, 0.0, 0.0, m))]])
    assert fixed.sqrt_s_gev == pytest.approx(np.sqrt(2 * m * m + 2 * 7000.0 * m), rel=1e-12)
    # asymmetric beams (HERA: 27.6 GeV e+ on 920 GeV p): sqrt(4 E1 E2) for massless beams
    hera = _info([[(-11, 4, (0.0, 0.0, -27.6, 27.6)), (2212, 4, (0.0, 0.0, 920.0, 920.0))]])
    assert hera.beams == (-11, 2212) and hera.sqrt_s_gev == pytest.approx(np.sqrt(4 * 27.6 * 920.0))
    assert hera.describe() == "e+ p beams of 27.6 GeV and 920 GeV (sqrt(s) = 318.697 GeV, momenta read in GEV)"


def test_without_beams_the_final_state_gives_sqrt_s():
    complete = _info([[(13, 1, (3.0, 4.0, 6000.0, 6000.1)), (-13, 1, (-3.0, -4.0, -4000.0, 4000.2)),
                       (2112, 1, (0.0, 0.0, -2000.0, 2999.7))]])
    assert complete.from_final_state and complete.beams is None
    assert complete.sqrt_s_gev == pytest.approx(13000.0)  # E = 13000, p = 0
    assert check_collision(complete, sqrt_s_gev=13000.0, source="f") == []
    partial = _info([[(13, 1, (30.0, 40.0, 60.0, 86.0)), (-13, 1, (-30.0, -40.0, -60.0, 86.0))]])  # 172 GeV
    assert check_collision(partial, sqrt_s_gev=13000.0, source="f", needed_by="ANA") == [
        "f: cannot tell the collision: no beam particles (status 4); the final-state particles' invariant mass "
        "gives sqrt(s) = 172 GeV, less than the 13000 GeV ANA needs (a record without the beam remnants?)"]
    more = _info([[(13, 1, (0.0, 0.0, 7000.0, 7000.0)), (-13, 1, (0.0, 0.0, -7000.0, 7000.0))]])
    with pytest.raises(EventFileError, match="sqrt\\(s\\) = 14000 GeV, but ANA needs p p collisions at sqrt\\(s\\) = "
                                             "13000 GeV; give --allow-beam-mismatch"):
        check_collision(more, sqrt_s_gev=13000.0, source="f", needed_by="ANA")


def test_a_nucleus_written_nucleon_by_nucleon():
    """EPOS (pyhepmc's test file eposlhc_large.dat, an air-shower generator) writes a proton on
    eight nucleons at 5 TeV each: nine status-4 lines. Not a collision of two beam particles:
    refused, with the whole system's invariant mass, sqrt(45000^2 - 35000^2) GeV."""
    nucleons = [(2212, 4, (0.0, 0.0, -5000.0, 5000.0))] * 8
    event = [(2212, 4, (0.0, 0.0, 5000.0, 5000.0)), *nucleons, (211, 1, (0.0, 0.0, -35000.0, 45000.0))]
    info = _info([event, event])
    assert (info.beams, info.beam_count, info.from_final_state) == (None, 9, True)
    assert info.sqrt_s_gev == pytest.approx(np.sqrt(45000.0 ** 2 - 35000.0 ** 2))
    with pytest.raises(EventFileError, match=r"^f: 9 beam particles \(status 4\) per event, not a pair; the "
                                             r"final-state particles' invariant mass gives sqrt\(s\) = 28284.3 GeV"):
        check_collision(info, sqrt_s_gev=13000.0, source="f")
    varying = _info([event, PP13 + [(211, 1, (0.0, 0.0, 0.0, 13000.0))]])
    assert varying.beam_count == -1 and not varying.consistent
    assert "a number of beam particles (status 4) that varies from event to event" in varying.describe()


def test_mismatches():
    pp = _info([PP13])
    assert check_collision(pp, sqrt_s_gev=13000.0 * 1.009, source="f") == []  # within 1 %
    with pytest.raises(EventFileError, match=r"^f: p p beams of 6500 GeV and 6500 GeV \(sqrt\(s\) = 13000 GeV, momenta "
                                             r"read in GEV\), but the analysis needs p p collisions at sqrt\(s\) = "
                                             r"13600 GeV; give --allow-beam-mismatch to run anyway$"):
        check_collision(pp, sqrt_s_gev=13600.0, source="f")
    assert check_collision(pp, sqrt_s_gev=13600.0, source="f", allow_mismatch=True) == [
        "f: p p beams of 6500 GeV and 6500 GeV (sqrt(s) = 13000 GeV, momenta read in GEV), but the analysis needs p p "
        "collisions at sqrt(s) = 13600 GeV (running anyway: --allow-beam-mismatch)"]
    ppbar = _info([[(2212, 4, (0.0, 0.0, 980.0, 980.0)), (-2212, 4, (0.0, 0.0, -980.0, 980.0))]])
    with pytest.raises(EventFileError, match="p pbar beams"):
        check_collision(ppbar, sqrt_s_gev=1960.0, source="f")
    assert check_collision(ppbar, sqrt_s_gev=1960.0, beams=(-2212, 2212), source="f") == []
    mixed = _info([PP13, [(2212, 4, (0.0, 0.0, 4000.0, 4000.0)), (2212, 4, (0.0, 0.0, -4000.0, 4000.0))], PP13])
    assert mixed.sqrt_s_gev == 13000.0 and not mixed.consistent  # the median, and a warning
    assert check_collision(mixed, sqrt_s_gev=13000.0, source="f") == [
        "f: the first 3 events do not all show the same beams and sqrt(s)"]
    nothing = _info([[(21, 2, (0.0, 0.0, 1.0, 1.0))]])
    assert nothing.sqrt_s_gev is None
    assert check_collision(nothing, sqrt_s_gev=13000.0, source="f") == [
        "f: cannot tell the collision (no beam particles (status 4) and no final-state particles); the analysis "
        "needs p p collisions at sqrt(s) = 13000 GeV"]


def test_unit_labels_that_look_wrong():
    gev_as_mev = collision_from_record(_record([[(2212, 4, (0.0, 0.0, 6.5, 6.5)), (2212, 4, (0.0, 0.0, -6.5, 6.5))]]),
                                       file_unit="MEV", unit_used="MEV")
    with pytest.raises(EventFileError, match=r"the momentum unit looks wrong \(the file says MEV\): in GEV the file's "
                                             r"sqrt\(s\) would be 13000 GeV, give --momentum-unit GEV"):
        check_collision(gev_as_mev, sqrt_s_gev=13000.0, source="f")
    mev_as_gev = _info([[(2212, 4, (0.0, 0.0, 6.5e6, 6.5e6)), (2212, 4, (0.0, 0.0, -6.5e6, 6.5e6))]])
    with pytest.raises(EventFileError, match=r"\(the file says GEV\): in MEV the file's sqrt\(s\) would be 13000 GeV, "
                                             r"give --momentum-unit MEV"):
        check_collision(mev_as_gev, sqrt_s_gev=13000.0, source="f")
    # without beams, from the final state: 13 GeV of muons labelled MeV
    no_beams = collision_from_record(_record([[(13, 1, (0.0, 0.0, 6.5, 6.5)), (-13, 1, (0.0, 0.0, -6.5, 6.5))]]),
                                     file_unit="MEV", unit_used="MEV")
    with pytest.raises(EventFileError, match=r"^f: no beam particles \(status 4\); the final-state particles' "
                                             r"invariant mass gives sqrt\(s\) = 13 GeV, but .*--momentum-unit GEV"):
        check_collision(no_beams, sqrt_s_gev=13000.0, source="f")
    overridden = collision_from_record(_record([[(2212, 4, (0.0, 0.0, 6.5e6, 6.5e6)),
                                                 (2212, 4, (0.0, 0.0, -6.5e6, 6.5e6))]]),
                                       file_unit="MEV", unit_used="GEV")
    with pytest.raises(EventFileError, match=r"\(read as GEV\): in MEV the file's sqrt\(s\) would be 13000 GeV"):
        check_collision(overridden, sqrt_s_gev=13000.0, source="f")


def test_checked_batches_checks_before_handing_out_the_first_batch(tmp_path):
    path = tmp_path / "ee.hepmc3"
    path.write_text(HAND3.read_text().replace("P 1 0 2212 0.0 0.0 6500000.0", "P 1 0 11 0.0 0.0 6500000.0")
                    .replace("P 2 0 2212 0.0 0.0 -6500000.0", "P 2 0 -11 0.0 0.0 -6500000.0"))
    src = HepMCSource(path, chunk_size=1)
    batches = checked_batches(src, [("ANA", 13000.0)])
    with pytest.raises(EventFileError, match="e- e\\+ beams of 6500 GeV and 6500 GeV"):
        next(batches)
    src = HepMCSource(path, chunk_size=1)
    assert len(list(checked_batches(src, [("ANA", 13000.0)], allow_mismatch=True))) == 2
    assert src.notes == [f"{path}: e- e+ beams of 6500 GeV and 6500 GeV (sqrt(s) = 13000 GeV, momenta read in MEV), "
                         f"but ANA needs p p collisions at sqrt(s) = 13000 GeV (running anyway: "
                         f"--allow-beam-mismatch)"]


def test_sources_without_collision_pass():
    class Generated(list):
        notes: list[str] = []

    assert list(checked_batches(Generated([1, 2]), [("ANA", 13000.0)])) == [1, 2]
