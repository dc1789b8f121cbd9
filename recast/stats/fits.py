"""Profile-likelihood fits of a pyhf model to its data, made to converge far beyond exclusion.

:class:`Fits` holds a pyhf model with its data and the maximum-likelihood fits a test statistic
needs (free, and at fixed POI; to the observed data and to the background-only Asimov data),
cached; :mod:`recast.stats.hypotest` computes q~_mu, CLs and upper limits from them.

**Conditioning.** Signal yields span many decades (a light gluino gives thousands of events where
the backgrounds are a few), and a fit whose POI is O(1000) at the tested point, against a
Poisson-constrained MC-statistical factor, sends SciPy's SLSQP out of its bounds ("Inequality
constraints incompatible"). Every likelihood therefore holds its signal rescaled to the events the
region can just about exclude (:func:`reference_signal`, ~its expected S95): its POI is O(1)
where the sensitivity is, and "mu = 1" is tested at POI = ``mu_signal`` (:func:`signal_scale`; the
likelihood is the same function of the signal, so CLs and limits are unchanged). A fit that fails
from the default start is continued from the nearest converged fit along the POI (:class:`Fits`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Sequence

import numpy as np

from ..errors import RecastError

# Upper bound of the POI in units of max(1, mu_signal): the likelihoods are rescaled so that the
# POI is O(1) where the sensitivity is, and limits beyond 1000 times that are not limits.
MU_MAX = 1e3
# A Poisson-constrained MC-statistical factor has tau = (s / ds)^2 auxiliary events: a zero yield or
# error makes it undefined, and a huge tau makes the fit ill-conditioned. A bin without signal
# holds EMPTY_SIGNAL events; the relative MC error is floored at MC_ERR_FLOOR (tau <= 1e6).
EMPTY_SIGNAL = 1e-6
MC_ERR_FLOOR = 1e-3


def pyhf_numpy():
    """pyhf with its NumPy backend (the one every fit here is written and tested for)."""
    import pyhf

    pyhf.set_backend("numpy")
    return pyhf


def reference_signal(background: float, background_err: float) -> float:
    """Signal events a count on this background can just about exclude: 2 sqrt(b + db^2) + 3, about
    its expected S95 (3 events at b = 0, where CLs = exp(-s)). The scale at which a likelihood's
    POI is O(1)."""
    return 2.0 * math.sqrt(background + background_err**2) + 3.0


def signal_scale(signal: Sequence[float], background: Sequence[float], background_err: Sequence[float]) -> float:
    """``mu_signal``: the largest ratio over the bins of the signal to the bin's reference signal,
    i.e. the POI value at which a likelihood with the signal divided by it holds the signal as given."""
    ratios = [s / reference_signal(b, db) for s, b, db in zip(signal, background, background_err) if s > 0]
    return max(ratios) if ratios else 1.0


def poi_max(mu_signal: float) -> float:
    """The upper bound of the POI of a likelihood whose signal is divided by ``mu_signal``."""
    return MU_MAX * max(1.0, mu_signal)


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


class FitFailed(RecastError):
    """A fit that did not converge even when continued from the nearest converged fit."""


_DATASETS = {"data": "the observed data", "asimov": "the background-only Asimov data"}
CONTINUATION_TRIES = 40
# SLSQP's stopping tolerance on -2 ln L. SciPy's default (1e-6, pyhf's) stops fits with a large
# MC-statistical uncertainty on a large signal at points that are not minima, 20 or 40 units of
# -2 ln L too high (the Poisson-constrained factor's curvature varies by decades along the path).
FIT_TOLERANCE = 1e-10
POLISH_BELOW = 0.1  # a fitted positive parameter below this (in its natural units, ~1): polish the fit
NLL_TOLERANCE = 1e-6  # a fixed-POI fit below the free fit by more than this: the free fit missed the minimum


class Fits:
    """A pyhf model with its data and its maximum-likelihood fits, cached.

    ``mu_signal`` is the POI value at which the model holds the signal being tested (see the
    module docstring). The fits are pyhf's (SLSQP), with these differences from
    ``pyhf.infer.hypotest``'s, each for signals far above what the data allow (found against an
    independent profile likelihood, tests/test_stats_extreme.py):

    * a fit at fixed POI starts with the signal's MC-statistical factors at their conditional
      maximum (:meth:`_start`), not at 1;
    * the stopping tolerance is ``FIT_TOLERANCE``, and a fit that leaves a positive factor below
      ``POLISH_BELOW`` is polished in logarithms (:meth:`_polish`);
    * a fit that fails is continued from the nearest converged fit on the same data, in POI steps
      that halve until they converge; a fixed-POI fit below the free fit replaces it."""

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
            pyhf = pyhf_numpy()
            try:
                self._free[which] = self._minimize(which, self.init, None)
            except pyhf.exceptions.FailedMinimization:
                start = self.fixed(which, 0.0)[0]  # the background-only fit is a start close to the data
                try:
                    self._free[which] = self._minimize(which, start, None)
                except pyhf.exceptions.FailedMinimization:
                    raise FitFailed(f"the unconditional fit to {_DATASETS[which]} does not converge") from None
        return self._free[which]

    def fixed(self, which: str, mu: float) -> tuple[np.ndarray, float]:
        """The fit at POI = mu, continued from the nearest converged fit if it fails."""
        fits = self._fixed[which]
        if mu not in fits:
            pyhf = pyhf_numpy()
            try:
                fits[mu] = self._minimize(which, self._start(which, mu), mu)
            except pyhf.exceptions.FailedMinimization:
                fits[mu] = self._continued(which, mu)
            free = self._free.get(which)
            if free is not None and fits[mu][1] < free[1] - NLL_TOLERANCE:
                self._refit_free(which, fits[mu])
        return fits[mu]

    def _refit_free(self, which: str, lower: tuple[np.ndarray, float]) -> None:
        pyhf = pyhf_numpy()
        try:
            refit = self._minimize(which, lower[0], None)
        except pyhf.exceptions.FailedMinimization:
            refit = lower
        self._free[which] = min(refit, lower, key=lambda f: f[1])

    def _continued(self, which: str, mu: float) -> tuple[np.ndarray, float]:
        pyhf = pyhf_numpy()
        anchors = dict(self._fixed[which])
        if which in self._free:
            anchors.setdefault(float(self._free[which][0][self.poi]), self._free[which])
        if not anchors and mu != 0.0:
            anchors[0.0] = self.fixed(which, 0.0)
        if not anchors:
            raise FitFailed(f"the fit at mu = 0 to {_DATASETS[which]} does not converge")
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
        raise FitFailed(f"the fit to {_DATASETS[which]} at mu = {mu / self.mu_signal:.3g} does not converge "
                        f"(it does up to mu = {here / self.mu_signal:.3g})")
