"""The partial-model curve: `main` fine-tuned on the backbone cut to its first k layers, for each k of
``probe.partial_layers`` (AttM's "partial model": WavLM Large cut to 12 of 24 layers, Pan et al.,
Interspeech 2024). The layers are really removed (:func:`sdd.models.backbone.truncate_layers`), so
parameters and compute shrink with k. Each point records the EER per eval set (bootstrap 95% CI), the
parameters, and the forward seconds per second of audio (eval mode, no grad, the scorer's input:
``score.num_samples``, or under ``score.input: whole_utterance`` the arm's ``train.dev_samples``). The
EERs are of scores under the score stage's input rule (``score.input``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sdd.core.stage import manifest_path, read_manifest
from sdd.metrics import eer, eer_confidence_interval
from sdd.models.source import resolve_backbone
from sdd.scoring.score import score_manifest
from sdd.train.loop import fit
from sdd.train.params import PartialPlan

log = logging.getLogger(__name__)

__all__ = ["forward_seconds_per_audio_second", "run_partial"]


@torch.no_grad()
def forward_seconds_per_audio_second(
    model: torch.nn.Module, num_samples: int, batch: int = 8, repeats: int = 3, sample_rate: int = 16000
) -> float:
    """Median wall seconds of one eval-mode forward pass over ``batch`` clips of ``num_samples``,
    divided by the audio seconds in the batch (one warm-up pass first)."""
    model.eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((batch, num_samples)).astype(np.float32))
    model(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / (batch * num_samples / sample_rate)


def run_partial(
    plan: PartialPlan,
    train: pd.DataFrame,
    dev: pd.DataFrame,
    aug: pd.DataFrame | None,
    aug_dir: Path,
    manifests: Path,
    backbone_dir: Path,
) -> list[dict]:
    """One point per arm of ``plan.arms`` (``data/plan/partial.json``)."""
    score = plan.score
    ev = plan.evaluate
    eval_sets = {e.name: read_manifest(manifest_path(manifests, e.corpus, e.split)) for e in plan.eval_sets}
    points = []
    for arm in plan.arms:
        run_arm = dataclasses.replace(arm, backbone=resolve_backbone(arm.backbone, backbone_dir))
        model, result = fit(run_arm, train, dev, aug if arm.regime != "clean" else None, aug_dir)
        model.eval()
        torch.set_num_threads(score.threads)
        point = {
            "layers": arm.model.layers,
            "parameters": sum(p.numel() for p in model.parameters()),
            "backbone_parameters": sum(p.numel() for p in model.backbone.parameters()),
            "forward_seconds_per_audio_second": forward_seconds_per_audio_second(
                model, arm.train.dev_samples if score.whole else score.num_samples
            ),
            "train_seconds": result.summary["seconds"],
            "epochs": result.summary["epochs"],
            "dev_eer": result.summary["final_dev_eer"],
            "eer": {},
            "ci95": {},
        }
        for name, manifest in eval_sets.items():
            s = score_manifest(model, manifest, score, arm.sample_rate)
            bona = (manifest["label"] == "bonafide").to_numpy()
            point["eer"][name] = eer(s[bona], s[~bona])
            if ev.ci and ev.n_resamples:
                point["ci95"][name] = list(
                    eer_confidence_interval(s[bona], s[~bona], n_resamples=ev.n_resamples, seed=ev.seed)
                )
        log.info("partial model, %d layers: %s", arm.model.layers, point["eer"])
        points.append(point)
    return points
