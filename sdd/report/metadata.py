"""Run metadata for the report and MLflow: git commit and dirty flag, DVC experiment, params that
differ from the committed ``params.yaml``, seeds, package versions, CPU/GPU, stage durations.

These describe the run that built the report, so they are read when it is built (git, the params
file on disk, the stage-time log of :data:`sdd.core.stage.STAGE_TIMES`) and go into the pages and the
MLflow parent run, never into ``metrics.json``, whose numbers depend only on DVC-tracked inputs.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from sdd.core.textfile import read_text
from sdd.core.yamlfile import parse_yaml

__all__ = ["PACKAGES", "params_diff", "read_stage_times", "run_metadata"]

PACKAGES = (
    "sdd",
    "torch",
    "torchaudio",
    "transformers",
    "peft",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "soundfile",
    "dvc",
    "mlflow",
)


def _git(*args: str, cwd: Path) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data}


def params_diff(committed: str | None, current: str) -> dict[str, list[Any]]:
    """``{dotted key: [committed value, current value]}`` for every key whose value differs (a key
    missing on one side is None there); lists compare as wholes. Both texts are parsed as the plan
    parses params.yaml (:func:`sdd.core.yamlfile.parse_yaml`), so ``1e-3`` and ``0.001`` are equal."""
    old = _flat(parse_yaml(committed) or {}) if committed else {}
    new = _flat(parse_yaml(current) or {})
    return {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def _cpu() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):  # no /proc (macOS, Windows): keep platform's name
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} logical cores"


def _gpu() -> str:
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            return "; ".join(out.splitlines())
    return "none"


def read_stage_times(path: Path, *, clear: bool = False) -> list[dict[str, Any]]:
    """The stage-time log (newest run of each stage), optionally emptied after reading."""
    if not path.is_file():
        return []
    latest: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        latest[rec["stage"]] = rec
    if clear:
        path.unlink()
    return sorted(latest.values(), key=lambda r: r["started"])


def run_metadata(
    repo: Path,
    *,
    experiment: str,
    seeds: list[int],
    params_file: Path | None = None,
    durations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything the report's "Run metadata" section and the MLflow parent run record.

    Args:
        repo: the working copy that ran the pipeline (a queued experiment's temporary copy included).
        experiment: the DVC experiment name.
        seeds: the training seeds of the run.
        params_file: the params file the run used (its diff against ``HEAD:params.yaml`` is recorded).
        durations: :func:`read_stage_times` records.
    """
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=repo)
    meta: dict[str, Any] = {
        "git_commit": _git("rev-parse", "HEAD", cwd=repo) or "unknown (not a git repository)",
        "git_dirty": "unknown" if status is None else bool(status),
        "dvc_experiment": experiment,
        "seeds": list(seeds),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu(),
        "gpu": _gpu(),
    }
    if params_file is not None and params_file.is_file():
        committed = _git("show", f"HEAD:{params_file.name}", cwd=repo)
        meta["params_diff"] = params_diff(committed, read_text(params_file))
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    meta["packages"] = versions
    if durations is not None:
        meta["durations"] = [{"stage": d["stage"], "seconds": d["seconds"]} for d in durations]
    return meta
