"""Report rendering and the MLflow flatten/unflatten round trip used by `sdd compare`."""

import numpy as np
import pandas as pd

from sdd.report.build import collect_metrics, eer_table, render_markdown, write_report
from sdd.report.compare import unflatten_eval_metrics
from sdd.tracking import _key, flatten

EVAL = {"demo:eval": {"eer": 0.1, "eer_ci95": [0.08, 0.12], "min_dcf": 0.3, "act_dcf": 0.5, "cllr": 0.7,
                      "per_attack": {"A01": 0.05, "A05": 0.2}, "n_bonafide": 10, "n_spoof": 20}}


def test_flatten_then_unflatten_is_identity():
    flat = {_key(k): v for k, v in flatten(EVAL).items()}
    assert "demo/eval.per_attack.A01" in flat and "demo/eval.eer_ci95.1" in flat
    assert unflatten_eval_metrics(flat) == EVAL


def test_collect_metrics_shape_matches_design():
    m = collect_metrics(
        {"main": EVAL},
        {"main": {"summary": {"conflict_ratio": 0.25, "epochs": 3, "seconds": 9.0, "steps": 1}}},
        {"demo:eval": {"eer": 0.3, "per_attack": {"A01": 0.3}}},
    )
    assert m["main"]["demo:eval"]["eer"] == 0.1
    assert m["main"]["train"] == {"conflict_ratio": 0.25, "epochs": 3, "seconds": 9.0}
    assert m["hand_features"]["demo:eval"]["eer"] == 0.3


def test_eer_table_is_percent_with_ci():
    table = eer_table({"main": EVAL}, ["demo:eval"])
    assert table.loc["main", "demo:eval"] == "10.00 [8.00, 12.00]"
    md = render_markdown([("table", table)])
    assert "| main | 10.00 [8.00, 12.00] |" in md


def test_write_report_renders_markdown_html_and_figures(tmp_path):
    metrics = collect_metrics(
        {"main": EVAL, "other": EVAL}, {}, {"demo:eval": {"eer": 0.3, "per_attack": {"A01": 0.3}}}
    )
    steps = np.arange(30)
    tele = {
        "main": pd.DataFrame(
            {
                "step": steps,
                "loss": 1 / (1 + steps),
                "cos": np.cos(steps),
                "conflict": (np.cos(steps) < 0) * 1.0,
            }
        )
    }
    epochs = {"main": pd.DataFrame({"epoch": [0, 1], "dev_loss": [0.7, 0.5]})}
    write_report(
        metrics,
        ["demo:eval"],
        tele,
        epochs,
        tmp_path / "README.md",
        tmp_path / "index.html",
        tmp_path / "figures",
    )
    md, html = (tmp_path / "README.md").read_text(), (tmp_path / "index.html").read_text()
    assert "figures/eer.png" in md and "<img" in html and "<table" in html
    for name in ("eer.png", "loss.png", "conflict.png", "per_attack_demo__eval.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 1000


def test_eer_figure_gets_eval_sets_only(tmp_path, monkeypatch):
    from sdd.report import figures

    seen = {}
    monkeypatch.setattr(figures, "plot_eer_bars", lambda eers, path, reference=None: seen.update(eers))
    metrics = collect_metrics({"main": EVAL}, {"main": {"summary": {"epochs": 1}}}, {})
    write_report(
        metrics, ["demo:eval"], {}, {}, tmp_path / "README.md", tmp_path / "index.html", tmp_path / "f"
    )
    assert set(seen["main"]) == {"demo:eval"}, "the training summary must not be drawn as an eval set"
