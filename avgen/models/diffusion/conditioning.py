"""What a conditional diffusion network is conditioned on.

Three kinds, usable together (a network declares which it takes in its
:class:`~avgen.models.diffusion.configs.UNetConfig`):

* ``embedding`` ``(B, E)``: a global vector (a room embedding, a style vector). It is projected
  and added to the noise-level embedding, which sets the scale and shift of every residual
  block's group norm: FiLM (Perez et al., 2018) in the form of adaptive group normalisation
  (Dhariwal & Nichol, 2021).
* ``spectrogram`` ``(B, C, F, T)``: a time-frequency map aligned with ``x`` (e.g. the
  reverberant or noisy observation, real/imaginary channels), concatenated to the input channels
  (as SGMSE+ conditions on the noisy STFT; Richter et al., 2023).
* ``context`` ``(B, N, D)``: a set of tokens (e.g. patches of a room picture) that the feature
  map attends to by cross-attention at chosen resolutions (Rombach et al., 2022), with an
  optional ``context_mask`` ``(B, N)`` (True = a real token).

A field left ``None`` means "absent": the FiLM term is zero, the concatenated channels are zeros,
the cross-attention blocks are skipped (identity). That is the unconditional branch of
classifier-free guidance (Ho & Salimans, 2022) without a separate model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from avgen.errors import ConfigError


@dataclass(frozen=True)
class Conditioning:
    """Conditioning inputs of a diffusion network; every field is optional."""

    embedding: torch.Tensor | None = None
    spectrogram: torch.Tensor | None = None
    context: torch.Tensor | None = None
    context_mask: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.embedding is not None and self.embedding.ndim != 2:
            raise ConfigError(
                f"Conditioning.embedding must be (B, E), got shape {tuple(self.embedding.shape)}"
            )
        if self.spectrogram is not None and self.spectrogram.ndim != 4:
            raise ConfigError(
                f"Conditioning.spectrogram must be (B, C, F, T), got shape "
                f"{tuple(self.spectrogram.shape)}"
            )
        if self.context is not None and self.context.ndim != 3:
            raise ConfigError(
                f"Conditioning.context must be (B, N, D), got shape {tuple(self.context.shape)}"
            )
        if self.context_mask is not None:
            if self.context is None:
                raise ConfigError("Conditioning.context_mask given without context")
            if tuple(self.context_mask.shape) != tuple(self.context.shape[:2]):
                raise ConfigError(
                    f"Conditioning.context_mask must be (B, N) = "
                    f"{tuple(self.context.shape[:2])}, got "
                    f"{tuple(self.context_mask.shape)}"
                )
        batch = {
            f.name: getattr(self, f.name).shape[0]
            for f in fields(self)
            if getattr(self, f.name) is not None
        }
        if len(set(batch.values())) > 1:
            raise ConfigError(f"Conditioning fields disagree on the batch size: {batch}")

    @property
    def batch_size(self) -> int | None:
        """The common batch size, or ``None`` when every field is absent."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                return int(value.shape[0])
        return None

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Conditioning:
        """A copy on ``device`` with floating fields cast to ``dtype`` (the mask stays bool)."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        return Conditioning(**{f.name: move(getattr(self, f.name)) for f in fields(self)})

    def repeat(self, n: int) -> Conditioning:
        """Each item repeated ``n`` times along the batch (``repeat_interleave``), e.g. to run
        ``n`` sampling chains per conditioning."""

        def rep(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.repeat_interleave(n, dim=0)

        return Conditioning(**{f.name: rep(getattr(self, f.name)) for f in fields(self)})

    def select(self, index: torch.Tensor | slice) -> Conditioning:
        """The items ``index`` of the batch."""

        def sel(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[index]

        return Conditioning(**{f.name: sel(getattr(self, f.name)) for f in fields(self)})
