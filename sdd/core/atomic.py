"""Atomic file writes: write to a temp path in the same folder, then rename onto the target.

A reader (or a resumed run) never sees a half-written file: either the old content or the new.
Temp names are ``.<name>.tmp<pid>`` so interrupted runs' leftovers are recognisable (the augment
stage removes them on resume; :func:`atomic_dir` removes those of its folder). :func:`atomic_dir` does
the same for a whole folder (a ``save_pretrained`` model: config and weights together).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sdd.core import faults

__all__ = ["atomic_dir", "atomic_path", "write_csv", "write_json", "write_text"]


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it onto ``path`` if the block succeeds, else delete it.

    Args:
        path: the final file; its folder is created.
        suffix: appended to the temp name, for writers that pick the format from the suffix (``.png``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{suffix}")
    try:
        yield tmp
        faults.point("atomic:temp_written")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temp folder beside ``path``; if the block succeeds, replace ``path`` with it, else
    delete it.

    The swap is two renames (the old folder to ``.<name>.old<pid>``, the new one onto ``path``), then the
    old folder is deleted: a reader sees the old folder, no folder, or the complete new one, never a
    half-written one. Temp folders left by killed processes (``.<name>.tmp<pid>`` / ``.old<pid>`` of a
    pid no longer running) are deleted first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for kind in ("tmp", "old"):
        for stale in path.parent.glob(f".{path.name}.{kind}*"):
            pid = stale.name.rpartition(f".{kind}")[2]
            if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
                shutil.rmtree(stale, ignore_errors=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    old = path.with_name(f".{path.name}.old{os.getpid()}")
    tmp.mkdir()
    try:
        yield tmp
        faults.point("atomic:temp_written")
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], data: Any, **dumps_kwargs: Any) -> None:
    """JSON with sorted keys and indent 2 unless ``dumps_kwargs`` say otherwise, newline-terminated."""
    kwargs = {"indent": 2, "sort_keys": True, **dumps_kwargs}
    write_text(path, json.dumps(data, **kwargs) + "\n")


def write_csv(df: Any, path: str | os.PathLike[str]) -> None:
    """A pandas DataFrame as CSV without the index."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
