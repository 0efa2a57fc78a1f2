"""The transformers-free wav2vec2 that ``sdd score`` loads (:mod:`sdd.models.wav2vec2_lite`) gives
transformers' outputs bit for bit, for every architecture variant it accepts and every merge and head,
and the configs it does not cover are loaded through transformers, saying so.

Each case builds a detector on transformers' ``Wav2Vec2Model`` (random init), saves it as the train
stage does, and loads it twice: ``load_detector(lite=False)`` (transformers, the oracle) and
``load_detector(lite=True)``; logits and every hidden state must be ``torch.equal``.
"""

from __future__ import annotations

import logging

import pytest
import torch

from sdd.core.configbase import to_dict
from sdd.models.detector import Detector, load_detector, save_detector
from sdd.models.params import AttmParams, ModelParams
from sdd.models.wav2vec2_lite import Wav2Vec2Lite, unsupported

SMALL = dict(
    conv_dim=(8,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2), conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
    apply_spec_augment=False, mask_time_prob=0.0, layerdrop=0.0,
)  # fmt: skip

#: Architecture variants: the demo's (group-norm conv encoder, post-LN), XLS-R's (layer-norm encoder,
#: pre-LN, conv bias, masking configured: a ``masked_spec_embed`` tensor in the checkpoint), an odd
#: positional kernel (no frame dropped) with one group, a non-default LayerNorm epsilon.
ARCHS = {
    "demo": dict(feat_extract_norm="group", num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
    "xlsr": dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True, mask_time_prob=0.05,
                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
    "odd_kernel": dict(feat_extract_norm="group", num_conv_pos_embeddings=7, num_conv_pos_embedding_groups=1,
                       layer_norm_eps=1e-6),
}  # fmt: skip

#: merge/head/options: every merge, every head, input normalisation off, truncation, a frozen backbone.
MODELS = {
    "last-linear": ModelParams(),
    "index-linear": ModelParams(merge="index", layer=1, normalize_input=False),
    "weighted-lstm": ModelParams(merge="weighted", head="lstm"),
    "attm-aasist": ModelParams(merge="attm", head="aasist", attm=AttmParams(middle_linear=True)),
    "truncated-frozen": ModelParams(layers=1, finetune="frozen"),
}


def _config(arch: str):
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(**{**SMALL, **ARCHS[arch]})


def _save(tmp_path, config, params: ModelParams, seed: int = 0):
    from transformers import AutoModel

    torch.manual_seed(seed)
    model = Detector(AutoModel.from_config(config), params)
    # random weights everywhere, also where the init is constant (norms, biases, AttM, the weight norm's g)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.ndim == 1 else 0.0))
    save_detector(model, {"model": to_dict(params)}, tmp_path / "m")
    return tmp_path / "m"


def _waves(batch: int = 3, samples: int = 8000) -> torch.Tensor:
    return torch.randn(batch, samples, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("arch", ARCHS)
def test_lite_backbone_gives_transformers_outputs_bit_for_bit(arch, model, tmp_path):
    path = _save(tmp_path, _config(arch), MODELS[model])
    oracle, _ = load_detector(path)
    lite, _ = load_detector(path, lite=True)
    assert isinstance(lite.backbone, Wav2Vec2Lite) and not isinstance(oracle.backbone, Wav2Vec2Lite)
    assert not lite.training and not any(t.is_meta for t in lite.state_dict().values())
    x = _waves()
    with torch.no_grad():
        want, got = oracle(x), lite(x)
        assert torch.equal(got, want), (got - want).abs().max()
        hs_want, hs_got = oracle.hidden_states(x), lite.hidden_states(x)
    assert len(hs_got) == len(hs_want) == lite.backbone.config.num_hidden_layers + 1
    assert all(torch.equal(a, b) for a, b in zip(hs_got, hs_want, strict=True))


def test_lite_model_runs_inference_only(tmp_path):
    lite, _ = load_detector(_save(tmp_path, _config("demo"), ModelParams()), lite=True)
    lite.train()
    with pytest.raises(ValueError, match=r"inference only.*\.eval\(\)"):
        lite(_waves(1))


def test_what_the_lite_model_does_not_cover_loads_through_transformers_and_says_why(tmp_path, caplog):
    from transformers import WavLMConfig

    wavlm = _save(tmp_path / "w", WavLMConfig(**SMALL), ModelParams())
    caplog.set_level(logging.DEBUG, logger="sdd.models.detector")
    model, _ = load_detector(wavlm, lite=True)
    assert type(model.backbone).__name__ == "WavLMModel"
    assert any("backbone_config.model_type is 'wavlm'" in r.message and "through transformers" in r.message
               for r in caplog.records)  # fmt: skip
    oracle, _ = load_detector(wavlm)
    x = _waves(2)
    with torch.no_grad():
        assert torch.equal(model(x), oracle(x))


@pytest.mark.slow  # imports peft
def test_a_lora_checkpoint_loads_through_transformers(tmp_path, caplog):
    path = _save(tmp_path, _config("demo"), ModelParams(finetune="lora"))
    caplog.set_level(logging.DEBUG, logger="sdd.models.detector")
    model, _ = load_detector(path, lite=True)
    assert not isinstance(model.backbone, Wav2Vec2Lite)
    assert any("LoRA adapters (peft)" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("key", "value"),
    [("model_type", "hubert"), ("hidden_act", "relu"), ("feat_extract_activation", "gelu_new"),
     ("feat_extract_norm", "batch"), ("add_adapter", True), ("adapter_attn_dim", 16),
     ("_attn_implementation", "eager")],
)  # fmt: skip
def test_unsupported_names_the_key_and_value(key, value):
    config = _config("demo").to_dict()
    assert unsupported(config) is None
    config[key] = value
    reason = unsupported(config)
    assert reason is not None and f"backbone_config.{key} is {value!r}" in reason


def test_a_config_without_an_architecture_key_is_not_for_the_lite_model():
    config = _config("demo").to_dict()
    del config["layer_norm_eps"]
    assert unsupported(config) == "backbone_config has no ['layer_norm_eps']"
