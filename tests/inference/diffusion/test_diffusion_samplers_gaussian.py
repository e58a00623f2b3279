"""Every registered sampler, run with the exact denoiser of Gaussian data, reproduces the data's
mean and covariance within Monte-Carlo error plus a stated discretisation allowance."""

from __future__ import annotations

import pytest
import torch
from diffusion_moments import assert_moments, marginal_draws, moment_report, random_gaussian

from inference.diffusion import SAMPLERS, GaussianDenoiser, get_sampler, karras_sigmas

N_SAMPLES = 20_000
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0

# (sampler, options, steps, allowance on the whitened covariance). The allowance bounds the
# discretisation bias at that many steps on the Karras schedule (rho = 7): measured exactly for
# the deterministic samplers (test_diffusion_convergence.py: Euler/DDIM 0.015 at 400 steps, Heun
# and DPM-Solver++(2M) 0.0034 at 100) and with 200,000 chains for the stochastic ones
# (benchmarks/diffusion_samplers.py, noise floor about 0.008: Heun with churn 0.007 at 200, PC
# 0.015-0.017 at 400, ancestral DDIM 0.022 at 800).
CONFIGS = [
    ("euler", {}, 400, 0.02),
    ("heun", {}, 100, 0.01),
    ("heun", {"s_churn": 20.0}, 200, 0.015),
    ("pc", {}, 400, 0.02),
    ("ddim", {}, 400, 0.02),
    ("ddim", {"eta": 1.0}, 800, 0.03),
    ("dpmpp_2m", {}, 100, 0.01),
]


def _sample(
    target: GaussianDenoiser, denoiser, name: str, options: dict, steps: int, seed: int
) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x_T = marginal_draws(target.mean, target.cov, SIGMA_MAX, N_SAMPLES, g).float()
    sigmas = karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX)
    return get_sampler(name)(denoiser, x_T, sigmas, generator=g, **options)


def test_every_registered_sampler_is_covered():
    assert {name for name, *_ in CONFIGS} == set(SAMPLERS)


@pytest.mark.parametrize("dim", [2, 8])
@pytest.mark.parametrize(
    ("name", "options", "steps", "allowance"),
    CONFIGS,
    ids=[f"{n}{'-' + '-'.join(map(str, o.values())) if o else ''}" for n, o, *_ in CONFIGS],
)
def test_sampler_reproduces_gaussian_mean_and_covariance(name, options, steps, allowance, dim):
    target = random_gaussian(dim, seed=dim)
    samples = _sample(target, target, name, options, steps, seed=100 + dim)
    assert samples.shape == (N_SAMPLES, dim) and samples.dtype == torch.float32
    assert torch.isfinite(samples).all()
    assert_moments(
        samples,
        target.mean,
        target.cov,
        cov_allowance=allowance,
        label=f"{name} {options} {steps} steps, d={dim}",
    )


def test_the_moment_check_has_power_against_a_ten_percent_covariance_error():
    """A denoiser for a covariance 10% too large must be caught by the same tolerances."""
    target = random_gaussian(5, seed=5)
    wrong = GaussianDenoiser(target.mean, 1.1 * target.cov)
    g = torch.Generator().manual_seed(7)
    samples = get_sampler("heun")(
        wrong,
        marginal_draws(wrong.mean, wrong.cov, SIGMA_MAX, N_SAMPLES, g),
        karras_sigmas(100, SIGMA_MIN, SIGMA_MAX),
        generator=g,
    )
    assert not moment_report(samples, target.mean, target.cov, cov_allowance=0.01).ok


def test_the_moment_check_passes_exact_draws():
    target = random_gaussian(8, seed=8)
    exact = target.sample(N_SAMPLES, generator=torch.Generator().manual_seed(9))
    assert moment_report(exact, target.mean, target.cov, cov_allowance=0.0).ok


def test_too_few_steps_fail_the_check():
    """Ten Euler steps leave a large bias (about 0.4 whitened): the check is not vacuous."""
    target = random_gaussian(5, seed=5)
    samples = _sample(target, target, "euler", {}, 10, seed=3)
    assert not moment_report(samples, target.mean, target.cov, cov_allowance=0.02).ok
