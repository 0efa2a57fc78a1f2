"""HuBERT's first iteration as a pretraining objective of the demo backbone.

Hsu, Bolte, Tsai, Lakhotia, Salakhutdinov, Mohamed, "HuBERT: Self-Supervised Speech Representation
Learning by Masked Prediction of Hidden Units", IEEE/ACM TASLP 29, 2021 (arXiv 2106.07447). Its first
iteration:

1. **Targets**: k-means clusters of MFCC frames. Kaldi MFCCs (``torchaudio.compliance.kaldi.mfcc``:
   13 cepstra, 23 mel bins, no energy, no dither) plus deltas and delta-deltas
   (``torchaudio.functional.compute_deltas``), 39 dimensions as the authors' ``dump_mfcc_feature.py``,
   standardised with the train frames' mean and standard deviation, clustered by scikit-learn's
   ``MiniBatchKMeans`` (100 clusters) on the **train audio only** (labels are never read). The frames
   are 25 ms windows every 20 ms (``snip_edges``), which at 16 kHz are exactly the CNN's frames
   (receptive field 400 samples, stride 320), so the target of CNN frame t of a crop is the cluster of
   MFCC frame t of the same crop: checked, not assumed (:func:`check_alignment`).
2. **Masked prediction**: spans of the CNN features are masked as ``transformers``'
   ``_compute_mask_indices`` draws them, and the masked frames are replaced by the model's
   ``masked_spec_embed`` (``Wav2Vec2Model`` given ``mask_time_indices``, as ``HubertModel`` does). A
   linear head maps the transformer's output to cluster logits; the loss is the cross-entropy **on the
   masked frames only** (HuBERT's alpha = 1: the unmasked frames' predictions carry no loss), averaged
   over them. Adam at a constant learning rate.

**Where we deliberately differ** from the paper and its fairseq recipe, to fit a tiny backbone and a
300-utterance corpus on 2 CPU cores:

- a linear head over the clusters instead of HuBERT's projection + cosine similarity to learned
  cluster embeddings with temperature 0.1 (the same softmax over clusters, fewer parts);
- MFCC k-means on the demo's train audio (about 30 minutes), not 960 h of LibriSpeech; MFCC frames
  every 20 ms (the CNN's rate) instead of 10 ms with every other label used;
- one iteration (no re-clustering of the model's own features), a 4-layer width-64 transformer,
  crops of 2 s in batches of 8, under a thousand steps;
- ``transformers``' masking: with 2 s crops (99 frames) ``mask_time_prob`` 0.05 asks for less than
  one span of 10, so ``mask_min_spans`` (2) decides: about 20% of the frames are masked (the paper:
  p = 8% of frames start a span of 10, about half the frames masked).

The encoder is a ``Wav2Vec2Model`` of the tiny preset (the same random init as the wav2vec 2.0
objective's, for the same seed), so the output is a ``save_pretrained`` folder of the same kind
(:func:`sdd.pretrain.wav2vec2.save_backbone`): the detector, extract and probe stages load it unchanged.
Deterministic for a seed at a fixed thread count: ``torch.manual_seed`` before the initialisation, a
seeded numpy generator for the crops and the k-means sample, ``random_state`` for the k-means, and the
global numpy seed for ``_compute_mask_indices`` (it draws from ``np.random``; the global state is
restored afterwards).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sdd.core import faults
from sdd.models.backbone import TINY_BACKBONES
from sdd.models.params import TinyBackboneParams
from sdd.pretrain.crops import normalise
from sdd.pretrain.params import PRETRAIN_INITS, HubertObjective, PretrainParams
from sdd.pretrain.wav2vec2 import PretrainResult, load_init

log = logging.getLogger(__name__)

__all__ = [
    "ClusterTargets",
    "HubertPretraining",
    "aligned_crop",
    "check_alignment",
    "fit_targets",
    "masked_prediction_loss",
    "mfcc_frames",
    "pretraining_model",
    "run_pretraining",
]

SAMPLE_RATE = 16000


def mfcc_frames(wave: np.ndarray, h: HubertObjective, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Kaldi MFCCs with deltas of one waveform, one row per ``frame_shift_ms`` (``snip_edges``).

    Args:
        wave: (samples,) float mono waveform, at least one window long.
        h: the ``pretrain.hubert`` section (``n_mfcc``, ``deltas``, window and hop in ms).

    Returns:
        (frames, n_mfcc * (1 + deltas)) float32, frames = 1 + (samples - window) // hop.
    """
    from torchaudio.compliance.kaldi import mfcc
    from torchaudio.functional import compute_deltas

    feats = mfcc(
        torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None],
        sample_frequency=float(sample_rate),
        frame_length=h.frame_length_ms,
        frame_shift=h.frame_shift_ms,
        num_ceps=h.n_mfcc,
        use_energy=False,
        dither=0.0,  # Kaldi's default dither is random noise: off, for determinism
        snip_edges=True,
    ).T  # (n_mfcc, F)
    parts = [feats]
    for _ in range(h.deltas):
        parts.append(compute_deltas(parts[-1]))
    return torch.cat(parts).T.contiguous().numpy()  # (F, D)


def _cnn_geometry(config) -> tuple[int, int]:
    """(receptive field, stride) of the CNN feature encoder, in samples."""
    field, stride = 1, 1
    for kernel, s in zip(config.conv_kernel, config.conv_stride, strict=True):
        field += (kernel - 1) * stride
        stride *= s
    return field, stride


def check_alignment(config, h: HubertObjective, sample_rate: int = SAMPLE_RATE) -> None:
    """Raise ``ValueError`` unless the MFCC window and hop equal the CNN's receptive field and stride
    (then MFCC frame t and CNN frame t cover the same samples, for any crop length)."""
    field, stride = _cnn_geometry(config)
    window = round(h.frame_length_ms * sample_rate / 1000)
    hop = round(h.frame_shift_ms * sample_rate / 1000)
    if (window, hop) != (field, stride):
        raise ValueError(
            f"pretrain.hubert.frame_length_ms / frame_shift_ms: {h.frame_length_ms} / "
            f"{h.frame_shift_ms} ms are {window} / {hop} samples at {sample_rate} Hz; the backbone's CNN "
            f"frames are {field} samples every {stride} ({1000 * field / sample_rate:g} / "
            f"{1000 * stride / sample_rate:g} ms): the targets would not align with the frames"
        )


@dataclass
class ClusterTargets:
    """The targets: each train utterance's k-means cluster per CNN frame, and the fitted model.

    Attributes:
        h: the ``pretrain.hubert`` section they were fitted with.
        mean, std: (D,) statistics of the train frames the k-means was fitted on.
        kmeans: the fitted ``sklearn.cluster.MiniBatchKMeans``.
        utterance_labels: per utterance, (frames,) int64 clusters of its MFCC frames (empty when it is
            shorter than one window).
        stats: frames fitted, inertia per frame, clusters used and the perplexity of the cluster
            distribution over the train frames, CPU seconds.
    """

    h: HubertObjective
    mean: np.ndarray
    std: np.ndarray
    kmeans: Any
    utterance_labels: list[np.ndarray]
    stats: dict

    def predict(self, feats: np.ndarray) -> np.ndarray:
        """(frames,) int64 clusters of (frames, D) MFCC frames."""
        return self.kmeans.predict(((feats - self.mean) / self.std).astype(np.float32)).astype(np.int64)

    def labels(self, wave: np.ndarray) -> np.ndarray:
        """(frames,) int64 cluster of each MFCC frame of ``wave`` computed on ``wave`` itself."""
        return self.predict(mfcc_frames(wave, self.h))


def fit_targets(waves: Sequence[np.ndarray], h: HubertObjective, seed: int) -> ClusterTargets:
    """Fit the standardisation and the k-means on the MFCC frames of ``waves`` (the train audio) and
    label every frame of every utterance.

    At most ``h.kmeans_max_frames`` frames fit the k-means, drawn without replacement with ``seed``;
    waveforms shorter than one window have no frames. Labels never reach this function.
    """
    from sklearn.cluster import MiniBatchKMeans

    cpu = time.process_time()
    window = round(h.frame_length_ms * SAMPLE_RATE / 1000)
    empty = np.zeros((0, h.mfcc_dim), np.float32)
    per_utt = [mfcc_frames(w, h) if w.size >= window else empty for w in waves]
    frames = np.concatenate(per_utt).astype(np.float64)  # (N, D)
    everything = len(frames)
    if len(frames) > h.kmeans_max_frames:
        keep = np.random.default_rng(seed).choice(len(frames), h.kmeans_max_frames, replace=False)
        frames = frames[np.sort(keep)]
    if len(frames) < h.clusters:
        raise ValueError(
            f"pretrain.hubert.clusters: got {h.clusters}; the train audio has only {len(frames)} MFCC frames"
        )
    mean, std = frames.mean(axis=0), np.maximum(frames.std(axis=0), 1e-8)
    z = ((frames - mean) / std).astype(np.float32)  # (N, D)
    kmeans = MiniBatchKMeans(
        n_clusters=h.clusters,
        init="k-means++",
        batch_size=min(h.kmeans_batch_size, len(z)),
        n_init=h.kmeans_n_init,
        max_iter=h.kmeans_max_iter,
        random_state=seed,
    ).fit(z)
    targets = ClusterTargets(h, mean.astype(np.float32), std.astype(np.float32), kmeans, [], {})
    labels = targets.predict(np.concatenate(per_utt))  # every train frame, fitted or not
    bounds = np.cumsum([0] + [len(f) for f in per_utt])
    targets.utterance_labels = [labels[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    counts = np.bincount(labels, minlength=h.clusters)
    share = counts[counts > 0] / counts.sum()
    targets.stats = {
        "train_frames": everything,
        "kmeans_frames": len(z),
        "kmeans_inertia_per_frame": float(kmeans.inertia_) / len(z),
        "kmeans_clusters_used": int((counts > 0).sum()),
        "kmeans_cluster_perplexity": float(np.exp(-(share * np.log(share)).sum())),
        "kmeans_cpu_seconds": time.process_time() - cpu,
    }
    log.info(
        "pretrain (hubert): k-means of %d MFCC frames: inertia %.2f per frame, %d of %d clusters used "
        "(perplexity %.1f)",
        len(z),
        targets.stats["kmeans_inertia_per_frame"],
        targets.stats["kmeans_clusters_used"],
        h.clusters,
        targets.stats["kmeans_cluster_perplexity"],
    )
    return targets


def aligned_crop(
    wave: np.ndarray, labels: np.ndarray, n: int, window: int, hop: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """A random crop of ``n`` samples starting on a frame boundary, and its frames' labels.

    Args:
        wave: (samples,) the utterance.
        labels: (frames,) its frames' clusters; frame j covers samples ``[j * hop, j * hop + window)``.
        n: crop length in samples.
        window, hop: the frames' length and stride in samples (the CNN's receptive field and stride).
        rng: draws the start.

    Returns:
        ``(crop, labels of its 1 + (n - window) // hop frames)``: a crop starting at sample ``k * hop``
        has frame t = utterance frame k + t. A shorter utterance is repeat-padded (as the scorer pads)
        and gets ``None``: the labels of the padded crop must be computed on it.
    """
    if wave.size < n:
        return np.resize(wave, n), None
    k = int(rng.integers(0, (wave.size - n) // hop + 1))
    return wave[k * hop : k * hop + n], labels[k : k + 1 + (n - window) // hop]


class HubertPretraining(torch.nn.Module):
    """A ``Wav2Vec2Model`` encoder (attribute ``wav2vec2``, as ``Wav2Vec2ForPreTraining`` names it, so
    :func:`sdd.pretrain.wav2vec2.save_backbone` saves it) and a linear head over the clusters."""

    def __init__(self, encoder, clusters: int) -> None:
        super().__init__()
        self.wav2vec2 = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, clusters)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Cluster logits.

        Args:
            x: (batch, samples) normalised waveforms.
            mask: (batch, frames) bool: frames whose CNN features become ``masked_spec_embed``.

        Returns:
            (batch, frames, clusters) logits.
        """
        hidden = self.wav2vec2(x, mask_time_indices=mask).last_hidden_state  # (B, F, H)
        return self.head(hidden)


def masked_prediction_loss(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and accuracy of the cluster predictions on the masked frames only.

    Args:
        logits: (batch, frames, clusters).
        targets: (batch, frames) int64 clusters; unmasked frames' targets are never read.
        mask: (batch, frames) bool.

    Returns:
        (loss averaged over the masked frames, with grad; accuracy on them, detached).
    """
    picked, wanted = logits[mask], targets[mask]  # (M, C), (M,)
    loss = torch.nn.functional.cross_entropy(picked, wanted)
    accuracy = (picked.detach().argmax(dim=-1) == wanted).float().mean()
    return loss, accuracy


def _encoder_settings(h: HubertObjective) -> dict[str, Any]:
    return dict(
        apply_spec_augment=True,  # the encoder replaces masked frames only when this is on
        mask_time_prob=h.mask_time_prob,
        mask_time_length=h.mask_time_length,
        layerdrop=0.0,
    )


def pretraining_model(p: PretrainParams, tiny: TinyBackboneParams) -> HubertPretraining:
    """The encoder and head to start from, in train mode.

    ``p.init`` ``tiny-wav2vec2``: a random init (``torch.manual_seed(p.seed)``) of the tiny preset (the
    same encoder weights as the wav2vec 2.0 objective's init), then the head. Otherwise a wav2vec2
    checkpoint (hub id or local folder) with a mask embedding, for continued pretraining.
    """
    from transformers import Wav2Vec2Model

    h = p.hubert
    torch.manual_seed(p.seed)
    if p.init in PRETRAIN_INITS:
        cfg = TINY_BACKBONES[p.init](tiny)
        cfg.update(_encoder_settings(h))
        encoder = Wav2Vec2Model(cfg)
    else:
        encoder = load_init(Wav2Vec2Model, p.init, _encoder_settings(h))
    check_alignment(encoder.config, h)
    model = HubertPretraining(encoder, h.clusters)
    model.train()
    return model


def _mask(model: HubertPretraining, batch: int, samples: int, h: HubertObjective) -> np.ndarray:
    """(B, F) bool span mask, drawn by ``transformers``' helper (from ``np.random``)."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices

    frames = int(model.wav2vec2._get_feat_extract_output_lengths(samples))
    return _compute_mask_indices(
        (batch, frames), h.mask_time_prob, h.mask_time_length, min_masks=h.mask_min_spans
    )


@dataclass(frozen=True)
class _Batch:
    x: torch.Tensor  # (B, N) normalised
    targets: torch.Tensor  # (B, F) int64
    mask: torch.Tensor  # (B, F) bool


def _batch(model, indices, waves, targets: ClusterTargets, p: PretrainParams, rng) -> _Batch:
    """Crops of ``waves[indices]`` on frame boundaries, their targets and a span mask."""
    window, hop = _cnn_geometry(model.wav2vec2.config)
    crops, labels = [], []
    for i in indices:
        c, y = aligned_crop(waves[i], targets.utterance_labels[i], p.crop_samples, window, hop, rng)
        crops.append(c)
        labels.append(targets.labels(c) if y is None else y)
    y = torch.from_numpy(np.stack(labels))  # (B, F)
    mask = torch.from_numpy(_mask(model, len(crops), p.crop_samples, p.hubert))  # (B, F)
    if y.shape != mask.shape:  # check_alignment makes this impossible; a guard against a silent shift
        raise RuntimeError(f"pretrain (hubert): targets {tuple(y.shape)} vs CNN frames {tuple(mask.shape)}")
    return _Batch(normalise(torch.from_numpy(np.stack(crops))), y, mask)


def _fixed_batch(model, waves, p: PretrainParams, targets: ClusterTargets, size: int = 16) -> _Batch:
    """``size`` crops of the first utterances with masks (seeded by ``p.seed + 1``)."""
    rng = np.random.default_rng(p.seed + 1)
    state = np.random.get_state()
    np.random.seed(p.seed + 1)
    batch = _batch(model, range(min(size, len(waves))), waves, targets, p, rng)
    np.random.set_state(state)
    return batch


@torch.no_grad()
def _evaluate(model, batch: _Batch) -> tuple[float, float]:
    """Loss and accuracy on the fixed batch, in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    loss, acc = masked_prediction_loss(model(batch.x, batch.mask), batch.targets, batch.mask)
    model.train(was_training)
    return float(loss), float(acc)


def run_pretraining(
    model: HubertPretraining,
    waves: Sequence[np.ndarray],
    p: PretrainParams,
    log_every: int = 10,
    on_log: Callable[[dict], None] | None = None,
) -> PretrainResult:
    """Fit the targets on ``waves``, then pretrain ``model`` in place on random crops of them.

    Args:
        model: from :func:`pretraining_model`.
        waves: float32 mono waveforms at 16 kHz, the train audio (labels never reach this function).
        p: the ``pretrain`` section (``p.hubert`` holds this objective's settings).
        log_every: a log row every N steps (and at the last).

    Returns:
        per-step rows and a summary: the k-means statistics, the fixed-batch masked-prediction loss and
        accuracy before and after, wall and process CPU seconds (k-means included).
    """
    h = p.hubert
    cpu_start = time.process_time()
    start = time.perf_counter()
    state = np.random.get_state()
    torch.manual_seed(p.seed)
    np.random.seed(p.seed)  # transformers' mask helper draws from np.random
    rng = np.random.default_rng(p.seed)
    targets = fit_targets(waves, h, p.seed)
    fixed = _fixed_batch(model, waves, p, targets)
    initial = _evaluate(model, fixed)
    opt = torch.optim.Adam(model.parameters(), lr=h.lr)
    rows: list[dict] = []
    for step in range(h.steps):
        batch = _batch(model, rng.integers(0, len(waves), size=p.batch_size), waves, targets, p, rng)
        loss, acc = masked_prediction_loss(model(batch.x, batch.mask), batch.targets, batch.mask)
        if not torch.isfinite(loss):
            raise RuntimeError(f"pretrain: non-finite loss at step {step}; lower pretrain.hubert.lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0))
        opt.step()
        faults.point("pretrain:step")
        if step % log_every == 0 or step == h.steps - 1:
            row = {
                "step": step,
                "loss": float(loss.detach()),
                "accuracy": float(acc),
                "masked_fraction": float(batch.mask.float().mean()),
                "lr": h.lr,
                "grad_norm": grad_norm,
            }
            rows.append(row)
            if on_log:
                on_log(row)
            log.info("pretrain step %d/%d: masked-prediction loss %.4f, accuracy %.3f", step, h.steps,
                     row["loss"], row["accuracy"])
    final = _evaluate(model, fixed)
    np.random.set_state(state)
    summary = {
        "objective": "hubert",
        "steps": h.steps,
        "seconds": time.perf_counter() - start,
        # process CPU time (all threads) of the whole run, MFCCs and k-means included: the objectives
        # are compared at equal CPU time
        "cpu_seconds": time.process_time() - cpu_start,
        **targets.stats,
        "chance_loss": math.log(h.clusters),
        "fixed_batch_loss_initial": initial[0],
        "fixed_batch_loss_final": final[0],
        "fixed_batch_accuracy_initial": initial[1],
        "fixed_batch_accuracy_final": final[1],
        "fixed_batch_masked_fraction": float(fixed.mask.float().mean()),
        "utterances": len(waves),
        "audio_seconds_seen": h.steps * p.batch_size * p.crop_samples / SAMPLE_RATE,
    }
    log.info(
        "pretrain (hubert): %d steps, %.0f s CPU; fixed-batch masked-prediction loss %.4f -> %.4f, "
        "accuracy %.3f -> %.3f",
        h.steps,
        summary["cpu_seconds"],
        initial[0],
        final[0],
        initial[1],
        final[1],
    )
    return PretrainResult(rows, summary)
