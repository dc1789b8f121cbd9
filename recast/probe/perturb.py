"""Worst-case input shifts within the detector card's budget, and the band they give each ML
region's efficiency: the ML-selection robustness uncertainty.

Each kinematic input the model card's ``perturbation`` block names may move by its budget (raw
unit, per event; :data:`recast.models.card.BUDGETS`): a jet's pT or energy by the card's jet
energy-scale uncertainty at that jet, its eta by the card's eta resolution, sums and masses of jets
by the pT-weighted mean uncertainty of the jets the model sees, MET also by the soft-term
resolution, a lepton by the larger of the electron and muon resolutions. Counts, b-tag inputs,
azimuths and the analysis' fixed parameters never move.

The search is FGSM followed by PGD, for trees and networks alike, with the gradient's sign taken
from secants (a tree's score is piecewise constant: its derivative is zero almost everywhere, a
secant over the budget sees the cuts the budget can cross):

1. FGSM: for every movable input k, ``s(x + eps_k e_k) - s(x - eps_k e_k)``; every input moves by
   its whole budget in the direction that raises the score (or lowers it), ``x + d eps sign(g)``.
2. PGD: ``steps`` more moves of ``eps / steps`` along the sign of secants of that width, each
   projected back into the box ``|x - x0| <= eps``.

Every event keeps the highest (lowest) score met on the way, its own score included, so the band
always contains the nominal efficiency. The band is a bound on what mismodelling of the card's
size can do when it conspires against the selection event by event, found by a local search (a
lower bound on that worst case); a linear model's corner is exact. Only the events that pass some
region's other cuts are searched: the others cannot enter a region whatever their score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .importance import ROWS_PER_CALL

DEFAULT_STEPS = 3


def _slot(raw: np.ndarray, slot: tuple[int, int]):
    """pT, eta and energy (massless) of one object slot, NaN-free, and where the object is present."""
    pt, eta = raw[:, slot[0]], raw[:, slot[1]]
    present = ~np.isnan(pt) & ~np.isnan(eta)
    pt = np.where(present, pt, 1.0)
    eta = np.where(present, eta, 0.0)
    return pt, eta, pt * np.cosh(eta), present


def budgets(sample, card) -> tuple[np.ndarray, list[str]]:
    """How far every input of every event may move (raw unit, >= 0), from the model card's
    ``perturbation`` block and the detector ``card``; and notes on what the card cannot give."""
    raw = sample.raw
    n, m = raw.shape
    eps = np.zeros((n, m))
    spec = sample.card.perturbation
    if spec is None:
        return eps, [f"model card {sample.card.id} has no perturbation block: no input moves"]
    jets = card.jets
    jes = jets.energy_scale_uncertainty if jets is not None else None
    eta_res = jets.eta_resolution if jets is not None else None
    soft = card.met.soft_term_resolution if card.met is not None else None
    lepton_res = [f.resolution for f in (card.electrons, card.muons) if f is not None and f.resolution is not None]
    needs = {b.kind for b in spec.budgets}
    notes = []
    if jes is None and needs & {"jet-energy-scale", "jets-energy-scale", "met"}:
        notes.append(f"detector card {card.name} states no jet energy-scale uncertainty: jet momenta, their sums "
                     f"and MET do not move")
    if eta_res is None and "jet-eta-resolution" in needs:
        notes.append(f"detector card {card.name} states no jet eta resolution: jet eta inputs do not move")
    if not lepton_res and "lepton-scale" in needs:
        notes.append(f"detector card {card.name} states no lepton resolution: lepton inputs do not move")
    u_mean = np.zeros(n)
    ht = np.zeros(n)
    if jes is not None:
        weighted = np.zeros(n)
        for slot in spec.jet_slots:
            pt, eta, e, present = _slot(raw, slot)
            weighted += np.where(present, jes(pt, eta, e) * pt, 0.0)
            ht += np.where(present, pt, 0.0)
        u_mean = np.divide(weighted, ht, out=np.zeros(n), where=ht > 0)
    for b in spec.budgets:
        x = raw[:, b.input]
        size = np.abs(np.nan_to_num(x))
        if b.kind == "jet-energy-scale" and jes is not None:
            pt, eta, e, present = _slot(raw, b.slot)
            value = np.where(present, jes(pt, eta, e) * size, 0.0)
        elif b.kind == "jet-eta-resolution" and eta_res is not None:
            pt, eta, e, present = _slot(raw, b.slot)
            value = np.where(present, eta_res(pt, eta, e), 0.0)
        elif b.kind == "jets-energy-scale":
            value = u_mean * size
        elif b.kind == "met":
            value = u_mean * size + (soft(ht, np.zeros(n), ht) if soft is not None else 0.0)
        elif b.kind == "lepton-scale" and lepton_res:
            pt, eta, e, present = _slot(raw, b.slot)
            value = np.where(present, np.max([f(pt, eta, e) for f in lepton_res], axis=0) * size, 0.0)
        else:
            continue
        eps[:, b.input] = np.where(np.isnan(x), 0.0, value)
    eps[:, sorted(sample.fixed)] = 0.0
    return eps, notes


def _secants(sample, x: np.ndarray, width: np.ndarray, folds: np.ndarray, columns: list[int]) -> np.ndarray:
    """``s(x + width_k e_k) - s(x - width_k e_k)`` for every column k of ``columns``, on batches."""
    n = len(x)
    g = np.zeros(x.shape)
    per_call = max(1, ROWS_PER_CALL // (2 * max(n, 1)))
    for first in range(0, len(columns), per_call):
        ks = columns[first:first + per_call]
        rows = np.concatenate([x] * (2 * len(ks)))
        for j, k in enumerate(ks):
            rows[2 * j * n:(2 * j + 1) * n, k] += width[:, k]
            rows[(2 * j + 1) * n:(2 * j + 2) * n, k] -= width[:, k]
        s = sample.scores(rows, np.tile(folds, 2 * len(ks)))
        for j, k in enumerate(ks):
            g[:, k] = s[2 * j * n:(2 * j + 1) * n] - s[(2 * j + 1) * n:(2 * j + 2) * n]
    return g


def extreme_scores(sample, eps: np.ndarray, rows: np.ndarray, steps: int = DEFAULT_STEPS
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The highest and the lowest score found for the events ``rows`` of the sample, each input
    within its budget (see the module docstring)."""
    x0 = sample.raw[rows]
    e = eps[rows]
    folds = sample.folds[rows]
    s0 = sample.scores(x0, folds)
    columns = [k for k in range(x0.shape[1]) if (e[:, k] > 0).any()]
    if not columns or len(x0) == 0:
        return s0, s0.copy()
    out = []
    for direction, better in ((1.0, np.maximum), (-1.0, np.minimum)):
        best = s0.copy()
        x = x0 + direction * e * np.sign(_secants(sample, x0, e, folds, columns))
        best = better(best, sample.scores(x, folds))
        alpha = e / steps if steps else e
        for _ in range(steps):
            g = _secants(sample, x, alpha, folds, columns)
            x = np.clip(x + direction * alpha * np.sign(g), x0 - e, x0 + e)
            best = better(best, sample.scores(x, folds))
        out.append(best)
    return out[0], out[1]


def band(sample, eps: np.ndarray, sumw_total: float, steps: int = DEFAULT_STEPS) -> dict[str, dict[str, Any]]:
    """Per region of the sample: the nominal efficiency and the efficiencies with every event's
    score at its highest and lowest within the budgets (``up`` is the one that raises the
    efficiency: the highest scores for a '>' cut), absolute and relative to the nominal."""
    if not sample.regions:
        return {}
    rows = np.flatnonzero(np.logical_or.reduce([t.rest for t in sample.regions]))
    high, low = extreme_scores(sample, eps, rows, steps)
    nominal = sample.scores(sample.raw[rows], sample.folds[rows])
    w = sample.weight[rows]
    out = {}
    for t in sample.regions:
        rest = t.rest[rows]

        def eff(score: np.ndarray) -> float:
            return float(w[rest & t.cut.evaluate({t.cut.score: score})].sum()) / sumw_total

        raising = t.cut.op in (">", ">=")
        e0, e_up, e_down = eff(nominal), eff(high if raising else low), eff(low if raising else high)
        out[t.name] = {"efficiency": e0, "efficiency_up": e_up, "efficiency_down": e_down,
                       "relative_up": e_up / e0 - 1.0 if e0 > 0 else None,
                       "relative_down": e_down / e0 - 1.0 if e0 > 0 else None,
                       "events_searched": int(rest.sum())}
    return out


def budget_summary(sample, eps: np.ndarray) -> list[dict[str, Any]]:
    """Per moving input: its budget kind and the mean budget over the events where it is present,
    absolute and relative to the value."""
    spec = sample.card.perturbation
    out = []
    for b in spec.budgets if spec is not None else ():
        x = sample.raw[:, b.input]
        present = ~np.isnan(x)
        e = eps[present, b.input]
        size = np.abs(x[present])
        out.append({"name": sample.card.inputs[b.input].name, "kind": b.kind,
                    "mean_budget": float(e.mean()) if e.size else 0.0,
                    "mean_relative_budget": float(np.mean(np.divide(e, size, out=np.zeros_like(e), where=size > 0)))
                    if e.size else 0.0})
    return out
