r"""MVSD: a reverberator and a dereverberator conditioned on one scene encoder.

Ma, Wang, Yang, Zheng, "MVSD: Mutual learning for acoustic matching and dereverberation via
visual scene-driven diffusion", ECCV 2024. :class:`MVSD` holds

* ``scene_encoder``: picture ``(B, 3, 128, 128)`` in ``[0, 1]`` -> 256-d vector + tokens
  (``None`` in the ablation without the picture);
* ``reverberator`` :math:`f`: dry -> reverberant (visual acoustic matching);
* ``dereverberator`` :math:`g`: reverberant -> dry;

both :class:`~avgen.models.mvsd.converter.Converter` s on the compressed complex STFT
(:mod:`avgen.models.diffusion.spectra`).

Lengths and padding (see :mod:`avgen.models.mvsd.config`):

* :meth:`MVSD.match`: ``N`` dry samples are zero-padded by ``tail = tail_seconds * 16 kHz``
  samples *before* the STFT (the room keeps ringing after the talker stops), giving
  ``T = 1 + (N + tail) // 128`` frames; the frames are zero-padded to the U-Net's multiple
  (:func:`~avgen.models.diffusion.spectra.pad_frames`), the sampled output is cropped back to
  ``T`` frames and inverted to exactly ``N + tail`` samples.
* :meth:`MVSD.dereverberate`: ``M`` reverberant samples -> ``M`` dry samples (frames padded and
  cropped the same way; nothing is appended, as the input holds its own tail).

A whole input is processed in one go: memory grows linearly with its length (the tiny and small
U-Nets have no self-attention over time, so no quadratic term). Measured for ``small``,
inference, batch 1, one thread: the peak resident memory grew by 141 MB matching 1 s (2 s of
output with the default 1-s tail) and by 351 MB matching 4 s (5 s of output), about 70 MB per
second of output; very long recordings should be cut into segments by the caller.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from avgen.errors import AudioError, ConfigError
from avgen.models.diffusion.spectra import (
    crop_frames,
    pad_frames,
    tensor_to_waveform,
    waveform_to_tensor,
)
from avgen.models.mvsd.config import MVSDConfig
from avgen.models.mvsd.converter import Converter
from avgen.models.scene.embedding import SceneEmbedding
from avgen.models.scene.encoder import SceneEncoder
from avgen.progress import progress_bar


def spectrogram(wav: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int]:
    """``(B, N)`` waveforms -> ``((B, 2, 256, T'), T)``: the compressed STFT zero-padded to
    ``T'``, a multiple of ``multiple``, and its true number of frames ``T = 1 + N // 128``."""
    return pad_frames(waveform_to_tensor(wav), multiple)


def convert_waveform(
    wav: torch.Tensor,
    multiple: int,
    length: int,
    convert: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """``(B, N)`` -> ``(B, length)``: the compressed STFT of ``wav`` (frames padded to
    ``multiple``) through ``convert`` (spectrogram -> spectrogram of the same shape), cropped
    back to the input's frames and inverted to ``length`` samples."""
    source, frames = spectrogram(wav, multiple)
    return tensor_to_waveform(crop_frames(convert(source), frames), length=length)


def as_batch(wav: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    """``(N,)`` or ``(B, N)`` float audio as ``(B, N)``, and whether it was one waveform."""
    wav = torch.as_tensor(wav)
    if wav.ndim not in (1, 2) or wav.shape[-1] < 1:
        raise AudioError(f"{name} must be (N,) or (B, N) samples, got shape {tuple(wav.shape)}")
    if not wav.is_floating_point():
        raise AudioError(f"{name} must be floating point, got {wav.dtype}")
    if not bool(torch.isfinite(wav).all()):
        raise AudioError(f"{name} holds NaN or infinite samples")
    single = wav.ndim == 1
    return (wav.unsqueeze(0) if single else wav), single


class MVSD(nn.Module):
    """The two converters and the scene encoder of MVSD (see the module)."""

    def __init__(self, config: MVSDConfig) -> None:
        super().__init__()
        self.config = config
        self.scene_encoder = SceneEncoder(config.scene) if config.use_picture else None
        self.reverberator = Converter(config.unet, config.sigma_data, config.predict_sigma)
        self.dereverberator = Converter(config.unet, config.sigma_data, config.predict_sigma)

    @property
    def multiple(self) -> int:
        """Frames must be a multiple of this (the U-Net's downsampling factor)."""
        return self.config.unet.downsampling_factor

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def scene(
        self, picture: torch.Tensor | None, batch: int | None = None
    ) -> SceneEmbedding | None:
        """The scene embedding of ``picture`` ``(B, 3, 128, 128)`` or ``(3, 128, 128)`` (one
        picture is broadcast to ``batch`` items); ``None`` without the picture.

        A model built without the picture refuses a picture (and one with it needs one), so an
        ablation cannot be run by mistake."""
        if self.scene_encoder is None:
            if picture is not None:
                raise ConfigError(
                    "this MVSD model was trained without the picture; pass picture=None"
                )
            return None
        if picture is None:
            raise ConfigError("this MVSD model is conditioned on a room picture; pass one")
        picture = torch.as_tensor(picture).to(self.device, torch.float32)
        if picture.ndim == 3:
            picture = picture.unsqueeze(0)
        if batch is not None and picture.shape[0] == 1 and batch > 1:
            picture = picture.expand(batch, -1, -1, -1)
        if batch is not None and picture.shape[0] != batch:
            raise ConfigError(f"{picture.shape[0]} pictures for {batch} waveforms")
        return self.scene_encoder(picture)

    def _convert(
        self,
        converter: Converter,
        wav: torch.Tensor,
        picture: torch.Tensor | None,
        length: int,
        *,
        steps: int,
        generator: torch.Generator | None,
        progress: bool | None,
        desc: str,
    ) -> torch.Tensor:
        scene = self.scene(picture, batch=wav.shape[0])
        bar = progress_bar(steps, desc=desc, enabled=progress)
        callback: Callable | None = (lambda _event: bar.update(1)) if not bar.disable else None
        try:
            return convert_waveform(
                wav.to(self.device, torch.float32),
                self.multiple,
                length,
                lambda source: converter.sample(
                    source, scene, steps=steps, generator=generator, callback=callback
                ),
            )
        finally:
            bar.close()

    @torch.no_grad()
    def match(
        self,
        dry: torch.Tensor,
        picture: torch.Tensor | None,
        *,
        steps: int = 18,
        generator: torch.Generator | None = None,
        progress: bool | None = None,
    ) -> torch.Tensor:
        """Visual acoustic matching: ``dry`` ``(N,)`` or ``(B, N)`` at 16 kHz spoken in the room
        of ``picture`` -> ``(N + tail,)`` or ``(B, N + tail)`` (EDM Heun sampling with
        ``steps`` levels)."""
        wav, single = as_batch(dry, "dry speech")
        tail = self.config.tail_samples
        padded = torch.nn.functional.pad(wav, (0, tail))
        out = self._convert(
            self.reverberator,
            padded,
            picture,
            padded.shape[-1],
            steps=steps,
            generator=generator,
            progress=progress,
            desc="match",
        )
        return out[0] if single else out

    @torch.no_grad()
    def dereverberate(
        self,
        reverberant: torch.Tensor,
        picture: torch.Tensor | None,
        *,
        steps: int = 18,
        generator: torch.Generator | None = None,
        progress: bool | None = None,
    ) -> torch.Tensor:
        """Visually conditioned dereverberation: ``(M,)`` or ``(B, M)`` -> the same shape."""
        wav, single = as_batch(reverberant, "reverberant speech")
        out = self._convert(
            self.dereverberator,
            wav,
            picture,
            wav.shape[-1],
            steps=steps,
            generator=generator,
            progress=progress,
            desc="dereverb",
        )
        return out[0] if single else out
