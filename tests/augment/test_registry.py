"""The op registry (sdd.augment.ops) is the one list of ops, and validating needs no signal processing.

The plan stage validates the ``augment`` section (every policy parsed and range-checked); that path
must import none of the augmentation DSP modules (issue 21), so their edits never re-run the plan.
Only ``sdd.augment`` modules are checked here; other packages on the plan path have their own tests.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from sdd.augment.ops import OPS, Op, implements, register
from sdd.augment.policies import BUILTIN_POLICIES
from tests.helpers import REPO
from tests.helpers import import_graph as ig

#: The augmentation modules that process signals (or run ops); validation imports none of them.
DSP_MODULES = ("sdd.augment.apply", "sdd.augment.functional", "sdd.augment.rawboost")


def test_the_dsp_modules_named_here_exist():
    for name in DSP_MODULES:
        assert importlib.util.find_spec(name) is not None, f"{name} moved: update DSP_MODULES"


def test_validation_modules_import_no_dsp_statically():
    """Lazy imports count: the static closure of the validation modules holds no DSP module."""
    files = ig.module_files()
    closure = ig.closure(ig.import_graph(), ["sdd.augment.params", "sdd.augment.policies"], files)
    assert "sdd.augment.ops" in closure
    assert not closure & set(DSP_MODULES), sorted(closure & set(DSP_MODULES))


def test_plan_path_imports_no_augment_dsp_when_validating():
    every_op = [{"op": n} for n in OPS if n != "noise_folder"] + [{"op": "noise_folder", "folder": "."}]
    code = f"""
import json, sys
import sdd.plan.assemble
from sdd.augment.params import AugmentParams
from sdd.core.configbase import build
for name in {sorted(BUILTIN_POLICIES)!r} + ["every"]:
    build(AugmentParams, {{"policy": name, "policies": {{"every": {every_op!r}}}}}, "augment")
print(json.dumps(sorted(m for m in sys.modules if m.startswith("sdd.augment"))))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {"sdd.augment.ops", "sdd.augment.policies", "sdd.augment.params"} <= loaded
    assert not loaded & set(DSP_MODULES), f"validation imported {sorted(loaded & set(DSP_MODULES))}"


def test_every_registered_op_has_one_implementation():
    import sdd.augment.apply  # noqa: F401 (attaches the implementations)

    missing = sorted(name for name, cls in OPS.items() if vars(cls).get("_implementation") is None)
    assert not missing
    with pytest.raises(ValueError, match="implemented twice"):
        implements(OPS["gain"])(lambda *a: None)


def test_implements_refuses_an_unregistered_class_and_an_op_without_one_says_so():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Loose(Op):
        """An op class never registered."""

    with pytest.raises(ValueError, match="not a registered op"):
        implements(Loose)(lambda *a: None)
    register("_test_unimplemented")(Loose)
    try:
        with pytest.raises(NotImplementedError, match="_test_unimplemented"):
            Loose()(np.zeros(8, dtype=np.float32), 16000, np.random.default_rng(0))
    finally:
        del OPS["_test_unimplemented"]
