r"""Configuration of the soundscape stylizer: the networks (:class:`StylizerConfig`, named sizes
by :func:`stylizer_config`) and the training run (:class:`StylizerTrainConfig`).

The latent diffusion U-Net (:class:`avgen.models.diffusion.unet.UNet`) runs on the autoencoder's
latent, ``(B, c, 256 / freq_down, T / time_down)``, normalised to unit variance (so EDM's
``sigma_data = 1``), with the content latent concatenated as ``c`` extra input channels, the
condition's FiLM vector and cross-attention to its tokens at the coarsest level(s). Frames of the
STFT must be a multiple of :attr:`StylizerConfig.multiple` (``time_down`` times the U-Net's
downsampling factor); :meth:`~avgen.models.stylizer.model.Stylizer.stylize` pads and crops.

**Named sizes** (parameter counts asserted in the tests for ``tiny``):

=========  =====================  ==================  ===========  ===================  =========
size       autoencoder            U-Net channels      cross-attn.  condition (D = 256)  total
=========  =====================  ==================  ===========  ===================  =========
``tiny``   32 ch., 2 blocks;      16, 32, 48          level 2      audio width 8,       731,826
           77,130                 415,204                          picture width 4;
                                                                   239,492
``small``  64 ch., 3 blocks;      32, 64, 96, 128     levels 2, 3  audio 16, picture    6,472,574
           449,930                (self-attn. 3 +                  16; 1,014,736
                                  middle); 5,007,908
=========  =====================  ==================  ===========  ===================  =========

Measured on one CPU thread (shared 2-core machine), ``tiny``, batch 8 of 2-s crops: 2.3
diffusion steps/s (18.6 samples/s) with cached latents, 1.4 without; the autoencoder alone,
batch 4 of 0.5-s crops: about 10 steps/s; stylizing 2 s with 12 Heun steps and guidance 2:
1.6 s (real-time factor 0.8).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from avgen.audio import DIFFUSION_STFT, SAMPLE_RATE
from avgen.errors import ConfigError
from avgen.models.dict_config import checked_from_dict
from avgen.models.diffusion.configs import AMP_MODES, UNetConfig
from avgen.models.stylizer.autoencoder import AutoencoderConfig
from avgen.models.stylizer.conditions import ConditionConfig


def latent_unet(
    autoencoder: AutoencoderConfig,
    condition: ConditionConfig,
    channels: tuple[int, ...],
    *,
    res_blocks: int = 1,
    embedding_dim: int = 64,
    attention_head_dim: int = 16,
    attention_levels: tuple[int, ...] = (),
    middle_attention: bool = False,
    cross_attention_levels: tuple[int, ...] | None = None,
) -> UNetConfig:
    """The latent U-Net: state and content latents (``2 c`` input channels), FiLM vector and
    tokens of size ``condition.dim``; cross-attention at the coarsest level by default."""
    c = autoencoder.latent_channels
    levels = len(channels)
    return UNetConfig(
        channels=tuple(channels),
        res_blocks=res_blocks,
        attention_levels=tuple(attention_levels),
        cross_attention_levels=(levels - 1,)
        if cross_attention_levels is None
        else tuple(cross_attention_levels),
        middle_attention=middle_attention,
        attention_head_dim=attention_head_dim,
        embedding_dim=embedding_dim,
        fourier_features=max(16, embedding_dim // 4),
        cond_embedding_dim=condition.dim,
        cond_channels=c,
        context_dim=condition.dim,
        in_channels=c,
        out_channels=c,
        n_freqs=autoencoder.latent_freqs,
    )


def _default_unet() -> UNetConfig:
    return latent_unet(AutoencoderConfig(), ConditionConfig(), (16, 32, 48))


@dataclass(frozen=True)
class StylizerConfig:
    """Architecture of :class:`~avgen.models.stylizer.model.Stylizer` (frozen, JSON-able).

    Attributes:
        autoencoder: the VAE of the compressed STFT.
        condition: the audio-example and picture encoders.
        unet: the latent U-Net (build it with :func:`latent_unet`).
        sigma_data: EDM's data standard deviation of the *normalised* latent (1).
        min_example_seconds: shortest audio example accepted at inference.
        size: the named size this came from (informative).
    """

    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    condition: ConditionConfig = field(default_factory=ConditionConfig)
    unet: UNetConfig = field(default_factory=_default_unet)
    sigma_data: float = 1.0
    min_example_seconds: float = 0.5
    size: str = "custom"

    def __post_init__(self) -> None:
        for name, cls in (
            ("autoencoder", AutoencoderConfig),
            ("condition", ConditionConfig),
            ("unet", UNetConfig),
        ):
            if isinstance(getattr(self, name), Mapping):
                object.__setattr__(self, name, cls.from_dict(getattr(self, name)))
        u, a, c = self.unet, self.autoencoder, self.condition
        if (u.in_channels, u.out_channels, u.cond_channels) != (a.latent_channels,) * 3:
            raise ConfigError(
                "StylizerConfig.unet must take the latent as state and content "
                f"({a.latent_channels} channels each); build it with latent_unet"
            )
        if u.n_freqs != a.latent_freqs:
            raise ConfigError(
                f"StylizerConfig: the U-Net takes {u.n_freqs} bins, the latent has {a.latent_freqs}"
            )
        if u.cond_embedding_dim != c.dim or u.context_dim != c.dim:
            raise ConfigError(
                f"StylizerConfig: the U-Net's FiLM/token sizes ({u.cond_embedding_dim}, "
                f"{u.context_dim}) differ from the condition's {c.dim}"
            )
        if not (self.sigma_data > 0 and math.isfinite(self.sigma_data)):
            raise ConfigError("StylizerConfig.sigma_data must be positive")
        if self.min_example_seconds <= 0:
            raise ConfigError("StylizerConfig.min_example_seconds must be positive")

    @property
    def multiple(self) -> int:
        """STFT frames must be a multiple of this: ``time_down`` x the U-Net's factor."""
        return self.autoencoder.time_down * self.unet.downsampling_factor

    @property
    def min_example_samples(self) -> int:
        return round(self.min_example_seconds * SAMPLE_RATE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "autoencoder": self.autoencoder.to_dict(),
            "condition": self.condition.to_dict(),
            "unet": self.unet.to_dict(),
            "sigma_data": self.sigma_data,
            "min_example_seconds": self.min_example_seconds,
            "size": self.size,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StylizerConfig:
        return checked_from_dict(cls, d)


def stylizer_config(size: str = "tiny", **overrides: Any) -> StylizerConfig:
    """A named size: ``tiny`` (tests, CPU) or ``small`` (bundled weights; GPU training)."""
    if size == "tiny":
        ae = AutoencoderConfig(channels=32, res_blocks=2, latent_channels=4)
        cond = ConditionConfig(dim=256, audio_width=8, audio_tokens=8, picture_width=4)
        unet = latent_unet(ae, cond, (16, 32, 48), embedding_dim=64, attention_head_dim=16)
    elif size == "small":
        ae = AutoencoderConfig(channels=64, res_blocks=3, latent_channels=4)
        cond = ConditionConfig(dim=256, audio_width=16, audio_tokens=16, picture_width=16)
        unet = latent_unet(
            ae,
            cond,
            (32, 64, 96, 128),
            res_blocks=2,
            embedding_dim=128,
            attention_head_dim=32,
            attention_levels=(3,),
            middle_attention=True,
            cross_attention_levels=(2, 3),
        )
    else:
        raise ConfigError(f"unknown stylizer size {size!r}; choose tiny or small")
    return StylizerConfig(autoencoder=ae, condition=cond, unet=unet, size=size, **overrides)


@dataclass(frozen=True)
class StylizerTrainConfig:
    """Hyper-parameters of :func:`~avgen.models.stylizer.train.fit_stylizer`.

    Attributes:
        ae_steps, ae_batch_size, ae_lr: the autoencoder's run (stage 1; skipped when a trained
            autoencoder is given). The magnitudes are learnt in a few hundred steps, the phase
            only after about a thousand (SI-SDR of the round trip: -4 dB after 400 steps,
            15 dB after 1200 on the synthetic test set).
        steps, batch_size, lr: the latent diffusion run (stage 2).
        lr_warmup_steps: linear learning-rate ramp of both stages.
        crop_seconds: length of the aligned content/target crops (rounded up to whole
            multiples of :attr:`StylizerConfig.multiple` frames).
        example_seconds: length of the audio-example crop.
        p_drop_audio, p_drop_picture: probability of replacing each modality by its null
            during training (independently; classifier-free guidance).
        p_mean, p_std: log-normal training noise levels (``p_mean=None``: EDM's -1.2 moved to
            ``sigma_data``'s scale).
        weight_decay, grad_clip, ema_decay: AdamW decay, gradient-norm clip (0: none), weight
            average of the diffusion model used for inference.
        amp: ``"none"``, ``"bf16"`` or ``"fp16"`` (CUDA only).
        seed: initial weights, crops, dropout and noise.
        cache_latents: encode every item's content and target once (whole clips) and crop
            the latents, instead of encoding each step's crops (about 2x faster per step on a
            CPU; memory: 2 x 4 x 64 x 63 floats per second of audio, 130 kB/s).
        log_every, checkpoint_every: progress-bar update and checkpoint intervals (0: at the
            end only).
    """

    ae_steps: int = 1500
    ae_batch_size: int = 8
    ae_lr: float = 2e-3
    steps: int = 300
    batch_size: int = 8
    lr: float = 1e-3
    lr_warmup_steps: int = 20
    crop_seconds: float = 1.0
    example_seconds: float = 1.0
    p_drop_audio: float = 0.1
    p_drop_picture: float = 0.1
    p_mean: float | None = None
    p_std: float = 1.2
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.99
    amp: str = "none"
    seed: int = 0
    cache_latents: bool = True
    log_every: int = 10
    checkpoint_every: int = 0

    def __post_init__(self) -> None:
        if self.amp not in AMP_MODES:
            raise ConfigError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        ints = ("steps", "batch_size", "ae_batch_size", "log_every")
        if any(getattr(self, k) < 1 for k in ints) or self.ae_steps < 0:
            raise ConfigError(f"StylizerTrainConfig: {', '.join(ints)} >= 1, ae_steps >= 0")
        if min(self.crop_seconds, self.example_seconds, self.lr, self.ae_lr, self.p_std) <= 0:
            raise ConfigError(
                "StylizerTrainConfig: crop/example seconds, learning rates and p_std must be > 0"
            )
        for name in ("p_drop_audio", "p_drop_picture"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"StylizerTrainConfig.{name} must be in [0, 1]")
        if not 0 <= self.ema_decay < 1 or self.lr_warmup_steps < 0:
            raise ConfigError("StylizerTrainConfig: 0 <= ema_decay < 1, lr_warmup_steps >= 0")

    def crop_samples(self, multiple: int) -> int:
        """Samples of a content/target crop: a whole multiple of ``multiple`` frames."""
        frames = math.ceil(self.crop_seconds * SAMPLE_RATE / DIFFUSION_STFT.hop_length) + 1
        frames = max(multiple, -(-frames // multiple) * multiple)
        return (frames - 1) * DIFFUSION_STFT.hop_length

    @property
    def example_samples(self) -> int:
        return round(self.example_seconds * SAMPLE_RATE)

    def resolved_p_mean(self, sigma_data: float) -> float:
        from avgen.models.diffusion.configs import edm_p_mean

        return edm_p_mean(self.p_mean, sigma_data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StylizerTrainConfig:
        return checked_from_dict(cls, d)
