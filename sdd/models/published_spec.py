"""Published-model specs (``<kind>:<path>``, a scoring-only arm's backbone): which files they name,
the pinned upstream files and their SHA-256, and the record the plan stores.

- :data:`AASIST_FILES`: the published AASIST (Jung et al., ICASSP 2022) files of each variant at the
  pinned upstream commit, with their SHA-256 (``sdd fetch aasist`` enforces them).
- :func:`resolve_aasist`: the weights and config an ``aasist:<path>`` names.
- :data:`PUBLISHED` and :func:`published_record`: the files a spec names, with their SHA-256, which
  the ``plan`` stage records in the arm's plan document.

Nothing here downloads or builds a model: files are only found and hashed (:mod:`hashlib`), so the
plan imports this module alone. Fetching and loading the weights is :mod:`sdd.models.published`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sdd.core.configbase import ConfigError
from sdd.core.paths import display_path, repo_root, resolve

__all__ = [
    "AASIST_FILES",
    "PUBLISHED",
    "UPSTREAM_COMMIT",
    "VARIANTS",
    "PublishedFile",
    "PublishedKind",
    "PublishedRecord",
    "UpstreamFile",
    "published_record",
    "resolve_aasist",
    "sha256_file",
]

UPSTREAM_COMMIT = "a04c9863f63d44471dde8a6abcb3b082b07cd1d1"
VARIANTS = ("AASIST", "AASIST-L")


@dataclass(frozen=True)
class UpstreamFile:
    """One file of the upstream repository: its path there and its pinned SHA-256."""

    path: str
    sha256: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


# variant -> (weights, conf). The .conf files are stored with CRLF line endings upstream.
AASIST_FILES: dict[str, tuple[UpstreamFile, UpstreamFile]] = {
    "AASIST": (
        UpstreamFile(
            "models/weights/AASIST.pth", "51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0"
        ),
        UpstreamFile(
            "config/AASIST.conf", "c25023331685027cce90e1b9a0d2df10aa04b2a27d9b27d5afa36e6815b0fe76"
        ),
    ),
    "AASIST-L": (
        UpstreamFile(
            "models/weights/AASIST-L.pth", "814331d088032bb4c3fa61cc014789eadeed464209dd094ab3a2dd6ffbdce27a"
        ),
        UpstreamFile(
            "config/AASIST-L.conf", "9e2e2610b2260b421bf2083646dde4747a6a5cdd138015066d83bc61b6b214cf"
        ),
    ),
}


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_aasist(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(weights, conf)`` for ``path``: a ``.pth`` file (its ``.conf`` beside it, same stem), or a
    folder holding exactly one ``.pth`` and its ``.conf``.

    Raises:
        FileNotFoundError / ValueError: nothing there, no or several ``.pth`` files, or no ``.conf``.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        found = sorted(p.glob("*.pth"))
        if not found:
            raise FileNotFoundError(
                f"{p}: no .pth weights in this folder; expected e.g. AASIST.pth + AASIST.conf"
            )
        if len(found) > 1:
            choices = ", ".join(f"aasist:{f}" for f in found)
            raise ValueError(f"{p}: holds {len(found)} weight files; name one: {choices}")
        p = found[0]
    elif not p.is_file():
        raise FileNotFoundError(
            f"{p}: no such file or folder; expected an AASIST .pth or a folder holding one"
        )
    if p.suffix != ".pth":
        raise ValueError(f"{p}: expected an AASIST .pth weights file (with its .conf beside it)")
    conf = p.with_suffix(".conf")
    if not conf.is_file():
        raise FileNotFoundError(
            f"{conf}: missing; the config of {p.name} must lie beside it with the same stem"
        )
    return p, conf


def _aasist_fetch_hint(path: Path) -> str:
    """The ``sdd fetch aasist`` command that puts the files ``aasist:<path>`` names in place."""
    default = repo_root() / "data" / "published" / "aasist"
    folder, variant = (path.parent, path.stem) if path.suffix == ".pth" else (path, None)
    args = "" if folder.resolve() == default.resolve() else f" --dest {display_path(folder)}"
    args += f" --variant {variant}" if variant in AASIST_FILES and variant != "AASIST" else ""
    return f"`sdd fetch aasist{args}` (offline: `sdd fetch aasist{args} --url ../shared/data/aasist`)"


@dataclass(frozen=True)
class PublishedKind:
    """A kind of published model a scoring-only arm names as ``<kind>:<path>``.

    Attributes:
        resolve: ``path -> its files`` (weights first), raising FileNotFoundError when they are not
            there and ValueError when the path is ambiguous or of the wrong kind.
        fetch_hint: ``resolved path -> the command that fetches the files there``, for the error.
    """

    resolve: Callable[[Path], tuple[Path, ...]]
    fetch_hint: Callable[[Path], str]


#: Spec prefix -> kind; the prefixes are :data:`sdd.train.params.PUBLISHED_KINDS`, and
#: :data:`sdd.scoring.score.SCORERS` loads each kind for scoring.
PUBLISHED: dict[str, PublishedKind] = {
    "aasist": PublishedKind(resolve_aasist, _aasist_fetch_hint),  # Jung et al., ICASSP 2022
}


@dataclass(frozen=True)
class PublishedFile:
    """One file a published-model spec names: its file name and SHA-256."""

    name: str
    sha256: str


@dataclass(frozen=True)
class PublishedRecord:
    """The type of :func:`published_record`'s mapping, as a scoring-only arm's plan document holds it
    (:class:`sdd.train.params.ArmSeedPlan`)."""

    spec: str
    files: tuple[PublishedFile, ...]


def published_record(spec: str) -> dict[str, Any]:
    """The files the published-model spec ``<kind>:<path>`` names and their SHA-256.

    ``<path>`` is resolved against the repo root (:func:`sdd.core.paths.resolve`), as every path in
    ``params.yaml``, so a queued experiment's temporary copy finds the weights of the workspace.

    Returns:
        ``{"spec": spec, "files": [{"name": "AASIST.pth", "sha256": ...}, {"name": "AASIST.conf", ...}]}``:
        file names only, so the record (and the plan document holding it) is the same in every clone.

    Raises:
        ConfigError: an unknown kind, no path, missing files (the message names the path and the fetch
            command), or an ambiguous folder.
    """
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in PUBLISHED:
        raise ConfigError(f"got {spec!r}; expected {' or '.join(f'{k}:<path>' for k in PUBLISHED)}")
    if not rest:
        raise ConfigError(f"got {spec!r}: no path after '{kind}:'; e.g. '{kind}:data/pretrained/{kind}'")
    path = resolve(rest)
    try:
        files = PUBLISHED[kind].resolve(path)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{spec!r}: the weights are not there ({exc}); fetch them with {PUBLISHED[kind].fetch_hint(path)}"
        ) from exc
    except ValueError as exc:
        raise ConfigError(f"{spec!r}: {exc}") from exc
    return {"spec": spec, "files": [{"name": f.name, "sha256": sha256_file(f)} for f in files]}
