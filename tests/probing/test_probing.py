"""Layer-wise probing (issue 12): the probes find the layer that carries the label, pooling is a
plain mean/std, one forward pass feeds every layer, probe settings never touch extraction, and the
report's probing table (AttM's weights recorded while scoring: tests/scoring/test_scoring.py)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import yaml

from sdd.audit.logistic import fit_logistic
from sdd.core.configbase import ConfigError
from sdd.plan.assemble import make_plan, validate_params
from sdd.probing.features import extract_split, load_features, pooled_statistics, save_features
from sdd.probing.probes import best_layer, fit_linm, run_probes
from tests.helpers import REPO


def _synthetic(rng, j: int, n_states: int = 5, hidden: int = 6, n: int = 160, strength: float = 1.5):
    """Features (N, L + 1, 2H) per split where only hidden state ``j``'s mean carries the label."""
    feats, labels = {}, {}
    for split in ("train", "dev", "demo__eval"):
        y = np.repeat([0, 1], n // 2)
        x = rng.standard_normal((n, n_states, 2 * hidden))
        x[:, j, :hidden] += strength * (2 * y[:, None] - 1) * 0.5
        feats[split], labels[split] = x.astype(np.float16), y
    return feats, labels


@pytest.mark.parametrize("j", [0, 2, 4])
def test_only_the_informative_layer_gets_the_lowest_eer(rng, j):
    feats, labels = _synthetic(rng, j)
    out = run_probes(feats, labels, [0.01, 1.0], n_resamples=0)
    eers = [row["eer"]["demo__eval"] for row in out["layer"]]
    assert int(np.argmin(eers)) == j
    assert eers[j] < 0.2 and min(e for i, e in enumerate(eers) if i != j) > 0.3
    assert best_layer(out["layer"])["layer"] == j
    # cumulative probes gain once the first k layers include layer j (layer j >= 1: transformer layers)
    if j >= 1:
        concat = [row["eer"]["demo__eval"] for row in out["concat"]]
        assert concat[j - 1] < 0.2 and all(c > 0.3 for c in concat[: j - 1])
        linm = out["linm"][-1]
        assert abs(sum(linm["weights"]) - 1) < 1e-9 and int(np.argmax(linm["weights"])) == j - 1


def test_every_row_has_dev_and_eval_eers_with_bootstrap_intervals(rng):
    feats, labels = _synthetic(rng, 1, n_states=3)
    out = run_probes(feats, labels, [0.1], n_resamples=50, kinds=("layer",))
    for row in out["layer"]:
        assert set(row["eer"]) == {"dev", "demo__eval"} == set(row["ci95"])
        for lo, hi in row["ci95"].values():
            assert lo <= hi


def test_regularisation_is_chosen_on_dev_only(rng):
    feats, labels = _synthetic(rng, 1, n_states=2)
    # scramble the eval labels: if the eval set took part in the choice, the chosen l2 would change
    scrambled = dict(labels, demo__eval=rng.permutation(labels["demo__eval"]))
    a = run_probes(feats, labels, [0.001, 0.1, 10.0], n_resamples=0, kinds=("layer",))
    b = run_probes(feats, scrambled, [0.001, 0.1, 10.0], n_resamples=0, kinds=("layer",))
    assert [r["l2"] for r in a["layer"]] == [r["l2"] for r in b["layer"]]


def test_linm_with_one_layer_is_the_plain_logistic_regression(rng):
    m = rng.standard_normal((80, 1, 4))
    y = np.repeat([0, 1], 40)
    m[:, 0, 0] += y
    w, beta, b = fit_linm(m, y, 0.1)
    beta2, b2 = fit_logistic(m[:, 0], y, 0.1)
    np.testing.assert_allclose(beta, beta2, atol=1e-4)
    assert abs(b - b2) < 1e-4


def test_pooling_equals_a_direct_computation(rng):
    states = [torch.from_numpy(rng.standard_normal((3, 7, 5)).astype(np.float32)) for _ in range(4)]
    pooled = pooled_statistics(states).numpy()
    direct = np.stack(
        [np.concatenate([s.numpy().mean(axis=1), s.numpy().std(axis=1)], axis=-1) for s in states], axis=1
    )
    assert pooled.shape == (3, 4, 10)
    np.testing.assert_allclose(pooled, direct, rtol=1e-5, atol=1e-6)


def test_one_forward_pass_per_batch_feeds_every_layer_and_stores_float16(tmp_path, rng):
    import pandas as pd

    from sdd.audio.io import write_audio

    rows = []
    for i in range(5):
        path = tmp_path / f"u{i}.flac"
        write_audio(path, (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
        rows.append({"utt_id": f"u{i}", "path": str(path), "label": "bonafide" if i % 2 else "spoof"})
    manifest = pd.DataFrame(rows)
    calls = []

    def model(x):
        calls.append(x.shape)
        return [x[:, None, :100].repeat(1, 3, 1) * (k + 1) for k in range(3)]  # 3 states (B, 3, 100)

    feats = extract_split(model, manifest, num_samples=4000, batch_size=2)
    assert calls == [(2, 4000), (2, 4000), (1, 4000)]  # one pass per batch, all layers at once
    assert feats.dtype == np.float16 and feats.shape == (5, 3, 200)
    save_features(tmp_path / "f", {"train": (manifest, feats)}, {"x": 1})
    got, labels, meta = load_features(tmp_path / "f")
    np.testing.assert_array_equal(got["train"], feats)
    assert labels["train"].tolist() == [0, 1, 0, 1, 0] and meta == {"x": 1}


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def _plan(raw: dict, **changes) -> dict:
    data = copy.deepcopy(raw)
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            data[section][name] = value
        else:
            data[section] = value
    return make_plan(validate_params(data))


@pytest.mark.parametrize(
    "change",
    [
        {"probe__l2_grid": [0.5]},
        {"probe__kinds": ["layer"]},
        {"probe__n_resamples": 10},
        {"probe__seed": 3},
        {"probe__models": ["backbone"]},
    ],
)
def test_a_probe_setting_change_leaves_extraction_cached(raw, change):
    base, new = _plan(raw), _plan(raw, **change)
    assert new["extract.json"] == base["extract.json"]
    changed = {k for k in base if base[k] != new.get(k)}
    assert changed <= {"probe.json", "report.json"}


def test_extraction_settings_do_not_touch_probe_plan_or_training(raw):
    base, new = _plan(raw), _plan(raw, probe__num_samples=16000)  # the default is 32000
    assert {k for k in base if base[k] != new[k]} == {"extract.json"}


def test_pretrained_backbone_validates_before_its_folder_exists(raw):
    plan = _plan(raw)
    assert plan["arms/main/s0.json"]["arm"]["backbone"] == "pretrained"
    pretrain = plan["pretrain.json"]["pretrain"]
    assert pretrain[pretrain["objective"]]["steps"] > 0
    other = _plan(raw, backbone="tiny-wavlm")
    assert other["pretrain.json"]["pretrain"] is None  # no pretraining: its settings do not matter
    # changing a pretrain setting with another backbone changes nothing
    assert _plan(raw, backbone="tiny-wavlm", pretrain__seed=5, pretrain__objective="wav2vec2") == other


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"probe__models": ["nonsense"]}, "probe.models"),
        ({"probe__models": []}, r"probe.models: got \[\]; expected at least one"),
        ({"probe__partial_layers": [9]}, "model.layers"),
        ({"probe__partial_layers": [0]}, "probe.partial_layers"),
        ({"arms": {"probing": {}}}, "reserved"),
        ({"probe__kinds": ["deep"]}, "probe.kinds"),
        ({"pretrain__wav2vec2": {"mask_time_prob": 1.5}}, "pretrain.wav2vec2.mask_time_prob"),
        ({"pretrain__hubert": {"mask_time_prob": 1.5}}, "pretrain.hubert.mask_time_prob"),
        ({"pretrain__objective": "bert"}, r"pretrain.objective: got 'bert'; expected one of \['wav2vec2'"),
    ],
)
def test_bad_probe_and_pretrain_values_are_config_errors(raw, changes, needle):
    with pytest.raises(ConfigError, match=needle):
        _plan(raw, **changes)


def test_partial_arms_are_main_with_k_layers(raw):
    plan = _plan(raw, probe__partial_layers=[1, 3], probe__partial_epochs=3)["partial.json"]
    assert [a["model"]["layers"] for a in plan["arms"]] == [1, 3]
    assert [a["name"] for a in plan["arms"]] == ["partial_1", "partial_3"]
    assert all(a["train"]["epochs"] == 3 for a in plan["arms"])


def test_report_probing_table_and_figures(tmp_path):
    from sdd.report.probing import FIGURES, probing_blocks, probing_metrics

    def result(eer):
        rows = [
            {
                "layer": i,
                "l2": 1.0,
                "eer": {"dev": eer + 0.01 * i, "demo__eval": eer + 0.02 * i},
                "ci95": {"dev": [0, 1], "demo__eval": [0, 1]},
            }
            for i in range(3)
        ]
        return {
            "info": {"kind": "backbone", "model_type": "wav2vec2", "num_layers": 2},
            "splits": {"dev": "dev", "demo__eval": "demo:eval"},
            "layer": rows,
            "best_layer": rows[0],
            "concat": [{"layers": k, "eer": {"dev": 0.2, "demo__eval": 0.3}, "ci95": {}} for k in (1, 2)],
            "linm": [],
        }

    data = {
        "probes": {"random": result(0.4), "backbone": result(0.2)},
        "partial": [],
        "pretrain": {},
        "attm_weights": {"attm": {"demo:eval": {"mean": [0.5, 0.6], "std": [0.1, 0.1], "n": 3}}},
    }
    table = probing_metrics(data)
    assert table["pretraining_gain"]["demo:eval"] == pytest.approx(0.2)
    assert table["models"]["backbone"]["best_layer"] == 0
    assert table["models"]["random"]["layers"]["2"]["demo:eval"] == pytest.approx(0.44)
    blocks = probing_blocks(data, tmp_path)
    assert all((tmp_path / f).is_file() for f in FIGURES)
    figs = [b for kind, b in blocks if kind == "fig"]
    assert len(figs) == len(FIGURES) and all(f.caption for f in figs), "every figure has a caption"
    assert json.dumps(table)  # JSON-able
    assert any(kind == "table" for kind, _ in blocks)


def test_an_arm_folder_is_probed_at_its_lowest_trained_seed(tmp_path):
    from sdd.probing.extract import probed_model_dir

    arm = tmp_path / "main"
    for seed, trained in ((2, True), (1, False), (10, True)):
        (arm / f"s{seed}").mkdir(parents=True)
        (arm / f"s{seed}" / ("config.json" if trained else "skipped.json")).write_text("{}")
    assert probed_model_dir(arm) == arm / "s2", "s1 holds only a skip record; s2 < s10 numerically"
    backbone = tmp_path / "backbone"
    backbone.mkdir()
    (backbone / "config.json").write_text("{}")
    assert probed_model_dir(backbone) == backbone
    (tmp_path / "empty" / "s0").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no trained model to probe"):
        probed_model_dir(tmp_path / "empty")
