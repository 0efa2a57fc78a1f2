"""Shortcut audit: how well does one trivial feature, or a linear model on MFCC statistics, separate classes?

A spoofing corpus is only a fair test if bona fide and spoofed utterances differ in the artefacts
of the attacks, not in how the files were cut, levelled or recorded. Known failures: ASVspoof 2019
LA, where the duration of the leading silence alone gives about 15 % EER (Müller et al., "Speech is
Silver, Silence is Golden: What do ASVspoof-trained Models Really Learn?", ASVspoof workshop 2021,
arXiv:2106.12914), and a DC offset that a vocoder's excitation leaves in its output. This module
measures such shortcuts so a report can show them beside every result.

Two checks:

1. **Single features.** :func:`utterance_features` computes per utterance the scalar features of
   :data:`FEATURES` (level, DC, duration, silences, coarse spectral shape, power below 60 Hz).
   Each feature is used as a detection score on its own and its EER (:func:`sdd.metrics.eer`, the
   official ASVspoof definition) is computed pooled and per attack (all bona fide trials against
   that attack's spoofs).
2. **MFCC logistic regression.** :func:`mfcc_stats` gives the mean and standard deviation over
   frames of 20 MFCCs (40 numbers); :func:`mfcc_logistic_eer` fits the class-balanced L2 logistic
   regression of :func:`sdd.audit.logistic.fit_logistic` on a training table and reports its EER on an
   evaluation table. This is a stronger check than single features: it catches a fixed spectral
   colouring or a level pattern that no one feature shows.

**Direction convention.** A shortcut can point either way: spoofs may have *more* or *less* DC than
bona fide speech. For every feature and every trial subset (pooled, or one attack) the EER is
computed twice, with the feature as the score (``higher = more bona fide``, direction ``+1``) and
with its negation (``lower = more bona fide``, direction ``-1``), and the lower of the two is
reported together with its direction. The pooled figure and each per-attack figure choose their
direction independently. This is an *oracle* choice of direction, so with no information at all the
reported EER sits slightly below 50 % (a few percent with a few hundred trials); it is meant as a
lower bound on what the feature can do, which is what a shortcut audit needs. One threshold cannot
catch two attacks whose shortcuts point opposite ways (one attack adds a positive DC offset, another
a negative one): their pooled EER can stay near 50 %, and only the per-attack EERs show them, so read
both. Tied values (a silence length of 0 in many files) are spread in proportion before the EER is
taken, so a feature that is constant gives 50 %, not the official tie rule's bona-fide-first
corner (see :func:`two_way_eer`). The MFCC model's direction is fixed by its training data (its
score is the bona fide log-odds), never chosen on the evaluation data.

Sampling noise: with 50 spoofs of one attack (the demo's eval sets), a per-attack EER moves in steps
of 2 % and an uninformative feature lands anywhere in about 38-50 %, so read single per-attack
values below 40 % with that in mind; the flag thresholds (:func:`flag_shortcuts`) sit well below.

Every EER is a fraction in [0, 1], not a percentage.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import multiprocessing
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import scipy.fft

from sdd.audio.io import read_audio
from sdd.audit.logistic import fit_logistic
from sdd.core.paths import resolve
from sdd.metrics import eer

__all__ = [
    "FEATURES",
    "FeatureEER",
    "MFCC_NAMES",
    "Shortcut",
    "ShortcutAudit",
    "audit_manifests",
    "audit_table",
    "feature_eers",
    "feature_table",
    "flag_shortcuts",
    "format_audit",
    "mfcc_logistic_eer",
    "mfcc_stats",
    "two_way_eer",
    "utterance_features",
]

log = logging.getLogger(__name__)

#: Single features of :func:`utterance_features`: name -> unit and definition.
FEATURES: dict[str, str] = {
    "dc": "mean sample value (DC offset), full-scale units",
    "dc_over_rms": "mean / RMS of the samples, dimensionless",
    "duration_s": "length, seconds",
    "rms_db": "RMS level, dB re full scale (20 log10 RMS)",
    "peak_db": "largest absolute sample, dB re full scale",
    "crest_db": "crest factor peak / RMS, dB",
    "leading_silence_s": "time before the first non-silent frame, seconds (see silence_db)",
    "trailing_silence_s": "time after the last non-silent frame, seconds (see silence_db)",
    "centroid_hz": "spectral centroid of the long-term power spectrum, Hz",
    "bandwidth_hz": "spectral bandwidth (power-weighted standard deviation about the centroid), Hz",
    "hf_fraction": "fraction of the long-term power at or above 7 kHz, in [0, 1]",
    "lf_fraction": "fraction of the power below 60 Hz (DC, hum, sub-bass), in [0, 1]",
}

_N_MFCC = 20
#: Names of the entries of :func:`mfcc_stats`: 20 means, then 20 standard deviations.
MFCC_NAMES: tuple[str, ...] = tuple(f"mfcc{i}_mean" for i in range(_N_MFCC)) + tuple(
    f"mfcc{i}_std" for i in range(_N_MFCC)
)

_REQUIRED_COLUMNS = ("utt_id", "path", "label", "attack")
_HF_EDGE_HZ = 7000.0
_LF_EDGE_HZ = 60.0


# ----------------------------------------------------------------------------------------------
# Per-utterance features
# ----------------------------------------------------------------------------------------------


def _frames(x: np.ndarray, n_win: int, hop: int) -> np.ndarray:
    """(T,) -> (F, n_win) frames at ``hop``; a clip shorter than one frame is zero-padded to one frame."""
    if x.size < n_win:
        x = np.pad(x, (0, n_win - x.size))
    return np.lib.stride_tricks.sliding_window_view(x, n_win)[::hop]


def _one_sided_weights(n: int) -> np.ndarray:
    """Weights that make a length-``n`` rfft's bin powers sum to the signal energy (Parseval)."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def utterance_features(wave: np.ndarray, sample_rate: int, *, silence_db: float = 30.0) -> dict[str, float]:
    """The single shortcut features of one waveform (see :data:`FEATURES` for units).

    Silence: the waveform is cut into 20 ms frames at a 10 ms hop (the last frame ends at the last
    sample), and a frame is *silent* when its RMS is more than ``silence_db`` dB below the RMS of the
    loudest frame of the same utterance (a level-independent threshold, like ``top_db`` of
    ``librosa.effects.trim``). The leading silence is the start time of the first non-silent frame;
    the trailing silence is the time from the end of the last non-silent frame to the end of the
    file (a frame grid of 10 ms: the leading silence is a multiple of 10 ms). An all-zero file has
    leading = trailing = its duration. The default of 30 dB is chosen for noisy material: in the
    demo corpus every file carries channel noise roughly 25-50 dB below its loudest frame, so a
    50 dB threshold finds a leading pause in almost no file, while 30 dB finds it in about 90 % of
    the eval files. Clean studio recordings (ASVspoof
    2019 LA) have a much lower floor; pass a larger ``silence_db`` there if a pause should count
    only when it is nearly digital silence.

    Spectral shape: Hann-windowed frames of 25 ms rounded up to a power-of-two length (32 ms at
    16 kHz) at a 10 ms hop, power spectra averaged over all frames (the long-term average spectrum, so loud
    frames weigh more than pauses). Centroid and bandwidth are its power-weighted mean and standard
    deviation in Hz; ``hf_fraction`` is its share at or above 7 kHz (0 when the Nyquist frequency is
    below 7 kHz). ``lf_fraction`` comes from one FFT of the whole utterance instead (frequency
    resolution 1 / duration), since 60 Hz is below the resolution of a 32 ms frame: its share of
    the power below 60 Hz, DC included, where a DC offset or a vocoder's sub-F0 energy would show
    even when the mean is not far from zero.

    Args:
        wave: (T,) mono waveform in [-1, 1], T >= 1.
        sample_rate: Hz.
        silence_db: silence threshold, dB below the loudest 20 ms frame (positive number).

    Returns:
        feature name -> value, in the order of :data:`FEATURES`.
    """
    x = np.asarray(wave, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("utterance_features: empty waveform")
    if silence_db <= 0:
        raise ValueError(f"utterance_features: silence_db must be > 0 dB, got {silence_db}")
    duration = x.size / sample_rate
    mean = float(np.mean(x))
    rms = float(np.sqrt(np.mean(x**2)))
    peak = float(np.max(np.abs(x)))
    tiny = 1e-10

    # silence: 20 ms frames every 10 ms covering the whole file; a frame that runs past the end is
    # measured over its samples inside the file
    n_win, hop = int(round(0.020 * sample_rate)), int(round(0.010 * sample_rate))
    starts = np.arange(0, max(1, x.size - n_win + hop), hop)  # the last frame reaches the end
    ends = np.minimum(starts + n_win, x.size)
    energy = np.concatenate([[0.0], np.cumsum(x**2)])
    frame_rms = np.sqrt(np.maximum(energy[ends] - energy[starts], 0.0) / (ends - starts))  # (F,)
    loud = frame_rms > np.max(frame_rms) * 10 ** (-silence_db / 20)
    if np.any(loud):
        leading = starts[int(np.argmax(loud))] / sample_rate
        trailing = (x.size - ends[len(loud) - 1 - int(np.argmax(loud[::-1]))]) / sample_rate
    else:
        leading = trailing = duration

    # long-term average spectrum
    n_fft = 1 << int(np.ceil(np.log2(0.025 * sample_rate)))
    frames = _frames(x, n_fft, hop)
    spectra = scipy.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1)
    power = np.mean(np.abs(spectra) ** 2, axis=0) * _one_sided_weights(n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    total = float(power.sum()) + 1e-30
    centroid = float(power @ freqs / total)
    bandwidth = float(np.sqrt(power @ (freqs - centroid) ** 2 / total))
    hf = float(power[freqs >= _HF_EDGE_HZ].sum() / total)
    whole = np.abs(scipy.fft.rfft(x)) ** 2 * _one_sided_weights(x.size)
    lf = float(whole[np.fft.rfftfreq(x.size, 1 / sample_rate) < _LF_EDGE_HZ].sum() / (whole.sum() + 1e-30))

    return {
        "dc": mean,
        "dc_over_rms": mean / (rms + tiny),
        "duration_s": duration,
        "rms_db": 20 * np.log10(rms + tiny),
        "peak_db": 20 * np.log10(peak + tiny),
        "crest_db": 20 * np.log10((peak + tiny) / (rms + tiny)),
        "leading_silence_s": leading,
        "trailing_silence_s": trailing,
        "centroid_hz": centroid,
        "bandwidth_hz": bandwidth,
        "hf_fraction": hf,
        "lf_fraction": lf,
    }


@functools.lru_cache(maxsize=8)
def _mel_dct(sample_rate: int, n_fft: int, n_mels: int, n_mfcc: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_mels, K) HTK-mel triangles (20 Hz to Nyquist) and the (n_mfcc, n_mels) orthonormal DCT-II."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1 + f / 700.0)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10 ** (m / 2595.0) - 1)

    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    mel_edges = np.linspace(hz_to_mel(np.array(20.0)), hz_to_mel(np.array(sample_rate / 2)), n_mels + 2)
    edges = mel_to_hz(mel_edges)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up, down = (freqs - lower) / (centre - lower), (upper - freqs) / (upper - centre)
    fbank = np.maximum(0.0, np.minimum(up, down))
    dct = scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc]  # (n_mfcc, n_mels)
    return fbank, dct


def mfcc_stats(wave: np.ndarray, sample_rate: int, n_mfcc: int = _N_MFCC) -> np.ndarray:
    """Mean and standard deviation over frames of ``n_mfcc`` MFCCs (c0 included).

    MFCCs as in HTK/Kaldi without pre-emphasis or liftering: 25 ms Hann frames at a 10 ms hop
    (FFT of the next power of two), power spectrum, 40 HTK-mel triangles from 20 Hz to Nyquist,
    natural log (+1e-10), orthonormal DCT-II, first ``n_mfcc`` coefficients.

    Args:
        wave: (T,) mono waveform.
        sample_rate: Hz.
        n_mfcc: number of coefficients.

    Returns:
        (2 * n_mfcc,) float64: the means, then the standard deviations (names :data:`MFCC_NAMES`
        for the default 20).
    """
    x = np.asarray(wave, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("mfcc_stats: empty waveform")
    n_win, hop = int(round(0.025 * sample_rate)), int(round(0.010 * sample_rate))
    n_fft = 1 << int(np.ceil(np.log2(n_win)))
    frames = _frames(x, n_win, hop) * np.hanning(n_win + 1)[:-1]
    power = np.abs(scipy.fft.rfft(frames, n=n_fft, axis=1)) ** 2  # (F, K)
    fbank, dct = _mel_dct(sample_rate, n_fft, 40, n_mfcc)
    mfcc = np.log(power @ fbank.T + 1e-10) @ dct.T  # (F, n_mfcc)
    return np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0)])


# ----------------------------------------------------------------------------------------------
# Manifest -> feature table
# ----------------------------------------------------------------------------------------------


def _row_of(path: str, silence_db: float, with_mfcc: bool) -> np.ndarray:
    wave, sr = read_audio(resolve(path))
    feats = np.fromiter(utterance_features(wave, sr, silence_db=silence_db).values(), dtype=np.float64)
    return np.concatenate([feats, mfcc_stats(wave, sr)]) if with_mfcc else feats


def _check_manifest(frame: pd.DataFrame, name: str) -> None:
    missing = [c for c in _REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"manifest {name!r}: missing column(s) {missing}; expected {list(_REQUIRED_COLUMNS)}"
        )
    bad = sorted(set(frame["label"]) - {"bonafide", "spoof"})
    if bad:
        raise ValueError(f"manifest {name!r}: label values {bad}; expected 'bonafide' or 'spoof'")


def feature_table(
    manifest: pd.DataFrame,
    *,
    workers: int = 2,
    silence_db: float = 30.0,
    with_mfcc: bool = True,
    name: str = "manifest",
) -> pd.DataFrame:
    """Read every file of a manifest and compute its features.

    Args:
        manifest: columns ``utt_id, path, label, attack`` (as :mod:`sdd.audit.baseline` reads them: paths
            relative to the repo root or absolute, ``label`` in {bonafide, spoof}, ``attack`` ``-``
            for bona fide).
        workers: processes reading audio and computing features (forked; 1 = in this process).
        silence_db: see :func:`utterance_features`.
        with_mfcc: also compute :func:`mfcc_stats` (columns :data:`MFCC_NAMES`).
        name: used in error messages.

    Returns:
        one row per manifest row: ``utt_id, label, attack``, then the columns of :data:`FEATURES`,
        then (``with_mfcc``) those of :data:`MFCC_NAMES`.
    """
    _check_manifest(manifest, name)
    paths = [str(p) for p in manifest["path"]]
    task = functools.partial(_row_of, silence_db=silence_db, with_mfcc=with_mfcc)
    if workers <= 1 or len(paths) < 64:
        rows = [task(p) for p in paths]
    else:
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            rows = list(pool.map(task, paths, chunksize=32))
    columns = list(FEATURES) + (list(MFCC_NAMES) if with_mfcc else [])
    values = pd.DataFrame(np.stack(rows), columns=columns, index=manifest.index)
    meta = manifest[["utt_id", "label", "attack"]].astype(str)
    return pd.concat([meta, values], axis=1).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# EERs
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureEER:
    """EERs of one score (a single feature, or a model's output) on one evaluation set.

    Attributes:
        pooled: EER over all bona fide and all spoof trials, a fraction.
        per_attack: attack id -> EER of all bona fide trials against that attack's spoofs.
        direction: +1 when the pooled EER was reached with ``higher = more bona fide``, -1 when with
            ``lower = more bona fide`` (a model's log-odds are always +1).
        per_attack_direction: attack id -> the direction of that attack's EER.
    """

    pooled: float
    per_attack: dict[str, float]
    direction: int = 1
    per_attack_direction: dict[str, int] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        """The lowest EER, pooled or of any attack (the strongest shortcut)."""
        return min([self.pooled, *self.per_attack.values()])


def _spread_ties(bonafide_scores: np.ndarray, spoof_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order-preserving rescoring that interleaves tied bona fide and spoof scores in proportion.

    Scores become the dense rank of their value; within a block of ``n_b`` bona fide and ``n_s``
    spoof trials sharing one value, the i-th bona fide trial gets rank + (i + 0.5) / n_b - 0.5 and
    the j-th spoof trial rank + (j + 0.5) / n_s - 0.5. Distinct values keep their order, so the EER
    is unchanged when there are no ties; inside a tie the threshold sweep walks the straight ROC
    segment of a randomised threshold instead of the official bona-fide-first corner. Without this,
    a feature that is constant for most files (a silence length of 0) gets an official EER far above
    50 % in *both* directions, and one that is constant everywhere gets 100 %.
    """
    values = np.concatenate([bonafide_scores, spoof_scores])
    uniq, inverse = np.unique(values, return_inverse=True)
    if uniq.size == values.size:
        return bonafide_scores, spoof_scores
    n_b = bonafide_scores.size
    out = inverse.astype(np.float64)
    for part in (slice(0, n_b), slice(n_b, values.size)):
        ranks = inverse[part]
        order = np.argsort(ranks, kind="stable")
        counts = np.bincount(ranks, minlength=uniq.size)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        within = np.empty(ranks.size, dtype=np.float64)
        within[order] = np.arange(ranks.size) - first[ranks[order]]  # position inside its tie block
        out[part] = ranks + (within + 0.5) / counts[ranks] - 0.5
    return out[:n_b], out[n_b:]


def two_way_eer(bonafide_scores: np.ndarray, spoof_scores: np.ndarray) -> tuple[float, int]:
    """EER of a single feature in its better direction, with ties spread (see :func:`_spread_ties`).

    Returns:
        ``(eer, direction)``: the lower of :func:`sdd.metrics.eer` on the scores (direction +1,
        higher = more bona fide) and on their negation (direction -1); equal values go to +1. A
        feature that carries no information gives about 0.5 (slightly less, by the choice of the
        better direction).
    """
    b, s = _spread_ties(
        np.asarray(bonafide_scores, dtype=np.float64).ravel(),
        np.asarray(spoof_scores, dtype=np.float64).ravel(),
    )
    up, down = eer(b, s), eer(-b, -s)
    return (up, 1) if up <= down else (down, -1)


def _score_eers(scores: np.ndarray, labels: np.ndarray, attacks: np.ndarray, two_way: bool) -> FeatureEER:
    is_bona = labels == "bonafide"
    bona = scores[is_bona]
    one = (lambda b, s: (eer(b, s), 1)) if not two_way else two_way_eer
    pooled, direction = one(bona, scores[~is_bona])
    per_attack: dict[str, float] = {}
    per_dir: dict[str, int] = {}
    for attack in sorted(set(attacks[~is_bona])):
        per_attack[attack], per_dir[attack] = one(bona, scores[(~is_bona) & (attacks == attack)])
    return FeatureEER(float(pooled), per_attack, direction, per_dir)


def _labels(table: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    labels = np.array([str(v) for v in table["label"]], dtype=object)
    attacks = np.array([str(v) for v in table["attack"]], dtype=object)
    found = set(labels)
    if found != {"bonafide", "spoof"}:
        raise ValueError(f"{name}: needs bona fide and spoof rows, found only {sorted(found)}")
    return labels, attacks


def feature_eers(
    table: pd.DataFrame, features: Iterable[str] | None = None, *, name: str = "table"
) -> dict[str, FeatureEER]:
    """Single-feature EERs, pooled and per attack, each in its better direction.

    Args:
        table: a :func:`feature_table` (columns ``label``, ``attack`` and the features).
        features: columns to score (default: every :data:`FEATURES` column present).
        name: used in error messages.

    Returns:
        feature name -> :class:`FeatureEER` (see the module docstring for the direction rule).
    """
    labels, attacks = _labels(table, name)
    names = [f for f in FEATURES if f in table.columns] if features is None else list(features)
    out = {}
    for feat in names:
        scores = table[feat].to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"{name}: feature {feat!r} has non-finite values")
        out[feat] = _score_eers(scores, labels, attacks, two_way=True)
    return out


def mfcc_logistic_eer(train: pd.DataFrame, evaluation: pd.DataFrame, *, l2: float = 1e-2) -> FeatureEER:
    """Fit the MFCC-statistics logistic regression on ``train`` and score ``evaluation``.

    Features: the 40 columns of :data:`MFCC_NAMES`, standardised with the training mean and standard
    deviation. Model: :func:`sdd.audit.logistic.fit_logistic` (class-balanced, L2 penalty ``l2`` on the
    weights, L-BFGS from zeros, so deterministic). The score is the bona fide log-odds, so the
    direction is fixed (+1) by the training data.

    Args:
        train: :func:`feature_table` with MFCC columns (the training split).
        evaluation: the same for the evaluation split.
        l2: penalty strength.

    Returns:
        the EERs on ``evaluation``, pooled and per attack.
    """
    missing = [c for c in MFCC_NAMES if c not in train.columns or c not in evaluation.columns]
    if missing:
        raise ValueError(f"mfcc_logistic_eer: MFCC columns missing ({missing[0]}, ...); use with_mfcc=True")
    y_labels, _ = _labels(train, "train")
    labels, attacks = _labels(evaluation, "evaluation")
    x_train = train[list(MFCC_NAMES)].to_numpy(dtype=np.float64)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    beta, bias = fit_logistic((x_train - mean) / std, (y_labels == "bonafide").astype(np.float64), l2=l2)
    scores = ((evaluation[list(MFCC_NAMES)].to_numpy(dtype=np.float64) - mean) / std) @ beta + bias
    return _score_eers(scores, labels, attacks, two_way=False)


# ----------------------------------------------------------------------------------------------
# The audit
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShortcutAudit:
    """The shortcut audit of one evaluation set.

    Attributes:
        name: evaluation set name.
        n_bonafide: bona fide trials.
        n_spoof: spoof trials.
        features: single feature -> its EERs (better direction, see the module docstring).
        mfcc_lr: EERs of the MFCC logistic regression trained on the training table (``None`` when
            no training table was given).
    """

    name: str
    n_bonafide: int
    n_spoof: int
    features: dict[str, FeatureEER]
    mfcc_lr: FeatureEER | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``{"name", "n_bonafide", "n_spoof", "features": {feature: {"pooled",
        "per_attack", "direction", "per_attack_direction"}}, "mfcc_lr": {...} or None}``."""
        return {
            "name": self.name,
            "n_bonafide": self.n_bonafide,
            "n_spoof": self.n_spoof,
            "features": {k: asdict(v) for k, v in self.features.items()},
            "mfcc_lr": None if self.mfcc_lr is None else asdict(self.mfcc_lr),
        }


def audit_table(
    table: pd.DataFrame, train: pd.DataFrame | None = None, *, name: str = "eval"
) -> ShortcutAudit:
    """Audit one feature table: single-feature EERs and (with ``train``) the MFCC logistic regression."""
    labels, _ = _labels(table, name)
    mfcc = None
    if train is not None:
        mfcc = mfcc_logistic_eer(train, table)
    return ShortcutAudit(
        name=name,
        n_bonafide=int(np.sum(labels == "bonafide")),
        n_spoof=int(np.sum(labels == "spoof")),
        features=feature_eers(table, name=name),
        mfcc_lr=mfcc,
    )


def audit_manifests(
    evals: Mapping[str, pd.DataFrame],
    train: pd.DataFrame | None = None,
    *,
    workers: int = 2,
    silence_db: float = 30.0,
) -> dict[str, ShortcutAudit]:
    """Audit every evaluation manifest; the MFCC model is fitted on ``train`` when it is given.

    Args:
        evals: eval name -> manifest (columns ``utt_id, path, label, attack``).
        train: the training manifest, or ``None`` to skip the MFCC check.
        workers: processes reading audio.
        silence_db: see :func:`utterance_features`.

    Returns:
        eval name -> :class:`ShortcutAudit`.
    """
    with_mfcc = train is not None
    train_table = None
    if train is not None:
        train_table = feature_table(train, workers=workers, silence_db=silence_db, name="train")
    out = {}
    for name, manifest in evals.items():
        table = feature_table(
            manifest, workers=workers, silence_db=silence_db, with_mfcc=with_mfcc, name=name
        )
        out[name] = audit_table(table, train_table, name=name)
        flags = [s.describe() for s in flag_shortcuts(out[name])]
        log.info("shortcut audit of %s: %s", name, flags or "no shortcut below the default thresholds")
    return out


@dataclass(frozen=True)
class Shortcut:
    """One flagged shortcut: ``feature`` (or ``mfcc_lr``) separates ``subset`` (``pooled`` or an
    attack id) with EER ``eer`` below ``threshold``, in ``direction`` (+1 higher = more bona fide)."""

    feature: str
    subset: str
    eer: float
    threshold: float
    direction: int

    def describe(self) -> str:
        """One line, e.g. ``dc_over_rms on A02: EER 0.2 % < 25.0 % (lower = more bona fide)``."""
        way = "higher" if self.direction > 0 else "lower"
        return (
            f"{self.feature} on {self.subset}: EER {100 * self.eer:.1f} % < {100 * self.threshold:.1f} % "
            f"({way} = more bona fide)"
        )


def flag_shortcuts(
    audit: ShortcutAudit,
    *,
    pooled_below: float = 0.40,
    per_attack_below: float = 0.25,
    mfcc_pooled_below: float = 0.30,
) -> list[Shortcut]:
    """Every single feature whose EER is below the threshold, pooled or for one attack, and the MFCC
    model when its pooled EER is below ``mfcc_pooled_below``.

    Thresholds are fractions. The defaults are the demo corpus's acceptance levels (a single
    feature must stay >= 40 % pooled and >= 25 % on every attack; the MFCC model >= 30 % pooled).

    Returns:
        the flagged shortcuts, features in :data:`FEATURES` order, pooled before attacks.
    """
    flags = []
    for feat, res in audit.features.items():
        if res.pooled < pooled_below:
            flags.append(Shortcut(feat, "pooled", res.pooled, pooled_below, res.direction))
        for attack, value in res.per_attack.items():
            if value < per_attack_below:
                flags.append(
                    Shortcut(feat, attack, value, per_attack_below, res.per_attack_direction.get(attack, 1))
                )
    if audit.mfcc_lr is not None and audit.mfcc_lr.pooled < mfcc_pooled_below:
        flags.append(Shortcut("mfcc_lr", "pooled", audit.mfcc_lr.pooled, mfcc_pooled_below, 1))
    return flags


def format_audit(audit: ShortcutAudit) -> str:
    """A Markdown table of the audit: one row per feature (and the MFCC model), EER in % pooled and per
    attack (each single feature in its better direction)."""
    attacks = sorted({a for r in audit.features.values() for a in r.per_attack})
    if audit.mfcc_lr is not None:
        attacks = sorted(set(attacks) | set(audit.mfcc_lr.per_attack))
    head = f"| {audit.name} | pooled | " + " | ".join(attacks) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(attacks)]
    rows = list(audit.features.items()) + ([("mfcc_lr", audit.mfcc_lr)] if audit.mfcc_lr is not None else [])
    for feat, res in rows:
        cells = [f"{100 * res.per_attack[a]:.1f}" if a in res.per_attack else "-" for a in attacks]
        lines.append(f"| {feat} | {100 * res.pooled:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
