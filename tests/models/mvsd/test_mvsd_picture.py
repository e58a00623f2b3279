"""The picture conditions the converters: changing only the picture changes the matched and the
dereverberated output, and the losses' gradients reach the scene encoder through both the FiLM
vector and the cross-attention tokens.

(The trained check, that a tiny model trained on a dry and a very reverberant room puts more late
energy into its output for the reverberant room's picture, needs more training than the test
budget allows to pass reliably: it is ``benchmarks/mvsd_picture_conditioning.py``, right in 3
of 3 seeds after 150 steps, about 140 s of CPU each.)"""

from __future__ import annotations

import torch
from torch import nn

from avgen.models.mvsd.config import mvsd_config
from avgen.models.mvsd.losses import style_loss
from avgen.models.mvsd.model import MVSD, spectrogram

torch.set_num_threads(1)


def model_with_live_output() -> MVSD:
    """A tiny model whose zero-initialised layers (the U-Net's output convolution, the
    residual blocks' FiLM projections and last convolutions, the attention output projections)
    are given small random weights: an untrained model ignores everything but its input, by
    design of the initialisation, so the picture's paths only show once trained or re-drawn."""
    torch.manual_seed(0)
    model = MVSD(mvsd_config("tiny", tail_seconds=0.25)).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim > 1 and not p.any():
                nn.init.normal_(p, std=0.05)
    return model


def test_changing_only_the_picture_changes_the_output():
    model = model_with_live_output()
    dry = 0.1 * torch.randn(6000, generator=torch.Generator().manual_seed(1))
    a, b = torch.full((3, 128, 128), 0.2), torch.rand(3, 128, 128)
    outs = [
        model.match(dry, p, steps=2, generator=torch.Generator().manual_seed(2)) for p in (a, b)
    ]
    again = model.match(dry, a, steps=2, generator=torch.Generator().manual_seed(2))
    assert torch.equal(outs[0], again)  # same picture, same noise: the same output
    assert (outs[0] - outs[1]).abs().max() > 1e-4
    back = [
        model.dereverberate(dry, p, steps=2, generator=torch.Generator().manual_seed(2))
        for p in (a, b)
    ]
    assert (back[0] - back[1]).abs().max() > 1e-4


def test_gradients_reach_the_scene_encoder_through_film_and_cross_attention():
    model = model_with_live_output().train()
    gen = torch.Generator().manual_seed(0)
    clean = spectrogram(0.1 * torch.randn(2, 4000, generator=gen), model.multiple)[0]
    reverberant = spectrogram(0.1 * torch.randn(2, 4000, generator=gen), model.multiple)[0]
    scene = model.scene(torch.rand(2, 3, 128, 128, generator=gen))
    loss = style_loss(model.reverberator.predict(clean, scene, generator=gen), reverberant)
    loss = loss + style_loss(model.dereverberator.predict(reverberant, scene, generator=gen), clean)
    loss.backward()
    encoder = model.scene_encoder
    assert encoder.to_vector.weight.grad.abs().sum() > 0  # FiLM path
    assert encoder.to_tokens.weight.grad.abs().sum() > 0  # cross-attention path
    assert encoder.trunk.stem[0].weight.grad.abs().sum() > 0
    for converter in (model.reverberator, model.dereverberator):
        net = converter.denoiser.net
        assert net.cond_embedding.weight.grad.abs().sum() > 0
        cross = net.encoder[2].cross_attention[0]
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in cross.parameters())
