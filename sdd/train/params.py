"""What one training run reads: the ``train`` section and the resolved arm (:class:`ArmConfig`).

An arm's config is the content of ``data/plan/arms/<arm>.json`` and of a checkpoint's
``config.json``; :func:`arm_from_dict` rebuilds it from either. The ``regime`` and ``align`` toggles
are defined here too (:data:`REGIMES`, :func:`normalize_align`). This module imports only
:mod:`sdd.configbase` and :mod:`sdd.models.params`, so the training and model code and the plan
(:mod:`sdd.config`) all build on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sdd.configbase import ConfigError, build
from sdd.models.params import HEADS_WITH_BATCHNORM, ModelParams

__all__ = [
    "ALIGN_CHOICES",
    "ALIGN_NOT_YET",
    "REGIMES",
    "ArmConfig",
    "TrainParams",
    "arm_from_dict",
    "check_regime",
    "normalize_align",
]

REGIMES = ("clean", "augmented", "dual_path")
# align value -> aligner name in sdd.train.align.ALIGNERS; `true` means pcgrad (design.md).
ALIGN_CHOICES: dict[Any, str] = {False: "none", "none": "none", True: "pcgrad", "pcgrad": "pcgrad"}
ALIGN_NOT_YET = ("gradvac", "cagrad", "gr")


@dataclass(frozen=True)
class TrainParams:
    """Optimisation, cropping, early stopping and telemetry of the train stage."""

    epochs: int = 8
    batch_size: int = 16  # utterances per path per step
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: Literal["adam", "adamw"] = "adam"
    crop_samples: int = 32000  # both views of a pair get the same crop
    crop: Literal["first", "random"] = "first"  # DPDA: first N samples, repeat-padded
    dev_samples: int = 64600  # dev loss/EER on the first N samples, as scoring does (score.num_samples)
    bonafide_weight: float = 0.5  # weighted CE; DPDA/SSL-AASIST use 0.9 (bona fide) / 0.1 (spoof)
    spoof_weight: float = 0.5
    patience: int = 3  # early stopping on CLEAN dev loss
    average_best: int = 3  # average the weights of the k best epochs (by dev loss), correctly
    telemetry_every: int = 5  # per-path gradient telemetry on the augmented regime (dual_path: every step)
    max_steps_per_epoch: int | None = None
    threads: int = 2  # torch intra-op threads; fixed so CPU results are bit-for-bit reproducible

    def __post_init__(self) -> None:
        positive = (
            "epochs",
            "batch_size",
            "crop_samples",
            "dev_samples",
            "average_best",
            "telemetry_every",
            "threads",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name}: got {getattr(self, name)}; expected a positive integer")
        if self.patience < 0:
            raise ConfigError(f"train.patience: got {self.patience}; expected >= 0")
        if not self.lr > 0:
            raise ConfigError(f"train.lr: got {self.lr}; expected a positive number")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay: got {self.weight_decay}; expected >= 0")
        if self.bonafide_weight <= 0 or self.spoof_weight <= 0:
            raise ConfigError(
                "train.bonafide_weight/spoof_weight: "
                f"got {self.bonafide_weight}/{self.spoof_weight}; expected > 0"
            )
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ConfigError(
                f"train.max_steps_per_epoch: got {self.max_steps_per_epoch}; expected null or >= 1"
            )


@dataclass(frozen=True)
class ArmConfig:
    """Everything the train stage of one arm reads (the content of ``data/plan/arms/<arm>.json``)."""

    name: str
    corpus: str
    backbone: str
    regime: Literal["clean", "augmented", "dual_path"]
    align: Literal["none", "pcgrad"]
    lora: bool
    seed: int
    model: ModelParams
    train: TrainParams
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.align != "none" and self.regime != "dual_path":
            raise ConfigError(
                f"arms.{self.name}: align={self.align!r} needs regime 'dual_path' "
                f"(got regime {self.regime!r}); "
                "gradient alignment combines the clean-path and augmented-path gradients"
            )
        if self.lora != (self.model.finetune == "lora"):
            raise ConfigError(
                f"arms.{self.name}: lora={str(self.lora).lower()} but "
                f"model.finetune={self.model.finetune!r}; "
                "LoRA is switched with the `lora` toggle (lora: true, or -S lora=true), which sets "
                "model.finetune to 'lora'"
            )
        # Per-path forward passes (dual_path; the augmented regime's telemetry steps) equal one joint
        # forward only for models without cross-sample layers (methods.md §1).
        if self.model.head in HEADS_WITH_BATCHNORM and self.regime in ("dual_path", "augmented"):
            raise ConfigError(
                f"arms.{self.name}: model.head {self.model.head!r} has BatchNorm, so regime "
                f"{self.regime!r} needs the joint dual-path forward of the training-engine issue, which "
                "is not available yet; use regime: clean"
            )


def arm_from_dict(data: dict[str, Any]) -> ArmConfig:
    """Rebuild an :class:`ArmConfig` from its plan document or a checkpoint's stored config."""
    return build(ArmConfig, data, f"arm {data.get('name', '?')}")


def normalize_align(value: Any, where: str) -> str:
    """Map an ``align`` value to an aligner name; ``true`` means ``pcgrad``."""
    if isinstance(value, str) and value in ALIGN_NOT_YET:
        raise ConfigError(
            f"{where}: {value!r} is not available yet (its issue has not landed); "
            "available now: false, true (= pcgrad), pcgrad"
        )
    for key, name in ALIGN_CHOICES.items():
        if value == key and type(value) is type(key):
            return name
    raise ConfigError(
        f"{where}: got {value!r}; expected one of false, true (= pcgrad), pcgrad "
        f"(not available yet: {', '.join(ALIGN_NOT_YET)})"
    )


def check_regime(value: Any, where: str) -> str:
    """``value`` if it is one of :data:`REGIMES`, else a :class:`ConfigError` naming ``where``."""
    if value not in REGIMES:
        raise ConfigError(f"{where}: got {value!r}; expected one of {list(REGIMES)}")
    return value
