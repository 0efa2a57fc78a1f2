"""Where things live: the repo root, path resolution and display.

DVC runs queued experiments in temporary copies of the repo (``.dvc/tmp/exps/...``) but sets
``DVC_ROOT`` to the original repo root. Raw corpora (not DVC-cached, see docs/pipeline.md) and the
MLflow store live under that root, so every relative path written in ``params.yaml`` or in a prepared
manifest is resolved against :func:`repo_root`, never against the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["display_path", "repo_root", "resolve"]


def repo_root() -> Path:
    """The repo root: ``$DVC_ROOT`` when set (stages run by DVC), else ``$SDD_ROOT``, else the
    nearest ancestor of the current directory holding ``dvc.yaml``, else the current directory."""
    for var in ("DVC_ROOT", "SDD_ROOT"):
        value = os.environ.get(var)
        if value:
            return Path(value).resolve()
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / "dvc.yaml").is_file():
            return candidate
    return cwd


def resolve(path: str | os.PathLike[str], root: Path | None = None) -> Path:
    """Resolve ``path`` against ``root`` (default :func:`repo_root`) unless it is absolute."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    return (root if root is not None else repo_root()) / p


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the repo root when under it (stable across clones and DVC temp dirs), else
    absolute; ``..`` components are normalised away first."""
    p = Path(os.path.abspath(path))
    try:
        return p.relative_to(Path(os.path.abspath(repo_root()))).as_posix()
    except ValueError:
        return str(p)
