"""Scans: many model points through the same analyses, one Dask task per point.

* :mod:`~recast.scan.grid`: the points (SLHA template, SLHA files, HepMC files or a listing of
  them), each with a stable name and its own Pythia seed (:func:`load_grid`, :func:`derive_seed`).
* :mod:`~recast.scan.settings`: what every point shares (:class:`Settings`) and what decides that
  a finished point can be reused (:func:`settings_hash`).
* :mod:`~recast.scan.combination`: one decision per point from several analyses (:func:`combine`).
* :mod:`~recast.scan.documents`: the point and summary files, written and read validated.
* :mod:`~recast.scan.run`: a point on a worker (:func:`run_task`), the scan on Dask with reruns
  (:func:`run_scan`).
* :mod:`~recast.scan.plot`: the exclusion plot (:func:`plot_exclusion`).

What the rest of recast uses is imported here.
"""

from .combination import COMBINATION_RULE, combine
from .documents import read_json, summary_doc, summary_row, validate, write_json, write_summary
from .grid import Grid, GridPoint, derive_seed, load_grid, point_name
from .plot import plot_exclusion
from .run import ScanReport, point_blocks, point_task, run_block_task, run_scan, run_task
from .settings import Settings, resolve_settings, settings_hash

__all__ = ["COMBINATION_RULE", "Grid", "GridPoint", "ScanReport", "Settings", "combine", "derive_seed", "load_grid",
           "plot_exclusion", "point_blocks", "point_name", "point_task", "read_json", "resolve_settings", "run_block_task",
           "run_scan", "run_task", "settings_hash",
           "summary_doc", "summary_row", "validate", "write_json", "write_summary"]
