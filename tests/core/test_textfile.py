"""sdd.core.textfile.read_text: UTF-8 with or without BOM and UTF-16/32 with BOM read the same text;
anything else is one TextEncodingError naming the file and the encoding."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from sdd.core.textfile import TextEncodingError, read_text

TEXT = "LA_0001 1.25\r\nLA_0002 -0.5\nspeaker_é 3\n"


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),  # BOM + native order, as PowerShell's `>` writes (LE)
        lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
        lambda t: codecs.BOM_UTF32_LE + t.encode("utf-32-le"),
        lambda t: codecs.BOM_UTF32_BE + t.encode("utf-32-be"),
    ],
    ids=["utf8", "utf8-bom", "utf16", "utf16-le-bom", "utf16-be-bom", "utf32-le-bom", "utf32-be-bom"],
)
def test_every_accepted_encoding_reads_the_same_text(tmp_path: Path, encode):
    p = tmp_path / "scores.txt"
    p.write_bytes(encode(TEXT))
    assert read_text(p) == TEXT  # the mark is dropped, line ends kept


def test_empty_file_is_empty_text(tmp_path: Path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    assert read_text(p) == ""


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        ("LA_0001 1.0\nLA_0002 2.0\n".encode("utf-16-le"), "NUL characters"),  # UTF-16 without a BOM
        ("a 1\nb 2\ncaf\u00e9 3\n".encode("latin-1"), "not valid UTF-8 (no byte-order mark; byte 0xe9"),
        (codecs.BOM_UTF16_LE + b"a\x00\x00\xdc", "not valid UTF-16 LE (a UTF-16 LE byte-order mark"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "byte 0x89 at offset 0, line 1"),
    ],
    ids=["utf16-no-bom", "latin1", "utf16-lone-surrogate", "binary"],
)
def test_other_bytes_are_one_line_naming_the_file(tmp_path: Path, data: bytes, expect: str):
    p = tmp_path / "bad.txt"
    p.write_bytes(data)
    with pytest.raises(TextEncodingError) as e:
        read_text(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg and expect in msg and "UTF-8" in msg


def test_line_of_the_bad_byte(tmp_path: Path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"ok 1\nok 2\nbad \xff 3\n")
    with pytest.raises(TextEncodingError, match=r"offset 14, line 3"):
        read_text(p)


def test_missing_file_is_an_oserror(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        read_text(tmp_path / "absent.txt")
