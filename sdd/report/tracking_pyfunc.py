"""The MLflow ``pyfunc`` class of a trained arm, :class:`ArmModel`: what ``mlflow models serve`` loads
from an arm's ``model/`` artifact (written by :mod:`sdd.report.tracking_model`).

**Input**: a DataFrame with one string column ``audio``, each row the base64 of one audio file's
bytes, in any format and at any rate ``sdd score`` takes. **Output**: per row ``score``
(``logit(bona fide) - logit(spoof)``, the score ``sdd score`` prints), ``decision`` (``bonafide`` when
the score is above the dev-EER threshold stored with the arm, else ``spoof``: ``sdd score
--decisions``) and ``warnings`` (what :mod:`sdd.audio.quality` flags, ``; ``-separated, empty when
nothing). Scoring is :func:`sdd.scoring.score.iter_scores` on the decoded bytes written to temporary
files, so a row's score is the one ``sdd score`` gives the same file. A row that is not base64, or
not audio that decodes as far as the model's input needs, fails the whole request with one
``INVALID_PARAMETER_VALUE`` MLflow error (HTTP 400 from the server) naming each such row and why;
base64 is checked for every row before any audio is decoded.

This module imports MLflow when it is imported (the class derives from ``PythonModel``), so only the
served model and :func:`sdd.report.tracking_model.save_arm_model` import it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

log = logging.getLogger(__name__)

__all__ = ["ARM_ARTIFACT", "INPUT_COLUMN", "OUTPUT_COLUMNS", "ArmModel"]

INPUT_COLUMN = "audio"
OUTPUT_COLUMNS = ("score", "decision", "warnings")
#: The artifact key of the train stage's model folder inside the MLflow model.
ARM_ARTIFACT = "arm"


def _invalid(message: str) -> Exception:
    from mlflow.exceptions import MlflowException

    return MlflowException.invalid_parameter_value(message)


def _decode(model_input: Any) -> list[bytes]:
    """The bytes of each row's ``audio`` (base64), or one error naming every bad row."""
    if not isinstance(model_input, pd.DataFrame) or INPUT_COLUMN not in model_input.columns:
        got = (
            list(model_input.columns) if isinstance(model_input, pd.DataFrame) else type(model_input).__name__
        )
        raise _invalid(f"input: expected a column {INPUT_COLUMN!r} of base64-encoded audio files; got {got}")
    if len(model_input) == 0:
        raise _invalid(f"input: no rows; expected a column {INPUT_COLUMN!r} with one audio file per row")
    out, bad = [], []
    for i, value in enumerate(model_input[INPUT_COLUMN]):
        try:
            if not isinstance(value, str):
                raise TypeError(f"a {type(value).__name__}, not a string")
            data = base64.b64decode(value, validate=True)
            if not data:
                raise ValueError("empty")
            out.append(data)
        except (binascii.Error, TypeError, ValueError) as exc:
            bad.append(f"row {i}: column {INPUT_COLUMN!r} is not the base64 of an audio file ({exc})")
    if bad:
        raise _invalid("; ".join(bad))
    return out


class ArmModel(mlflow.pyfunc.PythonModel):
    """A train-stage model folder (``context.artifacts["arm"]``) as a pyfunc: base64 audio files in,
    score and dev-EER decision out (module docstring)."""

    def load_context(self, context: Any) -> None:
        from sdd.core.sections import ScoreParams
        from sdd.scoring.score import CHECKPOINT

        folder = context.artifacts[ARM_ARTIFACT]
        record = CHECKPOINT.describe(folder)  # a ModelSpecError naming what is wrong with the folder
        if record.threshold is None:
            raise ValueError(
                f"{folder}: config.json stores no decision threshold (dev EER); re-run its train stage"
            )
        self.model, samples = CHECKPOINT.load(folder)
        self.threshold = record.threshold
        self.params = ScoreParams(num_samples=samples, batch_size=CHECKPOINT.batch_size)
        log.info("sdd arm model %s: %s; threshold %.6f", folder, record.summary, self.threshold)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Scores and decisions of ``model_input``'s rows (a DataFrame: MLflow infers no schema from this
        type hint; the logged signature is the schema)."""
        from sdd.scoring.score import SAMPLE_RATE, iter_scores

        del context, params
        blobs = _decode(model_input)
        warnings: dict[Path, list[str]] = {}
        with tempfile.TemporaryDirectory(prefix="sdd-serve-") as tmp:
            paths = [Path(tmp) / f"row{i}" for i in range(len(blobs))]
            for path, data in zip(paths, blobs, strict=True):
                path.write_bytes(data)
            rows = list(
                iter_scores(
                    self.model, paths, self.params, SAMPLE_RATE, skip_bad=True,
                    on_warning=lambda p, messages: warnings.setdefault(p, []).extend(messages),
                )
            )  # fmt: skip
        bad = [
            f"row {i}: " + (error or "").replace(f"{path}: ", "", 1).replace(str(path), f"row {i}")
            for i, (path, score, error) in enumerate(rows)
            if score is None
        ]
        if bad:
            raise _invalid("; ".join(bad))
        scores = [float(score) for _, score, _ in rows]
        return pd.DataFrame(
            {
                "score": scores,
                "decision": ["bonafide" if s > self.threshold else "spoof" for s in scores],
                "warnings": ["; ".join(warnings.get(path, [])) for path, _, _ in rows],
            }
        )
