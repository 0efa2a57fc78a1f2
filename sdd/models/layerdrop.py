"""One LayerDrop draw shared by the forward passes of a step: what DPDA's joint pass does.

``transformers``' wav2vec2-family encoders implement LayerDrop (Fan et al., 2019) in their forward: in
training mode each transformer layer is skipped when a fresh ``torch.rand([])`` falls below
``config.layerdrop``, one draw per layer and per forward call (WavLM never skips its first layer, which
computes the relative position bias the others reuse). The published configs keep it on (0.05-0.1;
``facebook/wav2vec2-xls-r-300m`` and ``microsoft/wavlm-large`` 0.1).

DPDA's step is one forward over ``cat([x_clean, x_aug])``, so one draw decides which layers run for
both paths. ``train.dual_path.forward: separate`` runs one forward per path; left to transformers, the
two passes draw two masks, and a layer dropped on one path only gets a gradient from the other path
alone (the aligner then sees a zero for it on the first). :func:`shared_layerdrop` makes the passes
inside it run the same layers: on entry it draws the mask once, with transformers' rule (a ``torch.rand``
per droppable layer, in layer order, from the same generator: under the same RNG state it is the mask
the joint forward would draw), then, until exit, each encoder iterates over its kept layers only, with
its own draws switched off (``config.layerdrop`` 0). Skipping a layer that way is what transformers'
loop does when it skips it (checked against transformers' own forward in tests/train/test_layerdrop.py).

Why this and not the joint pass whenever LayerDrop is on: it is exact for LayerDrop and costs one
``torch.rand`` per layer, while the joint pass holds the graph of 2B utterances until its second
backward (measured at 1.5x the step time and +14% peak memory at Base size, docs/training.md).

Only the encoders of :data:`ENCODERS` are known to draw as described; any other module with LayerDrop
on (an unknown encoder, or the wav2vec2 adapter, which draws from numpy) is refused by
:func:`check_shared_layerdrop`, before training, with the way out (``train.dual_path.forward: joint``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ENCODERS", "EncoderRule", "check_shared_layerdrop", "layerdrop_modules", "shared_layerdrop"]


@dataclass(frozen=True)
class EncoderRule:
    """How a ``transformers`` encoder class applies LayerDrop.

    Attributes:
        first_droppable: the index of the first layer LayerDrop may skip (the layers before it always
            run and draw nothing).
    """

    first_droppable: int


#: ``transformers`` encoder class name -> its LayerDrop rule (the loop of ``forward`` in each
#: ``modeling_*.py``: ``for i, layer in enumerate(self.layers)``, a ``torch.rand([])`` per droppable layer).
ENCODERS: dict[str, EncoderRule] = {
    "Wav2Vec2Encoder": EncoderRule(first_droppable=0),
    "Wav2Vec2EncoderStableLayerNorm": EncoderRule(first_droppable=0),  # XLS-R, wav2vec2 large-lv60
    "HubertEncoder": EncoderRule(first_droppable=0),
    "HubertEncoderStableLayerNorm": EncoderRule(first_droppable=0),
    "Data2VecAudioEncoder": EncoderRule(first_droppable=0),
    # WavLM: only layer 0 has the relative position embedding; its bias is passed on to the others.
    "WavLMEncoder": EncoderRule(first_droppable=1),
    "WavLMEncoderStableLayerNorm": EncoderRule(first_droppable=1),  # WavLM Large
}


def _rate(module: nn.Module) -> float:
    """The LayerDrop probability ``module`` applies itself (0 when it has none)."""
    config = getattr(module, "config", None)
    if config is not None and isinstance(getattr(module, "layers", None), nn.ModuleList):
        return float(getattr(config, "layerdrop", 0.0) or 0.0)
    if isinstance(getattr(module, "layerdrop", None), float) and hasattr(module, "layers"):
        return float(module.layerdrop)  # e.g. Wav2Vec2Adapter (draws from numpy)
    return 0.0


def layerdrop_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every submodule of ``model`` that skips layers at random in training."""
    return [(name, m) for name, m in model.named_modules() if _rate(m) > 0]


def check_shared_layerdrop(model: nn.Module) -> None:
    """Raise when ``model`` has LayerDrop in a module :func:`shared_layerdrop` cannot share.

    Raises:
        ValueError: naming the module, its class and the known encoder classes.
    """
    for name, module in layerdrop_modules(model):
        kind = type(module).__name__
        if kind not in ENCODERS:
            raise ValueError(
                f"train.dual_path.forward: 'separate' cannot give both paths the same LayerDrop mask in "
                f"{name or 'the model'} ({kind}, LayerDrop {_rate(module):g}): known encoders are "
                f"{', '.join(sorted(ENCODERS))}; use 'joint' (one forward for both paths)"
            )


def _draw(module: nn.Module, rule: EncoderRule) -> list[int]:
    """Indices of the layers that run, drawn as transformers draws them (one ``torch.rand([])`` per
    droppable layer, in order; a layer is skipped when its draw is below the rate)."""
    rate = _rate(module)
    kept = []
    for i in range(len(module.layers)):
        if i < rule.first_droppable or not bool(torch.rand([]) < rate):
            kept.append(i)
    return kept


@contextlib.contextmanager
def shared_layerdrop(model: nn.Module) -> Iterator[dict[str, list[int]]]:
    """Every forward of ``model`` inside the block runs the same layers, drawn once on entry.

    Does nothing (and draws nothing) when ``model`` is in eval mode or no module has LayerDrop on, so a
    model without LayerDrop sees the same random stream as without this block.

    Yields:
        ``{encoder name: indices of the layers that run}`` (empty when nothing is drawn).

    Raises:
        ValueError: a module with LayerDrop that is not in :data:`ENCODERS` (see
            :func:`check_shared_layerdrop`).
    """
    modules = layerdrop_modules(model) if model.training else []
    if not modules:
        yield {}
        return
    check_shared_layerdrop(model)
    saved = []
    kept_by_name = {}
    try:
        for name, module in modules:
            kept = _draw(module, ENCODERS[type(module).__name__])
            kept_by_name[name] = kept
            layers = module.layers
            saved.append((module, layers, module.config.layerdrop))
            module.layers = nn.ModuleList([layers[i] for i in kept])
            module.config.layerdrop = 0.0
        yield kept_by_name
    finally:
        for module, layers, rate in reversed(saved):
            module.layers = layers
            module.config.layerdrop = rate
