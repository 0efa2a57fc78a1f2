"""The published AASIST weights (Jung et al., ICASSP 2022): where they are pinned, and loading them.

- :data:`AASIST_FILES`: ``AASIST.pth`` / ``AASIST-L.pth`` and their ``.conf`` in
  github.com/clovaai/aasist at a pinned commit, with their SHA-256s.
- :func:`load_aasist` builds :class:`sdd.models.aasist.AASIST` from a ``.conf`` and loads the
  ``.pth`` with ``torch.load(..., weights_only=True)`` and ``strict=True``.

The official weights were trained on ASVspoof 2019 LA train (MIT licence, NAVER Corp.). This module
imports torch only when loading.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sdd.configbase import ConfigError, build
from sdd.data.download import file_digests

if TYPE_CHECKING:
    from sdd.models.aasist import AASIST, AasistConfig

__all__ = [
    "AASIST_FILES",
    "UPSTREAM_BASE",
    "UPSTREAM_COMMIT",
    "VARIANTS",
    "UpstreamFile",
    "load_aasist",
    "read_aasist_conf",
    "resolve_aasist",
]

log = logging.getLogger(__name__)

UPSTREAM_COMMIT = "a04c9863f63d44471dde8a6abcb3b082b07cd1d1"
UPSTREAM_BASE = f"https://raw.githubusercontent.com/clovaai/aasist/{UPSTREAM_COMMIT}/"
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


# --------------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------------


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


def read_aasist_conf(conf: Path) -> AasistConfig:
    """The ``model_config`` of an official ``.conf`` (JSON) as :class:`AasistConfig`; errors name the file."""
    from sdd.models.aasist import AasistConfig

    try:
        doc = json.loads(Path(conf).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{conf}: not a JSON AASIST config ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("model_config"), dict):
        raise ConfigError(f"{conf}: no `model_config` mapping; expected an AASIST .conf (JSON)")
    try:
        return build(AasistConfig, doc["model_config"], "model_config")
    except ConfigError as exc:
        raise ConfigError(f"{conf}: {exc}") from exc


def load_aasist(path: str | os.PathLike[str]) -> tuple[AASIST, AasistConfig]:
    """Build AASIST from the ``.conf`` and load the ``.pth`` (``weights_only=True``, ``strict=True``).

    Args:
        path: see :func:`resolve_aasist`.

    Returns:
        ``(model in eval mode, config)``; ``config.nb_samp`` is the input length the model was
        evaluated with.

    Raises:
        ValueError: the file is not a loadable checkpoint or does not match the config (the message
            names both files and torch's list of missing/unexpected keys or shape mismatches).
    """
    import torch

    from sdd.models.aasist import AASIST

    weights, conf = resolve_aasist(path)
    config = read_aasist_conf(conf)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors vary; weights_only refuses anything but tensors
        raise ValueError(f"{weights}: cannot load as a weights-only torch checkpoint ({exc})") from exc
    if not isinstance(state, dict):
        raise ValueError(
            f"{weights}: expected a state_dict (a mapping of tensors), got {type(state).__name__}"
        )
    model = AASIST(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{weights}: does not match the AASIST built from {conf}: {exc}") from exc
    sha = file_digests(weights)["sha256"]
    published = {f.sha256: v for v, (f, _) in AASIST_FILES.items()}
    log.info("%s: %s (sha256 %s)", weights,
             f"the published {published[sha]} weights" if sha in published else "not the published weights",
             sha)  # fmt: skip
    return model.eval(), config
