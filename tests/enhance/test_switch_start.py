"""The MIN-VAE's switching start (avgen.pipelines.vae_nmf.switch) and the adapted MH step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from avgen.errors import ConfigError
from avgen.models import load_model
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from avgen.pipelines.vae_nmf.schemes import make_e_step
from avgen.pipelines.vae_nmf.switch import (
    SwitchingStartEStep,
    audio_responsibility,
    paired_start,
    switch_start,
)
from avgen.seeding import torch_generator
from inference.esteps import MHEStep

SAMPLE = Path(__file__).resolve().parents[2] / "avgen" / "assets" / "samples" / "city-0"


def candidates(n_frames: int = 7, dim: int = 3) -> torch.Tensor:
    g = torch_generator(1)
    return torch.stack([torch.randn(n_frames, dim, generator=g) + 5, -torch.ones(n_frames, dim)])


def test_start_is_deterministic_under_a_seed():
    c, rho = paired_start(candidates(), 4).reshape(2, 4, 7, 3), torch.full((7,), 0.5)
    a = switch_start(c, rho, torch_generator(3))
    b = switch_start(c, rho, torch_generator(3))
    other = switch_start(c, rho, torch_generator(4))
    assert torch.equal(a, b) and not torch.equal(a, other)
    # every frame of every chain is one of the two candidates
    is_audio = (a == c[0]).all(-1)
    assert (is_audio | (a == c[1]).all(-1)).all() and is_audio.any() and (~is_audio).any()


def test_responsibility_one_is_the_audio_start_and_zero_the_visual_start():
    c = candidates()
    assert torch.equal(switch_start(c, torch.ones(7), torch_generator(0)), c[0])
    assert torch.equal(switch_start(c, torch.zeros(7), torch_generator(0)), c[1])
    for chains in (1, 3):
        pairs = paired_start(c, chains).reshape(2, chains, 7, 3)
        audio = switch_start(pairs, torch.ones(chains, 7), torch_generator(0))
        visual = switch_start(pairs, torch.zeros(chains, 7), torch_generator(0))
        assert torch.equal(audio, c[0].expand(chains, -1, -1))
        assert torch.equal(visual, c[1].expand(chains, -1, -1))


def test_mixed_responsibilities_choose_per_frame():
    c = candidates()
    rho = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    start = switch_start(c, rho, torch_generator(0))
    assert torch.equal(start, torch.where(rho.bool().unsqueeze(-1), c[0], c[1]))


def test_a_visual_family_that_explains_the_frame_better_is_kept():
    """The families are compared where their chains are, not where they started."""
    c = candidates()
    moved = torch.stack([c[0], torch.zeros(7, 3) + 0.5])  # the visual chains moved to the mode

    def log_joint(z):
        return -0.5 * (z - 0.5).square().sum(-1)

    rho = audio_responsibility(log_joint, moved)
    assert (rho < 1e-3).all()
    assert torch.equal(switch_start(moved, rho, torch_generator(0)), moved[1])


def test_audio_responsibility_is_the_two_point_posterior():
    c = candidates()

    def log_joint(z):  # a Gaussian centred between them, nearer the visual candidate
        return -0.5 * (z - 0.5).square().sum(-1)

    rho = audio_responsibility(log_joint, c)
    expected = torch.sigmoid(log_joint(c[0]) - log_joint(c[1]))
    assert torch.allclose(rho, expected) and (rho < 0.01).all()


def test_the_wrapped_e_step_switches_at_its_iteration():
    c = candidates()

    def favours_visual(z):
        return -1e3 * (z - c[1]).square().sum(-1)

    inner = MHEStep(n_steps=2, burn_in=1, step_size=1e-12)
    step = SwitchingStartEStep(inner, at=1)
    g = torch_generator(0)
    start = paired_start(c, 2)  # (4, T, L): two audio chains, two visual ones
    state = step.init(start)
    state, _ = step.step(state, favours_visual, g)
    assert torch.allclose(state.position, start, atol=1e-6) and state.extra.audio_weight is None
    state, _ = step.step(state, favours_visual, g)
    assert torch.allclose(state.position, c[1].expand(2, -1, -1), atol=1e-6)
    assert (state.extra.audio_weight < 1e-3).all() and state.extra.count == 2
    moved = state.position.clone()
    state, _ = step.step(state, favours_visual, g)  # no second switch
    assert torch.allclose(state.position, moved, atol=1e-6)


def test_adapted_mh_step_is_an_option_and_not_the_default():
    assert make_e_step("mcem-mh", EMSchedule()).adapt is None
    e_step = make_e_step("mcem-mh", EMSchedule(mh_adapt=0.3))
    assert e_step.adapt is not None and e_step.adapt.target == 0.3
    assert "adapted per frame to acceptance 0.3" in EMSchedule(mh_adapt=0.3).describe("mcem-mh")
    with pytest.raises(ConfigError):
        EMSchedule(mh_adapt=1.5)


@pytest.fixture(scope="module")
def sample():
    noisy = sf.read(SAMPLE / "noisy.wav", dtype="float32")[0]
    return torch.from_numpy(noisy), np.load(SAMPLE / "lips.npy")


def test_switch_start_enhances_a_bundled_clip(sample):
    noisy, lips = sample
    model = load_model("min-vae")
    schedule = EMSchedule(n_iter=3, n_steps=4, burn_in=2, switch_at=1)
    runs = [enhance(noisy, model, lips=lips, init="switch", schedule=schedule, seed=0)]
    runs.append(enhance(noisy, model, lips=lips, init="switch", schedule=schedule, seed=0))
    r = runs[0]
    assert torch.isfinite(r.estimate).all() and r.estimate.shape == noisy.shape
    assert torch.equal(runs[0].estimate, runs[1].estimate)
    weight = r.extras["switch_audio_weight"]
    assert weight.shape == (r.observation_power.shape[1],)
    assert 0.0 <= r.info["switch_audio_share"] <= 1.0
    assert "until E-step 1" in r.info["e_step"]


def test_switch_start_refuses_variational_em(sample):
    noisy, lips = sample
    with pytest.raises(ConfigError, match="switch"):
        enhance(
            noisy,
            load_model("min-vae"),
            lips=lips,
            init="switch",
            scheme="vem",
            schedule=EMSchedule(n_iter=1),
        )
