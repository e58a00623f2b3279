"""A room's simulated impulse response, reverberant speech, and the labels measured on it.

:func:`simulate_rir` simulates the response of a :class:`~avgen.data.rooms.spec.RoomSpec` with
pyroomacoustics (Scheibler et al., ICASSP 2018) -- image sources of order ``max_order`` (Allen &
Berkley, 1979) plus, by default, stochastic ray tracing for the late tail (the "hybrid"
simulator, with a scattering coefficient so that the late field is diffuse);
:func:`measure_acoustics` measures its labels with :mod:`avgen.metrics` (Schroeder RT60
broadband and per octave band, DRR); :func:`reverberate` applies it to clean speech.

Conventions (what a dereverberation model is trained against):

* **Alignment.** :func:`simulate_rir` removes the propagation delay of the direct path, both
  its integer and its fractional part (the latter by a band-limited phase shift of the whole
  response), so the direct path sits at **sample 0**. This is the same as moving the source at
  most 1.1 cm closer; the whole response keeps its shape.
* **Gain.** The response is scaled so that the direct path has **unit gain** (the 1/r
  spreading of the direct path is divided out). With :func:`reverberate`, the direct-path
  component of the reverberant signal is therefore the clean signal itself, sample for
  sample, and the dereverberation target is the clean (dry) signal.
* Responses are float32 at 16 kHz; pyroomacoustics' 10 Hz high-pass stays applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE
from avgen.data.rooms.spec import SURFACES, RoomSpec
from avgen.errors import ConfigError
from avgen.metrics import OCTAVE_BANDS, direct_to_reverberant_ratio, rt60_bands, rt60_schroeder


def _build_room(spec: RoomSpec):
    import pyroomacoustics as pra

    materials = {s: pra.Material(spec.materials[s], spec.scattering) for s in SURFACES}
    room = pra.ShoeBox(
        list(spec.dimensions),
        fs=spec.sample_rate,
        materials=materials,
        max_order=spec.max_order,
        ray_tracing=spec.ray_tracing,
        air_absorption=spec.air_absorption,
    )
    if spec.ray_tracing:
        room.set_ray_tracing(receiver_radius=0.5, energy_thres=1e-7)
    room.add_source(list(spec.source))
    room.add_microphone(list(spec.microphone))
    return room


def simulate_rir(spec: RoomSpec) -> np.ndarray:
    """The room's impulse response (float32, ``spec.sample_rate``), direct path at sample 0
    with unit gain (see the module's conventions). Same spec, same samples."""
    import pyroomacoustics as pra

    pra.random.seed(numpy=int(spec.seed), libroom=int(spec.seed))
    room = _build_room(spec)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float64)
    # pyroomacoustics puts the direct path at d / c * fs + (frac_delay_length - 1) / 2 samples
    # (a windowed-sinc fractional delay centred in its 81 taps) with amplitude 1 / d.
    half = (int(pra.constants.get("frac_delay_length")) - 1) / 2.0
    c = float(pra.constants.get("c"))
    delay = spec.distance / c * spec.sample_rate + half
    whole = math.floor(delay)
    rir = _advance(rir, delay - whole)[whole:]
    return (rir * spec.distance).astype(np.float32)


def _advance(x: np.ndarray, fraction: float) -> np.ndarray:
    """Advance ``x`` by ``fraction`` of a sample (band-limited phase shift, zero padded so
    nothing wraps around)."""
    if fraction == 0.0:
        return x
    n = x.size + 128
    n_fft = 1 << (n - 1).bit_length()
    spec = np.fft.rfft(x, n_fft)
    freqs = np.fft.rfftfreq(n_fft)
    shifted = np.fft.irfft(spec * np.exp(2j * np.pi * freqs * fraction), n_fft)
    return shifted[: x.size]


def reverberate(
    clean: np.ndarray | torch.Tensor, rir: np.ndarray | torch.Tensor, *, direct_index: int = 0
) -> np.ndarray | torch.Tensor:
    """Reverberant speech, the same length as ``clean`` and aligned with it.

    ``y[n] = sum_k rir[k] clean[n + direct_index - k]`` for ``n = 0 .. N-1``: the full
    convolution with its first ``direct_index`` samples dropped and cut to the clean length.
    With :func:`simulate_rir`'s responses (``direct_index=0``), the direct path of ``y`` is
    ``clean`` itself. Returns the type of ``clean`` (numpy, or a torch tensor on its device).
    """
    from scipy.signal import fftconvolve

    is_torch = isinstance(clean, torch.Tensor)
    x = clean.detach().cpu().numpy() if is_torch else np.asarray(clean)
    h = rir.detach().cpu().numpy() if isinstance(rir, torch.Tensor) else np.asarray(rir)
    if x.ndim != 1 or h.ndim != 1 or x.size == 0 or h.size == 0:
        raise ConfigError("reverberate expects 1-D, non-empty clean signal and impulse response")
    if not 0 <= direct_index < h.size:
        raise ConfigError(f"direct_index {direct_index} is outside the response ({h.size})")
    y = fftconvolve(x.astype(np.float64), h.astype(np.float64))
    y = y[direct_index : direct_index + x.size].astype(
        x.dtype if x.dtype.kind == "f" else np.float32
    )
    if is_torch:
        return torch.from_numpy(y).to(clean.device)
    return y


@dataclass(frozen=True)
class RoomAcoustics:
    """Labels measured on an impulse response (Schroeder T30, per octave band, DRR)."""

    rt60: float
    rt60_bands: dict[float, float]
    drr_db: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "rt60": self.rt60,
            "rt60_bands": {str(k): v for k, v in self.rt60_bands.items()},
            "drr_db": self.drr_db,
        }


def measure_acoustics(
    rir: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    decay_db: float = 30.0,
    bands: tuple[float, ...] = OCTAVE_BANDS,
) -> RoomAcoustics:
    """The label of a room: RT60 by :func:`avgen.metrics.rt60_schroeder` (T30 by default),
    per octave band by :func:`avgen.metrics.rt60_bands`, and the DRR of the direct path at
    sample 0 (:func:`avgen.metrics.direct_to_reverberant_ratio`)."""
    return RoomAcoustics(
        rt60=rt60_schroeder(rir, sample_rate, decay_db=decay_db),
        rt60_bands=rt60_bands(rir, sample_rate, centers=bands, decay_db=decay_db),
        drr_db=direct_to_reverberant_ratio(rir, sample_rate, direct_index=0),
    )


@dataclass(frozen=True)
class SimulatedRoom:
    """A room, its impulse response and its measured labels."""

    spec: RoomSpec
    rir: np.ndarray
    acoustics: RoomAcoustics


def simulate_room(spec: RoomSpec) -> SimulatedRoom:
    """:func:`simulate_rir` and :func:`measure_acoustics` in one call."""
    rir = simulate_rir(spec)
    return SimulatedRoom(spec, rir, measure_acoustics(rir, spec.sample_rate))
