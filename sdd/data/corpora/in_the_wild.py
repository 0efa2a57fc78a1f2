"""Recipe ``in_the_wild``: In-the-Wild (eval only), one zip unpacking to ``release_in_the_wild/``.

``corpora: {itw: {type: in_the_wild, url: https://...}}`` or ``{..., source_dir: DIR}``. No official URL
or checksum exists, so the user gives one (or an existing copy); the protocol is the release's
``meta.csv`` (``file,speaker,label``). The fetch step is :func:`sdd.data.fetchers.in_the_wild.fetch`.
Mueller et al., "Does audio deepfake detection generalize?", Interspeech 2022.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from sdd.core.paths import resolve
from sdd.data.corpora.common import CorpusError, DownloadChecksums, SplitView, normalise_label

__all__ = ["ITW_DIR", "InTheWildConfig", "find_itw_dir", "read_protocol", "splits"]

ITW_DIR = "release_in_the_wild"


@dataclass(frozen=True)
class InTheWildConfig(DownloadChecksums):
    """In-the-Wild (eval only), distributed as one zip unpacking to ``release_in_the_wild/``.

    No official URL or checksum exists: give ``url`` (and optionally ``md5``/``sha256``) or
    ``source_dir`` (the folder holding ``release_in_the_wild/`` or that folder itself).
    """

    type: Literal["in_the_wild"] = "in_the_wild"
    url: str | None = None
    md5: str | None = None
    sha256: str | None = None
    source_dir: str | None = None
    keep_archives: bool = False
    views: dict[str, SplitView] = field(default_factory=dict)


def find_itw_dir(root: Path) -> Path:
    for candidate in (root / ITW_DIR, root):
        if (candidate / "meta.csv").is_file():
            return candidate
    raise CorpusError(
        f"{root}: no meta.csv in it or in {root / ITW_DIR}; expected the unzipped In-the-Wild release"
    )


def splits(cfg: InTheWildConfig) -> tuple[str, ...]:
    """``eval`` only."""
    return ("eval",)


def read_protocol(cfg: InTheWildConfig, raw_dir: Path) -> pd.DataFrame:
    """Every trial of ``meta.csv`` (split ``eval``; attack ``unknown`` for spoofs), absolute WAV paths."""
    root = resolve(cfg.source_dir) if cfg.source_dir is not None else Path(raw_dir)
    itw = find_itw_dir(root)
    meta_path = itw / "meta.csv"
    meta = pd.read_csv(meta_path, dtype=str, keep_default_na=False)
    missing = {"file", "speaker", "label"} - set(meta.columns)
    if missing:
        raise CorpusError(
            f"{meta_path}: missing column(s) {sorted(missing)}; expected header file,speaker,label"
        )
    labels = [normalise_label(v, f"{meta_path}:{i + 2}") for i, v in enumerate(meta["label"])]
    return pd.DataFrame(
        {
            "utt_id": [Path(f).stem for f in meta["file"]],
            "path": [str(itw / f) for f in meta["file"]],
            "speaker": meta["speaker"].str.strip().replace("", "-"),
            "label": labels,
            "attack": ["-" if lab == "bonafide" else "unknown" for lab in labels],
            "condition": "-",
            "split": "eval",
        }
    )
