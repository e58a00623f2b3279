r"""What the stylizer works on: the compressed complex STFT, and log-mel features.

**Representation.** The autoencoder compresses the amplitude-compressed complex STFT of
:data:`avgen.audio.DIFFUSION_STFT` (periodic Hann 510, hop 128 at 16 kHz, 256 bins),

.. math::

    \tilde X(f, t) = 0.15\,|X(f, t)|^{0.5}\,e^{j \angle X(f, t)},

as two real channels (real and imaginary parts), ``(B, 2, 256, T)``. Why this and not mel +
vocoder (the paper's ResNet VAE on mel spectrograms, then HiFi-GAN): no pretrained vocoder can
be had offline, and a vocoder trained here would add a second model, a second error and a
second training run; the compressed complex STFT is invertible (iSTFT), so the decoder's output
*is* a waveform and every error of the round trip is the autoencoder's own, measured directly.
The 0.5 exponent lifts quiet bins (reverberant tails, ambience) towards the loud ones, so an L1
loss on it weighs them as the ear does far more than a linear spectrum would (Richter et al.,
2023, SGMSE+; Braun & Tashev, 2021). It is the diffusion family's convention, shared with the
library's other diffusion models.

**Log-mel features** (:func:`log_mel`) of the audio example's encoder and the round-trip metric:
``M = W |X|^2`` with ``W`` HTK-style triangular filters (:func:`mel_filterbank`), 64 bands from
0 to 8 kHz, then ``10 log10(M + floor)``.

**Round-trip metrics** (:func:`log_mel_distance`, :func:`avgen.metrics.si_sdr`): the mean
absolute difference of two log-mel spectrograms in dB, each floored at 80 dB below its
reference's peak (so digital silence does not dominate); SI-SDR in dB.
"""

from __future__ import annotations

import math

import torch

from avgen.audio import DIFFUSION_STFT, SAMPLE_RATE, stft
from avgen.errors import AudioError, ConfigError

N_MELS = 64
"""Mel bands of the log-mel features."""
LOG_MEL_FLOOR_DB = 80.0
"""Dynamic range kept by :func:`log_mel_distance` below the reference's peak."""


def _hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def _mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int = N_MELS,
    n_freqs: int = DIFFUSION_STFT.n_freqs,
    sample_rate: int = SAMPLE_RATE,
) -> torch.Tensor:
    """``(n_mels, n_freqs)`` triangular filters equally spaced on the HTK mel scale
    ``m = 2595 log10(1 + f / 700)`` from 0 Hz to Nyquist, each with peak 1."""
    if n_mels < 1 or n_freqs < 2:
        raise ConfigError(f"mel_filterbank needs n_mels >= 1 and n_freqs >= 2, got {n_mels}")
    freqs = torch.linspace(0.0, sample_rate / 2.0, n_freqs, dtype=torch.float64)
    edges = _mel_to_hz(
        torch.linspace(0.0, float(_hz_to_mel(torch.tensor(sample_rate / 2.0))), n_mels + 2)
    ).to(torch.float64)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    return torch.clamp(torch.minimum(up, down), min=0.0).to(torch.float32)


def mel_power(wav: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """Mel power spectrogram ``W |STFT(wav)|^2``: ``(..., N)`` -> ``(..., n_mels, T)``."""
    power = stft(wav, DIFFUSION_STFT).abs().square()
    return torch.einsum("mf,...ft->...mt", filters.to(power.dtype), power)


def log_mel(wav: torch.Tensor, filters: torch.Tensor, floor: float = 1e-6) -> torch.Tensor:
    """``10 log10(W |X|^2 + floor)`` in dB, ``(..., N)`` -> ``(..., n_mels, T)``."""
    return 10.0 * torch.log10(mel_power(wav, filters) + floor)


def log_mel_distance(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Mean absolute log-mel difference in dB over bands and frames (batched over leading
    axes). Both are floored at :data:`LOG_MEL_FLOOR_DB` below the reference's peak."""
    if reference.shape != estimate.shape:
        raise AudioError(
            f"log_mel_distance: shapes differ ({tuple(reference.shape)} vs {tuple(estimate.shape)})"
        )
    filters = mel_filterbank().to(reference.device)
    ref = 10.0 * torch.log10(mel_power(reference, filters) + 1e-20)
    est = 10.0 * torch.log10(mel_power(estimate, filters) + 1e-20)
    floor = ref.amax(dim=(-2, -1), keepdim=True) - LOG_MEL_FLOOR_DB
    return (torch.maximum(ref, floor) - torch.maximum(est, floor)).abs().mean(dim=(-2, -1))


def frames_of(n_samples: int) -> int:
    """STFT frames of ``n_samples`` samples (centred frames): ``1 + N // hop``."""
    return 1 + n_samples // DIFFUSION_STFT.hop_length


def round_up(n: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is ``>= n``."""
    return int(math.ceil(n / multiple) * multiple)
