"""Training on several processes (``torchrun``): the process context and the few collectives we use.

The train stage's function runs unchanged under ``torchrun --nproc_per_node N`` (one process per GPU,
or N CPU processes with gloo). There is no ``DistributedDataParallel`` wrapper: each optimizer step,
every rank computes the weighted SUMS of its share of the global batch per path
(``sum w * grad(nll)`` and ``sum w``), :func:`all_reduce_` adds them over ranks, and only then are they
normalised and aligned. Every rank therefore applies exactly the update one process would compute on
the whole global batch (up to float summation order), aligner included. Without ``torchrun`` (no
``WORLD_SIZE`` in the environment) everything here is a no-op for one process.

:func:`relaunch_if_requested` lets ``SDD_NPROC_PER_NODE=N dvc repro train@<arm>`` run an arm on N
local processes: the stage script re-executes itself under ``torch.distributed.run``.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

__all__ = [
    "DistContext",
    "all_gather_objects",
    "all_reduce_",
    "broadcast_module_",
    "context",
    "relaunch_if_requested",
    "require_same",
    "shutdown",
]

NPROC_ENV = "SDD_NPROC_PER_NODE"


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job: ``rank`` of ``world_size``, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def context() -> DistContext:
    """The context from ``torchrun``'s environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistContext(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def init(ctx: DistContext, device: torch.device) -> None:
    """Join the process group (NCCL on CUDA, gloo on CPU) unless there is one process or it is joined."""
    if ctx.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        log.info("process group: rank %d of %d, local rank %d on %s (%s)", ctx.rank, ctx.world_size,
                 ctx.local_rank, socket.gethostname(), dist.get_backend())


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_(tensors: Sequence[torch.Tensor]) -> None:
    """Sum each tensor over ranks, in place (all launched before waiting, so transfers overlap)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    for work in [dist.all_reduce(t, async_op=True) for t in tensors]:
        work.wait()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` on one process)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def require_same(value: Any, shown: str, what: str, remedy: str) -> None:
    """Raise one ValueError on every rank unless every rank holds the same ``value``.

    Each rank's ``shown`` (``value`` as the message should put it) and host name go into the
    message, so a node that sees another file than the others is named. Called before the first
    collective whose pairing depends on ``value``: ranks that disagree would otherwise wait for each
    other's all-reduces forever.
    """
    gathered = all_gather_objects((value, shown, socket.gethostname()))
    if any(v != gathered[0][0] for v, _, _ in gathered):
        ranks = "; ".join(f"rank {r} on {host}: {text}" for r, (_, text, host) in enumerate(gathered))
        raise ValueError(f"{what} differs between ranks ({ranks}): {remedy}")


def broadcast_module_(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (a pretrained or seeded start is shared)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    for t in [*module.parameters(), *module.buffers()]:
        dist.broadcast(t.data, src=0)


def relaunch_if_requested(script: str, argv: Sequence[str]) -> None:
    """Re-execute ``script argv`` under ``torch.distributed.run`` with ``$SDD_NPROC_PER_NODE`` local
    processes, unless that is unset, 1, or this process already runs under torchrun."""
    n = os.environ.get(NPROC_ENV)
    if not n or "LOCAL_RANK" in os.environ:
        return
    if not n.isdigit() or int(n) < 1:
        raise ValueError(f"${NPROC_ENV}: got {n!r}; expected a positive integer (processes per node)")
    if int(n) == 1:
        return
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", script,
           *argv]
    log.info("relaunching under torchrun: %s", " ".join(cmd))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, cmd)
