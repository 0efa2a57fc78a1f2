"""Training loop, detector, checkpoints and scoring on tiny synthetic audio."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sdd.core.sections import ScoreParams
from sdd.models.backbone import build_backbone
from sdd.models.detector import Detector
from sdd.models.params import ModelParams
from sdd.scoring.score import score_paths
from sdd.train.arm_model import build_detector, load_arm, save_arm
from sdd.train.loop import EPOCH_COLUMNS, TELEMETRY_COLUMNS, NonFiniteError, _Run, evaluate_dev, fit
from sdd.train.params import TrainParams
from sdd.train.schedule import lr_at
from sdd.train.selection import Selection, average_state_dicts, average_state_dicts_dpda_aliased
from tests.helpers.train import TINY, make_arm, make_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """8 train + 4 dev utterances (harmonic 'bona fide' vs noisy 'spoof') and an augmented copy each."""
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize(
    "regime,align",
    [("clean", "none"), ("augmented", "none"), ("dual_path", "none"), ("dual_path", "pcgrad"),
     ("dual_path", "gradvac"), ("dual_path", "cagrad"), ("dual_path", "gr")],
)
def test_fit_is_deterministic_and_logs_telemetry(corpus, regime, align):
    train, dev, aug, aug_dir = corpus
    arm = make_arm(regime, align, telemetry_every=2)
    m1, r1 = fit(arm, train, dev, aug, aug_dir)
    m2, r2 = fit(arm, train, dev, aug, aug_dir)
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1), "same params + seed must give identical weights"
    drop_time = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert r1.telemetry == r2.telemetry and drop_time(r1.epochs) == drop_time(r2.epochs)
    assert len(r1.epochs) == 2 and all(np.isfinite(e["dev_loss"]) for e in r1.epochs)
    assert all(set(row) <= set(TELEMETRY_COLUMNS) for row in r1.telemetry), "telemetry columns are declared"
    assert all(set(row) <= set(EPOCH_COLUMNS) for row in r1.epochs), "epoch columns are declared"
    assert r1.summary["epochs_to_best"] in (1, 2)
    if regime == "clean":
        assert "conflict_ratio" not in r1.summary
    else:
        assert 0.0 <= r1.summary["conflict_ratio"] <= 1.0
        assert all("conflict_ratio" in e for e in r1.epochs), "conflict ratio per epoch"
        assert all(-1.0 - 1e-6 <= row["cos"] <= 1.0 + 1e-6 for row in r1.telemetry if "cos" in row)
        with_cos = [row["step"] for row in r1.telemetry if "cos" in row]
        assert with_cos == ([0, 2] if regime == "augmented" else [0, 1, 2, 3]), "telemetry_every"
    if align in ("pcgrad", "gradvac", "gr"):
        assert "projection_ratio" in r1.summary
    if align == "gr":
        assert "rescale_ratio" in r1.summary


def test_augmented_only_trains_on_the_augmented_copies_alone(corpus):
    """``augmented_only`` (SSL-AASIST's recipe) is the clean regime run on the augmented audio: the same
    weights as a ``clean`` fit whose training files are the augmented copies, other weights than a
    ``clean`` fit on the clean files."""
    train, dev, aug, aug_dir = corpus
    only, r = fit(make_arm("augmented_only", epochs=1), train, dev, aug, aug_dir)
    copies = dict(zip(aug.source_utt_id, aug.path, strict=True))
    on_copies = train.assign(path=[str(aug_dir / copies[u]) for u in train.utt_id])
    same, _ = fit(make_arm("clean", epochs=1), on_copies, dev, None, None)
    clean, _ = fit(make_arm("clean", epochs=1), train, dev, None, None)
    s_only, s_same, s_clean = only.state_dict(), same.state_dict(), clean.state_dict()
    assert all(torch.equal(s_only[k], s_same[k]) for k in s_only)
    assert not all(torch.equal(s_only[k], s_clean[k]) for k in s_only)
    assert r.summary["step_path"] == "augmented_only" and "conflict_ratio" not in r.summary


def test_different_seed_gives_different_weights(corpus):
    train, dev, aug, aug_dir = corpus
    m1, _ = fit(make_arm("clean", epochs=1), train, dev, aug, aug_dir)
    m2, _ = fit(dataclasses.replace(make_arm("clean", epochs=1), seed=4), train, dev, aug, aug_dir)
    assert not torch.equal(m1.head.proj.weight, m2.head.proj.weight)


def test_fit_writes_its_epoch_rows_and_respects_a_selection_metric(corpus):
    train, dev, aug, aug_dir = corpus
    rows = []
    _, r = fit(make_arm("dual_path", "pcgrad", epochs=3, patience=None, monitor="dev_eer"), train, dev, aug,
               aug_dir, on_epoch=rows.append)
    assert [row["epoch"] for row in rows] == [0, 1, 2] and r.summary["monitor"] == "dev_eer"
    eers = [row["dev_eer"] for row in rows]
    assert r.summary["epochs_to_best"] == 1 + min(range(3), key=lambda e: (eers[e], e))


def test_regime_needing_augmentation_without_it_is_an_error(corpus):
    train, dev, _, _ = corpus
    with pytest.raises(ValueError, match="augmented manifest"):
        fit(make_arm("dual_path"), train, dev, None, None)


def test_dev_loss_is_the_weighted_cross_entropy_over_all_of_dev(corpus):
    train, dev, _, _ = corpus
    arm = make_arm("clean", bonafide_weight=0.9, spoof_weight=0.1, batch_size=3, dev_samples=4000)
    torch.manual_seed(0)
    model = build_detector(arm)
    w = torch.tensor([0.1, 0.9])
    got = evaluate_dev(model, dev, arm, w)
    from sdd.audio.crop import crop_or_pad
    from sdd.audio.io import read_audio

    x = torch.stack([torch.from_numpy(crop_or_pad(read_audio(p)[0], 4000)) for p in dev["path"]])
    y = torch.tensor([1 if label == "bonafide" else 0 for label in dev["label"]])
    with torch.no_grad():
        expected = F.cross_entropy(model.eval()(x), y, weight=w).item()
    assert got["dev_loss"] == pytest.approx(expected, rel=1e-5)


def test_nonfinite_steps_are_skipped_counted_and_stop_the_run_when_consecutive(corpus, monkeypatch):
    from sdd.train.data import PairDataset

    train, dev, aug, aug_dir = corpus
    original = PairDataset.item
    poisoned = {0}

    def item(self, index, epoch):
        x_c, x_a, y = original(self, index, epoch)
        if self.aug_paths and index in poisoned:  # training data only
            x_c = x_c.clone()
            x_c[0] = float("nan")
        return x_c, x_a, y

    monkeypatch.setattr(PairDataset, "item", item)
    arm = make_arm("dual_path", "pcgrad", epochs=2, max_nonfinite_steps=3)
    model, result = fit(arm, train, dev, aug, aug_dir)  # one batch in two holds utterance 0
    skipped = [row for row in result.telemetry if row["skipped"]]
    assert len(skipped) == 2 and result.summary["skipped_steps"] == 2.0
    assert all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point())
    poisoned.update(range(8))
    expected = r"3 optimizer steps in a row .* optimizer step 2 \(epoch 1, batch 0\)"
    with pytest.raises(NonFiniteError, match=expected):
        fit(arm, train, dev, aug, aug_dir)


def test_two_stage_schedule_trains_the_head_first_with_a_fresh_optimizer(corpus):
    train, dev, aug, aug_dir = corpus
    arm = make_arm("dual_path", "gradvac", epochs=2, freeze_backbone_epochs=1)
    torch.manual_seed(0)
    run = _Run(arm, build_detector(arm), torch.device("cpu"), "separate", lambda: torch.no_grad())
    run.enter_stage("head")
    trainable = {n for n, p in run.model.named_parameters() if p.requires_grad}
    assert trainable == {"head.proj.weight", "head.proj.bias"}
    head_opt = run.optimizer
    run.enter_stage("full")
    assert all(p.requires_grad for p in run.model.parameters()) and run.optimizer is not head_opt
    _, result = fit(arm, train, dev, aug, aug_dir)
    assert [e["stage"] for e in result.epochs] == ["head", "full"]
    assert result.summary["trainable_parameters"] == sum(p.numel() for p in run.model.parameters())


def test_learning_rate_schedules():
    attm = TrainParams(lr=1e-4, schedule="warmup_exp", warmup_epochs=5, lr_decay=0.8, epochs=30)
    got = [lr_at(attm, e, 0, 10) for e in range(8)]
    expected = [1e-4 * (e + 1) / 5 for e in range(5)] + [1e-4, 0.8e-4, 0.64e-4]  # AttM's LinearWarm_ExpDecay
    assert got == pytest.approx(expected)
    cos = TrainParams(lr=1.0, lr_min=0.1, schedule="cosine", epochs=2)
    assert lr_at(cos, 0, 0, 5) == pytest.approx(1.0) and lr_at(cos, 1, 0, 5) == pytest.approx(0.55)
    assert lr_at(cos, 1, 4, 5) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * 9 / 10)))
    assert lr_at(TrainParams(lr=0.3), 7, 3, 5) == 0.3


def test_selection_and_early_stopping():
    sel = Selection(k=2, patience=2, min_epochs=4)
    for epoch, value in enumerate([0.5, 0.4, float("nan"), 0.45, 0.41]):
        sel.update(epoch, value)
    assert sel.epochs == [1, 4] and sel.best_epoch == 1 and sel.since_best == 3
    assert not sel.should_stop(3), "no early stopping before min_epochs"
    assert sel.should_stop(5)
    never = Selection(k=1, patience=None)
    for epoch in range(10):
        never.update(epoch, 1.0)
    assert not never.should_stop(10) and never.epochs == [0], "ties go to the earlier epoch"


def test_average_state_dicts_is_the_mean_and_does_not_alias():
    a = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(5)}
    b = {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(5)}
    avg = average_state_dicts([a, b])
    assert torch.equal(avg["w"], torch.tensor([2.0, 4.0])) and avg["n"].item() == 5
    avg["w"] += 1
    assert torch.equal(a["w"], torch.tensor([1.0, 3.0]))
    five = [{"w": torch.tensor([float(i)])} for i in range(1, 6)]
    assert average_state_dicts(five)["w"].item() == pytest.approx(3.0)  # not (2*b1+b2+b3+b4)/5
    # DPDA's aliased average, ranked best first: b0 = 1 is dropped, b1 = 2 counts twice.
    assert average_state_dicts_dpda_aliased(five)["w"].item() == pytest.approx((2 * 2 + 3 + 4 + 5) / 5)
    assert average_state_dicts_dpda_aliased(five[:1])["w"].item() == 1.0


def test_dpda_aliased_average_flag(corpus):
    train, dev, aug, aug_dir = corpus
    arm = make_arm("clean", epochs=3, patience=None, average_best=3)
    m_mean, _ = fit(arm, train, dev, aug, aug_dir)
    m_dpda, _ = fit(dataclasses.replace(arm, train=dataclasses.replace(arm.train, average="dpda_aliased")),
                    train, dev, aug, aug_dir)
    assert not torch.equal(m_mean.head.proj.weight, m_dpda.head.proj.weight)


def test_checkpoint_round_trip_and_batched_scoring_equals_per_item(corpus, tmp_path):
    train, dev, aug, aug_dir = corpus
    arm = make_arm("clean", epochs=1)
    model, _ = fit(arm, train, dev, aug, aug_dir)
    save_arm(model, arm, tmp_path / "m")
    loaded, arm2 = load_arm(tmp_path / "m")
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


@pytest.mark.slow  # end to end: trains, then the `sdd` command in two fresh processes
def test_sdd_score_cli_prints_path_and_score(corpus, tmp_path):
    import subprocess
    import sys

    train, dev, aug, aug_dir = corpus
    arm = make_arm("clean", epochs=1)
    model, _ = fit(arm, train, dev, aug, aug_dir)
    save_arm(model, arm, tmp_path / "m")
    sdd = [sys.executable, "-m", "sdd.cli"]  # the interpreter running the tests, wherever it lives
    proc = subprocess.run(
        [*sdd, "score", "--model", str(tmp_path / "m"), *dev["path"]], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0].startswith("# sdd score: model="), "the header comes first"
    lines = [line.split("\t") for line in out if not line.startswith("#")]
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
    model = build_detector(arm)
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
