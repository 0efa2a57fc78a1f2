"""Where a backbone comes from: the ``pretrained`` name, backbone folders and their records.

The ``backbone`` toggle names a tiny preset, a Hugging Face id, a local ``save_pretrained`` folder, or
:data:`~sdd.pretrain.params.PRETRAINED`: the output of the pretrain stage (``models/backbone``), which
pretrains the demo backbone self-supervised (:mod:`sdd.pretrain`). The pretrain stage always writes
two folders:

- ``models/backbone``: the backbone the arms start from. With ``backbone: pretrained`` it is a
  ``save_pretrained`` folder; otherwise it holds only :data:`RECORD` (the toggle's name and seed), so
  no weights are copied and no work is done.
- ``models/random``: the random-init control, the backbone's architecture with random weights: with
  pretraining from a tiny preset, a ``save_pretrained`` folder of the exact initialisation pretraining
  started from; otherwise a :data:`RECORD` (a seeded random init of the architecture).

A record is ``{"backbone": name, "init": "pretrained" | "random", "seed": int, "tiny": {...}}``;
:func:`backbone_from_folder` builds the module it describes. Paths in this module are the caller's
(the stages get them from ``dvc.yaml``); the folder of :data:`PRETRAINED` is resolved against the
current directory, which is the DVC working copy, so queued experiments read their own.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from sdd import atomic
from sdd.configbase import build
from sdd.models.backbone import TINY_BACKBONES, build_backbone
from sdd.models.params import TinyBackboneParams
from sdd.paths import resolve
from sdd.pretrain.params import PRETRAINED

log = logging.getLogger(__name__)

__all__ = ["PRETRAINED", "RECORD", "backbone_from_folder", "is_record", "resolve_backbone", "write_record"]

#: The record file of a backbone folder without weights.
RECORD = "backbone.json"
_INITS = ("pretrained", "random")


def write_record(folder: Path, backbone: str, init: str, seed: int, tiny: dict[str, Any]) -> None:
    """Write ``folder/backbone.json`` (and nothing else) describing a backbone by name."""
    if init not in _INITS:
        raise ValueError(f"backbone record: init {init!r}; expected one of {_INITS}")
    if backbone == PRETRAINED:
        raise ValueError("backbone record: 'pretrained' names the pretrain stage's output, not a backbone")
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_json(folder / RECORD, {"backbone": backbone, "init": init, "seed": seed, "tiny": tiny})


def is_record(folder: Path) -> bool:
    """True when ``folder`` holds a record instead of weights."""
    return (folder / RECORD).is_file()


def _random_init(name: str, tiny: TinyBackboneParams, seed: int):
    """``name``'s architecture with random weights drawn after ``torch.manual_seed(seed)``."""
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(seed)
    if name in TINY_BACKBONES:
        return build_backbone(name, tiny)
    local = resolve(name)
    cfg = AutoConfig.from_pretrained(str(local) if local.is_dir() else name, trust_remote_code=False)
    log.info("backbone %s: random init of its architecture (%s), seed %d", name, cfg.model_type, seed)
    return AutoModel.from_config(cfg)


def backbone_from_folder(folder: Path):
    """The backbone a pretrain-stage folder describes (a ``transformers`` model, train mode).

    Args:
        folder: a folder holding :data:`RECORD` or a ``save_pretrained`` backbone.
    """
    from transformers import AutoModel

    if is_record(folder):
        rec = json.loads((folder / RECORD).read_text())
        tiny = build(TinyBackboneParams, rec["tiny"], f"{folder / RECORD}: tiny")
        if rec["init"] == "random":
            return _random_init(rec["backbone"], tiny, rec["seed"])
        torch.manual_seed(rec["seed"])  # tiny presets are random inits too: the arms' seed
        return build_backbone(rec["backbone"], tiny)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder}: neither {RECORD} nor a save_pretrained config.json; run the pretrain stage"
        )
    return AutoModel.from_pretrained(str(folder), trust_remote_code=False)


def resolve_backbone(name: str, backbone_dir: Path) -> str:
    """The name to build an arm's backbone from: ``name`` itself, or for :data:`PRETRAINED` the absolute
    path of the pretrain stage's folder (which must hold weights)."""
    if name != PRETRAINED:
        return name
    if is_record(backbone_dir) or not (backbone_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"{backbone_dir}: holds no pretrained weights (pretraining was skipped or has not run); "
            "run the pretrain stage with `backbone: pretrained`"
        )
    return str(backbone_dir.resolve())
