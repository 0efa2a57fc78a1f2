"""The demo corpus's spoofing systems A01-A06 and their registry :data:`ATTACKS`.

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
  fully fine-tuned demo arms of :mod:`sdd.data.demo`'s "Difficulty", against 0-2 % for a
  harmonic-plus-noise vocoder that was tried first: it shared A02's jitter-free periodicity).

We deliberately differ from real attacks in one respect: every system re-synthesises a clean
source-filter utterance, never a trained acoustic model's output, so the corpus is tiny and fast to
make.

Each system is ``fn(clean_wave, sample_rate, rng) -> spoof_wave`` of the same length; which splits
hold which attacks is :data:`sdd.data.corpora.demo_layout.SPLITS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy.signal import medfilt

from sdd.data.demo.dsp import fft_sizes, filter_full, istft, smooth, stft

__all__ = ["ATTACKS"]


def _griffin_lim(
    mag: np.ndarray, n_fft: int, hop: int, length: int, n_iter: int, rng: np.random.Generator
) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin et al., WASPAA 2013, momentum 0.99) from an (F, K) magnitude."""
    angles = np.exp(2j * np.pi * rng.random(mag.shape))
    prev = np.zeros_like(angles)
    for _ in range(n_iter):
        rebuilt = stft(istft(mag * angles, n_fft, hop, length), n_fft, hop)
        accel = rebuilt - 0.99 * prev
        prev = rebuilt
        angles = accel / (np.abs(accel) + 1e-12)
    return istft(mag * angles, n_fft, hop, length)


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
    n_fft, hop = fft_sizes(sample_rate)
    mag = np.abs(stft(wave, n_fft, hop))
    basis, inverse = _mel_basis(sample_rate, n_fft, 80)
    mel = mag @ basis.T  # (F, 80)
    lin = np.maximum(mel @ inverse.T, 0.0)
    return _griffin_lim(lin, n_fft, hop, len(wave), 12, rng)


def _attack_gl_linear(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A05 (unseen variant of A01's family): linear 64 ms / 16 ms magnitude -> 8 fast Griffin-Lim steps."""
    n_fft, hop = 2 * fft_sizes(sample_rate)[0], fft_sizes(sample_rate)[0] // 2
    mag = np.abs(stft(wave, n_fft, hop))
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
    n_fft, hop = fft_sizes(sample_rate)
    spec = stft(wave, n_fft, hop)  # (F, K)
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
    out = stft(excitation, n_fft, hop) * env
    gain = np.sqrt(power.sum(axis=1) / (np.abs(out) ** 2).sum(axis=1).clip(1e-12))
    return istft(out * smooth(gain, 3)[:, None], n_fft, hop, len(wave))


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
    n_fft, hop = fft_sizes(sample_rate)
    spec = stft(wave, n_fft, hop)  # (F, K)
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
    target = smooth(target, max(1, int(0.04 * sample_rate / hop)), axis=0)
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
    out = istft(converted, n_fft, hop, len(wave))

    def low(f: np.ndarray) -> np.ndarray:
        return np.clip((80.0 - f) / 40.0, 0.0, 1.0)

    return filter_full(wave, sample_rate, low) + filter_full(out, sample_rate, lambda f: 1.0 - low(f))


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
    n_fft, hop = fft_sizes(sample_rate)
    spec = stft(wave, n_fft, hop)
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
    return istft(new_mag * np.exp(1j * new_phase), n_fft, hop, len(wave))


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
