"""Discretisation error of the deterministic samplers, computed exactly (no Monte Carlo).

With the exact denoiser of Gaussian data every deterministic sampler is an affine map
``x_T -> M x_T + c``; pushing the exact start ``N(mu, Sigma + sigma_max^2 I)`` through it gives
the sampler's output law exactly, so its bias is measured to machine precision. This fixes the
allowances of ``test_diffusion_samplers_gaussian.py`` and checks the orders of convergence.
"""

from __future__ import annotations

import pytest
import torch
from diffusion_moments import inverse_sqrt, random_gaussian

from inference.diffusion import GaussianDenoiser, get_sampler, karras_sigmas

SIGMA_MIN, SIGMA_MAX = 0.002, 80.0


def exact_output_law(
    target: GaussianDenoiser, name: str, steps: int, **options
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of a deterministic sampler's output from the exact start."""
    d = target.dim
    points = torch.cat([target.mean[None], target.mean[None] + torch.eye(d, dtype=torch.float64)])
    out = get_sampler(name)(target, points, karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX), **options)
    c = out[0]
    m = (out[1:] - c).T
    return c, m @ target.marginal_cov(SIGMA_MAX) @ m.T


def whitened_bias(
    target: GaussianDenoiser, name: str, steps: int, **options
) -> tuple[float, float]:
    mean, cov = exact_output_law(target, name, steps, **options)
    w = inverse_sqrt(target.cov)
    mean_bias = float((w @ (mean - target.mean)).abs().max())
    cov_bias = float((w @ cov @ w.T - torch.eye(target.dim, dtype=torch.float64)).abs().max())
    return mean_bias, cov_bias


# (sampler, options, steps used by the moment tests, their covariance allowance)
DETERMINISTIC = [
    ("euler", {}, 400, 0.02),
    ("ddim", {}, 400, 0.02),
    ("heun", {}, 100, 0.01),
    ("dpmpp_2m", {}, 100, 0.01),
]


@pytest.mark.parametrize("dim", [2, 5, 8])
@pytest.mark.parametrize(("name", "options", "steps", "allowance"), DETERMINISTIC)
def test_bias_at_the_tested_step_count_is_within_the_allowance(
    name, options, steps, allowance, dim
):
    target = random_gaussian(dim, seed=dim)
    mean_bias, cov_bias = whitened_bias(target, name, steps, **options)
    assert mean_bias < 1e-9, "the mean of a Gaussian is a fixed point of every step"
    assert cov_bias <= 0.8 * allowance, f"{name}: covariance bias {cov_bias:.4f} at {steps} steps"


@pytest.mark.parametrize(
    ("name", "order"),
    [("euler", 1), ("ddim", 1), ("heun", 2), ("dpmpp_2m", 2)],
)
def test_bias_shrinks_at_the_order_of_the_method(name, order):
    """Doubling the steps divides the bias by about 2^order (Euler/DDIM first order, Heun and
    DPM-Solver++(2M) second order); bounds loose enough for the pre-asymptotic regime."""
    target = random_gaussian(5, seed=5)
    coarse = whitened_bias(target, name, 50)[1]
    fine = whitened_bias(target, name, 100)[1]
    finer = whitened_bias(target, name, 200)[1]
    for big, small in ((coarse, fine), (fine, finer)):
        ratio = big / small
        assert 2**order * 0.8 <= ratio <= 2**order * 1.25, f"{name}: ratio {ratio:.2f}"


def test_ddim_without_noise_is_the_euler_method():
    """Karras et al. (2022, Sec. 3): deterministic DDIM is Euler in the sigma parametrisation."""
    target = random_gaussian(4, seed=1)
    x = torch.randn(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 80
    sigmas = karras_sigmas(30, SIGMA_MIN, SIGMA_MAX)
    torch.testing.assert_close(
        get_sampler("ddim")(target, x, sigmas),
        get_sampler("euler")(target, x, sigmas),
        rtol=1e-12,
        atol=1e-12,
    )
