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

Time conventions (stated once, used everywhere):

* a video of ``duration`` seconds at ``fps`` has ``n_frames = floor(duration * fps + 1/2)``
  frames (round half up, at least one);
* video frame ``n`` shows the mouth at time ``n / fps`` (its presentation time stamp);
* STFT frame ``t`` (``center=True``) is centred at ``t * hop_length / sample_rate`` seconds,
  i.e. at fractional video frame ``q = t * hop_length * fps / sample_rate``; its lip image is
  the linear interpolation of video frames ``floor(q)`` and ``floor(q) + 1`` (the last frame is
  held beyond the end).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from avgen.audio import SAMPLE_RATE
from avgen.data.lips.degrade import LipDegradations, degrade_lips
from avgen.data.lips.render import render_frames
from avgen.data.lips.shape import articulator_tracks, check_phones, viseme_labels
from avgen.data.lips.style import SceneTracks, scene_tracks, speaker_style
from avgen.data.speech.phones import PhoneSegment
from avgen.errors import ConfigError, MissingToolError, VideoError
from avgen.files import atomic_path
from avgen.seeding import derive_seed

DEFAULT_FPS = 25.0
DEFAULT_SIZE = 64
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg")


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


# ----------------------------------------------------------------------------------------------
# Video frames -> STFT frames
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------


def check_lips(lips: np.ndarray, name: str = "lips") -> np.ndarray:
    """Raise :class:`VideoError` unless ``lips`` is a uint8 ``(N, H, W)`` video, N, H, W > 0."""
    arr = np.asarray(lips)
    if arr.dtype != np.uint8:
        raise VideoError(
            f"{name}: expected uint8 grey levels, got {arr.dtype} (scale to "
            "0-255 and convert with .astype(np.uint8))"
        )
    if arr.ndim != 3 or min(arr.shape) == 0:
        raise VideoError(f"{name}: expected a (frames, height, width) video, got shape {arr.shape}")
    return arr


def save_lips(path: str | os.PathLike[str], lips: np.ndarray, fps: float = DEFAULT_FPS) -> Path:
    """Write a uint8 ``(N, H, W)`` video atomically: ``.npy`` exactly, or a video file
    (``.mp4`` etc., lossy H.264 through ffmpeg, for viewing)."""
    arr = check_lips(lips, str(path))
    dest = Path(path)
    suffix = dest.suffix.lower()
    if suffix == ".npy":
        with atomic_path(dest) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
        return dest
    if suffix in VIDEO_SUFFIXES:
        ffmpeg = _ffmpeg()
        _, h, w = arr.shape
        with atomic_path(dest) as tmp:
            cmd = [
                ffmpeg,
                "-v",
                "error",
                "-y",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "gray",
                "-s",
                f"{w}x{h}",
                "-r",
                f"{fps}",
                "-i",
                "-",
                "-vf",
                "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                "-c:v",
                "libx264",
                "-crf",
                "12",
                "-pix_fmt",
                "yuv420p",
                str(tmp),
            ]
            proc = subprocess.run(cmd, input=arr.tobytes(), capture_output=True, timeout=600)
            if proc.returncode != 0:
                raise VideoError(
                    f"{dest}: ffmpeg could not write the video: "
                    f"{proc.stderr.decode(errors='replace').strip()[:200]}"
                )
        return dest
    raise VideoError(f"{dest}: unsupported extension for lips (use .npy, or .mp4 for viewing)")


def load_lips(
    path: str | os.PathLike[str], *, size: int | None = None, fps: float | None = None
) -> np.ndarray:
    """Read a mouth-region video as uint8 ``(N, H, W)``.

    ``.npy``: a uint8 array written by :func:`save_lips` (no pickles). Video files (``.mp4``,
    ``.avi``, ...): decoded by ffmpeg to grayscale; with ``fps`` resampled in time by ffmpeg.
    With ``size``, frames are resized to ``size x size`` (area averaging; a non-square video is
    centre-cropped to a square first). Raises :class:`MissingToolError` when a video needs
    ffmpeg and it is missing, :class:`VideoError` for a missing, corrupt or wrong-shape file.
    """
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such file")
    if p.is_dir():
        raise VideoError(f"{p}: is a folder, not a lips file")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise VideoError(f"{p}: not a readable .npy array ({exc})") from None
        arr = check_lips(arr, str(p))
        if fps is not None:
            raise ConfigError(
                f"{p}: .npy lips carry no frame rate to convert from; resample "
                "with lips_to_stft_frames or render at the wanted fps"
            )
        if size is not None and arr.shape[1:] != (size, size):
            arr = _resize_uint8(_centre_square(arr), size)
        return arr
    if suffix in VIDEO_SUFFIXES:
        return _read_video(p, size=size, fps=fps)
    raise VideoError(f"{p}: unsupported extension for lips (use .npy or a video such as .mp4)")


def _centre_square(arr: np.ndarray) -> np.ndarray:
    _, h, w = arr.shape
    m = min(h, w)
    top, left = (h - m) // 2, (w - m) // 2
    return arr[:, top : top + m, left : left + m]


def _resize_uint8(arr: np.ndarray, size: int) -> np.ndarray:
    x = torch.from_numpy(arr.astype(np.float32))[:, None]
    mode = "area" if arr.shape[1] >= size else "bilinear"
    kwargs = {} if mode == "area" else {"align_corners": False}
    y = F.interpolate(x, size=(size, size), mode=mode, **kwargs)[:, 0]
    return (y.clamp(0, 255) + 0.5).floor().to(torch.uint8).numpy()


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise MissingToolError(
            "ffmpeg is not installed (needed for lip videos); install it "
            "with: apt-get install ffmpeg"
        )
    return exe


def _probe_size(path: Path) -> tuple[int, int]:
    probe = shutil.which("ffprobe")
    if probe is None:
        raise MissingToolError(
            "ffprobe is not installed (it comes with ffmpeg); install it "
            "with: apt-get install ffmpeg"
        )
    proc = subprocess.run(
        [
            probe,
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0:s=x",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""
    try:
        w, h = (int(v) for v in text.split("x")[:2])
    except ValueError:
        raise VideoError(
            f"{path}: not a readable video (ffprobe: "
            f"{proc.stderr.strip()[:200] or 'no video stream'})"
        ) from None
    return w, h


def _read_video(path: Path, *, size: int | None, fps: float | None) -> np.ndarray:
    ffmpeg = _ffmpeg()
    w, h = _probe_size(path)
    filters = []
    if fps is not None:
        if not fps > 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        filters.append(f"fps={fps}")
    if size is not None:
        m = min(w, h)
        filters += [f"crop={m}:{m}", f"scale={size}:{size}:flags=area"]
        w = h = size
    filters.append("format=gray")
    cmd = [
        ffmpeg,
        "-v",
        "error",
        "-i",
        str(path),
        "-vf",
        ",".join(filters),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        "-",
    ]
    proc = subprocess.run(cmd, capture_output=True, timeout=600)
    if proc.returncode != 0:
        raise VideoError(
            f"{path}: ffmpeg could not decode the video: "
            f"{proc.stderr.decode(errors='replace').strip()[:200]}"
        )
    raw = np.frombuffer(proc.stdout, dtype=np.uint8)
    frame = w * h
    if raw.size == 0 or raw.size % frame:
        raise VideoError(
            f"{path}: decoded {raw.size} bytes, not a whole number of "
            f"{w}x{h} frames; the file is corrupt or truncated"
        )
    return raw.reshape(-1, h, w).copy()
