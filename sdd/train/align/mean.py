"""No alignment: the mean of the two path gradients, i.e. the gradient of ``(L_c + L_a) / 2``.

This is DPDA's baseline "without alignment" (one weighted CE over ``cat([x_clean, x_aug])``, whose
gradient is exactly this mean because both halves carry the same labels; Truong et al., arXiv
2509.20682).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sdd.train.align.core import Aligner, AlignInfo, Grads, align

__all__ = ["Mean", "mean_update", "mean_weights"]


def mean_weights(gram: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(N, 2, 2) Gram -> weights (N, 2) all 1/2; no flags."""
    return torch.full((gram.shape[0], 2), 0.5, dtype=torch.float64), {}


class Mean(Aligner):

    def weights(self, gram: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return mean_weights(gram)


def mean_update(grads: Sequence[Grads | torch.Tensor]) -> tuple[list[torch.Tensor] | torch.Tensor, AlignInfo]:
    """``(g_c + g_a) / 2`` for ``grads = [g_c, g_a]`` (lists of tensors or single tensors)."""
    return align(grads, Mean())
