"""The published architectures of the presets' backbones and the closed parameter counts of
sdd.train.architectures, checked against the modules they describe (transformers' models built on the
meta device: no memory, no download)."""

from __future__ import annotations

import pytest
import torch

from sdd.models.heads import HEADS
from sdd.models.merges import AttM, WeightedSum
from sdd.train.architectures import (
    PUBLISHED_ARCHITECTURES,
    architecture_config,
    backbone_parameters,
    head_parameters,
    lora_parameters,
    merge_parameters,
)


def test_heads_and_merges_match_their_modules():
    for head in ("linear", "lstm", "aasist"):
        for width in (16, 1024):
            assert head_parameters(head, width) == sum(p.numel() for p in HEADS[head](width).parameters())
    for layers, width, middle in ((12, 1024, False), (4, 16, True), (3, 8, False)):
        assert merge_parameters("attm", layers, width, middle) == sum(
            p.numel() for p in AttM(layers, width, middle).parameters()
        )
    assert merge_parameters("weighted", 5, 16) == sum(p.numel() for p in WeightedSum(5).parameters())
    assert merge_parameters("last", 24, 1024) == 0


def test_lora_count_is_rank_times_in_plus_out_per_projection():
    # XLS-R 300M, rank 16 on q_proj and v_proj: 24 layers x 2 projections x 16 x (1024 + 1024)
    assert lora_parameters("facebook/wav2vec2-xls-r-300m", 16, ("q_proj", "v_proj")) == 1_572_864
    assert lora_parameters("microsoft/wavlm-large", 8, ("q_proj",), layers=12) == 12 * 8 * 2048
    with pytest.raises(ValueError, match="fc1"):
        lora_parameters("facebook/wav2vec2-xls-r-300m", 8, ("fc1",))


def test_an_unknown_backbone_is_named():
    with pytest.raises(ValueError, match="'facebook/hubert-large-ll60k'.*microsoft/wavlm-large"):
        backbone_parameters("facebook/hubert-large-ll60k")


@pytest.mark.parametrize("repo_id", sorted(PUBLISHED_ARCHITECTURES))
def test_backbone_formula_matches_transformers(repo_id):
    from transformers import AutoModel

    with torch.device("meta"):
        model = AutoModel.from_config(architecture_config(repo_id))
    counts = backbone_parameters(repo_id)
    assert sum(p.numel() for p in model.parameters()) == counts["total"]
    assert sum(p.numel() for p in model.feature_extractor.parameters()) == counts["feature_encoder"]
    # the published sizes (their model cards: "300M" / "315M")
    assert (
        counts["total"]
        == {"facebook/wav2vec2-xls-r-300m": 315_438_720, "microsoft/wavlm-large": 315_453_120}[repo_id]
    )
    del model.encoder.layers[12:]  # what model.layers: 12 keeps (AttM)
    assert sum(p.numel() for p in model.parameters()) == backbone_parameters(repo_id, 12)["total"]
    # and at a tiny size, with other overrides (the rehearsal's fast test builds these)
    tiny = dict(
        conv_dim=(8,) * 7,
        hidden_size=16,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=24,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        mask_time_prob=0.0,
    )
    with torch.device("meta"):
        small = AutoModel.from_config(architecture_config(repo_id, **tiny))
    assert sum(p.numel() for p in small.parameters()) == backbone_parameters(repo_id, **tiny)["total"]
