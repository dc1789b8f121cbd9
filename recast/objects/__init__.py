"""Truth-level physics objects (jets, b-tags, leptons, taus, missing momentum) and the helpers
analyses compute with: kinematics, overlap removal, event shapes, combinatorics."""

from .binned import binned
from .build import JET_INPUTS, ObjectConfig, Objects, apply_efficiency, build_objects
from .jets import BTagWorkingPoint, btag, cluster_jets, recluster
from .kinematics import delta_phi, leading_slots, max_of, min_of, pair_mass, transverse_mass, wrap_phi
from .overlap import overlapping, remove_overlap
from .shapes import aplanarity

__all__ = ["BTagWorkingPoint", "JET_INPUTS", "ObjectConfig", "Objects", "aplanarity", "apply_efficiency", "binned",
           "btag", "build_objects", "cluster_jets", "delta_phi", "leading_slots", "max_of", "min_of", "overlapping",
           "pair_mass", "recluster", "remove_overlap", "transverse_mass", "wrap_phi"]
