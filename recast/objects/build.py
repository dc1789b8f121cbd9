"""Event batch -> truth-level physics objects (SimpleAnalysis-style).

The choices that differ between re-implementations are fields of :class:`ObjectConfig`, each
with its default and the reason for it:

``jet_inputs``
    ``"exclude-prompt-leptons"`` (default): jets are clustered from visible final-state
    particles without the prompt electrons and muons and the photons dressed into them, so a
    lepton is never counted twice (ATLAS' truth-jet definition for analyses that use leptons).
    ``"all-visible"``: every visible particle.
``b_labelling``
    ``"cone"`` (default, ATLAS' HadronConeExclTruthLabelID used for the Run-2 b-tagging
    calibrations) or ``"ghost"`` association; see :mod:`recast.objects.jets`.
``dressing_dr``
    0.1: photons not from hadron decays within Delta R < 0.1 are added to the nearest prompt
    lepton (ATLAS dressed truth leptons).
``detector``
    ``"truth"``: the detector card between these objects and the analysis (a shipped card's name
    or a card file; :mod:`recast.detector` applies it, :func:`build_objects` does not).

Invisible particles are neutrinos and neutral sparticles (|pid| >= 1000000, charge 0); the
missing transverse momentum is their summed transverse momentum.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from ..events.record import FROM_HADRON, FROM_TAU
from .. import rng
from .jets import B_LABELLING, TAGGED_BIN, UNTAGGED_BIN, BTagWorkingPoint, btag, cluster_jets
from .kinematics import pt_eta_phi, pt_eta_phi_m
from .leptons import dress, isolation

JET_INPUTS = ("exclude-prompt-leptons", "all-visible")


@dataclass(frozen=True)
class ObjectConfig:
    """How candidate objects are built from truth particles (analysis-specific cuts come later)."""

    jet_radius: float = 0.4
    jet_pt_min: float = 20.0
    jet_inputs: str = "exclude-prompt-leptons"
    b_labelling: str = "cone"
    btag: BTagWorkingPoint | None = None
    dressing_dr: float = 0.1
    lepton_pt_min: float = 5.0
    track_pt_min: float = 1.0  # isolation tracks
    detector: str = "truth"  # the detector card (recast.detector): a shipped card's name or a file

    def __post_init__(self) -> None:
        if self.jet_inputs not in JET_INPUTS:
            raise ValueError(f"jet_inputs must be one of {JET_INPUTS}, not {self.jet_inputs!r}")
        if self.b_labelling not in B_LABELLING:
            raise ValueError(f"b_labelling must be one of {B_LABELLING}, not {self.b_labelling!r}")


@dataclass
class Objects:
    """Candidate physics objects of a chunk of events.

    ``jets``: pT-ordered anti-kt jets (``pt eta phi m px py pz E label ntrk btag tag_bin``).
    ``electrons``, ``muons``: prompt dressed leptons, pT-ordered (``pt eta phi m px py pz E
    charge pid from_tau ptvarcone20 ptvarcone30 topoetcone20 ptcone20 id_loose id_medium id_tight``;
    the identification flags are True for truth leptons, a detector card draws them).
    ``taus``: last taus with visible momentum (``pt eta phi charge hadronic prompt``).
    ``met``: per event ``pt phi px py``. Plus ``event_number`` and ``weight`` (numpy).
    """

    jets: ak.Array
    electrons: ak.Array
    muons: ak.Array
    taus: ak.Array
    met: ak.Array
    event_number: np.ndarray
    weight: np.ndarray
    seed: int = 0

    def __len__(self) -> int:
        return len(self.weight)


def _split(values: dict[str, np.ndarray], mask: np.ndarray, event_of: np.ndarray, n_events: int,
           sort_by: str = "pt") -> ak.Array:
    counts = np.bincount(event_of[mask], minlength=n_events)
    coll = ak.unflatten(ak.zip({k: v[mask] for k, v in values.items()}, depth_limit=1), counts)
    return coll[ak.argsort(coll[sort_by], axis=1, ascending=False)]


def build_objects(batch: ak.Array, config: ObjectConfig, seed: int = 0) -> Objects:
    """Jets, leptons, taus and missing momentum for every event of ``batch``."""
    n_events = len(batch)
    parts = batch.particles
    counts = ak.to_numpy(ak.num(parts, axis=1)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    event_of = np.repeat(np.arange(n_events), counts)
    flat = ak.flatten(parts)
    px, py, pz, e = (np.ascontiguousarray(ak.to_numpy(flat[c]), dtype=np.float64) for c in ("px", "py", "pz", "E"))
    pid = ak.to_numpy(flat.pid)
    apid = np.abs(pid)
    charge = ak.to_numpy(flat.charge)
    origin = ak.to_numpy(flat.origin)
    pt, eta, phi = pt_eta_phi(px, py, pz)

    invisible = np.isin(apid, (12, 14, 16)) | ((apid >= 1000000) & (charge == 0))
    prompt = (origin & FROM_HADRON) == 0
    is_lepton = prompt & ((apid == 11) | (apid == 13))
    is_photon = prompt & (pid == 22)

    p4 = np.stack([px, py, pz, e], axis=1)
    dressed, owner = dress(offsets, eta, phi, p4, is_lepton, is_photon, config.dressing_dr)
    # the dressed leptons' kinematics: a few rows of the chunk's hundreds of thousands
    rows = np.flatnonzero(is_lepton)
    lepton_p4 = dressed[rows]
    lpt, leta, lphi, lm = pt_eta_phi_m(lepton_p4[:, 0], lepton_p4[:, 1], lepton_p4[:, 2], lepton_p4[:, 3])
    lepton_pt = np.zeros(len(px))
    lepton_pt[rows] = lpt
    is_track = (charge != 0) & (pt > config.track_pt_min) & (np.abs(eta) < 2.5)
    is_calo = ~invisible & (apid != 13) & (np.abs(eta) < 4.9)
    iso = isolation(offsets, pt, eta, phi, is_lepton, lepton_pt, is_track, is_calo, owner)[rows]

    lepton_values = {
        "pt": lpt, "eta": leta, "phi": lphi, "m": lm,
        "px": lepton_p4[:, 0], "py": lepton_p4[:, 1], "pz": lepton_p4[:, 2], "E": lepton_p4[:, 3],
        "charge": charge[rows], "pid": pid[rows], "from_tau": (origin[rows] & FROM_TAU) != 0,
        "ptvarcone20": iso[:, 0], "ptvarcone30": iso[:, 1], "topoetcone20": iso[:, 2],
        "ptcone20": iso[:, 3],
    }
    identified = np.ones(len(lpt), dtype=bool)  # truth leptons pass every identification point
    lepton_values.update(id_loose=identified, id_medium=identified, id_tight=identified)
    keep = lpt > config.lepton_pt_min
    lepton_event = event_of[rows]
    electrons = _split(lepton_values, (apid[rows] == 11) & keep, lepton_event, n_events)
    muons = _split(lepton_values, (apid[rows] == 13) & keep, lepton_event, n_events)

    if config.jet_inputs == "exclude-prompt-leptons":
        jet_input = ~invisible & ~is_lepton & (owner < 0)
    else:
        jet_input = ~invisible
    jets = cluster_jets(batch, ak.unflatten(jet_input, counts), radius=config.jet_radius,
                        pt_min=config.jet_pt_min, b_labelling=config.b_labelling)
    event_number = ak.to_numpy(batch.event_number).astype(np.int64)
    if config.btag is not None:
        tags = btag(jets, config.btag, event_number, seed)
    else:
        tags = ak.zeros_like(jets.pt, dtype=bool)
    jets = ak.with_field(jets, tags, "btag")
    jets = ak.with_field(jets, ak.values_astype(ak.where(tags, TAGGED_BIN, UNTAGGED_BIN), np.int8), "tag_bin")

    t = batch.taus
    tpt, teta, tphi, _ = pt_eta_phi_m(t.px, t.py, t.pz, t.E)
    taus = ak.zip({"pt": tpt, "eta": teta, "phi": tphi, "charge": t.charge, "hadronic": t.hadronic,
                   "prompt": (t.origin & FROM_HADRON) == 0})
    taus = taus[ak.argsort(taus.pt, axis=1, ascending=False)]

    mpx = np.bincount(event_of, weights=np.where(invisible, px, 0.0), minlength=n_events)
    mpy = np.bincount(event_of, weights=np.where(invisible, py, 0.0), minlength=n_events)
    met = ak.zip({"pt": np.hypot(mpx, mpy), "phi": np.arctan2(mpy, mpx), "px": mpx, "py": mpy})

    return Objects(jets=jets, electrons=electrons, muons=muons, taus=taus, met=met,
                   event_number=event_number, weight=ak.to_numpy(batch.weight).astype(np.float64), seed=seed)


def apply_efficiency(collection: ak.Array, efficiency, objects: Objects, stream: str) -> ak.Array:
    """Keep each object with probability ``efficiency`` (jagged like ``collection``, or a
    number), drawn from the event's own random stream ``stream`` (see :mod:`recast.rng`)."""
    counts = ak.to_numpy(ak.num(collection, axis=1))
    eff = ak.broadcast_arrays(efficiency, collection.pt)[0]
    u = rng.uniform(objects.seed, stream, np.repeat(objects.event_number, counts),
                    ak.to_numpy(ak.flatten(ak.local_index(collection.pt))))
    keep = u < ak.to_numpy(ak.flatten(eff))
    return collection[ak.unflatten(keep, counts)]
