"""Bona fide speech of the demo corpus: per-speaker voices and source-filter synthesis of an utterance.

Bona fide audio comes from a source-filter model (Fant, *Acoustic Theory of Speech Production*,
1960; Klatt, "Software for a cascade/parallel formant synthesizer", JASA 1980): a Rosenberg glottal
pulse train (Rosenberg, JASA 1971) with a per-speaker F0 contour, jitter and shimmer, aspiration
and breath noise, shaped frame by frame by five formant resonators, plus shaped noise for
fricatives and plosive bursts, in a syllable-like rhythm. We deliberately differ from Klatt: the
resonators are applied as a magnitude envelope in the STFT domain (vectorised and fast), not as
time-domain IIR filters.

:func:`make_voice` draws a speaker's :class:`Voice`; :func:`synthesize_clean` renders one clean
utterance of that voice (the input of every attack, too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdd.data.demo.dsp import fft_sizes, istft, smooth, stft

__all__ = ["Voice", "make_voice", "synthesize_clean"]

# Peterson & Barney (JASA 1952) adult male averages: F1, F2, F3 in Hz.
_VOWELS = np.array(
    [
        [270, 2290, 3010],
        [390, 1990, 2550],
        [530, 1840, 2480],
        [660, 1720, 2410],
        [730, 1090, 2440],
        [570, 840, 2410],
        [440, 1020, 2240],
        [300, 870, 2240],
        [640, 1190, 2390],
        [490, 1350, 1690],
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class Voice:
    """Per-speaker voice parameters of the source-filter model."""

    f0_hz: float  # median F0
    f0_range: float  # relative F0 excursion of accents
    formant_scale: float  # vocal tract length factor (1 = adult male)
    open_quotient: float  # Rosenberg open phase, fraction of a period
    jitter: float  # relative per-frame F0 perturbation
    shimmer: float  # relative per-period amplitude perturbation
    breathiness: float  # aspiration noise level relative to the voiced source
    rate: float  # syllable duration factor (1 = average)
    fric_centre: float  # speaker's typical sibilant centre frequency, Hz
    bandwidth_scale: float  # formant bandwidth factor


def make_voice(rng: np.random.Generator) -> Voice:
    female = rng.random() < 0.5
    return Voice(
        f0_hz=float(rng.uniform(170, 250) if female else rng.uniform(85, 140)),
        f0_range=float(rng.uniform(0.08, 0.25)),
        formant_scale=float(rng.uniform(1.08, 1.22) if female else rng.uniform(0.92, 1.06)),
        open_quotient=float(rng.uniform(0.45, 0.75)),
        jitter=float(rng.uniform(0.005, 0.02)),
        shimmer=float(rng.uniform(0.03, 0.12)),
        breathiness=float(rng.uniform(0.02, 0.15)),
        rate=float(rng.uniform(0.8, 1.25)),
        fric_centre=float(rng.uniform(3500, 6500)),
        bandwidth_scale=float(rng.uniform(0.8, 1.4)),
    )


@dataclass
class _Tracks:
    """Frame-level control tracks, F frames at the STFT hop."""

    voiced: np.ndarray  # (F,) voiced source amplitude
    noise: np.ndarray  # (F,) frication / burst amplitude
    noise_centre: np.ndarray  # (F,) frication centre frequency, Hz
    noise_width: np.ndarray  # (F,) frication bandwidth, Hz
    breath: np.ndarray  # (F,) breath noise amplitude
    formants: np.ndarray  # (F, 5) formant frequencies, Hz
    bandwidths: np.ndarray  # (F, 5) formant bandwidths, Hz
    f0: np.ndarray  # (F,) F0, Hz


def _plan(voice: Voice, n_frames: int, frame_s: float, rng: np.random.Generator) -> _Tracks:
    """Lay out syllables (onset consonant, vowel, optional coda) and pauses over ``n_frames`` frames."""
    n_out = n_frames
    n_frames = n_out + int(2.0 / frame_s)  # room for the last syllable; cut back to n_out at the end
    voiced = np.zeros(n_frames)
    noise = np.zeros(n_frames)
    noise_centre = np.full(n_frames, voice.fric_centre)
    noise_width = np.full(n_frames, 1500.0)
    breath = np.zeros(n_frames)
    targets = np.zeros((n_frames, 3))
    accent = np.zeros(n_frames)
    nasal = np.zeros(n_frames)

    def frames(seconds: float) -> int:
        return max(1, int(round(seconds * voice.rate / frame_s)))

    pos = frames(rng.uniform(0.03, 0.2))
    vowel = _VOWELS[rng.integers(len(_VOWELS))]
    targets[:pos] = vowel
    while pos < n_out:
        vowel = _VOWELS[rng.integers(len(_VOWELS))] * rng.uniform(0.93, 1.07, size=3)
        onset = rng.choice(4, p=[0.3, 0.3, 0.2, 0.2])  # none, fricative, plosive, nasal
        if onset == 1:
            n = frames(rng.uniform(0.05, 0.13))
            noise[pos : pos + n] = rng.uniform(0.15, 0.5) * np.hanning(n + 2)[1:-1]
            noise_centre[pos : pos + n] = voice.fric_centre * rng.uniform(0.5, 1.2)
            noise_width[pos : pos + n] = rng.uniform(800, 3000)
            if rng.random() < 0.4:  # voiced fricative
                voiced[pos : pos + n] = 0.25
            targets[pos : pos + n] = vowel
            pos += n
        elif onset == 2:
            closure = frames(rng.uniform(0.02, 0.06))
            targets[pos : pos + closure] = vowel
            pos += closure
            n = frames(rng.uniform(0.015, 0.04))
            noise[pos : pos + n] = rng.uniform(0.3, 0.8) * np.exp(-np.arange(n) / max(1.0, n / 3))
            noise_centre[pos : pos + n] = rng.uniform(1200, 5000)
            noise_width[pos : pos + n] = rng.uniform(2000, 5000)
            targets[pos : pos + n] = vowel
            pos += n
        elif onset == 3:
            n = frames(rng.uniform(0.04, 0.09))
            voiced[pos : pos + n] = rng.uniform(0.3, 0.5)
            nasal[pos : pos + n] = 1.0
            targets[pos : pos + n] = [260.0, vowel[1] * 0.8, vowel[2]]
            pos += n
        n = frames(rng.uniform(0.07, 0.22))
        voiced[pos : pos + n] = np.sin(np.linspace(0.15, np.pi - 0.15, n)) ** 0.5 * rng.uniform(0.6, 1.0)
        targets[pos : pos + n] = vowel
        accent[pos : pos + n] = rng.normal(0.0, 1.0) * np.hanning(n + 2)[1:-1]
        pos += n
        if rng.random() < 0.3:  # coda fricative
            n = frames(rng.uniform(0.04, 0.12))
            noise[pos : pos + n] = rng.uniform(0.1, 0.4) * np.hanning(n + 2)[1:-1]
            noise_centre[pos : pos + n] = voice.fric_centre * rng.uniform(0.6, 1.2)
            noise_width[pos : pos + n] = rng.uniform(800, 3000)
            targets[pos : pos + n] = vowel
            pos += n
        gap = frames(rng.uniform(0.0, 0.03))
        if rng.random() < 0.15:  # word or phrase pause, sometimes with an audible breath
            gap = frames(rng.uniform(0.08, 0.3))
            if rng.random() < 0.4:
                breath[pos : pos + gap] = rng.uniform(0.03, 0.1) * np.hanning(gap + 2)[1:-1]
        targets[pos : pos + gap] = vowel
        pos += gap

    smooth_w = max(3, int(round(0.03 / frame_s)))
    targets = smooth(targets, smooth_w) * voice.formant_scale  # coarticulation
    f4 = np.full(n_frames, 3500.0 * voice.formant_scale)
    f5 = np.full(n_frames, 4500.0 * voice.formant_scale)
    formants = np.column_stack([targets, f4, f5])
    formants[:, 0] = formants[:, 0] * (1 - 0.2 * nasal)
    bandwidths = np.array([60.0, 90.0, 150.0, 250.0, 350.0]) * voice.bandwidth_scale * np.ones((n_frames, 1))
    bandwidths[:, 0] *= 1 + 1.5 * nasal

    t = np.linspace(0.0, 1.0, n_frames)
    drift = smooth(rng.normal(0, 1, n_frames), max(3, int(0.3 / frame_s)))
    drift = drift / (np.std(drift) + 1e-9) * 0.03
    log_f0 = (
        np.log(voice.f0_hz)
        - rng.uniform(0.05, 0.25) * t  # declination
        + voice.f0_range * smooth(accent, max(3, int(0.05 / frame_s)))
        + drift
        + voice.jitter * rng.normal(0, 1, n_frames)
    )
    cut = slice(0, n_out)
    return _Tracks(
        voiced=smooth(voiced, 3)[cut],
        noise=smooth(noise, 3)[cut],
        noise_centre=noise_centre[cut],
        noise_width=noise_width[cut],
        breath=breath[cut],
        formants=formants[cut],
        bandwidths=bandwidths[cut],
        f0=np.exp(log_f0)[cut],
    )


def _resonator_envelope(
    freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray, sample_rate: int
) -> np.ndarray:
    """Magnitude response of cascaded two-pole resonators, unity at DC.

    Args:
        freqs: (K,) bin frequencies, Hz.
        formants: (F, M) resonance frequencies, Hz.
        bandwidths: (F, M) bandwidths, Hz.

    Returns:
        (F, K) magnitude envelope.
    """
    nyq = sample_rate / 2
    formants = np.minimum(formants, nyq * 0.95)
    r = np.exp(-np.pi * bandwidths / sample_rate)[..., None]  # (F, M, 1)
    theta = (2 * np.pi * formants / sample_rate)[..., None]
    z = np.exp(-1j * 2 * np.pi * freqs / sample_rate)[None, None, :]  # (1, 1, K)
    denom = np.abs(1 - 2 * r * np.cos(theta) * z + r**2 * z**2)
    dc = np.abs(1 - 2 * r * np.cos(theta) + r**2)
    return np.prod(dc / denom, axis=1)


def _glottal_source(
    f0_samples: np.ndarray, sample_rate: int, voice: Voice, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rosenberg glottal flow derivative with shimmer, and the (T,) flow itself (for aspiration gating)."""
    phase = np.cumsum(f0_samples) / sample_rate
    period = np.floor(phase).astype(np.int64)
    frac = phase - period
    oq = voice.open_quotient
    rise, fall = oq * 0.65, oq * 0.35
    flow = np.where(
        frac < rise,
        0.5 * (1 - np.cos(np.pi * frac / rise)),
        np.where(frac < rise + fall, np.cos(0.5 * np.pi * (frac - rise) / fall), 0.0),
    )
    amp = 1 + voice.shimmer * rng.normal(0, 1, period[-1] + 2)
    flow = flow * amp[period]
    deriv = np.diff(flow, prepend=flow[0])  # lip radiation
    return deriv / (np.std(deriv) + 1e-12), flow


def synthesize_clean(voice: Voice, n_samples: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One clean bona fide-like utterance of ``n_samples`` samples, peak-normalised to 0.5."""
    n_fft, hop = fft_sizes(sample_rate)
    n_frames = 1 + n_samples // hop
    tracks = _plan(voice, n_frames, hop / sample_rate, rng)
    t_frames = np.arange(n_frames) * hop
    t = np.arange(n_samples)
    f0 = np.interp(t, t_frames, tracks.f0)
    deriv, flow = _glottal_source(f0, sample_rate, voice, rng)
    aspiration = rng.normal(0, 1, n_samples) * (0.3 + flow) * voice.breathiness * 3
    voiced_src = (deriv + aspiration) * np.interp(t, t_frames, tracks.voiced)
    noise_src = rng.normal(0, 1, n_samples) * np.interp(t, t_frames, tracks.noise)
    breath_src = rng.normal(0, 1, n_samples) * np.interp(t, t_frames, tracks.breath)

    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)  # (K,)
    h_voiced = _resonator_envelope(freqs, tracks.formants, tracks.bandwidths, sample_rate)
    h_voiced *= 1.0 / np.sqrt(1 + (freqs / 5000.0) ** 4)  # gentle high-frequency roll-off
    h_noise = np.exp(
        -0.5 * ((freqs[None, :] - tracks.noise_centre[:, None]) / tracks.noise_width[:, None]) ** 2
    )
    h_noise = h_noise * 4.0 + 0.05
    h_breath = 1.0 / np.sqrt(1 + (freqs / 1500.0) ** 2) * 2.0
    spec = (
        stft(voiced_src, n_fft, hop) * h_voiced
        + stft(noise_src, n_fft, hop) * h_noise
        + stft(breath_src, n_fft, hop) * h_breath[None, :]
    )
    wave = istft(spec, n_fft, hop, n_samples)
    return wave * (0.5 / (np.max(np.abs(wave)) + 1e-9))
