"""Waveform <-> compressed STFT <-> network tensor, padding, segments, sigma_data."""

from __future__ import annotations

import math

import pytest
import torch

from avgen.audio import DIFFUSION_STFT, compress, stft
from avgen.errors import AudioError, ConfigError
from avgen.models.diffusion.spectra import (
    crop_frames,
    measure_sigma_data,
    pad_frames,
    random_segments,
    segment_samples,
    spec_to_tensor,
    tensor_to_spec,
    tensor_to_waveform,
    waveform_to_tensor,
)


def test_spec_and_tensor_are_inverse_views_with_real_then_imaginary_channels():
    spec = torch.randn(3, 256, 10, dtype=torch.complex64)
    x = spec_to_tensor(spec)
    assert x.shape == (3, 2, 256, 10)
    assert torch.equal(x[:, 0], spec.real) and torch.equal(x[:, 1], spec.imag)
    assert torch.equal(tensor_to_spec(x), spec)


def test_wrong_layouts_are_config_errors():
    with pytest.raises(ConfigError):
        spec_to_tensor(torch.randn(256, 10))
    with pytest.raises(ConfigError):
        tensor_to_spec(torch.randn(3, 256, 10))


def test_waveform_round_trip_through_the_network_layout():
    wav = torch.randn(2, segment_samples(64)) * 0.1
    x = waveform_to_tensor(wav)
    assert x.shape == (2, 2, DIFFUSION_STFT.n_freqs, 64)
    assert torch.allclose(x, spec_to_tensor(compress(stft(wav, DIFFUSION_STFT))))
    back = tensor_to_waveform(x)
    assert back.shape == wav.shape
    assert torch.allclose(back, wav, atol=1e-5)


def test_segment_of_n_frames_has_exactly_n_frames():
    for frames in (1, 8, 256):
        assert DIFFUSION_STFT.n_frames(segment_samples(frames)) == frames
    assert segment_samples(256) == 32_640  # 2.04 s


def test_pad_frames_appends_silence_to_the_next_multiple_and_crop_undoes_it():
    x = torch.randn(1, 2, 256, 61)
    padded, frames = pad_frames(x, 8)
    assert padded.shape[-1] == 64 and frames == 61
    assert torch.equal(padded[..., 61:], torch.zeros(1, 2, 256, 3))
    assert torch.equal(crop_frames(padded, frames), x)
    same, _ = pad_frames(torch.randn(1, 2, 256, 64), 8)
    assert same.shape[-1] == 64


def test_random_segments_are_reproducible_and_pad_short_utterances():
    waves = [torch.randn(5000) * 0.1, torch.randn(40_000) * 0.1]
    a = random_segments(waves, 6, 64, generator=torch.Generator().manual_seed(1))
    b = random_segments(waves, 6, 64, generator=torch.Generator().manual_seed(1))
    assert a.shape == (6, 2, 256, 64)
    assert torch.equal(a, b)
    short = random_segments(
        [torch.randn(3000) * 0.1], 1, 64, generator=torch.Generator().manual_seed(0)
    )
    # 3000 samples reach frame 3000 / 128 + 2 at most; later frames are silence
    assert short[..., 30:].abs().max() == 0
    with pytest.raises(AudioError):
        random_segments([], 1, 64)


def test_sigma_data_of_white_noise_matches_its_closed_form():
    # For white noise of variance s^2, an interior STFT bin is complex Gaussian with
    # E|c|^2 = s^2 sum(w^2) = s^2 * 510 * 3/8 (periodic Hann), so |c| is Rayleigh with
    # E|c| = sqrt(pi/4 * E|c|^2), and the compressed parts 0.15 |c|^0.5 e^{i phi} have
    # E[re^2] = E[im^2] = 0.15^2 E|c| / 2.
    s = 0.05
    wav = s * torch.randn(16000 * 20, generator=torch.Generator().manual_seed(0))
    expected = math.sqrt(0.15**2 * math.sqrt(math.pi / 4 * s**2 * 510 * 3 / 8) / 2)
    measured = measure_sigma_data([wav])
    # DC and Nyquist bins (2 of 256) are real-valued and the edge frames are half empty:
    # a < 1% departure; the Monte-Carlo error on 2.5 k frames x 256 bins is ~0.1%.
    assert measured == pytest.approx(expected, rel=0.01)


def test_sigma_data_scales_as_the_square_root_of_the_amplitude():
    wav = 0.1 * torch.randn(32_000, generator=torch.Generator().manual_seed(3))
    assert measure_sigma_data([4 * wav]) == pytest.approx(2 * measure_sigma_data([wav]), rel=1e-5)
