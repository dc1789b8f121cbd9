"""Limits with pyhf: is a model point excluded, and by which signal region?

For every signal region of a result:

* the **simplified likelihood** of the region: the published observed count, the published
  background with its uncertainty as a Poisson-constrained factor (pyhf's uncorrelated-background
  model), our signal yield with its MC-statistical error as another such factor, and optionally
  the cross-section uncertainty (a normsys);
* CLs at signal strength 1, observed and expected (median, +-1 sigma, +-2 sigma), asymptotic
  formulae with the q~_mu test statistic;
* r = S / S95 with the published model-independent limits S95 (observed and expected), as
  CheckMATE defines it.

Regions that an analysis declares as the bins of one multi-bin signal region are also combined in
one likelihood. The region (or combination) with the smallest expected CLs decides: the point is
excluded when its observed CLs is below 0.05 (the best-expected-region convention of CheckMATE and
MadAnalysis 5). The 95 % CL upper limit on the signal strength is computed as ``upper_limits``
says: ``"best"`` for the deciding region (the default), ``"all"`` for every region, ``"none"`` to
skip it. A limit costs ~0.4 s for one region against ~0.01 s for a CLs, but 20-90 s for an 18- or
24-bin combination (benchmarks/stats.py), which is why scans default to ``"none"``: their decision
needs the CLs only.

Where an analysis publishes background-only workspaces, the **full likelihood** of a region is
that workspace with a signal sample patched into its signal-region channel (normfactor on the
POI, the workspace's luminosity modifier, the MC-statistical error); control-region contamination
is not modelled (our analyses do not compute control regions) and is stated as such.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import RecastError

CLS_LEVEL = 0.05
MU_MAX = 1e5  # the POI range: wide, because signal yields span many decades
LIMITS_SCHEMA = "recast-limits"
LIMITS_VERSION = 1


def _pyhf():
    import pyhf

    pyhf.set_backend("numpy")
    return pyhf


@dataclass
class RegionLimit:
    """The statistical answer for one signal region or multi-bin combination."""

    name: str
    kind: str  # "single" | "combined"
    likelihood: str  # "simplified" | "full"
    regions: list[str]
    signal: list[float]
    signal_err: list[float]
    observed: list[int]
    background: list[float]
    background_err: list[float]
    cls_obs: float | None = None
    cls_exp: list[float] | None = None  # -2, -1, median, +1, +2 sigma
    r_obs: float | None = None
    r_exp: float | None = None
    mu95_obs: float | None = None
    mu95_exp: list[float] | None = None
    note: str = ""

    @property
    def cls_median(self) -> float:
        return self.cls_exp[2] if self.cls_exp else 1.0


@dataclass
class Limits:
    """Limits of one analysis result."""

    analysis: str
    likelihood: str
    regions: list[RegionLimit] = field(default_factory=list)
    best: str | None = None
    excluded: bool = False
    cls_obs: float | None = None
    cls_exp: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"likelihood": self.likelihood, "best": self.best, "excluded": self.excluded,
                "cls_obs": self.cls_obs, "cls_exp": self.cls_exp, "notes": self.notes,
                "regions": [{k: v for k, v in asdict(r).items() if not k.startswith("_")} for r in self.regions]}


def document(analysis_id: str, source: str, limits: Sequence[Limits]) -> dict[str, Any]:
    """The versioned limits file (``recast/schemas/limits-1.schema.json``) of one result, checked
    against its schema."""
    import jsonschema
    from importlib.resources import files

    doc = {"schema": LIMITS_SCHEMA, "schema_version": LIMITS_VERSION,
           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "analysis": analysis_id, "source": source, "cls_level": CLS_LEVEL,
           "limits": {lim.likelihood: lim.to_dict() for lim in limits}}
    schema = json.loads(files("recast.schemas").joinpath(f"limits-{LIMITS_VERSION}.schema.json").read_text())
    jsonschema.validate(_finite(doc), schema)
    return doc


def _finite(obj):
    """NaN/inf have no JSON form: refuse them loudly rather than write an invalid file."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise RecastError(f"a limit came out as {obj}: the fit did not converge")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


UPPER_LIMITS = ("none", "best", "all")


def compute(doc: dict[str, Any], analysis, likelihood: str = "simplified", xsec_unc: bool = False,
            upper_limits: str = "best") -> list[Limits]:
    """Limits of a result with the requested likelihood(s): ``simplified``, ``full`` or ``both``;
    ``upper_limits`` chooses the regions that get an upper limit on mu (``none``, ``best``, ``all``)."""
    if likelihood not in ("simplified", "full", "both"):
        raise RecastError(f"--likelihood {likelihood}: choose simplified, full or both")
    _check_upper_limits(upper_limits)
    known = {r.name for r in analysis.signal_regions}
    foreign = [sr["name"] for sr in doc["signal_regions"] if sr["name"] not in known]
    if doc["analysis"]["id"] != analysis.id or foreign:
        raise RecastError(f"the result is not one of {analysis.id} as recast knows it (signal regions "
                          f"{', '.join(foreign[:5]) or doc['analysis']['id']})")
    out = []
    if likelihood in ("simplified", "both"):
        out.append(simplified(doc, analysis, xsec_unc, upper_limits))
    if likelihood in ("full", "both"):
        out.append(full(doc, analysis, xsec_unc, upper_limits))
    return out


def _check_upper_limits(upper_limits: str) -> None:
    if upper_limits not in UPPER_LIMITS:
        raise RecastError(f"--upper-limits {upper_limits}: choose {', '.join(UPPER_LIMITS)}")


def _simplified_spec(signal, signal_err, background, background_err, xsec_rel: float | None) -> dict[str, Any]:
    # A Poisson-constrained factor has tau = (s / ds)^2 auxiliary events: a zero yield or error
    # makes it undefined, and a huge tau makes the fit ill-conditioned. Bins without signal get a
    # negligible yield with a 100 % error; the relative MC error is floored at 0.1 % (tau <= 1e6).
    s = np.asarray(signal, float)
    empty = s <= 0
    s = np.where(empty, 1e-6, s)
    ds = np.where(empty, 1e-6, np.maximum(np.asarray(signal_err, float), 1e-3 * s))
    sig_mods = [{"name": "mu", "type": "normfactor", "data": None},
                {"name": "signal_mcstat", "type": "shapesys", "data": ds.tolist()}]
    if xsec_rel:
        sig_mods.append({"name": "signal_xsec", "type": "normsys", "data": {"hi": 1 + xsec_rel, "lo": max(1 - xsec_rel, 1e-3)}})
    return {
        "channels": [{"name": "SR", "samples": [
            {"name": "signal", "data": s.tolist(), "modifiers": sig_mods},
            {"name": "background", "data": [float(b) for b in background],
             "modifiers": [{"name": "background_uncertainty", "type": "shapesys",
                            "data": [float(e) for e in background_err]}]},
        ]}],
        "measurements": [{"name": "simplified", "config": {"poi": "mu", "parameters": [
            {"name": "mu", "bounds": [[0.0, MU_MAX]], "inits": [1.0]}]}}],
        "observations": [],
        "version": "1.0.0",
    }


def _model_and_data(spec: dict[str, Any], observed: Sequence[int]):
    pyhf = _pyhf()
    spec = copy.deepcopy(spec)
    spec["observations"] = [{"name": "SR", "data": [float(o) for o in observed]}]
    ws = pyhf.Workspace(spec)
    model = ws.model()
    return model, ws.data(model)


def _hypotest(model, data) -> tuple[float, list[float]]:
    """CLs at mu = 1 (observed, expected band).

    For a signal far below the background uncertainty, the asymptotic q~_mu transformation divides
    by sqrt(q_A) ~ 0 and both tail probabilities underflow: CLs = 0/0. Its limit for a vanishing
    signal is 1 (no sensitivity), returned when the expected CLs confirm it (all >= 0.99); any
    other undefined CLs is an error, never a silent 1."""
    pyhf = _pyhf()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs, exp = pyhf.infer.hypotest(1.0, data, model, test_stat="qtilde", return_expected_set=True)
    obs, exp = float(obs), [float(x) for x in exp]
    if math.isnan(obs) or any(math.isnan(x) for x in exp):
        defined = [x for x in exp if not math.isnan(x)]
        if defined and all(x >= 0.99 for x in defined):
            return 1.0, [1.0 if math.isnan(x) else x for x in exp]
        raise RecastError(f"CLs is undefined (observed {obs}, expected {exp}): the fit did not converge")
    return obs, exp


def _upper_limit(model, data, mu_guess: float) -> tuple[float, list[float]]:
    """95 % CL upper limit on mu (observed, expected band): root finding (TOMS 748) from a bracket
    around a guess, which pyhf widens until it brackets every band."""
    pyhf = _pyhf()
    mu_guess = min(max(mu_guess, 1e-4), MU_MAX / 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(
            data, model, mu_guess / 4, mu_guess * 4, level=CLS_LEVEL, test_stat="qtilde")[:2]
    return float(obs), [float(x) for x in exp]


def _patched_workspace(path, spec: dict[str, Any], signal: float, signal_err: float,
                       xsec_rel: float | None) -> dict[str, Any]:
    """A background-only workspace with our signal in its signal-region channel."""
    ws = json.loads(path.read_text())
    channel = next((c for c in ws.get("channels", []) if c.get("name") == spec["channel"]), None)
    if channel is None:
        raise RecastError(f"{path}: no channel {spec['channel']!r} to put the signal into")
    mods = [{"name": spec["poi"], "type": "normfactor", "data": None},
            {"name": spec["lumi"], "type": "lumi", "data": None},
            {"name": "signal_mcstat", "type": "shapesys", "data": [max(signal_err, 1e-3 * signal)]}]
    if xsec_rel:
        mods.append({"name": "signal_xsec", "type": "normsys", "data": {"hi": 1 + xsec_rel, "lo": max(1 - xsec_rel, 1e-3)}})
    channel["samples"].append({"name": "recast_signal", "data": [max(signal, 1e-6)], "modifiers": mods})
    for measurement in ws.get("measurements", []):
        params = measurement["config"].setdefault("parameters", [])
        params[:] = [p for p in params if p.get("name") != spec["poi"]]
        params.append({"name": spec["poi"], "bounds": [[0.0, MU_MAX]], "inits": [1.0]})
    return ws


def _full_region(name: str, sr: dict[str, Any], spec: dict[str, Any], analysis_id: str,
                 xsec_rel: float | None) -> RegionLimit | str:
    """The full-likelihood answer for one region, or why there is none."""
    from . import artifacts
    from .errors import ArtifactError, ArtifactUnavailable

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
        out.cls_obs, out.cls_exp = 1.0, [1.0] * 5
        out.r_obs = out.r_exp = 0.0
        return out
    pyhf = _pyhf()
    try:
        ws = pyhf.Workspace(_patched_workspace(path, spec, out.signal[0], out.signal_err[0], xsec_rel))
        model = ws.model()
        data = ws.data(model)
    except (pyhf.exceptions.InvalidSpecification, pyhf.exceptions.InvalidModel, KeyError, ValueError) as exc:
        raise RecastError(f"{path}: not a usable pyhf workspace: {str(exc).splitlines()[0][:200]}") from None
    out.cls_obs, out.cls_exp = _hypotest(model, data)
    if pub.get("s95_observed"):
        out.r_obs = out.signal[0] / pub["s95_observed"]
    if pub.get("s95_expected"):
        out.r_exp = out.signal[0] / pub["s95_expected"]
    out._model = (model, data)  # kept for the upper limit of the deciding region
    return out


def full(doc: dict[str, Any], analysis, xsec_unc: bool = False, upper_limits: str = "best") -> Limits:
    """Limits with the analysis' published background-only workspaces, for every region that has
    one (see the module docstring)."""
    spec = analysis.full_likelihood
    out = Limits(analysis=doc["analysis"]["id"], likelihood="full")
    if not spec:
        out.notes.append(f"{analysis.id} publishes no full likelihoods that recast can use")
        return out
    xsec_rel = _xsec_rel(doc, xsec_unc)
    for name, sr in _regions_of(doc).items():
        if sr["published"] is None:
            continue
        answer = _full_region(name, sr, spec, analysis.id, xsec_rel)
        if isinstance(answer, str):
            if answer != "no published workspace":
                out.notes.append(f"{name}: {answer}")
            continue
        out.regions.append(answer)
    out.notes.append("full likelihoods: " + spec.get("source", "published background-only workspaces")
                     + "; the signal enters the signal-region channel only (no control-region contamination)")
    _decide(out, doc, xsec_rel, upper_limits)
    return out


def _xsec_rel(doc: dict[str, Any], xsec_unc: bool) -> float | None:
    xsec = doc["cross_section"]
    if xsec is None:
        raise RecastError(f"{doc['analysis']['id']}: the result has no cross section, so no signal yields: "
                          f"rerun with --xsec-fb")
    return (xsec["uncertainty_fb"] / xsec["value_fb"]) if xsec_unc and xsec.get("uncertainty_fb") else None


def s95(observed: int, background: float, background_err: float) -> tuple[float, list[float]]:
    """Model-independent 95 % CL upper limit on signal events (observed, expected band) from a
    published count, background and its uncertainty: pyhf, asymptotic, q~_mu, signal without
    uncertainty."""
    return _s95_cached(int(observed), float(background), float(background_err))


@lru_cache(maxsize=None)
def _s95_cached(observed: int, background: float, background_err: float) -> tuple[float, list[float]]:
    guess = max(3.0, 2.0 * math.sqrt(background + background_err**2) + 3.0)
    spec = _simplified_spec([guess], [0.0], [background], [background_err], None)
    spec["channels"][0]["samples"][0]["modifiers"] = [{"name": "mu", "type": "normfactor", "data": None}]
    model, data = _model_and_data(spec, [observed])
    obs, exp = _upper_limit(model, data, 1.0)
    return obs * guess, [e * guess for e in exp]


def _regions_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {sr["name"]: sr for sr in doc["signal_regions"]}


def _region_limit(name: str, kind: str, members: list[dict[str, Any]], xsec_rel: float | None) -> RegionLimit:
    pubs = [m["published"] for m in members]
    out = RegionLimit(name=name, kind=kind, likelihood="simplified", regions=[m["name"] for m in members],
                      signal=[m["yield"] or 0.0 for m in members], signal_err=[m["yield_err"] or 0.0 for m in members],
                      observed=[p["observed"] for p in pubs], background=[p["background"] for p in pubs],
                      background_err=[p["background_err"] for p in pubs])
    if sum(out.signal) <= 0:
        out.cls_obs, out.cls_exp, out.note = 1.0, [1.0] * 5, "no signal events"
        out.r_obs = out.r_exp = 0.0
        return out
    spec = _simplified_spec(out.signal, out.signal_err, out.background, out.background_err, xsec_rel)
    model, data = _model_and_data(spec, out.observed)
    out.cls_obs, out.cls_exp = _hypotest(model, data)
    if kind == "single":
        p = pubs[0]
        s = out.signal[0]
        if p.get("s95_observed"):
            out.r_obs = s / p["s95_observed"]
        if p.get("s95_expected"):
            out.r_exp = s / p["s95_expected"]
    return out


def simplified(doc: dict[str, Any], analysis, xsec_unc: bool = False, upper_limits: str = "best") -> Limits:
    """Limits of a result document with the simplified likelihoods (see the module docstring)."""
    xsec_rel = _xsec_rel(doc, xsec_unc)
    regions = _regions_of(doc)
    out = Limits(analysis=doc["analysis"]["id"], likelihood="simplified")
    for name, sr in regions.items():
        if sr["published"] is None:
            out.notes.append(f"{name}: no published observed count and background, no limit")
            continue
        out.regions.append(_region_limit(name, "single", [sr], xsec_rel))
    for name, members in analysis.combinations.items():
        present = [regions[m] for m in members if m in regions and regions[m]["published"] is not None]
        if len(present) == len(members):
            out.regions.append(_region_limit(name, "combined", present, xsec_rel))
        else:
            out.notes.append(f"{name}: not all of its bins were evaluated, no combination")
    _decide(out, doc, xsec_rel, upper_limits)
    return out


def _decide(out: Limits, doc: dict[str, Any], xsec_rel: float | None, upper_limits: str) -> None:
    _check_upper_limits(upper_limits)
    candidates = [r for r in out.regions if r.cls_exp is not None]
    if not candidates:
        out.notes.append("no region with published numbers: nothing to decide")
        return
    best = min(candidates, key=lambda r: (r.cls_median, -(r.r_exp or 0.0)))
    out.best, out.cls_obs, out.cls_exp = best.name, best.cls_obs, best.cls_median
    out.excluded = best.cls_obs is not None and best.cls_obs < CLS_LEVEL
    if upper_limits == "none":
        out.notes.append("upper limits on mu not computed (upper_limits = none)")
    for r in {"none": [], "best": [best], "all": candidates}[upper_limits]:
        if sum(r.signal) > 0:
            if r.likelihood == "full":
                model, data = r._model
            else:
                spec = _simplified_spec(r.signal, r.signal_err, r.background, r.background_err, xsec_rel)
                model, data = _model_and_data(spec, r.observed)
            guess = 1.0 / r.r_exp if r.r_exp else 1.0
            try:
                r.mu95_obs, r.mu95_exp = _upper_limit(model, data, guess)
            except Exception as exc:  # root finding can fail for degenerate inputs: say so, keep the CLs
                r.note = f"no upper limit on mu: {type(exc).__name__}: {exc}"


# -- model-independent limits from pseudo-experiments ---------------------------------------------
#
# At low counts the asymptotic formulae undershoot: with 0 observed events the CLs limit is
# -ln(0.05) = 3.0 signal events whatever the background, the asymptotic one ~2.1-2.4. The limits
# ATLAS publishes for such regions are reproduced by pseudo-experiments (validation/reports/s95);
# ``s95_toys`` computes them with pyhf's toy machinery.
#
# pyhf 0.7.6's ``hypotest(..., calctype="toybased")`` cannot be called as such here: its expected
# band calls ``np.percentile(..., interpolation=...)``, an argument NumPy 2.4 no longer has
# (TypeError), and its p-values count ``q_toy >= q_obs`` exactly, so toys whose test statistic
# equals the observed one up to the fit's precision (all toys with 0 events, for 0 observed) are
# counted at random. ``_toy_teststats`` therefore draws the pseudo-experiments exactly as pyhf's
# ``ToyCalculator.distributions`` does (same fits, same sampling calls: the same toys for the same
# seed), evaluates pyhf's q~_mu once per distinct toy (a one-bin toy is a pair of integers, so a few
# hundred fits serve thousands of toys) and computes the p-values with a tie tolerance.

TOY_TIE_TOLERANCE = 1e-4  # |q_toy - q_obs| below this is a tie (fit noise is ~1e-7)
TOY_NTOYS = 4000
TOY_SCAN_POINTS = 9
TOY_SCAN_FLOOR = 2.5  # CLs limits on a count are ~-ln(0.05) = 3.0 events or more (the scan extends if not)
_BAND_PERCENTILES = (2.27501319, 15.86552539, 50.0, 84.13447461, 97.72498681)  # -2..+2 sigma, as pyhf


@dataclass(frozen=True)
class ToyS95:
    """A toy-based S95 with its Monte Carlo precision and the scan it was read from."""

    observed: float
    expected: list[float]  # -2, -1, median, +1, +2 sigma
    observed_mc_err: float  # standard deviation from the finite number of toys (bootstrap)
    expected_mc_err: list[float]
    ntoys: int
    seed: int
    scan: list[float]  # signal events tested
    cls_obs: list[float]
    cls_exp: list[list[float]]  # per scan point, -2..+2 sigma


def _toy_teststats(model, data, mu: float, ntoys: int, seed: int):
    """q~_mu of the observed data and of ``ntoys`` signal+background and background-only toys at
    ``mu``: the toys of ``pyhf.infer.calculators.ToyCalculator(...).distributions(mu)`` after
    ``np.random.seed(seed)`` (NumPy's global state is restored afterwards)."""
    _pyhf()
    from pyhf.infer.mle import fixed_poi_fit
    from pyhf.infer.test_statistics import qmu_tilde

    init, bounds, fixed = (model.config.suggested_init(), model.config.suggested_bounds(),
                           model.config.suggested_fixed())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            sig_pars = fixed_poi_fit(mu, data, model, init, bounds, fixed)
            sig_toys = np.asarray(model.make_pdf(sig_pars).sample((ntoys,)), float)
            bkg_pars = fixed_poi_fit(0.0, data, model, init, bounds, fixed)
            bkg_toys = np.asarray(model.make_pdf(bkg_pars).sample((ntoys,)), float)
        finally:
            np.random.set_state(state)
        distinct, inverse = np.unique(np.vstack([sig_toys, bkg_toys]), axis=0, return_inverse=True)
        q = np.array([float(qmu_tilde(mu, toy, model, init, bounds, fixed)) for toy in distinct])
        q_obs = float(qmu_tilde(mu, data, model, init, bounds, fixed))
    q_all = q[np.ravel(inverse)]
    return q_obs, q_all[:ntoys], q_all[ntoys:]


def _tail(sorted_q: np.ndarray, q) -> np.ndarray:
    """Fraction of toys with q_toy >= q, ties within TOY_TIE_TOLERANCE included."""
    return 1.0 - np.searchsorted(sorted_q, np.asarray(q) - TOY_TIE_TOLERANCE, side="left") / len(sorted_q)


def _toy_cls_from(q_obs: float, q_sb: np.ndarray, q_b: np.ndarray) -> tuple[float, list[float]]:
    """CLs observed and the expected band (percentiles of CLs over the background-only toys, as
    pyhf's ToyCalculator.expected_pvalues)."""
    sb, b = np.sort(q_sb), np.sort(q_b)
    cls_obs = float(_tail(sb, q_obs) / max(_tail(b, q_obs), 1.0 / len(b)))
    cls_b = _tail(sb, q_b) / _tail(b, q_b)
    return cls_obs, [float(x) for x in np.percentile(cls_b, _BAND_PERCENTILES, method="linear")]


def _crossing(scan: Sequence[float], cls: Sequence[float]) -> float:
    """Where CLs falls to CLS_LEVEL: the first bracketing pair of scan points, log-linear in
    between (CLs ~ exp(-s) at low counts); nan if the scan does not bracket it."""
    for k in range(1, len(scan)):
        hi, lo = cls[k - 1], cls[k]
        if hi >= CLS_LEVEL > lo:
            a, c = math.log(max(hi, 1e-300)), math.log(max(lo, 1e-300))
            return scan[k - 1] + (scan[k] - scan[k - 1]) * (a - math.log(CLS_LEVEL)) / (a - c)
    return float("nan")


def s95_toys(observed: int, background: float, background_err: float, ntoys: int = TOY_NTOYS,
             seed: int = 1, details: bool = False):
    """Model-independent 95 % CL upper limit on signal events (observed, expected band) from
    pseudo-experiments: the model of :func:`s95` (one bin, signal without uncertainty, background
    with a Poisson-constrained uncertainty), CLs with q~_mu, ``ntoys`` signal+background and as many
    background-only toys per tested signal yield, seeded with ``seed`` at every point (the same
    random numbers at every point: a smooth CLs curve).

    The scan: ``TOY_SCAN_POINTS`` signal yields spaced geometrically from 0.6 x the smallest
    asymptotic limit (observed and band; not below TOY_SCAN_FLOOR) to 1.5 x the largest, extended
    by the same ratio until every curve starts above CLS_LEVEL and ends below it; each limit is
    interpolated log-linearly between the two points that bracket it.
    The Monte Carlo precision is the spread of the limits over 200 bootstrap resamplings of the toys
    (``details=True`` returns a :class:`ToyS95` with it; otherwise ``(observed, expected band)``
    like :func:`s95`)."""
    result = _s95_toys_cached(int(observed), float(background), float(background_err), int(ntoys), int(seed))
    return result if details else (result.observed, list(result.expected))


@lru_cache(maxsize=None)
def _s95_toys_cached(observed: int, background: float, background_err: float, ntoys: int, seed: int) -> ToyS95:
    asym_obs, asym_exp = s95(observed, background, background_err)
    ref = asym_obs  # signal yield of the model: mu = 1 is the asymptotic observed limit
    spec = _simplified_spec([ref], [0.0], [background], [background_err], None)
    spec["channels"][0]["samples"][0]["modifiers"] = [{"name": "mu", "type": "normfactor", "data": None}]
    model, data = _model_and_data(spec, [observed])
    lo = max(0.6 * min(asym_obs, *asym_exp), TOY_SCAN_FLOOR)
    hi = max(1.5 * max(asym_obs, *asym_exp), 1.5 * lo)
    scan = list(np.geomspace(lo, hi, TOY_SCAN_POINTS))
    step = scan[1] / scan[0]
    points = []  # (s, q_obs, q_sb, q_b), ascending in s

    def run(s):
        points.append((s, *_toy_teststats(model, data, s / ref, ntoys, seed)))
        points.sort(key=lambda p: p[0])

    def cls_at(k):
        obs, exp = _toy_cls_from(*points[k][1:])
        return [obs, *exp]

    for s in scan:
        run(s)
    for _ in range(2 * TOY_SCAN_POINTS):  # extend until every curve is bracketed
        if min(cls_at(0)) < CLS_LEVEL:
            run(points[0][0] / step)
        elif max(cls_at(-1)) >= CLS_LEVEL:
            run(points[-1][0] * step)
        else:
            break
    rng = np.random.default_rng(seed)
    boot = rng.integers(0, ntoys, size=(200, ntoys))

    def limits(index=None):
        curves = []
        for _, q_obs, q_sb, q_b in points:
            if index is not None:
                q_sb, q_b = q_sb[index], q_b[index]
            cls_obs, cls_exp = _toy_cls_from(q_obs, q_sb, q_b)
            curves.append([cls_obs, *cls_exp])
        s = [p[0] for p in points]
        return [_crossing(s, [c[k] for c in curves]) for k in range(6)], curves

    central, curves = limits()
    spread = np.nanstd(np.array([limits(ix)[0] for ix in boot]), axis=0)
    return ToyS95(observed=float(central[0]), expected=[float(x) for x in central[1:]],
                  observed_mc_err=float(spread[0]), expected_mc_err=[float(x) for x in spread[1:]],
                  ntoys=ntoys, seed=seed, scan=[float(p[0]) for p in points], cls_obs=[c[0] for c in curves],
                  cls_exp=[c[1:] for c in curves])
