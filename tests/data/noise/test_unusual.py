"""Specification of the unusual noises: seeded, finite, unit RMS, any length, what they claim."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch
from scipy.stats import kurtosis

from avgen.data.noise.catalogue import NOISE_TYPES
from avgen.data.noise.unusual import UNUSUAL_NOISES, unusual_noise
from avgen.errors import ConfigError

NAMES = sorted(UNUSUAL_NOISES)
SR = 16_000


def band_share(x: np.ndarray, lo: float, hi: float) -> float:
    freqs, psd = welch(x, fs=SR, nperseg=1024)
    return float(psd[(freqs >= lo) & (freqs <= hi)].sum() / psd.sum())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 1000, 3 * SR + 17])
def test_length_dtype_finite_unit_rms(name: str, n: int) -> None:
    x = unusual_noise(name, n, np.random.default_rng(1))
    assert x.shape == (n,) and x.dtype == np.float32
    assert np.isfinite(x).all()
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_samples_other_seed_other_samples(name: str) -> None:
    a = unusual_noise(name, 2 * SR, np.random.default_rng(7))
    b = unusual_noise(name, 2 * SR, np.random.default_rng(7))
    c = unusual_noise(name, 2 * SR, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_none_is_a_training_noise_type() -> None:
    assert not set(UNUSUAL_NOISES) & set(NOISE_TYPES)


def test_unknown_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown unusual noise"):
        unusual_noise("bagpipes", 100, np.random.default_rng(0))


def test_bad_length_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        unusual_noise("rain", 0, np.random.default_rng(0))


def test_the_spectra_and_statistics_they_claim() -> None:
    rng = lambda: np.random.default_rng(3)  # noqa: E731
    n = 4 * SR
    assert band_share(unusual_noise("harmonic-machine", n, rng()), 200, 3000) > 0.95
    assert band_share(unusual_noise("gusty-wind", n, rng()), 0, 600) > 0.95
    assert band_share(unusual_noise("rain", n, rng()), 1000, 8000) > 0.8
    assert band_share(unusual_noise("whistles", n, rng()), 780, 4100) > 0.95
    tone = unusual_noise("tone", n, rng())
    freqs, psd = welch(tone, fs=SR, nperseg=4096)
    peak = freqs[np.argmax(psd)]
    assert 280 <= peak <= 2050 and band_share(tone, 0.95 * peak, 1.05 * peak) > 0.9
    assert kurtosis(unusual_noise("clicks", n, rng())) > 30  # sparse transients
    assert kurtosis(unusual_noise("rain", n, rng())) > 3  # crackle, not Gaussian
    wind = unusual_noise("gusty-wind", n, rng())
    envelope = np.sqrt(np.convolve(wind**2, np.ones(800), "valid"))
    assert 20 * np.log10(np.percentile(envelope, 95) / np.percentile(envelope, 5)) > 15  # gusts
