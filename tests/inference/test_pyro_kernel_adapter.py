"""The per-frame kernel runs under ``pyro.infer.MCMC`` and samples the right posterior.

Conjugate per-frame model: ``z_t ~ N(0, I_2)``, ``y_t | z_t ~ N(z_t, s^2 I)`` so that
``z_t | y_t ~ N(y_t / (1 + s^2), s^2 / (1 + s^2) I)``. Posterior means are compared in MCSE units
(max over 2T = 64 elements below 4.5: false failure < 1e-3).
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import MCMC

from inference.chain import MALA, RWM, ULA
from inference.diagnostics import effective_sample_size
from inference.errors import InferenceError
from inference.pyro_kernel import PerFrameKernel
from inference.traces import per_frame_log_density

T, D, NOISE_SD = 32, 2, 0.7


def model(y):
    with pyro.plate("frames", y.shape[0], dim=-1):
        z = pyro.sample("z", dist.Normal(torch.zeros(D), 1.0).to_event(1))
        pyro.sample("y", dist.Normal(z, NOISE_SD).to_event(1), obs=y)


def observations(seed=0):
    return 1.5 * torch.randn(T, D, generator=torch.Generator().manual_seed(seed))


def posterior(y):
    shrink = 1.0 / (1.0 + NOISE_SD**2)
    return y * shrink, (NOISE_SD**2 * shrink) ** 0.5


@pytest.mark.parametrize("kernel", [RWM, MALA], ids=["rwm", "mala"])
def test_per_frame_kernel_under_pyro_mcmc_matches_the_conjugate_posterior(kernel):
    y = observations()
    pyro.set_rng_seed(0)
    mcmc_kernel = PerFrameKernel(
        model, "z", kernel=kernel, step_size=0.5, generator=torch.Generator().manual_seed(1)
    )
    mcmc = MCMC(mcmc_kernel, num_samples=3000, warmup_steps=300, disable_progbar=True)
    mcmc.run(y)
    samples = mcmc.get_samples()["z"]
    assert samples.shape == (3000, T, D)
    mean, _ = posterior(y)
    ess = effective_sample_size(samples, chain_dim=None)
    assert ess.min() > 100
    z = (samples.mean(0) - mean) / (samples.std(0) / ess.sqrt())
    assert z.abs().max() < 4.5
    rate = mcmc.diagnostics()["acceptance rate"]["chain 0"]
    assert abs(rate - kernel.target_acceptance) < 0.1
    assert mcmc_kernel.acceptance_rate.shape == (T,)


def test_the_adapter_accepts_a_direct_log_density_and_chains_on_the_left():
    y = observations(1)
    mean, _ = posterior(y)

    def fused(z):  # the same log joint, written by hand
        return -0.5 * z.square().sum(-1) - 0.5 * ((y - z) / NOISE_SD).square().sum(-1)

    kernel = PerFrameKernel(
        log_density_fn=fused,
        initial_position=torch.zeros(3, T, D),
        site="z",
        generator=torch.Generator().manual_seed(2),
    )
    mcmc = MCMC(kernel, num_samples=1500, warmup_steps=300, disable_progbar=True)
    mcmc.run()
    samples = mcmc.get_samples()["z"]
    assert samples.shape == (1500, 3, T, D)
    ess = effective_sample_size(samples, layout="draw chain frame dim")
    z = (samples.mean((0, 1)) - mean) / (samples.std(dim=(0, 1)) / ess.sqrt())
    assert z.abs().max() < 4.5


def test_generic_trace_density_and_hand_written_density_agree():
    y = observations(2)
    z = torch.randn(4, T, D)
    traced = per_frame_log_density(model, "z", y)(z)
    by_hand = dist.Normal(0.0, 1.0).log_prob(z).sum(-1) + dist.Normal(z, NOISE_SD).log_prob(y).sum(
        -1
    )
    torch.testing.assert_close(traced, by_hand)


def test_adapter_rejects_kernels_without_accept_reject_and_missing_inputs():
    with pytest.raises(InferenceError, match="accept/reject"):
        PerFrameKernel(model, "z", kernel=ULA)
    with pytest.raises(InferenceError, match="log_density_fn"):
        PerFrameKernel(None, "z")
