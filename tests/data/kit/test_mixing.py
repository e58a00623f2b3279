"""Specification of active speech level (P.56 method B) and SNR mixing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from avgen.data.kit.mixing import (
    P56_HANGOVER_S,
    P56_MARGIN_DB,
    P56_TIME_CONSTANT_S,
    active_speech_level,
    crossfade_length,
    loop_period,
    mix_at_snr,
    noise_segment,
)
from avgen.errors import AudioError, ConfigError

FS = 16_000


def tone_bursts(
    amplitude: float, on_s: float, off_s: float, n_bursts: int, freq: float = 1000.0
) -> np.ndarray:
    t = np.arange(int((on_s + off_s) * n_bursts * FS)) / FS
    return amplitude * np.sin(2 * np.pi * freq * t) * ((t % (on_s + off_s)) < on_s)


def speechlike(seconds: float, seed: int) -> np.ndarray:
    """Harmonic 'voice' with syllable-rate amplitude modulation and pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / FS
    voice = sum(np.sin(k * phase) / k for k in range(1, 15))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None)
    pauses = (t % 1.5) < 1.1
    return (0.2 * voice * syllables * pauses).astype(np.float32)


def achieved_snr(clean: np.ndarray, noise: np.ndarray) -> float:
    """The SNR definition, evaluated independently on the returned signals."""
    level = active_speech_level(clean.astype(np.float64)).level_db
    return level - 10 * math.log10(np.mean(noise.astype(np.float64) ** 2))


# ---------------------------------------------------------------------------------------------
# P.56
# ---------------------------------------------------------------------------------------------


def hand_computed_burst_level(
    amplitude: float, on_s: float, ends_in_silence: bool = True
) -> tuple[float, float]:
    """P.56 level of 1 kHz tone bursts by hand: each burst is active for its duration, minus
    the envelope's rise time to the threshold, plus its decay time below it, plus the hangover.

    After a step of |x| to its mean 2a/pi, the two cascaded one-pole smoothers (time constant
    tau) give q(t) = q0 (1 - (1 + t/tau) e^{-t/tau}); after the step down,
    q(t) = q0 (1 + t/tau) e^{-t/tau}. The threshold is c = rms_active * 10^{-M/20}, where the
    active level itself depends on c: a fixed point, solved by iteration. A burst that ends
    the signal has no decay and no hangover after it.
    """
    tau, q0, power = P56_TIME_CONSTANT_S, 2 * amplitude / math.pi, amplitude**2 / 2
    level = 10 * math.log10(power)
    for _ in range(20):
        ratio = 10 ** ((level - P56_MARGIN_DB) / 20) / q0
        u_rise = brentq(lambda u, r=ratio: 1 - (1 + u) * math.exp(-u) - r, 0, 50)
        u_decay = brentq(lambda u, r=ratio: (1 + u) * math.exp(-u) - r, 0, 50)
        tail = u_decay * tau + P56_HANGOVER_S if ends_in_silence else 0.0
        active_s = on_s - u_rise * tau + tail
        level = 10 * math.log10(power * on_s / active_s)
    return level, active_s


def test_active_level_of_tone_bursts_matches_the_hand_computation():
    a, on_s, off_s, n = 0.5, 2.0, 2.0, 4
    expected_db, active_per_burst = hand_computed_burst_level(a, on_s)
    result = active_speech_level(tone_bursts(a, on_s, off_s, n))
    assert result.level_db == pytest.approx(expected_db, abs=0.01)
    assert result.activity == pytest.approx(active_per_burst / (on_s + off_s), abs=0.002)
    # The bursts are half the signal: the plain RMS is 3 dB lower, the active level is not.
    burst_level = 10 * math.log10(a * a / 2)
    assert result.long_term_db == pytest.approx(burst_level - 3.01, abs=0.01)
    assert abs(result.level_db - burst_level) < 0.6


def test_active_level_of_a_continuous_tone_is_its_rms_level():
    x = tone_bursts(0.3, 5.0, 0.0, 1, freq=440.0)
    result = active_speech_level(x)
    # all active but the envelope's first ~10 ms rise: 0.01-0.03 dB above the RMS level
    expected_db, active_s = hand_computed_burst_level(0.3, 5.0, ends_in_silence=False)
    assert result.level_db == pytest.approx(expected_db, abs=0.01)
    assert result.activity == pytest.approx(active_s / 5.0, abs=0.002)
    assert result.level_db == pytest.approx(10 * math.log10(0.3**2 / 2), abs=0.03)


def test_added_silence_changes_the_rms_but_not_the_active_level():
    x = speechlike(3.0, seed=1)
    padded = np.concatenate([np.zeros(4 * FS), x, np.zeros(6 * FS)])
    a, b = active_speech_level(x), active_speech_level(padded)
    assert b.level_db == pytest.approx(a.level_db, abs=0.02)
    assert b.long_term_db < a.long_term_db - 5


def test_active_level_is_scale_equivariant():
    x = speechlike(2.0, seed=2)
    assert active_speech_level(0.1 * x).level_db - active_speech_level(x).level_db == pytest.approx(
        -20.0, abs=1e-6
    )


def test_active_level_rejects_silence_and_nan():
    with pytest.raises(AudioError):
        active_speech_level(np.zeros(FS))
    with pytest.raises(AudioError):
        active_speech_level(np.array([0.1, np.nan, 0.2]))


# ---------------------------------------------------------------------------------------------
# mix_at_snr
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 20.0])
def test_mixture_reaches_the_target_snr(snr):
    clean = speechlike(2.5, seed=3)
    noise = np.random.default_rng(4).standard_normal(5 * FS).astype(np.float32) * 0.05
    mix = mix_at_snr(clean, noise, snr, rng=5)
    assert achieved_snr(mix.clean, mix.noise) == pytest.approx(snr, abs=0.05)
    assert mix.snr_db == pytest.approx(snr, abs=1e-9)
    np.testing.assert_allclose(mix.noisy, mix.clean + mix.noise, atol=1e-6)
    noisy, scaled_noise, offset = mix  # unpacks as the three results
    assert noisy is mix.noisy and scaled_noise is mix.noise and offset == mix.offset
    assert 0 <= offset <= noise.size - clean.size and not mix.looped


def test_mixing_is_deterministic_in_the_seed():
    clean = speechlike(1.5, seed=6)
    noise = np.random.default_rng(7).standard_normal(10 * FS).astype(np.float32)
    a = mix_at_snr(clean, noise, 5.0, rng=np.random.default_rng(11))
    b = mix_at_snr(clean, noise, 5.0, rng=np.random.default_rng(11))
    c = mix_at_snr(clean, noise, 5.0, rng=np.random.default_rng(12))
    assert a.offset == b.offset and np.array_equal(a.noisy, b.noisy)
    assert c.offset != a.offset
    d = mix_at_snr(clean, noise, 5.0, offset=a.offset)
    assert np.array_equal(d.noisy, a.noisy)


def test_short_noise_is_looped_with_a_continuous_crossfade():
    n_noise = int(0.3 * FS)
    t = np.arange(n_noise) / FS
    noise = np.sin(2 * np.pi * 5.3 * t)  # not periodic in the clip: naive tiling jumps
    period = loop_period(n_noise)
    fade = crossfade_length(n_noise)
    assert period == n_noise - fade and fade == int(0.05 * FS)
    seg = noise_segment(noise, 3 * FS, offset=1000)
    assert seg.size == 3 * FS
    np.testing.assert_allclose(seg[period:], seg[:-period], atol=1e-12)  # periodic
    naive_jump = abs(noise[0] - noise[-1])
    assert naive_jump > 0.4
    assert np.max(np.abs(np.diff(seg))) < 2 * np.max(np.abs(np.diff(noise))) + 1e-9
    # and the SNR is still exact over the looped segment
    clean = speechlike(3.0, seed=8)
    mix = mix_at_snr(clean, np.random.default_rng(9).standard_normal(n_noise), 3.0, rng=1)
    assert mix.looped and mix.noisy.size == clean.size
    assert achieved_snr(mix.clean, mix.noise) == pytest.approx(3.0, abs=0.05)


def test_peak_safeguard_scales_speech_and_noise_together():
    clean = speechlike(2.0, seed=10)
    clean = 0.95 * clean / np.max(np.abs(clean))
    noise = np.random.default_rng(0).standard_normal(4 * FS)
    mix = mix_at_snr(clean, noise, -5.0, rng=0)
    assert mix.gain < 1.0
    assert np.max(np.abs(mix.noisy)) <= 0.99 + 1e-6
    np.testing.assert_allclose(mix.clean, mix.gain * clean, rtol=1e-5, atol=1e-7)
    assert achieved_snr(mix.clean, mix.noise) == pytest.approx(-5.0, abs=0.05)
    quiet = mix_at_snr(0.01 * clean, noise, 10.0, rng=0)
    assert quiet.gain == 1.0


def test_mixing_errors_are_clear():
    clean = speechlike(1.0, seed=0)
    noise = np.random.default_rng(0).standard_normal(FS)
    with pytest.raises(ConfigError, match="offset"):
        mix_at_snr(clean, noise, 0.0)  # no offset, no rng
    with pytest.raises(ConfigError, match="outside"):
        mix_at_snr(clean, noise, 0.0, offset=FS)
    with pytest.raises(ConfigError):
        mix_at_snr(clean, noise, float("nan"), rng=0)
    gappy = np.concatenate([np.zeros(2 * FS), noise])
    with pytest.raises(AudioError, match="silent"):
        mix_at_snr(clean, gappy, 0.0, offset=0)
    with pytest.raises(AudioError):
        mix_at_snr(np.zeros(FS), noise, 0.0, rng=0)
