"""Reference enhancers (RNNoise, DeepFilterNet3, spectral gating): delay compensated to the
sample, finite, of the input's length and type, better than the input on noisy speech, and a
clear note when the optional extra ``avgen[references]`` is absent."""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np
import pytest
import torch

from avgen.baselines import references as R
from avgen.errors import MissingToolError
from avgen.metrics import si_sdr

SR = 16_000
NAMES = list(R.REFERENCES)


def _skip_if_missing(name: str) -> None:
    reason = R.missing_reason(name)
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from avgen.data.speech.tts import synthesize_flite

    return synthesize_flite(
        "The birch canoe slid on the smooth planks near the old river.", "slt"
    ).waveform.astype(np.float64)


def test_registry_names_modules_and_packages():
    assert NAMES == ["rnnoise", "dfn3", "spectral-gating"]
    for ref in R.REFERENCES.values():
        assert importlib.util.find_spec(ref.module) is not None
    assert R.available_references() == [n for n in NAMES if R.missing_reason(n) is None]


def test_a_missing_package_gives_a_one_line_reason_naming_the_extra(monkeypatch):
    monkeypatch.setattr(R, "is_installed", lambda package: False)
    for name in NAMES:
        reason = R.missing_reason(name)
        assert reason is not None and "\n" not in reason and "avgen[references]" in reason
        with pytest.raises(MissingToolError, match=r"avgen\[references\]"):
            R.get_reference(name).load()


def test_the_documented_delays_are_the_constants():
    from avgen.baselines.dfn3 import DFN3_DELAY_48K
    from avgen.baselines.rnnoise import RNNOISE_DELAY_48K
    from avgen.baselines.spectral_gating import SPECTRAL_GATING_DELAY

    assert (RNNOISE_DELAY_48K, DFN3_DELAY_48K, SPECTRAL_GATING_DELAY) == (960, 1440, 0)


@pytest.mark.parametrize(
    ("name", "module", "constant"),
    [("rnnoise", "rnnoise", "RNNOISE_DELAY_48K"), ("dfn3", "dfn3", "DFN3_DELAY_48K")],
)
def test_the_native_libraries_delay_an_impulse_by_the_documented_constant(name, module, constant):
    # measured on the library itself at 48 kHz, with no compensation: an impulse at sample 4800
    # (0.1 s in, after the state has settled) peaks `delay` samples later
    _skip_if_missing(name)
    mod = importlib.import_module(f"avgen.baselines.{module}")
    x = np.zeros(48 * 480, dtype=np.float32)
    x[4800] = 1.0
    y = mod._process(x)
    assert int(np.argmax(np.abs(y))) - 4800 == getattr(mod, constant)


@pytest.mark.parametrize("name", NAMES)
def test_a_unit_impulse_comes_back_at_sample_0(name):
    _skip_if_missing(name)
    x = np.zeros(SR // 2, dtype=np.float32)
    x[0] = 1.0
    y = R.reference_enhance(name, x, SR)
    assert y.dtype == np.float32 and y.shape == x.shape and np.all(np.isfinite(y))
    assert np.abs(y).max() > 0
    assert int(np.argmax(np.abs(y))) == 0


@pytest.mark.system  # flite
@pytest.mark.parametrize("name", NAMES)
def test_speech_comes_back_aligned_and_cleaner(name, speech):
    _skip_if_missing(name)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(speech.size)
    noise *= np.sqrt(np.mean(speech**2) / np.mean(noise**2) / 10 ** (5 / 10))  # 5 dB
    noisy = torch.from_numpy((speech + noise).astype(np.float32))
    out = R.reference_enhance(name, noisy, SR)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.shape == noisy.shape and torch.isfinite(out).all()
    y = out.double().numpy()
    # alignment: the cross-correlation with the clean speech peaks within a sample of lag 0 (the
    # gains are not zero-phase: RNNoise's peak is at -1 at 16 kHz, DFN3's and gating's at 0)
    lags = np.arange(-40, 41)
    xc = [
        np.dot(y[max(0, k) : y.size + min(0, k)], speech[max(0, -k) : speech.size - max(0, k)])
        for k in lags
    ]
    assert abs(lags[int(np.argmax(xc))]) <= 1
    # and it removes noise: SI-SDR above the input's (measured: gating +0.5 dB only)
    gain = float(si_sdr(speech, y)) - float(si_sdr(speech, noisy.double().numpy()))
    assert gain > 0.2, f"{name}: SI-SDR gain {gain:.2f} dB"


@pytest.mark.parametrize("name", NAMES)
def test_other_rates_and_odd_lengths_keep_the_length(name):
    _skip_if_missing(name)
    x = np.random.default_rng(1).standard_normal(12_345) * 0.05
    y = R.reference_enhance(name, x, 22_050)
    assert y.shape == x.shape and y.dtype == np.float64 and np.all(np.isfinite(y))
