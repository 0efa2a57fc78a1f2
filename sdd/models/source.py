"""Where a backbone comes from: the ``pretrained`` name, backbone folders and their records.

The ``backbone`` toggle names a tiny preset, a Hugging Face id, a local ``save_pretrained`` folder, or
:data:`~sdd.models.params.PRETRAINED`: the output of the pretrain stage (``models/backbone``), which
pretrains the demo backbone self-supervised (:mod:`sdd.pretrain`). The pretrain stage always writes
two folders:

- ``models/backbone``: the backbone the arms start from. With ``backbone: pretrained`` it is a
  ``save_pretrained`` folder; otherwise it holds only :data:`RECORD` (the toggle's name and seed), so
  no weights are copied and no work is done.
- ``models/random``: the random-init control, the backbone's architecture with random weights: with
  pretraining from a tiny preset, a ``save_pretrained`` folder of the exact initialisation pretraining
  started from; otherwise a :data:`RECORD` (a seeded random init of the architecture).

A record is ``{"backbone": name, "init": "pretrained" | "random", "seed": int, "tiny": {...}}``;
:func:`backbone_from_folder` builds the module it describes. :func:`backbone_sha256` names a backbone by
its content (the training checkpoints are keyed by it: a re-pretrained ``models/backbone`` is another
backbone, even at the same path). Paths in this module are the caller's
(the stages get them from ``dvc.yaml``); the folder of :data:`PRETRAINED` is resolved against the
current directory, which is the DVC working copy, so queued experiments read their own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from sdd.core import atomic
from sdd.core.configbase import build
from sdd.core.paths import resolve
from sdd.models.backbone import TINY_BACKBONES, build_backbone
from sdd.models.params import PRETRAINED, TinyBackboneParams

log = logging.getLogger(__name__)

__all__ = [
    "PRETRAINED",
    "RECORD",
    "backbone_from_folder",
    "backbone_sha256",
    "folder_sha256",
    "is_record",
    "resolve_backbone",
    "write_record",
]

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


def folder_sha256(folder: Path) -> str:
    """SHA-256 over every file under ``folder``: its relative path, its size and its bytes, in sorted
    path order. Hidden files (an interrupted atomic write's ``.<name>.tmp<pid>``) are left out.

    Raises:
        FileNotFoundError: ``folder`` holds no file.
    """
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise FileNotFoundError(f"{folder}: no file to hash (an empty backbone folder)")
    digest = hashlib.sha256()
    for path in files:
        rel = path.relative_to(folder).as_posix().encode()
        digest.update(len(rel).to_bytes(8, "big") + rel + path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _hub_snapshot(name: str) -> Path | None:
    """The local snapshot folder ``from_pretrained(name)`` reads (revision ``main``), or None when
    ``name`` is not in the Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name, "config.json")
    return Path(cached).parent if isinstance(cached, str) else None


def backbone_sha256(name: str) -> str | None:
    """The content hash of the backbone ``name`` builds (:func:`sdd.models.backbone.build_backbone`).

    - a tiny preset: None (a seeded random init of ``model.tiny``: the arm's config already says it);
    - a local folder (``models/backbone``, a ``save_pretrained`` folder): :func:`folder_sha256`;
    - a hub id in the local cache: SHA-256 of the id, the snapshot's commit and each file's path and
      blob name (the hub names blobs by their content: SHA-256 for LFS files, the git SHA-1 otherwise),
      so multi-GB weights are not read again;
    - a hub id not cached: SHA-256 of ``hub:<id>@unresolved`` (call this after the backbone was
      loaded, which caches it).
    """
    if name in TINY_BACKBONES:
        return None
    local = resolve(name)
    if local.is_dir():
        return folder_sha256(local)
    snapshot = _hub_snapshot(name)
    if snapshot is None:
        log.warning("backbone %s: not in the Hugging Face cache; its checkpoints are keyed by the id alone",
                    name)
        return hashlib.sha256(f"hub:{name}@unresolved".encode()).hexdigest()
    lines = [f"hub:{name}@{snapshot.name}"]
    for path in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        blob = os.path.basename(os.path.realpath(path))
        lines.append(f"{path.relative_to(snapshot).as_posix()}\t{blob}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
