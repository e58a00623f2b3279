"""Exponential moving average of a network's weights (Polyak averaging).

After each optimiser step ``theta_ema <- d_t theta_ema + (1 - d_t) theta`` with the warm-up
``d_t = min(decay, (1 + t) / (10 + t))`` (as in TensorFlow's ``ExponentialMovingAverage`` with
``num_updates``), so the first steps are not dominated by the random initialisation. Samplers use
the averaged weights (Song & Ermon, 2020; Karras et al., 2022); buffers are copied as they are.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A frozen copy of ``model`` that tracks the moving average of its parameters."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def decay_at(self, step: int) -> float:
        """The averaging weight used at update number ``step`` (0-based)."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Fold the current weights of ``model`` into the average."""
        d = self.decay_at(step)
        ema_params = dict(self.model.named_parameters())
        for name, p in model.named_parameters():
            ema_params[name].lerp_(p.detach().to(ema_params[name].dtype), 1.0 - d)
        ema_buffers = dict(self.model.named_buffers())
        for name, b in model.named_buffers():
            ema_buffers[name].copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
