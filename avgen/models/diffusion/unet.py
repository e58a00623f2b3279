"""The score/denoiser network: a U-Net on the compressed complex STFT.

``UNet(config)(x_in, c_noise, cond) -> F`` with ``x_in`` ``(B, 2, 256, T)`` (real and imaginary
parts of the compressed STFT, already scaled by EDM's ``c_in``), ``c_noise = log(sigma) / 4``
``(B,)`` and ``cond`` ``None`` or a :class:`~avgen.models.diffusion.conditioning.Conditioning`.
It is the raw network ``F`` of EDM (Karras et al., 2022): wrap it in
:class:`inference.diffusion.precond.EDMDenoiser` to get ``D(x; sigma) = c_skip x + c_out F``
(:func:`build_denoiser` does both).

Architecture (after Ronneberger et al., 2015; Ho et al., 2020; Song et al., 2021 (NCSN++) and
Dhariwal & Nichol, 2021 (ADM), as the SGMSE+ line uses them for speech)::

    in: x (B, 2 + C, 256, T)   [+ Conditioning.spectrogram concatenated as C channels]
    conv 3x3 -> channels[0]
    encoder, level l = 0..L-1: res_blocks x (ResBlock [+ SelfAttention] [+ CrossAttention]);
        keep a skip; stride-2 downsample except at the last level
    middle: ResBlock [+ SelfAttention] ResBlock
    decoder, level l = L-1..0: upsample (except at L-1); concatenate the skip of level l;
        res_blocks x (ResBlock [+ SelfAttention] [+ CrossAttention])
    out: GroupNorm, SiLU, conv 3x3 -> 2 channels (zero-initialised)

Every ResBlock is modulated by ``emb = NoiseEmbedding(c_noise) [+ Linear(cond.embedding)]``.
Both axes (frequency and time) are halved per level, so ``T`` must be a multiple of
``config.downsampling_factor`` (see :func:`~avgen.models.diffusion.spectra.pad_frames`).
"""

from __future__ import annotations

import torch
from torch import nn

from avgen.errors import ConfigError
from avgen.models.diffusion.conditioning import Conditioning
from avgen.models.diffusion.configs import UNetConfig
from avgen.models.diffusion.layers import (
    CrossAttention,
    Downsample,
    NoiseEmbedding,
    ResBlock,
    SelfAttention,
    Upsample,
    group_norm,
    zero_module,
)
from inference.diffusion.precond import EDMDenoiser


class _Stage(nn.Module):
    """``res_blocks`` residual blocks at one level, each optionally followed by self- and
    cross-attention."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        config: UNetConfig,
        self_attention: bool,
        cross_attention: bool,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        self.self_attention = nn.ModuleList()
        self.cross_attention = nn.ModuleList()
        for i in range(config.res_blocks):
            self.blocks.append(
                ResBlock(
                    in_channels if i == 0 else out_channels,
                    out_channels,
                    config.embedding_dim,
                    config.dropout,
                )
            )
            self.self_attention.append(
                SelfAttention(out_channels, config.attention_head_dim)
                if self_attention
                else nn.Identity()
            )
            self.cross_attention.append(
                CrossAttention(out_channels, config.context_dim, config.attention_head_dim)
                if cross_attention
                else nn.Identity()
            )

    def forward(
        self,
        h: torch.Tensor,
        emb: torch.Tensor,
        context: torch.Tensor | None,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        for block, sa, ca in zip(self.blocks, self.self_attention, self.cross_attention):
            h = sa(block(h, emb))
            if context is not None and isinstance(ca, CrossAttention):
                h = ca(h, context, mask)
        return h


class UNet(nn.Module):
    """U-Net ``F(x_in, c_noise, cond)`` on ``(B, 2, 256, T)`` compressed-STFT tensors."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        self.noise_embedding = NoiseEmbedding(config.fourier_features, config.embedding_dim)
        self.cond_embedding = (
            nn.Linear(config.cond_embedding_dim, config.embedding_dim)
            if config.cond_embedding_dim > 0
            else None
        )
        self.input_conv = nn.Conv2d(config.in_channels + config.cond_channels, ch[0], 3, padding=1)
        self.encoder = nn.ModuleList()
        self.downsample = nn.ModuleList()
        prev = ch[0]
        for level, c in enumerate(ch):
            self.encoder.append(
                _Stage(
                    prev,
                    c,
                    config,
                    level in config.attention_levels,
                    level in config.cross_attention_levels,
                )
            )
            self.downsample.append(Downsample(c) if level < config.levels - 1 else nn.Identity())
            prev = c
        self.middle1 = ResBlock(prev, prev, config.embedding_dim, config.dropout)
        self.middle_attention = (
            SelfAttention(prev, config.attention_head_dim)
            if config.middle_attention
            else nn.Identity()
        )
        self.middle2 = ResBlock(prev, prev, config.embedding_dim, config.dropout)
        self.decoder = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(config.levels)):
            c = ch[level]
            self.upsample.append(Upsample(prev) if level < config.levels - 1 else nn.Identity())
            self.decoder.append(
                _Stage(
                    prev + c,
                    c,
                    config,
                    level in config.attention_levels,
                    level in config.cross_attention_levels,
                )
            )
            prev = c
        self.output_norm = group_norm(prev)
        self.output_conv = zero_module(nn.Conv2d(prev, config.out_channels, 3, padding=1))

    def _check(self, x: torch.Tensor, c_noise: torch.Tensor, cond: Conditioning | None) -> None:
        cfg = self.config
        if x.ndim != 4 or x.shape[1] != cfg.in_channels or x.shape[2] != cfg.n_freqs:
            raise ConfigError(
                f"UNet input must be (B, {cfg.in_channels}, {cfg.n_freqs}, T), got {tuple(x.shape)}"
            )
        if x.shape[3] % cfg.downsampling_factor:
            raise ConfigError(
                f"UNet input has {x.shape[3]} frames, not a multiple of "
                f"{cfg.downsampling_factor}; pad with "
                "avgen.models.diffusion.spectra.pad_frames"
            )
        if c_noise.shape != (x.shape[0],):
            raise ConfigError(
                f"c_noise must have shape ({x.shape[0]},), got {tuple(c_noise.shape)}"
            )
        if cond is None:
            return
        if not isinstance(cond, Conditioning):
            raise ConfigError(f"cond must be None or a Conditioning, got {type(cond).__name__}")
        if cond.batch_size is not None and cond.batch_size != x.shape[0]:
            raise ConfigError(f"Conditioning has batch size {cond.batch_size}, x has {x.shape[0]}")
        if cond.embedding is not None and cond.embedding.shape[1] != cfg.cond_embedding_dim:
            raise ConfigError(
                f"Conditioning.embedding has size {cond.embedding.shape[1]}, the "
                f"network takes {cfg.cond_embedding_dim} (0: none)"
            )
        if cond.spectrogram is not None and (
            cond.spectrogram.shape[1] != cfg.cond_channels
            or cond.spectrogram.shape[2:] != x.shape[2:]
        ):
            raise ConfigError(
                f"Conditioning.spectrogram must be (B, {cfg.cond_channels}, "
                f"{x.shape[2]}, {x.shape[3]}), got "
                f"{tuple(cond.spectrogram.shape)} (pad it like x)"
            )
        if cond.context is not None and cond.context.shape[2] != cfg.context_dim:
            raise ConfigError(
                f"Conditioning.context has token size {cond.context.shape[2]}, "
                f"the network takes {cfg.context_dim} (0: none)"
            )

    def forward(
        self, x: torch.Tensor, c_noise: torch.Tensor, cond: Conditioning | None = None
    ) -> torch.Tensor:
        """``F(x, c_noise, cond)``, shaped like ``x``."""
        c_noise = torch.as_tensor(c_noise, device=x.device)
        if c_noise.ndim == 0:
            c_noise = c_noise.expand(x.shape[0])
        self._check(x, c_noise, cond)
        emb = self.noise_embedding(c_noise)
        context = mask = None
        if cond is not None:
            if self.cond_embedding is not None and cond.embedding is not None:
                emb = emb + self.cond_embedding(cond.embedding.to(emb.dtype))
            context, mask = cond.context, cond.context_mask
        if self.config.cond_channels:
            spec = None if cond is None else cond.spectrogram
            if spec is None:
                spec = x.new_zeros(x.shape[0], self.config.cond_channels, *x.shape[2:])
            x = torch.cat([x, spec.to(x.dtype)], dim=1)
        h = self.input_conv(x)
        skips = []
        for stage, down in zip(self.encoder, self.downsample):
            h = stage(h, emb, context, mask)
            skips.append(h)
            h = down(h)
        h = self.middle2(self.middle_attention(self.middle1(h, emb)), emb)
        for stage, up in zip(self.decoder, self.upsample):
            h = stage(torch.cat([up(h), skips.pop()], dim=1), emb, context, mask)
        return self.output_conv(torch.nn.functional.silu(self.output_norm(h)))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def build_denoiser(config: UNetConfig, sigma_data: float) -> EDMDenoiser:
    """A fresh U-Net wrapped in EDM preconditioning: ``D(x, sigma, cond)``."""
    return EDMDenoiser(UNet(config), sigma_data=sigma_data)
