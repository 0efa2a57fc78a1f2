"""`torchrun`: 2 processes x B utterances per path give the update of 1 process x 2B (gloo, CPU).

Each rank all-reduces the weighted sums per path before aligning, so the aligned update, and thus
the weights after k steps, match one process on the global batch (up to float summation order).
Dropout is off: two processes draw different dropout masks than one. 2 nodes x 1 process (c10d
rendezvous) is tested in the team lane, tests/train/test_multinode.py.
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
from tests.helpers.train import (
    DDP_ARM,
    assert_trains_like_one_process,
    make_arm,
    without_dropout,
    write_corpus,
)

# torchrun: 2 training processes per case; with the 2-node cases in the team lane (docs/tests.md)
pytestmark = [pytest.mark.team, pytest.mark.slow]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("ddp"))


@pytest.mark.parametrize("align", ["none", "pcgrad"])
def test_two_processes_equal_one_process_on_the_global_batch(corpus, tmp_path, align, monkeypatch):
    root, (train, dev, aug, aug_dir) = corpus
    arm_kwargs = {**DDP_ARM, "align": align}
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
    assert_trains_like_one_process(torch.load(tmp_path / "ddp.pt", weights_only=False), single, single_result,
                                   processes=2)
