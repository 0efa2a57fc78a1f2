"""A trained arm as an MLflow ``pyfunc`` model, served by ``mlflow models serve`` (docs/team.md).

:func:`save_arm_model` writes the MLflow model folder of a train-stage model folder
(``models/<arm>/s<seed>``: weights, config and the dev-EER threshold the train stage stores); the
train stage's child run logs it as its ``model/`` artifact (:meth:`sdd.report.tracking.Run.log_model`).
The folder holds the arm's own folder (``artifacts/arm/``), the ``sdd`` package (``code/sdd/``, so the
model loads outside the repository), the pickled :class:`ArmModel`, its signature, an input example
and pinned requirements (:func:`pip_requirements`: the installed versions, so logging resolves nothing).

**Input**: a DataFrame with one string column ``audio``, each row the base64 of one audio file's
bytes, in any format and at any rate ``sdd score`` takes. **Output**: per row ``score``
(``logit(bona fide) - logit(spoof)``, the score ``sdd score`` prints), ``decision`` (``bonafide`` when
the score is above the stored dev-EER threshold, else ``spoof``: ``sdd score --decisions``) and
``warnings`` (what :mod:`sdd.audio.quality` flags, ``; ``-separated, empty when nothing). Scoring is
:func:`sdd.scoring.score.iter_scores` on the decoded bytes written to temporary files, so a row's
score is the one ``sdd score`` gives the same file. A row that is not base64 or not decodable audio
makes the whole request fail with an ``INVALID_PARAMETER_VALUE`` MLflow error (HTTP 400 from the
server) naming each such row and why.

MLflow is imported here and in :mod:`sdd.report.tracking` only (``tests/codebase/test_imports.py``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

log = logging.getLogger(__name__)

__all__ = [
    "INPUT_COLUMN",
    "OUTPUT_COLUMNS",
    "REQUIREMENTS",
    "ArmModel",
    "pip_requirements",
    "save_arm_model",
    "signature",
]

INPUT_COLUMN = "audio"
OUTPUT_COLUMNS = ("score", "decision", "warnings")
#: The artifact key of the train stage's model folder inside the MLflow model (``artifacts/arm/``).
ARM_ARTIFACT = "arm"
#: The distributions a served arm imports (``tests/report/test_serving.py`` checks this list against
#: the modules that loading and scoring import); pinned to their installed versions.
REQUIREMENTS = ("mlflow", "cloudpickle", "numpy", "pandas", "torch", "safetensors", "soundfile")
#: What an arm whose backbone ``sdd score``'s lite loader does not cover also imports (a LoRA arm:
#: peft's modules; another architecture: transformers'); :func:`sdd.models.detector.load_detector`.
TRANSFORMERS_REQUIREMENTS = ("transformers",)
LORA_REQUIREMENTS = ("transformers", "peft")
#: The ``sdd`` package, copied into the model as its code.
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def pip_requirements(folder: Path) -> list[str]:
    """What the arm in ``folder`` needs to load and score (:data:`REQUIREMENTS`, plus transformers and
    peft when its backbone needs them), pinned to the versions installed here (``torch==2.14.1``):
    MLflow writes them as given and infers nothing (inferring loads the model in a subprocess)."""
    import json

    from sdd.core.configbase import build
    from sdd.models.detector import _lite_config
    from sdd.models.params import ModelParams

    meta = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    params = build(ModelParams, meta["arm"]["model"], f"{folder}/config.json: arm.model")
    names = list(REQUIREMENTS)
    if params.finetune == "lora":
        names += LORA_REQUIREMENTS
    elif _lite_config(meta["backbone_config"], params, Path(folder)) is None:
        names += TRANSFORMERS_REQUIREMENTS
    return [f"{name}=={metadata.version(name)}" for name in names]


def signature() -> Any:
    """The model's signature: a string column ``audio`` in, ``score`` (double), ``decision`` and
    ``warnings`` (strings) out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", INPUT_COLUMN)]),
        outputs=Schema([ColSpec("double", "score"), ColSpec("string", "decision"), ColSpec("string", "warnings")]),
    )


def _invalid(message: str) -> Exception:
    from mlflow.exceptions import MlflowException

    return MlflowException.invalid_parameter_value(message)


def _decode(model_input: Any) -> list[bytes]:
    """The bytes of each row's ``audio`` (base64), or one error naming every bad row."""
    if not isinstance(model_input, pd.DataFrame) or INPUT_COLUMN not in model_input.columns:
        got = list(model_input.columns) if isinstance(model_input, pd.DataFrame) else type(model_input).__name__
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
    """A train-stage model folder (``context.artifacts["arm"]``) as a pyfunc: base64 audio files in, score
    and dev-EER decision out (module docstring)."""

    def load_context(self, context: Any) -> None:
        from sdd.core.sections import ScoreParams
        from sdd.scoring.score import CHECKPOINT

        folder = context.artifacts[ARM_ARTIFACT]
        record = CHECKPOINT.describe(folder)  # a ModelSpecError naming what is wrong with the folder
        if record.threshold is None:
            raise ValueError(f"{folder}: config.json stores no decision threshold (dev EER); re-run its train stage")
        self.model, samples = CHECKPOINT.load(folder)
        self.threshold = record.threshold
        self.params = ScoreParams(num_samples=samples, batch_size=CHECKPOINT.batch_size)
        log.info("sdd arm model %s: %s; threshold %.6f", folder, record.summary, self.threshold)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Scores and decisions of ``model_input``'s rows (a DataFrame: MLflow infers no schema from it,
        the signature of :func:`signature` is the schema)."""
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


def save_arm_model(folder: Path, dest: Path, example: Path | None = None) -> None:
    """Write the MLflow model of the train-stage model folder ``folder`` at ``dest`` (a new folder).

    Args:
        folder: ``models/<arm>/s<seed>`` (weights, config.json with the dev-EER threshold).
        dest: where the MLflow model folder is written; must not exist.
        example: an audio file whose base64 is the input example (the first clip of the arm's dev
            split); None: no example.
    """
    example_df = None
    if example is not None:
        example_df = pd.DataFrame({INPUT_COLUMN: [base64.b64encode(Path(example).read_bytes()).decode("ascii")]})
    mlflow.pyfunc.save_model(
        path=str(dest),
        python_model=ArmModel(),
        artifacts={ARM_ARTIFACT: str(folder)},
        code_paths=[str(PACKAGE_DIR)],
        signature=signature(),
        input_example=example_df,
        pip_requirements=pip_requirements(folder),
    )
