"""The evaluation convention named beside each EER: the score stage's input rule, the trial subset and
the score polarity, from the score folder and the plan into the metrics and the report's EER table."""

from __future__ import annotations

import json

import pytest

from sdd.core.plandocs import EvalSet
from sdd.core.sections import input_rule
from sdd.evaluation.convention import POLARITY, trial_subset
from sdd.evaluation.eval_sets import evaluate_eval_sets, read_input_rule
from sdd.report.sections.eer import INPUT_COLUMN, eer_blocks
from sdd.report.stats import report_metrics
from tests.evaluation.test_eval_sets import write_set
from tests.helpers.report import make_input


@pytest.mark.parametrize(
    ("n", "rate", "fragment", "named"),
    [
        (64600, 16000, "first 64,600 samples at 16,000 Hz (4.04 s), repeat-padded", "AASIST / SSL-AASIST"),
        (
            64000,
            16000,
            "first 64,000 samples at 16,000 Hz (4.00 s), repeat-padded",
            "Speech Anti-Spoofing Arena",
        ),
        (32000, 16000, "first 32,000 samples at 16,000 Hz (2.00 s), repeat-padded", None),
        (64600, 22050, "first 64,600 samples at 22,050 Hz (2.93 s)", None),  # not AASIST's rule at 22 kHz
    ],
)
def test_input_rule_names_the_published_convention_of_that_length_only(n, rate, fragment, named):
    rule = input_rule(n, rate)
    assert rule["rule"] == "first_n_samples" and rule["num_samples"] == n and rule["sample_rate"] == rate
    assert rule["name"].startswith(fragment)
    if named:
        assert rule["name"].endswith(f"({named})") or named in rule["name"]
    else:
        assert "AASIST" not in rule["name"] and "Arena" not in rule["name"]


def test_the_whole_utterance_rule_has_no_length_and_reaches_the_metrics_and_the_eer_table(tmp_path):
    rule = input_rule(None, 16000)
    assert rule == {"rule": "whole_utterance", "num_samples": None, "sample_rate": 16000,
                    "name": "whole utterances at 16,000 Hz, neither cut nor padded"}  # fmt: skip
    write_set(tmp_path, "eval")
    (tmp_path / "s" / "model.json").write_text(json.dumps({"arm": {"name": "x"}, "input": rule}))
    sets = [EvalSet(corpus="c", split="eval", id="eval", name="c:eval")]
    out = evaluate_eval_sets(sets, tmp_path / "s", tmp_path / "m", ci=False, n_resamples=10, seed=0,
                             input=read_input_rule(tmp_path / "s"))  # fmt: skip
    assert out["c:eval"]["convention"]["input"] == rule
    inp = make_input({"main": 1.0}, seeds=(0,))
    for run in inp.systems["main"].values():
        for m in run.eval.values():
            m["convention"] = {"input": rule, "trials": "demo (demo), split eval", "polarity": POLARITY}
    m = report_metrics(inp)
    assert m["main"]["demo:eval"]["convention"]["input"] == rule
    (table,) = [b[1] for b in eer_blocks(inp, m, tmp_path) if b[0] == "table"]
    assert table.loc["main", INPUT_COLUMN] == rule["name"]


def test_the_plan_names_each_eval_sets_trials_views_included():
    import yaml

    from sdd.plan.assemble import plan_documents, validate_params
    from tests.helpers import REPO

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    la21 = {"type": "asvspoof2021_la", "subset": "progress", "views": {"alaw": {"split": "progress",
            "where": {"codec": ["alaw"]}}}}  # fmt: skip
    params["corpora"]["la21"] = la21
    params["eval_sets"] = [*params["eval_sets"], "la21:progress", "la21:alaw"]
    docs = plan_documents(validate_params(params))
    trials = docs["evaluate.json"].trials
    assert trials["la21:progress"] == "ASVspoof 2021 LA keys, subset progress (of eval / progress / hidden)"
    assert trials["la21:alaw"] == trials["la21:progress"] + ", view alaw (codec in alaw)"
    assert trials["demo:eval"] == "demo (demo), split eval"


def test_trial_subset_names_the_2021_keys_subset_and_other_splits():
    assert trial_subset("la21", "asvspoof2021_la", "progress").startswith(
        "ASVspoof 2021 LA keys, subset progress"
    )
    assert trial_subset("df21", "asvspoof2021_df", "hidden").startswith(
        "ASVspoof 2021 DF keys, subset hidden"
    )
    assert trial_subset("demo", "demo", "eval_degraded") == "demo (demo), split eval_degraded"


def test_every_eval_set_carries_the_convention_and_the_stage_reads_the_rule_from_model_json(tmp_path):
    write_set(tmp_path, "eval")
    sets = [EvalSet(corpus="c", split="eval", id="eval", name="c:eval")]
    rule = input_rule(64600, 16000)
    (tmp_path / "s" / "model.json").write_text(json.dumps({"arm": {"name": "x"}, "input": rule}))
    names = {"c:eval": "c (folder), split eval"}
    out = evaluate_eval_sets(sets, tmp_path / "s", tmp_path / "m", ci=False, n_resamples=10, seed=0,
                             input=read_input_rule(tmp_path / "s"), trial_names=names)  # fmt: skip
    assert out["c:eval"]["convention"] == {
        "input": rule,
        "trials": "c (folder), split eval",
        "polarity": POLARITY,
    }
    bare = evaluate_eval_sets(sets, tmp_path / "s", tmp_path / "m", ci=False, n_resamples=10, seed=0)
    assert bare["c:eval"]["convention"]["input"] is None  # not recorded: said so, never guessed
    assert bare["c:eval"]["convention"]["trials"] == "c, split eval"
    assert bare["c:eval"]["eer"] == out["c:eval"]["eer"]  # naming the convention changes no number


def test_a_score_folder_without_the_input_rule_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"arm": {"name": "x"}}))
    with pytest.raises(
        ValueError, match=r"model\.json: input is None; expected the input rule.*re-run the score"
    ):
        read_input_rule(tmp_path)


def test_report_metrics_and_the_eer_table_state_the_convention(tmp_path):
    inp = make_input({"main": 1.0, "aligned": 1.3}, seeds=(0, 1))
    rules = {"main": input_rule(64600, 16000), "aligned": input_rule(64000, 16000)}
    for name, seeds in inp.systems.items():
        for run in seeds.values():
            for m in run.eval.values():
                m["convention"] = {
                    "input": rules[name],
                    "trials": "demo (demo), split eval",
                    "polarity": POLARITY,
                }
    m = report_metrics(inp)
    assert m["main"]["demo:eval"]["convention"]["input"] == rules["main"]
    assert m["aligned"]["demo:eval"]["convention"]["input"]["num_samples"] == 64000
    blocks = eer_blocks(inp, m, tmp_path)
    (table,) = [b[1] for b in blocks if b[0] == "table"]
    assert table.loc["main", INPUT_COLUMN] == rules["main"]["name"]
    assert table.loc["aligned", INPUT_COLUMN] == rules["aligned"]["name"]
    text = " ".join(b[1] for b in blocks if b[0] == "p")
    assert "demo:eval: demo (demo), split eval; higher score = more bona fide" in text

    # seeds of one system evaluated under different conventions cannot be averaged
    inp.systems["main"][1].eval["demo:eval"]["convention"] = {**rules["aligned"]}
    with pytest.raises(
        ValueError, match="main / demo:eval: the seeds were evaluated under different conventions"
    ):
        report_metrics(inp)


def test_sdd_evaluate_names_the_input_rule_of_an_sdd_score_file_and_the_subset(tmp_path):
    from types import SimpleNamespace

    from sdd.core.sections import ScoreParams
    from sdd.evaluation import cli_main
    from sdd.scoring.score import _header

    proto = tmp_path / "p.txt"
    proto.write_text("".join(f"S{i % 3} U{i} - {'-' if i % 2 else 'A01'} {'bonafide' if i % 2 else 'spoof'}\n"
                             for i in range(20)))  # fmt: skip
    body = "".join(f"U{i} {(1.0 if i % 2 else -1.0) + 0.1 * (i % 5)}\n" for i in range(20))
    args = SimpleNamespace(ids=True, decisions=False, model="aasist")
    plan = SimpleNamespace(record=SimpleNamespace(summary="published AASIST"), threshold=None)
    header = _header(args, plan, ScoreParams(num_samples=64000))  # what `sdd score` writes above the scores
    for name, text, expected in (("sdd.txt", header + "\n" + body, input_rule(64000, 16000)),
                                 ("other.txt", body, None)):  # fmt: skip
        (tmp_path / name).write_text(text)
        out = tmp_path / f"{name}.json"
        argv = ["--scores", str(tmp_path / name), "--protocol", str(proto), "--format", "asvspoof2019"]
        assert cli_main([*argv, "--out", str(out)]) == 0
        conv = json.loads(out.read_text())["convention"]
        assert conv == {"input": expected, "trials": "asvspoof2019 protocol p.txt", "polarity": POLARITY}


def test_a_fused_system_names_the_input_rule_of_each_fused_arm(tmp_path, rng):
    from sdd.core.yamlfile import read_yaml
    from sdd.report.fusion import add_fusions
    from tests.helpers import REPO
    from tests.report.test_fusion import pipeline_outputs, read_input, report_plan, tiny_params

    plan = report_plan(tiny_params(read_yaml(REPO / "params.yaml"), [["main", "attm"]]), tmp_path)
    manifests = pipeline_outputs(tmp_path, plan, rng)
    inp = read_input(tmp_path, plan)
    rules = {"main": input_rule(64600, 16000), "attm": None}  # attm: evaluated before it was recorded
    for arm, rule in rules.items():
        for run in inp.systems[arm].values():
            for m in run.eval.values():
                m["convention"]["input"] = rule
    add_fusions(inp, plan, scores_dir=tmp_path / "data/scores", manifests_dir=manifests)
    conv = report_metrics(inp)["main+attm"]["demo:eval"]["convention"]
    assert conv["input"]["rule"] == "fusion" and conv["input"]["arms"] == rules
    assert conv["input"]["name"] == f"fusion of main: {rules['main']['name']}; attm: not recorded"
    assert conv["trials"] == inp.systems["main"][0].eval["demo:eval"]["convention"]["trials"]
    assert conv["polarity"] == POLARITY
