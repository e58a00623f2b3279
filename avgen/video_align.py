"""Lip video against audio at enhancement time: reading, the alignment policy, STFT-rate lips.

The VAE priors read one mouth image per STFT frame. A user's lip video and noisy recording are
separate inputs, and their durations rarely agree to the sample, so the policy is stated once
here and applied everywhere (``avgen enhance``, ``avgen eval``, the demo):

* durations: the audio lasts ``n_samples / 16000`` s, the video ``n_frames / fps`` s;
* tolerance: ``max(2 / fps, 0.04 * audio duration)`` seconds (two video frames, or 4 % of the
  clip, whichever is larger);
* within the tolerance the video is used as it is: STFT frame ``t`` (centred at
  ``t * hop / 16000`` s) reads the linear interpolation of the two video frames around that time
  (:func:`avgen.data.lips.frames.lips_to_stft_frames`); a video that ends early is padded by
  repeating its last frame, one that ends late is cropped (its extra frames are never read);
* beyond the tolerance: :class:`~avgen.errors.VideoError` stating both durations -- nothing is
  stretched silently, since a wrong video would mislead a visual prior.

Video sources: ``.npy`` (uint8 ``(n, H, W)`` as :func:`avgen.data.lips.files.save_lips` writes; a
``.npy`` carries no frame rate, so the caller gives ``fps``, 25 by default, the data kit's) and
video files (``.mp4`` and the like, decoded in grey levels by ffmpeg through
:func:`avgen.data.kit.corpus.read_mp4_frames`, which also returns the file's frame rate).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, VAE_STFT, StftConfig
from avgen.data.lips.files import VIDEO_SUFFIXES, check_lips, load_lips
from avgen.data.lips.frames import DEFAULT_FPS
from avgen.errors import ConfigError, VideoError

#: the alignment tolerance: max(MIN_FRAMES video frames, RELATIVE x audio duration)
TOLERANCE_FRAMES = 2
TOLERANCE_RELATIVE = 0.04


#: the frame rates a lip video may have (a rate outside is a mistyped option or a broken file)
MIN_FPS = 1.0
MAX_FPS = 1000.0


def check_fps(fps: float, name: str = "video") -> float:
    """``fps`` if it lies in [:data:`MIN_FPS`, :data:`MAX_FPS`], else
    :class:`~avgen.errors.ConfigError`."""
    if not (np.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise ConfigError(
            f"{name}: a frame rate of {fps:g} fps is out of range; lip videos have "
            f"{MIN_FPS:g} to {MAX_FPS:g} frames per second (--fps)"
        )
    return float(fps)


def alignment_tolerance(audio_seconds: float, fps: float) -> float:
    """``max(2 / fps, 0.04 * audio_seconds)`` seconds."""
    return max(TOLERANCE_FRAMES / fps, TOLERANCE_RELATIVE * audio_seconds)


def read_video(path: str | os.PathLike[str], fps: float | None = None) -> tuple[np.ndarray, float]:
    """A mouth-region video as uint8 ``(n, H, W)`` and its frame rate.

    ``.npy`` files take ``fps`` (default :data:`~avgen.data.lips.frames.DEFAULT_FPS`); video files
    report their own rate, and a different ``fps`` given by the caller is a
    :class:`~avgen.errors.ConfigError` (say one thing, not two), and so is an ``fps`` outside
    [:data:`MIN_FPS`, :data:`MAX_FPS`].
    """
    p = Path(path)
    if fps is not None:
        check_fps(fps, str(p))
    if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file():
        from avgen.data.kit.corpus import read_mp4_frames

        frames, file_fps = read_mp4_frames(p)
        if fps is not None and abs(fps - file_fps) > 1e-6 * file_fps:
            raise ConfigError(
                f"{p}: the video says {file_fps:g} fps but {fps:g} fps was given; "
                "leave the frame rate out for video files"
            )
        return check_lips(frames, str(p)), float(file_fps)
    # .npy, and every error (missing file, folder, corrupt array, unknown extension)
    return load_lips(p), float(DEFAULT_FPS if fps is None else fps)


def check_alignment(
    n_video_frames: int,
    fps: float,
    n_samples: int,
    sample_rate: int = SAMPLE_RATE,
    *,
    name: str = "video",
) -> float:
    """Apply the policy's check; return ``video - audio`` duration in seconds.

    Raises:
        VideoError: the durations differ by more than :func:`alignment_tolerance`.
    """
    check_fps(fps, name)
    video_s, audio_s = n_video_frames / fps, n_samples / sample_rate
    tol = alignment_tolerance(audio_s, fps)
    if abs(video_s - audio_s) > tol + 1e-9:
        longer = "longer" if video_s > audio_s else "shorter"
        raise VideoError(
            f"{name}: {n_video_frames} frames at {fps:g} fps last {video_s:.3f} s "
            f"but the audio lasts {audio_s:.3f} s; the video is {longer} by "
            f"{abs(video_s - audio_s):.3f} s, beyond the tolerance of {tol:.3f} s "
            f"(max of 2 frames and 4 %); trim or re-export them together"
        )
    return video_s - audio_s


def lips_for_audio(
    frames: np.ndarray | torch.Tensor,
    fps: float,
    n_samples: int,
    *,
    lip_size: int,
    stft: StftConfig = VAE_STFT,
    sample_rate: int = SAMPLE_RATE,
    name: str = "video",
) -> torch.Tensor:
    """uint8 video ``(n, H, W)`` -> lips at the STFT frames of ``n_samples`` of audio,
    ``(T, lip_size**2)`` float32 in [0, 1], after :func:`check_alignment` (module policy)."""
    from avgen.data.lips.frames import lips_at_stft_rate

    arr = frames.cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    check_lips(arr, name)
    check_alignment(arr.shape[0], fps, n_samples, sample_rate, name=name)
    return lips_at_stft_rate(
        arr, fps, stft.n_frames(n_samples), stft=stft, lip_size=lip_size, sample_rate=sample_rate
    )
