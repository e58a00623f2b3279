"""What a scene encoder returns, and how a picture enters one.

A scene encoder maps a picture ``(B, 3, S, S)`` (float32 RGB in ``[0, 1]``, see
:func:`picture_tensor`) to a :class:`SceneEmbedding`:

* ``vector`` ``(B, D)``: one global embedding (MVSD: ``D = 256``), which conditions a converter
  through FiLM (``Conditioning.embedding`` of :mod:`avgen.models.diffusion.conditioning`);
* ``tokens`` ``(B, N, D_t)``: the spatial feature map of the last convolutional stage, one token
  per cell, which the converter attends to by cross-attention (``Conditioning.context``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from avgen.errors import ConfigError

PICTURE_SIZE = 128
"""Side in pixels of the square pictures the scene encoders take (the room kit renders at it)."""


class SceneEmbedding(NamedTuple):
    """A scene encoder's output: a global vector (FiLM) and spatial tokens (cross-attention)."""

    vector: torch.Tensor
    tokens: torch.Tensor


def picture_tensor(picture: np.ndarray | torch.Tensor) -> torch.Tensor:
    """An ``(H, W, 3)`` uint8 picture (or a ``(B, H, W, 3)`` stack) as a float32
    ``(B, 3, H, W)`` tensor in ``[0, 1]`` (a floating-point input is taken as already in
    ``[0, 1]``)."""
    x = picture if torch.is_tensor(picture) else torch.as_tensor(np.asarray(picture))
    floating = torch.is_floating_point(x)
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ConfigError(f"a picture must be (H, W, 3) RGB, got shape {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2).to(torch.float32)
    return x if floating else x / 255.0
