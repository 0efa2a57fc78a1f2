"""The ``pretrain`` section of params.yaml (torch-free, like every params module).

The pretrain stage runs only when the ``backbone`` toggle is ``pretrained``
(:data:`sdd.models.source.PRETRAINED`); any other backbone (a tiny preset, a hub id, a local
``save_pretrained`` folder) skips it. See :mod:`sdd.pretrain.wav2vec2` for the objective.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdd.configbase import ConfigError

__all__ = ["PRETRAINED", "PRETRAIN_INITS", "PretrainParams"]

#: The ``backbone`` value naming the pretrain stage's output (``models/backbone``).
PRETRAINED = "pretrained"

#: Tiny presets pretraining can start from (random init from ``model.tiny``). wav2vec 2.0's objective
#: lives in ``transformers``' ``Wav2Vec2ForPreTraining``, whose encoder is a ``Wav2Vec2Model``.
PRETRAIN_INITS = ("tiny-wav2vec2",)


@dataclass(frozen=True)
class PretrainParams:
    """wav2vec 2.0 pretraining (contrastive + diversity loss) on the training corpus's train audio.

    Attributes:
        init: where pretraining starts: ``tiny-wav2vec2`` (random init, sizes from ``model.tiny``) or a
            wav2vec2 checkpoint with its quantizer (a hub id such as ``facebook/wav2vec2-base`` or a
            local folder): continued pretraining on in-domain audio.
        seed: seeds the initialisation, the crops, the masks and the negatives.
        steps, batch_size, crop_samples: optimizer steps, crops per step, samples per crop.
        lr, warmup_steps, weight_decay: AdamW with linear warm-up then linear decay to 0.
        mask_time_prob, mask_time_length: span masking of the CNN features (wav2vec 2.0: 0.65, 10).
        num_negatives: distractors per masked frame, drawn from the same crop's masked frames.
        codevector_groups, codevectors_per_group, codevector_dim, proj_codevector_dim: the Gumbel
            product quantizer (wav2vec 2.0 Base: 2 groups of 320, 256, 256) and the projection
            both contrastive terms live in.
        diversity_loss_weight: alpha of L = L_m + alpha L_d (wav2vec 2.0: 0.1).
        gumbel_temperature: (start, end): decayed geometrically over the steps (paper: 2 -> 0.5).
        logits_temperature: kappa of the contrastive softmax (paper: 0.1).
        threads: torch CPU threads.
    """

    init: str = "tiny-wav2vec2"
    seed: int = 0
    steps: int = 300
    batch_size: int = 8
    crop_samples: int = 32000
    lr: float = 0.002
    warmup_steps: int = 60
    weight_decay: float = 0.01
    mask_time_prob: float = 0.5
    mask_time_length: int = 5
    num_negatives: int = 20
    codevector_groups: int = 2
    codevectors_per_group: int = 32
    codevector_dim: int = 64
    proj_codevector_dim: int = 64
    diversity_loss_weight: float = 0.1
    gumbel_temperature: tuple[float, ...] = (2.0, 0.5)
    logits_temperature: float = 0.1
    threads: int = 2

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "batch_size",
            "crop_samples",
            "mask_time_length",
            "num_negatives",
            "codevector_groups",
            "codevectors_per_group",
            "codevector_dim",
            "proj_codevector_dim",
            "threads",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"pretrain.{name}: got {getattr(self, name)}; expected a positive integer")
        if self.crop_samples < 4000:
            raise ConfigError(
                f"pretrain.crop_samples: got {self.crop_samples}; expected at least 4000 "
                "(a quarter second: the masks need frames)"
            )
        if not 0 < self.mask_time_prob < 1:
            raise ConfigError(f"pretrain.mask_time_prob: got {self.mask_time_prob}; expected in (0, 1)")
        for name in ("lr", "logits_temperature"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"pretrain.{name}: got {getattr(self, name)}; expected > 0")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.diversity_loss_weight < 0:
            raise ConfigError("pretrain.warmup_steps, weight_decay and diversity_loss_weight must be >= 0")
        if self.codevector_dim % self.codevector_groups:
            raise ConfigError(
                f"pretrain.codevector_dim: got {self.codevector_dim}; expected a multiple of "
                f"codevector_groups ({self.codevector_groups})"
            )
        t = self.gumbel_temperature
        if len(t) != 2 or not t[0] >= t[1] > 0:
            raise ConfigError(
                f"pretrain.gumbel_temperature: got {list(t)}; expected [start, end], start >= end > 0"
            )
