"""The published AASIST (Jung et al., ICASSP 2022) and the SSL-AASIST head.

Oracles: the official implementation's logits on real clips (``../shared/data/aasist/
reference_scores.tsv``, written by the authors' code from the official weights), the parameter
counts the paper reports (AASIST 297K, AASIST-L 85K), the authors' ``state_dict`` (strict loading),
torch's own ``max_pool2d``, and invariants (eval-mode outputs are per-sample, train-mode BatchNorm is
not). The whole reference list runs in ``benchmarks/aasist_parity.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from sdd.audio.crop import crop_or_pad
from sdd.audio.io import read_audio
from sdd.core.configbase import ConfigError, build
from sdd.core.sections import ScoreParams
from sdd.models.aasist import (
    AASIST,
    AasistConfig,
    AasistGraphBackend,
    SSLAasistBackend,
    SSLAasistConfig,
    max_pool,
)
from sdd.models.published import load_aasist, read_aasist_conf
from sdd.models.published_spec import resolve_aasist
from sdd.scoring.score import cli_main, load_scorer, score_manifest

# The `model_config` blocks of the published config/AASIST.conf and config/AASIST-L.conf.
AASIST_CONF = {"architecture": "AASIST", "nb_samp": 64600, "first_conv": 128,
               "filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]], "gat_dims": [64, 32],
               "pool_ratios": [0.5, 0.7, 0.5, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0]}  # fmt: skip
AASIST_L_CONF = {**AASIST_CONF, "filts": [70, [1, 32], [32, 32], [32, 24], [24, 24]], "gat_dims": [24, 32],
                 "pool_ratios": [0.4, 0.5, 0.7, 0.5]}  # fmt: skip
# variant -> reference TSV columns (spoof logit, bona fide logit): our column order.
COLUMNS = {
    "AASIST": ("aasist_spoof_logit", "aasist_bonafide_logit"),
    "AASIST-L": ("aasist_l_spoof_logit", "aasist_l_bonafide_logit"),
}
TOL = 1e-3


@pytest.fixture(scope="module")
def reference(aasist_dir: Path) -> pd.DataFrame:
    ref = pd.read_csv(aasist_dir / "reference_scores.tsv", sep="\t")
    ref["abs_path"] = [str(aasist_dir.parent / "realmini" / p) for p in ref["path"]]
    return ref


def _inputs(paths: list[str], num_samples: int = 64600) -> torch.Tensor:
    return torch.from_numpy(np.stack([crop_or_pad(read_audio(p, 16000)[0], num_samples) for p in paths]))


# --------------------------------------------------------------------------------------------------
# Parity with the official implementation
# --------------------------------------------------------------------------------------------------


# the full-size model is slow; AASIST-L runs the same check in the fast lane
@pytest.mark.parametrize("variant", [pytest.param("AASIST", marks=pytest.mark.slow), "AASIST-L"])
def test_published_weights_reproduce_the_reference_logits(variant, aasist_dir, reference):
    """10 of the 100 reference clips (every 10th); benchmarks/aasist_parity.py runs all of them."""
    model, config = load_aasist(aasist_dir / f"{variant}.pth")  # strict=True inside
    assert config.nb_samp == 64600 and not model.training
    clips = reference.iloc[::10]
    lengths = [read_audio(p)[0].shape[0] for p in clips["abs_path"]]
    assert min(lengths) < 64600 < max(lengths), "the sample should exercise both cropping and repeat-padding"
    torch.set_num_threads(2)
    with torch.no_grad():
        logits = torch.cat([model(_inputs(list(clips["abs_path"][i : i + 5]))) for i in (0, 5)]).numpy()
    expected = clips[list(COLUMNS[variant])].to_numpy()
    np.testing.assert_allclose(logits, expected, rtol=0, atol=TOL)


def test_sdd_score_cli_prints_reference_log_odds(aasist_dir, reference, capsys):
    clips = reference.iloc[[0, 2, 40]]  # LibriSpeech; clip 2 is shorter than 64,600 samples
    argv = ["--model", f"aasist:{aasist_dir / 'AASIST.pth'}", *clips["abs_path"]]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# sdd score: model=aasist:"), "the header says which model scored"
    lines = [line.split("\t") for line in out if not line.startswith("#")]
    assert [p for p, _ in lines] == list(clips["abs_path"])
    expected = clips["aasist_bonafide_logit"] - clips["aasist_spoof_logit"]
    np.testing.assert_allclose([float(s) for _, s in lines], expected, rtol=0, atol=TOL)


def test_load_scorer_and_score_manifest_for_aasist(aasist_dir, reference, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    for name in ("AASIST-L.pth", "AASIST-L.conf"):
        shutil.copy(aasist_dir / name, folder / name)
    model, input_samples = load_scorer(f"aasist:{folder}")  # a folder holding one variant
    assert input_samples == 64600
    clips = reference.iloc[[10, 11]]
    manifest = pd.DataFrame({"utt_id": ["a", "b"], "path": clips["abs_path"]})
    scores = score_manifest(model, manifest, ScoreParams(num_samples=input_samples, batch_size=2))
    expected = clips["aasist_l_bonafide_logit"] - clips["aasist_l_spoof_logit"]
    np.testing.assert_allclose(scores, expected, rtol=0, atol=TOL)


# --------------------------------------------------------------------------------------------------
# Loading: clear errors naming the files
# --------------------------------------------------------------------------------------------------


def test_folder_with_both_variants_asks_to_name_one(aasist_dir):
    with pytest.raises(ValueError, match=r"holds 2 weight files; name one: aasist:.*AASIST-L\.pth"):
        resolve_aasist(aasist_dir)


def test_weights_that_do_not_match_the_conf_name_both_files(aasist_dir, tmp_path):
    shutil.copy(aasist_dir / "AASIST-L.pth", tmp_path / "AASIST-L.pth")
    shutil.copy(aasist_dir / "AASIST.conf", tmp_path / "AASIST-L.conf")  # the wrong architecture
    with pytest.raises(ValueError, match=r"AASIST-L\.pth: does not match the AASIST built from .*L\.conf"):
        load_aasist(tmp_path / "AASIST-L.pth")


def test_missing_conf_and_bad_conf_are_clear_errors(tmp_path):
    weights = tmp_path / "AASIST.pth"
    torch.save({}, weights)
    with pytest.raises(FileNotFoundError, match=r"AASIST\.conf: missing"):
        resolve_aasist(weights)
    (tmp_path / "AASIST.conf").write_text("{not json")
    with pytest.raises(ConfigError, match=r"AASIST\.conf: not a JSON AASIST config"):
        load_aasist(weights)
    (tmp_path / "AASIST.conf").write_text('{"model_config": {"nb_samp": 64600, "bogus": 1}}')
    with pytest.raises(ConfigError, match=r"AASIST\.conf: model_config: unknown key\(s\) \['bogus'\]"):
        read_aasist_conf(tmp_path / "AASIST.conf")


def test_unknown_model_kind_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown model kind 'nosuch'.*aasist:<"):
        load_scorer("nosuch:/x")
    with pytest.raises(ValueError, match="no path after aasist:"):
        load_scorer("aasist:")


# --------------------------------------------------------------------------------------------------
# The model without the published files
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("conf", "thousands"), [(AASIST_CONF, 297), (AASIST_L_CONF, 85)])
def test_parameter_counts_are_the_papers(conf, thousands):
    """The paper reports 297K and 85K parameters (all of ``parameters()``, as the official main.py counts)."""
    model = AASIST(build(AasistConfig, conf, "model_config"))
    assert sum(p.numel() for p in model.parameters()) // 1000 == thousands


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"filts": [70, [1, 32], [16, 32], [32, 64], [64, 64]]}, r"model_config\.filts\[2\].*must be 32"),
        ({"gat_dims": [64]}, r"model_config\.gat_dims: got \[64\]"),
        ({"pool_ratios": [0.5, 0.7, 0.5, 1.5]}, r"model_config\.pool_ratios"),
        ({"architecture": "RawNet2"}, r"model_config\.architecture: got 'RawNet2'"),
        ({"extra": 1}, r"unknown key\(s\) \['extra'\]"),
    ],
)
def test_config_errors_name_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        build(AasistConfig, {**AASIST_CONF, **change}, "model_config")


@pytest.mark.parametrize("shape", [(2, 1, 70, 64472), (1, 3, 23, 100), (2, 2, 5, 7)])
def test_max_pool_equals_torch_max_pool2d(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    for kernel in ((3, 3), (1, 3)):
        assert torch.equal(max_pool(x, kernel), F.max_pool2d(x, kernel))


def test_eval_mode_scores_each_clip_on_its_own():
    torch.manual_seed(0)
    model = AASIST(build(AasistConfig, AASIST_L_CONF, "model_config")).eval()
    x = 0.1 * torch.randn(3, 16000)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------------------
# SSL-AASIST head
# --------------------------------------------------------------------------------------------------


def test_ssl_aasist_head_shapes_and_names_follow_the_reference():
    torch.manual_seed(0)
    head = SSLAasistBackend(in_dim=1024)
    assert isinstance(head, AasistGraphBackend) and head.config == SSLAasistConfig()
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    # Names and shapes of SSL_Anti-spoofing's Model (model.py), without its ssl_model.* entries.
    assert shapes["LL.weight"] == (128, 1024) and shapes["pos_S"] == (1, 42, 64)
    assert shapes["first_bn1.weight"] == (64,) and shapes["attention.0.weight"] == (128, 64, 1, 1)
    assert shapes["attention.2.running_mean"] == (128,) and shapes["out_layer.weight"] == (2, 160)
    assert shapes["encoder.5.0.conv2.weight"] == (64, 64, 2, 3) and "encoder.0.0.bn1.weight" not in shapes
    hidden = torch.randn(3, 201, 1024)  # XLS-R frames of 64,600 samples
    assert head(hidden).shape == (3, 2)
    head.eval()
    with torch.no_grad():
        torch.testing.assert_close(head(hidden)[:1], head(hidden[:1]), rtol=1e-5, atol=1e-5)


def test_ssl_aasist_head_normalises_across_the_batch_in_training():
    """Why a dual-path step must forward both paths jointly to share batch statistics."""
    torch.manual_seed(0)
    head = SSLAasistBackend(16, SSLAasistConfig(proj_dim=24))
    head.train()
    for module in head.modules():  # isolate BatchNorm from dropout
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    a, b = torch.randn(2, 30, 16), torch.randn(2, 30, 16)
    alone = head(a)
    joint = head(torch.cat([a, b]))[:2]
    assert not torch.allclose(alone, joint, atol=1e-4)
    joint.sum().backward()
    assert head.LL.weight.grad is not None and head.LL.weight.grad.abs().sum() > 0
