"""The stylizer as a function: classifier-free guidance reduces exactly at scales 0 and 1,
four conditions, any length in and the same length out, seeds, bad inputs."""

from __future__ import annotations

import pytest
import torch

from avgen.errors import AudioError, ConfigError
from avgen.models.diffusion.unet import count_parameters
from avgen.models.stylizer.config import StylizerConfig, stylizer_config
from avgen.models.stylizer.model import Stylizer

TINY_PARAMETERS = 731_826


def randomised(model: Stylizer, seed: int = 0) -> Stylizer:
    """The model with its zero-initialised layers (output convolutions, attention projections)
    given small random weights, so that the condition changes the prediction."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return randomised(Stylizer(stylizer_config("tiny")))


def test_tiny_parameter_count():
    assert count_parameters(Stylizer(stylizer_config("tiny"))) == TINY_PARAMETERS


def test_the_default_config_is_the_tiny_architecture():
    assert StylizerConfig().unet.in_channels == stylizer_config("tiny").unet.in_channels == 4
    with pytest.raises(ConfigError, match="unknown stylizer size"):
        stylizer_config("huge")


def _inputs(b: int = 2, n: int = 8000):
    gen = torch.Generator().manual_seed(1)
    speech = 0.1 * torch.randn(b, n, generator=gen)
    example = 0.1 * torch.randn(b, 12000, generator=gen)
    picture = torch.rand(b, 3, 128, 128, generator=gen)
    return speech, example, picture


@torch.no_grad()
def test_guidance_0_is_the_unconditional_and_1_the_conditional_prediction(model):
    speech, example, picture = _inputs()
    content, _ = model.latents(speech)
    x = torch.randn(content.shape, generator=torch.Generator().manual_seed(2))
    sigma = torch.full((2,), 0.7)
    null = model.conditioning(content, model.style(None, None, 2))
    full = model.conditioning(content, model.style(example, picture, 2))
    d_null = model.denoise(x, sigma, null)
    d_full = model.denoise(x, sigma, full)
    assert (d_full - d_null).abs().max() > 1e-3  # the condition matters in this model
    for w, expected in ((0.0, d_null), (1.0, d_full)):
        guided, cond = model.guided(content, example, picture, w)
        assert torch.equal(guided(x, sigma, cond), expected)
    guided, cond = model.guided(content, example, picture, 2.5)
    torch.testing.assert_close(guided(x, sigma, cond), d_null + 2.5 * (d_full - d_null))


@torch.no_grad()
def test_stylize_at_guidance_0_equals_the_unconditional_model(model):
    speech, example, picture = _inputs(1)
    none = model.stylize(speech[0], steps=3, seed=4)
    at_zero = model.stylize(speech[0], example[0], picture[0], guidance=0.0, steps=3, seed=4)
    at_one = model.stylize(speech[0], example[0], picture[0], guidance=1.0, steps=3, seed=4)
    assert torch.equal(none, at_zero)
    assert not torch.allclose(at_zero, at_one)


@torch.no_grad()
def test_the_four_conditions_differ(model):
    speech, example, picture = _inputs(1)
    outs = [
        model.stylize(speech[0], e, p, guidance=1.0, steps=2, seed=0)
        for e, p in ((example[0], picture[0]), (example[0], None), (None, picture[0]), (None, None))
    ]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not torch.allclose(outs[i], outs[j]), (i, j)


@torch.no_grad()
def test_null_modalities_replace_tokens_and_vector_per_item(model):
    _, example, picture = _inputs()
    keep = torch.tensor([True, False])
    dropped = model.style(example, picture, 2, keep_audio=keep, keep_picture=keep)
    full = model.style(example, picture, 2)
    null = model.style(None, None, 2)
    torch.testing.assert_close(dropped.tokens[0], full.tokens[0])
    torch.testing.assert_close(dropped.tokens[1], null.tokens[1])
    torch.testing.assert_close(dropped.vector[1], null.vector[1])
    assert not torch.allclose(full.tokens[1], null.tokens[1])


@pytest.mark.parametrize("n", [1001, 4097, 16037])
@torch.no_grad()
def test_output_has_the_input_length(model, n):
    speech = 0.1 * torch.randn(n)
    out = model.stylize(speech, 0.1 * torch.randn(9000), torch.rand(3, 128, 128), steps=2)
    assert out.shape == speech.shape
    assert torch.isfinite(out).all()


@torch.no_grad()
def test_batched_input_keeps_its_shape_and_broadcasts_one_condition(model):
    speech, example, picture = _inputs(3, 5001)
    out = model.stylize(speech, example[0], picture[0], steps=2, seed=1)
    assert out.shape == (3, 5001)
    single = model.stylize(speech[1], example[0], picture[0], steps=2, seed=1)
    assert single.shape == (5001,)


@torch.no_grad()
def test_same_seed_same_output_other_seed_other_output(model):
    speech, example, picture = _inputs(1)
    a = model.stylize(speech[0], example[0], picture[0], steps=2, seed=7)
    b = model.stylize(speech[0], example[0], picture[0], steps=2, seed=7)
    c = model.stylize(speech[0], example[0], picture[0], steps=2, seed=8)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_bad_inputs_are_clear_errors(model):
    speech, example, picture = _inputs(1)
    s, e, p = speech[0], example[0], picture[0]
    with pytest.raises(AudioError, match="shorter than"):
        model.stylize(s, e[:4000], p, steps=1)
    with pytest.raises(AudioError, match="silent"):
        model.stylize(s, torch.zeros(12000), p, steps=1)
    with pytest.raises(AudioError, match="NaN"):
        model.stylize(torch.full((8000,), float("nan")), e, p, steps=1)
    with pytest.raises(ConfigError, match="picture"):
        model.stylize(s, e, torch.rand(3, 128), steps=1)
    with pytest.raises(ConfigError, match="steps"):
        model.stylize(s, e, p, steps=0)
    with pytest.raises(ConfigError, match="sampler"):
        model.stylize(s, e, p, steps=1, sampler="ddpm")
    with pytest.raises(ConfigError, match="audio examples for 3"):
        model.stylize(torch.randn(3, 8000), torch.randn(2, 12000), steps=1)
