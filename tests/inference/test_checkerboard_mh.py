"""The checkerboard (even/odd) MH kernel on a Markov latent trajectory is exact.

Model: the linear-Gaussian state-space model of :mod:`tests.inference.linear_gaussian_ssm`
(2-D latent rotating with ``rho = 0.9``, 3-D observations), where the posterior is known.

* Geweke (2004) joint-distribution test: 1,500 independent sequences of 6 frames alternate
  ``x ~ p(x | z)`` and 5 checkerboard sweeps, 25 rounds; the final trajectories must stay
  distributed as the prior. Test functions on the whole trajectory (first and last frame, the
  lag-one products that a wrong blanket breaks, the squared norm), two-sample KS against fresh
  prior draws, Bonferroni at ``alpha = 1e-3``. Two broken kernels must fail: one whose frames
  ignore ``p(z_{t+1} | z_t)`` (a per-frame target with a N(0, I) prior), and one that moves all
  frames at once while accepting each on its own blanket (neighbours moved together).
* Posterior mean against the Kalman (RTS) smoother, within a Monte-Carlo-error tolerance.
* The cached terms stay exactly those of the current position (two evaluations per sweep).
"""

from __future__ import annotations

import math

import pytest
import torch

from inference.chain import Kernel, run_chain
from inference.diagnostics import effective_sample_size, geweke_test
from inference.markov_mh import (
    CHECKERBOARD_RWM,
    CheckerboardInfo,
    _half_sweep,
    blanket_log_density,
    checkerboard_init,
    joint_log_density,
)
from tests.inference.linear_gaussian_ssm import LinearGaussianSSM

N_SEQ, T, D = 1500, 6, 2
N_ROUNDS, SWEEPS_PER_ROUND = 25, 5
ALPHA = 1e-3


@torch.no_grad()
def all_frames_at_once_step(state, terms_fn, step_size, generator=None):
    """BROKEN on purpose: every frame proposed in the same sweep, each accepted on its blanket
    (neighbours' moves are ignored, so the chain targets the wrong distribution)."""
    everyone = torch.ones(state.position.shape[-2], dtype=torch.bool)
    step = torch.as_tensor(step_size, dtype=state.position.dtype)
    new, prob, accepted, proposal = _half_sweep(state, terms_fn, step, everyone, generator)
    new = checkerboard_init(new.position, terms_fn)  # recompute: only the acceptance is wrong
    return new, CheckerboardInfo(prob, accepted, proposal)


ALL_AT_ONCE = Kernel("all-at-once", checkerboard_init, all_frames_at_once_step, 0.3)


def trajectory_test_functions():
    def frame(t, d):
        return lambda z: z.reshape(-1, T, D)[:, t, d]

    def lag_one(t):
        return lambda z: (z.reshape(-1, T, D)[:, t] * z.reshape(-1, T, D)[:, t + 1]).sum(-1)

    def cross_lag(t):  # z_t[0] z_{t+1}[1]: sees the rotation
        return lambda z: z.reshape(-1, T, D)[:, t, 0] * z.reshape(-1, T, D)[:, t + 1, 1]

    return {
        "z_0[0]": frame(0, 0),
        "z_2[1]": frame(2, 1),
        "z_5[0]": frame(T - 1, 0),
        "z_1.z_2": lag_one(1),
        "z_4.z_5": lag_one(4),
        "z_2[0] z_3[1]": cross_lag(2),
        "|z|^2": lambda z: z.square().sum(-1),
    }


def run_geweke(kernel: Kernel, drop_forward: bool = False, step_size: float = 0.5, seed: int = 0):
    ssm = LinearGaussianSSM(seed=seed)

    def sample_prior(n, generator):
        return ssm.sample_latents((n,), T, generator).reshape(n, T * D)

    def sample_data(z, generator):
        return ssm.sample_observations(z.reshape(-1, T, D), generator)

    def transition(z, x, generator):
        position = z.reshape(-1, T, D)
        terms_fn = ssm.terms_fn(x, drop_forward=drop_forward)
        result = run_chain(
            kernel,
            position,
            terms_fn,
            n_steps=SWEEPS_PER_ROUND,
            step_size=step_size,
            generator=generator,
        )
        return result.state.position.reshape(-1, T * D)

    return geweke_test(
        sample_prior,
        sample_data,
        transition,
        n_replicates=N_SEQ,
        n_iter=N_ROUNDS,
        generator=torch.Generator().manual_seed(100 + seed),
        test_functions=trajectory_test_functions(),
        alpha=ALPHA,
    )


def test_checkerboard_mh_keeps_the_trajectory_prior_invariant():
    run = run_geweke(CHECKERBOARD_RWM)
    assert run.latents.shape == (N_SEQ, T * D)
    assert run.result.passed, str(run.result)


def test_a_kernel_that_ignores_the_transition_to_the_next_frame_fails():
    run = run_geweke(CHECKERBOARD_RWM, drop_forward=True)
    assert not run.result.passed, str(run.result)


def test_moving_neighbours_together_with_per_frame_acceptance_fails():
    run = run_geweke(ALL_AT_ONCE, step_size=0.8)
    assert not run.result.passed, str(run.result)


def test_rts_smoother_equals_the_dense_gaussian_posterior_mean():
    ssm = LinearGaussianSSM(seed=3)
    gen = torch.Generator().manual_seed(3)
    x = ssm.sample_observations(ssm.sample_latents((), 12, gen), gen)
    torch.testing.assert_close(ssm.posterior_mean_rts(x), ssm.posterior_mean_dense(x))


def test_checkerboard_posterior_mean_matches_the_kalman_smoother():
    """8 chains x 4,000 sweeps on one 30-frame sequence; every frame's and dimension's posterior
    mean within 4.5 Monte-Carlo standard errors of the RTS smoother (60 comparisons: a correct
    sampler fails with probability < 1e-3), and the squared errors average about 1."""
    ssm = LinearGaussianSSM(seed=1)
    gen = torch.Generator().manual_seed(1)
    n_frames, chains = 30, 8
    x = ssm.sample_observations(ssm.sample_latents((), n_frames, gen), gen)
    truth = ssm.posterior_mean_rts(x)
    start = 2.0 * torch.randn(chains, n_frames, D, generator=gen, dtype=torch.float64)
    result = run_chain(
        CHECKERBOARD_RWM,
        start,
        ssm.terms_fn(x),
        n_steps=4500,
        burn_in=500,
        step_size=0.5,
        generator=gen,
    )
    samples = result.samples  # (S, C, T, D)
    assert 0.2 < float(result.acceptance_rate.mean()) < 0.9
    ess = effective_sample_size(samples, layout="draw chain frame dim")
    assert ess.min() > 300, f"ESS too small for an MCSE-based check: {ess.min():.0f}"
    z = (samples.mean((0, 1)) - truth) / (samples.std(dim=(0, 1)) / ess.sqrt())
    assert z.abs().max() < 4.5, f"max standardized error {z.abs().max():.2f}"
    assert z.square().mean() < 1 + 5 * math.sqrt(2 / z.numel())
    # and the sampler is not trivially right: the posterior mean is far from the prior's 0
    assert truth.abs().max() > 10 * float((samples.std(dim=(0, 1)) / ess.sqrt()).max())


def test_cached_terms_stay_those_of_the_current_position():
    ssm = LinearGaussianSSM(seed=2)
    gen = torch.Generator().manual_seed(2)
    x = ssm.sample_observations(ssm.sample_latents((3,), 9, gen), gen)
    terms_fn = ssm.terms_fn(x)
    result = run_chain(
        CHECKERBOARD_RWM,
        torch.zeros(3, 9, D, dtype=torch.float64),
        terms_fn,
        n_steps=50,
        step_size=0.7,
        generator=gen,
    )
    state = result.state
    fresh = terms_fn(state.position)
    torch.testing.assert_close(state.emission, fresh.emission)
    torch.testing.assert_close(state.transition, fresh.transition)
    torch.testing.assert_close(state.log_density, blanket_log_density(fresh))
    assert bool((result.acceptance_rate > 0).all()) and bool((result.acceptance_rate < 1).all())


def test_blanket_differences_equal_joint_differences_for_a_single_frame_move():
    """Moving one frame changes the joint log density by exactly that frame's blanket change."""
    ssm = LinearGaussianSSM(seed=4)
    gen = torch.Generator().manual_seed(4)
    z = ssm.sample_latents((), 7, gen)
    terms_fn = ssm.terms_fn(ssm.sample_observations(z, gen))
    for t in (0, 3, 6):
        moved = z.clone()
        moved[t] += torch.randn(D, generator=gen, dtype=torch.float64)
        before, after = terms_fn(z), terms_fn(moved)
        joint_change = joint_log_density(after) - joint_log_density(before)
        blanket_change = blanket_log_density(after)[t] - blanket_log_density(before)[t]
        torch.testing.assert_close(joint_change, blanket_change)


def test_same_seed_same_chain():
    ssm = LinearGaussianSSM(seed=5)
    gen = torch.Generator().manual_seed(5)
    x = ssm.sample_observations(ssm.sample_latents((2,), 5, gen), gen)

    def run(seed):
        return run_chain(
            CHECKERBOARD_RWM,
            torch.zeros(2, 5, D, dtype=torch.float64),
            ssm.terms_fn(x),
            n_steps=20,
            step_size=0.5,
            generator=torch.Generator().manual_seed(seed),
        ).samples

    assert torch.equal(run(7), run(7))
    assert not torch.equal(run(7), run(8))


@pytest.mark.parametrize("bad", ["tensor", "shape"])
def test_a_terms_function_of_the_wrong_kind_is_a_clear_error(bad):
    from inference.errors import InferenceError
    from inference.markov_mh import MarkovTerms

    def terms_fn(z):
        if bad == "tensor":
            return z.sum(-1)
        return MarkovTerms(z.sum(-1), z.sum((-1, -2)))

    with pytest.raises(InferenceError, match="terms"):
        checkerboard_init(torch.zeros(2, 4, D), terms_fn)
