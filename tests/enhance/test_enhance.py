"""Unsupervised enhancement (avgen.pipelines.vae_nmf): target, starts, schemes, estimate, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avgen.audio import SAMPLE_RATE, VAE_STFT, stft
from avgen.errors import AudioError, ConfigError, VideoError
from avgen.metrics import si_sdr
from avgen.pipelines.vae_nmf.pipeline import (
    EMSchedule,
    enhance,
    enhance_batch,
)
from avgen.pipelines.vae_nmf.target import EncoderForVEM, initial_latents, prior_target
from inference.gaussian_scale import GaussianScaleLogDensity
from inference.vem import VariationalEStep

from .helpers import coloured_noise, lip_video, mix, speech_from_prior, tiny_model

SHORT = EMSchedule(n_iter=3, n_steps=6, burn_in=3)


def _noisy(model, n_frames=60, snr_db=0.0, seed=0):
    speech = speech_from_prior(model, n_frames, seed=seed)
    return speech, mix(speech, coloured_noise(speech.numel(), seed=seed + 1), snr_db)


@pytest.mark.parametrize("name", ["av-cvae", "min-vae"])
def test_target_with_the_models_prior_is_the_models_log_joint_up_to_a_constant(tiny_models, name):
    """With no noise and unit gain, the E-step target minus (log p(x|z) + log p(z)) of the
    model's own methods does not depend on z (float64)."""
    model = tiny_models[name].double()
    try:
        n_frames = 7
        g = torch.Generator().manual_seed(0)
        power = torch.rand(n_frames, model.config.n_freq, generator=g, dtype=torch.float64)
        lips = torch.rand(n_frames, model.config.lip_dim, generator=g, dtype=torch.float64)
        target = prior_target(model, lips, n_frames)
        base = GaussianScaleLogDensity(power, target.decoder, torch.full_like(power, 1e-300), None)
        from inference.prior_terms import CorrectedDensity

        density = CorrectedDensity(base, target.prior_correction)
        z = torch.randn(5, n_frames, model.config.latent_dim, generator=g, dtype=torch.float64)
        with torch.no_grad():
            reference = model.log_likelihood(power, z, lips) + model.latent_log_prior(z, lips)
            gap = density(z) - reference
        scale = float(reference.abs().max())
        torch.testing.assert_close(gap, gap[:1].expand_as(gap), rtol=0, atol=1e-12 * scale)
        # and its gradient is the log joint's (what MALA and Langevin follow)
        zg = z.clone().requires_grad_(True)
        grad_gap = (
            torch.autograd.grad(density(zg).sum(), zg)[0]
            - torch.autograd.grad(
                (model.log_likelihood(power, zg, lips) + model.latent_log_prior(zg, lips)).sum(), zg
            )[0]
        )
        assert float(grad_gap.abs().max()) < 1e-12 * scale
    finally:
        model.float()


@pytest.mark.parametrize("n_components", [1, 2, 3])
def test_mixture_prior_correction_is_the_mixture_log_density_plus_half_square_norm(n_components):
    """``||z||^2/2 + log sum_k pi_k N(z; mu_k, s2_k I)``, against torch.distributions (float64)."""
    from inference.prior_terms import MixturePriorCorrection

    g = torch.Generator().manual_seed(n_components)
    dim = 4
    log_weights = torch.log_softmax(torch.randn(n_components, generator=g, dtype=torch.float64), 0)
    loc = torch.randn(n_components, dim, generator=g, dtype=torch.float64)
    variance = torch.rand(n_components, generator=g, dtype=torch.float64) + 0.3
    z = torch.randn(3, 5, dim, generator=g, dtype=torch.float64)
    components = torch.distributions.Independent(
        torch.distributions.Normal(loc, variance.sqrt().unsqueeze(-1).expand(-1, dim)), 1
    )
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(logits=log_weights), components
    )
    expected = mixture.log_prob(z) + 0.5 * z.square().sum(-1)
    got = MixturePriorCorrection(log_weights, loc, variance)(z)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_standard_normal_priors_use_the_fused_density_unchanged(tiny_models):
    for name in ("a-vae", "v-vae", "av-vae"):
        lips = torch.rand(4, 64)
        assert prior_target(tiny_models[name], lips, 4).prior_correction is None


@pytest.mark.parametrize(
    "name, init, expected",
    [
        ("a-vae", "audio", None),
        ("a-vae", "prior", None),
        ("v-vae", "visual", None),
        ("av-vae", "audio", None),
        ("av-cvae", "prior", None),
        ("min-vae", "visual", None),
        ("min-vae", "audio", None),
        ("min-vae", "mixture", None),
        ("min-vae", "prior", None),
        ("a-vae", "visual", ConfigError),
        ("v-vae", "audio", ConfigError),
        ("av-vae", "mixture", ConfigError),
        ("a-vae", "sideways", ConfigError),
    ],
)
def test_initialisations(tiny_models, name, init, expected):
    model = tiny_models[name]
    power, lips = torch.rand(9, model.config.n_freq), torch.rand(9, 64)
    if expected is not None:
        with pytest.raises(expected):
            initial_latents(model, power, lips, init)
        return
    z0 = initial_latents(model, power, lips, init)
    assert z0.shape == (9, model.config.latent_dim) and torch.isfinite(z0).all()
    if init == "visual":
        torch.testing.assert_close(z0, model.encode_visual(lips)[0])
    if init == "mixture":  # between the two encoders' means, frame by frame
        a, v = model.encode_audio(power)[0], model.encode_visual(lips)[0]
        assert bool(((z0 - a) * (z0 - v) <= 1e-6).all())


def test_enhancement_improves_si_sdr_when_the_prior_is_right():
    """Speech drawn from the prior, stationary coloured noise at 0 dB: the posterior-mean
    estimate gains over 3 dB of SI-SDR (4.6-7 dB across seeds), 1.5 dB more than a flat
    (uninformative) prior."""
    model = tiny_model("a-vae")
    speech, noisy = _noisy(model, n_frames=120, snr_db=0.0)
    result = enhance(noisy, model, schedule=EMSchedule(n_iter=30), init="prior", seed=0)
    before = float(si_sdr(speech, noisy))
    after = float(si_sdr(speech, result.estimate))
    flat = tiny_model("a-vae", structured=False)
    with torch.no_grad():
        flat.decoder.output.weight.zero_()
        flat.decoder.output.bias.copy_(torch.log(result.observation_power.mean(1)))
    blind = float(
        si_sdr(
            speech,
            enhance(noisy, flat, schedule=EMSchedule(n_iter=30), init="prior", seed=0).estimate,
        )
    )
    print(f"SI-SDR: noisy {before:.2f}, flat prior {blind:.2f}, right prior {after:.2f} dB")
    assert after > before + 3.0, (before, after)
    assert after > blind + 1.5, (blind, after)
    # the EM objective falls
    assert result.history.objective[-1] < result.history.objective[0]


def test_the_estimate_is_a_posterior_mean_of_wiener_gains_and_the_variance_map_is_sane():
    model = tiny_model("a-vae")
    _, noisy = _noisy(model)
    r = enhance(noisy, model, schedule=SHORT, seed=1)
    x = stft(noisy, VAE_STFT)
    n_frames = VAE_STFT.n_frames(noisy.numel())
    assert r.spectrum.shape == r.uncertainty.shape == (VAE_STFT.n_freqs, n_frames)
    assert r.estimate.shape == noisy.shape and torch.isfinite(r.estimate).all()
    gains = (r.spectrum / x).real
    assert float(gains.min()) >= -1e-5 and float(gains.max()) <= 1 + 1e-5
    torch.testing.assert_close((r.spectrum / x).imag, torch.zeros_like(gains), atol=1e-4, rtol=0)
    assert bool((r.uncertainty >= 0).all())
    # law of total variance: E_z[g v WH / (g v + WH)] <= WH, Var_z(G) |x|^2 <= |x|^2 / 4
    bound = r.noise_variance + r.observation_power / 4
    assert bool((r.uncertainty <= bound * 1.0001 + 1e-12).all())
    assert r.history.n_iter == 3 and r.info["em_iterations"] == 3


def test_same_seed_same_numbers_other_seed_other_numbers():
    model = tiny_model("min-vae")
    _, noisy = _noisy(model)
    video = lip_video(noisy.numel())
    a = enhance(noisy, model, lips=video, schedule=SHORT, seed=5)
    b = enhance(noisy, model, lips=video, schedule=SHORT, seed=5)
    c = enhance(noisy, model, lips=video, schedule=SHORT, seed=6)
    assert torch.equal(a.estimate, b.estimate) and a.history.objective == b.history.objective
    assert not torch.equal(a.estimate, c.estimate)
    assert a.extras["visual_weight"].shape == (VAE_STFT.n_frames(noisy.numel()),)


@pytest.mark.parametrize("scheme", ["mcem-mh", "mcem-mala", "langevin", "vem"])
@pytest.mark.parametrize("name", ["a-vae", "v-vae", "av-vae", "av-cvae", "min-vae"])
def test_every_scheme_runs_with_every_prior(tiny_models, name, scheme):
    model = tiny_models[name]
    _, noisy = _noisy(tiny_models["a-vae"], n_frames=30)
    before = [p.detach().clone() for p in model.parameters()]
    flags = [p.requires_grad for p in model.parameters()]
    init = "audio" if name in ("a-vae", "av-vae", "av-cvae") else "visual"
    r = enhance(
        noisy,
        model,
        lips=lip_video(noisy.numel()),
        scheme=scheme,
        init=init,
        schedule=SHORT,
        seed=0,
    )
    assert torch.isfinite(r.estimate).all() and len(r.history.objective) == 3
    assert all(np.isfinite(r.history.objective))
    if scheme in ("mcem-mh", "mcem-mala"):
        assert 0.0 <= r.info["final_acceptance"] <= 1.0
    # the user's model is untouched (VEM fine-tunes a private copy), flags restored
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))
    assert [p.requires_grad for p in model.parameters()] == flags


def test_vem_encoder_trains_only_the_chosen_encoders_weights(tiny_models):
    model = tiny_models["min-vae"]
    power, lips = torch.rand(5, model.config.n_freq), torch.rand(5, 64)
    encoder = EncoderForVEM(model, power, lips, "visual")
    state = VariationalEStep(encoder, power).init(torch.zeros(5, model.config.latent_dim))
    trainable = set(state.extra.weights)
    assert trainable and all(n.startswith("model.visual_encoder") for n in trainable)
    with pytest.raises(ConfigError):
        EncoderForVEM(model, power, lips, "prior")


def test_batch_items_use_their_own_seeds():
    model = tiny_model("a-vae")
    _, one = _noisy(model, seed=0)
    _, two = _noisy(model, seed=3)
    batch = enhance_batch([(one, None), (two, None)], model, schedule=SHORT, seed=9)
    alone = enhance_batch([(two, None)], model, schedule=SHORT, seed=9)
    assert len(batch) == 2
    assert not torch.equal(batch[1].estimate, alone[0].estimate)  # seed follows the index
    from avgen.seeding import derive_seed

    again = enhance(two, model, schedule=SHORT, seed=derive_seed(9, "enhance", 1))
    assert torch.equal(batch[1].estimate, again.estimate)


def test_bad_input_is_refused_with_a_clear_error():
    model = tiny_model("min-vae")
    _, noisy = _noisy(model)
    video = lip_video(noisy.numel())
    with pytest.raises(AudioError, match="mono"):
        enhance(torch.stack([noisy, noisy]), model, lips=video)
    with pytest.raises(AudioError, match="mono"):
        enhance(noisy[None], model, lips=video)
    with pytest.raises(AudioError, match="44100 Hz"):
        enhance(noisy, model, lips=video, sample_rate=44100)
    with pytest.raises(AudioError, match="silent"):
        enhance(torch.zeros_like(noisy), model, lips=video)
    with pytest.raises(AudioError, match="NaN"):
        enhance(noisy * float("nan"), model, lips=video)
    with pytest.raises(VideoError, match="needs the speaker's lips"):
        enhance(noisy, model)
    with pytest.raises(VideoError, match="shorter"):
        enhance(noisy, model, lips=lip_video(noisy.numel(), seconds_off=-0.5))
    with pytest.raises(VideoError, match="longer"):
        enhance(noisy, model, lips=lip_video(noisy.numel(), seconds_off=0.5))
    with pytest.raises(ConfigError, match="scheme"):
        enhance(noisy, model, lips=video, scheme="gibbs")
    with pytest.raises(ConfigError, match="burn_in"):
        EMSchedule(n_steps=10, burn_in=10)
    assert noisy.numel() / SAMPLE_RATE > 0.5


def test_an_audio_only_prior_ignores_a_video_and_says_so():
    model = tiny_model("a-vae")
    _, noisy = _noisy(model)
    r = enhance(noisy, model, lips=lip_video(noisy.numel()), schedule=SHORT)
    assert r.info["lips"].startswith("ignored")
