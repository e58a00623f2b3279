"""Sizes of the diffusion U-Net: ``tiny`` (tests), ``small`` (CPU), ``base`` (GPU), and the
training configuration of each (:class:`DiffusionTrainConfig`).

A :class:`UNetConfig` is a frozen, JSON-able description of the network; checkpoints store it
(``dataclasses.asdict``) and :func:`UNetConfig.from_dict` rebuilds it. The three named sizes:

=========  ====================  ======  ================  ========  ===========  ========
size       channels per level    blocks  self-attention    emb. dim  parameters   float32
=========  ====================  ======  ================  ========  ===========  ========
``tiny``   8, 16, 24             1       none              32        85,810       0.34 MB
``small``  16, 32, 48, 64, 96    1       level 4 + middle  128       1,668,530    6.7 MB
``base``   64, 128, 256, 256,    2       levels 3, 4 +     256       40.8 M       163 MB
           384                           middle
=========  ====================  ======  ================  ========  ===========  ========

(The counts are asserted in the tests.) Level ``l``
works at ``256 / 2**l`` frequency bins and ``T / 2**l`` frames, so the number of frames must be a
multiple of ``2**(levels - 1)`` (:attr:`UNetConfig.downsampling_factor`);
:func:`avgen.models.diffusion.spectra.pad_frames` pads to it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from avgen.audio import DIFFUSION_STFT
from avgen.errors import ConfigError
from avgen.models.dict_config import checked_from_dict


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of :class:`~avgen.models.diffusion.unet.UNet`.

    Attributes:
        channels: feature channels at each resolution level (level 0 = full resolution).
        res_blocks: residual blocks per level in the encoder and in the decoder.
        attention_levels: levels with a self-attention block after each residual block.
        cross_attention_levels: levels with a cross-attention block (to ``Conditioning.context``)
            after each residual block.
        middle_attention: self-attention in the bottleneck (between its two residual blocks).
        attention_head_dim: channels per attention head.
        embedding_dim: width of the noise-level embedding that modulates every residual block
            (adaptive group norm: FiLM scale and shift).
        fourier_features: number of frequencies of the Fourier features of ``c_noise``.
        cond_embedding_dim: size ``E`` of ``Conditioning.embedding`` (0: no FiLM conditioning).
        cond_channels: channels ``C`` of ``Conditioning.spectrogram`` concatenated to the input
            (0: none).
        context_dim: feature size of ``Conditioning.context`` tokens (0: no cross-attention).
        in_channels: channels of ``x`` (2: real and imaginary part).
        out_channels: channels of the output.
        n_freqs: frequency bins of the input (256 for the diffusion STFT).
        dropout: dropout rate inside the residual blocks.
    """

    channels: tuple[int, ...] = (8, 16, 24)
    res_blocks: int = 1
    attention_levels: tuple[int, ...] = ()
    cross_attention_levels: tuple[int, ...] = ()
    middle_attention: bool = False
    attention_head_dim: int = 32
    embedding_dim: int = 32
    fourier_features: int = 16
    cond_embedding_dim: int = 0
    cond_channels: int = 0
    context_dim: int = 0
    in_channels: int = 2
    out_channels: int = 2
    n_freqs: int = DIFFUSION_STFT.n_freqs
    dropout: float = 0.0

    def __post_init__(self) -> None:
        # JSON round trips turn tuples into lists; normalise, then check.
        for name in ("channels", "attention_levels", "cross_attention_levels"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        levels = len(self.channels)
        if levels < 1 or any(c < 4 or c % 4 for c in self.channels):
            raise ConfigError(
                f"UNetConfig.channels must be multiples of 4 (>= 4), got {self.channels}"
            )
        for name in ("attention_levels", "cross_attention_levels"):
            bad = [lv for lv in getattr(self, name) if not 0 <= lv < levels]
            if bad:
                raise ConfigError(
                    f"UNetConfig.{name}: levels {bad} do not exist (the network "
                    f"has levels 0..{levels - 1})"
                )
        if self.cross_attention_levels and self.context_dim <= 0:
            raise ConfigError("UNetConfig: cross_attention_levels need context_dim > 0")
        if self.n_freqs % self.downsampling_factor:
            raise ConfigError(
                f"UNetConfig: n_freqs={self.n_freqs} is not a multiple of the "
                f"downsampling factor {self.downsampling_factor}"
            )
        if self.res_blocks < 1 or self.embedding_dim < 4 or self.fourier_features < 1:
            raise ConfigError(
                "UNetConfig: res_blocks >= 1, embedding_dim >= 4 and "
                "fourier_features >= 1 are required"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"UNetConfig.dropout must be in [0, 1), got {self.dropout}")

    @property
    def levels(self) -> int:
        """Number of resolution levels."""
        return len(self.channels)

    @property
    def downsampling_factor(self) -> int:
        """``2 ** (levels - 1)``: frames (and bins) must be multiples of it."""
        return 2 ** (len(self.channels) - 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (lists for tuples) for checkpoints and JSON."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UNetConfig:
        """Inverse of :meth:`to_dict`; unknown keys are a :class:`ConfigError`."""
        return checked_from_dict(cls, d)

    def with_conditioning(
        self,
        *,
        embedding_dim: int = 0,
        channels: int = 0,
        context_dim: int = 0,
        cross_attention_levels: tuple[int, ...] | None = None,
    ) -> UNetConfig:
        """The same architecture with conditioning inputs switched on.

        ``cross_attention_levels`` defaults to the coarsest level when ``context_dim > 0``.
        """
        if cross_attention_levels is None:
            cross_attention_levels = (self.levels - 1,) if context_dim > 0 else ()
        return dataclasses.replace(
            self,
            cond_embedding_dim=int(embedding_dim),
            cond_channels=int(channels),
            context_dim=int(context_dim),
            cross_attention_levels=tuple(cross_attention_levels),
        )


SIZES: Mapping[str, UNetConfig] = MappingProxyType(
    {
        "tiny": UNetConfig(
            channels=(8, 16, 24),
            res_blocks=1,
            embedding_dim=32,
            fourier_features=16,
            attention_head_dim=8,
        ),
        "small": UNetConfig(
            channels=(16, 32, 48, 64, 96),
            res_blocks=1,
            attention_levels=(4,),
            middle_attention=True,
            embedding_dim=128,
            fourier_features=32,
            attention_head_dim=32,
        ),
        "base": UNetConfig(
            channels=(64, 128, 256, 256, 384),
            res_blocks=2,
            attention_levels=(3, 4),
            middle_attention=True,
            embedding_dim=256,
            fourier_features=64,
            attention_head_dim=64,
            dropout=0.1,
        ),
    }
)
"""The named sizes (read-only)."""


def edm_p_mean(p_mean: float | None, sigma_data: float) -> float:
    """``p_mean``, or EDM's default training level ``-1.2`` (for ``sigma_data = 0.5``) moved to
    ``sigma_data``'s scale: ``-1.2 + log(sigma_data / 0.5)`` (Karras et al. 2022). One rule for
    every diffusion trainer here (prior, MVSD, stylizer)."""
    if p_mean is not None:
        return float(p_mean)
    return -1.2 + math.log(sigma_data / 0.5)


def unet_config(size: str, **overrides: Any) -> UNetConfig:
    """The configuration of a named size, with optional field overrides.

    >>> unet_config("tiny").channels
    (8, 16, 24)
    """
    try:
        base = SIZES[size]
    except KeyError:
        raise ConfigError(
            f"unknown diffusion model size {size!r}; choose from {', '.join(SIZES)}"
        ) from None
    return dataclasses.replace(base, **overrides) if overrides else base


AMP_MODES = ("none", "bf16", "fp16")


@dataclass(frozen=True)
class DiffusionTrainConfig:
    """Hyper-parameters of :func:`~.train.fit_diffusion_prior` (see :meth:`for_size` for
    defaults).

    Attributes:
        size: ``"tiny"``, ``"small"`` or ``"base"`` (:data:`~.configs.SIZES`).
        steps: optimiser steps in total (a resumed run continues up to this number).
        batch_size: segments per step and per process.
        segment_frames: STFT frames per segment (a multiple of the U-Net's downsampling
            factor; 256 frames = 2.04 s).
        lr: peak learning rate of AdamW; ``warmup_steps``: linear warm-up length.
        weight_decay: AdamW's decoupled weight decay.
        ema_decay: decay of the weight average (half-life ``ln 2 / (1 - decay)`` steps).
        grad_clip: maximum global gradient norm (``0``: no clipping).
        sigma_data: data standard deviation; ``None``: measured on the training speech.
        p_mean, p_std: log-normal noise-level distribution; ``p_mean=None``: EDM's -1.2 moved
            to the data's scale, ``-1.2 + log(sigma_data / 0.5)``.
        amp: ``"none"``, ``"bf16"`` or ``"fp16"`` (mixed precision, CUDA only).
        val_every: steps between validation losses (``0``: only at the end).
        val_segments: size of the fixed validation set; ``val_sigmas``: noise levels of the
            validation loss (quantiles of the training distribution).
        checkpoint_every: steps between checkpoints (``0``: only at the end).
        log_every: steps averaged per entry of the loss history.
        unet: field overrides of the size's :class:`~.configs.UNetConfig`.
    """

    size: str = "tiny"
    steps: int = 300
    batch_size: int = 8
    segment_frames: int = 64
    lr: float = 1e-3
    warmup_steps: int = 20
    weight_decay: float = 0.0
    ema_decay: float = 0.99
    grad_clip: float = 1.0
    sigma_data: float | None = None
    p_mean: float | None = None
    p_std: float = 1.2
    amp: str = "none"
    val_every: int = 100
    val_segments: int = 16
    val_sigmas: int = 8
    checkpoint_every: int = 0
    log_every: int = 10
    unet: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError(
                f"unknown diffusion model size {self.size!r}; choose from {', '.join(SIZES)}"
            )
        if self.amp not in AMP_MODES:
            raise ConfigError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        positive = {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "segment_frames": self.segment_frames,
            "val_segments": self.val_segments,
            "val_sigmas": self.val_sigmas,
            "log_every": self.log_every,
        }
        bad = {k: v for k, v in positive.items() if int(v) < 1}
        if bad:
            raise ConfigError(f"DiffusionTrainConfig: these must be >= 1: {bad}")
        if self.lr <= 0 or self.p_std <= 0 or not 0 <= self.ema_decay < 1:
            raise ConfigError(
                "DiffusionTrainConfig: lr > 0, p_std > 0 and 0 <= ema_decay < 1 are required"
            )
        if self.sigma_data is not None and self.sigma_data <= 0:
            raise ConfigError(f"sigma_data must be positive, got {self.sigma_data}")
        factor = self.unet_config().downsampling_factor
        if self.segment_frames % factor:
            raise ConfigError(
                f"segment_frames={self.segment_frames} is not a multiple of the "
                f"{self.size} U-Net's downsampling factor {factor}"
            )

    @classmethod
    def for_size(cls, size: str, **overrides: Any) -> DiffusionTrainConfig:
        """Defaults for a size: ``tiny`` trains in seconds (tests), ``small`` in about an hour
        on 2 CPU cores, ``base`` is meant for GPUs."""
        defaults: dict[str, dict[str, Any]] = {
            "tiny": {},
            "small": dict(
                steps=2000,
                batch_size=8,
                segment_frames=256,
                lr=5e-4,
                warmup_steps=100,
                ema_decay=0.999,
                val_every=250,
                val_segments=32,
                checkpoint_every=250,
                log_every=25,
            ),
            "base": dict(
                steps=200_000,
                batch_size=32,
                segment_frames=256,
                lr=2e-4,
                warmup_steps=2000,
                ema_decay=0.9999,
                val_every=5000,
                val_segments=64,
                checkpoint_every=5000,
                log_every=100,
            ),
        }
        if size not in defaults:
            raise ConfigError(
                f"unknown diffusion model size {size!r}; choose from {', '.join(SIZES)}"
            )
        return cls(size=size, **{**defaults[size], **overrides})

    def unet_config(self) -> UNetConfig:
        """The network's configuration: the size's, with :attr:`unet` overrides."""
        return unet_config(self.size, **dict(self.unet))

    def resolved_p_mean(self, sigma_data: float) -> float:
        """``p_mean``, or EDM's default moved to ``sigma_data``'s scale (:func:`edm_p_mean`)."""
        return edm_p_mean(self.p_mean, sigma_data)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["unet"] = dict(self.unet)
        return d
