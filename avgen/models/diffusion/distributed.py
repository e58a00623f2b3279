"""Data-parallel training over processes: the set-up when launched by ``torchrun`` with
``WORLD_SIZE > 1`` (``nccl`` on CUDA, ``gloo`` on CPU), and a barrier; one process otherwise.
Shared by the trainers (diffusion prior, MVSD): :func:`mixed_precision` (the autocast context of
an ``amp`` setting) and :func:`all_reduce_gradients` (DDP's gradient average for a module used
through several methods)."""

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


def all_reduce_gradients(module: torch.nn.Module, ctx: Processes) -> None:
    """Average every parameter's gradient over the processes (in place; nothing with one).

    For trainers that call several methods of a module (MVSD's converters and scene encoder)
    rather than one ``forward``, which ``DistributedDataParallel`` would need to see: after
    ``backward``, the same average DDP computes. Parameters without a gradient on this rank get
    a zero one first, so every rank joins every reduction."""
    if ctx.world_size <= 1:
        return
    import torch.distributed as dist

    for p in module.parameters():
        if not p.requires_grad:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)
        p.grad.div_(ctx.world_size)


def mixed_precision(amp: str, device: torch.device):
    """The ``torch.autocast`` context of an ``amp`` setting (``"none"``, ``"bf16"``,
    ``"fp16"``; CUDA only), or a no-op context."""
    from contextlib import nullcontext

    if amp == "none":
        return nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)
