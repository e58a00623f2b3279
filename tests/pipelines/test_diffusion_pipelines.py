"""Specification of the diffusion-prior pipelines: enhancement (UDiffSE) and dereverberation
(BUDDy-style) run end to end, keep shapes and levels, are reproducible, and reject bad input."""

from __future__ import annotations

import math

import pytest
import torch

from avgen.errors import AudioError, ConfigError
from avgen.models.reverb import OCTAVE_CENTRES_HZ
from avgen.pipelines.diffusion import (
    Dereverberation,
    DiffusionEnhancement,
    SigmaSchedule,
    dereverberate,
    enhance_diffusion,
)

FRAMES = 1 + int(0.6 * 16_000) // 128


def _noisy(speechlike: torch.Tensor, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return speechlike + 0.03 * torch.randn(speechlike.shape, generator=g)


def test_enhance_diffusion_returns_a_waveform_of_the_input_length_and_a_history(
    tiny_prior, speechlike
):
    out = enhance_diffusion(
        _noisy(speechlike), prior=tiny_prior, steps=4, n_samples=2, progress=False
    )
    assert isinstance(out, DiffusionEnhancement)
    assert out.estimate.shape == speechlike.shape and out.estimate.dtype == torch.float32
    assert torch.isfinite(out.estimate).all()
    assert out.posterior_std is not None and out.posterior_std.shape == (256, FRAMES)
    assert (out.posterior_std >= 0).all()
    assert [h["step"] for h in out.history] == [0, 1, 2, 3]
    assert all(h["is_divergence"] >= 0 for h in out.history)
    assert out.info["noise_variance"].shape == (256, FRAMES)
    assert out.info["n_evals"] == 7  # pc: predictor + corrector per step, none at sigma 0


def test_enhance_diffusion_is_reproducible_and_seeded(tiny_prior, speechlike):
    noisy = _noisy(speechlike)
    a = enhance_diffusion(noisy, prior=tiny_prior, steps=3, seed=1, progress=False)
    b = enhance_diffusion(noisy, prior=tiny_prior, steps=3, seed=1, progress=False)
    c = enhance_diffusion(noisy, prior=tiny_prior, steps=3, seed=2, progress=False)
    assert torch.equal(a.estimate, b.estimate)
    assert not torch.allclose(a.estimate, c.estimate)
    assert a.posterior_std is None


def test_enhance_diffusion_output_follows_the_input_level(tiny_prior, speechlike):
    """The pipeline works at the prior's level and scales back: a 10x louder input gives a 10x
    louder estimate (same seed)."""
    noisy = _noisy(speechlike)
    quiet = enhance_diffusion(noisy, prior=tiny_prior, steps=3, progress=False).estimate
    loud = enhance_diffusion(10 * noisy, prior=tiny_prior, steps=3, progress=False).estimate
    torch.testing.assert_close(loud, 10 * quiet, rtol=1e-3, atol=1e-4)


def test_nmf_m_step_lowers_the_is_divergence_of_the_noise_model(tiny_prior, speechlike):
    """UDiffSE's M-step: the IS-NMF updates fit W H to the residual power, so the divergence
    recorded after the first step falls well below that of the initial random factors."""
    out = enhance_diffusion(_noisy(speechlike), prior=tiny_prior, steps=6, progress=False)
    first, last = out.history[0]["is_divergence"], out.history[-1]["is_divergence"]
    assert last < first


def test_dereverberate_returns_estimate_rir_and_t60_per_band(tiny_prior, speechlike):
    out = dereverberate(speechlike, prior=tiny_prior, steps=3, rir_seconds=0.8, progress=False)
    assert isinstance(out, Dereverberation)
    assert out.estimate.shape == speechlike.shape and torch.isfinite(out.estimate).all()
    assert out.rir.shape == (int(0.8 * 16_000),)
    assert out.rir[0] == pytest.approx(1.0, abs=1e-6)  # the direct path, unit gain
    assert set(out.t60_per_band) == set(OCTAVE_CENTRES_HZ)
    assert all(0.05 <= t <= 0.8 for t in out.t60_per_band.values())
    assert len(out.history) == 3 and len(out.history[0]["t60"]) == 6
    assert math.isnan(out.info["t60_broadband"]) or out.info["t60_broadband"] > 0


def test_dereverberate_is_reproducible(tiny_prior, speechlike):
    a = dereverberate(speechlike, prior=tiny_prior, steps=2, seed=3, progress=False)
    b = dereverberate(speechlike, prior=tiny_prior, steps=2, seed=3, progress=False)
    assert torch.equal(a.estimate, b.estimate) and torch.equal(a.rir, b.rir)


def test_frozen_room_keeps_its_initial_t60(tiny_prior, speechlike):
    out = dereverberate(
        speechlike, prior=tiny_prior, steps=2, room_iters=0, t60_init=0.4, progress=False
    )
    assert all(t == pytest.approx(0.4, rel=1e-5) for t in out.t60_per_band.values())


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(8000), "silent"),
        (torch.full((8000,), float("nan")), "NaN"),
        (torch.randn(2, 8000), "mono"),
        (torch.randn(100), "shorter"),
    ],
)
def test_bad_audio_raises_audio_error(tiny_prior, bad, message):
    for fn in (enhance_diffusion, dereverberate):
        with pytest.raises(AudioError, match=message):
            fn(bad, prior=tiny_prior, steps=1, progress=False)


def test_bad_settings_raise_config_error(tiny_prior, speechlike):
    with pytest.raises(ConfigError, match="unknown sampler"):
        enhance_diffusion(speechlike, prior=tiny_prior, sampler="nope", steps=1, progress=False)
    with pytest.raises(ConfigError, match="steps"):
        dereverberate(speechlike, prior=tiny_prior, schedule=SigmaSchedule(steps=0), progress=False)
    with pytest.raises(ConfigError, match="t60_init"):
        dereverberate(speechlike, prior=tiny_prior, t60_init=3.0, rir_seconds=1.0, progress=False)
    with pytest.raises(ConfigError, match="prior"):
        enhance_diffusion(speechlike, prior=42, progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            dereverberate(speechlike, prior=tiny_prior, device="cuda", progress=False)
