"""An arm's detector: built from its :class:`~sdd.train.params.ArmConfig`, saved and loaded with it.

:mod:`sdd.models.detector` takes a backbone and the ``model`` section and stores whatever config
mapping it is given; this module is where the training package's typed arm meets it, so the models
package never imports the training package.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sdd.core.configbase import to_dict
from sdd.models.backbone import build_backbone
from sdd.models.detector import Detector, load_detector, save_detector
from sdd.train.params import ArmConfig, arm_from_dict

__all__ = ["build_detector", "load_arm", "save_arm"]


def build_detector(arm: ArmConfig) -> Detector:
    """A freshly initialised detector for ``arm``: its backbone (``arm.backbone``, tiny presets sized
    by ``arm.model.tiny``) under its ``model`` section."""
    return Detector(build_backbone(arm.backbone, arm.model.tiny), arm.model)


def save_arm(model: Detector, arm: ArmConfig, out_dir: Path, extra: dict[str, Any] | None = None) -> None:
    """:func:`~sdd.models.detector.save_detector` with the full resolved arm config in ``config.json``."""
    save_detector(model, to_dict(arm), out_dir, extra)


def load_arm(model_dir: str | os.PathLike[str]) -> tuple[Detector, ArmConfig]:
    """:func:`~sdd.models.detector.load_detector`, with the stored arm config rebuilt as an
    :class:`ArmConfig` (validated: a checkpoint from an incompatible version fails here, naming it)."""
    model, arm = load_detector(model_dir)
    return model, arm_from_dict(arm)
