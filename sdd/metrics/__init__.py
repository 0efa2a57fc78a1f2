"""Detection metrics, pure numpy, no I/O. Scores are log-odds of bona fide: HIGHER = MORE BONA FIDE.

:mod:`.detection` holds the cost models, the one sorted order (:class:`SortedScores`) and every metric
read from it (EER, DET, t-DCF in both forms, minDCF, actDCF, Cllr, a-DCF); :mod:`.bootstrap` the EER
confidence intervals; :mod:`.paired` the paired bootstrap of two systems' EER difference and Holm's
correction over several comparisons; :mod:`.power` the minimum detectable EER difference of a
comparison; :mod:`.calibration` the logistic calibration fitted on dev scores; :mod:`.tandem` the
t-EER of a CM in tandem with an ASV system; :mod:`.fusion` the linear logistic-regression fusion of
several systems fitted on dev scores. The public names of all seven are re-exported here
(``from sdd import metrics as M; M.eer(...)``).
"""

from sdd.metrics.bootstrap import bootstrap_eer, eer_confidence_interval
from sdd.metrics.calibration import apply_calibration, fit_logistic_calibration
from sdd.metrics.detection import (
    ADCFCostModel,
    AsvOperatingPoint,
    DCFCostModel,
    MetricsError,
    SortedScores,
    TDCFCostModel,
    a_dcf,
    act_dcf,
    asv_operating_point,
    cllr,
    det_curve,
    eer,
    eer_threshold,
    min_dcf,
    min_tdcf,
    min_tdcf_legacy,
    tdcf_coefficients,
)
from sdd.metrics.fusion import LinearFusion, fit_linear_fusion
from sdd.metrics.paired import (
    PairedEerComparison,
    compare_to_reference,
    holm_adjust,
    mean_eer_interval,
    paired_bootstrap_eer,
)
from sdd.metrics.power import comparison_power, minimum_detectable_difference, seed_standard_error
from sdd.metrics.tandem import TandemCurves, t_eer

__all__ = [
    "ADCFCostModel",
    "AsvOperatingPoint",
    "DCFCostModel",
    "LinearFusion",
    "MetricsError",
    "PairedEerComparison",
    "SortedScores",
    "TDCFCostModel",
    "TandemCurves",
    "a_dcf",
    "act_dcf",
    "apply_calibration",
    "asv_operating_point",
    "bootstrap_eer",
    "cllr",
    "compare_to_reference",
    "comparison_power",
    "det_curve",
    "eer",
    "eer_confidence_interval",
    "eer_threshold",
    "fit_linear_fusion",
    "fit_logistic_calibration",
    "holm_adjust",
    "mean_eer_interval",
    "min_dcf",
    "min_tdcf",
    "min_tdcf_legacy",
    "minimum_detectable_difference",
    "paired_bootstrap_eer",
    "seed_standard_error",
    "t_eer",
    "tdcf_coefficients",
]
