"""Linear probes on pooled hidden states: per layer, over the first k layers (concatenated or LinM).

The features of a probed model come from :mod:`sdd.probing.features`: per utterance and hidden state
l = 0..L (0 = the transformer's input, l = the output of layer l), the mean over frames then the
standard deviation over frames, ``(N, L + 1, 2H)``. Three probes read them, each a class-balanced
L2-regularised logistic regression (:func:`sdd.audit.logistic.fit_logistic`) on features standardised with
the TRAIN split's mean and standard deviation:

- ``layer``: hidden state l alone (its mean and std, 2H features), for l = 0..L: the layer-wise
  probing of SSL models (Pasad, Chou & Livescu, "Layer-wise analysis of a self-supervised speech
  representation model", ASRU 2021), applied to anti-spoofing as AttM does (Pan et al., Interspeech
  2024, arXiv 2406.10283: early layers of WavLM Large carry most of the information).
- ``concat``: the means of layers 1..k concatenated (kH features), for k = 1..L: what a model cut to
  its first k layers offers a linear classifier (AttM's "partial model").
- ``linm``: LinM, the simple baseline merge of the AttM paper: a learned softmax-weighted sum of the
  (standardised) means of layers 1..k, then a linear classifier; the k layer weights, the classifier
  and its bias are trained jointly (L-BFGS, weights started equal, as AttM's ``LinM`` class starts
  them). Unlike the layer and concat probes its objective is not convex; the start is fixed, so the
  fit is deterministic.

Like the merges of :mod:`sdd.models.merges`, ``concat`` and ``linm`` use the transformer layers only
(not hidden state 0). The L2 strength of every probe is chosen from ``l2_grid`` by the EER on the
training corpus's dev split (ties: the stronger penalty); the eval sets are only scored. EERs are the
official ASVspoof definition, with stratified bootstrap 95% intervals (:mod:`sdd.metrics`). Pure numpy
and scipy, no I/O (but the ``probe:layer_done`` fault point of :mod:`sdd.core.faults`); the stage writes
what :func:`run_probes` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from sdd.audit.logistic import class_weights, fit_logistic
from sdd.core import faults
from sdd.metrics import eer, eer_confidence_interval

log = logging.getLogger(__name__)

__all__ = [
    "DEV", "TRAIN", "Standardiser", "best_layer", "fit_linm", "linm_scores", "probe_split_eers", "run_probes",
]

TRAIN, DEV = "train", "dev"


@dataclass(frozen=True)
class Standardiser:
    """Per-feature mean and standard deviation of the train rows (a constant feature gets std 1)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        x = np.asarray(x, dtype=np.float64)
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std


def _softmax(w: np.ndarray) -> np.ndarray:
    e = np.exp(w - w.max())
    return e / e.sum()


def linm_scores(m: np.ndarray, w: np.ndarray, beta: np.ndarray, b: float) -> np.ndarray:
    """Scores of a LinM probe: ``(sum_l softmax(w)_l m[:, l]) . beta + b``.

    Args:
        m: (N, k, H) standardised layer means.
        w: (k,) layer logits; beta: (H,) weights; b: bias.
    """
    return np.einsum("nkh,k->nh", m, _softmax(w)) @ beta + b


def fit_linm(m: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit a LinM probe by L-BFGS: class-balanced logistic loss + ``l2/2 |beta|^2``.

    With s = softmax(w), z_i = sum_l s_l m_il and f_i = beta . z_i + b the loss is
    ``sum_i c_i log(1 + exp(-y_i f_i)) + l2/2 |beta|^2`` (c_i: :func:`sdd.audit.logistic.class_weights`,
    y_i = +-1); the layer logits w and the bias are not penalised. Starts from w = 0 (equal
    weights), beta = 0, b = 0.

    Args:
        m: (N, k, H) standardised layer means; y: (N,) 1 = bona fide, 0 = spoof.

    Returns:
        ``(w, beta, b)``: (k,) layer logits (softmax them for the weights), (H,) weights, bias.
    """
    weight = class_weights(y)
    sign = 2 * np.asarray(y, dtype=np.float64) - 1
    _, k, h = m.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, beta, b = theta[:k], theta[k : k + h], theta[k + h]
        s = _softmax(w)
        z = np.einsum("nkh,k->nh", m, s)  # (N, H)
        margin = sign * (z @ beta + b)
        value = np.sum(weight * np.logaddexp(0.0, -margin)) + 0.5 * l2 * beta @ beta
        coef = -weight * sign / (1 + np.exp(margin))  # d loss / d f_i
        d_s = (m @ beta).T @ coef  # (k,): sum_i coef_i (m_il . beta)
        d_w = s * (d_s - s @ d_s)  # softmax Jacobian
        grad = np.concatenate([d_w, z.T @ coef + l2 * beta, [coef.sum()]])
        return float(value), grad

    result = minimize(loss, np.zeros(k + h + 1), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    theta = result.x
    return theta[:k], theta[k : k + h], float(theta[k + h])


def _eer_of(scores: np.ndarray, y: np.ndarray) -> float:
    return eer(scores[y == 1], scores[y == 0])


def probe_split_eers(
    scores: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray], n_resamples: int, seed: int
) -> dict[str, dict]:
    """``{"eer": {split: EER}, "ci95": {split: [lo, hi]}}`` for every split but train.

    The interval is the stratified percentile bootstrap of :func:`sdd.metrics.eer_confidence_interval`
    (skipped when ``n_resamples`` is 0).
    """
    out: dict[str, dict] = {"eer": {}, "ci95": {}}
    for split, s in scores.items():
        if split == TRAIN:
            continue
        y = labels[split]
        out["eer"][split] = _eer_of(s, y)
        if n_resamples:
            lo, hi = eer_confidence_interval(s[y == 1], s[y == 0], n_resamples=n_resamples, seed=seed)
            out["ci95"][split] = [lo, hi]
    return out


def _select(
    grid: Sequence[float],
    fit: Callable[[float], object],
    score: Callable[[object, str], np.ndarray],
    labels: Mapping[str, np.ndarray],
) -> tuple[float, object]:
    """Fit once per L2 strength and keep the fit with the lowest dev EER (ties: the stronger penalty)."""
    best: tuple[float, float, object] | None = None
    for l2 in sorted(grid, reverse=True):  # strongest first, so a tie keeps the stronger penalty
        fitted = fit(l2)
        dev_eer = _eer_of(score(fitted, DEV), labels[DEV])
        if best is None or dev_eer < best[0]:
            best = (dev_eer, l2, fitted)
    assert best is not None
    return best[1], best[2]


def run_probes(
    features: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    l2_grid: Sequence[float],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    kinds: Sequence[str] = ("layer", "concat", "linm"),
) -> dict[str, list[dict]]:
    """Every probe of one model.

    Args:
        features: split -> (N, L + 1, 2H) pooled statistics (means in ``[..., :H]``, standard
            deviations in ``[..., H:]``); needs ``train`` and ``dev``, any other split is an eval set.
        labels: split -> (N,) 1 = bona fide, 0 = spoof.
        l2_grid: L2 strengths tried; the one with the lowest dev EER is kept.
        n_resamples, seed: bootstrap of the EER intervals (0 resamples: no intervals).
        kinds: which probes (``layer``, ``concat``, ``linm``).

    Returns:
        ``{kind: [row, ...]}``, one row per layer (``layer``: ``{"layer": l, ...}``, l = 0..L) or per
        number of layers (``concat``/``linm``: ``{"layers": k, ...}``, k = 1..L); each row holds the
        chosen ``l2``, ``eer`` and ``ci95`` per split (dev and every eval set); LinM rows also hold the
        learned layer ``weights`` (softmax, k values).
    """
    missing = [s for s in (TRAIN, DEV) if s not in features]
    if missing:
        raise ValueError(f"run_probes: no {missing} features; the probes fit on train and select on dev")
    unknown = sorted(set(kinds) - {"layer", "concat", "linm"})
    if unknown:
        raise ValueError(f"run_probes: unknown probe kinds {unknown}; expected layer, concat, linm")
    if not l2_grid:
        raise ValueError("run_probes: empty l2_grid")
    n_states, width = features[TRAIN].shape[1], features[TRAIN].shape[2]
    if width % 2:
        raise ValueError(f"run_probes: feature width {width} is odd; expected [means | stds] of 2H")
    hidden = width // 2
    y_train = labels[TRAIN]
    out: dict[str, list[dict]] = {k: [] for k in kinds}

    def linear(x: Mapping[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        l2, (beta, b) = _select(l2_grid, lambda c: fit_logistic(x[TRAIN], y_train, c),
                                lambda f, s: x[s] @ f[0] + f[1], labels)
        return l2, {s: v @ beta + b for s, v in x.items()}

    def ci(scores: dict[str, np.ndarray]) -> dict:
        return probe_split_eers(scores, labels, n_resamples, seed)

    if "layer" in kinds:
        for layer in range(n_states):
            std = Standardiser.fit(features[TRAIN][:, layer])
            l2, scores = linear({s: std(f[:, layer]) for s, f in features.items()})
            out["layer"].append({"layer": layer, "l2": l2, **ci(scores)})
            log.info("probe layer %d: l2 %g, dev EER %.4f", layer, l2, out["layer"][-1]["eer"][DEV])
            faults.point("probe:layer_done")
    if "concat" in kinds or "linm" in kinds:
        # standardised means of every transformer layer: (N, L, H) per split
        means = {}
        for s, f in features.items():
            means[s] = np.empty((f.shape[0], n_states - 1, hidden))
        for layer in range(1, n_states):
            std = Standardiser.fit(features[TRAIN][:, layer, :hidden])
            for s, f in features.items():
                means[s][:, layer - 1] = std(f[:, layer, :hidden])
        for k in range(1, n_states):
            if "concat" in kinds:
                l2, scores = linear({s: m[:, :k].reshape(len(m), -1) for s, m in means.items()})
                out["concat"].append({"layers": k, "l2": l2, **ci(scores)})
            if "linm" in kinds:
                l2, (w, beta, b) = _select(
                    l2_grid, lambda c, k=k: fit_linm(means[TRAIN][:, :k], y_train, c),
                    lambda f, s, k=k: linm_scores(means[s][:, :k], *f), labels)
                scores = {s: linm_scores(m[:, :k], w, beta, b) for s, m in means.items()}
                out["linm"].append({"layers": k, "l2": l2, "weights": _softmax(w).tolist(), **ci(scores)})
    return out


def best_layer(rows: Sequence[dict]) -> dict:
    """The ``layer`` row with the lowest dev EER (ties: the earlier layer): the layer a user would pick
    without looking at any eval set. Its eval EERs are the honest single-number summary of a model."""
    if not rows:
        raise ValueError("best_layer: no layer rows")
    return min(rows, key=lambda r: (r["eer"][DEV], r["layer"]))
