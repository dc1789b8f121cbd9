"""CLs and upper limits from the asymptotic formulae, computed in logarithms.

CLs at a tested signal, observed and expected (median, +-1 sigma, +-2 sigma), with the q~_mu test
statistic and the asymptotic formulae of Cowan et al. (arXiv:1007.1727), as ``pyhf.infer.hypotest``
computes it, from the fits of :class:`recast.stats.fits.Fits`. The two normal tails are combined in
logarithms (pyhf's ratio of them is 0/0 at strongly excluded points); below ``CLS_FLOOR`` CLs is
reported as that bound. The 95 % CL upper limit on the signal strength is TOMS 748 root finding on
ln CLs, as ``pyhf.infer.intervals.upper_limits.toms748_scan``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import RecastError
from .fits import FitFailed, Fits

CLS_LEVEL = 0.05
# CLs below this is reported as this bound (flagged): ~9.2 sigma, far beyond what the asymptotic
# formulae's tails are known to describe (pseudo-experiments check them to ~1e-5), and the decision
# is the same whatever the exact value.
CLS_FLOOR = 1e-20
_BAND_SIGMAS = (2.0, 1.0, 0.0, -1.0, -2.0)  # background-only test statistics of the -2..+2 sigma CLs, as pyhf


@dataclass(frozen=True)
class Hypotest:
    """CLs at the tested signal: observed, expected band (-2..+2 sigma), which are upper bounds."""

    cls_obs: float
    cls_exp: list[float]
    obs_bound: bool = False
    exp_bound: tuple[bool, ...] = (False,) * 5
    note: str = ""


class Asymptotics:
    """CLs at the tested signal and the upper limit on mu from a likelihood's q~_mu (its
    ``qtilde(which, mu)`` on ``"data"`` or ``"asimov"``), its ``mu_signal`` (the POI value at which
    it holds the signal being tested: CLs "at mu = 1" is CLs at POI = mu_signal, and an upper limit
    on the POI over mu_signal is the upper limit on mu) and its ``poi_max``."""

    mu_signal: float
    poi_max: float

    def qtilde(self, which: str, mu: float) -> float:
        raise NotImplementedError

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
        except FitFailed as exc:
            failure = str(exc)
        mu = self.mu_signal
        for _ in range(30):
            mu /= 2
            try:
                log_obs, band = self.log_cls(mu)
            except FitFailed:
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
                raise RecastError(f"no upper limit: CLs is below {CLS_LEVEL:g} at every signal strength tried")
            lo /= 2
        while any(curve(hi, k) > 0 for k in range(6)):
            if hi >= self.poi_max:
                raise RecastError(f"no upper limit: CLs stays above {CLS_LEVEL:g} up to mu = "
                                  f"{self.poi_max / self.mu_signal:.3g}")
            hi = min(2 * hi, self.poi_max)
        limits = []
        for k in range(6):  # the tightest bracket among the points computed
            known = [m for m in cache if cache[m][k] is not None]
            above = min(m for m in known if curve(m, k) < 0)
            below = max(m for m in known if m < above and curve(m, k) >= 0)
            limits.append(toms748(curve, below, above, args=(k,), k=2, xtol=2e-12, rtol=1e-4) / self.mu_signal)
        return float(limits[0]), [float(x) for x in limits[1:]]


class Likelihood(Asymptotics, Fits):
    """A pyhf model with its data: CLs and upper limits (:class:`Asymptotics`) from the fits of
    :class:`Fits` (cached, so that CLs and an upper limit share them)."""

    def qtilde(self, which: str, mu: float) -> float:
        """q~_mu on the observed (``"data"``) or Asimov data: 0 where the fitted POI is above mu."""
        pars_hat, nll_hat = self.free(which)
        if pars_hat[self.poi] > mu:
            return 0.0
        nll_mu = self.fixed(which, mu)[1]
        return max(nll_mu - self.free(which)[1], 0.0)  # free() again: the fixed fit may have improved it


def _bounded(log_obs: float, band: Sequence[float]) -> Hypotest:
    """CLs from its logarithm, with the values below CLS_FLOOR reported as that bound."""
    floor = math.log(CLS_FLOOR)
    return Hypotest(max(math.exp(log_obs), CLS_FLOOR), [max(math.exp(x), CLS_FLOOR) for x in band],
                    log_obs < floor, tuple(x < floor for x in band))


def hypotest(model, data, mu_signal: float = 1.0) -> tuple[float, list[float]]:
    """CLs (observed, expected band) of a model at POI = ``mu_signal``: see :class:`Likelihood`."""
    result = Likelihood(model, data, mu_signal).hypotest()
    return result.cls_obs, result.cls_exp


def upper_limit(model, data, mu_guess: float) -> tuple[float, list[float]]:
    """95 % CL upper limit on the POI of a model (observed, expected band): see
    :meth:`Likelihood.upper_limit`."""
    return Likelihood(model, data).upper_limit(mu_guess)
