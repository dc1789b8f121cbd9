"""What the limits of one result are, and which region decides.

A :class:`Limits` holds one :class:`RegionLimit` per signal region with published numbers, and
per multi-bin combination: CLs at signal strength 1, observed and expected, r = S / S95 with the
published model-independent limits (observed and expected, as CheckMATE defines it), and the 95 %
CL upper limit on mu where one was asked for.

**Decision.** The region (or combination) with the smallest expected CLs decides: the point is
excluded when its observed CLs is below ``CLS_LEVEL`` (the best-expected-region convention of
CheckMATE and MadAnalysis 5). The upper limits are computed as ``upper_limits`` says: ``"best"``
for the deciding region (the default), ``"all"`` for every region, ``"none"`` to skip them. A
limit costs ~0.1 s for one region against ~0.015 s for a CLs, but 2-5 s for an 18- or 24-bin
combination (with pyhf's own scan 0.4 s and 20-90 s, benchmarks/stats.py), which is why scans
default to ``"none"``: their decision needs the CLs only.

The likelihoods that fill these in are in :mod:`recast.stats.simplified_likelihood` and
:mod:`recast.stats.full_likelihood`; both report their progress through :class:`Steps`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import RecastError
from .hypotest import CLS_LEVEL

# (what was just computed, steps done, steps in all): the progress of a limits computation
ProgressCallback = Callable[[str, int, int], None]
UPPER_LIMITS = ("none", "best", "all")


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


def check_upper_limits(upper_limits: str) -> None:
    """Refuse an ``upper_limits`` choice that is not one of :data:`UPPER_LIMITS`."""
    if upper_limits not in UPPER_LIMITS:
        raise RecastError(f"--upper-limits {upper_limits}: choose {', '.join(UPPER_LIMITS)}")


class Steps:
    """Counts the fits of a limits computation for a progress callback."""

    def __init__(self, total: int, on_region: ProgressCallback | None) -> None:
        self.total, self.done, self.on_region = total, 0, on_region

    def tick(self, what: str) -> None:
        self.done += 1
        if self.on_region is not None:
            self.on_region(what, self.done, max(self.total, self.done))


def n_upper_limits(n_candidates: int, upper_limits: str) -> int:
    """How many upper limits ``upper_limits`` asks for among ``n_candidates`` regions."""
    return {"none": 0, "best": min(1, n_candidates), "all": n_candidates}[upper_limits]


def count_steps(doc: dict[str, Any], analysis, likelihood: str = "simplified", upper_limits: str = "best") -> int:
    """How many progress steps :func:`recast.stats.compute` reports: one per region or combination fitted, one
    per upper limit."""
    with_numbers = [sr["name"] for sr in doc["signal_regions"] if sr["published"] is not None]
    steps = 0
    if likelihood in ("simplified", "both"):
        combos = sum(all(m in with_numbers for m in members) for members in analysis.combinations.values())
        steps += len(with_numbers) + combos + n_upper_limits(len(with_numbers) + combos, upper_limits)
    if likelihood in ("full", "both") and analysis.full_likelihood:
        steps += len(with_numbers) + n_upper_limits(len(with_numbers), upper_limits)
    return steps


def regions_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The signal regions of a result document by name."""
    return {sr["name"]: sr for sr in doc["signal_regions"]}


def xsec_rel(doc: dict[str, Any], xsec_unc: bool, out: Limits) -> float | None:
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


MLUncertainty = dict[str, tuple[float, float]]  # region -> relative (up, down) of the ML-selection band


def ml_normsys(band: tuple[float, float]) -> dict[str, Any]:
    """The ML-selection robustness band of a region (``recast probe``: relative efficiency change
    up >= 0, down <= 0) as a pyhf normsys on its signal, the downward variation kept above zero."""
    up, down = band
    return {"name": "signal_ml_robustness", "type": "normsys", "data": {"hi": 1 + up, "lo": max(1 + down, 1e-3)}}


def ml_note(ml_unc: MLUncertainty | None, source: str) -> str | None:
    """The limits' note on the ML-selection uncertainty included, or None."""
    if not ml_unc:
        return None
    return (f"ML-selection robustness uncertainty from {source} on the signal of "
            + ", ".join(f"{r} (+{100 * u:.1f} % / {100 * d:.1f} %)" for r, (u, d) in ml_unc.items()))


def xsec_normsys(xsec_rel: float) -> dict[str, Any]:
    """The cross-section uncertainty as a pyhf normsys on the signal, its downward variation kept
    above zero (a 100 % uncertainty would make the signal vanish)."""
    return {"name": "signal_xsec", "type": "normsys", "data": {"hi": 1 + xsec_rel, "lo": max(1 - xsec_rel, 1e-3)}}


def fill_cls(out: RegionLimit) -> None:
    """CLs of a region from the likelihood kept on it (``out._likelihood``, a
    :class:`recast.stats.hypotest.Likelihood`, kept for its upper limit)."""
    result = out._likelihood.hypotest()
    out.cls_obs, out.cls_exp = result.cls_obs, result.cls_exp
    out.cls_obs_bound, out.cls_exp_bound = result.obs_bound, list(result.exp_bound)
    if result.note:
        warn(out, result.note)


def warn(out: RegionLimit, message: str) -> None:
    """A region's note that the limits' notes repeat (with the region's name)."""
    out.note = "; ".join(x for x in (out.note, message) if x)
    out.__dict__.setdefault("_warnings", []).append(message)


def collect_warnings(out: Limits) -> None:
    """Repeat the regions' warnings in the limits' notes, each with its region's name."""
    for r in out.regions:
        out.notes.extend(f"{r.name}: {w}" for w in r.__dict__.pop("_warnings", []))


def decide(out: Limits, upper_limits: str, steps: Steps) -> None:
    """The best-expected region decides (see the module docstring); then the upper limits that
    ``upper_limits`` asks for."""
    check_upper_limits(upper_limits)
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
                warn(r, str(exc))
        steps.tick(f"{r.name}: upper limit")
    collect_warnings(out)

