"""wav2vec2 for inference without ``transformers``: what ``sdd score`` runs on a checkpoint's backbone.

Importing transformers' ``Wav2Vec2Model`` costs about 3 s and 370 MB on 2 CPU cores (its modeling
stack pulls in ``torch._dynamo``, ``torch.distributed.tensor``, accelerate, scipy.optimize and
sympy), three times the whole scoring of a clip. :class:`Wav2Vec2Lite` is the eval-mode forward pass
of that model written with torch alone: the same submodules under the same names (a checkpoint's
state dict loads as it is, strictly), and the same operations in the same order (SDPA attention, as
transformers picks on CPU; the positional convolution's weight norm as torch's parametrization
computes it), so its outputs equal transformers' bit for bit
(``tests/models/test_wav2vec2_lite.py`` compares them for every config it accepts, merge and head).

It covers the configs :func:`unsupported` accepts: ``model_type`` wav2vec2 (the demo's backbone,
``tiny-wav2vec2``, XLS-R), post-LN or pre-LN ("stable layer norm"), a group- or layer-norm conv
encoder, GELU activations, no adapters. Anything else (WavLM, HuBERT, LoRA adapters through peft) is
loaded through transformers by :func:`sdd.models.detector.load_detector` (``lite=True``), which logs why.
Training never uses this module: no masking, no LayerDrop, no dropout, no gradient checkpointing.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LiteConfig", "Wav2Vec2Lite", "unsupported"]

#: Config values the lite model does not implement, as ``key -> the values it does``: a stored config
#: with any other value is loaded through transformers (:func:`unsupported` names the key).
_REQUIRED: dict[str, tuple[Any, ...]] = {
    "model_type": ("wav2vec2",),
    "feat_extract_norm": ("group", "layer"),
    "feat_extract_activation": ("gelu",),
    "hidden_act": ("gelu",),
    "add_adapter": (False, None),
    "adapter_attn_dim": (None,),
    # transformers picks SDPA on CPU when the config names no implementation; the lite model runs SDPA
    "_attn_implementation": (None, "sdpa"),
    "attn_implementation": (None, "sdpa"),
}


#: The keys :meth:`LiteConfig.from_dict` reads (every ``Wav2Vec2Config.to_dict()`` has them).
_FIELDS = (
    "conv_dim", "conv_kernel", "conv_stride", "conv_bias", "num_conv_pos_embeddings",
    "num_conv_pos_embedding_groups", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "layer_norm_eps", "do_stable_layer_norm",
)  # fmt: skip


def unsupported(config: dict[str, Any]) -> str | None:
    """Why the lite model cannot run the backbone of a stored ``config.to_dict()``, or None when it can."""
    missing = [k for k in _FIELDS if k not in config]
    if missing:
        return f"backbone_config has no {missing}"
    for key, allowed in _REQUIRED.items():
        value = config.get(key)
        if value not in allowed:
            return f"backbone_config.{key} is {value!r} (the lite wav2vec2 runs {list(allowed)})"
    return None


@dataclass
class LiteConfig:
    """The architecture fields of a wav2vec2 config that the forward pass reads; also the attributes
    :class:`sdd.models.detector.Detector` reads and sets on ``backbone.config`` (``hidden_size``,
    ``num_hidden_layers``, ``layerdrop``), which is why it is not frozen."""

    conv_dim: tuple[int, ...]
    conv_kernel: tuple[int, ...]
    conv_stride: tuple[int, ...]
    conv_bias: bool
    feat_extract_norm: str
    num_conv_pos_embeddings: int
    num_conv_pos_embedding_groups: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    layer_norm_eps: float
    do_stable_layer_norm: bool
    masked_spec_embed: bool
    layerdrop: float = 0.0

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> LiteConfig:
        """From a stored ``config.to_dict()`` (check :func:`unsupported` first)."""
        reason = unsupported(config)
        if reason is not None:
            raise ValueError(reason)
        return cls(
            conv_dim=tuple(config["conv_dim"]),
            conv_kernel=tuple(config["conv_kernel"]),
            conv_stride=tuple(config["conv_stride"]),
            conv_bias=bool(config["conv_bias"]),
            feat_extract_norm=config["feat_extract_norm"],
            num_conv_pos_embeddings=int(config["num_conv_pos_embeddings"]),
            num_conv_pos_embedding_groups=int(config["num_conv_pos_embedding_groups"]),
            hidden_size=int(config["hidden_size"]),
            num_hidden_layers=int(config["num_hidden_layers"]),
            num_attention_heads=int(config["num_attention_heads"]),
            intermediate_size=int(config["intermediate_size"]),
            layer_norm_eps=float(config["layer_norm_eps"]),
            do_stable_layer_norm=bool(config["do_stable_layer_norm"]),
            # transformers creates this parameter (unused at inference) when masking is configured
            masked_spec_embed=max(config.get("mask_time_prob", 0), config.get("mask_feature_prob", 0)) > 0,
            layerdrop=float(config.get("layerdrop", 0.0)),
        )


class _ConvLayer(nn.Module):
    """One conv layer of the feature encoder: conv, then the layer's norm (``group``: GroupNorm with
    one group per channel, first layer only; ``layer``: LayerNorm over channels), then GELU."""

    def __init__(self, c: LiteConfig, i: int, norm: str | None) -> None:
        super().__init__()
        in_dim = c.conv_dim[i - 1] if i > 0 else 1
        out_dim = c.conv_dim[i]
        self.conv = nn.Conv1d(in_dim, out_dim, c.conv_kernel[i], stride=c.conv_stride[i], bias=c.conv_bias)
        self.norm = norm
        if norm == "group":
            self.layer_norm = nn.GroupNorm(num_groups=out_dim, num_channels=out_dim, affine=True)
        elif norm == "layer":
            self.layer_norm = nn.LayerNorm(out_dim, elementwise_affine=True)  # default eps, as transformers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm == "group":
            x = self.layer_norm(x)
        elif self.norm == "layer":
            x = self.layer_norm(x.transpose(-2, -1)).transpose(-2, -1)
        return F.gelu(x)


class _FeatureEncoder(nn.Module):
    def __init__(self, c: LiteConfig) -> None:
        super().__init__()
        if c.feat_extract_norm == "group":
            norms = ["group"] + [None] * (len(c.conv_dim) - 1)
        else:
            norms = ["layer"] * len(c.conv_dim)
        self.conv_layers = nn.ModuleList(_ConvLayer(c, i, n) for i, n in enumerate(norms))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = wave[:, None]
        for layer in self.conv_layers:
            x = layer(x)
        return x  # (B, C, F)


class _FeatureProjection(nn.Module):
    def __init__(self, c: LiteConfig) -> None:
        super().__init__()
        self.layer_norm = nn.LayerNorm(c.conv_dim[-1], eps=c.layer_norm_eps)
        self.projection = nn.Linear(c.conv_dim[-1], c.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.layer_norm(x))


class _WeightNorm(nn.Module):
    """The two tensors of torch's weight-norm parametrization, under its state-dict names
    (``parametrizations.weight.original0`` = g, ``original1`` = v)."""

    def __init__(self, shape_g: tuple[int, ...], shape_v: tuple[int, ...]) -> None:
        super().__init__()
        self.original0 = nn.Parameter(torch.empty(shape_g))
        self.original1 = nn.Parameter(torch.empty(shape_v))


class _PositionalConv(nn.Module):
    """Grouped conv with weight norm over the kernel dimension, the last frame dropped for an even
    kernel ("same" padding), GELU.

    The weight is ``torch._weight_norm(v, g, 2)``, what ``nn.utils.parametrizations.weight_norm``
    computes on each call; registering that parametrization itself is avoided because it computes a
    norm on the meta device, which imports ``torch._dynamo`` (0.8 s).
    """

    def __init__(self, c: LiteConfig) -> None:
        super().__init__()
        h, k, groups = c.hidden_size, c.num_conv_pos_embeddings, c.num_conv_pos_embedding_groups
        self.conv = nn.Module()
        self.conv.bias = nn.Parameter(torch.empty(h))
        self.conv.parametrizations = nn.ModuleDict({"weight": _WeightNorm((1, 1, k), (h, h // groups, k))})
        self.padding, self.groups = k // 2, groups
        self.num_pad_remove = 1 if k % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = self.conv.parametrizations.weight
        weight = torch._weight_norm(norm.original1, norm.original0, 2)
        x = F.conv1d(x.transpose(1, 2), weight, self.conv.bias, 1, self.padding, 1, self.groups)
        if self.num_pad_remove > 0:
            x = x[:, :, : -self.num_pad_remove]
        return F.gelu(x).transpose(1, 2)


class _Attention(nn.Module):
    def __init__(self, c: LiteConfig) -> None:
        super().__init__()
        h = c.hidden_size
        if h % c.num_attention_heads:
            raise ValueError(f"hidden_size {h}: not divisible by num_attention_heads {c.num_attention_heads}")
        self.head_dim = h // c.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.k_proj = nn.Linear(h, h)
        self.v_proj = nn.Linear(h, h)
        self.q_proj = nn.Linear(h, h)
        self.out_proj = nn.Linear(h, h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input_shape = x.shape[:-1]
        shape = (*input_shape, -1, self.head_dim)
        q = self.q_proj(x).view(shape).transpose(1, 2)
        k = self.k_proj(x).view(shape).transpose(1, 2)
        v = self.v_proj(x).view(shape).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, None, 0.0, is_causal=False, scale=self.scaling)
        out = out.reshape(out.shape[0], -1, q.shape[2], v.shape[-1]).transpose(1, 2).contiguous()
        return self.out_proj(out.reshape(*input_shape, -1).contiguous())


class _FeedForward(nn.Module):
    def __init__(self, c: LiteConfig) -> None:
        super().__init__()
        self.intermediate_dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.output_dense = nn.Linear(c.intermediate_size, c.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_dense(F.gelu(self.intermediate_dense(x)))


class _EncoderLayer(nn.Module):
    """A transformer layer, post-LN (wav2vec2 base) or pre-LN (``stable``: large models, XLS-R)."""

    def __init__(self, c: LiteConfig) -> None:
        super().__init__()
        self.stable = c.do_stable_layer_norm
        self.attention = _Attention(c)
        self.layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.feed_forward = _FeedForward(c)
        self.final_layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stable:
            x = x + self.attention(self.layer_norm(x))
            return x + self.feed_forward(self.final_layer_norm(x))
        x = self.layer_norm(x + self.attention(x))
        return self.final_layer_norm(x + self.feed_forward(x))


class _Encoder(nn.Module):
    def __init__(self, c: LiteConfig) -> None:
        super().__init__()
        self.stable = c.do_stable_layer_norm
        self.pos_conv_embed = _PositionalConv(c)
        self.layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.layers = nn.ModuleList(_EncoderLayer(c) for _ in range(c.num_hidden_layers))

    def forward(self, x: torch.Tensor, output_hidden_states: bool) -> tuple[torch.Tensor, tuple | None]:
        x = x + self.pos_conv_embed(x)
        if not self.stable:
            x = self.layer_norm(x)
        states = [x] if output_hidden_states else None
        for layer in self.layers:
            x = layer(x)
            if states is not None:
                states.append(x)
        if self.stable:
            x = self.layer_norm(x)  # after the last hidden state, as transformers records them
        return x, tuple(states) if states is not None else None


class Wav2Vec2Lite(nn.Module):
    """The eval-mode forward pass of transformers' ``Wav2Vec2Model`` (module docstring).

    ``forward(wave (B, T), output_hidden_states=False)`` returns an object with ``last_hidden_state``
    (B, F, H) and ``hidden_states`` (None, or L + 1 tensors: the first layer's input, then each layer's
    output; for a pre-LN model the last is before the encoder's final LayerNorm), as transformers'
    output does for the merges (:mod:`sdd.models.merges`).
    """

    def __init__(self, config: LiteConfig) -> None:
        super().__init__()
        self.config = config
        self.feature_extractor = _FeatureEncoder(config)
        self.feature_projection = _FeatureProjection(config)
        if config.masked_spec_embed:
            self.masked_spec_embed = nn.Parameter(torch.empty(config.hidden_size))
        self.encoder = _Encoder(config)

    def freeze_feature_encoder(self) -> None:
        """As transformers' method (:func:`sdd.models.backbone.set_finetune` calls it)."""
        self.feature_extractor.requires_grad_(False)

    def forward(self, wave: torch.Tensor, output_hidden_states: bool = False) -> SimpleNamespace:
        if self.training:
            raise ValueError(
                "Wav2Vec2Lite runs inference only (no masking, LayerDrop or dropout): call "
                ".eval() first, and train through transformers' model (sdd.models.backbone)"
            )
        x = self.feature_extractor(wave).transpose(1, 2)
        x = self.feature_projection(x)
        last, states = self.encoder(x, output_hidden_states)
        return SimpleNamespace(last_hidden_state=last, hidden_states=states)
