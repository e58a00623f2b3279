"""Lip videos on disk: ``.npy`` arrays exactly, common video files through ffmpeg.

:func:`save_lips` writes a uint8 ``(N, H, W)`` video atomically (``.npy``, or lossy H.264 for
viewing); :func:`load_lips` reads one back, or decodes a real mouth-region video (``.mp4``,
``.avi``, ...) to grey levels, optionally resized and resampled in time by ffmpeg.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from avgen.data.lips.frames import DEFAULT_FPS
from avgen.errors import ConfigError, MissingToolError, VideoError
from avgen.files import atomic_path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg")
"""File extensions read and written as video files (through ffmpeg)."""


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
        ffmpeg = require_ffmpeg()
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
        arr = check_lips(read_npy(p), str(p))
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


def read_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """One array from a ``.npy`` file, never unpickling; :class:`VideoError` for a file that is
    empty, truncated, corrupt, pickled, or a ``.npz`` archive."""
    p = Path(path)
    try:
        loaded = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise VideoError(f"{p}: not a readable .npy array ({exc})") from None
    if not isinstance(loaded, np.ndarray):  # np.load opens .npz archives whatever the name
        loaded.close()
        raise VideoError(
            f"{p}: a .npz archive, not a .npy array; write the frames with numpy.save or "
            "avgen.data.lips.files.save_lips"
        )
    return loaded


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


def require_ffmpeg() -> str:
    """The path of ffmpeg, or :class:`MissingToolError` saying how to install it."""
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
    ffmpeg = require_ffmpeg()
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
