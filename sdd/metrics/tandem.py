"""The tandem equal error rate (t-EER) of a countermeasure (CM) and a speaker verifier (ASV), pure numpy.

Kinnunen et al., "t-EER: parameter-free tandem evaluation of countermeasures and biometric
comparators", IEEE Transactions on Pattern Analysis and Machine Intelligence (2023). A trial is
accepted by the tandem when the CM passes it (CM score above its threshold) AND the ASV accepts it.
With the CM and ASV errors assumed independent, the tandem miss rate and the spoof-prevalence-weighted
false-alarm rate are::

    Pmiss_tdm = Pmiss_cm + (1 - Pmiss_cm) Pmiss_asv
    Pfa_tdm   = (1 - rho) (1 - Pmiss_cm) Pfa_non_asv + rho Pfa_cm Pfa_spoof_asv

The *concurrent* t-EER is the error rate at the pair of thresholds where the tandem miss rate, the
non-target false-alarm rate and the spoof false-alarm rate are all equal, the one point on which
every spoof prior ``rho`` agrees; its value is ``Pfa_spoof_asv * Pfa_cm`` there.

The reference is the ASVspoof 5 evaluation package (``calculate_modules.compute_teer`` and its
``compute_teer_accelerated``, which the package's Track 2 scoring calls), whose search this module
reproduces exactly, on the same grid of thresholds:

- the CM curve is the package's ``compute_det_curve`` of the CM scores (bona fide vs spoof), the ASV
  curves its ``compute_Pmiss_Pfa_Pspoof_curves`` of the ASV scores (target, non-target, spoof pooled
  and stably sorted in that order, so ties are broken as the package breaks them);
- for every ASV threshold in the allowed region ``Pmiss_asv < (Pfa_non_asv + Pfa_spoof_asv) / 2`` the
  CM threshold is the first one minimising ``|Pmiss_tdm - Pfa_tdm|`` at ``rho = 0.5``;
- among those pairs, the first (lowest ASV threshold) one minimising
  ``|Pfa_non_asv / Pfa_spoof_asv - Pfa_cm / (1 - Pmiss_cm)|`` (the two sides of the concurrency
  condition) is the t-EER point.

Deliberate differences, none of which changes the number (tested against both package functions on
the organisers' sample scores, on crafted cases and on large synthetic ones, to 1e-6 after the unit
change):

- the result is a FRACTION; the package returns percent;
- the package loops over the ASV thresholds in Python; here the CM threshold of every ASV threshold
  is found at once, by a vectorised bisection on the tandem difference (increasing in the CM
  threshold), each ASV threshold's bracket narrowed by its neighbours' answers (the answer only
  falls as the ASV threshold rises): about one evaluation per ASV threshold;
- where the package's search finds no point (it fails with an unbound variable), a
  :class:`~sdd.metrics.detection.MetricsError` says why.

Two searches (:func:`t_eer`'s ``search``): ``"package"``, the default, is ``compute_teer_accelerated``,
what the package's Track 2 scoring reports: on curves of 3,000 points or more it searches every
``len // 3000``-th threshold of both curves, then the full curves within 1,600 thresholds of the
point found there. It can land away from the concurrent point of the full curves (a synthetic
system of 14,324 CM and 15,788 ASV trials in the tests: 0.107 against 0.026). ``"exhaustive"`` is the
package's ``compute_teer`` on the full curves, the definition.
"""

from __future__ import annotations

import numpy as np

from sdd.metrics.detection import MetricsError, SortedScores, as_scores

__all__ = ["SEARCHES", "TandemCurves", "asv_tandem_curves", "t_eer"]

#: The spoof prevalence the concurrent t-EER search uses (any value gives the same point; the
#: package's choice, so the arithmetic and the tie-breaking are the package's too).
RHO = 0.5


def asv_tandem_curves(
    target_scores: np.ndarray, nontarget_scores: np.ndarray, spoof_scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ASV miss, non-target and spoof false-alarm rates at every pooled threshold, each (M + 1,).

    Bit-identical to the ASVspoof 5 package's ``compute_Pmiss_Pfa_Pspoof_curves``: scores pooled in
    the order target, non-target, spoof and stably sorted; entry ``k`` rejects the first ``k``.

    Args:
        target_scores: (N_tar,) ASV scores of bona fide target trials, higher = more target.
        nontarget_scores: (N_non,) ASV scores of bona fide non-target trials.
        spoof_scores: (N_spf,) ASV scores of spoofed trials.
    """
    tar = np.sort(as_scores(target_scores, "ASV target scores"))
    non = np.sort(as_scores(nontarget_scores, "ASV nontarget scores"))
    spf = np.sort(as_scores(spoof_scores, "ASV spoof scores"))
    # merged position of each score in the stable pooled order (ties: target, then non-target, spoof)
    pos_t = np.arange(tar.size) + np.searchsorted(non, tar, "left") + np.searchsorted(spf, tar, "left")
    pos_n = np.arange(non.size) + np.searchsorted(tar, non, "right") + np.searchsorted(spf, non, "left")
    total = tar.size + non.size + spf.size
    is_tar = np.zeros(total + 1, dtype=bool)  # entry k + 1: the class of the k-th pooled score
    is_non = np.zeros(total + 1, dtype=bool)
    is_tar[pos_t + 1] = True
    is_non[pos_n + 1] = True
    n_tar = np.cumsum(is_tar, dtype=np.int64)  # (M + 1,) counts among the first k, from k = 0
    n_non = np.cumsum(is_non, dtype=np.int64)
    n_spf = np.arange(total + 1) - n_tar - n_non
    # the package's expressions: counts / size, and 1 - (counts / size) for the false alarms
    return n_tar / tar.size, 1 - (n_non / non.size), 1 - (n_spf / spf.size)


def _tandem_difference(
    pmiss_cm: np.ndarray, pfa_cm: np.ndarray, p: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """``Pmiss_tdm - Pfa_tdm`` at rho = 0.5, with the package's operation order (same rounding)."""
    pmiss_tdm = pmiss_cm + (1 - pmiss_cm) * p
    pfa_tdm = (1 - RHO) * (1 - pmiss_cm) * a + RHO * pfa_cm * b
    return pmiss_tdm - pfa_tdm


def _first_nonnegative(
    pmiss_cm: np.ndarray, pfa_cm: np.ndarray, p: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """For each ASV operating point ``(p, a, b)`` (J,), the first CM index with a tandem difference
    >= 0 (``N + 1`` when there is none), as an int64 array (J,).

    The difference increases with the CM index and, the ASV points being in increasing threshold
    order, with the ASV point too (a higher ASV threshold raises ``p`` and lowers ``a`` and ``b``), so
    the answer is non-increasing along the ASV points. Searching the middle point first and each half
    within the bracket its neighbours give (level by level, vectorised within a level) costs a few
    evaluations per point instead of a bisection over all N + 1 CM indices. Every comparison is made on
    the difference computed with the package's arithmetic; its exact value moves by at least
    ``1 / (N_cm N_asv)`` per index step (or not at all), far above the rounding error, so the computed
    difference is monotone too.
    """
    n, size = pmiss_cm.size, p.size
    k = np.empty(size, dtype=np.int64)
    stride = 1 << max(size - 1, 0).bit_length()
    while stride >= 1:
        level = slice(stride - 1, size, 2 * stride)  # the points between two already solved ones
        pq, aq, bq = p[level], a[level], b[level]
        m = pq.size
        if m == 0:
            stride //= 2
            continue
        solved = k[2 * stride - 1 :: 2 * stride]  # point i of the level lies between these i-1 and i
        hi = np.concatenate([[n], solved[: m - 1]])  # the answer is non-increasing along the points
        lo = np.zeros(m, dtype=np.int64)
        lo[: min(m, solved.size)] = solved[:m]
        # bisect the open brackets, on compacted copies of their bounds and ASV rates
        idx = np.flatnonzero(lo < hi)
        la, ha, pa, aa, ba = lo[idx], hi[idx], pq[idx], aq[idx], bq[idx]
        while idx.size:
            mid = (la + ha) >> 1
            nonneg = _tandem_difference(pmiss_cm[mid], pfa_cm[mid], pa, aa, ba) >= 0
            ha = np.where(nonneg, mid, ha)
            la = np.where(nonneg, la, mid + 1)
            done = la >= ha
            if done.any():
                lo[idx[done]] = la[done]
                keep = ~done
                idx, la, ha, pa, aa, ba = idx[keep], la[keep], ha[keep], pa[keep], aa[keep], ba[keep]
        k[level] = lo
        stride //= 2
    return k


def _concurrent_point(
    pmiss_cm: np.ndarray, pfa_cm: np.ndarray, pmiss_asv: np.ndarray, pfa_non: np.ndarray, pfa_spf: np.ndarray
) -> tuple[float, int, int] | None:
    """The package's ``compute_teer`` on these curves (the full ones, or a decimated or windowed part of
    them): ``(t-EER, ASV index, CM index)`` of the concurrent point, or None where it finds none."""
    # ASV thresholds the package may pick: the allowed region, and a spoof false-alarm rate > 0 (at
    # 0 its concurrency criterion is inf or NaN, which never beats its running best). Both hold on a
    # prefix of the thresholds (p only rises, a and b only fall, and rounding keeps that order).
    allowed = (pmiss_asv < (1 - RHO) * pfa_non + RHO * pfa_spf) & (pfa_spf > 0)
    size = int(np.argmin(allowed)) if not allowed.all() else allowed.size
    p, a, b = pmiss_asv[:size], pfa_non[:size], pfa_spf[:size]
    k = _first_nonnegative(pmiss_cm, pfa_cm, p, a, b)
    n = pmiss_cm.size
    before = np.maximum(k - 1, 0)
    after = np.minimum(k, n - 1)
    d_before = np.abs(_tandem_difference(pmiss_cm[before], pfa_cm[before], p, a, b))
    d_after = np.abs(_tandem_difference(pmiss_cm[after], pfa_cm[after], p, a, b))
    cm_idx = np.where((k > 0) & ((k == n) | (d_before <= d_after)), before, after)
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = np.abs(a / b - pfa_cm[cm_idx] / (1 - pmiss_cm[cm_idx]))
    finite = np.isfinite(crit)
    if not finite.any():
        return None
    best = int(np.argmin(np.where(finite, crit, np.inf)))
    return float(b[best] * pfa_cm[cm_idx[best]]), best, int(cm_idx[best])


#: ``compute_teer_accelerated``'s defaults: the decimated grid's size and the fine window's half-width.
DECIMATED_SIZE = 3000
WINDOW = 1600

SEARCHES = ("package", "exhaustive")


class TandemCurves:
    """The CM and ASV error-rate curves of a tandem system, computed once for any t-EER search.

    Attributes:
        pmiss_cm, pfa_cm: (N + 1,) the package's ``compute_det_curve`` of the CM scores.
        pmiss_asv, pfa_non, pfa_spf: (M + 1,) its ``compute_Pmiss_Pfa_Pspoof_curves`` of the ASV scores.
    """

    def __init__(
        self,
        cm_bonafide: np.ndarray | SortedScores,
        cm_spoof: np.ndarray | None,
        asv_target: np.ndarray,
        asv_nontarget: np.ndarray,
        asv_spoof: np.ndarray,
    ) -> None:
        """Arguments as :func:`t_eer`."""
        if isinstance(cm_bonafide, SortedScores):
            cm = cm_bonafide
        elif cm_spoof is None:
            raise MetricsError("cm_spoof is required unless a SortedScores is given")
        else:  # sorted values are all the rates need (no argsort: the caller's order is not kept)
            bona = np.sort(as_scores(cm_bonafide, "CM bona fide scores"))
            cm = SortedScores(bona, np.sort(as_scores(cm_spoof, "CM spoof scores")))
        self.pmiss_cm, self.pfa_cm = cm.rates()
        self.pmiss_asv, self.pfa_non, self.pfa_spf = asv_tandem_curves(asv_target, asv_nontarget, asv_spoof)

    def t_eer(self, search: str = "package") -> float:
        """The t-EER of :func:`t_eer` with that ``search``; a :class:`MetricsError` where undefined."""
        if search not in SEARCHES:
            raise MetricsError(f"t-EER search={search!r}; expected one of {list(SEARCHES)}")
        cm = (self.pmiss_cm, self.pfa_cm)
        asv = (self.pmiss_asv, self.pfa_non, self.pfa_spf)
        ds_asv, ds_cm = asv[0].size // DECIMATED_SIZE, cm[0].size // DECIMATED_SIZE
        if search == "exhaustive" or ds_asv == 0 or ds_cm == 0:
            point = _concurrent_point(*cm, *asv)
        else:  # compute_teer_accelerated: a decimated grid, then a window around its point
            coarse = _concurrent_point(*(c[::ds_cm] for c in cm), *(c[::ds_asv] for c in asv))
            if coarse is None:
                raise MetricsError(UNDEFINED)
            cen_asv, cen_cm = coarse[1] * ds_asv, coarse[2] * ds_cm
            w_asv = slice(max(cen_asv - WINDOW, 0), min(cen_asv + WINDOW, asv[0].size))
            w_cm = slice(max(cen_cm - WINDOW, 0), min(cen_cm + WINDOW, cm[0].size))
            point = _concurrent_point(*(c[w_cm] for c in cm), *(c[w_asv] for c in asv))
        if point is None:
            raise MetricsError(UNDEFINED)
        return point[0]


UNDEFINED = (
    "t-EER undefined: at every ASV threshold the search may pick, the CM threshold balancing the "
    "tandem errors rejects every bona fide trial (degenerate scores, e.g. a CM that ranks spoofs above "
    "all bona fide trials)"
)


def t_eer(
    cm_bonafide: np.ndarray | SortedScores,
    cm_spoof: np.ndarray | None,
    asv_target: np.ndarray,
    asv_nontarget: np.ndarray,
    asv_spoof: np.ndarray,
    *,
    search: str = "package",
) -> float:
    """Concurrent tandem EER (a fraction) of CM scores in tandem with ASV scores.

    ``search="package"`` (the default) is the ASVspoof 5 package's ``compute_teer_accelerated`` / 100,
    the number its Track 2 scoring reports: when both curves have at least 3,000 points, the search
    runs on every ``len // 3000``-th threshold of each, then again on the full curves within 1,600
    thresholds of the point found. ``search="exhaustive"`` is its ``compute_teer`` on the full curves
    (every ASV threshold), the definition; the two agree unless the decimated grid leads the window
    away from the concurrent point (module docstring).

    Args:
        cm_bonafide: (N_b,) CM scores of bona fide trials (target and non-target), higher = more bona
            fide; or the CM scores already sorted (:class:`SortedScores`, then ``cm_spoof`` is None).
        cm_spoof: (N_s,) CM scores of spoofed trials.
        asv_target: (N_tar,) ASV scores of bona fide target trials, higher = more target.
        asv_nontarget: (N_non,) ASV scores of bona fide non-target trials.
        asv_spoof: (N_spf,) ASV scores of spoofed trials.
        search: ``"package"`` or ``"exhaustive"``.

    Returns:
        The t-EER in [0, 1].
    """
    return TandemCurves(cm_bonafide, cm_spoof, asv_target, asv_nontarget, asv_spoof).t_eer(search)
