"""Detection metrics from bona fide and spoof scores, pure numpy, no I/O.

Scores are log-odds of bona fide: HIGHER = MORE BONA FIDE. Every function takes the bona fide and
spoof scores as separate arrays, so the direction is in the signature.

Definitions follow the official scoring code and papers:

- EER and DET points: ASVspoof 2019/2021 ``compute_det_curve`` / ``compute_eer`` (Todisco et al.,
  "ASVspoof 2019: future horizons in spoofed and fake audio detection", Interspeech 2019), including
  its tie handling: the scores of both classes are pooled and stably sorted with the bona fide
  scores first, and the EER is the mean of the miss and false-alarm rates at the first sorted
  position where their absolute difference is smallest.
- t-DCF: Kinnunen et al., "Tandem assessment of spoofing countermeasures and automatic speaker
  verification: fundamentals", IEEE/ACM TASLP 28 (2020). The *revised* form (ASVspoof 2021 eval
  package) is ``(C0 + C1 Pmiss_cm + C2 Pfa_cm) / (C0 + min(C1, C2))``; the *legacy* form (ASVspoof 2019
  ``tDCF_python_v1``, reported by AASIST-era papers) is ``(C1 Pmiss_cm + C2 Pfa_cm) / min(C1, C2)``
  with ``C2 = Cfa_cm Pspoof (1 - Pmiss_spoof_asv)``. The ASV operating point is the ASV EER
  threshold.
- minDCF, actDCF, Cllr: ASVspoof 5 evaluation plan (Wang et al., "ASVspoof 5: crowdsourced speech
  data, deepfakes, and adversarial attacks at scale", ASVspoof workshop 2024) and its package
  (``calculate_modules.compute_mindcf``, ``compute_actDCF``, ``calculate_CLLR``), which the tests
  import from ../shared and match to 1e-6 (bit for bit on the organisers' sample scores).
- a-DCF: Shim et al., "a-DCF: an architecture agnostic metric with application to spoofing-robust
  speaker verification", Odyssey 2024.

Deliberate differences from the official code, none of which changes a reported number:

- The official code re-sorts all scores for every metric (``np.argsort(kind="mergesort")`` on the
  concatenation). :class:`SortedScores` sorts each class once and merges them with
  ``np.searchsorted``, which yields exactly the same pooled order (bona fide first among ties) and
  therefore bit-identical rates; every threshold-sweep metric reads that one order (and so does the
  bootstrap of :mod:`sdd.metrics.bootstrap`).
- Cllr uses ``np.logaddexp(0, -x)`` instead of ``np.log1p(np.exp(-x))``: equal to double precision
  where the latter is finite, and finite (instead of ``inf``) for scores below about -709.
- The official t-DCF functions exit when fewer than 3 distinct scores are given; here the metrics are
  computed from their definitions and the caller (``sdd.evaluation``) logs a loud warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ADCFCostModel",
    "AsvOperatingPoint",
    "DCFCostModel",
    "MetricsError",
    "SortedScores",
    "TDCFCostModel",
    "a_dcf",
    "act_dcf",
    "as_scores",
    "as_sorted",
    "asv_operating_point",
    "cllr",
    "det_curve",
    "eer",
    "eer_threshold",
    "min_dcf",
    "min_tdcf",
    "min_tdcf_legacy",
    "tdcf_coefficients",
]


class MetricsError(ValueError):
    """Scores or cost parameters a metric cannot be computed from (empty class, NaN, bad priors)."""


# --------------------------------------------------------------------------------------------------
# Cost models (constants from ../shared/docs/data.md "Metrics")
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TDCFCostModel:
    """t-DCF cost model of ASVspoof 2019 and 2021 LA (``cost_model`` in the official packages).

    ``c_miss`` and ``c_fa`` are the tandem costs of rejecting a target / accepting a non-target
    (``Cmiss``/``Cmiss_asv``/``Cmiss_cm`` and ``Cfa``/``Cfa_asv`` in the code); ``c_fa_spoof`` is the
    cost of accepting a spoof (``Cfa_spoof``/``Cfa_cm``).
    """

    p_spoof: float = 0.05
    p_tar: float = 0.95 * 0.99
    p_non: float = 0.95 * 0.01
    c_miss: float = 1.0
    c_fa: float = 10.0
    c_fa_spoof: float = 10.0

    def __post_init__(self) -> None:
        priors = (self.p_spoof, self.p_tar, self.p_non)
        if min(priors) < 0 or abs(sum(priors) - 1.0) > 1e-10:
            raise MetricsError(f"t-DCF priors (p_spoof, p_tar, p_non)={priors} must be >= 0 and sum to 1")
        if min(self.c_miss, self.c_fa, self.c_fa_spoof) < 0:
            raise MetricsError(f"t-DCF costs must be >= 0, got {self}")


@dataclass(frozen=True)
class DCFCostModel:
    """ASVspoof 5 track 1 (CM only) cost model: minDCF/actDCF with bona fide as the target class."""

    p_spoof: float = 0.05
    c_miss: float = 1.0
    c_fa: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 < self.p_spoof < 1.0 or self.c_miss <= 0 or self.c_fa <= 0:
            raise MetricsError(f"DCF cost model needs 0 < p_spoof < 1 and positive costs, got {self}")

    @property
    def beta(self) -> float:
        """``C_miss (1 - P_spoof) / (C_fa P_spoof)``; the Bayes threshold on LLRs is ``-ln(beta)``."""
        return self.c_miss * (1 - self.p_spoof) / (self.c_fa * self.p_spoof)

    @property
    def normaliser(self) -> float:
        """Cost of the best default decision: ``min(C_miss (1 - P_spoof), C_fa P_spoof)``."""
        return min(self.c_miss * (1 - self.p_spoof), self.c_fa * self.p_spoof)


@dataclass(frozen=True)
class ADCFCostModel:
    """a-DCF cost model (spoofing-aware speaker verification, Shim et al., "a-DCF: an architecture
    agnostic metric with application to spoofing-robust speaker verification", Odyssey 2024).

    Defaults are the ASVspoof 5 evaluation package's ``a_dcf.CostModel``: P_tar 0.9, P_non 0.05,
    P_spf 0.05, C_miss 1, C_fa_asv 10, C_fa_cm 20. (0.9405 / 0.0095 are the t-DCF's ASV priors, not
    a-DCF's.)
    """

    p_tar: float = 0.9
    p_non: float = 0.05
    p_spoof: float = 0.05
    c_miss: float = 1.0
    c_fa_asv: float = 10.0
    c_fa_cm: float = 20.0

    def __post_init__(self) -> None:
        priors = (self.p_tar, self.p_non, self.p_spoof)
        if min(priors) < 0 or abs(sum(priors) - 1.0) > 1e-10:
            raise MetricsError(f"a-DCF priors (p_tar, p_non, p_spoof)={priors} must be >= 0 and sum to 1")


# --------------------------------------------------------------------------------------------------
# The sorted order every threshold-sweep metric reads
# --------------------------------------------------------------------------------------------------


def as_scores(x: np.ndarray | Sequence[float], name: str) -> np.ndarray:
    """``x`` as a flat float64 array; a :class:`MetricsError` when it is empty or not finite."""
    arr = np.asarray(x, dtype=np.float64).ravel()
    if arr.size == 0:
        raise MetricsError(f"{name}: no scores given; both classes need at least one trial")
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr))
        raise MetricsError(
            f"{name}: {bad.size} non-finite scores (NaN/inf), first at positions {bad[:5].tolist()}"
        )
    return arr


class SortedScores:
    """Bona fide and spoof scores sorted ONCE, merged in the official pooled order.

    The official code sorts ``concat(bonafide, spoof)`` with a stable sort, so tied scores keep bona
    fide before spoof. Sorting each class separately and placing bona fide score ``i`` at merged
    position ``i + #(spoof < score)`` reproduces that order exactly.

    Attributes:
        bona: (N_b,) sorted bona fide scores.
        spoof: (N_s,) sorted spoof scores.
        bona_order: (N_b,) indices into the caller's bona fide array giving ``bona`` (or None when
            built from presorted scores).
        spoof_order: (N_s,) same for spoof.
        is_bona: (N_b + N_s,) bool, class of each merged position.
    """

    def __init__(
        self,
        bona_sorted: np.ndarray,
        spoof_sorted: np.ndarray,
        bona_order: np.ndarray | None = None,
        spoof_order: np.ndarray | None = None,
    ) -> None:
        self.bona = bona_sorted
        self.spoof = spoof_sorted
        self.bona_order = bona_order
        self.spoof_order = spoof_order
        if self.bona.size == 0 or self.spoof.size == 0:
            raise MetricsError(
                f"need both classes, got {self.bona.size} bona fide and {self.spoof.size} spoof scores"
            )
        n = self.bona.size + self.spoof.size
        # position of every bona fide score in the pooled order (ties: bona fide first)
        self._bona_pos = np.arange(self.bona.size) + np.searchsorted(self.spoof, self.bona, side="left")
        is_bona = np.zeros(n, dtype=bool)
        is_bona[self._bona_pos] = True
        self.is_bona = is_bona
        self._rates: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_scores(cls, bonafide_scores: np.ndarray, spoof_scores: np.ndarray) -> SortedScores:
        """Validate (finite, non-empty) and sort both classes once."""
        bona = as_scores(bonafide_scores, "bona fide scores")
        spoof = as_scores(spoof_scores, "spoof scores")
        bo = np.argsort(bona)
        so = np.argsort(spoof)
        return cls(bona[bo], spoof[so], bo, so)

    @property
    def n_bona(self) -> int:
        return int(self.bona.size)

    @property
    def n_spoof(self) -> int:
        return int(self.spoof.size)

    def subset(self, bona_mask: np.ndarray, spoof_mask: np.ndarray) -> SortedScores:
        """The trials selected by masks given in SORTED coordinates; no re-sort (order is kept)."""
        return SortedScores(self.bona[bona_mask], self.spoof[spoof_mask])

    def rates(self) -> tuple[np.ndarray, np.ndarray]:
        """``(frr, far)``, each (N + 1,): miss and false-alarm rates after rejecting the first k
        pooled scores, k = 0..N; bit-identical to the official ``compute_det_curve``."""
        if self._rates is None:
            n = self.is_bona.size
            bona_below = np.cumsum(self.is_bona)
            spoof_above = self.n_spoof - (np.arange(1, n + 1) - bona_below)
            frr = np.concatenate([[0.0], bona_below / self.n_bona])
            far = np.concatenate([[1.0], spoof_above / self.n_spoof])
            self._rates = (frr, far)
        return self._rates

    def thresholds(self) -> np.ndarray:
        """(N + 1,) thresholds of :meth:`rates`: the pooled sorted scores after ``min - 0.001``."""
        merged = np.empty(self.is_bona.size)
        merged[self.is_bona] = self.bona
        merged[~self.is_bona] = self.spoof
        return np.concatenate([[merged[0] - 0.001], merged])

    def eer_index(self) -> int:
        frr, far = self.rates()
        return int(np.argmin(np.abs(frr - far)))

    def eer(self) -> float:
        """Official EER: mean of frr and far at the first argmin of ``|frr - far|``."""
        frr, far = self.rates()
        i = self.eer_index()
        return float((frr[i] + far[i]) / 2)

    def eer_threshold(self) -> float:
        """The threshold the official ``compute_eer`` returns with the EER (rates at it: scores <= it
        rejected, up to ties across classes)."""
        return float(self.thresholds()[self.eer_index()])

    def min_tdcf(self, c0: float, c1: float, c2: float) -> float:
        """Revised (2021) normalised min t-DCF: ``min (C0 + C1 Pmiss + C2 Pfa) / (C0 + min(C1, C2))``."""
        frr, far = self.rates()
        curve = (c0 + c1 * frr + c2 * far) / (c0 + min(c1, c2))
        return float(curve.min())

    def min_tdcf_legacy(self, c1: float, c2: float) -> float:
        """Legacy (2019) normalised min t-DCF: ``min (C1 Pmiss + C2 Pfa) / min(C1, C2)``."""
        frr, far = self.rates()
        curve = (c1 * frr + c2 * far) / min(c1, c2)
        return float(curve.min())

    def min_dcf(self, cost: DCFCostModel = DCFCostModel()) -> float:
        """ASVspoof 5 normalised minDCF over the same threshold sweep as the EER."""
        frr, far = self.rates()
        p_target = 1 - cost.p_spoof
        c_det = cost.c_miss * frr * p_target + cost.c_fa * far * (1 - p_target)
        return float(c_det.min() / min(cost.c_miss * p_target, cost.c_fa * (1 - p_target)))


# --------------------------------------------------------------------------------------------------
# Array-level metric functions
# --------------------------------------------------------------------------------------------------


def det_curve(
    bonafide_scores: np.ndarray, spoof_scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every threshold, as the official ASVspoof ``compute_det_curve``.

    Args:
        bonafide_scores: (N_bonafide,) scores of bona fide (target) trials.
        spoof_scores: (N_spoof,) scores of spoofed (non-target) trials.

    Returns:
        ``(frr, far, thresholds)``, each of shape (N + 1,): the bona fide rejection rate and spoof
        acceptance rate when rejecting every score <= threshold; ties keep the official order
        (bona fide before spoof).
    """
    s = SortedScores.from_scores(bonafide_scores, spoof_scores)
    frr, far = s.rates()
    return frr, far, s.thresholds()


def eer(bonafide_scores: np.ndarray, spoof_scores: np.ndarray) -> float:
    """Equal error rate (a fraction), exactly as the official ASVspoof ``compute_eer``.

    Args:
        bonafide_scores: (N_bonafide,) scores of bona fide trials, higher = more bona fide.
        spoof_scores: (N_spoof,) scores of spoof trials.
    """
    return SortedScores.from_scores(bonafide_scores, spoof_scores).eer()


def eer_threshold(bonafide_scores: np.ndarray, spoof_scores: np.ndarray) -> float:
    """The EER threshold of the official ``compute_eer`` (its second return value).

    Deciding "spoof" for scores ``<= threshold`` and "bona fide" above it gives the miss and
    false-alarm rates of the EER point (exactly, unless scores of both classes tie at the threshold).

    Args:
        bonafide_scores: (N_bonafide,) scores of bona fide trials, higher = more bona fide.
        spoof_scores: (N_spoof,) scores of spoof trials.
    """
    return SortedScores.from_scores(bonafide_scores, spoof_scores).eer_threshold()


@dataclass(frozen=True)
class AsvOperatingPoint:
    """ASV error rates at the ASV EER threshold (official ``obtain_asv_error_rates``).

    Rates are fractions: ``pfa`` = non-targets accepted (score >= threshold), ``pmiss`` = targets
    rejected (score < threshold), ``pfa_spoof`` / ``pmiss_spoof`` = spoofs accepted / rejected.
    """

    eer: float
    threshold: float
    pfa: float
    pmiss: float
    pfa_spoof: float
    pmiss_spoof: float

    def to_dict(self) -> dict[str, float]:
        """The names of the reference JSON's ``_asv`` block."""
        return {
            "eer": self.eer,
            "threshold": self.threshold,
            "Pfa_asv": self.pfa,
            "Pmiss_asv": self.pmiss,
            "Pfa_spoof_asv": self.pfa_spoof,
            "Pmiss_spoof_asv": self.pmiss_spoof,
        }


def asv_operating_point(
    target_scores: np.ndarray, nontarget_scores: np.ndarray, spoof_scores: np.ndarray
) -> AsvOperatingPoint:
    """ASV operating point at the ASV EER threshold (the official ``compute_eer`` threshold).

    Args:
        target_scores: (N_tar,) ASV scores of bona fide target trials.
        nontarget_scores: (N_non,) ASV scores of bona fide non-target trials.
        spoof_scores: (N_spf,) ASV scores of spoofed target trials.
    """
    tar = as_scores(target_scores, "ASV target scores")
    non = as_scores(nontarget_scores, "ASV nontarget scores")
    spf = as_scores(spoof_scores, "ASV spoof scores")
    s = SortedScores.from_scores(tar, non)
    i = s.eer_index()
    frr, far = s.rates()
    thr = float(s.thresholds()[i])
    return AsvOperatingPoint(
        eer=float((frr[i] + far[i]) / 2),
        threshold=thr,
        pfa=float(np.count_nonzero(non >= thr) / non.size),
        pmiss=float(np.count_nonzero(tar < thr) / tar.size),
        pfa_spoof=float(np.count_nonzero(spf >= thr) / spf.size),
        pmiss_spoof=float(np.count_nonzero(spf < thr) / spf.size),
    )


def tdcf_coefficients(
    asv: AsvOperatingPoint, cost: TDCFCostModel = TDCFCostModel()
) -> tuple[float, float, float]:
    """Revised t-DCF coefficients ``(C0, C1, C2)`` (2021 eval package ``get_tDCF_C012``).

    On 2019 LA eval with the official ASV scores: C0 = 0.025456, C1 = 0.915044, C2 = 0.380326.
    """
    c0 = cost.p_tar * cost.c_miss * asv.pmiss + cost.p_non * cost.c_fa * asv.pfa
    c1 = cost.p_tar * cost.c_miss - c0
    c2 = cost.p_spoof * cost.c_fa_spoof * asv.pfa_spoof
    if min(c0, c1, c2) < 0:
        raise MetricsError(f"negative t-DCF coefficients C0={c0}, C1={c1}, C2={c2} from ASV point {asv}")
    return float(c0), float(c1), float(c2)


def _legacy_coefficients(asv: AsvOperatingPoint, cost: TDCFCostModel) -> tuple[float, float]:
    """Legacy (2019 ``tDCF_python_v1``) ``(C1, C2)``, with C2 from the ASV spoof MISS rate."""
    c1 = cost.p_tar * (cost.c_miss - cost.c_miss * asv.pmiss) - cost.p_non * cost.c_fa * asv.pfa
    c2 = cost.c_fa_spoof * cost.p_spoof * (1 - asv.pmiss_spoof)
    if c1 < 0 or c2 < 0:
        raise MetricsError(f"negative legacy t-DCF weights C1={c1}, C2={c2} from ASV point {asv}")
    return float(c1), float(c2)


def min_tdcf(
    bonafide_scores: np.ndarray | SortedScores,
    spoof_scores: np.ndarray | None,
    asv: AsvOperatingPoint,
    cost: TDCFCostModel = TDCFCostModel(),
) -> float:
    """Revised (ASVspoof 2021) normalised minimum t-DCF of CM scores, higher = more bona fide.

    Args:
        bonafide_scores: (N_b,) CM scores of bona fide trials, or a :class:`SortedScores` (then
            ``spoof_scores`` is None and nothing is re-sorted).
        spoof_scores: (N_s,) CM scores of spoof trials.
        asv: the ASV operating point (:func:`asv_operating_point`).
        cost: the t-DCF cost model.
    """
    s = as_sorted(bonafide_scores, spoof_scores)
    return s.min_tdcf(*tdcf_coefficients(asv, cost))


def min_tdcf_legacy(
    bonafide_scores: np.ndarray | SortedScores,
    spoof_scores: np.ndarray | None,
    asv: AsvOperatingPoint,
    cost: TDCFCostModel = TDCFCostModel(),
) -> float:
    """Legacy (ASVspoof 2019) normalised minimum t-DCF, ``min C1/C2 Pmiss + Pfa`` when C2 < C1.

    Arguments as :func:`min_tdcf`.
    """
    s = as_sorted(bonafide_scores, spoof_scores)
    return s.min_tdcf_legacy(*_legacy_coefficients(asv, cost))


def as_sorted(bonafide_scores: np.ndarray | SortedScores, spoof_scores: np.ndarray | None) -> SortedScores:
    """A :class:`SortedScores` as given, or sorted from the two score arrays."""
    if isinstance(bonafide_scores, SortedScores):
        return bonafide_scores
    if spoof_scores is None:
        raise MetricsError("spoof_scores is required unless a SortedScores is given")
    return SortedScores.from_scores(bonafide_scores, spoof_scores)


def min_dcf(
    bonafide_scores: np.ndarray, spoof_scores: np.ndarray, cost: DCFCostModel = DCFCostModel()
) -> float:
    """ASVspoof 5 normalised minimum DCF (bona fide = target class).

    Args:
        bonafide_scores: (N_b,) scores, higher = more bona fide.
        spoof_scores: (N_s,) scores.
        cost: P_spoof, C_miss, C_fa (defaults 0.05, 1, 10).
    """
    return SortedScores.from_scores(bonafide_scores, spoof_scores).min_dcf(cost)


def act_dcf(
    bonafide_scores: np.ndarray, spoof_scores: np.ndarray, cost: DCFCostModel = DCFCostModel()
) -> float:
    """ASVspoof 5 normalised actual DCF: scores read as natural-log LLRs, threshold ``-ln(beta)``.

    Bona fide below the threshold are misses, spoofs at or above it false alarms.

    Args:
        bonafide_scores: (N_b,) LLRs of bona fide trials.
        spoof_scores: (N_s,) LLRs of spoof trials.
        cost: the DCF cost model.
    """
    bona = as_scores(bonafide_scores, "bona fide scores")
    spoof = as_scores(spoof_scores, "spoof scores")
    thr = -math.log(cost.beta)
    p_miss = np.count_nonzero(bona < thr) / bona.size
    p_fa = np.count_nonzero(spoof >= thr) / spoof.size
    dcf = cost.c_miss * (1 - cost.p_spoof) * p_miss + cost.c_fa * cost.p_spoof * p_fa
    return float(dcf / cost.normaliser)


def cllr(bonafide_scores: np.ndarray, spoof_scores: np.ndarray) -> float:
    """Log-likelihood-ratio cost in bits, scores read as natural-log LLRs (Brümmer & du Preez 2006).

    ``0.5 (mean log(1 + e^-s_bona) + mean log(1 + e^s_spoof)) / ln 2``.
    """
    bona = as_scores(bonafide_scores, "bona fide scores")
    spoof = as_scores(spoof_scores, "spoof scores")
    return float(0.5 * (np.mean(np.logaddexp(0.0, -bona)) + np.mean(np.logaddexp(0.0, spoof))) / math.log(2))


def a_dcf(
    target_scores: np.ndarray,
    nontarget_scores: np.ndarray,
    spoof_scores: np.ndarray,
    cost: ADCFCostModel = ADCFCostModel(),
) -> float:
    """Normalised minimum a-DCF of spoofing-aware speaker verification (SASV) scores.

    ``a-DCF(t) = C_miss P_tar Pmiss(t) + C_fa_asv P_non Pfa_non(t) + C_fa_cm P_spf Pfa_spf(t)``,
    normalised by ``min(C_miss P_tar, C_fa_asv P_non + C_fa_cm P_spf)`` and minimised over the pooled
    sorted scores (ties in the input order target, non-target, spoof, as the a-DCF package).

    Args:
        target_scores: (N_tar,) SASV scores of bona fide target-speaker trials.
        nontarget_scores: (N_non,) SASV scores of bona fide non-target trials.
        spoof_scores: (N_spf,) SASV scores of spoofed trials.
        cost: the a-DCF cost model.
    """
    tar = as_scores(target_scores, "SASV target scores")
    non = as_scores(nontarget_scores, "SASV nontarget scores")
    spf = as_scores(spoof_scores, "SASV spoof scores")
    labels = np.concatenate(
        [np.zeros(tar.size, np.int8), np.ones(non.size, np.int8), np.full(spf.size, 2, np.int8)]
    )
    order = np.argsort(np.concatenate([tar, non, spf]), kind="stable")
    labels = labels[order]
    pmiss = np.concatenate([[0.0], np.cumsum(labels == 0) / tar.size])
    pfa_non = np.concatenate([[1.0], (non.size - np.cumsum(labels == 1)) / non.size])
    pfa_spf = np.concatenate([[1.0], (spf.size - np.cumsum(labels == 2)) / spf.size])
    curve = (
        cost.c_miss * cost.p_tar * pmiss
        + cost.c_fa_asv * cost.p_non * pfa_non
        + cost.c_fa_cm * cost.p_spoof * pfa_spf
    )
    norm = min(cost.c_fa_asv * cost.p_non + cost.c_fa_cm * cost.p_spoof, cost.c_miss * cost.p_tar)
    return float(curve.min() / norm)
