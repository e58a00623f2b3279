r"""The soundscape stylizer: latent diffusion of the original clip given the speech and an
audio-visual example of the scene (Li et al., "Self-Supervised Audio-Visual Soundscape
Stylization", ECCV 2024).

With :math:`E, G` the autoencoder's encoder and decoder (:mod:`.autoencoder`), :math:`s` the
latent scale (the RMS of training latents, so latents have unit variance), the content
latent :math:`c = E(\tilde X_\mathrm{speech}) / s`, the condition :math:`(v, \{t_k\})` of the
example's audio :math:`a` and picture :math:`I` (:mod:`.conditions`), the model is EDM's
preconditioned denoiser of the target latent :math:`x_0 = E(\tilde X_\mathrm{target}) / s`
(Karras et al., 2022, Table 1):

.. math::

    D_\theta(x; \sigma, c, a, I) = c_\mathrm{skip}(\sigma)\,x + c_\mathrm{out}(\sigma)\,
        F_\theta\big(c_\mathrm{in}(\sigma)\,x;\ c_\mathrm{noise}(\sigma),\ [c],\
        \mathrm{FiLM}(v),\ \mathrm{xattn}(\{t_k\})\big),

the content latent concatenated to the noisy state's channels (as the paper concatenates the
input speech's latent), trained with EDM's weighted denoising loss
(:func:`inference.diffusion.precond.edm_loss`). **Sampling**
(:meth:`Stylizer.stylize`): EDM's Heun (or Euler) sampler over Karras et al.'s schedule from
``20 sigma_data`` to ``0.02 sigma_data``, from noise drawn with ``seed``, with classifier-free
guidance :func:`inference.diffusion.classifier_free_guidance`:
:math:`D_w = D(\cdot, \varnothing) + w\,(D(\cdot, a, I) - D(\cdot, \varnothing))`, where
:math:`\varnothing` is both modalities' null (``w = 0``: unconditional; ``w = 1``: conditional,
exactly). The output latent is decoded by :math:`G(s\,x)` and the iSTFT.

**Any length.** The speech's STFT frames are zero-padded on the right to a multiple of
:attr:`StylizerConfig.multiple` (explicitly, :func:`~avgen.models.diffusion.spectra.pad_frames`),
and the decoded STFT is cropped back before the iSTFT to the input's exact sample count.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from avgen.audio import check_waveform
from avgen.errors import AudioError, ConfigError
from avgen.models.diffusion.conditioning import Conditioning
from avgen.models.diffusion.spectra import (
    crop_frames,
    pad_frames,
    tensor_to_waveform,
    waveform_to_tensor,
)
from avgen.models.diffusion.unet import UNet
from avgen.models.stylizer.autoencoder import SpectralVAE
from avgen.models.stylizer.conditions import ConditionEncoder, StyleCondition
from avgen.models.stylizer.config import StylizerConfig
from avgen.seeding import torch_generator
from inference.diffusion import (
    classifier_free_guidance,
    karras_sigmas,
    sample_euler,
    sample_heun,
)
from inference.diffusion.precond import EDMDenoiser, edm_loss

SAMPLE_MAX_FACTOR = 20.0
"""``sigma_max / sigma_data`` of the sampling schedule."""
SAMPLE_MIN_FACTOR = 0.02
"""``sigma_min / sigma_data`` of the sampling schedule."""
SAMPLERS = {"heun": sample_heun, "euler": sample_euler}
"""The samplers :meth:`Stylizer.stylize` takes by name."""


class Stylizer(nn.Module):
    """Autoencoder + condition encoder + latent EDM denoiser (see the module)."""

    def __init__(self, config: StylizerConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or StylizerConfig()
        self.autoencoder = SpectralVAE(config.autoencoder)
        self.condition = ConditionEncoder(config.condition)
        self.denoiser = EDMDenoiser(UNet(config.unet), sigma_data=config.sigma_data)
        self.register_buffer("latent_scale", torch.tensor(1.0))

    # --- latents --------------------------------------------------------------------------

    def latents(self, wav: torch.Tensor) -> tuple[torch.Tensor, int]:
        """``(B, N)`` waveforms -> normalised latents ``(B, c, F', T')`` and the frame count
        before padding to :attr:`StylizerConfig.multiple`."""
        x, frames = pad_frames(waveform_to_tensor(wav), self.config.multiple)
        return self.autoencoder.encode(x) / self.latent_scale, frames

    def waveforms(self, z: torch.Tensor, frames: int, length: int) -> torch.Tensor:
        """Normalised latents -> ``(B, length)`` waveforms (decode, crop frames, iSTFT)."""
        x = self.autoencoder.decode(z * self.latent_scale)
        return tensor_to_waveform(crop_frames(x, frames), length=length)

    # --- conditions -----------------------------------------------------------------------

    def style(
        self,
        example: torch.Tensor | None,
        picture: torch.Tensor | None,
        batch_size: int,
        *,
        keep_audio: torch.Tensor | None = None,
        keep_picture: torch.Tensor | None = None,
    ) -> StyleCondition:
        """The encoded condition (absent modalities: their null)."""
        return self.condition(
            example,
            picture,
            batch_size=batch_size,
            keep_audio=keep_audio,
            keep_picture=keep_picture,
        )

    @staticmethod
    def conditioning(content: torch.Tensor, style: StyleCondition) -> Conditioning:
        """The U-Net's :class:`Conditioning`: content latent (channels), FiLM vector, tokens."""
        return Conditioning(embedding=style.vector, spectrogram=content, context=style.tokens)

    def denoise(
        self, x: torch.Tensor, sigma: torch.Tensor | float, cond: Conditioning
    ) -> torch.Tensor:
        """``D(x; sigma, cond)``."""
        return self.denoiser(x, sigma, cond)

    def loss(
        self,
        target: torch.Tensor,
        content: torch.Tensor,
        style: StyleCondition,
        *,
        p_mean: float,
        p_std: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """EDM's weighted denoising loss of the target latent given content and condition."""
        return edm_loss(
            self.denoiser,
            target,
            self.conditioning(content, style),
            p_mean=p_mean,
            p_std=p_std,
            generator=generator,
        )

    def guided(
        self,
        content: torch.Tensor,
        example: torch.Tensor | None,
        picture: torch.Tensor | None,
        guidance: float,
    ) -> tuple[Any, Conditioning]:
        """``(denoiser, cond)`` for sampling: with a condition, the classifier-free-guided
        denoiser of weight ``guidance`` against the null of both modalities; without one, the
        plain denoiser and the null condition."""
        b = content.shape[0]
        null = self.conditioning(content, self.style(None, None, b))
        if example is None and picture is None:
            return self.denoiser, null
        cond = self.conditioning(content, self.style(example, picture, b))
        return classifier_free_guidance(self.denoiser, guidance, null), cond

    # --- inference ------------------------------------------------------------------------

    def _batch(
        self,
        speech: torch.Tensor,
        example: torch.Tensor | None,
        picture: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        if speech.ndim not in (1, 2):
            raise ConfigError(f"speech must be (N,) or (B, N), got {tuple(speech.shape)}")
        speech2 = speech.reshape(-1, speech.shape[-1])
        for row in speech2:
            check_waveform(row, name="speech", min_samples=1, allow_silence=True)
        b = speech2.shape[0]
        if example is not None:
            if example.ndim not in (1, 2):
                raise ConfigError(f"example must be (M,) or (B, M), got {tuple(example.shape)}")
            example = example.reshape(-1, example.shape[-1])
            for row in example:
                check_waveform(row, name="audio example", min_samples=1)
            if example.shape[-1] < self.config.min_example_samples:
                raise AudioError(
                    f"audio example: {example.shape[-1]} samples, shorter than the "
                    f"{self.config.min_example_seconds:g} s the stylizer needs"
                )
            example = _expand(example, b, "audio examples")
        if picture is not None:
            if picture.ndim == 3:
                picture = picture.unsqueeze(0)
            if picture.ndim != 4 or picture.shape[1] != 3:
                raise ConfigError(
                    f"picture must be (3, S, S) or (B, 3, S, S), got {tuple(picture.shape)}"
                )
            picture = _expand(picture, b, "pictures")
        return speech2, example, picture

    @torch.no_grad()
    def stylize(
        self,
        speech: torch.Tensor,
        example: torch.Tensor | None = None,
        picture: torch.Tensor | None = None,
        *,
        guidance: float = 2.0,
        steps: int = 12,
        seed: int = 0,
        sampler: str = "heun",
    ) -> torch.Tensor:
        """Re-render ``speech`` ``(N,)`` or ``(B, N)`` (16 kHz) in the scene of ``example``
        (``(M,)`` or ``(B, M)``, at least ``min_example_seconds``) and/or ``picture``
        (``(3, 128, 128)`` or batched, in ``[0, 1]``); neither: the unconditional model.
        ``guidance``: classifier-free guidance weight (0: unconditional, 1: conditional).
        ``steps``: sampler steps (Heun: ``2 steps - 1`` network calls). Same ``seed``, same
        output. Returns a waveform of the speech's shape."""
        if steps < 1:
            raise ConfigError(f"steps must be >= 1, got {steps}")
        if sampler not in SAMPLERS:
            raise ConfigError(f"unknown sampler {sampler!r}; choose from {', '.join(SAMPLERS)}")
        device = self.latent_scale.device
        speech2, example, picture = self._batch(speech, example, picture)
        speech2 = speech2.to(device, torch.float32)
        example = None if example is None else example.to(device, torch.float32)
        picture = None if picture is None else picture.to(device, torch.float32)
        content, frames = self.latents(speech2)
        denoiser, cond = self.guided(content, example, picture, guidance)
        sd = self.config.sigma_data
        sigmas = karras_sigmas(steps, SAMPLE_MIN_FACTOR * sd, SAMPLE_MAX_FACTOR * sd).to(device)
        gen = torch_generator(seed, device)
        x_t = torch.randn(content.shape, generator=gen, device=device) * float(sigmas[0])
        z = SAMPLERS[sampler](denoiser, x_t, sigmas, generator=gen, cond=cond)
        out = self.waveforms(z, frames, speech2.shape[-1])
        return out.reshape(speech.shape)


def _expand(x: torch.Tensor, b: int, what: str) -> torch.Tensor:
    if x.shape[0] == b:
        return x
    if x.shape[0] == 1:
        return x.expand(b, *x.shape[1:])
    raise ConfigError(f"{x.shape[0]} {what} for {b} speech signals")
