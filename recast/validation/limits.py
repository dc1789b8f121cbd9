"""Cross-section upper limits over a mass plane: recast's against ATLAS' (``limit_planes:``).

For every finished point of a :class:`~recast.validation.planes.LimitPlane`, recast's limit comes
from the same code as ``recast scan`` and ``recast limit`` (:func:`recast.stats.simplified`, the
best-expected region's 95 % CL upper limit on the signal strength mu): sigma_UL = mu95 x sigma,
with sigma the cross section the point's yields were made with (the template's NNLOapprox+NNLL
table). The check is r = sigma_UL(recast) / sigma_UL(ATLAS), observed, and expected where ATLAS
published it. Its error is recast's MC statistics only: a counting limit on mu scales as 1 /
signal, so r's relative error is the signal's relative MC error in the chosen region (for a
multi-bin combination, that of its summed signal). Each check gets the specification's
:class:`~recast.validation.rule.Rule`; a point between ATLAS' grid points (ATLAS' limit
interpolated) is shown and used for the mass limit, not judged.

From the plane as a whole: the exclusion contour, where sigma_theory = sigma_UL, with log sigma_UL
linear in the Delaunay triangles of the points (:func:`exclusion_contours`; sigma_theory is the
table of ATLAS' model, ``theory_process``), and the light-LSP mass limit, where sigma_UL /
sigma_theory crosses 1 along the line of the lowest LSP mass (:func:`mass_limit`), for recast and
for ATLAS. The report's part is :mod:`recast.validation.plane_report`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .rule import INCONCLUSIVE, Rule, overall, summarise

if TYPE_CHECKING:
    from .planes import LimitPlane
    from .spec import Spec

CONTOUR_RESOLUTION = 160  # grid nodes per axis on which the exclusion contour is traced


def log_interpolator(m_parent: Sequence[float], m_lsp: Sequence[float],
                     sigma: Sequence[float]) -> Callable[[Any, Any], np.ndarray] | None:
    """sigma at any mass point, log sigma linear in the Delaunay triangles of the given points
    (NaN outside their convex hull); None when the points span no triangle (fewer than three, or
    all on one line). A cross-section limit falls about exponentially with the mass, so its
    logarithm is what interpolates linearly.

    >>> f = log_interpolator([1000, 2000, 1000], [0, 0, 500], [10.0, 0.1, 10.0])
    >>> round(float(f(1500, 0)), 6), bool(np.isnan(f(2500, 0)))
    (1.0, True)
    """
    from scipy.interpolate import LinearNDInterpolator
    from scipy.spatial import QhullError

    points = np.column_stack([np.asarray(m_parent, float), np.asarray(m_lsp, float)])
    if len(points) < 3:
        return None
    try:
        interp = LinearNDInterpolator(points, np.log(np.asarray(sigma, float)))
    except QhullError:  # collinear points: no triangle
        return None
    return lambda x, y: np.exp(interp(x, y))


def theory(process: str) -> Callable[[Any], np.ndarray]:
    """The cross section (fb) of ``process`` at the parent mass(es), from its NNLOapprox+NNLL table
    (log-linear between the table's masses, as :class:`recast.xsec.XsecTable`)."""
    from .. import xsec

    table = xsec.table(process)
    return np.vectorize(lambda m: table(float(m))[0], otypes=[float])


def exclusion_contours(m_parent: Sequence[float], m_lsp: Sequence[float], sigma_ul: Sequence[float],
                       sigma_theory: Callable[[Any], Any], resolution: int = CONTOUR_RESOLUTION) -> list[np.ndarray]:
    """The lines where sigma_theory(m_parent) = sigma_UL (log sigma_UL interpolated by
    :func:`log_interpolator`; sigma_theory evaluated exactly), as (n, 2) arrays of (m_parent, m_lsp)
    traced on a ``resolution`` x ``resolution`` grid over the points' bounding box; empty when the
    points span no triangle or the limit never crosses."""
    import contourpy

    f = log_interpolator(m_parent, m_lsp, sigma_ul)
    if f is None:
        return []
    xs = np.linspace(min(m_parent), max(m_parent), resolution)
    ys = np.linspace(min(m_lsp), max(m_lsp), resolution)
    x, y = np.meshgrid(xs, ys)
    z = np.log(f(x, y)) - np.log(sigma_theory(xs))[None, :]
    lines = contourpy.contour_generator(x, y, np.ma.masked_invalid(z)).lines(0.0)
    return [np.asarray(line, float) for line in lines if len(line) > 1]


def mass_limit(masses: Sequence[float], sigma_ul: Sequence[float],
               sigma_theory: Callable[[Any], Any]) -> dict[str, Any]:
    """The parent mass limit along a line of the plane: the highest mass where sigma_UL /
    sigma_theory rises through 1 (excluded below, allowed above), log sigma_UL linear between
    adjacent points and sigma_theory exact. ``{"mass_gev": m or None, "note": why there is none}``.

    >>> limit = mass_limit([2000, 2200, 2400], [1.0, 1.0, 1.0], lambda m: np.exp(-(np.asarray(m) - 2100) / 200))
    >>> round(limit["mass_gev"], 3), limit["note"]
    (2100.0, '')
    """
    from scipy.optimize import brentq

    order = np.argsort(masses)
    m = np.asarray(masses, float)[order]
    log_ul = np.log(np.asarray(sigma_ul, float)[order])
    if len(m) < 2:
        return {"mass_gev": None, "note": "fewer than two points on the line"}
    g = log_ul - np.log(sigma_theory(m))
    crossings = []
    for i in range(len(m) - 1):
        if g[i] < 0 <= g[i + 1]:
            def h(x, i=i):
                t = (x - m[i]) / (m[i + 1] - m[i])
                return (1 - t) * log_ul[i] + t * log_ul[i + 1] - float(np.log(sigma_theory(x)))
            crossings.append(brentq(h, m[i], m[i + 1], xtol=1e-6))
    if crossings:
        return {"mass_gev": float(crossings[-1]), "note": ""}
    if (g < 0).all():
        return {"mass_gev": None, "note": f"every point excluded: the limit lies above {m[-1]:g} GeV"}
    if (g >= 0).all():
        return {"mass_gev": None, "note": f"no point excluded: the limit lies below {m[0]:g} GeV"}
    return {"mass_gev": None, "note": "no rise through sigma_theory along the line"}


def best_limit(result: Mapping[str, Any], analysis, regions: Sequence[str] | None = None):
    """The region (or combination) that sets a point's limit, with its upper limits on mu: the
    best-expected one (:func:`recast.stats.simplified`, ``upper_limits="best"``), among ``regions``
    only when given. Returns the :class:`~recast.stats.RegionLimit` (None: no region had
    published numbers)."""
    from .. import stats
    from ..stats.limits import Steps, decide

    if regions is None:
        lim = stats.simplified(dict(result), analysis, upper_limits="best")
    else:
        combos = {c: m for c, m in analysis.combinations.items() if c in regions}
        members = set(regions) | {m for ms in combos.values() for m in ms}
        doc = dict(result, signal_regions=[sr for sr in result["signal_regions"] if sr["name"] in members])
        lim = stats.simplified(doc, dataclasses.replace(analysis, combinations=combos), upper_limits="none")
        lim.regions = [r for r in lim.regions if r.name in regions]
        lim.notes = []
        decide(lim, "best", Steps(0, None))  # the same decision among ATLAS' regions only
    return next((r for r in lim.regions if r.name == lim.best), None)


def signal_mc_rel_err(region) -> float | None:
    """The relative MC error of a region's signal (summed over a combination's bins)."""
    total = sum(region.signal)
    return math.sqrt(sum(e * e for e in region.signal_err)) / total if total > 0 else None


def compare_point(plane: LimitPlane, point, result: Mapping[str, Any], analysis, rule: Rule,
                  judge: bool = True) -> dict[str, Any]:
    """One finished point of a plane: recast's sigma_UL (observed, expected), ATLAS', their ratios
    with errors and verdicts (see the module docstring)."""
    atlas_obs, atlas_exp, interpolated = plane.atlas(point.m_parent, point.m_lsp)
    xs = (result.get("cross_section") or {}).get("value_fb")
    row: dict[str, Any] = {"name": point.name, "m_parent": point.m_parent, "m_lsp": point.m_lsp,
                           "nevents": point.nevents, "sigma_fb": xs,
                           "sigma_theory_fb": float(theory(plane.theory_process)(point.m_parent)),
                           "region": None, "signal": None, "signal_mc_rel_err": None, "mu95_obs": None,
                           "mu95_exp": None, "atlas_obs_fb": atlas_obs, "atlas_exp_fb": atlas_exp,
                           "interpolated": interpolated, "judged": judge and not interpolated, "note": ""}
    region = best_limit(result, analysis, plane.regions) if xs else None
    if region is not None:
        row.update(region=region.name, signal=sum(region.signal), signal_mc_rel_err=signal_mc_rel_err(region),
                   mu95_obs=region.mu95_obs, mu95_exp=region.mu95_exp[2] if region.mu95_exp else None,
                   note=region.note)
    else:
        row["note"] = "no cross section" if not xs else "no region with published numbers"
    for kind, atlas in (("obs", atlas_obs), ("exp", atlas_exp)):
        mu = row[f"mu95_{kind}"]
        ours = mu * xs if mu is not None and xs else None
        ratio = ours / atlas if ours is not None and atlas else None
        err = ratio * row["signal_mc_rel_err"] if ratio is not None and row["signal_mc_rel_err"] is not None else None
        verdict = None
        if row["judged"] and atlas is not None:
            # no limit (no signal, or none within the POI range): nothing to say whether r lies within the tolerance
            verdict = rule.verdict(ratio, err) if ratio is not None else INCONCLUSIVE
        row.update({f"recast_{kind}_fb": ours, f"ratio_{kind}": ratio, f"ratio_{kind}_err": err,
                    f"status_{kind}": verdict})
    return row


def _deviations(rows: Sequence[Mapping[str, Any]], kind: str) -> dict[str, Any]:
    judged = [r for r in rows if r["judged"] and r[f"ratio_{kind}"] is not None]
    if not judged:
        return {f"median_dev_{kind}": None, f"worst_dev_{kind}": None, f"worst_point_{kind}": None}
    devs = [abs(r[f"ratio_{kind}"] - 1.0) for r in judged]
    worst = int(np.argmax(devs))
    return {f"median_dev_{kind}": float(np.median(devs)), f"worst_dev_{kind}": devs[worst],
            f"worst_point_{kind}": judged[worst]["name"]}


def compare_plane(spec: Spec, plane: LimitPlane, runs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A plane's points that ran (their checks), its summary numbers (points, events per point,
    median and worst |r - 1|), the light-LSP mass limits of recast and ATLAS, its contours' inputs
    and its status."""
    by_name = {p.name: p for p in spec.points}
    rows, failed = [], []
    for name in plane.points:
        run = runs.get(name)
        if run is None:
            continue
        if run.get("result") is None:
            failed.append(name)
            continue
        p = by_name[name]
        rows.append(compare_point(plane, p, run["result"], spec.analysis, spec.rule, p.judge))
    checks = [(f"{r['name']} ({kind})", r[f"status_{kind}"]) for r in rows for kind in ("obs", "exp")
              if r[f"status_{kind}"] is not None]
    sigma_theory = theory(plane.theory_process)
    line = plane.line_m_lsp
    limit: dict[str, Any] = {"m_lsp": line}
    for kind, col in (("obs", 2), ("exp", 3)):
        ours = [r for r in rows if r["m_lsp"] == line and r[f"recast_{kind}_fb"]]
        theirs = [r for r in plane.rows if r[1] == line and r[col] is not None]
        if kind == "exp" and not plane.has_expected:
            continue
        limit[f"recast_{kind}"] = mass_limit([r["m_parent"] for r in ours], [r[f"recast_{kind}_fb"] for r in ours],
                                             sigma_theory)
        limit[f"atlas_{kind}"] = mass_limit([r[0] for r in theirs], [r[col] for r in theirs], sigma_theory)
    return {"name": plane.name, "model": plane.model, "process": plane.process,
            "theory_process": plane.theory_process, "reference": plane.file.name, "what": plane.what,
            "source": plane.source, "region_choice": plane.region_text(), "selection": plane.selection,
            "line": plane.line, "has_expected": plane.has_expected, "n_points": len(rows),
            "n_judged": sum(r["judged"] for r in rows), "failed": failed,
            "events_per_point": sorted({r["nevents"] for r in rows}),
            **_deviations(rows, "obs"), **_deviations(rows, "exp"), "mass_limit": limit,
            "status": summarise(checks), "points": rows}


def compare_planes(spec: Spec, runs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """:func:`compare_plane` for every plane of which at least one point ran."""
    return {pl.name: compare_plane(spec, pl, runs) for pl in spec.planes if any(n in runs for n in pl.points)}


def with_planes(status: Mapping[str, Any], planes: Mapping[str, Mapping[str, Any]], rule: Rule) -> dict[str, Any]:
    """The analysis status (:func:`recast.validation.status`) with the planes' statuses: a
    ``planes`` block, and the overall verdict over the compared regions and planes together."""
    out = dict(status)
    if not planes:
        return out
    out["planes"] = {name: dict(p["status"]) for name, p in planes.items()}
    entries = {**{f"region {k}": v for k, v in status["regions"].items()},
               **{f"plane {k}": v for k, v in out["planes"].items()}}
    out["status"], out["label"] = overall(entries, rule.tolerance, status.get("no_reference", ""),
                                          noun="regions and sigma_UL planes")
    return out
