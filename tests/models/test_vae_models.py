"""The VAE speech priors as Pyro programs: shapes, plates, likelihood, and the plain-torch API
agreeing with the Pyro specification."""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine

from avgen.errors import ConfigError, VideoError
from avgen.models.vae import MODEL_NAMES, build_model
from avgen.models.vae.likelihood import (
    complex_gaussian_log_likelihood,
    exponential_log_likelihood,
    exponential_log_likelihood_from_log_variance,
)

T, N_FREQ, LIP_DIM, LATENT = 9, 12, 64, 3
SMALL = {
    "n_freq": N_FREQ,
    "latent_dim": LATENT,
    "hidden_dim": 8,
    "lip_dim": LIP_DIM,
    "visual_hidden_dim": 16,
}


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    power = torch.rand(T, N_FREQ, generator=g) * 4.0
    lips = torch.rand(T, LIP_DIM, generator=g)
    return power, lips


def test_exponential_on_power_equals_complex_gaussian_up_to_log_pi_per_bin():
    g = torch.Generator().manual_seed(0)
    variance = torch.rand(T, N_FREQ, generator=g, dtype=torch.float64) * 3 + 0.1
    spec = torch.complex(
        torch.randn(T, N_FREQ, generator=g, dtype=torch.float64),
        torch.randn(T, N_FREQ, generator=g, dtype=torch.float64),
    )
    # the oracle: two real Normals N(0, v/2) on (Re s, Im s)
    oracle = (
        dist.Normal(0.0, (variance / 2).sqrt().unsqueeze(-1))
        .log_prob(torch.view_as_real(spec))
        .sum((-1, -2))
    )
    exponential = dist.Exponential(1.0 / variance).log_prob(spec.abs() ** 2).sum(-1)
    torch.testing.assert_close(complex_gaussian_log_likelihood(spec, variance), oracle)
    torch.testing.assert_close(exponential - N_FREQ * math.log(math.pi), oracle)
    torch.testing.assert_close(exponential_log_likelihood(spec.abs() ** 2, variance), exponential)
    torch.testing.assert_close(
        exponential_log_likelihood_from_log_variance(spec.abs() ** 2, variance.log()), exponential
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_and_guide_have_the_frames_plate_and_frames_major_sites(name):
    model = build_model(name, **SMALL)
    power, lips = _data()
    model.initialize_from_data(power)
    with pyro.get_param_store().scope():
        guide_trace = poutine.trace(model.guide).get_trace(power, lips)
        model_trace = poutine.trace(poutine.replay(model.model, trace=guide_trace)).get_trace(
            power, lips
        )
    z = guide_trace.nodes["z"]
    assert z["value"].shape == (T, LATENT)
    assert z["fn"].event_shape == (LATENT,)
    assert [(f.name, f.dim, f.size) for f in z["cond_indep_stack"]] == [("frames", -1, T)]
    obs = model_trace.nodes["power"]
    assert obs["is_observed"] and obs["fn"].batch_shape == (T,)
    assert obs["fn"].event_shape == (N_FREQ,)
    assert isinstance(obs["fn"].base_dist, dist.Exponential)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_plain_torch_densities_equal_the_pyro_model_trace(name):
    """log_likelihood + latent_log_prior (the fused path for MCMC) == the Pyro model's log
    density of (z, power) per frame, alpha summed out for the MIN-VAE."""
    torch.manual_seed(1)
    model = build_model(name, **SMALL)
    power, lips = _data(1)
    model.initialize_from_data(power)
    z = torch.randn(T, LATENT)
    if name == "min-vae":
        per_alpha = []
        for a in (0.0, 1.0):
            cond = poutine.condition(model.model, data={"z": z, "alpha": torch.full((T,), a)})
            tr = poutine.trace(cond).get_trace(power, lips)
            tr.compute_log_prob()
            per_alpha.append(sum(tr.nodes[s]["log_prob"] for s in ("alpha", "z", "power")))
        expected = torch.logsumexp(torch.stack(per_alpha), 0)
    else:
        tr = poutine.trace(poutine.condition(model.model, data={"z": z})).get_trace(power, lips)
        tr.compute_log_prob()
        expected = tr.nodes["z"]["log_prob"] + tr.nodes["power"]["log_prob"]
    fused = model.log_likelihood(power, z, lips) + model.latent_log_prior(z, lips)
    torch.testing.assert_close(fused, expected)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_encoders_and_decoder_work_on_batched_chains(name):
    model = build_model(name, **SMALL)
    power, lips = _data()
    loc, scale = model.encode(power, lips)
    assert loc.shape == scale.shape == (T, LATENT) and (scale > 0).all()
    chains = torch.randn(4, T, LATENT)
    variance = model.decode(chains, lips)
    assert variance.shape == (4, T, N_FREQ) and (variance > 0).all()
    assert model.latent_log_prior(chains, lips).shape == (4, T)
    context = model.visual_context(lips) if model.conditions_on_lips else None
    torch.testing.assert_close(
        model.decode(chains, visual_context=context)
        if context is not None
        else model.decode(chains),
        variance,
    )


def test_audio_and_visual_encoders_where_the_model_has_them():
    power, lips = _data()
    a_vae, v_vae, min_vae = (build_model(n, **SMALL) for n in ("a-vae", "v-vae", "min-vae"))
    assert a_vae.encode_audio(power)[0].shape == (T, LATENT)
    assert v_vae.encode_visual(lips)[0].shape == (T, LATENT)
    torch.testing.assert_close(min_vae.encode(power, lips)[0], min_vae.encode_visual(lips)[0])
    torch.testing.assert_close(
        min_vae.encode(power, lips, component="audio")[0], min_vae.encode_audio(power)[0]
    )
    with pytest.raises(ConfigError, match="no visual-only encoder"):
        a_vae.encode_visual(lips)
    with pytest.raises(ConfigError, match="no audio-only encoder"):
        v_vae.encode_audio(power)


def test_kl_weight_scales_only_the_kl_term():
    """TraceMeanField_ELBO with beta in (0, 1]: loss = -E[log p(s|z)] + beta KL, affine in beta."""
    model = build_model("a-vae", **SMALL)
    power, _ = _data()
    model.initialize_from_data(power)
    elbo = model.make_elbo()

    def loss(beta: float) -> float:
        torch.manual_seed(3)
        with pyro.get_param_store().scope():
            return elbo.loss(model.model, model.guide, power, kl_weight=beta)

    low, high, mid = loss(0.25), loss(1.0), loss(0.625)
    assert mid == pytest.approx((low + high) / 2, rel=1e-6)
    loc, scale = model.encode(power)
    kl = torch.distributions.kl_divergence(dist.Normal(loc, scale), dist.Normal(0.0, 1.0)).sum()
    assert (high - low) / 0.75 == pytest.approx(kl.item(), rel=1e-4)


def test_av_cvae_prior_depends_on_the_lips_and_av_vae_decoder_too():
    _, lips = _data()
    other_lips = torch.rand(T, LIP_DIM)
    cvae = build_model("av-cvae", **SMALL)
    z = torch.zeros(T, LATENT)
    assert not torch.allclose(cvae.latent_log_prior(z, lips), cvae.latent_log_prior(z, other_lips))
    av = build_model("av-vae", **SMALL)
    assert not torch.allclose(av.decode(z, lips), av.decode(z, other_lips))
    a = build_model("a-vae", **SMALL)
    torch.testing.assert_close(a.latent_log_prior(z), dist.Normal(0.0, 1.0).log_prob(z).sum(-1))


def test_cnn_visual_network_option():
    model = build_model("v-vae", **{**SMALL, "visual_net": "cnn"})
    _, lips = _data()
    loc, _ = model.encode_visual(lips)
    assert loc.shape == (T, LATENT)
    loc.sum().backward()
    assert model.visual_encoder.features.net[0].weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="multiple of 8"):
        build_model("v-vae", **{**SMALL, "lip_dim": 12 * 12, "visual_net": "cnn"})
    with pytest.raises(ConfigError, match="not a square"):
        build_model("v-vae", **{**SMALL, "lip_dim": 60, "visual_net": "cnn"})


def test_bad_inputs_give_clear_errors():
    power, lips = _data()
    v_vae = build_model("v-vae", **SMALL)
    with pytest.raises(VideoError, match="needs the lips"):
        v_vae.model(power)
    with pytest.raises(VideoError, match="lips must be"):
        v_vae.guide(power, lips[:, :10])
    with pytest.raises(ConfigError, match="frames-major"):
        v_vae.model(power.T, lips)
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("b-vae")
    with pytest.raises(ConfigError, match="unknown option"):
        build_model("a-vae", latent=3)
    with pytest.raises(ConfigError, match="unknown size"):
        build_model("a-vae", size="huge")
    with pytest.raises(ConfigError, match="responsibility"):
        build_model("min-vae", responsibility="soft")
    with pytest.raises(ConfigError, match="no gate"):
        build_model("min-vae", **SMALL, responsibility="closed-form").visual_logits(
            power, lips, method="amortized"
        )


def test_size_presets_and_paper_sizes():
    paper = build_model("min-vae")
    assert (paper.config.n_freq, paper.config.latent_dim, paper.config.hidden_dim) == (513, 32, 128)
    assert paper.config.lip_dim == 32 * 32 and paper.config.visual_hidden_dim == 512
    small = build_model("min-vae", size="small")
    assert small.config.latent_dim == 16
    n_params = sum(p.numel() for p in build_model("av-cvae").parameters())
    assert n_params * 4 < 5e6  # the paper size stays under 5 MB of float32 weights
