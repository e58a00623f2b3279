r"""The scene encoder: a room picture to a 256-d embedding and a grid of tokens.

MVSD (Ma, Wang, Yang, Zheng, "MVSD: Mutual learning for acoustic matching and
dereverberation via visual scene-driven diffusion", ECCV 2024) encodes the picture with a
ResNet-18 into a 256-d embedding that conditions both converters. Here:

.. math::

    F = \mathrm{ResNet18}(I) \in \mathbb{R}^{C \times h \times w}, \qquad
    v = W_v\,\overline{F} + b_v \in \mathbb{R}^{D}, \qquad
    t_{ij} = W_t F_{:,ij} + p_{ij} \in \mathbb{R}^{D_t},

with :math:`\overline{F}` the spatial mean, :math:`p` a learned position embedding of the
:math:`h \times w` cells (4 x 4 for a 128-pixel picture). ``v`` enters the converters by FiLM,
the ``h w`` tokens by cross-attention (:class:`~avgen.models.scene.embedding.SceneEmbedding`).
Trained from scratch: no pretrained image weights can be had offline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from avgen.errors import ConfigError
from avgen.models.scene.embedding import PICTURE_SIZE, SceneEmbedding
from avgen.models.scene.resnet import ResNet18


@dataclass(frozen=True)
class SceneEncoderConfig:
    """Size of a :class:`SceneEncoder`.

    Attributes:
        width: ResNet-18 stage widths are ``width * (1, 2, 4, 8)``.
        embedding_dim: size ``D`` of the global embedding (MVSD: 256).
        token_dim: size ``D_t`` of each spatial token.
        picture_size: side of the square input pictures in pixels.
    """

    width: int = 16
    embedding_dim: int = 256
    token_dim: int = 256
    picture_size: int = PICTURE_SIZE

    def __post_init__(self) -> None:
        if self.embedding_dim < 1 or self.token_dim < 1 or self.picture_size < 32:
            raise ConfigError(
                "SceneEncoderConfig needs embedding_dim >= 1, token_dim >= 1 and picture_size >= 32"
            )

    @property
    def grid(self) -> int:
        """Side of the token grid (the trunk divides the resolution by 32, rounding up)."""
        side = self.picture_size
        for _ in range(5):
            side = (side + 1) // 2
        return side

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneEncoderConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class SceneEncoder(nn.Module):
    """``SceneEncoder(config)(pictures (B, 3, S, S) in [0, 1]) -> SceneEmbedding``."""

    def __init__(self, config: SceneEncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SceneEncoderConfig()
        self.trunk = ResNet18(3, config.width)
        c = self.trunk.out_channels
        self.to_vector = nn.Linear(c, config.embedding_dim)
        self.to_tokens = nn.Linear(c, config.token_dim)
        self.position = nn.Parameter(torch.zeros(config.grid * config.grid, config.token_dim))
        nn.init.normal_(self.position, std=0.02)

    def forward(self, pictures: torch.Tensor) -> SceneEmbedding:
        s = self.config.picture_size
        if pictures.ndim != 4 or tuple(pictures.shape[1:]) != (3, s, s):
            raise ConfigError(
                f"SceneEncoder takes pictures (B, 3, {s}, {s}) in [0, 1], got "
                f"{tuple(pictures.shape)} (avgen.models.scene.embedding.picture_tensor makes "
                "one from an RGB array)"
            )
        features = self.trunk(pictures * 2.0 - 1.0)  # (B, C, h, w)
        vector = self.to_vector(features.mean(dim=(2, 3)))
        tokens = self.to_tokens(features.flatten(2).transpose(1, 2)) + self.position
        return SceneEmbedding(vector, tokens)
