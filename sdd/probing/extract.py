"""The extract stage's work: load a probed model, run ONE forward pass per utterance of every split,
store the pooled hidden states (:mod:`sdd.probing.features`).

A probed model is a folder: a train-stage checkpoint (``config.json`` holding ``arm``; its backbone as
fine-tuned, input normalised as the detector does), a ``save_pretrained`` backbone, or a backbone record
of the pretrain stage (:mod:`sdd.models.source`). For a bare backbone the input is normalised per
utterance when ``model.normalize_input`` is on, as the detector would feed it.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pandas as pd
import torch

from sdd.core.configbase import to_dict
from sdd.models.detector import load_detector
from sdd.models.source import backbone_from_folder
from sdd.probing.features import HiddenStates, extract_split, save_features
from sdd.probing.params import ExtractPlan

log = logging.getLogger(__name__)

__all__ = ["extract_model", "load_probed_model", "probed_model_dir"]


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, keepdim=True) + 1e-7)


def load_probed_model(folder: Path, normalize_input: bool) -> tuple[HiddenStates, dict]:
    """``(waves (B, T) -> L + 1 hidden states, info)`` for a model folder, in eval mode.

    ``info``: ``kind`` (``arm`` or ``backbone``), ``model_type``, ``num_layers``, ``hidden_size``,
    ``parameters`` (of the backbone).
    """
    cfg = folder / "config.json"
    meta = json.loads(cfg.read_text()) if cfg.is_file() else {}
    if "arm" in meta:
        detector, _ = load_detector(folder)
        backbone, fn, kind = detector.backbone, detector.hidden_states, "arm"
    else:
        backbone = backbone_from_folder(folder).eval()
        kind = "backbone"

        def fn(x: torch.Tensor):
            return backbone(_normalise(x) if normalize_input else x, output_hidden_states=True).hidden_states

    c = backbone.config
    info = {
        "kind": kind,
        "model_type": c.model_type,
        "num_layers": c.num_hidden_layers,
        "hidden_size": c.hidden_size,
        "parameters": sum(p.numel() for p in backbone.parameters()),
    }
    return fn, info


def probed_model_dir(folder: Path) -> Path:
    """The folder to probe: a backbone folder or checkpoint as is; an arm's folder of seeds
    (``models/<arm>/s<seed>/``) gives the checkpoint of its lowest trained seed.

    Raises:
        FileNotFoundError: an arm folder none of whose seeds holds a trained model.
    """
    if not folder.is_dir() or any((folder / f).is_file() for f in ("config.json", "backbone.json")):
        return folder
    seeds = sorted((int(d.name[1:]), d) for d in folder.glob("s*") if d.is_dir() and d.name[1:].isdigit())
    trained = [d for _, d in seeds if (d / "config.json").is_file()]
    if not trained:
        raise FileNotFoundError(f"{folder}: no trained model to probe (expected config.json in it or in "
                                f"one of its seed folders s<seed>/; found {[d.name for _, d in seeds]})")
    return trained[0]


def extract_model(plan: ExtractPlan, model_dir: Path, splits: dict[str, pd.DataFrame], out_dir: Path) -> dict:
    """Extract every split (``{split id: manifest}``: ``train``, ``dev`` and the eval sets) and write
    ``features.npz`` + ``meta.json`` into ``out_dir``; returns the meta."""
    ex = plan.extract
    torch.set_num_threads(ex.threads)
    fn, info = load_probed_model(model_dir, plan.normalize_input)
    arrays, seconds, audio = {}, 0.0, 0.0
    for split, manifest in splits.items():
        start = time.perf_counter()
        arrays[split] = (
            manifest,
            extract_split(fn, manifest, num_samples=ex.num_samples, batch_size=ex.batch_size),
        )
        seconds += time.perf_counter() - start
        audio += (
            len(manifest) * ex.num_samples / 16000
            if ex.num_samples
            else float(manifest["duration_s"].sum())
        )
        log.info(
            "extract %s: %s, %d utterances in %.1f s",
            model_dir,
            split,
            len(manifest),
            time.perf_counter() - start,
        )
    meta = {
        **info,
        "model": str(model_dir),
        "splits": {s: len(m) for s, m in splits.items()},
        "seconds": seconds,
        "audio_seconds": audio,
        "extract": to_dict(ex),
    }
    save_features(out_dir, arrays, meta)
    return meta
