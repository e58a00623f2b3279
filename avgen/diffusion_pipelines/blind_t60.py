r"""A blind estimate of T60 per band from reverberant speech alone: the decay rate of the
speech offsets ("free decays").

After a speech offset the sound field in a band decays at the room's rate: it cannot decay
faster, and decays slower only when the talker fades out slowly. Following the free-decay
approach of Ratnam et al. (2003) and Löllmann et al. (2010), in each octave band the log energy
envelope (8 ms frames, smoothed over 3 frames) is fitted by straight lines over sliding windows
of ``window`` seconds; windows that fall steadily (every frame-to-frame change ``<= 0.5 dB``,
total drop ``>= min_drop_db``) and start within ``dynamic_range_db`` of the band's peak (above
the noise floor) give candidate decay times ``-60 / slope``, and the estimate is their
``quantile``-quantile (a low quantile: the fastest decays are the room's own).

This is the *initialisation and prior* of the room in :func:`~.dereverb.dereverberate`; the
quantile was calibrated on simulated rooms and train-split speech (seeds disjoint from the
benchmark's), see ``docs/diffusion-pipelines.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from avgen.audio import SAMPLE_RATE, StftConfig, stft

BLIND_STFT = StftConfig(n_fft=512, hop_length=128, window="hann")
"""32 ms Hann frames, 8 ms hop."""


def band_log_energy(wav: torch.Tensor, band_edges: Sequence[float],
                    config: StftConfig = BLIND_STFT) -> torch.Tensor:
    """``(B, T)`` energy per band in dB, smoothed over 3 frames."""
    power = stft(wav.double(), config).abs().square()                      # (F, T)
    freqs = torch.arange(power.shape[0], dtype=torch.float64) * SAMPLE_RATE / config.n_fft
    rows = []
    for lo, hi in itertools.pairwise(band_edges):
        rows.append(power[(freqs >= lo) & (freqs < hi)].sum(0))
    energy = torch.stack(rows)
    energy = torch.nn.functional.avg_pool1d(energy[None], 3, 1, 1, count_include_pad=False)[0]
    return 10.0 * torch.log10(energy + 1e-20)


def blind_t60(wav: torch.Tensor, band_edges: Sequence[float], *, window: float = 0.08,
              min_drop_db: float = 3.0, dynamic_range_db: float = 35.0,
              quantile: float = 0.3, fallback: float = 0.5,
              config: StftConfig = BLIND_STFT) -> list[float]:
    """T60 in seconds per band of ``band_edges`` (``fallback`` where no free decay is found)."""
    level = band_log_energy(wav, band_edges, config)
    frame = config.hop_length / SAMPLE_RATE
    w = max(round(window / frame), 3)
    t = torch.arange(w, dtype=torch.float64) * frame
    t = t - t.mean()
    out = []
    for row in level:
        if row.numel() <= w:
            out.append(fallback)
            continue
        seg = row.unfold(0, w, 1)                                          # (n, w)
        slope = (seg - seg.mean(1, keepdim=True)) @ t / t.square().sum()
        steps = seg.diff(dim=1)
        ok = ((steps <= 0.5).all(1) & (seg[:, 0] - seg[:, -1] >= min_drop_db)
              & (seg[:, 0] >= row.max() - dynamic_range_db) & (slope < 0))
        if int(ok.sum()) < 3:
            out.append(fallback)
            continue
        t60 = -60.0 / slope[ok]
        out.append(float(torch.quantile(t60, quantile)))
    return out
