"""The detector: SSL backbone -> layer merge -> head -> two logits (spoof, bona fide).

Scores are log-odds of bona fide: ``logit[:, 1] - logit[:, 0]``, higher = more bona fide.
Class indices follow the ASVspoof reference code: 0 = spoof, 1 = bona fide.

:class:`Detector` takes a backbone and :class:`~sdd.models.params.ModelParams` and never sees paths
or devices. Building it applies, in this order: truncation to ``layers`` (the others are deleted),
LayerDrop off when the merge collects layers (a dropped layer would make the hidden-state list ragged
or stale), the fine-tuning mode (which backbone parameters train), LoRA adapters through peft for
``finetune: lora``, then the merge and head, which always train fully. A checkpoint
(:func:`save_detector`) is ``model.safetensors`` (every tensor, LoRA adapters unmerged) plus
``config.json`` (the arm config and the backbone's architecture), so :func:`load_detector` rebuilds
the same modules and loads the same tensors with no params file and no hub access.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from sdd.core import atomic
from sdd.core.configbase import build
from sdd.models.backbone import (
    backbone_from_config,
    encoder_layers,
    set_finetune,
    truncate_layers,
)
from sdd.models.heads import HEADS
from sdd.models.merges import build_merge
from sdd.models.params import ModelParams, check_layer_counts

if TYPE_CHECKING:
    from sdd.models.wav2vec2_lite import LiteConfig

log = logging.getLogger(__name__)

__all__ = [
    "BONAFIDE",
    "DECISION_RULE",
    "SPOOF",
    "Detector",
    "decision_threshold_record",
    "load_detector",
    "parameter_counts",
    "read_decision_threshold",
    "resolve_model_dir",
    "save_detector",
]

SPOOF, BONAFIDE = 0, 1


class Detector(nn.Module):
    """Backbone + merge + head. Takes a config; never sees devices (the caller moves it).

    Args:
        backbone: a transformers wav2vec2-family model (see :mod:`sdd.models.backbone`); modified in
            place (truncated, frozen, LoRA-injected) as ``params`` says.
        params: the ``model`` section.
    """

    def __init__(self, backbone: nn.Module, params: ModelParams) -> None:
        super().__init__()
        self.params = params
        if params.layers is not None or params.merge != "last" or params.finetune == "partial":
            check_layer_counts(params, len(encoder_layers(backbone)))
        if params.layers is not None:
            truncate_layers(backbone, params.layers)
        merge = build_merge(params, backbone.config.num_hidden_layers, backbone.config.hidden_size)
        if merge.collects_layers and getattr(backbone.config, "layerdrop", 0.0):
            log.info("backbone LayerDrop %.3g -> 0: merge %r collects every layer",
                     backbone.config.layerdrop, params.merge)
            backbone.config.layerdrop = 0.0
        set_finetune(backbone, params)
        if params.finetune == "lora":
            from sdd.models.lora import apply_lora

            apply_lora(backbone, params.lora)
        self.backbone = backbone
        self.merge = merge
        self.head = HEADS[params.head](backbone.config.hidden_size)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Args: wave (B, T) float waveform at 16 kHz. Returns logits (B, 2) = (spoof, bona fide)."""
        if self.params.normalize_input:
            wave = (wave - wave.mean(dim=1, keepdim=True)) / torch.sqrt(wave.var(dim=1, keepdim=True) + 1e-7)
        output = self.backbone(wave, output_hidden_states=self.merge.collects_layers)
        return self.head(self.merge(output))  # merge: (B, F, H); head: (B, 2)

    def hidden_states(self, wave: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every hidden state of the backbone for ``wave`` (B, T): L + 1 tensors (B, F, H), the
        transformer's input then each kept layer's output (input normalised as in :meth:`forward`)."""
        if self.params.normalize_input:
            wave = (wave - wave.mean(dim=1, keepdim=True)) / torch.sqrt(wave.var(dim=1, keepdim=True) + 1e-7)
        if self.backbone.training and getattr(self.backbone.config, "layerdrop", 0.0):
            raise ValueError("hidden_states: LayerDrop is on in training mode; call .eval() first")
        return self.backbone(wave, output_hidden_states=True).hidden_states

    @staticmethod
    def scores(logits: torch.Tensor) -> torch.Tensor:
        """Log-odds of bona fide, (B, 2) -> (B,)."""
        return logits[:, BONAFIDE] - logits[:, SPOOF]


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """``{"trainable_parameters": .., "total_parameters": ..}`` of a model."""
    return {
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total_parameters": sum(p.numel() for p in model.parameters()),
    }


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
    model: Detector, arm: Mapping[str, Any], out_dir: Path, extra: dict[str, Any] | None = None
) -> None:
    """Write ``model.safetensors`` + ``config.json`` (the full resolved arm config and the backbone's
    architecture), so the checkpoint rebuilds itself with no params file and no hub access. LoRA
    adapters are stored unmerged, beside the frozen base weights.

    ``arm`` is the arm's resolved config as a plain mapping with a ``model`` section (the training
    package passes its ``ArmConfig`` as a dict, :func:`sdd.train.arm_model.save_arm`); this module
    knows only the ``model`` section.

    ``extra`` adds top-level entries (the train stage adds ``train_summary`` and ``decision_threshold``,
    :func:`decision_threshold_record`)."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic.atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    meta = {"arm": dict(arm), "backbone_config": model.backbone.config.to_dict(), **(extra or {})}
    atomic.write_json(out_dir / "config.json", meta, default=str)


def read_decision_threshold(model_dir: str | os.PathLike[str]) -> float | None:
    """The decision threshold stored with a checkpoint, or None when it has none (trained before the
    train stage stored it). Reads only ``config.json``."""
    cfg_path = resolve_model_dir(model_dir) / "config.json"
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


def resolve_model_dir(model_dir: str | os.PathLike[str]) -> Path:
    """A model folder as given, or, for an arm's folder of seeds (``models/<arm>`` holding
    ``s<seed>/``), its one seed's folder.

    Raises:
        ValueError: the arm folder holds several seeds (the message names them).
    """
    path = Path(model_dir)
    if (path / "config.json").is_file() or not path.is_dir():
        return path
    seeds = sorted((d for d in path.iterdir() if d.is_dir() and d.name[:1] == "s" and d.name[1:].isdigit()
                    and (d / "config.json").is_file()), key=lambda d: int(d.name[1:]))
    if len(seeds) > 1:
        raise ValueError(f"{path}: holds the models of seeds {', '.join(d.name for d in seeds)}; name one, "
                         f"e.g. {seeds[0]}")
    return seeds[0] if seeds else path


def load_detector(
    model_dir: str | os.PathLike[str], *, lite: bool = False
) -> tuple[Detector, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_detector` (weights + config), in eval mode.

    ``model_dir`` may also be an arm's folder that holds one seed (:func:`resolve_model_dir`).
    Returns the detector and the stored arm config as a dict (typed: :func:`sdd.train.arm_model.load_arm`).

    ``lite=True`` (``sdd score``): for inference only, and without importing transformers when the
    backbone allows, which is what makes a one-file ``sdd score`` take under 2 s instead of 9
    (:func:`_lite_config`). The backbone is then :class:`sdd.models.wav2vec2_lite.Wav2Vec2Lite`, whose
    outputs equal transformers' bit for bit, and the modules are built on the meta device and take the
    loaded tensors as they are (no random initialisation, no second copy of the weights). A backbone it
    does not cover is loaded through transformers, with a DEBUG log line saying why (stderr stays for
    what concerns the scores).
    """
    from safetensors.torch import load_file

    model_dir = resolve_model_dir(model_dir)
    cfg_path, weights = model_dir / "config.json", model_dir / "model.safetensors"
    for p in (cfg_path, weights):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: missing; expected a model directory written by the train stage")
    meta = json.loads(cfg_path.read_text())
    arm = meta["arm"]
    params = build(ModelParams, arm["model"], f"{cfg_path}: arm.model")
    lite_config = _lite_config(meta["backbone_config"], params, model_dir) if lite else None
    if lite_config is None:
        model = Detector(backbone_from_config(meta["backbone_config"]), params)
        model.load_state_dict(load_file(str(weights)))
    else:
        from sdd.models.wav2vec2_lite import Wav2Vec2Lite

        with torch.device("meta"):
            model = Detector(Wav2Vec2Lite(lite_config), params)
        model.load_state_dict(load_file(str(weights)), assign=True)
        left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
        if left:
            raise ValueError(f"{weights}: holds no tensor for {left}; expected every tensor of the model")
    model.eval()
    return model, arm


def _lite_config(
    backbone_config: dict[str, Any], params: ModelParams, model_dir: Path
) -> LiteConfig | None:
    """The :class:`~sdd.models.wav2vec2_lite.LiteConfig` of a checkpoint's backbone, or None (logged at
    DEBUG with the reason) when the lite model does not cover it: LoRA adapters (peft's modules), or an
    architecture :func:`~sdd.models.wav2vec2_lite.unsupported` names."""
    from sdd.models.wav2vec2_lite import LiteConfig, unsupported

    reason = "LoRA adapters (peft)" if params.finetune == "lora" else unsupported(backbone_config)
    if reason is not None:
        log.debug("%s: %s; loading the backbone through transformers (a slower start)", model_dir, reason)
        return None
    return LiteConfig.from_dict(backbone_config)
