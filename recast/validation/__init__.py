"""Validation: ATLAS' published numbers against recast's, cut by cut and point by point
(``recast validate``; the specification format and the status rule are in ``validation/README.md``).

- :mod:`~recast.validation.spec`: the specification file (``data/<ANA>/validation_spec.yaml``):
  its benchmarks, their published cutflows and A x eff, the grids compared with a published map.
- :mod:`~recast.validation.run`: every benchmark generated and analysed, one Dask task each, with
  each region's cuts in its reference's order and a histogram of each region's model score.
- :mod:`~recast.validation.rule`: how one check is judged (validated, disagrees, inconclusive).
- :mod:`~recast.validation.compare`: ratios, their errors and verdicts; the status per region and
  for the analysis, its provenance, and the stored status ``recast list`` and ``recast info`` show.
- :mod:`~recast.validation.report`: the report directory (summary.json, report.html, report.md),
  with the figures of :mod:`~recast.validation.figures`.
- :mod:`~recast.validation.planes`: the cross-section upper-limit planes of a specification
  (``limit_planes:``), their points; :mod:`~recast.validation.limits`: recast's sigma_UL against
  ATLAS' over a plane (ratios, exclusion contours, the light-LSP mass limit, the plane's status);
  :mod:`~recast.validation.plane_report`: their figures and report blocks.
- :mod:`~recast.validation.resume`: the finished points kept in the report directory, reused by a
  rerun with the same settings.

The steps, as ``recast validate`` runs them::

    spec = load_spec(spec_path(analysis_id))
    runs = run_points(spec, spec.points)  # those not kept from an earlier run (resume.stored)
    compared = {p.name: compare_point(spec, p, runs[p.name]["result"]) for p in spec.points}
    planes = limits.compare_planes(spec, runs)
    st = limits.with_planes(status(spec, compared), planes, spec.rule)
    report.save(out, report.render(spec, runs, compared, st, provenance(spec, spec.points, runs), planes=planes))
"""

from __future__ import annotations

from . import limits, report, resume
from .compare import (STATUS_FILE, check_schema, compare_cutflow, compare_point, deciding_checks, provenance,
                      read_status, status, status_document, write_status)
from .planes import LimitPlane
from .rule import DISAGREES, INCONCLUSIVE, NOT_VALIDATED, VALIDATED, Rule
from .run import ordered_analysis, run_one, run_points, score_cuts, score_histograms, slha_text
from .spec import SPEC_FILE, Benchmark, CutflowRef, Spec, acc_eff_from_map, load_spec, spec_path

__all__ = ["DISAGREES", "INCONCLUSIVE", "NOT_VALIDATED", "SPEC_FILE", "STATUS_FILE", "VALIDATED", "Benchmark",
           "CutflowRef", "LimitPlane", "Rule", "Spec", "acc_eff_from_map", "check_schema", "compare_cutflow",
           "compare_point", "deciding_checks", "limits", "load_spec", "ordered_analysis", "provenance", "read_status",
           "report", "resume", "run_one", "run_points", "score_cuts", "score_histograms", "slha_text", "spec_path",
           "status", "status_document", "write_status"]
