r"""An Image2Reverb-like visual acoustic matching baseline: picture -> RIR, convolved with speech.

Image2Reverb (Singh, Rodríguez, Ghosh, Tsai, "Image2Reverb: cross-modal reverb impulse
response synthesis", ICCV 2021) generates a room impulse response from a picture and applies it
to dry audio; MVSD and AViTAR compare against such a "picture -> RIR regressor convolved with
the speech". Here the regressor is :class:`~avgen.models.scene.acoustic_head.SceneAcoustics`
(picture -> octave-band :math:`T_{60,b}` and DRR), and the RIR is the statistical model of
:class:`avgen.models.reverb.RoomOperator` (Polack, 1993): a unit direct path plus
exponentially decaying band-filtered white noise,

.. math::

    h[n] = \delta[n] + c\,\mathbb{1}[n \ge n_d] \sum_b e^{-3 \ln 10\, n / (f_s T_{60,b})}\,
    w_b[n], \qquad n = 0, \dots, N_\mathrm{tail},

with one seeded white noise :math:`w = \sum_b w_b` split into the octave bands, equal initial
band gains (a white onset) and the pre-delay :math:`n_d` just past the direct-path window
(2.5 ms) of :func:`avgen.metrics.direct_to_reverberant_ratio`. The common gain :math:`c` is
solved for the predicted DRR exactly in that metric's definition:

.. math::

    \mathrm{DRR} = 10 \log_{10} \frac{1}{c^2 \sum_{n \ge n_d} t[n]^2}
    \;\Rightarrow\; c = \sqrt{10^{-\mathrm{DRR}/10} / \textstyle\sum_{n \ge n_d} t[n]^2},

:math:`t` being the unit-gain tail. **Tail convention:** the RIR has
:math:`N_\mathrm{tail} + 1` samples, :math:`N_\mathrm{tail} = \mathrm{round}(\text{tail\_seconds}
\cdot f_s)`, and the output is the full linear convolution: ``len(clean) + N_tail`` samples,
the input aligned with its direct path at the start (the reverberant tail of the last word
follows the input's end). The tail is truncated at ``tail_seconds`` (a constant, 1.5 s by
default: enough for the T30 fit of RT60s up to about 2.5 s).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE
from avgen.errors import AudioError, ConfigError
from avgen.models.reverb import RoomOperator, fft_convolve
from avgen.models.scene.acoustic_head import SceneAcoustics

DIRECT_WINDOW_MS = 2.5
"""Half-width of the direct-path window of :func:`avgen.metrics.direct_to_reverberant_ratio`;
the synthetic tail starts just after it."""


def synthesize_rir(
    rt60_bands: Sequence[float] | torch.Tensor,
    drr_db: float,
    *,
    band_centres: Sequence[float],
    tail_seconds: float = 1.5,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
) -> torch.Tensor:
    """The RIR ``(N_tail + 1,)`` float32 of band reverberation times ``rt60_bands`` (s, one per
    ``band_centres``) and direct-to-reverberant ratio ``drr_db`` (see the module docstring).
    Same arguments and seed, same samples."""
    t60 = torch.as_tensor(rt60_bands, dtype=torch.float32).reshape(-1)
    if t60.numel() != len(band_centres):
        raise ConfigError(
            f"one RT60 per band: got {t60.numel()} for {len(band_centres)} band centres"
        )
    if not bool(torch.isfinite(t60).all()) or not bool((t60 > 0).all()):
        raise ConfigError(f"RT60s must be finite and positive, got {t60.tolist()}")
    if not math.isfinite(float(drr_db)):
        raise ConfigError(f"the DRR must be finite, got {drr_db}")
    n_tail = round(tail_seconds * sample_rate)
    predelay = round(DIRECT_WINDOW_MS * 1e-3 * sample_rate) + 1
    if n_tail <= predelay:
        raise ConfigError(f"tail_seconds must exceed {predelay / sample_rate:.4f} s")
    operator = RoomOperator(
        t60=t60.tolist(),
        gain=1.0,
        band_centres=band_centres,
        length=(n_tail + 1) / sample_rate,
        predelay=predelay / sample_rate,
        sample_rate=sample_rate,
        seed=seed,
    )
    with torch.no_grad():
        unit = operator.rir() - operator.direct  # the unit-gain tail t[n]
        energy = float(unit.square().sum())
        c = math.sqrt(10.0 ** (-float(drr_db) / 10.0) / energy)
        return (operator.direct + c * unit).to(torch.float32)


def convolve_tail(clean: torch.Tensor, rir: torch.Tensor) -> torch.Tensor:
    """The full linear convolution ``clean * rir``: ``len(clean) + len(rir) - 1`` samples."""
    return fft_convolve(clean, rir.to(clean.dtype), length=clean.shape[-1] + rir.shape[-1] - 1)


class Image2Reverb:
    """Picture -> (band RT60s, DRR) by a trained :class:`SceneAcoustics` -> synthetic RIR ->
    convolution with the dry speech.

    Args:
        model: the picture -> acoustics regressor.
        tail_seconds: length of the synthetic tail, added to the output (module docstring).
        sample_rate: Hz of the speech.
    """

    def __init__(
        self, model: SceneAcoustics, *, tail_seconds: float = 1.5, sample_rate: int = SAMPLE_RATE
    ) -> None:
        self.model = model.eval()
        self.tail_seconds = float(tail_seconds)
        self.sample_rate = int(sample_rate)

    @property
    def tail_samples(self) -> int:
        """Samples the output is longer than the input."""
        return round(self.tail_seconds * self.sample_rate)

    def acoustics(self, picture: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Predicted band RT60s (s) and DRR (dB) of one picture ``(3, S, S)`` or
        ``(1, 3, S, S)``."""
        x = picture if picture.ndim == 4 else picture.unsqueeze(0)
        pred = self.model.predict(x.float())[0]
        return pred[:-1], float(pred[-1])

    def rir(self, picture: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """The synthetic RIR ``(tail_samples + 1,)`` of the room in ``picture``."""
        t60, drr = self.acoustics(picture)
        return synthesize_rir(
            t60,
            drr,
            band_centres=self.model.config.bands,
            tail_seconds=self.tail_seconds,
            sample_rate=self.sample_rate,
            seed=seed,
        )

    def match(self, clean: Any, picture: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """Dry speech ``(N,)`` -> speech in the pictured room, ``(N + tail_samples,)``."""
        x = torch.as_tensor(np.asarray(clean) if not torch.is_tensor(clean) else clean)
        x = x.detach().to("cpu", torch.float32)
        if x.ndim != 1 or x.numel() == 0:
            raise AudioError(f"Image2Reverb takes mono speech (N,), got {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise AudioError("the speech holds NaN or infinite samples")
        return convolve_tail(x, self.rir(picture, seed))
