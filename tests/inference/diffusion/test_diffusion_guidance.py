"""Classifier-free guidance: w = 0 is the unconditional denoiser, w = 1 the conditional one."""

from __future__ import annotations

import pytest
import torch

from inference.diffusion import classifier_free_guidance
from inference.errors import InferenceError

NULL = torch.zeros(1, 3)


def conditional_denoiser(x, sigma, cond=None):
    """A toy conditional denoiser: shrink towards the condition, by an amount set by sigma."""
    s2 = sigma.reshape(-1, 1) ** 2
    return (x + s2 * cond) / (1.0 + s2) + torch.sin(x * cond)


def _inputs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, generator=g)
    sigma = torch.rand(6, generator=g) + 0.1
    cond = torch.randn(6, 3, generator=g)
    return x, sigma, cond


def test_weight_zero_is_exactly_the_unconditional_denoiser():
    x, sigma, cond = _inputs()
    guided = classifier_free_guidance(conditional_denoiser, 0.0, NULL)
    assert torch.equal(guided(x, sigma, cond), conditional_denoiser(x, sigma, NULL))


def test_weight_one_is_exactly_the_conditional_denoiser():
    x, sigma, cond = _inputs()
    guided = classifier_free_guidance(conditional_denoiser, 1.0, NULL)
    assert torch.equal(guided(x, sigma, cond), conditional_denoiser(x, sigma, cond))


@pytest.mark.parametrize("batched", [False, True])
def test_other_weights_extrapolate_linearly(batched):
    x, sigma, cond = _inputs()
    u = conditional_denoiser(x, sigma, NULL)
    c = conditional_denoiser(x, sigma, cond)
    for w in (0.5, 2.0, 3.5):
        guided = classifier_free_guidance(conditional_denoiser, w, NULL, batched=batched)
        torch.testing.assert_close(guided(x, sigma, cond), u + w * (c - u))


def test_batched_guidance_needs_tensor_conditions():
    x, sigma, _ = _inputs()
    guided = classifier_free_guidance(lambda x, s, c=None: x, 2.0, None, batched=True)
    with pytest.raises(InferenceError, match="tensor"):
        guided(x, sigma, "a room")
