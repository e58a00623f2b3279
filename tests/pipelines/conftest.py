"""Shared fixtures of the pipeline tests: a tiny (untrained) diffusion prior and short signals."""

from __future__ import annotations

import pytest
import torch

SR = 16_000


@pytest.fixture(scope="session")
def tiny_prior():
    """A tiny U-Net in EDM preconditioning with random weights (the pipelines' plumbing does
    not need a trained prior; quality tests use the bundled one)."""
    from avgen.models.diffusion import build_denoiser, unet_config

    torch.manual_seed(0)
    return build_denoiser(unet_config("tiny"), sigma_data=0.05).eval().requires_grad_(False)


@pytest.fixture(scope="session")
def speechlike() -> torch.Tensor:
    """0.6 s of a harmonic, amplitude-modulated signal (deterministic)."""
    t = torch.arange(int(0.6 * SR), dtype=torch.float64) / SR
    f0 = 140.0 + 20.0 * torch.sin(2 * torch.pi * 3.0 * t)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / SR
    wav = sum(torch.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 - torch.cos(2 * torch.pi * 4.0 * t))
    return (0.1 * envelope * wav).to(torch.float32)
