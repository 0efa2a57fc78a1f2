"""Cost of the whole layer-wise probing sweep against one extraction pass (issue 12).

A WavLM Base size backbone (transformers' ``WavLMConfig()`` defaults: 12 layers, width 768, 512-channel
conv encoder, about 94M parameters), randomly initialised (nothing is downloaded), on 100 demo
utterances cut or repeat-padded to 4 s (the demo's eval split when ``data/manifests/demo/eval.csv``
exists, else freshly synthesised demo-style bona fide speech with alternating labels), 2 threads:

- **one extraction pass**: one forward pass per utterance (batches of 4) keeping one layer's output,
  pooled over time: what extracting features of a single layer costs;
- **the whole sweep**: the same forward pass keeping all 13 hidden states pooled (mean and std,
  float16; :func:`sdd.probing.features.extract_split`), then every probe of
  :func:`sdd.probing.probes.run_probes` on it: 13 per-layer probes, 12 concatenated and 12 LinM
  cumulative probes, each over the default L2 grid of 5 strengths chosen on dev, with 1,000-resample
  bootstrap CIs on dev and eval (utterances split 50 train / 25 dev / 25 eval, both classes in each).

The naive alternative, one extraction per layer, costs about 13x the single pass. Both passes are timed
twice, alternating, and the median of each is kept (the machine may be shared). Target: sweep /
single pass <= 1.3x. Headline line: ``RESULT probe_cost_ratio=<value> x target=<=1.3``.

Run: ``.venv/bin/python benchmarks/probe_cost.py [--utterances N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sdd.core.paths import resolve
from sdd.probing.features import extract_split
from sdd.probing.probes import run_probes

SR, SECONDS, BATCH = 16000, 4.0, 4
L2_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


def _utterances(n: int, tmp: Path) -> pd.DataFrame:
    manifest = resolve("data/manifests/demo/eval.csv")
    if manifest.is_file():
        df = pd.read_csv(manifest, keep_default_na=False)
        bona, spoof = df[df.label == "bonafide"], df[df.label == "spoof"]
        return pd.concat([bona.head(n // 2), spoof.head(n - n // 2)]).sample(frac=1, random_state=0)
    from sdd.audio.io import write_audio
    from sdd.data.demo.synthesis import make_voice, synthesize_clean

    rng, rows = np.random.default_rng(0), []
    for i in range(n):
        wave = synthesize_clean(make_voice(rng), int(SR * SECONDS), SR, rng)
        if i % 2:  # a crude 'spoof': the same voice, band-limited by a moving average
            wave = np.convolve(wave, np.ones(4) / 4, mode="same")
        write_audio(tmp / f"u{i}.flac", wave.astype(np.float32), SR)
        rows.append(
            {"utt_id": f"u{i}", "path": str(tmp / f"u{i}.flac"), "label": "spoof" if i % 2 else "bonafide"}
        )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utterances", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(2)
    from transformers import WavLMConfig, WavLMModel

    torch.manual_seed(0)
    model = WavLMModel(WavLMConfig()).eval()
    n_layers = model.config.num_hidden_layers
    print(
        f"WavLM Base size, random init: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, "
        f"{n_layers} layers"
    )

    def one_layer(x):
        return [model(x).last_hidden_state]

    def all_layers(x):
        return model(x, output_hidden_states=True).hidden_states

    with tempfile.TemporaryDirectory() as tmp:
        manifest = _utterances(args.utterances, Path(tmp))
        n = int(SR * SECONDS)
        single, sweep_extract, sweep_probe = [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            extract_split(one_layer, manifest, num_samples=n, batch_size=BATCH)
            single.append(time.perf_counter() - start)
            start = time.perf_counter()
            feats = extract_split(all_layers, manifest, num_samples=n, batch_size=BATCH)
            sweep_extract.append(time.perf_counter() - start)
            y = (manifest["label"] == "bonafide").to_numpy().astype(np.int64)
            order = np.r_[np.flatnonzero(y == 1), np.flatnonzero(y == 0)]
            # 50 / 25 / 25, both classes in every split
            idx = {
                "train": np.r_[order[0:25], order[50:75]],
                "dev": np.r_[order[25:38], order[75:87]],
                "eval": np.r_[order[38:50], order[87:100]],
            }
            start = time.perf_counter()
            out = run_probes(
                {s: feats[i] for s, i in idx.items()},
                {s: y[i] for s, i in idx.items()},
                L2_GRID,
                n_resamples=1000,
                seed=0,
            )
            sweep_probe.append(time.perf_counter() - start)
    t1, te, tp = statistics.median(single), statistics.median(sweep_extract), statistics.median(sweep_probe)
    probes = sum(len(v) for v in out.values())
    print(f"{'':34s}{'seconds':>10s}")
    print(f"{'one extraction pass (1 layer)':34s}{t1:10.1f}")
    print(f"{'sweep: extraction (13 states)':34s}{te:10.1f}")
    print(f"{f'sweep: {probes} probes x {len(L2_GRID)} L2 + CIs':34s}{tp:10.1f}")
    print(f"{'sweep: total':34s}{te + tp:10.1f}")
    print(
        f"{'naive: one extraction per layer':34s}{t1 * (n_layers + 1):10.1f}"
        f"  (estimated, {n_layers + 1} passes)"
    )
    print(
        f"runs: single {[round(t, 1) for t in single]}, "
        f"sweep extraction {[round(t, 1) for t in sweep_extract]}, "
        f"probes {[round(t, 1) for t in sweep_probe]}"
    )
    print(f"RESULT probe_cost_ratio={(te + tp) / t1:.3f} x target=<=1.3")


if __name__ == "__main__":
    main()
