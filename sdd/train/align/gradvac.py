"""GradVac: "Gradient Vaccine: Investigating and Improving Multi-task Optimization in Massively
Multilingual Models" (Wang, Tsvetkov, Firat, Cao, ICLR 2021), as DPDA applies it (Truong et al.,
arXiv 2509.20682; code ``grad_align/gradvac.py``).

Each ordered pair (i, j) has a target cosine rho_T, starting at 0. With ``rho = cos(g_i', g_j)``
(g_i' the copy being adjusted): if ``rho < rho_T``, ``g_i' += w g_j`` with
``w = ||g_i'|| (rho_T sqrt(1 - rho^2) - rho sqrt(1 - rho_T^2)) / (||g_j|| sqrt(1 - rho_T^2) + 1e-8)``,
which makes ``cos(g_i', g_j) = rho_T``; then the target follows an EMA with rate beta:

- ``ema="dpda"`` (default, DPDA's code): ``rho_T <- (1 - beta) rho_T + beta rho`` only when ``rho > 0``;
- ``ema="paper"`` (the GradVac paper): the same update at every step.

The update is the mean of the adjusted gradients. DPDA's defaults: beta = 0.5, one block (global).
Deliberate differences from DPDA's code, none of which changes the result:

- two paths only, so the random order of the j loop has no effect; both ordered pairs see the same
  cosine and the same EMA updates, so their targets are always equal and the state holds one target
  per block (DPDA's ``rho_T[i, j, k]`` has two equal entries);
- rho is clipped to [-1, 1] before ``sqrt(1 - rho^2)`` (rounding could push it past 1);
- computed from the Gram matrix instead of flattened copies; the 1e-8 terms are DPDA's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from sdd.train.align.core import Aligner, AlignInfo, Grads, Granularity, align

if TYPE_CHECKING:
    from sdd.train.params import AlignerParams

__all__ = ["GradVac", "gradvac", "gradvac_adjustments", "gradvac_weights"]

_EPS = 1e-8  # DPDA's code


def _vaccine(norm_i: torch.Tensor, norm_j: torch.Tensor, rho: torch.Tensor,
             target: torch.Tensor) -> torch.Tensor:
    """The coefficient of g_j added to g_i (0 where rho >= target)."""
    s_rho, s_t = torch.sqrt(1 - rho**2), torch.sqrt(1 - target**2)
    w = norm_i * (target * s_rho - rho * s_t) / (norm_j * s_t + _EPS)
    return torch.where(rho < target, w, 0.0)


def gradvac_adjustments(gram: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                          torch.Tensor]:
    """The adjusted gradients in coefficients of the originals, before the EMA.

    Args:
        gram: (N, 2, 2) float64 Gram matrices, one per block.
        target: (N,) float64 target cosines rho_T before this step.
    Returns:
        ``(coef (N, 2, 2), rho (N,), adjusted (N,) bool)``: ``g_i' = coef[n, i, 0] g_c + coef[n, i, 1] g_a``,
        the observed cosine, and whether an adjustment fired.
    """
    cc, ca, aa = gram[:, 0, 0], gram[:, 0, 1], gram[:, 1, 1]
    n_c, n_a = cc.clamp_min(0).sqrt(), aa.clamp_min(0).sqrt()
    rho = (ca / (n_c * n_a + _EPS)).clamp(-1.0, 1.0)
    one = torch.ones_like(cc)
    g_c = torch.stack([one, _vaccine(n_c, n_a, rho, target)], 1)  # g_c + w g_a
    g_a = torch.stack([_vaccine(n_a, n_c, rho, target), one], 1)  # g_a + w g_c
    return torch.stack([g_c, g_a], 1), rho, rho < target


def gradvac_weights(
    gram: torch.Tensor, target: torch.Tensor, beta: float, ema: str = "dpda"
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """One GradVac step in coefficients of the originals.

    Args:
        gram: (N, 2, 2) float64 Gram matrices, one per block.
        target: (N,) float64 target cosines rho_T before this step.
        beta: EMA rate; ``ema``: ``"dpda"`` or ``"paper"`` (module docstring).
    Returns:
        ``(w (N, 2), {"projected": (N,) bool}, new target (N,))``; ``projected`` = an adjustment fired.
    """
    if ema not in ("dpda", "paper"):
        raise ValueError(f"gradvac ema: got {ema!r}; expected 'dpda' or 'paper'")
    coef, rho, adjusted = gradvac_adjustments(gram, target)
    moved = (1 - beta) * target + beta * rho
    new_target = torch.where(rho > 0, moved, target) if ema == "dpda" else moved
    return coef.mean(1), {"projected": adjusted}, new_target


class GradVac(Aligner):
    """GradVac with its state: one target cosine per block (lazily sized at the first step)."""

    @classmethod
    def from_params(cls, granularity: Granularity, params: AlignerParams) -> GradVac:
        return cls(granularity, params.gradvac.beta, params.gradvac.ema)


    def __init__(self, granularity: str = "global", beta: float = 0.5, ema: str = "dpda") -> None:
        super().__init__(granularity)  # type: ignore[arg-type]
        self.beta, self.ema = beta, ema
        self.target: torch.Tensor | None = None

    def weights(self, gram: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.target is None:
            self.target = torch.zeros(gram.shape[0], dtype=torch.float64)
        if self.target.shape[0] != gram.shape[0]:
            raise ValueError(
                f"gradvac: state has {self.target.shape[0]} blocks, the gradients {gram.shape[0]}; "
                "the set of trainable parameters changed without a fresh aligner"
            )
        w, flags, self.target = gradvac_weights(gram, self.target, self.beta, self.ema)
        return w, flags

    def state_dict(self) -> dict:
        return {"target": None if self.target is None else self.target.clone()}

    def load_state_dict(self, state: dict) -> None:
        target = state.get("target")
        self.target = None if target is None else target.clone().double()


def gradvac(
    grads: Sequence[Grads | torch.Tensor],
    granularity: str = "global",
    beta: float = 0.5,
    ema: str = "dpda",
    state: GradVac | None = None,
) -> tuple[list[torch.Tensor] | torch.Tensor, AlignInfo]:
    """One GradVac update of ``grads = [g_c, g_a]``; pass ``state`` (a :class:`GradVac`) to carry the
    target cosine across steps (it is updated in place)."""
    return align(grads, state if state is not None else GradVac(granularity, beta, ema))
