"""The visual networks can read standardised lips (``lip_input="standardized"``): the mean
training image is removed and the pixels scaled by one overall deviation, fitted once from the
training lips; by default (and in every configuration written before the option) they read raw
pixels, as the papers do."""

import torch

from avgen.models.vae.models import VAEConfig
from avgen.models.vae.networks import LipInput
from avgen.models.vae.registry import build_model


def _lips(n: int = 400, d: int = 1024, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = 0.4 + 0.1 * torch.rand(d, generator=g)
    return (base + 0.03 * torch.randn(n, d, generator=g)).clamp(0, 1)


def test_fitted_lips_have_zero_mean_per_pixel_and_unit_overall_deviation():
    lips = _lips()
    layer = LipInput(lips.shape[1])
    assert not bool(layer.fitted)
    layer.fit(lips)
    out = layer(lips)
    assert bool(layer.fitted)
    assert out.mean(0).abs().max() < 1e-5
    assert abs(float(out.square().mean().sqrt()) - 1.0) < 1e-4


def test_raw_pixels_by_default_and_in_old_configurations_standardised_on_request():
    old = VAEConfig.from_dict({"latent_dim": 32})  # as written before lip_input existed
    assert old.lip_input == "raw" and VAEConfig().lip_input == "raw"
    raw = build_model("v-vae", size="paper", seed=0)
    new = build_model("v-vae", size="paper", seed=0, lip_input="standardized")
    assert not any(isinstance(m, LipInput) for m in raw.modules())
    assert sum(isinstance(m, LipInput) for m in new.modules()) == 1


def test_a_visual_encoder_taken_from_a_trained_model_keeps_its_standardisation():
    v_vae = build_model("v-vae", size="paper", seed=0, lip_input="standardized")
    assert v_vae.fit_lip_inputs(_lips(seed=1)) == 1
    fitted_loc = v_vae.visual_encoder.features.input.loc.clone()
    min_vae = build_model("min-vae", size="paper", seed=0, lip_input="standardized")
    min_vae.init_from(None, v_vae)
    assert min_vae.fit_lip_inputs(_lips(seed=2)) == 0  # already fitted: kept
    assert torch.equal(min_vae.visual_encoder.features.input.loc, fitted_loc)


def test_the_standardised_encoder_starts_out_of_saturation_and_follows_the_lips():
    lips = _lips()
    model = build_model("v-vae", size="paper", seed=0, lip_input="standardized")
    model.fit_lip_inputs(lips)
    enc = model.visual_encoder
    with torch.no_grad():
        hidden = enc.hidden(enc.features(lips))
        mean, _ = enc(lips)
    assert float((hidden.abs() > 0.99).float().mean()) < 0.05
    assert float(mean.std(0).mean()) > 0.05  # the frames differ, so do their means
