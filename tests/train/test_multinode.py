"""`torchrun` on 2 nodes x 1 process on 127.0.0.1 (gloo) trains the weights of 1 process on the same
global batch, and only global rank 0 writes; under both rendezvous a lab uses: c10d (one endpoint,
the rendezvous orders the nodes) and static (a master address and ``--node_rank``, which only static
reads).

Two launcher processes stand for two hosts: each has its own output and checkpoint folders (as if on
its own disk) and the same corpus paths (every node needs the data at the same paths). Under c10d the
rendezvous, not the launch order, decides which launcher's worker is global rank 0, so the test finds
it from the workers' logs. The training runs ``fit`` in the tests' worker script, as the one-node
test does, and the train stage's own script. The team lane (``make test-team``, docs/tests.md).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

import sdd.train.loop
from sdd.core.configbase import to_dict
from sdd.core.sections import TrackingParams
from sdd.train.loop import fit
from sdd.train.params import ArmSeedPlan
from tests.helpers import REPO, TRAIN_WORKER
from tests.helpers.train import (
    DDP_ARM,
    assert_trains_like_one_process,
    make_arm,
    without_dropout,
    write_corpus,
)

pytestmark = [pytest.mark.team, pytest.mark.slow]  # two torchrun launchers, one training process each

NODES = 2
RANK_LINE = re.compile(r"process group: rank (\d+) of (\d+), local rank (\d+)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("multinode"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rdzv_args(rdzv: str, port: int, node_rank: int) -> list[str]:
    """The rendezvous flags of one node's launcher: ``c10d`` (a store at an endpoint; the rendezvous
    orders the nodes) or ``static`` (a fixed master and ``--node_rank``: node 0 holds ranks 0..n-1)."""
    if rdzv == "c10d":
        return ["--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", f"sdd-{port}"]
    return ["--rdzv_backend", "static", "--master_addr", "127.0.0.1", "--master_port", str(port),
            "--node_rank", str(node_rank)]  # fmt: skip


def _launch_nodes(
    specs: list[Path], rdzv: str = "c10d", timeout_s: float = 600
) -> list[subprocess.CompletedProcess]:
    """One launcher per worker spec (node rank = its index): :func:`_launch` of the training worker."""
    return _launch([[str(TRAIN_WORKER), "--spec", str(spec)] for spec in specs], rdzv, timeout_s)


def _launch(
    commands: list[list[str]],
    rdzv: str = "c10d",
    timeout_s: float = 600,
    cwds: list[Path] | None = None,
    envs: list[dict[str, str]] | None = None,
) -> list[subprocess.CompletedProcess]:
    """One ``torchrun --nnodes 2 --nproc_per_node 1`` launcher per command (a script and its
    arguments; node rank = its index, run in ``cwds[i]`` with ``envs[i]`` added), all meeting on
    127.0.0.1; each launcher's exit code and output. Launchers still running after ``timeout_s`` (a
    hang) are stopped and the test fails."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                str(NODES),
                "--nproc_per_node",
                "1",
                *_rdzv_args(rdzv, port, i),
                *command,
            ],
            env=env | (envs[i] if envs else {}),
            cwd=cwds[i] if cwds else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        for i, command in enumerate(commands)
    ]
    done = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout_s)
            done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    finally:
        # SIGTERM first: torchrun stops its workers (each in a session of its own) before it exits
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return done


def _node_specs(
    tmp_path: Path, root: Path, aug_dir: Path, arm_kwargs: dict, checkpoints: list[Path | None]
) -> list[Path]:
    """A spec per node: its own output file and checkpoint folder under ``tmp_path/node<i>``."""
    specs = []
    for i, ckpt in enumerate(checkpoints):
        node = tmp_path / f"node{i}"
        node.mkdir(exist_ok=True)
        spec = {
            "manifests": str(root),
            "aug_dir": str(aug_dir),
            "arm": arm_kwargs,
            "checkpoints": str(ckpt) if ckpt else None,
            "out": str(node / "ddp.pt"),
            "no_dropout": True,
        }
        (node / "spec.json").write_text(json.dumps(spec))
        specs.append(node / "spec.json")
    return specs


def _ranks(proc: subprocess.CompletedProcess) -> list[tuple[int, int, int]]:
    """(rank, world size, local rank) of each worker a launcher ran, from the workers' log lines."""
    return [tuple(int(g) for g in m.groups()) for m in RANK_LINE.finditer(proc.stderr)]


@pytest.mark.parametrize("rdzv", ["c10d", "static"])
def test_two_nodes_equal_one_process_on_the_global_batch_and_only_rank_0_writes(
    corpus, tmp_path, monkeypatch, rdzv
):
    root, (train, dev, aug, aug_dir) = corpus
    arm_kwargs = {**DDP_ARM, "align": "pcgrad"}
    build = sdd.train.loop.build_detector
    monkeypatch.setattr(sdd.train.loop, "build_detector", lambda arm: without_dropout(build(arm)))
    single, single_result = fit(make_arm(**arm_kwargs), train, dev, aug, aug_dir)

    ckpts = [tmp_path / f"node{i}" / "checkpoints" for i in range(NODES)]
    nodes = _launch_nodes(_node_specs(tmp_path, root, aug_dir, arm_kwargs, ckpts), rdzv)
    for proc in nodes:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # one worker per launcher, local rank 0 on each, global ranks 0 and 1 between them
    ranks = [_ranks(proc) for proc in nodes]
    assert all(len(r) == 1 for r in ranks), ranks
    assert sorted(r for (r,) in ranks) == [(0, 2, 0), (1, 2, 0)]
    main = next(i for i, (r,) in enumerate(ranks) if r[0] == 0)
    if rdzv == "static":  # --node_rank 0 holds global rank 0; under c10d the rendezvous decides
        assert main == 0
    # only global rank 0 writes: its node has the weights and the checkpoints, the other node neither
    for i in range(NODES):
        wrote = [p for p in (tmp_path / f"node{i}").rglob("*") if p.is_file() and p.name != "spec.json"]
        assert bool(wrote) == (i == main), (i, main, wrote)
    assert list(ckpts[main].rglob("state*")), list(ckpts[main].rglob("*"))
    ddp = torch.load(tmp_path / f"node{main}" / "ddp.pt", weights_only=False)
    assert_trains_like_one_process(ddp, single, single_result, processes=2)


def test_a_checkpoint_that_only_one_node_sees_stops_every_rank_with_one_line(corpus, tmp_path):
    """Checkpoints outside a shared folder: rank 0 would resume and the other node start fresh, and
    their collectives would no longer pair up. Every rank says so and stops before training."""
    root, (train, dev, aug, aug_dir) = corpus
    ckpts = [tmp_path / f"node{i}" / "checkpoints" for i in range(NODES)]
    arm_kwargs = {**DDP_ARM, "epochs": 1}
    # a finished single-process run leaves its last state in node 0's folder only
    fit(make_arm(**arm_kwargs), train, dev, aug, aug_dir, checkpoint_dir=ckpts[0])
    assert list(ckpts[0].rglob("state.pt"))
    nodes = _launch_nodes(_node_specs(tmp_path, root, aug_dir, arm_kwargs, ckpts), timeout_s=300)
    for proc in nodes:
        assert proc.returncode != 0, proc.stderr[-3000:]
        (line,) = [ln for ln in proc.stderr.splitlines() if "ValueError: " in ln]
        assert "the checkpoint to resume from" in line and "differs between ranks" in line, line
        assert "epoch 1, batch 0, step 3 (finished)" in line and "none (a fresh start)" in line, line
        assert str(ckpts[0]) in line and str(ckpts[1]) in line, line
        assert "a folder every node shares" in line, line
    assert not list(ckpts[1].rglob("*"))


def test_the_train_stage_writes_its_outputs_mlflow_run_and_time_on_global_rank_0_only(corpus, tmp_path):
    """The train stage's own script (``stages/train.py``, as ``dvc.yaml`` runs it) on 2 nodes, each
    in a folder of its own standing for its checkout, with its own MLflow store: the outputs, the
    MLflow run and the stage-time line appear on global rank 0's node, and nothing on the other."""
    root, (train, dev, aug, aug_dir) = corpus
    shutil.copy(root / "aug.csv", aug_dir / "manifest.csv")  # what the augment stage writes there
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(to_dict(ArmSeedPlan(make_arm(**DDP_ARM), TrackingParams("team")))))
    args = ["--plan", str(plan), "--train", str(root / "train.csv"), "--dev", str(root / "dev.csv"),
            "--augmented", str(aug_dir), "--backbone", "models/backbone", "--checkpoints", ".sdd/checkpoints",
            "--out", "models/t/s3", "--telemetry", "reports/telemetry/t/s3.csv",
            "--epochs", "reports/epochs/t/s3.csv", "--metrics", "reports/train/t/s3.json"]  # fmt: skip
    nodes = [tmp_path / f"node{i}" for i in range(NODES)]
    for node in nodes:
        node.mkdir()
    envs = [
        {"MLFLOW_TRACKING_URI": f"sqlite:///{node / 'mlflow.db'}", "DVC_STAGE": "train@t-3"} for node in nodes
    ]
    done = _launch([[str(REPO / "stages" / "train.py"), *args] for _ in nodes], cwds=nodes, envs=envs)
    for proc in done:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [_ranks(proc) for proc in done]
    assert sorted(r for (r,) in ranks) == [(0, 2, 0), (1, 2, 0)], ranks
    main = next(i for i, (r,) in enumerate(ranks) if r[0] == 0)
    other = nodes[1 - main]
    assert sorted(p.relative_to(other) for p in other.rglob("*")) == []  # no output, store, checkpoint or log
    written = nodes[main]
    for rel in ("models/t/s3/model.safetensors", "models/t/s3/config.json", "reports/telemetry/t/s3.csv",
                "reports/epochs/t/s3.csv", "reports/train/t/s3.json", "mlflow.db"):  # fmt: skip
        assert (written / rel).is_file(), rel
    assert json.loads((written / "reports/train/t/s3.json").read_text())["summary"]["processes"] == 2
    (line,) = (written / ".sdd" / "stage_times.jsonl").read_text().splitlines()
    assert json.loads(line)["stage"] == "train@t-3"
    assert not list((written / ".sdd" / "checkpoints").rglob("*.pt"))  # removed once the model is written
    client = MlflowClient(tracking_uri=envs[main]["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("team").experiment_id])
    logged = [r for r in runs if r.data.tags.get("sdd.train") == "logged"]
    assert len(logged) == 1 and logged[0].data.params["name"] == "t", [r.data.tags for r in runs]
