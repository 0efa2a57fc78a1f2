"""SSL backbones through ``transformers`` Auto classes: tiny random-init presets, Hugging Face ids,
local directories; truncation to the first k layers and the fine-tuning modes.

A backbone maps a waveform batch ``(B, T)`` at 16 kHz to hidden states ``(B, F, H)`` (F frames of
20 ms for the standard conv feature encoder); with ``output_hidden_states=True`` it also returns all
L + 1 hidden states (the transformer's input, then each layer's output). The ``tiny-*`` presets are
randomly initialised configs small enough to train in minutes on 2 CPU cores (their names, and the
cheap check of a backbone name the plan runs, are in :mod:`sdd.models.params`); any other name is
passed to ``AutoModel.from_pretrained`` (a local directory written by ``save_pretrained``, or a hub id
such as ``microsoft/wavlm-base-plus`` or ``facebook/wav2vec2-xls-r-300m``), never with
``trust_remote_code``. Every wav2vec2-family model works (wav2vec2, XLS-R, WavLM, HuBERT,
data2vec-audio): truncation and the fine-tuning modes need ``encoder.layers`` and the CNN
``feature_extractor`` that they all have.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sdd.core.paths import resolve
from sdd.models.params import TINY_PRESETS, ModelParams, TinyBackboneParams, hub_hint

log = logging.getLogger(__name__)

__all__ = [
    "TINY_BACKBONES",
    "BackboneUnavailable",
    "backbone_from_config",
    "build_backbone",
    "encoder_layers",
    "set_finetune",
    "truncate_layers",
]

class BackboneUnavailable(OSError):
    """A hub backbone is neither cached locally nor downloadable (one line, no traceback in stages)."""


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


#: preset name (:data:`sdd.models.params.TINY_PRESETS`, where the plan checks names) -> factory of a
#: transformers config (random init).
TINY_BACKBONES: dict[str, Callable[[TinyBackboneParams], Any]] = {
    "tiny-wavlm": _tiny_wavlm,
    "tiny-wav2vec2": _tiny_wav2vec2,
}
if tuple(TINY_BACKBONES) != TINY_PRESETS:
    raise ImportError(f"TINY_BACKBONES {tuple(TINY_BACKBONES)} must name the presets {TINY_PRESETS}")


def build_backbone(name: str, tiny: TinyBackboneParams):
    """Instantiate a backbone (a ``transformers`` ``PreTrainedModel``).

    Args:
        name: a :data:`TINY_BACKBONES` preset (random init from ``tiny``), a local directory written by
            ``save_pretrained``, or a hub id (needs network access or a populated HF cache).
        tiny: sizes of the tiny presets (ignored for pretrained models).

    Raises:
        BackboneUnavailable: a hub id that is not cached and cannot be downloaded.
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
    if local.is_dir():
        log.info("backbone: from_pretrained(%s)", local)
        return AutoModel.from_pretrained(str(local), trust_remote_code=False)
    log.info("backbone: from_pretrained(%s) (hub id)", name)
    try:
        return AutoModel.from_pretrained(name, trust_remote_code=False)
    except OSError as exc:
        # HF's message talks about internet connections and offline mode in general; say what to do.
        why = "could not be downloaded (HF_HUB_OFFLINE=1, no network, or no such model)"
        detail = str(exc).splitlines()[0]
        raise BackboneUnavailable(f"{hub_hint(name, why)}. transformers: {detail}") from None


def backbone_from_config(config_dict: dict[str, Any]):
    """Rebuild a backbone's architecture (random weights) from a stored ``config.to_dict()``;
    a checkpoint's state dict then supplies the weights, so scoring never needs the hub."""
    from transformers import AutoConfig, AutoModel

    cfg = dict(config_dict)
    model_type = cfg.pop("model_type")
    return AutoModel.from_config(AutoConfig.for_model(model_type, **cfg))


def encoder_layers(backbone):
    """The backbone's transformer layers (an ``nn.ModuleList``); wav2vec2-family models only."""
    layers = getattr(getattr(backbone, "encoder", None), "layers", None)
    if layers is None:
        raise ValueError(
            f"backbone {type(backbone).__name__} has no encoder.layers; model.layers, model.partial and "
            "the layer merges need a wav2vec2-family model (wav2vec2, XLS-R, WavLM, HuBERT, data2vec-audio)"
        )
    return layers


def truncate_layers(backbone, k: int) -> None:
    """Keep the first ``k`` transformer layers and delete the others (in place): their parameters
    are gone and the forward pass runs k layers. ``config.num_hidden_layers`` becomes ``k``, so a
    checkpoint's stored config rebuilds the truncated model. Keeping all layers is a no-op.

    For pre-LN ("stable layer norm") models the encoder's final LayerNorm is kept and now follows
    layer k, as in a model with k layers.
    """
    layers = encoder_layers(backbone)
    if not 1 <= k <= len(layers):
        raise ValueError(f"model.layers: got {k}; the backbone has {len(layers)} layers")
    if k < len(layers):
        del layers[k:]
        backbone.config.num_hidden_layers = k


def set_finetune(backbone, p: ModelParams) -> None:
    """Set which backbone parameters train for ``p.finetune`` (``lora`` is applied afterwards by
    :func:`sdd.models.lora.apply_lora`, which freezes everything but the adapters itself).

    - ``full``: everything trains; with ``freeze_feature_encoder`` the CNN feature encoder does not.
    - ``frozen`` / ``lora``: nothing of the backbone trains.
    - ``partial``: only ``partial.layers`` transformer layers at the ``partial.side`` of the stack.

    Freezing the CNN goes through the model's ``freeze_feature_encoder()``, which also stops it from
    marking its input as requiring grad, so no backward pass runs through a frozen encoder.
    """
    if p.finetune != "full" or p.freeze_feature_encoder:
        freeze = getattr(backbone, "freeze_feature_encoder", None)
        if freeze is None:
            raise ValueError(f"backbone {type(backbone).__name__} has no CNN feature encoder to freeze")
        freeze()
    if p.finetune == "full":
        return
    backbone.requires_grad_(False)
    if p.finetune == "partial":
        layers = encoder_layers(backbone)
        n = p.partial.layers
        if n > len(layers):
            raise ValueError(f"model.partial.layers: got {n}; the backbone has {len(layers)} layers")
        chosen = layers[len(layers) - n :] if p.partial.side == "top" else layers[:n]
        chosen.requires_grad_(True)
