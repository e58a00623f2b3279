"""The RVAE's E-step: a kernel on the whole trajectory samples a coupled posterior exactly where
per-frame accept/reject does not; the pipeline runs it, reproducibly, and refuses the rest."""

from __future__ import annotations

import pytest
import torch

from avgen.errors import ConfigError
from avgen.models.dvae import RecurrentVAE, RVAEConfig
from avgen.models.dvae.trajectory import TrajectoryEStep
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from inference.chain import RWM
from inference.esteps import MHEStep

#: a bivariate Gaussian over (z_0, z_1), correlation 0.8, as per-frame terms that sum to it:
#: f_0 = -P00 z_0^2 / 2 - P01 z_0 z_1, f_1 = -P11 z_1^2 / 2 (frame 0 depends on frame 1)
COV = torch.tensor([[1.0, 0.8], [0.8, 1.0]])
PREC = torch.linalg.inv(COV)


def coupled_terms(z: torch.Tensor) -> torch.Tensor:
    z0, z1 = z[..., 0, 0], z[..., 1, 0]
    f0 = -0.5 * PREC[0, 0] * z0**2 - PREC[0, 1] * z0 * z1
    f1 = -0.5 * PREC[1, 1] * z1**2
    return torch.stack([f0, f1], -1)


def sample_covariance(e_step) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(4000, 2, 1, generator=gen)
    state = e_step.init(start)
    _, result = e_step.step(state, coupled_terms, gen)
    last = result.samples[-1].reshape(-1, 2)
    return torch.cov(last.T)


def test_the_whole_trajectory_kernel_samples_the_coupled_target_and_per_frame_does_not():
    inner = MHEStep(RWM, n_steps=150, burn_in=149, step_size=0.9)
    joint = sample_covariance(TrajectoryEStep(inner))
    per_frame = sample_covariance(MHEStep(RWM, n_steps=150, burn_in=149, step_size=0.9))
    torch.testing.assert_close(joint, COV, atol=0.08, rtol=0)
    assert (per_frame - COV).abs().max() > 0.2  # per-frame accept/reject is not exact here


TINY = RVAEConfig(
    n_freq=513, latent_dim=3, decoder_rnn_dim=6, encoder_rnn_dim=4, latent_rnn_dim=3,
    encoder_hidden_dim=5,
)  # fmt: skip


def test_the_pipeline_runs_the_rvae_with_mala_on_the_trajectory_reproducibly():
    torch.manual_seed(0)
    model = RecurrentVAE(TINY).eval()
    noisy = 0.1 * torch.randn(6000, generator=torch.Generator().manual_seed(1))
    schedule = EMSchedule(n_iter=2, n_steps=4, burn_in=2)
    a = enhance(noisy, model, scheme="mcem-mala", schedule=schedule, seed=3)
    b = enhance(noisy, model, scheme="mcem-mala", schedule=schedule, seed=3)
    assert torch.equal(a.estimate, b.estimate) and bool(torch.isfinite(a.estimate).all())
    assert "whole trajectory" in a.info["e_step"] and "whole trajectory" in a.info["final_e_step"]
    # one accept/reject per trajectory: the same acceptance at every frame
    frames = a.extras["frame_acceptance"]
    assert frames.shape == (a.info["n_frames"],) and bool((frames == frames[0]).all())
    with pytest.raises(ConfigError, match="--scheme mcem-mh cannot run with rvae"):
        enhance(noisy, model, scheme="mcem-mh", schedule=schedule)


def test_variational_em_fine_tunes_the_rvaes_guide_and_only_the_guide():
    torch.manual_seed(0)
    model = RecurrentVAE(TINY).eval()
    before = {name: p.clone() for name, p in model.named_parameters()}
    noisy = 0.1 * torch.randn(6000, generator=torch.Generator().manual_seed(1))
    schedule = EMSchedule(n_iter=3, vem_updates=2, vem_lr=1e-3)
    a = enhance(noisy, model, scheme="vem", schedule=schedule, seed=3)
    b = enhance(noisy, model, scheme="vem", schedule=schedule, seed=3)
    assert torch.equal(a.estimate, b.estimate) and bool(torch.isfinite(a.estimate).all())
    # the structured guide over the trajectory, not a sampler wrapped as one block
    assert a.info["e_step"].startswith("variational (structured guide")
    assert "2 update(s) per E-step" in a.info["e_step"]
    # fine-tuning is functional: the prior itself is unchanged
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())
