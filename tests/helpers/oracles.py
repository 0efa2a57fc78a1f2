"""Oracles shared by several test modules: official procedures written out independently of ``sdd``,
and the loader of the organisers' own ASVspoof 5 package from ``../shared``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np


def a_dcf_package(trg, non, spf, p_spf=0.05, p_non=0.05, p_tar=0.9, c_miss=1.0, c_fa_asv=10.0, c_fa_cm=20.0):
    """Oracle: the ASVspoof 5 evaluation package's a_dcf.py algorithm (Shim et al., Odyssey 2024),
    written out from its code: labels target 1 / nontarget 0 / spoof 2 concatenated in that order,
    a stable mergesort, one DET point per trial starting from accept-all, normalised by
    min(all-accept, all-reject) cost, minimum over the points."""
    scores = np.concatenate([trg, non, spf])
    labels = np.concatenate([np.ones(len(trg)), np.zeros(len(non)), np.full(len(spf), 2.0)])
    labels = labels[np.argsort(scores, kind="mergesort")]
    fp_non, fp_spf, fn = len(non), len(spf), 0
    far_asv, far_cm, frr = [1.0], [1.0], [0.0]
    for lab in labels:
        if lab == 0:
            fp_non -= 1
        elif lab == 1:
            fn += 1
        else:
            fp_spf -= 1
        far_asv.append(fp_non / len(non))
        far_cm.append(fp_spf / len(spf))
        frr.append(fn / len(trg))
    dcf = (
        c_miss * p_tar * np.array(frr)
        + c_fa_asv * p_non * np.array(far_asv)
        + c_fa_cm * p_spf * np.array(far_cm)
    )
    return float(np.min(dcf / min(c_fa_asv * p_non + c_fa_cm * p_spf, c_miss * p_tar)))


def load_asvspoof5_package(package_dir: Path) -> SimpleNamespace:
    """The ASVspoof 5 evaluation package's ``calculate_modules`` and ``calculate_metrics``, imported
    unmodified from ``package_dir`` (``../shared/data/official/asvspoof5/evaluation-package``).

    Its modules import each other by bare names (``util``, ``a_dcf``, ...): the folder is on
    ``sys.path`` only while they load, and those names leave ``sys.modules`` afterwards, so nothing
    else can pick them up by accident.
    """
    names = ("calculate_modules", "a_dcf", "util", "calculate_metrics")
    saved = {n: sys.modules.pop(n) for n in names if n in sys.modules}
    sys.path.insert(0, str(package_dir))
    try:
        modules = importlib.import_module("calculate_modules")
        metrics = importlib.import_module("calculate_metrics")
    finally:
        sys.path.remove(str(package_dir))
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)
    return SimpleNamespace(modules=modules, metrics=metrics)


def decimation_trap(seed: int = 191) -> tuple[np.ndarray, ...]:
    """CM bona fide, CM spoof, ASV target, non-target and spoof scores of a synthetic tandem system
    (14,324 CM and 15,788 ASV trials) where the ASVspoof 5 package's ``compute_teer_accelerated``
    (decimated grid, then a window) lands away from the concurrent point its full ``compute_teer``
    finds: t-EER 0.107 against 0.026."""
    rng = np.random.default_rng(seed)
    n = rng.integers(1500, 12000, 5)
    dec = int(rng.integers(1, 4))
    draw = lambda size, mu, sd: np.round(rng.normal(mu, sd, size), dec)  # noqa: E731
    cm_b, cm_s = draw(n[0], 1, 1), draw(n[1], -1, rng.uniform(0.5, 2))
    tar, non = draw(n[2], 2, 1), draw(n[3], -2, 1)
    spf = draw(n[4], rng.normal(0, 1.5), rng.uniform(0.5, 3))
    return cm_b, cm_s, tar, non, spf
