r"""The room operator in the power domain: what a parametric RIR does, on average, to a power
spectrogram (Polack's statistical model in the STFT domain; Lebart, Boucher & Denbigh, 2001;
the subband decay model of BUDDy, Moliner et al., 2024).

Why not the waveform operator ``RoomOperator.forward_stft`` for estimation: its tail is one fixed
noise realisation, while a real room's tail is another; the complex STFT of the two
reverberations are then uncorrelated in their late part, and least squares on complex spectra
shrinks the estimated tail towards zero (measured: fitting :class:`RoomOperator` to simulated
rooms with the *true* clean speech gives broadband T60s off by up to 80%). The expected power is
phase-free and identifiable.

With the convolutive transfer function approximation ``Y(f, t) ~ sum_m H(f, m) X(f, t - m)`` and
the tail of :class:`~avgen.models.reverb.RoomOperator` (unit direct path; band ``b`` white with
amplitude ``g_b`` and decay ``delta_b = 3 ln 10 / T60_b``), the frame coefficients of the tail
are independent with ``E |H(f, m)|^2 = hop g_b^2 exp(-2 delta_b m hop / fs)`` for ``m >= 1``, so

.. math::
    \mathbb E\,|Y(f, t)|^2 = |X(f, t)|^2 + \sum_{m \ge 1} \mathrm{hop}\; g_{b(f)}^2\,
    e^{-2\delta_{b(f)} m\,\mathrm{hop}/f_s}\,|X(f, t - m)|^2 .

The same ``(log T60_b, log g_b)`` therefore parametrise both forms, and the RIR of an estimate is
:meth:`RoomOperator.rir` of those parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from avgen.audio import DIFFUSION_STFT, SAMPLE_RATE, StftConfig
from avgen.models.reverb import DECAY_60DB


def bin_bands(
    band_edges: Sequence[float], config: StftConfig = DIFFUSION_STFT, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """``(F,)`` index of the band of each STFT bin (edges as ``RoomOperator.band_edges``)."""
    n_bins = config.n_fft // 2 + 1
    freqs = torch.arange(n_bins, dtype=torch.float64) * sample_rate / config.n_fft
    inner = torch.tensor(list(band_edges[1:-1]), dtype=torch.float64)
    return torch.bucketize(freqs, inner, right=True)


class PowerRoomModel:
    """``E |Y|^2`` from ``|X|^2`` for room parameters ``{"log_t60", "log_gain"}`` (per band).

    Args:
        band_edges: band edges in Hz (``RoomOperator.band_edges``).
        n_frames: length in frames of the tail kernel (the RIR length over the hop).
        config: the STFT (its hop sets the frame rate).
    """

    def __init__(
        self,
        band_edges: Sequence[float],
        n_frames: int,
        config: StftConfig = DIFFUSION_STFT,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        self.bands = bin_bands(band_edges, config, sample_rate)
        self.hop = config.hop_length
        self.frame_seconds = config.hop_length / sample_rate
        self.lags = torch.arange(1, max(int(n_frames), 2), dtype=torch.float32)

    def kernel(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``(..., F, M)`` tail weights ``hop g^2 exp(-2 delta m hop / fs)``, ``m = 1..M``."""
        log_t60 = params["log_t60"]
        log_gain = params["log_gain"]
        bands = self.bands.to(log_t60.device)
        lags = self.lags.to(device=log_t60.device, dtype=log_t60.dtype)
        decay = 2.0 * DECAY_60DB * self.frame_seconds / log_t60.exp()  # (..., B) per frame
        log_w = (2.0 * log_gain)[..., None] - decay[..., None] * lags  # (..., B, M)
        return self.hop * log_w.index_select(-2, bands).exp()  # (..., F, M)

    def __call__(self, power: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``(B, F, T)`` clean power -> expected reverberant power, same shape (causal)."""
        k = self.kernel(params)
        n_t = power.shape[-1]
        m = k.shape[-1]
        n_fft = 1 << (n_t + m).bit_length()
        kernel = torch.nn.functional.pad(k, (1, 0))  # lag 0 -> 0
        tail = torch.fft.irfft(
            torch.fft.rfft(power, n=n_fft) * torch.fft.rfft(kernel, n=n_fft), n=n_fft
        )[..., :n_t]
        return power + tail.clamp_min(0.0)
