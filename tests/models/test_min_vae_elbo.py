"""The MIN-VAE's enumerated ELBO is the ELBO summed over alpha by hand, and its gradient is the
gradient a plain Monte-Carlo (score-function) estimator targets."""

from __future__ import annotations

import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceEnum_ELBO
from pyro.poutine.messenger import Messenger

from avgen.models.vae import MinVAEConfig, MixtureInferenceVAE

T, N_FREQ, LIP_DIM, LATENT = 5, 6, 4, 2


class _Record(Messenger):
    """Keeps the value and distribution of every sample site the wrapped function runs."""

    def __init__(self) -> None:
        super().__init__()
        self.sites: dict[str, dict] = {}

    def _postprocess_message(self, msg: dict) -> None:
        if msg["type"] == "sample":
            self.sites[msg["name"]] = {"value": msg["value"], "fn": msg["fn"]}


def _small_min_vae(responsibility: str, seed: int = 0) -> tuple[MixtureInferenceVAE, ...]:
    torch.manual_seed(seed)
    model = MixtureInferenceVAE(
        MinVAEConfig(
            n_freq=N_FREQ,
            latent_dim=LATENT,
            hidden_dim=5,
            lip_dim=LIP_DIM,
            visual_hidden_dim=6,
            gate_hidden_dim=3,
            responsibility=responsibility,
        )
    ).double()
    with torch.no_grad():  # move every parameter off its symmetric start
        model.prior_loc.normal_(0.0, 0.5)
        model.prior_log_var.normal_(0.0, 0.3)
        model.visual_logit.fill_(-0.4)
    power = torch.rand(T, N_FREQ, dtype=torch.float64) * 2.0
    lips = torch.rand(T, LIP_DIM, dtype=torch.float64)
    model.initialize_from_data(power)
    return model, power, lips


def _hand_summed_elbo(model: MixtureInferenceVAE, power, lips, z, q_logits) -> torch.Tensor:
    """sum_t sum_k q(k) [log p(s|z_k) + log p(z_k|k) - log q(z_k|k) + log p(k) - log q(k)]."""
    loc, scale, _ = model.component_posteriors(power, lips)  # (2, T, L)
    log_q_z = torch.distributions.Normal(loc, scale).log_prob(z).sum(-1)  # (2, T)
    p_loc, p_scale = model.component_prior()  # (2, L)
    log_p_z = torch.distributions.Normal(p_loc[:, None], p_scale[:, None]).log_prob(z).sum(-1)
    variance = torch.exp(model.decoder(z))  # (2, T, F)
    log_p_s = torch.distributions.Exponential(1.0 / variance).log_prob(power).sum(-1)
    pi_logit = model.visual_logit
    log_p_alpha = torch.stack([F.logsigmoid(-pi_logit), F.logsigmoid(pi_logit)])[:, None]
    log_q_alpha = torch.stack([F.logsigmoid(-q_logits), F.logsigmoid(q_logits)])  # (2, T)
    inner = log_p_s + log_p_z - log_q_z + log_p_alpha - log_q_alpha
    return (log_q_alpha.exp() * inner).sum()


@pytest.mark.parametrize("responsibility", ["amortized", "closed-form"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_enumerated_elbo_equals_elbo_summed_over_alpha_by_hand(responsibility, seed):
    model, power, lips = _small_min_vae(responsibility, seed)
    record = _Record()
    guide = record(model.training_guide())
    with pyro.get_param_store().scope():
        loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model.model, guide, power, lips)
    alpha = record.sites["alpha"]["value"]
    assert alpha.shape == (2, 1) and alpha.flatten().tolist() == [0.0, 1.0]  # enumerated
    z = record.sites["z"]["value"]
    assert z.shape == (2, T, LATENT)  # one reparameterised draw per component
    q_logits = record.sites["alpha"]["fn"].logits
    if responsibility == "amortized":  # the gate's logits, recomputed, are the same
        torch.testing.assert_close(q_logits, model.visual_logits(power, lips))
    with torch.no_grad():
        hand = _hand_summed_elbo(model, power, lips, z, q_logits)
    assert -loss == pytest.approx(hand.item(), rel=1e-10, abs=1e-9)


def _gradient_draws(
    model, power, lips, elbo, guide, n_draws: int, seed: int, params: dict[str, torch.Tensor]
) -> torch.Tensor:
    """``n_draws`` independent estimates of d ELBO / d params (rows), each from ``elbo``."""
    torch.manual_seed(seed)
    rows = []
    with pyro.get_param_store().scope():
        for _ in range(n_draws):
            model.zero_grad()
            elbo.loss_and_grads(model.model, guide, power, lips)
            rows.append(torch.stack([-p.grad[idx] for p, idx in params.values()]))
    return torch.stack(rows)


def test_enumerated_gradient_agrees_with_monte_carlo_within_standard_error():
    model, power, lips = _small_min_vae("amortized", seed=3)
    with torch.no_grad():  # a gate far from its optimum, so that its gradient is large
        model.gate[2].bias.fill_(-2.5)
    # scalar components of the gradient: prior weight, component priors, gate, both encoders,
    # decoder
    params = {
        "visual_logit": (model.visual_logit, ()),
        "prior_log_var[visual]": (model.prior_log_var, (1,)),
        "prior_loc[audio, 0]": (model.prior_loc, (0, 0)),
        "gate bias": (model.gate[2].bias, (0,)),
        "gate weight": (model.gate[2].weight, (0, 1)),
        "audio head loc bias": (model.audio_encoder.head.loc.bias, (0,)),
        "visual head logvar bias": (model.visual_encoder.head.logvar.bias, (1,)),
        "decoder output bias": (model.decoder.output.bias, (2,)),
    }
    draws, particles = 80, 16
    enum = _gradient_draws(
        model,
        power,
        lips,
        TraceEnum_ELBO(num_particles=particles, vectorize_particles=True, max_plate_nesting=1),
        model.training_guide(),
        draws,
        10,
        params,
    )
    mc = _gradient_draws(
        model,
        power,
        lips,
        Trace_ELBO(num_particles=particles, vectorize_particles=True, max_plate_nesting=1),
        model.guide,
        draws,
        20,
        params,
    )  # alpha sampled: score function
    se_enum = enum.std(0) / draws**0.5
    se_mc = mc.std(0) / draws**0.5
    gap = (enum.mean(0) - mc.mean(0)).abs()
    bound = 4 * torch.sqrt(se_enum**2 + se_mc**2)
    report = {
        name: (f"enum {e:.4f}+-{se:.4f}", f"mc {m:.4f}+-{sm:.4f}")
        for name, e, se, m, sm in zip(params, enum.mean(0), se_enum, mc.mean(0), se_mc)
    }
    assert (gap <= bound).all(), report
    # the check has teeth: the tolerance is smaller than the gradient itself, so an error of
    # that size (a dropped or doubled term) would fail ...
    assert (enum.mean(0).abs() > bound).sum() >= len(params) - 2, report
    assert enum.mean(0)[3].abs() > 2 * bound[3], report  # the gate, above all
    # ... and summing alpha out removes the score-function noise of the discrete parts
    discrete = [0, 3, 4]  # prior weight, gate bias, gate weight
    assert (se_enum[discrete] < se_mc[discrete] / 2).all(), report


def test_closed_form_responsibilities_maximise_the_enumerated_elbo_in_q_alpha():
    model, power, lips = _small_min_vae("closed-form", seed=4)
    model.config = MinVAEConfig(**{**model.config.to_dict(), "responsibility_samples": 4000})
    torch.manual_seed(5)
    with torch.no_grad():
        best = model.visual_logits(power, lips, method="closed-form")

    def elbo_with(logits: torch.Tensor) -> float:
        fixed = lambda *args, **kwargs: logits  # noqa: E731
        original = model.visual_logits
        model.visual_logits = fixed
        try:
            torch.manual_seed(6)  # the same z draws for every q(alpha)
            with pyro.get_param_store().scope():
                return -TraceEnum_ELBO(
                    num_particles=4000, vectorize_particles=True, max_plate_nesting=1
                ).loss(model.model, model.training_guide(), power, lips)
        finally:
            model.visual_logits = original

    at_best = elbo_with(best)
    for shift in (-0.7, 0.7):
        for t in range(T):
            other = best.clone()
            other[t] += shift
            assert elbo_with(other) < at_best


def test_latent_log_prior_is_the_model_marginalised_over_alpha():
    model, power, lips = _small_min_vae("amortized", seed=6)
    z = torch.randn(T, LATENT, dtype=torch.float64)
    per_alpha = []
    for value in (0.0, 1.0):
        conditioned = poutine.condition(
            model.model, data={"alpha": torch.full((T,), value, dtype=torch.float64), "z": z}
        )
        trace = poutine.trace(conditioned).get_trace(power, lips)
        trace.compute_log_prob()
        per_alpha.append(trace.nodes["alpha"]["log_prob"] + trace.nodes["z"]["log_prob"])
    expected = torch.logsumexp(torch.stack(per_alpha), dim=0)
    torch.testing.assert_close(model.latent_log_prior(z), expected)
