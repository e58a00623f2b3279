"""Frames a VAE prior trains and is evaluated on, and their checks."""

from __future__ import annotations

from typing import NamedTuple

import torch

from avgen.errors import ConfigError, DataError
from avgen.models.vae.models import SpeechVAE


class FrameTensors(NamedTuple):
    """Frames for training: ``power`` ``(N, F)`` float32 ``|s|^2``; ``lips`` ``(N, D)`` float32
    in [0, 1] (or ``None`` for audio-only models); optionally ``noisy_power`` ``(N, F)``, the
    same frames with real noise, used instead of synthetic noise to corrupt the MIN-VAE's audio
    input."""

    power: torch.Tensor
    lips: torch.Tensor | None = None
    noisy_power: torch.Tensor | None = None

    @property
    def n_frames(self) -> int:
        return int(self.power.shape[0])

    def to(self, device: torch.device | str) -> FrameTensors:
        return FrameTensors(*(None if t is None else t.to(device, torch.float32) for t in self))

    def take(self, index: torch.Tensor | slice) -> FrameTensors:
        """The frames at ``index`` (rows)."""
        return FrameTensors(*(None if t is None else t[index] for t in self))


def check_frames(model: SpeechVAE, data: FrameTensors, what: str) -> None:
    if not isinstance(data, FrameTensors):
        raise ConfigError(f"{what}: pass a FrameTensors(power, lips), got {type(data).__name__}")
    p = data.power
    f = model.config.n_freq
    if p.ndim != 2 or p.shape[1] != f or p.shape[0] < 1:
        raise DataError(f"{what}: power must be (N >= 1, {f}) frames, got {tuple(p.shape)}")
    if not torch.isfinite(p).all() or (p < 0).any():
        raise DataError(f"{what}: power has negative, NaN or infinite values")
    if model.uses_lips:
        v = data.lips
        d = model.config.lip_dim
        if v is None:
            raise DataError(f"{what}: {model.name} trains on lips; pass FrameTensors(power, lips)")
        if v.shape != (p.shape[0], d):
            raise DataError(f"{what}: lips must be ({p.shape[0]}, {d}), got {tuple(v.shape)}")
        if not torch.isfinite(v).all():
            raise DataError(f"{what}: lips have NaN or infinite values")
    if data.noisy_power is not None and data.noisy_power.shape != p.shape:
        raise DataError(f"{what}: noisy_power must have the shape of power {tuple(p.shape)}")
