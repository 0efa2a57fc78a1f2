"""Classification heads: a merged sequence ``(B, F, H)`` -> two logits ``(B, 2)`` = (spoof, bona fide).

:data:`HEADS` maps each available ``model.head`` name to a factory taking the input width H. Adding
a head is one line here (names that are declared but not built yet are refused by
:class:`sdd.models.params.ModelParams` with "not available yet").
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sdd.models.aasist import SSLAasistBackend

__all__ = ["HEADS", "LinearHead", "LstmHead"]


class LinearHead(nn.Module):
    """Mean-pool over frames, then a linear layer: ``(B, F, H) -> (B, 2)``."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden_size, 2)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.proj(hidden.mean(dim=1))  # (B, H) -> (B, 2)


class LstmHead(nn.Module):
    """AttM's back-end (Pan et al., Interspeech 2024, class ``my_LSTM`` of their ``model_file.py``):
    a one-layer LSTM (H -> 192), the mean of its outputs over time, then Linear(192 -> 2)."""

    LSTM_SIZE = 192

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(hidden_size, self.LSTM_SIZE, num_layers=1, batch_first=True)
        self.proj = nn.Linear(self.LSTM_SIZE, 2)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(hidden)  # (B, F, 192)
        return self.proj(out.mean(dim=1))  # (B, 2)


# model.head name -> factory(input width H); keys are sdd.models.params.HEADS minus HEADS_NOT_YET.
HEADS: dict[str, Callable[[int], nn.Module]] = {
    "linear": LinearHead,
    "lstm": LstmHead,
    # SSL-AASIST (Tak et al., Odyssey 2022): Linear(H -> 128) + the AASIST graph back-end. BatchNorm
    # inside: see sdd.models.params.HEADS_WITH_BATCHNORM for the regimes it is refused with.
    "aasist": SSLAasistBackend,
}
