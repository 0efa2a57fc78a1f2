"""Named corpora: typed configs, the splits each provides, fetching, and protocol readers.

A corpus is a named entry of ``params.yaml``'s ``corpora`` section with a ``type`` from
:data:`CORPUS_TYPES`::

    corpora:
      demo: {type: demo, seed: 0, n_per_split: 300}
      realmini: {type: folder, path: ../shared/data/realmini, protocol: protocol.tsv}
      la19: {type: asvspoof2019_la}
      la21: {type: asvspoof2021_la}            # subset: eval (default) | progress | hidden
      df21: {type: asvspoof2021_df}
      itw: {type: in_the_wild, url: https://...}   # or source_dir: /data/release_in_the_wild

Each type is a :class:`CorpusType` entry (a registry, no if/elif chain) bundling its config class,
its splits, its fetch function and its protocol reader. Layouts, formats and checksums are the
published ones (ASVspoof 2019 LA: Wang et al., "ASVspoof 2019: a large-scale public database of
synthesized, converted and replayed speech", CSL 2020; ASVspoof 2021: Liu et al., "ASVspoof 2021:
towards spoofed and deepfake speech detection in the wild", IEEE/ACM TASLP 2023; In-the-Wild:
Mueller et al., "Does audio deepfake detection generalize?", Interspeech 2022).

The protocol readers return one row per trial with absolute audio paths; :mod:`sdd.data.prepare`
decodes every file and writes the manifests (``prepare_corpus`` and ``check_leakage`` are re-exported
here).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sdd.configbase import ConfigError, build
from sdd.data import fetch as fetchlib
from sdd.paths import resolve

__all__ = [
    "CORPUS_TYPES",
    "MANIFEST_COLUMNS",
    "Asvspoof2019LAConfig",
    "Asvspoof2021DFConfig",
    "Asvspoof2021LAConfig",
    "CorpusConfig",
    "CorpusError",
    "CorpusType",
    "DemoCorpusConfig",
    "FolderCorpusConfig",
    "InTheWildConfig",
    "check_leakage",
    "corpus_splits",
    "fetch_corpus",
    "normalise_label",
    "parse_corpus",
    "prepare_corpus",
    "read_asvspoof2019_protocol",
    "read_asvspoof2021_metadata",
    "read_trial_list",
]

log = logging.getLogger(__name__)

#: Columns every manifest has, in this order (extra condition columns follow).
MANIFEST_COLUMNS = (
    "utt_id", "path", "speaker", "label", "attack", "condition", "split", "duration_s", "sample_rate",
)  # fmt: skip

#: Columns a protocol reader returns (the audio check adds duration_s and sample_rate).
PROTOCOL_COLUMNS = ("utt_id", "path", "speaker", "label", "attack", "condition", "split")


class CorpusError(RuntimeError):
    """A corpus on disk does not match its expected layout or protocol format."""


# --------------------------------------------------------------------------------------------------
# Facts from docs/data.md
# --------------------------------------------------------------------------------------------------

LA19_URL = "https://datashare.ed.ac.uk/bitstream/handle/10283/3336/LA.zip?sequence=3&isAllowed=y"
LA19_MD5 = "30c98f11d8b2bc21f2c257bfd78bb5c5"  # third-party figure, unverified by the organisers
LA19_SIZE = 7_640_952_520
LA21_URL = "https://zenodo.org/records/4837263/files/ASVspoof2021_LA_eval.tar.gz"
DF21_URLS = tuple(
    f"https://zenodo.org/records/4835108/files/ASVspoof2021_DF_eval_part0{i}.tar.gz" for i in range(4)
)
LA21_KEYS_URL = "https://www.asvspoof.org/asvspoof2021/LA-keys-full.tar.gz"
LA21_KEYS_MD5 = "f052cc2ed276745afa3b5198665d3b26"  # official
DF21_KEYS_URL = "https://www.asvspoof.org/asvspoof2021/DF-keys-full.tar.gz"
DF21_KEYS_MD5 = "dabbc5628de4fcef53036c99ac7ab93a"  # official

LA19_PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"
#: split -> protocol file suffix of the 2019 LA layout (the demo corpus adds eval_degraded).
LA19_PROTOCOLS = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}
DEMO_PROTOCOLS = {**LA19_PROTOCOLS, "eval_degraded": "eval_degraded.trl"}

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

_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


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


def _check_checksum(value: str | None, regex: re.Pattern[str], what: str) -> None:
    if value is not None and not regex.match(value):
        raise ConfigError(f"{what}: got {value!r}; expected a lower-case hex digest")


# --------------------------------------------------------------------------------------------------
# Configs: one frozen dataclass per corpus type
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoCorpusConfig:
    """The built-in synthetic corpus (:mod:`sdd.data.demo`), in the ASVspoof 2019 LA layout.

    Attributes:
        seed: data-generation seed (independent of the training seed).
        n_per_split: bona fide utterances per split (and as many spoofs).
        sample_rate, min_duration_s, max_duration_s, n_speakers_per_split, snr_db_min, snr_db_max,
        degraded_snr_db_min, degraded_snr_db_max: optional overrides of the generator's
            :class:`sdd.data.demo.DemoConfig` (``null``: the generator's default).
    """

    type: Literal["demo"] = "demo"
    seed: int = 0
    n_per_split: int = 300
    sample_rate: int | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    n_speakers_per_split: int | None = None
    snr_db_min: float | None = None
    snr_db_max: float | None = None
    degraded_snr_db_min: float | None = None
    degraded_snr_db_max: float | None = None

    def __post_init__(self) -> None:
        if self.n_per_split < 1:
            raise ConfigError(f"n_per_split: got {self.n_per_split}; expected a positive integer")
        self.generator_config()  # the generator's own range checks, at parse time

    def generator_config(self) -> Any:
        """The :class:`sdd.data.demo.DemoConfig` these settings describe."""
        from sdd.data.demo import DemoConfig  # lazy: the generator module pulls in its DSP code

        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "type"}
        return DemoConfig(**{k: v for k, v in fields.items() if v is not None})


@dataclass(frozen=True)
class _DownloadMixin:
    def __post_init__(self) -> None:
        _check_checksum(getattr(self, "md5", None), _MD5_RE, "md5")
        _check_checksum(getattr(self, "sha256", None), _SHA256_RE, "sha256")


@dataclass(frozen=True)
class Asvspoof2019LAConfig(_DownloadMixin):
    """ASVspoof 2019 LA (train/dev/eval) from ``LA.zip``.

    Attributes:
        url: the archive (default: the Edinburgh DataShare URL of docs/data.md).
        md5: expected MD5; the default is a third-party figure (enforced, and a mismatch says so).
        sha256: expected SHA-256 (optional, checked as well when given).
        source_dir: an existing copy (the folder holding ``LA/`` or ``LA/`` itself), used in place.
        keep_archives: keep ``LA.zip`` after extraction (default: delete it; no data twice on disk).
    """

    type: Literal["asvspoof2019_la"] = "asvspoof2019_la"
    url: str = LA19_URL
    md5: str | None = LA19_MD5
    sha256: str | None = None
    source_dir: str | None = None
    keep_archives: bool = False


@dataclass(frozen=True)
class Asvspoof2021LAConfig(_DownloadMixin):
    """ASVspoof 2021 LA evaluation audio plus the official keys.

    Attributes:
        subset: which trials form the corpus's one split: ``eval`` (standard reporting), ``progress``
            or ``hidden`` (column ``subset`` of the keys).
        url / md5 / sha256: the audio archive (Zenodo; no verified checksum known).
        keys_url / keys_md5: the keys archive and its official MD5.
        source_dir: folder holding ``ASVspoof2021_LA_eval/`` already (used in place).
        keys_source_dir: folder holding ``keys/LA/CM/trial_metadata.txt`` already.
    """

    type: Literal["asvspoof2021_la"] = "asvspoof2021_la"
    subset: Literal["eval", "progress", "hidden"] = "eval"
    url: str = LA21_URL
    md5: str | None = None
    sha256: str | None = None
    keys_url: str = LA21_KEYS_URL
    keys_md5: str | None = LA21_KEYS_MD5
    source_dir: str | None = None
    keys_source_dir: str | None = None
    keep_archives: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_checksum(self.keys_md5, _MD5_RE, "keys_md5")


@dataclass(frozen=True)
class Asvspoof2021DFConfig:
    """ASVspoof 2021 DF evaluation audio (four complete ``.tar.gz`` parts) plus the official keys.

    Attributes:
        subset: ``eval`` (default), ``progress`` or ``hidden``.
        urls: the audio parts (Zenodo; no verified checksums known).
        md5s: optional expected MD5 per part (same order as ``urls``).
        keys_url / keys_md5: the keys archive and its official MD5.
        source_dir: folder holding ``ASVspoof2021_DF_eval/`` already (used in place).
        keys_source_dir: folder holding ``keys/DF/CM/trial_metadata.txt`` already.
    """

    type: Literal["asvspoof2021_df"] = "asvspoof2021_df"
    subset: Literal["eval", "progress", "hidden"] = "eval"
    urls: tuple[str, ...] = DF21_URLS
    md5s: tuple[str, ...] | None = None
    keys_url: str = DF21_KEYS_URL
    keys_md5: str | None = DF21_KEYS_MD5
    source_dir: str | None = None
    keys_source_dir: str | None = None
    keep_archives: bool = False

    def __post_init__(self) -> None:
        if not self.urls:
            raise ConfigError("urls: got an empty list; expected the archive part URLs")
        if self.md5s is not None:
            if len(self.md5s) != len(self.urls):
                raise ConfigError(
                    f"md5s: got {len(self.md5s)} checksums for {len(self.urls)} urls; expected one per url"
                )
            for i, m in enumerate(self.md5s):
                _check_checksum(m, _MD5_RE, f"md5s[{i}]")
        _check_checksum(self.keys_md5, _MD5_RE, "keys_md5")


@dataclass(frozen=True)
class InTheWildConfig(_DownloadMixin):
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


@dataclass(frozen=True)
class FolderCorpusConfig:
    """Any folder of audio plus a protocol table (CSV or TSV with a header).

    Attributes:
        path: the corpus folder (relative: against the repo root).
        protocol: the protocol file, relative to ``path``.
        sep: column separator; ``None``: tab for ``.tsv``/``.txt``, comma otherwise.
        path_column: audio path column (relative to ``path`` or absolute).
        label_column: label column (``bonafide``/``spoof`` in any common spelling).
        utt_id_column: id column; ``None``: ``utt_id`` if present, else the file stem.
        speaker_column: speaker column; ``None``: ``speaker`` if present, else ``-`` (unknown).
        attack_column: attack column; ``None``: ``attack`` or ``system`` if present, else ``-`` for
            bona fide and ``unknown`` for spoof.
        condition_column: condition column; ``None``: ``-``.
        split_column: split column; ``None``: ``split`` if present.
        split: put every row into this split (the protocol needs no split column then).
        splits: the split names the protocol holds, declared (else read from the protocol).
    """

    path: str
    type: Literal["folder"] = "folder"
    protocol: str = "protocol.tsv"
    sep: str | None = None
    path_column: str = "path"
    label_column: str = "label"
    utt_id_column: str | None = None
    speaker_column: str | None = None
    attack_column: str | None = None
    condition_column: str | None = None
    split_column: str | None = None
    split: str | None = None
    splits: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.split is not None and self.split_column is not None:
            raise ConfigError(
                f"split: got {self.split!r} together with split_column {self.split_column!r}; "
                "expected only one"
            )
        if self.splits is not None and not self.splits:
            raise ConfigError("splits: got an empty list; expected at least one split name")


CorpusConfig = (
    DemoCorpusConfig
    | Asvspoof2019LAConfig
    | Asvspoof2021LAConfig
    | Asvspoof2021DFConfig
    | InTheWildConfig
    | FolderCorpusConfig
)


@dataclass(frozen=True)
class CorpusType:
    """One registry entry: everything the pipeline needs to know about a kind of corpus.

    Attributes:
        config_cls: the frozen config dataclass.
        description: one line for error messages and docs.
        splits: the splits the corpus provides, without I/O (folder: may read its protocol).
        fetch: ``(cfg, dest) -> summary``; idempotent.
        read_protocol: ``(cfg, raw_dir) -> DataFrame`` with :data:`PROTOCOL_COLUMNS` (absolute
            paths) plus ``condition_columns``.
        condition_columns: extra per-trial condition columns kept in the manifest.
    """

    config_cls: type
    description: str
    splits: Callable[[Any], tuple[str, ...]]
    fetch: Callable[[Any, Path], dict]
    read_protocol: Callable[[Any, Path], pd.DataFrame]
    condition_columns: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------------
# Protocol parsers (pure functions of a file)
# --------------------------------------------------------------------------------------------------


def _read_columns(path: Path, n_columns: int | tuple[int, ...], hint: str) -> list[list[str]]:
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


def read_asvspoof2019_protocol(path: Path) -> pd.DataFrame:
    """Parse an ASVspoof 2019 LA CM protocol (5 columns ``SPEAKER FILE - SYSTEM KEY``, no header).

    Returns:
        DataFrame with columns ``speaker, utt_id, attack, label`` (attack ``-`` for bona fide).

    Raises:
        CorpusError: wrong column count (e.g. a 4-column "modified" copy), column 3 not ``-``, or an
            unknown key; the message names the file and line.
    """
    rows = _read_columns(
        path, 5, "SPEAKER FILE - SYSTEM KEY; 4-column copies of the protocol are not the official one"
    )
    df = pd.DataFrame(rows, columns=["speaker", "utt_id", "unused", "attack", "label"])
    bad = df.index[df["unused"] != "-"]
    if len(bad):
        raise CorpusError(f"{path}:{bad[0] + 1}: column 3 is {df['unused'][bad[0]]!r}; expected '-'")
    df["label"] = [normalise_label(v, f"{path}:{i + 1}") for i, v in enumerate(df["label"])]
    bonafide_with_attack = df.index[(df["label"] == "bonafide") & (df["attack"] != "-")]
    if len(bonafide_with_attack):
        i = bonafide_with_attack[0]
        raise CorpusError(f"{path}:{i + 1}: bona fide trial with system {df['attack'][i]!r}; expected '-'")
    return df[["speaker", "utt_id", "attack", "label"]]


#: Column names of the 2021 CM trial_metadata files (docs/data.md).
LA21_METADATA_COLUMNS = ("speaker", "utt_id", "codec", "transmission", "attack", "label", "trim", "subset")
DF21_METADATA_COLUMNS = (
    "speaker", "utt_id", "compression", "source", "attack", "label", "trim", "subset", "vocoder", "task",
    "team", "gender_pair", "language",
)  # fmt: skip


def read_asvspoof2021_metadata(path: Path, track: Literal["LA", "DF"]) -> pd.DataFrame:
    """Parse ``keys/<track>/CM/trial_metadata.txt`` (LA: 8 columns, DF: 13 columns, space-separated).

    Returns:
        DataFrame with the named columns of :data:`LA21_METADATA_COLUMNS` / :data:`DF21_METADATA_COLUMNS`,
        labels normalised and attack ``-`` for bona fide.
    """
    columns = LA21_METADATA_COLUMNS if track == "LA" else DF21_METADATA_COLUMNS
    rows = _read_columns(path, len(columns), " ".join(columns))
    df = pd.DataFrame(rows, columns=list(columns))
    df["label"] = [normalise_label(v, f"{path}:{i + 1}") for i, v in enumerate(df["label"])]
    df.loc[df["label"] == "bonafide", "attack"] = "-"
    return df


def read_trial_list(path: Path) -> list[str]:
    """Trial ids of an unlabelled trial list (one id per line, e.g. ``ASVspoof2021.LA.cm.eval.trl.txt``)."""
    return [r[0] for r in _read_columns(path, 1, "one trial id per line")]


def _sha256_of(path: Path) -> str:
    return fetchlib.file_digests(path)["sha256"]


# --------------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------------

_MARKER = fetchlib.MARKER


def _demo_splits(cfg: DemoCorpusConfig) -> tuple[str, ...]:
    return tuple(DEMO_PROTOCOLS)


def _count_flac(dirs: list[Path]) -> int:
    return sum(1 for d in dirs if d.is_dir() for e in os.scandir(d) if e.name.endswith(".flac"))


def _la_layout_complete(la_dir: Path, protocols: dict[str, str]) -> int | None:
    """Number of audio files when every protocol exists and every trial has its FLAC, else None."""
    total = 0
    for split, suffix in protocols.items():
        proto = la_dir / LA19_PROTOCOL_DIR / f"ASVspoof2019.LA.cm.{suffix}.txt"
        flac_dir = la_dir / f"ASVspoof2019_LA_{split}" / "flac"
        if not proto.is_file() or not flac_dir.is_dir():
            return None
        with open(proto, encoding="utf-8") as f:
            ids = {line.split()[1] for line in f if line.strip()}
        present = {e.name[: -len(".flac")] for e in os.scandir(flac_dir) if e.name.endswith(".flac")}
        if not ids or not ids <= present:
            return None
        total += len(ids)
    return total


def _fetch_demo(cfg: DemoCorpusConfig, dest: Path) -> dict:
    """Generate the demo corpus into ``dest`` (deterministic); skip when complete with the same config."""
    import sdd.data.demo as demo  # lazy: the generator module pulls in its DSP code

    dest = Path(dest)
    # The resolved generator config and the generator's source: a code change regenerates the data
    # (the fetch stage re-runs when demo.py changes; without this it would find the old data complete).
    fingerprint = {
        "type": "demo",
        "config": dataclasses.asdict(cfg.generator_config()),
        "generator_sha256": hashlib.sha256(Path(demo.__file__).read_bytes()).hexdigest(),
    }
    marker = fetchlib.read_marker(dest)
    if marker is not None and marker.get("fingerprint") == fingerprint:
        if _la_layout_complete(dest / "LA", DEMO_PROTOCOLS) is not None:
            log.info("%s: demo corpus complete for this config; nothing to do", dest)
            return marker["summary"]
    if dest.exists() and any(dest.iterdir()) and marker is None:
        raise CorpusError(
            f"{dest}: exists, is not empty and holds no {_MARKER}; refusing to overwrite data sdd did not "
            "write (remove it or choose another destination)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        demo.generate_demo(cfg.generator_config(), tmp, workers=2)
        n_files = _la_layout_complete(tmp / "LA", DEMO_PROTOCOLS)
        if n_files is None:
            raise CorpusError(f"{tmp}: the demo generator did not write the complete 2019 LA layout")
        digest = hashlib.sha256()
        for suffix in DEMO_PROTOCOLS.values():
            digest.update((tmp / "LA" / LA19_PROTOCOL_DIR / f"ASVspoof2019.LA.cm.{suffix}.txt").read_bytes())
        summary = {
            "corpus_type": "demo",
            "source": "generated",
            "config": fingerprint["config"],
            "generator_sha256": fingerprint["generator_sha256"],
            "dest": fetchlib.display_path(dest),
            "files": n_files,
            "protocols_sha256": digest.hexdigest(),
            "checksum": "sha256 of the generated protocols (deterministic for a config)",
        }
        fetchlib.write_marker(tmp, fingerprint, summary)
        fetchlib.replace_dir(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("%s: generated demo corpus (%d files)", dest, summary["files"])
    return summary


def _la19_style_protocol(la_dir: Path, protocols: dict[str, str]) -> pd.DataFrame:
    frames = []
    for split, suffix in protocols.items():
        df = read_asvspoof2019_protocol(la_dir / LA19_PROTOCOL_DIR / f"ASVspoof2019.LA.cm.{suffix}.txt")
        flac_dir = la_dir / f"ASVspoof2019_LA_{split}" / "flac"
        df["path"] = [str(flac_dir / f"{u}.flac") for u in df["utt_id"]]
        df["split"] = split
        df["condition"] = "-"
        frames.append(df)
    return pd.concat(frames, ignore_index=True)[list(PROTOCOL_COLUMNS)]


def _read_demo(cfg: DemoCorpusConfig, raw_dir: Path) -> pd.DataFrame:
    return _la19_style_protocol(Path(raw_dir) / "LA", DEMO_PROTOCOLS)


# --------------------------------------------------------------------------------------------------
# ASVspoof 2019 LA
# --------------------------------------------------------------------------------------------------


def _la19_dir(root: Path) -> Path:
    """``root/LA`` or ``root`` itself, whichever holds the CM protocols."""
    for candidate in (root / "LA", root):
        if (candidate / LA19_PROTOCOL_DIR).is_dir():
            return candidate
    raise CorpusError(
        f"{root}: no {LA19_PROTOCOL_DIR}/ in it or in {root / 'LA'}; expected the unzipped LA.zip"
    )


def _la19_splits(cfg: Asvspoof2019LAConfig) -> tuple[str, ...]:
    return tuple(LA19_PROTOCOLS)


def _la19_required() -> list[str]:
    req = [f"LA/{LA19_PROTOCOL_DIR}/ASVspoof2019.LA.cm.{s}.txt" for s in LA19_PROTOCOLS.values()]
    return req + [f"LA/ASVspoof2019_LA_{s}/flac" for s in LA19_PROTOCOLS]


def _fetch_la19(cfg: Asvspoof2019LAConfig, dest: Path) -> dict:
    if cfg.source_dir is not None:
        root = resolve(cfg.source_dir)
        return _in_place_summary("asvspoof2019_la", root, _la19_dir(root), ["ASVspoof2019_LA_*/flac/*.flac"])
    user_md5 = cfg.md5 != LA19_MD5
    archive = fetchlib.Archive(
        url=cfg.url,
        filename="LA.zip",
        md5=cfg.md5,
        sha256=cfg.sha256,
        checksum_source="user" if user_md5 or cfg.sha256 else "third-party",
        size=LA19_SIZE if cfg.url == LA19_URL else None,
        override_hint="pass --md5 <the MD5 you computed> to `sdd fetch`, "
        "or set corpora.<name>.md5 in params.yaml",
    )
    summary = fetchlib.fetch_archives(
        [archive], dest, required=_la19_required(), keep_archives=cfg.keep_archives
    )
    files = _count_flac([dest / "LA" / f"ASVspoof2019_LA_{s}" / "flac" for s in LA19_PROTOCOLS])
    return {"corpus_type": "asvspoof2019_la", **summary, "files": files}


def _read_la19(cfg: Asvspoof2019LAConfig, raw_dir: Path) -> pd.DataFrame:
    root = resolve(cfg.source_dir) if cfg.source_dir is not None else Path(raw_dir)
    return _la19_style_protocol(_la19_dir(root), LA19_PROTOCOLS)


# --------------------------------------------------------------------------------------------------
# ASVspoof 2021 LA / DF
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Track2021:
    track: Literal["LA", "DF"]
    corpus_type: str
    condition: str  # the metadata column that defines the official per-condition EER
    extra: tuple[str, ...]  # metadata columns kept in the manifest


_TRACKS = {
    "asvspoof2021_la": _Track2021("LA", "asvspoof2021_la", "codec", ("codec", "transmission")),
    "asvspoof2021_df": _Track2021(
        "DF", "asvspoof2021_df", "compression", ("compression", "source", "vocoder")
    ),
}


def _2021_splits(cfg: Asvspoof2021LAConfig | Asvspoof2021DFConfig) -> tuple[str, ...]:
    return (cfg.subset,)


def _2021_roots(cfg: Asvspoof2021LAConfig | Asvspoof2021DFConfig, raw_dir: Path) -> tuple[Path, Path]:
    audio_root = resolve(cfg.source_dir) if cfg.source_dir is not None else Path(raw_dir)
    keys_root = resolve(cfg.keys_source_dir) if cfg.keys_source_dir is not None else Path(raw_dir)
    return audio_root, keys_root


def _fetch_2021(cfg: Asvspoof2021LAConfig | Asvspoof2021DFConfig, dest: Path) -> dict:
    t = _TRACKS[cfg.type]
    audio_dir = f"ASVspoof2021_{t.track}_eval"
    keys_file = f"keys/{t.track}/CM/trial_metadata.txt"
    archives: list[fetchlib.Archive] = []
    required: list[str] = []
    in_place: dict[str, Any] = {}
    if cfg.source_dir is None:
        if t.track == "LA":
            urls, md5s = (cfg.url,), (cfg.md5,)
            sha256s: tuple[str | None, ...] = (cfg.sha256,)
        else:
            urls, md5s = cfg.urls, cfg.md5s or (None,) * len(cfg.urls)
            sha256s = (None,) * len(cfg.urls)
        for url, md5, sha in zip(urls, md5s, sha256s, strict=True):
            archives.append(
                fetchlib.Archive(
                    url=url,
                    filename=fetchlib.url_filename(url),
                    md5=md5,
                    sha256=sha,
                    checksum_source="user" if (md5 or sha) else "none",
                )
            )
        required.append(f"{audio_dir}/flac")
    else:
        src = resolve(cfg.source_dir)
        if not (src / audio_dir / "flac").is_dir():
            raise CorpusError(
                f"{cfg.source_dir}: no {audio_dir}/flac/ in {src}; expected the extracted audio archive"
            )
        in_place["audio_source_dir"] = fetchlib.display_path(src)
        in_place["audio_files"] = _count_flac([src / audio_dir / "flac"])
    if cfg.keys_source_dir is None:
        official = LA21_KEYS_MD5 if t.track == "LA" else DF21_KEYS_MD5
        source = "official" if cfg.keys_md5 == official else ("user" if cfg.keys_md5 else "none")
        archives.append(
            fetchlib.Archive(
                url=cfg.keys_url,
                filename=fetchlib.url_filename(cfg.keys_url),
                md5=cfg.keys_md5,
                checksum_source=source,
            )
        )
        required.append(keys_file)
    else:
        keys = resolve(cfg.keys_source_dir) / keys_file
        if not keys.is_file():
            raise CorpusError(f"{cfg.keys_source_dir}: {keys} not found; expected the extracted keys archive")
        in_place["keys_source_dir"] = fetchlib.display_path(keys.parents[3])
        in_place["keys_sha256"] = _sha256_of(keys)
    summary: dict[str, Any] = {"corpus_type": t.corpus_type, "subset": cfg.subset}
    if archives:
        summary.update(
            fetchlib.fetch_archives(archives, dest, required=required, keep_archives=cfg.keep_archives)
        )
    summary.update(in_place)
    if cfg.source_dir is None:
        summary["files"] = _count_flac([Path(dest) / audio_dir / "flac"])
    return summary


def _read_2021(cfg: Asvspoof2021LAConfig | Asvspoof2021DFConfig, raw_dir: Path) -> pd.DataFrame:
    t = _TRACKS[cfg.type]
    audio_root, keys_root = _2021_roots(cfg, raw_dir)
    meta = read_asvspoof2021_metadata(keys_root / "keys" / t.track / "CM" / "trial_metadata.txt", t.track)
    meta = meta[meta["subset"] == cfg.subset].reset_index(drop=True)
    if meta.empty:
        raise CorpusError(f"{keys_root}: no trials of subset {cfg.subset!r} in the {t.track} keys")
    audio_dir = audio_root / f"ASVspoof2021_{t.track}_eval"
    trials = audio_dir / f"ASVspoof2021.{t.track}.cm.eval.trl.txt"
    if trials.is_file():  # shipped with the audio: the keys must describe these trials
        unknown = sorted(set(meta["utt_id"]) - set(read_trial_list(trials)))
        if unknown:
            raise CorpusError(
                f"{trials}: {len(unknown)} trial(s) of the {t.track} keys are not in this trial list, "
                f"e.g. {unknown[:3]}; expected keys and audio of the same track"
            )
    flac_dir = audio_dir / "flac"
    meta["path"] = [str(flac_dir / f"{u}.flac") for u in meta["utt_id"]]
    meta["split"] = cfg.subset
    meta["condition"] = meta[t.condition]
    return meta[list(PROTOCOL_COLUMNS) + list(t.extra)]


# --------------------------------------------------------------------------------------------------
# In-the-Wild
# --------------------------------------------------------------------------------------------------

ITW_DIR = "release_in_the_wild"


def _itw_dir(root: Path) -> Path:
    for candidate in (root / ITW_DIR, root):
        if (candidate / "meta.csv").is_file():
            return candidate
    raise CorpusError(
        f"{root}: no meta.csv in it or in {root / ITW_DIR}; expected the unzipped In-the-Wild release"
    )


def _fetch_itw(cfg: InTheWildConfig, dest: Path) -> dict:
    if cfg.source_dir is not None:
        root = resolve(cfg.source_dir)
        return _in_place_summary("in_the_wild", root, _itw_dir(root), ["*.wav"])
    if cfg.url is None:
        raise CorpusError(
            "in_the_wild: no official download URL exists; set `url` (and optionally md5/sha256) or "
            "`source_dir` (the folder holding release_in_the_wild/) for this corpus in params.yaml, "
            "or pass --url to `sdd fetch`"
        )
    archive = fetchlib.Archive(
        url=cfg.url,
        filename=fetchlib.url_filename(cfg.url, default="release_in_the_wild.zip"),
        md5=cfg.md5,
        sha256=cfg.sha256,
        checksum_source="user" if (cfg.md5 or cfg.sha256) else "none",
    )
    summary = fetchlib.fetch_archives(
        [archive], dest, required=[f"{ITW_DIR}/meta.csv"], keep_archives=cfg.keep_archives
    )
    files = sum(1 for e in os.scandir(Path(dest) / ITW_DIR) if e.name.endswith(".wav"))
    return {"corpus_type": "in_the_wild", **summary, "files": files}


def _read_itw(cfg: InTheWildConfig, raw_dir: Path) -> pd.DataFrame:
    root = resolve(cfg.source_dir) if cfg.source_dir is not None else Path(raw_dir)
    itw = _itw_dir(root)
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


def _itw_splits(cfg: InTheWildConfig) -> tuple[str, ...]:
    return ("eval",)


# --------------------------------------------------------------------------------------------------
# folder
# --------------------------------------------------------------------------------------------------


def _folder_protocol_path(cfg: FolderCorpusConfig) -> Path:
    return resolve(cfg.path) / cfg.protocol


def _folder_sep(cfg: FolderCorpusConfig, path: Path) -> str:
    if cfg.sep is not None:
        return cfg.sep
    return "\t" if path.suffix.lower() in (".tsv", ".txt", ".tab") else ","


def _folder_table(cfg: FolderCorpusConfig, usecols: list[str] | None = None) -> pd.DataFrame:
    path = _folder_protocol_path(cfg)
    if not path.is_file():
        raise CorpusError(
            f"{path}: protocol file not found (corpus folder {cfg.path!r}, protocol {cfg.protocol!r})"
        )
    return pd.read_csv(path, sep=_folder_sep(cfg, path), dtype=str, keep_default_na=False, usecols=usecols)


def _pick_column(
    cfg_value: str | None, auto: tuple[str, ...], columns: list[str], key: str, path: Path
) -> str | None:
    """The configured column (must exist) or the first automatic candidate present (or None)."""
    if cfg_value is not None:
        if cfg_value not in columns:
            raise CorpusError(f"{path}: {key} {cfg_value!r} is not a column; expected one of {columns}")
        return cfg_value
    return next((c for c in auto if c in columns), None)


def _no_split_message(path: Path) -> str:
    return f"{path}: no split column; set split_column, or split: <name> to use every row as one split"


def _folder_splits(cfg: FolderCorpusConfig) -> tuple[str, ...]:
    if cfg.splits is not None:
        return cfg.splits
    if cfg.split is not None:
        return (cfg.split,)
    path = _folder_protocol_path(cfg)
    if not path.is_file():
        raise CorpusError(
            f"{path}: protocol file not found; cannot list its splits (or declare them as `splits`)"
        )
    header = list(pd.read_csv(path, sep=_folder_sep(cfg, path), dtype=str, nrows=0).columns)
    column = _pick_column(cfg.split_column, ("split",), header, "split_column", path)
    if column is None:
        raise CorpusError(_no_split_message(path))
    values = _folder_table(cfg, usecols=[column])[column]
    return tuple(dict.fromkeys(v for v in values if v))


def _fetch_folder(cfg: FolderCorpusConfig, dest: Path) -> dict:
    """A folder corpus is used in place: check it exists and record its protocol's checksum."""
    root = resolve(cfg.path)
    proto = _folder_protocol_path(cfg)
    if not root.is_dir():
        raise CorpusError(f"{cfg.path}: corpus folder {root} not found")
    df = _read_folder(cfg, root)
    missing = [p for p in df["path"] if not Path(p).is_file()]
    if missing:
        raise CorpusError(f"{proto}: {len(missing)} audio file(s) listed but not found, e.g. {missing[:3]}")
    return {
        "corpus_type": "folder",
        "source": "in place",
        "path": fetchlib.display_path(root),
        "protocol": cfg.protocol,
        "protocol_sha256": _sha256_of(proto),
        "checksum": "sha256 of the protocol, computed here (no published checksum for a custom folder)",
        "files": int(len(df)),
        "splits": {s: int(n) for s, n in df["split"].value_counts(sort=False).items()},
    }


def _read_folder(cfg: FolderCorpusConfig, raw_dir: Path) -> pd.DataFrame:
    root = resolve(cfg.path)
    path = _folder_protocol_path(cfg)
    table = _folder_table(cfg)
    cols = list(table.columns)
    for key in ("path_column", "label_column"):
        if getattr(cfg, key) not in cols:
            raise CorpusError(f"{path}: {key} {getattr(cfg, key)!r} is not a column; expected one of {cols}")
    utt_col = _pick_column(cfg.utt_id_column, ("utt_id",), cols, "utt_id_column", path)
    spk_col = _pick_column(cfg.speaker_column, ("speaker",), cols, "speaker_column", path)
    att_col = _pick_column(cfg.attack_column, ("attack", "system"), cols, "attack_column", path)
    cond_col = _pick_column(cfg.condition_column, (), cols, "condition_column", path)
    split_col = None
    if cfg.split is None:
        split_col = _pick_column(cfg.split_column, ("split",), cols, "split_column", path)
    if cfg.split is None and split_col is None:
        raise CorpusError(_no_split_message(path))
    labels = [normalise_label(v, f"{path}:{i + 2}") for i, v in enumerate(table[cfg.label_column])]
    audio = [Path(p) if Path(p).is_absolute() else root / p for p in table[cfg.path_column]]

    def column(name: str | None, default: str) -> list[str]:
        return [v.strip() or default for v in table[name]] if name is not None else [default] * len(table)

    attacks = column(att_col, "-")
    attacks = [
        "-" if lab == "bonafide" else (a if a != "-" else "unknown")
        for lab, a in zip(labels, attacks, strict=True)
    ]
    df = pd.DataFrame(
        {
            "utt_id": column(utt_col, "") if utt_col else [p.stem for p in audio],
            "path": [str(p) for p in audio],
            "speaker": column(spk_col, "-"),
            "label": labels,
            "attack": attacks,
            "condition": column(cond_col, "-"),
            "split": column(split_col, "") if split_col else [cfg.split] * len(table),
        }
    )
    empty_ids = df.index[df["utt_id"] == ""]
    if len(empty_ids):
        raise CorpusError(f"{path}:{empty_ids[0] + 2}: empty utterance id")
    empty_split = df.index[df["split"] == ""]
    if len(empty_split):
        raise CorpusError(f"{path}:{empty_split[0] + 2}: empty split")
    if cfg.splits is not None:
        unknown = sorted(set(df["split"]) - set(cfg.splits))
        if unknown:
            raise CorpusError(
                f"{path}: split value(s) {unknown} not among the declared splits {list(cfg.splits)}"
            )
    return df


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


def _in_place_summary(corpus_type: str, root: Path, data_dir: Path, patterns: list[str]) -> dict:
    files = sum(1 for pattern in patterns for _ in data_dir.glob(pattern))
    if files == 0:
        raise CorpusError(f"{data_dir}: no audio files matching {patterns}; expected the extracted corpus")
    log.info("%s: using the existing copy in place (%d audio files; nothing downloaded)", data_dir, files)
    return {
        "corpus_type": corpus_type,
        "source": "source_dir (in place, not copied)",
        "source_dir": fetchlib.display_path(root),
        "files": files,
        "checksum": "unknown: data supplied in place, no archive to verify",
    }


# --------------------------------------------------------------------------------------------------
# Registry and public API
# --------------------------------------------------------------------------------------------------

CORPUS_TYPES: dict[str, CorpusType] = {
    "demo": CorpusType(
        DemoCorpusConfig, "built-in synthetic corpus in the ASVspoof 2019 LA layout", _demo_splits,
        _fetch_demo, _read_demo,
    ),
    "asvspoof2019_la": CorpusType(
        Asvspoof2019LAConfig, "ASVspoof 2019 LA (train/dev/eval)", _la19_splits, _fetch_la19, _read_la19
    ),
    "asvspoof2021_la": CorpusType(
        Asvspoof2021LAConfig, "ASVspoof 2021 LA eval + keys", _2021_splits, _fetch_2021, _read_2021,
        _TRACKS["asvspoof2021_la"].extra,
    ),
    "asvspoof2021_df": CorpusType(
        Asvspoof2021DFConfig, "ASVspoof 2021 DF eval (4 parts) + keys", _2021_splits, _fetch_2021, _read_2021,
        _TRACKS["asvspoof2021_df"].extra,
    ),
    "in_the_wild": CorpusType(InTheWildConfig, "In-the-Wild (eval only)", _itw_splits, _fetch_itw, _read_itw),
    "folder": CorpusType(
        FolderCorpusConfig, "a folder of audio + a CSV/TSV protocol", _folder_splits, _fetch_folder,
        _read_folder,
    ),
}  # fmt: skip


def parse_corpus(name: str, data: dict) -> CorpusConfig:
    """Build the validated, frozen config of corpus ``name`` from its params entry (no I/O).

    Raises:
        ConfigError: missing/unknown ``type``, unknown key, wrong type or bad value; the message names
            ``corpora.<name>.<key>``, the value and what was expected.
    """
    where = f"corpora.{name}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: got {data!r}; expected a mapping with a `type` key")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CORPUS_TYPES:
        raise ConfigError(f"{where}.type: got {kind!r}; expected one of {sorted(CORPUS_TYPES)}")
    try:
        return build(CORPUS_TYPES[kind].config_cls, data, where)
    except ConfigError as exc:
        # Range checks in __post_init__ (ours and the demo generator's) name the key but not the entry.
        msg = str(exc)
        if msg.startswith(where + ".") or msg.startswith(where + ":"):
            raise
        if msg.startswith("corpora.demo"):
            msg = re.sub(r"^corpora\.demo(?=[.:])", where, msg)
        else:
            msg = f"{where}.{msg}"
        raise ConfigError(msg) from exc


def corpus_splits(cfg: CorpusConfig) -> tuple[str, ...]:
    """The splits (or subsets) the corpus provides, e.g. ``('train', 'dev', 'eval')``.

    No I/O, except for a ``folder`` corpus without declared ``splits``, whose protocol's split column
    is read.
    """
    return CORPUS_TYPES[cfg.type].splits(cfg)


def fetch_corpus(cfg: CorpusConfig, dest: Path) -> dict:
    """Make the corpus's raw data available: download + verify + extract, generate, or check in place.

    Idempotent: complete data is detected and skipped (returning the recorded summary).

    Args:
        cfg: a config from :func:`parse_corpus`.
        dest: where raw data goes (``<repo root>/data/raw/<corpus name>``); unused by corpora read in
            place (``source_dir``, ``folder``).

    Returns:
        A small JSON-able summary: what was fetched, file count, the checksums computed/verified and
        whether they were official, third-party, user-given or unknown.
    """
    return CORPUS_TYPES[cfg.type].fetch(cfg, Path(dest))


def read_protocol(cfg: CorpusConfig, raw_dir: Path) -> pd.DataFrame:
    """All trials of the corpus (every split) with absolute audio paths, without touching the audio."""
    df = CORPUS_TYPES[cfg.type].read_protocol(cfg, Path(raw_dir))
    dup = df["utt_id"][df["utt_id"].duplicated()]
    if len(dup):
        raise CorpusError(f"{cfg.type}: {len(dup)} duplicate utterance id(s), e.g. {list(dup[:3])}")
    return df


# Re-exported so the whole corpus API is importable from here; prepare imports this module lazily.
from sdd.data.prepare import check_leakage, prepare_corpus  # noqa: E402
