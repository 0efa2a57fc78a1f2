"""The stage contract (sdd.core.stage): one manifest reader and one manifest path rule (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sdd.core.stage import MANIFEST_COLUMNS, manifest_path, read_manifest


def test_manifest_path_is_corpus_then_split(tmp_path: Path):
    assert manifest_path(tmp_path, "la19", "eval") == tmp_path / "la19" / "eval.csv"


def test_read_manifest_keeps_identifiers_as_text(tmp_path: Path):
    path = tmp_path / "m.csv"
    pd.DataFrame({
        "utt_id": ["0012", "NA"], "path": ["a.flac", "b.flac"], "speaker": ["007", "-"],
        "label": ["bonafide", "spoof"], "attack": ["-", "A01"], "duration_s": [1.5, 2.0],
    }).to_csv(path, index=False)  # fmt: skip
    m = read_manifest(path)
    assert m["utt_id"].tolist() == ["0012", "NA"] and m["speaker"].tolist() == ["007", "-"]
    assert m["duration_s"].tolist() == [1.5, 2.0]  # numbers stay numbers
    assert set(MANIFEST_COLUMNS) >= {"utt_id", "path", "label", "speaker", "attack", "condition"}


def test_read_manifest_names_the_file_and_what_is_missing(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"nope\.csv: no manifest; the prepare"):
        read_manifest(tmp_path / "nope.csv")
    path = tmp_path / "m.csv"
    pd.DataFrame({"utt_id": ["u"], "path": ["a.flac"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"m\.csv: manifest lacks column\(s\) \['label'\]"):
        read_manifest(path)
    assert len(read_manifest(path, required=("utt_id", "path"))) == 1
