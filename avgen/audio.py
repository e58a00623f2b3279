"""Audio input/output with checks, and the two STFT conventions of the library.

Inside avgen, audio is mono float32 at 16 kHz. Loading checks every assumption and raises
:class:`~avgen.errors.AudioError` with a message that says what to do; resampling and channel
mix-down happen only when asked for, and are logged. Saving is atomic.

STFT conventions (DESIGN.md):

* **VAE family** (:data:`VAE_STFT`): 1024-sample sine window
  ``w[n] = sin(pi (n + 1/2) / N)`` (64 ms), hop 256, 513 bins, as in Leglaive et al. (2018) and
  Sadeghi et al. (2020, 2021). :data:`VAE_STFT_VIDEO` uses the video-synchronous hop 533.
* **Diffusion family** (:data:`DIFFUSION_STFT`): periodic Hann window of 510 samples, hop 128,
  256 bins, with amplitude compression ``c -> beta |c|^alpha e^{i angle c}`` with
  ``alpha = 0.5, beta = 0.15`` as in SGMSE+ (Richter et al., 2023).

Tensors are ``(..., F, T)`` complex64, as :func:`torch.stft` returns them. Models work
frames-major ``(..., T, F)``; convert once at the boundary with :func:`frames_major`.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import torch

from avgen.errors import AudioError
from avgen.files import atomic_path

logger = logging.getLogger("avgen")

SAMPLE_RATE = 16_000
"""The library's internal sample rate in Hz."""

MIN_SAMPLE_RATE = 4_000
"""The lowest sample rate :func:`load_audio` resamples from: below it a file cannot hold speech
(its band would end under 2 kHz), and its header is more likely wrong than the audio right;
upsampling by a huge factor would also make a small file enormous."""

MAX_SAMPLE_RATE = 768_000
"""The highest sample rate :func:`load_audio` resamples from (the highest rate of audio
interfaces; a larger one is a corrupt header)."""


@dataclass(frozen=True)
class StftConfig:
    """One STFT convention: window, sizes and optional amplitude compression.

    Attributes:
        n_fft: FFT size (and window length unless ``win_length`` is given).
        hop_length: hop between frames in samples.
        window: ``"sine"`` (``sin(pi (n + 1/2) / N)``) or ``"hann"`` (periodic).
        win_length: window length; defaults to ``n_fft``.
        compression_exponent: ``alpha`` of ``beta |c|^alpha e^{i angle c}``; ``None``: none.
        compression_scale: ``beta`` of the compression.
        center: pad by ``n_fft // 2`` on both sides (``torch.stft(center=True)``).
    """

    n_fft: int
    hop_length: int
    window: Literal["sine", "hann"]
    win_length: int | None = None
    compression_exponent: float | None = None
    compression_scale: float = 1.0
    center: bool = True

    @property
    def n_freqs(self) -> int:
        """Number of frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def frame_length(self) -> int:
        """Window length in samples."""
        return self.win_length or self.n_fft

    def frame_rate(self, sample_rate: int = SAMPLE_RATE) -> float:
        """STFT frames per second."""
        return sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """Number of STFT frames :func:`stft` returns for ``n_samples`` samples."""
        if self.center:
            return 1 + n_samples // self.hop_length + (self.tail_padding(n_samples) > 0)
        return 1 + (n_samples - self.n_fft) // self.hop_length

    def tail_padding(self, n_samples: int) -> int:
        """Zeros :func:`stft` appends so that a window covers the last samples (> 0 only when
        the hop exceeds half the window, e.g. :data:`VAE_STFT_VIDEO`: with centred frames
        ``0, hop, ..., (n // hop) hop``, samples past the last centre + ``n_fft / 2`` would
        fall outside every window and be lost)."""
        if not self.center:
            return 0
        uncovered = n_samples - 1 - (n_samples // self.hop_length) * self.hop_length
        return self.hop_length if uncovered >= self.n_fft // 2 else 0

    def window_tensor(
        self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """The analysis (= synthesis) window."""
        n = self.frame_length
        if self.window == "sine":
            idx = torch.arange(n, device=device, dtype=torch.float64)
            return torch.sin(math.pi * (idx + 0.5) / n).to(dtype)
        if self.window == "hann":
            return torch.hann_window(n, periodic=True, device=device, dtype=dtype)
        raise ValueError(f"unknown window {self.window!r}")


VAE_STFT = StftConfig(n_fft=1024, hop_length=256, window="sine")
"""Sine window 1024 / hop 256 / 513 bins: the VAE family's STFT."""

VAE_STFT_VIDEO = StftConfig(n_fft=1024, hop_length=533, window="sine")
"""Sine window 1024 / hop 533: the video-synchronous hop of the AV-VAE papers (30 fps)."""

DIFFUSION_STFT = StftConfig(
    n_fft=510, hop_length=128, window="hann", compression_exponent=0.5, compression_scale=0.15
)
"""Hann 510 / hop 128 / 256 bins with amplitude compression 0.15 |c|^0.5: the diffusion STFT."""


# ----------------------------------------------------------------------------------------------
# STFT
# ----------------------------------------------------------------------------------------------


def stft(x: torch.Tensor, config: StftConfig = VAE_STFT) -> torch.Tensor:
    """Complex STFT of ``x`` (``(..., N)`` real) as ``(..., F, T)`` complex.

    No compression is applied here; see :func:`compress`.
    """
    if x.is_complex():
        raise TypeError("stft expects a real waveform")
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    pad = config.tail_padding(x.shape[-1])
    if pad:
        flat = torch.nn.functional.pad(flat, (0, pad))
    spec = torch.stft(
        flat,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.frame_length,
        window=config.window_tensor(x.device, x.dtype),
        center=config.center,
        pad_mode="constant",
        return_complex=True,
    )
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(
    spec: torch.Tensor, config: StftConfig = VAE_STFT, length: int | None = None
) -> torch.Tensor:
    """Inverse of :func:`stft` (weighted overlap-add), ``(..., F, T)`` -> ``(..., N)``.

    With ``length`` equal to the original length, ``istft(stft(x)) == x`` to float precision
    for both conventions (the window's overlap-add envelope is divided out).
    """
    lead = spec.shape[:-2]
    flat = spec.reshape(-1, *spec.shape[-2:])
    real_dtype = torch.float64 if spec.dtype == torch.complex128 else torch.float32
    wav = torch.istft(
        flat,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.frame_length,
        window=config.window_tensor(spec.device, real_dtype),
        center=config.center,
        length=length,
    )
    return wav.reshape(*lead, wav.shape[-1])


def compress(spec: torch.Tensor, config: StftConfig = DIFFUSION_STFT) -> torch.Tensor:
    """Amplitude compression ``beta |c|^alpha e^{i angle c}`` (identity without exponent)."""
    if config.compression_exponent is None:
        return spec
    mag = spec.abs()
    # e^{i angle c} = c / |c|, with 0 where c = 0
    phase = torch.where(mag > 0, spec / mag.clamp_min(1e-30), torch.zeros_like(spec))
    return config.compression_scale * mag.pow(config.compression_exponent) * phase


def decompress(spec: torch.Tensor, config: StftConfig = DIFFUSION_STFT) -> torch.Tensor:
    """Inverse of :func:`compress`: ``|c / beta|^(1/alpha) e^{i angle c}``."""
    if config.compression_exponent is None:
        return spec
    mag = spec.abs()
    phase = torch.where(mag > 0, spec / mag.clamp_min(1e-30), torch.zeros_like(spec))
    return (mag / config.compression_scale).pow(1.0 / config.compression_exponent) * phase


def frames_major(spec: torch.Tensor) -> torch.Tensor:
    """``(..., F, T)`` -> ``(..., T, F)`` contiguous: the layout of models and of
    :mod:`inference` (plate "frames" at dim -1 of the batch shape, frequency as event
    dimension). The pipelines call it once on the way in."""
    return spec.transpose(-1, -2).contiguous()


def bins_major(spec: torch.Tensor) -> torch.Tensor:
    """``(..., T, F)`` -> ``(..., F, T)`` contiguous: back to the layout of :func:`stft` (and of
    every spectrum a pipeline returns). The pipelines call it once on the way out."""
    return spec.transpose(-1, -2).contiguous()


def power_spectrogram(x: torch.Tensor, config: StftConfig = VAE_STFT) -> torch.Tensor:
    """``|STFT(x)|^2`` as ``(..., F, T)`` float."""
    return stft(x, config).abs().square()


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------


def check_waveform(
    x: torch.Tensor | np.ndarray,
    *,
    name: str = "audio",
    min_samples: int = VAE_STFT.n_fft,
    allow_silence: bool = False,
) -> None:
    """Raise :class:`AudioError` unless ``x`` is usable mono audio.

    Checks: one dimension (mono), not empty, at least ``min_samples`` samples (one STFT
    frame by default), only finite values, and not all zero (unless ``allow_silence``).
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim != 1:
        raise AudioError(f"{name}: expected mono audio (one dimension), got shape {arr.shape}")
    if arr.size == 0:
        raise AudioError(f"{name}: the audio is empty (0 samples)")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise AudioError(f"{name}: the audio holds {bad} NaN or infinite sample(s)")
    if arr.size < min_samples:
        raise AudioError(
            f"{name}: the audio has {arr.size} samples, shorter than one STFT "
            f"frame ({min_samples} samples)"
        )
    if not allow_silence and not np.any(arr):
        raise AudioError(f"{name}: the audio is silent (all samples are zero)")


def resample(x: torch.Tensor, orig_sr: int, target_sr: int = SAMPLE_RATE) -> torch.Tensor:
    """Polyphase resampling (``scipy.signal.resample_poly``, Kaiser window) of mono audio."""
    if orig_sr == target_sr:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(int(orig_sr), int(target_sr))
    y = resample_poly(x.detach().cpu().double().numpy(), target_sr // g, orig_sr // g)
    return torch.from_numpy(y.astype(np.float32))


def load_audio(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = SAMPLE_RATE,
    mixdown: bool = False,
    resample_to_target: bool = False,
    min_samples: int = VAE_STFT.n_fft,
    allow_silence: bool = False,
) -> torch.Tensor:
    """Load a sound file as mono float32 at ``sample_rate``, with every check of the library.

    Policies (nothing happens silently):

    * more than one channel: :class:`AudioError` unless ``mixdown=True`` (average of channels);
    * another sample rate: :class:`AudioError` unless ``resample_to_target=True``; rates outside
      [:data:`MIN_SAMPLE_RATE`, :data:`MAX_SAMPLE_RATE`] are refused even then;
    * NaN/Inf, empty, shorter than ``min_samples``, all zero: :class:`AudioError`
      (see :func:`check_waveform`).

    Returns a 1-D float32 tensor.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, not a sound file")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"{p}: not a readable sound file ({exc})") from None
    n_channels = data.shape[1]
    if n_channels > 1:
        if not mixdown:
            raise AudioError(
                f"{p}: has {n_channels} channels; avgen works on mono audio "
                "(pass mixdown=True, or --mixdown, to average the channels)"
            )
        logger.warning("%s: mixed %d channels down to mono", p, n_channels)
        data = data.mean(axis=1, keepdims=True)
    wav = torch.from_numpy(np.ascontiguousarray(data[:, 0]))
    if sr != sample_rate:
        if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
            raise AudioError(
                f"{p}: sample rate is {sr} Hz, outside the {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz "
                f"avgen can resample from; is the file's header right? (avgen expects "
                f"{sample_rate} Hz)"
            )
        if not resample_to_target:
            raise AudioError(
                f"{p}: sample rate is {sr} Hz, avgen expects {sample_rate} Hz "
                "(pass resample_to_target=True, or --resample, to convert it)"
            )
        logger.warning("%s: resampled from %d Hz to %d Hz", p, sr, sample_rate)
        wav = resample(wav, sr, sample_rate)
    check_waveform(wav, name=str(p), min_samples=min_samples, allow_silence=allow_silence)
    return wav


def save_audio(
    path: str | os.PathLike[str],
    x: torch.Tensor | np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    subtype: str = "PCM_16",
) -> Path:
    """Write mono audio atomically (temporary file, then rename).

    Values must be finite. For integer subtypes, samples beyond [-1, 1] are clipped and a
    warning is logged; use ``subtype="FLOAT"`` to keep them exactly.
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = np.asarray(arr, dtype=np.float32)
    check_waveform(arr, name=str(path), min_samples=1, allow_silence=True)
    if subtype.startswith("PCM"):
        peak = float(np.max(np.abs(arr)))
        if peak > 1.0:
            logger.warning("%s: peak %.3f exceeds full scale; clipped", path, peak)
            arr = np.clip(arr, -1.0, 1.0)
    dest = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}.get(dest.suffix.lower())
    if fmt is None:
        raise AudioError(f"{dest}: unsupported audio extension (use .wav or .flac)")
    with atomic_path(dest) as tmp:
        sf.write(str(tmp), arr, sample_rate, subtype=subtype, format=fmt)
    return dest
