"""The ``pretrain`` section of params.yaml (torch-free, like every params module).

The pretrain stage runs only when the ``backbone`` toggle is ``pretrained``
(:data:`sdd.models.params.PRETRAINED`); any other backbone (a tiny preset, a hub id, a local
``save_pretrained`` folder) skips it. ``pretrain.objective`` picks the self-supervised objective:
``wav2vec2`` (wav2vec 2.0's, :mod:`sdd.pretrain.wav2vec2`, the default) or ``hubert`` (HuBERT's first
iteration, :mod:`sdd.pretrain.hubert`). The crops, seed, init and threads are shared; each objective
has its own subsection (``pretrain.wav2vec2``, ``pretrain.hubert``) with its own step count and
optimizer, so switching the objective is one setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sdd.core.configbase import ConfigError
from sdd.models.params import TinyBackboneParams

__all__ = [
    "OBJECTIVES",
    "PRETRAIN_INITS",
    "HubertObjective",
    "PretrainParams",
    "PretrainPlan",
    "Wav2Vec2Objective",
]

#: Tiny presets pretraining can start from (random init from ``model.tiny``). Both objectives train a
#: ``Wav2Vec2Model`` (wav2vec 2.0's objective lives in ``transformers``' ``Wav2Vec2ForPreTraining``,
#: whose encoder is one), so the saved backbone is the same kind whatever the objective.
PRETRAIN_INITS = ("tiny-wav2vec2",)

#: ``pretrain.objective`` values: the module of each is ``sdd.pretrain.<objective>``.
OBJECTIVES = ("wav2vec2", "hubert")


def _positive(where: str, obj: object, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(obj, name) < 1:
            raise ConfigError(f"{where}.{name}: got {getattr(obj, name)}; expected a positive integer")


@dataclass(frozen=True)
class Wav2Vec2Objective:
    """wav2vec 2.0's objective (contrastive + diversity loss, ``transformers.Wav2Vec2ForPreTraining``).

    Attributes:
        steps: optimizer steps.
        lr, warmup_steps, weight_decay: AdamW with linear warm-up then linear decay to 0.
        mask_time_prob, mask_time_length: span masking of the CNN features (wav2vec 2.0: 0.65, 10).
        num_negatives: distractors per masked frame, drawn from the same crop's masked frames.
        codevector_groups, codevectors_per_group, codevector_dim, proj_codevector_dim: the Gumbel
            product quantizer (wav2vec 2.0 Base: 2 groups of 320, 256, 256) and the projection
            both contrastive terms live in.
        diversity_loss_weight: alpha of L = L_m + alpha L_d (wav2vec 2.0: 0.1).
        gumbel_temperature: (start, end): decayed geometrically over the steps (paper: 2 -> 0.5).
        logits_temperature: kappa of the contrastive softmax (paper: 0.1).
    """

    steps: int = 300
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

    def __post_init__(self) -> None:
        where = "pretrain.wav2vec2"
        _positive(
            where,
            self,
            (
                "steps",
                "mask_time_length",
                "num_negatives",
                "codevector_groups",
                "codevectors_per_group",
                "codevector_dim",
                "proj_codevector_dim",
            ),
        )
        if not 0 < self.mask_time_prob < 1:
            raise ConfigError(f"{where}.mask_time_prob: got {self.mask_time_prob}; expected in (0, 1)")
        for name in ("lr", "logits_temperature"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{where}.{name}: got {getattr(self, name)}; expected > 0")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.diversity_loss_weight < 0:
            raise ConfigError(f"{where}.warmup_steps, weight_decay and diversity_loss_weight must be >= 0")
        if self.codevector_dim % self.codevector_groups:
            raise ConfigError(
                f"{where}.codevector_dim: got {self.codevector_dim}; expected a multiple of "
                f"codevector_groups ({self.codevector_groups})"
            )
        t = self.gumbel_temperature
        if len(t) != 2 or not t[0] >= t[1] > 0:
            raise ConfigError(
                f"{where}.gumbel_temperature: got {list(t)}; expected [start, end], start >= end > 0"
            )


@dataclass(frozen=True)
class HubertObjective:
    """HuBERT's first iteration (Hsu et al., IEEE/ACM TASLP 2021): masked prediction of k-means
    clusters of MFCC frames, loss on masked frames only (see :mod:`sdd.pretrain.hubert`).

    Attributes:
        steps: optimizer steps.
        lr: Adam's learning rate (constant).
        clusters: k of the k-means targets (HuBERT's first iteration: 100).
        n_mfcc: cepstra per frame (Kaldi MFCC, 23 mel bins, no energy; HuBERT: 13).
        deltas: 0 = MFCCs only, 1 = + deltas, 2 = + delta-deltas (HuBERT: 2, 39 dimensions).
        frame_length_ms, frame_shift_ms: the MFCC window and hop; at 16 kHz 25 ms and 20 ms give
            exactly the CNN's frames (receptive field 400 samples, stride 320), checked at run time.
        kmeans_max_frames: at most this many train frames (drawn at random, seeded) fit the k-means.
        kmeans_batch_size, kmeans_n_init, kmeans_max_iter: scikit-learn ``MiniBatchKMeans``.
        mask_time_prob, mask_time_length, mask_min_spans: span masking, as ``transformers``'
            ``_compute_mask_indices`` draws it (``mask_min_spans`` is its ``min_masks``).
    """

    steps: int = 950
    lr: float = 0.001
    clusters: int = 100
    n_mfcc: int = 13
    deltas: int = 2
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 20.0
    kmeans_max_frames: int = 200000
    kmeans_batch_size: int = 10000
    kmeans_n_init: int = 3
    kmeans_max_iter: int = 100
    mask_time_prob: float = 0.05
    mask_time_length: int = 10
    mask_min_spans: int = 2

    def __post_init__(self) -> None:
        where = "pretrain.hubert"
        _positive(
            where,
            self,
            (
                "steps",
                "n_mfcc",
                "kmeans_max_frames",
                "kmeans_batch_size",
                "kmeans_n_init",
                "kmeans_max_iter",
                "mask_time_length",
                "mask_min_spans",
            ),
        )
        if self.clusters < 2:
            raise ConfigError(f"{where}.clusters: got {self.clusters}; expected at least 2")
        if self.deltas not in (0, 1, 2):
            raise ConfigError(f"{where}.deltas: got {self.deltas}; expected 0, 1 or 2")
        if self.n_mfcc > 23:
            raise ConfigError(f"{where}.n_mfcc: got {self.n_mfcc}; expected at most 23 (the mel bins)")
        if not 0 < self.mask_time_prob < 1:
            raise ConfigError(f"{where}.mask_time_prob: got {self.mask_time_prob}; expected in (0, 1)")
        for name in ("lr", "frame_length_ms", "frame_shift_ms"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{where}.{name}: got {getattr(self, name)}; expected > 0")

    @property
    def mfcc_dim(self) -> int:
        """Dimensions of a target frame: ``n_mfcc * (1 + deltas)``."""
        return self.n_mfcc * (1 + self.deltas)


@dataclass(frozen=True)
class PretrainParams:
    """Self-supervised pretraining of the demo backbone on the training corpus's train audio.

    Attributes:
        objective: ``wav2vec2`` (wav2vec 2.0, the default) or ``hubert`` (HuBERT iteration 1); see the
            module doc.
        init: where pretraining starts: ``tiny-wav2vec2`` (random init, sizes from ``model.tiny``) or a
            wav2vec2 checkpoint (a hub id such as ``facebook/wav2vec2-base`` or a local folder; with its
            quantizer for ``wav2vec2``): continued pretraining on in-domain audio.
        seed: seeds the initialisation, the crops, the masks, the negatives and the k-means.
        batch_size, crop_samples: crops per step, samples per crop.
        threads: torch CPU threads.
        wav2vec2, hubert: each objective's own settings (only the chosen one is used and planned).
    """

    objective: str = "wav2vec2"
    init: str = "tiny-wav2vec2"
    seed: int = 0
    batch_size: int = 8
    crop_samples: int = 32000
    threads: int = 2
    wav2vec2: Wav2Vec2Objective = field(default_factory=Wav2Vec2Objective)
    hubert: HubertObjective = field(default_factory=HubertObjective)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"pretrain.objective: got {self.objective!r}; expected one of {list(OBJECTIVES)}"
            )
        _positive("pretrain", self, ("batch_size", "crop_samples", "threads"))
        if self.crop_samples < 4000:
            raise ConfigError(
                f"pretrain.crop_samples: got {self.crop_samples}; expected at least 4000 "
                "(a quarter second: the masks need frames)"
            )

    @property
    def steps(self) -> int:
        """The chosen objective's optimizer steps."""
        return getattr(self, self.objective).steps


@dataclass(frozen=True)
class PretrainPlan:
    """``pretrain.json``, the pretrain stage's plan document: only what its outputs depend on.

    Attributes:
        backbone: the ``backbone`` toggle; the stage pretrains only when it is ``pretrained``.
        corpus: the training corpus (its train audio is pretrained on).
        tiny: the tiny presets' sizes (``model.tiny``).
        pretrain: the ``pretrain`` section without the unused objective's subsection (a mapping, built
            into :class:`PretrainParams` when pretraining runs); null with any other backbone.
        seed: ``pretrain.seed`` when pretraining, else the first training seed (the records').
    """

    backbone: str
    corpus: str
    tiny: TinyBackboneParams
    pretrain: dict[str, Any] | None
    seed: int
