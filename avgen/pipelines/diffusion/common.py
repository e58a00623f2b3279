"""What the diffusion pipelines share: the prior, its operating level, the noise schedule, and
the move between waveforms and the network's padded ``(B, 2, 256, T)`` tensors.

A diffusion prior of speech has an *operating level*: it was trained on utterances scaled to
``-26 dBFS`` RMS (``docs/models-diffusion.md``), and its compressed STFT scales as the square
root of the amplitude, so the pipelines scale the input to that level, work there, and scale
the result back by the inverse factor (the operators they estimate -- NMF noise variances,
room impulse responses -- are linear in the waveform, or are reported level-free).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import torch

from avgen.audio import DIFFUSION_STFT, SAMPLE_RATE, check_waveform
from avgen.errors import AudioError, ConfigError

PRIOR_LEVEL_DB = -26.0
"""RMS level (dBFS) of the bundled prior's training utterances: inputs are scaled to it."""

PriorLike = "torch.nn.Module | str | os.PathLike[str] | None"


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`; :class:`ConfigError` for an unusable one."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"unknown device {device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but no CUDA GPU is available")
    return dev


def resolve_prior(prior: Any, device: torch.device) -> torch.nn.Module:
    """The denoiser to sample with: ``None`` loads the bundled prior, a path loads that
    checkpoint (:func:`avgen.models.diffusion.load_diffusion_prior`), a module is used as is
    (moved to ``device``). It must carry ``sigma_data`` (an
    :class:`inference.diffusion.EDMDenoiser` does)."""
    from avgen.models.diffusion import load_diffusion_prior

    if prior is None or isinstance(prior, (str, os.PathLike)):
        return load_diffusion_prior(prior, device=device)
    if not isinstance(prior, torch.nn.Module):
        raise ConfigError(
            f"prior must be None, a checkpoint path or a denoiser module, got "
            f"{type(prior).__name__}"
        )
    if not hasattr(prior, "sigma_data"):
        raise ConfigError(
            "the prior has no sigma_data; wrap the network in "
            "inference.diffusion.EDMDenoiser(net, sigma_data)"
        )
    return prior.to(device)


def downsampling_factor(prior: torch.nn.Module) -> int:
    """The frame multiple the prior's U-Net needs (1 when it does not say)."""
    net = getattr(prior, "net", None)
    config = getattr(net, "config", None) or getattr(prior, "unet_config", None)
    return int(getattr(config, "downsampling_factor", 1))


def check_input(wav: torch.Tensor, name: str) -> torch.Tensor:
    """A mono float32 waveform of at least one diffusion STFT frame, or :class:`AudioError`."""
    if not isinstance(wav, torch.Tensor):
        raise AudioError(f"{name}: expected a torch.Tensor waveform, got {type(wav).__name__}")
    if wav.is_complex():
        raise AudioError(f"{name}: expected a real waveform, got {wav.dtype}")
    check_waveform(wav, name=name, min_samples=DIFFUSION_STFT.n_fft)
    return wav.detach().to(torch.float32)


def level_gain(wav: torch.Tensor, level_db: float = PRIOR_LEVEL_DB) -> float:
    """The factor that brings ``wav`` to an RMS of ``level_db`` dBFS."""
    rms = float(wav.double().square().mean().sqrt())
    if rms <= 0 or not math.isfinite(rms):
        raise AudioError("cannot set the level of silent audio")
    return 10.0 ** (level_db / 20.0) / rms


@dataclass(frozen=True)
class SigmaSchedule:
    """The Karras et al. (2022) schedule of a pipeline, in units of the prior's ``sigma_data``.

    ``sigma_max = max_factor * sigma_data``, ``sigma_min = min_factor * sigma_data``, ``rho``.
    The bundled prior saw ``log sigma ~ N(P_mean, 1.2^2)`` with ``P_mean = -1.2 +
    log(sigma_data / 0.5)``, i.e. ``sigma / sigma_data`` from about 0.02 to 20 within three
    standard deviations; the defaults stay inside that range.
    """

    steps: int = 50
    max_factor: float = 20.0
    min_factor: float = 0.02
    rho: float = 7.0

    def sigmas(self, sigma_data: float, device: torch.device) -> torch.Tensor:
        from inference.diffusion import karras_sigmas

        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")
        if not 0 < self.min_factor < self.max_factor:
            raise ConfigError(
                f"need 0 < min_factor < max_factor, got {self.min_factor}, {self.max_factor}"
            )
        return karras_sigmas(
            self.steps, self.min_factor * sigma_data, self.max_factor * sigma_data, self.rho
        ).to(device)


def to_network(wav: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int]:
    """``(N,)`` waveform -> ``(1, 2, 256, T')`` compressed STFT tensor padded with zero frames to
    a multiple of ``multiple``, and the number ``T`` of real frames."""
    from avgen.models.diffusion import pad_frames, waveform_to_tensor

    return pad_frames(waveform_to_tensor(wav)[None], multiple)


def to_waveform(x: torch.Tensor, frames: int, length: int) -> torch.Tensor:
    """``(B, 2, 256, T')`` -> ``(B, length)``, dropping the padded frames."""
    from avgen.models.diffusion import crop_frames, tensor_to_waveform

    return tensor_to_waveform(crop_frames(x, frames), length=length)


def seconds(n_samples: int) -> float:
    return n_samples / SAMPLE_RATE
