"""PCGrad: "Gradient Surgery for Multi-Task Learning" (Yu, Kumar, Gupta, Levine, Hausman, Finn,
NeurIPS 2020), as DPDA applies it (Truong et al., arXiv 2509.20682; code ``grad_align/pcgrad.py``).

For each path gradient g_i (a copy) and each ORIGINAL g_j: if ``<g_i, g_j> < 0`` then
``g_i -= <g_i, g_j> / ||g_j||^2 * g_j``; the update is the mean of the projected gradients, so without
conflict it is ``(g_c + g_a) / 2``. In coefficients of the originals, with ``d = <g_c, g_a>``:
``update = (1 - d/||g_c||^2) / 2 * g_c + (1 - d/||g_a||^2) / 2 * g_a`` when ``d < 0``.

Deliberate differences from DPDA's code, none of which changes the result:

- two paths only, so the random order of the j loop (``random.shuffle``) has no effect and no
  generator is needed (DPDA's loop also visits j = i, which never projects);
- the update is computed from the Gram matrix (three dot products) instead of flattened copies;
- DPDA averages (its ``reduction='mean'``; the PCGrad paper sums): a factor of 2 with two paths;
- a zero-norm g_j is never projected onto (DPDA's code would divide by zero; with ``d < 0`` both
  norms are non-zero anyway).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sdd.train.align.core import Aligner, AlignInfo, Grads, align

__all__ = ["PCGrad", "pcgrad", "pcgrad_projections", "pcgrad_weights"]


def pcgrad_projections(gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The projected gradients in coefficients of the originals.

    Args:
        gram: (N, 2, 2) float64 Gram matrices [[<g_c,g_c>, <g_c,g_a>], [., <g_a,g_a>]].
    Returns:
        ``(coef (N, 2, 2), projected (N,) bool)``: ``g_i' = coef[n, i, 0] g_c + coef[n, i, 1] g_a``.
    """
    cc, ca, aa = gram[:, 0, 0], gram[:, 0, 1], gram[:, 1, 1]
    projected = (ca < 0) & (cc > 0) & (aa > 0)
    safe_cc, safe_aa = torch.where(cc > 0, cc, 1.0), torch.where(aa > 0, aa, 1.0)
    one, zero = torch.ones_like(cc), torch.zeros_like(cc)
    g_c = torch.stack([one, torch.where(projected, -ca / safe_aa, zero)], 1)  # g_c - <g_c,g_a>/||g_a||^2 g_a
    g_a = torch.stack([torch.where(projected, -ca / safe_cc, zero), one], 1)  # g_a - <g_a,g_c>/||g_c||^2 g_c
    return torch.stack([g_c, g_a], 1), projected


def pcgrad_weights(gram: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(N, 2, 2) Gram -> PCGrad weights (N, 2) (the mean of the projected gradients) and ``projected``
    (N,) bool (a conflict was projected)."""
    coef, projected = pcgrad_projections(gram)
    return coef.mean(1), {"projected": projected}


class PCGrad(Aligner):

    def weights(self, gram: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return pcgrad_weights(gram)


def pcgrad(
    grads: Sequence[Grads | torch.Tensor], granularity: str = "global"
) -> tuple[list[torch.Tensor] | torch.Tensor, AlignInfo]:
    """The PCGrad update of ``grads = [g_c, g_a]`` (lists of tensors or single tensors)."""
    return align(grads, PCGrad(granularity))  # type: ignore[arg-type]
