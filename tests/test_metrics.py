"""Specification of avgen.metrics: each metric equals its reference definition."""

from __future__ import annotations

import numpy as np
import pesq
import pytest
import torch
from pystoi import stoi

from avgen import metrics as M
from avgen.errors import AudioError, ConfigError

SR = 16_000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from avgen.data.speech.tts import synthesize_flite

    return synthesize_flite(
        "The birch canoe slid on the smooth planks near the old river.", "slt"
    ).waveform


def _add_noise(clean: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(clean.size).astype(clean.dtype)
    scale = np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (clean + scale * noise).astype(clean.dtype)


# ----------------------------------------------------------------------------------------------
# PESQ-WB and ESTOI are exactly the packages' numbers
# ----------------------------------------------------------------------------------------------


@pytest.mark.system
@pytest.mark.parametrize("snr_db", [0.0, 10.0])
def test_pesq_and_estoi_equal_the_packages_exactly(speech, snr_db):
    noisy = _add_noise(speech, snr_db, seed=1)
    assert M.pesq_wb(speech, noisy) == pesq.pesq(SR, speech, noisy, "wb")
    # pystoi itself varies in the last bits with the arrays' memory alignment (vectorised
    # BLAS sums): equal to 1e-12, not bit for bit
    assert M.estoi(speech, noisy) == pytest.approx(
        stoi(speech, noisy, SR, extended=True), rel=1e-12
    )
    # torch input gives the same numbers
    assert M.pesq_wb(torch.from_numpy(speech), torch.from_numpy(noisy)) == M.pesq_wb(speech, noisy)


@pytest.mark.system
def test_pesq_and_estoi_rank_noise_levels(speech):
    cleaner, noisier = _add_noise(speech, 15.0, 2), _add_noise(speech, 0.0, 2)
    assert M.pesq_wb(speech, cleaner) > M.pesq_wb(speech, noisier)
    assert M.estoi(speech, cleaner) > M.estoi(speech, noisier)
    assert M.pesq_wb(speech, speech) > 4.5


@pytest.mark.system
def test_pesq_on_silence_is_a_clear_error(speech):
    silence = np.zeros_like(speech)
    with pytest.raises(AudioError, match="silent"):
        M.pesq_wb(silence, speech)
    with pytest.raises(AudioError, match="silent"):
        M.pesq_wb(speech, silence)


def test_pesq_no_utterance_from_the_package_becomes_audio_error(monkeypatch):
    def no_utterance(*args, **kwargs):
        raise pesq.NoUtterancesError(b"No utterances detected")

    monkeypatch.setattr(pesq, "pesq", no_utterance)
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    with pytest.raises(AudioError, match="no utterance"):
        M.pesq_wb(x, x)


def test_wrong_rate_and_bad_input_are_audio_errors():
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    with pytest.raises(AudioError, match="16000 Hz"):
        M.pesq_wb(x, x, sample_rate=8000)
    with pytest.raises(AudioError, match="16000 Hz"):
        M.estoi(x, x, sample_rate=44100)
    with pytest.raises(AudioError, match="16000 Hz"):
        M.stft_distance(x, x, sample_rate=22050)
    with pytest.raises(AudioError, match="NaN"):
        M.pesq_wb(x, np.where(np.arange(SR) == 5, np.nan, x))
    with pytest.raises(AudioError, match="mono"):
        M.estoi(np.stack([x, x]), np.stack([x, x]))
    with pytest.raises(AudioError, match="0.25 s"):
        M.pesq_wb(x[:1000], x[:1000])


@pytest.mark.system
def test_estoi_on_too_little_speech_is_a_clear_error(speech):
    with pytest.raises(AudioError, match="30 frames"):
        M.estoi(speech[:3000], speech[:3000])


# ----------------------------------------------------------------------------------------------
# Length policy
# ----------------------------------------------------------------------------------------------


@pytest.mark.system
def test_lengths_within_tolerance_are_trimmed_to_the_shorter(speech):
    noisy = _add_noise(speech, 5.0, 3)
    longer = np.concatenate([noisy, np.zeros(300, dtype=noisy.dtype)])
    assert M.pesq_wb(speech, longer) == M.pesq_wb(speech, noisy)
    assert M.estoi(speech, longer) == pytest.approx(M.estoi(speech, noisy), rel=1e-12)
    assert float(M.si_sdr(speech, longer)) == float(M.si_sdr(speech, noisy))


def test_lengths_beyond_tolerance_are_an_error():
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    with pytest.raises(AudioError, match="differ by more than"):
        M.pesq_wb(x, x[: SR - M.MAX_LENGTH_MISMATCH - 1])
    with pytest.raises(AudioError, match="differ by more than"):
        M.si_sdr(x, x[:-5], max_length_mismatch=0)
    with pytest.raises(AudioError, match="differ by more than"):
        M.stft_distance(x, x[: SR // 2])


# ----------------------------------------------------------------------------------------------
# SI-SDR
# ----------------------------------------------------------------------------------------------


def _orthogonal_noise(ref: torch.Tensor, ratio_db: float, gen: torch.Generator) -> torch.Tensor:
    """Zero-mean noise orthogonal to the zero-mean ``ref`` with ||ref||^2/||n||^2 = ratio."""
    r = ref - ref.mean()
    n = torch.randn(ref.shape, generator=gen, dtype=ref.dtype)
    n = n - n.mean()
    n = n - (n @ r) / (r @ r) * r
    n = n - n.mean()  # removing the mean keeps orthogonality since r is zero-mean
    return n * torch.sqrt((r @ r) / (n @ n) / 10 ** (ratio_db / 10))


@pytest.mark.parametrize("ratio_db", [-10.0, 0.0, 7.5, 30.0])
def test_si_sdr_of_reference_plus_orthogonal_noise_is_the_set_ratio(ratio_db):
    gen = torch.Generator().manual_seed(0)
    ref = torch.randn(8000, generator=gen, dtype=torch.float64) + 0.3
    est = 0.7 * ref + _orthogonal_noise(0.7 * ref, ratio_db, gen) + 2.0  # gain and offset
    rho2 = 1 / (1 + 10 ** (-ratio_db / 10))
    eps_shift = 4.35 * M.SI_SDR_EPS * (1 / rho2 + 1 / (1 - rho2))  # the stated epsilon effect
    assert float(M.si_sdr(ref, est)) == pytest.approx(ratio_db, abs=eps_shift + 1e-9)


def test_si_sdr_is_invariant_to_scale_of_the_estimate_and_of_the_reference():
    gen = torch.Generator().manual_seed(1)
    ref = torch.randn(4000, generator=gen, dtype=torch.float64)
    est = ref + 0.5 * torch.randn(4000, generator=gen, dtype=torch.float64)
    base = M.si_sdr(ref, est)
    for a in (1e-3, 0.5, 3.0, 1e3, -1.0, -20.0):  # a negative gain is a scale too
        assert float(M.si_sdr(ref, a * est)) == pytest.approx(float(base), abs=1e-9)
        assert float(M.si_sdr(a * ref, est)) == pytest.approx(float(base), abs=1e-9)


def test_si_sdr_is_batched_over_leading_dimensions_and_differentiable():
    gen = torch.Generator().manual_seed(2)
    ref = torch.randn(3, 2, 1000, generator=gen)
    est = (ref + torch.randn(3, 2, 1000, generator=gen)).requires_grad_(True)
    batched = M.si_sdr(ref, est)
    assert batched.shape == (3, 2) and batched.dtype == torch.float32
    for i in range(3):
        for j in range(2):
            single = M.si_sdr(ref[i, j], est[i, j].detach())
            assert float(batched[i, j].detach()) == pytest.approx(float(single), abs=1e-5)
    batched.sum().backward()
    assert est.grad is not None and torch.isfinite(est.grad).all()


def test_si_sdr_epsilon_policy_and_undefined_reference():
    ref = torch.linspace(-1, 1, 1000, dtype=torch.float64)
    bound = 10 * np.log10((1 + M.SI_SDR_EPS) / M.SI_SDR_EPS)  # about 80 dB
    assert float(M.si_sdr(ref, ref)) == pytest.approx(bound, abs=1e-6)
    assert float(M.si_sdr(ref, torch.zeros_like(ref))) == pytest.approx(-bound, abs=1e-6)
    with pytest.raises(AudioError, match="undefined"):
        M.si_sdr(torch.full((1000,), 0.5), ref)


# ----------------------------------------------------------------------------------------------
# AViTAR STFT distance
# ----------------------------------------------------------------------------------------------


def test_stft_distance_is_zero_on_identical_signals_and_grows_with_noise():
    gen = np.random.default_rng(4)
    t = np.arange(2 * SR) / SR
    clean = (np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    assert float(M.stft_distance(clean, clean)) == 0.0
    assert float(M.stft_distance(clean, 0.1 * clean)) == pytest.approx(0.0, abs=1e-8)  # peak norm
    noise = gen.standard_normal(clean.size).astype(np.float32)
    distances = [float(M.stft_distance(clean, clean + a * noise)) for a in (0.01, 0.05, 0.2, 1.0)]
    assert distances == sorted(distances) and len(set(distances)) == len(distances)


def test_stft_distance_matches_its_written_definition():
    gen = torch.Generator().manual_seed(5)
    x, y = torch.randn(2, 12000, generator=gen)
    win = torch.hamming_window(400)

    def mag(s):
        s = s / s.abs().max()
        return torch.stft(
            s, 512, 160, 400, win, center=True, pad_mode="constant", return_complex=True
        ).abs()

    expected = torch.mean((mag(x) - mag(y)) ** 2)
    assert float(M.stft_distance(x, y)) == pytest.approx(float(expected), rel=1e-6)
    assert M.stft_distance(torch.stack([x, y]), torch.stack([y, y])).shape == (2,)


# ----------------------------------------------------------------------------------------------
# RT60 and DRR
# ----------------------------------------------------------------------------------------------


def _shoebox_rir(target_rt60: float, dims: list[float]) -> np.ndarray:
    import pyroomacoustics as pra

    absorption, _ = pra.inverse_sabine(target_rt60, dims)
    pra.random.seed(numpy=0, libroom=0)
    room = pra.ShoeBox(
        dims, fs=SR, materials=pra.Material(absorption, 0.1), max_order=3, ray_tracing=True
    )
    room.add_source([1.2, 1.1, 1.5])
    room.add_microphone([dims[0] - 1.3, dims[1] - 0.9, 1.2])
    room.compute_rir()
    return np.asarray(room.rir[0][0])


@pytest.mark.parametrize(
    "target, dims",
    [
        (0.2, [4.0, 3.0, 2.5]),
        (0.4, [5.0, 4.0, 3.0]),
        (0.6, [6.0, 5.0, 3.0]),
        (1.0, [8.0, 6.0, 3.5]),
    ],
)
def test_rt60_agrees_with_pyroomacoustics_measure_rt60(target, dims):
    from pyroomacoustics.experimental import measure_rt60

    rir = _shoebox_rir(target, dims)
    for decay_db in (20.0, 30.0, 60.0):
        ours = M.rt60_schroeder(rir, SR, decay_db=decay_db)
        theirs = measure_rt60(rir, SR, decay_db=decay_db)
        assert ours == pytest.approx(theirs, rel=1e-9)
    # the rooms really span the range (T30 near the Sabine target of the simulation)
    assert M.rt60_schroeder(rir, SR) == pytest.approx(target, rel=0.2)


def _decaying_noise(t60: float, seconds: float, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.random.default_rng(seed).standard_normal(t.size) * 10 ** (-3 * t / t60)


@pytest.mark.parametrize("t60", [0.25, 0.6, 1.2])
def test_rt60_of_exponentially_decaying_noise_is_its_decay_time(t60):
    # the energy decay of the noise's envelope is exactly 60 dB per t60 seconds; what is left
    # is the random fluctuation of the noise's energy, small over 30 dB of decay
    estimates = [M.rt60_schroeder(_decaying_noise(t60, 2.5 * t60, seed), SR) for seed in range(3)]
    assert np.mean(estimates) == pytest.approx(t60, rel=0.02)


def _band_decays(t60s: dict[float, float], seed: int, seconds: float = 1.5) -> np.ndarray:
    """Sum of octave bands of white noise (brick-wall in frequency), each band with its T60."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    freqs = np.fft.rfftfreq(n, 1 / SR)
    rng = np.random.default_rng(seed)
    h = np.zeros(n)
    for fc, t60 in t60s.items():
        spec = np.fft.rfft(rng.standard_normal(n))
        spec[(freqs < fc / np.sqrt(2)) | (freqs >= fc * np.sqrt(2))] = 0
        h += np.fft.irfft(spec, n) * 10 ** (-3 * t / t60)
    return h


def test_rt60_per_octave_band_recovers_each_band_decay():
    truth = {125.0: 0.9, 250.0: 0.8, 500.0: 0.7, 1000.0: 0.6, 2000.0: 0.5, 4000.0: 0.4}
    errors = np.array(
        [
            M.rt60_error(M.rt60_bands(_band_decays(truth, seed), SR), truth).relative
            for seed in range(4)
        ]
    )
    # noise fluctuation plus leakage of the neighbouring (slower) band through the filter skirts
    assert errors.mean() < 0.05
    assert errors.max() < 0.12


def test_rt60_errors_and_bad_input():
    assert M.rt60_error(0.55, 0.5) == pytest.approx((0.05, 0.1))
    err = M.rt60_error(np.array([0.3, 0.9]), np.array([0.4, 1.0]))
    np.testing.assert_allclose(err.absolute, [0.1, 0.1])
    np.testing.assert_allclose(err.relative, [0.25, 0.1])
    with pytest.raises(ConfigError):
        M.rt60_error({125.0: 1.0}, {250.0: 1.0})
    with pytest.raises(AudioError, match="5 dB"):
        M.rt60_schroeder(np.r_[1.0, np.zeros(99)], SR)
    with pytest.raises(AudioError, match="all zeros"):
        M.rt60_schroeder(np.zeros(100), SR)
    with pytest.raises(ConfigError, match="Nyquist"):
        M.rt60_bands(_decaying_noise(0.5, 1.0, 0), SR, centers=(8000.0,))


def test_drr_of_a_known_response():
    h = np.zeros(4000)
    h[0] = 1.0
    h[200:1200] = np.sqrt(0.5 / 1000)  # reverberant energy 0.5 after the 2.5 ms window
    assert M.direct_to_reverberant_ratio(h, SR, direct_index=0) == pytest.approx(10 * np.log10(2.0))


# ----------------------------------------------------------------------------------------------
# evaluate
# ----------------------------------------------------------------------------------------------


@pytest.mark.system
def test_evaluate_reports_each_metric_as_its_own_function(speech):
    noisy = _add_noise(speech, 5.0, 6)
    out = M.evaluate(speech, noisy, metrics=("pesq_wb", "estoi", "si_sdr", "stft_distance"))
    assert out == {
        "pesq_wb": M.pesq_wb(speech, noisy),
        "estoi": pytest.approx(M.estoi(speech, noisy), rel=1e-12),
        "si_sdr": pytest.approx(float(M.si_sdr(speech, noisy)), abs=1e-4),
        "stft_distance": pytest.approx(float(M.stft_distance(speech, noisy)), rel=1e-6),
    }
    assert out["si_sdr"] == pytest.approx(5.0, abs=0.3)
    with pytest.raises(ConfigError, match="unknown metric"):
        M.evaluate(speech, noisy, metrics=("pesq",))
