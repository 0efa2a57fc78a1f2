"""Layer merges: the backbone's hidden states -> one ``(B, F, H)`` sequence for the head.

Every merge takes the backbone's output (``last_hidden_state`` and, when :attr:`collects_layers`,
``hidden_states``: L + 1 tensors ``(B, F, H)``, the transformer's input then the output of each
layer) and returns ``(B, F, H)``:

- ``last`` (:class:`LastLayer`): the backbone's output, ``last_hidden_state``.
- ``index`` (:class:`IndexLayer`): one hidden state, ``hidden_states[layer]``.
- ``weighted`` (:class:`WeightedSum`): LinM, a softmax-weighted sum of the L transformer layers.
- ``attm`` (:class:`AttM`): attentive merging, Pan et al., Interspeech 2024.

``weighted`` and ``attm`` merge the L transformer layers only: like the AttM code, they drop the
transformer's input (the "CNN output"). With transformers' hidden states, the last entry of a pre-LN
("stable layer norm") model is the last layer's output before the encoder's final LayerNorm, as in
the fairseq/WavLM layer results AttM used; ``last`` is after it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sdd.models.params import ModelParams

__all__ = ["MERGE_TYPES", "AttM", "IndexLayer", "LastLayer", "WeightedSum", "build_merge"]


class LastLayer(nn.Module):
    """The backbone's output, ``last_hidden_state`` (after a pre-LN model's final LayerNorm)."""

    collects_layers = False

    def forward(self, output) -> torch.Tensor:
        return output.last_hidden_state  # (B, F, H)


class IndexLayer(nn.Module):
    """One hidden state: ``hidden_states[index]`` (0 = transformer input, k = output of layer k,
    negative from the end)."""

    collects_layers = True

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, output) -> torch.Tensor:
        return output.hidden_states[self.index]  # (B, F, H)


def _transformer_layers(output) -> torch.Tensor:
    return torch.stack(output.hidden_states[1:], dim=1)  # (B, L, F, H), transformer input dropped


class WeightedSum(nn.Module):
    """LinM: ``sum_l softmax(w)_l * X_l`` over the L transformer layers, one weight per layer,
    initialised to zero (equal weights), as the ``LinM`` class of the AttM code (Pan et al. 2024)."""

    collects_layers = True

    def __init__(self, num_layers: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num_layers))

    def layer_weights(self) -> torch.Tensor:
        """(L,) softmax weights, summing to 1."""
        return F.softmax(self.weight, dim=0)

    def forward(self, output) -> torch.Tensor:
        x = _transformer_layers(output)  # (B, L, F, H)
        return torch.einsum("blfh,l->bfh", x, self.layer_weights())


class AttM(nn.Module):
    """Attentive merging of hidden embeddings (Pan, Liu, Sailor, Wang, "Attentive Merging of Hidden
    Embeddings from Pre-trained Speech Model for Anti-spoofing Detection", Interspeech 2024, arXiv
    2406.10283; code github pandarialTJU/AttM_INTERSPEECH24, class ``AttM`` in ``model_file.py``).

    With X1 the L transformer layers ``(B, L, F, H)``, W ``(H, 1)``, W1 ``(L, L/2)``, W2 ``(L/2, L)``
    (standard-normal init, as released; L/2 rounds down)::

        X2 = mean over frames of X1            (B, L, H)
        X3 = SiLU(X2 @ W)                      (B, L)     one scalar per layer
        a  = sigmoid(SiLU(X3 @ W1) @ W2)       (B, L)     per-utterance layer weights in (0, 1)
        X5 = a * X1                            (B, L, F, H)
        Xc = layers concatenated per frame     (B, F, H*L)
        Y  = proj(Xc)                          (B, F, H)

    ``proj`` is what the released code computes: Linear(L*H -> L*H/4) -> SiLU -> Linear(L*H/4 -> H).
    Its ``nn.SiLU(nn.Linear(hidden, hidden))`` passes the middle Linear as SiLU's ``inplace``
    argument, so that Linear never runs (it only adds unused parameters, which we do not create).
    ``middle_linear=True`` builds the evidently intended middle layer instead:
    Linear -> SiLU -> Linear(L*H/4 -> L*H/4) -> SiLU -> Linear.

    The per-frame concatenation follows the released ``permute(0, 2, 3, 1)``: feature ``h * L + l``
    is layer l's feature h (interleaved), so the first Linear's weights match theirs.
    Deliberate differences: none in this module. The AttM recipe around it (10 epochs of merge + head
    only, then full fine-tuning; WavLM Large truncated to 12 layers; CNN always frozen) is not the
    demo's ``attm`` arm: see docs/models.md, "The demo arms lora and attm".
    """

    collects_layers = True

    def __init__(self, num_layers: int, hidden_size: int, middle_linear: bool = False) -> None:
        super().__init__()
        if num_layers < 2:
            raise ValueError(f"AttM needs at least 2 layers (its bottleneck has L/2 units); got {num_layers}")
        self.num_layers = num_layers
        self.W = nn.Parameter(torch.randn(hidden_size, 1))
        self.W1 = nn.Parameter(torch.randn(num_layers, num_layers // 2))
        self.W2 = nn.Parameter(torch.randn(num_layers // 2, num_layers))
        width = num_layers * hidden_size // 4
        middle = [nn.Linear(width, width), nn.SiLU()] if middle_linear else []
        self.proj = nn.Sequential(
            nn.Linear(num_layers * hidden_size, width), nn.SiLU(), *middle, nn.Linear(width, hidden_size)
        )

    def layer_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Per-utterance layer weights ``a`` (B, L) in (0, 1) for X1 = ``x`` (B, L, F, H)."""
        x3 = F.silu(x.mean(dim=2) @ self.W).squeeze(-1)  # (B, L, H) @ (H, 1) -> (B, L)
        return torch.sigmoid(F.silu(x3 @ self.W1) @ self.W2)  # (B, L)

    def merge(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L, F, H)`` -> ``(B, F, H)``."""
        a = self.layer_weights(x)
        x5 = a[:, :, None, None] * x  # (B, L, F, H)
        b, n_layers, frames, hidden = x5.shape
        xc = x5.permute(0, 2, 3, 1).reshape(b, frames, hidden * n_layers)  # (B, F, H*L), interleaved
        return self.proj(xc)

    def forward(self, output) -> torch.Tensor:
        return self.merge(_transformer_layers(output))


def build_merge(p: ModelParams, num_layers: int, hidden_size: int) -> nn.Module:
    """The merge ``p.merge`` for a backbone of ``num_layers`` transformer layers of width ``hidden_size``."""
    return MERGE_TYPES[p.merge](p, num_layers, hidden_size)


# name -> factory (params, layers, width); keys are exactly sdd.models.params.MERGES.
MERGE_TYPES = {
    "last": lambda p, n, h: LastLayer(),
    "index": lambda p, n, h: IndexLayer(p.layer),
    "weighted": lambda p, n, h: WeightedSum(n),
    "attm": lambda p, n, h: AttM(n, h, p.attm.middle_linear),
}
