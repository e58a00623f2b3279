"""Small models shared by the inference tests (no avgen: they exercise `inference` alone)."""

from __future__ import annotations

import torch
from torch import nn


def make_decoder(
    latent_dim: int,
    n_bins: int,
    hidden: int = 16,
    seed: int = 0,
    scale: float = 1.0,
    shift: float = 0.0,
    dtype=torch.float32,
) -> nn.Module:
    """A random ``D -> hidden (tanh) -> F`` log-variance decoder with frozen weights."""
    gen = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.Tanh(), nn.Linear(hidden, n_bins))
    with torch.no_grad():
        net[0].weight.copy_(torch.randn(hidden, latent_dim, generator=gen))
        net[0].bias.copy_(0.5 * torch.randn(hidden, generator=gen))
        net[2].weight.copy_(scale * torch.randn(n_bins, hidden, generator=gen) / hidden**0.5)
        net[2].bias.copy_(0.5 * torch.randn(n_bins, generator=gen) + shift)
    net.requires_grad_(False)
    return net.to(dtype)


def complex_normal(variance: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A draw of ``N_c(0, variance)`` (independent real and imaginary parts of variance/2)."""
    re = torch.randn(variance.shape, generator=generator, dtype=variance.dtype)
    im = torch.randn(variance.shape, generator=generator, dtype=variance.dtype)
    return torch.complex(re, im) * (variance / 2).sqrt()
