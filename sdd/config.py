"""Typed, validated params: ``params.yaml`` -> frozen dataclasses -> per-stage plan files.

``params.yaml`` holds top-level toggles (``corpus``, ``eval_sets``, ``backbone``, ``align``, ``lora``,
``seed``, ``regime``), one section per stage, named ``corpora`` and named ``arms`` (small overrides of
the base). :func:`load_params` validates all of it at once (unknown keys, wrong types and bad choices
raise :class:`~sdd.configbase.ConfigError` naming the key, the value and the allowed values).
:func:`make_plan` resolves it into one small JSON document per stage (and per arm), which the ``plan``
stage writes under ``data/plan/``; every other stage depends on its own plan file instead of on
``params.yaml``, so DVC re-runs exactly the stages whose resolved inputs changed (``-S align=true``
re-runs only the arms that inherit ``align``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from sdd.configbase import ConfigError, build, to_dict

__all__ = [
    "ArmConfig",
    "EvaluateParams",
    "LoraParams",
    "ModelParams",
    "Params",
    "PrepareParams",
    "ScoreParams",
    "TinyBackboneParams",
    "TrainParams",
    "load_params",
    "make_plan",
    "read_plan",
]

REGIMES = ("clean", "augmented", "dual_path")
# align value -> aligner name in sdd.train.align.ALIGNERS; `true` means pcgrad (design.md).
ALIGN_CHOICES: dict[Any, str] = {False: "none", "none": "none", True: "pcgrad", "pcgrad": "pcgrad"}
ALIGN_NOT_YET = ("gradvac", "cagrad", "gr")
HEADS_AVAILABLE = ("linear",)
HEADS_NOT_YET = ("attm", "aasist")
RESTORE_HINT = (
    "If this value came from `dvc exp run -S ...`, the workspace params.yaml still holds it: "
    "restore it with `git checkout params.yaml`."
)


@dataclass(frozen=True)
class TinyBackboneParams:
    """Size of the randomly initialised ``tiny-*`` backbones (a narrow conv encoder is what makes
    them trainable in minutes on 2 CPU cores; the default ``conv_dim`` of 512 is far too slow)."""

    conv_channels: int = 32
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 128

    def __post_init__(self) -> None:
        for name in ("conv_channels", "hidden_size", "num_layers", "num_heads", "intermediate_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.tiny.{name}: got {getattr(self, name)}; expected a positive integer")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"model.tiny.hidden_size: got {self.hidden_size}; expected a multiple of num_heads ({self.num_heads})"
            )


@dataclass(frozen=True)
class LoraParams:
    """LoRA hyper-parameters (Wang et al. 2023); used when the ``lora`` toggle is true."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")


@dataclass(frozen=True)
class ModelParams:
    """Backbone fine-tuning mode and classification head."""

    head: str = "linear"
    finetune: Literal["full", "frozen"] = "full"
    # Zero-mean, unit-variance per utterance (as Wav2Vec2FeatureExtractor(do_normalize=True)).
    normalize_input: bool = True
    tiny: TinyBackboneParams = field(default_factory=TinyBackboneParams)
    lora: LoraParams = field(default_factory=LoraParams)

    def __post_init__(self) -> None:
        if self.head in HEADS_NOT_YET:
            raise ConfigError(
                f"model.head: {self.head!r} is not available yet (its issue has not landed); "
                f"available: {list(HEADS_AVAILABLE)}"
            )
        if self.head not in HEADS_AVAILABLE:
            raise ConfigError(f"model.head: got {self.head!r}; expected one of {list(HEADS_AVAILABLE)}")


@dataclass(frozen=True)
class TrainParams:
    """Optimisation, cropping, early stopping and telemetry of the train stage."""

    epochs: int = 8
    batch_size: int = 16  # utterances per path per step
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: Literal["adam", "adamw"] = "adam"
    crop_samples: int = 32000  # both views of a pair get the same crop
    crop: Literal["first", "random"] = "first"  # DPDA: first N samples, repeat-padded
    dev_samples: int = 64600  # dev loss/EER on the first N samples, as scoring does (score.num_samples)
    bonafide_weight: float = 0.5  # weighted CE; DPDA/SSL-AASIST use 0.9 (bona fide) / 0.1 (spoof)
    spoof_weight: float = 0.5
    patience: int = 3  # early stopping on CLEAN dev loss
    average_best: int = 3  # average the weights of the k best epochs (by dev loss), correctly
    telemetry_every: int = 5  # per-path gradient telemetry on the augmented regime (dual_path: every step)
    max_steps_per_epoch: int | None = None
    threads: int = 2  # torch intra-op threads; fixed so CPU results are bit-for-bit reproducible

    def __post_init__(self) -> None:
        positive = ("epochs", "batch_size", "crop_samples", "dev_samples", "average_best", "telemetry_every", "threads")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name}: got {getattr(self, name)}; expected a positive integer")
        if self.patience < 0:
            raise ConfigError(f"train.patience: got {self.patience}; expected >= 0")
        if not self.lr > 0:
            raise ConfigError(f"train.lr: got {self.lr}; expected a positive number")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay: got {self.weight_decay}; expected >= 0")
        if self.bonafide_weight <= 0 or self.spoof_weight <= 0:
            raise ConfigError(
                f"train.bonafide_weight/spoof_weight: got {self.bonafide_weight}/{self.spoof_weight}; expected > 0"
            )
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ConfigError(f"train.max_steps_per_epoch: got {self.max_steps_per_epoch}; expected null or >= 1")


@dataclass(frozen=True)
class PrepareParams:
    on_bad_audio: Literal["error", "skip"] = "error"
    workers: int = 2


@dataclass(frozen=True)
class ScoreParams:
    """Scoring input: the first ``num_samples`` samples, repeat-padded when shorter (AASIST's 64,600)."""

    num_samples: int = 64600
    batch_size: int = 32
    threads: int = 2

    def __post_init__(self) -> None:
        for name in ("num_samples", "batch_size", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"score.{name}: got {getattr(self, name)}; expected a positive integer")


@dataclass(frozen=True)
class EvaluateParams:
    ci: bool = True
    n_resamples: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class BaselineParams:
    """The hand-feature logistic-regression reference (a difficulty check of the corpus)."""

    enabled: bool = True
    seed: int = 0


@dataclass(frozen=True)
class TrackingParams:
    experiment: str = "sdd"


@dataclass(frozen=True)
class ArmOverrides:
    """What an arm may override: training toggles and the model/train sections (deep-merged)."""

    backbone: str | None = None
    regime: str | None = None
    align: bool | str | None = None
    lora: bool | None = None
    seed: int | None = None
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArmConfig:
    """Everything the train stage of one arm reads (the content of ``data/plan/arms/<arm>.json``)."""

    name: str
    corpus: str
    backbone: str
    regime: Literal["clean", "augmented", "dual_path"]
    align: Literal["none", "pcgrad"]
    lora: bool
    seed: int
    model: ModelParams
    train: TrainParams
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.align != "none" and self.regime != "dual_path":
            raise ConfigError(
                f"arms.{self.name}: align={self.align!r} needs regime 'dual_path' (got regime {self.regime!r}); "
                "gradient alignment combines the clean-path and augmented-path gradients"
            )
        if self.lora:
            raise ConfigError(
                f"arms.{self.name}: lora=true is not available yet (the LoRA issue has not landed); use lora: false"
            )


@dataclass(frozen=True)
class Params:
    """The whole, validated ``params.yaml``."""

    corpus: str
    eval_sets: tuple[str, ...]
    backbone: str
    align: bool | str
    lora: bool
    seed: int
    regime: str
    corpora: dict[str, dict[str, Any]]
    arms: dict[str, ArmOverrides]
    prepare: PrepareParams = field(default_factory=PrepareParams)
    augment: dict[str, Any] = field(default_factory=dict)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    score: ScoreParams = field(default_factory=ScoreParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    baseline: BaselineParams = field(default_factory=BaselineParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)


def normalize_align(value: Any, where: str) -> str:
    """Map an ``align`` value to an aligner name; ``true`` means ``pcgrad``."""
    if isinstance(value, str) and value in ALIGN_NOT_YET:
        raise ConfigError(
            f"{where}: {value!r} is not available yet (its issue has not landed); "
            "available now: false, true (= pcgrad), pcgrad"
        )
    for key, name in ALIGN_CHOICES.items():
        if value == key and type(value) is type(key):
            return name
    raise ConfigError(
        f"{where}: got {value!r}; expected one of false, true (= pcgrad), pcgrad "
        f"(not available yet: {', '.join(ALIGN_NOT_YET)})"
    )


def _check_regime(value: Any, where: str) -> str:
    if value not in REGIMES:
        raise ConfigError(f"{where}: got {value!r}; expected one of {list(REGIMES)}")
    return value


def _check_backbone(value: str, where: str) -> str:
    from sdd.models.backbone import check_backbone_name

    try:
        check_backbone_name(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return value


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_arm(raw: dict[str, Any], params: Params, name: str) -> ArmConfig:
    """Resolve arm ``name``: the base toggles and sections, then the arm's overrides."""
    ov = params.arms[name]
    where = f"arms.{name}"
    model = _merge(raw.get("model") or {}, ov.model)
    train = _merge(raw.get("train") or {}, ov.train)
    align = normalize_align(ov.align if ov.align is not None else params.align, f"{where}.align" if ov.align is not None else "align")
    regime = _check_regime(ov.regime if ov.regime is not None else params.regime, f"{where}.regime" if ov.regime is not None else "regime")
    backbone = ov.backbone if ov.backbone is not None else params.backbone
    if ov.backbone is not None:
        _check_backbone(backbone, f"{where}.backbone")
    return ArmConfig(
        name=name,
        corpus=params.corpus,
        backbone=backbone,
        regime=regime,  # type: ignore[arg-type]
        align=align,  # type: ignore[arg-type]
        lora=ov.lora if ov.lora is not None else params.lora,
        seed=ov.seed if ov.seed is not None else params.seed,
        model=build(ModelParams, model, f"{where}.model" if ov.model else "model"),
        train=build(TrainParams, train, f"{where}.train" if ov.train else "train"),
    )


def _parse_eval_set(spec: str, params: Params, parsed: dict[str, Any], where: str) -> tuple[str, str]:
    """Split ``'<corpus>:<split>'``, parsing the corpus config into ``parsed`` on first use."""
    from sdd.data.corpora import corpus_splits, parse_corpus

    corpus, sep, split = spec.partition(":")
    if not sep or not corpus or not split:
        raise ConfigError(f"{where}: got {spec!r}; expected '<corpus name>:<split>', e.g. 'demo:eval'")
    if corpus not in params.corpora:
        raise ConfigError(
            f"{where}: corpus {corpus!r} is not defined; expected one of {sorted(params.corpora)} (see `corpora`)"
        )
    if corpus not in parsed:
        parsed[corpus] = parse_corpus(corpus, params.corpora[corpus])
    splits = corpus_splits(parsed[corpus])
    if split not in splits:
        raise ConfigError(f"{where}: corpus {corpus!r} has no split {split!r}; expected one of {list(splits)}")
    return corpus, split


@dataclass(frozen=True)
class LoadedParams:
    """Validated params plus what validation resolved (corpus configs, arms)."""

    params: Params
    corpora: dict[str, Any]  # name -> sdd.data.corpora.CorpusConfig, for the corpora in use
    arms: dict[str, ArmConfig]
    eval_sets: tuple[tuple[str, str], ...]
    augment: Any  # sdd.augment.params.AugmentParams


def validate_params(raw: dict[str, Any]) -> LoadedParams:
    """Validate a parsed ``params.yaml`` completely (no I/O beyond imports)."""
    from sdd.augment.params import AugmentParams
    from sdd.data.corpora import corpus_splits, parse_corpus

    if not isinstance(raw, dict):
        raise ConfigError(f"params.yaml: got {type(raw).__name__}; expected a mapping of keys")
    params = build(Params, raw, "")
    # Sub-validations that need more than types.
    normalize_align(params.align, "align")
    _check_regime(params.regime, "regime")
    _check_backbone(params.backbone, "backbone")
    if not params.arms:
        raise ConfigError("arms: got an empty mapping; expected at least one arm (e.g. `main: {}`)")
    if params.corpus not in params.corpora:
        raise ConfigError(f"corpus: got {params.corpus!r}; expected one of {sorted(params.corpora)} (see `corpora`)")
    if not params.eval_sets:
        raise ConfigError("eval_sets: got an empty list; expected at least one '<corpus>:<split>'")
    # Only corpora in use are parsed deeply: a catalogue entry for a corpus you have not downloaded
    # must not stop the demo.
    corpora = {}
    eval_sets = []
    train_cfg = parse_corpus(params.corpus, params.corpora[params.corpus])
    corpora[params.corpus] = train_cfg
    missing = [s for s in ("train", "dev") if s not in corpus_splits(train_cfg)]
    if missing:
        raise ConfigError(
            f"corpus: {params.corpus!r} has no {'/'.join(missing)} split; a training corpus needs train and dev "
            f"(its splits: {list(corpus_splits(train_cfg))})"
        )
    for i, spec in enumerate(params.eval_sets):
        eval_sets.append(_parse_eval_set(spec, params, corpora, f"eval_sets[{i}]"))
    if len(set(eval_sets)) != len(eval_sets):
        raise ConfigError(f"eval_sets: got duplicates in {list(params.eval_sets)}")
    for corpus, split in eval_sets:
        if corpus == params.corpus and split in ("train", "dev"):
            raise ConfigError(
                f"eval_sets: {corpus}:{split} is the training corpus's {split} split; evaluating on data used for "
                "training or model selection is not allowed"
            )
    augment = build(AugmentParams, params.augment, "augment")
    arms = {name: resolve_arm(raw, params, name) for name in params.arms}
    return LoadedParams(params=params, corpora=corpora, arms=arms, eval_sets=tuple(eval_sets), augment=augment)


def load_params(path: str | Path = "params.yaml") -> LoadedParams:
    """Read and validate ``params.yaml``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read params ({exc})") from exc
    return validate_params(raw)


def eval_set_id(corpus: str, split: str) -> str:
    """File-name-safe id of an eval set (``demo:eval`` -> ``demo__eval``)."""
    return f"{corpus}__{split}"


def make_plan(loaded: LoadedParams) -> dict[str, Any]:
    """Per-stage plan documents: ``{relative path under data/plan: JSON-able dict}``.

    Each document holds exactly what one stage reads, so its hash changes only when that stage's
    resolved inputs do.
    """
    p = loaded.params
    corpora = {name: {"name": name, **to_dict(cfg)} for name, cfg in loaded.corpora.items()}
    eval_sets = [{"corpus": c, "split": s, "id": eval_set_id(c, s), "name": f"{c}:{s}"} for c, s in loaded.eval_sets]
    plan: dict[str, Any] = {
        "fetch.json": {"corpora": corpora},
        "prepare.json": {
            "corpora": corpora,
            "prepare": to_dict(p.prepare),
            "train_corpus": p.corpus,
            "eval_sets": eval_sets,
        },
        "augment.json": {"corpus": p.corpus, "augment": to_dict(loaded.augment)},
        "baseline.json": {"corpus": p.corpus, "eval_sets": eval_sets, "baseline": to_dict(p.baseline)},
        "score.json": {"eval_sets": eval_sets, "score": to_dict(p.score)},
        "evaluate.json": {"eval_sets": eval_sets, "evaluate": to_dict(p.evaluate), "tracking": to_dict(p.tracking)},
        "report.json": {
            "arms": list(loaded.arms),
            "eval_sets": eval_sets,
            "corpus": p.corpus,
            "augment": to_dict(loaded.augment),
            "tracking": to_dict(p.tracking),
        },
    }
    for name, arm in loaded.arms.items():
        plan[f"arms/{name}.json"] = {"arm": to_dict(arm), "tracking": to_dict(p.tracking)}
    return plan


def read_plan(path: str | Path) -> dict[str, Any]:
    """Read one plan document written by the plan stage."""
    import json

    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read plan file ({exc}); run the `plan` stage (dvc repro plan)") from exc


def arm_from_dict(data: dict[str, Any]) -> ArmConfig:
    """Rebuild an :class:`ArmConfig` from its plan document or a checkpoint's stored config."""
    return build(ArmConfig, data, f"arm {data.get('name', '?')}")




def write_plan(docs: dict[str, Any], out_dir: Path) -> None:
    """Write the plan documents under ``out_dir`` (sorted keys, so equal plans hash equally)."""
    from sdd import atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, doc in docs.items():
        atomic.write_json(out_dir / rel, doc)
