"""The variational E-step fine-tunes the encoder only, increases the ELBO, and on a conjugate
model converges to the exact Gaussian posterior; it plugs into the same EM driver."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inference.errors import InferenceError
from inference.nmf import init_nmf
from inference.nmf_em import GaussianScaleNMF
from inference.vem import VariationalEStep
from tests.inference.inference_models import complex_normal, make_decoder

T, D = 16, 2


class FreeGaussian(nn.Module):
    """An 'encoder' whose output is a free mean and log-variance per frame."""

    def __init__(self):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(T, D, dtype=torch.float64))
        self.log_variance = nn.Parameter(torch.zeros(T, D, dtype=torch.float64))

    def forward(self, _):
        return self.mean, self.log_variance


def test_on_a_conjugate_model_the_variational_step_finds_the_exact_posterior():
    """z ~ N(0, I), y | z ~ N(z, s^2 I): the optimal Gaussian q is the posterior itself."""
    y = torch.randn(T, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    noise_var = 0.5

    def log_joint(z):
        return -0.5 * z.square().sum(-1) - 0.5 * (y - z).square().sum(-1) / noise_var

    encoder = FreeGaussian()
    options = {"n_samples": 4, "n_elbo_samples": 16}
    e_step = VariationalEStep(encoder, y, n_updates=1500, lr=0.05, **options)
    gen = torch.Generator().manual_seed(1)
    state, _ = e_step.step(e_step.init(), log_joint, gen)
    # Adam with a stochastic ELBO jitters on the scale of its learning rate: anneal it, by a
    # second E-step that continues the first one's state (weights and moments)
    annealed = VariationalEStep(encoder, y, n_updates=1500, lr=5e-4, **options)
    state, result = annealed.step(state, log_joint, gen)
    post_mean = y / (1 + noise_var)
    post_var = noise_var / (1 + noise_var)
    mean, log_variance = annealed.q(state)
    torch.testing.assert_close(mean, post_mean, atol=0.03, rtol=0)
    torch.testing.assert_close(
        log_variance.exp(),
        torch.full((T, D), post_var, dtype=torch.float64),
        atol=0.03,
        rtol=0,
    )
    assert result.samples.shape == (4, T, D)
    assert result.acceptance_rate is None


def _noisy_problem():
    gen = torch.Generator().manual_seed(0)
    decoder = make_decoder(D, 12, seed=1, scale=2.0)
    decoder.requires_grad_(True)  # the E-step must leave it alone even when it could learn
    z = torch.randn(T, D, generator=gen)
    noise = torch.full((T, 12), 0.3)
    x = complex_normal(decoder(z).exp().detach(), gen) + complex_normal(noise, gen)
    return decoder, x.abs().square(), noise


def test_the_encoder_learns_while_the_decoder_stays_frozen():
    decoder, power, _ = _noisy_problem()
    before = [p.detach().clone() for p in decoder.parameters()]
    encoder = nn.Sequential(nn.Linear(12, 2 * D))

    class Split(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, inputs):
            out = self.net(inputs.log())
            return out[..., :D], out[..., D:]

    model = Split(encoder)
    e_step = VariationalEStep(model, power, n_updates=60, lr=0.05, n_elbo_samples=8)
    problem = GaussianScaleNMF(power, decoder, e_step)
    params = init_nmf(power, 2, torch.Generator().manual_seed(0))
    density = problem.log_density(params)
    gen = torch.Generator().manual_seed(3)
    start = e_step.init()
    elbo_before = float(
        torch.stack([e_step.elbo(start, density, gen).sum().detach() for _ in range(20)]).mean()
    )
    end, _ = e_step.step(start, density, torch.Generator().manual_seed(4))
    elbo_after = float(
        torch.stack([e_step.elbo(end, density, gen).sum().detach() for _ in range(20)]).mean()
    )
    # the encoder module itself never changes: its fine-tuned weights live in the state
    assert all(
        torch.equal(w, dict(model.named_parameters())[n]) for n, w in start.extra.weights.items()
    )
    assert elbo_after > elbo_before + 1.0
    for p, q in zip(before, decoder.parameters()):
        assert torch.equal(p, q.detach()) and q.grad is None


def test_vem_runs_in_the_em_driver_and_improves_the_fit():
    decoder, power, _ = _noisy_problem()
    e_step = VariationalEStep(FreeGaussian().float(), power, n_updates=5, lr=0.05, n_samples=5)
    problem = GaussianScaleNMF(power, decoder, e_step)
    state = problem.init_state(2, torch.zeros(T, D), generator=torch.Generator().manual_seed(0))
    state, history = problem.run(state, n_iter=20, generator=torch.Generator().manual_seed(1))
    assert history.objective[-1] < history.objective[0]
    assert all(a is None for a in history.column("acceptance_rate"))
    assert state.source_variance.shape == (5, T, 12)


def test_an_encoder_whose_output_depends_on_no_weight_is_refused():
    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, _):
            return torch.zeros(T, D), torch.zeros(T, D)

    with pytest.raises(InferenceError, match="fine-tune"):
        VariationalEStep(Constant(), torch.zeros(3)).init()
