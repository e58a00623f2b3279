"""Contact sheets of lip videos: frames in a grid, each labelled with its time and phone."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from avgen.data.lips.files import check_lips
from avgen.data.lips.frames import video_frame_times
from avgen.data.speech.phones import PhoneSegment, phone_at
from avgen.files import atomic_path


def frame_selection(
    n_frames: int, max_frames: int, start: int = 0, step: int | None = None
) -> np.ndarray:
    """Indices of the frames a sheet shows: every ``step``-th frame from ``start`` (by default
    a step that keeps at most ``max_frames``)."""
    if step is None:
        step = max(1, int(np.ceil((n_frames - start) / max_frames)))
    return np.arange(start, n_frames, step)[:max_frames]


def contact_sheet(
    path: str | os.PathLike[str],
    lips: np.ndarray,
    fps: float,
    *,
    phones: Sequence[PhoneSegment] | None = None,
    columns: int = 10,
    max_frames: int = 60,
    start: int = 0,
    step: int | None = None,
    title: str | None = None,
    dpi: int = 80,
) -> Path:
    """Write a PNG grid of frames of ``lips`` labelled ``time s / phone`` (atomic).

    Shows at most ``max_frames`` frames, every ``step``-th from ``start`` (default: evenly
    spread over the video).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    arr = check_lips(lips)
    idx = frame_selection(arr.shape[0], max_frames, start, step)
    times = video_frame_times(arr.shape[0], fps)[idx]
    labels = phone_at(list(phones), times.tolist()) if phones is not None else None
    cols = min(columns, len(idx))
    rows = int(np.ceil(len(idx) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(1.1 * cols, 1.25 * rows + (0.3 if title else 0)), squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(idx):
            continue
        ax.imshow(arr[idx[k]], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        text = f"{times[k]:.2f}s" + (f" {labels[k]}" if labels is not None else "")
        ax.set_title(text, fontsize=7, pad=2)
    fig.tight_layout(
        pad=0.2,
        h_pad=0.3,
        w_pad=0.1,
        rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()) if title else None,
    )
    if title:
        fig.suptitle(title, fontsize=9)
    dest = Path(path)
    with atomic_path(dest, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)
    return dest
