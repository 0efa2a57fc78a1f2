"""The comparative report: seed aggregates, paired comparisons, shortcut flags, pages and figures, and
the MLflow round trip that `sdd compare` relies on."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from sdd.augment.params import AugmentParams
from sdd.core.plandocs import EvalSet
from sdd.core.sections import TrackingParams
from sdd.evaluation.trials import evaluate_trials
from sdd.report.build import write_report
from sdd.report.figures import plot_det
from sdd.report.inputs import ReportInput, seen_attacks
from sdd.report.params import ReportPlan
from sdd.report.render import Figure, Section, render_markdown
from sdd.report.sections.breakdown import per_condition_tables
from sdd.report.sections.common import eer_cell
from sdd.report.sections.eer import other_metrics_blocks
from sdd.report.stats import epochs_to_best, report_metrics, seed_mean
from sdd.report.tracking import _key, flatten, ui_url
from tests.helpers import REPO
from tests.helpers.report import ATTACKS, make_input


def test_seed_mean_averages_numbers_and_common_keys():
    assert seed_mean([1, 2, 3]) == 2.0 and isinstance(seed_mean([1, 2, 3]), float)
    assert seed_mean([300, 300]) == 300 and isinstance(seed_mean([300, 300]), int)
    got = seed_mean(
        [
            {"eer": 0.1, "per_attack": {"A": 0.2, "B": 0.4}, "eer_ci95": [0, 1], "name": "x"},
            {"eer": 0.3, "per_attack": {"A": 0.4}, "eer_ci95": [0, 1], "name": "x"},
        ]
    )
    assert set(got) == {"eer", "per_attack"} and got["eer"] == pytest.approx(0.2)
    assert got["per_attack"] == pytest.approx({"A": 0.3})


def test_epochs_to_best_counts_from_one():
    assert epochs_to_best(pd.DataFrame({"epoch": [0, 1, 2], "dev_loss": [0.5, 0.3, 0.4]})) == 2


def test_metrics_schema_keeps_every_seed_and_the_aggregates():
    inp = make_input({"main": 1.0, "better": 2.5})
    m = report_metrics(inp)
    agg = m["main"]["demo:eval"]
    eers = [inp.systems["main"][s].eval["demo:eval"]["eer"] for s in (0, 1, 2)]
    assert agg["eer"] == pytest.approx(np.mean(eers)) and agg["eer_std"] == pytest.approx(
        np.std(eers, ddof=1)
    )
    assert agg["eer_ci95"][0] <= agg["eer"] <= agg["eer_ci95"][1] and agg["n_seeds"] == 3
    assert "speakers resampled" in agg["eer_ci95_method"]
    assert set(agg["per_attack"]) == set(ATTACKS)
    assert m["main"]["seeds"]["1"]["demo:eval"] == inp.systems["main"][1].eval["demo:eval"]
    assert m["main"]["seeds"]["1"]["train"]["epochs_to_best"] == 2
    assert m["main"]["train"]["seconds"] == pytest.approx(11.0)
    assert "vs_reference" not in agg, "the reference is not compared with itself"
    v = m["better"]["demo:eval"]["vs_reference"]
    assert v["diff"] < 0 and v["significant"] and v["p_better"] > 0.95 and v["n_comparisons"] == 1
    assert v["holm_ci"][1] < 0 and v["method"] == "paired block bootstrap" and v["n_seeds_reference"] == 3
    # the minimum detectable difference at 80 % power, with the seed term (three seeds per system)
    assert v["mdd_power"] == 0.8 and v["mdd_alpha"] == pytest.approx(0.05) and v["mdd_includes_seed_variance"]
    assert v["se_total"] == pytest.approx(math.hypot(v["se_bootstrap"], v["se_seed"])) and v["se_seed"] > 0
    assert v["mdd"] == pytest.approx((1.959963984540054 + 0.8416212335729143) * v["se_total"])
    assert "paired by seed" in v["mdd_seed_term"]
    json.dumps(m)  # JSON-serialisable as is


def test_the_docs_schema_documents_every_vs_reference_key():
    page = (REPO / "docs" / "report.md").read_text(encoding="utf-8")
    schema = page.split("## `reports/metrics.json`", 1)[1]
    block = schema.split('"vs_reference": {', 1)[1].split("\n      },", 1)[0]
    documented = set(re.findall(r'"(\w+)":', block))
    m = report_metrics(make_input({"main": 1.0, "other": 1.2}, seeds=(0,)))
    assert documented == set(m["other"]["demo:eval"]["vs_reference"]), documented


def test_the_mdd_seed_term_pairs_the_same_seeds():
    """Seed s of the arm is paired with seed s of the reference, whatever order the seeds came in."""
    inp = make_input({"main": 1.0, "other": 1.3})
    inp.systems["main"] = {k: inp.systems["main"][k] for k in (2, 0, 1)}
    v = report_metrics(inp)["other"]["demo:eval"]["vs_reference"]
    per_seed = [
        inp.systems["other"][k].eval["demo:eval"]["eer"] - inp.systems["main"][k].eval["demo:eval"]["eer"]
        for k in (0, 1, 2)
    ]
    assert v["se_seed"] == pytest.approx(np.std(per_seed, ddof=1) / np.sqrt(3), rel=1e-9)


def test_aa_comparison_is_not_flagged():
    """main against augmented-with-the-same-objective: here literally the same scores on every seed."""
    m = report_metrics(make_input({"main": 1.0, "augmented": 1.0}, same_scores=("augmented",)))
    v = m["augmented"]["demo:eval"]["vs_reference"]
    assert v["diff"] == 0.0 and not v["significant"] and v["p_better"] == pytest.approx(0.5)


def test_aa_comparison_with_independent_seeds_is_not_flagged():
    """Same score distribution, different draws (a different training run of the same objective)."""
    m = report_metrics(make_input({"main": 1.5, "augmented": 1.5}))
    v = m["augmented"]["demo:eval"]["vs_reference"]
    assert not v["significant"] and v["holm_ci"][0] < 0 < v["holm_ci"][1]


def test_single_seed_has_no_std():
    m = report_metrics(make_input({"main": 1.0, "other": 1.2}, seeds=(0,)))
    assert m["main"]["demo:eval"]["eer_std"] is None and eer_cell(m["main"]["demo:eval"]).count("±") == 0
    v = m["other"]["demo:eval"]["vs_reference"]
    assert not v["mdd_includes_seed_variance"] and v["se_seed"] == 0 and v["se_total"] == v["se_bootstrap"]


def test_the_report_states_the_mdd_beside_every_comparison(tmp_path):
    for seeds in ((0, 1), (0,)):
        inp = make_input({"main": 1.0, "other": 1.2, "aligned": 1.1}, seeds=seeds)
        m = report_metrics(inp)
        write_report(inp, m, tmp_path)
        md, html = (tmp_path / "README.md").read_text(), (tmp_path / "index.html").read_text()
        header = next(line for line in md.splitlines() if line.startswith("| system | eval set |"))
        col = header.split(" | ").index("MDD (80 % power, pp)")
        for arm in ("other", "aligned"):
            row = next(line for line in md.splitlines() if line.startswith(f"| {arm} | demo:eval |"))
            cell = row.split(" | ")[col]
            v = m[arm]["demo:eval"]["vs_reference"]
            assert cell == f"{100 * v['mdd']:.2f}" + ("" if len(seeds) > 1 else " (trials only)"), cell
        assert "MDD (80 % power, pp)" in html
        assert "no difference larger than its MDD was detectable" in md
        assert ("leaves out seed-to-seed (training) variance" in md) == (len(seeds) == 1)
        assert "Bonferroni level α/m = 0.025" in md  # two comparisons


def test_a_scoring_only_system_with_one_run_renders_with_dashes(tmp_path):
    """The published AASIST as an arm (regime published): one run beside a two-seed reference, nothing
    trained (null where a quantity does not exist), empty telemetry."""
    inp = make_input({"main": 1.0, "aasist": 1.5}, seeds=(0, 1))
    del inp.systems["aasist"][1]
    run = inp.systems["aasist"][0]
    run.train = {"regime": "published", "epochs": 0, "steps": 0, "seconds": 1.2, "epochs_to_best": None,
                 "best_dev_loss": None, "best_dev_eer": None, "final_dev_eer": None,
                 "trainable_parameters": 0, "total_parameters": 297866, "peak_rss_mb": 400.0}
    run.epochs, run.telemetry = pd.DataFrame([]), pd.DataFrame(columns=["step", "epoch", "loss", "cos"])
    inp.configs["aasist"] = {"regime": "published", "align": "none"}
    m = report_metrics(inp)
    agg = m["aasist"]["demo:eval"]
    assert agg["n_seeds"] == 1 and agg["eer_std"] is None and eer_cell(agg).count("±") == 0
    assert agg["vs_reference"]["n_seeds"] == 1 and agg["vs_reference"]["n_seeds_reference"] == 2
    assert m["aasist"]["seeds"]["0"]["train"]["epochs_to_best"] is None
    assert "epochs_to_best" not in m["aasist"]["train"] and m["aasist"]["train"]["trainable_parameters"] == 0
    json.dumps(m)
    write_report(inp, m, tmp_path)
    md = (tmp_path / "README.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| aasist | 0 / 297,866 |"))
    assert row.split(" | ")[2:4] == ["0.0", "—"], row  # epochs run, epochs to best
    assert "aasist: scoring-only" in md and "no spread over seeds" in md
    assert "aasist: a published model scored as it is (one run" in md


def test_shortcut_flagged_only_when_real_and_within_factor():
    flagged = [
        {"feature": "leading_silence_s", "subset": "pooled", "eer": 0.15, "threshold": 0.4, "direction": 1},
        {"feature": "dc", "subset": "A01", "eer": 0.01, "threshold": 0.25, "direction": -1},
    ]
    audit = {
        "demo:eval": {
            "name": "demo:eval",
            "n_bonafide": 1,
            "n_spoof": 1,
            "features": {},
            "mfcc_lr": None,
            "flagged": flagged,
        }
    }
    inp = make_input({"main": 1.0, "strong": 4.0}, seeds=(0,), audit=audit)
    m = report_metrics(inp)
    weak = m["main"]["demo:eval"]
    assert weak["eer"] > 0.15 / 2
    assert [f["feature"] for f in weak["shortcuts"]][:1] == ["leading_silence_s"]
    strong = m["strong"]["demo:eval"]
    assert all(f["eer"] < 2 * f["system_eer"] for f in strong["shortcuts"])
    assert "leading_silence_s" not in [f["feature"] for f in strong["shortcuts"]], strong["eer"]


def test_scores_that_disagree_with_the_evaluation_are_refused():
    inp = make_input({"main": 1.0, "other": 1.0}, seeds=(0,))
    inp.systems["other"][0].trials["demo:eval"]["score"] *= -1
    with pytest.raises(ValueError, match="differs from the evaluate"):
        report_metrics(inp)


def test_seen_attacks_come_from_the_training_spoofs():
    manifest = pd.DataFrame({"label": ["bonafide", "spoof", "spoof"], "attack": ["-", "A01", "A04"]})
    assert seen_attacks(manifest) == {"A01", "A04"}


def test_write_report_renders_every_figure_with_a_caption(tmp_path):
    inp = make_input({"main": 1.0, "better": 2.5, "aligned": 1.2})
    m = report_metrics(inp)
    extra = tmp_path / "figures" / "probe.png"
    extra.parent.mkdir(parents=True)
    extra.write_bytes(b"not drawn here")
    section = Section("Probing", [("p", "layer-wise probes"), ("fig", Figure(extra, "Probe EER per layer."))])
    meta = {
        "git_commit": "abc",
        "params_diff": {"seeds": [[0], [0, 1, 2]]},
        "packages": {"numpy": "2"},
        "durations": [{"stage": "train@main-0", "seconds": 3.0}],
    }
    files = write_report(inp, m, tmp_path, metadata=meta, sections=[section])
    md, html = (tmp_path / "README.md").read_text(), (tmp_path / "index.html").read_text()
    for name in (
        "paired.png",
        "eer.png",
        "det_demo__eval.png",
        "per_attack_demo__eval.png",
        "training.png",
        "conflict.png",
        "durations.png",
    ):
        assert (tmp_path / "figures" / name).stat().st_size > 1000, name
        assert f"figures/{name}" in md and f'src="figures/{name}"' in html
    assert html.count("<figure>") == html.count("<figcaption>") == md.count("![") == len(files) - 2
    assert "Probing" in md and "figures/probe.png" in html and "layer-wise probes" in html
    assert "sdd-selftest" in html
    assert "better (p_holm" in md and "A05 (unseen)" in md and "seeds" in md
    assert "| seeds | [0] | [0, 1, 2] |" in md


def test_an_eval_set_of_one_trial_per_class_is_reported_without_a_det_curve(tmp_path):
    """A split view can hold a single bona fide and a single spoof trial (one per codec in the end-to-end
    test's ASVspoof 5 fixture): its EER is reported, its DET curve (a single point) is not drawn."""
    inp = make_input({"main": 1.0, "better": 2.5}, seeds=(0,))
    tiny = pd.DataFrame({"utt_id": ["t0", "t1"], "score": [0.3, -0.2], "label": ["bonafide", "spoof"],
                         "speaker": ["s0", "s1"], "attack": ["-", "A01"]})  # fmt: skip
    for seeds in inp.systems.values():
        for run in seeds.values():
            run.trials["asv5:eval_c05"] = tiny
            run.eval["asv5:eval_c05"] = evaluate_trials(tiny, ci=True, n_resamples=50)
    inp.eval_sets.append("asv5:eval_c05")
    m = report_metrics(inp)
    assert m["main"]["asv5:eval_c05"]["eer"] == 0.0
    write_report(inp, m, tmp_path)
    html = (tmp_path / "index.html").read_text()
    assert "No DET curve on asv5:eval_c05: its smaller class has 1 trial(s)" in html
    assert not (tmp_path / "figures" / "det_asv5__eval_c05.png").exists()
    assert (tmp_path / "figures" / "det_demo__eval.png").is_file()
    one = [(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.0)]  # (frr, far, eer)
    two = [(np.array([1.0, 0.5, 0.0]), np.array([0.0, 0.5, 1.0]), 0.5)]
    with pytest.raises(ValueError, match="det_x.png: got 1 trial"):
        plot_det({"main": one}, 1, tmp_path / "det_x.png", "x")
    plot_det({"main": two}, 2, tmp_path / "det_2.png", "x")  # the fewest trials drawn
    assert (tmp_path / "det_2.png").stat().st_size > 1000


def test_markdown_table_keeps_the_index_name():
    df = pd.DataFrame({"v": [1]}, index=pd.Index(["a"], name="key"))
    assert render_markdown([("table", df)]).startswith("| key | v |")


def test_flatten_keys_are_mlflow_safe():
    flat = {_key(k): v for k, v in flatten({"demo:eval": {"eer_ci95": [0.1, 0.2]}}).items()}
    assert flat == {"demo/eval.eer_ci95.0": 0.1, "demo/eval.eer_ci95.1": 0.2}
    assert _key("duration_s.train@main-0") == "duration_s.train/main-0" and _key("a=b|c") == "a_b_c"


def _pipeline_outputs(inp: ReportInput, root) -> tuple[ReportPlan, dict]:
    """The report plan and the train/eval/telemetry folders the pipeline would have written for ``inp``."""
    dirs = {k: root / k for k in ("train", "eval", "telemetry")}
    for arm, seeds in inp.systems.items():
        for seed, run in seeds.items():
            rel = f"{arm}/s{seed}"
            for d in dirs.values():
                (d / arm).mkdir(parents=True, exist_ok=True)
            (dirs["train"] / f"{rel}.json").write_text(
                json.dumps({"summary": run.train, "epochs": run.epochs.to_dict("records")})
            )
            (dirs["eval"] / f"{rel}.json").write_text(json.dumps(run.eval))
            run.telemetry.to_csv(dirs["telemetry"] / f"{rel}.csv", index=False)
    plan = ReportPlan(
        arms={a: tuple(seeds) for a, seeds in inp.systems.items()},
        order=tuple(inp.systems),
        configs={a: {"name": a, "align": "none", **inp.configs.get(a, {})} for a in inp.systems},
        upstream={"corpus": "demo"},
        seeds=tuple(sorted({s for seeds in inp.systems.values() for s in seeds})),
        eval_sets=(EvalSet(corpus="demo", split="eval", id="demo__eval", name="demo:eval"),),
        corpus="demo",
        augment=AugmentParams(),
        report=inp.stats,
        tracking=TrackingParams(experiment="sdd-test"),
        probe_models=(),
    )
    return plan, dirs


def test_compare_keeps_one_run_of_a_scoring_only_system(tmp_path, monkeypatch):
    """The published AASIST logged under two first seeds (two experiments) is one model: one run."""
    from sdd.report.compare import compare
    from sdd.report.publish import publish_pipeline_report

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SDD_ROOT", str(tmp_path))
    inp = make_input({"main": 1.0, "aasist": 2.0}, seeds=(0, 1))
    inp.configs["aasist"] = {"align": "none", "regime": "published"}
    m = report_metrics(inp)
    plan, dirs = _pipeline_outputs(inp, tmp_path)
    publish_pipeline_report(inp, m, plan, train_dir=dirs["train"], eval_dir=dirs["eval"],
                            telemetry_dir=dirs["telemetry"], report_files=[], out_dir=tmp_path / "reports",
                            metadata={})
    compared = compare("sdd-test", tmp_path / "compare")
    assert compared["main"]["demo:eval"]["n_seeds"] == 2 and compared["aasist"]["demo:eval"]["n_seeds"] == 1
    assert compared["aasist"]["demo:eval"]["eer_std"] is None
    assert "aasist: a published model scored as it is" in (tmp_path / "compare" / "README.md").read_text()


def test_publish_then_compare_gives_the_report_numbers(tmp_path, monkeypatch):
    """The MLflow round trip: children created by the report (cached arms), then `sdd compare`."""
    from sdd.report.compare import compare
    from sdd.report.publish import publish_pipeline_report

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SDD_ROOT", str(tmp_path))
    monkeypatch.setenv("DVC_EXP_NAME", "exp-test")
    inp = make_input({"main": 1.0, "better": 2.5}, seeds=(0, 1))
    m = report_metrics(inp)
    plan, dirs = _pipeline_outputs(inp, tmp_path)
    out = tmp_path / "reports"
    meta = {"git_commit": "abc", "git_dirty": False, "durations": [{"stage": "train@main-0", "seconds": 3.0}]}
    files = write_report(inp, m, out)
    publish_pipeline_report(
        inp,
        m,
        plan,
        train_dir=dirs["train"],
        eval_dir=dirs["eval"],
        telemetry_dir=dirs["telemetry"],
        report_files=files,
        out_dir=out,
        metadata=meta,
    )
    # a second publish (dvc repro again) finds the same runs instead of adding children
    publish_pipeline_report(
        inp,
        m,
        plan,
        train_dir=dirs["train"],
        eval_dir=dirs["eval"],
        telemetry_dir=dirs["telemetry"],
        report_files=files,
        out_dir=out,
        metadata={},
    )
    compared = compare("sdd-test", tmp_path / "compare")
    assert set(compared) == set(m)
    for arm in inp.systems:
        for key in ("eer", "eer_std", "eer_ci95", "per_attack"):
            assert compared[arm]["demo:eval"][key] == m[arm]["demo:eval"][key], (arm, key)
    assert compared["better"]["demo:eval"]["vs_reference"] == m["better"]["demo:eval"]["vs_reference"]
    assert compared["better"]["seeds"] == json.loads(json.dumps(m["better"]["seeds"]))

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("sdd-test")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    assert ui_url(5000, "sdd-test") == (
        f"http://127.0.0.1:5000/#/experiments/{exp.experiment_id}/runs?viewStateShareKey=sdd&"
        "workflowType=machine_learning"
    )
    view = json.loads(json.loads(exp.tags["mlflow.sharedViewState.sdd"])["state"])
    assert view["selectedColumns"][:3] == [
        "metrics.`demo/eval.eer`", "metrics.`demo/eval.eer_ci95_low`", "metrics.`demo/eval.eer_ci95_high`"
    ]
    shown = set(view["selectedColumns"])
    assert {"metrics.`train.final_dev_eer`", "tags.`sdd.arm`", "tags.`sdd.seed`"} <= shown
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("sdd.kind") == "pipeline"]
    children = [r for r in runs if r.data.tags.get("sdd.kind") == "arm"]
    assert len(parents) == 1 and parents[0].data.tags["mlflow.runName"] == "exp-test"
    assert len(children) == 4 and {r.data.tags["mlflow.parentRunId"] for r in children} == {
        parents[0].info.run_id
    }
    child = next(r for r in children if r.data.tags["sdd.arm"] == "better" and r.data.tags["sdd.seed"] == "1")
    assert child.data.params["name"] == "better" and child.data.params["seed"] == "1"
    assert math.isclose(
        child.data.metrics["demo/eval.eer"], inp.systems["better"][1].eval["demo:eval"]["eer"]
    )
    assert [m.step for m in client.get_metric_history(child.info.run_id, "epoch.dev_loss")] == [0, 1]
    assert parents[0].data.metrics["stage_seconds.train/main-0"] == 3.0
    # readable names: intervals as _low/_high, parent metrics under `report.`, no list index anywhere
    assert math.isclose(
        child.data.metrics["demo/eval.eer_ci95_high"],
        inp.systems["better"][1].eval["demo:eval"]["eer_ci95"][1],
    )
    assert all(k.startswith(("report.", "stage_seconds.")) for k in parents[0].data.metrics)
    assert "report.better.demo/eval.eer" in parents[0].data.metrics
    assert not [k for r in runs for k in r.data.metrics if re.search(r"\.\d+$", k)]
    # params: the child's config plus what else shaped its scores; the parent's shared sections
    assert child.data.params["align"] == "false" and child.data.params["data"] == "demo"
    assert child.data.params["eval_sets"] == "demo:eval"
    assert parents[0].data.params["seeds"] == "0, 1" and parents[0].data.params["report.reference"] == "main"
    # a cached arm's child lasts its training time (train.seconds), not the copying
    assert child.info.end_time - child.info.start_time == 1000 * inp.systems["better"][1].train["seconds"]
    assert parents[0].data.tags["sdd.git_commit"] == "abc"
    names = {f.path for f in client.list_artifacts(parents[0].info.run_id)}
    assert {"index.html", "README.md", "figures", "report_input.json"} <= names


def test_summary_shows_the_three_strongest_shortcuts_and_counts_the_rest():
    from sdd.report.sections.comparison import _shortcut_cell

    found = [{"feature": f"f{i}", "subset": "pooled", "eer": 0.3 - 0.05 * i} for i in range(5)]
    assert _shortcut_cell(found) == (
        "f4 on pooled: 10.0; f3 on pooled: 15.0; f2 on pooled: 20.0; +2 more (Shortcut audit)"
    )
    assert _shortcut_cell(found[:1]) == "f0 on pooled: 30.0" and _shortcut_cell([]) == ""


def test_per_condition_tables_put_pooled_first_and_keep_each_column():
    metrics = {
        "main": {"demo:eval_degraded": {"eer": 0.25,
                 "per_condition": {"condition": {"pstn": 0.4, "mp3": 0.1}}}},
        "clean": {"demo:eval_degraded": {"eer": 0.3,
                  "per_condition": {"condition": {"mp3": 0.2, "pstn": 0.5}}}},
        "nocond": {"demo:eval_degraded": {"eer": 0.5}},
    }
    tables = per_condition_tables(metrics, "demo:eval_degraded")
    assert list(tables) == ["condition"]
    t = tables["condition"]
    assert list(t.columns) == ["pooled", "mp3", "pstn"] and sorted(t.index) == ["clean", "main"]
    assert t.loc["clean", "pstn"] == 0.5 and t.loc["main", "pooled"] == 0.25
    assert per_condition_tables(metrics, "demo:eval") == {}


def test_other_metrics_show_the_teer_where_defined_and_blank_elsewhere():
    """main's eval carries ASV scores (t-DCF, t-EER), aligned's does not: its t-EER cell is empty."""
    inp = make_input({"main": 1.0, "aligned": 1.3}, seeds=(0, 1))
    rng = np.random.default_rng(5)
    asv = pd.DataFrame(
        {
            "asv_key": ["target"] * 40 + ["nontarget"] * 40 + ["spoof"] * 40,
            "score": np.concatenate([rng.normal(3, 1, 40), rng.normal(-3, 1, 40), rng.normal(0, 2, 40)]),
        }
    )
    for run in inp.systems["main"].values():
        run.eval = {s: evaluate_trials(t, asv_scores=asv) for s, t in run.trials.items()}
    m = report_metrics(inp)
    teers = [run.eval["demo:eval"]["t_eer"] for run in inp.systems["main"].values()]
    assert m["main"]["demo:eval"]["t_eer"] == pytest.approx(np.mean(teers))
    assert "t_eer" not in m["aligned"]["demo:eval"]
    (table,) = [b[1] for b in other_metrics_blocks(inp, m) if b[0] == "table"]
    assert table.loc["main / demo:eval", "t_eer"] == f"{np.mean(teers):.4f}"
    assert table.loc["aligned / demo:eval", "t_eer"] == ""
    assert table.loc["aligned / demo:eval", "cllr"] == f"{m['aligned']['demo:eval']['cllr']:.4f}"
    assert list(table.columns)[-2:] == ["t_eer", "t_eer_exhaustive"]  # OTHER_METRICS order
    assert not table.isin(["nan", "None"]).any().any()
