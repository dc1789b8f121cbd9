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
skip it. A limit costs ~0.1 s for one region against ~0.015 s for a CLs, but 2-5 s for an 18- or
24-bin combination (with pyhf's own scan 0.4 s and 20-90 s, benchmarks/stats.py), which is why
scans default to ``"none"``: their decision needs the CLs only.

Where an analysis publishes background-only workspaces, the **full likelihood** of a region is
that workspace with a signal sample patched into its signal-region channel (normfactor on the
POI, the workspace's luminosity modifier, the MC-statistical error); control-region contamination
is not modelled (our analyses do not compute control regions) and is stated as such.

**Conditioning.** Signal yields span many decades (a light gluino gives thousands of events where
the backgrounds are a few), and a fit whose POI is O(1000) at the tested point, against a
Poisson-constrained MC-statistical factor, sends SciPy's SLSQP out of its bounds ("Inequality
constraints incompatible"). Every likelihood therefore holds its signal rescaled to the events the
region can just about exclude (:func:`_reference_signal`, ~its expected S95): its POI is O(1)
where the sensitivity is, and "mu = 1" is tested at POI = ``mu_signal`` (the likelihood is the
same function of the signal, so CLs and limits are unchanged). A fit that fails from the default
start is continued from the nearest converged fit along the POI (:class:`_Likelihood`). CLs is
computed from the test statistics in logarithms (pyhf's ratio of two normal tails is 0/0 at
strongly excluded points); below ``CLS_FLOOR`` it is reported as that bound (``cls_obs_bound``).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import json
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import RecastError

CLS_LEVEL = 0.05
# CLs below this is reported as this bound (flagged): ~9.2 sigma, far beyond what the asymptotic
# formulae's tails are known to describe (pseudo-experiments check them to ~1e-5), and the decision
# is the same whatever the exact value.
CLS_FLOOR = 1e-20
# Upper bound of the POI in units of max(1, mu_signal): the likelihoods are rescaled so that the
# POI is O(1) where the sensitivity is, and limits beyond 1000 times that are not limits.
MU_MAX = 1e3
LIMITS_SCHEMA = "recast-limits"
LIMITS_VERSION = 2
SOURCE_KINDS = ("result", "yields")

# (what was just computed, steps done, steps in all): the progress of a limits computation
ProgressCallback = Callable[[str, int, int], None]


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
    cls_obs_bound: bool = False  # cls_obs is an upper bound (below CLS_FLOOR, or beyond the fit range)
    cls_exp_bound: list[bool] | None = None
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
    cls_obs_bound: bool = False
    cls_exp_bound: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"likelihood": self.likelihood, "best": self.best, "excluded": self.excluded,
                "cls_obs": self.cls_obs, "cls_exp": self.cls_exp, "cls_obs_bound": self.cls_obs_bound,
                "cls_exp_bound": self.cls_exp_bound, "notes": self.notes,
                "regions": [{k: v for k, v in asdict(r).items() if not k.startswith("_")} for r in self.regions]}


def document(analysis_id: str, source: str, limits: Sequence[Limits], source_kind: str = "result") -> dict[str, Any]:
    """The versioned limits file (``recast/schemas/limits-2.schema.json``) of one result or yields
    table (``source_kind``), checked against its schema."""
    from . import schemas

    if source_kind not in SOURCE_KINDS:
        raise ValueError(f"source_kind {source_kind!r}")
    doc = {"schema": LIMITS_SCHEMA, "schema_version": LIMITS_VERSION,
           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "analysis": analysis_id, "source": source, "source_kind": source_kind, "cls_level": CLS_LEVEL,
           "cls_floor": CLS_FLOOR, "limits": {lim.likelihood: lim.to_dict() for lim in limits}}
    schemas.validate(_finite(doc), "limits", "limits", accept=(LIMITS_VERSION,))
    return doc


def encode(doc: dict[str, Any]) -> bytes:
    """A limits document as the bytes of its file."""
    from .results import encode as encode_json

    return encode_json(doc)


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


class _Steps:
    """Counts the fits of a limits computation for a progress callback."""

    def __init__(self, total: int, on_region: ProgressCallback | None) -> None:
        self.total, self.done, self.on_region = total, 0, on_region

    def tick(self, what: str) -> None:
        self.done += 1
        if self.on_region is not None:
            self.on_region(what, self.done, max(self.total, self.done))


def _n_upper_limits(n_candidates: int, upper_limits: str) -> int:
    return {"none": 0, "best": min(1, n_candidates), "all": n_candidates}[upper_limits]


def count_steps(doc: dict[str, Any], analysis, likelihood: str = "simplified", upper_limits: str = "best") -> int:
    """How many progress steps :func:`compute` reports: one per region or combination fitted, one
    per upper limit."""
    with_numbers = [sr["name"] for sr in doc["signal_regions"] if sr["published"] is not None]
    steps = 0
    if likelihood in ("simplified", "both"):
        combos = sum(all(m in with_numbers for m in members) for members in analysis.combinations.values())
        steps += len(with_numbers) + combos + _n_upper_limits(len(with_numbers) + combos, upper_limits)
    if likelihood in ("full", "both") and analysis.full_likelihood:
        steps += len(with_numbers) + _n_upper_limits(len(with_numbers), upper_limits)
    return steps


def compute(doc: dict[str, Any], analysis, likelihood: str = "simplified", xsec_unc: bool = False,
            upper_limits: str = "best", on_region: ProgressCallback | None = None) -> list[Limits]:
    """Limits of a result with the requested likelihood(s): ``simplified``, ``full`` or ``both``;
    ``upper_limits`` chooses the regions that get an upper limit on mu (``none``, ``best``, ``all``).
    ``on_region(what, done, total)`` is called after every region, combination and upper limit."""
    if likelihood not in ("simplified", "full", "both"):
        raise RecastError(f"--likelihood {likelihood}: choose simplified, full or both")
    _check_upper_limits(upper_limits)
    known = {r.name for r in analysis.signal_regions}
    foreign = [sr["name"] for sr in doc["signal_regions"] if sr["name"] not in known]
    if doc["analysis"]["id"] != analysis.id or foreign:
        raise RecastError(f"the result is not one of {analysis.id} as recast knows it (signal regions "
                          f"{', '.join(foreign[:5]) or doc['analysis']['id']})")
    steps = _Steps(count_steps(doc, analysis, likelihood, upper_limits), on_region)
    out = []
    if likelihood in ("simplified", "both"):
        out.append(simplified(doc, analysis, xsec_unc, upper_limits, _steps=steps))
    if likelihood in ("full", "both"):
        out.append(full(doc, analysis, xsec_unc, upper_limits, _steps=steps))
    return out


def _check_upper_limits(upper_limits: str) -> None:
    if upper_limits not in UPPER_LIMITS:
        raise RecastError(f"--upper-limits {upper_limits}: choose {', '.join(UPPER_LIMITS)}")


def _reference_signal(background: float, background_err: float) -> float:
    """Signal events a count on this background can just about exclude: 2 sqrt(b + db^2) + 3, about
    its expected S95 (3 events at b = 0, where CLs = exp(-s)). The scale at which a likelihood's
    POI is O(1)."""
    return 2.0 * math.sqrt(background + background_err**2) + 3.0


def _signal_scale(signal: Sequence[float], background: Sequence[float], background_err: Sequence[float]) -> float:
    """``mu_signal``: the largest ratio over the bins of the signal to the bin's reference signal,
    i.e. the POI value at which a likelihood with the signal divided by it holds the signal as given."""
    ratios = [s / _reference_signal(b, db) for s, b, db in zip(signal, background, background_err) if s > 0]
    return max(ratios) if ratios else 1.0


def _poi_max(mu_signal: float) -> float:
    return MU_MAX * max(1.0, mu_signal)


def _simplified_spec(signal, signal_err, background, background_err, xsec_rel: float | None,
                     poi_max: float = MU_MAX) -> dict[str, Any]:
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
            {"name": "mu", "bounds": [[0.0, poi_max]], "inits": [1.0]}]}}],
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


def _simplified_likelihood(signal, signal_err, background, background_err, xsec_rel: float | None,
                           observed: Sequence[int]) -> _Likelihood:
    """The simplified likelihood of one region or combination, its signal rescaled to O(1) POI."""
    mu_signal = _signal_scale(signal, background, background_err)
    spec = _simplified_spec([s / mu_signal for s in signal], [e / mu_signal for e in signal_err], background,
                            background_err, xsec_rel, poi_max=_poi_max(mu_signal))
    return _Likelihood(*_model_and_data(spec, observed), mu_signal=mu_signal)


@contextlib.contextmanager
def _quiet_fits():
    """pyhf logs every failed minimisation with SciPy's whole result; ours are retried or reported."""
    logger = logging.getLogger("pyhf.optimize")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


class _FitFailed(RecastError):
    """A fit that did not converge even when continued from the nearest converged fit."""


@dataclass(frozen=True)
class Hypotest:
    """CLs at the tested signal: observed, expected band (-2..+2 sigma), which are upper bounds."""

    cls_obs: float
    cls_exp: list[float]
    obs_bound: bool = False
    exp_bound: tuple[bool, ...] = (False,) * 5
    note: str = ""


_DATASETS = {"data": "the observed data", "asimov": "the background-only Asimov data"}
_BAND_SIGMAS = (2.0, 1.0, 0.0, -1.0, -2.0)  # background-only test statistics of the -2..+2 sigma CLs, as pyhf
CONTINUATION_TRIES = 40
# SLSQP's stopping tolerance on -2 ln L. SciPy's default (1e-6, pyhf's) stops fits with a large
# MC-statistical uncertainty on a large signal at points that are not minima, 20 or 40 units of
# -2 ln L too high (the Poisson-constrained factor's curvature varies by decades along the path).
FIT_TOLERANCE = 1e-10
POLISH_BELOW = 0.1  # a fitted positive parameter below this (in its natural units, ~1): polish the fit
NLL_TOLERANCE = 1e-6  # a fixed-POI fit below the free fit by more than this: the free fit missed the minimum


class _Likelihood:
    """A pyhf model with its data, and the fits of the asymptotic q~_mu CLs (Cowan et al.,
    arXiv:1007.1727, as ``pyhf.infer.hypotest`` computes it), cached.

    ``mu_signal`` is the POI value at which the model holds the signal being tested: CLs "at mu = 1"
    is CLs at POI = mu_signal, and an upper limit on the POI over mu_signal is the upper limit on mu.

    The fits are pyhf's (SLSQP), with these differences from ``pyhf.infer.hypotest``, each for
    signals far above what the data allow (found against an independent profile likelihood,
    tests/test_stats_extreme.py):

    * a fit at fixed POI starts with the signal's MC-statistical factors at their conditional
      maximum (:meth:`_start`), not at 1;
    * the stopping tolerance is ``FIT_TOLERANCE``, and a fit that leaves a positive factor below
      ``POLISH_BELOW`` is polished in logarithms (:meth:`_polish`);
    * a fit that fails is continued from the nearest converged fit on the same data, in POI steps
      that halve until they converge; a fixed-POI fit below the free fit replaces it;
    * the tails are combined in logarithms: no 0/0 where both underflow."""

    def __init__(self, model, data, mu_signal: float = 1.0) -> None:
        cfg = model.config
        self.model, self.data, self.mu_signal = model, data, float(mu_signal)
        self.poi = cfg.poi_index
        self.init = np.asarray(cfg.suggested_init(), float)
        self.bounds, self.fixed_params = cfg.suggested_bounds(), cfg.suggested_fixed()
        self.poi_max = float(self.bounds[self.poi][1])
        self._positive = np.array([lo > 0 for lo, _ in self.bounds])  # factors (gammas, lumi), not the POI
        self._signal_stat = self._signal_stat_layout()
        self._free: dict[str, tuple[np.ndarray, float]] = {}
        self._fixed: dict[str, dict[float, tuple[np.ndarray, float]]] = {"data": {}, "asimov": {}}
        self._asimov = None

    # -- fits ---------------------------------------------------------------------------------
    def _dataset(self, which: str):
        if which == "data":
            return self.data
        if self._asimov is None:  # background-only Asimov data: the expectation at the mu = 0 fit
            self._asimov = self.model.expected_data(self.fixed("data", 0.0)[0])
        return self._asimov

    def _signal_stat_layout(self):
        """Where the signal's MC-statistical factors (``signal_mcstat``) are: their parameter slice,
        their tau, their slice of the auxiliary data and, per factor, the signal's main-data bin
        and its yield at POI = 1 with every other parameter at its start; None without them."""
        cfg = self.model.config
        if "signal_mcstat" not in cfg.par_order:
            return None
        params = cfg.param_set("signal_mcstat")
        offset = 0
        for name in cfg.auxdata_order:
            if name == "signal_mcstat":
                break
            offset += len(cfg.param_set(name).auxdata)
        sl = cfg.par_slice("signal_mcstat")
        base = self.init.copy()
        base[self.poi] = 1.0
        base[sl] = 0.0
        without = np.asarray(self.model.expected_actualdata(base), float)
        bins, yields = [], []
        for j in range(sl.stop - sl.start):
            probe = base.copy()
            probe[sl.start + j] = 1.0
            signal = np.asarray(self.model.expected_actualdata(probe), float) - without
            bins.append(int(np.argmax(np.abs(signal))))
            yields.append(float(signal[bins[-1]]))
        aux = slice(cfg.nmaindata + offset, cfg.nmaindata + offset + len(params.auxdata))
        return sl, np.asarray(params.factors, float), aux, np.asarray(bins), np.asarray(yields), without

    def _start(self, which: str, mu: float) -> np.ndarray:
        """The start of the fit at POI = mu: the model's suggested values, with the signal's
        MC-statistical factors at their conditional maximum-likelihood values given the others
        (one quadratic per bin). Far above the data they are small, and SLSQP started from 1 stops
        short of them or leaves its bounds."""
        start = self.init.copy()
        start[self.poi] = mu
        if self._signal_stat is None:
            return start
        sl, tau, aux, bins, unit, without = self._signal_stat
        data = np.asarray(self._dataset(which), float)
        n, m = data[bins], data[aux]
        a_sig = mu * unit  # signal at gamma = 1
        background = without[bins]  # everything else in the bin (the signal-free expectation at mu = 1)
        qa = a_sig * (a_sig + tau)
        qb = (a_sig + tau) * background - (n + m) * a_sig
        disc = np.sqrt(qb * qb + 4 * qa * m * background)
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.where(qb > 0, 2 * m * background / (qb + disc), (disc - qb) / (2 * qa))
        lo, hi = np.array([self.bounds[i] for i in range(sl.start, sl.stop)], float).T
        start[sl] = np.where(np.isfinite(root) & (a_sig > 0), np.clip(root, np.maximum(lo, 1e-8), hi), 1.0)
        return start

    def _minimize(self, which: str, init, mu: float | None) -> tuple[np.ndarray, float]:
        """pyhf's fit (SLSQP) from ``init``, free or at POI = mu, polished where factors are small."""
        from pyhf.infer.mle import fit, fixed_poi_fit

        data, init = self._dataset(which), [float(x) for x in init]
        with _quiet_fits():
            if mu is None:
                pars, twice_nll = fit(data, self.model, init, self.bounds, self.fixed_params, return_fitted_val=True,
                                      tolerance=FIT_TOLERANCE)
            else:
                pars, twice_nll = fixed_poi_fit(mu, data, self.model, init, self.bounds, self.fixed_params,
                                                return_fitted_val=True, tolerance=FIT_TOLERANCE)
        result = np.asarray(pars, float), float(twice_nll)
        if np.any(self._varied(mu) & self._positive & (result[0] < POLISH_BELOW)):
            result = min(result, self._polish(which, result[0], mu), key=lambda r: r[1])
        return result

    def _varied(self, mu: float | None) -> np.ndarray:
        """The parameters a fit varies: not fixed, and not the POI of a fixed-POI fit."""
        varied = ~np.asarray(self.fixed_params, bool)
        if mu is not None:
            varied[self.poi] = False
        return varied

    def _polish(self, which: str, pars: np.ndarray, mu: float | None) -> tuple[np.ndarray, float]:
        """L-BFGS-B from SLSQP's result with the positive parameters in logarithms. A factor far
        below 1 (a large signal absorbed by its MC-statistical factor) makes -2 ln L vary by
        decades along a narrow valley, in which SLSQP stops short by up to several units; in
        logarithms the valley is straight."""
        from pyhf.infer.mle import twice_nll
        from scipy.optimize import minimize

        data = self._dataset(which)
        index = np.flatnonzero(self._varied(mu))
        lo, hi = (np.array([self.bounds[i][k] for i in index], float) for k in (0, 1))
        positive = self._positive[index]
        to_x = lambda p: np.where(positive, np.log(np.where(positive, p[index], 1.0)), p[index])  # noqa: E731

        def to_pars(x: np.ndarray) -> np.ndarray:
            out = pars.copy()
            out[index] = np.where(positive, np.exp(x), x)
            return out

        def objective(x: np.ndarray) -> float:
            return float(np.ravel(twice_nll(to_pars(x), data, self.model))[0])

        bounds = [(math.log(a), math.log(b)) if pos else (a, b) for a, b, pos in zip(lo, hi, positive)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = minimize(objective, np.clip(to_x(pars), *np.array(bounds).T), method="L-BFGS-B", bounds=bounds,
                           options={"ftol": 1e-14, "gtol": 1e-9, "maxfun": 20000})
        return to_pars(res.x), float(res.fun)

    def free(self, which: str) -> tuple[np.ndarray, float]:
        """The unconditional fit (POI bounded below by 0: q~_mu)."""
        if which not in self._free:
            pyhf = _pyhf()
            try:
                self._free[which] = self._minimize(which, self.init, None)
            except pyhf.exceptions.FailedMinimization:
                start = self.fixed(which, 0.0)[0]  # the background-only fit is a start close to the data
                try:
                    self._free[which] = self._minimize(which, start, None)
                except pyhf.exceptions.FailedMinimization:
                    raise _FitFailed(f"the unconditional fit to {_DATASETS[which]} does not converge") from None
        return self._free[which]

    def fixed(self, which: str, mu: float) -> tuple[np.ndarray, float]:
        """The fit at POI = mu, continued from the nearest converged fit if it fails."""
        fits = self._fixed[which]
        if mu not in fits:
            pyhf = _pyhf()
            try:
                fits[mu] = self._minimize(which, self._start(which, mu), mu)
            except pyhf.exceptions.FailedMinimization:
                fits[mu] = self._continued(which, mu)
            free = self._free.get(which)
            if free is not None and fits[mu][1] < free[1] - NLL_TOLERANCE:
                self._refit_free(which, fits[mu])
        return fits[mu]

    def _refit_free(self, which: str, lower: tuple[np.ndarray, float]) -> None:
        pyhf = _pyhf()
        try:
            refit = self._minimize(which, lower[0], None)
        except pyhf.exceptions.FailedMinimization:
            refit = lower
        self._free[which] = min(refit, lower, key=lambda f: f[1])

    def _continued(self, which: str, mu: float) -> tuple[np.ndarray, float]:
        pyhf = _pyhf()
        anchors = dict(self._fixed[which])
        if which in self._free:
            anchors.setdefault(float(self._free[which][0][self.poi]), self._free[which])
        if not anchors and mu != 0.0:
            anchors[0.0] = self.fixed(which, 0.0)
        if not anchors:
            raise _FitFailed(f"the fit at mu = 0 to {_DATASETS[which]} does not converge")
        here = min(anchors, key=lambda m: abs(m - mu))
        pars = anchors[here][0]
        fraction = 1.0
        for _ in range(CONTINUATION_TRIES):
            step = mu if fraction >= 1.0 else (
                here * (mu / here) ** fraction if here > 0 and mu > 0 else here + fraction * (mu - here))
            start = pars.copy()
            start[self.poi] = step
            try:
                result = self._minimize(which, start, step)
            except pyhf.exceptions.FailedMinimization:
                fraction /= 2
                continue
            if step == mu:
                return result
            self._fixed[which][step] = result
            here, pars, fraction = step, result[0], 1.0
        raise _FitFailed(f"the fit to {_DATASETS[which]} at mu = {mu / self.mu_signal:.3g} does not converge "
                         f"(it does up to mu = {here / self.mu_signal:.3g})")

    # -- test statistics and CLs ----------------------------------------------------------------
    def qtilde(self, which: str, mu: float) -> float:
        pars_hat, nll_hat = self.free(which)
        if pars_hat[self.poi] > mu:
            return 0.0
        nll_mu = self.fixed(which, mu)[1]
        return max(nll_mu - self.free(which)[1], 0.0)  # free() again: the fixed fit may have improved it

    def log_cls(self, mu: float, observed: bool = True) -> tuple[float | None, list[float]]:
        """ln CLs at POI = mu: observed (None unless ``observed``) and the expected band, -2..+2 sigma."""
        from scipy.special import log_ndtr

        a = math.sqrt(self.qtilde("asimov", mu))
        if a == 0.0:  # no sensitivity at all: CLs = 1 (its limit as the signal vanishes)
            return (0.0 if observed else None), [0.0] * 5
        band = [float(log_ndtr(-(n + a)) - log_ndtr(-n)) for n in _BAND_SIGMAS]
        if not observed:
            return None, band
        q = self.qtilde("data", mu)
        t = math.sqrt(q) - a if math.sqrt(q) <= a else (q - a * a) / (2 * a)
        return float(log_ndtr(-(t + a)) - log_ndtr(-t)), band

    def hypotest(self) -> Hypotest:
        """CLs at the signal as given. Where the fits do not converge at it, CLs at the largest
        signal below it where they do is an upper bound (CLs falls with the signal), reported as
        such when it excludes; otherwise a :class:`RecastError`."""
        try:
            log_obs, band = self.log_cls(self.mu_signal)
            return _bounded(log_obs, band)
        except _FitFailed as exc:
            failure = str(exc)
        mu = self.mu_signal
        for _ in range(30):
            mu /= 2
            try:
                log_obs, band = self.log_cls(mu)
            except _FitFailed:
                continue
            if log_obs < math.log(CLS_LEVEL):
                out = _bounded(log_obs, band)
                return Hypotest(out.cls_obs, out.cls_exp, True, (True,) * 5,
                                f"excluded beyond the fit range: {failure}; CLs <= {out.cls_obs:.3g} at "
                                f"{mu / self.mu_signal:.3g} x the signal")
            break
        raise RecastError(f"CLs is undefined: {failure}")

    def upper_limit(self, guess: float = 1.0) -> tuple[float, list[float]]:
        """95 % CL upper limit on mu (observed, expected band -2..+2 sigma): TOMS 748 root finding
        on ln CLs(mu) - ln 0.05 from a bracket around ``guess`` (in units of mu) widened until it
        brackets every curve, as ``pyhf.infer.intervals.upper_limits.toms748_scan``."""
        from scipy.optimize import toms748

        cache: dict[float, list[float | None]] = {}

        def curve(mu: float, k: int) -> float:  # k = 0: observed, 1..5: expected -2..+2 sigma
            entry = cache.get(mu)
            if entry is None or (k == 0 and entry[0] is None):  # the expected band needs no fit to the data
                log_obs, band = self.log_cls(mu, observed=k == 0)
                cache[mu] = entry = [log_obs, *band]
            return entry[k] - math.log(CLS_LEVEL)

        lo = min(max(guess * self.mu_signal / 4, 1e-12 * self.poi_max), self.poi_max / 16)
        hi = min(lo * 16, self.poi_max)
        while any(curve(lo, k) < 0 for k in range(6)):
            if lo < 1e-12 * self.poi_max:
                raise RecastError("no upper limit: CLs is below 0.05 at every signal strength tried")
            lo /= 2
        while any(curve(hi, k) > 0 for k in range(6)):
            if hi >= self.poi_max:
                raise RecastError(f"no upper limit: CLs stays above 0.05 up to mu = {self.poi_max / self.mu_signal:.3g}")
            hi = min(2 * hi, self.poi_max)
        limits = []
        for k in range(6):  # the tightest bracket among the points computed
            known = [m for m in cache if cache[m][k] is not None]
            above = min(m for m in known if curve(m, k) < 0)
            below = max(m for m in known if m < above and curve(m, k) >= 0)
            limits.append(toms748(curve, below, above, args=(k,), k=2, xtol=2e-12, rtol=1e-4) / self.mu_signal)
        return float(limits[0]), [float(x) for x in limits[1:]]


def _bounded(log_obs: float, band: Sequence[float]) -> Hypotest:
    """CLs from its logarithm, with the values below CLS_FLOOR reported as that bound."""
    floor = math.log(CLS_FLOOR)
    return Hypotest(max(math.exp(log_obs), CLS_FLOOR), [max(math.exp(x), CLS_FLOOR) for x in band],
                    log_obs < floor, tuple(x < floor for x in band))


def _hypotest(model, data, mu_signal: float = 1.0) -> tuple[float, list[float]]:
    """CLs (observed, expected band) of a model at POI = ``mu_signal``: see :class:`_Likelihood`."""
    result = _Likelihood(model, data, mu_signal).hypotest()
    return result.cls_obs, result.cls_exp


def _upper_limit(model, data, mu_guess: float) -> tuple[float, list[float]]:
    """95 % CL upper limit on the POI of a model (observed, expected band): see
    :meth:`_Likelihood.upper_limit`."""
    return _Likelihood(model, data).upper_limit(mu_guess)


def _patched_workspace(path, spec: dict[str, Any], signal: float, signal_err: float,
                       xsec_rel: float | None, poi_max: float = MU_MAX) -> dict[str, Any]:
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
        params.append({"name": spec["poi"], "bounds": [[0.0, poi_max]], "inits": [1.0]})
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
        out.cls_obs, out.cls_exp, out.cls_exp_bound = 1.0, [1.0] * 5, [False] * 5
        out.r_obs = out.r_exp = 0.0
        return out
    pyhf = _pyhf()
    mu_signal = _signal_scale(out.signal, out.background, out.background_err)
    try:
        ws = pyhf.Workspace(_patched_workspace(path, spec, out.signal[0] / mu_signal, out.signal_err[0] / mu_signal,
                                               xsec_rel, _poi_max(mu_signal)))
        model = ws.model()
        data = ws.data(model)
    except (pyhf.exceptions.InvalidSpecification, pyhf.exceptions.InvalidModel, KeyError, ValueError) as exc:
        raise RecastError(f"{path}: not a usable pyhf workspace: {str(exc).splitlines()[0][:200]}") from None
    out._likelihood = _Likelihood(model, data, mu_signal)  # kept for the upper limit
    _fill_cls(out)
    if pub.get("s95_observed"):
        out.r_obs = out.signal[0] / pub["s95_observed"]
    if pub.get("s95_expected"):
        out.r_exp = out.signal[0] / pub["s95_expected"]
    return out


def _fill_cls(out: RegionLimit) -> None:
    result = out._likelihood.hypotest()
    out.cls_obs, out.cls_exp = result.cls_obs, result.cls_exp
    out.cls_obs_bound, out.cls_exp_bound = result.obs_bound, list(result.exp_bound)
    if result.note:
        _warn(out, result.note)


def _warn(out: RegionLimit, message: str) -> None:
    """A region's note that the limits' notes repeat (with the region's name)."""
    out.note = "; ".join(x for x in (out.note, message) if x)
    out.__dict__.setdefault("_warnings", []).append(message)


def _collect_warnings(out: Limits) -> None:
    for r in out.regions:
        out.notes.extend(f"{r.name}: {w}" for w in r.__dict__.pop("_warnings", []))


def full(doc: dict[str, Any], analysis, xsec_unc: bool = False, upper_limits: str = "best",
         on_region: ProgressCallback | None = None, _steps: _Steps | None = None) -> Limits:
    """Limits with the analysis' published background-only workspaces, for every region that has
    one (see the module docstring)."""
    spec = analysis.full_likelihood
    out = Limits(analysis=doc["analysis"]["id"], likelihood="full")
    if not spec:
        out.notes.append(f"{analysis.id} publishes no full likelihoods that recast can use")
        return out
    steps = _steps or _Steps(count_steps(doc, analysis, "full", upper_limits), on_region)
    xsec_rel = _xsec_rel(doc, xsec_unc, out)
    for name, sr in _regions_of(doc).items():
        if sr["published"] is None:
            continue
        answer = _full_region(name, sr, spec, analysis.id, xsec_rel)
        steps.tick(f"{name} (full)")
        if isinstance(answer, str):
            if answer != "no published workspace":
                out.notes.append(f"{name}: {answer}")
            continue
        out.regions.append(answer)
    fitted = sum(sr["published"] is not None for sr in doc["signal_regions"])
    steps.total -= _n_upper_limits(fitted, upper_limits) - _n_upper_limits(len(out.regions), upper_limits)
    out.notes.append("full likelihoods: " + spec.get("source", "published background-only workspaces")
                     + "; the signal enters the signal-region channel only (no control-region contamination)")
    _decide(out, upper_limits, steps)
    return out


def _xsec_rel(doc: dict[str, Any], xsec_unc: bool, out: Limits) -> float | None:
    """The relative cross-section uncertainty to include (None: not asked for, or not known)."""
    missing = [sr["name"] for sr in doc["signal_regions"] if sr["yield"] is None]
    if missing:
        raise RecastError(f"{doc['analysis']['id']}: the result has no cross section, so no signal yields: "
                          f"rerun with --xsec-fb")
    xsec = doc.get("cross_section") or {}
    if not xsec_unc:
        return None
    if not xsec.get("uncertainty_fb") or not xsec.get("value_fb"):
        out.notes.append("no cross-section uncertainty known: the signal has none")
        return None
    return xsec["uncertainty_fb"] / xsec["value_fb"]


def s95(observed: int, background: float, background_err: float) -> tuple[float, list[float]]:
    """Model-independent 95 % CL upper limit on signal events (observed, expected band) from a
    published count, background and its uncertainty: pyhf, asymptotic, q~_mu, signal without
    uncertainty."""
    return _s95_cached(int(observed), float(background), float(background_err))


@lru_cache(maxsize=None)
def _s95_cached(observed: int, background: float, background_err: float) -> tuple[float, list[float]]:
    reference = _reference_signal(background, background_err)
    spec = _simplified_spec([reference], [0.0], [background], [background_err], None)
    spec["channels"][0]["samples"][0]["modifiers"] = [{"name": "mu", "type": "normfactor", "data": None}]
    model, data = _model_and_data(spec, [observed])
    obs, exp = _upper_limit(model, data, 1.0)
    return obs * reference, [e * reference for e in exp]


def _regions_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {sr["name"]: sr for sr in doc["signal_regions"]}


def _region_limit(name: str, kind: str, members: list[dict[str, Any]], xsec_rel: float | None) -> RegionLimit:
    pubs = [m["published"] for m in members]
    out = RegionLimit(name=name, kind=kind, likelihood="simplified", regions=[m["name"] for m in members],
                      signal=[m["yield"] or 0.0 for m in members], signal_err=[m["yield_err"] or 0.0 for m in members],
                      observed=[p["observed"] for p in pubs], background=[p["background"] for p in pubs],
                      background_err=[p["background_err"] for p in pubs], cls_exp_bound=[False] * 5)
    if sum(out.signal) <= 0:
        out.cls_obs, out.cls_exp, out.note = 1.0, [1.0] * 5, "no signal events"
        out.r_obs = out.r_exp = 0.0
        return out
    out._likelihood = _simplified_likelihood(out.signal, out.signal_err, out.background, out.background_err,
                                             xsec_rel, out.observed)
    _fill_cls(out)
    if kind == "single":
        p = pubs[0]
        s = out.signal[0]
        if p.get("s95_observed"):
            out.r_obs = s / p["s95_observed"]
        if p.get("s95_expected"):
            out.r_exp = s / p["s95_expected"]
    return out


def simplified(doc: dict[str, Any], analysis, xsec_unc: bool = False, upper_limits: str = "best",
               on_region: ProgressCallback | None = None, _steps: _Steps | None = None) -> Limits:
    """Limits of a result document with the simplified likelihoods (see the module docstring);
    ``on_region(what, done, total)`` is called after every region, combination and upper limit."""
    out = Limits(analysis=doc["analysis"]["id"], likelihood="simplified")
    xsec_rel = _xsec_rel(doc, xsec_unc, out)
    steps = _steps or _Steps(count_steps(doc, analysis, "simplified", upper_limits), on_region)
    regions = _regions_of(doc)
    for name, sr in regions.items():
        if sr["published"] is None:
            out.notes.append(f"{name}: no published observed count and background, no limit")
            continue
        out.regions.append(_region_limit(name, "single", [sr], xsec_rel))
        steps.tick(name)
    for name, members in analysis.combinations.items():
        present = [regions[m] for m in members if m in regions and regions[m]["published"] is not None]
        if len(present) == len(members):
            out.regions.append(_region_limit(name, "combined", present, xsec_rel))
            steps.tick(name)
        else:
            out.notes.append(f"{name}: not all of its bins were evaluated, no combination")
    _decide(out, upper_limits, steps)
    return out


def _decide(out: Limits, upper_limits: str, steps: _Steps) -> None:
    _check_upper_limits(upper_limits)
    candidates = [r for r in out.regions if r.cls_exp is not None]
    if not candidates:
        out.notes.append("no region with published numbers: nothing to decide")
        return
    best = min(candidates, key=lambda r: (r.cls_median, -(r.r_exp or 0.0)))
    out.best, out.cls_obs, out.cls_exp = best.name, best.cls_obs, best.cls_median
    out.cls_obs_bound, out.cls_exp_bound = best.cls_obs_bound, bool(best.cls_exp_bound and best.cls_exp_bound[2])
    out.excluded = best.cls_obs is not None and best.cls_obs < CLS_LEVEL
    if upper_limits == "none":
        out.notes.append("upper limits on mu not computed (upper_limits = none)")
    for r in {"none": [], "best": [best], "all": candidates}[upper_limits]:
        if sum(r.signal) > 0:
            guess = 1.0 / r.r_exp if r.r_exp else 1.0 / r._likelihood.mu_signal
            try:
                r.mu95_obs, r.mu95_exp = r._likelihood.upper_limit(guess)
            except (RecastError, ValueError) as exc:  # e.g. no sensitivity within the POI range: say so, keep the CLs
                _warn(r, str(exc))
        steps.tick(f"{r.name}: upper limit")
    _collect_warnings(out)


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
