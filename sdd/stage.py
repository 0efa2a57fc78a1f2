"""Shared plumbing of the ``stages/*.py`` scripts: logging set-up and one-line errors."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Callable

from sdd import atomic
from sdd.config import RESTORE_HINT
from sdd.configbase import ConfigError

__all__ = ["run_stage", "write_json"]

# Expected failures print one clear line; anything else is a bug and keeps its traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ConfigError, FileNotFoundError, ValueError, OSError, RuntimeError)


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


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    atomic.write_json(path, data, default=float)
