"""Bootstrap confidence intervals of the EER, from the one sorted order of :class:`SortedScores`.

Efron & Tibshirani, "An Introduction to the Bootstrap" (1993): percentile interval, stratified by
class; the speaker-blocked variant resamples whole speakers (block bootstrap). No resample is
sorted: the number of draws landing in each run of one class in the pooled order is multinomial, and
the official EER of the weighted trials is read from the run weights (:func:`_eer_from_run_weights`).
"""

from __future__ import annotations

import numpy as np

from sdd.metrics.detection import MetricsError, SortedScores, as_sorted

__all__ = ["bootstrap_eer", "eer_confidence_interval"]


def _runs(is_bona: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of one class in the pooled order: (starts, lengths, run_is_bona), each (R,)."""
    change = np.flatnonzero(is_bona[1:] != is_bona[:-1]) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [is_bona.size]]))
    return starts, lengths, is_bona[starts]


def _eer_from_run_weights(w: np.ndarray, run_is_bona: np.ndarray) -> np.ndarray:
    """Official EER of weighted (resampled) trials, from per-run weights in the pooled order.

    A trial drawn w times contributes w unit steps to the DET staircase. ``frr - far`` never
    decreases along the staircase, so the official first argmin of ``|frr - far|`` lies in the run
    whose start is the last point with ``frr - far <= 0``; inside that run one rate moves in unit
    steps m = 0..w and ``|frr - far|`` is convex in m, so the best step is the floor or the ceiling of
    the real crossing. Both are evaluated with the official float formulas, the earlier winning
    exact ties as ``np.argmin`` does; earlier points tied with it are the same point (zero-weight
    runs), so the value is the official one.

    Args:
        w: (B, R) int or float weights: how many resampled trials fall in each run.
        run_is_bona: (R,) bool.

    Returns:
        (B,) EERs, each equal to the official EER of the explicitly resampled score arrays.
    """
    rows = np.arange(w.shape[0])
    wb = np.where(run_is_bona, w, 0)  # (B, R)
    ws = w - wb
    cb = np.cumsum(wb, axis=1)  # bona fide weight up to the END of each run
    cs = np.cumsum(ws, axis=1)
    nb = cb[:, -1].astype(np.float64)  # (B,)
    ns = cs[:, -1].astype(np.float64)
    cb -= wb  # now: strictly before each run, (B, R)
    cs -= ws
    d_start = cb / nb[:, None] - (ns[:, None] - cs) / ns[:, None]  # frr - far at each run start
    k = np.count_nonzero(d_start <= 0, axis=1) - 1  # (B,) the run holding the crossing
    cb_k, cs_k, w_k, bona_k = cb[rows, k], cs[rows, k], w[rows, k], run_is_bona[k]
    spoof_left = ns - cs_k
    # bona fide run: far fixed at spoof_left/ns, frr = (cb + m)/nb
    # spoof run: frr fixed at cb/nb, far = (spoof_left - m)/ns
    m_real = np.where(bona_k, spoof_left / ns * nb - cb_k, spoof_left - cb_k / nb * ns)
    m_lo = np.clip(np.floor(m_real), 0, w_k)
    m_hi = np.clip(m_lo + 1, 0, w_k)

    def rates(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frr = np.where(bona_k, (cb_k + m) / nb, cb_k / nb)
        far = np.where(bona_k, spoof_left / ns, (spoof_left - m) / ns)
        return frr, far

    frr_lo, far_lo = rates(m_lo)
    frr_hi, far_hi = rates(m_hi)
    take_hi = np.abs(frr_hi - far_hi) < np.abs(frr_lo - far_lo)
    return np.where(take_hi, (frr_hi + far_hi) / 2, (frr_lo + far_lo) / 2)


def bootstrap_eer(
    scores: SortedScores,
    n_resamples: int,
    rng: np.random.Generator,
    *,
    bonafide_groups: np.ndarray | None = None,
    spoof_groups: np.ndarray | None = None,
) -> np.ndarray:
    """EERs of stratified bootstrap resamples, without re-sorting anything.

    Utterance bootstrap (default): each class is resampled with replacement to its own size; the
    number of draws landing in each run of the pooled order is multinomial with the run's share of
    the class, so one multinomial draw over runs per class and replicate replaces sorting a resample.
    Speaker-blocked bootstrap (``*_groups`` given): whole groups (speakers) are drawn with
    replacement, per class, and every trial of a drawn group counts once per draw.

    Args:
        scores: the sorted scores (built with :meth:`SortedScores.from_scores` when groups are given,
            so the group labels can follow the sort).
        n_resamples: number of bootstrap replicates B.
        rng: the injected generator.
        bonafide_groups: (N_b,) group ids of the bona fide trials in the caller's ORIGINAL order.
        spoof_groups: (N_s,) group ids of the spoof trials; both or neither.

    Returns:
        (B,) EERs (fractions).
    """
    if n_resamples < 1:
        raise MetricsError(f"n_resamples must be >= 1, got {n_resamples}")
    if (bonafide_groups is None) != (spoof_groups is None):
        raise MetricsError("speaker-blocked bootstrap needs group ids for both classes (or neither)")
    starts, lengths, run_is_bona = _runs(scores.is_bona)
    n_runs = lengths.size
    out = np.empty(n_resamples)
    chunk = int(max(1, min(n_resamples, 2_000_000 // max(n_runs, 1))))  # ~100 MB peak
    if bonafide_groups is None:
        pb = lengths[run_is_bona] / scores.n_bona
        ps = lengths[~run_is_bona] / scores.n_spoof
        for lo in range(0, n_resamples, chunk):
            c = min(chunk, n_resamples - lo)
            w = np.empty((c, n_runs), dtype=np.int64)
            w[:, run_is_bona] = rng.multinomial(scores.n_bona, pb, size=c)
            w[:, ~run_is_bona] = rng.multinomial(scores.n_spoof, ps, size=c)
            out[lo : lo + c] = _eer_from_run_weights(w, run_is_bona)
        return out
    if scores.bona_order is None or scores.spoof_order is None:
        raise MetricsError("speaker-blocked bootstrap needs SortedScores.from_scores (the sort permutation)")
    bg = np.asarray(bonafide_groups).ravel()
    sg = np.asarray(spoof_groups).ravel()
    if bg.size != scores.n_bona or sg.size != scores.n_spoof:
        raise MetricsError(
            f"group ids: got {bg.size} bona fide / {sg.size} spoof, "
            f"expected {scores.n_bona} / {scores.n_spoof}"
        )
    # group index of every pooled position, and run index of every pooled position
    _, b_codes = np.unique(bg[scores.bona_order], return_inverse=True)
    _, s_codes = np.unique(sg[scores.spoof_order], return_inverse=True)
    n_gb, n_gs = int(b_codes.max()) + 1, int(s_codes.max()) + 1
    run_of_pos = np.repeat(np.arange(n_runs), lengths)
    run_b = run_of_pos[scores.is_bona]
    run_s = run_of_pos[~scores.is_bona]
    for k in range(n_resamples):
        gb = rng.multinomial(n_gb, np.full(n_gb, 1.0 / n_gb))
        gs = rng.multinomial(n_gs, np.full(n_gs, 1.0 / n_gs))
        w = np.bincount(run_b, weights=gb[b_codes], minlength=n_runs) + np.bincount(
            run_s, weights=gs[s_codes], minlength=n_runs
        )
        out[k] = _eer_from_run_weights(w[None, :], run_is_bona)[0]
    return out


def eer_confidence_interval(
    bonafide_scores: np.ndarray | SortedScores,
    spoof_scores: np.ndarray | None = None,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    bonafide_groups: np.ndarray | None = None,
    spoof_groups: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the EER, stratified by class.

    Args:
        bonafide_scores: (N_b,) scores, or a :class:`SortedScores` (then ``spoof_scores`` is None).
        spoof_scores: (N_s,) scores.
        n_resamples: bootstrap replicates.
        seed: seeds a fresh ``np.random.default_rng``; equal seeds give equal intervals.
        level: coverage, e.g. 0.95.
        bonafide_groups, spoof_groups: speaker ids for the speaker-blocked bootstrap.

    Returns:
        ``(lo, hi)`` fractions.
    """
    if not 0.0 < level < 1.0:
        raise MetricsError(f"level must be in (0, 1), got {level}")
    s = as_sorted(bonafide_scores, spoof_scores)
    eers = bootstrap_eer(
        s,
        n_resamples,
        np.random.default_rng(seed),
        bonafide_groups=bonafide_groups,
        spoof_groups=spoof_groups,
    )
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(eers, [alpha, 1.0 - alpha])
    return float(lo), float(hi)
