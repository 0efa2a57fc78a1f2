"""One optimizer step's gradients: per path, as weighted sums, in at most two gradient copies.

Losses are weighted cross-entropies ``L = sum_i w_{y_i} nll_i / sum_i w_{y_i}`` (DPDA: bona fide 0.9,
spoof 0.1). Micro-batches (``train.accumulate``) and processes (``torchrun``) hold parts of one global
batch, so each accumulates the SUMS ``sum w * grad(nll)`` and ``sum w`` per path; :meth:`Buffers.reduce`
adds them over processes and divides once. The result equals the gradient of the loss over the whole
global batch, whatever the split.

How the two dual-path gradients are obtained (``train.dual_path.forward``, measured in
``benchmarks/align_overhead.py``):

- ``separate``: per path one forward over its B utterances and one backward. Autograd accumulates
  straight into that path's buffer (``p.grad`` is swapped per path, never copied), the two buffers
  are the only gradient copies, and nothing is flattened. The forward and backward FLOPs are those of
  one pooled step over 2B, and on CPU it measures at the pooled step's cost. Exact only without
  cross-sample layers: BatchNorm in training mode normalises with batch statistics, which differ
  between a B and a 2B batch. The backbone's LayerDrop is drawn once per micro-batch and shared by
  both passes (:func:`sdd.models.layerdrop.shared_layerdrop`), as in the joint forward, so a dropped
  layer gets a gradient from neither path rather than from one.
- ``joint``: DPDA's own step, one forward over ``cat([x_clean, x_aug])`` and two backward passes (the
  first retains the graph). Needed for BatchNorm models (SSL-AASIST's back-end); ``auto`` picks it
  when the model has such a layer.

The ``augmented`` regime's pooled step (one forward over 2B, one backward of the pooled loss) and the
``clean`` regime's single path use the same buffers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sdd.models.layerdrop import check_shared_layerdrop, layerdrop_modules, shared_layerdrop
from sdd.train import distributed

__all__ = ["Buffers", "accumulate_clean", "accumulate_dual", "accumulate_pooled", "cross_sample_modules",
           "resolve_forward"]

log = logging.getLogger(__name__)

CLEAN, AUG, POOLED = "clean", "aug", "pooled"
Autocast = Callable[[], contextlib.AbstractContextManager]  # a fresh autocast (or null) context per use


def cross_sample_modules(model: nn.Module) -> list[str]:
    """Names of modules whose training-mode output for one sample depends on the others (BatchNorm)."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _unshared_layerdrop(model: nn.Module) -> str | None:
    """Why separate passes cannot share ``model``'s LayerDrop draw (None when they can)."""
    try:
        check_shared_layerdrop(model)
    except ValueError as exc:
        return str(exc)
    return None


def resolve_forward(model: nn.Module, requested: str) -> str:
    """``separate`` or ``joint`` for ``train.dual_path.forward``.

    ``auto`` is ``joint`` when the model has BatchNorm or a LayerDrop module that separate passes cannot
    share (not in :data:`sdd.models.layerdrop.ENCODERS`), else ``separate``.

    Raises:
        ValueError: ``separate`` was requested for a model with cross-sample layers or such a LayerDrop
            module (its per-path gradients would not be the joint forward's).
    """
    mixing = cross_sample_modules(model)
    unshared = _unshared_layerdrop(model)
    if requested == "auto":
        if unshared and not mixing:
            log.info("train.dual_path.forward auto -> joint: %s", unshared)
        resolved = "joint" if mixing or unshared else "separate"
    elif requested == "separate" and mixing:
        raise ValueError(
            f"train.dual_path.forward: 'separate' gives wrong per-path gradients for a model with "
            f"cross-sample layers ({', '.join(mixing[:3])}{' ...' if len(mixing) > 3 else ''}: BatchNorm "
            "normalises with batch statistics); use 'joint' or 'auto'"
        )
    elif requested == "separate" and unshared:
        raise ValueError(unshared)
    elif requested in ("separate", "joint"):
        resolved = requested
    else:
        raise ValueError(f"train.dual_path.forward: got {requested!r}; expected auto, separate or joint")
    dropping = [name for name, _ in layerdrop_modules(model)]
    if resolved == "separate" and dropping:
        log.info("train.dual_path.forward separate: LayerDrop in %s, drawn once per micro-batch for both "
                 "paths", ", ".join(dropping))
    return resolved


class Buffers:
    """Per-path gradient sums of one optimizer step, over a fixed list of parameters.

    :meth:`into` points every ``p.grad`` at the path's buffer while a backward runs, so autograd adds
    into it in place (the first backward's gradients become the buffer, no copy). Also holds the
    per-path sums of ``w * nll`` and ``w``.
    """

    def __init__(self, params: Sequence[nn.Parameter]) -> None:
        self.params = list(params)
        self.grads: dict[str, list[torch.Tensor | None]] = {}
        self.loss_sum: dict[str, torch.Tensor] = {}
        self.weight_sum: dict[str, torch.Tensor] = {}

    @contextlib.contextmanager
    def into(self, path: str) -> Iterator[None]:
        grads = self.grads.get(path, [None] * len(self.params))
        for p, g in zip(self.params, grads, strict=True):
            p.grad = g
        try:
            yield
        finally:
            self.grads[path] = [p.grad for p in self.params]
            for p in self.params:
                p.grad = None

    def add_sums(self, path: str, loss_sum: torch.Tensor, weight_sum: torch.Tensor) -> None:
        z = torch.zeros((), dtype=torch.float64)
        self.loss_sum[path] = self.loss_sum.get(path, z) + loss_sum.detach().double().cpu()
        self.weight_sum[path] = self.weight_sum.get(path, z) + weight_sum.detach().double().cpu()

    def reduce(
        self, paths: Sequence[str]
    ) -> tuple[list[int], dict[str, list[torch.Tensor]], dict[str, float]]:
        """Sum over processes, then divide by the summed weights: per-path gradients of the mean losses.

        Returns:
            ``(active, grads, losses)``: indices of the parameters that received a gradient on some
            path, each path's gradients of those parameters (zeros where a path had none), and each
            path's weighted mean loss.
        """
        n = len(self.params)
        grads = {path: self.grads.get(path, [None] * n) for path in paths}
        if distributed.context().distributed:
            # Every rank must reduce the same tensors: a rank whose share was empty adds zeros.
            active = list(range(n))
        else:
            active = [i for i in range(n) if any(grads[path][i] is not None for path in paths)]
        out = {
            path: [g[i] if g[i] is not None else torch.zeros_like(self.params[i]) for i in active]
            for path, g in grads.items()
        }
        zero = torch.zeros((), dtype=torch.float64)
        sums = torch.stack([torch.stack([self.loss_sum.get(p, zero), self.weight_sum.get(p, zero)])
                            for p in paths])  # (paths, 2)
        if distributed.context().distributed:  # NCCL reduces device tensors only
            sums = sums.to(self.params[0].device)
            distributed.all_reduce_([t for path in paths for t in out[path]] + [sums])
            sums = sums.cpu()
        losses = {}
        for k, path in enumerate(paths):
            loss_sum, weight_sum = float(sums[k, 0]), float(sums[k, 1])
            if weight_sum > 0:
                torch._foreach_div_(out[path], weight_sum)
            losses[path] = loss_sum / weight_sum if weight_sum > 0 else float("nan")
        self.grads.clear()
        return active, out, losses


def _weighted_nll_sum(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor,
                                                                                           torch.Tensor]:
    """``(sum_i w_{y_i} nll_i, sum_i w_{y_i})``: the numerator and denominator of the weighted CE."""
    if logits.dtype in (torch.float16, torch.bfloat16):  # autocast: the loss in float32
        logits = logits.float()
    return F.cross_entropy(logits, y, weight=weight, reduction="sum"), weight[y].sum()


def accumulate_clean(model: nn.Module, buffers: Buffers, x: torch.Tensor, y: torch.Tensor,
                     weight: torch.Tensor, autocast: Autocast) -> None:
    """One path (regime ``clean``, or ``augmented_only`` with the augmented crops as ``x``): the weighted
    CE sum of ``model(x)`` into buffer ``clean``."""
    if x.shape[0] == 0:
        return
    with buffers.into(CLEAN):
        with autocast():
            logits = model(x)
        loss, w = _weighted_nll_sum(logits, y, weight)
        loss.backward()
    buffers.add_sums(CLEAN, loss, w)


def accumulate_pooled(model: nn.Module, buffers: Buffers, x_clean: torch.Tensor, x_aug: torch.Tensor,
                      y: torch.Tensor, weight: torch.Tensor, autocast: Autocast) -> None:
    """The ``augmented`` regime: one forward over ``cat([x_clean, x_aug])`` and one pooled backward."""
    if x_clean.shape[0] == 0:
        return
    with buffers.into(POOLED):
        with autocast():
            logits = model(torch.cat([x_clean, x_aug]))  # (2B, 2)
        loss, w = _weighted_nll_sum(logits, torch.cat([y, y]), weight)
        loss.backward()
    buffers.add_sums(POOLED, loss, w)


def accumulate_dual(model: nn.Module, buffers: Buffers, x_clean: torch.Tensor, x_aug: torch.Tensor,
                    y: torch.Tensor, weight: torch.Tensor, forward: str,
                    autocast: Autocast) -> None:
    """Both paths' weighted CE sums into buffers ``clean`` and ``aug`` (``forward``: separate | joint)."""
    if x_clean.shape[0] == 0:
        return
    if forward == "separate":
        with shared_layerdrop(model):  # one LayerDrop draw for both paths, as the joint forward's
            for path, x in ((CLEAN, x_clean), (AUG, x_aug)):
                with buffers.into(path):
                    with autocast():
                        logits = model(x)
                    loss, w = _weighted_nll_sum(logits, y, weight)
                    loss.backward()
                buffers.add_sums(path, loss, w)
        return
    if forward != "joint":
        raise ValueError(f"forward: got {forward!r}; expected 'separate' or 'joint' (resolve 'auto' first)")
    with autocast():
        logits = model(torch.cat([x_clean, x_aug]))  # (2B, 2)
    b = x_clean.shape[0]
    loss_c, w_c = _weighted_nll_sum(logits[:b], y, weight)
    loss_a, w_a = _weighted_nll_sum(logits[b:], y, weight)
    with buffers.into(CLEAN):
        loss_c.backward(retain_graph=True)
    with buffers.into(AUG):
        loss_a.backward()
    buffers.add_sums(CLEAN, loss_c, w_c)
    buffers.add_sums(AUG, loss_a, w_a)
