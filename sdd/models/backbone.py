"""SSL backbones through ``transformers``: tiny random-init presets, Hugging Face ids, local directories.

A backbone maps a waveform batch ``(B, T)`` at 16 kHz to hidden states ``(B, F, H)`` (F frames of
20 ms for the standard conv feature encoder). The ``tiny-*`` presets are randomly initialised
configs small enough to train in minutes on 2 CPU cores; any other name is passed to
``AutoModel.from_pretrained`` (a local directory written by ``save_pretrained``, or a hub id such as
``microsoft/wavlm-base-plus`` or ``facebook/wav2vec2-xls-r-300m`` when the hub is reachable).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from sdd.models.params import TinyBackboneParams
from sdd.paths import resolve

log = logging.getLogger(__name__)

__all__ = ["TINY_BACKBONES", "build_backbone", "backbone_from_config", "check_backbone_name"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def _conv_encoder(p: TinyBackboneParams) -> dict[str, Any]:
    # The standard 7-layer encoder (320x downsampling, 20 ms frames at 16 kHz), but narrow.
    return dict(
        conv_dim=(p.conv_channels,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        feat_extract_norm="group",
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4 if p.hidden_size % 4 == 0 else 1,
        hidden_size=p.hidden_size,
        num_hidden_layers=p.num_layers,
        num_attention_heads=p.num_heads,
        intermediate_size=p.intermediate_size,
        # No SpecAugment-style masking and no layer drop: a tiny model trained from scratch on the
        # demo gains nothing from them, and layer drop would make hidden_states lists ragged.
        apply_spec_augment=False,
        mask_time_prob=0.0,
        layerdrop=0.0,
    )


def _tiny_wavlm(p: TinyBackboneParams):
    from transformers import WavLMConfig

    return WavLMConfig(**_conv_encoder(p), num_buckets=64, max_bucket_distance=200)


def _tiny_wav2vec2(p: TinyBackboneParams):
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(**_conv_encoder(p))


# name -> factory of a transformers config (random init).
TINY_BACKBONES: dict[str, Callable[[TinyBackboneParams], Any]] = {
    "tiny-wavlm": _tiny_wavlm,
    "tiny-wav2vec2": _tiny_wav2vec2,
}


def check_backbone_name(name: str) -> None:
    """Cheap validation: a tiny preset, an existing local directory, or a syntactically valid hub id."""
    if name in TINY_BACKBONES:
        return
    if resolve(name).is_dir():
        return
    if name.startswith(("tiny-", ".", "/", "~")) or not _HUB_ID.match(name):
        raise ValueError(
            f"got {name!r}; expected one of {sorted(TINY_BACKBONES)}, an existing local model directory, "
            "or a Hugging Face model id like 'microsoft/wavlm-base-plus'"
        )


def build_backbone(name: str, tiny: TinyBackboneParams):
    """Instantiate a backbone (a ``transformers`` ``PreTrainedModel`` returning hidden states).

    Args:
        name: a :data:`TINY_BACKBONES` preset (random init from ``tiny``), a local directory written by
            ``save_pretrained``, or a hub id (needs network access or a populated HF cache).
        tiny: sizes of the tiny presets (ignored for pretrained models).
    """
    from transformers import AutoModel

    if name in TINY_BACKBONES:
        cfg = TINY_BACKBONES[name](tiny)
        log.info(
            "backbone %s: random init (%s, hidden %d, %d layers)",
            name,
            cfg.model_type,
            cfg.hidden_size,
            cfg.num_hidden_layers,
        )
        return AutoModel.from_config(cfg)
    local = resolve(name)
    source = str(local) if local.is_dir() else name
    log.info("backbone: from_pretrained(%s)", source)
    model = AutoModel.from_pretrained(source)
    # Collecting layers for heads/probes needs every layer on every step.
    if getattr(model.config, "layerdrop", 0.0):
        model.config.layerdrop = 0.0
    return model


def backbone_from_config(config_dict: dict[str, Any]):
    """Rebuild a backbone's architecture (random weights) from a stored ``config.to_dict()``;
    a checkpoint's state dict then supplies the weights, so scoring never needs the hub."""
    from transformers import AutoConfig, AutoModel

    cfg = dict(config_dict)
    model_type = cfg.pop("model_type")
    return AutoModel.from_config(AutoConfig.for_model(model_type, **cfg))
