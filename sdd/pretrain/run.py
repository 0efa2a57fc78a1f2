"""What the ``pretrain`` stage does, given its plan document: pretrain, or write two backbone records.

- ``backbone: pretrained``: self-supervised pretraining of ``pretrain.init`` with ``pretrain.objective``
  (HuBERT's first iteration, :mod:`sdd.pretrain.hubert`, or wav2vec 2.0's, :mod:`sdd.pretrain.wav2vec2`)
  on the training corpus's train split (audio only: labels are never read). ``models/backbone`` gets
  the pretrained ``save_pretrained`` folder (a ``Wav2Vec2Model`` whatever the objective); ``models/random``
  gets the weights pretraining started from when it started from a random init (a tiny preset: the
  same weights for both objectives), else a record of the architecture with random weights (continued
  pretraining of a hub model).
- any other backbone: no work; both folders get a :data:`sdd.models.source.RECORD` (the arms build
  the backbone themselves; the extract stage probes what the records describe).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd

from sdd.audio.io import read_audio
from sdd.core.configbase import build, to_dict
from sdd.core.paths import resolve
from sdd.models.params import PRETRAINED
from sdd.models.source import write_record
from sdd.pretrain.params import PRETRAIN_INITS, PretrainParams, PretrainPlan

log = logging.getLogger(__name__)

__all__ = ["run_pretrain_plan"]


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def run_pretrain_plan(plan: PretrainPlan, train: pd.DataFrame, backbone_dir: Path, random_dir: Path) -> dict:
    """Run the stage for ``plan`` (``data/plan/pretrain.json``); returns the summary (``{}`` when
    pretraining is skipped) with ``log`` rows for the per-step CSV."""
    tiny = plan.tiny
    _fresh(backbone_dir), _fresh(random_dir)
    if plan.backbone != PRETRAINED:
        log.info("pretrain: skipped (backbone %r is not %r); writing records", plan.backbone, PRETRAINED)
        write_record(backbone_dir, plan.backbone, "pretrained", plan.seed, to_dict(tiny))
        write_record(random_dir, plan.backbone, "random", plan.seed, to_dict(tiny))
        return {"pretrained": False, "backbone": plan.backbone}

    import torch

    from sdd.pretrain import hubert, wav2vec2

    # objective -> (the model to pretrain, its loop); both models hold the encoder as `.wav2vec2`
    objectives = {
        "hubert": (hubert.pretraining_model, hubert.run_pretraining),
        "wav2vec2": (wav2vec2.pretraining_model, wav2vec2.run_pretraining),
    }
    p = build(PretrainParams, plan.pretrain, "pretrain")
    pretraining_model, run_pretraining = objectives[p.objective]
    torch.set_num_threads(p.threads)
    model = pretraining_model(p, tiny)
    if p.init in PRETRAIN_INITS:
        wav2vec2.save_backbone(model, random_dir)  # the exact random init pretraining starts from
    else:
        write_record(random_dir, p.init, "random", p.seed, to_dict(tiny))
    waves = [read_audio(resolve(path))[0] for path in train["path"]]
    result = run_pretraining(model, waves, p)
    wav2vec2.save_backbone(model, backbone_dir)
    total = sum(q.numel() for q in model.wav2vec2.parameters())
    return {
        "pretrained": True,
        "init": p.init,
        "backbone_parameters": total,
        **result.summary,
        "log": result.log,
    }
