"""Arm resolution: the base toggles and sections plus one arm's overrides -> its
:class:`~sdd.train.params.ArmConfig`.

:func:`resolve_arm` deep-merges the arm's ``model``/``train``/``aligner`` overrides into the base
sections and checks the result (the messages name the arm and the keys it overrides); scoring-only
arms (regime ``published``) keep every training section at its default (:func:`is_scoring_only`);
:func:`arm_seeds` says which training seeds an arm runs, :func:`fusion_row` which runs a fused system
of the report combines, and :func:`partial_arm` cuts ``main`` to k layers for the partial-model curve.
:func:`check_backbone` is the one check of a ``backbone`` value (the name registry is
:mod:`sdd.models.params`).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from sdd.core.configbase import ConfigError, build, to_dict
from sdd.core.sections import PUBLISHED_REGIME
from sdd.models.params import PRETRAINED, TINY_PRESETS, ModelParams, check_backbone_name, check_layer_counts
from sdd.plan.schema import Params
from sdd.pretrain.params import PRETRAIN_INITS
from sdd.report.params import FusionRow
from sdd.train.params import (
    PUBLISHED_KINDS,
    AlignerParams,
    ArmConfig,
    TrainParams,
    check_regime,
    normalize_align,
    published_kind,
)

__all__ = [
    "AASIST_ARM_HINT",
    "arm_seeds",
    "check_backbone",
    "fusion_row",
    "is_scoring_only",
    "partial_arm",
    "resolve_arm",
]


#: How to add the published AASIST as an arm (the README's documented `-S`).
AASIST_ARM_HINT = """-S '+arms.aasist={backbone: "aasist:data/published/aasist", regime: published}'"""


def check_backbone(value: str, where: str) -> str:
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
        check_backbone(backbone, f"{where}.backbone")
    lora = ov.lora if ov.lora is not None else params.lora
    if lora and "finetune" not in ov.model:
        model["finetune"] = "lora"  # the toggle switches the arm to LoRA (design.md)
    model_params = _build_arm_section(ModelParams, model, ov.model, "model", where)
    if lora != (model_params.finetune == "lora"):
        # One spelling: the toggle decides LoRA and the resolved model section records it.
        raise ConfigError(
            f"{where}: lora={str(lora).lower()} but model.finetune={model_params.finetune!r}; "
            "LoRA is switched with the `lora` toggle (lora: true, or -S lora=true), which sets "
            "model.finetune to 'lora'"
        )
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
    # lora_lr is consumed here (the resolved `lr` is the rate the arm trains at): the arm's plan, which
    # its train stage depends on, drops it, so changing train.lora_lr retrains the LoRA arms alone.
    train_params = dataclasses.replace(train_params, lora_lr=None)
    return ArmConfig(
        name=name,
        corpus=params.corpus,
        backbone=backbone,
        regime=regime,  # type: ignore[arg-type]
        align=align,  # type: ignore[arg-type]
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


def fusion_row(params: Params, row: tuple[str, ...], where: str) -> FusionRow:
    """A ``report.fusion`` row resolved: per fused seed, the run of each arm it fuses. The trained arms
    fuse seed by seed (the seeds they all run); a scoring-only arm has one run, which joins every
    fused seed; a row of scoring-only arms alone has one seed, the first arm's.

    Raises:
        ConfigError: an unknown arm, a name taken by an arm, or trained arms with no seed in common.
    """
    unknown = [a for a in row if a not in params.arms]
    if unknown:
        raise ConfigError(
            f"{where}: got {list(row)}; {unknown} {'is not an arm' if len(unknown) == 1 else 'are not arms'}"
            f"; expected names from {sorted(params.arms)}"
        )
    name = "+".join(row)
    if name in params.arms:
        raise ConfigError(f"{where}: the fused system's name {name!r} is an arm's; rename that arm")
    fixed = {a: arm_seeds(params, a)[0] for a in row if is_scoring_only(params, a)}
    trained = [a for a in row if a not in fixed]
    if trained:
        common = set.intersection(*(set(arm_seeds(params, a)) for a in trained))
        seeds = tuple(s for s in arm_seeds(params, trained[0]) if s in common)
        if not seeds:
            raise ConfigError(
                f"{where}: got {list(row)}, whose trained arms run no seed in common ("
                + "; ".join(f"{a}: {list(arm_seeds(params, a))}" for a in trained)
                + "); a fused system fuses the runs of one seed"
            )
    else:
        seeds = (fixed[row[0]],)
    return FusionRow(name=name, arms=tuple(row), seeds=seeds, fixed=fixed)



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
