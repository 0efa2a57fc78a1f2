"""The plan: ``params.yaml`` -> validated, frozen dataclasses -> one small JSON document per stage.

``params.yaml`` holds top-level toggles (``corpus``, ``eval_sets``, ``backbone``, ``align``, ``lora``,
``seeds``, ``regime``), one section per stage plus the ``aligner`` settings, named ``corpora`` and
named ``arms`` (small overrides of the base). :func:`load_params` validates all of it at once (unknown
keys, wrong types and bad choices raise :class:`~sdd.core.configbase.ConfigError` naming the key, the value
and the allowed values). :func:`make_plan` resolves it into one small JSON document per stage (and per
arm and seed), which the ``plan`` stage writes under ``data/plan/``; every other stage depends on its
own plan file instead of on ``params.yaml``, so DVC re-runs exactly the stages whose resolved inputs
changed (``-S align=true`` re-runs only the arms that inherit ``align``).

**Seeds.** ``seeds`` (default ``[0]``) lists the training seeds; ``dvc.yaml``'s ``train``, ``score``
and ``evaluate`` stages are a DVC ``matrix`` over ``arms`` x ``seeds`` (stage ``train@main-0``), and
the plan writes one document per pair, ``arms/<arm>/s<seed>.json``. An arm may restrict itself to a
subset (``arms.<arm>.seeds``); DVC still sees the pairs it skips, so their documents say
``{"skipped": ...}`` and the stages write a small skip record instead of training (see
:func:`arm_plan_docs`). ``-S 'seeds=[0,1]'`` adds only the new pairs' documents: the existing ones,
and so their stages, are unchanged.

**Scoring-only arms.** An arm ``{backbone: "aasist:<path>", regime: published}`` trains nothing: it
scores the published AASIST (Jung et al., ICASSP 2022) as it is. It has no training seed, so it runs
with the first top-level seed only (its other pairs are skipped as above), and none of the training
toggles or sections apply to it (its resolved config carries their defaults, so ``-S align=...`` or
``-S train.lr=...`` leave it cached). Its plan document records the SHA-256 of the weights and config
(:func:`sdd.models.published_spec.published_record`), checked at plan time, so other weights re-run its
stages and missing ones stop the plan with the command that fetches them.

This module only assembles: each section's type lives beside the code that reads it
(:mod:`sdd.models.params`, :mod:`sdd.train.params`, :mod:`sdd.augment.params`, :mod:`sdd.core.sections`, the
corpus recipes of :mod:`sdd.data.corpora`), and nothing below imports this module.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sdd.augment.params import AugmentParams
from sdd.core.configbase import ConfigError, build, to_dict
from sdd.core.plandocs import (
    AuditPlan,
    AugmentPlan,
    BaselinePlan,
    EvalSet,
    EvaluatePlan,
    FetchPlan,
    PreparePlan,
    ReportPlan,
    ScorePlan,
    SkippedPair,
    plan_dict,
)
from sdd.core.sections import (
    PUBLISHED_REGIME,
    AuditParams,
    BaselineParams,
    EvaluateParams,
    PrepareParams,
    ReportParams,
    ScoreParams,
    TrackingParams,
)
from sdd.data.corpora import CorpusConfig, corpus_splits, parse_corpus
from sdd.models.params import PRETRAINED, TINY_PRESETS, ModelParams, check_backbone_name, check_layer_counts
from sdd.models.published_spec import PublishedRecord, published_record
from sdd.pretrain.params import OBJECTIVES, PRETRAIN_INITS, PretrainParams, PretrainPlan
from sdd.probing.params import (
    BACKBONE_SOURCES,
    ExtractPlan,
    ExtractSettings,
    ProbeParams,
    ProbePlan,
    ProbeSettings,
)
from sdd.train.params import (
    PUBLISHED_KINDS,
    AlignerParams,
    ArmConfig,
    ArmSeedPlan,
    PartialPlan,
    TrainParams,
    check_regime,
    normalize_align,
    published_kind,
)

__all__ = [
    "ArmOverrides",
    "LoadedParams",
    "arm_plan_docs",
    "Params",
    "eval_set_id",
    "is_scoring_only",
    "load_params",
    "make_plan",
    "partial_arm",
    "plan_documents",
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
    seeds: tuple[int, ...] | None = None  # a subset of the top-level `seeds` (see the module docstring)
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
    regime: str
    corpora: dict[str, dict[str, Any]]
    arms: dict[str, ArmOverrides]
    seeds: tuple[int, ...] = (0,)  # TRAINING seeds; corpora and augmentation have their own
    prepare: PrepareParams = field(default_factory=PrepareParams)
    augment: dict[str, Any] = field(default_factory=dict)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    aligner: AlignerParams = field(default_factory=AlignerParams)
    score: ScoreParams = field(default_factory=ScoreParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    baseline: BaselineParams = field(default_factory=BaselineParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    audit: AuditParams = field(default_factory=AuditParams)
    report: ReportParams = field(default_factory=ReportParams)
    pretrain: PretrainParams = field(default_factory=PretrainParams)
    probe: ProbeParams = field(default_factory=ProbeParams)


#: Arm and corpus names become path components (``data/plan/arms/<arm>.json``, ``data/raw/<corpus>``)
#: and DVC stage names (``train@<arm>``): letters, digits, ``_``, ``-`` and ``.``, not starting with ``.``.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _check_names(names: object, section: str) -> None:
    for name in names:  # type: ignore[attr-defined]
        if not SAFE_NAME.match(name):
            raise ConfigError(
                f"{section}: name {name!r} is not a safe path component; expected 1-64 letters, digits, "
                "'_', '-' or '.', starting with a letter or digit (it names files and DVC stages)"
            )


#: Top-level keys of reports/metrics.json next to the arms: no arm may take these names.
RESERVED_ARM_NAMES = ("probing", "pretrain", "partial", *BACKBONE_SOURCES, PRETRAINED)


#: How to add the published AASIST as an arm (the README's documented `-S`).
AASIST_ARM_HINT = """-S '+arms.aasist={backbone: "aasist:data/published/aasist", regime: published}'"""


def _check_backbone(value: str, where: str) -> str:
    if value == PRETRAINED:  # the pretrain stage's output; it does not exist at plan time
        return value
    if published_kind(value):
        raise ConfigError(
            f"{where}: got {value!r}, a published model that is scored, not trained; it can only be an "
            f"arm's backbone, with regime '{PUBLISHED_REGIME}': e.g. {AASIST_ARM_HINT}"
        )
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


def _build_arm_section(cls, merged: dict[str, Any], overrides: dict[str, Any], section: str, where: str):
    """``build`` one section of an arm: the base section deep-merged with the arm's ``overrides``.
    A consistency check of the merged section (e.g. the arm's ``freeze_backbone_epochs`` against
    ``-S train.epochs=1``) names the arm and the keys it overrides, since the dataclass's own message
    names only the section."""
    try:
        return build(cls, merged, f"{where}.{section}" if overrides else section)
    except ConfigError as exc:
        if not overrides or str(exc).startswith(where):
            raise
        raise ConfigError(
            f"{where} (its {section} overrides {sorted(overrides)} on the base {section}): {exc}"
        ) from exc


def resolve_arm(raw: dict[str, Any], params: Params, name: str, seed: int | None = None) -> ArmConfig:
    """Resolve arm ``name`` for one training seed (default: its first): the base toggles and sections,
    then the arm's overrides."""
    ov = params.arms[name]
    where = f"arms.{name}"
    if is_scoring_only(params, name):
        return _scoring_only_arm(params, name, seed)
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
        if published_kind(backbone):
            raise ConfigError(
                f"{where}.backbone: got {backbone!r}, a published model that is scored, not trained; it "
                f"needs regime '{PUBLISHED_REGIME}' (got {regime!r}"
                + (f" from {where}.regime" if ov.regime is not None
                   else ", inherited from the top-level regime")
                + f"): add `regime: {PUBLISHED_REGIME}` to arms.{name}"
            )
        _check_backbone(backbone, f"{where}.backbone")
    lora = ov.lora if ov.lora is not None else params.lora
    if lora and "finetune" not in ov.model:
        model["finetune"] = "lora"  # the toggle switches the arm to LoRA (design.md)
    model_params = _build_arm_section(ModelParams, model, ov.model, "model", where)
    # other backbones are checked when they are loaded
    if backbone in TINY_PRESETS or (backbone == PRETRAINED and params.pretrain.init in PRETRAIN_INITS):
        try:
            check_layer_counts(model_params, model_params.tiny.num_layers)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    train_params = _build_arm_section(TrainParams, train, ov.train, "train", where)
    if model_params.finetune == "lora" and train_params.lora_lr is not None:
        # A LoRA run trains at train.lora_lr; the resolved config names the rate it uses.
        try:
            train_params = dataclasses.replace(train_params, lr=train_params.lora_lr)
        except ConfigError as exc:
            raise ConfigError(f"{where}.train (lr = lora_lr {train_params.lora_lr}): {exc}") from exc
    return ArmConfig(
        name=name,
        corpus=params.corpus,
        backbone=backbone,
        regime=regime,  # type: ignore[arg-type]
        align=align,  # type: ignore[arg-type]
        lora=lora,
        seed=arm_seeds(params, name)[0] if seed is None else seed,
        model=model_params,
        train=train_params,
        # ArmConfig resolves it for its method (the one place: sdd.train.params.resolve_aligner)
        aligner=_build_arm_section(AlignerParams, aligner, ov.aligner, "aligner", where),
    )


def is_scoring_only(params: Params, name: str) -> bool:
    """Whether arm ``name`` has regime ``published`` (its own or the top-level one): it scores a
    published model and trains nothing (module docstring)."""
    ov = params.arms[name]
    return (ov.regime if ov.regime is not None else params.regime) == PUBLISHED_REGIME


# What a scoring-only arm may still say: the toggles pinned off (fixed arms pin what they are about).
_SCORING_ONLY_PINS = {"align": (False, "none"), "lora": (False,)}


def _scoring_only_arm(params: Params, name: str, seed: int | None) -> ArmConfig:
    """A ``published``-regime arm: its published backbone spec, nothing to train. Every training toggle
    and section is left at its default, so base changes (``-S align=gr``, ``-S train.lr=...``) do not
    touch its plan document; setting one on the arm itself is an error."""
    ov = params.arms[name]
    where = f"arms.{name}"
    backbone = ov.backbone if ov.backbone is not None else params.backbone
    if not published_kind(backbone):
        forms = " or ".join(f"'{k}:<path>'" for k in PUBLISHED_KINDS)
        if ov.regime is None:
            raise ConfigError(
                f"regime: got '{PUBLISHED_REGIME}' at the top level, which {where} inherits, but its "
                f"backbone is {backbone!r}; the scoring-only regime needs a published model's backbone "
                f"({forms}). "
                f"Set {where}.backbone to one, or add the published AASIST as an arm of its own: "
                f"{AASIST_ARM_HINT}"
            )
        source = f"{where}.backbone" if ov.backbone is not None else "the top-level backbone"
        raise ConfigError(
            f"{where}.regime: got '{PUBLISHED_REGIME}' (scoring-only: published weights, no training), "
            f"which needs a published model's backbone ({forms}, e.g. 'aasist:data/published/aasist'); "
            f"got {backbone!r} from {source}"
        )
    if not backbone.partition(":")[2]:
        raise ConfigError(f"{where}.backbone: got {backbone!r}; expected a path after the ':', "
                          "e.g. 'aasist:data/published/aasist'")
    for key in ("align", "lora"):
        value = getattr(ov, key)
        pinned_off = any(value == ok and type(value) is type(ok) for ok in _SCORING_ONLY_PINS[key])
        if value is not None and not pinned_off:
            raise ConfigError(
                f"{where}.{key}: got {value!r}; a scoring-only arm (regime '{PUBLISHED_REGIME}') trains "
                f"nothing, so expected false or no `{key}` at all"
            )
    for key in ("model", "train", "aligner"):
        if getattr(ov, key):
            raise ConfigError(
                f"{where}.{key}: got {getattr(ov, key)!r}; a scoring-only arm (regime '{PUBLISHED_REGIME}') "
                f"trains nothing, so expected no `{key}` section (the published model is scored as it is)"
            )
    return ArmConfig(
        name=name,
        corpus=params.corpus,  # its dev split calibrates the scores (evaluate stage)
        backbone=backbone,
        regime=PUBLISHED_REGIME,  # type: ignore[arg-type]
        align="none",
        lora=False,
        seed=arm_seeds(params, name)[0] if seed is None else seed,
        model=ModelParams(),
        train=TrainParams(),
    )


def arm_seeds(params: Params, name: str) -> tuple[int, ...]:
    """The training seeds of arm ``name``: its own ``seeds`` or the top-level ones. A scoring-only arm
    has no training seed: it runs once, with its own seed or the first top-level one."""
    own = params.arms[name].seeds
    if own is None and is_scoring_only(params, name):
        return params.seeds[:1]
    return params.seeds if own is None else own


def _check_seeds(params: Params) -> None:
    def check(seeds: tuple[int, ...], where: str) -> None:
        if not seeds:
            raise ConfigError(f"{where}: got an empty list; expected at least one training seed, e.g. [0]")
        if len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ConfigError(f"{where}: got {list(seeds)}; expected distinct non-negative integers")

    check(params.seeds, "seeds")
    for name, ov in params.arms.items():
        if ov.seeds is None:
            continue
        check(ov.seeds, f"arms.{name}.seeds")
        if len(ov.seeds) > 1 and is_scoring_only(params, name):
            raise ConfigError(
                f"arms.{name}.seeds: got {list(ov.seeds)}; a scoring-only arm (regime '{PUBLISHED_REGIME}') "
                f"has no training seed and runs once: give one seed, or none (it then runs with the first "
                f"top-level seed, {params.seeds[0]})"
            )
        extra = sorted(set(ov.seeds) - set(params.seeds))
        if extra:
            raise ConfigError(
                f"arms.{name}.seeds: {extra} not in the top-level seeds {list(params.seeds)}; dvc.yaml "
                "expands arms x seeds, so an arm can only use a subset (add them to `seeds`)"
            )


# Keys that were renamed; their old spelling gets an error that says what to write instead.
_RENAMED = {"seed": "seeds: a list of training seeds, e.g. -S 'seeds=[1]' (or [0,1,2] for three)"}


def _check_renamed(raw: dict[str, Any]) -> None:
    arms = raw.get("arms") or {}
    places = [("", raw)] + [(f"arms.{n}.", a) for n, a in arms.items() if isinstance(a, dict)]
    for prefix, node in places:
        for old, new in _RENAMED.items():
            if old in node:
                raise ConfigError(f"{prefix}{old}: this key was replaced by {prefix}{new}")


def partial_arm(params: Params, main: ArmConfig, k: int) -> ArmConfig:
    """`main` on the backbone cut to its first ``k`` layers (``model.layers: k``), named
    ``partial_<k>``, trained for ``probe.partial_epochs`` epochs when set: one point of the curve."""
    model = to_dict(main.model) | {"layers": k}
    epochs = params.probe.partial_epochs
    train = to_dict(main.train) | ({"epochs": epochs} if epochs else {})
    model_params = build(ModelParams, model, f"probe.partial_layers[{k}]")
    tiny_pretrained = main.backbone == PRETRAINED and params.pretrain.init in PRETRAIN_INITS
    if main.backbone in TINY_PRESETS or tiny_pretrained:
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
    _check_renamed(raw)
    params = build(Params, raw, "")
    _check_seeds(params)
    # Sub-validations that need more than types.
    normalize_align(params.align, "align")
    check_regime(params.regime, "regime")
    _check_backbone(params.backbone, "backbone")
    if not params.arms:
        raise ConfigError("arms: got an empty mapping; expected at least one arm (e.g. `main: {}`)")
    _check_names(params.arms, "arms")
    _check_names(params.corpora, "corpora")
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
    if params.report.reference not in arms:
        raise ConfigError(
            f"report.reference: got {params.report.reference!r}; expected one of the arms {sorted(arms)} "
            "(every other arm is compared with it)"
        )
    trained = sorted(a for a in arms if arms[a].regime != PUBLISHED_REGIME)
    for name in params.probe.models:
        if name not in BACKBONE_SOURCES and name not in arms:
            raise ConfigError(f"probe.models: got {name!r}; expected {list(BACKBONE_SOURCES)} or an arm name "
                              f"({sorted(arms)})")
        if name in arms and name not in trained:
            raise ConfigError(
                f"probe.models: got {name!r}, a scoring-only arm (regime '{PUBLISHED_REGIME}'), whose "
                f"layers the probes cannot read; expected {list(BACKBONE_SOURCES)} or a trained arm "
                f"({trained})"
            )
    if params.probe.partial_layers:
        if "main" not in arms:
            raise ConfigError("probe.partial_layers: the partial-model curve retrains `main`; no arm `main`")
        if "main" not in trained:
            raise ConfigError(
                f"probe.partial_layers: the partial-model curve retrains `main`, which is scoring-only "
                f"(regime '{PUBLISHED_REGIME}'); expected [] (the default) with a scoring-only `main`"
            )
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
    resolved inputs do. Each is built as its type (:mod:`sdd.core.plandocs` and the packages'
    ``params`` modules), the type its stage reads back with :func:`sdd.core.stage.read_plan`, and
    written with :func:`~sdd.core.plandocs.plan_dict`.
    """
    return {rel: plan_dict(doc) for rel, doc in plan_documents(loaded).items()}


def plan_documents(loaded: LoadedParams) -> dict[str, Any]:
    """The plan documents as their types: ``{relative path under data/plan: document}``."""
    p = loaded.params
    corpora = {name: {"name": name, **to_dict(cfg)} for name, cfg in loaded.corpora.items()}
    eval_sets = tuple(
        EvalSet(corpus=c, split=s, id=eval_set_id(c, s), name=f"{c}:{s}") for c, s in loaded.eval_sets
    )
    augment = to_dict(loaded.augment)
    docs: dict[str, Any] = {
        "fetch.json": FetchPlan(corpora=corpora),
        "prepare.json": PreparePlan(corpora=corpora, prepare=p.prepare, train_corpus=p.corpus,
                                    eval_sets=eval_sets),
        "augment.json": AugmentPlan(corpus=p.corpus, augment=augment),
        "baseline.json": BaselinePlan(corpus=p.corpus, eval_sets=eval_sets, baseline=p.baseline),
        "score.json": ScorePlan(eval_sets=eval_sets, score=p.score),
        "evaluate.json": EvaluatePlan(eval_sets=eval_sets, evaluate=p.evaluate, tracking=p.tracking),
        "audit.json": AuditPlan(corpus=p.corpus, eval_sets=eval_sets, audit=p.audit),
        "report.json": ReportPlan(
            arms={name: arm_seeds(p, name) for name in loaded.arms},
            order=tuple(loaded.arms),  # params.yaml's order (the JSON's keys are sorted)
            # each arm's resolved config without its seed, and what else its scores depend on: the
            # report keys MLflow runs and identifies systems across experiments by them
            configs={name: {k: v for k, v in to_dict(arm).items() if k != "seed"}
                     for name, arm in loaded.arms.items()},
            upstream={"corpus": corpora[p.corpus], "augment": augment, "score": to_dict(p.score)},
            seeds=p.seeds,
            eval_sets=eval_sets,
            corpus=p.corpus,
            augment=augment,
            report=p.report,
            tracking=p.tracking,
            probe_models=p.probe.models,
        ),
    }
    docs.update(arm_plan_docs(loaded))
    # The pretrain stage reads only what its outputs depend on: with any backbone but `pretrained` it
    # writes two small records, so the pretrain section and the training seed stay out of its plan;
    # with it, the other objective's subsection stays out (changing it re-runs nothing).
    pretrained = p.backbone == PRETRAINED
    unused = [o for o in OBJECTIVES if o != p.pretrain.objective]
    docs["pretrain.json"] = PretrainPlan(
        backbone=p.backbone,
        corpus=p.corpus,
        tiny=p.model.tiny,
        pretrain={k: v for k, v in to_dict(p.pretrain).items() if k not in unused} if pretrained else None,
        seed=p.pretrain.seed if pretrained else p.seeds[0],
    )
    probe = p.probe
    docs["extract.json"] = ExtractPlan(
        eval_sets=eval_sets,
        normalize_input=p.model.normalize_input,
        extract=ExtractSettings(num_samples=probe.num_samples, batch_size=probe.batch_size,
                                threads=probe.threads),
    )
    docs["probe.json"] = ProbePlan(
        eval_sets=eval_sets,
        probe=ProbeSettings(l2_grid=probe.l2_grid, kinds=probe.kinds, n_resamples=probe.n_resamples,
                            seed=probe.seed),
    )
    docs["partial.json"] = PartialPlan(
        eval_sets=eval_sets,
        score=p.score,
        evaluate=p.evaluate,
        arms=tuple(partial_arm(p, loaded.arms["main"], k) for k in p.probe.partial_layers),
    )
    return docs


def arm_plan_docs(loaded: LoadedParams) -> dict[str, Any]:
    """``{"arms/<arm>/s<seed>.json": document}`` for every arm and top-level seed (the DVC matrix).

    A pair the arm trains is an :class:`~sdd.train.params.ArmSeedPlan` (the resolved arm with that
    seed, and the MLflow experiment); a pair outside the arm's own ``seeds`` is a
    :class:`~sdd.core.plandocs.SkippedPair` (why, the arm's name, the seed), and its stages write skip
    records (the report leaves them out). A pair's document depends on nothing but that arm's
    resolved config and its seed, so adding a seed leaves every other document, and stage, alone.

    A scoring-only arm's document also holds ``published``: its weight files and their SHA-256
    (:func:`sdd.models.published_spec.published_record`), so changed weights re-run its stages. This
    reads and hashes the files: missing weights raise :class:`ConfigError` naming the path and the
    fetch command, here in the plan stage, before any heavy work.
    """
    p = loaded.params
    docs: dict[str, Any] = {}
    for name, arm in loaded.arms.items():
        own = arm_seeds(p, name)
        scoring_only = arm.regime == PUBLISHED_REGIME
        weights = _published_files(name, arm.backbone) if scoring_only else None
        for seed in p.seeds:
            key = f"arms/{name}/s{seed}.json"
            if seed in own:
                docs[key] = ArmSeedPlan(arm=dataclasses.replace(arm, seed=seed), tracking=p.tracking,
                                        published=weights)
            elif scoring_only and p.arms[name].seeds is None:
                why = (f"arms.{name} is scoring-only (regime {PUBLISHED_REGIME}): it has no training seed "
                       f"and runs once, with the first top-level seed ({own[0]})")
                docs[key] = SkippedPair(skipped=why, arm=name, seed=seed)
            else:
                docs[key] = SkippedPair(skipped=f"arms.{name}.seeds is {list(own)}", arm=name, seed=seed)
    return docs


def _published_files(name: str, spec: str) -> PublishedRecord:
    try:
        return build(PublishedRecord, published_record(spec), "published")
    except ConfigError as exc:
        raise ConfigError(f"arms.{name}.backbone: {exc}") from exc
