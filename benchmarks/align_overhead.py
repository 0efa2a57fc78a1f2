"""Cost of a dual-path step with each aligner, against the plain pooled step, on CPU.

Usage: ``python benchmarks/align_overhead.py [--models base,tiny] [--steps 10] [--no-memory]``

A step is forward + backward + combination + optimizer step (Adam), without data loading or
telemetry. Variants, timed interleaved (one step of each in turn, ``--steps`` rounds after one
warm-up round) on the same model, median per variant:

- ``pooled``: the plain step, one forward over ``cat([x_clean, x_aug])`` (2B) and one backward of
  the pooled weighted CE (DPDA's "without alignment" baseline, plain PyTorch);
- ``dual <aligner>``: this repo's engine, ``train.dual_path.forward: separate`` (one forward/backward
  per path into two gradient buffers), the aligner at its default granularity, applied in place;
- ``dual pcgrad, joint``: the engine's ``joint`` path (forward over 2B, two backward passes, the first
  retaining the graph; what BatchNorm models take), per-tensor buffers;
- ``two passes + flatten``: two per-path passes with every gradient flattened into one vector per path
  and written back, i.e. the previous engine;
- ``paper (DPDA)``: DPDA-GA's step, one forward over 2B, two backward passes with ``retain_graph``,
  each path's gradients cloned and flattened, PCGrad on the flat vectors, unflattened copies written
  back.

Models: ``base`` is a WavLM-base-size backbone (transformers' WavLMConfig defaults: 7-layer conv
encoder of width 512, 12 layers of width 768, random init) with the linear head, B = 2 utterances per
path, 2 s at 16 kHz; ``tiny`` is the demo's tiny WavLM with the demo's batch (16 per path, 2 s).
Peak memory: the peak resident set size of a fresh process that builds the model and runs three
steps of one variant (its ``VmHWM``; includes the model and Adam's state, which all variants share).

Headline: ``RESULT pcgrad_step_ratio_base=<x> x target=<=1.15`` (dual path + PCGrad, global, over the
pooled step, on the base model).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdd.models.backbone import build_backbone  # noqa: E402
from sdd.models.detector import Detector  # noqa: E402
from sdd.models.params import ModelParams, TinyBackboneParams  # noqa: E402
from sdd.train.align import make_aligner  # noqa: E402
from sdd.train.align.core import align_  # noqa: E402
from sdd.train.align.pcgrad import pcgrad  # noqa: E402
from sdd.train.params import AlignerParams, resolve_aligner  # noqa: E402
from sdd.train.step import AUG, CLEAN, Buffers, accumulate_dual  # noqa: E402

TARGET = 1.15
SAMPLES = 32000  # 2 s at 16 kHz
VARIANTS = ("pooled", "dual none", "dual pcgrad", "dual gradvac", "dual cagrad", "dual gr",
            "dual pcgrad, joint", "two passes + flatten", "paper (DPDA)")
PATHS = {"pooled": "pooled", "two passes + flatten": "separate", "paper (DPDA)": "joint",
         "dual pcgrad, joint": "joint"}


def build_model(name: str) -> tuple[Detector, int]:
    """The detector and the utterances per path of model ``name`` (random init, seeded)."""
    torch.manual_seed(0)
    if name == "base":
        from transformers import AutoModel, WavLMConfig

        cfg = WavLMConfig(apply_spec_augment=False, mask_time_prob=0.0, layerdrop=0.0)
        return Detector(AutoModel.from_config(cfg), ModelParams()), 2
    tiny = TinyBackboneParams()  # the demo's sizes (params.yaml model.tiny)
    return Detector(build_backbone("tiny-wavlm", tiny), ModelParams(tiny=tiny)), 16


class Bench:
    """One model, one Adam optimizer and one step function per variant."""

    def __init__(self, model_name: str) -> None:
        self.model, b = build_model(model_name)
        self.model.train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(self.params, lr=1e-6, weight_decay=1e-4)
        gen = torch.Generator().manual_seed(1)
        self.x_c, self.x_a = torch.randn(b, SAMPLES, generator=gen), torch.randn(b, SAMPLES, generator=gen)
        self.y = torch.arange(b) % 2
        self.w = torch.tensor([0.1, 0.9])
        self.aligners = {m: make_aligner(m, resolve_aligner(m, AlignerParams()))
                         for m in ("none", "pcgrad", "gradvac", "cagrad", "gr")}

    def step(self, variant: str) -> None:
        if variant == "pooled":
            loss = F.cross_entropy(self.model(torch.cat([self.x_c, self.x_a])), torch.cat([self.y, self.y]),
                                   weight=self.w)
            loss.backward()
        elif variant.startswith("dual"):
            method, forward = variant.split()[1].rstrip(","), "joint" if "joint" in variant else "separate"
            buffers = Buffers(self.params)
            accumulate_dual(self.model, buffers, self.x_c, self.x_a, self.y, self.w, forward,
                            contextlib.nullcontext)
            active, grads, _ = buffers.reduce([CLEAN, AUG])
            align_(grads[CLEAN], grads[AUG], self.aligners[method])
            for i, g in zip(active, grads[AUG], strict=True):
                self.params[i].grad = g
        elif variant == "two passes + flatten":
            flat = [self._flat(F.cross_entropy(self.model(x), self.y, weight=self.w))
                    for x in (self.x_c, self.x_a)]
            self._write(pcgrad(flat)[0])
        elif variant == "paper (DPDA)":
            self._dpda_step()
        else:
            raise ValueError(variant)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    def _dpda_step(self) -> None:
        """DPDA-GA's PCGrad step as its code runs it (grad_align/pcgrad.py), restated."""
        logits = self.model(torch.cat([self.x_c, self.x_a]))
        b = self.x_c.shape[0]
        losses = [F.cross_entropy(logits[:b], self.y, weight=self.w),
                  F.cross_entropy(logits[b:], self.y, weight=self.w)]
        grads, has = [], []
        for loss in losses:  # zero_grad, backward(retain_graph=True), clone and flatten grads and masks
            self.opt.zero_grad(set_to_none=True)
            loss.backward(retain_graph=True)
            grads.append(torch.cat([p.grad.clone().flatten() for p in self.params]))
            has.append(torch.cat([torch.ones_like(p).flatten() for p in self.params]))
        shared = torch.stack(has).prod(0).bool()
        projected = [g.clone() for g in grads]  # copy.deepcopy
        for g_i in projected:
            for g_j in grads:
                d = torch.dot(g_i, g_j)
                if d < 0:
                    g_i -= d * g_j / (g_j.norm() ** 2)
        merged = torch.zeros_like(grads[0])
        merged[shared] = torch.stack([g[shared] for g in projected]).mean(0)
        merged[~shared] = torch.stack([g[~shared] for g in projected]).sum(0)
        self._write(merged)

    def _flat(self, loss: torch.Tensor) -> torch.Tensor:
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, self.params)])

    def _write(self, update: torch.Tensor) -> None:
        offset = 0
        for p in self.params:
            p.grad = update[offset : offset + p.numel()].view_as(p).clone()
            offset += p.numel()


def time_variants(model_name: str, steps: int, log: Callable[[str], None]) -> dict[str, list[float]]:
    bench = Bench(model_name)
    log(f"{model_name}: {sum(p.numel() for p in bench.params) / 1e6:.1f} M parameters, "
        f"B = {bench.x_c.shape[0]} per path, {SAMPLES / 16000:.0f} s")
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for round_ in range(steps + 1):
        for v in VARIANTS:
            t0 = time.perf_counter()
            bench.step(v)
            if round_:  # round 0 warms up (allocations, Adam state)
                times[v].append(time.perf_counter() - t0)
        if round_:
            shown = ", ".join(f"{v} {times[v][-1]:.2f}s" for v in VARIANTS[:3])
            log(f"  round {round_}/{steps}: {shown}, ...")
    return times


def peak_rss_mb(model_name: str, variant: str) -> float:
    """Peak RSS of a fresh process running three steps of ``variant``: its ``VmHWM``.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries that figure across ``fork`` + ``exec``,
    so every child reported this (large) parent's peak. ``VmHWM`` in ``/proc/self/status`` belongs to
    the address space the child got at ``exec``."""
    code = (f"import sys; sys.argv=['x']; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "import align_overhead as a, torch; torch.set_num_threads(2); "
            f"b = a.Bench({model_name!r}); [b.step({variant!r}) for _ in range(3)]; "
            "print(a.vm_hwm_kb())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def vm_hwm_kb() -> int:
    """This process's peak resident set size in kB (``VmHWM`` of ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/status has no VmHWM line (this benchmark's memory figure needs Linux)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="base,tiny")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-only", action="store_true",
                    help="only the peak-RSS column (one fresh process per variant; no timing, no RESULT)")
    ap.add_argument("--json", type=Path, help="also write the raw timings here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"load average before: {os.getloadavg()}")
    raw = {}
    if args.memory_only and args.no_memory:
        raise SystemExit("--memory-only and --no-memory exclude each other")
    for name in args.models.split(","):
        if args.memory_only:
            memory = {v: peak_rss_mb(name, v) for v in VARIANTS}
            print(f"\n{name} model, peak RSS of a fresh process running three steps, {args.threads} threads")
            print("| variant | peak RSS MB |\n|---|---:|")
            for v in VARIANTS:
                print(f"| {v} | {memory[v]:.0f} |")
            raw[name] = {"peak_rss_mb": memory}
            continue
        times = time_variants(name, args.steps, log)
        base = statistics.median(times["pooled"])
        memory = {} if args.no_memory else {v: peak_rss_mb(name, v) for v in VARIANTS}
        raw[name] = {"times": times, "peak_rss_mb": memory}
        print(f"\n{name} model, median of {args.steps} interleaved steps, {args.threads} threads")
        print("| variant | step path | granularity | median s | x pooled | peak RSS MB |")
        print("|---|---|---|---:|---:|---:|")
        for v in VARIANTS:
            med = statistics.median(times[v])
            method = v.split()[1].rstrip(",") if v.startswith("dual") else "pcgrad"
            gran = "-" if v == "pooled" or method == "none" else (
                "per_tensor" if method == "gr" else "global")
            mem = f"{memory[v]:.0f}" if memory else "-"
            print(f"| {v} | {PATHS.get(v, 'separate')} | {gran} | {med:.3f} | {med / base:.2f} | {mem} |")
        if name == "base":
            ratio = statistics.median(times["dual pcgrad"]) / base
    log(f"load average after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    if "base" in args.models.split(",") and not args.memory_only:
        print(f"\nRESULT pcgrad_step_ratio_base={ratio:.3f} x target=<={TARGET}")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
