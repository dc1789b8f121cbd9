"""Event sources: HepMC files and Pythia 8, both yielding the same columnar event batches.

:mod:`~recast.events.record` the generator record and the batch layout every source fills;
:mod:`~recast.events.hepmc` HepMC3/HepMC2 files (columnar reader, kernel in ``_hepmc_text``),
:mod:`~recast.events.hepmc_reference` the pyhepmc reader, :mod:`~recast.events.hepmc_lines` line
checks and error locators, :mod:`~recast.events.hepmc_writer` Pythia events to HepMC3;
:mod:`~recast.events.pythia` Pythia in-process (SLHA or LHE), :mod:`~recast.events.pythia_record`
its record made flat; :mod:`~recast.events.compression` compressed files;
:mod:`~recast.events.sanity` the collision a file describes.
"""

from .hepmc import HepMCSource
from .pythia import PROCESSES, PythiaConfig, PythiaSource
from .record import FROM_BSM, FROM_HADRON, FROM_TAU

__all__ = ["FROM_BSM", "FROM_HADRON", "FROM_TAU", "HepMCSource", "PROCESSES", "PythiaConfig",
           "PythiaSource"]
