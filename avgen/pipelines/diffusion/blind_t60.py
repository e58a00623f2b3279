r"""A blind estimate of T60 per band from reverberant speech alone: the decay rate of the
speech offsets ("free decays").

After a speech offset the sound field in a band decays at the room's rate: it cannot decay
faster, and decays slower only when the talker fades out slowly. Following the free-decay
approach of Ratnam et al. (2003) and Löllmann et al. (2010), in each octave band the log energy
envelope (8 ms frames, smoothed over 3 frames) is fitted by straight lines over sliding windows
of ``window`` seconds; windows that fall steadily (no frame-to-frame rise above a tolerance,
total drop ``>= min_drop_db``, a straight line explaining ``>= min_r2`` of the window's
variance) and start within ``dynamic_range_db`` of the band's peak (above
the noise floor) give candidate decay times ``-60 / slope``, and the estimate is their
``quantile``-quantile (a low quantile: the fastest decays are the room's own).

The tolerance is per band, ``step_tolerance / sqrt(n_bins)`` dB: a band's energy is a sum over
``n_bins`` STFT bins of a diffuse field, whose relative fluctuation falls as ``1/sqrt(n_bins)``,
so a narrow low band (6 bins below 354 Hz) wobbles by ~1.6 dB from frame to frame even while it
decays, and a single fixed tolerance (0.5 dB) kept only its fastest, talker-driven drops there
and read long bass decays short (0.8 s as 0.35 s).

This is the *initialisation and prior* of the room in :func:`~.dereverb.dereverberate`;
``window``, ``step_tolerance``, ``min_r2``, ``min_drop_db`` and ``quantile`` were chosen on
simulated rooms (seeds 5000-5023) with train-split speech, disjoint from the benchmark's rooms
(9000-) and speakers; see ``docs/diffusion-pipelines.md``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch

from avgen.audio import SAMPLE_RATE, StftConfig, stft

BLIND_STFT = StftConfig(n_fft=512, hop_length=128, window="hann")
"""32 ms Hann frames, 8 ms hop."""


def band_masks(band_edges: Sequence[float], config: StftConfig = BLIND_STFT) -> list[torch.Tensor]:
    """One boolean mask over the ``n_fft // 2 + 1`` STFT bins per band ``[lo, hi)``."""
    freqs = torch.arange(config.n_fft // 2 + 1, dtype=torch.float64) * SAMPLE_RATE / config.n_fft
    return [(freqs >= lo) & (freqs < hi) for lo, hi in itertools.pairwise(band_edges)]


def band_log_energy(
    wav: torch.Tensor, band_edges: Sequence[float], config: StftConfig = BLIND_STFT
) -> torch.Tensor:
    """``(B, T)`` energy per band in dB, smoothed over 3 frames."""
    power = stft(wav.double(), config).abs().square()  # (F, T)
    energy = torch.stack([power[mask].sum(0) for mask in band_masks(band_edges, config)])
    energy = torch.nn.functional.avg_pool1d(energy[None], 3, 1, 1, count_include_pad=False)[0]
    return 10.0 * torch.log10(energy + 1e-20)


def blind_t60(
    wav: torch.Tensor,
    band_edges: Sequence[float],
    *,
    window: float = 0.12,
    min_drop_db: float = 3.0,
    dynamic_range_db: float = 35.0,
    quantile: float = 0.3,
    step_tolerance: float = 4.0,
    min_r2: float = 0.7,
    fallback: float = 0.5,
    config: StftConfig = BLIND_STFT,
) -> list[float]:
    """T60 in seconds per band of ``band_edges`` (``fallback`` where no free decay is found).

    ``step_tolerance / sqrt(n_bins)`` dB is the largest frame-to-frame rise a free decay may
    show in a band of ``n_bins`` STFT bins (module docstring); ``min_r2`` is the share of the
    window's variance its straight line must explain (so that steady noise, which wobbles
    within the tolerance, gives no decays).
    """
    level = band_log_energy(wav, band_edges, config)
    frame = config.hop_length / SAMPLE_RATE
    w = max(round(window / frame), 3)
    t = torch.arange(w, dtype=torch.float64) * frame
    t = t - t.mean()
    t_sq = t.square().sum()
    out = []
    bin_counts = [int(mask.sum()) for mask in band_masks(band_edges, config)]
    for row, n_bins in zip(level, bin_counts, strict=True):
        if row.numel() <= w or n_bins == 0:
            out.append(fallback)
            continue
        seg = row.unfold(0, w, 1)  # (n, w)
        centred = seg - seg.mean(1, keepdim=True)
        slope = centred @ t / t_sq
        explained = slope.square() * t_sq / centred.square().sum(1).clamp_min(1e-12)  # R^2
        steps = seg.diff(dim=1)
        ok = (
            (steps <= step_tolerance / math.sqrt(n_bins)).all(1)
            & (explained >= min_r2)
            & (seg[:, 0] - seg[:, -1] >= min_drop_db)
            & (seg[:, 0] >= row.max() - dynamic_range_db)
            & (slope < 0)
        )
        if int(ok.sum()) < 3:
            out.append(fallback)
            continue
        t60 = -60.0 / slope[ok]
        out.append(float(torch.quantile(t60, quantile)))
    return out
