"""End to end: the real stages through `dvc repro` on a tiny config, in a temporary copy of the repo."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO
from tests.helpers.asvspoof5 import ROWS as ASV5_ROWS
from tests.helpers.asvspoof5 import make_database
from tests.helpers.hf_datasets import audio_split

BIN = Path(sys.executable).parent
HF_SET = "hfmini:eval"
# the ASVspoof 5 fixture's eval split and one split view per codec condition (column 4 of its protocol)
ASV5_VIEWS = {"eval_uncoded": "-", "eval_c05": "C05", "eval_c08": "C08"}
ASV5_SETS = ("asv5:eval", *(f"asv5:{view}" for view in ASV5_VIEWS))


def run(cmd, cwd, check=True):
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    env.pop("DVC_ROOT", None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=isinstance(cmd, str))
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A git+DVC copy of the tracked and untracked-but-not-ignored files, with a tiny params.yaml."""
    dest = tmp_path_factory.mktemp("e2e") / "repo"
    files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], REPO).stdout.split()
    for rel in files:
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["corpora"]["demo"]["n_per_split"] = 8
    params["model"]["tiny"] = {
        "conv_channels": 8,
        "hidden_size": 16,
        "num_layers": 2,  # AttM merges at least 2 layers
        "num_heads": 2,
        "intermediate_size": 16,
    }
    params["model"]["partial"]["layers"] = 1
    params["train"].update(
        epochs=1, average_best=1, batch_size=8, crop_samples=4000, dev_samples=8000, threads=1
    )
    params["arms"]["attm"]["train"]["freeze_backbone_epochs"] = 0  # its merge + head stage needs >= 2 epochs
    params["score"].update(num_samples=8000, threads=1)
    params["evaluate"]["n_resamples"] = 50
    # every stage kind, every regime and both aligner granularities, at the cost of five arms: the
    # other aligners' arms differ only in their plan's `align` (unit-tested in tests/train/test_align.py)
    for arm in ("dual_path_pcgrad", "dual_path_gradvac", "dual_path_cagrad"):
        del params["arms"][arm]
    params["pretrain"].update(batch_size=2, crop_samples=4000, threads=1)
    params["pretrain"]["wav2vec2"].update(steps=3, warmup_steps=1)
    params["pretrain"]["hubert"].update(steps=3, clusters=20)
    params["probe"].update(num_samples=8000, threads=1, n_resamples=50, l2_grid=[0.1, 1.0])
    # an eval set read from a Hugging Face dataset (save_to_disk output beside the copy, as a hub
    # dataset's Arrow data), through fetch, prepare, audit, evaluate and the report
    datasets = pytest.importorskip("datasets")
    hf = dest.parent / "hfmini"
    datasets.DatasetDict({"test": audio_split("test", 8, seed=7, speakers="hf")}).save_to_disk(str(hf))
    params["corpora"]["hfmini"] = {"type": "hf_dataset", "path": str(hf), "splits": {"test": "eval"},
                                   "labels": {"bonafide": ["bonafide"], "spoof": ["spoof"]}}  # fmt: skip
    # an ASVspoof 5 database in the official layout (eval only: an evaluation corpus here; the demo
    # corpus trains), through fetch (in place), prepare, audit, evaluate and the report, with one
    # split view per codec condition
    asv5 = make_database(dest.parent / "asv5", splits=("eval",), samples=4800)
    views = {view: {"split": "eval", "where": {"codec": [codec]}} for view, codec in ASV5_VIEWS.items()}
    params["corpora"]["asv5"] = {"type": "asvspoof5", "source_dir": str(asv5), "splits": ["eval"],
                                 "views": views}  # fmt: skip
    params["eval_sets"] = [*params["eval_sets"], HF_SET, *ASV5_SETS]
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run("git init -q && git add -A && git commit -qm init", dest)
    return dest


def assert_same_numbers(compared, metrics, arms):
    """`sdd compare` over the pipeline's MLflow runs gives the report's numbers."""
    assert set(compared) == set(metrics) - {"probing"}, "the probing table is not a system"
    for arm in arms:
        for eval_set in ("demo:eval", "demo:eval_degraded"):
            got, want = compared[arm][eval_set], metrics[arm][eval_set]
            for key in ("eer", "eer_std", "eer_ci95", "per_attack", "n_seeds", "vs_reference", "shortcuts"):
                assert got.get(key) == want.get(key), (arm, eval_set, key)


def assert_asvspoof5_sets(project, metrics, arms):
    """The ASVspoof 5 eval split and its codec views: the protocol's trial counts, the convention naming
    the view, and each view's scores = the eval split's scores of that codec's trials."""
    fields = [row.split() for row in ASV5_ROWS["eval"]]
    codec_of = {f[1]: f[3] for f in fields}
    for arm in arms:
        scores = {}
        for name in ASV5_SETS:
            split = name.split(":")[1]
            kept = [f for f in fields if split == "eval" or f[3] == ASV5_VIEWS[split]]
            m = metrics[arm][name]
            counts = (sum(f[8] == "bonafide" for f in kept), sum(f[8] == "spoof" for f in kept))
            assert (m["n_bonafide"], m["n_spoof"]) == counts and 0.0 <= m["eer"] <= 1.0, (arm, name)
            trials = m["convention"]["trials"]
            if split == "eval":
                assert trials == "asv5 (asvspoof5), split eval", trials
            else:
                assert trials == f"asv5 (asvspoof5), split eval, view {split} (codec in {ASV5_VIEWS[split]})"
            lines = (project / f"data/scores/{arm}/s0/asv5__{split}.txt").read_text().splitlines()
            scores[split] = dict(line.split() for line in lines if not line.startswith("#"))
            assert sorted(scores[split]) == sorted(f[1] for f in kept), (arm, name)
        assert set(metrics[arm]["asv5:eval"]["per_condition"]["codec"]) == set(ASV5_VIEWS.values())
        for view in ASV5_VIEWS:  # the same clips, scored in another batch
            for utt, score in scores[view].items():
                assert codec_of[utt] == ASV5_VIEWS[view]
                assert float(score) == pytest.approx(float(scores["eval"][utt]), abs=1e-4), (arm, view, utt)


@pytest.mark.e2e
@pytest.mark.slow  # the whole pipeline through `dvc repro`, several times: minutes
def test_dvc_repro_end_to_end(project):
    run(["dvc", "repro"], project)
    metrics = json.loads((project / "reports/metrics.json").read_text())
    arms = list(yaml.safe_load((project / "params.yaml").read_text())["arms"])
    aligned = ("dual_path_gr",)
    assert {"main", "clean", *aligned, "lora", "attm"} == set(arms)
    for arm in arms:
        for eval_set in ("demo:eval", "demo:eval_degraded"):
            m = metrics[arm][eval_set]
            assert 0.0 <= m["eer"] <= 1.0 and m["n_bonafide"] > 0 and m["n_spoof"] > 0
            assert m["eer_ci95"][0] <= m["eer"] <= m["eer_ci95"][1]
            assert m["per_attack"], "per-attack EERs are reported"
            assert m["n_seeds"] == 1 and m["eer_std"] is None and isinstance(m["shortcuts"], list)
            assert ("vs_reference" in m) == (arm != "main")
            seed0 = metrics[arm]["seeds"]["0"][eval_set]
            assert seed0["eer"] == m["eer"]
            assert {"act_dcf_calibrated", "cllr_calibrated", "calibration"} <= set(seed0), "dev calibration"
            conv = m["convention"]  # the input rule the score stage used, the trials, the polarity
            assert conv["polarity"] == "higher score = more bona fide" and conv["trials"].endswith(
                f"split {eval_set.split(':')[1]}"
            )
            assert conv["input"]["rule"] == "first_n_samples" and conv["input"]["num_samples"] > 0
        train = metrics[arm]["train"]
        assert 0 < train["trainable_parameters"] <= train["total_parameters"] and train["peak_rss_mb"] > 0
        assert train["epochs"] == 1 and train["epochs_to_best"] == 1
    assert metrics["lora"]["train"]["trainable_parameters"] < metrics["main"]["train"]["trainable_parameters"]
    for arm in ("main", *aligned):
        assert "conflict_ratio" in metrics[arm]["train"], arm
        epochs = (project / f"reports/epochs/{arm}/s0.csv").read_text().splitlines()
        assert epochs[0].startswith("epoch,") and len(epochs) == 2
    assert "projection_ratio" in metrics["dual_path_gr"]["train"]
    assert not list((project / ".sdd/checkpoints").glob("*")), "finished runs delete their checkpoints"
    assert "hand_features" in metrics
    for arm in arms:  # the Hugging Face dataset's eval set, 4 bona fide + 4 spoof
        m = metrics[arm][HF_SET]
        assert (m["n_bonafide"], m["n_spoof"]) == (4, 4) and 0.0 <= m["eer"] <= 1.0
    assert_asvspoof5_sets(project, metrics, arms)
    audit = json.loads((project / "reports/audit.json").read_text())
    assert set(audit) == {"demo:eval", "demo:eval_degraded", HF_SET, *ASV5_SETS}
    assert "leading_silence_s" in audit["demo:eval"]["features"]
    html = (project / "reports/index.html").read_text()
    assert "Is each system better than main?" in html and "Shortcut audit" in html and "DET" in html
    assert all(name in html for name in (HF_SET, *ASV5_SETS))
    assert html.count("<figure>") == html.count("<figcaption>") >= 8
    # the self-supervised backbone, the probes of random / backbone / main and the AttM weights
    assert json.loads((project / "models/backbone/config.json").read_text())["model_type"] == "wav2vec2"
    probing = metrics["probing"]
    assert set(probing["models"]) == {"random", "backbone", "main"}
    assert set(probing["pretraining_gain"]) == {"dev", "demo:eval", "demo:eval_degraded", HF_SET, *ASV5_SETS}
    assert probing["pretrain"]["fixed_batch_loss_final"] > 0
    assert len(probing["attm_weights"]["attm"]["demo:eval"]["mean"]) == 2
    for name in ("probe_layers", "probe_cumulative", "partial_curve", "attm_weights"):
        assert (project / f"reports/figures/{name}.png").is_file()
    assert (project / "reports/index.html").stat().st_size > 1000
    assert list((project / "reports/figures").glob("*.png"))
    assert (project / "mlflow.db").is_file()
    scores = (project / "data/scores/main/s0/demo__eval.txt").read_text().splitlines()
    assert len(scores) == metrics["main"]["demo:eval"]["n_bonafide"] + metrics["main"]["demo:eval"]["n_spoof"]
    # `sdd score --model models/<arm>` still works while the arm has one seed
    clip = str(next((project / "data/raw/demo").rglob("*.flac")))
    assert run(["sdd", "score", "--model", "models/main", clip], project).stdout.count("\t") == 1

    # `sdd compare` rebuilds the comparison from the MLflow runs alone.
    run(["sdd", "compare", "--out", "reports/compare"], project)
    assert_same_numbers(json.loads((project / "reports/compare/metrics.json").read_text()), metrics, arms)

    # A second repro is a no-op.
    out = run(["dvc", "repro"], project).stdout
    assert "Running stage" not in out, out

    # `-S lora=true` and `-S align=true` each change only main's plan: after re-planning, only
    # train@main-0 is stale, and the report (whose plan holds every arm's config).
    original = (project / "params.yaml").read_text()
    for toggle in ("lora", "align"):
        params = yaml.safe_load(original)
        params[toggle] = True
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        run(["dvc", "repro", "plan"], project)
        status = json.loads(run(["dvc", "status", "--json"], project).stdout)
        assert sorted(status) == ["report", "train@main-0"], (toggle, status)
    (project / "params.yaml").write_text(original)
    run(["dvc", "repro", "plan"], project)

    # Same params + same seed -> the same scores, bit for bit.
    before = (project / "data/scores/dual_path_gr/s0/demo__eval.txt").read_text()
    run(["dvc", "repro", "--force", "--single-item", "train@dual_path_gr-0"], project)
    run(["dvc", "repro", "--single-item", "score@dual_path_gr-0"], project)
    assert (project / "data/scores/dual_path_gr/s0/demo__eval.txt").read_text() == before

    # `seeds: [0, 1]` adds only seed 1's train/score/evaluate stages (and the report); seed 0's
    # models, the data and the augmented copies stay cached. Only `main` and an added `augmented` arm
    # (the pooled regime: `main`'s objective, methods.md §1) train seed 1; the other arms' seed-1
    # stages write skip records.
    params = yaml.safe_load(original)
    params["seeds"] = [0, 1]
    for arm in arms:
        if arm != "main":
            params["arms"][arm]["seeds"] = [0]
    params["arms"]["augmented"] = {"regime": "augmented", "align": False, "lora": False}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "plan"], project)
    status = json.loads(run(["dvc", "status", "--json"], project).stdout)
    stages = ("train", "score", "evaluate")
    new = {f"{stage}@{arm}-1" for arm in [*arms, "augmented"] for stage in stages}
    new |= {f"{stage}@augmented-0" for stage in stages}
    assert set(status) == new | {"report"}, status
    untimed = lambda d: {k: v for k, v in d.items() if not k.endswith("seconds")}  # noqa: E731
    probe_main = untimed(json.loads((project / "reports/probe/main.json").read_text()))
    out = run(["dvc", "repro"], project).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    # extract@main depends on the folder models/main, which gains s1: it re-runs on the same s0
    # checkpoint (its lowest trained seed), so the probe of `main` is unchanged
    assert ran == new | {"report", "extract@main", "probe@main"}, ran
    assert untimed(json.loads((project / "reports/probe/main.json").read_text())) == probe_main
    metrics = json.loads((project / "reports/metrics.json").read_text())
    for arm in [*arms, "augmented"]:
        m = metrics[arm]["demo:eval"]
        two = arm in ("main", "augmented")
        assert m["n_seeds"] == (2 if two else 1) and m["seeds"] == ([0, 1] if two else [0])
        assert (m["eer_std"] is not None) == two
        assert set(metrics[arm]["seeds"]) == ({"0", "1"} if two else {"0"})
    m = metrics["main"]["demo:eval"]
    assert m["eer"] == pytest.approx(
        (
            metrics["main"]["seeds"]["0"]["demo:eval"]["eer"]
            + metrics["main"]["seeds"]["1"]["demo:eval"]["eer"]
        )
        / 2
    )
    # an A/A comparison: `augmented` has `main`'s objective, so no detectable difference
    for eval_set in ("demo:eval", "demo:eval_degraded"):
        assert not metrics["augmented"][eval_set]["vs_reference"]["significant"]
    run(["sdd", "compare", "--out", "reports/compare2"], project)
    assert_same_numbers(
        json.loads((project / "reports/compare2/metrics.json").read_text()), metrics, [*arms, "augmented"]
    )
    # with two seeds, `sdd score --model models/main` asks which one
    out = run(["sdd", "score", "--model", "models/main", clip], project, check=False)
    assert out.returncode == 2 and "s0, s1" in out.stderr, out.stderr

    # `report.fusion` re-plans the report alone: fused systems are fitted in the report stage on the
    # arms' dev scores, seed by seed (main runs seeds 0 and 1, attm seed 0 only: main+attm fuses seed 0)
    params["report"]["fusion"] = [["main", "attm"], ["main", "augmented"]]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "plan"], project)
    assert sorted(json.loads(run(["dvc", "status", "--json"], project).stdout)) == ["report"]
    # (the fused rows themselves: tests/report/test_fusion.py runs the report stage's function on the real
    # params cut down to 3 arms; not re-run here, for the suite's 15-minute budget)
