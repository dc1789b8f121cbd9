"""Limits with pyhf: is a model point excluded, and by which signal region?

The submodules, from the bottom up (each imports only those above it):

* :mod:`~recast.stats.fits`: maximum-likelihood fits of a pyhf model that converge far beyond
  exclusion (conditioned POI, continuation, polishing), and pyhf with its NumPy backend.
* :mod:`~recast.stats.hypotest`: CLs with q~_mu and the asymptotic formulae, in logarithms, and
  the 95 % CL upper limit on mu; ``CLS_LEVEL`` and ``CLS_FLOOR``.
* :mod:`~recast.stats.limits`: what the limits of a result are (:class:`Limits`,
  :class:`RegionLimit`), which region decides, the upper-limit choice and progress steps.
* :mod:`~recast.stats.simplified_likelihood`: the per-region and multi-bin simplified
  likelihoods (:func:`simplified`), and the asymptotic model-independent limit :func:`s95`.
* :mod:`~recast.stats.full_likelihood`: the published background-only workspaces with our
  signal patched in (:func:`full`).
* :mod:`~recast.stats.toys`: model-independent limits from pseudo-experiments (:func:`s95_toys`).
* :mod:`~recast.stats.documents`: both likelihoods at once (:func:`compute`), the versioned limits
  document and its bytes (:func:`document`, :func:`encode`).
* :mod:`~recast.stats.yields`: what ``recast limit FILE`` reads, a result or a user's table of
  signal yields (``yields.load``).

What the rest of recast uses is imported here.
"""

from .documents import LIKELIHOODS, LIMITS_SCHEMA, LIMITS_VERSION, SOURCE_KINDS, compute, document, encode
from .full_likelihood import full
from .hypotest import CLS_FLOOR, CLS_LEVEL
from .limits import UPPER_LIMITS, Limits, ProgressCallback, RegionLimit, count_steps
from .simplified_likelihood import s95, simplified
from .toys import TOY_NTOYS, TOY_SCAN_POINTS, TOY_TIE_TOLERANCE, ToyS95, s95_toys

__all__ = ["CLS_FLOOR", "CLS_LEVEL", "LIKELIHOODS", "LIMITS_SCHEMA", "LIMITS_VERSION", "SOURCE_KINDS", "TOY_NTOYS",
           "TOY_SCAN_POINTS", "TOY_TIE_TOLERANCE", "UPPER_LIMITS", "Limits", "ProgressCallback", "RegionLimit",
           "ToyS95", "compute", "count_steps", "document", "encode", "full", "s95", "s95_toys", "simplified"]
