"""Deterministic fault injection at named points, for the kill tests (``tests/pipeline/test_faults.py``).

A stage calls :func:`point` at a few places where a kill hurts most (mid-download, between two
output files, mid-epoch, inside an atomic write). Nothing happens unless the environment variable
``SDD_FAULT`` names that point::

    SDD_FAULT=<stage>:<point>[@<n>][:<action>]

- ``<stage>:<point>``: e.g. ``train:step``, ``fetch:download_chunk`` (the list is :data:`POINTS`);
- ``@<n>``: fire the ``n``-th time this process reaches the point (default 1);
- ``<action>``: ``killpg`` (default: SIGKILL to the whole process group, as an OOM killer or a
  scheduler's kill does; nothing is cleaned up), ``kill`` (SIGKILL to this process only), ``exit``
  (``os._exit(70)``: no ``finally`` blocks, no atomic-write cleanup) or ``raise`` (:class:`FaultInjected`,
  a ``BaseException``, so ``except Exception`` handlers do not swallow it).

Example: ``SDD_FAULT=train:step@2 python stages/train.py ...`` dies right after the second optimizer
step; running the same command again (or ``dvc repro``) resumes from the checkpoint and writes the
same outputs as an uninterrupted run. Under ``dvc repro`` the default ``killpg`` kills DVC too, exactly
like a kill of the job; run the stage script directly to keep DVC alive.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV", "POINTS", "FaultInjected", "point"]

ENV = "SDD_FAULT"

#: Every named point, with where it sits (documentation; :func:`point` refuses other names).
POINTS: dict[str, str] = {
    "fetch:download_chunk": "sdd.data.download.download: after a chunk is written to <file>.part",
    "fetch:generated": "demo corpus: generated into its temp folder, not yet moved into place",
    "prepare:split_written": "sdd.data.prepare: after one split's manifest is written, before the others",
    "augment:sidecar_written": "sdd.augment.precompute: a copy's JSON sidecar written, its FLAC not yet",
    "pretrain:step": "sdd.pretrain.wav2vec2: after a pretraining optimizer step (models/random written, "
    "models/backbone not yet)",
    "train:step": "sdd.train.loop: after an optimizer step (and its checkpoint, when one is due)",
    "train:model_written": "sdd.train.run: the model folder written, the metrics not yet",
    "score:file_written": "sdd.train.score_arm: after one score file is written, before the next",
    "extract:features_written": "sdd.probing.features.save_features: features.npz written, meta.json not yet",
    "probe:layer_done": "sdd.probing.probes.run_probes: one layer's probe done, the next not yet (nothing "
    "written)",
    "report:figures_written": "sdd.report.pipeline: figures, README and HTML written, metrics.json not yet",
    "atomic:temp_written": "sdd.core.atomic.atomic_path: the temp file is complete, not yet renamed",
}

_counts: dict[str, int] = {}


class FaultInjected(BaseException):  # noqa: N818 (a BaseException on purpose: not an error to handle)
    """Raised at a fault point by the ``raise`` action."""


def _parse(spec: str) -> tuple[str, int, str]:
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"{ENV}={spec!r}: expected <stage>:<point>[@<n>][:<action>]")
    name, _, nth = f"{parts[0]}:{parts[1]}".partition("@")
    action = parts[2] if len(parts) == 3 else "killpg"
    if name not in POINTS:
        raise ValueError(f"{ENV}={spec!r}: unknown point {name!r}; expected one of {sorted(POINTS)}")
    if action not in ("killpg", "kill", "exit", "raise"):
        raise ValueError(f"{ENV}={spec!r}: unknown action {action!r}; expected killpg, kill, exit or raise")
    if nth and not nth.isdigit():
        raise ValueError(f"{ENV}={spec!r}: @{nth} is not a count")
    return name, int(nth or 1), action


def point(name: str) -> None:
    """Fire the fault configured in ``$SDD_FAULT`` if it names this point (else return at once)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    if name not in POINTS:
        raise ValueError(f"fault point {name!r} is not declared in sdd.core.faults.POINTS")
    target, nth, action = _parse(spec)
    if target != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] != nth:
        return
    if action == "raise":
        raise FaultInjected(f"{ENV}: fault injected at {name} (occurrence {nth})")
    if action == "exit":
        os._exit(70)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os.killpg(os.getpgrp(), signal.SIGKILL)
