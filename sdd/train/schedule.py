"""Learning-rate schedules as pure functions of the position in the run (nothing to checkpoint).

- ``constant``: ``lr``.
- ``warmup_exp`` (AttM's ``LinearWarm_ExpDecay``, stepped once per epoch): ``lr * (e + 1) / W`` for
  epochs ``e < W = warmup_epochs``, then ``lr * lr_decay ** (e - W)`` (AttM: W = 5, x0.8 per epoch).
- ``cosine`` (AASIST's and AttM's ``cosine_annealing``, stepped per optimizer step):
  ``lr_min + (lr - lr_min) * (1 + cos(pi * t / T)) / 2`` with t the step and T all steps of all epochs.
"""

from __future__ import annotations

import math

from sdd.train.params import TrainParams

__all__ = ["lr_at"]


def lr_at(tp: TrainParams, epoch: int, step_in_epoch: int, steps_per_epoch: int) -> float:
    """The learning rate of optimizer step ``step_in_epoch`` of epoch ``epoch`` (both 0-based)."""
    if tp.schedule == "constant":
        return tp.lr
    if tp.schedule == "warmup_exp":
        if epoch < tp.warmup_epochs:
            return tp.lr * (epoch + 1) / tp.warmup_epochs
        return tp.lr * tp.lr_decay ** (epoch - tp.warmup_epochs)
    if tp.schedule == "cosine":
        t, total = epoch * steps_per_epoch + step_in_epoch, max(tp.epochs * steps_per_epoch, 1)
        return tp.lr_min + (tp.lr - tp.lr_min) * 0.5 * (1 + math.cos(math.pi * t / total))
    raise ValueError(f"train.schedule: got {tp.schedule!r}; expected constant, warmup_exp or cosine")
