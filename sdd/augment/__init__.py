"""Data augmentation: pure functions (:mod:`.functional`), named ops (:mod:`.ops`), policies
(:mod:`.policies`), the ``augment`` params (:mod:`.params`), the precompute stage
(:mod:`.precompute`) and report figures (:mod:`.report`)."""

from sdd.augment.ops import OPS, AugmentContext
from sdd.augment.params import AugmentParams
from sdd.augment.policies import BUILTIN_POLICIES, Policy, build_policy

__all__ = ["BUILTIN_POLICIES", "OPS", "AugmentContext", "AugmentParams", "Policy", "build_policy"]
