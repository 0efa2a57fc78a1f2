"""The plan stage imports the section types and the registries it validates against, nothing heavier.

``sdd.plan`` validates ``corpora`` against the corpus recipes (:mod:`sdd.data.corpora`), backbone
names against :mod:`sdd.models.params` and scoring-only arms' weights against
:mod:`sdd.models.published_spec`. None of those may pull in what implements them: downloads, the
demo generator, the fetch steps, model building, torch or transformers. Importing them would put
that code among the ``plan`` stage's DVC deps (re-planning on every change to it) and make every
``dvc repro`` pay for the imports. Checked in a fresh interpreter, so nothing a test imported before
counts.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import REPO

#: Modules that importing :mod:`sdd.plan.assemble` must not import (a name also bans its submodules).
#: The augmentation side's own list is ``tests/augment/test_registry.py``'s (validating ``augment``
#: imports none of its signal processing).
HEAVY = (
    "sdd.audio.io",  # audio decoding and writing
    "sdd.data.download",  # HTTP downloads, archive extraction
    "sdd.data.demo",  # the demo generator (signals, attacks, audio writing)
    "sdd.data.fetchers",  # the recipes' fetch steps
    "sdd.data.fetch",  # the `sdd fetch` command
    "sdd.data.prepare",  # manifests from decoded audio
    "sdd.data.audio_check",
    "sdd.models.aasist",  # model code
    "sdd.models.backbone",
    "sdd.models.detector",
    "sdd.models.heads",
    "sdd.models.lora",
    "sdd.models.merges",
    "sdd.models.source",
    "sdd.models.published",  # fetching and loading the published weights
    "sdd.pretrain.run",
    "sdd.train.run",
    "sdd.scoring",
    "scipy",
    "torch",
    "transformers",
    "huggingface_hub",
    "datasets",  # Hugging Face datasets: only the hf_dataset fetch step reads them
    "peft",
    "mlflow",
)

_PROBE = """
import json, sys
import sdd.plan.assemble
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_plan_imports_no_download_generator_or_model_code():
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert not heavy, f"importing sdd.plan.assemble imported {heavy}; keep the plan to registries and types"
    # the registries it does validate against are there (the probe ran the real import)
    assert {"sdd.data.corpora", "sdd.models.params", "sdd.models.published_spec"} <= set(loaded)
