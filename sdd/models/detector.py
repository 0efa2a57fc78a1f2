"""The detector: SSL backbone -> head -> two logits (spoof, bona fide).

Scores are log-odds of bona fide: ``logit[:, 1] - logit[:, 0]``, higher = more bona fide.
Class indices follow the ASVspoof reference code: 0 = spoof, 1 = bona fide.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sdd import atomic
from sdd.configbase import to_dict
from sdd.models.backbone import backbone_from_config, build_backbone
from sdd.models.params import ModelParams
from sdd.train.params import ArmConfig, arm_from_dict

__all__ = [
    "BONAFIDE",
    "DECISION_RULE",
    "SPOOF",
    "Detector",
    "LinearHead",
    "decision_threshold_record",
    "load_detector",
    "read_decision_threshold",
    "save_detector",
]

SPOOF, BONAFIDE = 0, 1


class LinearHead(nn.Module):
    """Mean-pool over frames, then a linear layer: ``(B, F, H) -> (B, 2)``."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden_size, 2)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.proj(hidden.mean(dim=1))  # (B, H) -> (B, 2)


HEADS: dict[str, type[nn.Module]] = {"linear": LinearHead}


class Detector(nn.Module):
    """Backbone + head. Takes a config; never sees devices (the caller moves it)."""

    def __init__(self, backbone: nn.Module, params: ModelParams) -> None:
        super().__init__()
        self.params = params
        self.backbone = backbone
        self.head = HEADS[params.head](backbone.config.hidden_size)
        if params.finetune == "frozen":
            self.backbone.requires_grad_(False)

    @classmethod
    def from_arm(cls, arm: ArmConfig) -> Detector:
        return cls(build_backbone(arm.backbone, arm.model.tiny), arm.model)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Args: wave (B, T) float waveform at 16 kHz. Returns logits (B, 2) = (spoof, bona fide)."""
        if self.params.normalize_input:
            wave = (wave - wave.mean(dim=1, keepdim=True)) / torch.sqrt(wave.var(dim=1, keepdim=True) + 1e-7)
        hidden = self.backbone(wave).last_hidden_state  # (B, F, H)
        return self.head(hidden)

    @staticmethod
    def scores(logits: torch.Tensor) -> torch.Tensor:
        """Log-odds of bona fide, (B, 2) -> (B,)."""
        return logits[:, BONAFIDE] - logits[:, SPOOF]


#: How a score becomes a decision at the stored threshold (the official EER threshold's convention).
DECISION_RULE = "bonafide if score > threshold, else spoof"


def decision_threshold_record(threshold: float, dev_eer: float) -> dict[str, Any]:
    """The ``decision_threshold`` entry of ``config.json``: the saved model's dev EER threshold."""
    return {
        "threshold": float(threshold),
        "rule": DECISION_RULE,
        "dev_eer": float(dev_eer),
        "source": "EER threshold (official compute_eer) of the saved model's scores on the training "
        "corpus's dev split, first train.dev_samples samples, as sdd score reads them",
    }


def save_detector(
    model: Detector, arm: ArmConfig, out_dir: Path, extra: dict[str, Any] | None = None
) -> None:
    """Write ``model.safetensors`` + ``config.json`` (the full resolved arm config and the backbone's
    architecture), so the checkpoint rebuilds itself with no params file and no hub access.

    ``extra`` adds top-level entries (the train stage adds ``train_summary`` and ``decision_threshold``,
    :func:`decision_threshold_record`)."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic.atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    meta = {"arm": to_dict(arm), "backbone_config": model.backbone.config.to_dict(), **(extra or {})}
    atomic.write_json(out_dir / "config.json", meta, default=str)


def read_decision_threshold(model_dir: str | os.PathLike[str]) -> float | None:
    """The decision threshold stored with a checkpoint, or None when it has none (trained before the
    train stage stored it). Reads only ``config.json``."""
    cfg_path = Path(model_dir) / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path}: missing; expected a model directory written by the train stage")
    try:
        rec = json.loads(cfg_path.read_text()).get("decision_threshold")
    except (json.JSONDecodeError, AttributeError) as e:
        raise ValueError(f"{cfg_path}: not the JSON object the train stage writes ({e})") from e
    if rec is None:
        return None
    try:
        return float(rec["threshold"])
    except (TypeError, KeyError, ValueError) as e:
        raise ValueError(
            f"{cfg_path}: decision_threshold is {rec!r}; expected {{'threshold': <number>, ...}}"
        ) from e


def load_detector(model_dir: str | os.PathLike[str]) -> tuple[Detector, ArmConfig]:
    """Load a checkpoint written by :func:`save_detector` (weights + config), in eval mode."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    cfg_path, weights = model_dir / "config.json", model_dir / "model.safetensors"
    for p in (cfg_path, weights):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: missing; expected a model directory written by the train stage")
    meta = json.loads(cfg_path.read_text())
    arm = arm_from_dict(meta["arm"])
    model = Detector(backbone_from_config(meta["backbone_config"]), arm.model)
    model.load_state_dict(load_file(str(weights)))
    model.eval()
    return model, arm
