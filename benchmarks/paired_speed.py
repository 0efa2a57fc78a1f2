"""Speed of the paired bootstrap of an EER difference (issue 13) on the ASVspoof 2021 DF eval size.

Two correlated synthetic systems on the same 611,829 trials (DF class balance), 1,000 replicates:

1. ``sdd.metrics.paired_bootstrap_eer`` with one seed per system, stratified by class (the target:
   under 30 s on 2 cores);
2. the same, blocked by 67 speakers (both classes of a drawn speaker together);
3. three seeds per system, stratified.

Baseline, side by side: the explicit paired bootstrap (materialise each replicate's score arrays and
run the official ``compute_eer``, which sorts, per system) on the first replicates of run 1, with the
same draws; it must give the same differences, and its time is extrapolated to 1,000 replicates.

Run: ``.venv/bin/python benchmarks/paired_speed.py``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from sdd import metrics as M

N_DF = 611_829
N_BONA_DF = 22_617
N_RESAMPLES = 1000
N_BASELINE = 5


def official_eer(bona: np.ndarray, spoof: np.ndarray) -> float:
    scores = np.concatenate((bona, spoof))
    labels = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    labels = labels[np.argsort(scores, kind="mergesort")]
    tar = np.cumsum(labels)
    non = spoof.size - (np.arange(1, scores.size + 1) - tar)
    frr = np.concatenate((np.atleast_1d(0), tar / bona.size))
    far = np.concatenate((np.atleast_1d(1), non / spoof.size))
    i = np.argmin(np.abs(frr - far))
    return float(np.mean((frr[i], far[i])))


def main() -> int:
    rng = np.random.default_rng(0)
    lab = np.zeros(N_DF, dtype=bool)
    lab[rng.permutation(N_DF)[:N_BONA_DF]] = True
    truth = np.where(lab, rng.normal(2.5, 1.5, N_DF), rng.normal(-2.5, 1.8, N_DF))
    seeds_a = np.round(truth + rng.normal(0, 0.8, (3, N_DF)), 6)  # EER around 6 %, ties as in files
    seeds_b = np.round(truth + rng.normal(0, 1.0, (3, N_DF)), 6)
    speakers = rng.integers(0, 67, N_DF)

    t = time.perf_counter()
    one = M.paired_bootstrap_eer(seeds_a[0], seeds_b[0], lab, n_resamples=N_RESAMPLES, seed=0)
    t_one = time.perf_counter() - t
    print(
        f"paired bootstrap, 1 seed each, {N_DF:,} trials, {N_RESAMPLES} replicates: {t_one:.2f} s; "
        f"EER A {one.eer_a:.5f}, B {one.eer_b:.5f}, diff {one.diff:+.5f} CI95 [{one.ci[0]:+.5f}, "
        f"{one.ci[1]:+.5f}], P(A better) {one.p_a_better:.3f}"
    )

    t = time.perf_counter()
    blk = M.paired_bootstrap_eer(seeds_a[0], seeds_b[0], lab, blocks=speakers, n_resamples=N_RESAMPLES)
    t_blk = time.perf_counter() - t
    print(f"  blocked by 67 speakers: {t_blk:.2f} s; CI95 [{blk.ci[0]:+.5f}, {blk.ci[1]:+.5f}]")

    t = time.perf_counter()
    three = M.paired_bootstrap_eer(seeds_a, seeds_b, lab, n_resamples=N_RESAMPLES, seed=0)
    t_three = time.perf_counter() - t
    ci3 = f"[{three.ci[0]:+.5f}, {three.ci[1]:+.5f}]"
    print(f"  3 seeds each: {t_three:.2f} s; diff {three.diff:+.5f} CI95 {ci3}")

    # baseline: the same draws (module docstring of sdd.metrics.paired), explicit arrays, official EER
    bi, si = np.flatnonzero(lab), np.flatnonzero(~lab)
    g = np.random.default_rng(0)
    a, b = seeds_a[0], seeds_b[0]
    t = time.perf_counter()
    for r in range(N_BASELINE):
        pb = bi[g.integers(0, bi.size, bi.size, dtype=np.int32)]
        ps = si[g.integers(0, si.size, si.size, dtype=np.int32)]
        want = official_eer(a[pb], a[ps]) - official_eer(b[pb], b[ps])
        assert want == one.diffs[r], f"replicate {r}: explicit {want} != sdd {one.diffs[r]}"
    t_base = (time.perf_counter() - t) / N_BASELINE * N_RESAMPLES
    print(
        f"explicit resampling + official compute_eer: {t_base:.1f} s per {N_RESAMPLES} replicates "
        f"(extrapolated from {N_BASELINE}, same differences); speed-up x{t_base / t_one:.1f}"
    )

    print(f"RESULT paired_bootstrap_611k_seconds={t_one:.2f} s target=<=30")
    print(f"RESULT paired_bootstrap_blocked_611k_seconds={t_blk:.2f} s target=<=30")
    return 0


if __name__ == "__main__":
    sys.exit(main())
