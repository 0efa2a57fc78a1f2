"""Small Hugging Face datasets with synthetic audio, written with ``datasets`` for the ``hf_dataset``
corpus tests (``tests/data/test_hf_dataset.py``) and the end-to-end test."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

__all__ = ["audio_split", "encode"]


def encode(x: np.ndarray, sr: int, fmt: str) -> bytes:
    """``x`` encoded by soundfile as ``fmt`` (``WAV``, ``FLAC``...)."""
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt)
    return buf.getvalue()


def audio_split(name: str, n: int, seed: int, *, fmt: str = "WAV", classlabel: bool = True, sr: int = 16000,
                speakers: str = "s", extra: dict | None = None):  # fmt: skip
    """A ``datasets.Dataset`` of ``n`` rows: alternating bona fide (a harmonic tone) / spoof (noise),
    0.3-0.5 s, one speaker per two rows; the audio column holds encoded bytes, as on the hub; the
    label is a ``ClassLabel`` ``[bonafide, spoof]`` (or plain 0/1)."""
    from datasets import Audio, ClassLabel, Dataset, Features, Value

    rng = np.random.default_rng(seed)
    audio, labels, spk = [], [], []
    for i in range(n):
        t = np.arange(int(sr * rng.uniform(0.3, 0.5))) / sr
        if i % 2 == 0:
            x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 200) * t) + 0.01 * rng.standard_normal(t.size)
        else:
            x = 0.1 * rng.standard_normal(t.size)
        audio.append({"bytes": encode(x.astype(np.float32), sr, fmt), "path": f"{name}_{i}.{fmt.lower()}"})
        labels.append(i % 2)
        spk.append(f"{speakers}{i // 2}")
    label_feature = ClassLabel(names=["bonafide", "spoof"]) if classlabel else Value("int64")
    cols = {"audio": audio, "label": labels, "speaker": spk, **(extra or {})}
    feats = {"audio": {"bytes": Value("binary"), "path": Value("string")}, "label": label_feature,
             "speaker": Value("string")} | {k: Value("string") for k in (extra or {})}  # fmt: skip
    # Audio() cannot encode without torchcodec, so the rows are written as the struct Audio stores,
    # then cast: the same Arrow data a hub dataset holds.
    return Dataset.from_dict(cols, features=Features(feats)).cast_column("audio", Audio())
