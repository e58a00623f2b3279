r"""The condition of the stylizer: an audio example and a picture of the target scene.

Two encoders trained from scratch with the diffusion model (no pretrained audio or image
encoder can be had offline):

* :class:`AudioExampleEncoder`: log-mel (64 bands, dB / 10) of the example clip
  ``(B, M)`` -> three stride-2 3x3 convolutions (frequency and time) -> mean over frequency ->
  two dilated 1-D convolutions over time (the receptive field covers a reverberant tail of
  about a second) -> ``n_audio_tokens`` tokens by adaptive average pooling over time, plus a
  learned position embedding, and a pooled vector (the time mean). Any example length works.
* the scene picture encoder :class:`avgen.models.scene.encoder.SceneEncoder` (a ResNet-18 of
  settable width): ``(B, 3, 128, 128)`` -> a vector and 4 x 4 = 16 tokens.

:class:`ConditionEncoder` joins them into the U-Net's :class:`Conditioning`: the tokens of
both modalities, each plus a learned modality embedding, concatenated (cross-attention
context ``(B, n_audio + 16, D)``), and the FiLM vector ``Linear([v_audio, v_picture])``.

**Null condition and classifier-free guidance** (Ho & Salimans, 2022; the paper drops the
condition during training). Each modality has learned *null* tokens and a learned null vector.
A modality that is absent -- dropped during training with probability ``p_drop_audio`` /
``p_drop_picture`` (independently), or not given at inference -- is replaced by its null
tokens and vector, so four conditions exist: audio+picture, audio only, picture only, none
(both null, the unconditional branch of guidance). The content latent is not part of the
condition that guidance drops: it enters both branches (:meth:`Stylizer.conditioning`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgen.errors import ConfigError
from avgen.models.dict_config import checked_from_dict
from avgen.models.diffusion.layers import group_norm
from avgen.models.scene.encoder import SceneEncoder, SceneEncoderConfig
from avgen.models.stylizer.representation import N_MELS, log_mel, mel_filterbank

LOG_MEL_SCALE = 0.1
"""Log-mel in dB is multiplied by this before the audio encoder (values of order 1)."""


@dataclass(frozen=True)
class ConditionConfig:
    """Sizes of :class:`ConditionEncoder`.

    Attributes:
        dim: size ``D`` of every token and of the FiLM vector.
        audio_width: channels of the audio encoder's first convolution (then x2, x4).
        audio_tokens: tokens of the audio example.
        picture_width: the scene encoder's ResNet-18 width.
    """

    dim: int = 256
    audio_width: int = 8
    audio_tokens: int = 8
    picture_width: int = 4

    def __post_init__(self) -> None:
        if self.dim < 4 or self.audio_width < 4 or self.audio_width % 4:
            raise ConfigError("ConditionConfig: dim >= 4 and audio_width a multiple of 4")
        if self.audio_tokens < 1 or self.picture_width < 1:
            raise ConfigError("ConditionConfig: audio_tokens and picture_width must be >= 1")

    @property
    def scene(self) -> SceneEncoderConfig:
        return SceneEncoderConfig(
            width=self.picture_width, embedding_dim=self.dim, token_dim=self.dim
        )

    @property
    def picture_tokens(self) -> int:
        return self.scene.grid**2

    @property
    def tokens(self) -> int:
        return self.audio_tokens + self.picture_tokens

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConditionConfig:
        return checked_from_dict(cls, d)


class AudioExampleEncoder(nn.Module):
    """``(B, M)`` example waveforms -> ``(tokens (B, n, D), vector (B, D))`` (see the module)."""

    def __init__(self, dim: int, width: int, n_tokens: int) -> None:
        super().__init__()
        self.register_buffer("filters", mel_filterbank(N_MELS), persistent=False)
        w = width
        self.convs = nn.Sequential(
            nn.Conv2d(1, w, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            group_norm(2 * w),
            nn.SiLU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1),
            group_norm(4 * w),
            nn.SiLU(),
        )
        c = 4 * w
        self.temporal = nn.Sequential(
            nn.Conv1d(c, c, 5, padding=2),
            nn.SiLU(),
            nn.Conv1d(c, c, 5, padding=4, dilation=2),
            nn.SiLU(),
        )
        self.pool = nn.AdaptiveAvgPool1d(n_tokens)
        self.to_tokens = nn.Linear(c, dim)
        self.to_vector = nn.Linear(c, dim)
        self.position = nn.Parameter(0.02 * torch.randn(n_tokens, dim))

    def forward(self, example: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if example.ndim != 2:
            raise ConfigError(f"the audio example must be (B, M), got {tuple(example.shape)}")
        feats = LOG_MEL_SCALE * log_mel(example, self.filters)  # (B, mels, T)
        h = self.convs(feats.unsqueeze(1)).mean(dim=2)  # (B, C, T / 8)
        h = h + self.temporal(h)
        tokens = self.to_tokens(self.pool(h).transpose(1, 2)) + self.position
        return tokens, self.to_vector(h.mean(dim=2))


@dataclass(frozen=True)
class StyleCondition:
    """An encoded condition: ``tokens`` ``(B, N, D)`` (cross-attention) and ``vector``
    ``(B, D)`` (FiLM)."""

    tokens: torch.Tensor
    vector: torch.Tensor


class ConditionEncoder(nn.Module):
    """Audio example + picture -> :class:`StyleCondition`, with learned null tokens per
    modality for absent or dropped modalities."""

    def __init__(self, config: ConditionConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ConditionConfig()
        self.audio = AudioExampleEncoder(cfg.dim, cfg.audio_width, cfg.audio_tokens)
        self.picture = SceneEncoder(cfg.scene)
        self.modality = nn.Parameter(0.02 * torch.randn(2, cfg.dim))
        self.null_audio_tokens = nn.Parameter(0.02 * torch.randn(cfg.audio_tokens, cfg.dim))
        self.null_picture_tokens = nn.Parameter(0.02 * torch.randn(cfg.picture_tokens, cfg.dim))
        self.null_audio_vector = nn.Parameter(torch.zeros(cfg.dim))
        self.null_picture_vector = nn.Parameter(torch.zeros(cfg.dim))
        self.to_vector = nn.Linear(2 * cfg.dim, cfg.dim)

    def forward(
        self,
        example: torch.Tensor | None,
        picture: torch.Tensor | None,
        *,
        batch_size: int,
        keep_audio: torch.Tensor | None = None,
        keep_picture: torch.Tensor | None = None,
    ) -> StyleCondition:
        """Encode a batch. ``example`` ``(B, M)`` or ``None`` (absent: null), ``picture``
        ``(B, 3, S, S)`` or ``None``; ``keep_audio`` / ``keep_picture`` ``(B,)`` bool: items
        whose modality is replaced by the null (classifier-free guidance dropout)."""
        b = batch_size
        a_tok = self.null_audio_tokens.expand(b, -1, -1)
        a_vec = self.null_audio_vector.expand(b, -1)
        p_tok = self.null_picture_tokens.expand(b, -1, -1)
        p_vec = self.null_picture_vector.expand(b, -1)
        if example is not None:
            if example.shape[0] != b:
                raise ConfigError(f"{example.shape[0]} audio examples for a batch of {b}")
            tok, vec = self.audio(example)
            a_tok, a_vec = _keep(tok, a_tok, keep_audio), _keep(vec, a_vec, keep_audio)
        if picture is not None:
            if picture.shape[0] != b:
                raise ConfigError(f"{picture.shape[0]} pictures for a batch of {b}")
            scene = self.picture(picture)
            p_tok = _keep(scene.tokens, p_tok, keep_picture)
            p_vec = _keep(scene.vector, p_vec, keep_picture)
        tokens = torch.cat([a_tok + self.modality[0], p_tok + self.modality[1]], dim=1)
        vector = self.to_vector(F.silu(torch.cat([a_vec, p_vec], dim=1)))
        return StyleCondition(tokens, vector)


def _keep(value: torch.Tensor, null: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """``value`` where ``keep`` (per item), else ``null``."""
    if keep is None:
        return value
    mask = keep.to(torch.bool).reshape((-1,) + (1,) * (value.ndim - 1))
    return torch.where(mask, value, null.to(value.dtype))
