"""Resumable training checkpoints, outside DVC's outputs.

DVC deletes a stage's declared outputs before it runs it, so a killed ``train@<arm>`` keeps its
checkpoints in ``<root>/<arm>-<plan hash>/`` (the stage passes ``.sdd/checkpoints``, gitignored and
dvcignored). The folder is keyed by a hash of the arm's resolved config: a changed config never
resumes from another config's state, and an identical one (another clone's queued experiment
included) resumes from a run that is bit-identical to its own. Files:

- ``state.pt``: model, optimizer and aligner state, the position (next epoch and batch, optimizer
  steps), selection and non-finite counters, and the telemetry and epoch rows so far;
- ``best-e<epoch>.pt``: the states of the k best epochs so far (written once each);
- ``progress.json``: the position, for humans and tests.

Every file is written atomically (:mod:`sdd.atomic`): a kill leaves the previous checkpoint intact.
Only rank 0 writes; every rank reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from sdd import atomic

log = logging.getLogger(__name__)

__all__ = ["Checkpoints", "run_key"]

STATE, PROGRESS = "state.pt", "progress.json"


def run_key(arm_dict: dict[str, Any]) -> str:
    """``<arm>-<first 16 hex digits of the SHA-256 of the arm's canonical JSON>``."""
    blob = json.dumps(arm_dict, sort_keys=True, separators=(",", ":")).encode()
    return f"{arm_dict['name']}-{hashlib.sha256(blob).hexdigest()[:16]}"


def _save(obj: Any, path: Path) -> None:
    with atomic.atomic_path(path) as tmp:
        torch.save(obj, tmp)


class Checkpoints:
    """The checkpoint folder of one run (``folder=None``: checkpointing off)."""

    def __init__(self, folder: Path | None, writer: bool = True) -> None:
        self.folder, self.writer = folder, writer

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def load(self) -> tuple[dict[str, Any], dict[int, dict[str, torch.Tensor]]] | None:
        """The last state and the best epochs' states it references, or None to start fresh."""
        if self.folder is None or not (self.folder / STATE).is_file():
            return None
        state = torch.load(self.folder / STATE, map_location="cpu", weights_only=False)
        best = {e: torch.load(self.folder / f"best-e{e}.pt", map_location="cpu", weights_only=True)
                for e in state["selection"]["ranked_epochs"]}
        return state, best

    def save(self, state: dict[str, Any], best: dict[int, dict[str, torch.Tensor]]) -> None:
        """Write the best states not yet on disk, then the state (which references them), then drop
        best files no longer referenced."""
        if self.folder is None or not self.writer:
            return
        for epoch, sd in best.items():
            path = self.folder / f"best-e{epoch}.pt"
            if not path.is_file():
                _save(sd, path)
        _save(state, self.folder / STATE)
        atomic.write_json(self.folder / PROGRESS, state["position"])
        keep = {f"best-e{e}.pt" for e in best}
        for path in self.folder.glob("best-e*.pt"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the folder (after the final model is written)."""
        if self.folder is not None and self.writer:
            shutil.rmtree(self.folder, ignore_errors=True)
