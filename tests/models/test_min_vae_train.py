"""MIN-VAE training where the lips are informative: the visual branch matters, and its
mixture weight rises as the audio input is corrupted."""

from __future__ import annotations

import pytest
import torch

from avgen.models.vae import TrainConfig, build_model, evaluate_elbo, fit
from avgen.models.vae.corruption import add_power_noise, corrupt_encoder_input
from avgen.models.vae.elbo import fixed_variance_log_likelihood
from avgen.models.vae.min_vae import visual_weight_by_snr

from .conftest import SMALL


@pytest.fixture(scope="module")
def trained_min_vae(frames, trained_a_vae, trained_v_vae):
    train, val = frames
    model = build_model("min-vae", **SMALL)
    model.init_from(trained_a_vae.model, trained_v_vae.model)  # as the paper does
    return fit(
        model, train, val, TrainConfig(epochs=6, batch_size=100, lr=3e-3), seed=0, progress=False
    )


def test_min_vae_initialised_from_a_vae_and_v_vae_reproduces_their_encoders(
    trained_a_vae, trained_v_vae, frames
):
    _, val = frames
    model = build_model("min-vae", **SMALL)
    model.init_from(trained_a_vae.model, trained_v_vae.model)
    a, v = trained_a_vae.model, trained_v_vae.model
    torch.testing.assert_close(model.encode_audio(val.power)[0], a.encode_audio(val.power)[0])
    torch.testing.assert_close(model.encode_visual(val.lips)[0], v.encode_visual(val.lips)[0])
    z = torch.randn(7, SMALL["latent_dim"])
    torch.testing.assert_close(model.decode(z), a.decode(z))


def test_the_five_models_side_by_side_min_vae_keeps_the_a_vae_elbo(
    frames, trained_a_vae, trained_v_vae, trained_min_vae
):
    train, val = frames
    baseline = fixed_variance_log_likelihood(train.power, val.power)
    a, v, m = (r.best_val_elbo for r in (trained_a_vae, trained_v_vae, trained_min_vae))
    # MIN-VAE keeps >= 90 % of the A-VAE's gain over the fixed-variance baseline; V-VAE, whose
    # lips know half of the latent factors, is below both
    assert m - baseline >= 0.9 * (a - baseline), (a, v, m, baseline)
    assert v < min(a, m) - 20, (a, v, m)


def test_the_visual_branch_matters_when_the_audio_input_is_corrupted(
    frames, trained_a_vae, trained_min_vae
):
    train, val = frames
    reference = float(train.power.mean())
    noisy = add_power_noise(val.power, 0.0, reference, torch.Generator().manual_seed(0))
    a_vae = evaluate_elbo(trained_a_vae.model, val, encoder_power=noisy)
    min_vae = evaluate_elbo(trained_min_vae.model, val, encoder_power=noisy)
    assert min_vae > a_vae + 100, (min_vae, a_vae)


def test_visual_mixture_weight_rises_monotonically_as_the_audio_input_is_corrupted(
    frames, trained_min_vae
):
    train, val = frames
    curve = visual_weight_by_snr(
        trained_min_vae.model,
        val.power,
        val.lips,
        [None, 30.0, 20.0, 10.0, 0.0],
        reference_power=float(train.power.mean()),
    )
    weights, errors = curve[:, 0], curve[:, 1]
    assert weights[0] < 0.1 and weights[-1] > 0.5, curve
    for k in range(1, len(weights)):  # non-decreasing within two standard errors
        assert weights[k] >= weights[k - 1] - 2 * max(errors[k], errors[k - 1]), curve


def test_corruption_hits_the_requested_share_at_the_requested_level():
    power = torch.full((4000, 8), 2.0)
    g = torch.Generator().manual_seed(0)
    out, mask = corrupt_encoder_input(
        power, share=0.3, snr_db=(10.0, 10.0), reference_power=2.0, generator=g
    )
    share, n = float(mask.float().mean()), mask.numel()
    assert abs(share - 0.3) < 4 * (0.3 * 0.7 / n) ** 0.5
    assert torch.equal(out[~mask], power[~mask])
    added = out[mask] - power[mask]  # Exp(1) times 2 * 10^-1: mean 0.2, sd 0.2
    assert (added >= 0).all()
    assert abs(float(added.mean()) - 0.2) < 4 * 0.2 / added.numel() ** 0.5
    noisy = power + 1.0
    out, mask = corrupt_encoder_input(power, share=1.0, reference_power=2.0, noisy_power=noisy)
    assert mask.all() and torch.equal(out, noisy)
