"""Run :func:`sdd.train.loop.fit` from a JSON spec in a process of its own (also under ``torchrun``).

The resume test kills this process's group mid-epoch and runs it again; the ``torchrun`` test runs it
on 2 processes. Spec keys: ``manifests`` (folder with train.csv, dev.csv, aug.csv), ``aug_dir``,
``arm`` (make_arm keyword arguments), ``checkpoints`` (folder or null), ``out`` (weights file written
by rank 0), ``no_dropout`` and ``step_sleep_s`` (a pause after every step, to leave time for a kill).
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, when run by hand

import sdd.train.loop  # noqa: E402
from sdd.train import distributed  # noqa: E402
from sdd.train.loop import _Run, fit  # noqa: E402
from tests.helpers.train import make_arm, without_dropout  # noqa: E402


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", type=Path, required=True)
    spec = json.loads(ap.parse_args().spec.read_text())
    if spec.get("no_dropout"):
        build = sdd.train.loop.build_detector
        sdd.train.loop.build_detector = lambda arm: without_dropout(build(arm))
    if spec.get("step_sleep_s"):
        step = _Run.train_step

        def slow_step(self, *args, **kwargs):
            row = step(self, *args, **kwargs)
            time.sleep(spec["step_sleep_s"])
            return row

        _Run.train_step = slow_step
    folder = Path(spec["manifests"])
    read = lambda name: pd.read_csv(folder / name, keep_default_na=False)  # noqa: E731
    arm = make_arm(**spec["arm"])
    checkpoints = Path(spec["checkpoints"]) if spec.get("checkpoints") else None
    model, result = fit(arm, read("train.csv"), read("dev.csv"), read("aug.csv"), Path(spec["aug_dir"]),
                        checkpoint_dir=checkpoints)
    if distributed.context().is_main:
        torch.save({"state": model.state_dict(), "telemetry": result.telemetry, "epochs": result.epochs,
                    "summary": result.summary}, spec["out"])
    distributed.shutdown()


if __name__ == "__main__":
    main()
