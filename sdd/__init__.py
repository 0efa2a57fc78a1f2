"""sdd: a reproducible DVC pipeline for speech deepfake detection research.

Layers: :data:`LAYERS` orders the package's parts bottom to top; a part imports only from parts at
or below it (lazy and ``TYPE_CHECKING`` imports included), which ``tests/codebase/test_imports.py`` enforces.
A new package or module is placed there before anything imports it.

Importing ``sdd`` sets one process-wide default before any of its modules loads torch: how long an idle
OpenMP thread of torch and MKL (GNU libgomp) spins at a barrier before it sleeps. libgomp's default,
300,000 spins, keeps a waiting thread on its core; with a busy neighbour on a 2-core machine that spin
holds the core its partner needs, and demo epochs of 5-10 s took 45-90 s. ``GOMP_SPINCOUNT`` below is
short enough to yield the core within microseconds and long enough that an idle machine loses no
measurable time (``benchmarks/contention.py`` measures both). libgomp reads it once, when torch loads,
so it only takes effect when ``sdd`` is imported before torch (every stage script and the ``sdd``
command do so); a value already in the environment wins. It changes scheduling, never arithmetic: the
thread count is unchanged and scores stay bit-identical.
"""

import os

__version__ = "0.1.0"

#: The parts of ``sdd`` (its packages and the ``sdd`` command), bottom to top: each imports only from
#: its own part and the parts before it. Plumbing (atomic writes, repository paths, fault points, the
#: stage contract, config building, the small sections); audio I/O and cropping; metrics; the audit
#: (its logistic regression is the probes' too); evaluation; augmentation (the demo generator uses
#: its degradations); data; models (the published-weights registry included); pretraining; scoring
#: and the scoring-only arm; training (whose stage calls, train and score, handle scoring-only arms
#: too); probing; the report with MLflow tracking; the plan (which validates every section); the command.
LAYERS = (
    "core",
    "audio",
    "metrics",
    "audit",
    "evaluation",
    "augment",
    "data",
    "models",
    "pretrain",
    "scoring",
    "train",
    "probing",
    "report",
    "plan",
    "cli",
)

#: libgomp spin count at barriers (see the module docstring); the environment's value wins.
GOMP_SPINCOUNT = "3000"
os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)
