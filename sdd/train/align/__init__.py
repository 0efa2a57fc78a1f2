"""Gradient aligners for dual-path (clean / augmented) training, and their registry.

DPDA (Truong, Liu, Li, Tao, Lee, Chng, "Addressing Gradient Misalignment in Data-Augmented Training
for Robust Speech Deepfake Detection", arXiv 2509.20682, ICASSP 2026) computes one gradient per path
and combines them with a multi-task aligner. One module per method, each citing its paper and stating
its differences from the authors' code: :mod:`.mean` (``none``), :mod:`.pcgrad`, :mod:`.gradvac`,
:mod:`.cagrad`, :mod:`.gr` (Gradient Remedy); :mod:`.core` holds what they share (Gram matrices,
granularity, the in-place combination). :func:`make_aligner` builds the aligner an arm names.
"""

from __future__ import annotations

from sdd.train.align.cagrad import CAGrad, cagrad
from sdd.train.align.core import Aligner, AlignInfo, align, align_, gradient_telemetry, gram
from sdd.train.align.gr import GradientRemedy, gr
from sdd.train.align.gradvac import GradVac, gradvac
from sdd.train.align.mean import Mean, mean_update
from sdd.train.align.pcgrad import PCGrad, pcgrad
from sdd.train.params import ALIGNER_METHODS, AlignerParams

__all__ = [
    "ALIGNERS",
    "AlignInfo",
    "Aligner",
    "align",
    "align_",
    "cagrad",
    "gr",
    "gradient_telemetry",
    "gradvac",
    "gram",
    "make_aligner",
    "mean_update",
    "pcgrad",
]

#: ``align`` value -> aligner class. The names are spelled once, in the torch-free
#: :data:`sdd.train.params.ALIGNER_METHODS` (what the plan validates); the classes follow in the same
#: order and take their ``name`` from it.
ALIGNERS: dict[str, type[Aligner]] = dict(
    zip(ALIGNER_METHODS, (Mean, PCGrad, GradVac, CAGrad, GradientRemedy), strict=True)
)
for _name, _cls in ALIGNERS.items():
    _cls.name = _name


def make_aligner(method: str, params: AlignerParams) -> Aligner:
    """The aligner ``method`` with its settings from a resolved ``aligner`` section
    (:func:`sdd.train.params.resolve_aligner`: its granularity is ``global`` or ``per_tensor``)."""
    if method not in ALIGNERS:
        raise ValueError(f"align: got {method!r}; expected one of {sorted(ALIGNERS)}")
    if params.granularity == "auto":
        raise ValueError("make_aligner: granularity 'auto' must be resolved first (resolve_aligner)")
    return ALIGNERS[method].from_params(params.granularity, params)
