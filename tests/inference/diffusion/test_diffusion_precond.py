"""Denoiser wrappers: EDM preconditioning, VP noise prediction and OUVE scores all reduce to the
exact Gaussian denoiser when given the exact network."""

from __future__ import annotations

import torch
from diffusion_moments import random_gaussian
from torch import nn

from inference.diffusion import (
    OUVE,
    EDMDenoiser,
    GaussianDenoiser,
    edm_coefficients,
    edm_loss,
    vp_time,
)
from inference.diffusion.precond import OUVEScoreDenoiser, VPEpsDenoiser

TARGET = random_gaussian(4, seed=11)


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 4, generator=g, dtype=torch.float64) * 3
    sigma = torch.exp(torch.randn(32, generator=g, dtype=torch.float64))
    return x, sigma


class ExactEDMNet(nn.Module):
    """F = (D - c_skip x) / c_out, evaluated from the network's inputs (c_in x, c_noise)."""

    def forward(self, x_in, c_noise, cond=None):
        sigma = torch.exp(4 * c_noise)
        c_skip, c_out, c_in, _ = edm_coefficients(sigma, 0.5)
        x = x_in / c_in[:, None]
        return (TARGET(x, sigma) - c_skip[:, None] * x) / c_out[:, None]


def test_edm_denoiser_with_the_exact_network_is_the_exact_denoiser():
    x, sigma = _batch()
    torch.testing.assert_close(EDMDenoiser(ExactEDMNet(), 0.5)(x, sigma), TARGET(x, sigma))


def test_edm_coefficients_satisfy_the_unit_variance_identities():
    """Karras et al. (2022, App. B.6): Var of the network input and of its training target are 1
    for data of standard deviation sigma_data."""
    sigma = torch.logspace(-3, 2, 20, dtype=torch.float64)
    sd = 0.5
    c_skip, c_out, c_in, _ = edm_coefficients(sigma, sd)
    torch.testing.assert_close(c_in.square() * (sd**2 + sigma**2), torch.ones_like(sigma))
    target_var = ((1 - c_skip) ** 2 * sd**2 + c_skip**2 * sigma**2) / c_out**2
    torch.testing.assert_close(target_var, torch.ones_like(sigma))


def test_edm_loss_is_minimised_by_the_exact_denoiser():
    """Same data, noise levels and noise: the Bayes denoiser beats Gaussians of the wrong scale."""
    data = TARGET.sample(4096, generator=torch.Generator().manual_seed(1))

    def loss(model):
        return edm_loss(EDMDenoiser(model, 0.5), data, generator=torch.Generator().manual_seed(2))

    class WrongNet(ExactEDMNet):
        def __init__(self, factor):
            super().__init__()
            self.wrong = GaussianDenoiser(TARGET.mean, factor * TARGET.cov)

        def forward(self, x_in, c_noise, cond=None):
            sigma = torch.exp(4 * c_noise)
            c_skip, c_out, c_in, _ = edm_coefficients(sigma, 0.5)
            x = x_in / c_in[:, None]
            return (self.wrong(x, sigma) - c_skip[:, None] * x) / c_out[:, None]

    exact = loss(ExactEDMNet())
    assert exact < loss(WrongNet(0.8)) and exact < loss(WrongNet(1.25))


class ExactVPEps(nn.Module):
    """Exact noise prediction of the VP process for the Gaussian target."""

    def forward(self, x_vp, t, cond=None):
        alpha_bar = torch.exp(-(0.1 * t + 0.5 * 19.9 * t**2))
        scale = alpha_bar.sqrt()[:, None]
        x = x_vp / scale
        sigma = ((1 - alpha_bar) / alpha_bar).sqrt()
        return (x - TARGET(x, sigma)) / sigma[:, None]


def test_vp_eps_network_becomes_the_exact_denoiser():
    x, sigma = _batch(1)
    sigma = sigma.clamp(0.01, 100)
    torch.testing.assert_close(VPEpsDenoiser(ExactVPEps())(x, sigma), TARGET(x, sigma))
    assert torch.all(vp_time(sigma) > 0)


def test_ouve_score_network_becomes_the_exact_denoiser():
    proc = OUVE()
    y = torch.randn(4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))

    class ExactOUVEScore(nn.Module):
        def forward(self, x_t, t, cond=None):
            s = proc.mean_scale(t)[:, None, None]
            std = proc.std(t)[:, None, None]
            cov = s**2 * TARGET.cov + std**2 * torch.eye(4, dtype=torch.float64)
            mean = s[..., 0] * TARGET.mean + (1 - s[..., 0]) * y
            return -torch.linalg.solve(cov, (x_t - mean)[..., None])[..., 0]

    x, sigma = _batch(2)
    sigma = sigma.clamp(max=proc.sigma(1.0).item())
    torch.testing.assert_close(
        OUVEScoreDenoiser(ExactOUVEScore(), proc, y)(x, sigma), TARGET(x, sigma)
    )
