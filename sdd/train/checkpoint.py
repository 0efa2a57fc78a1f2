"""Resumable training checkpoints, outside DVC's outputs.

DVC deletes a stage's declared outputs before it runs it, so a killed ``train@<arm>`` keeps its
checkpoints in ``<root>/<arm>-<key>/`` (the stage passes ``.sdd/checkpoints``, gitignored and
dvcignored). The key (:func:`run_key`) hashes the arm's resolved config with its backbone named by
CONTENT (:func:`sdd.models.source.backbone_sha256`: the files of a local folder such as the pretrain
stage's ``models/backbone``, a hub snapshot's blobs; a tiny preset is its config): a changed config, or
a backbone pretrained again with other settings at the same path, never resumes from another run's
state, and an identical one (another clone's queued experiment included) resumes from a run that is
bit-identical to its own. The state also records the backbone's hash, and a state whose hash differs
from the run's is ignored with a warning (the run starts fresh and overwrites it). Files:

- ``state.pt``: model, optimizer and aligner state, the position (next epoch and batch, optimizer
  steps), selection and non-finite counters, the telemetry and epoch rows so far, and the backbone's
  content hash (``backbone_sha256``);
- ``best-e<epoch>.pt``: the states of the k best epochs so far (written once each);
- ``progress.json``: the position, for humans and tests.

Every file is written atomically (:mod:`sdd.core.atomic`): a kill leaves the previous checkpoint intact.
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

from sdd.core import atomic

log = logging.getLogger(__name__)

__all__ = ["Checkpoints", "run_key"]

STATE, PROGRESS = "state.pt", "progress.json"


def run_key(arm_dict: dict[str, Any], backbone_sha256: str | None = None) -> str:
    """``<arm>-<first 16 hex digits of the SHA-256 of the arm's canonical JSON>``.

    Args:
        arm_dict: the resolved arm config (``to_dict(arm)``).
        backbone_sha256: the content hash of the backbone the run starts from
            (:func:`sdd.models.source.backbone_sha256`; None for a tiny preset, which the config
            describes). When given it replaces the arm's ``backbone`` name or path in what is hashed:
            the key follows the backbone's bytes, not where they live.
    """
    if backbone_sha256 is not None:
        arm_dict = {**arm_dict, "backbone": f"sha256:{backbone_sha256}"}
    blob = json.dumps(arm_dict, sort_keys=True, separators=(",", ":")).encode()
    return f"{arm_dict['name']}-{hashlib.sha256(blob).hexdigest()[:16]}"


def _save(obj: Any, path: Path) -> None:
    with atomic.atomic_path(path) as tmp:
        torch.save(obj, tmp)


class Checkpoints:
    """The checkpoint folder of one run (``folder=None``: checkpointing off).

    Args:
        folder: ``<root>/<run_key>``, or None.
        writer: whether this process writes (rank 0); every rank reads.
        backbone_sha256: the content hash of the backbone the run starts from (None: a tiny preset),
            stored in every state and checked by :meth:`load`.
    """

    def __init__(self, folder: Path | None, writer: bool = True, backbone_sha256: str | None = None) -> None:
        self.folder, self.writer, self.backbone_sha256 = folder, writer, backbone_sha256
        self._stale = False  # the folder holds another backbone's state: cleared before the first save

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def load(self) -> tuple[dict[str, Any], dict[int, dict[str, torch.Tensor]]] | None:
        """The last state and the best epochs' states it references, or None to start fresh (no state,
        or a state of another backbone than this run's, which is then logged and replaced)."""
        if self.folder is None or not (self.folder / STATE).is_file():
            return None
        state = torch.load(self.folder / STATE, map_location="cpu", weights_only=True)
        saved = state.get("backbone_sha256")
        if saved != self.backbone_sha256:
            log.warning(
                "%s: checkpoint of another backbone (sha256 %s; this run starts from %s); not resuming "
                "from it: starting fresh, and the next checkpoint replaces it", self.folder, saved or "none",
                self.backbone_sha256 or "a tiny preset (none)",
            )
            self._stale = True
            return None
        best = {e: torch.load(self.folder / f"best-e{e}.pt", map_location="cpu", weights_only=True)
                for e in state["selection"]["ranked_epochs"]}
        return state, best

    def save(self, state: dict[str, Any], best: dict[int, dict[str, torch.Tensor]]) -> None:
        """Write the best states not yet on disk, then the state (which references them and names the
        backbone), then drop best files no longer referenced."""
        if self.folder is None or not self.writer:
            return
        if self._stale:  # another backbone's files: none of its best-e*.pt may pass for this run's
            # the state last: killed halfway, the next run still sees a stale state and clears again
            for path in [*self.folder.glob("best-e*.pt"), self.folder / PROGRESS, self.folder / STATE]:
                path.unlink(missing_ok=True)
            self._stale = False
        for epoch, sd in best.items():
            path = self.folder / f"best-e{epoch}.pt"
            if not path.is_file():
                _save(sd, path)
        _save({**state, "backbone_sha256": self.backbone_sha256}, self.folder / STATE)
        atomic.write_json(self.folder / PROGRESS, state["position"])
        keep = {f"best-e{e}.pt" for e in best}
        for path in self.folder.glob("best-e*.pt"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the folder (after the final model is written)."""
        if self.folder is not None and self.writer:
            shutil.rmtree(self.folder, ignore_errors=True)
