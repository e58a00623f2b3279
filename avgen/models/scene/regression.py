r"""What the scene regressors share: standardised targets, the Adam loop, error intervals.

Both the picture -> acoustics head (:mod:`~avgen.models.scene.acoustic_head`) and the blind
RT60 estimator (:mod:`~avgen.models.scene.rt60_estimator`) regress a few scalars per input.
Each target column :math:`y_j` (log seconds for reverberation times, dB for the DRR) is
standardised with the training set's mean and standard deviation,
:math:`z_j = (y_j - \mu_j) / \sigma_j`, and the network minimises the mean squared error
:math:`\frac{1}{B J}\sum_{i,j} (\hat z_{ij} - z_{ij})^2` by Adam (Kingma & Ba, ICLR 2015) with
decoupled weight decay (AdamW, Loshchilov & Hutter, ICLR 2019) and a cosine learning-rate
decay. The standardisation is stored with the model (as buffers) so that a loaded model
predicts in the original units.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from avgen.errors import ConfigError, TrainingError
from avgen.progress import progress_bar
from avgen.seeding import torch_generator


@dataclass(frozen=True)
class RegressionTrainConfig:
    """How a scene regressor is trained.

    Attributes:
        steps: optimiser steps.
        batch_size: items per step (drawn without replacement within an epoch).
        lr: peak learning rate of AdamW (cosine decay to ``lr / 20`` over ``steps``).
        weight_decay: AdamW's decoupled weight decay.
        log_every: steps per history entry (mean loss over those steps).
    """

    steps: int = 300
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0 or self.log_every < 1:
            raise ConfigError(
                "RegressionTrainConfig needs steps >= 1, batch_size >= 1, lr > 0, log_every >= 1"
            )
        if self.weight_decay < 0:
            raise ConfigError("RegressionTrainConfig needs weight_decay >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegressionTrainConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def target_statistics(targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column means and standard deviations ``(J,)`` of ``(N, J)`` targets (a standard
    deviation below ``1e-3`` is raised to it, so a constant column does not divide by 0)."""
    if targets.ndim != 2 or targets.shape[0] < 2:
        raise ConfigError(f"targets must be (N >= 2, J), got {tuple(targets.shape)}")
    if not bool(torch.isfinite(targets).all()):
        raise ConfigError("targets hold NaN or infinite values")
    mean = targets.mean(dim=0)
    std = targets.std(dim=0).clamp_min(1e-3)
    return mean, std


def train_regressor(
    model: nn.Module,
    predict: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    targets: torch.Tensor,
    config: RegressionTrainConfig,
    seed: int,
    *,
    progress: bool | None = None,
    desc: str = "training",
) -> list[dict[str, float]]:
    """Minimise ``mean (predict(idx, gen) - targets[idx])^2`` over ``model``'s parameters.

    ``predict(idx, gen)`` returns the model's standardised prediction ``(len(idx), J)`` for the
    training items ``idx`` (it may augment them with ``gen``); ``targets`` ``(N, J)`` are already
    standardised. Returns the history: ``{"step", "loss", "lr", "seconds"}`` per ``log_every``
    steps. Raises :class:`TrainingError` if the loss becomes non-finite.
    """
    n = targets.shape[0]
    gen = torch_generator(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    model.train()
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    order = torch.randperm(n, generator=gen)
    cursor = 0
    running = 0.0
    count = 0
    bar = progress_bar(config.steps, desc, enabled=progress)
    try:
        for step in range(1, config.steps + 1):
            lr = config.lr * (
                0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - 1) / config.steps))
            )
            for group in opt.param_groups:
                group["lr"] = lr
            if cursor + min(config.batch_size, n) > n:
                order = torch.randperm(n, generator=gen)
                cursor = 0
            idx = order[cursor : cursor + config.batch_size]
            cursor += idx.numel()
            loss = (predict(idx, gen) - targets[idx]).square().mean()
            if not bool(torch.isfinite(loss)):
                raise TrainingError(
                    f"{desc}: the loss became non-finite at step {step}; lower the learning rate"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += float(loss.detach())
            count += 1
            if step % config.log_every == 0 or step == config.steps:
                history.append(
                    {
                        "step": float(step),
                        "loss": running / count,
                        "lr": lr,
                        "seconds": time.perf_counter() - start,
                    }
                )
                bar.set_postfix(loss=f"{running / count:.3f}")
                running, count = 0.0, 0
            bar.update(1)
    finally:
        bar.close()
    model.eval()
    return history


def mean_interval(errors: np.ndarray | torch.Tensor) -> tuple[float, float]:
    """Mean of ``errors`` and the half-width of its 95 % interval (Student's t, ``n - 1``
    degrees of freedom; 0 for a single value)."""
    from scipy.stats import t as student_t

    x = np.asarray(errors, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ConfigError("mean_interval needs at least one value")
    if x.size == 1:
        return float(x[0]), 0.0
    half = float(student_t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return float(x.mean()), half
