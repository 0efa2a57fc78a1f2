"""LoRA through ``peft``: :func:`apply_lora` maps :class:`~sdd.models.params.LoraParams` onto
``peft.LoraConfig`` and injects the adapters into a backbone in place.

Method: Wang, Yi, Zhang, Tao, Xu, Fu, "Low-rank Adaptation Method for Wav2vec2-based Fake Audio
Detection", IJCAI 2023 DADA workshop, arXiv 2306.05617 (no public code): the wav2vec2 backbone is
frozen and trainable rank-decomposition matrices are added in every transformer layer (q and v
projections by default); the classifier trains fully. peft's defaults do the rest: A has Kaiming-
uniform init and B is zero, so the adapted model equals the base model at init; the update is
``(alpha / r) * B A``; biases stay frozen (``bias="none"``). A LoRA run trains at its own rate,
``train.lora_lr`` (:class:`sdd.train.params.TrainParams`): the paper does not give its rate, and
LoRA's adapters need a larger one than full fine-tuning (Hu et al., ICLR 2022, Table 9).

One deliberate addition: WavLM's attention (transformers' ``WavLMAttention``) does not call its
projection modules; it passes ``q_proj.weight`` etc. straight to ``F.multi_head_attention_forward``,
so peft's wrappers around ``q_proj``/``v_proj`` would be silently bypassed and only the head would
train. :func:`apply_lora` therefore routes WavLM's attention through its projection modules first
(:func:`_wavlm_attention_via_modules`: the same operations in the same order, so outputs are
bit-identical, see tests), and then checks on a short silent input that every injected adapter is
actually called, so any other architecture with the same problem fails loudly instead.
"""

from __future__ import annotations

import logging
import math
import types

import torch
import torch.nn.functional as F
from torch import nn

from sdd.models.params import LoraParams

log = logging.getLogger(__name__)

__all__ = ["apply_lora", "lora_config", "route_wavlm_attention_through_modules"]


def lora_config(p: LoraParams):
    """Our :class:`LoraParams` as a ``peft.LoraConfig`` (every layer; biases frozen)."""
    from peft import LoraConfig

    return LoraConfig(
        r=p.r,
        lora_alpha=p.alpha,
        lora_dropout=p.dropout,
        target_modules=list(p.target_modules),
        bias="none",
    )


def _wavlm_attention_via_modules(
    self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, gated_position_bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop-in for ``WavLMAttention.torch_multi_head_self_attention`` that calls ``self.q_proj(x)``
    etc. instead of reading their weights. Mirrors ``F.multi_head_attention_forward`` with
    ``use_separate_proj_weight=True, need_weights=True`` step by step (same ops, same order), which
    is what transformers' WavLM calls."""
    query = hidden_states.transpose(0, 1)  # (T, B, E)
    tgt_len, bsz, embed_dim = query.shape
    heads = self.num_heads
    head_dim = embed_dim // heads
    q = self.q_proj(query).view(tgt_len, bsz * heads, head_dim).transpose(0, 1)  # (B*h, T, d)
    k = self.k_proj(query).view(tgt_len, bsz * heads, head_dim).transpose(0, 1)
    v = self.v_proj(query).view(tgt_len, bsz * heads, head_dim).transpose(0, 1)
    attn_mask = gated_position_bias  # (B*h, T, T), additive
    if attention_mask is not None:
        pad = attention_mask.ne(1)  # (B, T) True = padding
        pad = torch.zeros_like(pad, dtype=q.dtype).masked_fill_(pad, float("-inf"))
        attn_mask = attn_mask + pad.view(bsz, 1, 1, tgt_len).expand(-1, heads, -1, -1).reshape(
            bsz * heads, 1, tgt_len
        )
    q_scaled = q * math.sqrt(1.0 / float(head_dim))
    weights = torch.baddbmm(attn_mask, q_scaled, k.transpose(-2, -1))  # (B*h, T, T)
    weights = F.softmax(weights, dim=-1)
    if self.training and self.dropout > 0.0:
        weights = F.dropout(weights, p=self.dropout)
    out = torch.bmm(weights, v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = self.out_proj(out).view(tgt_len, bsz, -1).transpose(0, 1)  # (B, T, E)
    weights = weights.view(bsz, heads, tgt_len, tgt_len).mean(dim=1)
    weights = weights[:, None].broadcast_to(weights.shape[:1] + (heads,) + weights.shape[1:])
    return out, weights


def route_wavlm_attention_through_modules(model: nn.Module) -> int:
    """Make every ``WavLMAttention`` in ``model`` call its projection modules (in place); returns how
    many were rerouted (0 for other architectures)."""
    from transformers.models.wavlm.modeling_wavlm import WavLMAttention

    n = 0
    for module in model.modules():
        if isinstance(module, WavLMAttention):
            module.torch_multi_head_self_attention = types.MethodType(_wavlm_attention_via_modules, module)
            n += 1
    return n


def _check_adapters_are_called(model: nn.Module, sample_rate: int = 16000) -> None:
    from peft.tuners.lora import LoraLayer

    adapted = {name: m for name, m in model.named_modules() if isinstance(m, LoraLayer)}
    called: set[str] = set()
    hooks = [m.register_forward_hook(lambda mod, i, o, n=name: called.add(n)) for name, m in adapted.items()]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, sample_rate // 2))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    skipped = sorted(set(adapted) - called)
    if skipped:
        raise ValueError(
            f"LoRA: {len(skipped)} adapted modules are never called by {type(model).__name__}'s forward "
            f"(e.g. {skipped[0]}): its code reads their weights directly, so the adapters would be ignored. "
            "Choose other model.lora.target_modules"
        )


def apply_lora(model: nn.Module, p: LoraParams) -> nn.Module:
    """Inject LoRA adapters into ``model`` (a backbone) in place with ``peft.inject_adapter_in_model``
    and freeze everything else in it; returns the same model.

    Args:
        model: a transformers backbone taking ``(B, T)`` waveforms.
        p: rank ``r``, ``alpha`` (scale alpha / r), ``dropout`` on the adapter input and
            ``target_modules`` (module names matched in every layer).

    peft's own errors (e.g. "Target modules ... not found in the base model") reach the caller
    unchanged.
    """
    from peft import inject_adapter_in_model

    route_wavlm_attention_through_modules(model)
    inject_adapter_in_model(lora_config(p), model)
    _check_adapters_are_called(model)
    trainable = sum(t.numel() for t in model.parameters() if t.requires_grad)
    total = sum(t.numel() for t in model.parameters())
    log.info("LoRA r=%d on %s: %d of %d backbone parameters train (%.3f%%)",
             p.r, list(p.target_modules), trainable, total, 100 * trainable / total)
    return model
