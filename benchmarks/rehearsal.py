"""Full-size rehearsal of every paper preset on CPU (issue 23, item 3), and what a real run would cost.

For each ``presets/<name>.yaml``, in its own subprocess (one after another: peak RSS is per process),
the preset is resolved by the plan exactly as ``dvc exp run -S preset=<name> -S corpus=la19`` resolves
it (its arm ``main``), then :func:`sdd.train.rehearsal.rehearse` builds its real architecture
(XLS-R 300M or WavLM Large, random weights, from :mod:`sdd.train.architectures`: no download) and
runs two optimizer steps of its own training step per stage on CPU, on white-noise crops of the
preset's ``train.crop_samples``, with 1 utterance per path for two-path regimes and 2 otherwise
(2 crops per step either way). The plan's check that a hub id is in the local cache is replaced by
a check that it is one of the published architectures, since nothing is loaded from the cache.

Printed per preset: total and trainable parameters (and the count computed from the config), the
verdict, FLOPs per training step per utterance (``torch.utils.flop_counter.FlopCounterMode``; per
training utterance: a two-path step's FLOPs count its clean and augmented crop), peak RSS of the
subprocess, and an estimate for the full recipe on one 80 GB GPU:

- **GPU-hours** = FLOPs of the whole recipe / (utilisation x peak). The recipe: ``train.epochs``
  epochs (an upper bound where early stopping may end the run sooner) of the 25,380 ASVspoof 2019 LA
  train utterances at the measured FLOPs per utterance (a head-only first stage at its own), plus one
  forward over the 24,844 dev utterances per epoch at the measured dev forward. Assumed: an A100 80 GB,
  312 TFLOP/s dense bf16 peak, at 40 % of it (125 TFLOP/s sustained). Scoring the eval sets is not
  included.
- **GPU memory** = the rehearsal's peak RSS above the RSS after imports, minus the bytes autograd saved
  for the rehearsed step's backward, plus those bytes scaled to the preset's batch (utterances per step).
  It is an fp32 estimate (bf16 autocast would roughly halve the activations) without the CUDA context.

Then ``RESULT rehearsal_presets_ok=<passed>/<presets> target=all`` and
``RESULT lora_xlsr_param_reduction=<x> target=190-210``: (backbone + head) / (adapters + head) of
``lora_xlsr``, from its rehearsed model's measured counts (total parameters minus adapters, over the
trainable ones).

Run: ``.venv/bin/python benchmarks/rehearsal.py [--presets a,b] [--json out.json]``. Each preset
needs up to about 10 GB and 1-4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import sdd  # noqa: E402,F401  # before torch (GOMP_SPINCOUNT)

#: ASVspoof 2019 LA split sizes (the CM protocols' line counts).
LA19_TRAIN, LA19_DEV = 25_380, 24_844
#: The GPU the estimate assumes: A100 80 GB, dense bf16 peak (NVIDIA's A100 datasheet), and utilisation.
GPU_NAME, GPU_PEAK_TFLOPS, UTILISATION = "A100 80 GB", 312.0, 0.40
#: The authors' own statement of a training cost, per paper (their READMEs and configuration files in
#: ../shared/data/authors, and the LoRA abstract): none states a time or a GPU model.
AUTHORS_COST = {
    "ssl_aasist": "not reported (SSL_Anti-spoofing README and main_SSL_*.py)",
    "dpda": "not reported (dpda_ga README and main.py)",
    "attm": "not reported (AttM README; main_antispoof.py trains on num_GPU = 1)",
    "lora": "not reported (Wang et al. 2023 abstract; no code)",
}


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def load_arm(name: str):
    """The preset's arm ``main``, resolved by the plan (published architectures stand in for the cache)."""
    from sdd.core.yamlfile import read_yaml
    from sdd.plan import arms as plan_arms
    from sdd.plan.assemble import validate_params
    from sdd.train.architectures import PUBLISHED_ARCHITECTURES

    def published_only(backbone: str) -> None:
        if backbone not in PUBLISHED_ARCHITECTURES:
            raise ValueError(
                f"backbone {backbone!r}: not a published architecture of sdd.train.architectures"
            )

    plan_arms.check_backbone_name = published_only
    raw = read_yaml(REPO / "params.yaml")
    raw.update(preset=name, preset_overrides={}, corpus="la19")
    return validate_params(raw, REPO / "presets").arms["main"]


def child(name: str) -> dict:
    """One preset's rehearsal in this process."""
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from sdd.core.stage import peak_rss_mb
    from sdd.train.rehearsal import rehearse

    arm = load_arm(name)
    if arm.model.finetune == "lora":
        import peft  # noqa: F401  # imported before the baseline RSS
    rss_imports = _rss_mb()
    per_path = 1 if arm.regime in ("augmented", "dual_path") else 2
    t0 = time.time()
    out = rehearse(arm, per_path=per_path, steps_per_epoch=-(-LA19_TRAIN // arm.train.batch_size))
    stages = []
    for s in out["stages"]:
        stages.append(
            {
                k: getattr(s, k)
                for k in (
                    "stage",
                    "losses",
                    "trainable",
                    "analytic",
                    "trainable_tensors",
                    "frozen_tensors",
                    "skipped_by_layerdrop",
                    "unused_by_design",
                    "problems",
                    "flops_step",
                    "saved_bytes",
                    "utterances",
                    "seconds",
                )
            }
        )
    return {
        "preset": name,
        "backbone": arm.backbone,
        "regime": arm.regime,
        "align": arm.align,
        "head": arm.model.head,
        "finetune": arm.model.finetune,
        "optimizer": arm.train.optimizer,
        "forward": out["forward"],
        "batch_size": arm.train.batch_size,
        "epochs": arm.train.epochs,
        "head_epochs": arm.train.freeze_backbone_epochs,
        "crop_samples": arm.train.crop_samples,
        "per_path": per_path,
        "parameters": out["parameters"],
        "dev_flops_per_utterance": out["dev_flops_per_utterance"],
        "stages": stages,
        "rss_imports_mb": rss_imports,
        "peak_rss_mb": peak_rss_mb(),
        "seconds": time.time() - t0,
    }


def estimate(r: dict) -> dict:
    """GPU-hours and memory of the full recipe (module docstring)."""
    per_stage = {s["stage"]: s for s in r["stages"]}
    per_step_utts = r["batch_size"] * (2 if r["regime"] in ("augmented", "dual_path") else 1)
    flops, memory = 0.0, 0.0
    for s in r["stages"]:
        epochs = r["head_epochs"] if s["stage"] == "head" else r["epochs"] - r["head_epochs"]
        per_utt = s["flops_step"] / (
            s["utterances"] / (2 if r["regime"] in ("augmented", "dual_path") else 1)
        )
        flops += epochs * (LA19_TRAIN * per_utt + LA19_DEV * r["dev_flops_per_utterance"])
        static = r["peak_rss_mb"] - r["rss_imports_mb"] - s["saved_bytes"] / 2**20
        memory = max(memory, static + s["saved_bytes"] / 2**20 * per_step_utts / s["utterances"])
    seconds = flops / (UTILISATION * GPU_PEAK_TFLOPS * 1e12)
    full = per_stage["full"]
    return {
        "flops_per_utterance": full["flops_step"]
        * (2 if r["regime"] in ("augmented", "dual_path") else 1)
        / full["utterances"],
        "recipe_flops": flops,
        "gpu_hours": seconds / 3600,
        "gpu_memory_gb": memory / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="", help="comma-separated names (default: every preset)")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    from sdd.plan.presets import preset_names

    names = [n for n in args.presets.split(",") if n] or preset_names(REPO / "presets")
    results = []
    for name in names:
        proc = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name}: the rehearsal failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
            results.append({"preset": name, "error": proc.stderr.strip().splitlines()[-1:]})
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["estimate"] = estimate(r)
        results.append(r)
        print(_line(r), flush=True)
    passed = sum(1 for r in results if "error" not in r and all(not s["problems"] for s in r["stages"]))
    print(
        f"\nGPU estimate: {GPU_NAME}, {GPU_PEAK_TFLOPS:g} TFLOP/s dense bf16 peak at {UTILISATION:.0%}; "
        f"{LA19_TRAIN:,} train + {LA19_DEV:,} dev utterances (19LA) per epoch, train.epochs epochs (a bound "
        "where early stopping applies)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(f"RESULT rehearsal_presets_ok={passed}/{len(names)} target=all")
    lora = next((r for r in results if r.get("preset") == "lora_xlsr" and "error" not in r), None)
    if lora is not None:
        from sdd.train.architectures import lora_parameters

        arm = load_arm("lora_xlsr")
        adapters = lora_parameters(arm.backbone, arm.model.lora.r, arm.model.lora.target_modules)
        trainable = lora["stages"][-1]["trainable"]
        ratio = (lora["parameters"] - adapters) / trainable
        print(f"RESULT lora_xlsr_param_reduction={ratio:.1f} target=190-210")
    return 0 if passed == len(names) else 1


def authors_cost(preset: str) -> str:
    """The authors' stated cost of ``preset``'s paper (:data:`AUTHORS_COST`, by the preset's prefix)."""
    return next(
        (v for k, v in AUTHORS_COST.items() if preset.startswith(k)), "no paper known for this preset"
    )


def _stage_text(s: dict) -> str:
    notes = ["PASS" if not s["problems"] else f"FAIL {s['problems']}"]
    if s["skipped_by_layerdrop"]:
        notes.append(f"{len(s['skipped_by_layerdrop'])} tensors in layers LayerDrop skipped")
    if s["unused_by_design"]:
        notes.append(f"{len(s['unused_by_design'])} tensors unused by design")
    losses = ", ".join(f"{x:.4f}" for x in s["losses"])
    return (
        f"{s['stage']}: trainable {s['trainable']:,} (config {s['analytic']:,}), losses {losses}, "
        f"{', '.join(notes)}, step {s['seconds'][-1]:.1f} s"
    )


def _line(r: dict) -> str:
    e, gb = r["estimate"], 1024
    return (
        f"{r['preset']}: {r['parameters']:,} parameters; {'; '.join(_stage_text(s) for s in r['stages'])}; "
        f"{e['flops_per_utterance'] / 1e9:.0f} GFLOP/utterance/step; peak RSS {r['peak_rss_mb'] / gb:.1f} GB "
        f"(after imports {r['rss_imports_mb'] / gb:.1f}); GPU {e['gpu_hours']:.1f} h, "
        f"{e['gpu_memory_gb']:.0f} GB; authors' cost: {authors_cost(r['preset'])}; {r['seconds']:.0f} s"
    )


if __name__ == "__main__":
    raise SystemExit(main())
