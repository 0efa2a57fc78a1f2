"""A trained arm logged as an MLflow ``pyfunc`` model, served by ``mlflow models serve`` (docs/team.md,
"Serving a trained model").

The train stage opens its run with ``run_type=ModelRun`` (:func:`sdd.report.tracking.arm_run`) and logs
its model folder (``models/<arm>/s<seed>``: weights, config and the dev-EER threshold it stores) with
:meth:`ModelRun.log_model`, as the run's ``model/`` artifact, written by :func:`save_arm_model`: the
arm's folder (``artifacts/s<seed>/``), the ``sdd`` package (``code/sdd/``, so the model loads outside
the repository), the pickled :class:`sdd.report.tracking_pyfunc.ArmModel` (input, output and errors
are described there), the signature (:func:`signature`), a clip of the arm's dev split as the input
example, and requirements pinned to the installed versions (:func:`pip_requirements`), so logging
resolves nothing. The other stages log no model and do not import this module; nothing here imports
MLflow until a model is written.

MLflow is imported by :mod:`sdd.report.tracking`, this module and :mod:`sdd.report.tracking_pyfunc`
only (``tests/codebase/test_imports.py``).
"""

from __future__ import annotations

import base64
import json
import logging
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from sdd.report import tracking

log = logging.getLogger(__name__)

__all__ = ["LORA_REQUIREMENTS", "REQUIREMENTS", "TRANSFORMERS_REQUIREMENTS", "ModelRun", "pip_requirements",
           "save_arm_model", "signature"]  # fmt: skip

#: The distributions a served arm imports (``tests/report/test_serving.py`` checks them against the
#: modules that loading and scoring import), pinned to their installed versions.
REQUIREMENTS = ("mlflow", "cloudpickle", "numpy", "pandas", "torch", "safetensors", "soundfile")
#: What an arm also imports when ``sdd score``'s lite loader does not cover its backbone
#: (:func:`sdd.models.detector.load_detector`): transformers for another architecture, and peft for
#: LoRA adapters.
TRANSFORMERS_REQUIREMENTS = ("transformers",)
LORA_REQUIREMENTS = ("transformers", "peft")
#: The ``sdd`` package, copied into the model as its code.
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def pip_requirements(folder: Path) -> list[str]:
    """What the arm in ``folder`` needs to load and score (:data:`REQUIREMENTS`, plus transformers and
    peft when its backbone needs them), pinned to the versions installed here (``torch==2.14.1``):
    MLflow writes them as given and infers nothing (inferring loads the model in a subprocess)."""
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
    """The model's signature: a string column ``audio`` in; ``score`` (double), ``decision`` and
    ``warnings`` (strings) out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from sdd.report.tracking_pyfunc import INPUT_COLUMN, OUTPUT_COLUMNS

    types = {"score": "double", "decision": "string", "warnings": "string"}
    return ModelSignature(
        inputs=Schema([ColSpec("string", INPUT_COLUMN)]),
        outputs=Schema([ColSpec(types[c], c) for c in OUTPUT_COLUMNS]),
    )


def save_arm_model(folder: Path, dest: Path, example: Path | None = None) -> None:
    """Write the MLflow model of the train-stage model folder ``folder`` at ``dest`` (a new folder).

    Args:
        folder: ``models/<arm>/s<seed>`` (weights, config.json with the dev-EER threshold).
        dest: where the MLflow model folder is written; must not exist.
        example: an audio file whose base64 is the input example (the train stage gives the first
            clip of the arm's dev split); None: no example.
    """
    import mlflow.pyfunc
    import pandas as pd

    from sdd.report.tracking_pyfunc import ARM_ARTIFACT, INPUT_COLUMN, ArmModel

    example_df = None
    if example is not None:
        example_df = pd.DataFrame(
            {INPUT_COLUMN: [base64.b64encode(Path(example).read_bytes()).decode("ascii")]}
        )
    mlflow.pyfunc.save_model(
        path=str(dest),
        python_model=ArmModel(),
        artifacts={ARM_ARTIFACT: str(folder)},
        code_paths=[str(PACKAGE_DIR)],
        signature=signature(),
        input_example=example_df,
        pip_requirements=pip_requirements(folder),
    )


class ModelRun(tracking.Run):
    """The train stage's run handle (:func:`sdd.report.tracking.arm_run` with ``run_type=ModelRun``):
    a :class:`~sdd.report.tracking.Run` that also logs the arm as a pyfunc model."""

    @tracking._guarded
    def log_model(self, folder: Path, example: Path | None = None) -> None:
        """The train stage's model folder as the run's MLflow pyfunc model ``model/``
        (:func:`save_arm_model` in a temporary folder, then logged as the run's artifacts), served by
        ``mlflow models serve -m runs:/<run id>/model``; the seconds it took are logged as the metric
        ``train.model_log_seconds``. A store that fails warns, as every logging call of the run."""
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            save_arm_model(folder, Path(tmp) / "model", example)
            self._client.log_artifacts(self.run_id, str(Path(tmp) / "model"), artifact_path="model")
        seconds = time.perf_counter() - start
        log.info("MLflow run %s: pyfunc model logged in %.2f s", self.name, seconds)
        self.log_metrics({"train": {"model_log_seconds": seconds}})
