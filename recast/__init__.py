"""recast: recast LHC searches with machine-learned selections.

The engine is a straight pipeline; data flow forward only::

    source (SLHA -> Pythia | HepMC | LHE -> Pythia) -> event batches -> physics objects
        -> detector response -> analysis (variables, preserved models, cuts) -> counts -> results
        -> statistics -> report

Every part, by its role (the first lines of each module say more):

``events``       event sources: Pythia 8 in-process (SLHA or LHE input), HepMC3/HepMC2 files read
                 by numba kernels; all give the same columnar event batches (``events.record``),
                 the next one read ahead on a spare core (``events.ahead``).
``objects``      truth-level physics objects from a batch (jets, b-tags, leptons, taus, MET) and the
                 helpers analyses compute with (kinematics, overlap removal, event shapes).
``detector``     the detector stage between truth objects and the analyses: smearing, acceptance,
                 efficiencies and b-tag bins from a detector card (``data/detectors``, or a file).
``analysis``     the plugin API: an analysis is metadata, options, variables, a preselection and
                 named lists of cuts per signal region.
``analyses``     the searches (``analyses/`` in the source tree), registered as entry points.
``models``       preserved ML models: model cards (inputs, padding, conventions, golden outputs),
                 TMVA -> ONNX conversion, batched evaluation with fold rules (onnxruntime; the
                 TMVA BDTs through a numba kernel over the flattened forest).
``engine``       one analysis over batches: variables, models scored on preselected events, cut
                 masks, weighted cutflows and histograms (``Counts``, which add up).
``pipeline``     one pass over one source through several analyses, sharing objects per chunk,
                 ending in the result documents with their cross sections (``xsec``, ``slha``).
``results``      the versioned result document; ``report`` prints it; ``schemas`` holds the JSON
                 Schemas of every file recast writes and checks documents against them.
``stats``        CLs, r and upper limits with pyhf: simplified and published full likelihoods,
                 multi-bin combinations, toy S95, limits from a user's yields table.
``scan``         grids of model points (templates, SLHA files, existing events) run on Dask
                 (``parallel``), resumable, with the combination rule and the exclusion plot.
``probe``        how far the preserved ML selections can be trusted on the events: training domain,
                 feature importance, convention sensitivity and the worst-case band on the ML
                 regions' efficiency (``recast probe``; ``recast limit --ml-unc`` uses the band).
``validation``   comparisons with ATLAS' published cutflows, A x eff and maps: specifications,
                 runs on Dask, the status rule, Markdown/HTML reports.
``memory``       freed memory reused chunk after chunk (the command line and Dask workers).
``artifacts``    ATLAS' files (models, workspaces, cards) fetched by sha256 from HEPData into the
                 user cache (``cache``, which also keeps the compiled numba kernels), or found in
                 a local mirror.
``cli``          the ``recast`` command: argument parsing, progress bars and messages only.
``output``,      where files go: output locations checked before any work, atomic writes, a
``atomic``       fallback file when a write fails; ``errors``: the one-line input errors.
``kernels``      helpers for the numba kernels (borrowed array views, compiling in a child);
``precompile``   the kernels a wheel build compiles into the package (the first run loads them).
``rng``          the seeded per-event random streams (b-tagging, efficiencies, fold rules).
``paths``        where the package's ``data`` live (``data/`` in the source tree): published numbers,
                 model cards, validation specifications, cross-section tables, the artifact registry.
"""

__version__ = "0.1.0"

from .cache import use_numba_cache  # noqa: E402
from .errors import RecastError  # noqa: E402

use_numba_cache()  # before any module defines a kernel

__all__ = ["RecastError", "__version__"]
