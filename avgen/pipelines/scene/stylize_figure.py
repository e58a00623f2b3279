"""The stylization figure: input speech, the example's sound, the stylized output (log-power
spectrograms on one colour scale, 0 dB = the loudest bin of the three), and the example's
picture when one was given."""

from __future__ import annotations

import os
from typing import IO

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, VAE_STFT, stft


def _db(wave: torch.Tensor) -> np.ndarray:
    power = stft(torch.as_tensor(wave, dtype=torch.float32).reshape(-1), VAE_STFT).abs().square()
    return 10 * np.log10(np.maximum(power.numpy(), 1e-12))


def render_stylize_figure(
    speech: torch.Tensor,
    output: torch.Tensor,
    dest: str | os.PathLike[str] | IO[bytes],
    *,
    example: torch.Tensor | None = None,
    picture: np.ndarray | None = None,
    fmt: str = "png",
    title: str = "",
) -> None:
    """Draw the input, the example (when given) and the output side by side into ``dest``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    panels = [("input speech", _db(speech))]
    if example is not None:
        panels.append(("the example's sound (the target scene)", _db(example)))
    panels.append(("stylized output", _db(output)))
    top = max(float(p.max()) for _, p in panels)
    n_cols = len(panels) + (picture is not None)
    fig, axes = plt.subplots(1, n_cols, figsize=(3.6 * n_cols, 3.0), constrained_layout=True)
    axes = np.atleast_1d(axes)
    hop_s = VAE_STFT.hop_length / SAMPLE_RATE
    shown = None
    for ax, (label, image) in zip(axes, panels):
        extent = (0, image.shape[1] * hop_s, 0, SAMPLE_RATE / 2000)
        shown = ax.imshow(image - top, origin="lower", aspect="auto", extent=extent,
                          cmap="magma", vmin=-80, vmax=0)  # fmt: skip
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("s")
        ax.set_ylabel("kHz")
    if shown is not None:
        fig.colorbar(shown, ax=axes[len(panels) - 1], pad=0.01, label="dB")
    if picture is not None:
        ax = axes[-1]
        ax.imshow(picture)
        ax.set_title("the example's picture", fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(dest, format=fmt, dpi=110)
    plt.close(fig)
