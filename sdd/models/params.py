"""The ``model`` section of params.yaml: backbone fine-tuning mode, head, tiny-backbone sizes, LoRA.

Plain frozen dataclasses validated by :func:`sdd.configbase.build`; this module imports nothing else
from ``sdd``, so the model code and the plan (:mod:`sdd.config`) both build on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sdd.configbase import ConfigError

__all__ = ["HEADS_AVAILABLE", "HEADS_NOT_YET", "LoraParams", "ModelParams", "TinyBackboneParams"]

HEADS_AVAILABLE = ("linear",)
HEADS_NOT_YET = ("attm", "aasist")


@dataclass(frozen=True)
class TinyBackboneParams:
    """Size of the randomly initialised ``tiny-*`` backbones (a narrow conv encoder is what makes
    them trainable in minutes on 2 CPU cores; the default ``conv_dim`` of 512 is far too slow)."""

    conv_channels: int = 32
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 128

    def __post_init__(self) -> None:
        for name in ("conv_channels", "hidden_size", "num_layers", "num_heads", "intermediate_size"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"model.tiny.{name}: got {getattr(self, name)}; expected a positive integer"
                )
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"model.tiny.hidden_size: got {self.hidden_size}; "
                f"expected a multiple of num_heads ({self.num_heads})"
            )


@dataclass(frozen=True)
class LoraParams:
    """LoRA hyper-parameters (Wang et al. 2023); used when the ``lora`` toggle is true."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")


@dataclass(frozen=True)
class ModelParams:
    """Backbone fine-tuning mode and classification head."""

    head: str = "linear"
    finetune: Literal["full", "frozen"] = "full"
    # Zero-mean, unit-variance per utterance (as Wav2Vec2FeatureExtractor(do_normalize=True)).
    normalize_input: bool = True
    tiny: TinyBackboneParams = field(default_factory=TinyBackboneParams)
    lora: LoraParams = field(default_factory=LoraParams)

    def __post_init__(self) -> None:
        if self.head in HEADS_NOT_YET:
            raise ConfigError(
                f"model.head: {self.head!r} is not available yet (its issue has not landed); "
                f"available: {list(HEADS_AVAILABLE)}"
            )
        if self.head not in HEADS_AVAILABLE:
            raise ConfigError(f"model.head: got {self.head!r}; expected one of {list(HEADS_AVAILABLE)}")
