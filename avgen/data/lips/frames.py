"""Lip video frames in time and space: frame counts and times, STFT-rate resampling, resizing.

Time conventions (stated once, used everywhere):

* a video of ``duration`` seconds at ``fps`` has ``n_frames = floor(duration * fps + 1/2)``
  frames (round half up, at least one);
* video frame ``n`` shows the mouth at time ``n / fps`` (its presentation time stamp);
* STFT frame ``t`` (``center=True``) is centred at ``t * hop_length / sample_rate`` seconds,
  i.e. at fractional video frame ``q = t * hop_length * fps / sample_rate``; its lip image is
  the linear interpolation of video frames ``floor(q)`` and ``floor(q) + 1`` (the last frame is
  held beyond the end).

:func:`lips_at_stft_rate` gives the lip image of every STFT frame as a model reads it: each video
frame reduced to ``lip_size x lip_size`` (block average when the size divides, antialiased
bilinear otherwise; both commute with the time interpolation, being linear), interpolated to the
STFT frame times, scaled from uint8 to [0, 1].
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from avgen.audio import SAMPLE_RATE, VAE_STFT, StftConfig
from avgen.errors import ConfigError, VideoError

DEFAULT_FPS = 25.0
"""Frame rate of the data kit's lip videos."""


def n_video_frames(duration: float, fps: float = DEFAULT_FPS) -> int:
    """Frames of a ``duration``-second video: ``floor(duration * fps + 1/2)``, at least 1."""
    if not (math.isfinite(duration) and duration > 0):
        raise VideoError(f"duration must be a positive number of seconds, got {duration}")
    if not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be positive, got {fps}")
    return max(1, math.floor(duration * fps + 0.5))


def video_frame_times(n_frames: int, fps: float = DEFAULT_FPS) -> np.ndarray:
    """Time stamps ``n / fps`` (seconds) of frames ``0 .. n_frames - 1``."""
    return np.arange(n_frames, dtype=np.float64) / fps


def stft_frame_video_positions(
    n_stft_frames: int, fps: float, hop_length: int = 256, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Fractional video-frame index ``q_t = t * hop_length * fps / sample_rate`` of each STFT
    frame ``t`` (centred STFT)."""
    return np.arange(n_stft_frames, dtype=np.float64) * (hop_length * fps / sample_rate)


def lips_to_stft_frames(
    lips: np.ndarray | torch.Tensor,
    fps: float,
    n_stft_frames: int,
    hop_length: int = 256,
    sample_rate: int = SAMPLE_RATE,
    size: int | None = None,
) -> np.ndarray | torch.Tensor:
    """Resample a lip video ``(N, H, W)`` to STFT frame times: ``(n_stft_frames, h, w)`` float.

    Linear interpolation between the two video frames around each STFT frame's centre (module
    docstring), values scaled to [0, 1] when ``lips`` is uint8. With ``size``, frames are
    area-downsampled to ``size x size`` first (e.g. 32 for an MLP encoder). Returns a numpy
    array for numpy input, a tensor on the input's device for tensor input.
    """
    as_numpy = not isinstance(lips, torch.Tensor)
    x = torch.from_numpy(np.asarray(lips)) if as_numpy else lips
    if x.ndim != 3 or x.shape[0] == 0:
        raise VideoError(
            f"lips must be a non-empty (frames, height, width) array, got shape {tuple(x.shape)}"
        )
    if n_stft_frames < 1:
        raise ConfigError(f"n_stft_frames must be >= 1, got {n_stft_frames}")
    if not (fps > 0 and hop_length > 0 and sample_rate > 0):
        raise ConfigError("fps, hop_length and sample_rate must be positive")
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x[:, None], size=(size, size), mode="area")[:, 0]
    q = torch.as_tensor(
        stft_frame_video_positions(n_stft_frames, fps, hop_length, sample_rate),
        device=x.device,
        dtype=torch.float64,
    )
    last = x.shape[0] - 1
    q = q.clamp(max=float(last))
    i0 = q.floor().long()
    i1 = (i0 + 1).clamp(max=last)
    w = (q - i0.double()).float()[:, None, None]
    out = x[i0] * (1 - w) + x[i1] * w
    return out.cpu().numpy() if as_numpy else out


def resize_lips(lips: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """``(n, H, W)`` frames -> ``(n, size, size)`` float32 in the input's units.

    Block average when ``size`` divides ``H`` and ``W``; antialiased bilinear otherwise.
    """
    frames = torch.as_tensor(np.asarray(lips)).to(torch.float32)
    if frames.ndim != 3:
        raise VideoError(f"lip frames must be (n, H, W), got {tuple(frames.shape)}")
    h, w = frames.shape[1:]
    if (h, w) == (size, size):
        return frames
    x = frames.unsqueeze(1)
    if h % size == 0 and w % size == 0:
        out = F.avg_pool2d(x, kernel_size=(h // size, w // size))
    else:
        out = F.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return out.squeeze(1)


def lips_at_stft_rate(
    lips: np.ndarray,
    fps: float,
    n_stft_frames: int,
    *,
    stft: StftConfig = VAE_STFT,
    lip_size: int = 32,
    sample_rate: int = SAMPLE_RATE,
) -> torch.Tensor:
    """uint8 video ``(n, H, W)`` -> ``(n_stft_frames, lip_size**2)`` float32 in [0, 1]."""
    small = resize_lips(lips, lip_size) / 255.0
    frames = lips_to_stft_frames(small, fps, n_stft_frames, stft.hop_length, sample_rate)
    return frames.reshape(n_stft_frames, lip_size * lip_size).clamp_(0.0, 1.0)
