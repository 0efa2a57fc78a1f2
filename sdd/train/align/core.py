"""What every aligner shares: per-path gradients, their Gram matrices and one linear combination.

A path's gradient is a list of tensors, one per trainable parameter (:data:`Grads`), never a
flattened copy. With two paths (clean ``g_c``, augmented ``g_a``) every method here, PCGrad,
GradVac, CAGrad and Gradient Remedy, returns an update in the span of the two gradients, and its
coefficients depend only on the 2 x 2 Gram matrix ``[[<g_c,g_c>, <g_c,g_a>], [<g_a,g_c>, <g_a,g_a>]]``
of each block:

- granularity ``global`` (DPDA's code): one block, the Gram summed over all tensors, which is the
  Gram of the flattened vectors without building them;
- granularity ``per_tensor`` (Gradient Remedy's code): one block per parameter tensor.

So an aligner is a rule ``weights(gram (N, 2, 2)) -> (w (N, 2), flags)``, and the update of block ``n``
is ``w[n, 0] * g_c + w[n, 1] * g_a``. :func:`align` applies a rule and returns new tensors (pure);
:func:`align_` writes the update into ``g_a`` in place, so a training step holds at most two gradient
copies and the combination costs three dot products and one ``axpy`` per tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

import torch

if TYPE_CHECKING:
    from sdd.train.params import AlignerParams

__all__ = ["Aligner", "AlignInfo", "Grads", "align", "align_", "combine_", "gradient_telemetry", "gram"]

Grads = Sequence[torch.Tensor]  # one path's gradient: one tensor per trainable parameter
Granularity = Literal["global", "per_tensor"]


class Aligner:
    """Base of the thin aligner objects: a granularity, a coefficient rule and (GradVac) state.

    Subclasses implement :meth:`weights`; stateful ones also ``state_dict`` / ``load_state_dict``.
    """

    name: ClassVar[str] = ""  # the ``align`` value, set by the registry (sdd.train.align.ALIGNERS)

    def __init__(self, granularity: Granularity = "global") -> None:
        if granularity not in ("global", "per_tensor"):
            raise ValueError(f"granularity: got {granularity!r}; expected 'global' or 'per_tensor'")
        self.granularity = granularity

    @classmethod
    def from_params(cls, granularity: Granularity, params: AlignerParams) -> Aligner:
        """The aligner with its own settings from a resolved ``aligner`` section (methods with
        settings override this; the others take the granularity only)."""
        del params
        return cls(granularity)

    def weights(self, gram: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Args: gram (N, 2, 2) float64, one Gram matrix per block.
        Returns: ``(w (N, 2), flags)``, flags ``{name: (N,) bool}`` such as ``projected``."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"{self.name}: has no state; got keys {sorted(state)}")


@dataclass
class AlignInfo:
    """Per-step diagnostics: whole-model cosine, conflict, norm ratio and the rule's flags (the share
    of blocks where each fired: 0 or 1 for global granularity)."""

    cos: float
    conflict: float  # 1.0 if <g_c, g_a> < 0
    norm_ratio: float
    flags: dict[str, float] = field(default_factory=dict)
    update_norm: float = float("nan")  # ||update||, from the Gram matrices (no extra pass)
    finite: bool = True


def gram(g_c: Grads, g_a: Grads) -> torch.Tensor:
    """Per-tensor Gram matrices, (T, 2, 2) float64, from three dot products per tensor."""
    if len(g_c) != len(g_a):
        raise ValueError(f"gram: the paths have {len(g_c)} and {len(g_a)} tensors; expected the same")
    rows = []
    for c, a in zip(g_c, g_a, strict=True):
        c, a = c.reshape(-1), a.reshape(-1)
        rows.append(torch.stack([torch.dot(c, c), torch.dot(c, a), torch.dot(a, a)]))
    if not rows:
        return torch.zeros(0, 2, 2, dtype=torch.float64)
    cc, ca, aa = torch.stack(rows).double().unbind(1)  # each (T,)
    return torch.stack([torch.stack([cc, ca], 1), torch.stack([ca, aa], 1)], 1)


def gradient_telemetry(total: torch.Tensor) -> dict[str, float]:
    """cos(g_c, g_a), conflict (``<g_c, g_a> < 0``) and ||g_c|| / ||g_a|| from the whole-model Gram (2, 2).

    cos is 0 when a norm is 0; the norm ratio is inf when ``||g_a|| = 0``.
    """
    cc, ca, aa = float(total[0, 0]), float(total[0, 1]), float(total[1, 1])
    nc, na = max(cc, 0.0) ** 0.5, max(aa, 0.0) ** 0.5
    return {
        "cos": ca / (nc * na) if nc > 0 and na > 0 else 0.0,
        "conflict": float(ca < 0),
        "norm_ratio": nc / na if na > 0 else float("inf"),
    }


def _blocks(per_tensor: torch.Tensor, granularity: Granularity) -> torch.Tensor:
    return per_tensor.sum(0, keepdim=True) if granularity == "global" else per_tensor


def combine_(g_c: list[torch.Tensor], g_a: list[torch.Tensor], w: torch.Tensor) -> list[torch.Tensor]:
    """``g_a[t] <- w[n(t), 0] * g_c[t] + w[n(t), 1] * g_a[t]`` in place (``g_c`` is left as is).

    Args:
        w: (1, 2) (global) or (T, 2) (per tensor) float64 weights.
    Returns: ``g_a``, now holding the update.
    """
    if w.shape[0] == 1:
        w0, w1 = (float(v) for v in w[0])
        torch._foreach_mul_(g_a, w1)
        torch._foreach_add_(g_a, g_c, alpha=w0)
        return g_a
    for (w0, w1), c, a in zip(w.tolist(), g_c, g_a, strict=True):
        a.mul_(w1).add_(c, alpha=w0)
    return g_a


def align_(g_c: list[torch.Tensor], g_a: list[torch.Tensor], aligner: Aligner) -> AlignInfo:
    """Combine two path gradients in place: the update replaces ``g_a``'s values.

    Non-finite gradients are left untouched and reported (``finite=False``): the caller skips the step.
    """
    per_tensor = gram(g_c, g_a)
    total = per_tensor.sum(0)
    if not bool(torch.isfinite(total).all()):
        return AlignInfo(cos=float("nan"), conflict=False, norm_ratio=float("nan"), finite=False)
    blocks = _blocks(per_tensor, aligner.granularity)
    w, flags = aligner.weights(blocks)
    update_sq = torch.einsum("ni,nij,nj->", w, blocks, w).clamp_min(0)
    combine_(g_c, g_a, w)
    shares = {k: float(v.double().mean()) for k, v in flags.items()}
    return AlignInfo(**gradient_telemetry(total), flags=shares, update_norm=float(update_sq.sqrt()))


def align(grads: Sequence[Grads | torch.Tensor], aligner: Aligner) -> tuple[list[torch.Tensor] | torch.Tensor,
                                                                            AlignInfo]:
    """The update of ``aligner`` for ``grads = [g_clean, g_aug]``, without touching the inputs.

    Each path is a list of tensors (one per parameter) or a single tensor (e.g. a flattened gradient),
    and the update has the same form.
    """
    if len(grads) != 2:
        raise ValueError(
            f"{aligner.name}: got {len(grads)} path gradients; expected 2 (clean, augmented)"
        )
    single = isinstance(grads[0], torch.Tensor)
    g_c = [grads[0]] if single else list(grads[0])
    g_a = [g.clone() for g in ([grads[1]] if single else grads[1])]
    info = align_(list(g_c), g_a, aligner)
    return (g_a[0] if single else g_a), info
