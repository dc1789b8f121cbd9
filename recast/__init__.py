"""recast: recast LHC searches with machine-learned selections.

The engine is a straight pipeline::

    source (HepMC file | Pythia) -> event batches -> physics objects -> analysis
        -> signal-region yields -> statistics -> report

Each stage is a module with a small public surface: :mod:`recast.events`,
:mod:`recast.objects`, :mod:`recast.analysis`, :mod:`recast.engine`, :mod:`recast.results`.
"""

__version__ = "0.1.0"

from .errors import RecastError  # noqa: E402

__all__ = ["RecastError", "__version__"]
