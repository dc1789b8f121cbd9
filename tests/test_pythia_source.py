"""Pythia 8 in-process: reproducibility, what the batch holds, and the HepMC file it writes."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from recast.errors import RecastError, SLHAError
from recast.events import FROM_BSM, PythiaConfig, PythiaSource




def generate(slha, nevents, seed, chunk_size=1000, **kw):
    src = PythiaSource(PythiaConfig(slha=slha, nevents=nevents, seed=seed), chunk_size=chunk_size, **kw)
    return ak.concatenate(list(src)), src


def test_same_seed_same_events_whatever_the_chunking(gtt_sample, gtt_slha, assert_same_batches):
    """The fixture ran seed 11 in chunks of 50: a fresh run of 20 events in chunks of 8 repeats
    its first 20 events exactly."""
    batch, src = generate(gtt_slha, 20, seed=11, chunk_size=8)
    assert src.n_generated == 20
    assert_same_batches(batch, gtt_sample[0][:20])


def test_a_chunk_made_in_parts_is_the_chunk_made_at_once(gtt_sample, gtt_slha, monkeypatch):
    """Pythia makes a chunk in parts of GENERATION_BATCH events (memory): a 30-event chunk made
    in parts of 8 (8, 8, 8, 6) holds exactly the fixture's first 30 events (made in chunks of 50
    at once), field by field, as one packed array (list offsets, as a batch made at once)."""
    from recast.events import pythia

    monkeypatch.setattr(pythia, "GENERATION_BATCH", 8)
    (chunk,) = list(PythiaSource(PythiaConfig(slha=gtt_slha, nevents=30, seed=11), chunk_size=30))
    reference = gtt_sample[0][:30]
    assert len(chunk) == 30
    assert ak.to_list(chunk) == ak.to_list(reference)
    assert ak.to_packed(chunk).layout.is_equal_to(chunk.layout)
    assert chunk.layout.content("particles").offsets.data.tolist() == ak.to_numpy(
        np.cumsum(np.concatenate([[0], ak.num(reference.particles)]))).tolist()


def test_different_seed_different_events(gtt_sample, gtt_slha, event_rows):
    batch, _ = generate(gtt_slha, 20, seed=12, chunk_size=20)
    reference = gtt_sample[0][:20]
    assert len(batch) == 20
    assert ak.to_list(batch.event_number) == list(range(1, 21))
    same = [a == b for a, b in zip(event_rows(batch.particles, ["pid", "px", "py", "pz", "E"]),
                                   event_rows(reference.particles, ["pid", "px", "py", "pz", "E"]))]
    assert not any(same)


def test_batch_content_is_physical(gtt_sample):
    batch, _, src = gtt_sample
    assert len(batch) == 120 and src.n_generated == 120
    assert ak.to_list(batch.event_number) == list(range(1, 121))
    assert np.all(ak.to_numpy(batch.weight) == 1.0)
    parts = batch.particles
    # the final state carries the beams' four-momentum (0, 0, 0, 13 TeV) and charge (+2)
    for c, total in (("px", 0.0), ("py", 0.0), ("pz", 0.0), ("E", 13000.0)):
        assert ak.to_numpy(ak.sum(parts[c], axis=1)) == pytest.approx(total, abs=1e-3)
    assert np.all(ak.to_numpy(ak.sum(parts.charge, axis=1)) == 2.0)
    # Gtt: two stable neutralinos per event, both from the gluinos
    lsp = parts[parts.pid == 1000022]
    assert ak.to_list(ak.num(lsp)) == [2] * 120
    assert ak.all(lsp.origin == FROM_BSM)
    # stable particles only: no quark, gluon or decayed hadron among them
    pids = np.abs(ak.to_numpy(ak.flatten(parts.pid)))
    assert not np.isin(pids, [1, 2, 3, 4, 5, 6, 21, 111, 15, 1000021]).any()
    # t -> W b from both gluinos: B hadrons in every event, about four on average
    n_b = ak.to_numpy(ak.num(batch.bhadrons))
    assert n_b.min() >= 1 and 3.0 < n_b.mean() < 5.5
    # every weakly decaying hadron and visible tau is massive and physical
    for coll in ("bhadrons", "chadrons", "taus"):
        x = ak.flatten(batch[coll])
        m2 = ak.to_numpy(x.E**2 - x.px**2 - x.py**2 - x.pz**2)
        assert np.all(ak.to_numpy(x.E) > 0)
        assert np.all(m2 > -1e-6 * ak.to_numpy(x.E) ** 2)


def test_cross_section_and_hepmc_file(gtt_sample):
    _, path, src = gtt_sample
    # Pythia's LO sigma for gluino pairs at 2.1 TeV: 0.365 fb at 2 TeV, falling with the mass
    assert 0.15 < src.sigma_gen_fb < 0.45
    assert 0 < src.sigma_err_fb < 0.5 * src.sigma_gen_fb
    assert path.exists()
    assert not list(path.parent.glob(".*partial"))  # the file appears under its name only when complete


def test_seed_out_of_range(gtt_slha):
    with pytest.raises(RecastError, match="--seed -1"):
        list(PythiaSource(PythiaConfig(slha=gtt_slha, nevents=5, seed=-1)))


def test_unusable_card_is_refused_before_pythia_starts(tmp_path):
    card = tmp_path / "nodecay.slha"
    card.write_text("BLOCK MASS\n   1000021   2.1e+03\n   1000022   1.0e+00\n")
    with pytest.raises(SLHAError, match="no DECAY block with decay channels for 1000021"):
        list(PythiaSource(PythiaConfig(slha=card, nevents=5, seed=1)))
