"""AttM's per-utterance layer weights, recorded while a model scores (no extra forward pass).

AttM (:class:`sdd.models.merges.AttM`, Pan et al., Interspeech 2024) computes a weight in (0, 1) per
transformer layer and utterance. :class:`LayerWeightRecorder` hooks the merge of a detector and keeps
those weights for every utterance the detector scores; :meth:`LayerWeightRecorder.take` summarises
them as the mean and standard deviation over utterances per layer. Other merges record nothing. The
score stage writes the summaries (``layer_weights.json``, :mod:`sdd.train.score_arm`); the report's
probing section plots them (:mod:`sdd.report.probing`).
"""

from __future__ import annotations

import numpy as np
import torch

from sdd.models.merges import AttM

__all__ = ["LayerWeightRecorder"]


class LayerWeightRecorder:
    """Record AttM layer weights during the forward passes of ``model`` (a detector)."""

    def __init__(self, model: torch.nn.Module) -> None:
        merge = getattr(model, "merge", None)
        self.active = isinstance(merge, AttM)
        self._rows: list[np.ndarray] = []
        if self.active:
            merge.register_forward_hook(self._hook)

    def _hook(self, module: AttM, inputs, output) -> None:
        del output
        layers = torch.stack(inputs[0].hidden_states[1:], dim=1)  # (B, L, F, H), as AttM.forward
        with torch.no_grad():
            self._rows.append(module.layer_weights(layers).float().cpu().numpy())

    def take(self) -> dict | None:
        """``{"mean": [L], "std": [L], "n": utterances}`` since the last call (None if inactive)."""
        if not self.active or not self._rows:
            return None
        a = np.concatenate(self._rows)
        self._rows = []
        return {"mean": a.mean(axis=0).tolist(), "std": a.std(axis=0).tolist(), "n": int(len(a))}
