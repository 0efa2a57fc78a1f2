"""CAGrad: "Conflict-Averse Gradient Descent for Multi-task Learning" (Liu, Liu, Jin, Stone, Liu,
NeurIPS 2021), as DPDA applies it (Truong et al., arXiv 2509.20682; code ``grad_align/cagrad.py``).

With G = [g_c; g_a], g0 = (g_c + g_a) / 2, c' = c ||g0||, b = (1/2, 1/2):
``w* = argmin over the simplex of  w^T G G^T b + c' sqrt(w^T G G^T w)``, ``g_w = sum_i w*_i g_i``,
``lambda = c' / ||g_w||``, ``update = (g0 + lambda g_w) / (1 + c^2)``. DPDA's defaults: c = 0.5, one
block (global); its small constants are kept (``||g0|| = sqrt(mean(GG^T) + 1e-8)``,
``c' = c ||g0|| + 1e-8``, ``+1e-8`` under the square root and after ``||g_w||``).

Deliberate difference from DPDA's code: with two paths the simplex is the segment
``w = (t, 1 - t)``, t in [0, 1], and the objective is convex in t, so we solve it in closed form
instead of with scipy's SLSQP (which stops at its tolerance): write ``g_w = g_a + t u`` with
``u = g_c - g_a``; the objective's derivative vanishes where ``<u, g_w> / sqrt(||g_w||^2 + 1e-8) = r``
with ``r = -<u, g0> / c'``, which gives ``<u, g_w(t)> = r sqrt(D / (q - r^2))``, ``q = ||u||^2``,
``D = q (||g_a||^2 + 1e-8) - <u, g_a>^2``; outside ``r^2 < q`` the minimum is at an end, and the
solution is clipped to [0, 1]. ``tests/train/test_align.py`` checks it against a brute-force minimisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from sdd.train.align.core import Aligner, AlignInfo, Grads, Granularity, align

if TYPE_CHECKING:
    from sdd.train.params import AlignerParams

__all__ = ["CAGrad", "cagrad", "cagrad_simplex", "cagrad_weights"]

_EPS = 1e-8  # DPDA's code


def cagrad_simplex(gram: torch.Tensor, c: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The minimiser t of the CAGrad objective over ``w = (t, 1 - t)`` and the radius c'.

    Args:
        gram: (N, 2, 2) float64 Gram matrices [[<g_c,g_c>, <g_c,g_a>], [., <g_a,g_a>]].
    Returns:
        ``(t (N,), c_prime (N,))``.
    """
    cc, ca, aa = gram[:, 0, 0], gram[:, 0, 1], gram[:, 1, 1]
    g0_sq = (cc + 2 * ca + aa) / 4  # = mean of the Gram entries = ||g0||^2
    c_prime = c * torch.sqrt(g0_sq.clamp_min(0) + _EPS) + _EPS
    q = (cc - 2 * ca + aa).clamp_min(0)  # ||u||^2
    p = ca - aa  # <u, g_a>
    r = -(cc - aa) / 2 / c_prime  # -<u, g0> / c'
    d = (q * (aa + _EPS) - p**2).clamp_min(0)
    interior = r**2 < q
    z = r * torch.sqrt(d / torch.where(interior, q - r**2, 1.0))  # <u, g_w(t)> at the optimum
    t_inner = (z - p) / torch.where(q > 0, q, 1.0)
    t = torch.where(interior, t_inner, torch.where(r >= 0, 1.0, 0.0))
    t = torch.where(q > 0, t, 0.5)  # g_c == g_a: the objective is flat; SLSQP stays at its start
    return t.clamp(0.0, 1.0), c_prime


def cagrad_weights(gram: torch.Tensor, c: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(N, 2, 2) Gram -> CAGrad weights (N, 2); no flags (CAGrad changes every update)."""
    t, c_prime = cagrad_simplex(gram, c)
    cc, ca, aa = gram[:, 0, 0], gram[:, 0, 1], gram[:, 1, 1]
    gw_sq = (t**2 * cc + 2 * t * (1 - t) * ca + (1 - t) ** 2 * aa).clamp_min(0)
    lam = c_prime / (torch.sqrt(gw_sq) + _EPS)
    scale = 1 + c**2
    return torch.stack([(0.5 + lam * t) / scale, (0.5 + lam * (1 - t)) / scale], 1), {}


class CAGrad(Aligner):
    @classmethod
    def from_params(cls, granularity: Granularity, params: AlignerParams) -> CAGrad:
        return cls(granularity, params.cagrad.c)


    def __init__(self, granularity: str = "global", c: float = 0.5) -> None:
        super().__init__(granularity)  # type: ignore[arg-type]
        self.c = c

    def weights(self, gram: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return cagrad_weights(gram, self.c)


def cagrad(
    grads: Sequence[Grads | torch.Tensor], granularity: str = "global", c: float = 0.5
) -> tuple[list[torch.Tensor] | torch.Tensor, AlignInfo]:
    """The CAGrad update of ``grads = [g_c, g_a]`` (lists of tensors or single tensors)."""
    return align(grads, CAGrad(granularity, c))
