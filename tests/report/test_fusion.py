"""The report's fused systems (``report.fusion``): resolved by the plan, fused on the training corpus's
dev scores, evaluated like an arm and compared with the reference like any arm."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from sdd.core.configbase import ConfigError
from sdd.core.stage import read_plan
from sdd.core.yamlfile import read_yaml
from sdd.evaluation.eval_sets import evaluate_eval_sets, fit_dev_calibration
from sdd.metrics.fusion import fit_linear_fusion
from sdd.plan.arms import fusion_row
from sdd.plan.assemble import validate_params
from sdd.plan.documents import make_plan
from sdd.report.build import write_report
from sdd.report.fusion import add_fusions
from sdd.report.inputs import from_pipeline
from sdd.report.params import FusionRow, ReportPlan
from sdd.report.stats import report_metrics
from tests.helpers import REPO

SPLITS = {"train": 40, "dev": 90, "eval": 120, "eval_degraded": 120}
# per arm: how well it separates the classes, and how much of its noise it shares with main
ARMS = {"main": 1.2, "clean": 0.8, "attm": 1.0}


@pytest.fixture(scope="module")
def raw():
    return read_yaml(REPO / "params.yaml")


def tiny_params(raw, fusion):
    """The end-to-end test's kind of tiny config, three arms, with ``report.fusion``."""
    data = copy.deepcopy(raw)
    data["arms"] = {a: data["arms"][a] for a in ARMS}
    data["report"].update(fusion=fusion, n_resamples=50)
    data["evaluate"]["n_resamples"] = 50
    return data


def report_plan(data, tmp_path) -> ReportPlan:
    """The report stage's plan document as the stage reads it: written by the plan, read back."""
    path = tmp_path / "report.json"
    path.write_text(json.dumps(make_plan(validate_params(data))["report.json"]))
    return read_plan(path, ReportPlan)


def _manifest(split: str, n: int) -> pd.DataFrame:
    ids = [f"{split}_{i:03d}" for i in range(n)]
    bona = np.arange(n) % 3 == 0
    return pd.DataFrame(
        {"utt_id": ids, "path": [f"{u}.flac" for u in ids], "speaker": [f"spk{i % 6}" for i in range(n)],
         "label": np.where(bona, "bonafide", "spoof"),
         "attack": np.where(bona, "-", np.where(np.arange(n) % 2 == 0, "A01", "A02")),
         "condition": "-", "split": split, "duration_s": 2.0, "sample_rate": 16000}
    )  # fmt: skip


def pipeline_outputs(root, plan, rng):
    """What the prepare, score, train and evaluate stages would have written for ``plan``'s arms."""
    manifests = root / "data/manifests"
    frames = {}
    for split, n in SPLITS.items():
        (manifests / "demo").mkdir(parents=True, exist_ok=True)
        frames[split] = _manifest(split, n)
        frames[split].to_csv(manifests / "demo" / f"{split}.csv", index=False)
    shared = {s: rng.normal(size=len(f)) for s, f in frames.items()}
    for arm, sep in ARMS.items():
        for seed in plan.arms[arm]:
            folder = root / "data/scores" / arm / f"s{seed}"
            folder.mkdir(parents=True)
            for split, name in (("dev", "dev.txt"), ("eval", "demo__eval.txt"),
                                ("eval_degraded", "demo__eval_degraded.txt")):  # fmt: skip
                f = frames[split]
                score = sep * (f["label"] == "bonafide") + 0.5 * shared[split] + rng.normal(size=len(f))
                folder.joinpath(name).write_text(
                    "".join(f"{u} {float(s)!r}\n" for u, s in zip(f["utt_id"], score, strict=True))
                )
            calibration = fit_dev_calibration(folder / "dev.txt", manifests / "demo/dev.csv")
            metrics = evaluate_eval_sets(plan.eval_sets, folder, manifests, calibration=calibration, ci=True,
                                         n_resamples=50, seed=0)  # fmt: skip
            for sub, doc in (("eval", metrics),
                             ("train", {"summary": {"epochs": 1, "trainable_parameters": 10,
                                                    "total_parameters": 100, "seconds": 1.0},
                                        "epochs": [{"epoch": 0, "dev_loss": 0.5}]})):  # fmt: skip
                path = root / "reports" / sub / arm / f"s{seed}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(doc))
            tele = root / "reports/telemetry" / arm / f"s{seed}.csv"
            tele.parent.mkdir(parents=True, exist_ok=True)
            tele.write_text("step,epoch,loss\n0,0,0.7\n1,0,0.6\n")
    for name in ("baseline", "audit"):
        (root / "reports" / f"{name}.json").write_text("{}")
    return manifests


def read_input(root, plan):
    return from_pipeline(
        plan, eval_dir=root / "reports/eval", train_dir=root / "reports/train",
        telemetry_dir=root / "reports/telemetry", scores_dir=root / "data/scores",
        manifests_dir=root / "data/manifests", baseline=root / "reports/baseline.json",
        audit=root / "reports/audit.json", train_manifest=root / "data/manifests/demo/train.csv",
        title="t", intro="",
    )  # fmt: skip


def test_a_fusion_row_is_a_compared_system_of_the_report(raw, tmp_path, rng):
    plan = report_plan(tiny_params(raw, [["main", "attm"]]), tmp_path)
    assert plan.fusions == (FusionRow(name="main+attm", arms=("main", "attm"), seeds=(0,), fixed={}),)
    assert plan.evaluate.n_resamples == 50
    manifests = pipeline_outputs(tmp_path, plan, rng)
    inp = read_input(tmp_path, plan)
    add_fusions(inp, plan, scores_dir=tmp_path / "data/scores", manifests_dir=manifests)
    assert list(inp.systems) == ["main", "clean", "attm", "main+attm"]
    metrics = report_metrics(inp)
    fused, arm = metrics["main+attm"], metrics["attm"]
    for s in ("demo:eval", "demo:eval_degraded"):
        assert set(fused[s]) == set(arm[s]), "the same metrics, interval and paired comparison as an arm"
        assert fused[s]["vs_reference"]["reference"] == "main"
        assert fused[s]["vs_reference"]["n_comparisons"] == 6  # clean, attm, main+attm x 2 eval sets
    # the fusion: fitted on the dev scores alone, the same as fitting them here
    dev = pd.read_csv(manifests / "demo/dev.csv")
    cols = [
        pd.read_csv(tmp_path / f"data/scores/{a}/s0/dev.txt", sep=" ", header=None, index_col=0)[1]
        .reindex(dev["utt_id"])
        .to_numpy()
        for a in ("main", "attm")
    ]
    ref = fit_linear_fusion(np.stack(cols, axis=1), (dev["label"] == "bonafide").to_numpy())
    seed0 = fused["seeds"]["0"]
    assert seed0["fusion"]["weights"] == list(ref.weights) and seed0["fusion"]["arms"] == ["main", "attm"]
    trials = inp.systems["main+attm"][0].trials["demo:eval"]
    ev = [inp.systems[a][0].trials["demo:eval"].set_index("utt_id")["score"] for a in ("main", "attm")]
    want = ref.apply(np.stack([e.reindex(trials["utt_id"]).to_numpy() for e in ev], axis=1))
    np.testing.assert_allclose(trials["score"].to_numpy(), want, rtol=0, atol=1e-12)
    assert seed0["train"]["trainable_parameters"] == 3 and seed0["train"]["total_parameters"] == 203
    files = write_report(inp, metrics, tmp_path / "out")
    readme = (tmp_path / "out/README.md").read_text()
    assert "main+attm" in readme and "fused (report.fusion" in readme
    assert all(f.is_file() for f in files)


def test_eval_scores_do_not_change_the_fusion(raw, tmp_path, rng):
    """Rewriting the arms' eval scores changes the fused eval scores, never the fusion."""
    plan = report_plan(tiny_params(raw, [["main", "clean"]]), tmp_path)
    manifests = pipeline_outputs(tmp_path, plan, rng)
    inp = read_input(tmp_path, plan)
    add_fusions(inp, plan, scores_dir=tmp_path / "data/scores", manifests_dir=manifests)
    before = inp.systems["main+clean"][0].fusion
    for a in ("main", "clean"):
        path = tmp_path / f"data/scores/{a}/s0/demo__eval.txt"
        lines = [ln.split() for ln in path.read_text().splitlines()]
        path.write_text("".join(f"{u} {float(s) * 10 + 3!r}\n" for u, s in lines))
    again = read_input(tmp_path, plan)
    again.systems = {k: v for k, v in inp.systems.items() if k != "main+clean"}
    add_fusions(again, plan, scores_dir=tmp_path / "data/scores", manifests_dir=manifests)
    assert again.systems["main+clean"][0].fusion == before


def test_fusion_rows_are_checked_at_plan_time(raw):
    for row, match in (
        ([["main", "nope"]], r"report.fusion\[0\]: got \['main', 'nope'\]; \['nope'\] is not an arm"),
        ([["main"]], "two or more different arm names"),
        ([["main", "attm"], ["main", "attm"]], "the same row twice"),
        ([["main", "main"]], "two or more different"),
    ):
        with pytest.raises(ConfigError, match=match):
            validate_params(tiny_params(raw, row))
    data = tiny_params(raw, [["main", "attm"]])
    data["seeds"], data["arms"]["attm"]["seeds"], data["arms"]["main"]["seeds"] = [0, 1], [1], [0]
    with pytest.raises(ConfigError, match=r"no seed in common \(main: \[0\]; attm: \[1\]\)"):
        validate_params(data)
    assert make_plan(validate_params(tiny_params(raw, [])))["report.json"]["fusions"] == []


def test_a_scoring_only_arm_joins_every_fused_seed(raw):
    data = tiny_params(raw, [])
    data["seeds"] = [0, 1, 2]
    data["arms"]["aasist"] = {"backbone": "aasist:data/published/aasist", "regime": "published"}
    data["arms"]["attm"]["seeds"] = [1, 2]
    params = validate_params(data).params
    row = fusion_row(params, ("main", "attm", "aasist"), "report.fusion[0]")
    assert row.seeds == (1, 2) and row.fixed == {"aasist": 0}
    assert [row.arm_seed("aasist", s) for s in row.seeds] == [0, 0] and row.arm_seed("main", 2) == 2
