"""metrics_differences: what `benchmarks/same_metrics.py` reports when two runs must agree."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from sdd.report.stats import MACHINE_KEYS, metrics_differences

REPO = Path(__file__).resolve().parents[2]

DOC = {
    "main": {
        "demo:eval": {"eer": 0.125, "eer_ci95": [0.1, 0.15], "n": 600, "cllr": float("nan")},
        "train": {"seconds": 41.1, "peak_rss_mb": 1148.3, "epochs": 4},
    },
    "probing": {"pretrain": {"cpu_seconds": 38.6, "best_layer": 2}},
}


def test_identical_documents_and_machine_keys_do_not_count():
    other = json.loads(json.dumps(DOC, allow_nan=True))
    other["main"]["train"].update(seconds=52.3, peak_rss_mb=1123.0)
    other["probing"]["pretrain"]["cpu_seconds"] = 47.3
    assert metrics_differences(DOC, other) == []
    assert {"seconds", "cpu_seconds", "peak_rss_mb"} <= MACHINE_KEYS


def test_every_kind_of_difference_is_named_by_its_path():
    other = json.loads(json.dumps(DOC, allow_nan=True))
    other["main"]["demo:eval"]["eer"] = 0.125 + 1e-12  # exact comparison: no tolerance
    other["main"]["demo:eval"]["eer_ci95"][1] = 0.16
    other["main"]["train"]["epochs"] = 4.0  # same number, other type: a changed schema
    del other["probing"]["pretrain"]["best_layer"]
    other["lora"] = {}
    diffs = {path: (a, b) for path, a, b in metrics_differences(DOC, other)}
    assert set(diffs) == {
        "/main/demo:eval/eer", "/main/demo:eval/eer_ci95/1", "/main/train/epochs",
        "/probing/pretrain/best_layer", "/lora",
    }
    assert diffs["/probing/pretrain/best_layer"] == (2, "<missing>")
    assert diffs["/lora"] == ("<missing>", {})
    assert math.isnan(DOC["main"]["demo:eval"]["cllr"])  # NaN == NaN held above


def test_script_exit_code_and_result_line(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(DOC))
    b.write_text(json.dumps({**DOC, "extra": 1}))
    script = [sys.executable, str(REPO / "benchmarks" / "same_metrics.py")]
    same = subprocess.run([*script, str(a), str(a)], capture_output=True, text=True)
    assert same.returncode == 0 and "RESULT metrics_differing=0 compared=7 " in same.stdout
    differ = subprocess.run([*script, str(a), str(b)], capture_output=True, text=True)
    assert differ.returncode == 1 and "/extra: '<missing>' -> 1" in differ.stdout
    missing = subprocess.run([*script, str(a), str(tmp_path / "none.json")], capture_output=True, text=True)
    assert missing.returncode != 0 and "none.json: cannot read metrics" in missing.stderr
