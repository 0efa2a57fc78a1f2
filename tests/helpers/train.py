"""A tiny synthetic training corpus and arm config, shared by the training tests and the subprocess
worker (:mod:`tests.helpers.train_worker`) that the resume and ``torchrun`` tests launch, and the
comparison of a ``torchrun`` run with one process on the global batch (1 node x 2 processes and 2 nodes
x 1 process)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sdd.audio.io import read_audio, write_audio
from sdd.core.configbase import build
from sdd.models.params import ModelParams, TinyBackboneParams
from sdd.train.params import AlignerParams, ArmConfig, TrainParams, resolve_aligner

SR = 16000
TINY = TinyBackboneParams(conv_channels=8, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=16)


def make_corpus(root: Path, n_train: int = 8, n_dev: int = 4, seed: int = 0):
    """``(train, dev, aug, aug_dir)``: harmonic 'bona fide' vs noisy 'spoof' utterances of 0.15-0.3 s and
    one noisier augmented copy of each training utterance, as FLAC under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_train + n_dev):
        label = "bonafide" if i % 2 == 0 else "spoof"
        n = int(SR * rng.uniform(0.15, 0.3))
        t = np.arange(n) / SR
        if label == "bonafide":
            wave = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 200) * t)
        else:
            wave = 0.3 * rng.standard_normal(n)
        path = root / f"u{i}.flac"
        write_audio(path, wave.astype(np.float32), SR)
        rows.append({"utt_id": f"u{i}", "path": str(path), "label": label,
                     "attack": "-" if label == "bonafide" else "A01",
                     "split": "train" if i < n_train else "dev"})
    df = pd.DataFrame(rows)
    aug_dir, aug_rows = root / "aug", []
    for r in rows[:n_train]:
        w, _ = read_audio(r["path"])
        noisy = w + 0.05 * rng.standard_normal(w.shape[0]).astype(np.float32)
        write_audio(aug_dir / f"{r['utt_id']}__aug0.flac", noisy, SR)
        aug_rows.append({"utt_id": f"{r['utt_id']}__aug0", "source_utt_id": r["utt_id"], "copy": 0,
                         "path": f"{r['utt_id']}__aug0.flac"})
    return df[df.split == "train"], df[df.split == "dev"], pd.DataFrame(aug_rows), aug_dir


def make_arm(regime: str = "dual_path", align: str = "none", aligner: dict | None = None, seed: int = 3,
             **train) -> ArmConfig:
    tp = dict(epochs=2, batch_size=4, lr=1e-3, crop_samples=3200, patience=1, average_best=2, threads=1,
              telemetry_every=1, workers=0)
    tp.update(train)
    return ArmConfig(
        name="t", corpus="synthetic", backbone="tiny-wavlm", regime=regime, align=align,
        seed=seed,
        model=ModelParams(tiny=TINY), train=TrainParams(**tp),
        aligner=resolve_aligner(align, build(AlignerParams, aligner or {}, "aligner")),
    )


def without_dropout(model: torch.nn.Module) -> torch.nn.Module:
    """Zero every dropout probability (nn.Dropout modules and attention modules' float ``dropout``)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        elif isinstance(getattr(m, "dropout", None), float):
            m.dropout = 0.0
    return model


def write_corpus(root: Path) -> tuple[Path, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Path]]:
    """The ``torchrun`` tests' corpus (10 training and 5 dev utterances) under ``root``, with its
    manifests written as train.csv, dev.csv and aug.csv (what the worker's spec ``manifests`` names)."""
    train, dev, aug, aug_dir = make_corpus(root / "audio", n_train=10, n_dev=5)
    for name, df in (("train.csv", train), ("dev.csv", dev), ("aug.csv", aug)):
        df.to_csv(root / name, index=False)
    return root, (train, dev, aug, aug_dir)


#: The arm both ``torchrun`` tests train: 10 utterances, global batch 4: steps of 4, 4 and 2 (split
#: 1 + 1 over 2 ranks) per epoch, 6 steps in all.
DDP_ARM = {"regime": "dual_path", "epochs": 2, "batch_size": 4, "lr": 3e-3, "patience": None,
           "average_best": 1}


def assert_trains_like_one_process(ddp: dict, single: torch.nn.Module, single_result, processes: int) -> None:
    """``ddp`` (what the worker saved from rank 0 of a ``torchrun`` job) trained the weights, the
    per-step telemetry and the per-epoch dev values of one process on the global batch (``single``,
    ``single_result``), to 1e-6.

    The attention key bias is the one exception: softmax ignores a shift shared by a query's logits,
    so its exact gradient is 0 and what it receives is rounding noise (~1e-10), which Adam divides by
    its own square root; the noise differs with the summation order, so its weights do too."""
    assert ddp["summary"]["processes"] == processes
    assert ddp["summary"]["steps"] == single_result.summary["steps"] == 6
    zero_grad = [k for k in single.state_dict() if k.endswith("attention.k_proj.bias")]
    assert zero_grad
    for key, value in single.state_dict().items():
        if key not in zero_grad:
            torch.testing.assert_close(ddp["state"][key], value, rtol=0, atol=1e-6, msg=key)
    for a, b in zip(ddp["telemetry"], single_result.telemetry, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)
        assert a["cos"] == pytest.approx(b["cos"], abs=1e-5)
    for a, b in zip(ddp["epochs"], single_result.epochs, strict=True):
        assert a["dev_loss"] == pytest.approx(b["dev_loss"], abs=1e-6) and a["dev_eer"] == b["dev_eer"]
