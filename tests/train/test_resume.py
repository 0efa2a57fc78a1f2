"""A killed run resumes from its checkpoint and ends bit-identical to an uninterrupted run (CPU).

The real thing: the worker runs in its own process group with 2 DataLoader workers, the group gets
SIGKILL in the middle of an epoch (after a mid-epoch checkpoint), and a second run resumes.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sdd.core.configbase import to_dict
from sdd.train.checkpoint import run_key
from sdd.train.loop import fit
from tests.helpers import REPO, TRAIN_WORKER
from tests.helpers.train import make_arm, make_corpus

ARM = {"regime": "dual_path", "align": "gradvac", "epochs": 4, "batch_size": 2, "patience": None,
       "checkpoint_every": 1, "workers": 2, "average_best": 2, "aligner": {"granularity": "per_tensor"}}


def drop_time(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    train, dev, aug, aug_dir = make_corpus(root / "audio")
    for name, df in (("train.csv", train), ("dev.csv", dev), ("aug.csv", aug)):
        df.to_csv(root / name, index=False)
    return root, (train, dev, aug, aug_dir)


def worker(spec: dict, path: Path, **popen) -> subprocess.Popen:
    path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(TRAIN_WORKER), "--spec", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


@pytest.mark.slow  # kills a training process group, then trains three times
def test_sigkill_mid_epoch_then_resume_is_bit_identical(corpus, tmp_path):
    root, (train, dev, aug, aug_dir) = corpus
    reference_model, reference = fit(make_arm(**ARM), train, dev, aug, aug_dir)

    ckpt = tmp_path / "checkpoints"
    spec = {"manifests": str(root), "aug_dir": str(aug_dir), "arm": ARM, "checkpoints": str(ckpt),
            "out": str(tmp_path / "out.pt"), "step_sleep_s": 0.3}
    progress = ckpt / run_key(to_dict(make_arm(**ARM))) / "progress.json"
    proc = worker(spec, tmp_path / "spec.json", start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        pos = json.loads(progress.read_text()) if progress.is_file() else {}
        if pos.get("epoch", 0) >= 1 and pos.get("batch", 0) >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the worker ended before it could be killed:\n{proc.communicate()[0]}"
    os.killpg(proc.pid, signal.SIGKILL)  # the trainer and its DataLoader workers
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = json.loads(progress.read_text())
    assert killed_at["batch"] >= 1 and not killed_at["done"], f"expected a mid-epoch checkpoint: {killed_at}"

    spec["step_sleep_s"] = 0
    proc = worker(spec, tmp_path / "spec.json")
    log = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, log
    assert f"resuming at epoch {killed_at['epoch']}, batch {killed_at['batch']}" in log
    resumed = torch.load(tmp_path / "out.pt", weights_only=False)
    ref_state = reference_model.state_dict()
    assert all(torch.equal(resumed["state"][k], ref_state[k]) for k in ref_state), "weights differ"
    assert resumed["telemetry"] == reference.telemetry
    assert drop_time(resumed["epochs"]) == drop_time(reference.epochs)
    summary = {k: v for k, v in resumed["summary"].items() if k != "seconds"}
    assert summary == {k: v for k, v in reference.summary.items() if k != "seconds"}


def test_checkpoints_resume_in_process_and_a_finished_run_is_not_retrained(corpus, tmp_path):
    _, (train, dev, aug, aug_dir) = corpus
    arm = make_arm(**{**ARM, "workers": 0, "checkpoint_every": 3, "epochs": 3})
    reference, _ = fit(arm, train, dev, aug, aug_dir)
    first, _ = fit(arm, train, dev, aug, aug_dir, checkpoint_dir=tmp_path)
    folder = tmp_path / run_key(to_dict(arm))
    assert json.loads((folder / "progress.json").read_text())["done"]
    assert len(list(folder.glob("best-e*.pt"))) == 2, "only the k best epochs' states are kept"
    again, result = fit(arm, train, dev, aug, aug_dir, checkpoint_dir=tmp_path)  # resumes at the end
    for m in (first, again):
        assert all(torch.equal(m.state_dict()[k], v) for k, v in reference.state_dict().items())
    assert len(result.epochs) == 3


def test_the_checkpoint_key_follows_the_backbone_content_not_its_path(tmp_path):
    import dataclasses
    import shutil

    from sdd.models.backbone import build_backbone
    from sdd.models.source import backbone_sha256
    from tests.helpers.train import TINY

    def saved(folder: Path, seed: int) -> Path:
        torch.manual_seed(seed)
        build_backbone("tiny-wav2vec2", TINY).save_pretrained(str(folder), safe_serialization=True)
        return folder

    a = saved(tmp_path / "a" / "backbone", 0)
    copy = tmp_path / "elsewhere" / "backbone"
    shutil.copytree(a, copy)
    (copy / ".model.safetensors.tmp123").write_bytes(b"an interrupted write's leftover")

    def key(p: Path) -> str:
        return run_key(to_dict(dataclasses.replace(make_arm(), backbone=str(p))), backbone_sha256(str(p)))

    key_a = key(a)
    assert key_a == key(copy), "the same bytes at another path (a queued experiment's copy): same key"
    assert key_a != run_key(to_dict(dataclasses.replace(make_arm(), backbone=str(a)))), "not the path alone"
    shutil.rmtree(a)
    saved(a, 1)
    assert key(a) != key_a, "a backbone pretrained again at the same path: another key"
    tiny = to_dict(make_arm())
    assert backbone_sha256("tiny-wavlm") is None and run_key(tiny, None) == run_key(tiny), (
        "a tiny preset is its config: its key is unchanged"
    )


def test_a_checkpoint_of_another_backbone_is_ignored_then_replaced(tmp_path, caplog):
    from sdd.train.checkpoint import Checkpoints

    def state(tag: str, ranked: list[int]) -> dict:
        return {"position": {"epoch": 1, "batch": 0, "step": 3, "done": False}, "tag": tag,
                "selection": {"ranked_epochs": ranked}}

    folder = tmp_path / "main-0123"
    Checkpoints(folder, backbone_sha256="a" * 64).save(state("A", [0]), {0: {"w": torch.zeros(2)}})
    assert Checkpoints(folder, backbone_sha256="a" * 64).load()[0]["tag"] == "A", "same backbone: resumes"
    ckpt = Checkpoints(folder, backbone_sha256="b" * 64)
    assert ckpt.load() is None
    assert "checkpoint of another backbone (sha256 aaaa" in caplog.text and "starting fresh" in caplog.text
    ckpt.save(state("B", [1]), {1: {"w": torch.ones(2)}})
    assert sorted(p.name for p in folder.iterdir()) == ["best-e1.pt", "progress.json", "state.pt"], (
        "A's best-epoch states are gone"
    )
    loaded, best = Checkpoints(folder, backbone_sha256="b" * 64).load()
    assert loaded["tag"] == "B" and loaded["backbone_sha256"] == "b" * 64 and list(best) == [1]
    assert Checkpoints(folder).load() is None, "a tiny preset's run never takes a pretrained one's state"


def test_a_hub_backbone_is_keyed_by_its_cached_snapshot(tmp_path, monkeypatch):
    """A hub id is hashed through the local cache's snapshot (the commit ``main`` points to and each
    file's blob name, which the hub derives from the content), without reading the weights."""
    from huggingface_hub import constants

    from sdd.models.source import backbone_sha256

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    name = "someone/tiny-ssl"
    uncached = backbone_sha256(name)
    assert uncached == backbone_sha256(name), "not cached: the id alone, stably"
    repo = tmp_path / "models--someone--tiny-ssl"

    def snapshot(commit: str, weights_etag: str) -> None:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        (repo / "blobs").mkdir(exist_ok=True)
        snap = repo / "snapshots" / commit
        snap.mkdir(parents=True)
        for file, etag in (("config.json", "c0ffee"), ("model.safetensors", weights_etag)):
            (repo / "blobs" / etag).write_bytes(etag.encode())
            (snap / file).symlink_to(Path("../../blobs") / etag)

    snapshot("1" * 40, "a" * 64)
    first = backbone_sha256(name)
    assert first not in (None, uncached)
    snapshot("2" * 40, "b" * 64)  # `main` moved to a commit with other weights
    assert backbone_sha256(name) not in (first, uncached)
    (repo / "refs" / "main").write_text("1" * 40)
    assert backbone_sha256(name) == first
