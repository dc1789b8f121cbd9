"""The detector stage: truth objects in, reconstructed objects out, as a card says.

Per chunk, on flat numpy columns (no loop over events). Every random number is
``recast.rng.uniform(seed, stream, event number, index)`` with ``index`` the object's position in
its event among the truth objects (pT-ordered), so a result never depends on the chunk size, the
order of events or what else ran; Gaussians come from two such streams by Box-Muller.

1. Jets: truth |eta| >= ``eta_max`` dropped; the four-momentum scaled by
   ``energy_scale x (1 + energy_resolution x g)`` (clipped at 0; eta and phi kept, unless
   ``eta_resolution`` adds a Gaussian to eta at fixed pT, phi and mass); jets below the
   analysis' ``jet_pt_min`` after the response dropped; JVT keeps jets with reco pT < ``pt_max``
   and |eta| < ``eta_max`` with probability ``efficiency(pt)``; re-sorted by reco pT.
2. b-tagging, when the card has the working point the analysis asks for
   (``ObjectConfig.btag.name``): one uniform u per jet, ``btag = u < eff(flavour, pt, eta)`` inside
   ``eta_max``; ``tag_bin`` = 1 + the number of ``pseudo_continuous`` points with u < eff (1: fails
   the loosest, n + 1: passes the tightest), so every point's efficiency is reproduced and the bins
   nest. Otherwise ``btag`` is the analysis' own truth-level tagging and ``tag_bin`` 5 for a
   tagged jet, 1 for an untagged one (SimpleAnalysis' truth tagging sets every working point).
3. Electrons and muons: |eta| >= ``eta_max`` dropped; energy (pT) smeared like jets, those below
   ``lepton_pt_min`` after it dropped; one uniform u per lepton gives ``id_loose``, ``id_medium``,
   ``id_tight`` (u < the point's efficiency); a lepton failing Loose is not reconstructed. Without
   working points every flag is True. Isolation sums stay the truth ones.
4. MET: truth MET minus the change of every reconstructed jet's and lepton's transverse momentum,
   plus a Gaussian soft term per component (sigma = ``soft_term_resolution`` of the event's scalar
   sum of reconstructed jet and lepton pT). Objects that are not reconstructed leave MET as it was
   (their energy is still measured somewhere). Without smearing MET is the truth MET exactly.

Efficiencies and the b-tag are evaluated at reconstructed pT and eta; resolutions at the truth
values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import awkward as ak
import numpy as np

from .. import rng
from ..objects import ObjectConfig, Objects
from ..objects.jets import LABEL_B, LABEL_C, LABEL_LIGHT, LABEL_TAU, TAGGED_BIN, UNTAGGED_BIN
from .card import BTagging, Card, JetResponse, LeptonResponse
from .functions import Function

FLAGS = {"Loose": "id_loose", "Medium": "id_medium", "Tight": "id_tight"}


@dataclass
class _Flat:
    """A jagged collection as flat numpy columns, with each object's event (position in the chunk)
    and index (position in its event)."""

    columns: dict[str, np.ndarray]
    counts: np.ndarray
    event: np.ndarray
    index: np.ndarray

    @classmethod
    def of(cls, collection: ak.Array) -> _Flat:
        counts = ak.to_numpy(ak.num(collection, axis=1)).astype(np.int64)
        flat = ak.flatten(collection)
        columns = {f: np.asarray(ak.to_numpy(flat[f])) for f in collection.fields}
        event = np.repeat(np.arange(len(counts)), counts)
        index = np.arange(len(event)) - np.repeat(np.cumsum(counts) - counts, counts)
        return cls(columns, counts, event, index)

    def jagged(self, keep: np.ndarray, resort: bool) -> ak.Array:
        """The kept objects as a jagged array again, re-sorted by pT within each event if asked."""
        event = self.event[keep]
        order = np.lexsort((-self.columns["pt"][keep], event)) if resort else slice(None)
        columns = {k: v[keep][order] for k, v in self.columns.items()}
        counts = np.bincount(event, minlength=len(self.counts))
        return ak.unflatten(ak.zip(columns, depth_limit=1), counts)

    def scale(self, factor: np.ndarray) -> None:
        """Scale the four-momentum (px, py, pz, E, and with them pT and mass); eta, phi unchanged."""
        for k in ("px", "py", "pz", "E", "pt", "m"):
            self.columns[k] = self.columns[k] * factor

    def shift(self, keep: np.ndarray, truth_px: np.ndarray, truth_py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per event, the change of the kept objects' summed transverse momentum."""
        n = len(self.counts)
        dx = np.bincount(self.event[keep], weights=(self.columns["px"] - truth_px)[keep], minlength=n)
        dy = np.bincount(self.event[keep], weights=(self.columns["py"] - truth_py)[keep], minlength=n)
        return dx, dy


def normal_pair(seed: int, stream: str, event_number: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent standard normal numbers per (event number, index), by Box-Muller from the
    streams ``<stream>-1`` and ``<stream>-2``."""
    u1 = rng.uniform(seed, f"{stream}-1", event_number, index)
    u2 = rng.uniform(seed, f"{stream}-2", event_number, index)
    radius = np.sqrt(-2.0 * np.log1p(-u1))  # 1 - u1 lies in (0, 1]: no log(0)
    angle = 2.0 * np.pi * u2
    return radius * np.cos(angle), radius * np.sin(angle)


def _at(fn: Function, flat: _Flat, where: np.ndarray | slice = slice(None)) -> np.ndarray:
    c = flat.columns
    return fn(c["pt"][where], c["eta"][where], c["E"][where])


def respond(objects: Objects, card: Card, config: ObjectConfig, seed: int | None = None) -> Objects:
    """The reconstructed objects of a chunk (see the module docstring); ``seed`` defaults to the
    objects' own."""
    seed = objects.seed if seed is None else seed
    numbers = objects.event_number
    n_events = len(objects)
    jets, jet_shift = _jets(objects.jets, card.jets, card.btagging, config, seed, numbers)
    electrons, electron_shift = _leptons(objects.electrons, card.electrons, "electron", config, seed, numbers)
    muons, muon_shift = _leptons(objects.muons, card.muons, "muon", config, seed, numbers)
    shifts = [s for s in (jet_shift, electron_shift, muon_shift) if s is not None]

    met = objects.met
    soft = card.met.soft_term_resolution if card.met is not None else None
    if shifts or soft is not None:
        px = ak.to_numpy(met.px) - sum(s[0] for s in shifts)
        py = ak.to_numpy(met.py) - sum(s[1] for s in shifts)
        if soft is not None:
            sum_pt = _scalar_sum(jets) + _scalar_sum(electrons) + _scalar_sum(muons)
            sigma = soft(sum_pt, np.zeros(n_events), sum_pt)
            gx, gy = normal_pair(seed, "detector-met-soft", numbers, np.zeros(n_events, np.int64))
            px, py = px + sigma * gx, py + sigma * gy
        met = ak.zip({"pt": np.hypot(px, py), "phi": np.arctan2(py, px), "px": px, "py": py})
    return dataclasses.replace(objects, jets=jets, electrons=electrons, muons=muons, met=met, seed=seed)


def _scalar_sum(collection: ak.Array) -> np.ndarray:
    return ak.to_numpy(ak.sum(collection.pt, axis=1)).astype(np.float64)


def _card_tagging(tagging: BTagging | None, config: ObjectConfig) -> BTagging | None:
    """The card's b-tagging, if it has the working point the analysis asks for."""
    wp = config.btag
    return tagging if tagging is not None and wp is not None and wp.name in tagging.working_points else None


def _jets(jets: ak.Array, section: JetResponse | None, tagging: BTagging | None, config: ObjectConfig, seed: int,
          numbers: np.ndarray):
    tagging = _card_tagging(tagging, config)
    if section is None and tagging is None:  # truth jets carry their truth tag_bin
        return jets, None
    flat = _Flat.of(jets)
    c = flat.columns
    number = numbers[flat.event]
    keep = np.ones(len(flat.event), bool)
    moved = section is not None and section.changes_momentum
    truth_px, truth_py = c["px"], c["py"]
    if section is not None:
        if section.eta_max is not None:
            keep &= np.abs(c["eta"]) < section.eta_max
        if moved:
            g_energy, g_eta = normal_pair(seed, "detector-jet-energy", number, flat.index)
            factor = _at(section.energy_scale, flat) if section.energy_scale is not None else np.ones(len(keep))
            if section.energy_resolution is not None:
                factor = factor * (1.0 + _at(section.energy_resolution, flat) * g_energy)
            sigma_eta = _at(section.eta_resolution, flat) if section.eta_resolution is not None else None
            flat.scale(np.maximum(factor, 0.0))
            if sigma_eta is not None:
                _move_eta(flat, c["eta"] + sigma_eta * g_eta)
            keep &= c["pt"] >= config.jet_pt_min
        if section.jvt is not None:
            jvt = section.jvt
            applies = np.flatnonzero(keep & (c["pt"] < jvt.pt_max) & (np.abs(c["eta"]) < jvt.eta_max))
            u = rng.uniform(seed, "detector-jvt", number[applies], flat.index[applies])
            keep[applies] = u < _at(jvt.efficiency, flat, applies)
    if tagging is not None:
        _tag(flat, tagging, config.btag.name, seed, number)
    else:
        c["tag_bin"] = np.where(c["btag"], TAGGED_BIN, UNTAGGED_BIN).astype(np.int8)
    return flat.jagged(keep, resort=moved), flat.shift(keep, truth_px, truth_py) if moved else None


def _move_eta(flat: _Flat, eta: np.ndarray) -> None:
    """New pseudorapidities at fixed pT, phi and mass."""
    c = flat.columns
    c["eta"] = eta
    c["pz"] = c["pt"] * np.sinh(eta)
    c["E"] = np.sqrt((c["pt"] * np.cosh(eta)) ** 2 + c["m"] ** 2)


def _tag(flat: _Flat, tagging: BTagging, working_point: str, seed: int, number: np.ndarray) -> None:
    """Card b-tagging: ``btag`` at the analysis' working point and the pseudo-continuous ``tag_bin``,
    from one uniform number per jet."""
    c = flat.columns
    label = c["label"]
    flavour = np.where(np.isin(label, (LABEL_B, LABEL_C, LABEL_TAU)), label, LABEL_LIGHT)
    masks = {lab: flavour == lab for lab in (LABEL_B, LABEL_C, LABEL_TAU, LABEL_LIGHT)}
    inside = np.abs(c["eta"]) < tagging.eta_max
    u = rng.uniform(seed, "detector-btag", number, flat.index)
    passes: dict[str, np.ndarray] = {}

    def passing(name: str) -> np.ndarray:
        if name not in passes:
            eff = np.zeros(len(u))
            for lab, mask in masks.items():
                if mask.any():
                    eff[mask] = _at(tagging.working_points[name][lab], flat, mask)
            passes[name] = inside & (u < eff)
        return passes[name]

    c["btag"] = passing(working_point)
    if tagging.pseudo_continuous:
        c["tag_bin"] = (1 + sum(passing(n).astype(np.int8) for n in tagging.pseudo_continuous)).astype(np.int8)
    else:
        c["tag_bin"] = np.where(c["btag"], TAGGED_BIN, UNTAGGED_BIN).astype(np.int8)


def _leptons(leptons: ak.Array, section: LeptonResponse | None, kind: str, config: ObjectConfig, seed: int,
             numbers: np.ndarray):
    if section is None:  # truth objects carry identification flags that are all True
        return leptons, None
    flat = _Flat.of(leptons)
    c = flat.columns
    number = numbers[flat.event]
    keep = np.abs(c["eta"]) < section.eta_max
    truth_px, truth_py = c["px"], c["py"]
    moved = section.resolution is not None
    if moved:
        g, _ = normal_pair(seed, f"detector-{kind}-momentum", number, flat.index)
        flat.scale(np.maximum(1.0 + _at(section.resolution, flat) * g, 0.0))
        keep &= c["pt"] > config.lepton_pt_min
    if section.working_points is not None:
        u = rng.uniform(seed, f"detector-{kind}-id", number, flat.index)
        for wp, flag in FLAGS.items():
            c[flag] = u < _at(section.working_points[wp], flat)
        keep &= c["id_loose"]
    else:
        for flag in FLAGS.values():
            c[flag] = np.ones(len(keep), bool)
    return flat.jagged(keep, resort=moved), flat.shift(keep, truth_px, truth_py) if moved else None
