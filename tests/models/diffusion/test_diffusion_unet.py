"""The U-Net: sizes, shapes, the EDM contract, the three kinds of conditioning, bad input."""

from __future__ import annotations

import io

import pytest
import torch

from avgen.errors import ConfigError
from avgen.models.diffusion import (
    SIZES,
    Conditioning,
    UNet,
    UNetConfig,
    build_denoiser,
    count_parameters,
    unet_config,
)
from inference.diffusion.precond import EDMDenoiser


def _randomise(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter (zero-initialised projections included) random values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    return net


def _count(config: UNetConfig) -> int:
    with torch.device("meta"):
        return count_parameters(UNet(config))


@pytest.mark.parametrize(
    ("size", "expected", "low", "high"),
    [
        ("tiny", 85_810, 50_000, 100_000),
        ("small", 1_668_530, 1_000_000, 3_000_000),
        ("base", 40_789_826, 10_000_000, 100_000_000),
    ],
)
def test_named_sizes_have_the_stated_parameter_counts(size, expected, low, high):
    n = _count(SIZES[size])
    assert n == expected
    assert low <= n <= high


def test_small_weights_fit_in_ten_megabytes():
    buf = io.BytesIO()
    torch.save(UNet(SIZES["small"]).state_dict(), buf)
    assert buf.tell() < 10e6


def test_output_has_the_input_shape_and_starts_at_zero():
    net = UNet(unet_config("tiny"))
    x = torch.randn(2, 2, 256, 16)
    out = net(x, torch.tensor([-1.0, 0.5]))
    assert out.shape == x.shape
    # zero-initialised output layer: the EDM denoiser starts as c_skip x (Wiener shrinkage)
    assert torch.equal(out, torch.zeros_like(x))
    den = EDMDenoiser(net, sigma_data=0.2)
    sigma = torch.tensor([0.1, 1.0])
    c_skip = 0.04 / (sigma**2 + 0.04)
    assert torch.allclose(den(x, sigma), c_skip[:, None, None, None] * x)


def test_small_network_runs_with_attention_and_gradients_reach_every_parameter():
    net = _randomise(UNet(unet_config("small")))
    x = torch.randn(1, 2, 256, 16, requires_grad=True)
    out = net(x, torch.zeros(1))
    out.square().mean().backward()
    assert out.shape == x.shape and x.grad is not None
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_scalar_c_noise_is_broadcast_over_the_batch():
    net = _randomise(UNet(unet_config("tiny")))
    x = torch.randn(3, 2, 256, 8)
    assert torch.allclose(net(x, torch.tensor(0.3)), net(x, torch.full((3,), 0.3)))


def test_output_depends_on_the_noise_level():
    net = _randomise(UNet(unet_config("tiny")))
    x = torch.randn(1, 2, 256, 8)
    assert not torch.allclose(net(x, torch.tensor([-1.0])), net(x, torch.tensor([1.0])))


def test_each_batch_item_is_processed_independently():
    net = _randomise(UNet(unet_config("tiny"))).eval()
    x = torch.randn(3, 2, 256, 8)
    c = torch.tensor([-1.0, 0.0, 1.0])
    together = net(x, c)
    alone = torch.cat([net(x[i : i + 1], c[i : i + 1]) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)


def _conditional_config() -> UNetConfig:
    return unet_config("tiny").with_conditioning(embedding_dim=5, channels=2, context_dim=7)


def test_conditioning_inputs_each_change_the_output():
    cfg = _conditional_config()
    assert cfg.cross_attention_levels == (cfg.levels - 1,)
    net = _randomise(UNet(cfg))
    x = torch.randn(2, 2, 256, 8)
    c = torch.zeros(2)
    full = Conditioning(
        embedding=torch.randn(2, 5),
        spectrogram=torch.randn(2, 2, 256, 8),
        context=torch.randn(2, 4, 7),
    )
    ref = net(x, c, full)
    for drop in ("embedding", "spectrogram", "context"):
        partial = Conditioning(
            **{k: getattr(full, k) for k in ("embedding", "spectrogram", "context") if k != drop}
        )
        assert not torch.allclose(net(x, c, partial), ref), drop
    # absent conditioning (the unconditional branch of classifier-free guidance) is allowed
    assert net(x, c, None).shape == x.shape
    assert torch.allclose(net(x, c, Conditioning()), net(x, c, None))


def test_masked_context_tokens_are_ignored():
    net = _randomise(UNet(_conditional_config()))
    x = torch.randn(1, 2, 256, 8)
    context = torch.randn(1, 4, 7)
    mask = torch.tensor([[True, True, False, False]])
    other = context.clone()
    other[:, 2:] = torch.randn(1, 2, 7)  # change only the masked tokens
    a = net(x, torch.zeros(1), Conditioning(context=context, context_mask=mask))
    b = net(x, torch.zeros(1), Conditioning(context=other, context_mask=mask))
    assert torch.allclose(a, b, atol=1e-6)
    # an item whose tokens are all masked gets no cross-attention update
    none_valid = torch.zeros(1, 4, dtype=torch.bool)
    c = net(x, torch.zeros(1), Conditioning(context=context, context_mask=none_valid))
    assert torch.allclose(c, net(x, torch.zeros(1), None), atol=1e-6)


def test_conditioning_repeat_and_select_keep_fields_aligned():
    cond = Conditioning(embedding=torch.arange(2.0)[:, None], context=torch.zeros(2, 3, 1))
    rep = cond.repeat(3)
    assert rep.batch_size == 6
    assert rep.embedding[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert cond.select(slice(1, 2)).embedding.item() == 1.0


@pytest.mark.parametrize(
    ("x_shape", "message"),
    [
        ((1, 2, 256, 6), "multiple of 4"),
        ((1, 3, 256, 8), r"\(B, 2, 256, T\)"),
        ((1, 2, 128, 8), r"\(B, 2, 256, T\)"),
    ],
)
def test_bad_input_shapes_are_config_errors(x_shape, message):
    net = UNet(unet_config("tiny"))
    with pytest.raises(ConfigError, match=message):
        net(torch.randn(x_shape), torch.zeros(x_shape[0]))


def test_conditioning_the_network_was_not_built_for_is_a_config_error():
    net = UNet(unet_config("tiny"))
    x = torch.randn(1, 2, 256, 8)
    with pytest.raises(ConfigError, match="embedding"):
        net(x, torch.zeros(1), Conditioning(embedding=torch.randn(1, 3)))
    with pytest.raises(ConfigError, match="spectrogram"):
        net(x, torch.zeros(1), Conditioning(spectrogram=torch.randn(1, 2, 256, 8)))
    cond_net = UNet(_conditional_config())
    with pytest.raises(ConfigError, match="batch size"):
        cond_net(x, torch.zeros(1), Conditioning(embedding=torch.randn(2, 5)))
    with pytest.raises(ConfigError, match="must be"):
        Conditioning(embedding=torch.randn(5))
    with pytest.raises(ConfigError, match="cond must be"):
        net(x, torch.zeros(1), {"embedding": 1})


def test_config_validation_and_round_trip():
    cfg = _conditional_config()
    assert UNetConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="levels"):
        unet_config("tiny", attention_levels=(5,))
    with pytest.raises(ConfigError, match="context_dim"):
        unet_config("tiny", cross_attention_levels=(0,))
    with pytest.raises(ConfigError, match="unknown"):
        unet_config("huge")
    with pytest.raises(ConfigError, match="unknown field"):
        UNetConfig.from_dict({"channel": (8,)})


def test_build_denoiser_wraps_the_network_in_edm_preconditioning():
    den = build_denoiser(unet_config("tiny"), sigma_data=0.1)
    assert isinstance(den, EDMDenoiser) and isinstance(den.net, UNet)
    assert den.sigma_data == 0.1
