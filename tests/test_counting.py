"""The simplified likelihood solved bin by bin (recast.stats.counting) against pyhf's fits of the
same model: CLs, expected bands and upper limits, on random likelihoods (one to eighteen bins,
signals from far below to far above the backgrounds, factors at pyhf's bounds) and on MB-GGd."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recast import analysis
from recast.stats import counting
from recast.stats.simplified_likelihood import build_likelihood


def _cases(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        k = int(rng.integers(1, 7))
        b = rng.uniform(0.2, 40.0, k)
        be = b * rng.uniform(0.03, 1.5, k)  # up to 150 %: the background factor reaches its bound of 10
        n = rng.poisson(b * rng.uniform(0.5, 3.0, k))
        s = rng.uniform(0.05, 30.0, k) * rng.choice([0.01, 1.0, 30.0], k)
        se = s * rng.uniform(0.01, 1.0, k)
        yield s, se, b, be, n


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cls_and_limits_equal_pyhf_fits(seed):
    for s, se, b, be, n in _cases(seed, 8):
        fast = build_likelihood(s, se, b, be, None, n, method="counting")
        slow = build_likelihood(s, se, b, be, None, n, method="pyhf")
        assert isinstance(fast, counting.CountingLikelihood)
        f, p = fast.hypotest(), slow.hypotest()
        # ln CLs, to the fits' precision (SLSQP stops at 1e-10 in -2 ln L)
        assert math.log(f.cls_obs) == pytest.approx(math.log(p.cls_obs), abs=2e-4), (s, se, b, be, n)
        assert [math.log(x) for x in f.cls_exp] == pytest.approx([math.log(x) for x in p.cls_exp], abs=2e-4)
        if f.cls_obs > 1e-12:  # an upper limit where mu = 1 is not excluded beyond any doubt
            fo, fe = fast.upper_limit(1.0)
            po, pe = slow.upper_limit(1.0)
            assert fo == pytest.approx(po, rel=1e-3) and fe == pytest.approx(pe, rel=1e-3)


def test_factors_at_pyhf_bounds():
    """A background of 0.1 +- 0.3 with 6 observed: unconstrained, the background factor would be ~50;
    pyhf bounds it at 10 (and the free signal takes the rest). Both give the same CLs."""
    s, se, b, be, n = [2.0], [0.2], [0.1], [0.3], [6]
    fast = build_likelihood(s, se, b, be, None, n, method="counting")
    slow = build_likelihood(s, se, b, be, None, n, method="pyhf")
    g, d = fast._factors("data", 0.0)
    assert d[0] == pytest.approx(10.0)
    assert fast.hypotest().cls_obs == pytest.approx(slow.hypotest().cls_obs, rel=1e-3)


def test_the_18_bins_of_mb_ggd():
    ana = analysis.load("ANA-SUSY-2018-22")
    pubs = [ana.published[b] for b in ana.combinations["MB-GGd"]]
    signal = np.array([0.5 * (1 + k // 3) if k // 3 < 4 else 3.0 - 0.5 * (k // 3 - 4) for k in range(len(pubs))])
    args = (signal, 0.1 * signal, [p.background for p in pubs], [p.background_err for p in pubs], None,
            [p.observed for p in pubs])
    fast, slow = build_likelihood(*args, method="counting"), build_likelihood(*args, method="pyhf")
    fo, fe = fast.upper_limit(1.0)
    po, pe = slow.upper_limit(1.0)
    assert fo == pytest.approx(po, rel=1e-4) and fe == pytest.approx(pe, rel=1e-4)
    assert 0.3 < fo < 0.4  # the measured limit of this signal (mu95 = 0.338)


def test_the_automatic_choice():
    assert isinstance(build_likelihood([1.0], [0.1], [2.0], [0.5], None, [2]), counting.CountingLikelihood)
    assert not isinstance(build_likelihood([1.0], [0.1], [2.0], [0.5], 0.1, [2]), counting.CountingLikelihood)
    assert not counting.usable([0.0], [0.5], None)  # no background: pyhf's model
