"""The training loop: regimes ``clean``, ``augmented`` and ``dual_path`` (DPDA), model selection on dev.

Regimes (each step draws a batch of B training utterances):

- ``clean``: one weighted CE on the B clean crops.
- ``augmented``: the usual data-augmentation baseline with the same samples per step as dual path:
  one forward over ``cat([x_clean, x_aug])`` (2B) and ONE pooled weighted CE. This is exactly DPDA's
  "without alignment" baseline (Truong et al. 2025, arXiv 2509.20682). On telemetry steps the two
  halves' losses are differentiated separately (two backward passes, as DPDA's code does) and their
  mean is applied, which equals the pooled gradient because both halves carry the same labels.
- ``dual_path``: DPDA with an aligner: ``L_c = WCE(model(x_clean), y)``, ``L_a = WCE(model(x_aug), y)``,
  one flattened gradient per path over all trainable parameters, combined by
  :data:`sdd.train.align.ALIGNERS` (``none`` = mean, ``pcgrad``). We run two per-path forward/backward
  passes instead of DPDA's single forward on 2B with ``retain_graph``: the gradients are the same for
  models without cross-sample layers (no BatchNorm here), at about the baseline's cost, and telemetry
  comes free every step.

Model selection uses the CLEAN dev loss only (DPDA: early stopping on clean dev loss); the final
weights are the mean of the ``average_best`` best epochs' weights, and their dev EER threshold
(``summary["dev_eer_threshold"]``) is the decision threshold stored with the model. Deliberate difference from
DPDA-GA's released code: its averaging aliases tensors and computes (2*b1 + b2 + b3 + b4)/5; ours is
the mean of the k state dicts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from sdd.metrics import SortedScores
from sdd.models.detector import Detector
from sdd.train.align import ALIGNERS, gradient_telemetry
from sdd.train.data import PairDataset, load_pairs
from sdd.train.params import ArmConfig

log = logging.getLogger(__name__)

__all__ = ["TELEMETRY_COLUMNS", "TrainResult", "average_state_dicts", "fit", "set_determinism"]

# Every arm's telemetry table has these columns (NaN where a regime or step has no value), so one
# `dvc plots` definition over the whole telemetry folder renders every arm.
TELEMETRY_COLUMNS = (
    "step",
    "epoch",
    "loss",
    "loss_clean",
    "loss_aug",
    "cos",
    "conflict",
    "norm_ratio",
    "projected",
)


@dataclass
class TrainResult:
    """Per-epoch log rows, per-step telemetry rows and a summary dict (also the DVC/MLflow metrics)."""

    epochs: list[dict] = field(default_factory=list)
    telemetry: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def set_determinism(seed: int, threads: int) -> None:
    """Same params + same seed -> same weights, bit for bit on CPU at a fixed thread count."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def average_state_dicts(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of k state dicts (floating tensors); other tensors come from the first.

    Each input must be an independent copy (no aliasing): that is the bug in DPDA-GA's averaging.
    """
    if not states:
        raise ValueError("average_state_dicts: got no state dicts")
    out = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            out[key] = torch.stack([s[key] for s in states]).mean(dim=0)
        else:
            out[key] = first.clone()
    return out


def _flat_grad(loss: torch.Tensor, params: list[torch.nn.Parameter], retain: bool = False) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, params, strict=True)
        ]
    )


def _write_grad(update: torch.Tensor, params: list[torch.nn.Parameter]) -> None:
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = update[offset : offset + n].view_as(p).clone()
        offset += n


def _batches(n: int, batch_size: int, seed: int, epoch: int, max_steps: int | None) -> list[list[int]]:
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=gen).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    return batches[:max_steps] if max_steps else batches


def _collate(ds: PairDataset, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    items = [ds[i] for i in idx]
    x_clean = torch.stack([it[0] for it in items])  # (B, N)
    x_aug = torch.stack([it[1] for it in items]) if items[0][1].numel() else torch.empty(0)
    y = torch.tensor([it[2] for it in items], dtype=torch.long)  # (B,)
    return x_clean, x_aug, y


@torch.no_grad()
def evaluate_dev(
    model: Detector, dev: pd.DataFrame, arm: ArmConfig, weight: torch.Tensor
) -> dict[str, float]:
    """Clean dev loss (weighted CE), dev EER and its threshold (``sdd.metrics.eer_threshold``), on the
    first ``dev_samples`` of each utterance (repeat-padded), the same input the score stage uses."""
    model.eval()
    ds = PairDataset(dev, arm.train.dev_samples, "first", arm.sample_rate)
    losses, scores, labels = [], [], []
    for start in range(0, len(ds), arm.train.batch_size):
        x, _, y = _collate(ds, list(range(start, min(start + arm.train.batch_size, len(ds)))))
        logits = model(x)
        # reduction="none" already multiplies each term by weight[y]: sum them, then divide by the
        # summed weights, which is exactly F.cross_entropy(all_logits, all_y, weight=weight).
        losses.append(F.cross_entropy(logits, y, weight=weight, reduction="none"))
        scores.append(Detector.scores(logits))
        labels.append(y)
    model.train()
    y_all, s_all = torch.cat(labels), torch.cat(scores).numpy()
    loss = (torch.cat(losses).sum() / weight[y_all].sum()).item()
    dev = SortedScores.from_scores(s_all[y_all.numpy() == 1], s_all[y_all.numpy() == 0])
    return {"dev_loss": loss, "dev_eer": dev.eer(), "dev_eer_threshold": dev.eer_threshold()}


def fit(
    arm: ArmConfig,
    train: pd.DataFrame,
    dev: pd.DataFrame,
    aug: pd.DataFrame | None = None,
    aug_dir: Path | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> tuple[Detector, TrainResult]:
    """Train one arm and return the selected (averaged) model.

    Args:
        arm: the resolved arm config (regime, aligner, model, train sections, seed).
        train, dev: manifests with ``utt_id, path, label``; dev is used only for model selection.
        aug: the augment stage's manifest (``source_utt_id, copy, path``), needed unless regime is
            ``clean``; paths are relative to ``aug_dir``.
        on_epoch: called with each epoch's log row (the stage logs it to MLflow).
    """
    tp = arm.train
    if arm.regime != "clean" and aug is None:
        raise ValueError(f"regime {arm.regime!r} needs the augmented manifest; got none")
    set_determinism(arm.seed, tp.threads)
    model = Detector.from_arm(arm)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[tp.optimizer]
    opt = opt_cls(params, lr=tp.lr, weight_decay=tp.weight_decay)
    weight = torch.tensor([tp.spoof_weight, tp.bonafide_weight])  # index 0 spoof, 1 bona fide
    aligner = ALIGNERS[arm.align]
    align_gen = torch.Generator().manual_seed(arm.seed)
    pairs = load_pairs(train, aug) if arm.regime != "clean" else {}
    n_params = sum(p.numel() for p in params)
    log.info("arm %s: regime %s, align %s, %d trainable parameters, %d train utterances",
             arm.name, arm.regime, arm.align, n_params, len(train))

    result, best = TrainResult(), []  # best: [(dev_loss, epoch, state_dict)]
    t0, step, since_best, best_loss = time.time(), 0, 0, float("inf")
    for epoch in range(tp.epochs):
        ds = PairDataset(train, tp.crop_samples, tp.crop, arm.sample_rate, pairs, aug_dir, arm.seed, epoch)
        ep_losses = []
        for idx in _batches(len(ds), tp.batch_size, arm.seed, epoch, tp.max_steps_per_epoch):
            x_clean, x_aug, y = _collate(ds, idx)
            row = {"step": step, "epoch": epoch}
            if arm.regime == "clean":
                loss = F.cross_entropy(model(x_clean), y, weight=weight)
                loss.backward()
            elif arm.regime == "augmented":
                logits = model(torch.cat([x_clean, x_aug]))  # (2B, 2)
                b = x_clean.shape[0]
                if step % tp.telemetry_every == 0:
                    l_c = F.cross_entropy(logits[:b], y, weight=weight)
                    l_a = F.cross_entropy(logits[b:], y, weight=weight)
                    g_c = _flat_grad(l_c, params, retain=True)
                    g_a = _flat_grad(l_a, params)
                    _write_grad((g_c + g_a) / 2, params)
                    loss = (l_c + l_a) / 2
                    row.update(loss_clean=l_c.item(), loss_aug=l_a.item(), **gradient_telemetry(g_c, g_a))
                else:
                    loss = F.cross_entropy(logits, torch.cat([y, y]), weight=weight)
                    loss.backward()
            else:  # dual_path
                l_c = F.cross_entropy(model(x_clean), y, weight=weight)
                g_c = _flat_grad(l_c, params)
                l_a = F.cross_entropy(model(x_aug), y, weight=weight)
                g_a = _flat_grad(l_a, params)
                update, info = aligner([g_c, g_a], align_gen)
                _write_grad(update, params)
                loss = (l_c + l_a) / 2
                row.update(loss_clean=l_c.item(), loss_aug=l_a.item(), **gradient_telemetry(g_c, g_a),
                           projected=float(info["projected"]))
            opt.step()
            opt.zero_grad(set_to_none=True)
            row["loss"] = loss.item()
            ep_losses.append(row["loss"])
            result.telemetry.append(row)
            step += 1
        dev_metrics = evaluate_dev(model, dev, arm, weight)
        ep_row = {"epoch": epoch, "train_loss": float(np.mean(ep_losses)), **dev_metrics,
                  "seconds": time.time() - t0}
        result.epochs.append(ep_row)
        log.info("arm %s epoch %d: train loss %.4f, dev loss %.4f, dev EER %.4f",
                 arm.name, epoch, ep_row["train_loss"], ep_row["dev_loss"], ep_row["dev_eer"])
        if on_epoch:
            on_epoch(ep_row)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        best = sorted(best + [(dev_metrics["dev_loss"], epoch, state)], key=lambda b: (b[0], b[1]))[
            : tp.average_best
        ]
        if dev_metrics["dev_loss"] < best_loss:
            best_loss, since_best = dev_metrics["dev_loss"], 0
        else:
            since_best += 1
            if since_best > tp.patience:
                log.info("arm %s: early stop after epoch %d (no dev-loss improvement for %d epochs)",
                         arm.name, epoch, since_best)
                break
    model.load_state_dict(average_state_dicts([b[2] for b in best]))
    # the saved model is the average: its own dev EER threshold is what `sdd score --decisions` uses
    final = evaluate_dev(model, dev, arm, weight)
    model.eval()
    tele = [r for r in result.telemetry if "conflict" in r]
    result.summary = {
        "epochs": len(result.epochs),
        "steps": step,
        "seconds": time.time() - t0,
        "best_epochs": sorted(b[1] for b in best),
        "best_dev_loss": best[0][0],
        "final_dev_loss": final["dev_loss"],
        "final_dev_eer": final["dev_eer"],
        "dev_eer_threshold": final["dev_eer_threshold"],
        "trainable_parameters": n_params,
        **({"conflict_ratio": float(np.mean([r["conflict"] for r in tele])),
            "mean_cos": float(np.mean([r["cos"] for r in tele]))} if tele else {}),
        **({"projection_ratio": float(np.mean([r["projected"] for r in tele if "projected" in r]))}
           if any("projected" in r for r in tele) else {}),
    }
    return model, result
