"""The built-in ``demo`` corpus: synthetic bona fide speech and spoofs in the ASVspoof 2019 LA layout.

Bona fide audio comes from a source-filter model (Fant, *Acoustic Theory of Speech Production*,
1960; Klatt, "Software for a cascade/parallel formant synthesizer", JASA 1980): a Rosenberg glottal
pulse train (Rosenberg, JASA 1971) with a per-speaker F0 contour, jitter and shimmer, aspiration
and breath noise, shaped frame by frame by five formant resonators, plus shaped noise for
fricatives and plosive bursts, in a syllable-like rhythm. We deliberately differ from Klatt: the
resonators are applied as a magnitude envelope in the STFT domain (vectorised and fast), not as
time-domain IIR filters.

Spoofs re-synthesise bona fide-like utterances of the same speakers with attack systems of distinct
artefact families, as ASVspoof 2019 LA did (Wang et al., "ASVspoof 2019: a large-scale public
database of synthesized, converted and replayed speech", CSL 2020). Train and dev hold A01-A04;
eval and eval_degraded add A05 and A06, which no training utterance contains. A05 is an unseen
*variant of a training family* (A01's), A06 an unseen *new family* that no training attack shares;
together they test generalisation within and beyond the known families. Per attack, what gives it
away:

- **A01, Griffin-Lim from mel** (family ``griffin_lim``; train, dev, eval; Griffin & Lim, IEEE TASSP
  1984, fast variant of Perraudin et al., WASPAA 2013): an 80-band mel magnitude mapped back by the
  pseudo-inverse, so harmonics above about 1 kHz are blurred into the mel triangles, then 12
  iterations from random phase, so the phase is inconsistent (phasiness, smeared onsets).
- **A02, LPC vocoder** (``lpc_vocoder``; train, dev, eval; Atal & Hanauer, JASA 1971): an all-pole
  envelope of order 2 + rate / 1 kHz (18 at 16 kHz; no anti-resonances) driving a strictly periodic
  pulse train without jitter, shimmer or glottal pulse shape in voiced frames and white noise in
  unvoiced ones, with hard voicing decisions and pitch-tracker errors. The pulse train is DC-free
  (:func:`_lpc_vocode`).
- **A03, overlap-add concatenation** (``concatenation``; train, dev, eval; after Hunt & Black, ICASSP
  1996, here of short jittered units): joins every 10-20 ms between copies displaced by up to
  6-15 ms, i.e. pitch-period and phase discontinuities, comb filtering and +-1 dB gain steps, with
  the short-time spectrum kept.
- **A04, envelope warp with F0 shift** (``envelope_warp``; train, dev, eval; Laroche & Dolson, WASPAA
  1999): a phase vocoder without peak locking moves F0 by 0.70-0.86 or 1.16-1.42 and warps the
  cepstral envelope by 0.9-1.1: phasiness, smeared transients, an F0 outside the speaker's range.
- **A05, Griffin-Lim from a linear spectrogram** (``griffin_lim``, a variant of A01's family; eval
  only): the same inconsistent-phase artefact with a different time-frequency trade-off: 64 ms
  frames keep the harmonics (no mel blur) but smear onsets more, and only 8 iterations are run.
- **A06, voice conversion by spectral filtering** (``spectral_filtering``, a new family; eval only;
  after the waveform-filtering systems A06/A19 and A17 of ASVspoof 2019 LA): the input's own
  excitation (F0, jitter, shimmer, pulse phase, noise) is kept and only its envelope is converted,
  through a time-varying minimum-phase filter: formant structure flattened to 35-60 %, warped in
  frequency by a factor 1.11-1.22 or 0.82-0.90 and smoothed over 40 ms
  (:func:`_attack_filter_vc`). The artefacts are formants that no longer fit the excitation, the
  filter's group delay and its 8 ms updates. Unlike every training attack it re-synthesises
  neither excitation nor phase; only the envelope warp has a counterpart (in A04, inside a phase
  vocoder), so a detector trained on A01-A04 transfers only in part (28-34 % EER on A06 for the
  fully fine-tuned demo arms below, against 0-2 % for a harmonic-plus-noise vocoder that was tried
  first: it shared A02's jitter-free periodicity).

We deliberately differ from real attacks in one respect: every system re-synthesises a clean
source-filter utterance, never a trained acoustic model's output, so the corpus is tiny and fast to
make.

Domain shift, as between ASVspoof 2019 LA and 2021 LA/DF: ``train``, ``dev`` and ``eval`` carry
recording-level variation only (a random level and, for half of the utterances, a mild room: RT60
0.1-0.3 s), like the studio-clean 2019 LA. ``eval_degraded`` holds eval-like material (its own
speakers, attacks A01-A06) transmitted through one of :data:`TRANSMISSIONS` per utterance, after the
telephony and VoIP channels of ASVspoof 2021 LA (Liu et al., IEEE/ACM TASLP 2023): the telephone band
with G.711 mu-law, the telephone band with A-law and packet loss, Opus with packet loss, MP3 at a low
bit rate, and pink or brown noise at 0-8 dB SNR. Each is the one implementation in
:mod:`sdd.augment.functional`. None of them is in the default training augmentation (``rawboost4``);
the overlaps are of kind only (see :data:`TRANSMISSIONS`), so no arm trains on the test distortion.
Until this version every utterance also passed through a random channel (reverb, EQ, noise at
20-40 dB SNR), which left ``eval_degraded`` no harder than ``eval``: there was no shift to act on.

Shortcuts: no attack may be recognisable from a trivial property of the file. Until this version
the LPC attacks (A02 and the former A06, an LPC vocoder at 8 kHz) carried a DC offset (mean / RMS
about 0.06 against under 0.001 for every other class, 0.2 % EER from the mean alone), because the
LPC pulse train was positive-only; it is now removed where it arose. Removing the channel exposed one
more: A06's filter lowered each frame's power and put modulation sidebands below 60 Hz, so the share
of power under 60 Hz alone gave 18 % EER on A06; A06 now keeps each frame's power and the input's own
sub-bass (:func:`_attack_filter_vc`). :mod:`sdd.audit.shortcuts` audits
every single trivial feature (DC, level, peak, crest factor, duration, leading and trailing silence,
spectral centroid, bandwidth, energy above 7 kHz and below 60 Hz) and an MFCC logistic regression,
and ``tests/audit/test_shortcuts.py`` holds the default corpus to it: every single feature must stay at
or above 40 % EER pooled and 25 % per attack on eval and eval_degraded (on the default config the
lowest are 44.7 % pooled and 30.3 % per attack, the crest factor on A01), and the MFCC logistic
regression trained on train must stay at or above 30 % on eval (37.0 %; 48.0 % on eval_degraded).

Difficulty, measured on the default config (seed 0, the README's timed run): the hand-feature
logistic regression of :mod:`sdd.audit.baseline` scores eval EER 44.7 % (A04 24.2 %, every other attack
40-54 %) and 47.7 % on eval_degraded. The fully fine-tuned arms of the default ``params.yaml`` (the
pretrain stage's tiny wav2vec2, hidden 64, 4 layers, 6 epochs of 1 s crops) reach 11.0-13.3 % on
eval and 23.0-24.3 % on eval_degraded (the telephony conditions 28-40 %, the codecs 8-15 %), with
A03 (20-24 %) and the unseen A06 (24-32 %) the hardest attacks; the ``attm`` arm 15.0 / 28.3 %, and
the ``lora`` arm stays at chance (49.7 %) on this backbone (README, "Results on the demo").
Generation (the ``fetch`` stage) takes about 50 s on 2 idle cores.

Generation is deterministic: every utterance draws from its own ``np.random.Generator`` seeded from
``(seed, split, index)``, so the bytes written do not depend on the number of worker processes.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import logging
import multiprocessing
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft
from scipy.signal import medfilt, resample_poly

from sdd.audio.io import write_audio
from sdd.augment import functional as F
from sdd.data.corpora import demo_config
from sdd.data.corpora.demo_config import PROTOCOL_DIR, SPLITS, DemoConfig, DemoSplit, protocol_path

__all__ = [
    "ATTACKS",
    "DemoConfig",
    "DemoSplit",
    "GENERATOR_SOURCES",
    "SPLITS",
    "TRANSMISSIONS",
    "Transmission",
    "config_summary",
    "generate_demo",
    "protocol_path",
    "synthesize_utterance",
]

log = logging.getLogger(__name__)

#: The source files whose code decides the bytes generated: the corpus recipe fingerprints them.
GENERATOR_SOURCES: tuple[str, ...] = (__file__, F.__file__, demo_config.__file__)


# Configuration and layout: DemoConfig, DemoSplit, SPLITS and protocol_path are in
# sdd.data.corpora.demo_config (light, so the plan validates a demo entry without this module).


# ----------------------------------------------------------------------------------------------
# STFT helpers (centred frames, Hann window, weighted overlap-add inverse)
# ----------------------------------------------------------------------------------------------


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(T,) signal -> (F, n_fft // 2 + 1) complex STFT with centred Hann frames, F = 1 + T // hop."""
    pad = n_fft // 2
    xp = np.pad(x, (pad, pad + hop))
    n_frames = 1 + len(x) // hop
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop][:n_frames]  # (F, n_fft)
    return scipy.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1)


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Inverse of :func:`_stft` by weighted overlap-add; returns (length,) float64."""
    win = np.hanning(n_fft + 1)[:-1]
    frames = scipy.fft.irfft(spec, n=n_fft, axis=1) * win  # (F, n_fft)
    n_frames = frames.shape[0]
    ratio = n_fft // hop
    total = n_frames * hop + (ratio - 1) * hop
    out = np.zeros(total)
    wsum = np.zeros(total)
    w2 = np.tile(win**2, (n_frames, 1))
    for r in range(ratio):
        out[r * hop : r * hop + n_frames * hop] += frames[:, r * hop : (r + 1) * hop].reshape(-1)
        wsum[r * hop : r * hop + n_frames * hop] += w2[:, r * hop : (r + 1) * hop].reshape(-1)
    pad = n_fft // 2
    out = out[pad : pad + length] / np.maximum(wsum[pad : pad + length], 1e-3)
    if out.size < length:
        out = np.pad(out, (0, length - out.size))
    return out


def _rfft_full(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Spectrum of a whole (T,) signal zero-padded to a fast FFT length; returns (spectrum, that length)."""
    n = scipy.fft.next_fast_len(len(x), real=True)
    return scipy.fft.rfft(x, n=n), n


def _filter_full(x: np.ndarray, sample_rate: int, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Zero-phase filtering of a whole (T,) signal by the magnitude response ``gain(freqs_hz)``."""
    spectrum, n = _rfft_full(x)
    return scipy.fft.irfft(spectrum * gain(np.fft.rfftfreq(n, 1 / sample_rate)), n=n)[: len(x)]


def _fft_sizes(sample_rate: int) -> tuple[int, int]:
    """(n_fft, hop) of 32 ms / 8 ms frames."""
    n_fft = int(round(0.032 * sample_rate))
    return n_fft, n_fft // 4


def _smooth(x: np.ndarray, width: int, axis: int = 0) -> np.ndarray:
    """Moving average of odd ``width`` along ``axis`` with edge padding."""
    if width <= 1:
        return x
    width = width | 1
    kernel = np.ones(width) / width
    pad = [(0, 0)] * x.ndim
    pad[axis] = (width // 2, width // 2)
    xp = np.pad(x, pad, mode="edge")
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), axis, xp)


# ----------------------------------------------------------------------------------------------
# Bona fide: source-filter synthesis
# ----------------------------------------------------------------------------------------------

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
class _Voice:
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


def _make_voice(rng: np.random.Generator) -> _Voice:
    female = rng.random() < 0.5
    return _Voice(
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


def _plan(voice: _Voice, n_frames: int, frame_s: float, rng: np.random.Generator) -> _Tracks:
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
    targets = _smooth(targets, smooth_w) * voice.formant_scale  # coarticulation
    f4 = np.full(n_frames, 3500.0 * voice.formant_scale)
    f5 = np.full(n_frames, 4500.0 * voice.formant_scale)
    formants = np.column_stack([targets, f4, f5])
    formants[:, 0] = formants[:, 0] * (1 - 0.2 * nasal)
    bandwidths = np.array([60.0, 90.0, 150.0, 250.0, 350.0]) * voice.bandwidth_scale * np.ones((n_frames, 1))
    bandwidths[:, 0] *= 1 + 1.5 * nasal

    t = np.linspace(0.0, 1.0, n_frames)
    drift = _smooth(rng.normal(0, 1, n_frames), max(3, int(0.3 / frame_s)))
    drift = drift / (np.std(drift) + 1e-9) * 0.03
    log_f0 = (
        np.log(voice.f0_hz)
        - rng.uniform(0.05, 0.25) * t  # declination
        + voice.f0_range * _smooth(accent, max(3, int(0.05 / frame_s)))
        + drift
        + voice.jitter * rng.normal(0, 1, n_frames)
    )
    cut = slice(0, n_out)
    return _Tracks(
        voiced=_smooth(voiced, 3)[cut],
        noise=_smooth(noise, 3)[cut],
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
    f0_samples: np.ndarray, sample_rate: int, voice: _Voice, rng: np.random.Generator
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


def _synthesize_clean(
    voice: _Voice, n_samples: int, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """One clean bona fide-like utterance of ``n_samples`` samples, peak-normalised to 0.5."""
    n_fft, hop = _fft_sizes(sample_rate)
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
        _stft(voiced_src, n_fft, hop) * h_voiced
        + _stft(noise_src, n_fft, hop) * h_noise
        + _stft(breath_src, n_fft, hop) * h_breath[None, :]
    )
    wave = _istft(spec, n_fft, hop, n_samples)
    return wave * (0.5 / (np.max(np.abs(wave)) + 1e-9))


# ----------------------------------------------------------------------------------------------
# Attacks
# ----------------------------------------------------------------------------------------------


def _griffin_lim(
    mag: np.ndarray, n_fft: int, hop: int, length: int, n_iter: int, rng: np.random.Generator
) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin et al., WASPAA 2013, momentum 0.99) from an (F, K) magnitude."""
    angles = np.exp(2j * np.pi * rng.random(mag.shape))
    prev = np.zeros_like(angles)
    for _ in range(n_iter):
        rebuilt = _stft(_istft(mag * angles, n_fft, hop, length), n_fft, hop)
        accel = rebuilt - 0.99 * prev
        prev = rebuilt
        angles = accel / (np.abs(accel) + 1e-12)
    return _istft(mag * angles, n_fft, hop, length)


@functools.lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_mels, K) triangular HTK-mel filterbank with unit peaks, and its (K, n_mels) pseudo-inverse."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1 + f / 700.0)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10 ** (m / 2595.0) - 1)

    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    edges = mel_to_hz(np.linspace(0, hz_to_mel(np.array(sample_rate / 2)), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lower) / (centre - lower)
    down = (upper - freqs[None, :]) / (upper - centre)
    basis = np.maximum(0.0, np.minimum(up, down))
    return basis, np.linalg.pinv(basis)


def _attack_gl_mel(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A01: mel spectrogram (80 bands) -> pseudo-inverse -> 12 fast Griffin-Lim iterations."""
    n_fft, hop = _fft_sizes(sample_rate)
    mag = np.abs(_stft(wave, n_fft, hop))
    basis, inverse = _mel_basis(sample_rate, n_fft, 80)
    mel = mag @ basis.T  # (F, 80)
    lin = np.maximum(mel @ inverse.T, 0.0)
    return _griffin_lim(lin, n_fft, hop, len(wave), 12, rng)


def _attack_gl_linear(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A05 (unseen variant of A01's family): linear 64 ms / 16 ms magnitude -> 8 fast Griffin-Lim steps."""
    n_fft, hop = 2 * _fft_sizes(sample_rate)[0], _fft_sizes(sample_rate)[0] // 2
    mag = np.abs(_stft(wave, n_fft, hop))
    return _griffin_lim(mag, n_fft, hop, len(wave), 8, rng)


def _levinson(r: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Levinson-Durbin over frames: (F, order + 1) autocorrelation -> ((F, order + 1) LPC, (F,) error)."""
    a = np.zeros((r.shape[0], order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.sum(a[:, 1:i] * r[:, i - 1 : 0 : -1], axis=1)
        k = -acc / err
        prev = a.copy()
        a[:, 1:i] = prev[:, 1:i] + k[:, None] * prev[:, i - 1 : 0 : -1]
        a[:, i] = k
        err = err * (1 - k**2)
    return a, np.maximum(err, 1e-12)


def _lpc_vocode(wave: np.ndarray, sample_rate: int, order: int, rng: np.random.Generator) -> np.ndarray:
    """LPC analysis-synthesis (Atal & Hanauer 1971): autocorrelation pitch + voicing, pulse/noise excitation.

    The excitation has no jitter or shimmer and hard voiced/unvoiced switching; each frame's energy
    is matched to the input frame's. The pulse train is DC-free: every pulse of height g is balanced
    by a constant -g f0 / fs over its period, as the flow derivative of any glottal pulse is (its
    integral over a period is zero). A train of bare positive pulses has a DC line at g f0 / fs that
    the all-pole synthesis filter passes on; it left A02 with a mean of about 6 % of its RMS after
    the channel (0.2 % EER from the mean alone). Removing it here keeps every other spectral line of
    the pulse train unchanged.
    """
    n_fft, hop = _fft_sizes(sample_rate)
    spec = _stft(wave, n_fft, hop)  # (F, K)
    power = np.abs(spec) ** 2
    acf = scipy.fft.irfft(power, n=n_fft, axis=1)  # (F, n_fft)
    r = acf[:, : order + 1].copy()
    r[:, 0] = r[:, 0] * 1.0001 + 1e-9
    lag_win = np.exp(-0.5 * (2 * np.pi * 60.0 * np.arange(order + 1) / sample_rate) ** 2)  # 60 Hz lag window
    a, err = _levinson(r * lag_win, order)
    env = np.sqrt(err)[:, None] / np.abs(scipy.fft.rfft(a, n=n_fft, axis=1))  # (F, K)

    # pitch: normalised autocorrelation peak over 60-400 Hz lags on a double-length transform
    acf2 = scipy.fft.irfft(
        np.abs(scipy.fft.rfft(scipy.fft.irfft(spec, n=n_fft, axis=1), n=2 * n_fft, axis=1)) ** 2, axis=1
    )
    lo, hi = int(sample_rate / 400), int(sample_rate / 60)
    seg = acf2[:, lo:hi] / (acf2[:, :1] + 1e-12)
    lag = lo + np.argmax(seg, axis=1)
    voiced = (np.max(seg, axis=1) > 0.4) & (acf2[:, 0] > 1e-4 * np.max(acf2[:, 0]))
    f0 = medfilt(sample_rate / lag, 5)
    t = np.arange(len(wave))
    t_frames = np.arange(spec.shape[0]) * hop
    f0_s = np.interp(t, t_frames, f0)
    v_s = np.interp(t, t_frames, medfilt(voiced.astype(np.float64), 5))
    phase = np.cumsum(f0_s) / sample_rate
    height = np.sqrt(sample_rate / f0_s)  # unit power per sample whatever the F0
    pulses = (np.diff(np.floor(phase), prepend=0.0) - f0_s / sample_rate) * height  # zero mean per period
    excitation = v_s * pulses + (1 - v_s) * rng.normal(0, 1, len(wave))
    out = _stft(excitation, n_fft, hop) * env
    gain = np.sqrt(power.sum(axis=1) / (np.abs(out) ** 2).sum(axis=1).clip(1e-12))
    return _istft(out * _smooth(gain, 3)[:, None], n_fft, hop, len(wave))


def _attack_lpc(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A02: LPC vocoder at the corpus rate, order 2 + rate/1 kHz."""
    return _lpc_vocode(wave, sample_rate, 2 + sample_rate // 1000, rng)


def _attack_filter_vc(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A06 (unseen, new family): voice conversion by spectral filtering of the input waveform.

    After the waveform-filtering systems of ASVspoof 2019 LA (its A06/A19, GMM voice conversion with
    spectral filtering as in sprocket, Kobayashi & Toda, Odyssey 2018, and A17, VAE conversion with
    waveform filtering): the excitation of the input (F0 contour, jitter, shimmer, glottal pulse
    phase, noise) is kept, and only its spectral envelope is changed, by a time-varying
    minimum-phase filter whose log response is the difference between a converted and the source
    envelope (the spectrum differential of Kobayashi et al., Interspeech 2014). The source envelope
    is the 2 ms cepstral envelope of every 32 ms frame. The converted one keeps level and tilt
    (cepstral coefficients 0-2), scales the formant structure (coefficients 3 and up) by 0.35-0.6,
    as the over-smoothing of a statistical mapping does (reduced global variance; Toda et al.,
    IEEE TASLP 2007), is warped along frequency by exp(+-(0.10-0.20)), i.e. 1.11-1.22 or 0.82-0.90
    (another vocal tract length), and is averaged over 40 ms (smooth trajectories). Artefacts:
    flattened, moved formants that no longer match the harmonics and the noise of the excitation,
    the minimum-phase group delay around them, and a filter that changes every 8 ms. No training
    attack keeps the natural excitation; A04 also warps the envelope, but inside a phase vocoder
    that re-synthesises the phase.
    """
    n_fft, hop = _fft_sizes(sample_rate)
    spec = _stft(wave, n_fft, hop)  # (F, K)
    ceps = scipy.fft.irfft(np.log(np.abs(spec) + 1e-9), n=n_fft, axis=1)  # (F, n_fft) real cepstra
    n_ceps = int(0.002 * sample_rate)
    lifter = np.zeros(n_fft)
    lifter[:n_ceps] = 1.0
    lifter[-n_ceps + 1 :] = 1.0
    source = ceps * lifter
    variance = np.full(n_fft, rng.uniform(0.35, 0.6))
    variance[:3] = 1.0
    variance[-2:] = 1.0  # the mirror images of coefficients 1 and 2
    env = scipy.fft.rfft(source, axis=1).real  # (F, K) log envelopes
    target = scipy.fft.rfft(source * variance, axis=1).real
    alpha = float(np.exp(rng.choice([-1, 1]) * rng.uniform(0.10, 0.20)))
    bins = np.arange(env.shape[1], dtype=np.float64)
    target = np.stack([np.interp(bins / alpha, bins, row, right=row[-1]) for row in target])
    target = _smooth(target, max(1, int(0.04 * sample_rate / hop)), axis=0)
    # minimum-phase filter from the log-magnitude difference: fold its real cepstrum onto n >= 0
    diff = scipy.fft.irfft(target - env, n=n_fft, axis=1)
    folded = np.zeros_like(diff)
    half = n_fft // 2
    folded[:, 0] = diff[:, 0]
    folded[:, 1:half] = 2 * diff[:, 1:half]
    folded[:, half] = diff[:, half]
    converted = spec * np.exp(scipy.fft.rfft(folded, axis=1))
    # Two guards against a one-feature shortcut (18 % EER on A06 from the share of power below 60 Hz
    # once no channel noise hid it): each frame keeps its power (flattened formants lose power at the
    # peaks: a conversion changes timbre, not loudness), and the input's own sub-bass is kept
    # (crossover 40-80 Hz), since the filter's 8 ms updates put modulation sidebands there.
    power_in = np.sum(np.abs(spec) ** 2, axis=1, keepdims=True)
    power_out = np.sum(np.abs(converted) ** 2, axis=1, keepdims=True)
    converted *= np.sqrt(power_in / np.maximum(power_out, 1e-20))
    out = _istft(converted, n_fft, hop, len(wave))

    def low(f: np.ndarray) -> np.ndarray:
        return np.clip((80.0 - f) / 40.0, 0.0, 1.0)

    return _filter_full(wave, sample_rate, low) + _filter_full(out, sample_rate, lambda f: 1.0 - low(f))


def _attack_concat(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A03: overlap-add concatenation of 20-40 ms Hann-windowed units taken from jittered positions.

    Units are cut at hop = half a unit from source positions displaced by up to +-(6-15) ms and
    overlap-added without the waveform-similarity search of WSOLA (Verhelst & Roelands, ICASSP
    1993), so every join mixes two misaligned copies of the signal (phase and pitch-period
    discontinuities, comb filtering) while the short-time spectrum is kept; unit gains differ by
    up to +-1 dB.
    """
    n = len(wave)
    unit = int(rng.uniform(0.02, 0.04) * sample_rate) // 2 * 2
    hop = unit // 2
    max_jitter = int(rng.uniform(0.006, 0.015) * sample_rate)
    win = np.hanning(unit + 1)[:-1]  # sums to one at 50 % overlap
    padded = np.pad(wave, (max_jitter, unit + max_jitter))
    starts = np.arange(0, n, hop)  # (U,) output positions
    offsets = rng.integers(-max_jitter, max_jitter + 1, size=starts.size)
    gains = 10 ** (rng.uniform(-1.0, 1.0, size=starts.size) / 20)
    idx = (starts + offsets + max_jitter)[:, None] + np.arange(unit)[None, :]  # (U, unit)
    units = padded[idx] * win * gains[:, None]
    out = np.zeros(starts[-1] + unit)
    out[: starts.size * hop] += units[:, :hop].reshape(-1)
    out[hop : hop + starts.size * hop] += units[:, hop:].reshape(-1)
    return out[:n]


def _attack_warp(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A04: phase-vocoder F0 shift by 0.7-0.86 or 1.16-1.42 with a cepstral envelope warp of 0.9-1.1.

    The magnitude splits into a cepstrally smoothed envelope and a fine structure; the fine
    structure is moved along frequency by the F0 factor and the envelope by the warp factor; phases
    are re-integrated from scaled instantaneous frequencies (Laroche & Dolson 1999, without their
    peak locking, hence the phasiness).
    """
    n_fft, hop = _fft_sizes(sample_rate)
    spec = _stft(wave, n_fft, hop)
    mag = np.abs(spec) + 1e-9
    ceps = scipy.fft.irfft(np.log(mag), n=n_fft, axis=1)
    lifter = np.zeros(n_fft)
    n_ceps = int(0.0015 * sample_rate)  # 1.5 ms quefrency cut
    lifter[:n_ceps] = 1.0
    lifter[-n_ceps + 1 :] = 1.0
    env = np.exp(scipy.fft.rfft(ceps * lifter, axis=1).real)
    fine = mag / env
    shift = float(rng.choice([-1, 1]) * rng.uniform(0.15, 0.35))
    beta = float(np.exp(shift))
    alpha = float(rng.uniform(0.9, 1.1))
    bins = np.arange(mag.shape[1], dtype=np.float64)

    def warp(x: np.ndarray, factor: float) -> np.ndarray:
        return np.stack([np.interp(bins / factor, bins, row, right=row[-1]) for row in x])

    new_mag = warp(fine, beta) * warp(env, alpha)
    # instantaneous frequency per bin (rad per hop), scaled and re-integrated
    phase = np.angle(spec)
    expected = 2 * np.pi * hop * bins / n_fft
    dphi = np.diff(phase, axis=0, prepend=phase[:1]) - expected
    dphi = np.mod(dphi + np.pi, 2 * np.pi) - np.pi
    inst = expected + dphi  # (F, K)
    new_inst = warp(inst, beta) * beta
    new_phase = np.cumsum(new_inst, axis=0)
    return _istft(new_mag * np.exp(1j * new_phase), n_fft, hop, len(wave))


@dataclass(frozen=True)
class _Attack:
    """A named spoofing system: ``fn(clean_wave, sample_rate, rng) -> spoof_wave`` of the same length."""

    name: str
    family: str
    description: str
    fn: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


#: Attack registry. A01-A04 are the training systems; A05 (eval only) is an unseen variant of A01's family,
#: A06 (eval only) an unseen new family (see the module docstring).
ATTACKS: dict[str, _Attack] = {
    "A01": _Attack("A01", "griffin_lim", "Griffin-Lim from an 80-band mel spectrogram", _attack_gl_mel),
    "A02": _Attack("A02", "lpc_vocoder", "LPC vocoder, pulse/noise excitation", _attack_lpc),
    "A03": _Attack(
        "A03", "concatenation", "overlap-add concatenation of jittered short units", _attack_concat
    ),
    "A04": _Attack(
        "A04", "envelope_warp", "cepstral envelope warp with phase-vocoder F0 shift", _attack_warp
    ),
    "A05": _Attack(
        "A05", "griffin_lim", "Griffin-Lim from a linear 64 ms spectrogram (unseen)", _attack_gl_linear
    ),
    "A06": _Attack(
        "A06",
        "spectral_filtering",
        "voice conversion by minimum-phase spectral filtering of the input (unseen, new family)",
        _attack_filter_vc,
    ),
}


# ----------------------------------------------------------------------------------------------
# Recording conditions (every split) and transmission channels (eval_degraded only)
# ----------------------------------------------------------------------------------------------

#: Probability of the mild room, its RT60 range (s) and direct-to-reverberant ratio range (dB).
ROOM_PROB, ROOM_RT60_S, ROOM_DRR_DB = 0.5, (0.1, 0.3), (10.0, 20.0)


def _recording(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Recording-level variation shared by every split: with probability :data:`ROOM_PROB` a mild room
    (Polack's statistical RIR, RT60 and DRR uniform in :data:`ROOM_RT60_S`, :data:`ROOM_DRR_DB`); the
    random level follows in :func:`_set_level`. No noise, equalisation or band limit: like ASVspoof
    2019 LA's train and dev, the material is studio-like, so a transmission channel is a shift."""
    if rng.random() < ROOM_PROB:
        rir = F.synthetic_rir(rng, sample_rate, rng.uniform(*ROOM_RT60_S), rng.uniform(*ROOM_DRR_DB))
        wave = F.apply_rir(wave, rir).astype(np.float64)
    return wave


def _narrowband(
    wave: np.ndarray, sample_rate: int, coder: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """The 300-3400 Hz telephone band at 8 kHz (:func:`sdd.augment.functional.telephone_band`), then
    ``coder`` on the 8 kHz samples, then back to ``sample_rate`` (same length)."""
    narrow = resample_poly(wave, 1, sample_rate // 8000)
    narrow = coder(F.telephone_band(narrow, 8000).astype(np.float64))
    back = resample_poly(narrow, sample_rate // 8000, 1)[: len(wave)]
    return np.pad(back, (0, len(wave) - len(back)))


def _line_level(wave: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Scale to a random peak in [0.3, 0.9] before a companding coder (whose noise depends on level)."""
    scale = rng.uniform(0.3, 0.9) / (np.max(np.abs(wave)) + 1e-9)
    return wave * scale, scale


def _tx_pstn_mulaw(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """PSTN: telephone band and 8-bit G.711 mu-law at 8 kHz (ASVspoof 2021 LA's ulaw/PSTN conditions)."""
    x, scale = _line_level(wave, rng)
    return _narrowband(x, sample_rate, lambda y: F.mulaw(y).astype(np.float64)) / scale


def _tx_voip_alaw_loss(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """VoIP: telephone band, 8-bit G.711 A-law at 8 kHz, then 20 ms packets lost with p in [0.05, 0.15]."""
    x, scale = _line_level(wave, rng)
    y = _narrowband(x, sample_rate, lambda v: F.alaw(v).astype(np.float64)) / scale
    return F.packet_loss(y, rng, sample_rate, rng.uniform(0.05, 0.15))[0].astype(np.float64)


def _tx_codec(codec: str, low: float, high: float, loss: tuple[float, float] | None):
    """A lossy codec round trip (:func:`sdd.augment.functional.codec_roundtrip`) at a libsndfile
    compression level in [low, high] (1 = lowest bit rate), optionally followed by packet loss."""

    def fn(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        peak = np.max(np.abs(wave)) + 1e-9
        y = F.codec_roundtrip(wave / peak * 0.9, sample_rate, codec, rng.uniform(low, high))[0]
        y = y.astype(np.float64) * peak / 0.9
        if loss is not None:
            y = F.packet_loss(y, rng, sample_rate, rng.uniform(*loss))[0].astype(np.float64)
        return y

    return fn


def _tx_noise(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Background noise far below RawBoost's SSI range (10-40 dB): pink or brown noise at 0-8 dB SNR."""
    noise = F.coloured_noise(len(wave), rng, "pink" if rng.random() < 0.5 else "brown")
    return F.add_noise_at_snr(wave, noise, rng.uniform(0.0, 8.0)).astype(np.float64)


@dataclass(frozen=True)
class Transmission:
    """A named transmission condition of ``eval_degraded``: ``fn(wave, sample_rate, rng) -> wave``."""

    name: str
    description: str
    fn: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


#: Transmission conditions of ``eval_degraded``, after ASVspoof 2021 LA's telephony and VoIP channels
#: (Liu et al., IEEE/ACM TASLP 2023); each utterance gets one, uniformly at random. Every degradation
#: is the one implementation in :mod:`sdd.augment.functional`. None is in the default training
#: augmentation (``rawboost4``: LnL convolutive notch filtering, ISD impulsive noise, SSI coloured
#: noise at 10-40 dB SNR); the overlaps are of kind only: the telephone band is a convolutive filter
#: like LnL's (a fixed 300-3400 Hz band at 8 kHz instead of random notches at full band), and ``noise``
#: is additive coloured noise like SSI's, at 0-8 dB SNR instead of 10-40 dB.
TRANSMISSIONS: dict[str, Transmission] = {
    t.name: t
    for t in (
        Transmission("pstn_mulaw", "telephone band, G.711 mu-law at 8 kHz", _tx_pstn_mulaw),
        Transmission(
            "voip_alaw_loss", "telephone band, G.711 A-law at 8 kHz, 5-15 % packet loss", _tx_voip_alaw_loss
        ),
        Transmission(
            "opus_loss",
            "Opus at compression 0.8-1.0, 2-8 % packet loss",
            _tx_codec("opus", 0.8, 1.0, (0.02, 0.08)),
        ),
        Transmission("mp3_low", "MP3 at compression 0.8-0.999", _tx_codec("mp3", 0.8, 0.999, None)),
        Transmission("noise", "pink or brown noise at 0-8 dB SNR", _tx_noise),
    )
}


def _set_level(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random level: RMS at -34..-18 dBFS, scaled down if the peak would exceed 0.99."""
    rms = np.sqrt(np.mean(wave**2)) + 1e-12
    wave = wave * 10 ** (rng.uniform(-34, -18) / 20) / rms
    peak = np.max(np.abs(wave))
    return wave * (0.99 / peak) if peak > 0.99 else wave


# ----------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """One utterance to synthesise and write."""

    path: str
    voice: _Voice
    attack: str  # "-" for bona fide
    n_samples: int
    seed: tuple[int, ...]  # SeedSequence entropy
    transmission: str  # a key of TRANSMISSIONS, "-" for none


def synthesize_utterance(
    voice_seed: int,
    utt_seed: int,
    attack: str,
    duration_s: float,
    cfg: DemoConfig,
    degraded: bool | str = False,
) -> np.ndarray:
    """Synthesise one demo utterance in memory (for tests and inspection).

    Args:
        voice_seed: seed of the speaker's voice parameters.
        utt_seed: seed of the utterance (content, attack randomness, channel).
        attack: ``"-"`` for bona fide or a key of :data:`ATTACKS`.
        duration_s: length in seconds.
        cfg: the corpus config (sample rate, SNR ranges).
        degraded: apply a transmission condition after the recording conditions: ``True`` picks
            one of :data:`TRANSMISSIONS` from ``utt_seed``, a name picks that one.

    Returns:
        (T,) float32 wave in [-1, 1], T = round(duration_s * sample_rate).
    """
    if attack != "-" and attack not in ATTACKS:
        raise KeyError(f"attack {attack!r} does not exist; expected '-' or one of {sorted(ATTACKS)}")
    voice = _make_voice(np.random.default_rng(voice_seed))
    if isinstance(degraded, str) and degraded not in TRANSMISSIONS:
        raise KeyError(f"transmission {degraded!r} does not exist; expected one of {sorted(TRANSMISSIONS)}")
    names = sorted(TRANSMISSIONS)
    tx = degraded if isinstance(degraded, str) else (names[utt_seed % len(names)] if degraded else "-")
    job = _Job("", voice, attack, int(round(duration_s * cfg.sample_rate)), (cfg.seed, utt_seed), tx)
    return _render(job, cfg)


def _render(job: _Job, cfg: DemoConfig) -> np.ndarray:
    """Clean speech -> attack (spoofs) -> recording -> transmission (eval_degraded) -> level."""
    sr = cfg.sample_rate
    rng_content, rng_attack, rng_channel = (
        np.random.default_rng(s) for s in np.random.SeedSequence(list(job.seed)).spawn(3)
    )
    wave = _synthesize_clean(job.voice, job.n_samples, sr, rng_content)
    if job.attack != "-":
        wave = ATTACKS[job.attack].fn(wave, sr, rng_attack)
    wave = _recording(wave, sr, rng_channel)
    if job.transmission != "-":
        wave = TRANSMISSIONS[job.transmission].fn(wave, sr, rng_channel)
    wave = _set_level(wave, rng_channel)
    if not np.all(np.isfinite(wave)):
        raise FloatingPointError(f"demo synthesis produced non-finite samples for {job.path or job.seed}")
    return wave.astype(np.float32)


def _run_job(args: tuple[_Job, DemoConfig]) -> None:
    job, cfg = args
    write_audio(job.path, _render(job, cfg), cfg.sample_rate)


def _split_jobs(
    cfg: DemoConfig, split_index: int, split: DemoSplit, root: Path
) -> tuple[list[_Job], list[str]]:
    """Jobs and protocol lines of one split (both in protocol order)."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, split_index, 0]))
    speakers = [
        f"LA_{split_index * cfg.n_speakers_per_split + i + 1:04d}" for i in range(cfg.n_speakers_per_split)
    ]
    voices = [
        _make_voice(np.random.default_rng(np.random.SeedSequence([cfg.seed, split_index, 1, i])))
        for i in range(cfg.n_speakers_per_split)
    ]
    n_attacks = len(split.attacks)
    systems = ["-"] * cfg.n_per_split + [split.attacks[i % n_attacks] for i in range(cfg.n_per_split)]
    # eval_degraded: transmission conditions in turn within bona fide and within each attack, so no
    # condition is more frequent in one class or attack than in another (no condition-class confound)
    names = sorted(TRANSMISSIONS)
    conditions = [names[i % len(names)] for i in range(cfg.n_per_split)] + [
        names[(i // n_attacks) % len(names)] for i in range(cfg.n_per_split)
    ]
    n_total = len(systems)
    order = rng.permutation(n_total)
    ids = rng.choice(9_000_000, size=n_total, replace=False) + 1_000_000
    spk_index = rng.integers(cfg.n_speakers_per_split, size=n_total)
    first = min(cfg.n_speakers_per_split, n_total)
    spk_index[:first] = np.arange(first)  # every speaker appears at least once
    durations = rng.uniform(cfg.min_duration_s, cfg.max_duration_s, size=n_total)
    flac_dir = root / "LA" / split.audio_dir / "flac"
    jobs, lines = [], []
    for k in range(n_total):
        i = int(order[k])
        file_id = f"{split.file_prefix}{ids[i]:07d}"
        system = systems[i]
        jobs.append(
            _Job(
                path=os.fspath(flac_dir / f"{file_id}.flac"),
                voice=voices[spk_index[k]],
                attack=system,
                n_samples=int(round(durations[k] * cfg.sample_rate)),
                seed=(cfg.seed, split_index, 2, i),
                transmission=conditions[i] if split.degraded else "-",
            )
        )
        key = "bonafide" if system == "-" else "spoof"
        # column 3 (unused, "-", in 2019 LA; the environment in 2019 PA) names the transmission
        lines.append(f"{speakers[spk_index[k]]} {file_id} {jobs[-1].transmission} {system} {key}")
    return jobs, lines


def generate_demo(cfg: DemoConfig, out_dir: Path, workers: int = 2) -> None:
    """Generate the demo corpus into ``out_dir`` in the ASVspoof 2019 LA layout.

    Writes ``out_dir/LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl,
    eval_degraded.trl}.txt`` (5 columns ``SPEAKER FILE - SYSTEM KEY``; in eval_degraded the third
    column names the utterance's transmission condition instead of ``-``) and
    ``out_dir/LA/ASVspoof2019_LA_<split>/flac/<FILE>.flac`` (mono 16-bit FLAC at
    ``cfg.sample_rate``). Everything is written to a temporary sibling folder that replaces
    ``out_dir`` only when complete; an existing ``out_dir`` is replaced.

    Args:
        cfg: corpus parameters.
        out_dir: destination folder (created; its parent must be writable).
        workers: worker processes (>= 1); the output bytes do not depend on it.

    Raises:
        ValueError: ``workers`` < 1.
    """
    if workers < 1:
        raise ValueError(f"generate_demo: workers must be >= 1, got {workers}")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        jobs: list[_Job] = []
        protocols: dict[str, list[str]] = {}
        for split_index, split in enumerate(SPLITS.values()):
            split_jobs, lines = _split_jobs(cfg, split_index, split, tmp)
            (tmp / "LA" / split.audio_dir / "flac").mkdir(parents=True, exist_ok=True)
            jobs.extend(split_jobs)
            protocols[split.name] = lines
        log.info("demo: synthesising %d utterances with %d worker(s) into %s", len(jobs), workers, out_dir)
        tasks = [(job, cfg) for job in jobs]
        if workers == 1:
            for task in tasks:
                _run_job(task)
        else:
            ctx = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                done = sum(1 for _ in pool.map(_run_job, tasks, chunksize=16))  # re-raises worker errors
            log.info("demo: %d utterances written", done)
        proto_dir = tmp / "LA" / PROTOCOL_DIR
        proto_dir.mkdir(parents=True, exist_ok=True)
        for name, lines in protocols.items():
            (proto_dir / SPLITS[name].protocol).write_text("\n".join(lines) + "\n")
        if out_dir.exists():
            trash = out_dir.with_name(f".{out_dir.name}.old{os.getpid()}")
            os.replace(out_dir, trash)
            os.replace(tmp, out_dir)
            shutil.rmtree(trash)
        else:
            os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("demo: wrote %s", out_dir)


def config_summary(cfg: DemoConfig) -> dict[str, object]:
    """A JSON-ready description of the corpus: config, splits and attack systems."""
    return {
        "config": dataclasses.asdict(cfg),
        "splits": {
            name: {"prefix": s.file_prefix, "attacks": list(s.attacks), "degraded": s.degraded}
            for name, s in SPLITS.items()
        },
        "attacks": {name: {"family": a.family, "description": a.description} for name, a in ATTACKS.items()},
        "transmissions": {n: t.description for n, t in TRANSMISSIONS.items()},
    }
