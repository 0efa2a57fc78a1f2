"""What every corpus recipe shares: the trial-table vocabulary and a few small helpers.

- the columns a protocol reader returns (:data:`PROTOCOL_COLUMNS`) and a manifest holds
  (:data:`MANIFEST_COLUMNS`);
- :class:`CorpusError`, raised when data on disk does not match its layout or protocol format;
- label normalisation (:func:`normalise_label`) and the whitespace protocol reader
  (:func:`read_columns`);
- checks shared by the config classes of downloadable corpora (:class:`DownloadChecksums`).

The recipes (one module per corpus type) import this module; it imports none of them. What the
fetch steps share (checksums of files, the summary of a corpus used in place) is in
:mod:`sdd.data.fetchers.common`: nothing here downloads or hashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdd.core.configbase import ConfigError
from sdd.core.stage import MANIFEST_COLUMNS

__all__ = [
    "LABEL_ALIASES",
    "MANIFEST_COLUMNS",
    "MD5_RE",
    "PROTOCOL_COLUMNS",
    "SHA256_RE",
    "VIEW_NAME_RE",
    "CorpusError",
    "DownloadChecksums",
    "SplitView",
    "check_checksum",
    "normalise_label",
    "read_columns",
]

# Columns every manifest has, in this order (extra condition columns follow): one spelling, in the
# stage contract (sdd.core.stage), re-exported here for the corpus recipes.

#: Columns a protocol reader returns (the audio check adds duration_s and sample_rate).
PROTOCOL_COLUMNS = ("utt_id", "path", "speaker", "label", "attack", "condition", "split")

#: Spellings of the two classes found in the wild, normalised (lower case, separators removed).
LABEL_ALIASES: dict[str, str] = {
    "bonafide": "bonafide",
    "genuine": "bonafide",
    "real": "bonafide",
    "human": "bonafide",
    "spoof": "spoof",
    "spoofed": "spoof",
    "fake": "spoof",
    "deepfake": "spoof",
}

MD5_RE = re.compile(r"^[0-9a-f]{32}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
#: A split view's name: it becomes a manifest file name and the split of an eval set (``asv5:eval_c05``).
VIEW_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class CorpusError(RuntimeError):
    """A corpus on disk does not match its expected layout or protocol format."""


def normalise_label(value: Any, where: str) -> str:
    """``bonafide`` or ``spoof`` from any common spelling (``bona-fide``, ``Bona fide``, ``fake``...).

    Raises:
        CorpusError: unknown spelling (``where`` names the file/row).
    """
    key = re.sub(r"[\s_\-]+", "", str(value).strip().lower())
    if key not in LABEL_ALIASES:
        raise CorpusError(
            f"{where}: label {value!r} is neither bona fide nor spoof; "
            f"expected one of {sorted(LABEL_ALIASES)}"
        )
    return LABEL_ALIASES[key]


def read_columns(path: Path, n_columns: int | tuple[int, ...], hint: str) -> list[list[str]]:
    """The non-empty lines of a whitespace-separated protocol, split, each with ``n_columns`` fields.

    Raises:
        CorpusError: missing or empty file, or a line with another field count (names file and line,
            and ``hint`` says what the columns should be).
    """
    if not path.is_file():
        raise CorpusError(f"{path}: protocol file not found")
    allowed = (n_columns,) if isinstance(n_columns, int) else n_columns
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in allowed:
                raise CorpusError(
                    f"{path}:{lineno}: got {len(parts)} columns ({line.strip()!r}); "
                    f"expected {' or '.join(map(str, allowed))} ({hint})"
                )
            rows.append(parts)
    if not rows:
        raise CorpusError(f"{path}: protocol file is empty")
    return rows


def check_checksum(value: str | None, regex: re.Pattern[str], what: str) -> None:
    """A :class:`ConfigError` unless ``value`` is None or a lower-case hex digest matching ``regex``."""
    if value is not None and not regex.match(value):
        raise ConfigError(f"{what}: got {value!r}; expected a lower-case hex digest")


@dataclass(frozen=True)
class DownloadChecksums:
    """Base of the configs with optional ``md5`` / ``sha256`` fields: both are checked as hex digests."""

    def __post_init__(self) -> None:
        check_checksum(getattr(self, "md5", None), MD5_RE, "md5")
        check_checksum(getattr(self, "sha256", None), SHA256_RE, "sha256")


@dataclass(frozen=True)
class SplitView:
    """A named subset of one split of a corpus, a split of its own (``corpora.<name>.views``).

    Attributes:
        split: the split it selects from (one of the corpus's splits).
        where: protocol column -> the values kept (a trial is kept when every listed column takes one
            of its values), e.g. ``{codec: [C05]}``; the columns are the manifest's (``speaker``,
            ``attack``, ``condition``, and the corpus type's metadata columns). Checked by
            :func:`sdd.data.corpora.parse_corpus`, which knows the view's name and corpus type.
    """

    split: str
    where: dict[str, tuple[str, ...]]
