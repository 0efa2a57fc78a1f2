"""Fetch step of the ``hf_dataset`` recipe (:mod:`sdd.data.corpora.hf_dataset`): read the dataset with
the ``datasets`` library and write its audio bytes out as files, with a protocol table.

The dataset is loaded as the library loads it: a hub id through the HF cache and the hub
(``HF_HUB_OFFLINE=1`` honoured: a dataset missing from the cache is then an error), a
``save_to_disk`` folder with ``load_from_disk``, a folder of parquet/arrow files with
``load_dataset``. The audio column is cast to ``Audio(decode=False)``: ``datasets`` 4+ decodes through
torchcodec and FFmpeg, which sdd does not ship, so the rows give the encoded bytes, which are written
unchanged (soundfile names their format, hence the file extension) and decoded by soundfile in
prepare's full decode check and in the loader. Labels (and ``split_column`` values) are mapped
before any audio is written: a value the mapping does not list stops the fetch with one line naming
the value and the mapping.

Output, built in a temporary folder moved into place when complete: ``<dest>/audio/<dataset
split>/<row>.<ext>`` and ``<dest>/protocol.tsv`` (paths relative to ``dest``), plus the completion
marker. A rerun whose dataset fingerprints (the library's hash of each split's data) and config
match the marker does nothing.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import soundfile as sf

from sdd.core.configbase import to_dict
from sdd.core.paths import display_path, resolve
from sdd.data import download
from sdd.data.corpora.common import PROTOCOL_COLUMNS, CorpusError
from sdd.data.corpora.hf_dataset import AUDIO_DIR, PROTOCOL_FILE, HFDatasetConfig

__all__ = ["fetch", "load_splits"]

log = logging.getLogger(__name__)

#: The name ``datasets`` gives data without a split (a single ``Dataset`` saved with save_to_disk).
UNSPLIT = "train"
_BATCH = 256


def _source(cfg: HFDatasetConfig) -> str:
    if cfg.dataset is not None:
        return f"{cfg.dataset}@{cfg.revision}" if cfg.revision else cfg.dataset
    return display_path(resolve(cfg.path))


def load_splits(cfg: HFDatasetConfig) -> dict[str, Any]:
    """Every split of the dataset (``datasets.Dataset`` objects by split name), as the library loads it.

    Raises:
        CorpusError: the dataset cannot be loaded (missing folder, not on the hub or not in the cache
            when offline, unreadable files); one line naming the source and the library's reason.
    """
    import datasets  # lazy: a second or more to import, needed only here

    where = f"hf_dataset {_source(cfg)}"
    try:
        if cfg.path is not None:
            root = resolve(cfg.path)
            if not root.is_dir():
                raise CorpusError(f"{where}: folder {root} not found; expected a dataset folder")
            if (root / "dataset_dict.json").is_file() or (root / "state.json").is_file():
                if cfg.name is not None:
                    raise CorpusError(
                        f"{where}: name {cfg.name!r} given for a save_to_disk folder, which holds one "
                        "configuration; expected name: null"
                    )
                loaded = datasets.load_from_disk(str(root))
            else:
                loaded = datasets.load_dataset(str(root), name=cfg.name)
        else:
            loaded = datasets.load_dataset(cfg.dataset, name=cfg.name, revision=cfg.revision)
    except CorpusError:
        raise
    except (OSError, ValueError, datasets.exceptions.DatasetsError) as exc:
        offline = " (HF_HUB_OFFLINE is set: only the local cache is used)" if _offline() else ""
        reason = " ".join(str(exc).split())
        raise CorpusError(
            f"{where}: cannot load the dataset{offline}: {type(exc).__name__}: {reason}"
        ) from exc
    if isinstance(loaded, datasets.Dataset):
        return {UNSPLIT: loaded}
    if not isinstance(loaded, datasets.DatasetDict):
        raise CorpusError(f"{where}: loaded a {type(loaded).__name__}; expected a Dataset or DatasetDict")
    return dict(loaded)


def _offline() -> bool:
    import datasets

    return bool(datasets.config.HF_HUB_OFFLINE)


def _columns(cfg: HFDatasetConfig) -> dict[str, str]:
    keys = ("audio_column", "label_column", "utt_id_column", "speaker_column", "attack_column",
            "condition_column", "split_column")  # fmt: skip
    return {k: getattr(cfg, k) for k in keys if getattr(cfg, k) is not None}


def _label_lookup(cfg: HFDatasetConfig, feature: Any) -> dict[str, str]:
    """Text of a raw label value (and ClassLabel name) -> ``bonafide`` / ``spoof``."""
    lookup = {str(v): "bonafide" for v in cfg.labels.bonafide}
    lookup |= {str(v): "spoof" for v in cfg.labels.spoof}
    names = getattr(feature, "names", None)  # a ClassLabel: its class names match too
    if names:
        for i, label_name in enumerate(names):
            by_index, by_name = lookup.get(str(i)), lookup.get(str(label_name))
            if by_index and by_name and by_index != by_name:
                raise CorpusError(
                    f"labels: class {i} ({label_name!r}) of column {cfg.label_column!r} is mapped to "
                    f"{by_index} by its index and to {by_name} by its name; expected one meaning"
                )
            if by_index or by_name:
                lookup[str(i)] = by_index or by_name
    return lookup


def _text(values: list[Any]) -> list[str]:
    return ["" if v is None else str(v).strip() for v in values]


def _plan(cfg: HFDatasetConfig, data: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """The protocol rows (without paths) of every dataset split read; no audio is touched.

    Returns:
        ``(table, read)``: one row per trial with a ``source_split`` and ``row`` column; the dataset
        splits read.
    """
    from datasets import Audio

    where = f"hf_dataset {_source(cfg)}"
    if cfg.split_column is None:
        missing = [s for s in cfg.splits if s not in data]
        if missing:
            raise CorpusError(
                f"{where}: split(s) {missing} named in `splits` not in the dataset; it has {sorted(data)}"
            )
        read = list(cfg.splits)
    else:
        read = list(data)
    left_out = sorted(set(data) - set(read))
    if left_out:
        log.info("%s: dataset split(s) %s are not in `splits`; not read", where, left_out)
    frames = []
    for source_split in read:
        ds = data[source_split]
        have = list(ds.column_names)
        for key, column in _columns(cfg).items():
            if column not in have:
                raise CorpusError(
                    f"{where}: {key} {column!r} is not a column of split {source_split!r}; "
                    f"its columns: {have}"
                )
        audio_feature = ds.features[cfg.audio_column]
        if not isinstance(audio_feature, Audio) and not (
            isinstance(audio_feature, dict) and {"bytes", "path"} <= set(audio_feature)
        ):
            raise CorpusError(
                f"{where}: audio_column {cfg.audio_column!r} of split {source_split!r} is "
                f"{audio_feature!r}; expected an Audio column (or a struct of bytes and path)"
            )
        label_feature = ds.features[cfg.label_column]
        lookup = _label_lookup(cfg, label_feature)
        raw = _text(ds[cfg.label_column])
        unmapped = sorted(set(raw) - set(lookup))
        if unmapped:
            row = raw.index(unmapped[0])
            names = getattr(label_feature, "names", None)
            known = names and unmapped[0].isdigit() and int(unmapped[0]) < len(names)
            named = f" (class name {names[int(unmapped[0])]!r})" if known else ""
            raise CorpusError(
                f"{where}: split {source_split!r} row {row}: label {unmapped[0]!r}{named} of column "
                f"{cfg.label_column!r} is not in labels {cfg.labels.text()}"
                + (f" (all unmapped: {unmapped[:10]})" if len(unmapped) > 1 else "")
            )
        labels = [lookup[v] for v in raw]
        if cfg.split_column is None:
            split = [cfg.splits[source_split]] * len(ds)
        else:
            values = _text(ds[cfg.split_column])
            bad = sorted(set(values) - set(cfg.splits))
            if bad:
                row = values.index(bad[0])
                raise CorpusError(
                    f"{where}: split {source_split!r} row {row}: split_column {cfg.split_column!r} value "
                    f"{bad[0]!r} is not in splits {dict(cfg.splits)}"
                )
            split = [cfg.splits[v] for v in values]

        def column(name: str | None, ds: Any = ds) -> list[str]:
            return [v or "-" for v in _text(ds[name])] if name is not None else ["-"] * len(ds)

        attacks = column(cfg.attack_column)
        frames.append(
            pd.DataFrame(
                {
                    "utt_id": _text(ds[cfg.utt_id_column]) if cfg.utt_id_column else
                    [f"{cfg.tag}_{source_split}_{i:07d}" for i in range(len(ds))],
                    "speaker": column(cfg.speaker_column),
                    "label": labels,
                    "attack": ["-" if lab == "bonafide" else (a if a != "-" else "unknown")
                               for lab, a in zip(labels, attacks, strict=True)],
                    "condition": column(cfg.condition_column),
                    "split": split,
                    "source_split": source_split,
                    "row": range(len(ds)),
                }
            )
        )  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    bad_id = table.index[~table["utt_id"].str.match(r"^\S+$")]
    if len(bad_id):
        r = table.loc[bad_id[0]]
        raise CorpusError(
            f"{where}: split {r.source_split!r} row {r.row}: utterance id {r.utt_id!r} (column "
            f"{cfg.utt_id_column!r}) is empty or has whitespace; expected one token"
        )
    dup = table["utt_id"].duplicated(keep=False)
    if dup.any():
        first = table.loc[dup, "utt_id"].iloc[0]
        rows = [(r.source_split, int(r.row)) for r in table[table["utt_id"] == first].head(3).itertuples()]
        raise CorpusError(
            f"{where}: utterance id {first!r} (column {cfg.utt_id_column!r}) repeats at (split, row) "
            f"{rows}; expected unique ids"
        )
    return table, read


def _audio_batches(ds: Any, column: str) -> Iterator[list[dict]]:
    from datasets import Audio

    try:
        raw = ds.select_columns([column]).cast_column(column, Audio(decode=False))
    except (ValueError, TypeError) as exc:
        raise CorpusError(
            f"audio_column {column!r}: feature {ds.features[column]!r} cannot be read as Audio "
            f"(bytes + path); expected an Audio column ({' '.join(str(exc).split())})"
        ) from exc
    for batch in raw.iter(batch_size=_BATCH):
        yield batch[column]


def _extension(data: bytes, stored_path: str | None) -> str:
    """The file extension soundfile's format detection gives (``wav``, ``flac``, ``mp3``, ``ogg``...);
    bytes it cannot read keep their stored name's extension (prepare's decode check reports them)."""
    try:
        return sf.info(io.BytesIO(data)).format.lower()
    except (sf.LibsndfileError, RuntimeError, TypeError):
        suffix = Path(stored_path or "").suffix.lstrip(".").lower()
        return suffix if suffix.isalnum() else "bin"


def _write_audio(cfg: HFDatasetConfig, data: dict[str, Any], table: pd.DataFrame, tmp: Path) -> list[str]:
    """Write every row's audio bytes under ``tmp/audio/<split>/``; the relative paths, in table order."""
    where = f"hf_dataset {_source(cfg)}"
    paths: list[str] = []
    total, done = len(table), 0
    for source_split, rows in table.groupby("source_split", sort=False)["row"]:
        folder = tmp / AUDIO_DIR / source_split
        folder.mkdir(parents=True)
        row = 0
        for batch in _audio_batches(data[source_split], cfg.audio_column):
            for audio in batch:
                audio = audio or {}
                blob, stored = audio.get("bytes"), audio.get("path")
                if blob is None:
                    if not stored or not os.path.isfile(stored):
                        raise CorpusError(
                            f"{where}: split {source_split!r} row {row}: column {cfg.audio_column!r} "
                            f"holds no bytes and no readable file (path {stored!r}); expected audio"
                        )
                    blob = Path(stored).read_bytes()
                rel = f"{AUDIO_DIR}/{source_split}/{row:07d}.{_extension(blob, stored)}"
                (tmp / rel).write_bytes(blob)
                paths.append(rel)
                row += 1
                done += 1
                if done % max(total // 10, 500) == 0:
                    log.info("%s: %d/%d audio files written", where, done, total)
        if row != len(rows):
            raise CorpusError(f"{where}: split {source_split!r}: {row} audio rows for {len(rows)} labels")
    return paths


def _complete(dest: Path, marker: dict | None, fingerprint: dict) -> bool:
    if marker is None or marker.get("fingerprint") != fingerprint or not (dest / PROTOCOL_FILE).is_file():
        return False
    table = pd.read_csv(dest / PROTOCOL_FILE, sep="\t", dtype=str, keep_default_na=False)
    return all((dest / p).is_file() for p in table["path"])


def fetch(cfg: HFDatasetConfig, dest: Path) -> dict:
    """Read the dataset and write its audio files and protocol into ``dest``; skip when up to date."""
    dest = Path(dest)
    data = load_splits(cfg)
    table, read = _plan(cfg, data)  # labels and splits mapped before any audio is written
    fingerprint = {
        "type": "hf_dataset",
        "config": {k: v for k, v in to_dict(cfg).items() if k != "views"},  # views do not change the data
        # The library's hash of each split's data files and processing (no public accessor).
        "datasets_fingerprint": {s: data[s]._fingerprint for s in read},
    }
    marker = download.read_marker(dest)
    if _complete(dest, marker, fingerprint):
        log.info("%s: %s already written for this dataset and config; nothing to do", dest, PROTOCOL_FILE)
        return marker["summary"]
    if dest.exists() and any(dest.iterdir()) and marker is None:
        raise CorpusError(
            f"{dest}: exists, is not empty and holds no {download.MARKER}; refusing to overwrite data "
            "sdd did not write (remove it or choose another destination)"
        )
    needed = sum(data[s].data.nbytes for s in read)
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if free < needed:
        raise CorpusError(
            f"{dest.parent}: {free / 1e9:.2f} GB free but the dataset's audio needs about "
            f"{needed / 1e9:.2f} GB; free some space"
        )
    for stale in dest.parent.glob(f".{dest.name}.tmp-*"):  # left by a killed run: never complete
        log.info("removing %s left by an interrupted run", stale)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        table["path"] = _write_audio(cfg, data, table, tmp)
        protocol = table[list(PROTOCOL_COLUMNS)]
        protocol.to_csv(tmp / PROTOCOL_FILE, sep="\t", index=False)
        summary = {
            "corpus_type": "hf_dataset",
            "source": _source(cfg),
            "dataset_splits_read": read,
            "dest": display_path(dest),
            "files": int(len(table)),
            "splits": {s: int(n) for s, n in table["split"].value_counts(sort=False).items()},
            "formats": {
                e: int(n) for e, n in table["path"].str.rsplit(".", n=1).str[-1].value_counts().items()
            },
            "datasets_fingerprint": fingerprint["datasets_fingerprint"],
            "checksum": "unknown: no published checksum; the datasets library's fingerprint of each split "
            "is recorded, and prepare records each audio file's BLAKE2b",
        }
        download.write_marker(tmp, fingerprint, summary)
        download.replace_dir(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("%s: wrote %d audio files from %s", dest, summary["files"], summary["source"])
    return summary
