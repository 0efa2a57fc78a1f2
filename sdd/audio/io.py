"""Audio I/O through soundfile (torchaudio's I/O needs torchcodec + FFmpeg, which we do not ship).

All audio inside sdd is mono float32 in [-1, 1] at an explicit sample rate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from sdd.core import atomic

__all__ = [
    "AudioError",
    "AudioInfo",
    "check_audio",
    "frames_for_samples",
    "read_audio",
    "resample",
    "write_audio",
]


class AudioError(RuntimeError):
    """An audio file cannot be read or decoded; the message names the file."""


def resample(wave: np.ndarray, orig_sample_rate: int, sample_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling of the last axis from ``orig_sample_rate`` to ``sample_rate`` Hz."""
    if orig_sample_rate == sample_rate:
        return wave
    # imported here: scipy.signal takes about 0.4 s to import, which files already at the rate never need
    from scipy.signal import resample_poly

    g = np.gcd(int(orig_sample_rate), int(sample_rate))
    out = resample_poly(wave, sample_rate // g, orig_sample_rate // g, axis=-1)
    return out.astype(np.float32, copy=False)


def frames_for_samples(num_samples: int, orig_sample_rate: int, sample_rate: int) -> int:
    """Input frames at ``orig_sample_rate`` that determine the first ``num_samples`` samples of
    :func:`resample` to ``sample_rate``: resampling this prefix gives exactly those samples.

    ``resample_poly``'s default filter has ``10 * max(up, down)`` taps on each side in the upsampled
    domain, so output ``n`` depends on inputs up to ``(n * down + 10 max(up, down)) / up``; two frames
    of margin are added.
    """
    if orig_sample_rate == sample_rate:
        return num_samples
    g = np.gcd(int(orig_sample_rate), int(sample_rate))
    up, down = int(sample_rate) // g, int(orig_sample_rate) // g
    half_len = 10 * max(up, down)
    return -(-((num_samples - 1) * down + half_len) // up) + 3


def read_audio(
    path: str | os.PathLike[str], sample_rate: int | None = None, max_samples: int | None = None
) -> tuple[np.ndarray, int]:
    """Read a file (or only its beginning) as mono float32.

    Args:
        path: an audio file soundfile can decode (FLAC, WAV, OGG, MP3, ...), any number of channels.
        sample_rate: resample to this rate in Hz; ``None`` keeps the file's rate.
        max_samples: return at most the first ``max_samples`` samples (at the output rate), decoding
            only the frames they depend on (:func:`frames_for_samples`): memory and time stay bounded
            on long files, and the samples equal those of a whole-file read. A file damaged after
            those frames is then not noticed (:func:`check_audio` decodes everything).

    Returns:
        ``(wave, sample_rate)`` with ``wave`` of shape (T,), channels averaged.

    Raises:
        AudioError: the file is missing, damaged, empty or holds NaN/inf samples (the message names it).
    """
    try:
        with sf.SoundFile(os.fspath(path)) as f:
            sr = int(f.samplerate)
            frames = -1
            if max_samples is not None:
                frames = frames_for_samples(max_samples, sr, sr if sample_rate is None else sample_rate)
            wave = f.read(frames, dtype="float32", always_2d=True)  # (T, C)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/OSError variants
        raise AudioError(f"{path}: cannot decode audio ({exc})") from exc
    if wave.shape[0] == 0:
        raise AudioError(f"{path}: audio has no samples")
    _check_finite(wave, path, 0)
    mono = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]
    if sample_rate is not None and sr != sample_rate:
        mono, sr = resample(mono, sr, sample_rate), sample_rate
    if max_samples is not None:
        mono = mono[:max_samples]
    return np.ascontiguousarray(mono, dtype=np.float32), int(sr)


def _check_finite(block: np.ndarray, path: str | os.PathLike[str], offset: int) -> None:
    """An :class:`AudioError` if a decoded block (T, C) holds NaN or infinite samples (float WAV/FLAC
    files can): they would turn every score and gradient computed from the file into NaN."""
    bad = ~np.isfinite(block)
    if bad.any():
        first = offset + int(np.argmax(bad.any(axis=1)))
        raise AudioError(
            f"{path}: {int(bad.sum())} non-finite samples (NaN/inf), the first at frame {first}; "
            "expected finite samples"
        )


def write_audio(
    path: str | os.PathLike[str], wave: np.ndarray, sample_rate: int, subtype: str = "PCM_16"
) -> None:
    """Write mono audio atomically (temp file in the same folder, then rename); FLAC/WAV by suffix."""
    path = Path(path)
    fmt = {".flac": "FLAC", ".wav": "WAV", ".ogg": "OGG"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported audio suffix {path.suffix!r}; expected .flac, .wav or .ogg")
    with atomic.atomic_path(path) as tmp:
        sf.write(os.fspath(tmp), np.clip(wave, -1.0, 1.0), sample_rate, subtype=subtype, format=fmt)


@dataclass(frozen=True)
class AudioInfo:
    """What a full decode of one file found.

    Attributes:
        sample_rate: the file's rate in Hz.
        channels: number of channels.
        frames: number of decoded frames per channel (samples at ``sample_rate``).
    """

    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        """Decoded duration in seconds."""
        return self.frames / self.sample_rate


def check_audio(path: str | os.PathLike[str], block_frames: int = 1 << 16) -> AudioInfo:
    """Decode a whole file block by block and report its rate, channels and decoded length.

    A header alone is not proof of a good file: a damaged FLAC can carry a valid header and fail
    half-way ("flac decoder lost sync"), so every frame is decoded. Memory stays bounded by
    ``block_frames``.

    Raises:
        AudioError: the file is missing, cannot be decoded to its end, has no samples or holds NaN/inf
            samples (the message names the file and the reason).
    """
    frames = 0
    try:
        with sf.SoundFile(os.fspath(path)) as f:
            sample_rate, channels = int(f.samplerate), int(f.channels)
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)  # (t, C)
                if block.shape[0] == 0:
                    break
                _check_finite(block, path, frames)
                frames += block.shape[0]
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/OSError variants
        raise AudioError(f"{path}: cannot decode audio ({exc})") from exc
    if frames == 0:
        raise AudioError(f"{path}: audio has no samples")
    if sample_rate <= 0:
        raise AudioError(f"{path}: invalid sample rate {sample_rate}")
    return AudioInfo(sample_rate=sample_rate, channels=channels, frames=frames)
