"""Speed of the metric suite (issue 3): sort once vs the official re-sort-per-metric approach.

Measures, on synthetic scores of the ASVspoof 2021 DF eval size (611,829 trials):

1. EER + revised and legacy min t-DCF from arrays: ``sdd.metrics`` (one sort per class, every sweep
   from the same order) vs a faithful re-implementation of the official packages' approach
   (``compute_eer`` and ``compute_tDCF`` each concatenating and ``argsort(kind="mergesort")``-ing the
   scores again), side by side, plus the scaling from 1e4 to 1e7 trials.
2. A 1,000-resample stratified bootstrap 95% CI of the EER (multinomial run weights on one order).
3. The t-EER (Kinnunen et al. 2023) of the same CM scores in tandem with an ASV system scoring every
   trial (bona fide split into target and non-target), by the ASVspoof 5 package's search (the
   default, ``RESULT teer_seconds``) and with the exhaustive one too, as ``sdd evaluate`` computes
   them, against the metrics of 1.
4. ``sdd evaluate`` end to end as a subprocess on a generated 611,829-line score file with a 2019-format
   protocol and ASV scores (process start, parsing, EER, both t-DCFs, t-EER, ASVspoof 5 metrics,
   per-attack).

Run: ``.venv/bin/python benchmarks/metrics_speed.py [--quick]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sdd import metrics as M
from sdd.metrics.bootstrap import _runs

N_DF = 611_829
N_BONA_DF = 22_617  # 2021 DF eval bona fide count; the rest are spoofs
ASV = M.AsvOperatingPoint(
    eer=0.02457783738686887, threshold=-5.680051, pfa=0.024604674888228765, pmiss=0.024581005586592177,
    pfa_spoof=0.7606524529601453, pmiss_spoof=0.23934754703985472,
)  # fmt: skip  # the 2019 LA eval ASV operating point
COST = M.TDCFCostModel()


# ---- the official approach, re-implemented faithfully (one full re-sort per metric) ----


def _official_det(bona: np.ndarray, spoof: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = bona.size + spoof.size
    scores = np.concatenate((bona, spoof))
    labels = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    idx = np.argsort(scores, kind="mergesort")
    labels = labels[idx]
    tar = np.cumsum(labels)
    non = spoof.size - (np.arange(1, n + 1) - tar)
    frr = np.concatenate((np.atleast_1d(0), tar / bona.size))
    far = np.concatenate((np.atleast_1d(1), non / spoof.size))
    thr = np.concatenate((np.atleast_1d(scores[idx[0]] - 0.001), scores[idx]))
    return frr, far, thr


def official_suite(bona: np.ndarray, spoof: np.ndarray) -> tuple[float, float, float]:
    """compute_eer + 2021 get_mintDCF_eer + 2019 compute_tDCF, each sorting again."""
    frr, far, _ = _official_det(bona, spoof)  # compute_eer
    i = np.argmin(np.abs(frr - far))
    eer = float(np.mean((frr[i], far[i])))
    c0, c1, c2 = M.tdcf_coefficients(ASV, COST)
    frr, far, _ = _official_det(bona, spoof)  # 2021 package, with its soft-score sanity checks
    comb = np.concatenate((bona, spoof))
    assert not (np.isnan(comb).any() or np.isinf(comb).any()) and np.unique(comb).size >= 3
    revised = float(np.min((c0 + c1 * frr + c2 * far) / (c0 + min(c1, c2))))
    frr, far, _ = _official_det(bona, spoof)  # 2019 compute_tDCF, same checks
    assert not (np.isnan(comb).any() or np.isinf(comb).any()) and np.unique(comb).size >= 3
    l1 = COST.p_tar * (COST.c_miss - COST.c_miss * ASV.pmiss) - COST.p_non * COST.c_fa * ASV.pfa
    l2 = COST.c_fa_spoof * COST.p_spoof * (1 - ASV.pmiss_spoof)
    legacy = float(np.min((l1 * frr + l2 * far) / min(l1, l2)))
    return eer, revised, legacy


def ours(bona: np.ndarray, spoof: np.ndarray) -> tuple[float, float, float]:
    s = M.SortedScores.from_scores(bona, spoof)
    return s.eer(), M.min_tdcf(s, None, ASV, COST), M.min_tdcf_legacy(s, None, ASV, COST)


def synth(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """DF-like class balance, EER around 5%, scores rounded to 6 decimals (ties as in score files)."""
    n_b = max(1, round(n * N_BONA_DF / N_DF))
    bona = np.round(rng.normal(2.5, 1.5, n_b), 6)
    spoof = np.round(rng.normal(-2.5, 1.8, n - n_b), 6)
    return bona, spoof


def best_of(fn, *args, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 1e7 scaling point")
    args = ap.parse_args()
    rng = np.random.default_rng(0)

    bona, spoof = synth(N_DF, rng)
    assert ours(bona, spoof) == official_suite(bona, spoof), "results differ from the official approach"
    t_ours = best_of(ours, bona, spoof)
    t_off = best_of(official_suite, bona, spoof)
    print(f"EER + min t-DCF (revised, legacy) on {N_DF:,} trials: sdd.metrics {t_ours:.4f} s, "
          f"official approach {t_off:.4f} s, speed-up x{t_off / t_ours:.1f} (identical values)")  # fmt: skip

    print("scaling (best of 3):")
    sizes = [10**4, 10**5, 10**6] + ([] if args.quick else [10**7])
    for n in sizes:
        b, s = synth(n, rng)
        to = best_of(ours, b, s, repeat=3)
        tf = best_of(official_suite, b, s, repeat=1 if n >= 10**7 else 3)
        print(
            f"  n={n:>10,}: sdd {to:8.4f} s ({to / n * 1e9:6.1f} ns/trial)   "
            f"official {tf:8.4f} s   x{tf / to:.1f}"
        )

    n_tar = bona.size * 2 // 3
    asv_tar = np.round(rng.normal(3, 2, n_tar), 6)
    asv_non = np.round(rng.normal(-8, 2, bona.size - n_tar), 6)
    asv_spf = np.round(rng.normal(-2, 3, spoof.size), 6)
    teer_args = (bona, spoof, asv_tar, asv_non, asv_spf)

    def both_searches(*args):  # what `sdd evaluate` computes: t_eer and t_eer_exhaustive, curves once
        curves = M.TandemCurves(*args)
        return curves.t_eer("package"), curves.t_eer("exhaustive")

    t_teer = best_of(both_searches, *teer_args)
    t_package = best_of(M.t_eer, *teer_args)
    t_ours_again = best_of(ours, bona, spoof)  # beside it, so both see the same machine load
    package, exhaustive = both_searches(*teer_args)
    t_metrics = min(t_ours, t_ours_again)  # the faster of the two runs: the stricter target
    print(
        f"t-EER on {N_DF:,} CM + {N_DF:,} ASV scores: t_eer (the package's search, the default) "
        f"{t_package:.4f} s, x{t_package / t_metrics:.2f} the EER + min t-DCFs (best of their runs "
        f"before and beside it, {t_ours:.4f} / {t_ours_again:.4f} s); with t_eer_exhaustive too, as "
        f"sdd evaluate computes them, {t_teer:.4f} s, x{t_teer / t_metrics:.2f} "
        f"(t-EER {package:.5f} / {exhaustive:.5f})"
    )

    s = M.SortedScores.from_scores(bona, spoof)
    t = time.perf_counter()
    lo, hi = M.eer_confidence_interval(s, n_resamples=1000, seed=0)
    t_boot = time.perf_counter() - t
    runs = _runs(s.is_bona)[1].size
    print(
        f"bootstrap 1000 resamples on {N_DF:,} trials ({runs:,} class runs in the sorted order): "
        f"{t_boot:.2f} s, EER {s.eer():.5f} CI95 [{lo:.5f}, {hi:.5f}]"
    )

    with tempfile.TemporaryDirectory(prefix="sdd-metrics-bench-") as tmp:
        d = Path(tmp)
        n_b = bona.size
        ids = [f"DF_E_{i:07d}" for i in range(N_DF)]
        attacks = ["-"] * n_b + [f"A{7 + i % 13:02d}" for i in range(N_DF - n_b)]
        labels = ["bonafide"] * n_b + ["spoof"] * (N_DF - n_b)
        perm = rng.permutation(N_DF)  # score file in a different order than the protocol
        scores = np.concatenate([bona, spoof])
        rows = enumerate(zip(ids, attacks, labels, strict=True))
        (d / "protocol.txt").write_text("".join(f"LA_{i % 67:04d} {u} - {a} {k}\n" for i, (u, a, k) in rows))
        (d / "scores.txt").write_text("".join(f"{ids[i]} {scores[i]:.6f}\n" for i in perm))
        asv = [f"bonafide target {x:.6f}\n" for x in rng.normal(3, 2, 5370)]
        asv += [f"bonafide nontarget {x:.6f}\n" for x in rng.normal(-8, 2, 33327)]
        asv += [f"A{7 + i % 13:02d} spoof {x:.6f}\n" for i, x in enumerate(rng.normal(-2, 3, 63882))]
        (d / "asv.txt").write_text("".join(asv))
        sdd = Path(sys.executable).parent / "sdd"
        cmd = [
            str(sdd), "evaluate", "--scores", str(d / "scores.txt"), "--protocol", str(d / "protocol.txt"),
            "--asv-scores", str(d / "asv.txt"), "--format", "asvspoof2019", "--out", str(d / "m.json"),
        ]  # fmt: skip
        t_cli = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            t_cli.append(time.perf_counter() - t)
        print(f"sdd evaluate end to end on {N_DF:,} lines (shuffled order) + protocol + ASV scores: "
              f"{min(t_cli):.2f} s (best of 3; runs {', '.join(f'{x:.2f}' for x in t_cli)})")  # fmt: skip

    print(f"RESULT metrics_611k_seconds={t_ours:.4f} s target=<=0.1")
    print(f"RESULT teer_seconds={t_package:.4f} s target=<={2 * t_metrics:.4f} (2x metrics_611k)")
    print(f"RESULT bootstrap_611k_seconds={t_boot:.2f} s target=<=10")
    print(f"RESULT evaluate_cli_611k_seconds={min(t_cli):.2f} s target=<=5")
    return 0


if __name__ == "__main__":
    sys.exit(main())
