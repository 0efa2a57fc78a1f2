"""Validation of a whole ``params.yaml``: :func:`validate_params` (a parsed mapping) and
:func:`load_params` (a file) -> :class:`~sdd.plan.schema.LoadedParams`.

Unknown keys, wrong types and bad choices raise :class:`~sdd.core.configbase.ConfigError` naming the
key, the value and the allowed values; then the checks that need more than one section: safe names,
seeds, the training corpus's splits, the eval sets (``<corpus>:<split>``, never the training data),
reserved arm names, the report's reference arm and fused arms (``report.fusion``), the probed models and
the partial-model curve, and settings of each trained arm that contradict each other
(:mod:`sdd.plan.consistency`). Only the corpora in use are parsed deeply (a catalogue entry for a corpus
you have not downloaded must not stop the demo). Arms are resolved by :mod:`sdd.plan.arms`.
:func:`load_params` reads the file as DVC does (:mod:`sdd.core.yamlfile`: YAML 1.2 scalars, a key
written twice refused). A ``preset`` (and its ``preset_overrides``) is applied first
(:mod:`sdd.plan.presets`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sdd.augment.params import AugmentParams
from sdd.core.configbase import ConfigError, build
from sdd.core.paths import resolve
from sdd.core.sections import PUBLISHED_REGIME
from sdd.core.yamlfile import read_yaml
from sdd.data.corpora import corpus_splits, parse_corpus
from sdd.models.params import PRETRAINED
from sdd.plan.arms import check_backbone, fusion_row, is_scoring_only, partial_arm, resolve_arm
from sdd.plan.consistency import check_contradictions
from sdd.plan.presets import apply_preset
from sdd.plan.schema import LoadedParams, Params
from sdd.pretrain.params import PRETRAIN_INITS
from sdd.probing.params import BACKBONE_SOURCES
from sdd.train.params import check_regime, normalize_align

__all__ = [
    "RESERVED_ARM_NAMES",
    "SAFE_NAME",
    "load_params",
    "validate_params",
]


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



def validate_params(raw: dict[str, Any], presets_dir: Path | None = None) -> LoadedParams:
    """Validate a parsed ``params.yaml`` completely (no I/O beyond imports, and the preset file when
    ``preset`` names one: :mod:`sdd.plan.presets`, in ``presets_dir``, default ``<repo>/presets``)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"params.yaml: got {type(raw).__name__}; expected a mapping of keys")
    dvc_arms = tuple(raw["arms"]) if isinstance(raw.get("arms"), dict) else ()  # what dvc.yaml expands
    raw, _ = apply_preset(raw, presets_dir if presets_dir is not None else resolve("presets"))
    _check_renamed(raw)
    params = build(Params, raw, "")
    _check_seeds(params)
    # Sub-validations that need more than types.
    normalize_align(params.align, "align")
    check_regime(params.regime, "regime")
    check_backbone(params.backbone, "backbone")
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
        view = corpora[corpus].views.get(split)  # a split view: a subset of another split
        base = view.split if view is not None else split
        if corpus == params.corpus and base in ("train", "dev"):
            what = ("a view of " if view else "") + f"the training corpus's {base} split"
            raise ConfigError(
                f"eval_sets: {corpus}:{split} is {what}; evaluating on data "
                "used for training or model selection is not allowed"
            )
    augment = build(AugmentParams, params.augment, "augment")
    reserved = sorted(set(params.arms) & set(RESERVED_ARM_NAMES))
    if reserved:
        raise ConfigError(f"arms: {reserved} are reserved names (reports and model folders use them); "
                          "rename the arm")
    if params.pretrain.init not in PRETRAIN_INITS:
        check_backbone(params.pretrain.init, "pretrain.init")
    arms = {name: resolve_arm(raw, params, name) for name in params.arms}
    for name, arm in arms.items():
        if arm.regime != PUBLISHED_REGIME:  # a scoring-only arm trains nothing (default train section)
            own = {key: f"arms.{name}.train.{key}" for key in params.arms[name].train}
            check_contradictions(arm.train, params.score, own)
    if params.report.reference not in arms:
        raise ConfigError(
            f"report.reference: got {params.report.reference!r}; expected one of the arms {sorted(arms)} "
            "(every other arm is compared with it)"
        )
    for i, row in enumerate(params.report.fusion):
        fusion_row(params, row, f"report.fusion[{i}]")
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
        own = {key: f"arms.main.train.{key}" for key in params.arms["main"].train}
        if params.probe.partial_epochs is not None:
            own["epochs"] = "probe.partial_epochs"
        for k in params.probe.partial_layers:
            point = partial_arm(params, arms["main"], k)  # validates k against the backbone's layers
            check_contradictions(point.train, params.score, own, f"probe.partial_layers (k={k}): ")
    return LoadedParams(
        params=params, corpora=corpora, arms=arms, eval_sets=tuple(eval_sets), augment=augment,
        dvc_arms=tuple(a for a in dvc_arms if a not in arms),
    )


def load_params(path: str | Path = "params.yaml") -> LoadedParams:
    """Read and validate ``params.yaml``, parsed as DVC parses it (:func:`sdd.core.yamlfile.read_yaml`:
    YAML 1.2 scalars, a key written twice is an error; UTF-8 or UTF-16 with a byte-order mark)."""
    path = Path(path)
    try:
        raw = read_yaml(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read params ({exc.strerror or exc})") from exc
    # The presets beside this params.yaml (a queued experiment's temporary copy has its own).
    return validate_params(raw, path.resolve().parent / "presets")
