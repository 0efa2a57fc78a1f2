"""AASIST and its graph-attention back-end (Jung et al., ICASSP 2022).

J.-w. Jung, H.-S. Heo, H. Tak, H.-j. Shim, J. S. Chung, B.-J. Lee, H.-J. Yu and N. Evans, "AASIST:
Audio Anti-Spoofing using Integrated Spectro-Temporal Graph Attention Networks", ICASSP 2022,
pp. 6367-6371. Reference code: github.com/clovaai/aasist, ``models/AASIST.py`` (MIT). This is our own
implementation, written from the paper and from reading that code; parameter and buffer names follow
the official ``state_dict`` so the published ``AASIST.pth`` / ``AASIST-L.pth`` load with
``load_state_dict(strict=True)`` (the loader is :mod:`sdd.models.published`).

Layout (shapes for the 64,600-sample input of the official configs, AASIST sizes):

- :class:`SincFilterbank`: fixed mel-spaced sinc band-pass filters (not trained, not in the
  checkpoint), ``(B, T) -> (B, 70, T - 128)``; then ``|x|``, 3x3 max-pool, BatchNorm, SELU.
- the residual encoder (:class:`ResidualBlock` x 6): ``(B, 1, 23, 21490) -> (B, 64, 23, 29)``.
- :class:`AasistGraphBackend`, shared with SSL-AASIST: spectral and temporal graph attention
  (:class:`GraphAttentionLayer`) with graph pooling (:class:`GraphPool`), two branches of
  heterogeneous stacking graph attention (:class:`HeteroGraphAttentionLayer`, HS-GAL) with a
  learnable master node each, element-wise max of the branches, and a readout (max |.| and mean of
  each node type, plus the master node) into a linear layer.

Logits are ``(B, 2)``: column 0 spoof, column 1 bona fide, exactly as the official model (its label 1
is bona fide and its evaluation score is ``output[:, 1]``); our score is the log-odds
``logit[:, 1] - logit[:, 0]``.

:class:`SSLAasistBackend` is the head of SSL-AASIST (Tak et al., "Automatic speaker verification
spoofing and deepfake detection using wav2vec 2.0 and data augmentation", Odyssey 2022; code
github.com/TakHemlata/SSL_Anti-spoofing, ``model.py``): hidden states of an SSL model -> Linear ->
2-D residual encoder -> attentive pooling -> the same graph back-end.

Behaviours of the reference code kept on purpose (the checkpoints were trained with them):

- In every residual block but the first, the official forward computes ``SELU(bn1(x))`` and then
  discards it: ``conv1`` is applied to the block input ``x``. ``bn1`` is therefore kept (it is in the
  checkpoint) but never used; we do not compute the discarded value.
- Both HS-GAL pooling steps use ``pool_ratios[2]``; ``pool_ratios[3]`` and ``temperatures[3]`` are
  read from the config but unused, as in the reference.
- The first HS-GAL layer of each branch gets the learnable master node itself, shape (1, 1, D); it
  broadcasts over the batch.

Deliberate differences: the training-time frequency masking of the sinc filters (``Freq_aug``, off
in the published configs) is not implemented; the number of spectral nodes is derived as
``filts[0] // 3`` (the 3x3 max-pool) instead of the reference's hard-coded 23 (= 70 // 3), which the
published configs satisfy.

All modules take a config or sizes, never paths or devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sdd.core.configbase import ConfigError

__all__ = [
    "AASIST",
    "AasistConfig",
    "AasistGraphBackend",
    "GraphAttentionLayer",
    "GraphPool",
    "HeteroGraphAttentionLayer",
    "ResidualBlock",
    "SSLAasistBackend",
    "SSLAasistConfig",
    "SincFilterbank",
]


# --------------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------------


def _check_encoder(where: str, blocks: tuple[tuple[int, ...], ...], start: int = 0) -> None:
    """Residual-encoder widths: four (in, out) pairs, chained, the first taking one channel.

    ``where[start + i]`` names the i-th pair in error messages."""
    if len(blocks) != 4:
        raise ConfigError(f"{where}: got {len(blocks)} (in, out) pairs; expected 4")
    prev = 1
    for i, pair in enumerate(blocks, start):
        if len(pair) != 2 or min(pair) < 1:
            raise ConfigError(f"{where}[{i}]: got {list(pair)}; expected [in, out] positive integers")
        if pair[0] != prev:
            raise ConfigError(f"{where}[{i}]: got {list(pair)}; its input width must be {prev}")
        prev = pair[1]


def _check_graph(where: str, gat_dims: tuple[int, ...], pool_ratios: tuple[float, ...],
                 temperatures: tuple[float, ...]) -> None:  # fmt: skip
    if len(gat_dims) != 2 or min(gat_dims) < 1:
        raise ConfigError(f"{where}.gat_dims: got {list(gat_dims)}; expected two positive integers")
    if len(pool_ratios) != 4 or not all(0 < r <= 1 for r in pool_ratios):
        raise ConfigError(f"{where}.pool_ratios: got {list(pool_ratios)}; expected four numbers in (0, 1]")
    if len(temperatures) != 4 or not all(t > 0 for t in temperatures):
        raise ConfigError(f"{where}.temperatures: got {list(temperatures)}; expected four positive numbers")


@dataclass(frozen=True)
class AasistConfig:
    """The ``model_config`` block of an official AASIST ``.conf`` (build it with
    :func:`sdd.core.configbase.build`; unknown keys are errors).

    Attributes:
        nb_samp: input length in samples at 16 kHz (64,600, about 4 s); the official evaluation
            takes the first ``nb_samp`` samples, repeat-padded when shorter.
        first_conv: sinc filter length (made odd: 128 -> 129 taps).
        filts: ``[n_sinc_filters, [1, c1], [c1, c2], [c2, c3], [c3, c4]]``; the last pair is used by
            the last three residual blocks.
        gat_dims: ``[spectral/temporal GAT width, HS-GAL width]``.
        pool_ratios: graph-pool keep ratios ``[spectral, temporal, HS-GAL, (unused)]``.
        temperatures: attention temperatures ``[spectral, temporal, HS-GAL, (unused)]``.
        architecture: must be ``"AASIST"``.
    """

    nb_samp: int
    first_conv: int
    filts: tuple[int | tuple[int, ...], ...]
    gat_dims: tuple[int, ...]
    pool_ratios: tuple[float, ...]
    temperatures: tuple[float, ...]
    architecture: Literal["AASIST"] = "AASIST"

    def __post_init__(self) -> None:
        where = "model_config"
        if self.nb_samp < 1 or self.first_conv < 1:
            raise ConfigError(
                f"{where}: nb_samp={self.nb_samp}, first_conv={self.first_conv}; expected positive integers"
            )
        if len(self.filts) != 5 or not isinstance(self.filts[0], int) or self.filts[0] < 3:
            raise ConfigError(
                f"{where}.filts: got {self.filts!r}; expected [n_sinc_filters >= 3, [1, c1], [c1, c2], "
                "[c2, c3], [c3, c4]]"
            )
        blocks = self.filts[1:]
        if not all(isinstance(b, tuple) for b in blocks):
            raise ConfigError(f"{where}.filts: got {self.filts!r}; entries 1-4 must be [in, out] pairs")
        _check_encoder(f"{where}.filts", blocks, start=1)  # type: ignore[arg-type]
        _check_graph(where, self.gat_dims, self.pool_ratios, self.temperatures)

    @property
    def sinc_filters(self) -> int:
        return int(self.filts[0])  # type: ignore[arg-type]

    @property
    def blocks(self) -> tuple[tuple[int, int], ...]:
        """The six residual blocks' (in, out) channels: filts[1], filts[2], filts[3], then filts[4] x 3."""
        pairs = [tuple(b) for b in self.filts[1:]]
        return tuple(pairs[:3] + [pairs[3]] * 3)  # type: ignore[return-value]


@dataclass(frozen=True)
class SSLAasistConfig:
    """SSL-AASIST head sizes; the defaults are those of Tak et al. (Odyssey 2022, ``model.py``).

    Attributes:
        proj_dim: width of the Linear layer applied to the SSL hidden states (128).
        filts: the residual encoder's (in, out) pairs; the last is used by the last three blocks.
        gat_dims / pool_ratios / temperatures: the graph back-end, as in :class:`AasistConfig`.
    """

    proj_dim: int = 128
    filts: tuple[tuple[int, ...], ...] = ((1, 32), (32, 32), (32, 64), (64, 64))
    gat_dims: tuple[int, ...] = (64, 32)
    pool_ratios: tuple[float, ...] = (0.5, 0.5, 0.5, 0.5)
    temperatures: tuple[float, ...] = (2.0, 2.0, 100.0, 100.0)

    def __post_init__(self) -> None:
        if self.proj_dim < 3:
            raise ConfigError(f"ssl_aasist.proj_dim: got {self.proj_dim}; expected an integer >= 3")
        _check_encoder("ssl_aasist.filts", self.filts)
        _check_graph("ssl_aasist", self.gat_dims, self.pool_ratios, self.temperatures)

    @property
    def blocks(self) -> tuple[tuple[int, int], ...]:
        pairs = [tuple(b) for b in self.filts]
        return tuple(pairs[:3] + [pairs[3]] * 3)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------------
# Graph attention
# --------------------------------------------------------------------------------------------------


def _xavier(*size: int) -> nn.Parameter:
    return nn.Parameter(nn.init.xavier_normal_(torch.empty(*size)))


def _pairwise(x: torch.Tensor) -> torch.Tensor:
    """Products of every pair of nodes: ``(B, N, D) -> (B, N, N, D)`` with ``[b, i, j] = x_i * x_j``."""
    return x.unsqueeze(2) * x.unsqueeze(1)


def _node_bn(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm1d over the feature axis of node features ``(B, N, D)``, nodes pooled with the batch."""
    return bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class GraphAttentionLayer(nn.Module):
    """Graph attention over a fully connected graph (GAT-S / GAT-T of AASIST; ``GraphAttentionLayer``
    upstream).

    The attention between nodes i and j is ``softmax_j(w . tanh(W_a (x_i * x_j)) / temperature)``; the
    output is ``SELU(BN(W_1 (A x) + W_2 x))``. Input dropout 0.2. ``(B, N, in_dim) -> (B, N, out_dim)``.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = _xavier(out_dim, 1)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(p=0.2)
        self.act = nn.SELU()
        self.temp = float(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_drop(x)  # (B, N, D)
        scores = torch.tanh(self.att_proj(_pairwise(x))) @ self.att_weight  # (B, N, N, 1)
        att = torch.softmax(scores.squeeze(-1) / self.temp, dim=-1)  # (B, N, N), rows sum to 1
        out = self.proj_with_att(att @ x) + self.proj_without_att(x)  # (B, N, out)
        return self.act(_node_bn(self.bn, out))


class HeteroGraphAttentionLayer(nn.Module):
    """Heterogeneous graph attention with a master node (HS-GAL; ``HtrgGraphAttentionLayer`` upstream).

    Two node types (temporal, spectral) are projected into one space and joined into one graph;
    attention uses a separate weight vector for type-1/type-1, type-2/type-2 and cross-type edges
    (``att_weight11``, ``att_weight22``, ``att_weight12``, the latter for both directions). The master
    node attends to every node (``att_weightM``) and is updated without BatchNorm. Input dropout 0.2.

    ``(B, N1, in), (B, N2, in), master (B or 1, 1, in) -> (B, N1, out), (B, N2, out), (B, 1, out)``.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = _xavier(out_dim, 1)
        self.att_weight22 = _xavier(out_dim, 1)
        self.att_weight12 = _xavier(out_dim, 1)
        self.att_weightM = _xavier(out_dim, 1)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(p=0.2)
        self.act = nn.SELU()
        self.temp = float(temperature)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n1, n2 = x1.shape[1], x2.shape[1]
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)  # (B, N, D), N = n1 + n2
        if master is None:
            master = x.mean(dim=1, keepdim=True)  # (B, 1, D)
        x = self.input_drop(x)

        # Node-to-node attention, one weight vector per edge type.
        hidden = torch.tanh(self.att_proj(_pairwise(x)))  # (B, N, N, out)
        per_type = hidden @ torch.cat([self.att_weight11, self.att_weight22, self.att_weight12], dim=1)
        edge_type = torch.full((n1 + n2, n1 + n2), 2, dtype=torch.long, device=x.device)  # cross-type
        edge_type[:n1, :n1], edge_type[n1:, n1:] = 0, 1
        scores = per_type.gather(-1, edge_type.expand(x.shape[0], -1, -1).unsqueeze(-1))  # (B, N, N, 1)
        att = torch.softmax(scores.squeeze(-1) / self.temp, dim=-1)  # (B, N, N)

        # Master node: attention over all nodes, then its own update.
        m_scores = torch.tanh(self.att_projM(x * master)) @ self.att_weightM  # (B, N, 1)
        m_att = torch.softmax(m_scores / self.temp, dim=1)  # (B, N, 1)
        pooled = m_att.transpose(1, 2) @ x  # (B, 1, D)
        master = self.proj_with_attM(pooled) + self.proj_without_attM(master)  # (B, 1, out)

        out = self.proj_with_att(att @ x) + self.proj_without_att(x)  # (B, N, out)
        out = self.act(_node_bn(self.bn, out))
        return out[:, :n1], out[:, n1:], master


class GraphPool(nn.Module):
    """Graph pooling (gPool, Gao & Ji 2019, as in AASIST): keep the ``max(int(N * ratio), 1)`` nodes
    with the highest sigmoid score, each scaled by its score, in descending score order.
    ``(B, N, D) -> (B, N', D)``. Dropout ``p`` on the scoring input only."""

    def __init__(self, ratio: float, in_dim: int, p: float) -> None:
        super().__init__()
        self.k = ratio
        self.proj = nn.Linear(in_dim, 1)
        self.drop = nn.Dropout(p=p) if p > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = torch.sigmoid(self.proj(self.drop(h)))  # (B, N, 1)
        keep = max(int(h.shape[1] * self.k), 1)
        _, idx = torch.topk(scores, keep, dim=1)  # (B, N', 1), sorted by descending score
        return torch.gather(h * scores, 1, idx.expand(-1, -1, h.shape[-1]))  # (B, N', D)


class AasistGraphBackend(nn.Module):
    """The AASIST graph back-end: node features of an encoder -> logits ``(B, 2)`` (spoof, bona fide).

    Takes the spectral nodes ``(B, F, C)`` (one per frequency bin; a learnt positional embedding
    ``pos_S`` of shape (1, F, C) is added) and the temporal nodes ``(B, T, C)``. How the encoder's
    feature map becomes nodes is the front-end's business (AASIST: max of |.| over the other axis;
    SSL-AASIST: attentive pooling). Parameter names are the official ones, so subclasses that add
    their encoder as attributes load the published checkpoints with ``strict=True``; call
    :meth:`graph_logits` from their ``forward``.

    Args:
        channels: C, the encoder's output channels.
        spectral_nodes: F, the number of spectral nodes.
        gat_dims / pool_ratios / temperatures: as in :class:`AasistConfig`.
    """

    def __init__(
        self,
        channels: int,
        spectral_nodes: int,
        gat_dims: tuple[int, ...],
        pool_ratios: tuple[float, ...],
        temperatures: tuple[float, ...],
    ) -> None:
        super().__init__()
        d0, d1 = gat_dims
        # Attribute names are the official checkpoint's keys (hence pos_S, GAT_layer_S, ...).
        self.pos_S = nn.Parameter(torch.randn(1, spectral_nodes, channels))
        self.master1 = nn.Parameter(torch.randn(1, 1, d0))
        self.master2 = nn.Parameter(torch.randn(1, 1, d0))
        self.GAT_layer_S = GraphAttentionLayer(channels, d0, temperatures[0])
        self.GAT_layer_T = GraphAttentionLayer(channels, d0, temperatures[1])
        self.HtrgGAT_layer_ST11 = HeteroGraphAttentionLayer(d0, d1, temperatures[2])
        self.HtrgGAT_layer_ST12 = HeteroGraphAttentionLayer(d1, d1, temperatures[2])
        self.HtrgGAT_layer_ST21 = HeteroGraphAttentionLayer(d0, d1, temperatures[2])
        self.HtrgGAT_layer_ST22 = HeteroGraphAttentionLayer(d1, d1, temperatures[2])
        self.pool_S = GraphPool(pool_ratios[0], d0, 0.3)
        self.pool_T = GraphPool(pool_ratios[1], d0, 0.3)
        self.pool_hS1 = GraphPool(pool_ratios[2], d1, 0.3)
        self.pool_hT1 = GraphPool(pool_ratios[2], d1, 0.3)
        self.pool_hS2 = GraphPool(pool_ratios[2], d1, 0.3)
        self.pool_hT2 = GraphPool(pool_ratios[2], d1, 0.3)
        self.drop_way = nn.Dropout(0.2)
        self.drop = nn.Dropout(0.5)
        self.out_layer = nn.Linear(5 * d1, 2)

    def _branch(
        self,
        temporal: torch.Tensor,
        spectral: torch.Tensor,
        master: torch.Tensor,
        first: HeteroGraphAttentionLayer,
        second: HeteroGraphAttentionLayer,
        pool_t: GraphPool,
        pool_s: GraphPool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One HS-GAL branch: HS-GAL, graph pooling, a second HS-GAL added residually."""
        t, s, master = first(temporal, spectral, master=master)
        s, t = pool_s(s), pool_t(t)
        t_aug, s_aug, m_aug = second(t, s, master=master)
        return self.drop_way(t + t_aug), self.drop_way(s + s_aug), self.drop_way(master + m_aug)

    def graph_logits(self, spectral: torch.Tensor, temporal: torch.Tensor) -> torch.Tensor:
        """Args: spectral (B, F, C), temporal (B, T, C) node features. Returns logits (B, 2)."""
        out_s = self.pool_S(self.GAT_layer_S(spectral + self.pos_S))  # (B, F', d0)
        out_t = self.pool_T(self.GAT_layer_T(temporal))  # (B, T', d0)
        t1, s1, m1 = self._branch(out_t, out_s, self.master1, self.HtrgGAT_layer_ST11,
                                  self.HtrgGAT_layer_ST12, self.pool_hT1, self.pool_hS1)  # fmt: skip
        t2, s2, m2 = self._branch(out_t, out_s, self.master2, self.HtrgGAT_layer_ST21,
                                  self.HtrgGAT_layer_ST22, self.pool_hT2, self.pool_hS2)  # fmt: skip
        t, s, m = torch.maximum(t1, t2), torch.maximum(s1, s2), torch.maximum(m1, m2)  # (B, *, d1)
        hidden = torch.cat(
            [t.abs().amax(dim=1), t.mean(dim=1), s.abs().amax(dim=1), s.mean(dim=1), m.squeeze(1)], dim=1
        )  # (B, 5 * d1)
        return self.out_layer(self.drop(hidden))

    def forward(self, spectral: torch.Tensor, temporal: torch.Tensor) -> torch.Tensor:
        return self.graph_logits(spectral, temporal)


# --------------------------------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------------------------------


def _to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def sinc_bandpass_filters(n_filters: int, kernel_size: int, sample_rate: int = 16000) -> np.ndarray:
    """Hamming-windowed ideal band-pass filters with mel-spaced, contiguous bands (RawNet2/AASIST).

    The band edges are ``n_filters + 1`` points equally spaced on the mel scale between the mel
    values of 0 Hz and ``sample_rate / 2`` (taken, as upstream, over a 257-point grid). Filter i is
    ``2 f_hi/fs sinc(2 f_hi n/fs) - 2 f_lo/fs sinc(2 f_lo n/fs)`` for n in [-(K-1)/2, (K-1)/2],
    times a Hamming window. Computed in float64 (upstream mixes float32 and float64; the filters
    agree to float32 precision).

    Returns:
        (n_filters, kernel_size) float32; an even ``kernel_size`` is made odd (+1), as upstream.
    """
    kernel_size += 1 - kernel_size % 2
    grid = _to_mel((sample_rate // 2) * np.linspace(0.0, 1.0, 257))
    edges = _to_hz(np.linspace(grid.min(), grid.max(), n_filters + 1))  # (n_filters + 1,) Hz
    n = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) / 2  # (K,)

    def lowpass(cutoff: np.ndarray) -> np.ndarray:  # ideal low-pass impulse responses, (n_filters, K)
        return 2 * cutoff / sample_rate * np.sinc(2 * cutoff * n / sample_rate)

    ideal = lowpass(edges[1:, None]) - lowpass(edges[:-1, None])  # (n_filters, K) band-pass
    return (ideal * np.hamming(kernel_size)).astype(np.float32)


class SincFilterbank(nn.Module):
    """Fixed sinc band-pass front-end (``CONV`` upstream): ``(B, T) -> (B, n_filters, T - K + 1)``.

    The filters are a non-persistent buffer: they are not trained and not in the official checkpoint.
    """

    def __init__(self, n_filters: int, kernel_size: int, sample_rate: int = 16000) -> None:
        super().__init__()
        bank = torch.from_numpy(sinc_bandpass_filters(n_filters, kernel_size, sample_rate))
        self.register_buffer("filters", bank.unsqueeze(1), persistent=False)  # (n_filters, 1, K)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return F.conv1d(wave.unsqueeze(1), self.filters)  # (B, 1, T) -> (B, n_filters, T')


def max_pool(x: torch.Tensor, kernel: tuple[int, int]) -> torch.Tensor:
    """``F.max_pool2d(x, kernel)`` (stride = kernel, no padding, floor) as a reshape and a max.

    The same values, several times faster on CPU than ``max_pool2d``, which also computes indices.
    ``(B, C, H, W) -> (B, C, H // kh, W // kw)``.
    """
    b, c, h, w = x.shape
    kh, kw = kernel
    x = x[:, :, : h // kh * kh, : w // kw * kw]
    return x.reshape(b, c, h // kh, kh, w // kw, kw).amax(dim=(3, 5))


class ResidualBlock(nn.Module):
    """2-D residual block of the AASIST encoder (``Residual_block`` upstream).

    ``conv1`` (2x3) -> BN -> SELU -> ``conv2`` (2x3), plus the input (through a 1x3 conv when the width
    changes), then an optional (1, 3) max-pool over time (AASIST pools, SSL-AASIST does not).
    ``bn1`` exists in every block but the first and is unused, as upstream (module docstring).
    ``(B, c_in, F, T) -> (B, c_out, F, T // 3 or T)``.
    """

    def __init__(self, c_in: int, c_out: int, first: bool = False, pool: bool = True) -> None:
        super().__init__()
        if not first:
            self.bn1 = nn.BatchNorm2d(c_in)  # in the checkpoint; the reference discards its output
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=(2, 3), padding=(0, 1))
        self.selu = nn.SELU()
        self.downsample = c_in != c_out
        if self.downsample:
            self.conv_downsample = nn.Conv2d(c_in, c_out, kernel_size=(1, 3), padding=(0, 1))
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.selu(self.bn2(self.conv1(x))))  # (B, c_out, F, T)
        identity = self.conv_downsample(x) if self.downsample else x
        out = out + identity
        return max_pool(out, (1, 3)) if self.pool else out


def _encoder(blocks: tuple[tuple[int, int], ...], pool: bool) -> nn.Sequential:
    # Nested Sequentials give the official key names ``encoder.<i>.0.<param>``.
    return nn.Sequential(
        *(nn.Sequential(ResidualBlock(a, b, first=i == 0, pool=pool)) for i, (a, b) in enumerate(blocks))
    )


class AASIST(AasistGraphBackend):
    """AASIST on raw waveforms: ``(B, T)`` float32 at 16 kHz -> logits ``(B, 2)`` (spoof, bona fide).

    Args:
        config: the ``model_config`` of the official ``.conf`` (:class:`AasistConfig`).
    """

    def __init__(self, config: AasistConfig) -> None:
        channels = config.blocks[-1][1]
        super().__init__(channels, config.sinc_filters // 3, config.gat_dims, config.pool_ratios,
                         config.temperatures)  # fmt: skip
        self.config = config
        self.conv_time = SincFilterbank(config.sinc_filters, config.first_conv)
        self.first_bn = nn.BatchNorm2d(1)
        self.selu = nn.SELU()
        self.encoder = _encoder(config.blocks, pool=True)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = self.conv_time(wave).unsqueeze(1)  # (B, 1, n_sinc, T')
        x = self.selu(self.first_bn(max_pool(x.abs(), (3, 3))))  # (B, 1, n_sinc // 3, T' // 3)
        e = self.encoder(x).abs()  # (B, C, F, T'')
        spectral = e.amax(dim=3).transpose(1, 2)  # (B, F, C): max over time
        temporal = e.amax(dim=2).transpose(1, 2)  # (B, T'', C): max over frequency
        return self.graph_logits(spectral, temporal)


class SSLAasistBackend(AasistGraphBackend):
    """The SSL-AASIST head (Tak et al., Odyssey 2022): SSL hidden states ``(B, T, in_dim)`` -> logits
    ``(B, 2)`` (spoof, bona fide), as SSL_Anti-spoofing's ``Model.forward`` after its ``ssl_model`` call.

    ``LL`` Linear(in_dim -> 128) -> 3x3 max-pool over (feature, frame) -> BatchNorm2d + SELU -> six
    residual blocks without time pooling -> BatchNorm2d + SELU -> attentive pooling (``attention``:
    1x1 convs; softmax over time gives the 42 spectral nodes, softmax over features the temporal
    nodes) -> :class:`AasistGraphBackend`. Parameter names follow ``model.py`` (without its
    ``ssl_model.`` prefix).

    It contains BatchNorm2d (and the back-end's BatchNorm1d): in training mode each sample's output
    depends on the other samples of the batch (cross-sample statistics). A dual-path step that
    forwards the clean and augmented batches separately therefore normalises each path with its own
    statistics and updates the running statistics twice; to train both paths under one set of batch
    statistics, as a pooled step does, forward them jointly (one concatenated batch) and split the
    logits. In eval mode the running statistics are used and outputs are per-sample.

    Args:
        in_dim: width of the SSL hidden states (1024 for XLS-R 300M).
        config: head sizes; the defaults are the paper's.
    """

    def __init__(self, in_dim: int, config: SSLAasistConfig | None = None) -> None:
        if in_dim < 1:
            raise ValueError(f"SSLAasistBackend: in_dim={in_dim}; expected a positive integer")
        config = config or SSLAasistConfig()
        channels = config.blocks[-1][1]
        super().__init__(channels, config.proj_dim // 3, config.gat_dims, config.pool_ratios,
                         config.temperatures)  # fmt: skip
        self.config = config
        self.LL = nn.Linear(in_dim, config.proj_dim)
        self.first_bn = nn.BatchNorm2d(1)
        self.first_bn1 = nn.BatchNorm2d(channels)
        self.selu = nn.SELU()
        self.encoder = _encoder(config.blocks, pool=False)
        self.attention = nn.Sequential(
            nn.Conv2d(channels, 128, kernel_size=(1, 1)),
            nn.SELU(),
            nn.BatchNorm2d(128),
            nn.Conv2d(128, channels, kernel_size=(1, 1)),
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = self.LL(hidden).transpose(1, 2).unsqueeze(1)  # (B, 1, proj_dim, T)
        x = self.selu(self.first_bn(max_pool(x, (3, 3))))  # (B, 1, F, T // 3), F = proj_dim // 3
        x = self.selu(self.first_bn1(self.encoder(x)))  # (B, C, F, T')
        w = self.attention(x)  # (B, C, F, T')
        spectral = (x * torch.softmax(w, dim=-1)).sum(dim=-1).transpose(1, 2)  # (B, F, C)
        temporal = (x * torch.softmax(w, dim=-2)).sum(dim=-2).transpose(1, 2)  # (B, T', C)
        return self.graph_logits(spectral, temporal)
