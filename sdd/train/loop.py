"""The training loop: regimes ``clean``, ``augmented`` and ``dual_path`` (DPDA), selection on dev data.

Regimes (each optimizer step draws a global batch of ``batch_size`` training utterances):

- ``clean``: one weighted CE on the clean crops (no augmentation).
- ``augmented``: the usual augmentation baseline, DPDA's "without alignment": one forward over
  ``cat([x_clean, x_aug])`` (2B) and ONE pooled weighted CE (Truong et al., arXiv 2509.20682). Every
  ``telemetry_every`` steps the step is taken on the two paths instead (the mean of the per-path
  gradients, which equals the pooled gradient because both halves carry the same labels), to log the
  path-gradient telemetry. It optimises the same objective as ``dual_path`` with ``align: none``.
- ``augmented_only``: one weighted CE on the augmented crops alone (SSL-AASIST's recipe, Tak et al.,
  Odyssey 2022: its loader returns only the RawBoost'd waveform); the clean crops are not trained on.
- ``dual_path``: ``L_c = WCE(model(x_clean), y)``, ``L_a = WCE(model(x_aug), y)``, one gradient per path
  over all trainable parameters (:mod:`sdd.train.step`), combined by an aligner
  (:mod:`sdd.train.align`: none, pcgrad, gradvac, cagrad, gr), telemetry every step.

Around the step: Adam or AdamW, a learning-rate schedule (:mod:`sdd.train.schedule`), gradient
clipping of the applied update, accumulation over micro-batches, an optional head-only first stage
(``freeze_backbone_epochs``, AttM's two-stage schedule, with a fresh optimizer for the full stage as
AttM's code), bf16 autocast and TF32 on CUDA. A step whose loss or gradient is NaN/inf is skipped and
counted; ``max_nonfinite_steps`` in a row stop the run. Selection and early stopping use the clean dev
loss or dev EER only (:mod:`sdd.train.selection`); the final weights average the k best epochs, and
their own dev EER threshold (``summary["dev_eer_threshold"]``) is the decision threshold stored with
the model.

Faults and scale: with a checkpoint folder the run saves its full state every ``checkpoint_every``
steps and at each epoch end (:mod:`sdd.train.checkpoint`) and resumes from it, ending bit-identical to
an uninterrupted run on CPU: the data order is a function of (seed, epoch), and the global RNG (dropout)
is re-seeded from (seed, step, rank) before every step, so nothing random depends on history. Under
``torchrun`` every rank runs this function on its share of each batch (:mod:`sdd.train.distributed`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from sdd.core import faults
from sdd.core.configbase import to_dict
from sdd.core.sections import PUBLISHED_REGIME
from sdd.metrics import SortedScores
from sdd.models.detector import Detector
from sdd.models.source import backbone_sha256
from sdd.train import distributed
from sdd.train.align import Aligner, make_aligner
from sdd.train.align.core import align_
from sdd.train.align.mean import Mean
from sdd.train.arm_model import build_detector
from sdd.train.checkpoint import Checkpoints, run_key
from sdd.train.data import PairDataset, load_pairs
from sdd.train.loader import BatchDataset, BatchKey, epoch_batches, make_loader, run_keys, shard
from sdd.train.params import ArmConfig
from sdd.train.schedule import lr_at
from sdd.train.selection import Selection, average_state_dicts, average_state_dicts_dpda_aliased
from sdd.train.step import (
    AUG,
    CLEAN,
    POOLED,
    Buffers,
    accumulate_clean,
    accumulate_dual,
    accumulate_pooled,
    resolve_forward,
)
from sdd.train.telemetry import EPOCH_COLUMNS, TELEMETRY_COLUMNS, epoch_stats, run_stats

log = logging.getLogger(__name__)

__all__ = ["EPOCH_COLUMNS", "TELEMETRY_COLUMNS", "NonFiniteError", "TrainResult", "evaluate_dev", "fit",
           "head_parameter_names", "set_determinism"]


class NonFiniteError(RuntimeError):
    """Too many optimizer steps in a row had a NaN/inf loss or gradient."""


@dataclass
class TrainResult:
    """Per-epoch log rows, per-step telemetry rows and a summary dict (also the DVC/MLflow metrics), and
    the run's checkpoint folder (None: checkpoints off), which the caller removes once the model is saved."""

    epochs: list[dict] = field(default_factory=list)
    telemetry: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    checkpoint: Path | None = None


def set_determinism(seed: int, threads: int, device: torch.device | None = None, tf32: bool = False) -> None:
    """Same params + same seed -> same weights, bit for bit on CPU at a fixed thread count.

    On CUDA deterministic kernels are requested (``CUBLAS_WORKSPACE_CONFIG`` is set when absent), but
    an op without one only warns: bit-identity is promised on CPU. TF32 is allowed only when ``tf32``
    (it trades mantissa bits for speed).
    """
    cuda = device is not None and device.type == "cuda"
    if cuda:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=cuda)


def _step_seed(seed: int, step: int, rank: int) -> int:
    """The global RNG seed of optimizer step ``step`` on ``rank`` (dropout and LayerDrop masks)."""
    hi, lo = np.random.SeedSequence([seed, step, rank]).generate_state(2)
    return (int(hi) << 32) | int(lo)


def _seed_step(seed: int, step: int, rank: int) -> None:
    """Seed the global generators an optimizer step draws from: torch's (dropout, LayerDrop) and
    numpy's legacy one, from which transformers draws its SpecAugment time and feature masks
    (``mask_time_prob`` > 0 in most hub configs, e.g. XLS-R's and WavLM's); its seed comes from its own
    ``SeedSequence``, so the two streams are independent (torch's CPU generator is a Mersenne Twister
    too). No code of sdd draws from numpy's global generator, so a model without SpecAugment draws the
    same as before this seeding."""
    torch.manual_seed(_step_seed(seed, step, rank))
    np.random.seed(int(np.random.SeedSequence([seed, step, rank, 1]).generate_state(1)[0]))


def head_parameter_names(model: torch.nn.Module) -> set[str]:
    """The parameters trained in the head-only stage: ``model.head_parameters()`` when the model
    defines it, else everything under its ``head`` and ``merge`` submodules."""
    if hasattr(model, "head_parameters"):
        ids = {id(p) for p in model.head_parameters()}
        return {n for n, p in model.named_parameters() if id(p) in ids}
    names = {n for n, _ in model.named_parameters() if n.split(".")[0] in ("head", "merge")}
    if not names:
        raise ValueError(
            "train.freeze_backbone_epochs > 0 needs head parameters: the model has no head_parameters() "
            "method and no `head` or `merge` submodule"
        )
    return names


def _cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _describe(position: dict | None) -> str:
    if position is None:
        return "none (a fresh start)"
    return (f"epoch {position['epoch']}, batch {position['batch']}, step {position['step']}"
            + (" (finished)" if position["done"] else ""))


def _device(name: str, ctx: distributed.DistContext) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("train.device: 'cuda' requested, but no CUDA device is available")
        torch.cuda.set_device(ctx.local_rank)
        return torch.device("cuda", ctx.local_rank)
    return torch.device("cpu")


@torch.no_grad()
def evaluate_dev(model: Detector, dev: pd.DataFrame, arm: ArmConfig, weight: torch.Tensor,
                 device: torch.device | None = None,
                 autocast: Callable = contextlib.nullcontext) -> dict[str, float]:
    """Clean dev loss (weighted CE: ``sum w nll / sum w``), dev EER and its threshold
    (:meth:`sdd.metrics.SortedScores.eer_threshold`), on the first ``dev_samples``
    of each utterance (repeat-padded), the input the score stage uses. Under ``torchrun`` each rank
    scores its share and the results are gathered, so every rank gets the same values."""
    tp, ctx = arm.train, distributed.context()
    device = device or torch.device("cpu")
    model.eval()
    ds = BatchDataset(PairDataset(dev, tp.dev_samples, "first", arm.sample_rate))
    n = len(ds.pairs)
    keys = [BatchKey(0, i, shard(range(s, min(s + tp.batch_size, n)), ctx.rank, ctx.world_size), False)
            for i, s in enumerate(range(0, n, tp.batch_size))]
    loss_sum, weight_sum, parts = 0.0, 0.0, []
    for batch in make_loader(ds, lambda: keys, tp.workers, tp.prefetch_factor, device.type == "cuda"):
        if batch["y"].numel() == 0:
            continue
        x, y = batch["x_clean"].to(device), batch["y"].to(device)
        with autocast():
            logits = model(x).float()
        loss_sum += float(F.cross_entropy(logits, y, weight=weight, reduction="sum"))
        weight_sum += float(weight[y].sum())
        parts.append((batch["key"].utts, Detector.scores(logits).double().cpu().numpy(), y.cpu().numpy()))
    model.train()
    gathered = distributed.all_gather_objects((loss_sum, weight_sum, parts))
    total_loss, total_weight = sum(g[0] for g in gathered), sum(g[1] for g in gathered)
    order = sorted((i, s, lab) for g in gathered for utts, sc, la in g[2] for i, s, lab in zip(utts, sc, la,
                                                                                             strict=True))
    scores, labels = np.array([o[1] for o in order]), np.array([o[2] for o in order])
    sorted_dev = SortedScores.from_scores(scores[labels == 1], scores[labels == 0])
    return {"dev_loss": total_loss / total_weight, "dev_eer": sorted_dev.eer(),
            "dev_eer_threshold": sorted_dev.eer_threshold()}


class _Run:
    """The mutable state of one training run (what a checkpoint holds) and its step logic."""

    def __init__(self, arm: ArmConfig, model: Detector, device: torch.device, forward: str,
                 autocast: Callable) -> None:
        self.arm, self.tp, self.model, self.device = arm, arm.train, model, device
        self.forward, self.autocast = forward, autocast
        self.ctx = distributed.context()
        self.weight = torch.tensor([self.tp.spoof_weight, self.tp.bonafide_weight], device=device)
        self.base_trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        self.head = head_parameter_names(model) if self.tp.freeze_backbone_epochs else set()
        self.selection = Selection(self.tp.average_best, self.tp.patience, self.tp.min_epochs)
        self.best_states: dict[int, dict[str, torch.Tensor]] = {}
        self.epochs: list[dict] = []
        self.telemetry: list[dict] = []
        self.epoch, self.batch, self.step, self.done = 0, 0, 0, False
        self.nonfinite = {"consecutive": 0, "total": 0}
        self.seconds_before, self.t0 = 0.0, time.time()
        self.stage = ""
        self.params: list[torch.nn.Parameter] = []
        self.optimizer: torch.optim.Optimizer | None = None
        self.aligner: Aligner = Mean()

    # ---- stages, optimizer, checkpoints ----
    def stage_of(self, epoch: int) -> str:
        return "head" if epoch < self.tp.freeze_backbone_epochs else "full"

    def enter_stage(self, stage: str) -> None:
        """Set which parameters train; a fresh optimizer and aligner (AttM's second stage is a new one)."""
        for name, p in self.model.named_parameters():
            p.requires_grad_(name in self.base_trainable and (stage == "full" or name in self.head))
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[self.tp.optimizer]
        self.optimizer = opt_cls(self.params, lr=self.tp.lr, weight_decay=self.tp.weight_decay)
        self.aligner = make_aligner(self.arm.align, self.arm.aligner)
        if self.stage:
            log.info("arm %s: stage %s from epoch %d (%d trainable tensors)", self.arm.name, stage,
                     self.epoch, len(self.params))
        self.stage = stage

    def seconds(self) -> float:
        return self.seconds_before + time.time() - self.t0

    def state(self) -> dict:
        return {
            "version": 1,
            "position": {"epoch": self.epoch, "batch": self.batch, "step": self.step, "done": self.done},
            "stage": self.stage,
            "model": _cpu_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "aligner": self.aligner.state_dict(),
            "selection": {**self.selection.state_dict(), "ranked_epochs": self.selection.epochs},
            "epochs": self.epochs,
            "telemetry": self.telemetry,
            "nonfinite": dict(self.nonfinite),
            "seconds": self.seconds(),
            "world_size": self.ctx.world_size,
        }

    def restore(self, state: dict, best: dict[int, dict[str, torch.Tensor]]) -> None:
        pos = state["position"]
        self.epoch, self.batch, self.step, self.done = pos["epoch"], pos["batch"], pos["step"], pos["done"]
        self.model.load_state_dict(state["model"])
        self.enter_stage(self.stage_of(self.epoch))
        if state["stage"] == self.stage:  # else the checkpoint closed the previous stage's last epoch
            self.optimizer.load_state_dict(state["optimizer"])
            self.aligner.load_state_dict(state["aligner"])
        self.selection.load_state_dict({k: v for k, v in state["selection"].items() if k != "ranked_epochs"})
        self.best_states = best
        self.epochs, self.telemetry = state["epochs"], state["telemetry"]
        self.nonfinite = dict(state["nonfinite"])
        self.seconds_before = state["seconds"]
        log.info("arm %s: resuming at epoch %d, batch %d (optimizer step %d; checkpoint of %d process(es), "
                 "now %d)", self.arm.name, self.epoch, self.batch, self.step, state["world_size"],
                 self.ctx.world_size)

    # ---- one optimizer step ----
    def train_step(self, batch: dict, key: BatchKey, steps_per_epoch: int) -> dict:
        tp, regime = self.tp, self.arm.regime
        _seed_step(self.arm.seed, self.step, self.ctx.rank)
        lr = lr_at(tp, key.epoch, key.index, steps_per_epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x_c, x_a, y = (batch[k].to(self.device, non_blocking=True) for k in ("x_clean", "x_aug", "y"))
        two_paths = regime == "dual_path" or (regime == "augmented" and self.step % tp.telemetry_every == 0)
        buffers = Buffers(self.params)
        chunks = zip(*(torch.tensor_split(t, tp.accumulate) for t in (x_c, x_a if x_a.numel() else x_c, y)),
                     strict=True)
        for xc, xa, yy in chunks:
            if regime == "clean":
                accumulate_clean(self.model, buffers, xc, yy, self.weight, self.autocast)
            elif regime == "augmented_only":  # one path, on the augmented crops (buffer `clean`)
                accumulate_clean(self.model, buffers, xa, yy, self.weight, self.autocast)
            elif two_paths:
                accumulate_dual(self.model, buffers, xc, xa, yy, self.weight, self.forward, self.autocast)
            else:
                accumulate_pooled(self.model, buffers, xc, xa, yy, self.weight, self.autocast)
        row: dict = {"step": self.step, "epoch": key.epoch, "lr": lr}
        if two_paths:
            active, grads, losses = buffers.reduce([CLEAN, AUG])
            aligner = self.aligner if regime == "dual_path" else Mean()
            info = align_(grads[CLEAN], grads[AUG], aligner)
            update, norm, finite = grads[AUG], info.update_norm, info.finite
            row.update(loss=(losses[CLEAN] + losses[AUG]) / 2, loss_clean=losses[CLEAN], loss_aug=losses[AUG])
            if finite:
                row.update(cos=info.cos, conflict=info.conflict, norm_ratio=info.norm_ratio, **info.flags)
        else:
            path = CLEAN if regime in ("clean", "augmented_only") else POOLED  # one-path buffer
            active, grads, losses = buffers.reduce([path])
            update = grads[path]
            norm = float(torch.stack(torch._foreach_norm(update)).double().norm()) if update else 0.0
            finite = math.isfinite(norm)
            row["loss"] = losses[path]
        if finite and math.isfinite(row["loss"]):
            self.nonfinite["consecutive"] = 0
            if tp.clip_grad_norm is not None and norm > tp.clip_grad_norm:
                torch._foreach_mul_(update, tp.clip_grad_norm / (norm + 1e-6))
            for i, g in zip(active, update, strict=True):
                self.params[i].grad = g
            self.optimizer.step()
            row.update(grad_norm=norm, skipped=0.0)
        else:
            self._nonfinite(row, key)
        for p in self.params:
            p.grad = None
        return row

    def _nonfinite(self, row: dict, key: BatchKey) -> None:
        self.nonfinite["consecutive"] += 1
        self.nonfinite["total"] += 1
        row["skipped"] = 1.0
        where = f"optimizer step {self.step} (epoch {key.epoch}, batch {key.index})"
        log.warning("arm %s: non-finite loss or gradient at %s (loss %s); step skipped", self.arm.name, where,
                    row.get("loss"))
        if self.nonfinite["consecutive"] >= self.tp.max_nonfinite_steps:
            raise NonFiniteError(
                f"arm {self.arm.name}: {self.nonfinite['consecutive']} optimizer steps in a row had a "
                f"NaN/inf loss or gradient, the last at {where}; stopping (train.max_nonfinite_steps = "
                f"{self.tp.max_nonfinite_steps}). Lower train.lr, set train.clip_grad_norm, or check the data"
            )

    # ---- epoch end ----
    def end_epoch(self, epoch: int, dev: pd.DataFrame) -> dict:
        dev_metrics = evaluate_dev(self.model, dev, self.arm, self.weight, self.device, self.autocast)
        rows = [r for r in self.telemetry if r["epoch"] == epoch]
        row = {"epoch": epoch, "stage": self.stage, **epoch_stats(rows), **dev_metrics,
               "lr": rows[-1]["lr"] if rows else float("nan"), "seconds": self.seconds()}
        self.epochs.append(row)
        kept, dropped = self.selection.update(epoch, dev_metrics[self.tp.monitor])
        if kept:
            self.best_states[epoch] = _cpu_state(self.model)
        for e in dropped:
            self.best_states.pop(e, None)
        log.info("arm %s epoch %d: train loss %.4f, dev loss %.4f, dev EER %.4f%s", self.arm.name, epoch,
                 row.get("train_loss", float("nan")), row["dev_loss"], row["dev_eer"],
                 f", conflicts {row['conflict_ratio']:.1%}" if "conflict_ratio" in row else "")
        return row


def fit(
    arm: ArmConfig,
    train: pd.DataFrame,
    dev: pd.DataFrame,
    aug: pd.DataFrame | None = None,
    aug_dir: Path | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    checkpoint_dir: Path | None = None,
) -> tuple[Detector, TrainResult]:
    """Train one arm and return the selected (averaged) model.

    Args:
        arm: the resolved arm config (regime, aligner, model, train sections, seed).
        train, dev: manifests with ``utt_id, path, label``; dev is used only for model selection.
        aug: the augment stage's manifest (``source_utt_id, copy, path``), needed unless regime is
            ``clean``; paths are relative to ``aug_dir``.
        on_epoch: called on rank 0 with each epoch's log row (the stage logs it to MLflow).
        checkpoint_dir: root of resumable checkpoints (the run uses ``<root>/<arm>-<key>/``, keyed by
            the arm's config and the content of its backbone (:func:`sdd.train.checkpoint.run_key`), and
            resumes from it when present); None disables checkpoints.
    """
    tp = arm.train
    if arm.regime == PUBLISHED_REGIME:
        raise ValueError(
            f"arm {arm.name}: regime {PUBLISHED_REGIME!r} trains nothing (it scores the published "
            f"{arm.backbone!r} as it is); the train stage writes its record instead of calling fit"
        )
    if arm.regime != "clean" and aug is None:
        raise ValueError(f"regime {arm.regime!r} needs the augmented manifest; got none")
    ctx = distributed.context()
    device = _device(tp.device, ctx)
    set_determinism(arm.seed, tp.threads, device, tp.cuda_tf32)
    distributed.init(ctx, device)
    model = build_detector(arm).to(device)
    distributed.broadcast_module_(model)
    model.train()
    bf16 = device.type == "cuda" and tp.cuda_bf16
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    two_path_regime = arm.regime in ("augmented", "dual_path")  # clean, augmented_only: one path
    forward = resolve_forward(model, tp.dual_path.forward) if two_path_regime else "separate"
    run = _Run(arm, model, device, forward, autocast)
    pairs = load_pairs(train, aug) if arm.regime != "clean" else {}
    ds = PairDataset(train, tp.crop_samples, tp.crop, arm.sample_rate, pairs, aug_dir, arm.seed)
    steps_per_epoch = len(epoch_batches(len(ds), tp.batch_size, arm.seed, 0, tp.max_steps_per_epoch))
    ckpt = Checkpoints(None)
    if checkpoint_dir is not None:
        # hashed after the build: a hub backbone is in the local cache by now
        backbone_sha = backbone_sha256(arm.backbone)
        ckpt = Checkpoints(checkpoint_dir / run_key(to_dict(arm), backbone_sha), ctx.is_main, backbone_sha)
        log.info("arm %s: checkpoints in %s (backbone %s)", arm.name, ckpt.folder,
                 f"sha256 {backbone_sha[:16]}" if backbone_sha else f"{arm.backbone}, a seeded random init")
    loaded = ckpt.load()
    if ckpt.enabled:  # every rank reads the folder: on several nodes it must be one they share
        position = loaded[0]["position"] if loaded else None
        distributed.require_same(
            position, f"{_describe(position)} in {ckpt.folder}",
            f"arm {arm.name}: the checkpoint to resume from",
            "under torchrun on several nodes the checkpoint folder must be a folder every node shares "
            "(docs/team.md), or be absent on every node",
        )  # fmt: skip
    if loaded:
        run.restore(*loaded)
    else:
        run.enter_stage(run.stage_of(0))
    log.info("arm %s: regime %s, align %s (%s), %s step, %d trainable parameters, %d train utterances, "
             "%d process(es), device %s", arm.name, arm.regime, arm.align, arm.aligner.granularity, forward,
             sum(p.numel() for p in run.params), len(train), ctx.world_size, device)

    def keys():
        return run_keys(len(ds), tp.batch_size, arm.seed, tp.epochs, tp.max_steps_per_epoch, run.epoch,
                        run.batch, ctx.rank, ctx.world_size)

    loader = make_loader(BatchDataset(ds), keys, tp.workers, tp.prefetch_factor, device.type == "cuda")
    for batch in ([] if run.done else loader):
        key = batch["key"]
        run.epoch = key.epoch
        if run.stage_of(key.epoch) != run.stage:
            run.enter_stage(run.stage_of(key.epoch))
        run.telemetry.append(run.train_step(batch, key, steps_per_epoch))
        run.step, run.batch = run.step + 1, key.index + 1
        if key.last:
            row = run.end_epoch(key.epoch, dev)
            if on_epoch and ctx.is_main:
                on_epoch(row)
            run.epoch, run.batch = key.epoch + 1, 0
            run.done = run.selection.should_stop(key.epoch + 1) or run.epoch >= tp.epochs
            if run.done and run.epoch < tp.epochs:
                log.info("arm %s: early stop after epoch %d (%s did not improve for %d epochs)", arm.name,
                         key.epoch, tp.monitor, run.selection.since_best)
            if ckpt.enabled:
                ckpt.save(run.state(), run.best_states)
            if run.done:
                break
        elif ckpt.enabled and run.step % tp.checkpoint_every == 0:
            ckpt.save(run.state(), run.best_states)
        faults.point("train:step")
    del loader

    ranked = [run.best_states[e] for e in run.selection.epochs]
    average = average_state_dicts if tp.average == "mean" else average_state_dicts_dpda_aliased
    model.load_state_dict(average(ranked))
    # the saved model is the average: its own dev EER threshold is what `sdd score --decisions` uses
    final = evaluate_dev(model, dev, arm, run.weight, device, autocast)
    model.eval()
    best_row = next(r for r in run.epochs if r["epoch"] == run.selection.best_epoch)
    summary = {
        "epochs": len(run.epochs),
        "steps": run.step,
        "seconds": run.seconds(),
        "best_epochs": sorted(run.selection.epochs),
        "epochs_to_best": run.selection.best_epoch + 1,
        "best_dev_loss": best_row["dev_loss"],
        "best_dev_eer": best_row["dev_eer"],
        "final_dev_loss": final["dev_loss"],
        "final_dev_eer": final["dev_eer"],
        "dev_eer_threshold": final["dev_eer_threshold"],
        "monitor": tp.monitor,
        "trainable_parameters": sum(p.numel() for n, p in model.named_parameters()
                                    if n in run.base_trainable),
        "step_path": {"clean": "clean", "augmented": f"pooled+{forward}", "augmented_only": "augmented_only"}
                     .get(arm.regime, forward),
        "processes": ctx.world_size,
        **run_stats(run.telemetry),
    }
    return model, TrainResult(epochs=run.epochs, telemetry=run.telemetry, summary=summary,
                              checkpoint=ckpt.folder)
