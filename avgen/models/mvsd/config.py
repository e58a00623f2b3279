r"""Configuration of MVSD: the two converters, the scene encoder, padding, and training.

MVSD (Ma, Wang, Yang, Zheng, "MVSD: Mutual learning for acoustic matching and dereverberation
via visual scene-driven diffusion", ECCV 2024) has two conditional diffusion models, a
reverberator :math:`f` (dry -> reverberant, visual acoustic matching) and a dereverberator
:math:`g` (reverberant -> dry), both conditioned on a picture of the room through one scene
encoder. :class:`MVSDConfig` describes the networks, :class:`MVSDTrainConfig` the mutual-learning
run (:mod:`avgen.models.mvsd.train`).

**Where the picture enters each converter** (the paper's places): the 256-d scene vector ``v``
by FiLM in every residual block (``UNetConfig.cond_embedding_dim = 256``), the scene tokens by
cross-attention in the *third encoder block and the first decoder block* only. The U-Nets here
have three levels (0, 1, 2); :class:`~avgen.models.diffusion.unet.UNet` adds cross-attention at
a level ``l`` in ``cross_attention_levels`` both in the encoder stage of level ``l`` and in the
decoder stage of level ``l``, and the decoder runs the levels coarsest first, so
``cross_attention_levels = (2,)`` is exactly "encoder stage 3 + decoder stage 1" (a test checks
the modules sit there). The source spectrogram (2 channels: real and imaginary parts of the
compressed STFT) is concatenated to the noisy state (``cond_channels = 2``).

**Padding (the tail).** The reverberant output is longer than the dry input by the room's tail.
:meth:`MVSDConfig.tail_samples` is ``round(tail_seconds * 16000)``; for matching, the dry input
of ``N`` samples is zero-padded on the right by the tail *before* the STFT, so source and output
share ``T = 1 + (N + tail) // 128`` frames (then padded to the U-Net's multiple and cropped back),
and the output waveform has ``N + tail`` samples. Dereverberation maps ``M`` samples to ``M``
samples (the reverberant input already holds the tail; the dry target is zero there).

**Named sizes** (parameters counted in the tests; float32 bytes = 4 x parameters):

=========  ==================  ======  ==================  ==================  ====================
size       U-Net channels      blocks  one converter       scene encoder       whole model
=========  ==================  ======  ==================  ==================  ====================
``tiny``   8, 16, 24           1       122,370             65,764 (width 4)    310,504 (1.24 MB)
``small``  24, 48, 96          2       1,936,474           772,240 (width 16)  4,645,188 (18.6 MB)
=========  ==================  ======  ==================  ==================  ====================

Neither size has self-attention over the spectrogram, so memory grows linearly with the length
of the audio. Measured training speed on one CPU thread (CPU time), batch 2, 1-s crops: with
every loss term on (10 U-Net evaluations and their gradients per step) ``tiny`` 2.4 s/step,
``small`` 17.8 s/step; without the cycle (4 evaluations) ``tiny`` 0.78 s/step, ``small``
6.0 s/step. ``small`` is therefore meant for a GPU or a long CPU run.
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
from avgen.models.diffusion.spectra import segment_samples
from avgen.models.scene.encoder import SceneEncoderConfig

SCENE_DIM = 256
"""Size of the scene vector and of the scene tokens (MVSD: 256)."""

PAPER_CROSS_ATTENTION_LEVELS = (2,)
"""Level 2 of a three-level U-Net: the third encoder stage and the first decoder stage."""


def converter_unet(
    channels: tuple[int, ...],
    res_blocks: int,
    embedding_dim: int,
    attention_head_dim: int,
    *,
    use_picture: bool = True,
) -> UNetConfig:
    """The U-Net of one converter: source spectrogram concatenated (2 channels), and with
    ``use_picture`` the 256-d FiLM vector and 256-d cross-attention tokens at level 2."""
    return UNetConfig(
        channels=tuple(channels),
        res_blocks=res_blocks,
        embedding_dim=embedding_dim,
        fourier_features=max(16, embedding_dim // 4),
        attention_head_dim=attention_head_dim,
        cond_channels=2,
        cond_embedding_dim=SCENE_DIM if use_picture else 0,
        context_dim=SCENE_DIM if use_picture else 0,
        cross_attention_levels=PAPER_CROSS_ATTENTION_LEVELS if use_picture else (),
    )


@dataclass(frozen=True)
class MVSDConfig:
    """Architecture of :class:`~avgen.models.mvsd.model.MVSD` (frozen, JSON-able).

    Attributes:
        unet: the U-Net of each converter (both converters share the architecture, not the
            weights).
        scene: the scene encoder (:class:`~avgen.models.scene.encoder.SceneEncoderConfig`).
        sigma_data: EDM's data standard deviation of the compressed STFT (both converters).
        tail_seconds: the reverberant output's extra length over the dry input (see the module).
        use_picture: ``False`` is the ablation "without the picture": no scene encoder, no FiLM
            vector, no tokens; the converters see the source spectrogram only.
        predict_sigma: the noise level of the cheap one-step prediction used by the style and
            cycle losses, as a multiple of ``sigma_data`` (:meth:`Converter.predict`).
        size: the named size this came from (informative).
    """

    unet: UNetConfig = field(default_factory=lambda: converter_unet((8, 16, 24), 1, 32, 8))
    scene: SceneEncoderConfig = field(
        default_factory=lambda: SceneEncoderConfig(
            width=4, embedding_dim=SCENE_DIM, token_dim=SCENE_DIM
        )
    )
    sigma_data: float = 0.05
    tail_seconds: float = 1.0
    use_picture: bool = True
    predict_sigma: float = 5.0
    size: str = "custom"

    def __post_init__(self) -> None:
        if isinstance(self.unet, Mapping):
            object.__setattr__(self, "unet", UNetConfig.from_dict(self.unet))
        if isinstance(self.scene, Mapping):
            object.__setattr__(self, "scene", SceneEncoderConfig.from_dict(dict(self.scene)))
        if not (self.sigma_data > 0 and math.isfinite(self.sigma_data)):
            raise ConfigError(f"MVSDConfig.sigma_data must be positive, got {self.sigma_data}")
        if not 0 <= self.tail_seconds <= 10:
            raise ConfigError(
                f"MVSDConfig.tail_seconds must be in [0, 10], got {self.tail_seconds}"
            )
        if self.predict_sigma <= 0:
            raise ConfigError("MVSDConfig.predict_sigma must be positive")
        u = self.unet
        if u.cond_channels != 2 or u.in_channels != 2 or u.out_channels != 2:
            raise ConfigError(
                "MVSDConfig.unet must take 2 state channels and 2 source channels "
                "(cond_channels=2); build it with avgen.models.mvsd.config.converter_unet"
            )
        if self.use_picture:
            if u.cond_embedding_dim != self.scene.embedding_dim or u.context_dim != (
                self.scene.token_dim
            ):
                raise ConfigError(
                    f"MVSDConfig: the U-Net takes a {u.cond_embedding_dim}-d FiLM vector and "
                    f"{u.context_dim}-d tokens, the scene encoder gives "
                    f"{self.scene.embedding_dim} and {self.scene.token_dim}"
                )
        elif u.cond_embedding_dim or u.context_dim:
            raise ConfigError(
                "MVSDConfig(use_picture=False) needs a U-Net without FiLM and tokens "
                "(converter_unet(..., use_picture=False))"
            )

    @classmethod
    def for_size(cls, size: str, **overrides: Any) -> MVSDConfig:
        """The named size ``"tiny"`` or ``"small"`` (:func:`mvsd_config`)."""
        return mvsd_config(size, **overrides)

    @property
    def tail_samples(self) -> int:
        """The tail in samples at 16 kHz."""
        return round(self.tail_seconds * SAMPLE_RATE)

    def without_picture(self) -> MVSDConfig:
        """The ablation "without the picture": the same U-Net without FiLM and tokens."""
        unet = dataclasses.replace(
            self.unet, cond_embedding_dim=0, context_dim=0, cross_attention_levels=()
        )
        return dataclasses.replace(self, unet=unet, use_picture=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unet": self.unet.to_dict(),
            "scene": self.scene.to_dict(),
            "sigma_data": self.sigma_data,
            "tail_seconds": self.tail_seconds,
            "use_picture": self.use_picture,
            "predict_sigma": self.predict_sigma,
            "size": self.size,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MVSDConfig:
        """Inverse of :meth:`to_dict`; unknown keys are a :class:`ConfigError`."""
        return checked_from_dict(cls, d)


def mvsd_config(size: str = "tiny", *, use_picture: bool = True, **overrides: Any) -> MVSDConfig:
    """A named size: ``tiny`` (tests, 0.31 M parameters) or ``small`` (bundled, 4.6 M, < 20 MB
    float32 with the scene encoder). ``use_picture=False``: the ablation without the picture."""
    if size == "tiny":
        unet = converter_unet((8, 16, 24), 1, 32, 8, use_picture=use_picture)
        scene = SceneEncoderConfig(width=4, embedding_dim=SCENE_DIM, token_dim=SCENE_DIM)
    elif size == "small":
        unet = converter_unet((24, 48, 96), 2, 96, 32, use_picture=use_picture)
        scene = SceneEncoderConfig(width=16, embedding_dim=SCENE_DIM, token_dim=SCENE_DIM)
    else:
        raise ConfigError(f"unknown MVSD size {size!r}; choose tiny or small")
    return MVSDConfig(unet=unet, scene=scene, use_picture=use_picture, size=size, **overrides)


@dataclass(frozen=True)
class MVSDTrainConfig:
    """Hyper-parameters of :func:`~avgen.models.mvsd.train.fit_mvsd` (mutual learning).

    Attributes:
        steps: optimiser steps in total.
        batch_size: crops per step of each data stream (paired; unpaired reverberant; unpaired
            clean).
        crop_seconds: length of the random training crops (rounded to whole U-Net frames).
        lr: peak AdamW learning rate (linear ramp over ``lr_warmup_steps``).
        lr_warmup_steps: learning-rate ramp length.
        warmup_steps: paired-only warm-up: the unpaired cycle terms enter at this step (the
            paper waits 100 epochs).
        lambda_style, lambda_cycle: weights of the style and cycle losses.
        use_unpaired: ``False`` is the ablation "without unpaired data" (the unpaired sets are
            never read; the paired terms are unchanged).
        paired_cycle: add the cycle on paired data (both directions) too.
        p_mean, p_std: log-normal noise levels of the denoising loss; ``p_mean=None``: EDM's
            -1.2 moved to ``sigma_data``'s scale, ``-1.2 + log(sigma_data / 0.5)``.
        weight_decay, grad_clip: AdamW's decay and the global gradient-norm clip (0: none).
        ema_decay: decay of the weight average used for inference.
        amp: ``"none"``, ``"bf16"`` or ``"fp16"`` (CUDA only).
        seed: initial weights, crops, noise.
        log_every: steps between progress-bar updates of the loss.
        checkpoint_every: steps between checkpoints (0: only at the end, when a path is given).
    """

    steps: int = 200
    batch_size: int = 4
    crop_seconds: float = 1.0
    lr: float = 1e-3
    lr_warmup_steps: int = 10
    warmup_steps: int = 50
    lambda_style: float = 1.0
    lambda_cycle: float = 0.5
    use_unpaired: bool = True
    paired_cycle: bool = True
    p_mean: float | None = None
    p_std: float = 1.2
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.99
    amp: str = "none"
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 0

    def __post_init__(self) -> None:
        if self.amp not in AMP_MODES:
            raise ConfigError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if self.steps < 1 or self.batch_size < 1 or self.log_every < 1:
            raise ConfigError("MVSDTrainConfig: steps, batch_size and log_every must be >= 1")
        if self.crop_seconds <= 0 or self.lr <= 0 or self.p_std <= 0:
            raise ConfigError("MVSDTrainConfig: crop_seconds, lr and p_std must be positive")
        if self.warmup_steps < 0 or self.lr_warmup_steps < 0:
            raise ConfigError("MVSDTrainConfig: warm-up lengths must be >= 0")
        if self.lambda_style < 0 or self.lambda_cycle < 0:
            raise ConfigError("MVSDTrainConfig: loss weights must be >= 0")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError("MVSDTrainConfig: ema_decay must be in [0, 1)")

    def crop_frames(self, multiple: int) -> int:
        """STFT frames of a crop: ``crop_seconds`` rounded up to a multiple of ``multiple``."""
        frames = math.ceil(self.crop_seconds * SAMPLE_RATE / DIFFUSION_STFT.hop_length) + 1
        return max(multiple, -(-frames // multiple) * multiple)

    def crop_samples(self, multiple: int) -> int:
        """Samples of a crop (exactly :meth:`crop_frames` frames)."""
        return segment_samples(self.crop_frames(multiple))

    def resolved_p_mean(self, sigma_data: float) -> float:
        from avgen.models.diffusion.configs import edm_p_mean

        return edm_p_mean(self.p_mean, sigma_data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MVSDTrainConfig:
        return checked_from_dict(cls, d)
