"""`torchrun`: 2 processes x B utterances per path give the update of 1 process x 2B (gloo, CPU).

Each rank all-reduces the weighted sums per path before aligning, so the aligned update, and thus
the weights after k steps, match one process on the global batch (up to float summation order).
Dropout is off: two processes draw different dropout masks than one.
"""

import json
import os
import subprocess
import sys

import pytest
import torch

import sdd.train.loop
from sdd.train.loop import fit
from tests.helpers import REPO, TRAIN_WORKER
from tests.helpers.train import make_arm, make_corpus, without_dropout

pytestmark = pytest.mark.slow  # torchrun: 2 training processes per case


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    train, dev, aug, aug_dir = make_corpus(root / "audio", n_train=10, n_dev=5)
    for name, df in (("train.csv", train), ("dev.csv", dev), ("aug.csv", aug)):
        df.to_csv(root / name, index=False)
    return root, (train, dev, aug, aug_dir)


@pytest.mark.parametrize("align", ["none", "pcgrad"])
def test_two_processes_equal_one_process_on_the_global_batch(corpus, tmp_path, align, monkeypatch):
    root, (train, dev, aug, aug_dir) = corpus
    # 10 utterances, global batch 4: steps of 4, 4 and 2 (split 1 + 1 over the ranks) per epoch.
    arm_kwargs = {"regime": "dual_path", "align": align, "epochs": 2, "batch_size": 4, "lr": 3e-3,
                  "patience": None, "average_best": 1}
    build = sdd.train.loop.build_detector
    monkeypatch.setattr(sdd.train.loop, "build_detector", lambda arm: without_dropout(build(arm)))
    single, single_result = fit(make_arm(**arm_kwargs), train, dev, aug, aug_dir)

    spec = {"manifests": str(root), "aug_dir": str(aug_dir), "arm": arm_kwargs, "checkpoints": None,
            "out": str(tmp_path / "ddp.pt"), "no_dropout": True}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(TRAIN_WORKER), "--spec", str(tmp_path / "spec.json")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "rank 1 of 2" in proc.stderr
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=False)
    assert ddp["summary"]["processes"] == 2 and ddp["summary"]["steps"] == single_result.summary["steps"] == 6
    # The attention key bias is the one exception: softmax ignores a shift shared by a query's logits,
    # so its exact gradient is 0 and what it receives is rounding noise (~1e-10), which Adam divides by
    # its own square root; the noise differs with the summation order, so its weights do too.
    zero_grad = [k for k in single.state_dict() if k.endswith("attention.k_proj.bias")]
    assert zero_grad
    for key, value in single.state_dict().items():
        if key not in zero_grad:
            torch.testing.assert_close(ddp["state"][key], value, rtol=0, atol=1e-6, msg=key)
    for a, b in zip(ddp["telemetry"], single_result.telemetry, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)
        assert a["cos"] == pytest.approx(b["cos"], abs=1e-5)
    for a, b in zip(ddp["epochs"], single_result.epochs, strict=True):
        assert a["dev_loss"] == pytest.approx(b["dev_loss"], abs=1e-6) and a["dev_eer"] == b["dev_eer"]
