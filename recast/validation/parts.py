"""A stored status made of several committed reports ("parts").

An analysis' whole specification can cost hours (ATLAS-SUSY-2019-04's two benchmark points take an
hour each at 200,000 events; its sigma_UL planes another half hour). ``recast validate ANA
--store-status --points GROUP ...`` therefore regenerates one part of the committed reports (say
``validation/reports/ANA/planes``) and takes every other point of the specification from the
committed reports the stored status already names: their summary.json keeps each point's compared
numbers, from which :func:`recast.validation.status` recomputes the verdicts under today's rule, and
each sigma_UL plane's status. A point counts only if a part ran it without error, with the
specification's seed and at least its number of events, under the analysis' present default
options; otherwise the command says which point is missing and where it looked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecastError
from .compare import check_schema, read_status
from .spec import Benchmark, Spec


@dataclass
class Carried:
    """What the other committed parts contribute: compared numbers and provenance by point, each
    plane's comparison, and the parts' report directories (relative to the checkout)."""

    compared: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    planes: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)


def stored_reports(analysis_id: str) -> list[str]:
    """The report directories (relative to the checkout) the stored status was made from."""
    st = read_status(analysis_id)
    if not st:
        return []
    return list(st.get("reports") or [st["report"]])


def carry(spec: Spec, running: Sequence[Benchmark], checkout: Path, report_at: str) -> Carried:
    """The points of ``spec`` not in ``running`` (and the planes none of whose points run), from
    the committed reports of the stored status other than ``report_at``; a
    :class:`~recast.errors.RecastError` names the first point no part holds as it must."""
    ana = spec.analysis
    names = {p.name for p in running}
    missing = [p for p in spec.points if p.name not in names]
    out = Carried()
    defaults = json.loads(json.dumps(ana.resolve_options({}), default=str))
    looked: list[str] = []
    for rel in stored_reports(ana.id):
        if rel == report_at:
            continue
        path = checkout / rel / "summary.json"
        looked.append(rel)
        try:
            summary = json.loads(path.read_text())
            check_schema(summary, "validation", path)
        except (OSError, ValueError, RecastError) as exc:
            raise RecastError(f"--store-status: {path}: the committed report part cannot be read "
                              f"({' '.join(str(exc).split())[:160]})") from None
        prov = summary["provenance"]
        if json.loads(json.dumps(prov.get("default_options", {}), default=str)) != defaults:
            raise RecastError(f"--store-status: {path} was made with other default options than {ana.id}'s "
                              f"present ones; regenerate that part (its points) with --store-status")
        by_name = {p["name"]: p for p in prov["points"]}
        for p in missing:
            if p.name in out.compared:
                continue
            entry, comp = by_name.get(p.name), summary["points"].get(p.name)
            if entry and comp and not comp.get("error") and entry["seed"] == p.seed and entry["nevents"] >= p.nevents:
                out.compared[p.name], out.provenance[p.name] = comp, entry
        for name, plane in (summary.get("planes") or {}).items():
            out.planes.setdefault(name, plane)
        out.reports.append(rel)
    for p in missing:
        if p.name not in out.compared:
            where = ", ".join(looked) or "no committed report part (the stored status names none)"
            raise RecastError(f"--store-status: point {p.name} of {spec.path} is neither run here (--points) nor "
                              f"held, with seed {p.seed} and at least {p.nevents} events, by {where}")
    running_planes = {p.plane for p in running if p.plane}
    out.planes = {name: v for name, v in out.planes.items()
                  if name not in running_planes and any(pl.name == name for pl in spec.planes)}
    return out


def combined(compared: Mapping[str, dict[str, Any]], planes: Mapping[str, dict[str, Any]],
             carried: Carried) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(compared points, planes) of this run with the carried ones: what the stored status judges."""
    return {**carried.compared, **compared}, {**carried.planes, **planes}
