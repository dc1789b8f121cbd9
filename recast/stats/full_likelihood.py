"""The full likelihood of a signal region: the analysis' published background-only workspace with
our signal patched in.

Where an analysis publishes background-only workspaces, the full likelihood of a region is that
workspace with a signal sample patched into its signal-region channel (normfactor on the POI, the
workspace's luminosity modifier, the MC-statistical error); control-region contamination is not
modelled (our analyses do not compute control regions) and is stated as such.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import RecastError
from . import fits, limits
from .hypotest import Likelihood
from .limits import Limits, ProgressCallback, RegionLimit, Steps


def _patched_workspace(path, spec: dict[str, Any], signal: float, signal_err: float,
                       xsec_rel: float | None, poi_max: float = fits.MU_MAX,
                       ml_band: tuple[float, float] | None = None) -> dict[str, Any]:
    """A background-only workspace with our signal in its signal-region channel."""
    ws = json.loads(path.read_text())
    channel = next((c for c in ws.get("channels", []) if c.get("name") == spec["channel"]), None)
    if channel is None:
        raise RecastError(f"{path}: no channel {spec['channel']!r} to put the signal into")
    mods = [{"name": spec["poi"], "type": "normfactor", "data": None},
            {"name": spec["lumi"], "type": "lumi", "data": None},
            {"name": "signal_mcstat", "type": "shapesys", "data": [max(signal_err, fits.MC_ERR_FLOOR * signal)]}]
    if xsec_rel:
        mods.append(limits.xsec_normsys(xsec_rel))
    if ml_band:
        mods.append(limits.ml_normsys(ml_band))
    channel["samples"].append({"name": "recast_signal", "data": [max(signal, fits.EMPTY_SIGNAL)], "modifiers": mods})
    for measurement in ws.get("measurements", []):
        params = measurement["config"].setdefault("parameters", [])
        params[:] = [p for p in params if p.get("name") != spec["poi"]]
        params.append({"name": spec["poi"], "bounds": [[0.0, poi_max]], "inits": [1.0]})
    return ws


def _full_region(name: str, sr: dict[str, Any], spec: dict[str, Any], analysis_id: str,
                 xsec_rel: float | None, ml_band: tuple[float, float] | None = None) -> RegionLimit | str:
    """The full-likelihood answer for one region, or why there is none."""
    from .. import artifacts
    from ..errors import ArtifactError, ArtifactUnavailable

    artifact_id = spec["artifact"].format(region=name)
    try:
        artifact = artifacts.get(analysis_id, artifact_id)
    except ArtifactError:
        return "no published workspace"
    try:
        path = artifacts.fetch(artifact)
    except ArtifactUnavailable as exc:
        return f"workspace unavailable: {exc}"
    pub = sr["published"]
    out = RegionLimit(name=name, kind="single", likelihood="full", regions=[name], signal=[sr["yield"] or 0.0],
                      signal_err=[sr["yield_err"] or 0.0], observed=[pub["observed"]], background=[pub["background"]],
                      background_err=[pub["background_err"]],
                      note="workspace " + artifact_id + "; no control-region contamination modelled")
    if out.signal[0] <= 0:
        out.cls_obs, out.cls_exp, out.cls_exp_bound = 1.0, [1.0] * 5, [False] * 5
        out.r_obs = out.r_exp = 0.0
        return out
    pyhf = fits.pyhf_numpy()
    mu_signal = fits.signal_scale(out.signal, out.background, out.background_err)
    try:
        ws = pyhf.Workspace(_patched_workspace(path, spec, out.signal[0] / mu_signal, out.signal_err[0] / mu_signal,
                                               xsec_rel, fits.poi_max(mu_signal), ml_band))
        model = ws.model()
        data = ws.data(model)
    except (pyhf.exceptions.InvalidSpecification, pyhf.exceptions.InvalidModel, KeyError, ValueError) as exc:
        raise RecastError(f"{path}: not a usable pyhf workspace: {str(exc).splitlines()[0][:200]}") from None
    out._likelihood = Likelihood(model, data, mu_signal)  # kept for the upper limit
    limits.fill_cls(out)
    if pub.get("s95_observed"):
        out.r_obs = out.signal[0] / pub["s95_observed"]
    if pub.get("s95_expected"):
        out.r_exp = out.signal[0] / pub["s95_expected"]
    return out


def full(doc: dict[str, Any], analysis, xsec_unc: bool = False, upper_limits: str = "best",
         on_region: ProgressCallback | None = None, _steps: Steps | None = None,
         ml_unc: limits.MLUncertainty | None = None) -> Limits:
    """Limits with the analysis' published background-only workspaces, for every region that has
    one (see the module docstring); ``ml_unc`` as for :func:`~recast.stats.simplified`."""
    ml_unc = ml_unc or {}
    spec = analysis.full_likelihood
    out = Limits(analysis=doc["analysis"]["id"], likelihood="full")
    if not spec:
        out.notes.append(f"{analysis.id} publishes no full likelihoods that recast can use")
        return out
    steps = _steps or Steps(limits.count_steps(doc, analysis, "full", upper_limits), on_region)
    xsec_rel = limits.xsec_rel(doc, xsec_unc, out)
    for name, sr in limits.regions_of(doc).items():
        if sr["published"] is None:
            continue
        answer = _full_region(name, sr, spec, analysis.id, xsec_rel, ml_unc.get(name))
        steps.tick(f"{name} (full)")
        if isinstance(answer, str):
            if answer != "no published workspace":
                out.notes.append(f"{name}: {answer}")
            continue
        out.regions.append(answer)
    fitted = sum(sr["published"] is not None for sr in doc["signal_regions"])
    steps.total -= limits.n_upper_limits(fitted, upper_limits) - limits.n_upper_limits(len(out.regions), upper_limits)
    out.notes.append("full likelihoods: " + spec.get("source", "published background-only workspaces")
                     + "; the signal enters the signal-region channel only (no control-region contamination)")
    limits.decide(out, upper_limits, steps)
    return out
