"""The lossy codecs the ``codec`` op can use, and which of them this machine's libsndfile supports.

Owns the table :data:`CODECS` (libsndfile format, subtype and accepted sample rates per codec) and the
capability probe :func:`codec_support`. Validating an op (:mod:`sdd.augment.ops`) asks the probe
without importing the signal processing; the round trip itself is
:func:`sdd.augment.functional.codec_roundtrip`.
"""

from __future__ import annotations

import functools
import io
import logging

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)

__all__ = ["CODECS", "codec_support"]

#: Format, subtype and the sample rates the encoder accepts (None: any libsndfile accepts)
CODECS: dict[str, tuple[str, str, tuple[int, ...] | None]] = {
    "mp3": ("MP3", "MPEG_LAYER_III", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
    "ogg_vorbis": ("OGG", "VORBIS", None),
    "opus": ("OGG", "OPUS", (8000, 12000, 16000, 24000, 48000)),
}


@functools.cache
def codec_support() -> dict[str, bool]:
    """Which :data:`CODECS` this machine's libsndfile can round-trip (tried once per process)."""
    support = {}
    probe = (0.1 * np.sin(np.arange(8000) * 0.1)).astype(np.float32)
    for name, (fmt, subtype, _) in CODECS.items():
        try:
            buf = io.BytesIO()
            sf.write(buf, probe, 16000, format=fmt, subtype=subtype)
            buf.seek(0)
            ok = sf.read(buf, dtype="float32")[0].shape[0] > 0
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            log.info("codec %s not available in libsndfile %s: %s", name, sf.__libsndfile_version__, exc)
            ok = False
        support[name] = ok
    return support
