"""Synthetic report inputs: speaker-structured trials and seed runs for several systems, shared by the
report's tests (``tests/report/``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sdd.core.sections import ReportParams
from sdd.evaluation.trials import evaluate_trials
from sdd.report.inputs import ReportInput, SeedRun

STATS = ReportParams(
    reference="main", n_resamples=200, seed=0, alpha=0.05, block_by_speaker=True, shortcut_factor=2.0
)
ATTACKS = ("A01", "A02", "A05")


def make_trials(
    rng: np.random.Generator, shift: float, n_speakers: int = 12, per_speaker: int = 10
) -> pd.DataFrame:
    """Speaker-structured synthetic trials: bona fide ~ N(shift + speaker offset, 1), spoof ~ N(0, 1)."""
    rows = []
    for spk in range(n_speakers):
        offset = rng.normal(0, 0.3)
        for i in range(per_speaker):
            bona = i % 2 == 0
            attack = "-" if bona else ATTACKS[(i // 2) % len(ATTACKS)]
            score = rng.normal(shift + offset if bona else offset, 1.0)
            rows.append(
                {
                    "utt_id": f"u{spk:02d}_{i:02d}",
                    "score": float(np.round(score, 8)),
                    "label": "bonafide" if bona else "spoof",
                    "speaker": f"spk{spk}",
                    "attack": attack,
                }
            )
    return pd.DataFrame(rows)


def seed_run(trials: dict[str, pd.DataFrame], seed: int, conflict: bool = False) -> SeedRun:
    steps = np.arange(40)
    tele = pd.DataFrame({"step": steps, "epoch": steps // 20, "loss": 1 / (1 + steps)})
    if conflict:
        tele["cos"] = np.cos(steps + seed)
        tele["conflict"] = (tele["cos"] < 0).astype(float)
    return SeedRun(
        seed=seed,
        eval={s: evaluate_trials(t, ci=True, n_resamples=50) for s, t in trials.items()},
        train={
            "epochs": 2,
            "seconds": 10.0 + seed,
            "trainable_parameters": 100,
            "total_parameters": 120,
            "peak_rss_mb": 500.0,
            "best_dev_loss": 0.4,
            **({"conflict_ratio": 0.3} if conflict else {}),
        },
        epochs=pd.DataFrame({"epoch": [0, 1], "dev_loss": [0.5, 0.4], "train_loss": [0.7, 0.6]}),
        telemetry=tele,
        trials=trials,
        source=f"seed {seed}",
    )


def make_input(shifts: dict[str, float], seeds=(0, 1, 2), audit=None, same_scores=()) -> ReportInput:
    """Systems with bona fide shifted by ``shifts[system]``; every seed and system on the same trials.
    Systems in ``same_scores`` reuse main's scores per seed (an A/A pair)."""
    systems = {}
    for k, (name, shift) in enumerate(shifts.items()):
        systems[name] = {}
        for seed in seeds:
            src = "main" if name in same_scores else name
            rng = np.random.default_rng(1000 * seed + (0 if src == "main" else 17 * k + 1))
            trials = {"demo:eval": make_trials(rng, shift if src == name else shifts["main"])}
            systems[name][seed] = seed_run(trials, seed, conflict=name != "main")
    return ReportInput(
        systems=systems,
        configs={n: {"align": "pcgrad" if n == "aligned" else "none"} for n in shifts},
        eval_sets=["demo:eval"],
        reference="main",
        stats=STATS,
        audit=audit or {},
        seen_attacks={"A01", "A02"},
        title="test report",
    )
