"""LoRA vs full fine-tuning (issue 10): trainable parameters, training step time and peak memory.

Two randomly initialised configs built with ``AutoModel.from_config`` (nothing is downloaded):

- **base**: WavLM Base size (transformers' ``WavLMConfig()`` defaults: 12 layers, width 768,
  intermediate 3072, 512-channel conv encoder; about 94M parameters);
- **300m**: XLS-R 300M size (24 layers, width 1024, intermediate 4096, 16 heads, pre-LN, layer-norm
  conv encoder; about 315M parameters).

Each gets our :class:`sdd.models.detector.Detector` with the linear head, once with ``finetune:
full`` and once with ``finetune: lora`` (r=8, alpha=16, q_proj and v_proj in every layer, peft).
Trainable parameters are counted for both configs. Step time and peak memory are measured on the
base config, each variant in its own subprocess (peak RSS only grows within a process): a training
step is forward + cross-entropy + backward + Adam over the parameters that require grad, on a batch
of 2 x 2 s at 16 kHz, 2 threads, LayerDrop and masking off. Peak memory is the subprocess's
peak RSS (``VmHWM``, :func:`sdd.core.stage.peak_rss_mb`); the table also shows it above the subprocess's
RSS after its imports (torch, transformers, peft), before the model exists. (``ru_maxrss`` would not
do: on Linux a child's starts from its parent's RSS at fork and survives exec.)

Targets: >= 198x fewer trainable parameters on the 300M config (the LoRA paper's figure, Wang et al.
2023; r=8 on q and v gives about 400x) and LoRA peak training memory <= 0.6x full fine-tuning.

Run: ``.venv/bin/python benchmarks/lora_efficiency.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from sdd.core.stage import peak_rss_mb
from sdd.models.detector import Detector, parameter_counts
from sdd.models.params import LoraParams, ModelParams

LORA = LoraParams(r=8, alpha=16, dropout=0.0, target_modules=("q_proj", "v_proj"))
BATCH, SAMPLES, THREADS = 2, 32000, 2


def make_config(size: str):
    """A transformers config of the given size (random init; SpecAugment masking and LayerDrop off)."""
    from transformers import Wav2Vec2Config, WavLMConfig

    off = dict(apply_spec_augment=False, mask_time_prob=0.0, layerdrop=0.0)
    if size == "base":
        return WavLMConfig(**off)
    if size == "300m":  # facebook/wav2vec2-xls-r-300m's architecture
        return Wav2Vec2Config(
            hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
            do_stable_layer_norm=True, feat_extract_norm="layer", conv_bias=True, **off,
        )  # fmt: skip
    raise ValueError(f"size: got {size!r}; expected 'base' or '300m'")


def build(size: str, finetune: str) -> Detector:
    from transformers import AutoModel

    torch.manual_seed(0)
    return Detector(AutoModel.from_config(make_config(size)), ModelParams(finetune=finetune, lora=LORA))


def count(size: str) -> dict[str, dict[str, int]]:
    """Trainable and total parameters of full fine-tuning and LoRA on one backbone instance."""
    full = build(size, "full")
    out = {"full": parameter_counts(full)}
    # LoRA on the same (already built) backbone: Detector freezes it and injects the adapters in place.
    lora = Detector(full.backbone, ModelParams(finetune="lora", lora=LORA))
    out["lora"] = parameter_counts(lora)
    return out


def _rss_mb() -> float:
    """Current resident set size (MiB), Linux; the peak where /proc is absent."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    except OSError:
        return peak_rss_mb()


def measure(size: str, finetune: str, steps: int) -> dict[str, float]:
    """One variant's training steps in this process: step seconds and peak RSS (MiB)."""
    import peft  # noqa: F401  # imported before the baseline RSS is read: the LoRA variant needs it

    torch.set_num_threads(THREADS)
    rss_imports = _rss_mb()
    model = build(size, finetune).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-5)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(BATCH, SAMPLES, generator=gen), torch.tensor([0, 1])
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:  # the first step allocates Adam's state: not timed
            times.append(time.perf_counter() - t0)
    return {"step_s": statistics.median(times), "peak_rss_mb": peak_rss_mb(), "rss_imports_mb": rss_imports}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5, help="timed training steps per variant")
    ap.add_argument("--measure", nargs=2, metavar=("SIZE", "FINETUNE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:  # the subprocess
        print(json.dumps(measure(*args.measure, args.steps)))
        return

    runs = {}
    for finetune in ("full", "lora"):  # first, while this process is small (see the module docstring)
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", "base", finetune, "--steps", str(args.steps)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        runs[finetune] = json.loads(proc.stdout.strip().splitlines()[-1])
    counts = {size: count(size) for size in ("base", "300m")}

    print(f"LoRA r={LORA.r}, alpha={LORA.alpha}, {list(LORA.target_modules)} in every layer; linear head")
    print(f"{'config':<8} {'variant':<6} {'trainable':>13} {'total':>13} {'step s':>8} {'peak RSS MiB':>13} "
          f"{'above imports':>14}")
    for size in ("base", "300m"):
        for finetune in ("full", "lora"):
            c, r = counts[size][finetune], runs.get(finetune) if size == "base" else None
            timing = f"{'-':>8} {'-':>13} {'-':>14}"
            if r:
                above = r["peak_rss_mb"] - r["rss_imports_mb"]
                timing = f"{r['step_s']:>8.2f} {r['peak_rss_mb']:>13.0f} {above:>14.0f}"
            n_train, n_total = c["trainable_parameters"], c["total_parameters"]
            print(f"{size:<8} {finetune:<6} {n_train:>13,} {n_total:>13,} {timing}")
    c300 = counts["300m"]
    reduction = c300["full"]["trainable_parameters"] / c300["lora"]["trainable_parameters"]
    ratio = runs["lora"]["peak_rss_mb"] / runs["full"]["peak_rss_mb"]
    above = (runs["lora"]["peak_rss_mb"] - runs["lora"]["rss_imports_mb"]) / (
        runs["full"]["peak_rss_mb"] - runs["full"]["rss_imports_mb"]
    )
    print(f"base step time LoRA / full: {runs['lora']['step_s'] / runs['full']['step_s']:.2f}x; "
          f"peak RSS above imports LoRA / full: {above:.2f}x")
    print(f"RESULT lora_param_reduction_300m={reduction:.0f} x target=>=198")
    print(f"RESULT lora_peak_memory_ratio_base={ratio:.2f} x target=<=0.6")


if __name__ == "__main__":
    main()
