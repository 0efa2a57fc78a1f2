"""wav2vec 2.0 self-supervised pretraining of the demo backbone, with ``transformers``' own objective.

The objective is wav2vec 2.0's (Baevski, Zhou, Mohamed, Auli, NeurIPS 2020, arXiv 2006.11477), as
``transformers.Wav2Vec2ForPreTraining`` computes it: spans of the CNN features are masked
(``_compute_mask_indices``), the transformer's output at each masked frame must pick the quantized CNN
feature of that frame (a Gumbel-softmax product quantizer) among ``num_negatives`` quantized
distractors from other masked frames of the same crop (``_sample_negative_indices``): the contrastive
loss L_m, a cross-entropy over cosine similarities / kappa; plus ``alpha`` times the diversity loss
L_d, which pushes the quantizer to use all its codevectors. Masks and negatives are drawn exactly as
Hugging Face's ``run_wav2vec2_pretraining_no_trainer.py`` example draws them (its data collator calls
those two helpers); the loss is summed over masked frames by the model and divided by their number
here, as that example does; the Gumbel temperature decays geometrically from ``gumbel_temperature[0]``
to ``[1]`` over the run.

The pretrain stage's default objective (``pretrain.objective: wav2vec2``; HuBERT's first iteration,
:mod:`sdd.pretrain.hubert`, is the alternative, measured against it at equal CPU time in docs/probing.md).
Its loss and quantizer ship inside ``transformers`` (one class, used as released), so nothing of the
objective is ours. ``Wav2Vec2ForPreTraining`` wraps a ``Wav2Vec2Model``, so the pretrained demo
backbone is a tiny wav2vec2, not the tiny WavLM of the ``tiny-wavlm`` preset (the two differ only in
WavLM's gated relative position bias). Its settings are ``pretrain.wav2vec2``.

Deterministic for a seed on CPU: ``torch.manual_seed`` before the initialisation, a seeded numpy
generator for the crops, and the global numpy seed for the two ``transformers`` helpers (they draw from
``np.random``). The output is ``save_pretrained`` of the inner ``Wav2Vec2Model`` (the quantizer and the
projections are pretraining-only and dropped), so ``AutoModel.from_pretrained`` loads it and the train
stage fine-tunes it like any local backbone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sdd.core import atomic, faults
from sdd.core.paths import resolve
from sdd.models.backbone import TINY_BACKBONES
from sdd.models.params import TinyBackboneParams
from sdd.pretrain.crops import crop, normalise
from sdd.pretrain.params import PRETRAIN_INITS, PretrainParams

log = logging.getLogger(__name__)

__all__ = [
    "PretrainResult",
    "fixed_batch",
    "load_init",
    "pretraining_loss",
    "pretraining_model",
    "run_pretraining",
    "save_backbone",
]


def _ssl_settings(p: PretrainParams) -> dict[str, Any]:
    """Config fields of the objective (masking, negatives, temperatures, loss weight)."""
    w = p.wav2vec2
    return dict(
        apply_spec_augment=True,  # the model replaces masked frames only when this is on
        mask_time_prob=w.mask_time_prob,
        mask_time_length=w.mask_time_length,
        num_negatives=w.num_negatives,
        contrastive_logits_temperature=w.logits_temperature,
        diversity_loss_weight=w.diversity_loss_weight,
    )


def pretraining_model(p: PretrainParams, tiny: TinyBackboneParams):
    """``Wav2Vec2ForPreTraining`` to start from, in train mode.

    ``p.init`` ``tiny-wav2vec2``: a random init (``torch.manual_seed(p.seed)``) of the tiny preset plus a
    quantizer of ``p``'s sizes. Otherwise a wav2vec2 checkpoint (hub id or local folder) with its
    quantizer, for continued pretraining; its quantizer sizes are its own.
    """
    from transformers import Wav2Vec2ForPreTraining

    torch.manual_seed(p.seed)
    w = p.wav2vec2
    if p.init in PRETRAIN_INITS:
        cfg = TINY_BACKBONES[p.init](tiny)
        cfg.update(
            dict(
                num_codevector_groups=w.codevector_groups,
                num_codevectors_per_group=w.codevectors_per_group,
                codevector_dim=w.codevector_dim,
                proj_codevector_dim=w.proj_codevector_dim,
                **_ssl_settings(p),
            )
        )
        model = Wav2Vec2ForPreTraining(cfg)
    else:
        model = load_init(Wav2Vec2ForPreTraining, p.init, _ssl_settings(p))
    model.config.layerdrop = 0.0
    model.train()
    return model


def _masks(model, batch: int, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Span masks (B, F) and negative indices (B, F, K), drawn as HF's pretraining example draws them."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import (
        _compute_mask_indices,
        _sample_negative_indices,
    )

    frames = int(model._get_feat_extract_output_lengths(samples))
    cfg = model.config
    mask = _compute_mask_indices((batch, frames), cfg.mask_time_prob, cfg.mask_time_length, min_masks=2)
    negatives = _sample_negative_indices((batch, frames), cfg.num_negatives, mask)
    return mask, negatives


def pretraining_loss(
    model, x: torch.Tensor, mask: np.ndarray, negatives: np.ndarray
) -> dict[str, torch.Tensor]:
    """Loss per masked frame: ``{"loss", "contrastive", "diversity", "perplexity"}`` (``loss`` has grad)."""
    out = model(
        x,
        mask_time_indices=torch.from_numpy(mask),
        sampled_negative_indices=torch.from_numpy(negatives).long(),
    )
    n = float(mask.sum())
    return {
        "loss": out.loss / n,
        "contrastive": out.contrastive_loss.detach() / n,
        "diversity": out.diversity_loss.detach() / n,
        "perplexity": out.codevector_perplexity.detach(),
    }


@dataclass(frozen=True)
class FixedBatch:
    """A fixed batch with fixed masks and negatives: the loss before and after pretraining compares."""

    x: torch.Tensor
    mask: np.ndarray
    negatives: np.ndarray


def fixed_batch(model, waves: Sequence[np.ndarray], p: PretrainParams, size: int = 16) -> FixedBatch:
    """``size`` crops of the first utterances (seeded by ``p.seed + 1``), normalised, with masks."""
    rng = np.random.default_rng(p.seed + 1)
    state = np.random.get_state()
    np.random.seed(p.seed + 1)
    x = normalise(torch.from_numpy(np.stack([crop(w, p.crop_samples, rng) for w in waves[:size]])))
    mask, negatives = _masks(model, len(x), p.crop_samples)
    np.random.set_state(state)
    return FixedBatch(x, mask, negatives)


@torch.no_grad()
def _fixed_loss(model, batch: FixedBatch) -> float:
    """The loss on the fixed batch, in eval mode (no dropout; the quantizer takes its argmax codes)."""
    was_training = model.training
    model.eval()
    loss = float(pretraining_loss(model, batch.x, batch.mask, batch.negatives)["loss"])
    model.train(was_training)
    return loss


@dataclass
class PretrainResult:
    """Per-step log rows and the summary (fixed-batch loss before/after, seconds, steps)."""

    log: list[dict]
    summary: dict


def run_pretraining(
    model,
    waves: Sequence[np.ndarray],
    p: PretrainParams,
    log_every: int = 10,
    on_log: Callable[[dict], None] | None = None,
) -> PretrainResult:
    """Pretrain ``model`` (a ``Wav2Vec2ForPreTraining``) in place on random crops of ``waves``.

    Args:
        waves: float32 mono waveforms at 16 kHz (labels never reach this function).
        p: the ``pretrain`` section.
        log_every: a log row every N steps (and at the last).
    """
    w = p.wav2vec2
    cpu_start = time.process_time()
    torch.manual_seed(p.seed)
    np.random.seed(p.seed)  # transformers' mask and negative helpers draw from np.random
    rng = np.random.default_rng(p.seed)
    fixed = fixed_batch(model, waves, p)
    initial = _fixed_loss(model, fixed)
    decay = [n for n, _ in model.named_parameters() if n.endswith("weight") and "norm" not in n]
    groups = [
        {"params": [q for n, q in model.named_parameters() if n in decay], "weight_decay": w.weight_decay},
        {"params": [q for n, q in model.named_parameters() if n not in decay], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=w.lr, betas=(0.9, 0.98), eps=1e-6)

    def lr_factor(step: int) -> float:
        if step < w.warmup_steps:
            return (step + 1) / w.warmup_steps
        return max(0.0, (w.steps - step) / max(1, w.steps - w.warmup_steps))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    t_start, t_end = w.gumbel_temperature
    rate = (t_end / t_start) ** (1 / max(1, w.steps - 1))
    rows: list[dict] = []
    start = time.perf_counter()
    for step in range(w.steps):
        temperature = max(t_end, t_start * rate**step)
        model.set_gumbel_temperature(temperature)
        idx = rng.integers(0, len(waves), size=p.batch_size)
        x = normalise(torch.from_numpy(np.stack([crop(waves[i], p.crop_samples, rng) for i in idx])))
        mask, negatives = _masks(model, len(x), p.crop_samples)
        parts = pretraining_loss(model, x, mask, negatives)
        if not torch.isfinite(parts["loss"]):
            raise RuntimeError(f"pretrain: non-finite loss at step {step}; lower pretrain.wav2vec2.lr")
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0))
        opt.step()
        sched.step()
        faults.point("pretrain:step")
        if step % log_every == 0 or step == w.steps - 1:
            row = {
                "step": step,
                "loss": float(parts["loss"].detach()),
                "contrastive": float(parts["contrastive"]),
                "diversity": float(parts["diversity"]),
                "perplexity": float(parts["perplexity"]),
                "gumbel_temperature": temperature,
                "lr": opt.param_groups[0]["lr"],
                "grad_norm": grad_norm,
            }
            rows.append(row)
            if on_log:
                on_log(row)
            log.info(
                "pretrain step %d/%d: loss %.4f (contrastive %.4f, diversity %.4f, perplexity %.1f)",
                step,
                w.steps,
                row["loss"],
                row["contrastive"],
                row["diversity"],
                row["perplexity"],
            )
    seconds = time.perf_counter() - start
    final = _fixed_loss(model, fixed)
    summary = {
        "objective": "wav2vec2",
        "steps": w.steps,
        "seconds": seconds,
        # process CPU time (all threads) of the whole run, fixed-batch losses included: the
        # objectives are compared at equal CPU time
        "cpu_seconds": time.process_time() - cpu_start,
        "fixed_batch_loss_initial": initial,
        "fixed_batch_loss_final": final,
        "utterances": len(waves),
        "audio_seconds_seen": w.steps * p.batch_size * p.crop_samples / 16000,
    }
    log.info("pretrain: %d steps in %.0f s; fixed-batch loss %.4f -> %.4f", w.steps, seconds, initial, final)
    return PretrainResult(rows, summary)


def load_init(cls: Any, init: str, settings: dict[str, Any]) -> Any:
    """``cls.from_pretrained`` of ``pretrain.init`` (a hub id or a local folder) with ``settings`` applied
    to its config, for continued pretraining with either objective.

    Raises:
        ValueError: the checkpoint is not a wav2vec2 model (pretraining writes a wav2vec2 backbone), or
            it has no mask embedding (masked pretraining needs one).
    """
    local = resolve(init)
    model = cls.from_pretrained(str(local) if local.is_dir() else init, trust_remote_code=False)
    if model.config.model_type != "wav2vec2":
        raise ValueError(
            f"pretrain.init {init!r}: model type {model.config.model_type!r}; pretraining writes a "
            "wav2vec2 backbone and needs a wav2vec2 checkpoint"
        )
    model.config.update(settings)
    if getattr(getattr(model, "wav2vec2", model), "masked_spec_embed", None) is None:
        raise ValueError(f"pretrain.init {init!r}: the checkpoint has no mask embedding")
    return model


def save_backbone(model, out_dir: Path) -> None:
    """``save_pretrained`` of the inner ``Wav2Vec2Model`` with fine-tuning defaults: no SpecAugment, no
    mask embedding (pretraining-only), so ``AutoModel.from_pretrained`` gives the backbone the arms
    fine-tune, with no unused parameters. Written into a temp folder that then replaces ``out_dir``
    (:func:`sdd.core.atomic.atomic_dir`)."""
    import copy

    backbone = copy.deepcopy(model.wav2vec2)
    if getattr(backbone, "masked_spec_embed", None) is not None:
        del backbone.masked_spec_embed
    backbone.config.apply_spec_augment = False
    backbone.config.mask_time_prob = 0.0
    backbone.config.mask_feature_prob = 0.0
    backbone.config.architectures = ["Wav2Vec2Model"]
    with atomic.atomic_dir(out_dir) as tmp:  # never a config without its weights, or half the weights
        backbone.save_pretrained(str(tmp), safe_serialization=True)
