"""Hub backbones resolve from a populated Hugging Face cache as on a user's machine (issue 23, item 5).

Each test makes its own ``HF_HOME``, places tiny models of the families the presets use under the
hub ids the presets name (:mod:`tests.helpers.hub`, in ``huggingface_hub``'s own cache layout), and
runs the real resolution code in a fresh process with ``HF_HUB_OFFLINE=1``: ``huggingface_hub`` reads
``HF_HOME`` when it is imported, exactly as for a user. Nothing is mocked and nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO
from tests.helpers.hub import FAMILIES, blob_name, cache_model, tiny_model
from tests.helpers.train import make_corpus

IDS = list(FAMILIES)
UNCACHED = "facebook/wav2vec2-xls-r-1b"  # a real hub id the test never caches


def _state_sha(state: dict) -> str:
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode() + state[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _env(hf_home: Path, **extra: str) -> dict[str, str]:
    """This process's environment with the hub pointed at ``hf_home`` only, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    return env | {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", **extra}


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """An ``HF_HOME`` whose hub cache holds one tiny model per preset family, and their state dicts."""
    home = tmp_path_factory.mktemp("hf_home")
    states = {}
    for i, repo_id in enumerate(IDS):
        model = tiny_model(repo_id, seed=10 + i)
        cache_model(home, repo_id, model)
        states[repo_id] = {k: v.clone() for k, v in model.state_dict().items()}
    return home, states


def test_the_cache_is_laid_out_as_huggingface_hub_lays_it_out(hf_home):
    """huggingface_hub's own scanner reads the test cache back: one repo per id, revision ``main``,
    the saved files as symlinks to blobs named by their hashes, no warning."""
    from huggingface_hub import scan_cache_dir, try_to_load_from_cache

    home, _ = hf_home
    info = scan_cache_dir(home / "hub")
    assert not info.warnings, info.warnings
    assert sorted(r.repo_id for r in info.repos) == sorted(IDS)
    for repo in info.repos:
        assert repo.repo_type == "model" and set(repo.refs) == {"main"}
        [revision] = repo.revisions
        files = {f.file_name: f for f in revision.files}
        assert set(files) == {"config.json", "model.safetensors"}
        for f in files.values():
            assert f.file_path.is_symlink() and f.blob_path.name == blob_name(f.blob_path, f.file_name)
        weights = files["model.safetensors"].blob_path
        assert weights.name == hashlib.sha256(weights.read_bytes()).hexdigest(), "LFS files: SHA-256"
        found = try_to_load_from_cache(repo.repo_id, "config.json", cache_dir=home / "hub")
        assert found == str(revision.snapshot_path / "config.json")


_RESOLVE = """
import hashlib, json, sys
from sdd.models.backbone import BackboneUnavailable, build_backbone
from sdd.models.params import TinyBackboneParams, check_backbone_name
from sdd.models.source import backbone_sha256
out = {}
for name in json.loads(sys.argv[1]):
    check_backbone_name(name)
    model = build_backbone(name, TinyBackboneParams())
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode() + value.detach().contiguous().numpy().tobytes())
    out[name] = {"type": type(model).__name__, "sha": digest.hexdigest(), "layerdrop": model.config.layerdrop,
                 "key": backbone_sha256(name), "unresolved": backbone_sha256(name + "-absent")}
try:
    check_backbone_name(sys.argv[2])
    out["uncached"] = "accepted"
except ValueError as exc:
    out["uncached"] = str(exc)
try:
    build_backbone(sys.argv[2], TinyBackboneParams())
    out["uncached_build"] = "built"
except BackboneUnavailable as exc:
    out["uncached_build"] = str(exc)
print(json.dumps(out))
"""


@pytest.mark.slow  # one process importing torch and transformers, building both models
def test_hub_ids_resolve_offline_to_the_cached_weights(hf_home):
    """In a fresh process with ``HF_HOME`` and ``HF_HUB_OFFLINE=1``: the plan's name check accepts each
    id, ``build_backbone`` loads the cached weights bit for bit (config included: LayerDrop 0.1), the
    checkpoint key names the cached snapshot, and an uncached id gets the one-line download hint."""
    home, states = hf_home
    proc = subprocess.run(
        [sys.executable, "-c", _RESOLVE, json.dumps(IDS), UNCACHED],
        capture_output=True, text=True, cwd=REPO, env=_env(home, PYTHONPATH=str(REPO)), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for repo_id in IDS:
        got = out[repo_id]
        assert got["type"] == FAMILIES[repo_id][0].replace("Config", "Model")  # Wav2Vec2Model, WavLMModel
        assert got["sha"] == _state_sha(states[repo_id]), f"{repo_id}: not the cached weights"
        assert got["layerdrop"] == 0.1
        assert got["key"] != got["unresolved"], "keyed by the cached snapshot, not by the id alone"
    hint = f"`HF_HUB_OFFLINE=0 .venv/bin/hf download {UNCACHED}`"
    assert "not in the local Hugging Face cache" in out["uncached"] and hint in out["uncached"]
    assert hint in out["uncached_build"]


def _stage_argv(name: str, arm: str = "main", seed: int = 0, corpus: str = "demo") -> list[str]:
    """The stage's command from dvc.yaml (``${item.*}`` and ``${corpus}`` filled in), as argv."""
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][name]
    cmd = stage["cmd"].replace("${item.arm}", arm).replace("${item.seed}", str(seed))
    cmd = cmd.replace("${corpus}", corpus)
    assert "${" not in cmd, cmd
    argv = shlex.split(cmd)
    assert argv[:2] == ["python", f"stages/{name}.py"], argv
    return [sys.executable, str(REPO / argv[1]), *argv[2:]]


def _params(backbone: str) -> dict:
    """The repo's params.yaml with what `dvc exp run -S backbone=<id> -S ...` would set: the hub
    backbone, one arm, a short run with separate passes (the LayerDrop path) and the CNN frozen (its
    trained weights must then be the cached ones)."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw.update(backbone=backbone, arms={"main": {}}, eval_sets=["demo:eval"])
    raw["model"]["freeze_feature_encoder"] = True
    raw["train"].update(
        epochs=1, batch_size=4, crop_samples=3200, dev_samples=8000, threads=1, workers=0, average_best=1,
        patience=None, dual_path={"forward": "separate"},
    )  # fmt: skip
    raw["score"].update(num_samples=8000, threads=1)
    return raw


def _run(argv: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, cwd=root, env=env, timeout=600)


@pytest.mark.slow  # a plan and a train stage per family, each in its own process
@pytest.mark.parametrize("repo_id", IDS)
def test_plan_and_train_stages_resolve_a_cached_hub_backbone(repo_id, hf_home, tmp_path):
    """`plan` then `train@main-0`, run as dvc.yaml runs them, offline, with ``-S backbone=<hub id>``:
    the plan accepts the id, training loads the cached weights (the frozen CNN's saved tensors equal
    them, the transformer's changed), and LayerDrop runs on one draw per step for both paths."""
    from safetensors.torch import load_file

    home, states = hf_home
    root = tmp_path / "project"
    (root / "data" / "manifests" / "demo").mkdir(parents=True)
    (root / "params.yaml").write_text(yaml.safe_dump(_params(repo_id), sort_keys=False))
    train, dev, aug, aug_dir = make_corpus(tmp_path / "corpus")
    train.to_csv(root / "data/manifests/demo/train.csv", index=False)
    dev.to_csv(root / "data/manifests/demo/dev.csv", index=False)
    shutil.copytree(aug_dir, root / "data" / "augmented")
    aug.to_csv(root / "data/augmented/manifest.csv", index=False)
    (root / "bad-mlflow.db").write_text("not a database\n" * 10)  # MLflow off: warns, logs nothing
    env = _env(home, PYTHONPATH=str(REPO), SDD_ROOT=str(root),
               MLFLOW_TRACKING_URI=f"sqlite:///{root / 'bad-mlflow.db'}")  # fmt: skip

    plan = _run(_stage_argv("plan"), root, env)
    assert plan.returncode == 0, plan.stderr[-3000:]
    arm_plan = json.loads((root / "data/plan/arms/main/s0.json").read_text())
    assert json.dumps(arm_plan).count(f'"{repo_id}"') >= 1

    trained = _run(_stage_argv("train"), root, env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert f"from_pretrained({repo_id}) (hub id)" in trained.stderr
    assert "LayerDrop in backbone.encoder, drawn once per micro-batch for both paths" in trained.stderr
    saved = load_file(root / "models/main/s0/model.safetensors")
    cached = states[repo_id]
    cnn = [k for k in cached if k.startswith("feature_extractor.")]
    layers = [k for k in cached if k.startswith("encoder.layers.")]
    assert cnn and layers
    assert all(saved[f"backbone.{k}"].equal(cached[k]) for k in cnn), "the frozen CNN is the cached one"
    assert any(not saved[f"backbone.{k}"].equal(cached[k]) for k in layers), "the transformer trained"
    config = json.loads((root / "models/main/s0/config.json").read_text())
    assert json.dumps(config).count(f'"{repo_id}"') >= 1, "the saved config names the hub id"


def test_plan_stops_on_an_uncached_hub_id_with_the_download_command(hf_home, tmp_path):
    """Another id than the cached ones: the plan stage exits 2 with one line naming the command that
    downloads it, before writing anything."""
    home, _ = hf_home
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(_params(UNCACHED), sort_keys=False))
    proc = _run(_stage_argv("plan"), tmp_path, _env(home, PYTHONPATH=str(REPO), SDD_ROOT=str(tmp_path)))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert f"`HF_HUB_OFFLINE=0 .venv/bin/hf download {UNCACHED}`" in lines[0]
    assert not (tmp_path / "data" / "plan").exists()
