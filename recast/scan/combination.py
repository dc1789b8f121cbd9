"""The combination rule of a scan: one decision per point from the limits of several analyses.

Each analysis decides with its best-expected region (the region or multi-bin combination of
smallest expected CLs; CLs observed < 0.05 excludes, :mod:`recast.stats.limits`). The point is
excluded when any analysis excludes it. The deciding analysis is the one of smallest expected CLs
among the analyses that exclude the point, or among all analyses when none does; the point's CLs
(observed and expected) are those of that analysis' best-expected region, so a point is excluded
exactly when its CLs observed is below 0.05. (Taking the OR over analyses is slightly less
conservative than one best-expected choice across all analyses; the point files also record that
choice, ``best_expected``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..stats import CLS_LEVEL

# the rule in words, as the summary and every point file state it
COMBINATION_RULE = (
    "each analysis decides with its best-expected region (smallest expected CLs; excluded when CLs "
    f"observed < {CLS_LEVEL:g}); the point is excluded when any analysis excludes it; the deciding analysis is "
    "the one of smallest expected CLs among those that exclude it (among all when none does), and its "
    "best-expected region gives the point's CLs")


def combine(per_analysis: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The point's decision from each analysis' ``best``, ``excluded``, ``cls_obs``, ``cls_exp``
    (see the rule in the module docstring)."""
    decided = [(aid, s) for aid, s in per_analysis.items()
               if s.get("best") is not None and s.get("cls_exp") is not None]
    out: dict[str, Any] = {"rule": COMBINATION_RULE, "excluded": False, "analysis": None, "region": None,
                           "cls_obs": None, "cls_exp": None, "best_expected": None}
    if not decided:
        return out
    key = lambda item: (item[1]["cls_exp"], item[1]["cls_obs"] if item[1]["cls_obs"] is not None else 1.0)  # noqa: E731
    best_aid, best = min(decided, key=key)
    out["best_expected"] = {"analysis": best_aid, "region": best["best"], "excluded": bool(best["excluded"]),
                            "cls_obs": best["cls_obs"], "cls_exp": best["cls_exp"]}
    excluding = [item for item in decided if item[1]["excluded"]]
    aid, s = min(excluding or decided, key=key)
    out.update(excluded=bool(excluding), analysis=aid, region=s["best"], cls_obs=s["cls_obs"], cls_exp=s["cls_exp"])
    return out
