"""Specification of the diffusion-prior pipelines: enhancement (UDiffSE) and dereverberation
(BUDDy-style) run end to end, return a PipelineResult, keep shapes and levels, are reproducible,
reject bad input before sampling, and let a bug during sampling surface as itself."""

from __future__ import annotations

import math

import pytest
import torch

from avgen.errors import AudioError, ConfigError
from avgen.models.reverb import OCTAVE_CENTRES_HZ
from avgen.pipelines.diffusion import (
    DereverbRecord,
    SigmaSchedule,
    UDiffSERecord,
    dereverberate,
    enhance_diffusion,
)
from avgen.pipelines.result import PipelineResult
from inference.errors import InferenceError
from inference.history import History
from inference.nmf import NMFParams

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
    assert isinstance(out, PipelineResult)
    assert out.estimate.shape == speechlike.shape and out.estimate.dtype == torch.float32
    assert torch.isfinite(out.estimate).all()
    assert out.spectrum.shape == (256, FRAMES) and out.spectrum.is_complex()
    assert out.uncertainty is not None and out.uncertainty.shape == (256, FRAMES)
    assert (out.uncertainty >= 0).all()
    assert out.observation_power.shape == (256, FRAMES) and (out.observation_power >= 0).all()
    assert isinstance(out.history, History) and out.history.n_iter == 4
    assert all(isinstance(r, UDiffSERecord) for r in out.history)
    assert out.history.column("step") == [0, 1, 2, 3]
    assert all(v >= 0 for v in out.history.objective)
    assert isinstance(out.noise, NMFParams)
    assert out.noise.W.shape == (256, 4) and out.noise.H.shape == (4, FRAMES)
    assert out.noise_variance.shape == (256, FRAMES)
    assert out.info["pipeline"] == "udiffse" and out.info["posterior_samples"] == 2
    assert out.info["n_samples"] == speechlike.numel()
    assert out.info["stft"]["n_fft"] == 510 and out.info["stft"]["level_db"] == -26.0
    assert out.info["n_evals"] == 7  # pc: predictor + corrector per step, none at sigma 0


def test_spectrum_is_the_sample_in_the_compressed_stft_at_the_prior_level(tiny_prior, speechlike):
    """With one posterior sample, ``spectrum`` is that sample (compressed complex STFT at the
    prior's level): its waveform, scaled back by the input gain, is the estimate; there is no
    uncertainty."""
    from avgen.models.diffusion import spec_to_tensor, tensor_to_waveform

    out = enhance_diffusion(
        _noisy(speechlike), prior=tiny_prior, steps=2, estimate="sample", progress=False
    )
    assert out.uncertainty is None
    wave = tensor_to_waveform(spec_to_tensor(out.spectrum), length=speechlike.numel())
    torch.testing.assert_close(wave / out.info["input_gain"], out.estimate)


def test_enhance_diffusion_is_reproducible_and_seeded(tiny_prior, speechlike):
    noisy = _noisy(speechlike)
    a = enhance_diffusion(noisy, prior=tiny_prior, steps=3, seed=1, progress=False)
    b = enhance_diffusion(noisy, prior=tiny_prior, steps=3, seed=1, progress=False)
    c = enhance_diffusion(noisy, prior=tiny_prior, steps=3, seed=2, progress=False)
    assert torch.equal(a.estimate, b.estimate)
    assert not torch.allclose(a.estimate, c.estimate)
    assert a.uncertainty is None


def test_enhance_diffusion_output_follows_the_input_level(tiny_prior, speechlike):
    """The pipeline works at the prior's level and scales back: a 10x louder input gives a 10x
    louder estimate (same seed)."""
    noisy = _noisy(speechlike)
    quiet = enhance_diffusion(noisy, prior=tiny_prior, steps=3, progress=False).estimate
    loud = enhance_diffusion(10 * noisy, prior=tiny_prior, steps=3, progress=False).estimate
    torch.testing.assert_close(loud, 10 * quiet, rtol=1e-3, atol=1e-4)


def test_nmf_m_step_lowers_the_is_divergence_of_the_noise_model(tiny_prior, speechlike):
    """UDiffSE's M-step on the plug-in residual: the IS-NMF updates fit W H to the residual
    power, so the divergence recorded after the first step falls well below that of the initial
    random factors."""
    out = enhance_diffusion(
        _noisy(speechlike),
        prior=tiny_prior,
        steps=6,
        noise_from="posterior",
        noise_until=0.0,
        progress=False,
    )
    first, last = out.history.objective[0], out.history.objective[-1]
    assert last < first


def test_dereverberate_returns_estimate_rir_and_t60_per_band(tiny_prior, speechlike):
    out = dereverberate(speechlike, prior=tiny_prior, steps=3, rir_seconds=0.8, progress=False)
    assert isinstance(out, PipelineResult)
    assert out.estimate.shape == speechlike.shape and torch.isfinite(out.estimate).all()
    rir, t60 = out.extras["rir"], out.extras["t60_per_band"]
    assert rir.shape == (int(0.8 * 16_000),)
    assert rir[0] == pytest.approx(1.0, abs=1e-6)  # the direct path, unit gain
    assert set(t60) == set(OCTAVE_CENTRES_HZ)
    assert all(0.05 <= t <= 0.8 for t in t60.values())
    assert len(out.history) == 3 and all(isinstance(r, DereverbRecord) for r in out.history)
    assert len(out.history[0].t60) == 6 and len(out.history.as_dict()["gain"][0]) == 6
    assert all(v >= 0 for v in out.history.objective)
    assert out.spectrum.shape == (256, FRAMES) and out.uncertainty is None and out.noise is None
    assert out.info["pipeline"] == "dereverb"
    assert math.isnan(out.info["t60_broadband"]) or out.info["t60_broadband"] > 0


def test_dereverberate_is_reproducible(tiny_prior, speechlike):
    a = dereverberate(speechlike, prior=tiny_prior, steps=2, seed=3, progress=False)
    b = dereverberate(speechlike, prior=tiny_prior, steps=2, seed=3, progress=False)
    assert torch.equal(a.estimate, b.estimate) and torch.equal(a.extras["rir"], b.extras["rir"])


def test_frozen_room_keeps_its_initial_t60(tiny_prior, speechlike):
    out = dereverberate(
        speechlike, prior=tiny_prior, steps=2, room_iters=0, t60_init=0.4, progress=False
    )
    assert all(t == pytest.approx(0.4, rel=1e-5) for t in out.extras["t60_per_band"].values())


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


class ExplodingPrior(torch.nn.Module):
    """A denoiser with a bug: its forward raises a plain ``ValueError``."""

    sigma_data = 0.05

    def forward(self, x, sigma, cond=None):
        raise ValueError("boom")


PIPELINES = [enhance_diffusion, dereverberate]


@pytest.mark.parametrize("fn", PIPELINES)
@pytest.mark.parametrize(
    "sampler, options, message",
    [
        ("nope", None, "unknown sampler 'nope'"),
        ("ddim", {"etaa": 1.0}, "no option"),
        ("pc", {"snr": -1.0}, "snr"),
        ("ddim", {"eta": "one"}, "eta"),
    ],
)
def test_bad_sampler_or_option_is_a_config_error_before_sampling(
    fn, sampler, options, message, speechlike
):
    """Checked before the first denoiser call: the exploding prior is never reached."""
    with pytest.raises(ConfigError, match=message):
        fn(
            speechlike,
            prior=ExplodingPrior(),
            sampler=sampler,
            sampler_options=options,
            steps=2,
            progress=False,
        )


@pytest.mark.parametrize("fn", PIPELINES)
def test_a_bug_in_the_denoiser_surfaces_as_itself(fn, speechlike):
    """No ``except ValueError`` around the sampling: the bug is not passed off as the user's
    configuration."""
    with pytest.raises(ValueError, match="boom") as caught:
        fn(speechlike, prior=ExplodingPrior(), steps=2, progress=False)
    assert type(caught.value) is ValueError


@pytest.mark.parametrize(
    "fn, m_step",
    [
        (enhance_diffusion, "avgen.pipelines.diffusion.udiffse.NMFNoiseStep.__call__"),
        (dereverberate, "avgen.pipelines.diffusion.dereverb.ProjectedRoomStep.__call__"),
    ],
)
@pytest.mark.parametrize("error", [ValueError, InferenceError])
def test_a_bug_in_the_m_step_surfaces_as_itself(
    fn, m_step, error, tiny_prior, speechlike, monkeypatch
):
    def broken(self, x0_hat, params, event):
        raise error("m-step bug")

    monkeypatch.setattr(m_step, broken)
    with pytest.raises(error, match="m-step bug") as caught:
        fn(speechlike, prior=tiny_prior, steps=2, progress=False)
    assert type(caught.value) is error


class NaNPrior(torch.nn.Module):
    """A denoiser whose estimate turns NaN: a numerical failure, not a user's mistake."""

    sigma_data = 0.05

    def forward(self, x, sigma, cond=None):
        return x * float("nan")  # depends on x, so guidance can differentiate through it


@pytest.mark.parametrize("fn", PIPELINES)
def test_a_non_finite_state_stops_with_an_internal_error_naming_the_step(fn, speechlike):
    from inference.errors import NumericalError

    with pytest.raises(NumericalError, match=r"reverse step 0 .*is not finite"):
        fn(speechlike, prior=NaNPrior(), steps=2, progress=False)
