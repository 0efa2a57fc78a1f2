"""Named presets: ``preset: <name>`` in ``params.yaml`` applies ``presets/<name>.yaml`` before validation.

A preset is a paper's recipe kept in the repo (``presets/<name>.yaml``, a dependency of the ``plan``
stage): a partial ``params.yaml``. ``dvc exp run -S preset=dpda_pcgrad`` selects one. DVC's ``-S``
edits ``params.yaml`` itself, so the plan cannot tell a value a user set with ``-S`` from a default;
hence the rules:

- the preset's values **replace** those of ``params.yaml`` for the keys it sets: mappings merge key by
  key, any other value (a number, a string, a list) replaces, and ``arms`` is replaced as a whole (a
  paper's recipe is one arm; the default arms are the demo's references);
- :func:`apply_preset` logs each key whose value the preset replaced, with both values;
- a user changes a preset's value through ``preset_overrides``, merged last by the same rules
  (``-S +preset_overrides.train.lr=2e-6``: the ``+`` because the key is new to ``params.yaml``);
- an unknown name is one line naming the names there are; ``preset: null`` (the default) changes
  nothing, and then ``preset_overrides`` must be empty.

``dvc.yaml`` reads a few keys of ``params.yaml`` itself, before the plan runs: ``corpus`` (manifest
paths), ``seeds`` and ``arms`` (the train/score/evaluate matrix) and ``probe.models`` (the extract/probe
stages). A preset cannot change what DVC has already read, so: a preset (or its overrides) whose
``corpus``, ``seeds`` or ``probe.models`` differs from ``params.yaml``'s stops the plan with the ``-S``
to add (:data:`DVC_READS`); a preset's ``arms`` must be arms of ``params.yaml``, and the plan writes a
skip document for every other arm of ``params.yaml`` (:func:`sdd.plan.documents.arm_plan_docs`), whose
stages then write skip records.

The mapping of each preset to its paper, and the authors' settings it deliberately does not follow, are
in ``presets/checks/differences.yaml`` (checked by ``tests/config/test_presets_authors.py``).
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

from sdd.core.configbase import ConfigError
from sdd.core.paths import display_path
from sdd.core.yamlfile import read_yaml

__all__ = [
    "DVC_READS",
    "PRESET_KEYS",
    "WHOLE_KEYS",
    "Replacement",
    "apply_preset",
    "merge_preset",
    "preset_names",
]

log = logging.getLogger(__name__)

#: The two top-level keys of params.yaml that select and adjust a preset.
PRESET_KEYS = ("preset", "preset_overrides")
#: Top-level keys a preset (or preset_overrides) replaces as a whole instead of merging key by key.
WHOLE_KEYS = ("arms",)
#: Keys dvc.yaml interpolates from params.yaml (``${corpus}``, the ``${seeds}`` matrix, ``${probe.models}``)
#: before the plan runs: a preset must agree with params.yaml on them (``arms``: see the module docstring).
DVC_READS = {
    "corpus": "data/manifests/${corpus}/",
    "seeds": "the train/score/evaluate matrix over ${seeds}",
    "probe.models": "the extract/probe stages over ${probe.models}",
}

_ABSENT = object()

#: (dotted key, the value before, the value after); the value before may be ``_ABSENT``.
Replacement = tuple[str, Any, Any]


def preset_names(presets_dir: Path) -> list[str]:
    """The preset names in ``presets_dir`` (``<name>.yaml`` files directly in it), sorted."""
    if not presets_dir.is_dir():
        return []
    return sorted(p.stem for p in presets_dir.glob("*.yaml") if p.is_file())


def _leaves(tree: dict[str, Any], prefix: str, top: bool) -> list[tuple[str, Any]]:
    out = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and not (top and key in WHOLE_KEYS):
            out.extend(_leaves(value, f"{dotted}.", False))
        else:
            out.append((dotted, value))
    return out


def _get(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return _ABSENT
        tree = tree[part]
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any], top: bool) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not (top and key in WHOLE_KEYS):
            out[key] = _merge(out[key], value, False)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_preset(base: dict[str, Any], over: dict[str, Any]) -> tuple[dict[str, Any], list[Replacement]]:
    """``base`` with ``over`` merged in by the preset rules (module docstring), and the keys whose value
    changed: ``(dotted key, before, after)``, before = ``None`` when the key was absent."""
    changed = []
    for dotted, new in _leaves(over, "", True):
        old = _get(base, dotted)
        if old is _ABSENT or old != new:
            changed.append((dotted, None if old is _ABSENT else old, new))
    return _merge(base, over, True), changed


def _read_preset(path: Path, name: str) -> dict[str, Any]:
    try:
        data = read_yaml(path)
    except OSError as exc:
        raise ConfigError(f"preset: cannot read {path} ({exc.strerror or exc})") from exc
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            f"preset {name!r}: {path} holds {type(data).__name__}; expected a mapping of params.yaml keys"
        )
    own = sorted(set(data) & set(PRESET_KEYS))
    if own:
        raise ConfigError(f"preset {name!r}: {path} sets {own}; a preset cannot select or adjust a preset")
    return data


def apply_preset(raw: dict[str, Any], presets_dir: Path) -> tuple[dict[str, Any], list[Replacement]]:
    """``raw`` (a parsed params.yaml) with its ``preset`` and then its ``preset_overrides`` applied.

    Returns the merged mapping (``preset`` kept, ``preset_overrides`` emptied: it has been applied) and
    every replaced key, each logged with both values. Raises :class:`ConfigError` for an unknown name
    (one line listing the names), a bad preset file, or ``preset_overrides`` without a preset.
    """
    name = raw.get("preset")
    overrides = raw.get("preset_overrides")
    overrides = {} if overrides is None else overrides
    if not isinstance(overrides, dict):
        raise ConfigError(
            f"preset_overrides: got {overrides!r}; expected a mapping of params.yaml keys "
            "(e.g. -S +preset_overrides.train.lr=2e-6)"
        )
    if name is None:
        if overrides:
            raise ConfigError(
                f"preset_overrides: got {overrides!r} with preset: null; preset_overrides adjusts a preset "
                "(-S preset=<name>); without one, set the keys themselves (e.g. -S train.lr=2e-6)"
            )
        return raw, []
    names = preset_names(presets_dir)
    if not isinstance(name, str) or name not in names:
        raise ConfigError(
            f"preset: got {name!r}; expected null or one of {names} "
            f"(files {display_path(presets_dir)}/<name>.yaml)"
        )
    preset = _read_preset(presets_dir / f"{name}.yaml", name)
    base = {k: v for k, v in raw.items() if k not in PRESET_KEYS}
    merged, replaced = merge_preset(base, preset)
    for key, old, new in replaced:
        log.info(
            "preset %s replaces %s: %s (params.yaml) -> %s", name, key, _shown(key, old), _shown(key, new)
        )
    own = sorted(set(overrides) & set(PRESET_KEYS))
    if own:
        raise ConfigError(
            f"preset_overrides: sets {own}; expected params.yaml keys other than {list(PRESET_KEYS)}"
        )
    merged, adjusted = merge_preset(merged, overrides)
    for key, old, new in adjusted:
        log.info(
            "preset_overrides replaces %s: %s (preset %s) -> %s",
            key,
            _shown(key, old),
            name,
            _shown(key, new),
        )
    _check_dvc_reads(base, merged, name)
    return {**merged, "preset": name, "preset_overrides": {}}, replaced + adjusted


def _shown(key: str, value: Any) -> str:
    """A logged value: ``arms`` by its arm names (the mappings are long)."""
    if key in WHOLE_KEYS and isinstance(value, dict):
        return f"the arms {sorted(value)}"
    return repr(value)


def _check_dvc_reads(base: dict[str, Any], merged: dict[str, Any], name: str) -> None:
    """What dvc.yaml read from params.yaml must still hold after the preset (module docstring)."""
    for key, where in DVC_READS.items():
        before, after = _get(base, key), _get(merged, key)
        if before != after:
            value = after if isinstance(after, str) else json.dumps(after, separators=(",", ":"))
            raise ConfigError(
                f"preset {name!r} sets {key} to {value}, but params.yaml has {json.dumps(before)}, which "
                f"dvc.yaml reads before the plan runs ({where}); add -S '{key}={value}' to the same "
                "`dvc exp run`"
            )
    arms_before, arms_after = base.get("arms") or {}, merged.get("arms") or {}
    if isinstance(arms_after, dict) and isinstance(arms_before, dict):
        extra = sorted(set(arms_after) - set(arms_before))
        if extra:
            raise ConfigError(
                f"preset {name!r}: arms {extra} are not arms of params.yaml, whose arms dvc.yaml reads "
                f"before the plan runs (the train/score/evaluate matrix over ${{arms}}); expected arms "
                f"among {sorted(arms_before)}"
            )
