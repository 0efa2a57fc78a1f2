"""Hand-feature baseline: utterance statistics of classic frame features + L2 logistic regression.

It calibrates how hard a corpus is for a detector that only sees coarse spectral statistics. The
frame features are the classic low-level descriptors of audio classification (Tzanetakis & Cook,
"Musical genre classification of audio signals", IEEE TSAP 2002; Peeters, "A large set of audio
features for sound description", IRCAM 2004): energy, zero-crossing rate, spectral centroid,
roll-off and flatness. Their utterance mean and standard deviation plus the duration feed a logistic
regression (Cox, JRSS-B 1958) with an L2 penalty, fitted with L-BFGS on standardised features and
class-balanced weights (:func:`sdd.audit.logistic.fit_logistic`, re-exported here). The score is the bona
fide log-odds and the EER is the official ASVspoof definition (:func:`sdd.metrics.eer`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sdd.audio.io import read_audio
from sdd.audit.logistic import fit_logistic
from sdd.core.paths import resolve
from sdd.metrics import eer

__all__ = ["FEATURE_NAMES", "fit_logistic", "hand_feature_baseline", "hand_features"]

log = logging.getLogger(__name__)

#: Names of the entries of :func:`hand_features`, in order.
FEATURE_NAMES: tuple[str, ...] = (
    "energy_db_mean",
    "energy_db_std",
    "zcr_mean",
    "zcr_std",
    "centroid_hz_mean",
    "centroid_hz_std",
    "rolloff_hz_mean",
    "rolloff_hz_std",
    "flatness_mean",
    "flatness_std",
    "duration_s",
)

_REQUIRED_COLUMNS = ("utt_id", "path", "label", "attack")


def hand_features(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Utterance-level hand features of one waveform.

    Frames are 25 ms with a 10 ms hop (Hann window for the spectral ones); a clip shorter than one
    frame is zero-padded to one frame. Per frame:

    - energy: 10 log10 of the mean squared sample (+1e-10), dB;
    - ZCR: fraction of adjacent sample pairs whose sign differs;
    - spectral centroid: power-weighted mean frequency, Hz;
    - spectral roll-off: lowest frequency below which 85 % of the power lies, Hz;
    - spectral flatness: geometric over arithmetic mean of the power spectrum (+1e-12), in [0, 1].

    Args:
        wave: (T,) mono waveform.
        sample_rate: Hz.

    Returns:
        (11,) float64: mean and standard deviation over frames of each of the five frame features
        (in the order above), then the duration in seconds; names in :data:`FEATURE_NAMES`.
    """
    x = np.asarray(wave, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("hand_features: empty waveform")
    n_win = int(round(0.025 * sample_rate))
    hop = int(round(0.010 * sample_rate))
    if x.size < n_win:
        x = np.pad(x, (0, n_win - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_win)[::hop]  # (F, n_win)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    signs = np.signbit(frames)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    power = np.abs(np.fft.rfft(frames * np.hanning(n_win), axis=1)) ** 2 + 1e-12  # (F, K)
    freqs = np.fft.rfftfreq(n_win, 1 / sample_rate)
    total = power.sum(axis=1)
    centroid = power @ freqs / total
    cumulative = np.cumsum(power, axis=1)
    rolloff = freqs[np.argmax(cumulative >= 0.85 * total[:, None], axis=1)]
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    stats = [f(v) for v in (energy, zcr, centroid, rolloff, flatness) for f in (np.mean, np.std)]
    return np.array([*stats, wave.size / sample_rate], dtype=np.float64)


def _features_of(path: str) -> np.ndarray:
    wave, sr = read_audio(resolve(path))
    return hand_features(wave, sr)


def _feature_matrix(frame: pd.DataFrame, workers: int) -> np.ndarray:
    paths = [str(p) for p in frame["path"]]
    if workers <= 1 or len(paths) < 64:
        rows = [_features_of(p) for p in paths]
    else:
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            rows = list(pool.map(_features_of, paths, chunksize=32))
    return np.stack(rows)  # (N, 11)


def _check_manifest(frame: pd.DataFrame, name: str) -> None:
    missing = [c for c in _REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"manifest {name!r}: missing column(s) {missing}; expected {list(_REQUIRED_COLUMNS)}"
        )
    bad = sorted(set(frame["label"]) - {"bonafide", "spoof"})
    if bad:
        raise ValueError(f"manifest {name!r}: label values {bad}; expected 'bonafide' or 'spoof'")
    labels = set(frame["label"])
    if labels != {"bonafide", "spoof"}:
        raise ValueError(f"manifest {name!r}: needs bona fide and spoof rows, found only {sorted(labels)}")


def hand_feature_baseline(
    train: pd.DataFrame, evals: Mapping[str, pd.DataFrame], *, seed: int = 0, workers: int = 2
) -> dict[str, dict[str, object]]:
    """Train the hand-feature logistic regression on ``train`` and score every eval manifest.

    Args:
        train: manifest with columns ``utt_id, path, label, attack`` (paths relative to the repo
            root or absolute; ``label`` in {bonafide, spoof}; ``attack`` is ``-`` for bona fide).
        evals: eval name -> manifest of the same form.
        seed: kept for interface symmetry with the learned models; the fit is deterministic
            (L-BFGS from zeros) and draws no random numbers.
        workers: processes used to read audio and compute features.

    Returns:
        ``{eval_name: {"eer": float, "per_attack": {attack: float}, "n_bonafide": int,
        "n_spoof": int}}``; EERs are fractions; per-attack EER uses all bona fide trials against
        that attack's spoofs.
    """
    _check_manifest(train, "train")
    for name, frame in evals.items():
        _check_manifest(frame, name)
    log.info(
        "hand-feature baseline: %d train utterances, eval sets %s (seed %d)", len(train), list(evals), seed
    )
    x_train = _feature_matrix(train, workers)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    y_train = (train["label"].to_numpy() == "bonafide").astype(np.float64)
    beta, bias = fit_logistic((x_train - mean) / std, y_train)
    log.info(
        "hand-feature baseline weights: %s", dict(zip(FEATURE_NAMES, np.round(beta, 3).tolist(), strict=True))
    )
    results: dict[str, dict[str, object]] = {}
    for name, frame in evals.items():
        scores = ((_feature_matrix(frame, workers) - mean) / std) @ beta + bias  # bona fide log-odds
        is_bona = frame["label"].to_numpy() == "bonafide"
        attacks = frame["attack"].to_numpy()
        bona = scores[is_bona]
        per_attack = {
            str(a): eer(bona, scores[(~is_bona) & (attacks == a)]) for a in sorted(set(attacks[~is_bona]))
        }
        results[name] = {
            "eer": eer(bona, scores[~is_bona]),
            "per_attack": per_attack,
            "n_bonafide": int(is_bona.sum()),
            "n_spoof": int((~is_bona).sum()),
        }
        log.info("hand-feature baseline on %s: EER %.4f", name, results[name]["eer"])
    return results
