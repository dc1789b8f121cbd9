"""Model-independent limits from pseudo-experiments (toy S95).

At low counts the asymptotic formulae undershoot: with 0 observed events the CLs limit is
-ln(0.05) = 3.0 signal events whatever the background, the asymptotic one ~2.1-2.4. The limits
ATLAS publishes for such regions are reproduced by pseudo-experiments (validation/reports/s95);
``s95_toys`` computes them with pyhf's toy machinery.

pyhf 0.7.6's ``hypotest(..., calctype="toybased")`` cannot be called as such here: its expected
band calls ``np.percentile(..., interpolation=...)``, an argument NumPy 2.4 no longer has
(TypeError), and its p-values count ``q_toy >= q_obs`` exactly, so toys whose test statistic
equals the observed one up to the fit's precision (all toys with 0 events, for 0 observed) are
counted at random. :func:`teststats` therefore draws the pseudo-experiments exactly as pyhf's
``ToyCalculator.distributions`` does (same fits, same sampling calls: the same toys for the same
seed), evaluates pyhf's q~_mu once per distinct toy (a one-bin toy is a pair of integers, so a few
hundred fits serve thousands of toys) and computes the p-values with a tie tolerance.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import fits
from .hypotest import CLS_LEVEL
from .simplified_likelihood import counting_model, s95

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


def teststats(model, data, mu: float, ntoys: int, seed: int):
    """q~_mu of the observed data and of ``ntoys`` signal+background and background-only toys at
    ``mu``: the toys of ``pyhf.infer.calculators.ToyCalculator(...).distributions(mu)`` after
    ``np.random.seed(seed)`` (NumPy's global state is restored afterwards)."""
    fits.pyhf_numpy()
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


def cls_from_teststats(q_obs: float, q_sb: np.ndarray, q_b: np.ndarray) -> tuple[float, list[float]]:
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
    model, data = counting_model(ref, observed, background, background_err)
    lo = max(0.6 * min(asym_obs, *asym_exp), TOY_SCAN_FLOOR)
    hi = max(1.5 * max(asym_obs, *asym_exp), 1.5 * lo)
    scan = list(np.geomspace(lo, hi, TOY_SCAN_POINTS))
    step = scan[1] / scan[0]
    points = []  # (s, q_obs, q_sb, q_b), ascending in s

    def run(s):
        points.append((s, *teststats(model, data, s / ref, ntoys, seed)))
        points.sort(key=lambda p: p[0])

    def cls_at(k):
        obs, exp = cls_from_teststats(*points[k][1:])
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
            cls_obs, cls_exp = cls_from_teststats(q_obs, q_sb, q_b)
            curves.append([cls_obs, *cls_exp])
        s = [p[0] for p in points]
        return [_crossing(s, [c[k] for c in curves]) for k in range(6)], curves

    central, curves = limits()
    spread = np.nanstd(np.array([limits(ix)[0] for ix in boot]), axis=0)
    return ToyS95(observed=float(central[0]), expected=[float(x) for x in central[1:]],
                  observed_mc_err=float(spread[0]), expected_mc_err=[float(x) for x in spread[1:]],
                  ntoys=ntoys, seed=seed, scan=[float(p[0]) for p in points], cls_obs=[c[0] for c in curves],
                  cls_exp=[c[1:] for c in curves])
