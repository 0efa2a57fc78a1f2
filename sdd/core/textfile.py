"""Reading the text files a user hands the ``sdd`` command or the pipeline: one rule for every reader.

:func:`read_text` accepts UTF-8 (with or without a byte-order mark) and UTF-16 or UTF-32 with a
byte-order mark (what Windows PowerShell's ``>`` writes: UTF-16 LE with a BOM). Anything else is a
:class:`TextEncodingError` naming the file, what was found and what is accepted, raised before the
caller parses anything, instead of a ``UnicodeDecodeError`` traceback or a table of garbled fields.

Line ends are left as written (``\\r\\n`` included): the callers split on whitespace or parse YAML,
both of which take either.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

__all__ = ["ACCEPTED", "TextEncodingError", "read_text"]

#: What :func:`read_text` reads, for error messages and docs.
ACCEPTED = "UTF-8 (with or without a byte-order mark) or UTF-16/UTF-32 with a byte-order mark"

# Byte-order mark -> codec. UTF-32 LE's mark begins with UTF-16 LE's, so the longer marks come first.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class TextEncodingError(ValueError):
    """A text file is not in an encoding :func:`read_text` accepts (the message names the file)."""


def _encoding_name(codec: str) -> str:
    return codec.upper().replace("-LE", " LE").replace("-BE", " BE")


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of ``path``, decoded by its byte-order mark, else as UTF-8 (the mark is dropped).

    Raises:
        TextEncodingError: the bytes do not decode under the mark's encoding; no mark and not UTF-8;
            or NUL characters in the text (UTF-16 written without a mark, or a binary file). The message
            names the file, the encoding tried, the first bad byte's offset and line, and what is
            accepted.
        OSError: the file cannot be read (missing, a folder, no permission).
    """
    path = Path(path)
    data = path.read_bytes()
    codec, bom = "utf-8", b""
    for mark, name in _BOMS:
        if data.startswith(mark):
            codec, bom = name, mark
            break
    body = data[len(bom) :]
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as e:
        offset = len(bom) + e.start
        line = body[: e.start].decode(codec).count("\n") + 1
        found = f"a {_encoding_name(codec)} byte-order mark" if bom else "no byte-order mark"
        raise TextEncodingError(
            f"{path}: not valid {_encoding_name(codec)} ({found}; byte 0x{data[offset]:02x} at offset "
            f"{offset}, line {line}); expected {ACCEPTED}: re-save it as UTF-8"
        ) from None
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        raise TextEncodingError(
            f"{path}: NUL characters in the text (first on line {line}): UTF-16 without a byte-order "
            f"mark, or not a text file; expected {ACCEPTED}: re-save it as UTF-8"
        )
    return text
