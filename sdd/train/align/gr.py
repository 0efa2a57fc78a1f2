"""Gradient Remedy: "Gradient Remedy for Multi-Task Learning in End-to-End Noise-Robust Speech
Recognition" (Hu, Chen, Li, Zhu, Chng, ICASSP 2023, arXiv 2302.11362; code
``espnet2/train/trainer_gradient_remedy.py`` of YUCHEN005/Gradient-Remedy).

In DPDA terms the main task is the clean path (g_m = g_c) and the auxiliary task the augmented path
(g_x = g_a). Per block (the official code: per parameter tensor):

1. ``tan_t = ||g_x|| / ||g_m||`` from the original norms;
2. if ``<g_x, g_m> < 0``: project g_x onto the normal plane of g_m,
   ``g_x -= <g_x, g_m> / ||g_m||^2 g_m``, then rotate it towards g_m to the acute angle atan(tan_t):
   ``g_x += (||g_x|| / tan_t) g_m / ||g_m||``;
3. if ``||g_x|| / ||g_m|| > K`` (K > 1, code default 5) and ``cos(g_x, g_m) != 0``: ``g_x *= cos``,
   ``g_m /= cos`` (with the possibly rotated g_x);
4. ``update = g_x + g_m`` (``combine="sum"``, GR) or ``(g_x + g_m) / 2`` (``"mean"``, as DPDA's methods).

Deliberate differences from the official code: zero norms are guarded (where ``||g_m||`` or
``||g_x||`` is 0 the block is left as ``g_x + g_m``; the original divides by zero); computed from the
Gram matrix of each block instead of on copies; the choice of sum or mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from sdd.train.align.core import Aligner, AlignInfo, Grads, Granularity, align

if TYPE_CHECKING:
    from sdd.train.params import AlignerParams

__all__ = ["GradientRemedy", "gr", "gr_weights"]


def gr_weights(gram: torch.Tensor, k: float = 5.0, combine: str = "sum") -> tuple[torch.Tensor,
                                                                                dict[str, torch.Tensor]]:
    """(N, 2, 2) Gram (index 0 = main/clean, 1 = auxiliary/augmented) -> GR weights (N, 2) and flags
    ``projected`` (the auxiliary gradient was rotated) and ``rescaled`` (N,) bool."""
    if combine not in ("sum", "mean"):
        raise ValueError(f"gr combine: got {combine!r}; expected 'sum' or 'mean'")
    mm, mx, xx = gram[:, 0, 0], gram[:, 0, 1], gram[:, 1, 1]
    valid = (mm > 0) & (xx > 0)
    safe_mm, safe_xx = torch.where(valid, mm, 1.0), torch.where(valid, xx, 1.0)
    rotated = valid & (mx < 0)
    # g_x after the projection: g_x - (mx / mm) g_m, with squared norm xx - mx^2 / mm; the rotation adds
    # (||g_x_perp|| / tan_t) / ||g_m|| = ||g_x_perp|| / ||g_x|| times g_m.
    perp = (xx - mx**2 / safe_mm).clamp_min(0).sqrt()
    a_m = torch.where(rotated, -mx / safe_mm + perp / safe_xx.sqrt(), 0.0)  # g_x' = a_m g_m + g_x
    x_sq = (a_m**2 * mm + 2 * a_m * mx + xx).clamp_min(0)  # ||g_x'||^2
    x_dot_m = a_m * mm + mx  # <g_x', g_m>
    cos = x_dot_m / torch.where(valid & (x_sq > 0), (x_sq * safe_mm).sqrt(), 1.0)
    rescaled = valid & (x_sq > 0) & ((x_sq / safe_mm).sqrt() > k) & (cos != 0)
    cos_safe = torch.where(rescaled, cos, 1.0)
    w_m = 1 / cos_safe + a_m * cos_safe
    w_x = cos_safe
    weights = torch.stack([w_m, w_x], 1)
    return (weights / 2 if combine == "mean" else weights), {"projected": rotated, "rescaled": rescaled}


class GradientRemedy(Aligner):
    @classmethod
    def from_params(cls, granularity: Granularity, params: AlignerParams) -> GradientRemedy:
        return cls(granularity, params.gr.k, params.gr.combine)


    def __init__(self, granularity: str = "per_tensor", k: float = 5.0, combine: str = "sum") -> None:
        super().__init__(granularity)  # type: ignore[arg-type]
        self.k, self.combine = k, combine

    def weights(self, gram: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return gr_weights(gram, self.k, self.combine)


def gr(
    grads: Sequence[Grads | torch.Tensor],
    granularity: str = "per_tensor",
    k: float = 5.0,
    combine: str = "sum",
) -> tuple[list[torch.Tensor] | torch.Tensor, AlignInfo]:
    """The Gradient Remedy update of ``grads = [g_main (clean), g_aux (augmented)]``."""
    return align(grads, GradientRemedy(granularity, k, combine))
