"""Training loop, detector, checkpoints and scoring on tiny synthetic audio."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from sdd.data.audio import write_audio
from sdd.models.backbone import build_backbone
from sdd.models.detector import Detector, load_detector, save_detector
from sdd.models.params import ModelParams, TinyBackboneParams
from sdd.params import ScoreParams
from sdd.scoring import score_paths
from sdd.train.loop import _flat_grad, average_state_dicts, fit
from sdd.train.params import ArmConfig, TrainParams

SR = 16000
TINY = TinyBackboneParams(conv_channels=8, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=16)


def make_arm(regime="dual_path", align="none", **train):
    tp = dict(epochs=2, batch_size=4, lr=1e-3, crop_samples=3200, patience=1, average_best=2, threads=1,
              telemetry_every=1)
    tp.update(train)
    return ArmConfig(
        name="t",
        corpus="synthetic",
        backbone="tiny-wavlm",
        regime=regime,
        align=align,
        lora=False,
        seed=3,
        model=ModelParams(tiny=TINY),
        train=TrainParams(**tp),
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """8 train + 4 dev utterances (harmonic 'bona fide' vs noisy 'spoof') and an augmented copy each."""
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        label = "bonafide" if i % 2 == 0 else "spoof"
        n = int(SR * rng.uniform(0.15, 0.3))
        t = np.arange(n) / SR
        f0 = rng.uniform(100, 200)
        wave = 0.3 * np.sin(2 * np.pi * f0 * t) if label == "bonafide" else 0.3 * rng.standard_normal(n)
        path = root / f"u{i}.flac"
        write_audio(path, wave.astype(np.float32), SR)
        rows.append(
            {
                "utt_id": f"u{i}",
                "path": str(path),
                "label": label,
                "attack": "-" if label == "bonafide" else "A01",
                "split": "train" if i < 8 else "dev",
            }
        )
    df = pd.DataFrame(rows)
    aug_dir = root / "aug"
    aug_rows = []
    for r in rows[:8]:
        from sdd.data.audio import read_audio

        w, _ = read_audio(r["path"])
        write_audio(
            aug_dir / f"{r['utt_id']}__aug0.flac",
            w + 0.05 * rng.standard_normal(w.shape[0]).astype(np.float32),
            SR,
        )
        aug_rows.append({"utt_id": f"{r['utt_id']}__aug0", "source_utt_id": r["utt_id"], "copy": 0,
                         "path": f"{r['utt_id']}__aug0.flac"})
    return df[df.split == "train"], df[df.split == "dev"], pd.DataFrame(aug_rows), aug_dir


@pytest.mark.parametrize(
    "regime,align", [("clean", "none"), ("augmented", "none"), ("dual_path", "none"), ("dual_path", "pcgrad")]
)
def test_fit_is_deterministic_and_logs_telemetry(corpus, regime, align):
    train, dev, aug, aug_dir = corpus
    arm = make_arm(regime, align)
    m1, r1 = fit(arm, train, dev, aug, aug_dir)
    m2, r2 = fit(arm, train, dev, aug, aug_dir)
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1), "same params + seed must give identical weights"
    assert r1.telemetry == r2.telemetry
    assert len(r1.epochs) == 2 and all(np.isfinite(e["dev_loss"]) for e in r1.epochs)
    from sdd.train.loop import TELEMETRY_COLUMNS

    assert all(set(row) <= set(TELEMETRY_COLUMNS) for row in r1.telemetry), "telemetry columns are declared"
    if regime == "clean":
        assert "conflict_ratio" not in r1.summary
    else:
        assert 0.0 <= r1.summary["conflict_ratio"] <= 1.0
        assert all(-1.0 - 1e-6 <= row["cos"] <= 1.0 + 1e-6 for row in r1.telemetry if "cos" in row)
    if align == "pcgrad":
        assert "projection_ratio" in r1.summary


def test_different_seed_gives_different_weights(corpus):
    train, dev, aug, aug_dir = corpus
    m1, _ = fit(make_arm("clean", epochs=1), train, dev, aug, aug_dir)
    m2, _ = fit(dataclasses.replace(make_arm("clean", epochs=1), seed=4), train, dev, aug, aug_dir)
    assert not torch.equal(m1.head.proj.weight, m2.head.proj.weight)


def test_regime_needing_augmentation_without_it_is_an_error(corpus):
    train, dev, _, _ = corpus
    with pytest.raises(ValueError, match="augmented manifest"):
        fit(make_arm("dual_path"), train, dev, None, None)


def test_pooled_loss_gradient_equals_mean_of_path_gradients():
    """DPDA's unaligned baseline (one CE over cat([x_c, x_a])) == mean of the per-path gradients."""
    torch.manual_seed(0)
    model = Detector(build_backbone("tiny-wavlm", TINY), ModelParams(tiny=TINY)).eval()  # no dropout
    params = [p for p in model.parameters() if p.requires_grad]
    x_c, x_a = torch.randn(3, 3200), torch.randn(3, 3200)
    y, w = torch.tensor([0, 1, 1]), torch.tensor([0.1, 0.9])
    pooled = _flat_grad(F.cross_entropy(model(torch.cat([x_c, x_a])), torch.cat([y, y]), weight=w), params)
    g_c = _flat_grad(F.cross_entropy(model(x_c), y, weight=w), params)
    g_a = _flat_grad(F.cross_entropy(model(x_a), y, weight=w), params)
    assert torch.allclose(pooled, (g_c + g_a) / 2, atol=1e-6)


def test_average_state_dicts_is_the_mean_and_does_not_alias():
    a = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(5)}
    b = {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(5)}
    avg = average_state_dicts([a, b])
    assert torch.equal(avg["w"], torch.tensor([2.0, 4.0])) and avg["n"].item() == 5
    avg["w"] += 1
    assert torch.equal(a["w"], torch.tensor([1.0, 3.0]))
    five = [{"w": torch.tensor([float(i)])} for i in range(1, 6)]
    assert average_state_dicts(five)["w"].item() == pytest.approx(3.0)  # not (2*b1+b2+b3+b4)/5


def test_checkpoint_round_trip_and_batched_scoring_equals_per_item(corpus, tmp_path):
    train, dev, aug, aug_dir = corpus
    arm = make_arm("clean", epochs=1)
    model, _ = fit(arm, train, dev, aug, aug_dir)
    save_detector(model, arm, tmp_path / "m")
    loaded, arm2 = load_detector(tmp_path / "m")
    assert arm2 == arm, "checkpoints carry their full config"
    paths = list(dev["path"]) + list(train["path"][:3])
    params = ScoreParams(num_samples=4000, batch_size=4, threads=1)
    batched = score_paths(loaded, paths, params)
    single = np.concatenate(
        [score_paths(loaded, [p], dataclasses.replace(params, batch_size=1)) for p in paths]
    )
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(batched, score_paths(model, paths, params))


def test_backbone_from_local_save_pretrained_directory(tmp_path):
    torch.manual_seed(0)
    original = build_backbone("tiny-wav2vec2", TINY)
    original.save_pretrained(tmp_path / "tiny")
    loaded = build_backbone(str(tmp_path / "tiny"), TINY)
    assert type(loaded) is type(original)
    for (k, v), (k2, v2) in zip(original.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)
    x = torch.randn(2, 3200)
    original.eval(), loaded.eval()
    assert torch.equal(original(x).last_hidden_state, loaded(x).last_hidden_state)


def test_frozen_backbone_trains_only_the_head():
    model = Detector(build_backbone("tiny-wavlm", TINY), ModelParams(tiny=TINY, finetune="frozen"))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.proj.weight", "head.proj.bias"}


def test_sdd_score_cli_prints_path_and_score(corpus, tmp_path):
    import subprocess
    import sys

    train, dev, aug, aug_dir = corpus
    arm = make_arm("clean", epochs=1)
    model, _ = fit(arm, train, dev, aug, aug_dir)
    save_detector(model, arm, tmp_path / "m")
    sdd = [sys.executable, "-m", "sdd.cli"]  # the interpreter running the tests, wherever it lives
    proc = subprocess.run(
        [*sdd, "score", "--model", str(tmp_path / "m"), *dev["path"]], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [p for p, _ in lines] == list(dev["path"])
    expected = score_paths(model, list(dev["path"]), ScoreParams())
    np.testing.assert_allclose([float(s) for _, s in lines], expected, atol=1e-5)
    bad = subprocess.run(
        [*sdd, "score", "--model", str(tmp_path / "nope"), dev["path"].iloc[0]],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_dev_loss_is_weighted_cross_entropy_once(corpus):
    """DPDA's unequal class weights (spoof 0.1, bona fide 0.9): the dev loss is exactly
    ``F.cross_entropy(logits, y, weight=w)`` over the whole dev set (weights applied once, not w^2)."""
    from sdd.train.data import PairDataset
    from sdd.train.loop import evaluate_dev

    _, dev, _, _ = corpus
    arm = make_arm(bonafide_weight=0.9, spoof_weight=0.1, batch_size=3)  # 4 dev utterances: 2 batches
    torch.manual_seed(0)
    model = Detector.from_arm(arm)
    weight = torch.tensor([arm.train.spoof_weight, arm.train.bonafide_weight])
    got = evaluate_dev(model, dev, arm, weight)["dev_loss"]
    ds = PairDataset(dev, arm.train.dev_samples, "first", arm.sample_rate)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.tensor([ds[i][2] for i in range(len(ds))])
    model.eval()
    with torch.no_grad():
        want = F.cross_entropy(model(x), y, weight=weight).item()
    assert 0 < y.sum() < len(y)  # both classes present, so the weights matter
    assert got == pytest.approx(want, rel=1e-6)
