"""Unusual noises: procedural sounds far from the noise bank, for testing enhancers beyond it.

None of these is a type of :mod:`avgen.data.noise.catalogue` (no prior or kit was trained or
validated with them); they stand in for what supervised enhancers rarely meet (issue 16, item
2). Like :mod:`avgen.data.noise.procedural`, every generator takes a sample count and a
:class:`numpy.random.Generator` and returns a float32 waveform at 16 kHz with unit RMS; same
generator state, same samples; any length.

Signals (``n`` samples at ``f_s = 16`` kHz, ``phi(t) = 2 pi \\int_0^t f(u) du``):

* :func:`harmonic_machine` -- ``sum_k a_k sin(k phi(t) + theta_k)`` over the harmonics of a
  fundamental ``f_0 ~ U(110, 190)`` Hz that lie in 200-3000 Hz, ``a_k ∝ k^{-1/2}`` times a
  random ±4 dB, with a slow pitch drift ``f(t) = f_0 (1 + 0.03 sin(2 pi t / P + psi) + w(t))``
  (``P ~ U(3, 8)`` s, ``w`` a random walk low-passed at 0.5 Hz, std 1 %), over a pink floor
  30 dB down.
* :func:`music_like` -- notes and chords of an additive synthesiser: 1-3 notes per event from
  a major-pentatonic scale (MIDI 52-84), 6 harmonics at ``1/k``, an attack of 10 ms and an
  exponential decay (``tau ~ U(0.15, 0.6)`` s), events every 0.15-0.6 s (overlapping tails);
  a white floor 60 dB down.
* :func:`typing_clicks` -- keystrokes as a Poisson process (6-12 per second, ~30 % of the
  time paused between words): each a broadband transient (white noise under a 1.5 ms
  exponential decay) plus a damped resonance at 1.5-5 kHz, amplitudes log-normal (σ = 0.5);
  a white floor 60 dB down.
* :func:`whistle_chirps` -- tonal sweeps: chirps of 0.08-0.5 s between 800 Hz and 4 kHz
  (up or down, exponential in frequency) and sustained whistles (0.4-1.2 s with 6 Hz
  vibrato of ±3 %), each with a raised-cosine edge; a white floor 60 dB down.
* :func:`gusty_wind` -- Gaussian noise low-passed at 500 Hz (4th-order Butterworth) under a
  gust envelope ``exp(1.2 u(t))`` with ``u`` Gaussian noise low-passed at 0.4 Hz and scaled
  to unit std (a log-normal amplitude: bursts 10-20 dB above the lulls).
* :func:`competing_tone` -- ``sin(phi(t))`` with a carrier ``f_c ~ U(300, 2000)`` Hz, a
  vibrato of 4-7 Hz and depth ±2 % and a slow tremolo (±3 dB, 0.3 Hz).
* :func:`rain_like` -- dense crackle: drops as a Poisson process (1500-3000 per second),
  each a 0.3-1 ms exponentially decaying high-passed (> 1 kHz) noise burst with a log-normal
  amplitude (σ = 0.8), over a high-passed pink bed 12 dB down.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import MappingProxyType

import numpy as np
from scipy.signal import butter, sosfilt

from avgen.audio import SAMPLE_RATE
from avgen.data.noise.procedural import _check_length, _unit_rms, pink_noise
from avgen.errors import ConfigError

NoiseGenerator = Callable[[int, np.random.Generator], np.ndarray]


def _lowpassed_walk(n: int, cutoff_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise low-passed at ``cutoff_hz`` (2nd order) and scaled to unit std."""
    sos = butter(2, cutoff_hz, btype="lowpass", fs=SAMPLE_RATE, output="sos")
    u = sosfilt(sos, rng.standard_normal(n))
    std = float(np.std(u))
    return u / std if std > 0 else u


MIN_SYNTH = 4096
"""Shorter requests are synthesised at this length and cropped (then rescaled to unit RMS)."""


def _any_length(generator: NoiseGenerator) -> NoiseGenerator:
    """Make ``generator`` serve any positive length: below :data:`MIN_SYNTH` samples it runs at
    that length and the start is kept (a pink floor needs at least a few FFT bins)."""

    def wrapped(n_samples: int, rng: np.random.Generator) -> np.ndarray:
        n = _check_length(n_samples)
        if n >= MIN_SYNTH:
            return generator(n, rng)
        return _unit_rms(generator(MIN_SYNTH, rng)[:n].astype(np.float64))

    wrapped.__name__ = generator.__name__
    wrapped.__doc__ = generator.__doc__
    return wrapped


def _add_event(out: np.ndarray, start: int, event: np.ndarray) -> None:
    stop = min(out.size, start + event.size)
    if stop > start:
        out[start:stop] += event[: stop - start]


def _edges(n: int, ramp: int) -> np.ndarray:
    """A window of ones with raised-cosine edges of ``ramp`` samples."""
    w = np.ones(n)
    r = min(ramp, n // 2)
    if r > 0:
        edge = 0.5 - 0.5 * np.cos(np.pi * (np.arange(r) + 0.5) / r)
        w[:r] = edge
        w[n - r :] = edge[::-1]
    return w


def harmonic_machine(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A machine with strong harmonics in 200-3000 Hz and a slow pitch drift."""
    n = _check_length(n_samples)
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(110.0, 190.0)
    period = rng.uniform(3.0, 8.0)
    drift = 0.03 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    drift += 0.01 * _lowpassed_walk(n, 0.5, rng)
    phase = 2 * np.pi * np.cumsum(f0 * (1.0 + drift)) / SAMPLE_RATE
    harmonics = [k for k in range(1, 40) if 200.0 <= k * f0 <= 3000.0]
    out = np.zeros(n)
    for k in harmonics:
        amplitude = k**-0.5 * 10 ** (rng.uniform(-4.0, 4.0) / 20)
        out += amplitude * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    line_power = float(np.mean(out**2))
    out += math.sqrt(line_power * 10**-3.0) * pink_noise(n, rng)
    return _unit_rms(out)


_PENTATONIC = (0, 2, 4, 7, 9)


def music_like(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Synthesised notes and chords with attack/decay envelopes (no recording)."""
    n = _check_length(n_samples)
    notes = [m for m in range(52, 85) if (m - 52) % 12 in _PENTATONIC]
    out = np.zeros(n)
    start = 0
    attack = int(0.010 * SAMPLE_RATE)
    while start < n:
        tau = rng.uniform(0.15, 0.6)
        length = int(min(5 * tau, 3.0) * SAMPLE_RATE)
        t = np.arange(length) / SAMPLE_RATE
        envelope = np.exp(-t / tau)
        envelope[:attack] *= np.arange(attack) / attack
        chord = rng.choice(notes, size=int(rng.integers(1, 4)), replace=False)
        event = np.zeros(length)
        for midi in chord:
            f = 440.0 * 2 ** ((float(midi) - 69) / 12)
            for k in range(1, 7):
                if k * f < SAMPLE_RATE / 2:
                    event += np.sin(2 * np.pi * k * f * t + rng.uniform(0, 2 * np.pi)) / k
        _add_event(out, start, rng.uniform(0.5, 1.0) * envelope * event)
        start += int(rng.uniform(0.15, 0.6) * SAMPLE_RATE)
    out += math.sqrt(float(np.mean(out**2)) * 1e-6) * rng.standard_normal(n)
    return _unit_rms(out)


def typing_clicks(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Sparse broadband keystroke transients."""
    n = _check_length(n_samples)
    out = np.zeros(n)
    rate = rng.uniform(6.0, 12.0)
    position = 0.0
    length = int(0.020 * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    while True:
        position += rng.exponential(1.0 / rate)
        if rng.random() < 0.05:  # a pause between words
            position += rng.uniform(0.3, 0.8)
        start = int(position * SAMPLE_RATE)
        if start >= n:
            break
        burst = rng.standard_normal(length) * np.exp(-t / 0.0015)
        f_res = rng.uniform(1500.0, 5000.0)
        ring = 0.5 * np.sin(2 * np.pi * f_res * t) * np.exp(-t / 0.004)
        _add_event(out, start, math.exp(0.5 * rng.standard_normal()) * (burst + ring))
    click_power = float(np.mean(out**2)) or 1.0
    out += math.sqrt(click_power * 1e-6) * rng.standard_normal(n)
    return _unit_rms(out)


def whistle_chirps(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Tonal sweeps (chirps) and sustained whistles with vibrato."""
    n = _check_length(n_samples)
    out = np.zeros(n)
    start = int(rng.uniform(0.0, 0.3) * SAMPLE_RATE)
    ramp = int(0.005 * SAMPLE_RATE)
    while start < n:
        if rng.random() < 0.7:  # a chirp
            duration = rng.uniform(0.08, 0.5)
            t = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
            f_a, f_b = rng.uniform(800.0, 4000.0, size=2)
            freq = f_a * (f_b / f_a) ** (t / duration)
        else:  # a whistle
            duration = rng.uniform(0.4, 1.2)
            t = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
            freq = rng.uniform(1000.0, 3000.0) * (1 + 0.03 * np.sin(2 * np.pi * 6.0 * t))
        phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
        event = np.sin(phase) * _edges(t.size, ramp) * rng.uniform(0.5, 1.0)
        _add_event(out, start, event)
        start += t.size + int(rng.uniform(0.05, 0.4) * SAMPLE_RATE)
    tone_power = float(np.mean(out**2)) or 1.0
    out += math.sqrt(tone_power * 1e-6) * rng.standard_normal(n)
    return _unit_rms(out)


def gusty_wind(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Low-passed noise under a log-normal gust envelope (strong amplitude bursts)."""
    n = _check_length(n_samples)
    sos = butter(4, 500.0, btype="lowpass", fs=SAMPLE_RATE, output="sos")
    body = sosfilt(sos, rng.standard_normal(n))
    envelope = np.exp(1.2 * _lowpassed_walk(n, 0.4, rng))
    return _unit_rms(body * envelope)


def competing_tone(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A sine in the speech band with vibrato and a slow tremolo."""
    n = _check_length(n_samples)
    t = np.arange(n) / SAMPLE_RATE
    carrier = rng.uniform(300.0, 2000.0)
    vibrato = 1 + rng.uniform(0.01, 0.02) * np.sin(
        2 * np.pi * rng.uniform(4.0, 7.0) * t + rng.uniform(0, 2 * np.pi)
    )
    phase = 2 * np.pi * np.cumsum(carrier * vibrato) / SAMPLE_RATE
    tremolo = 10 ** (3.0 / 20 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi)))
    return _unit_rms(tremolo * np.sin(phase + rng.uniform(0, 2 * np.pi)))


def rain_like(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Dense crackle of drops over a high-passed bed."""
    n = _check_length(n_samples)
    high = butter(2, 1000.0, btype="highpass", fs=SAMPLE_RATE, output="sos")
    count = rng.poisson(rng.uniform(1500.0, 3000.0) * n / SAMPLE_RATE)
    impulses = np.zeros(n)
    np.add.at(impulses, rng.integers(0, n, size=count), np.exp(0.8 * rng.standard_normal(count)))
    tau = rng.uniform(0.0003, 0.001)
    kernel_t = np.arange(int(8 * tau * SAMPLE_RATE) + 1) / SAMPLE_RATE
    kernel = np.exp(-kernel_t / tau)
    drops = np.convolve(impulses, kernel)[:n] * rng.standard_normal(n)
    drops = sosfilt(high, drops)
    drop_power = float(np.mean(drops**2)) or 1.0
    bed = sosfilt(high, pink_noise(n, rng).astype(np.float64))
    bed *= math.sqrt(drop_power * 10**-1.2 / max(float(np.mean(bed**2)), 1e-30))
    return _unit_rms(drops + bed)


UNUSUAL_NOISES: MappingProxyType[str, NoiseGenerator] = MappingProxyType(
    {
        "harmonic-machine": _any_length(harmonic_machine),
        "music": _any_length(music_like),
        "clicks": _any_length(typing_clicks),
        "whistles": _any_length(whistle_chirps),
        "gusty-wind": _any_length(gusty_wind),
        "tone": _any_length(competing_tone),
        "rain": _any_length(rain_like),
    }
)
"""The unusual noises by name (none of them a catalogue type)."""


def unusual_noise(name: str, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """The unusual noise ``name`` (a key of :data:`UNUSUAL_NOISES`), ``n_samples`` long."""
    if name not in UNUSUAL_NOISES:
        known = ", ".join(UNUSUAL_NOISES)
        raise ConfigError(f"unknown unusual noise {name!r}; known: {known}")
    return UNUSUAL_NOISES[name](n_samples, rng)
