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
from train_helpers import make_arm, make_corpus

from sdd.configbase import to_dict
from sdd.train.checkpoint import run_key
from sdd.train.loop import fit

HERE = Path(__file__).resolve().parent
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
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(HERE / "train_worker.py"), "--spec", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


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
