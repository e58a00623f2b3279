"""Enhancement never returns NaN: every bundled prior, every scheme, inputs that provoke
underflow (issue 11). The estimate and the uncertainty map are finite, and a numerical failure
inside EM is reported as ours, naming the iteration and the quantity, never as the user's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgen.audio import SAMPLE_RATE, VAE_STFT, load_audio
from avgen.models import load_model
from avgen.models.vae.names import MODEL_NAMES
from avgen.pipelines.vae_nmf import SCHEMES, EMSchedule, enhance
from inference.em import run_em
from inference.errors import NumericalError
from inference.nmf import NMFParams, relative_floors
from inference.nmf_em import (
    GaussianScaleNMF,
    posterior_image_moments,
    posterior_source_moments,
)

from .helpers import tiny_model

DEMO = "avgen/assets/samples/demo"
QUICK = EMSchedule(rank=4, n_iter=3, n_steps=6, burn_in=3)
INPUTS = ("silence inside", "zero frame", "click", "loud", "quiet", "tone", "clipped")


@pytest.fixture(scope="module")
def bundled():
    return {name: load_model(name) for name in MODEL_NAMES}


@pytest.fixture(scope="module")
def demo_second():
    """One second of the bundled demo mixture (kit material: real speech, babble, 0 dB)."""
    return load_audio(f"{DEMO}/noisy.wav")[SAMPLE_RATE // 2 : SAMPLE_RATE // 2 + SAMPLE_RATE]


def provoking(kind: str, base: torch.Tensor) -> torch.Tensor:
    """Inputs that drive gains, activations or powers towards zero or overflow."""
    x = base.clone()
    n = x.numel()
    if kind == "silence inside":  # both speech and noise vanish for a fifth of the clip
        x[2 * n // 5 : 3 * n // 5] = 0.0
    elif kind == "zero frame":
        x[n // 2 : n // 2 + VAE_STFT.n_fft] = 0.0
    elif kind == "click":  # digital silence with one full-scale sample
        x = torch.zeros_like(x)
        x[n // 3] = 1.0
    elif kind == "loud":
        x = x / x.abs().max() * 1e3
    elif kind == "quiet":
        x = x * 1e-6
    elif kind == "tone":
        t = torch.arange(n) / SAMPLE_RATE
        x = 0.5 * torch.sin(2 * math.pi * 440.0 * t)
    elif kind == "clipped":
        x = (x * 30.0).clamp(-1.0, 1.0)
    return x


def _lips(model, n_samples: int, seed: int) -> torch.Tensor | None:
    if not model.uses_lips:
        return None
    n_frames = VAE_STFT.n_frames(n_samples)
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n_frames, model.config.lip_dim, generator=g)


def _assert_finite(result) -> None:
    assert bool(torch.isfinite(result.estimate).all()), "estimate"
    assert bool(torch.isfinite(result.uncertainty).all()), "uncertainty"
    assert bool((result.uncertainty >= 0).all())
    assert all(math.isfinite(v) for v in result.history.objective)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(MODEL_NAMES),
    scheme=st.sampled_from(SCHEMES),
    kind=st.sampled_from(INPUTS),
    seed=st.integers(0, 2**16),
)
def test_every_prior_and_scheme_gives_finite_outputs_on_provoking_inputs(
    bundled, demo_second, name, scheme, kind, seed
):
    model = bundled[name]
    x = provoking(kind, demo_second)
    init = "visual" if scheme == "vem" and name == "v-vae" else None
    result = enhance(
        x,
        model,
        lips_stft=_lips(model, x.numel(), seed),
        scheme=scheme,
        init=init,
        schedule=QUICK,
        seed=seed,
    )
    _assert_finite(result)


@pytest.mark.parametrize("kind", INPUTS)
def test_each_provoking_input_with_the_default_prior(bundled, demo_second, kind):
    model = bundled["a-vae"]
    _assert_finite(enhance(provoking(kind, demo_second), model, schedule=QUICK, seed=0))


def test_image_moments_stay_finite_when_a_gain_vanishes():
    """The state the issue's clip reached: one frame's gain underflowed to 0. Moments written
    through ``1/sqrt(g)`` give 0/0 there; the image moments do not divide by ``g``."""
    g = torch.Generator().manual_seed(0)
    x = torch.complex(torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g))
    v = torch.rand(3, 5, 7, generator=g) + 0.1
    noise = torch.rand(5, 7, generator=g) + 0.1
    gain = torch.tensor([1.0, 0.5, 0.0, 2.0, 1e-30])
    mean, variance = posterior_image_moments(x, v, gain, noise)
    assert bool(torch.isfinite(mean).all() and torch.isfinite(variance).all())
    assert torch.equal(mean[2], torch.zeros(7, dtype=mean.dtype))  # no speech in that frame
    old_mean, _ = posterior_source_moments(x, v, gain, noise)
    assert not bool(torch.isfinite(old_mean[2]).all())  # what failed before
    # elsewhere the two agree: image = sqrt(g) * source
    m, var = posterior_source_moments(x[:2], v[:, :2], gain[:2], noise[:2])
    torch.testing.assert_close(mean[:2], m * gain[:2].sqrt().unsqueeze(-1))
    torch.testing.assert_close(variance[:2], var * gain[:2].unsqueeze(-1))


def test_the_m_step_keeps_gains_and_activations_above_their_floors():
    """The mechanism of issue 11: a frame whose power lies where the speech model has none (here
    only above half the band, while the decoder's spectra fall with frequency) drives that
    frame's gain down by orders of magnitude per EM iteration (here below 1e-20 within 40
    iterations, float32's smallest normal number being 1.2e-38; on a long recording it reached
    0 and the fused density divided by it). With the floors the gain stops at epsilon times the
    frame's power and everything stays finite."""
    from inference.esteps import MHEStep

    model = tiny_model("a-vae")
    g = torch.Generator().manual_seed(1)
    n_bins = VAE_STFT.n_freqs
    power = torch.rand(12, n_bins, generator=g) + 0.5
    power[5, : n_bins // 2] = 1e-12
    start = torch.zeros(1, 12, model.config.latent_dim)

    def run(epsilon):
        em = GaussianScaleNMF(
            power, model.decoder, MHEStep(n_steps=4, burn_in=2), floor_epsilon=epsilon
        )
        state = em.init_state(3, start, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            return em.run(state, n_iter=40, generator=torch.Generator().manual_seed(3))[0]

    assert float(run(None).params.gain[5]) < 1e-20  # without floors: on its way to underflow
    state = run(1e-6)
    floor = relative_floors(power, 3, state.source_variance, 1e-6)
    assert bool((state.params.gain >= floor.gain * (1 - 1e-6)).all())
    assert bool((state.params.H >= floor.H * (1 - 1e-6)).all())
    assert 0.0 < float(state.params.gain[5]) < 1e-3 * float(state.params.gain.median())


def test_a_non_finite_em_state_stops_with_an_internal_error_naming_it():
    """A deliberate numerical failure (a decoder that returns NaN in one frame) is reported as a
    ``NumericalError`` with the iteration and the quantity: never as a user's mistake."""

    class Broken(torch.nn.Module):
        def forward(self, z):
            out = torch.zeros(*z.shape[:-1], 3)
            out[..., 2, :] = float("nan")
            return out

    power = torch.ones(4, 3)
    em = GaussianScaleNMF(power, Broken(), _NoMove())
    state = em.init_state(2, torch.zeros(1, 4, 2), generator=torch.Generator().manual_seed(0))
    with pytest.raises(NumericalError, match=r"EM iteration 0, after the E-step: the decoded"):
        run_em(em.e_step, em.m_step, state, n_iter=3, check=em.nonfinite_quantity)
    assert not issubclass(NumericalError, ValueError)  # not an InferenceError / user error


class _NoMove:
    """An E-step that keeps the chains where they are (enough to exercise the checks)."""

    name = "none"

    def init(self, position):
        from inference.esteps import EStepState

        return EStepState(position)

    def step(self, state, log_density_fn, generator=None):
        from inference.esteps import EStepResult

        position = state.position
        return state, EStepResult(position.unsqueeze(0), position, None, None, {})

    def describe(self):
        return "no move"


@pytest.mark.slow
def test_regression_the_demo_clip_with_vanishing_frames_is_enhanced_with_seed_0(bundled):
    """Issue 11's failure, rebuilt from kit material: the bundled demo mixture with stretches
    where both speech and noise vanish (digital silence), MIN-VAE with its lips, the default
    schedule and seed 0. The gains of the silent frames fall towards zero over the EM
    iterations; the estimate and the uncertainty map must stay finite."""
    noisy = load_audio(f"{DEMO}/noisy.wav")
    n = noisy.numel()
    for a, b in ((0.30, 0.36), (0.55, 0.58), (0.80, 0.83)):
        noisy[int(a * n) : int(b * n)] = 0.0
    lips = np.load(f"{DEMO}/lips.npy")
    result = enhance(noisy, bundled["min-vae"], lips=lips, seed=0)
    _assert_finite(result)
    # frames wholly inside the first silent stretch (a 1024-sample window spans 4 hops)
    silent = slice(
        int(0.30 * n) // VAE_STFT.hop_length + 4, int(0.36 * n) // VAE_STFT.hop_length - 1
    )
    assert float(result.noise.gain[silent].max()) < 1e-3 * float(result.noise.gain.median())
    assert isinstance(result.noise, NMFParams)


def test_the_command_line_reports_a_numerical_failure_as_ours(tmp_path, capsys, monkeypatch):
    """Exit 3 and one line that says the failure is avgen's, not the input's; no output."""
    import avgen.pipelines.vae_nmf.pipeline as pipeline
    from avgen.audio import save_audio
    from avgen.cli import main

    def broken(*args, **kwargs):
        raise NumericalError("EM iteration 7, after the M-step: the frame gains g is not finite")

    monkeypatch.setattr(pipeline, "_run_em", broken)
    noisy = tmp_path / "noisy.wav"
    save_audio(noisy, load_audio(f"{DEMO}/noisy.wav"))
    out = tmp_path / "out.wav"
    code = main(["enhance", str(noisy), "--model", "a-vae", "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1
    assert "not of your input" in err[0] and "EM iteration 7" in err[0]
    assert not out.exists()
