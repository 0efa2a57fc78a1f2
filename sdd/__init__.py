"""sdd: a reproducible DVC pipeline for speech deepfake detection research.

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

#: libgomp spin count at barriers (see the module docstring); the environment's value wins.
GOMP_SPINCOUNT = "3000"
os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)
