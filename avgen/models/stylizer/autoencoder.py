r"""A KL-regularised convolutional autoencoder of the compressed complex STFT.

The latent diffusion model of the paper (Li et al., ECCV 2024, after Rombach et al., 2022)
runs in the latent space of a VAE. Here the VAE's input is the compressed STFT
``x`` ``(B, 2, 256, T)`` of :mod:`~avgen.models.stylizer.representation`. The encoder
:math:`E` cuts it into non-overlapping patches of ``freq_down x time_down`` bins and frames (a
convolution whose kernel equals its stride: a learned linear map of each patch), then runs
residual blocks at that resolution and outputs a Gaussian posterior
:math:`q(z \mid x) = N(\mu, \mathrm{diag}\,s^2)` of ``latent_channels`` maps of
``256 / freq_down`` bins and ``T / time_down`` frames; the decoder :math:`G` mirrors it (residual
blocks, then a transposed convolution back to patches). Working at the latent resolution only
keeps the autoencoder cheap on a CPU (a full-resolution stage cost 10x more for a worse
round trip in a short fit). Training minimises

.. math::

    L = \|G(z) - x\|_1 + \lambda_\mathrm{mag}\,\big\||G(z)| - |x|\big\|_1
        + \beta\,\mathrm{KL}\big(q(z \mid x)\,\|\,N(0, I)\big),\qquad z \sim q(z \mid x),

each term a mean over elements (``|.|`` the per-bin modulus of the two channels), with a small
:math:`\beta` (``1e-4`` to ``1e-6``: Rombach et al. use ``1e-6``) so that the latent stays close
to a deterministic code with a bounded scale. The magnitude term keeps the spectral envelope
when the phase is hard to reproduce.

``encode`` returns the posterior mean (the latent diffusion model uses it as a deterministic
code); ``decode`` returns the compressed STFT; :meth:`SpectralVAE.encode_waveform` and
:meth:`SpectralVAE.decode_waveform` go through the STFT and the iSTFT, padding the frames to the
encoder's multiple on the way in and cropping them on the way out, so any length works.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from avgen.errors import ConfigError
from avgen.models.dict_config import checked_from_dict
from avgen.models.diffusion.layers import group_norm
from avgen.models.diffusion.spectra import (
    crop_frames,
    pad_frames,
    tensor_to_waveform,
    waveform_to_tensor,
)


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture and loss weights of :class:`SpectralVAE`.

    Attributes:
        channels: feature channels of the residual blocks (at the latent resolution).
        freq_down: frequency downsampling (the patch height; divides ``n_freqs``).
        time_down: time downsampling (the patch width).
        latent_channels: channels of the latent.
        res_blocks: residual blocks in the encoder and in the decoder.
        kl_weight: ``beta`` of the loss.
        magnitude_weight: ``lambda_mag`` of the loss.
        n_freqs: frequency bins of the input (256).
    """

    channels: int = 32
    freq_down: int = 4
    time_down: int = 2
    latent_channels: int = 4
    res_blocks: int = 2
    kl_weight: float = 1e-5
    magnitude_weight: float = 1.0
    n_freqs: int = 256

    def __post_init__(self) -> None:
        for name in ("freq_down", "time_down"):
            v = getattr(self, name)
            if v < 1 or v & (v - 1):
                raise ConfigError(f"AutoencoderConfig.{name} must be a power of 2, got {v}")
        if self.channels < 4 or self.channels % 4 or self.latent_channels < 1:
            raise ConfigError("AutoencoderConfig: channels must be a multiple of 4 (>= 4)")
        if self.n_freqs % self.freq_down or self.res_blocks < 1:
            raise ConfigError("AutoencoderConfig: n_freqs % freq_down == 0 and res_blocks >= 1")
        if self.kl_weight < 0 or self.magnitude_weight < 0:
            raise ConfigError("AutoencoderConfig: loss weights must be >= 0")

    @property
    def latent_freqs(self) -> int:
        return self.n_freqs // self.freq_down

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AutoencoderConfig:
        return checked_from_dict(cls, d)


class _Res(nn.Module):
    """``x + Conv(SiLU(GN(Conv(SiLU(GN(x))))))`` (with a 1x1 projection when widths differ)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            group_norm(cin),
            nn.SiLU(),
            nn.Conv2d(cin, cout, 3, padding=1),
            group_norm(cout),
            nn.SiLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
        )
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


INPUT_SCALE = 5.0
"""The compressed STFT is multiplied by this on the way in and divided on the way out (its
loud bins are about 0.2: this brings the network's inputs and outputs to order 1)."""


class SpectralVAE(nn.Module):
    """``encode(x) -> (mean, logvar)``, ``decode(z) -> x_hat`` on compressed-STFT tensors."""

    def __init__(self, config: AutoencoderConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or AutoencoderConfig()
        c, patch = cfg.channels, (cfg.freq_down, cfg.time_down)
        self.encoder = nn.Sequential(
            nn.Conv2d(2, c, patch, stride=patch),
            *[_Res(c, c) for _ in range(cfg.res_blocks)],
            group_norm(c),
            nn.SiLU(),
            nn.Conv2d(c, 2 * cfg.latent_channels, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(cfg.latent_channels, c, 3, padding=1),
            *[_Res(c, c) for _ in range(cfg.res_blocks)],
            group_norm(c),
            nn.SiLU(),
            nn.ConvTranspose2d(c, 2, patch, stride=patch),
        )

    @property
    def multiple(self) -> int:
        """Frames must be a multiple of this (the time downsampling)."""
        return self.config.time_down

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != 2 or x.shape[2] != self.config.n_freqs:
            raise ConfigError(
                f"SpectralVAE takes (B, 2, {self.config.n_freqs}, T), got {tuple(x.shape)}"
            )
        if x.shape[3] % self.multiple:
            raise ConfigError(
                f"SpectralVAE: {x.shape[3]} frames is not a multiple of {self.multiple}"
            )

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, logvar)`` of ``q(z | x)``, each ``(B, latent_channels, F / fd, T / td)``."""
        self._check(x)
        mean, logvar = self.encoder(x * INPUT_SCALE).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean: the deterministic latent code of ``x``."""
        return self.posterior(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The compressed STFT ``(B, 2, F, T)`` of a latent."""
        return self.decoder(z) / INPUT_SCALE

    def encode_waveform(self, wav: torch.Tensor) -> tuple[torch.Tensor, int]:
        """``(B, N)`` waveforms -> ``(latent, frames)``: frames zero-padded to the multiple."""
        x, frames = pad_frames(waveform_to_tensor(wav), self.multiple)
        return self.encode(x), frames

    def decode_waveform(self, z: torch.Tensor, frames: int, length: int) -> torch.Tensor:
        """Latent -> ``(B, length)`` waveforms: decode, crop to ``frames``, iSTFT."""
        return tensor_to_waveform(crop_frames(self.decode(z), frames), length=length)

    def round_trip(self, wav: torch.Tensor) -> torch.Tensor:
        """``decode(encode(wav))`` as a waveform of the same length (any length)."""
        z, frames = self.encode_waveform(wav)
        return self.decode_waveform(z, frames, wav.shape[-1])

    def loss(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """The training loss (see the module) and its terms: ``total``, ``l1``, ``magnitude``,
        ``kl``."""
        mean, logvar = self.posterior(x)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = mean + (0.5 * logvar).exp() * eps
        x_hat = self.decode(z)
        l1 = (x_hat - x).abs().mean()
        mag = (_modulus(x_hat) - _modulus(x)).abs().mean()
        kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).mean()
        cfg = self.config
        total = l1 + cfg.magnitude_weight * mag + cfg.kl_weight * kl
        return {"total": total, "l1": l1, "magnitude": mag, "kl": kl}


def _modulus(x: torch.Tensor) -> torch.Tensor:
    return (x[:, 0].square() + x[:, 1].square() + 1e-12).sqrt()


def latent_rms(latents: list[torch.Tensor]) -> float:
    """Root mean square of latent codes (the scale that normalises them to unit variance)."""
    total = sum(float(z.double().square().sum()) for z in latents)
    count = sum(z.numel() for z in latents)
    return math.sqrt(total / max(count, 1)) or 1.0
