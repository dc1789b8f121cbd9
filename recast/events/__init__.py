"""Event sources: HepMC files and Pythia 8, both yielding the same columnar event batches.

See :mod:`recast.events.record` for the batch layout.
"""

from .hepmc import HepMCSource
from .pythia import PROCESSES, PythiaConfig, PythiaSource
from .record import FROM_BSM, FROM_HADRON, FROM_TAU

__all__ = ["FROM_BSM", "FROM_HADRON", "FROM_TAU", "HepMCSource", "PROCESSES", "PythiaConfig",
           "PythiaSource"]
