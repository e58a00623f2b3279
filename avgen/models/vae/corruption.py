"""Corrupting the audio encoder's input during training, so that the visual branch matters.

The MIN-VAE paper (Sadeghi & Alameda-Pineda 2021) trains with the audio encoder reading a
noisy version of the spectrogram on a share of the frames (half of them in their code), while
the likelihood scores the clean one: on those frames the visual encoder explains the speech
better, so the mixture learns to rely on it when the audio is unreliable -- what happens at
test time, where the audio is noisy and the lips are clean.

Their code adds uniform noise of a fixed amplitude to the power, which depends on the data's
scale. Here the noise is that of white complex Gaussian noise in the power domain,
``p'_ft = p_ft + n_t E_ft`` with ``E_ft ~ Exp(1)`` i.i.d. (the power of a unit complex Gaussian),
at a level ``n_t = P_ref 10^(-snr_t / 10)`` set by an SNR drawn uniformly per frame and
relative to ``P_ref``, the mean power of the training frames (so silent frames get as much
noise as loud ones, as with real additive noise). A data kit's noisy power of the same frames
(``FrameTensors.noisy_power``) can replace the synthetic noise.
"""

from __future__ import annotations

import torch


def add_power_noise(
    power: torch.Tensor,
    snr_db: float | torch.Tensor,
    reference_power: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``power + P_ref 10^(-snr/10) E``, ``E ~ Exp(1)`` i.i.d.; ``snr_db`` scalar or ``(T,)``."""
    snr = torch.as_tensor(snr_db, dtype=power.dtype, device=power.device)
    level = reference_power * torch.pow(10.0, -snr / 10.0)
    if level.ndim:
        level = level.unsqueeze(-1)
    noise = torch.empty_like(power).exponential_(1.0, generator=generator)
    return power + level * noise


def corrupt_encoder_input(
    power: torch.Tensor,
    *,
    share: float,
    snr_db: tuple[float, float] = (-5.0, 5.0),
    reference_power: float,
    noisy_power: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a share of the frames of ``power`` (T, F) for the audio encoder.

    Each frame is corrupted with probability ``share``: replaced by ``noisy_power`` when given,
    else by :func:`add_power_noise` at an SNR uniform in ``snr_db``. Returns
    ``(encoder_power, mask)``; draws from ``generator`` (default: torch's global one, which the
    training loop seeds per epoch).
    """
    n_frames = power.shape[0]
    mask = torch.rand(n_frames, generator=generator, device=power.device) < share
    if noisy_power is not None:
        corrupted = noisy_power
    else:
        low, high = snr_db
        snr = low + (high - low) * torch.rand(n_frames, generator=generator, device=power.device)
        corrupted = add_power_noise(power, snr, reference_power, generator)
    return torch.where(mask.unsqueeze(-1), corrupted, power), mask
