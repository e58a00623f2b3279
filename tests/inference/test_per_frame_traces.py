"""Per-frame log joints from Pyro traces, and the fused Gaussian-scale density replacing them."""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import pytest
import torch

from inference.errors import InferenceError
from inference.gaussian_scale import GaussianScaleLogDensity, gaussian_scale_model
from inference.mh import value_and_grad
from inference.traces import per_frame_log_density, per_frame_log_joint
from tests.inference.inference_models import make_decoder

T, F, D = 7, 5, 3


def normal_normal_model(y: torch.Tensor, noise_sd: float) -> None:
    with pyro.plate("frames", y.shape[0], dim=-1):
        z = pyro.sample("z", dist.Normal(torch.zeros(y.shape[1]), 1.0).to_event(1))
        pyro.sample("y", dist.Normal(z, noise_sd).to_event(1), obs=y)


def test_per_frame_log_joint_is_the_sum_of_each_frames_log_densities():
    y = torch.randn(T, D, dtype=torch.float64)
    z = torch.randn(T, D, dtype=torch.float64)
    expected = (dist.Normal(0.0, 1.0).log_prob(z) + dist.Normal(z, 0.5).log_prob(y)).sum(-1)
    got = per_frame_log_joint(normal_normal_model, {"z": z}, y, 0.5)
    assert got.shape == (T,)
    torch.testing.assert_close(got, expected)


def test_chains_broadcast_on_the_left():
    y = torch.randn(T, D, dtype=torch.float64)
    z = torch.randn(4, 2, T, D, dtype=torch.float64)
    got = per_frame_log_joint(normal_normal_model, {"z": z}, y, 0.5)
    assert got.shape == (4, 2, T)
    torch.testing.assert_close(
        got[3, 1], per_frame_log_joint(normal_normal_model, {"z": z[3, 1]}, y, 0.5)
    )


def test_sites_in_nested_plates_are_summed_into_their_frame():
    def model(y):
        with pyro.plate("frames", T, dim=-1):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            with pyro.plate("bins", F, dim=-2):
                pyro.sample("y", dist.Normal(z, 1.0), obs=y)

    y = torch.randn(F, T, dtype=torch.float64)
    z = torch.randn(T, dtype=torch.float64)
    got = per_frame_log_joint(model, {"z": z}, y)
    expected = dist.Normal(0.0, 1.0).log_prob(z) + dist.Normal(z, 1.0).log_prob(y).sum(-2)
    assert got.shape == (T,)
    torch.testing.assert_close(got, expected)


def test_a_latent_left_unconditioned_is_an_error():
    def model():
        with pyro.plate("frames", T, dim=-1):
            pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("w", dist.Normal(0.0, 1.0))

    with pytest.raises(InferenceError, match="'w'"):
        per_frame_log_joint(model, {"z": torch.zeros(T)})


def test_a_latent_outside_the_frames_plate_is_an_error():
    def model():
        pyro.sample("z", dist.Normal(0.0, 1.0))
        with pyro.plate("frames", T, dim=-1):
            pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.zeros(T))

    with pytest.raises(InferenceError, match="outside the plate"):
        per_frame_log_joint(model, {"z": torch.tensor(0.0)})


def _gaussian_scale_problem(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    decoder = make_decoder(D, F, seed=seed, dtype=torch.float64)
    x = torch.complex(
        torch.randn(T, F, generator=gen, dtype=torch.float64),
        torch.randn(T, F, generator=gen, dtype=torch.float64),
    )
    fixed = torch.rand(T, F, generator=gen, dtype=torch.float64) + 0.1
    gain = torch.rand(T, generator=gen, dtype=torch.float64) + 0.5
    z = torch.randn(4, T, D, generator=gen, dtype=torch.float64)
    return decoder, x, fixed, gain, z


def test_fused_density_equals_the_complex_normal_trace_up_to_the_stated_constant():
    decoder, x, fixed, gain, z = _gaussian_scale_problem()
    fused = GaussianScaleLogDensity(x.abs().square(), decoder, fixed, gain)
    trace = per_frame_log_joint(gaussian_scale_model, {"z": z}, x, decoder, fixed, D, gain)
    offset = F * math.log(math.pi) + 0.5 * D * math.log(2 * math.pi)
    assert fused.constant_offset(D) == pytest.approx(offset)
    torch.testing.assert_close(fused(z), trace + offset, rtol=1e-12, atol=1e-10)


def test_exponential_likelihood_trace_differs_from_the_complex_normal_by_log_pi_per_bin():
    decoder, x, fixed, gain, z = _gaussian_scale_problem(1)
    exact = per_frame_log_joint(gaussian_scale_model, {"z": z}, x, decoder, fixed, D, gain)
    cheap = per_frame_log_joint(
        gaussian_scale_model, {"z": z}, x, decoder, fixed, D, gain, likelihood="exponential"
    )
    torch.testing.assert_close(cheap - exact, torch.full_like(exact, F * math.log(math.pi)))


def test_fused_gradient_equals_the_trace_gradient():
    decoder, x, fixed, gain, z = _gaussian_scale_problem(2)
    fused = GaussianScaleLogDensity(x.abs().square(), decoder, fixed, gain)
    generic = per_frame_log_density(gaussian_scale_model, "z", x, decoder, fixed, D, gain)
    value_fused, grad_fused = value_and_grad(fused, z)
    value_trace, grad_trace = value_and_grad(generic, z)
    torch.testing.assert_close(value_fused, value_trace + fused.constant_offset(D))
    torch.testing.assert_close(grad_fused, grad_trace)


def test_fused_density_without_gain_and_in_place_path_agree_with_autograd_path():
    decoder, x, fixed, _, z = _gaussian_scale_problem(3)
    fused = GaussianScaleLogDensity(x.abs().square(), decoder, fixed)
    no_grad = fused(z)
    with_grad = fused(z.clone().requires_grad_(True)).detach()
    torch.testing.assert_close(no_grad, with_grad)


def test_fused_density_rejects_a_frequency_major_observation():
    decoder, x, fixed, _, _ = _gaussian_scale_problem()
    with pytest.raises(InferenceError, match="fixed_variance"):
        GaussianScaleLogDensity(x.abs().square().mT, decoder, fixed)
