"""What one training run reads: the ``train`` and ``aligner`` sections and the resolved arm
(:class:`ArmConfig`).

An arm's config is the content of ``data/plan/arms/<arm>.json`` and of a checkpoint's
``config.json``; :func:`arm_from_dict` rebuilds it from either. The ``regime`` and ``align`` toggles
are defined here too (:data:`REGIMES`, :func:`normalize_align`; the ``published`` regime and the
published-model backbone specs it goes with, :data:`PUBLISHED_KINDS`), and :func:`resolve_aligner` reduces
the ``aligner`` section to what the arm's method reads, so changing one method's setting re-runs only
the arms that use that method. The plan documents of an arm/seed pair (:class:`ArmSeedPlan`) and of
the partial-model curve (:class:`PartialPlan`) are here too. This module imports only the section and
plan document types below it (:mod:`sdd.core`, :mod:`sdd.models.params`,
:mod:`sdd.models.published_spec`), so the training and model code and the plan (:mod:`sdd.plan`) all
build on it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from sdd.core.configbase import ConfigError, build, string_hint
from sdd.core.plandocs import OMIT_IF_NONE, EvalSet
from sdd.core.sections import PUBLISHED_REGIME, EvaluateParams, ScoreParams, TrackingParams
from sdd.models.params import HEADS_WITH_BATCHNORM, ModelParams
from sdd.models.published_spec import PublishedRecord

__all__ = [
    "ALIGN_CHOICES",
    "ALIGNER_METHODS",
    "PUBLISHED_KINDS",
    "REGIMES",
    "AlignerParams",
    "ArmConfig",
    "ArmSeedPlan",
    "CAGradParams",
    "DualPathParams",
    "GRParams",
    "GradVacParams",
    "PartialPlan",
    "TrainParams",
    "arm_from_dict",
    "check_regime",
    "normalize_align",
    "published_kind",
    "resolve_aligner",
]

# The scoring-only regime (sdd.core.sections.PUBLISHED_REGIME): the arm trains nothing and scores with
# published weights, named by its backbone, ``<kind>:<path>`` with a kind of :data:`PUBLISHED_KINDS`
# (docs/cli.md, "The published AASIST").
REGIMES = ("clean", "augmented", "augmented_only", "dual_path", PUBLISHED_REGIME)
#: The scoring-only regime's name before it was ``published``: refused with a message naming the new one.
RENAMED_REGIME = "pretrained"
#: Backbone spec prefixes naming published models, scored as they are (regime ``published`` only):
#: ``aasist:<path>`` is the published AASIST or AASIST-L (Jung et al., ICASSP 2022). Their files are
#: resolved by :data:`sdd.models.published_spec.PUBLISHED` and scored by
#: :data:`sdd.scoring.score.SCORERS` under the same prefix.
PUBLISHED_KINDS = ("aasist",)
ALIGNER_METHODS = ("none", "pcgrad", "gradvac", "cagrad", "gr")
# align value -> aligner name in sdd.train.align.ALIGNERS; `true` means pcgrad (design.md).
ALIGN_CHOICES: dict[Any, str] = {False: "none", True: "pcgrad", **{m: m for m in ALIGNER_METHODS}}
# granularity "auto" = what each paper's code does: DPDA flattens all parameters into one vector per
# path (global); Gradient Remedy's official code works per parameter tensor.
AUTO_GRANULARITY = {"none": "global", "pcgrad": "global", "gradvac": "global", "cagrad": "global",
                    "gr": "per_tensor"}


@dataclass(frozen=True)
class DualPathParams:
    """How the two per-path gradients of a dual-path step are computed.

    ``separate``: one forward/backward pass per path (B utterances each), gradients kept per tensor.
    Exact for models without cross-sample layers, at the cost of one pooled step (docs/training.md).
    The backbone's LayerDrop is drawn once per micro-batch and both passes drop the same layers, as in
    DPDA's joint forward (:mod:`sdd.models.layerdrop`: exact, one random number per layer, where the
    joint pass measured 1.5x the step time and +14% peak memory at Base size, docs/training.md).
    ``joint``: DPDA's own step, one forward over ``cat([x_clean, x_aug])`` and two backward passes
    (the first retains the graph); needed when a layer mixes samples (BatchNorm in training mode, e.g.
    SSL-AASIST's back-end). ``auto``: ``joint`` if the model has such a layer or a LayerDrop that the
    separate passes cannot share (an encoder not in :data:`sdd.models.layerdrop.ENCODERS`), else
    ``separate``.
    """

    forward: Literal["auto", "separate", "joint"] = "auto"


@dataclass(frozen=True)
class TrainParams:
    """Optimisation, schedule, cropping, selection, checkpoints, data loading and telemetry."""

    epochs: int = 8  # maximum number of epochs
    batch_size: int = 16  # utterances per path per optimizer step, summed over processes (global)
    accumulate: int = 1  # micro-batches per optimizer step (each process splits its share this way)
    lr: float = 1e-3
    # The learning rate of a LoRA run (model.finetune lora: the `lora` toggle), in place of `lr`; null:
    # `lr`. LoRA trains a few zero-initialised adapters (and the head) on a frozen backbone and needs a
    # larger rate than full fine-tuning: Hu et al. (LoRA, ICLR 2022, Table 9) fine-tuned RoBERTa-base's
    # adapters at 4e-4 to 5e-4, 15 to 50 times the 1e-5 to 3e-5 of its full fine-tuning. The plan writes
    # the rate a run uses into `lr` (sdd.plan.arms.resolve_arm), so checkpoints and MLflow show it.
    lora_lr: float | None = None
    weight_decay: float = 1e-4
    optimizer: Literal["adam", "adamw"] = "adam"
    # constant | warmup_exp (AttM: linear warm-up over warmup_epochs, then x lr_decay per epoch) |
    # cosine (per step from lr to lr_min over all epochs, as AASIST's and AttM's code)
    schedule: Literal["constant", "warmup_exp", "cosine"] = "constant"
    warmup_epochs: int = 0
    lr_decay: float = 0.8
    lr_min: float = 0.0
    clip_grad_norm: float | None = None  # max global L2 norm of the applied update; null = no clipping
    # Two-stage training (AttM): the first N epochs train only the head (the detector's head and
    # merge modules), then all trainable parameters with a fresh optimizer.
    freeze_backbone_epochs: int = 0
    crop_samples: int = 32000  # both views of a pair get the same crop
    crop: Literal["first", "random"] = "first"  # DPDA: first N samples, repeat-padded
    dev_samples: int = 64600  # dev loss/EER on the first N samples, as scoring does (score.num_samples)
    bonafide_weight: float = 0.5  # weighted CE; DPDA/SSL-AASIST use 0.9 (bona fide) / 0.1 (spoof)
    spoof_weight: float = 0.5
    monitor: Literal["dev_loss", "dev_eer"] = "dev_loss"  # early stopping and best-epoch selection
    patience: int | None = 3  # stop after this many epochs without a better monitored value; null: never
    min_epochs: int = 0  # no early stopping before this many epochs (AttM: 20)
    average_best: int = 3  # average the weights of the k best epochs (by the monitored value)
    # mean: the mean of the k best states. dpda_aliased: DPDA-GA's released code, whose state dicts
    # alias the model's tensors and give (2*b1 + b2 + ... + b_{k-1}) / k (b0 = best, dropped).
    average: Literal["mean", "dpda_aliased"] = "mean"
    dual_path: DualPathParams = field(default_factory=DualPathParams)
    telemetry_every: int = 5  # per-path gradient telemetry on the augmented regime (dual_path: every step)
    max_steps_per_epoch: int | None = None
    checkpoint_every: int = 100  # optimizer steps between resumable checkpoints (and every epoch end)
    max_nonfinite_steps: int = 5  # this many skipped (NaN/inf) steps in a row stop the run
    workers: int = 0  # DataLoader worker processes (0 = load in the training process)
    prefetch_factor: int = 2  # batches prefetched per worker
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # CUDA only (ignored on CPU): bf16 autocast for forward passes, TF32 matmuls/convolutions.
    cuda_bf16: bool = True
    cuda_tf32: bool = True
    threads: int = 2  # torch intra-op threads; fixed so CPU results are bit-for-bit reproducible

    def __post_init__(self) -> None:
        positive = ("epochs", "batch_size", "accumulate", "crop_samples", "dev_samples", "average_best",
                    "telemetry_every", "checkpoint_every", "max_nonfinite_steps", "prefetch_factor",
                    "threads")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name}: got {getattr(self, name)}; expected a positive integer")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(
                f"train.patience: got {self.patience}; expected null (no early stopping) or >= 1"
            )
        for name in ("min_epochs", "warmup_epochs", "freeze_backbone_epochs", "workers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name}: got {getattr(self, name)}; expected an integer >= 0")
        if not self.lr > 0:
            raise ConfigError(f"train.lr: got {self.lr}; expected a positive number")
        if self.lora_lr is not None and not self.lora_lr > 0:
            raise ConfigError(f"train.lora_lr: got {self.lora_lr}; expected null (= lr) or a positive number")
        if not 0 <= self.lr_min <= self.lr:
            raise ConfigError(f"train.lr_min: got {self.lr_min}; expected 0 <= lr_min <= lr ({self.lr})")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"train.lr_decay: got {self.lr_decay}; expected 0 < lr_decay <= 1")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay: got {self.weight_decay}; expected >= 0")
        if self.bonafide_weight <= 0 or self.spoof_weight <= 0:
            raise ConfigError(
                "train.bonafide_weight/spoof_weight: "
                f"got {self.bonafide_weight}/{self.spoof_weight}; expected > 0"
            )
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ConfigError(
                f"train.max_steps_per_epoch: got {self.max_steps_per_epoch}; expected null or >= 1"
            )
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            raise ConfigError(f"train.clip_grad_norm: got {self.clip_grad_norm}; expected null or > 0")
        if self.accumulate > self.batch_size:
            raise ConfigError(
                f"train.accumulate: got {self.accumulate}; expected at most batch_size ({self.batch_size}), "
                "since each micro-batch takes batch_size / accumulate utterances per path"
            )
        if self.schedule == "warmup_exp" and self.warmup_epochs < 1:
            raise ConfigError("train.warmup_epochs: got 0; schedule warmup_exp needs warmup_epochs >= 1")
        if self.freeze_backbone_epochs >= self.epochs:
            raise ConfigError(
                f"train.freeze_backbone_epochs: got {self.freeze_backbone_epochs}; expected fewer than "
                f"epochs ({self.epochs}), or the backbone is never fine-tuned (use model.finetune: frozen)"
            )


@dataclass(frozen=True)
class GradVacParams:
    """Gradient Vaccine (Wang et al., ICLR 2021) as DPDA applies it."""

    beta: float = 0.5  # EMA rate of the target cosine (DPDA's code: 0.5)
    # dpda: the EMA moves only when the observed cosine is > 0 (DPDA's code); paper: every step.
    ema: Literal["dpda", "paper"] = "dpda"

    def __post_init__(self) -> None:
        if not 0 < self.beta <= 1:
            raise ConfigError(f"aligner.gradvac.beta: got {self.beta}; expected 0 < beta <= 1")


@dataclass(frozen=True)
class CAGradParams:
    """Conflict-Averse Gradient descent (Liu et al., NeurIPS 2021) as DPDA applies it."""

    c: float = 0.5  # radius of the ball around the mean gradient (DPDA's code: 0.5)

    def __post_init__(self) -> None:
        if self.c < 0:
            raise ConfigError(f"aligner.cagrad.c: got {self.c}; expected >= 0")


@dataclass(frozen=True)
class GRParams:
    """Gradient Remedy (Hu et al., ICASSP 2023): main = clean path, auxiliary = augmented path."""

    k: float = 5.0  # rescale when ||g_aux|| / ||g_main|| > k (official code: 5)
    combine: Literal["sum", "mean"] = "sum"  # GR sums the two gradients; DPDA-style methods average

    def __post_init__(self) -> None:
        if not self.k > 1:
            raise ConfigError(f"aligner.gr.k: got {self.k}; expected > 1")


@dataclass(frozen=True)
class AlignerParams:
    """The ``aligner`` section: granularity and each method's settings (overridable per arm)."""

    granularity: Literal["auto", "global", "per_tensor"] = "auto"
    gradvac: GradVacParams = field(default_factory=GradVacParams)
    cagrad: CAGradParams = field(default_factory=CAGradParams)
    gr: GRParams = field(default_factory=GRParams)


def resolve_aligner(method: str, params: AlignerParams) -> AlignerParams:
    """``params`` reduced to what ``method`` reads: ``auto`` granularity resolved, the other methods'
    settings reset to their defaults. So an arm's plan changes only when its own method's settings
    do (``-S aligner.gr.k=3`` re-trains only the arms that use GR)."""
    granularity = AUTO_GRANULARITY[method] if params.granularity == "auto" else params.granularity
    if method == "none":
        granularity = "global"  # the mean is the same at every granularity
    own = {m: getattr(params, m) for m in ("gradvac", "cagrad", "gr") if m == method}
    return dataclasses.replace(AlignerParams(), granularity=granularity, **own)


@dataclass(frozen=True)
class ArmConfig:
    """Everything the train stage of one arm reads (the content of ``data/plan/arms/<arm>.json``)."""

    name: str
    corpus: str
    backbone: str
    regime: Literal["clean", "augmented", "augmented_only", "dual_path", "published"]
    align: Literal["none", "pcgrad", "gradvac", "cagrad", "gr"]
    seed: int
    model: ModelParams
    train: TrainParams
    aligner: AlignerParams = field(default_factory=AlignerParams)
    sample_rate: int = 16000

    @property
    def lora(self) -> bool:
        """Whether the arm fine-tunes with LoRA: ``model.finetune == "lora"``, the one stored spelling
        (params.yaml's ``lora`` toggle sets it at plan time)."""
        return self.model.finetune == "lora"

    def __post_init__(self) -> None:
        # Every arm carries its aligner settings resolved (granularity never ``auto``), however built.
        object.__setattr__(self, "aligner", resolve_aligner(self.align, self.aligner))
        kind = published_kind(self.backbone)
        if (self.regime == PUBLISHED_REGIME) != (kind is not None):
            raise ConfigError(
                f"arms.{self.name}: regime {self.regime!r} with backbone {self.backbone!r}; regime "
                f"'{PUBLISHED_REGIME}' (scoring-only) goes with a published model's backbone "
                f"({', '.join(f'{k}:<path>' for k in PUBLISHED_KINDS)}), and only with it"
            )
        if kind is not None and (self.align != "none" or self.lora):
            raise ConfigError(
                f"arms.{self.name}: a scoring-only arm (regime '{PUBLISHED_REGIME}') trains nothing; "
                f"got align={self.align!r}, lora={str(self.lora).lower()}; expected none and false"
            )
        if self.align != "none" and self.regime != "dual_path":
            raise ConfigError(
                f"arms.{self.name}: align={self.align!r} needs regime 'dual_path' "
                f"(got regime {self.regime!r}); "
                "gradient alignment combines the clean-path and augmented-path gradients"
            )
        # Per-path forward passes equal one joint forward only for models without cross-sample layers
        # (methods.md §1): a BatchNorm head needs the joint dual-path step (``auto`` picks it).
        if (self.model.head in HEADS_WITH_BATCHNORM and self.regime in ("dual_path", "augmented")
                and self.train.dual_path.forward == "separate"):
            raise ConfigError(
                f"arms.{self.name}: model.head {self.model.head!r} has BatchNorm, so regime "
                f"{self.regime!r} needs train.dual_path.forward 'joint' (or 'auto', which picks it); "
                "got 'separate', whose per-path batch statistics would give other gradients"
            )


def arm_from_dict(data: dict[str, Any]) -> ArmConfig:
    """Rebuild an :class:`ArmConfig` from its plan document or a checkpoint's stored config.

    Configs stored before LoRA had one spelling carry a ``lora`` key beside ``model.finetune``; it is
    read, checked against ``model.finetune`` and dropped, so those models still load."""
    where = f"arm {data.get('name', '?')}"
    data = dict(data)
    stored_lora = data.pop("lora", None)
    arm = build(ArmConfig, data, where)
    if stored_lora is not None and stored_lora is not arm.lora:
        raise ConfigError(
            f"{where}: stored lora={stored_lora!r} but model.finetune={arm.model.finetune!r}; expected "
            "lora true exactly when model.finetune is 'lora' (a config written before LoRA had one "
            "spelling, edited by hand?)"
        )
    return arm


def normalize_align(value: Any, where: str) -> str:
    """Map an ``align`` value to an aligner name; ``true`` means ``pcgrad``, ``false`` means ``none``."""
    for key, name in ALIGN_CHOICES.items():
        if value == key and type(value) is type(key):
            return name
    raise ConfigError(
        f"{where}: got {value!r}; expected one of false, true (= pcgrad), {', '.join(ALIGNER_METHODS)}"
        + string_hint(value)
    )


def published_kind(backbone: str) -> str | None:
    """The published-model kind a backbone spec names (``aasist`` for ``aasist:<path>``), or None."""
    kind, sep, _ = str(backbone).partition(":")
    return kind if sep and kind in PUBLISHED_KINDS else None


def check_regime(value: Any, where: str) -> str:
    """``value`` if it is one of :data:`REGIMES`, else a :class:`ConfigError` naming ``where``."""
    if value == RENAMED_REGIME:
        raise ConfigError(
            f"{where}: got {value!r}, the scoring-only regime's old name; it is now {PUBLISHED_REGIME!r} "
            f"(e.g. `regime: {PUBLISHED_REGIME}`): 'pretrained' names only the pretrain stage's backbone"
        )
    if value not in REGIMES:
        raise ConfigError(f"{where}: got {value!r}; expected one of {list(REGIMES)}")
    return value


@dataclass(frozen=True)
class ArmSeedPlan:
    """``arms/<arm>/s<seed>.json`` of a pair the arm runs (the others are
    :class:`~sdd.core.plandocs.SkippedPair`): the resolved arm with that seed, the MLflow experiment
    and, for a scoring-only arm, its weight files and their SHA-256 (left out of the file otherwise)."""

    arm: ArmConfig
    tracking: TrackingParams
    published: PublishedRecord | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class PartialPlan:
    """``partial.json``, the partial-model curve: the eval sets, the score and evaluate sections and
    one arm per point (``main`` cut to its first k layers; none by default)."""

    eval_sets: tuple[EvalSet, ...]
    score: ScoreParams
    evaluate: EvaluateParams
    arms: tuple[ArmConfig, ...]
