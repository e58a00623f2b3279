"""The validation loss of a diffusion prior: the EDM-weighted denoising error on held-out
segments at fixed noise levels (a quadrature of the training distribution of ``sigma``) with
fixed noise, beside the same loss of the zero network."""

from __future__ import annotations

import math

import torch

from avgen.seeding import derive_seed, torch_generator
from inference.diffusion.precond import EDMDenoiser, edm_coefficients


def validation_sigmas(n: int, p_mean: float, p_std: float) -> torch.Tensor:
    """``n`` noise levels at the mid-quantiles ``(k + 1/2) / n`` of the log-normal training
    distribution: the validation loss is a fixed-point quadrature of the training loss."""
    q = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    z = math.sqrt(2.0) * torch.erfinv(2.0 * q - 1.0)
    return (p_mean + p_std * z).exp().to(torch.float32)


@torch.no_grad()
def validation_losses(
    denoiser: EDMDenoiser,
    x0: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    seed: int,
    batch_size: int = 16,
) -> tuple[float, float]:
    """``(loss, baseline)``: the EDM-weighted denoising error of ``denoiser`` on ``x0`` averaged
    over ``sigmas`` with fixed noise, and the same of ``D = c_skip x`` (the zero network)."""
    gen = torch_generator(derive_seed(seed, "validation-noise"))
    total = base = 0.0
    count = 0
    sd = denoiser.sigma_data
    for sigma in sigmas.tolist():
        weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
        c_skip = edm_coefficients(torch.tensor(sigma), sd)[0].item()
        for chunk in x0.split(batch_size):
            noise = torch.randn(chunk.shape, generator=gen).to(chunk.device)
            x = chunk + sigma * noise
            err = (
                (denoiser(x, torch.full((chunk.shape[0],), sigma, device=chunk.device)) - chunk)
                .square()
                .flatten(1)
                .mean(1)
            )
            err0 = (c_skip * x - chunk).square().flatten(1).mean(1)
            total += weight * float(err.sum())
            base += weight * float(err0.sum())
            count += chunk.shape[0]
    return total / count, base / count
