"""The augmentation figures (sdd.augment.figures): op spectrograms and drawn-parameter histograms."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from sdd.augment.figures import drawn_values, plot_op_spectrograms, plot_param_distributions
from sdd.augment.params import AugmentParams
from sdd.augment.policies import build_policy

SR = 16000


def _wave():
    t = np.arange(SR) / SR
    x = 0.5 * np.sin(2 * np.pi * 220 * t) * np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    return x.astype(np.float32)


def test_drawn_values_flattens_by_op():
    _, drawn = build_policy(AugmentParams(policy="rawboost4"))(_wave(), SR, np.random.default_rng(0))
    vals = drawn_values(json.dumps(drawn))
    assert len(vals["lnl.fc_hz"]) == 25 and len(vals["lnl.gain_db"]) == 5 and len(vals["ssi.snr_db"]) == 1
    assert 0 <= vals["isd.beta_pct"][0] <= 10
    nested = {"chain": [{"one_of": 2, "chosen": {"op": "noise", "snr_db": 7.0}}, {"applied": False}]}
    assert drawn_values(nested) == {"noise.snr_db": [7.0]}


def test_figures_are_written(tmp_path):
    plot_op_spectrograms(_wave(), SR, tmp_path / "ops.png", seed=1)
    policy = build_policy(AugmentParams(policy="noise_reverb"))
    rng = np.random.default_rng(0)
    params = [json.dumps(policy(_wave()[:4000], SR, rng)[1]) for _ in range(20)]
    plot_param_distributions(pd.DataFrame({"params": params, "policy": "noise_reverb"}), tmp_path / "p.png")
    for name in ("ops.png", "p.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
