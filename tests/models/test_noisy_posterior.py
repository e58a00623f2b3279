"""Every speech prior's enhancement posterior as a Pyro model equals the fused density.

For each prior (A-VAE, V-VAE, AV-VAE, AV-CVAE, MIN-VAE with its mixture), the Pyro model of the
noisy observation ``x = sqrt(g) s + b`` at fixed NMF parameters, traced, and the fused density
the per-frame kernels use differ by the stated constant, in values and gradients, in float64;
and NUTS runs on the potential.
"""

from __future__ import annotations

import math

import pytest
import torch
from pyro.infer import MCMC, NUTS

from avgen.models.vae import MODEL_NAMES, build_model
from avgen.models.vae.noisy_posterior import noisy_posterior
from inference.gaussian_scale import GaussianScaleLogDensity
from inference.mh import value_and_grad
from inference.nmf import NMFParams
from inference.traces import per_frame_log_joint

T, F, LIP_DIM, LATENT, RANK = 6, 10, 16, 3, 2
SMALL = {"n_freq": F, "latent_dim": LATENT, "hidden_dim": 8, "lip_dim": LIP_DIM}


def problem(name: str, seed: int = 0):
    model = build_model(name, seed=seed, visual_hidden_dim=12, **SMALL).double().eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # trained-looking priors: components apart, pi away from 1/2
        for parameter in (getattr(model, "prior_loc", None), getattr(model, "visual_logit", None)):
            if parameter is not None:
                parameter.copy_(torch.randn(parameter.shape, generator=gen, dtype=torch.float64))
        if hasattr(model, "prior_log_var"):
            model.prior_log_var.copy_(torch.tensor([-0.5, 0.4], dtype=torch.float64))
    x = torch.complex(
        torch.randn(T, F, generator=gen, dtype=torch.float64),
        torch.randn(T, F, generator=gen, dtype=torch.float64),
    )
    lips = torch.rand(T, LIP_DIM, generator=gen, dtype=torch.float64)
    noise = NMFParams(
        torch.rand(F, RANK, generator=gen, dtype=torch.float64) + 0.1,
        torch.rand(RANK, T, generator=gen, dtype=torch.float64) + 0.1,
        torch.rand(T, generator=gen, dtype=torch.float64) + 0.5,
    )
    z = 1.5 * torch.randn(4, T, LATENT, generator=gen, dtype=torch.float64)
    return model, x, (lips if model.uses_lips else None), noise, z


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fused_density_equals_the_noisy_pyro_model_in_values_and_gradients(name):
    model, x, lips, noise, z = problem(name)
    posterior = noisy_posterior(model, x, lips, noise)
    trace = per_frame_log_joint(posterior.model, {"z": z})
    fused = posterior.log_density(z)
    expected_offset = F * math.log(math.pi)
    if isinstance(posterior.log_density, GaussianScaleLogDensity):  # an N(0, I) prior
        expected_offset += 0.5 * LATENT * math.log(2 * math.pi)
    assert posterior.constant_offset == pytest.approx(expected_offset)
    torch.testing.assert_close(fused, trace + expected_offset, rtol=1e-12, atol=1e-10)
    _, grad_fused = value_and_grad(posterior.log_density, z)
    _, grad_trace = value_and_grad(lambda w: per_frame_log_joint(posterior.model, {"z": w}), z)
    torch.testing.assert_close(grad_fused, grad_trace, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_the_latent_distribution_is_the_models_own_prior(name):
    model, _, lips, _, z = problem(name, seed=1)
    context = model.visual_context(lips) if model.conditions_on_lips else None
    prior = model.latent_distribution(T, visual_context=context)
    assert prior.batch_shape == (T,) and prior.event_shape == (LATENT,)
    torch.testing.assert_close(prior.log_prob(z), model.latent_log_prior(z, lips))


def test_power_input_gives_the_same_posterior_without_the_log_pi_terms():
    model, x, lips, noise, z = problem("min-vae", seed=2)
    exact = noisy_posterior(model, x, lips, noise)
    power = noisy_posterior(model, x.abs().square(), lips, noise)
    assert power.likelihood == "exponential"
    torch.testing.assert_close(power.log_density(z), exact.log_density(z))
    torch.testing.assert_close(
        per_frame_log_joint(power.model, {"z": z}),
        per_frame_log_joint(exact.model, {"z": z}) + F * math.log(math.pi),
    )


def test_a_subset_of_frames_is_the_subset_of_the_posterior():
    model, x, lips, noise, z = problem("av-cvae", seed=3)
    full = noisy_posterior(model, x, lips, noise)
    part = noisy_posterior(model, x, lips, noise, frames=slice(2, 5))
    torch.testing.assert_close(part.log_density(z[:, 2:5]), full.log_density(z)[:, 2:5])
    torch.testing.assert_close(part.initial_position, full.initial_position[2:5])


def test_the_potential_is_minus_the_summed_log_density_on_dict_or_flat_parameters():
    model, x, lips, noise, z = problem("min-vae", seed=4)
    posterior = noisy_posterior(model, x, lips, noise)
    expected = -posterior.log_density(z[0]).sum()
    torch.testing.assert_close(posterior.potential_fn()({"z": z[0]}), expected)
    torch.testing.assert_close(posterior.potential_fn(flat=True)({"z": z[0].flatten()}), expected)


def test_nuts_runs_on_a_min_vae_enhancement_posterior():
    model, x, lips, noise, _ = problem("min-vae", seed=5)
    posterior = noisy_posterior(model, x, lips, noise, frames=slice(0, 2))
    mcmc = MCMC(
        NUTS(potential_fn=posterior.potential_fn(), max_tree_depth=4),
        num_samples=30,
        warmup_steps=30,
        initial_params={"z": posterior.initial_position},
        disable_progbar=True,
    )
    mcmc.run()
    samples = mcmc.get_samples()["z"]
    assert samples.shape == (30, 2, LATENT)
    assert torch.isfinite(samples).all() and samples.std(0).min() > 0
