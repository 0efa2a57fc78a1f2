"""Paired comparison of two systems' EERs on the SAME trials, and Holm-corrected tables of comparisons.

The procedure of :func:`paired_bootstrap_eer` (Efron & Tibshirani 1993, percentile bootstrap; the
blocked variant is a cluster bootstrap over speakers):

1. System A is given as ``(S_a, N)`` scores (one row per training seed), system B as ``(S_b, N)``, both
   on the same N trials with one label vector. The statistic is ``d = mean_s EER(A_s) - mean_s
   EER(B_s)``, each EER the official ASVspoof one (:func:`sdd.metrics.eer`); ``d < 0`` means A is
   better.
2. Each of ``n_resamples`` replicates draws ONE multiset of trials, shared by every seed of both
   systems (that is what makes the bootstrap paired):

   - without blocks: the bona fide trials are drawn with replacement to their own count, and the
     spoof trials to theirs (stratified by class): per replicate, ``rng.integers(0, N_b, N_b,
     dtype=np.int32)`` indexes the bona fide trials in input order, then ``rng.integers(0, N_s, N_s,
     dtype=np.int32)`` the spoofs, with ``rng = np.random.default_rng(seed)``;
   - with ``blocks`` (speaker ids): the blocks are drawn with replacement to their own count
     (per replicate ``rng.integers(0, n_blocks, n_blocks)``, blocks numbered in sorted id order), and
     every trial of a drawn block, bona fide and spoof together, enters once per draw. A block may
     hold one class only. A replicate that happens to hold no bona fide or no spoof trial has no EER
     and is drawn again (counted in ``n_redrawn``).

   The replicate's ``d`` is computed from the resampled trials of every seed; no resample is sorted:
   each seed's scores are sorted once, and the draws are counted per run of one class in that order
   (:func:`sdd.metrics.bootstrap._eer_from_run_weights` reads the official EER of the weighted trials
   from those counts; a test checks it against explicit resampling with the official formula).
3. Outputs: the observed ``d``; the percentile interval ``quantile(d*, [(1-level)/2, (1+level)/2])``
   (``np.quantile``'s default linear interpolation); ``p_a_better = P(d* < 0) + P(d* = 0) / 2``;
   the two-sided bootstrap p-value ``min(1, 2 min(P(d* <= 0), P(d* >= 0)))``; and the replicates.
   Equal seeds give equal results.

:func:`compare_to_reference` turns m comparisons of arms against one reference arm into a table
with Holm's step-down correction applied to the intervals (see its docstring), and gives each one its
minimum detectable difference at 80 % power from the same replicates and the per-seed EERs
(:func:`sdd.metrics.power.comparison_power`); :func:`holm_adjust` gives Holm-adjusted p-values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdd.metrics.bootstrap import _eer_from_run_weights, _runs
from sdd.metrics.detection import MetricsError, SortedScores
from sdd.metrics.power import DEFAULT_POWER, comparison_power

__all__ = [
    "PairedEerComparison",
    "compare_to_reference",
    "holm_adjust",
    "mean_eer_interval",
    "paired_bootstrap_eer",
]

_CHUNK_ELEMENTS = 4_000_000  # trials x replicates held at once (~32 MB of int64 per array)
_MAX_REDRAW_ROUNDS = 1000


@dataclass(frozen=True)
class PairedEerComparison:
    """The result of :func:`paired_bootstrap_eer` (EERs and differences are fractions).

    Attributes:
        eer_a, eer_b: observed EER of each system, averaged over its seeds.
        diff: ``eer_a - eer_b`` (negative: A is better).
        ci: percentile interval of ``diff`` at ``level``.
        level: coverage of ``ci``.
        p_a_better: share of replicates with ``EER_A < EER_B``, ties counted half.
        p_value: two-sided bootstrap p-value of ``diff == 0``: ``min(1, 2 min(P(d* <= 0), P(d* >= 0)))``.
        n_resamples, seed: the bootstrap's size and seed.
        n_seeds_a, n_seeds_b: score rows averaged per system.
        n_blocks: number of blocks (speakers) resampled, or None for the stratified trial bootstrap.
        n_redrawn: blocked replicates drawn again because they held one class only.
        diffs: (n_resamples,) the replicates of ``diff`` (for intervals at other levels).
        eers_a, eers_b: (S_a,), (S_b,) each seed's own observed EER, in the order of the score rows
            (their spread over seeds enters the minimum detectable difference).
    """

    eer_a: float
    eer_b: float
    diff: float
    ci: tuple[float, float]
    level: float
    p_a_better: float
    p_value: float
    n_resamples: int
    seed: int
    n_seeds_a: int
    n_seeds_b: int
    n_blocks: int | None
    n_redrawn: int
    diffs: np.ndarray = field(repr=False, compare=False)
    eers_a: tuple[float, ...]
    eers_b: tuple[float, ...]

    def interval(self, level: float) -> tuple[float, float]:
        """Percentile interval of ``diff`` at another coverage, from the same replicates."""
        return _percentile_interval(self.diffs, level)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (without the replicates)."""
        return {
            "eer_a": self.eer_a,
            "eer_b": self.eer_b,
            "diff": self.diff,
            "ci": list(self.ci),
            "level": self.level,
            "p_a_better": self.p_a_better,
            "p_value": self.p_value,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "n_seeds_a": self.n_seeds_a,
            "n_seeds_b": self.n_seeds_b,
            "method": "paired stratified bootstrap" if self.n_blocks is None else "paired block bootstrap",
            "n_blocks": self.n_blocks,
            "n_redrawn": self.n_redrawn,
            "eers_a": list(self.eers_a),
            "eers_b": list(self.eers_b),
        }


def _percentile_interval(diffs: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise MetricsError(f"level must be in (0, 1), got {level}")
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(diffs, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _as_seed_rows(scores: np.ndarray | Sequence[Sequence[float]], name: str, n: int | None) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MetricsError(f"{name}: expected shape (seeds, trials) or (trials,), got {np.shape(scores)}")
    if n is not None and arr.shape[1] != n:
        raise MetricsError(f"{name}: {arr.shape[1]} trials per seed, expected {n} (the label count)")
    bad = ~np.isfinite(arr)
    if bad.any():
        seed_row, trial = np.argwhere(bad)[0]
        raise MetricsError(
            f"{name}: {int(bad.sum())} non-finite scores (NaN/inf), "
            f"first at seed row {seed_row}, trial {trial}"
        )
    return arr


class _SeedRuns:
    """One seed's scores sorted once: the run (of one class, in the official pooled order) of each trial."""

    def __init__(self, scores: np.ndarray, bona_idx: np.ndarray, spoof_idx: np.ndarray) -> None:
        s = SortedScores.from_scores(scores[bona_idx], scores[spoof_idx])
        self.eer = s.eer()
        _, lengths, self.run_is_bona = _runs(s.is_bona)
        self.n_runs = int(lengths.size)
        run_of_pos = np.repeat(np.arange(self.n_runs, dtype=np.int32), lengths)
        run = np.empty(scores.size, dtype=np.int32)
        # pooled positions of each class, ascending, are that class's sorted order
        run[bona_idx[s.bona_order]] = run_of_pos[s.is_bona]
        run[spoof_idx[s.spoof_order]] = run_of_pos[~s.is_bona]
        self.run_of_trial = run  # (N,)


class _BlockCells:
    """One seed's trials grouped by (block, run): weights per run = sum over cells of block draws."""

    def __init__(self, sr: _SeedRuns, block_codes: np.ndarray, n_blocks: int) -> None:
        key = block_codes.astype(np.int64) * sr.n_runs + sr.run_of_trial
        cells, counts = np.unique(key, return_counts=True)
        self.block = (cells // sr.n_runs).astype(np.int64)
        self.run = (cells % sr.n_runs).astype(np.int64)
        self.count = counts.astype(np.float64)
        self.sr = sr

    def run_weights(self, block_draws: np.ndarray) -> np.ndarray:
        """(c, n_blocks) draws per block -> (c, R) weight per run."""
        c, r = block_draws.shape[0], self.sr.n_runs
        w = block_draws[:, self.block] * self.count  # (c, cells)
        ids = self.run[None, :] + (np.arange(c, dtype=np.int64) * r)[:, None]
        return np.bincount(ids.ravel(), weights=w.ravel(), minlength=c * r).reshape(c, r)


def paired_bootstrap_eer(
    scores_a: np.ndarray | Sequence[Sequence[float]],
    scores_b: np.ndarray | Sequence[Sequence[float]],
    is_bonafide: np.ndarray | Sequence[bool],
    *,
    blocks: np.ndarray | Sequence[Any] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> PairedEerComparison:
    """Paired bootstrap of ``mean_s EER(A_s) - mean_s EER(B_s)`` on the same trials (module docstring).

    Args:
        scores_a: (S_a, N) or (N,) scores of system A, one row per seed; higher = more bona fide.
        scores_b: (S_b, N) or (N,) scores of system B on the same trials, in the same order.
        is_bonafide: (N,) bool (or 0/1): True for bona fide trials, False for spoofs.
        blocks: (N,) block ids (speakers) for the block bootstrap; None = stratified by class.
        n_resamples: bootstrap replicates.
        seed: seeds a fresh ``np.random.default_rng``; equal seeds give equal results.
        level: coverage of the percentile interval.

    Returns:
        A :class:`PairedEerComparison`.

    Raises:
        MetricsError: shapes disagree, scores are not finite, a class is empty, or bad parameters.
    """
    if n_resamples < 1:
        raise MetricsError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < level < 1.0:
        raise MetricsError(f"level must be in (0, 1), got {level}")
    lab = np.asarray(is_bonafide)
    if lab.ndim != 1:
        raise MetricsError(f"is_bonafide: expected shape (N,), got {lab.shape}")
    if lab.dtype != bool:
        if lab.size and not np.isin(lab, (0, 1)).all():
            raise MetricsError(f"is_bonafide: expected bool or 0/1 values, got {np.unique(lab)[:5].tolist()}")
        lab = lab.astype(bool)
    n = lab.size
    a = _as_seed_rows(scores_a, "scores_a", n)
    b = _as_seed_rows(scores_b, "scores_b", n)
    bona_idx = np.flatnonzero(lab)
    spoof_idx = np.flatnonzero(~lab)
    if bona_idx.size == 0 or spoof_idx.size == 0:
        raise MetricsError(
            f"need both classes, got {bona_idx.size} bona fide and {spoof_idx.size} spoof trials"
        )
    runs_a = [_SeedRuns(row, bona_idx, spoof_idx) for row in a]
    runs_b = [_SeedRuns(row, bona_idx, spoof_idx) for row in b]
    eer_a = float(np.mean([r.eer for r in runs_a]))
    eer_b = float(np.mean([r.eer for r in runs_b]))
    rng = np.random.default_rng(seed)
    chunk = int(max(1, min(n_resamples, _CHUNK_ELEMENTS // n)))
    diffs = np.empty(n_resamples)
    n_blocks: int | None = None
    n_redrawn = 0

    def mean_eer(weights: list[np.ndarray], runs: list[_SeedRuns]) -> np.ndarray:
        """(c,) replicate EERs averaged over seeds, from each seed's (c, R) run weights."""
        eers = [_eer_from_run_weights(w, r.run_is_bona) for w, r in zip(weights, runs, strict=True)]
        return np.mean(eers, axis=0)

    if blocks is None:
        # trials renumbered bona fide first, so a class's draws are one range of integers; the draws
        # per trial are counted once per replicate and shared by every seed of both systems
        internal = np.concatenate([bona_idx, spoof_idx])
        run_tables = [r.run_of_trial[internal].astype(np.intp) for r in (*runs_a, *runs_b)]
        n_b = bona_idx.size
        n_s = n - n_b
        counts = np.empty(n)
        for lo in range(0, n_resamples, chunk):
            c = min(chunk, n_resamples - lo)
            w = [np.empty((c, r.n_runs)) for r in (*runs_a, *runs_b)]
            for i in range(c):
                # the documented draw, replicate by replicate (independent of the chunking)
                counts[:n_b] = np.bincount(rng.integers(0, n_b, n_b, dtype=np.int32), minlength=n_b)
                counts[n_b:] = np.bincount(rng.integers(0, n_s, n_s, dtype=np.int32), minlength=n_s)
                for k, (table, r) in enumerate(zip(run_tables, (*runs_a, *runs_b), strict=True)):
                    w[k][i] = np.bincount(table, weights=counts, minlength=r.n_runs)
            diffs[lo : lo + c] = mean_eer(w[: len(runs_a)], runs_a) - mean_eer(w[len(runs_a) :], runs_b)
    else:
        blk = np.asarray(blocks)
        if blk.shape != (n,):
            raise MetricsError(f"blocks: expected shape ({n},) (one id per trial), got {blk.shape}")
        _, codes = np.unique(blk, return_inverse=True)
        codes = codes.ravel()
        n_blocks = int(codes.max()) + 1
        bona_per_block = np.bincount(codes[bona_idx], minlength=n_blocks)
        spoof_per_block = np.bincount(codes[spoof_idx], minlength=n_blocks)
        cells_a = [_BlockCells(r, codes, n_blocks) for r in runs_a]
        cells_b = [_BlockCells(r, codes, n_blocks) for r in runs_b]
        # a chunk holds (replicates x cells) weights: bound that, not just the block draws
        widest = max(n_blocks, *(cl.block.size for cl in (*cells_a, *cells_b)))
        bchunk = int(max(1, min(n_resamples, _CHUNK_ELEMENTS // widest)))

        def draw() -> np.ndarray:
            """Draws per block of one replicate, drawn again while it misses a class."""
            nonlocal n_redrawn
            for attempt in range(_MAX_REDRAW_ROUNDS + 1):
                g = np.bincount(rng.integers(0, n_blocks, n_blocks), minlength=n_blocks)
                if g @ bona_per_block > 0 and g @ spoof_per_block > 0:
                    return g
                if attempt == _MAX_REDRAW_ROUNDS:
                    raise MetricsError(
                        f"block bootstrap: replicates keep missing a class after {_MAX_REDRAW_ROUNDS} "
                        f"redraws; {int((bona_per_block > 0).sum())} of {n_blocks} blocks hold bona fide "
                        f"trials and {int((spoof_per_block > 0).sum())} spoof trials"
                    )
                n_redrawn += 1
            raise AssertionError("unreachable")

        for lo in range(0, n_resamples, bchunk):
            c = min(bchunk, n_resamples - lo)
            g = np.stack([draw() for _ in range(c)]).astype(np.float64)  # (c, n_blocks)
            wa = [cl.run_weights(g) for cl in cells_a]
            wb = [cl.run_weights(g) for cl in cells_b]
            diffs[lo : lo + c] = mean_eer(wa, runs_a) - mean_eer(wb, runs_b)

    le, ge = float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0))
    lt, eq = float(np.mean(diffs < 0)), float(np.mean(diffs == 0))
    return PairedEerComparison(
        eer_a=eer_a,
        eer_b=eer_b,
        diff=eer_a - eer_b,
        ci=_percentile_interval(diffs, level),
        level=level,
        p_a_better=lt + eq / 2,
        p_value=min(1.0, 2 * min(le, ge)),
        n_resamples=n_resamples,
        seed=seed,
        n_seeds_a=a.shape[0],
        n_seeds_b=b.shape[0],
        n_blocks=n_blocks,
        n_redrawn=n_redrawn,
        diffs=diffs,
        eers_a=tuple(float(r.eer) for r in runs_a),
        eers_b=tuple(float(r.eer) for r in runs_b),
    )


def mean_eer_interval(
    scores: np.ndarray | Sequence[Sequence[float]],
    is_bonafide: np.ndarray | Sequence[bool],
    *,
    blocks: np.ndarray | Sequence[Any] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, tuple[float, float]]:
    """Bootstrap interval of ONE system's EER averaged over its seeds, ``mean_s EER(A_s)``.

    It is :func:`paired_bootstrap_eer` of the system against a perfect one (scores = the labels, EER 0
    in every replicate that holds both classes), so each replicate draws one multiset of trials shared
    by all seeds, exactly as a paired comparison with the same ``seed`` and ``blocks`` does, and the
    replicates of the difference are those of the mean EER.

    Returns:
        ``(mean EER, (low, high))``, fractions.
    """
    lab = np.asarray(is_bonafide).astype(bool)
    res = paired_bootstrap_eer(scores, lab.astype(np.float64), lab, blocks=blocks, n_resamples=n_resamples,
                               seed=seed, level=level)
    return res.eer_a, res.ci


def holm_adjust(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values (Holm 1979), in the input order.

    With the m p-values sorted ascending, ``p_adj(i) = max_{j <= i} min(1, (m - j + 1) p(j))``;
    rejecting where ``p_adj <= alpha`` is Holm's procedure at family-wise error rate alpha. Ties keep
    the input order.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if p.size == 0:
        return p
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise MetricsError(f"p-values must be in [0, 1], got {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(stepped)
    return out


def compare_to_reference(
    comparisons: Mapping[str, PairedEerComparison],
    *,
    reference: str = "reference",
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
) -> list[dict[str, Any]]:
    """One row per arm compared with the reference arm, with Holm's step-down on the intervals.

    Each comparison must be ``paired_bootstrap_eer(arm, reference, ...)``, so ``diff = EER(arm) -
    EER(reference)`` and negative is better. With m comparisons, sorted by two-sided bootstrap p-value
    ascending (ties in the input order), the i-th (1-based) gets the per-comparison level
    ``alpha_i = alpha / (m - i + 1)`` and the percentile interval of its replicates at coverage
    ``1 - alpha_i``. It is flagged ``significant`` only when that interval excludes 0 AND every
    comparison before it in that order is flagged (Holm's step-down stops at the first non-rejection).
    ``p_holm`` is :func:`holm_adjust` of the p-values; ``p_holm <= alpha`` agrees with the flag except at
    the resolution of the replicates (the interval is interpolated, the p-value counted).

    Each row also carries the minimum detectable difference at ``power``
    (:func:`sdd.metrics.power.comparison_power`): ``(z_{1-alpha/(2m)} + z_power) * se_total``, at the
    Bonferroni level ``alpha / m`` (Holm's first, strictest step, so conservative), with ``se_total``
    from this comparison's replicates (``se_bootstrap``) and, with two or more seeds per system, the
    spread of the per-seed EERs (``se_seed``). A row that is not ``significant`` reads "no difference
    larger than ``mdd`` was detectable"; with one seed ``mdd_includes_seed_variance`` is False.

    Args:
        comparisons: arm name -> its comparison with the reference (input order is kept in the rows).
        reference: the reference arm's name, written into each row.
        alpha: family-wise error rate.
        power: the power at which the MDD is stated.

    Returns:
        Rows (dicts) in the input order: ``arm, reference, eer, eer_reference, diff, ci_lo, ci_hi,
        level, p_better, p_value, p_holm, holm_rank, holm_alpha, holm_ci_lo, holm_ci_hi, significant,
        n_resamples, seed, blocked``, and the MDD's ``mdd, mdd_power, mdd_alpha,
        mdd_includes_seed_variance, mdd_seed_term, se_bootstrap, se_seed, se_total``.
    """
    if not 0.0 < alpha < 1.0:
        raise MetricsError(f"alpha must be in (0, 1), got {alpha}")
    names = list(comparisons)
    m = len(names)
    if m == 0:
        return []
    p = np.array([comparisons[k].p_value for k in names])
    p_holm = holm_adjust(p)
    order = np.argsort(p, kind="stable")
    rows: dict[str, dict[str, Any]] = {}
    still_rejecting = True
    for i, j in enumerate(order, start=1):
        name = names[j]
        c = comparisons[name]
        a_i = alpha / (m - i + 1)
        lo, hi = c.interval(1.0 - a_i)
        excludes_zero = lo > 0 or hi < 0
        still_rejecting = still_rejecting and excludes_zero
        rows[name] = {
            "arm": name,
            "reference": reference,
            "eer": c.eer_a,
            "eer_reference": c.eer_b,
            "diff": c.diff,
            "ci_lo": c.ci[0],
            "ci_hi": c.ci[1],
            "level": c.level,
            "p_better": c.p_a_better,
            "p_value": c.p_value,
            "p_holm": float(p_holm[j]),
            "holm_rank": i,
            "holm_alpha": a_i,
            "holm_ci_lo": lo,
            "holm_ci_hi": hi,
            "significant": bool(still_rejecting),
            "n_resamples": c.n_resamples,
            "seed": c.seed,
            "blocked": c.n_blocks is not None,
            **comparison_power(c.diffs, c.eers_a, c.eers_b, alpha=alpha, n_comparisons=m, power=power),
        }
    return [rows[k] for k in names]
