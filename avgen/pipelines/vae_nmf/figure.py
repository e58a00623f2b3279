"""The enhancement figure: noisy / enhanced (/ clean) spectrograms, uncertainty map, EM objective.

The uncertainty map is the per-bin posterior standard deviation of the speech image in dB
relative to the noisy bin, ``10 log10(Var[sqrt(g) s | x] / |x|^2)``: near 0 dB the model cannot
tell whether the bin's energy is speech or noise; far below 0 dB it is sure (either way). With
MIN-VAE the visual branch's weight ``r_t`` is drawn over the map.
"""

from __future__ import annotations

import os
from typing import IO, Any

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, VAE_STFT, stft


def _db(power: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    return 10 * np.log10(np.maximum(power, floor))


def render_figure(
    result: Any,
    dest: str | os.PathLike[str] | IO[bytes],
    *,
    fmt: str = "png",
    clean: torch.Tensor | None = None,
    title: str = "",
) -> None:
    """Draw ``result`` (a :class:`~avgen.pipelines.result.PipelineResult`) into ``dest``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    hop_s = VAE_STFT.hop_length / SAMPLE_RATE
    noisy_db = _db(result.observation_power.numpy())
    enhanced_db = _db(result.spectrum.abs().square().numpy())
    panels = [("noisy |x|^2 (dB)", noisy_db), ("enhanced E[s|x] (dB)", enhanced_db)]
    if clean is not None:
        spec = stft(torch.as_tensor(clean, dtype=torch.float32), VAE_STFT)
        panels.append(("clean reference (dB)", _db(spec.abs().square().numpy())))
    relative = _db(result.uncertainty.numpy()) - noisy_db
    n_rows = len(panels) + 2
    fig, axes = plt.subplots(n_rows, 1, figsize=(8, 2.0 * n_rows), constrained_layout=True)
    vmax = float(np.percentile(noisy_db, 99.5))
    n_frames = noisy_db.shape[1]
    extent = (0, n_frames * hop_s, 0, SAMPLE_RATE / 2000)
    for ax, (label, image) in zip(axes, panels):
        shown = ax.imshow(
            image,
            origin="lower",
            aspect="auto",
            extent=extent,
            cmap="magma",
            vmin=vmax - 80,
            vmax=vmax,
        )
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("kHz")
        fig.colorbar(shown, ax=ax, pad=0.01)
    ax = axes[len(panels)]
    shown = ax.imshow(
        relative, origin="lower", aspect="auto", extent=extent, cmap="viridis", vmin=-30, vmax=0
    )
    ax.set_title(
        "uncertainty: Var[s|x] / |x|^2 (dB; high = unsure whether speech or noise)", fontsize=9
    )
    ax.set_ylabel("kHz")
    fig.colorbar(shown, ax=ax, pad=0.01)
    visual_weight = result.extras.get("visual_weight")
    if visual_weight is not None:
        twin = ax.twinx()
        times = np.arange(n_frames) * hop_s
        twin.plot(times, visual_weight.numpy(), color="white", lw=1.0)
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("visual weight", fontsize=8)
    ax = axes[-1]
    objective = np.asarray(result.history.objective, dtype=float)
    ax.plot(np.arange(1, objective.size + 1), objective, marker=".", lw=1)
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("IS div. / bin")
    ax.set_title(
        "EM objective (sample-averaged Itakura-Saito divergence; lower is better)", fontsize=9
    )
    for a in axes[:-1]:
        a.set_xlabel("s")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(dest, format=fmt, dpi=110)
    plt.close(fig)
