"""The simplified likelihood of a signal region, and of the bins of a multi-bin region together.

For every signal region of a result with published numbers: the published observed count, the
published background with its uncertainty as a Poisson-constrained factor (pyhf's
uncorrelated-background model), our signal yield with its MC-statistical error as another such
factor, and optionally the cross-section uncertainty (a normsys). Regions that an analysis
declares as the bins of one multi-bin signal region are also combined in one likelihood. The
same one-bin model without a signal uncertainty gives the model-independent limit :func:`s95`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from . import counting, fits, limits
from .hypotest import Asymptotics, Likelihood, upper_limit
from .limits import Limits, ProgressCallback, RegionLimit, Steps


def workspace_spec(signal, signal_err, background, background_err, xsec_rel: float | None,
                   poi_max: float = fits.MU_MAX, ml_band: tuple[float, float] | None = None) -> dict[str, Any]:
    """The pyhf workspace (without observations) of the bins of one region or combination;
    ``ml_band``: the region's ML-selection robustness band (:func:`recast.stats.limits.ml_normsys`)."""
    s, ds = signal_inputs(signal, signal_err)
    sig_mods = [{"name": "mu", "type": "normfactor", "data": None},
                {"name": "signal_mcstat", "type": "shapesys", "data": ds.tolist()}]
    if xsec_rel:
        sig_mods.append(limits.xsec_normsys(xsec_rel))
    if ml_band:
        sig_mods.append(limits.ml_normsys(ml_band))
    return {
        "channels": [{"name": "SR", "samples": [
            {"name": "signal", "data": s.tolist(), "modifiers": sig_mods},
            {"name": "background", "data": [float(b) for b in background],
             "modifiers": [{"name": "background_uncertainty", "type": "shapesys",
                            "data": [float(e) for e in background_err]}]},
        ]}],
        "measurements": [{"name": "simplified", "config": {"poi": "mu", "parameters": [
            {"name": "mu", "bounds": [[0.0, poi_max]], "inits": [1.0]}]}}],
        "observations": [],
        "version": "1.0.0",
    }


def model_and_data(spec: dict[str, Any], observed: Sequence[int]):
    """The pyhf model of a workspace spec and its data with these observed counts."""
    pyhf = fits.pyhf_numpy()
    spec = copy.deepcopy(spec)
    spec["observations"] = [{"name": "SR", "data": [float(o) for o in observed]}]
    ws = pyhf.Workspace(spec)
    model = ws.model()
    return model, ws.data(model)


def signal_inputs(signal, signal_err) -> tuple[np.ndarray, np.ndarray]:
    """The signal and its MC error as the likelihood holds them: bins without signal get a
    negligible yield with a 100 % error, and the relative error is floored (see fits.EMPTY_SIGNAL)."""
    s = np.asarray(signal, float)
    empty = s <= 0
    s = np.where(empty, fits.EMPTY_SIGNAL, s)
    ds = np.where(empty, fits.EMPTY_SIGNAL, np.maximum(np.asarray(signal_err, float), fits.MC_ERR_FLOOR * s))
    return s, ds


METHODS = ("auto", "counting", "pyhf")


def build_likelihood(signal, signal_err, background, background_err, xsec_rel: float | None,
                     observed: Sequence[int], method: str = "auto",
                     ml_band: tuple[float, float] | None = None) -> Asymptotics:
    """The simplified likelihood of one region or combination, its signal rescaled to O(1) POI:
    solved bin by bin (:class:`~recast.stats.counting.CountingLikelihood`), or with pyhf's fits when
    a cross-section (or ML-selection, ``ml_band``) uncertainty couples the bins (or a background
    is not positive). ``method`` forces one of the two (``"counting"``, ``"pyhf"``: cross-checks)."""
    if method not in METHODS:
        raise ValueError(f"method {method!r}: one of {', '.join(METHODS)}")
    mu_signal = fits.signal_scale(signal, background, background_err)
    s, ds = signal_inputs([x / mu_signal for x in signal], [e / mu_signal for e in signal_err])
    if ml_band and method == "counting":
        raise ValueError("the counting likelihood has no ML-selection uncertainty: use pyhf")
    if method == "counting" or (method == "auto" and not ml_band
                                and counting.usable(background, background_err, xsec_rel)):
        return counting.CountingLikelihood(s, ds, background, background_err, observed, mu_signal,
                                           fits.poi_max(mu_signal))
    spec = workspace_spec(s, ds, background, background_err, xsec_rel, poi_max=fits.poi_max(mu_signal),
                          ml_band=ml_band)
    return Likelihood(*model_and_data(spec, observed), mu_signal=mu_signal)


def _region_limit(name: str, kind: str, members: list[dict[str, Any]], xsec_rel: float | None,
                  ml_band: tuple[float, float] | None = None) -> RegionLimit:
    pubs = [m["published"] for m in members]
    out = RegionLimit(name=name, kind=kind, likelihood="simplified", regions=[m["name"] for m in members],
                      signal=[m["yield"] or 0.0 for m in members], signal_err=[m["yield_err"] or 0.0 for m in members],
                      observed=[p["observed"] for p in pubs], background=[p["background"] for p in pubs],
                      background_err=[p["background_err"] for p in pubs], cls_exp_bound=[False] * 5)
    if sum(out.signal) <= 0:
        out.cls_obs, out.cls_exp, out.note = 1.0, [1.0] * 5, "no signal events"
        out.r_obs = out.r_exp = 0.0
        return out
    out._likelihood = build_likelihood(out.signal, out.signal_err, out.background, out.background_err,
                                       xsec_rel, out.observed, ml_band=ml_band)
    limits.fill_cls(out)
    if kind == "single":
        p = pubs[0]
        s = out.signal[0]
        if p.get("s95_observed"):
            out.r_obs = s / p["s95_observed"]
        if p.get("s95_expected"):
            out.r_exp = s / p["s95_expected"]
    return out


def simplified(doc: dict[str, Any], analysis, xsec_unc: bool = False, upper_limits: str = "best",
               on_region: ProgressCallback | None = None, _steps: Steps | None = None,
               ml_unc: limits.MLUncertainty | None = None) -> Limits:
    """Limits of a result document with the simplified likelihoods (see the module docstring and
    :mod:`recast.stats.limits`); ``ml_unc``: region -> relative (up, down) ML-selection robustness
    band (``recast probe``), a normsys on that region's signal;
    ``on_region(what, done, total)`` is called after every region, combination and upper limit."""
    ml_unc = ml_unc or {}
    out = Limits(analysis=doc["analysis"]["id"], likelihood="simplified")
    xsec_rel = limits.xsec_rel(doc, xsec_unc, out)
    steps = _steps or Steps(limits.count_steps(doc, analysis, "simplified", upper_limits), on_region)
    regions = limits.regions_of(doc)
    for name, sr in regions.items():
        if sr["published"] is None:
            out.notes.append(f"{name}: no published observed count and background, no limit")
            continue
        out.regions.append(_region_limit(name, "single", [sr], xsec_rel, ml_unc.get(name)))
        steps.tick(name)
    for name, members in analysis.combinations.items():
        present = [regions[m] for m in members if m in regions and regions[m]["published"] is not None]
        if set(members) & set(ml_unc):
            out.notes.append(f"{name}: the ML-selection uncertainty of its bins is not applied to the combination")
        if len(present) == len(members):
            out.regions.append(_region_limit(name, "combined", present, xsec_rel))
            steps.tick(name)
        else:
            out.notes.append(f"{name}: not all of its bins were evaluated, no combination")
    limits.decide(out, upper_limits, steps)
    return out


def s95(observed: int, background: float, background_err: float) -> tuple[float, list[float]]:
    """Model-independent 95 % CL upper limit on signal events (observed, expected band) from a
    published count, background and its uncertainty: pyhf, asymptotic, q~_mu, signal without
    uncertainty."""
    return _s95_cached(int(observed), float(background), float(background_err))


@lru_cache(maxsize=None)
def _s95_cached(observed: int, background: float, background_err: float) -> tuple[float, list[float]]:
    reference = fits.reference_signal(background, background_err)
    if counting.usable([background], [background_err], None):
        obs, exp = counting.CountingLikelihood([reference], [0.0], [background], [background_err], [observed]
                                               ).upper_limit(1.0)
    else:
        obs, exp = upper_limit(*counting_model(reference, observed, background, background_err), 1.0)
    return obs * reference, [e * reference for e in exp]


def counting_model(signal: float, observed: int, background: float, background_err: float):
    """The model of the model-independent limits (:func:`s95`, :func:`recast.stats.s95_toys`): one
    bin, ``signal`` events at POI 1 without uncertainty, the background with its Poisson-constrained
    uncertainty; returns ``(model, data)``."""
    spec = workspace_spec([signal], [0.0], [background], [background_err], None)
    spec["channels"][0]["samples"][0]["modifiers"] = [{"name": "mu", "type": "normfactor", "data": None}]
    return model_and_data(spec, [observed])
