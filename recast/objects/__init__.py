"""Truth-level physics objects: jets, b-tags, leptons, taus, missing momentum, overlap removal."""

from .build import JET_INPUTS, ObjectConfig, Objects, apply_efficiency, build_objects
from .binned import binned
from .jets import BTagWorkingPoint, btag, cluster_jets, recluster
from .kinematics import delta_phi, leading_slots, transverse_mass, wrap_phi
from .overlap import remove_overlap

__all__ = ["BTagWorkingPoint", "apply_efficiency", "binned", "JET_INPUTS", "ObjectConfig", "Objects", "btag", "build_objects",
           "cluster_jets", "delta_phi", "leading_slots", "recluster", "remove_overlap", "transverse_mass", "wrap_phi"]
