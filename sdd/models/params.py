"""The ``model`` section of params.yaml: layer merge, head, truncation, fine-tuning mode, LoRA, AttM.

Plain frozen dataclasses validated by :func:`sdd.core.configbase.build`; this module imports only
:mod:`sdd.core.configbase` and :mod:`sdd.core.paths`, so the model code and the plan (:mod:`sdd.plan`)
both build on it. Checks that need the backbone's layer count (``layers``, ``layer``,
``partial.layers``) are in :func:`check_layer_counts`, which the plan runs for the ``tiny-*`` presets
and the model runs for every backbone when it is built. The backbone names the plan accepts are
checked here too (:data:`TINY_PRESETS`, :func:`check_backbone_name`): the presets' configs and the
model building are :mod:`sdd.models.backbone`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sdd.core.configbase import ConfigError
from sdd.core.paths import resolve

__all__ = [
    "PRETRAINED",
    "TINY_PRESETS",
    "HEADS",
    "HEADS_NOT_YET",
    "HEADS_WITH_BATCHNORM",
    "MERGES",
    "AttmParams",
    "LoraParams",
    "ModelParams",
    "PartialParams",
    "TinyBackboneParams",
    "check_backbone_name",
    "check_layer_counts",
    "hub_hint",
]

#: The ``backbone`` value naming the pretrain stage's output (``models/backbone``); defined here,
#: below the pretrain package, because the backbone resolvers and the plan both need the name.
PRETRAINED = "pretrained"

#: The randomly initialised backbone presets, sized by :class:`TinyBackboneParams` (their configs are
#: :data:`sdd.models.backbone.TINY_BACKBONES`, keyed by these names).
TINY_PRESETS = ("tiny-wavlm", "tiny-wav2vec2")

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")

MERGES = ("last", "index", "weighted", "attm")
HEADS = ("linear", "lstm", "aasist")
HEADS_NOT_YET: tuple[str, ...] = ()  # named heads refused as "not available yet" (none now)
# Heads with cross-sample layers (BatchNorm): per-path forward passes would give other gradients than
# one joint forward over both paths, so they need the joint dual-path step (train.dual_path.forward).
HEADS_WITH_BATCHNORM = ("aasist",)


@dataclass(frozen=True)
class TinyBackboneParams:
    """Size of the randomly initialised ``tiny-*`` backbones (a narrow conv encoder is what makes
    them trainable in minutes on 2 CPU cores; the default ``conv_dim`` of 512 is far too slow)."""

    conv_channels: int = 32
    hidden_size: int = 64
    num_layers: int = 4
    num_heads: int = 2
    intermediate_size: int = 64

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
    """LoRA hyper-parameters (Wang et al. 2023, arXiv 2306.05617), mapped one to one onto
    ``peft.LoraConfig`` (``r``, ``lora_alpha``, ``lora_dropout``, ``target_modules``) by
    :func:`sdd.models.lora.apply_lora`. Every transformer layer is adapted. Module names are checked
    by peft when the adapters are injected; its error reaches the user unchanged."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ConfigError(f"model.lora.r: got {self.r}; expected a positive integer")
        if self.alpha <= 0:
            raise ConfigError(f"model.lora.alpha: got {self.alpha}; expected a positive integer")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.lora.dropout: got {self.dropout}; expected 0 <= dropout < 1")
        if not self.target_modules:
            raise ConfigError(
                "model.lora.target_modules: got an empty list; expected module names, e.g. [q_proj]"
            )


@dataclass(frozen=True)
class PartialParams:
    """``finetune: partial``: train ``layers`` transformer layers at the ``side`` of the (kept) stack;
    the rest of the backbone, CNN feature encoder included, stays frozen."""

    layers: int = 2
    side: Literal["top", "bottom"] = "top"

    def __post_init__(self) -> None:
        if self.layers < 1:
            raise ConfigError(f"model.partial.layers: got {self.layers}; expected a positive integer")


@dataclass(frozen=True)
class AttmParams:
    """Options of the AttM merge (Pan et al., Interspeech 2024; see :class:`sdd.models.merges.AttM`).

    ``middle_linear``: the released code builds its projection as ``Sequential(Linear(LH, LH/4),
    SiLU(Linear(LH/4, LH/4)), Linear(LH/4, H))``. The middle Linear is passed to ``nn.SiLU`` as its
    ``inplace`` argument, so it never runs: the released model computes Linear -> SiLU -> Linear
    (``false``, our default, the formula of methods.md §4). ``true`` builds the evidently intended
    middle layer: Linear -> SiLU -> Linear(LH/4, LH/4) -> SiLU -> Linear.
    """

    middle_linear: bool = False


@dataclass(frozen=True)
class ModelParams:
    """Backbone use (truncation, fine-tuning mode), layer merge and classification head."""

    # How the backbone's layers become one (B, F, H) sequence: `last` = its output; `index` = the
    # hidden state `layer`; `weighted` = LinM (softmax-weighted sum of the transformer layers);
    # `attm` = attentive merging (Pan et al. 2024).
    merge: Literal["last", "index", "weighted", "attm"] = "last"
    # For merge `index`: 0 = the transformer's input (after the positional conv), k = output of layer
    # k; negative values count from the end (-1 = the last layer, before any final LayerNorm).
    layer: int = -1
    head: str = "linear"  # linear | lstm (AttM's back-end) | aasist (SSL-AASIST)
    layers: int | None = None  # keep only the first k transformer layers (AttM's "partial model")
    # full | frozen (head and merge only) | partial (see `partial`) | lora (selected by the `lora`
    # toggle). The merge and head always train fully.
    finetune: Literal["full", "frozen", "partial", "lora"] = "full"
    partial: PartialParams = field(default_factory=PartialParams)
    freeze_feature_encoder: bool = False  # the CNN feature encoder alone (implied by frozen/partial/lora)
    # Zero-mean, unit-variance per utterance (as Wav2Vec2FeatureExtractor(do_normalize=True)).
    normalize_input: bool = True
    attm: AttmParams = field(default_factory=AttmParams)
    tiny: TinyBackboneParams = field(default_factory=TinyBackboneParams)
    lora: LoraParams = field(default_factory=LoraParams)

    def __post_init__(self) -> None:
        if self.head in HEADS_NOT_YET:
            available = [h for h in HEADS if h not in HEADS_NOT_YET]
            raise ConfigError(
                f"model.head: {self.head!r} is not available yet (its issue has not landed); "
                f"available: {available}"
            )
        if self.head not in HEADS:
            raise ConfigError(f"model.head: got {self.head!r}; expected one of {list(HEADS)}")
        if self.layers is not None and self.layers < 1:
            raise ConfigError(f"model.layers: got {self.layers}; expected null (all) or a positive integer")


def check_layer_counts(p: ModelParams, num_layers: int) -> None:
    """Check the layer-count-dependent fields against a backbone with ``num_layers`` transformer
    layers (before truncation); raises :class:`ConfigError` naming the key."""
    if p.layers is not None and p.layers > num_layers:
        raise ConfigError(f"model.layers: got {p.layers}; the backbone has only {num_layers} layers")
    kept = p.layers or num_layers
    if p.merge == "index" and not -(kept + 1) <= p.layer <= kept:
        raise ConfigError(
            f"model.layer: got {p.layer}; expected -{kept + 1}..{kept} (0 = the transformer's input, "
            f"k = output of layer k of the {kept} kept layers)"
        )
    if p.merge == "attm" and kept < 2:
        raise ConfigError(
            f"model.merge: 'attm' needs at least 2 transformer layers (its bottleneck has L/2 units); "
            f"got {kept}"
        )
    if p.finetune == "partial" and p.partial.layers > kept:
        raise ConfigError(
            f"model.partial.layers: got {p.partial.layers}; the backbone keeps only {kept} layers"
        )


def hub_hint(name: str, why: str) -> str:
    """What to do when the hub backbone ``name`` is not available locally (``why`` says why not)."""
    return (
        f"backbone {name!r} is not in the local Hugging Face cache and {why}. Download it once with "
        f"`HF_HUB_OFFLINE=0 .venv/bin/hf download {name}`, or use a local directory written by "
        "save_pretrained (-S backbone=path/to/dir)"
    )


def check_backbone_name(name: str) -> None:
    """Cheap validation: a tiny preset, an existing local directory, or a valid hub id that, when the
    hub is offline (``HF_HUB_OFFLINE=1``), is already in the local Hugging Face cache (a cache lookup,
    never a download)."""
    if name in TINY_PRESETS:
        return
    if resolve(name).is_dir():
        return
    if name.startswith(("tiny-", ".", "/", "~")) or not _HUB_ID.match(name):
        raise ValueError(
            f"got {name!r}; expected one of {sorted(TINY_PRESETS)}, an existing local model directory, "
            "or a Hugging Face model id like 'microsoft/wavlm-base-plus'"
        )
    from huggingface_hub import constants, try_to_load_from_cache

    if constants.is_offline_mode() and not isinstance(try_to_load_from_cache(name, "config.json"), str):
        raise ValueError(hub_hint(name, "HF_HUB_OFFLINE=1 (the Makefile sets it) forbids downloads"))
