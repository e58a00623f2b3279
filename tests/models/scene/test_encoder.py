"""The scene encoder: shapes, its check of the input, and that it can tell pictures apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avgen.errors import ConfigError
from avgen.models.scene.embedding import picture_tensor
from avgen.models.scene.encoder import SceneEncoder, SceneEncoderConfig
from avgen.models.scene.resnet import ResNet18


def test_a_128_pixel_picture_gives_a_256_d_vector_and_a_4_by_4_grid_of_tokens():
    encoder = SceneEncoder(SceneEncoderConfig(width=8))
    out = encoder(torch.rand(2, 3, 128, 128))
    assert out.vector.shape == (2, 256)
    assert out.tokens.shape == (2, 16, 256)
    assert torch.isfinite(out.vector).all() and torch.isfinite(out.tokens).all()


def test_the_default_trunk_is_resnet18_shaped_and_small():
    trunk = ResNet18(3, 16)
    convs = [
        m for m in trunk.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1)
    ]
    assert len(convs) == 17  # stem + 4 stages x 2 blocks x 2 convolutions
    assert sum(p.numel() for p in trunk.parameters()) < 1_000_000


def test_a_picture_of_the_wrong_shape_is_refused_with_the_expected_shape():
    with pytest.raises(ConfigError, match=r"\(B, 3, 128, 128\)"):
        SceneEncoder(SceneEncoderConfig(width=8))(torch.rand(1, 3, 64, 64))


def test_picture_tensor_scales_uint8_to_the_unit_interval_channels_first():
    rgb = np.zeros((128, 128, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    x = picture_tensor(rgb)
    assert x.shape == (1, 3, 128, 128) and x.dtype == torch.float32
    assert x[0, 0].min() == 1.0 and x[0, 1:].max() == 0.0
    with pytest.raises(ConfigError):
        picture_tensor(np.zeros((128, 128)))


def test_different_pictures_give_different_embeddings():
    encoder = SceneEncoder(SceneEncoderConfig(width=8))
    a, b = torch.zeros(1, 3, 128, 128), torch.ones(1, 3, 128, 128)
    assert not torch.allclose(encoder(a).vector, encoder(b).vector)
