"""The plan: ``params.yaml`` -> validated, frozen dataclasses -> one small JSON document per stage.

``params.yaml`` holds top-level toggles (``corpus``, ``eval_sets``, ``backbone``, ``align``, ``lora``,
``seed``, ``regime``), one section per stage plus the ``aligner`` settings, named ``corpora`` and named
``arms`` (small overrides of the base). :func:`load_params` validates all of it at once (unknown keys,
wrong types and bad choices raise :class:`~sdd.configbase.ConfigError` naming the key, the value and
the allowed values). :func:`make_plan` resolves it into one small JSON document per stage (and per
arm), which the ``plan`` stage writes under ``data/plan/``; every other stage depends on its own plan
file instead of on ``params.yaml``, so DVC re-runs exactly the stages whose resolved inputs changed
(``-S align=true`` re-runs only the arms that inherit ``align``).

This module only assembles: each section's type lives beside the code that reads it
(:mod:`sdd.models.params`, :mod:`sdd.train.params`, :mod:`sdd.augment.params`, :mod:`sdd.params`, the
corpus recipes of :mod:`sdd.data.corpora`), and nothing below imports this module.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sdd.augment.params import AugmentParams
from sdd.configbase import ConfigError, build, to_dict
from sdd.data.corpora import CorpusConfig, corpus_splits, parse_corpus
from sdd.models.backbone import TINY_BACKBONES, check_backbone_name
from sdd.models.params import ModelParams, check_layer_counts
from sdd.params import BaselineParams, EvaluateParams, PrepareParams, ScoreParams, TrackingParams
from sdd.pretrain.params import PRETRAIN_INITS, PRETRAINED, PretrainParams
from sdd.probing.params import BACKBONE_SOURCES, ProbeParams
from sdd.train.params import (
    AlignerParams,
    ArmConfig,
    TrainParams,
    check_regime,
    normalize_align,
    resolve_aligner,
)

__all__ = [
    "ArmOverrides",
    "LoadedParams",
    "Params",
    "eval_set_id",
    "load_params",
    "make_plan",
    "partial_arm",
    "resolve_arm",
    "validate_params",
]


@dataclass(frozen=True)
class ArmOverrides:
    """What an arm may override: training toggles and the model/train/aligner sections (deep-merged)."""

    backbone: str | None = None
    regime: str | None = None
    align: bool | str | None = None
    lora: bool | None = None
    seed: int | None = None
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    aligner: dict[str, Any] = field(default_factory=dict)


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
    aligner: AlignerParams = field(default_factory=AlignerParams)
    score: ScoreParams = field(default_factory=ScoreParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    baseline: BaselineParams = field(default_factory=BaselineParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    pretrain: PretrainParams = field(default_factory=PretrainParams)
    probe: ProbeParams = field(default_factory=ProbeParams)


#: Top-level keys of reports/metrics.json next to the arms: no arm may take these names.
RESERVED_ARM_NAMES = ("probing", "pretrain", "partial", *BACKBONE_SOURCES, PRETRAINED)


def _check_backbone(value: str, where: str) -> str:
    if value == PRETRAINED:  # the pretrain stage's output; it does not exist at plan time
        return value
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
    aligner = _merge(raw.get("aligner") or {}, ov.aligner)
    align = normalize_align(
        ov.align if ov.align is not None else params.align,
        f"{where}.align" if ov.align is not None else "align",
    )
    regime = check_regime(
        ov.regime if ov.regime is not None else params.regime,
        f"{where}.regime" if ov.regime is not None else "regime",
    )
    backbone = ov.backbone if ov.backbone is not None else params.backbone
    if ov.backbone is not None:
        _check_backbone(backbone, f"{where}.backbone")
    lora = ov.lora if ov.lora is not None else params.lora
    if lora and "finetune" not in ov.model:
        model["finetune"] = "lora"  # the toggle switches the arm to LoRA (design.md)
    model_params = build(ModelParams, model, f"{where}.model" if ov.model else "model")
    # other backbones are checked when they are loaded
    if backbone in TINY_BACKBONES or (backbone == PRETRAINED and params.pretrain.init in PRETRAIN_INITS):
        try:
            check_layer_counts(model_params, model_params.tiny.num_layers)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    return ArmConfig(
        name=name,
        corpus=params.corpus,
        backbone=backbone,
        regime=regime,  # type: ignore[arg-type]
        align=align,  # type: ignore[arg-type]
        lora=lora,
        seed=ov.seed if ov.seed is not None else params.seed,
        model=model_params,
        train=build(TrainParams, train, f"{where}.train" if ov.train else "train"),
        aligner=resolve_aligner(
            align, build(AlignerParams, aligner, f"{where}.aligner" if ov.aligner else "aligner")
        ),
    )


def partial_arm(params: Params, main: ArmConfig, k: int) -> ArmConfig:
    """`main` on the backbone cut to its first ``k`` layers (``model.layers: k``), named
    ``partial_<k>``, trained for ``probe.partial_epochs`` epochs when set: one point of the curve."""
    model = to_dict(main.model) | {"layers": k}
    epochs = params.probe.partial_epochs
    train = to_dict(main.train) | ({"epochs": epochs} if epochs else {})
    model_params = build(ModelParams, model, f"probe.partial_layers[{k}]")
    tiny_pretrained = main.backbone == PRETRAINED and params.pretrain.init in PRETRAIN_INITS
    if main.backbone in TINY_BACKBONES or tiny_pretrained:
        try:
            check_layer_counts(model_params, model_params.tiny.num_layers)
        except ConfigError as exc:
            raise ConfigError(f"probe.partial_layers: {exc}") from exc
    if train.get("min_epochs", 0) > train["epochs"]:
        train["min_epochs"] = train["epochs"]
    return dataclasses.replace(main, name=f"partial_{k}", model=model_params,
                               train=build(TrainParams, train, "probe.partial_epochs"))


def _parse_eval_set(spec: str, params: Params, parsed: dict[str, Any], where: str) -> tuple[str, str]:
    """Split ``'<corpus>:<split>'``, parsing the corpus config into ``parsed`` on first use."""
    corpus, sep, split = spec.partition(":")
    if not sep or not corpus or not split:
        raise ConfigError(f"{where}: got {spec!r}; expected '<corpus name>:<split>', e.g. 'demo:eval'")
    if corpus not in params.corpora:
        raise ConfigError(
            f"{where}: corpus {corpus!r} is not defined; expected one of {sorted(params.corpora)} "
            "(see `corpora`)"
        )
    if corpus not in parsed:
        parsed[corpus] = parse_corpus(corpus, params.corpora[corpus])
    splits = corpus_splits(parsed[corpus])
    if split not in splits:
        raise ConfigError(
            f"{where}: corpus {corpus!r} has no split {split!r}; expected one of {list(splits)}"
        )
    return corpus, split


@dataclass(frozen=True)
class LoadedParams:
    """Validated params plus what validation resolved (corpus configs, arms)."""

    params: Params
    corpora: dict[str, CorpusConfig]  # the corpora in use
    arms: dict[str, ArmConfig]
    eval_sets: tuple[tuple[str, str], ...]
    augment: AugmentParams


def validate_params(raw: dict[str, Any]) -> LoadedParams:
    """Validate a parsed ``params.yaml`` completely (no I/O beyond imports)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"params.yaml: got {type(raw).__name__}; expected a mapping of keys")
    params = build(Params, raw, "")
    # Sub-validations that need more than types.
    normalize_align(params.align, "align")
    check_regime(params.regime, "regime")
    _check_backbone(params.backbone, "backbone")
    if not params.arms:
        raise ConfigError("arms: got an empty mapping; expected at least one arm (e.g. `main: {}`)")
    if params.corpus not in params.corpora:
        raise ConfigError(
            f"corpus: got {params.corpus!r}; expected one of {sorted(params.corpora)} (see `corpora`)"
        )
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
            f"corpus: {params.corpus!r} has no {'/'.join(missing)} split; a training corpus needs train "
            f"and dev (its splits: {list(corpus_splits(train_cfg))})"
        )
    for i, spec in enumerate(params.eval_sets):
        eval_sets.append(_parse_eval_set(spec, params, corpora, f"eval_sets[{i}]"))
    if len(set(eval_sets)) != len(eval_sets):
        raise ConfigError(f"eval_sets: got duplicates in {list(params.eval_sets)}")
    for corpus, split in eval_sets:
        if corpus == params.corpus and split in ("train", "dev"):
            raise ConfigError(
                f"eval_sets: {corpus}:{split} is the training corpus's {split} split; evaluating on data "
                "used for training or model selection is not allowed"
            )
    augment = build(AugmentParams, params.augment, "augment")
    reserved = sorted(set(params.arms) & set(RESERVED_ARM_NAMES))
    if reserved:
        raise ConfigError(f"arms: {reserved} are reserved names (reports and model folders use them); "
                          "rename the arm")
    if params.pretrain.init not in PRETRAIN_INITS:
        _check_backbone(params.pretrain.init, "pretrain.init")
    arms = {name: resolve_arm(raw, params, name) for name in params.arms}
    for name in params.probe.models:
        if name not in BACKBONE_SOURCES and name not in arms:
            raise ConfigError(f"probe.models: got {name!r}; expected {list(BACKBONE_SOURCES)} or an arm name "
                              f"({sorted(arms)})")
    if params.probe.partial_layers:
        if "main" not in arms:
            raise ConfigError("probe.partial_layers: the partial-model curve retrains `main`; no arm `main`")
        for k in params.probe.partial_layers:
            partial_arm(params, arms["main"], k)  # validates k against the backbone's layers
    return LoadedParams(
        params=params, corpora=corpora, arms=arms, eval_sets=tuple(eval_sets), augment=augment
    )


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
    eval_sets = [
        {"corpus": c, "split": s, "id": eval_set_id(c, s), "name": f"{c}:{s}"} for c, s in loaded.eval_sets
    ]
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
        "evaluate.json": {
            "eval_sets": eval_sets,
            "evaluate": to_dict(p.evaluate),
            "tracking": to_dict(p.tracking),
        },
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
    # The pretrain stage reads only what its outputs depend on: with any backbone but `pretrained` it
    # writes two small records, so the pretrain section and the training seed stay out of its plan.
    pretrained = p.backbone == PRETRAINED
    plan["pretrain.json"] = {
        "backbone": p.backbone,
        "corpus": p.corpus,
        "tiny": to_dict(p.model.tiny),
        "pretrain": to_dict(p.pretrain) if pretrained else None,
        "seed": p.pretrain.seed if pretrained else p.seed,
    }
    probe = to_dict(p.probe)
    plan["extract.json"] = {
        "eval_sets": eval_sets,
        "normalize_input": p.model.normalize_input,
        "extract": {k: probe[k] for k in ("num_samples", "batch_size", "threads")},
    }
    plan["probe.json"] = {
        "eval_sets": eval_sets,
        "probe": {k: probe[k] for k in ("l2_grid", "kinds", "n_resamples", "seed")},
    }
    plan["partial.json"] = {
        "eval_sets": eval_sets,
        "score": to_dict(p.score),
        "evaluate": to_dict(p.evaluate),
        "arms": [to_dict(partial_arm(p, loaded.arms["main"], k)) for k in p.probe.partial_layers],
    }
    plan["report.json"]["probe_models"] = list(p.probe.models)
    return plan
