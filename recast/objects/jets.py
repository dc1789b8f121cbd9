"""Jets: anti-kt clustering (recast.objects.antikt: fastjet's jets, exactly), truth flavour labels,
b-tagging by efficiency tables, and large-R reclustering with trimming.

Flavour labels follow ATLAS' ``HadronConeExclTruthLabelID``: a jet is b (5) if a weakly decaying
B hadron with pT > 5 GeV lies within Delta R < 0.3 and is closer to it than to any other jet; else
c (4) for a C hadron, else tau (15) for a hadronic tau's visible momentum, else light (0). The
alternative ``ghost`` labelling clusters the hadrons as ghosts (momentum scaled by 1e-18) so that
each is owned by the jet that clusters it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import awkward as ak
import numba
import numpy as np

from .. import rng
from . import antikt
from .binned import binned
from .kinematics import flat, gather, nearest_within, pseudorapidity, pt_eta_phi_m

LABEL_B, LABEL_C, LABEL_TAU, LABEL_LIGHT = 5, 4, 15, 0
B_LABELLING = ("cone", "ghost")
UNTAGGED_BIN, TAGGED_BIN = 1, 5
"""The pseudo-continuous tag bin of a truth-tagged jet (``tag_bin``): truth tagging sets every
working point, as SimpleAnalysis does, so a tagged jet passes the tightest (bin 5) and an untagged
one fails the loosest (bin 1). A detector card with b-tagging draws the bin (recast.detector.stage)."""
GHOST_SCALE = 1e-18

def _cluster(inputs: ak.Array, radius: float, pt_min: float) -> tuple[ak.Array, ak.Array]:
    """Anti-kt jets (E-scheme; fastjet's ``inclusive_jets(pt_min)``) of each event's ``inputs``
    (``px py pz E``) by decreasing pT (equal pT in fastjet's order), and each jet's constituents
    as increasing indices into its event's inputs."""
    offsets, px, py, pz, e = flat(inputs, "px", "py", "pz", "E")
    return _as_awkward(antikt.cluster(px, py, pz, e, offsets, radius, pt_min))


def _as_awkward(found: antikt.AntiKtJets) -> tuple[ak.Array, ak.Array]:
    """(jets with ``px py pz E``, constituent indices) per event, from the kernel's flat arrays."""
    jet_offsets = ak.index.Index64(np.concatenate([[0], np.cumsum(found.counts)]))
    four = ak.contents.RecordArray([ak.contents.NumpyArray(found.px), ak.contents.NumpyArray(found.py),
                                    ak.contents.NumpyArray(found.pz), ak.contents.NumpyArray(found.E)],
                                   ["px", "py", "pz", "E"])
    constituents = ak.contents.ListOffsetArray(ak.index.Index64(found.constituent_offsets),
                                               ak.contents.NumpyArray(found.constituents))
    return (ak.Array(ak.contents.ListOffsetArray(jet_offsets, four)),
            ak.Array(ak.contents.ListOffsetArray(jet_offsets, constituents)))


@numba.njit(cache=True, nogil=True)
def _track_counts(jet_counts, constituent_offsets, constituents, offsets, is_track):
    """Per jet (flat), how many of its constituents are tracks; a constituent index at or above
    its event's count of particles (``offsets``) is a ghost, never a track."""
    out = np.zeros(len(constituent_offsets) - 1, np.int64)
    k = 0
    for ev in range(len(jet_counts)):
        first = offsets[ev]
        n_real = offsets[ev + 1] - first
        for _ in range(jet_counts[ev]):
            n = 0
            for q in range(constituent_offsets[k], constituent_offsets[k + 1]):
                i = constituents[q]
                if i < n_real and is_track[first + i]:
                    n += 1
            out[k] = n
            k += 1
    return out


def _four(collection: ak.Array) -> dict[str, ak.Array]:
    pt, eta, phi, m = pt_eta_phi_m(collection.px, collection.py, collection.pz, collection.E)
    return {"px": collection.px, "py": collection.py, "pz": collection.pz, "E": collection.E,
            "pt": pt, "eta": eta, "phi": phi, "m": m}


def _label_from_counts(nb, nc, ntau):
    return np.where(nb > 0, LABEL_B, np.where(nc > 0, LABEL_C, np.where(ntau > 0, LABEL_TAU, LABEL_LIGHT)))


def _cone_counts(jets: ak.Array, hadrons: ak.Array, pt_min: float, dr: float) -> np.ndarray:
    """Number of ``hadrons`` (pT > pt_min) owned by each jet: nearest jet within ``dr``."""
    j_off, j_eta, j_phi = flat(jets, "eta", "phi")
    h_off, px, py, pz, e = flat(hadrons, "px", "py", "pz", "E")  # flat numpy: no awkward call per operation
    pt, eta, phi, _ = pt_eta_phi_m(px, py, pz, e)
    owner = nearest_within(h_off, eta, phi, j_off, j_eta, j_phi, np.ones(len(j_eta), bool), dr)
    owner = owner[pt > pt_min]  # each hadron's nearest jet does not depend on the other hadrons
    return np.bincount(owner[owner >= 0], minlength=len(j_eta))


def cluster_jets(
    batch: ak.Array,
    inputs_mask: ak.Array,
    *,
    radius: float = 0.4,
    pt_min: float = 20.0,
    b_labelling: str = "cone",
    label_pt_min: float = 5.0,
    label_dr: float = 0.3,
) -> ak.Array:
    """Cluster ``batch.particles[inputs_mask]`` into anti-kt jets with flavour labels.

    Returns pT-ordered jets with ``px py pz E pt eta phi m``, ``label`` (5/4/15/0) and ``ntrk``
    (charged constituents with pT > 0.5 GeV and |eta| < 2.5, the track count used by
    overlap removal).
    """
    if b_labelling not in B_LABELLING:
        raise ValueError(f"b_labelling must be one of {B_LABELLING}, not {b_labelling!r}")
    particles = batch.particles[inputs_mask]
    taus = batch.taus[batch.taus.hadronic]
    tagged_sets = {"b": batch.bhadrons, "c": batch.chadrons, "tau": taus}
    p_off, ppx, ppy, ppz, pe, pcharge = flat(particles, "px", "py", "pz", "E", "charge")
    if b_labelling == "ghost":
        ghosts = []
        for kind, had in tagged_sets.items():
            pt = np.hypot(had.px, had.py)
            had = had[pt > label_pt_min]
            ghosts.append(ak.zip({"px": had.px * GHOST_SCALE, "py": had.py * GHOST_SCALE,
                                  "pz": had.pz * GHOST_SCALE, "E": had.E * GHOST_SCALE,
                                  "kind": ak.full_like(had.px, {"b": 1, "c": 2, "tau": 3}[kind], dtype=np.int8)}))
        real = ak.zip({"px": particles.px, "py": particles.py, "pz": particles.pz, "E": particles.E,
                       "kind": ak.zeros_like(particles.px, dtype=np.int8)})
        inputs = ak.concatenate([real, *ghosts], axis=1)
        g_off, gpx, gpy, gpz, ge = flat(inputs, "px", "py", "pz", "E")
        found = antikt.cluster(gpx, gpy, gpz, ge, g_off, radius, pt_min)
    else:
        found = antikt.cluster(ppx, ppy, ppz, pe, p_off, radius, pt_min)
    jets, index = _as_awkward(found)
    out = _four(jets)

    if b_labelling == "ghost":
        kind = gather(inputs.kind, index)
        nb, nc, ntau = (ak.to_numpy(ak.flatten(ak.sum(kind == k, axis=-1))) for k in (1, 2, 3))
    else:
        view = ak.zip(out)
        nb, nc, ntau = (_cone_counts(view, tagged_sets[k], label_pt_min, label_dr)
                        for k in ("b", "c", "tau"))
    label = _label_from_counts(nb, nc, ntau)
    out["label"] = ak.unflatten(label.astype(np.int8), found.counts)

    # tracks: charged, pT > 0.5 GeV, |eta| < 2.5 (eta computed for the charged ones only)
    ppt = np.hypot(ppx, ppy)
    charged = (pcharge != 0) & (ppt > 0.5)
    is_track = np.zeros(len(ppt), np.bool_)
    is_track[charged] = np.abs(pseudorapidity(ppt[charged], ppz[charged])) < 2.5
    ntrk = _track_counts(found.counts, found.constituent_offsets, found.constituents, p_off, is_track)
    out["ntrk"] = ak.unflatten(ntrk, found.counts)
    return ak.zip(out)


@dataclass(frozen=True)
class BTagWorkingPoint:
    """A b-tagging working point as efficiency tables applied to truth-labelled jets.

    ``eff_b[k]`` applies for ``pt_edges[k] <= pT < pt_edges[k + 1]`` (GeV), ``eff_b_overflow``
    above the last edge. Jets outside ``|eta| < eta_max`` are never tagged.
    """

    name: str
    source: str
    pt_edges: tuple[float, ...]
    eff_b: tuple[float, ...]
    eff_b_overflow: float
    eff_c: float
    eff_tau: float
    eff_light: float
    eta_max: float = 2.5

    def __post_init__(self) -> None:
        if len(self.pt_edges) != len(self.eff_b) + 1:
            raise ValueError(f"{self.name}: need one more pT edge than efficiencies")
        if list(self.pt_edges) != sorted(self.pt_edges):
            raise ValueError(f"{self.name}: pT edges must increase")
        for e in (*self.eff_b, self.eff_b_overflow, self.eff_c, self.eff_tau, self.eff_light):
            if not 0.0 <= e <= 1.0:
                raise ValueError(f"{self.name}: efficiency {e} outside [0, 1]")

    def replace(self, **changes) -> BTagWorkingPoint:
        return dataclasses.replace(self, **changes)

    def efficiency(self, label: np.ndarray, pt: np.ndarray) -> np.ndarray:
        """Tagging probability per jet (flat arrays)."""
        eff_b = binned(pt, self.pt_edges, self.eff_b, overflow=self.eff_b_overflow)
        return np.select([label == LABEL_B, label == LABEL_C, label == LABEL_TAU],
                         [eff_b, self.eff_c, self.eff_tau], self.eff_light)


def btag(jets: ak.Array, wp: BTagWorkingPoint, event_number: np.ndarray, seed: int) -> ak.Array:
    """Boolean tag per jet: label- and pT-dependent efficiency, drawn from the event's own
    random stream (jet k of event n always gets the same number for a given seed)."""
    counts = ak.to_numpy(ak.num(jets, axis=1))
    pt = ak.to_numpy(ak.flatten(jets.pt))
    eta = ak.to_numpy(ak.flatten(jets.eta))
    label = ak.to_numpy(ak.flatten(jets.label))
    index = ak.to_numpy(ak.flatten(ak.local_index(jets.pt)))
    u = rng.uniform(seed, f"btag:{wp.name}", np.repeat(event_number, counts), index)
    tagged = (u < wp.efficiency(label, pt)) & (np.abs(eta) < wp.eta_max)
    return ak.unflatten(tagged, counts)


def recluster(jets: ak.Array, *, radius: float = 0.8, fcut: float = 0.1, pt_min: float = 100.0,
              eta_max: float = 2.0) -> ak.Array:
    """Large-R jets: anti-kt reclustering of (small-R) ``jets``, trimmed.

    Trimming drops constituent jets with pT < ``fcut`` x pT of the untrimmed large-R jet (with
    small-R jets as inputs, R_sub = 0.2 subjets are the small-R jets themselves). The trimmed
    jets with pT > ``pt_min`` and |eta| < ``eta_max`` are returned pT-ordered with
    ``px py pz E pt eta phi m`` and ``n_constituents``.
    """
    large, index = _cluster(jets, radius, 0.0)
    large_pt = np.hypot(large.px, large.py)
    constituents = gather(jets, index)
    keep = constituents.pt >= fcut * large_pt
    sums = {c: ak.sum(constituents[c][keep], axis=-1) for c in ("px", "py", "pz", "E")}
    trimmed = _four(ak.zip(sums))
    trimmed["n_constituents"] = ak.sum(keep, axis=-1)
    out = ak.zip(trimmed)
    out = out[(out.pt > pt_min) & (np.abs(out.eta) < eta_max)]
    return out[ak.argsort(out.pt, axis=1, ascending=False)]
