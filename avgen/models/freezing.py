"""Weights held still for the duration of a block (one helper for training and inference)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch


@contextlib.contextmanager
def frozen(parameters: torch.nn.Module | Iterable[torch.nn.Parameter]) -> Iterator[None]:
    """``requires_grad=False`` on ``parameters`` (a module's or a list) inside the block; the
    flags are restored afterwards, whatever they were. Samplers that differentiate in the
    latents only (MALA, Langevin) and training runs that keep a part fixed use it."""
    params = list(
        parameters.parameters() if isinstance(parameters, torch.nn.Module) else parameters
    )
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
