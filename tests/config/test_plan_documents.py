"""Plan documents are typed once: the plan writes each as its type, its stage reads the same type back.

Every document of a plan survives the round trip exactly (``read_plan`` of the written file equals the
document the plan built, and writing that again gives the same mapping), so a stage reads what the plan
wrote and nothing else; a document that does not fit its type is refused with the file and key named.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from sdd.core.configbase import ConfigError
from sdd.core.plandocs import AuditPlan, ScorePlan, SkippedPair, plan_dict
from sdd.core.stage import read_plan, run_stage, write_plan
from sdd.plan.assemble import make_plan, plan_documents, validate_params
from sdd.train.params import ArmSeedPlan
from tests.helpers import REPO


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def _variants(raw):
    seeds = copy.deepcopy(raw)
    seeds["seeds"] = [0, 1]
    seeds["arms"]["clean"]["seeds"] = [1]
    partial = copy.deepcopy(raw)
    partial["backbone"] = "tiny-wav2vec2"
    partial["probe"]["partial_layers"] = [1, 2]
    return {"default": raw, "seeds": seeds, "partial": partial}


@pytest.mark.parametrize("variant", ["default", "seeds", "partial"])
def test_every_document_reads_back_as_the_type_it_was_written_as(raw, tmp_path, variant):
    loaded = validate_params(_variants(raw)[variant])
    docs = plan_documents(loaded)
    written = make_plan(loaded)
    assert set(docs) == set(written)
    write_plan(written, tmp_path)
    for rel, doc in docs.items():
        doc_type = ArmSeedPlan | SkippedPair if rel.startswith("arms/") else type(doc)
        back = read_plan(tmp_path / rel, doc_type)
        assert back == doc, rel
        assert plan_dict(back) == json.loads((tmp_path / rel).read_text()), rel
    if variant == "seeds":  # clean runs seed 1 only
        assert isinstance(read_plan(tmp_path / "arms/clean/s0.json", ArmSeedPlan | SkippedPair), SkippedPair)


def test_a_document_that_does_not_fit_its_type_names_the_file_and_the_key(raw, tmp_path):
    write_plan(make_plan(validate_params(raw)), tmp_path)
    path = tmp_path / "score.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "extra": 1}))
    unknown = r"score\.json: does not fit ScorePlan \(unknown key\(s\) \['extra'\]"
    with pytest.raises(ConfigError, match=unknown):
        read_plan(path, ScorePlan)
    path.write_text(json.dumps({**doc, "score": {**doc["score"], "threads": "two"}}))
    with pytest.raises(ConfigError, match=r"score\.json: .*score\.threads: got 'two'; expected an integer"):
        read_plan(path, ScorePlan)
    other = r"score\.json: does not fit AuditPlan \(unknown key\(s\) \['score'\]"
    with pytest.raises(ConfigError, match=other):
        read_plan(tmp_path / "score.json", AuditPlan)
    with pytest.raises(ConfigError, match=r"fit no plan document type \(ArmSeedPlan or SkippedPair\)"):
        read_plan(tmp_path / "audit.json", ArmSeedPlan | SkippedPair)
    with pytest.raises(ConfigError, match=r"nope\.json: cannot read plan file"):
        read_plan(tmp_path / "nope.json", ScorePlan)


def test_a_stage_blames_the_plan_file_not_params_yaml(raw, tmp_path, capsys):
    """A stale or hand-edited plan document is not a bad params.yaml: the stage names the file."""
    write_plan(make_plan(validate_params(raw)), tmp_path)
    path = tmp_path / "score.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "extra": 1}))
    with pytest.raises(SystemExit) as stop:
        run_stage("score", lambda: read_plan(path, ScorePlan))
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: stage score: ") and "score.json" in err
    assert "params.yaml" not in err and "dvc repro plan" in err

    def bad_params() -> None:
        raise ConfigError("align: got 'maybe'")

    with pytest.raises(SystemExit):
        run_stage("plan", bad_params)
    assert capsys.readouterr().err.startswith("error: params.yaml: align: got 'maybe'")
