"""The evaluate stage's glue: score files joined to manifests, dev-fitted calibration."""

import numpy as np
import pandas as pd
import pytest

from sdd.core.plandocs import EvalSet
from sdd.evaluation.eval_sets import evaluate_eval_sets, fit_dev_calibration


def write_set(tmp_path, name, n=40, shift=2.0, seed=0):
    rng = np.random.default_rng(seed)
    labels = ["bonafide"] * (n // 2) + ["spoof"] * (n // 2)
    manifest = pd.DataFrame(
        {
            "utt_id": [f"{name}_{i}" for i in range(n)],
            "path": "-",
            "speaker": "s",
            "label": labels,
            "attack": ["-"] * (n // 2) + ["A01", "A02"] * (n // 4),
            "condition": "-",
            "split": name,
            "duration_s": 1.0,
            "sample_rate": 16000,
            "channels": 1,
        }
    )
    scores = rng.normal(size=n) + np.where(manifest["label"] == "bonafide", shift, 0.0)
    (tmp_path / "m" / "c").mkdir(parents=True, exist_ok=True)
    (tmp_path / "s").mkdir(exist_ok=True)
    manifest.to_csv(tmp_path / "m" / "c" / f"{name}.csv", index=False)
    pd.DataFrame({"u": manifest["utt_id"], "s": scores}).to_csv(
        tmp_path / "s" / f"{name}.txt", sep=" ", header=False, index=False
    )
    return manifest


def test_calibration_is_fitted_on_dev_and_applied_to_eval(tmp_path):
    write_set(tmp_path, "dev", seed=1)
    write_set(tmp_path, "eval", seed=2)
    (tmp_path / "s" / "dev.txt").rename(tmp_path / "s" / "devscores.txt")
    cal = fit_dev_calibration(tmp_path / "s" / "devscores.txt", tmp_path / "m" / "c" / "dev.csv")
    assert cal[0] > 0, "higher raw score = more bona fide must stay so after calibration"
    sets = [EvalSet(corpus="c", split="eval", id="eval", name="c:eval")]
    out = evaluate_eval_sets(
        sets, tmp_path / "s", tmp_path / "m", ci=False, n_resamples=10, seed=0, calibration=cal
    )
    m = out["c:eval"]
    assert m["calibration"] == {"a": cal[0], "b": cal[1]}
    assert m["eer"] == pytest.approx(evaluate_eval_sets(sets, tmp_path / "s", tmp_path / "m", ci=False,
                                                        n_resamples=10, seed=0)["c:eval"]["eer"])
    assert set(m["per_attack"]) == {"A01", "A02"}


def test_score_file_not_matching_the_manifest_is_an_error(tmp_path):
    write_set(tmp_path, "eval")
    lines = (tmp_path / "s" / "eval.txt").read_text().splitlines()
    (tmp_path / "s" / "eval.txt").write_text("\n".join(lines[:-1]) + "\n")
    sets = [EvalSet(corpus="c", split="eval", id="eval", name="c:eval")]
    with pytest.raises(ValueError, match=r"eval\.txt: 1 trials missing \(first \['eval_39'\]\)"):
        evaluate_eval_sets(sets, tmp_path / "s", tmp_path / "m", ci=False, n_resamples=10, seed=0)
