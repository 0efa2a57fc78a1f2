"""A trained arm served over HTTP by ``mlflow models serve`` (docs/team.md, "Serving a trained model").

The train stage's work (:func:`sdd.train.run.train_arm_seed`) trains a tiny arm into a local MLflow
store, which logs the pyfunc model ``model/`` on its run; ``mlflow models serve -m runs:/<id>/model
--env-manager local`` runs as a real subprocess on 127.0.0.1, outside the checkout and without it on
``PYTHONPATH`` (the model brings its own ``sdd`` code), and a real HTTP client (urllib) posts to
``/invocations``: a bona fide and a spoofed clip (from ``../shared/data/realmini`` when present, else
the synthetic corpus's) get ``sdd score --decisions``'s scores and decisions, a damaged FLAC gets a
400 naming the row and the decoder's complaint, and the server still answers afterwards. The team
lane (``make test-team``, docs/tests.md).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from sdd.core.configbase import to_dict
from sdd.core.sections import TrackingParams
from sdd.report import tracking, tracking_model
from sdd.train.params import ArmSeedPlan
from sdd.train.run import TrainIO, train_arm_seed
from tests.helpers import REPO, SHARED
from tests.helpers.servers import stop_process_group, wait_http
from tests.helpers.train import make_arm, make_corpus

pytestmark = [pytest.mark.team, pytest.mark.slow]  # trains a tiny arm, starts an MLflow server

EXPERIMENT = "serve"
N_IN = 64600  # the arm's input length (AASIST's): long enough to reach the damage in the shared FLAC
BAD_FLAC = SHARED / "data" / "bad_audio" / "truncated_lost_sync.flac"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clips(dev) -> list[Path]:
    """A bona fide and a spoofed clip: realmini's first of each when ../shared is there, else the
    synthetic dev split's."""
    protocol = SHARED / "data" / "realmini" / "protocol.tsv"
    if protocol.is_file():
        with protocol.open(newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        return [protocol.parent / next(r["path"] for r in rows if r["label"] == label)
                for label in ("bonafide", "spoof")]  # fmt: skip
    return [Path(next(p for p, lab in zip(dev.path, dev.label, strict=True) if lab == label))
            for label in ("bonafide", "spoof")]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The train stage's work for a tiny clean arm, logged to a store under a temporary root."""
    root = tmp_path_factory.mktemp("serving")
    train, dev, _, aug_dir = make_corpus(root / "audio")
    for name, df in (("train.csv", train), ("dev.csv", dev)):
        df.to_csv(root / name, index=False)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "SDD_ROOT": str(root), "DVC_EXP_NAME": "serving"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        plan = ArmSeedPlan(make_arm(regime="clean", epochs=1, dev_samples=N_IN), TrackingParams(EXPERIMENT))
        io = TrainIO(train=root / "train.csv", dev=root / "dev.csv", augmented=aug_dir, backbone=root,
                     checkpoints=root / "ckpt", out=root / "models" / "t" / "s3",
                     telemetry=root / "telemetry.csv", epochs=root / "epochs.csv",
                     metrics=root / "train.json")  # fmt: skip
        with tracking.arm_run(
            "train", to_dict(plan.arm), experiment=EXPERIMENT, run_type=tracking_model.ModelRun
        ) as run:
            train_arm_seed(plan, io, run)
    return {"root": root, "uri": uri, "run_id": run.run_id, "model": io.out, "dev": dev}


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    """``mlflow models serve`` on the run's model, one worker, in a folder outside the checkout."""
    cwd = tmp_path_factory.mktemp("server")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(MLFLOW_TRACKING_URI=trained["uri"], OMP_NUM_THREADS="1")
    mlflow_cli = Path(sys.executable).parent / "mlflow"
    cmd = [str(mlflow_cli), "models", "serve", "-m", f"runs:/{trained['run_id']}/model", "--env-manager",
           "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    log = (cwd / "server.log").open("w")
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/ping", proc, 180, cwd / "server.log", "mlflow models serve")
        yield url
    finally:
        stop_process_group(proc)  # the server and the workers it started (a session of their own)
        log.close()


def _post(url: str, files: list[Path]) -> tuple[int, dict]:
    rows = [[base64.b64encode(p.read_bytes()).decode("ascii")] for p in files]
    body = json.dumps({"dataframe_split": {"columns": ["audio"], "data": rows}}).encode()
    request = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _sdd_score(model: Path, files: list[Path]) -> list[tuple[float, str]]:
    proc = subprocess.run([sys.executable, "-m", "sdd.cli", "score", "--model", str(model), "--decisions",
                           *map(str, files)], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [ln.split("\t") for ln in proc.stdout.splitlines() if not ln.startswith("#")]
    return [(float(s), d) for _, s, d in lines]


def _bad_flac(tmp_path: Path) -> Path:
    """The shared damaged FLAC, else a FLAC truncated inside the input's first samples."""
    if BAD_FLAC.is_file():
        return BAD_FLAC
    import numpy as np
    import soundfile as sf

    full = tmp_path / "full.flac"
    sf.write(full, (0.3 * np.random.default_rng(0).standard_normal(2 * N_IN)).astype(np.float32), 16000)
    data = full.read_bytes()
    (tmp_path / "truncated.flac").write_bytes(data[: len(data) // 4])
    return tmp_path / "truncated.flac"


def test_the_served_model_answers_like_sdd_score_and_refuses_a_damaged_flac(trained, server, tmp_path):
    clips = _clips(trained["dev"])
    want = _sdd_score(trained["model"], clips)
    status, got = _post(server, clips)
    assert status == 200, got
    preds = got["predictions"]
    assert [p["decision"] for p in preds] == [d for _, d in want]
    assert [p["score"] for p in preds] == pytest.approx([s for s, _ in want], abs=1e-5)  # sdd prints 6 digits

    status, err = _post(server, [clips[0], _bad_flac(tmp_path)])
    assert status == 400, err
    assert err["error_code"] == "INVALID_PARAMETER_VALUE", err
    assert "row 1: cannot decode audio" in err["message"] and "lost sync" in err["message"], err["message"]
    assert "row 0" not in err["message"].split("Error:", 1)[-1], err["message"]

    status, again = _post(server, clips)  # still up, same answers
    assert status == 200 and again == got


def test_the_logged_model_has_its_signature_example_and_pinned_requirements(trained, tmp_path):
    client = MlflowClient(tracking_uri=trained["uri"])
    run = client.get_run(trained["run_id"])
    assert run.data.tags["sdd.train"] == "logged"
    assert 0 < run.data.metrics["train.model_log_seconds"] < 60
    local = Path(client.download_artifacts(trained["run_id"], "model", str(tmp_path)))
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    arm = local / flavor["artifacts"]["arm"]["path"]
    for name in ("model.safetensors", "config.json"):  # the train stage's folder, as it wrote it
        assert (arm / name).read_bytes() == (trained["model"] / name).read_bytes(), name
    assert (local / flavor["code"] / "sdd" / "scoring" / "score.py").is_file()  # the model brings its code
    reqs = (local / "requirements.txt").read_text().split()
    assert reqs == tracking_model.pip_requirements(trained["model"])
    example = json.loads((local / "input_example.json").read_text())
    assert example["columns"] == ["audio"]
    first_dev = REPO / trained["dev"].path.iloc[0]
    assert base64.b64decode(example["data"][0][0]) == first_dev.read_bytes()  # the dev split's first clip
    mlmodel = (local / "MLmodel").read_text()
    assert '"name": "audio"' in mlmodel and '"name": "decision"' in mlmodel


#: Run in a fresh process: load the model, score one clip, and print the distributions of the
#: third-party modules that ``sdd``'s own code imported on the way (``builtins.__import__`` called from
#: an ``sdd`` module; what those import in turn is their own requirements' business) and those of
#: every module loaded from site-packages.
_IMPORTS_SCRIPT = """
import base64, builtins, json, sys
from importlib import metadata
direct, real = set(), builtins.__import__
def hook(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and globals and str(globals.get("__name__", "")).split(".")[0] == "sdd":
        direct.add(name.split(".")[0])
    return real(name, globals, locals, fromlist, level)
builtins.__import__ = hook
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
model.predict(pd.DataFrame({"audio": [base64.b64encode(open(sys.argv[2], "rb").read()).decode()]}))
dists = metadata.packages_distributions()
found = sorted({d for m in direct - {"sdd"} for d in dists.get(m, [])})
print(json.dumps({"dists": found, "sdd": sys.modules["sdd"].__file__}))
"""


def test_the_pinned_requirements_cover_what_loading_and_scoring_import(trained, tmp_path):
    """Every distribution that ``sdd``'s code imports when the model is loaded and scores (in a fresh
    process outside the checkout, ``sdd`` coming from the model) is pinned, or installed by a pinned
    one (its declared dependencies, transitively)."""
    local = MlflowClient(tracking_uri=trained["uri"]).download_artifacts(
        trained["run_id"], "model", str(tmp_path)
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    clip = str(REPO / trained["dev"].path.iloc[0])
    proc = subprocess.run([sys.executable, "-c", _IMPORTS_SCRIPT, local, clip], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert Path(out["sdd"]).is_relative_to(Path(local) / "code"), out["sdd"]  # the model's own copy
    imported = set(out["dists"])
    assert {"numpy", "torch", "safetensors", "soundfile", "transformers"} <= imported, imported  # seen
    pinned = [r.split("==")[0] for r in tracking_model.pip_requirements(trained["model"])]
    covered = _with_dependencies(pinned)
    missing = sorted(d for d in imported if _norm(d) not in covered)
    assert not missing, f"sdd imports these, neither pinned nor a dependency of a pinned one: {missing}"


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _with_dependencies(names: list[str]) -> set[str]:
    """``names`` and their declared dependencies, transitively: what ``pip install`` of ``names``
    installs (optional extras left out; platform markers not evaluated)."""
    import re

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r]
    return seen
