"""Parity and CPU speed of `sdd export --format onnx` against PyTorch (issue 25, item 4).

Exports a trained arm (``--model``, e.g. the demo's ``models/main/s0`` after ``make repro``; without
it, a random-init detector of the demo's size that this script builds and says so) with
:func:`sdd.scoring.onnx_export.export_onnx`, then scores every clip of ``../shared/data/realmini`` both
ways:

- PyTorch: ``sdd score``'s own path, :func:`sdd.scoring.score.score_paths` (decode at 16 kHz, the first
  ``train.dev_samples`` samples repeat-padded, the checkpoint loaded as ``sdd score`` loads it);
- ONNX Runtime: the whole clip decoded at 16 kHz by :func:`sdd.audio.io.read_audio`, fed to the graph,
  which cuts or tiles the window itself.

Prints the largest |ONNX Runtime - PyTorch| log-odds difference and the worst clip, and the forward
time per clip of each runtime, side by side on the same decoded inputs, batch 1, ``--threads``
intra-op threads for both (torch.set_num_threads; ORT intra_op_num_threads, one inter-op thread);
decoding is left out of the timing, and the two runtimes alternate clip by clip so a busy neighbour
slows both alike. One warm-up pass over ``--warmup`` clips first.

Headline: ``RESULT onnx_max_abs_diff=<x> target=<=1e-4`` and
``RESULT onnx_seconds_per_clip=<o> torch_seconds_per_clip=<t> s`` (no target).

torch is imported after ``sdd`` (which sets libgomp's ``GOMP_SPINCOUNT`` before torch loads, as
the ``sdd`` command does): imported first, PyTorch's two threads spin at barriers and a busy
neighbour makes it look many times slower than it is.

Run: ``.venv/bin/python benchmarks/onnx_parity.py [--model models/main/s0] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sdd.audio.crop import crop_or_pad
from sdd.audio.io import read_audio
from sdd.core.sections import ScoreParams
from sdd.models.detector import Detector, load_detector
from sdd.scoring.onnx_export import INPUT_NAME, OUTPUT_NAME, TOLERANCE, export_onnx
from sdd.scoring.score import SAMPLE_RATE, score_paths

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def build_demo_sized(folder: Path) -> Path:
    """A random-init detector the size of the demo's (``params.yaml``: tiny wav2vec2, 4 layers of width
    64, linear head, a 32,000-sample window), saved as the train stage saves a checkpoint (no
    threshold)."""
    import torch

    from sdd.core.configbase import build
    from sdd.models.params import ModelParams, TinyBackboneParams
    from sdd.train.arm_model import build_detector, save_arm
    from sdd.train.params import AlignerParams, ArmConfig, TrainParams, resolve_aligner

    tiny = TinyBackboneParams(
        conv_channels=32, hidden_size=64, num_layers=4, num_heads=2, intermediate_size=64
    )
    arm = ArmConfig(
        name="random_demo_sized", corpus="none", backbone="tiny-wav2vec2", regime="clean", align="none",
        seed=0, model=ModelParams(tiny=tiny), train=TrainParams(dev_samples=32000),
        aligner=resolve_aligner("none", build(AlignerParams, {}, "aligner")),
    )  # fmt: skip
    torch.manual_seed(0)
    save_arm(build_detector(arm).eval(), arm, folder)
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a trained arm's folder (models/<arm>/s<seed>); default: build one")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads of both runtimes (default 2)")
    ap.add_argument("--warmup", type=int, default=5, help="clips of the untimed warm-up pass (default 5)")
    args = ap.parse_args()
    root = SHARED / "data" / "realmini"
    if not (root / "protocol.tsv").is_file():
        print(f"{root}: absent; needs the realmini clips of ../shared", file=sys.stderr)
        return 1
    import onnxruntime as ort
    import torch  # after sdd, which sets libgomp's spin count for torch (sdd/__init__.py)

    torch.set_num_threads(args.threads)
    paths = [root / p for p in pd.read_csv(root / "protocol.tsv", sep="\t")["path"]]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model) if args.model else build_demo_sized(Path(tmp) / "model")
        what = args.model or "a random-init detector of the demo's size built here (not trained)"
        result = export_onnx(str(model_dir), Path(tmp) / "scorer.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
        session = ort.InferenceSession(str(result.path), options, providers=["CPUExecutionProvider"])
        model, _ = load_detector(model_dir, lite=True)
    n = result.input_samples
    print(f"model: {what}; window {n} samples; {len(paths)} realmini clips; {args.threads} threads; "
          f"exported in {result.seconds:.1f} s, {result.size_bytes / 1e6:.2f} MB")  # fmt: skip

    want = score_paths(model, paths, ScoreParams(num_samples=n, batch_size=1, threads=args.threads))
    waves = [read_audio(p, SAMPLE_RATE)[0][None, :] for p in paths]
    windows = [torch.from_numpy(crop_or_pad(w[0], n)[None, :]) for w in waves]
    got = np.empty(len(paths))
    seconds = {"torch": 0.0, "onnx": 0.0}
    with torch.no_grad():
        for i in range(min(args.warmup, len(paths))):
            model(windows[i])
            session.run([OUTPUT_NAME], {INPUT_NAME: waves[i]})
        for i in range(len(paths)):
            start = time.perf_counter()
            Detector.scores(model(windows[i]))
            seconds["torch"] += time.perf_counter() - start
            start = time.perf_counter()
            got[i] = session.run([OUTPUT_NAME], {INPUT_NAME: waves[i]})[0][0]
            seconds["onnx"] += time.perf_counter() - start
    diff = np.abs(got - want)
    worst = int(diff.argmax())
    per_clip = {k: v / len(paths) for k, v in seconds.items()}
    print(f"{'':<22} {'PyTorch':>10} {'ONNX Runtime':>13}")
    print(f"{'forward s/clip':<22} {per_clip['torch']:>10.4f} {per_clip['onnx']:>13.4f}")
    print(f"max |d log-odds| {diff.max():.2e} (mean {diff.mean():.2e}) at {paths[worst].relative_to(root)}; "
          f"log-odds range [{want.min():.3f}, {want.max():.3f}]")  # fmt: skip
    print(f"RESULT onnx_max_abs_diff={diff.max():.2e} target=<={TOLERANCE:g}")
    onnx_s, torch_s = per_clip["onnx"], per_clip["torch"]
    print(f"RESULT onnx_seconds_per_clip={onnx_s:.4f} torch_seconds_per_clip={torch_s:.4f} s")
    return 0 if diff.max() <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
