"""Which inputs drive a model's selection.

* Permutation importance: one input's values are shuffled among the events that reach the model
  (``repeats`` times, seeded); the change of the mean score, the mean absolute change of each
  event's score and the change of each region's efficiency are averaged over the repeats. An
  input the model ignores gets exactly zero.
* For networks, the mean absolute gradient of the score with respect to each input, in the
  network's own units (after the card's scaling), by central finite differences (step
  :data:`GRADIENT_STEP` of the input's spread) evaluated on whole batches.

Every model call covers all events (and repeats) of one input at once, never one event.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Central-difference step, as a fraction of each input's spread over the events (its standard
#: deviation in the network's units, at least 1): small against the scale on which a network
#: bends, large enough that the float32 rounding of a score in (0, 1) (at most 6e-8) costs at most
#: 3e-5 (spread) of absolute error on the derivative.
GRADIENT_STEP = 1e-3
#: Rows per model call when events are repeated (bounds the memory of a call to ~100 MB).
ROWS_PER_CALL = 1 << 17


def _efficiency(target, score: np.ndarray, weight: np.ndarray, sumw_total: float) -> float:
    return float(weight[target.passes(score)].sum()) / sumw_total


def permutation(sample, repeats: int, seed: int, sumw_total: float) -> list[dict[str, Any]]:
    """Per input: ``mean_score_change``, ``mean_abs_score_change`` (weighted means over the
    model's events, averaged over repeats) and, per region, ``efficiency_change`` (mean over
    repeats) and its spread ``efficiency_change_sd``; ``constant`` for an input that never varies
    (fixed parameters), whose importance is zero by construction."""
    rng = np.random.default_rng(seed)
    raw, w = sample.raw, sample.weight
    n = len(raw)
    base = sample.score
    w_sum = float(w.sum()) or 1.0
    base_eff = {t.name: _efficiency(t, base, w, sumw_total) for t in sample.regions}
    tiled = np.tile(raw, (repeats, 1))
    folds = np.tile(sample.folds, repeats)
    out = []
    for k, spec in enumerate(sample.card.inputs):
        column = raw[:, k]
        constant = n == 0 or bool(np.all(column == column[0]) or np.all(np.isnan(column)))
        row: dict[str, Any] = {"name": spec.name, "constant": constant}
        if constant:
            zero = {"efficiency_change": 0.0, "efficiency_change_sd": 0.0}
            row.update(mean_score_change=0.0, mean_abs_score_change=0.0,
                       regions={t.name: dict(zero) for t in sample.regions})
            out.append(row)
            continue
        saved = tiled[:, k].copy()
        tiled[:, k] = np.concatenate([column[rng.permutation(n)] for _ in range(repeats)])
        scores = sample.scores(tiled, folds).reshape(repeats, n)
        tiled[:, k] = saved
        delta = scores - base
        row["mean_score_change"] = float((delta @ w).mean() / w_sum)
        row["mean_abs_score_change"] = float((np.abs(delta) @ w).mean() / w_sum)
        row["regions"] = {}
        for t in sample.regions:
            changes = np.array([_efficiency(t, s, w, sumw_total) - base_eff[t.name] for s in scores])
            row["regions"][t.name] = {"efficiency_change": float(changes.mean()),
                                      "efficiency_change_sd": float(changes.std(ddof=1)) if repeats > 1 else 0.0}
        out.append(row)
    return out


def mean_abs_gradient(sample, step: float = GRADIENT_STEP) -> np.ndarray:
    """Weighted mean over the model's events of |d score / d x_k| for every input k, x in the
    network's units (``model.prepare``); central differences on batches of events."""
    model = sample.model
    x = model.prepare(sample.raw)
    n, m = x.shape
    w = sample.weight
    grad = np.zeros(m)
    if n == 0:
        return grad
    steps = step * np.maximum(np.nanstd(x.astype(np.float64), axis=0), 1.0)
    per_call = max(1, ROWS_PER_CALL // (2 * n))
    for first in range(0, m, per_call):
        ks = range(first, min(m, first + per_call))
        rows = np.concatenate([x] * (2 * len(ks)))
        for j, k in enumerate(ks):
            rows[2 * j * n:(2 * j + 1) * n, k] += steps[k]
            rows[(2 * j + 1) * n:(2 * j + 2) * n, k] -= steps[k]
        s = model.run(rows, np.tile(sample.folds, 2 * len(ks)))[:, sample.node].astype(np.float64)
        for j, k in enumerate(ks):
            up, down = slice(2 * j * n, (2 * j + 1) * n), slice((2 * j + 1) * n, (2 * j + 2) * n)
            # the step the network really saw: x +- step rounded to float32
            width = rows[up, k].astype(np.float64) - rows[down, k].astype(np.float64)
            derivative = (s[up] - s[down]) / width
            grad[k] = float(np.abs(derivative) @ w) / (float(w.sum()) or 1.0)
    return grad
