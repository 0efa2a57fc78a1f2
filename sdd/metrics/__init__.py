"""Detection metrics, pure numpy, no I/O. Scores are log-odds of bona fide: HIGHER = MORE BONA FIDE.

:mod:`.detection` holds the cost models, the one sorted order (:class:`SortedScores`) and every metric
read from it (EER, DET, t-DCF in both forms, minDCF, actDCF, Cllr, a-DCF); :mod:`.bootstrap` the EER
confidence intervals; :mod:`.calibration` the logistic calibration fitted on dev scores. The public
names of all three are re-exported here (``from sdd import metrics as M; M.eer(...)``).
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
    min_dcf,
    min_tdcf,
    min_tdcf_legacy,
    tdcf_coefficients,
)

__all__ = [
    "ADCFCostModel",
    "AsvOperatingPoint",
    "DCFCostModel",
    "MetricsError",
    "SortedScores",
    "TDCFCostModel",
    "a_dcf",
    "act_dcf",
    "apply_calibration",
    "asv_operating_point",
    "bootstrap_eer",
    "cllr",
    "det_curve",
    "eer",
    "eer_confidence_interval",
    "fit_logistic_calibration",
    "min_dcf",
    "min_tdcf",
    "min_tdcf_legacy",
    "tdcf_coefficients",
]
