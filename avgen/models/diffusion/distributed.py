"""Data-parallel training over processes: the set-up when launched by ``torchrun`` with
``WORLD_SIZE > 1`` (``nccl`` on CUDA, ``gloo`` on CPU), and a barrier; one process otherwise."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Processes:
    """This process's ``rank`` among ``world_size``, its ``device``, and whether it created the
    process group (and so must destroy it)."""

    rank: int
    world_size: int
    device: torch.device
    owns_group: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def distributed_setup(device: torch.device) -> Processes:
    """Initialise ``torch.distributed`` when launched by ``torchrun`` with ``WORLD_SIZE > 1``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Processes(0, 1, device, owns_group=False)
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns = True
    return Processes(dist.get_rank(), dist.get_world_size(), device, owns)


def barrier(ctx: Processes) -> None:
    if ctx.world_size > 1:
        import torch.distributed as dist

        dist.barrier()
