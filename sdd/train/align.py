"""Gradient aligners for dual-path (clean / augmented) training, on flattened gradients.

DPDA (Truong, Liu, Li, Tao, Lee, Chng, "Addressing Gradient Misalignment in Data-Augmented Training
for Robust Speech Deepfake Detection", arXiv 2509.20682, ICASSP 2026) computes one gradient per path
over ALL trainable parameters, flattened into one vector per path ("global" granularity), combines
them with a multi-task aligner and writes the result back. Every aligner here is a pure function
``(grads: list of (P,) tensors, generator) -> ((P,) update, info dict)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["ALIGNERS", "gradient_telemetry", "mean_update", "pcgrad"]

_EPS = 1e-20


def mean_update(
    grads: Sequence[torch.Tensor], generator: torch.Generator | None = None
) -> tuple[torch.Tensor, dict]:
    """No alignment: the mean of the path gradients, i.e. the gradient of ``(L_c + L_a) / 2``.

    Args:
        grads: K flattened gradients, each (P,).
    Returns:
        ``(update (P,), {"projected": False})``.
    """
    return torch.stack(list(grads)).mean(dim=0), {"projected": False}


def pcgrad(
    grads: Sequence[torch.Tensor], generator: torch.Generator | None = None
) -> tuple[torch.Tensor, dict]:
    """PCGrad, "Gradient Surgery for Multi-Task Learning" (Yu et al., NeurIPS 2020), as DPDA applies it.

    For each g_i (a copy) and each ORIGINAL g_j in random order: if ``<g_i, g_j> < 0`` then
    ``g_i -= <g_i, g_j> / ||g_j||^2 * g_j``. The update is the mean of the projected gradients, so
    without conflict it equals ``mean_update`` (DPDA averages; the PCGrad paper sums: with two paths
    this is a factor of 2 absorbed by the learning rate). A zero-norm g_j is never projected onto.

    Args:
        grads: K flattened gradients, each (P,).
        generator: drives the random order of the j loop (reproducible runs pass a seeded one).

    Returns:
        ``(update (P,), {"projected": bool})``: whether any projection fired.
    """
    originals = list(grads)
    projected, fired = [], False
    for i, g in enumerate(originals):
        g_i = g.clone()
        for j in torch.randperm(len(originals), generator=generator).tolist():
            if j == i:
                continue
            g_j = originals[j]
            dot = torch.dot(g_i, g_j)
            sq = torch.dot(g_j, g_j)
            if dot < 0 and sq > _EPS:
                g_i = g_i - (dot / sq) * g_j
                fired = True
        projected.append(g_i)
    return torch.stack(projected).mean(dim=0), {"projected": fired}


Aligner = Callable[[Sequence[torch.Tensor], "torch.Generator | None"], tuple[torch.Tensor, dict]]

# align name (params `align`, normalised by sdd.train.params) -> aligner.
ALIGNERS: dict[str, Aligner] = {"none": mean_update, "pcgrad": pcgrad}


def gradient_telemetry(g_clean: torch.Tensor, g_aug: torch.Tensor) -> dict[str, float]:
    """Per-step diagnostics of the two path gradients (the released DPDA code never logs them).

    Returns:
        ``cos`` = cos(g_c, g_a) (0 when a norm is 0), ``conflict`` = 1.0 if ``<g_c, g_a> < 0``,
        ``norm_ratio`` = ||g_c|| / ||g_a|| (inf when ||g_a|| = 0).
    """
    dot = torch.dot(g_clean, g_aug).item()
    nc, na = g_clean.norm().item(), g_aug.norm().item()
    cos = dot / (nc * na) if nc > 0 and na > 0 else 0.0
    return {"cos": cos, "conflict": float(dot < 0), "norm_ratio": nc / na if na > 0 else float("inf")}
