r"""Speaker-variety perturbation of training speech: speed and vocal-tract-length perturbation.

Two label-preserving perturbations that make one speaker sound like others:

* **Speed perturbation** (Ko et al., "Audio augmentation for speech recognition", Interspeech
  2015): resample the waveform so that, played at the same rate, it runs ``s`` times faster,
  ``y(t) = x(s t)``. Its spectrum is ``Y(f) = X(f / s) / s``: every frequency (pitch *and*
  formants) is multiplied by ``s`` and the duration divided by ``s``. The paper's factors are
  0.9, 1.0 and 1.1. With ``s = p / q`` in lowest terms, ``y`` is ``x`` upsampled by ``q`` and
  downsampled by ``p`` (polyphase, Kaiser-windowed anti-aliasing filter:
  :func:`scipy.signal.resample_poly`), ``ceil(N q / p)`` samples.

* **Vocal-tract-length perturbation**, VTLP (Jaitly & Hinton, "Vocal Tract Length Perturbation
  (VTLP) improves speech recognition", ICML WDLASL 2013): a piecewise-linear warp of the
  frequency axis with a factor ``alpha`` (drawn in [0.9, 1.1]),

  .. math::

      w(f) = \begin{cases} \alpha f & f \le f_0 / \alpha \\
      \tfrac{S}{2} - \tfrac{S/2 - f_0}{S/2 - f_0/\alpha}\,(\tfrac{S}{2} - f)
      & \text{otherwise} \end{cases}, \qquad f_0 = F_{hi} \min(\alpha, 1),

  with ``F_hi = 4800 Hz`` (the paper's boundary) and ``S`` the sample rate: formants below
  ``F_hi`` move by ``alpha`` and the band edge ``S/2`` stays put. The warped power is
  ``P'(w(f)) = P(f)``, i.e. ``P'(g) = P(w^{-1}(g))`` read off the STFT bins by linear
  interpolation (``w^{-1}`` is piecewise linear too). No Jacobian factor: like the paper, which
  warps the filterbank centres, the level of each region is kept.

  Why on the STFT power rather than on the waveform: the VAE priors train on power frames
  (:class:`avgen.data.datasets.FrameDataset`), so the warp applies exactly where the model
  looks, with no phase to invent and no vocoder. Below ``F_hi`` the harmonics move with the
  formants, as in the paper's filterbank warp, and the duration is untouched: VTLP changes the
  spectrum only, speed perturbation spectrum and tempo together, so the two complement each
  other (a copy gets both factors).

:class:`Perturbation` draws, for copy ``c`` of utterance ``i``, a speed factor from
``speeds`` and ``alpha`` uniformly in ``vtlp_range``, from ``derive_seed(seed, "perturb", i,
c)``: same seed, same copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE
from avgen.errors import ConfigError
from avgen.seeding import derive_seed, numpy_generator

__all__ = ["PerturbDraw", "Perturbation", "speed_perturb", "vtlp_source_freqs", "vtlp_warp"]

#: Jaitly & Hinton's boundary frequency (Hz) above which the warp bends back to S/2
VTLP_F_HI = 4800.0


def speed_perturb(waveform: torch.Tensor, factor: float) -> torch.Tensor:
    """``y(t) = x(factor * t)``: all frequencies times ``factor``, duration over ``factor``
    (Ko et al. 2015); ``factor`` is rounded to a fraction with denominator <= 100.

    Args:
        waveform: (N,) float tensor.
        factor: speed factor > 0 (1.0 returns the input unchanged).
    """
    if not (math.isfinite(factor) and factor > 0):
        raise ConfigError(f"speed factor must be > 0, got {factor}")
    ratio = Fraction(factor).limit_denominator(100)
    if ratio == 1:
        return waveform
    from scipy.signal import resample_poly

    out = resample_poly(waveform.double().numpy(), up=ratio.denominator, down=ratio.numerator)
    return torch.from_numpy(out.astype(np.float32))


def vtlp_source_freqs(
    freqs: torch.Tensor, alpha: float, sample_rate: int = SAMPLE_RATE, f_hi: float = VTLP_F_HI
) -> torch.Tensor:
    """``w^{-1}(g)`` for the output frequencies ``freqs`` (Hz): where each warped bin reads
    the input spectrum (Jaitly & Hinton 2013's warp, inverted)."""
    if not (math.isfinite(alpha) and alpha > 0):
        raise ConfigError(f"VTLP alpha must be > 0, got {alpha}")
    nyquist = sample_rate / 2
    g0 = f_hi * min(alpha, 1.0)  # the knee in output frequency: w(g0 / alpha) = g0
    if not 0 < g0 < nyquist:
        raise ConfigError(f"VTLP boundary {f_hi} Hz must lie below the Nyquist {nyquist} Hz")
    upper = nyquist - (nyquist - freqs) * (nyquist - g0 / alpha) / (nyquist - g0)
    return torch.where(freqs <= g0, freqs / alpha, upper)


def vtlp_warp(
    power: torch.Tensor, alpha: float, sample_rate: int = SAMPLE_RATE, f_hi: float = VTLP_F_HI
) -> torch.Tensor:
    """Warp the frequency axis (last dim, ``F = n_fft/2 + 1`` bins from 0 to Nyquist) of a
    power spectrogram by VTLP factor ``alpha``: ``P'(g) = P(w^{-1}(g))``, linear
    interpolation between bins. ``alpha = 1`` returns the input unchanged."""
    if alpha == 1.0:
        return power
    n_freq = power.shape[-1]
    if n_freq < 2:
        raise ConfigError(f"VTLP needs at least 2 frequency bins, got {n_freq}")
    bin_hz = sample_rate / 2 / (n_freq - 1)
    grid = torch.arange(n_freq, dtype=torch.float64) * bin_hz
    src = (vtlp_source_freqs(grid, alpha, sample_rate, f_hi) / bin_hz).clamp(0, n_freq - 1)
    lo = src.floor().long().clamp(max=n_freq - 2)
    w = (src - lo).to(power.dtype)
    return power[..., lo] * (1 - w) + power[..., lo + 1] * w


@dataclass(frozen=True)
class PerturbDraw:
    """The factors of one perturbed copy: speed ``speed`` and VTLP ``alpha``."""

    speed: float
    alpha: float


@dataclass(frozen=True)
class Perturbation:
    """How many perturbed copies of each training utterance to add, and how they are drawn.

    Args:
        copies: perturbed copies per utterance (the original is kept besides them).
        speeds: speed factors, one drawn uniformly per copy (Ko et al. 2015: 0.9, 1.0, 1.1);
            ``(1.0,)`` turns speed perturbation off.
        vtlp_range: ``(low, high)`` of the uniform VTLP ``alpha`` (Jaitly & Hinton 2013:
            0.9-1.1); ``(1.0, 1.0)`` turns VTLP off.
        seed: every draw derives from it.
    """

    copies: int = 2
    speeds: tuple[float, ...] = (0.9, 1.0, 1.1)
    vtlp_range: tuple[float, float] = (0.9, 1.1)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.copies < 1:
            raise ConfigError(f"augmentation copies must be >= 1, got {self.copies}")
        if not self.speeds or not all(0.5 <= s <= 2.0 for s in self.speeds):
            raise ConfigError(f"speed factors must lie in [0.5, 2], got {self.speeds}")
        low, high = self.vtlp_range
        if not 0.5 <= low <= high <= 2.0:
            raise ConfigError(f"VTLP range must be 0.5 <= low <= high <= 2, got {self.vtlp_range}")

    def draw(self, utterance: int, copy: int) -> PerturbDraw:
        """The factors of copy ``copy`` of utterance ``utterance`` (seeded)."""
        rng = numpy_generator(derive_seed(self.seed, "perturb", utterance, copy))
        speed = float(self.speeds[int(rng.integers(len(self.speeds)))])
        low, high = self.vtlp_range
        alpha = float(rng.uniform(low, high)) if high > low else float(low)
        return PerturbDraw(speed, alpha)

    def describe(self) -> str:
        """One line for checkpoints and model cards."""
        speeds = "/".join(f"{s:g}" for s in self.speeds)
        low, high = self.vtlp_range
        return (
            f"{self.copies} perturbed copies per train utterance (speed {speeds}, Ko et al. "
            f"2015; VTLP alpha U[{low:g}, {high:g}], Jaitly & Hinton 2013; seed {self.seed})"
        )
