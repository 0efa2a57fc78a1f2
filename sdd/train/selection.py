"""Model selection on dev data only: the k best epochs, early stopping and weight averaging.

The monitored value (``train.monitor``: clean dev loss, as DPDA and AttM, or dev EER) is lower-is-
better; ties go to the earlier epoch, and a NaN counts as worse than any number. Early stopping
follows DPDA's and AttM's code: stop once ``patience`` epochs in a row did not improve on the best,
but not before ``min_epochs`` epochs (AttM: 20). The final weights average the k best epochs' states:
``average: mean`` is the mean of the k; ``average: dpda_aliased`` reproduces DPDA-GA's released code,
whose state dicts alias the model's tensors, so that its "average of 5" is
``(2 * b1 + b2 + b3 + b4) / 5`` (b0 = the best epoch, dropped; b_i = the i-th best).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

__all__ = ["Selection", "average_state_dicts", "average_state_dicts_dpda_aliased"]


def _key(value: float) -> float:
    return math.inf if math.isnan(value) else value


@dataclass
class Selection:
    """The k best ``(value, epoch)`` so far, best first, and the early-stopping counter."""

    k: int
    patience: int | None
    min_epochs: int = 0
    ranked: list[tuple[float, int]] = field(default_factory=list)
    best_epoch: int = -1
    since_best: int = 0

    def update(self, epoch: int, value: float) -> tuple[bool, list[int]]:
        """Record epoch ``epoch``'s monitored value.

        Returns:
            ``(kept, dropped)``: whether the epoch is among the k best, and the epochs that left them.
        """
        best = self.ranked[0][0] if self.ranked else math.inf
        if self.best_epoch < 0 or _key(value) < _key(best):
            self.best_epoch, self.since_best = epoch, 0
        else:
            self.since_best += 1
        ranked = sorted([*self.ranked, (value, epoch)], key=lambda r: (_key(r[0]), r[1]))
        self.ranked, dropped = ranked[: self.k], [e for _, e in ranked[self.k :]]
        return epoch in self.epochs, dropped

    @property
    def epochs(self) -> list[int]:
        """The k best epochs, best first."""
        return [e for _, e in self.ranked]

    def should_stop(self, epochs_done: int) -> bool:
        return (self.patience is not None and epochs_done >= self.min_epochs
                and self.since_best >= self.patience)

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, [tuple(r) for r in value] if name == "ranked" else value)


def average_state_dicts(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of k state dicts (floating tensors); other tensors come from the first.

    Each input must be an independent copy (no aliasing): that is the bug in DPDA-GA's averaging.
    """
    if not states:
        raise ValueError("average_state_dicts: got no state dicts")
    out = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            out[key] = torch.stack([s[key] for s in states]).mean(dim=0)
        else:
            out[key] = first.clone()
    return out


def average_state_dicts_dpda_aliased(ranked: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """DPDA-GA's averaging of the k best states (best first), aliasing bug included.

    Its code takes ``sd = model.state_dict()`` after loading the best state b0 (``sd`` aliases the
    model's tensors), then for i = 1..k-1 loads b_i into the model and adds ``model.state_dict()``:
    at i = 1 ``sd`` already holds b1, so the sum is ``2 b1 + b2 + ... + b_{k-1}``, divided by k.
    """
    if not ranked:
        raise ValueError("average_state_dicts_dpda_aliased: got no state dicts")
    if len(ranked) == 1:
        return {k: v.clone() for k, v in ranked[0].items()}
    out = {}
    for key, first in ranked[0].items():
        if first.is_floating_point():
            total = 2 * ranked[1][key] + sum((s[key] for s in ranked[2:]), torch.zeros_like(first))
            out[key] = total / len(ranked)
        else:  # integer buffers go through the same arithmetic in DPDA's code; keep the best's
            out[key] = first.clone()
    return out
