"""Rendered lips: phone timing -> visemes -> articulator tracks -> mouth-region video.

There is no audio-visual corpus on disk, so the data kit renders the mouth region of each
utterance from its phone timing (the synthesizer's or a forced alignment's). The lips thus carry
real information about the speech -- which sounds are made when -- and none about the acoustic
noise, which is what the visual stream of the AV-VAE papers brings (Sadeghi et al. 2020, 2021
used 67x67 or 32x32 grayscale mouth crops of NTCD-TIMIT).

Pipeline (one module per step):

1. :mod:`avgen.data.lips.visemes` -- phones to 14 viseme classes with articulatory targets;
2. :mod:`avgen.data.lips.shape` -- Cohen-Massaro dominance blending into smooth tracks;
3. :mod:`avgen.data.lips.style` -- the speaker's mouth (from the speaker id) and the utterance's
   head motion and lighting (from the seed);
4. :mod:`avgen.data.lips.render` -- vectorised anti-aliased rasterisation;
5. :mod:`avgen.data.lips.degrade` -- optional blur, low resolution, occlusion, noise, drops.

Frame counts, times and the resampling to STFT frames are in :mod:`avgen.data.lips.frames`;
reading and writing lip files in :mod:`avgen.data.lips.files`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from avgen.data.lips.degrade import LipDegradations, degrade_lips
from avgen.data.lips.frames import DEFAULT_FPS, n_video_frames, video_frame_times
from avgen.data.lips.render import render_frames
from avgen.data.lips.shape import articulator_tracks, check_phones, viseme_labels
from avgen.data.lips.style import SceneTracks, scene_tracks, speaker_style
from avgen.data.speech.phones import PhoneSegment
from avgen.errors import ConfigError, VideoError
from avgen.seeding import derive_seed

DEFAULT_SIZE = 64
"""Side of the data kit's square lip images, in pixels."""


@dataclass(frozen=True)
class LipVideo:
    """A rendered mouth-region video and what it was made from.

    Attributes:
        frames: uint8 ``(n_frames, size, size)``.
        fps: frame rate.
        times: ``(n_frames,)`` frame time stamps in seconds (``n / fps``).
        articulators: ``(n_frames, 7)`` articulator values (:data:`~avgen.data.lips.visemes.
            ARTICULATORS`) after the speaker's exaggeration.
        visemes: ``(n_frames,)`` viseme class index of the phone sounding at each frame.
        cavity_area: ``(n_frames,)`` area of the open mouth in pixels (before degradations).
        dropped: ``(n_frames,)`` bool, frames dropped by the degradations.
    """

    frames: np.ndarray
    fps: float
    times: np.ndarray
    articulators: np.ndarray
    visemes: np.ndarray
    cavity_area: np.ndarray
    dropped: np.ndarray


def render_lip_video(
    phones: Sequence[PhoneSegment],
    duration: float,
    *,
    speaker: str = "spk",
    fps: float = DEFAULT_FPS,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    degradations: LipDegradations | None = None,
    motion: float = 1.0,
    lighting: float = 1.0,
    device: str | torch.device = "cpu",
) -> LipVideo:
    """Render the mouth region of ``speaker`` saying ``phones`` (see :func:`render_lips`),
    with the tracks, labels and masks that made it."""
    n = n_video_frames(duration, fps)
    if not (isinstance(size, (int, np.integer)) and 8 <= size <= 1024):
        raise ConfigError(f"size must be an integer between 8 and 1024 pixels, got {size!r}")
    check_phones(phones)
    if phones and phones[-1].end > duration + 0.5:
        raise VideoError(
            f"the phones end at {phones[-1].end:.2f} s but the video lasts "
            f"{duration:.2f} s; do the phones belong to this audio?"
        )
    style = speaker_style(speaker)
    times = video_frame_times(n, fps)
    art = articulator_tracks(phones, times, exaggeration=style.exaggeration, duration=duration)
    scene = (
        scene_tracks(times, derive_seed(seed, speaker), motion=motion, lighting=lighting)
        if (motion or lighting)
        else SceneTracks.still(n)
    )
    out = render_frames(art, style, scene, size=int(size), device=device)
    frames = (out.frames * 255.0 + 0.5).floor().to(torch.uint8).cpu().numpy()
    dropped = np.zeros(n, dtype=bool)
    if degradations is not None and degradations.active:
        frames, dropped = degrade_lips(frames, degradations, seed=derive_seed(seed, "degrade"))
    return LipVideo(
        frames=frames,
        fps=float(fps),
        times=times,
        articulators=art,
        visemes=viseme_labels(phones, times),
        cavity_area=out.cavity_area.cpu().numpy().astype(np.float64),
        dropped=dropped,
    )


def render_lips(
    phones: Sequence[PhoneSegment],
    duration: float,
    *,
    speaker: str = "spk",
    fps: float = DEFAULT_FPS,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    degradations: LipDegradations | None = None,
    motion: float = 1.0,
    lighting: float = 1.0,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Render a grayscale mouth-region video, uint8 ``(n_frames, size, size)``.

    ``n_frames = floor(duration * fps + 1/2)``; frame ``n`` shows time ``n / fps``. The
    speaker's mouth depends on ``speaker`` only; head motion, lighting and degradations on
    ``seed`` (and the speaker). ``motion``/``lighting`` scale head motion and lighting changes
    (0 turns them off). Raises :class:`~avgen.errors.VideoError` for unusable phones or
    duration, :class:`~avgen.errors.ConfigError` for bad options.
    """
    return render_lip_video(
        phones,
        duration,
        speaker=speaker,
        fps=fps,
        size=size,
        seed=seed,
        degradations=degradations,
        motion=motion,
        lighting=lighting,
        device=device,
    ).frames
