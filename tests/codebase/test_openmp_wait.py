"""The OpenMP wait default that keeps a busy machine from stalling training (``sdd/__init__.py``).

libgomp reads ``GOMP_SPINCOUNT`` once, when torch loads it, so what matters is what a fresh process
sees when it imports torch after ``sdd``. The time it saves is a benchmark
(``benchmarks/contention.py``), not a test; here: the default is set before torch loads, a value in
the environment wins, every stage script imports ``sdd`` before torch, and training under the default
is bit-identical to training under libgomp's own default.
"""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import sys

import pytest

import sdd
from tests.helpers import REPO

_PROBE = "import os, sdd, torch; print(os.environ.get('GOMP_SPINCOUNT'))"


def _run(code: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, env=base | env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_import_sdd_sets_the_spin_count_before_torch_loads() -> None:
    assert _run(_PROBE) == sdd.GOMP_SPINCOUNT


def test_the_environment_wins() -> None:
    assert _run(_PROBE, GOMP_SPINCOUNT="12345") == "12345"


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO / "stages").glob("*.py")))
def test_every_stage_imports_sdd_before_torch(script: str) -> None:
    """A stage that imported torch (or a module that loads it) first would run with libgomp's default."""
    tree = ast.parse((REPO / "stages" / script).read_text(encoding="utf-8"))
    first = {}
    for i, node in enumerate(tree.body):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            root = name.split(".")[0]
            first.setdefault(root, i)
    heavy = [first[m] for m in ("torch", "torchaudio", "transformers", "peft", "sklearn") if m in first]
    if heavy:
        assert "sdd" in first and first["sdd"] < min(heavy), f"{script} imports torch before sdd"


_TRAIN = """
import hashlib, torch, sdd
torch.manual_seed(0); torch.set_num_threads(2)
net = torch.nn.Sequential(torch.nn.Conv1d(1, 16, 9, stride=4), torch.nn.GELU(), torch.nn.Conv1d(16, 16, 9),
                          torch.nn.Flatten(), torch.nn.LazyLinear(2))
x, y = torch.randn(8, 1, 4000), torch.randint(0, 2, (8,))
net(x)
opt = torch.optim.Adam(net.parameters(), 1e-3)
for _ in range(5):
    opt.zero_grad(); torch.nn.functional.cross_entropy(net(x), y).backward(); opt.step()
h = hashlib.sha256()
for p in net.parameters():
    h.update(p.detach().numpy().tobytes())
print(h.hexdigest())
"""


@pytest.mark.slow  # trains in three fresh processes
def test_training_is_bit_identical_under_either_spin_count() -> None:
    """The spin count changes scheduling only: same weights as under libgomp's default (300,000)."""
    ours = _run(_TRAIN)
    assert ours == _run(_TRAIN, GOMP_SPINCOUNT="300000") == _run(_TRAIN, GOMP_SPINCOUNT="0")
    assert len(ours) == len(hashlib.sha256().hexdigest())
