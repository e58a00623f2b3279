"""Building blocks of the diffusion U-Net, in plain PyTorch.

* :class:`NoiseEmbedding`: Fourier features of ``c_noise`` followed by an MLP (Tancik et al.,
  2020; Song et al., 2021, NCSN++), giving the vector that modulates every residual block.
* :class:`ResBlock`: GroupNorm-SiLU-Conv twice, with adaptive group normalisation
  ``GN(h) (1 + s) + b`` whose ``(s, b)`` is a linear map of the embedding (FiLM; Dhariwal &
  Nichol, 2021), skip connection scaled by ``1/sqrt(2)`` (Song et al., 2021).
* :class:`SelfAttention` and :class:`CrossAttention` over the time-frequency positions of a
  feature map, through :func:`torch.nn.functional.scaled_dot_product_attention`.
* :class:`Downsample` (stride-2 convolution) and :class:`Upsample` (nearest, then convolution).

Output projections of the residual and attention branches start at zero, so each block starts
as the identity and the whole network starts as the zero function (the denoiser then starts as
``c_skip x``, the Wiener shrinkage of data with standard deviation ``sigma_data``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def group_norm(channels: int) -> nn.GroupNorm:
    """Group norm with up to 32 groups of at least 4 channels."""
    groups = min(32, channels // 4)
    while channels % groups:
        groups -= 1
    return nn.GroupNorm(groups, channels, eps=1e-6)


def zero_module(module: nn.Module) -> nn.Module:
    """Set a module's parameters to zero (and return it)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class NoiseEmbedding(nn.Module):
    """``c_noise`` ``(B,)`` -> embedding ``(B, D)``.

    Fourier features ``[cos(w_k c), sin(w_k c)]`` with fixed angular frequencies ``w_k``
    log-spaced from ``pi / 4`` to ``16 pi`` rad per unit of ``c_noise = log(sigma) / 4``
    (a 1% change of sigma turns the fastest feature by about 0.13 rad), then
    ``Linear -> SiLU -> Linear``.
    """

    def __init__(self, n_frequencies: int, dim: int) -> None:
        super().__init__()
        freqs = math.pi * torch.logspace(-2.0, 4.0, n_frequencies, base=2.0)
        self.register_buffer("frequencies", freqs, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * n_frequencies, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        angles = c_noise.to(self.frequencies.dtype)[:, None] * self.frequencies[None, :]
        return self.mlp(torch.cat([angles.cos(), angles.sin()], dim=1))


class ResBlock(nn.Module):
    """Residual block with FiLM (adaptive group norm) from the embedding ``emb``.

    ``h = Conv(SiLU(GN(x)));  h = Conv(Dropout(SiLU(GN(h) (1 + s) + b)));
    out = (skip(x) + h) / sqrt(2)`` with ``(s, b) = Linear(SiLU(emb))``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, embedding_dim: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.film = nn.Linear(embedding_dim, 2 * out_channels)
        self.norm2 = group_norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_module(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1.0 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return (self.skip(x) + h) * (1.0 / math.sqrt(2.0))


def _heads(channels: int, head_dim: int) -> int:
    """Number of heads: about ``channels / head_dim``, a divisor of ``channels``."""
    heads = max(1, channels // head_dim)
    while channels % heads:
        heads -= 1
    return heads


class SelfAttention(nn.Module):
    """Multi-head self-attention over the ``F x T`` positions of a feature map (residual)."""

    def __init__(self, channels: int, head_dim: int) -> None:
        super().__init__()
        self.heads = _heads(channels, head_dim)
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = zero_module(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        q, k, v = (
            self.qkv(self.norm(x))
            .reshape(b, 3, self.heads, c // self.heads, f * t)
            .transpose(-1, -2)
            .unbind(1)
        )
        out = F.scaled_dot_product_attention(q, k, v)  # (b, heads, f t, c / heads)
        out = out.transpose(-1, -2).reshape(b, c, f, t)
        return x + self.proj(out)


class CrossAttention(nn.Module):
    """Multi-head attention of the feature map's positions (queries) to context tokens
    (keys and values), residual. ``mask`` ``(B, N)``: True for tokens that may be attended;
    an item without any such token gets no update (the block is the identity for it)."""

    def __init__(self, channels: int, context_dim: int, head_dim: int) -> None:
        super().__init__()
        self.heads = _heads(channels, head_dim)
        self.norm = group_norm(channels)
        self.context_norm = nn.LayerNorm(context_dim)
        self.q = nn.Conv2d(channels, channels, 1)
        self.kv = nn.Linear(context_dim, 2 * channels)
        self.proj = zero_module(nn.Conv2d(channels, channels, 1))

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, c, f, t = x.shape
        n = context.shape[1]
        d = c // self.heads
        q = self.q(self.norm(x)).reshape(b, self.heads, d, f * t).transpose(-1, -2)
        k, v = (
            self.kv(self.context_norm(context))
            .reshape(b, n, 2, self.heads, d)
            .permute(2, 0, 3, 1, 4)
        )
        if mask is None:
            out = F.scaled_dot_product_attention(q, k, v)
            return x + self.proj(out.transpose(-1, -2).reshape(b, c, f, t))
        mask = mask.to(torch.bool)
        any_valid = mask.any(dim=1)
        attn_mask = (mask | ~any_valid[:, None])[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        update = self.proj(out.transpose(-1, -2).reshape(b, c, f, t))
        return x + update * any_valid[:, None, None, None].to(update.dtype)


class Downsample(nn.Module):
    """Halve both axes with a stride-2 3x3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double both axes: nearest-neighbour, then a 3x3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
