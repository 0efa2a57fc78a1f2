"""The published architectures the paper presets name, and their parameter counts computed from the config.

:data:`PUBLISHED_ARCHITECTURES` holds the architecture fields of the two hub backbones the presets use,
written from their published ``config.json`` files (the models' own pages on the Hugging Face hub),
so a model of their exact size and training-mode behaviour is built with random weights and no
download (:func:`architecture_config`):

- ``facebook/wav2vec2-xls-r-300m``: https://huggingface.co/facebook/wav2vec2-xls-r-300m/blob/main/config.json
  (XLS-R, Babu et al. 2021, arXiv 2111.09296: 24 pre-LN layers of width 1024, 16 heads, FFN 4096, a
  7-layer 512-channel conv encoder with biases and LayerNorm, a 128-tap positional conv in 16 groups;
  LayerDrop 0.1, SpecAugment time masks p 0.075 of length 10);
- ``microsoft/wavlm-large``: https://huggingface.co/microsoft/wavlm-large/blob/main/config.json
  (WavLM Large, Chen et al. 2022, arXiv 2110.13900: the same sizes, conv encoder without biases, gated
  relative position bias of 320 buckets up to distance 800; LayerDrop 0.1, time masks p 0.05).

Only the fields that set the architecture or its training-mode randomness are written; every other
field keeps transformers' default. :func:`backbone_parameters`, :func:`head_parameters`,
:func:`merge_parameters` and :func:`lora_parameters` count parameters with closed formulas from those
fields (never from a built model), for the rehearsal's check that a built model trains exactly what
its config says (:mod:`sdd.train.rehearsal`); ``tests/train/test_architectures.py`` checks the
formulas against transformers' models built on the meta device.
"""

from __future__ import annotations

from typing import Any

from sdd.models.aasist import SSLAasistConfig
from sdd.models.heads import LstmHead

__all__ = [
    "PUBLISHED_ARCHITECTURES",
    "architecture_config",
    "backbone_parameters",
    "feature_encoder_parameters",
    "head_parameters",
    "lora_parameters",
    "merge_parameters",
]

_COMMON: dict[str, Any] = dict(
    conv_dim=(512,) * 7,
    conv_stride=(5, 2, 2, 2, 2, 2, 2),
    conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    feat_extract_norm="layer",
    do_stable_layer_norm=True,
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    intermediate_size=4096,
    num_conv_pos_embeddings=128,
    num_conv_pos_embedding_groups=16,
    hidden_act="gelu",
    hidden_dropout=0.1,
    attention_dropout=0.1,
    activation_dropout=0.0,
    feat_proj_dropout=0.1,
    layerdrop=0.1,
    apply_spec_augment=True,
    mask_time_length=10,
    mask_time_min_masks=2,
    mask_feature_prob=0.0,
    layer_norm_eps=1e-5,
)

#: hub id -> (transformers config class, the architecture fields of its published config.json).
PUBLISHED_ARCHITECTURES: dict[str, tuple[str, dict[str, Any]]] = {
    "facebook/wav2vec2-xls-r-300m": (
        "Wav2Vec2Config",
        {**_COMMON, "conv_bias": True, "mask_time_prob": 0.075},
    ),
    "microsoft/wavlm-large": (
        "WavLMConfig",
        {
            **_COMMON,
            "conv_bias": False,
            "mask_time_prob": 0.05,
            "num_buckets": 320,
            "max_bucket_distance": 800,
        },
    ),
}


def _spec(repo_id: str) -> tuple[str, dict[str, Any]]:
    if repo_id not in PUBLISHED_ARCHITECTURES:
        raise ValueError(
            f"backbone {repo_id!r}: no published architecture here; expected one of "
            f"{sorted(PUBLISHED_ARCHITECTURES)}"
        )
    return PUBLISHED_ARCHITECTURES[repo_id]


def architecture_config(repo_id: str, **overrides: Any):
    """The transformers config of ``repo_id``'s published architecture (``overrides`` replace fields:
    the rehearsal's fast test shrinks the sizes through them)."""
    import transformers

    cls, fields = _spec(repo_id)
    return getattr(transformers, cls)(**{**fields, **overrides})


def feature_encoder_parameters(c: dict[str, Any]) -> int:
    """The CNN feature encoder (``feature_extractor``): conv weights, biases when ``conv_bias``, and the
    norm after each conv (LayerNorm: every layer; GroupNorm: the first only)."""
    total, c_in = 0, 1
    for i, (c_out, k) in enumerate(zip(c["conv_dim"], c["conv_kernel"], strict=True)):
        total += c_in * c_out * k + (c_out if c["conv_bias"] else 0)
        if c["feat_extract_norm"] == "layer" or i == 0:
            total += 2 * c_out
        c_in = c_out
    return total


def backbone_parameters(repo_id: str, layers: int | None = None, **overrides: Any) -> dict[str, int]:
    """Parameters of ``repo_id``'s backbone kept to its first ``layers`` transformer layers (None: all),
    by part: ``feature_encoder`` (the CNN), ``rest`` (everything else) and ``total``."""
    cls, fields = _spec(repo_id)
    c = {**fields, **overrides}
    h, f, heads = c["hidden_size"], c["intermediate_size"], c["num_attention_heads"]
    n = c["num_hidden_layers"] if layers is None else layers
    d = c["conv_dim"][-1]
    projection = 2 * d + d * h + h  # LayerNorm(d) + Linear(d -> h)
    masked = h if c["mask_time_prob"] > 0 or c["mask_feature_prob"] > 0 else 0  # masked_spec_embed
    k = c["num_conv_pos_embeddings"]
    pos_conv = h * (h // c["num_conv_pos_embedding_groups"]) * k + k + h  # weight_v, weight_g (dim 2), bias
    encoder_norm = 2 * h
    layer = 4 * (h * h + h) + 2 * h + (h * f + f) + (f * h + h) + 2 * h  # attention, LN, FFN, final LN
    extra = 0
    if cls == "WavLMConfig":  # gated relative position bias: per layer; the bucket embedding in layer 0
        layer += heads + (h // heads) * 8 + 8  # gru_rel_pos_const, gru_rel_pos_linear
        extra = c["num_buckets"] * heads  # rel_attn_embed of the first layer
    cnn = feature_encoder_parameters(c)
    rest = projection + masked + pos_conv + encoder_norm + n * layer + extra
    return {"feature_encoder": cnn, "rest": rest, "total": cnn + rest}


def _linear(i: int, o: int) -> int:
    return i * o + o


def _aasist_head(h: int, cfg: SSLAasistConfig) -> int:
    """The SSL-AASIST head (:class:`sdd.models.aasist.SSLAasistBackend`) from its config."""
    channels = cfg.blocks[-1][1]
    d0, d1 = cfg.gat_dims
    total = _linear(h, cfg.proj_dim) + 2 + 2 * channels  # LL, first_bn (1 channel), first_bn1
    for i, (a, b) in enumerate(cfg.blocks):  # residual blocks: bn1 (all but the first), conv1, bn2, conv2
        downsample = a * b * 3 + b if a != b else 0
        total += (0 if i == 0 else 2 * a) + a * b * 6 + b + 2 * b + b * b * 6 + b + downsample
    total += _linear(channels, 128) + 2 * 128 + _linear(128, channels)  # attention: 1x1 conv, BN, 1x1 conv
    total += (cfg.proj_dim // 3) * channels + 2 * d0  # pos_S, master1, master2

    def gat(i: int, o: int) -> int:
        return 3 * _linear(i, o) + o + 2 * o

    def hs_gal(i: int, o: int) -> int:
        return 2 * _linear(i, i) + 2 * _linear(i, o) + 4 * o + 4 * _linear(i, o) + 2 * o

    total += 2 * gat(channels, d0) + 2 * hs_gal(d0, d1) + 2 * hs_gal(d1, d1)
    total += 2 * _linear(d0, 1) + 4 * _linear(d1, 1) + _linear(5 * d1, 2)  # graph pools, output layer
    return total


def _lstm_head(h: int) -> int:
    s = LstmHead.LSTM_SIZE
    return 4 * s * (h + s) + 2 * 4 * s + _linear(s, 2)


#: model.head -> its parameter count for input width H (the formulas of the modules in sdd.models.heads).
_HEAD_COUNTS = {
    "linear": lambda h: _linear(h, 2),
    "lstm": _lstm_head,
    "aasist": lambda h: _aasist_head(h, SSLAasistConfig()),
}


def head_parameters(head: str, hidden_size: int) -> int:
    """Parameters of the head ``head`` (``model.head``) on hidden states of width ``hidden_size``."""
    return _HEAD_COUNTS[head](hidden_size)


def merge_parameters(merge: str, num_layers: int, hidden_size: int, middle_linear: bool = False) -> int:
    """Parameters of the layer merge ``merge`` (:mod:`sdd.models.merges`) over ``num_layers`` layers."""
    if merge in ("last", "index"):
        return 0
    if merge == "weighted":
        return num_layers
    if merge == "attm":
        width = num_layers * hidden_size // 4
        return (
            hidden_size
            + 2 * num_layers * (num_layers // 2)
            + _linear(num_layers * hidden_size, width)
            + (_linear(width, width) if middle_linear else 0)
            + _linear(width, hidden_size)
        )
    raise ValueError(f"model.merge: got {merge!r}; expected last, index, weighted or attm")


def lora_parameters(
    repo_id: str, r: int, targets: tuple[str, ...], layers: int | None = None, **overrides: Any
) -> int:
    """LoRA adapters of rank ``r`` on ``targets`` of every kept layer: ``r * (in + out)`` per projection
    (the attention's q/k/v/out projections are h -> h)."""
    _, fields = _spec(repo_id)
    c = {**fields, **overrides}
    unknown = set(targets) - {"q_proj", "k_proj", "v_proj", "out_proj"}
    if unknown:
        raise ValueError(f"model.lora.target_modules: no closed formula for {sorted(unknown)}")
    n = c["num_hidden_layers"] if layers is None else layers
    return n * len(targets) * r * 2 * c["hidden_size"]
