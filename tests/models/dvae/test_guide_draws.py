"""The temporal priors' reparameterised guide draws (what variational EM fine-tunes at test time,
Bie et al. 2022) are the Pyro guide's own distribution: the per-frame ``log q`` of a draw equals
the log-probability of the Pyro guide's trace conditioned on it; ``eps = 0`` follows the guide's
mean path; only the guide's weights move them."""

from __future__ import annotations

import pytest
import torch
from pyro import poutine

from avgen.errors import ConfigError
from avgen.models.dvae import DeepKalmanFilter, DKFConfig, RecurrentVAE, RVAEConfig
from avgen.models.dvae.hooks import GuideDraws
from inference.vem import used_weights

DKF = DKFConfig(n_freq=8, latent_dim=3, hidden_dim=8, transition_dim=6, rnn_dim=5)
RVAE = RVAEConfig(
    n_freq=8, latent_dim=3, decoder_rnn_dim=5, encoder_rnn_dim=4, latent_rnn_dim=3,
    encoder_hidden_dim=6,
)  # fmt: skip
T, S = 6, 4


def tiny(kind: str):
    torch.manual_seed(0)
    return DeepKalmanFilter(DKF) if kind == "dkf" else RecurrentVAE(RVAE)


def power_of(model) -> torch.Tensor:
    n_freq = model.config.n_freq
    return torch.rand(T, n_freq, generator=torch.Generator().manual_seed(1)) + 0.1


@pytest.mark.parametrize("kind", ["dkf", "rvae"])
def test_log_q_of_a_draw_is_the_pyro_guides_log_probability(kind):
    model = tiny(kind)
    power = power_of(model)
    eps = torch.randn(S, T, model.config.latent_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        z, log_q = model.guide_rsample(power, eps)
        sites = {f"z_{t}": z[:, t] for t in range(T)}
        trace = poutine.trace(poutine.condition(model.guide, data=sites)).get_trace(
            power.expand(S, T, -1)
        )
    trace.compute_log_prob()
    expected = torch.stack([trace.nodes[f"z_{t}"]["log_prob"] for t in range(T)], 1)
    assert z.shape == (S, T, model.config.latent_dim) and log_q.shape == (S, T)
    torch.testing.assert_close(log_q, expected)


@pytest.mark.parametrize("kind", ["dkf", "rvae"])
def test_no_noise_follows_the_guides_mean_path(kind):
    model = tiny(kind)
    power = power_of(model)
    with torch.no_grad():
        z, _ = model.guide_rsample(power, torch.zeros(1, T, model.config.latent_dim))
    torch.testing.assert_close(z[0], model.encode_path(power)[0])


@pytest.mark.parametrize("kind", ["dkf", "rvae"])
def test_only_the_guides_weights_move_the_draws(kind):
    model = tiny(kind)
    guide = GuideDraws(model)
    weights = {name: p.detach() for name, p in guide.named_parameters()}
    eps = torch.randn(2, T, model.config.latent_dim)
    moved = set(used_weights(guide, weights, (power_of(model), eps)))
    generative = ("transition", "decoder") if kind == "dkf" else ("decoder_rnn", "decoder_output")
    guide_parts = (
        {"features", "rnn", "combiner"}
        if kind == "dkf"
        else {"encoder_rnn", "latent_rnn", "encoder_hidden", "encoder_loc", "encoder_scale"}
    )
    parts = {name.split(".")[1] for name in moved}
    assert parts == guide_parts and not parts & set(generative)


def test_variational_em_starts_from_the_guide_only():
    model = tiny("dkf")
    with pytest.raises(ConfigError, match="use --init audio"):
        model.vem_encoder(power_of(model), None, "prior")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (cuDNN RNNs)")
@pytest.mark.parametrize("kind", ["dkf", "rvae"])
def test_the_guide_fine_tunes_on_cuda_with_the_prior_in_eval_mode(kind):
    model = tiny(kind).eval().cuda()
    guide = GuideDraws(model)
    weights = {name: p.detach().requires_grad_(True) for name, p in guide.named_parameters()}
    eps = torch.randn(2, T, model.config.latent_dim, device="cuda")
    z, log_q = torch.func.functional_call(guide, weights, (power_of(model).cuda(), eps))
    grads = torch.autograd.grad((z.sum() + log_q.sum()), list(weights.values()), allow_unused=True)
    assert any(g is not None for g in grads)
