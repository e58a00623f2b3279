"""A ResNet-18-shaped convolutional trunk of settable width, trained from scratch.

He et al., "Deep residual learning for image recognition", CVPR 2016: a 7x7 stride-2 stem and a
3x3 stride-2 max-pool, then four stages of two basic blocks (two 3x3 convolutions and an
identity or 1x1-projection shortcut), the last three stages halving the resolution. torchvision's
``resnet18`` has widths 64, 128, 256, 512; here the stage widths are ``width * (1, 2, 4, 8)`` so
that a bundled model stays small (``width = 16`` gives 0.70 M parameters against 11.2 M), and
group normalisation replaces batch normalisation: batches are small on a CPU, and a network
that behaves the same in training and evaluation is simpler to run inside a cycle loss.

MVSD (Ma et al., ECCV 2024) encodes the room picture with a ResNet-18 (3-channel stem); AViTAR
(Chen et al., CVPR 2022) estimates RT60 with a ResNet-18 whose stem takes one channel
(log1p |STFT|). Both are :class:`ResNet18` with ``in_channels`` 3 or 1.
"""

from __future__ import annotations

import torch
from torch import nn

from avgen.errors import ConfigError


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels // 4) or 1, channels)


class BasicBlock(nn.Module):
    """``y = relu(x' + norm(conv(relu(norm(conv(x))))))`` with ``x'`` the input or its 1x1
    strided projection when the width or resolution changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.norm1 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.norm2 = _norm(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), _norm(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(self.shortcut(x) + self.norm2(self.conv2(h)))


class ResNet18(nn.Module):
    """The trunk: ``(B, in_channels, H, W) -> (B, 8 * width, H / 32, W / 32)`` feature map
    (rounded up at each stride)."""

    def __init__(self, in_channels: int = 3, width: int = 16) -> None:
        super().__init__()
        if in_channels < 1 or width < 4 or width % 4:
            raise ConfigError(
                f"ResNet18 needs in_channels >= 1 and a width that is a multiple of 4 (>= 4); "
                f"got in_channels={in_channels}, width={width}"
            )
        self.in_channels = in_channels
        self.width = width
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, 2, 3, bias=False),
            _norm(width),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        )
        stages = []
        prev = width
        for i, mult in enumerate((1, 2, 4, 8)):
            out = width * mult
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(prev, out, stride), BasicBlock(out, out, 1)))
            prev = out
        self.stages = nn.Sequential(*stages)

    @property
    def out_channels(self) -> int:
        """Channels of the final feature map (``8 * width``)."""
        return 8 * self.width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(f"ResNet18 takes (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return self.stages(self.stem(x))
