"""A rehearsal of an arm at full size: its real architecture with random weights, a few optimizer steps of
its own training step on synthetic audio, and checks that the step trains exactly what the config says.

:func:`rehearse` builds the arm's backbone from its published architecture
(:func:`sdd.train.architectures.architecture_config`: no download), the
:class:`~sdd.models.detector.Detector` on it as the train stage does, and runs ``steps`` optimizer
steps through the training loop's own step (:class:`sdd.train.loop._Run`: the arm's regime, forward
mode, aligner, optimizer, learning-rate schedule and loss weights), on CPU, on white-noise crops of
``train.crop_samples`` samples. An arm with a head-only first stage (``train.freeze_backbone_epochs``)
is rehearsed in both stages, each with a fresh optimizer as in training.

A stage passes (:func:`verdict`) when every step's loss is finite, the trainable parameter count equals
the count computed from the config (:func:`analytic_trainable`, closed formulas of
:mod:`sdd.train.architectures`), every frozen tensor is bit-identical after the steps, and every
trainable tensor changed, with two named exceptions that must then be unchanged: the tensors of a
transformer layer that LayerDrop skipped in every step (the published configs keep LayerDrop 0.1; the
layers that ran are counted with forward hooks), and tensors the model never uses by design
(:data:`UNUSED_BY_DESIGN`). Tensors are compared by a BLAKE2 digest of their bytes, so no second copy
of the weights is held. BatchNorm running statistics are buffers, not parameters, and are not checked.

It also measures what the step costs: FLOPs of the first step of each stage
(``torch.utils.flop_counter.FlopCounterMode``: matmuls and convolutions, forward and backward), the
bytes autograd saved for the backward of that step (``torch.autograd.graph.saved_tensors_hooks``,
distinct storages), the FLOPs of one dev-set forward (eval mode, ``train.dev_samples``), and wall times.
``benchmarks/rehearsal.py`` runs it for every preset.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from sdd.models.backbone import encoder_layers
from sdd.models.detector import Detector
from sdd.train.architectures import (
    architecture_config,
    backbone_parameters,
    head_parameters,
    lora_parameters,
    merge_parameters,
)
from sdd.train.loader import BatchKey
from sdd.train.loop import _Run, set_determinism
from sdd.train.params import ArmConfig
from sdd.train.step import resolve_forward

__all__ = ["UNUSED_BY_DESIGN", "StageResult", "analytic_trainable", "rehearse", "verdict"]

log = logging.getLogger(__name__)

#: Tensors a model trains (counted, ``requires_grad``) but never uses by design, so they get no gradient:
#: (when it applies, given the model section and the backbone config; name pattern; why).
UNUSED_BY_DESIGN: tuple[tuple[Callable[[Any, Any], bool], str, str], ...] = (
    (
        lambda m, c: m.head == "aasist",
        r"^head\.encoder\.[1-9]\d*\.0\.bn1\.(weight|bias)$",
        "SSL-AASIST's bn1 of residual blocks 2-6: its output is discarded, as in the reference model.py "
        "(sdd.models.aasist.ResidualBlock)",
    ),
    (
        lambda m, c: m.merge in ("attm", "weighted", "index") and c.do_stable_layer_norm,
        r"^backbone\.encoder\.layer_norm\.(weight|bias)$",
        "a pre-LN encoder's final LayerNorm: layer merges read the layer outputs before it, as AttM's code "
        "(sdd.models.merges)",
    ),
)


def analytic_trainable(arm: ArmConfig, stage: str = "full", **overrides: Any) -> int:
    """The trainable parameters of ``arm``'s detector in ``stage`` (``head`` or ``full``), from the
    published architecture's config (``overrides`` as given to :func:`architecture_config`) and the
    ``model`` section alone."""
    m = arm.model
    config = architecture_config(arm.backbone, **overrides)
    layers = m.layers if m.layers is not None else config.num_hidden_layers
    h = config.hidden_size
    top = merge_parameters(m.merge, layers, h, m.attm.middle_linear) + head_parameters(m.head, h)
    if stage == "head":
        return top
    backbone = backbone_parameters(arm.backbone, layers, **overrides)
    if m.finetune == "full":
        return top + backbone["total"] - (backbone["feature_encoder"] if m.freeze_feature_encoder else 0)
    if m.finetune == "lora":
        return top + lora_parameters(arm.backbone, m.lora.r, m.lora.target_modules, layers, **overrides)
    if m.finetune == "frozen":
        return top
    raise ValueError(f"model.finetune {m.finetune!r}: no closed count here (expected full, lora or frozen)")


def _digests(model: torch.nn.Module) -> dict[str, bytes]:
    return {
        n: hashlib.blake2b(
            p.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes(), digest_size=16
        ).digest()
        for n, p in model.named_parameters()
    }


@dataclass
class StageResult:
    """One rehearsed stage: its measurements and its verdict (``problems`` empty: it passed)."""

    stage: str
    losses: list[float]
    trainable: int
    analytic: int
    trainable_tensors: int
    frozen_tensors: int
    skipped_by_layerdrop: list[str]
    unused_by_design: list[str]
    problems: list[str]
    flops_step: int
    saved_bytes: int
    utterances: int
    seconds: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def verdict(
    losses: list[float],
    trainable: dict[str, int],
    frozen: set[str],
    before: dict[str, bytes],
    after: dict[str, bytes],
    analytic: int,
    layer_of: dict[str, int],
    layers_ran: set[int],
    unused: set[str],
    got_grad: set[str],
) -> tuple[list[str], list[str], list[str]]:
    """The pass criteria of a stage. Returns ``(problems, skipped_by_layerdrop, unused_by_design)``.

    Args:
        losses: each step's loss. trainable: name -> size of each trainable tensor. frozen: the others.
        before, after: tensor digests before and after the steps. analytic: the count from the config.
        layer_of: name -> transformer layer index, for the tensors inside one. layers_ran: the layers
            that ran in at least one step. unused: tensors the model never uses by design.
        got_grad: the tensors given a nonzero update in some step (the optimizer's input).
    """
    problems = [f"step {i}: loss {loss}" for i, loss in enumerate(losses) if not math.isfinite(loss)]
    count = sum(trainable.values())
    if count != analytic:
        problems.append(f"{count} trainable parameters; the config gives {analytic}")
    moved = {n for n in before if before[n] != after[n]}
    frozen_moved = sorted(moved & frozen)
    if frozen_moved:
        problems.append(f"{len(frozen_moved)} frozen tensors changed, e.g. {frozen_moved[:3]}")
    still = sorted(set(trainable) - moved)
    dropped = [n for n in still if n in layer_of and layer_of[n] not in layers_ran and n not in got_grad]
    by_design = [n for n in still if n in unused and n not in dropped and n not in got_grad]
    unexplained = [n for n in still if n not in dropped and n not in by_design]
    rounded = [n for n in unexplained if n in got_grad]
    if rounded:
        problems.append(
            f"{len(rounded)} trainable tensors got a gradient but did not change (the update "
            f"rounds away in float32), e.g. {rounded[:3]}"
        )
    no_grad = [n for n in unexplained if n not in got_grad]
    if no_grad:
        problems.append(
            f"{len(no_grad)} trainable tensors got no gradient and did not change, e.g. {no_grad[:3]}"
        )
    wrongly_used = sorted((moved | got_grad) & unused)
    if wrongly_used:
        problems.append(
            f"{len(wrongly_used)} tensors unused by design got a gradient or changed, e.g. {wrongly_used[:3]}"
        )
    return problems, dropped, by_design


class _SavedBytes:
    """Bytes of the distinct storages autograd saves for backward while active."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.bytes = 0

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in self.seen:
            self.seen.add(storage.data_ptr())
            self.bytes += storage.nbytes()
        return t

    def __call__(self):
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)


def _batch(arm: ArmConfig, per_path: int, step: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """White-noise crops of ``train.crop_samples`` samples; labels alternate (both classes in a step of
    two utterances, else across steps)."""
    n = arm.train.crop_samples
    y = torch.tensor([(step + i) % 2 for i in range(per_path)])
    x_clean = 0.1 * torch.randn(per_path, n, generator=gen)
    x_aug = x_clean + 0.02 * torch.randn(per_path, n, generator=gen)  # a stand-in for the augmented copy
    return {"x_clean": x_clean, "x_aug": x_aug, "y": y}


def rehearse(
    arm: ArmConfig,
    per_path: int,
    steps: int = 2,
    steps_per_epoch: int = 1000,
    threads: int = 2,
    **overrides: Any,
) -> dict[str, Any]:
    """Rehearse ``arm`` (module docstring) and return its measurements and verdict per stage.

    Args:
        arm: a resolved arm (e.g. a preset's, through the plan) whose backbone is a published architecture.
        per_path: utterances per path in each step (the arm's own batch is far larger).
        steps: optimizer steps per stage (at least 2: the criteria need a second step).
        steps_per_epoch: the position in the epoch the learning-rate schedule sees.
        overrides: replace fields of the published architecture (the fast test's tiny sizes).
    """
    if steps < 2:
        raise ValueError(f"rehearse: steps={steps}; expected at least 2")
    set_determinism(arm.seed, threads)
    torch.use_deterministic_algorithms(False)  # a rehearsal checks the step, not bit-identity
    device = torch.device("cpu")
    model = Detector(_backbone(arm, overrides), arm.model)
    model.train()
    two_paths = arm.regime in ("augmented", "dual_path")
    forward = resolve_forward(model, arm.train.dual_path.forward) if two_paths else "separate"
    run = _Run(arm, model, device, forward, contextlib.nullcontext)
    layers = encoder_layers(model.backbone)
    layer_of = {}
    for i, layer in enumerate(layers):
        for n, p in model.named_parameters():
            if any(p is q for q in layer.parameters()):
                layer_of[n] = i
    patterns = [p for applies, p, _ in UNUSED_BY_DESIGN if applies(arm.model, model.backbone.config)]
    unused = {n for n, _ in model.named_parameters() if any(re.match(p, n) for p in patterns)}
    utterances = per_path if arm.regime in ("clean", "augmented_only") else 2 * per_path
    gen = torch.Generator().manual_seed(arm.seed)
    stages = (["head"] if arm.train.freeze_backbone_epochs else []) + ["full"]
    results, step_index = [], 0
    for stage in stages:
        run.epoch = 0 if stage == "head" else arm.train.freeze_backbone_epochs
        run.stage = ""
        run.enter_stage(stage)
        trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
        frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
        analytic = analytic_trainable(arm, stage, **overrides)
        ran: set[int] = set()
        hooks = [
            layer.register_forward_pre_hook(lambda m, a, i=i, ran=ran: ran.add(i))
            for i, layer in enumerate(layers)
        ]
        names = {id(p): n for n, p in model.named_parameters()}
        got_grad: set[str] = set()

        def record(optimizer, args, kwargs, got=got_grad, names=names) -> None:  # the update about to apply
            got.update(
                names[id(p)]
                for g in optimizer.param_groups
                for p in g["params"]
                if p.grad is not None and bool(p.grad.abs().max() > 0)
            )

        hooks.append(run.optimizer.register_step_pre_hook(record))
        before = _digests(model)
        losses, seconds, flops, saved = [], [], 0, _SavedBytes()
        try:
            for k in range(steps):
                batch = _batch(arm, per_path, step_index, gen)
                key = BatchKey(run.epoch, k, tuple(range(per_path)), False)
                measure = k == 0
                counter = FlopCounterMode(display=False)
                t0 = time.perf_counter()
                with (
                    counter if measure else contextlib.nullcontext(),
                    saved() if measure else contextlib.nullcontext(),
                ):
                    row = run.train_step(batch, key, steps_per_epoch)
                seconds.append(time.perf_counter() - t0)
                if measure:
                    flops = counter.get_total_flops()
                run.step = step_index = step_index + 1
                losses.append(float(row["loss"]) if not row.get("skipped") else float("nan"))
                log.info(
                    "rehearsal %s stage %s step %d: loss %.4f, %.1f s",
                    arm.name,
                    stage,
                    k,
                    losses[-1],
                    seconds[-1],
                )
        finally:
            for hook in hooks:
                hook.remove()
        after = _digests(model)
        problems, dropped, by_design = verdict(
            losses, trainable, frozen, before, after, analytic, layer_of, ran, unused, got_grad
        )
        results.append(
            StageResult(
                stage,
                losses,
                sum(trainable.values()),
                analytic,
                len(trainable),
                len(frozen),
                dropped,
                by_design,
                problems,
                flops,
                saved.bytes,
                utterances,
                seconds,
            )
        )
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(0.1 * torch.randn(1, arm.train.dev_samples, generator=gen))
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "forward": forward,
        "stages": results,
        "dev_flops_per_utterance": counter.get_total_flops(),
    }


def _backbone(arm: ArmConfig, overrides: dict[str, Any]):
    from transformers import AutoModel

    config = architecture_config(arm.backbone, **overrides)
    log.info(
        "rehearsal %s: random init of %s's architecture (%d layers, width %d)",
        arm.name,
        arm.backbone,
        config.num_hidden_layers,
        config.hidden_size,
    )
    return AutoModel.from_config(config)
