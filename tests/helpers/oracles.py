"""Oracles shared by several test modules: official procedures written out independently of ``sdd``."""

from __future__ import annotations

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
