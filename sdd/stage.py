"""Shared plumbing of the ``stages/*.py`` scripts: logging set-up, one-line errors, plan documents in
(:func:`read_plan`, :func:`write_plan`) and JSON out (:func:`write_json`).

Only :mod:`sdd.atomic` and :mod:`sdd.configbase` are imported here, so a stage script's imports (and
its DVC deps) are what it uses, not the whole plan machinery of :mod:`sdd.config`.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdd import atomic
from sdd.configbase import ConfigError

__all__ = ["RESTORE_HINT", "peak_rss_mb", "read_plan", "run_stage", "write_json", "write_plan"]

# Expected failures print one clear line; anything else is a bug and keeps its traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    FileNotFoundError,
    ValueError,
    OSError,
    RuntimeError,
)
RESTORE_HINT = (
    "If this value came from `dvc exp run -S ...`, the workspace params.yaml still holds it: "
    "restore it with `git checkout params.yaml`."
)


def run_stage(name: str, main: Callable[[], Any]) -> None:
    """Run a stage's ``main`` with logging configured; exit 2 with one line on an expected error."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("alembic", "urllib3", "matplotlib", "filelock", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        main()
    except ConfigError as exc:
        print(f"error: params.yaml: {exc}\n{RESTORE_HINT}", file=sys.stderr)
        sys.exit(2)
    except EXPECTED_ERRORS as exc:
        print(f"error: stage {name}: {exc}", file=sys.stderr)
        sys.exit(2)


def read_plan(path: str | Path) -> dict[str, Any]:
    """Read one plan document written by the plan stage."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{path}: cannot read plan file ({exc}); run the `plan` stage (dvc repro plan)"
        ) from exc


def write_plan(docs: dict[str, Any], out_dir: Path) -> None:
    """Write the plan documents under ``out_dir`` (sorted keys, so equal plans hash equally)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, doc in docs.items():
        atomic.write_json(out_dir / rel, doc)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    atomic.write_json(path, data, default=float)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (``getrusage`` reports KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024  # macOS reports bytes
