r"""One MVSD converter: an EDM-preconditioned U-Net conditioned on a source spectrogram and a
scene embedding.

A converter models :math:`p(x_0 \mid s, I)`: the target compressed STFT :math:`x_0` (reverberant
speech for the reverberator :math:`f`, dry speech for the dereverberator :math:`g`) given the
source compressed STFT :math:`s` (``(B, 2, 256, T)``, the other side of the pair) and the room
picture :math:`I` through its :class:`~avgen.models.scene.embedding.SceneEmbedding`
``(v, tokens)``. The denoiser is EDM's (Karras et al., 2022, Table 1):

.. math::

    D_\theta(x; \sigma, s, I) = c_\mathrm{skip}(\sigma)\,x
        + c_\mathrm{out}(\sigma)\,F_\theta\big(c_\mathrm{in}(\sigma)\,x;\ c_\mathrm{noise}(\sigma),
        [s],\ \mathrm{FiLM}(v),\ \mathrm{xattn}(\mathrm{tokens})\big),

with :math:`s` concatenated to the input channels, :math:`v` added to the noise embedding that
scales and shifts every residual block, and the tokens attended to at the third encoder and
first decoder stage (MVSD, Ma et al., ECCV 2024; see :mod:`avgen.models.mvsd.config`).

**The cheap prediction** (:meth:`Converter.predict`) used inside the style and cycle losses is the
denoiser's one-step estimate of :math:`x_0` at a fixed high noise level
:math:`\sigma_p = k\,\sigma_\mathrm{data}` (``MVSDConfig.predict_sigma``, :math:`k = 5`), from a
state centred on the *source*:

.. math::

    \hat x_0 = D_\theta(s + \sigma_p \epsilon;\ \sigma_p, s, I), \qquad \epsilon \sim N(0, I).

Why: at :math:`\sigma_p = 5\sigma_\mathrm{data}`, :math:`c_\mathrm{skip} = 1/26`, so the state
carries almost no information about the target beyond the conditioning and :math:`D` is the
network's estimate of the conditional mean :math:`E[x_0 \mid s, I]`: a deterministic-looking,
differentiable regression output from one network evaluation (no sampling chain to
backpropagate through). Centring the state on the source (which the cycle has; it has no target
for unpaired items) rather than on the target shifts the network's input by
:math:`\|x_0 - s\| \approx \sigma_\mathrm{data}`, a fifth of the noise, so the input looks like
what the denoiser is trained on at that level. A lower or sampled level would let the estimate
lean on the state, i.e. copy the source, which is exactly what the cycle must not reward.
Caveat: with the default training levels (:math:`\log\sigma \sim N(-1.2 + \log(\sigma_\mathrm{data}
/ 0.5), 1.2^2)`), :math:`\sigma_p` lies 2.9 standard deviations above their mean, so the denoising
loss visits it rarely; the style loss trains it directly (it is then the regression the style
loss asks for), and ``MVSDTrainConfig.p_mean`` can be raised to share the work (the picture
check of ``benchmarks/mvsd_picture_conditioning.py`` uses -2.0). Full sampling (:meth:`sample`,
EDM's Heun sampler) is for test time only.

**Without the picture** (``use_picture=False``, the ablation): ``scene`` must be ``None``; the
U-Net has no FiLM or cross-attention inputs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from avgen.errors import ConfigError
from avgen.models.diffusion.conditioning import Conditioning
from avgen.models.diffusion.configs import UNetConfig
from avgen.models.diffusion.unet import UNet
from avgen.models.scene.embedding import SceneEmbedding
from inference.diffusion import karras_sigmas, sample_heun
from inference.diffusion.precond import EDMDenoiser, edm_loss

SAMPLE_MAX_FACTOR = 20.0
"""Default ``sigma_max / sigma_data`` of :meth:`Converter.sample` (inside the trained range)."""
SAMPLE_MIN_FACTOR = 0.02
"""Default ``sigma_min / sigma_data`` of :meth:`Converter.sample`."""


class Converter(nn.Module):
    """``D(x, sigma; source, scene)``: one of MVSD's two conditional denoisers.

    Args:
        unet: the U-Net (``cond_channels = 2``; with a picture, FiLM and tokens of the scene
            encoder's sizes).
        sigma_data: EDM's data standard deviation.
        predict_sigma: the level of :meth:`predict` as a multiple of ``sigma_data``.
    """

    def __init__(self, unet: UNetConfig, sigma_data: float, predict_sigma: float = 5.0) -> None:
        super().__init__()
        if unet.cond_channels != 2:
            raise ConfigError(
                "a Converter's U-Net takes the source as 2 channels (cond_channels=2)"
            )
        self.unet_config = unet
        self.denoiser = EDMDenoiser(UNet(unet), sigma_data=sigma_data)
        self.sigma_data = float(sigma_data)
        self.predict_sigma = float(predict_sigma)

    @property
    def uses_picture(self) -> bool:
        return self.unet_config.cond_embedding_dim > 0 or self.unet_config.context_dim > 0

    def conditioning(self, source: torch.Tensor, scene: SceneEmbedding | None) -> Conditioning:
        """The U-Net's :class:`Conditioning`: the source spectrogram, and the scene's vector
        (FiLM) and tokens (cross-attention) when the converter uses the picture."""
        if source.ndim != 4 or source.shape[1] != 2:
            raise ConfigError(f"source must be (B, 2, F, T), got {tuple(source.shape)}")
        if not self.uses_picture:
            if scene is not None:
                raise ConfigError("this converter was built without the picture; pass scene=None")
            return Conditioning(spectrogram=source)
        if scene is None:
            raise ConfigError("this converter is conditioned on the picture; pass its scene")
        return Conditioning(
            embedding=scene.vector if self.unet_config.cond_embedding_dim else None,
            spectrogram=source,
            context=scene.tokens if self.unet_config.context_dim else None,
        )

    def denoise(
        self,
        x: torch.Tensor,
        sigma: torch.Tensor | float,
        source: torch.Tensor,
        scene: SceneEmbedding | None,
    ) -> torch.Tensor:
        """``D(x; sigma, source, scene)``: the EDM estimate of the target given a noisy state."""
        return self.denoiser(x, sigma, self.conditioning(source, scene))

    def forward(
        self,
        x: torch.Tensor,
        sigma: torch.Tensor | float,
        source: torch.Tensor,
        scene: SceneEmbedding | None,
    ) -> torch.Tensor:
        return self.denoise(x, sigma, source, scene)

    def loss(
        self,
        target: torch.Tensor,
        source: torch.Tensor,
        scene: SceneEmbedding | None,
        *,
        p_mean: float,
        p_std: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """EDM's weighted denoising loss of the target given the source and scene."""
        return edm_loss(
            self.denoiser,
            target,
            self.conditioning(source, scene),
            p_mean=p_mean,
            p_std=p_std,
            generator=generator,
        )

    def predict(
        self,
        source: torch.Tensor,
        scene: SceneEmbedding | None,
        *,
        generator: torch.Generator | None = None,
        sigma: float | None = None,
    ) -> torch.Tensor:
        """The cheap, differentiable one-step estimate ``D(s + sigma_p eps; sigma_p, s, scene)``
        (see the module: why this level and this centre)."""
        level = self.predict_sigma * self.sigma_data if sigma is None else float(sigma)
        noise = torch.randn(
            source.shape, generator=generator, device=source.device, dtype=source.dtype
        )
        return self.denoise(source + level * noise, level, source, scene)

    @torch.no_grad()
    def sample(
        self,
        source: torch.Tensor,
        scene: SceneEmbedding | None,
        *,
        steps: int = 18,
        generator: torch.Generator | None = None,
        s_churn: float = 0.0,
        max_factor: float = SAMPLE_MAX_FACTOR,
        min_factor: float = SAMPLE_MIN_FACTOR,
        rho: float = 7.0,
        callback: Any = None,
    ) -> torch.Tensor:
        """Full sampling (test time): EDM's Heun sampler (:func:`inference.diffusion.sample_heun`,
        ``2 steps - 1`` network evaluations) over Karras et al.'s schedule from
        ``max_factor sigma_data`` to ``min_factor sigma_data``, starting from pure noise."""
        if steps < 1:
            raise ConfigError(f"steps must be >= 1, got {steps}")
        cond = self.conditioning(source, scene)
        sigmas = karras_sigmas(
            steps, min_factor * self.sigma_data, max_factor * self.sigma_data, rho
        ).to(source.device)
        noise = torch.randn(
            source.shape, generator=generator, device=source.device, dtype=source.dtype
        )
        x_t = noise * float(sigmas[0])
        return sample_heun(
            self.denoiser,
            x_t,
            sigmas,
            generator=generator,
            cond=cond,
            callback=callback,
            s_churn=s_churn,
        )
