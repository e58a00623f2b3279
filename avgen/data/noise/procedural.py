"""Procedural noise generators: seeded, any duration, each with a documented spectrum.

Every generator takes a sample count and a :class:`numpy.random.Generator` and returns a
float32 waveform at 16 kHz scaled to unit RMS (the noise bank rescales clips afterwards, and
mixing sets the level from the SNR anyway). Same generator state, same samples.

Spectra (power spectral density ``S(f)``):

* :func:`white_noise` -- flat, ``S(f) = const`` up to 8 kHz.
* :func:`pink_noise` -- ``S(f) ∝ 1/f`` above 20 Hz (-3 dB/octave), flat below.
* :func:`brown_noise` -- ``S(f) ∝ 1/f^2`` above 20 Hz (-6 dB/octave), flat below.
* :func:`hum_noise` -- lines at ``k f0`` (``f0`` = 50 or 60 Hz, ``k = 1..12``) with a
  frequency drift of about 0.1 %, over a pink floor 30 dB below the lines' power.
* :func:`traffic_noise` -- a rumble of low-passed brown noise (most power below 200 Hz) plus
  passing vehicles: engine harmonics (25-45 Hz firing frequency, ``1/k`` amplitudes, Doppler
  shifted) and tyre noise (band 400-1500 Hz), under ``1/r`` pass-by envelopes.
* :func:`clatter_noise` -- impulsive: clicks and damped resonances at 0.7-6 kHz arriving as a
  clustered Poisson process, over a pink floor 35 dB down; very non-stationary (high kurtosis).
* :func:`babble_noise` -- the long-term average speech spectrum of the talkers given
  (4-8 talkers summed at random gains, ±3 dB, each at its own random offset).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.signal import butter, sosfilt

from avgen.audio import SAMPLE_RATE
from avgen.errors import AudioError, ConfigError

SPEED_OF_SOUND = 343.0  # m/s


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if rms == 0.0:  # pragma: no cover - generators never return silence
        raise AudioError("procedural noise came out silent")
    return (x / rms).astype(np.float32)


def _check_length(n_samples: int) -> int:
    n = int(n_samples)
    if n <= 0:
        raise ConfigError(f"noise length must be a positive number of samples, got {n_samples}")
    return n


def white_noise(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise: flat spectrum."""
    return _unit_rms(rng.standard_normal(_check_length(n_samples)))


def colored_noise(
    n_samples: int,
    exponent: float,
    rng: np.random.Generator,
    *,
    f_min: float = 20.0,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Gaussian noise with ``S(f) ∝ 1 / max(f, f_min)^exponent`` by spectral shaping.

    White Gaussian noise is transformed with a real FFT, each bin's amplitude multiplied by
    ``max(f, f_min)^(-exponent/2)`` and transformed back. The result is Gaussian, stationary and
    circular (it loops seamlessly); flattening below ``f_min`` avoids a drifting DC.
    """
    n = _check_length(n_samples)
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spec *= np.maximum(freqs, f_min) ** (-exponent / 2.0)
    spec[0] = 0.0
    return _unit_rms(np.fft.irfft(spec, n))


def pink_noise(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise: ``S(f) ∝ 1/f`` above 20 Hz (equal power per octave)."""
    return colored_noise(n_samples, 1.0, rng)


def brown_noise(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Brown (Brownian, red) noise: ``S(f) ∝ 1/f^2`` above 20 Hz."""
    return colored_noise(n_samples, 2.0, rng)


def _ou_process(
    n_points: int, dt: float, tau: float, std: float, rng: np.random.Generator
) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck (AR(1)) samples: correlation ``exp(-|lag| / tau)``."""
    a = math.exp(-dt / tau)
    innov = rng.standard_normal(n_points) * std * math.sqrt(1.0 - a * a)
    from scipy.signal import lfilter

    out = lfilter([1.0], [1.0, -a], innov)
    out += std * rng.standard_normal() * a ** np.arange(1, n_points + 1)  # stationary start
    return out


def _slow_process(
    n_samples: int,
    rng: np.random.Generator,
    *,
    tau: float,
    std: float,
    rate: float = 100.0,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """An OU process sampled at ``rate`` Hz and linearly interpolated to audio rate."""
    n_points = math.ceil(n_samples / sample_rate * rate) + 2
    ctrl = _ou_process(n_points, 1.0 / rate, tau, std, rng)
    t = np.arange(n_samples) / sample_rate * rate
    return np.interp(t, np.arange(n_points), ctrl)


def hum_noise(
    n_samples: int,
    rng: np.random.Generator,
    *,
    mains_hz: float | None = None,
    n_harmonics: int = 12,
    drift: float = 0.001,
    floor_db: float = -30.0,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Mains hum: harmonics of 50 or 60 Hz with a slow frequency drift, over a pink floor.

    ``x(t) = sum_k a_k sin(2 pi k f0 int_0^t (1 + d(s)) ds + phi_k) + floor``, with ``d`` an
    Ornstein-Uhlenbeck process (standard deviation ``drift``, time constant 2 s), amplitudes
    ``a_1 = 1``, ``a_2 ~ U(0.5, 1.2)`` (the 2 f0 magnetostriction line of transformers),
    ``a_k ~ U(0.2, 1) / k`` for ``k >= 3``, and a pink floor ``floor_db`` below the lines.
    ``mains_hz`` ``None`` draws 50 or 60 Hz.
    """
    n = _check_length(n_samples)
    f0 = float(mains_hz) if mains_hz is not None else float(rng.choice([50.0, 60.0]))
    d = _slow_process(n, rng, tau=2.0, std=drift, sample_rate=sample_rate)
    base_phase = 2.0 * math.pi * f0 * np.cumsum(1.0 + d) / sample_rate
    amps = np.empty(n_harmonics)
    amps[0] = 1.0
    if n_harmonics > 1:
        amps[1] = rng.uniform(0.5, 1.2)
    if n_harmonics > 2:
        k = np.arange(3, n_harmonics + 1)
        amps[2:] = rng.uniform(0.2, 1.0, size=k.size) / k
    phases = rng.uniform(0.0, 2.0 * math.pi, size=n_harmonics)
    x = np.zeros(n)
    for k in range(1, n_harmonics + 1):
        if k * f0 * (1 + 5 * drift) < sample_rate / 2:
            x += amps[k - 1] * np.sin(k * base_phase + phases[k - 1])
    lines_power = float(np.mean(x * x))
    floor = pink_noise(n, rng).astype(np.float64) * math.sqrt(lines_power * 10 ** (floor_db / 10))
    return _unit_rms(x + floor)


def traffic_noise(
    n_samples: int,
    rng: np.random.Generator,
    *,
    vehicles_per_minute: float = 12.0,
    rumble_db: float = -8.0,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Traffic-like noise: a low rumble plus vehicles passing at random times.

    * Rumble: brown noise low-passed at 200 Hz (4th-order Butterworth), ``rumble_db`` relative
      to the mean power of the vehicles.
    * Vehicles arrive as a Poisson process of rate ``vehicles_per_minute`` (including 10 s before
      and after the clip, so cars drive in and out). Vehicle ``i`` passes at ``t_i`` with speed
      ``v ~ U(8, 20) m/s`` at closest distance ``d ~ U(4, 25) m``: distance
      ``r(t) = sqrt(d^2 + v^2 (t - t_i)^2)``, amplitude ``∝ 1/r`` (spherical spreading), radial
      speed ``v_r = v^2 (t - t_i) / r`` and Doppler factor ``D = c / (c + v_r)``.
    * Each vehicle sounds its engine -- harmonics ``k = 1..8`` of a firing frequency
      ``f_e ~ U(25, 45) Hz`` with ``1/k`` amplitudes, frequency-modulated by ``D(t)`` -- and
      tyre noise (white noise band-passed 400-1500 Hz, 6 dB below the engine).
    """
    n = _check_length(n_samples)
    fs = sample_rate
    duration = n / fs
    margin = 10.0
    n_vehicles = rng.poisson(vehicles_per_minute / 60.0 * (duration + 2 * margin))
    arrivals = rng.uniform(-margin, duration + margin, size=n_vehicles)
    tyre_band = butter(2, [400.0, 1500.0], btype="bandpass", fs=fs, output="sos")
    vehicles = np.zeros(n)
    half = int(margin * fs)
    for t0 in arrivals:
        centre = round(t0 * fs)
        lo, hi = max(0, centre - half), min(n, centre + half)
        if hi <= lo:
            continue
        speed = rng.uniform(8.0, 20.0)
        dist = rng.uniform(4.0, 25.0)
        f_engine = rng.uniform(25.0, 45.0)
        rel = np.arange(lo, hi) / fs - t0
        r = np.sqrt(dist * dist + (speed * rel) ** 2)
        v_radial = speed * speed * rel / r
        doppler = SPEED_OF_SOUND / (SPEED_OF_SOUND + v_radial)
        phase = 2.0 * math.pi * f_engine * np.cumsum(doppler) / fs
        engine = np.zeros(hi - lo)
        for k in range(1, 9):
            engine += np.sin(k * phase + rng.uniform(0, 2 * math.pi)) / k
        tyre = sosfilt(tyre_band, rng.standard_normal(hi - lo))
        tyre *= math.sqrt(np.mean(engine * engine) / max(np.mean(tyre * tyre), 1e-30)) * 0.5
        vehicles[lo:hi] += (engine + tyre) / r
    rumble = sosfilt(butter(4, 200.0, fs=fs, output="sos"), brown_noise(n, rng))
    veh_power = float(np.mean(vehicles * vehicles))
    if veh_power == 0.0:  # no vehicle at all (a very short clip): rumble only
        return _unit_rms(rumble)
    rumble *= math.sqrt(veh_power * 10 ** (rumble_db / 10) / float(np.mean(rumble * rumble)))
    return _unit_rms(vehicles + rumble)


def clatter_noise(
    n_samples: int,
    rng: np.random.Generator,
    *,
    impacts_per_second: float = 4.0,
    floor_db: float = -35.0,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Impulsive clatter (dishes, cutlery, tools): clustered impacts over a faint pink floor.

    Impacts follow a doubly stochastic Poisson process: the rate is
    ``impacts_per_second * exp(u(t))`` with ``u`` an OU process (std 0.8, time constant 1.5 s),
    which clusters impacts into bursts. Each impact is a 1-3 ms white-noise click plus three
    damped sinusoids ``A_j e^{-t/tau_j} sin(2 pi f_j t + phi_j)`` with
    ``f_j`` log-uniform in 0.7-6 kHz, ``tau_j ~ U(5, 50) ms``, log-normal amplitudes.
    """
    n = _check_length(n_samples)
    fs = sample_rate
    log_rate = _slow_process(n, rng, tau=1.5, std=0.8, sample_rate=fs)
    rate = impacts_per_second * np.exp(log_rate - 0.32)  # E[exp(u)] = e^{0.32}
    hits = np.nonzero(rng.random(n) < rate / fs)[0]
    x = np.zeros(n)
    for start in hits:
        amp = math.exp(rng.normal(0.0, 0.7))
        length = min(int(0.25 * fs), n - start)
        t = np.arange(length) / fs
        burst = np.zeros(length)
        for _ in range(3):
            f = math.exp(rng.uniform(math.log(700.0), math.log(6000.0)))
            tau = rng.uniform(0.005, 0.05)
            burst += (
                rng.lognormal(0.0, 0.5)
                * np.exp(-t / tau)
                * np.sin(2 * math.pi * f * t + rng.uniform(0, 2 * math.pi))
            )
        n_click = min(length, int(rng.uniform(0.001, 0.003) * fs))
        burst[:n_click] += 2.0 * rng.standard_normal(n_click) * np.hanning(n_click + 2)[1:-1]
        x[start : start + length] += amp * burst
    power = float(np.mean(x * x))
    floor = pink_noise(n, rng).astype(np.float64)
    if power == 0.0:  # no impact in a very short clip
        return _unit_rms(floor)
    return _unit_rms(x + floor * math.sqrt(power * 10 ** (floor_db / 10)))


def babble_noise(
    n_samples: int,
    talkers: Sequence[np.ndarray],
    rng: np.random.Generator,
    *,
    n_talkers: int | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Babble: the sum of ``n_talkers`` (4-8, drawn when ``None``) distinct talkers.

    Each chosen talker's speech (one waveform per talker, any length of 1 s or more) is looped
    from a random offset to ``n_samples`` (:func:`avgen.data.kit.mixing.noise_segment`, crossfaded),
    normalised to a 0 dB P.56 active level and weighted by a random gain of ±3 dB. With four or
    more talkers the sum has the long-term speech spectrum and little intelligibility.

    Raises:
        ConfigError: fewer than 4 talkers, or ``n_talkers`` out of range.
        AudioError: a talker's waveform is unusable (silent, NaN, shorter than 1 s).
    """
    from avgen.data.kit.mixing import active_speech_level, draw_offset, noise_segment

    n = _check_length(n_samples)
    if len(talkers) < 4:
        raise ConfigError(
            f"babble needs at least 4 talkers, got {len(talkers)}; pass the "
            "speech of the voices reserved for babble"
        )
    hi = min(8, len(talkers))
    k = int(rng.integers(4, hi + 1)) if n_talkers is None else int(n_talkers)
    if not 1 <= k <= len(talkers):
        raise ConfigError(f"n_talkers={n_talkers} but {len(talkers)} talkers were given")
    chosen = rng.choice(len(talkers), size=k, replace=False)
    out = np.zeros(n)
    for i in chosen:
        speech = np.asarray(talkers[int(i)], dtype=np.float64)
        if speech.ndim != 1 or speech.size < sample_rate:
            raise AudioError(
                f"babble talker {int(i)}: expected at least 1 s of mono speech, "
                f"got shape {speech.shape}"
            )
        level = active_speech_level(speech, sample_rate).mean_square
        offset = draw_offset(speech.size, n, rng, sample_rate=sample_rate)
        stream = noise_segment(speech, n, offset, sample_rate=sample_rate)
        out += stream * (10 ** (rng.uniform(-3.0, 3.0) / 20) / math.sqrt(level))
    return _unit_rms(out)
