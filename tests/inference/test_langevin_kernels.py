"""Unadjusted and stochastic-gradient Langevin kernels.

For a Gaussian target N(mu, sigma^2) the ULA recursion is the AR(1) process
``z' - mu = (1 - h^2 / (2 sigma^2)) (z - mu) + h xi``, whose stationary law is
``N(mu, sigma^2 / (1 - h^2 / (4 sigma^2)))``: the discretisation bias is known exactly, and the
sampler must reproduce it (and visibly differ from sigma^2) within Monte-Carlo error (4.5 MCSE).
"""

from __future__ import annotations

import pytest
import torch

from inference.chain import ULA, run_chain
from inference.diagnostics import effective_sample_size
from inference.esteps import LangevinEStep
from inference.langevin import (
    polynomial_step_sizes,
    sgld_init,
    sgld_step,
    ula_init,
    ula_step,
)
from inference.mh import value_and_grad

T, C = 24, 4


def target(seed=0):
    gen = torch.Generator().manual_seed(seed)
    mean = torch.randn(T, 1, generator=gen, dtype=torch.float64)
    sd = torch.exp(torch.empty(T, 1, dtype=torch.float64).uniform_(-1.0, 1.0, generator=gen))
    return mean, sd, lambda z: ((z - mean) / sd).square().sum(-1).mul(-0.5)


def test_ula_has_the_exact_discretisation_bias_on_a_gaussian():
    mean, sd, log_density = target()
    step = sd.squeeze(-1)  # h = sigma: stationary variance 4/3 sigma^2
    result = run_chain(
        ULA,
        mean.expand(C, T, 1).clone(),
        log_density,
        n_steps=4000,
        burn_in=200,
        step_size=step,
        generator=torch.Generator().manual_seed(1),
    )
    squares = (result.samples - mean).square()
    ess = effective_sample_size(squares, layout="draw chain frame dim")
    mcse = squares.std(dim=(0, 1)) / ess.sqrt()
    estimate = squares.mean((0, 1))
    ula_variance = sd.square() / (1 - 0.25)
    assert ((estimate - ula_variance) / mcse).abs().max() < 4.5
    assert ((estimate - sd.square()) / mcse).abs().min() > 4.5
    assert result.acceptance_rate is None


def test_ula_step_moves_by_drift_plus_noise():
    mean, sd, log_density = target()
    z = torch.zeros(T, 1, dtype=torch.float64)
    state = ula_init(z, log_density)
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    new, info = ula_step(state, log_density, 0.2, gen_a)
    noise = torch.randn(z.shape, generator=gen_b, dtype=z.dtype)
    expected = z + 0.5 * 0.2**2 * (mean - z) / sd.square() + 0.2 * noise
    torch.testing.assert_close(new.position, expected)
    torch.testing.assert_close(new.log_density, log_density(expected))
    torch.testing.assert_close(info.move_norm, (expected - z).norm(dim=-1))


def test_sgld_with_an_exact_gradient_is_ula():
    _, _, log_density = target()

    def exact(position, generator):
        return value_and_grad(log_density, position)[1]

    ula = ula_init(torch.zeros(T, 1, dtype=torch.float64), log_density)
    sgld = sgld_init(torch.zeros(T, 1, dtype=torch.float64))
    gen_a, gen_b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(10):
        ula, _ = ula_step(ula, log_density, 0.3, gen_a)
        sgld, _ = sgld_step(sgld, exact, 0.3, gen_b)
    torch.testing.assert_close(sgld.position, ula.position)


def test_sgld_with_gaussian_gradient_noise_has_the_exact_ar1_stationary_variance():
    """With gradient noise ``tau zeta`` the recursion is AR(1) with ``a = 1 - h^2/(2 sigma^2)`` and
    innovation variance ``h^2 + h^4 tau^2 / 4``, stationary variance
    ``(h^2 + h^4 tau^2 / 4) / (1 - a^2)``."""
    mean, sd, log_density = target(1)
    tau = 1.0 / sd  # gradient noise on the gradient's own scale
    noise_gen = torch.Generator().manual_seed(11)

    def noisy(position, generator):
        grad = value_and_grad(log_density, position)[1]
        return grad + tau * torch.randn(grad.shape, generator=noise_gen, dtype=grad.dtype)

    h = 0.5 * sd
    state = sgld_init(mean.expand(C, T, 1).clone())
    gen = torch.Generator().manual_seed(6)
    draws = []
    for i in range(4200):
        state, _ = sgld_step(state, noisy, h.squeeze(-1), gen)
        if i >= 200:
            draws.append(state.position)
    squares = (torch.stack(draws) - mean).square()
    mcse = (
        squares.std(dim=(0, 1))
        / effective_sample_size(squares, layout="draw chain frame dim").sqrt()
    )
    a = 1 - h.square() / (2 * sd.square())
    stationary = (h.square() + h.pow(4) * tau.square() / 4) / (1 - a.square())
    assert ((squares.mean((0, 1)) - stationary) / mcse).abs().max() < 4.5


def test_polynomial_step_sizes_follow_welling_and_teh():
    steps = polynomial_step_sizes(0.2, 5, gamma=0.55, offset=1.0)
    expected = torch.tensor([0.2 * (1.0 / (1.0 + t)) ** 0.275 for t in range(5)])
    torch.testing.assert_close(steps, expected.to(steps.dtype))


def test_langevin_e_step_returns_the_retained_samples():
    _, _, log_density = target()
    e_step = LangevinEStep(n_steps=12, burn_in=4, keep_every=2, step_size=0.1)
    start = e_step.init(torch.zeros(C, T, 1, dtype=torch.float64))
    state, result = e_step.step(start, log_density, torch.Generator().manual_seed(0))
    assert torch.equal(state.position, result.position) and state.step_size == 0.1
    assert result.samples.shape == (4, C, T, 1)
    assert torch.equal(result.samples[-1], result.position)
    assert result.acceptance_rate is None


@pytest.mark.parametrize("decay", [None, 0.6])
def test_langevin_e_step_with_a_stochastic_gradient_factory(decay):
    _, _, log_density = target()

    def factory(fn):
        return lambda position, generator: value_and_grad(fn, position)[1]

    e_step = LangevinEStep(
        n_steps=6, burn_in=3, step_size=0.1, grad_estimator=factory, step_decay=decay
    )
    start = e_step.init(torch.zeros(T, 1, dtype=torch.float64))
    _, result = e_step.step(start, log_density, torch.Generator().manual_seed(0))
    assert result.samples.shape == (3, T, 1)
