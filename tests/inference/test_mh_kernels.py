"""Per-frame RWM and MALA: correct on known targets, per-frame acceptance, one evaluation per step.

Statistical tolerances. For every frame t and dimension d we compare the sample mean with the true
mean in units of its Monte-Carlo standard error ``sd / sqrt(ESS)`` (Pyro's multi-chain ESS), and
the sample second central moment with the true variance in units of its own MCSE. For a correct
sampler these standardized errors are approximately N(0, 1). With ``n = T * D = 96`` of them we
require ``max |error| < 4.5`` (false-failure probability about ``96 * 6.8e-6 < 1e-3``, before the
small extra spread from estimating ESS) and a mean squared error below ``1 + 5 * sqrt(2 / n)``
(a 5-sigma bound of the chi-square mean). The same check is shown to FAIL for a biased sampler.
"""

from __future__ import annotations

import math

import pytest
import torch

from inference.adaptation import DualAveraging
from inference.chain import MALA, RWM, ULA, kernel_by_name, run_chain
from inference.diagnostics import effective_sample_size
from inference.errors import InferenceError
from inference.mh import mala_init, mala_step, rwm_init, rwm_step

T, D, C = 48, 2, 4
MAX_Z = 4.5


def gaussian_target(seed: int = 0):
    """Independent per-frame Gaussians, frame-specific means, scales differing 20-fold between
    frames (one step size per frame must adapt to each) but well conditioned within a frame."""
    gen = torch.Generator().manual_seed(seed)
    mean = 2.0 * torch.randn(T, D, generator=gen, dtype=torch.float64)
    log_sd = torch.empty(T, 1, dtype=torch.float64).uniform_(
        -1.5, 1.5, generator=gen
    ) + torch.empty(T, D, dtype=torch.float64).uniform_(-0.25, 0.25, generator=gen)
    sd = log_sd.exp()

    def log_density(z: torch.Tensor) -> torch.Tensor:
        return ((z - mean) / sd).square().sum(-1).mul(-0.5)

    return mean, sd, log_density


def standardized_errors(
    samples: torch.Tensor, mean: torch.Tensor, sd: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean error, variance error) in MCSE units, per frame and dimension; samples (S, C, T, D)."""
    ess_mean = effective_sample_size(samples, layout="draw chain frame dim")
    # The normal approximation of the standardized errors needs a reasonable ESS everywhere.
    assert ess_mean.min() > 200, f"ESS too small for an MCSE-based check: {ess_mean.min():.0f}"
    z_mean = (samples.mean((0, 1)) - mean) / (samples.std(dim=(0, 1)) / ess_mean.sqrt())
    squares = (samples - mean).square()
    ess_sq = effective_sample_size(squares, layout="draw chain frame dim")
    z_var = (squares.mean((0, 1)) - sd.square()) / (squares.std(dim=(0, 1)) / ess_sq.sqrt())
    return z_mean, z_var


def assert_calibrated(z: torch.Tensor) -> None:
    n = z.numel()
    assert z.abs().max() < MAX_Z, f"max standardized error {z.abs().max():.2f}"
    assert z.square().mean() < 1 + 5 * math.sqrt(2 / n)


@pytest.mark.parametrize("kernel", [RWM, MALA], ids=["rwm", "mala"])
def test_kernel_reproduces_per_frame_gaussian_means_and_variances(kernel):
    mean, sd, log_density = gaussian_target()
    gen = torch.Generator().manual_seed(1)
    start = 3.0 * torch.randn(C, T, D, generator=gen, dtype=torch.float64)
    result = run_chain(
        kernel,
        start,
        log_density,
        n_steps=3000,
        burn_in=600,
        step_size=torch.full((T,), 0.5, dtype=torch.float64),
        adapt=DualAveraging(kernel.target_acceptance),
        generator=gen,
    )
    assert result.samples.shape == (2400, C, T, D)
    z_mean, z_var = standardized_errors(result.samples, mean, sd)
    assert_calibrated(z_mean)
    assert_calibrated(z_var)


def test_the_calibration_check_fails_for_a_biased_sampler():
    """ULA with a step comparable to the target's scale inflates the variance: the check sees it."""
    mean, sd, log_density = gaussian_target()
    gen = torch.Generator().manual_seed(1)
    step = 0.9 * sd.min(-1).values
    result = run_chain(
        ULA,
        mean.expand(C, T, D).clone(),
        log_density,
        n_steps=3000,
        burn_in=600,
        step_size=step,
        generator=gen,
    )
    _, z_var = standardized_errors(result.samples, mean, sd)
    assert z_var.abs().max() > MAX_Z


def test_per_frame_adaptation_reaches_the_target_acceptance_in_every_frame():
    _, sd, log_density = gaussian_target()
    gen = torch.Generator().manual_seed(2)
    start = torch.zeros(C, T, D, dtype=torch.float64)
    result = run_chain(
        RWM,
        start,
        log_density,
        n_steps=3000,
        burn_in=1000,
        step_size=1.0 * torch.ones(T, dtype=torch.float64),
        adapt=DualAveraging(0.35),
        generator=gen,
    )
    # After warm-up each frame's mean acceptance over 2000 steps x 4 chains is an average of
    # correlated Bernoulli-like terms: its standard error is below 0.03 (checked from the
    # binomial bound sqrt(0.25 / 8000) * sqrt(inflation 10)); the dual-averaging fixed point is
    # within ~0.05 of the target at this adaptation length.
    assert result.acceptance_rate.shape == (C, T)
    frame_rate = result.acceptance_rate.mean(0)
    assert (frame_rate - 0.35).abs().max() < 0.1
    # Step sizes follow each frame's scale: they correlate with the per-frame sd.
    log_ratio = result.step_size.log() - sd.log().mean(-1)
    assert log_ratio.std() < 0.5 * sd.log().mean(-1).std()


def test_each_frame_accepts_or_rejects_on_its_own():
    """A frame whose proposals are always rejected does not stop the other frames moving."""

    def log_density(z):
        lp = -0.5 * z.square().sum(-1)
        blocked = torch.zeros_like(lp)
        blocked[..., 0] = torch.where(z[..., 0, 0] == 0.0, 0.0, -math.inf)
        return lp + blocked

    gen = torch.Generator().manual_seed(3)
    state = rwm_init(torch.zeros(T, D), log_density)
    accepted = torch.zeros(T)
    for _ in range(20):
        state, info = rwm_step(state, log_density, 0.5, gen)
        accepted += info.is_accepted
    assert accepted[0] == 0 and torch.all(state.position[0] == 0)
    assert torch.all(accepted[1:] > 0)


class CountingDensity:
    def __init__(self, fn):
        self.fn = fn
        self.calls = 0

    def __call__(self, z):
        self.calls += 1
        return self.fn(z)


@pytest.mark.parametrize(
    "init,step", [(rwm_init, rwm_step), (mala_init, mala_step)], ids=["rwm", "mala"]
)
def test_one_density_evaluation_per_step(init, step):
    _, _, log_density = gaussian_target()
    counted = CountingDensity(log_density)
    state = init(torch.zeros(C, T, D, dtype=torch.float64), counted)
    assert counted.calls == 1
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        state, _ = step(state, counted, 0.3, gen)
    assert counted.calls == 11


def test_cached_log_density_matches_the_position():
    _, _, log_density = gaussian_target()
    gen = torch.Generator().manual_seed(4)
    for kernel in (RWM, MALA):
        state = kernel.init(torch.zeros(C, T, D, dtype=torch.float64), log_density)
        for _ in range(25):
            state, _ = kernel.step(state, log_density, 0.4, gen)
        torch.testing.assert_close(state.log_density, log_density(state.position))


@pytest.mark.parametrize("kernel", [RWM, MALA], ids=["rwm", "mala"])
def test_same_seed_same_samples(kernel):
    _, _, log_density = gaussian_target()

    def run(seed):
        return run_chain(
            kernel,
            torch.zeros(C, T, D, dtype=torch.float64),
            log_density,
            n_steps=50,
            burn_in=20,
            step_size=0.3,
            adapt=DualAveraging(0.5),
            generator=torch.Generator().manual_seed(seed),
        )

    a, b, c = run(7), run(7), run(8)
    assert torch.equal(a.samples, b.samples)
    assert not torch.equal(a.samples, c.samples)


def test_run_chain_keeps_the_requested_samples():
    _, _, log_density = gaussian_target()
    seen = []
    result = run_chain(
        RWM,
        torch.zeros(T, D, dtype=torch.float64),
        log_density,
        n_steps=40,
        burn_in=30,
        keep_every=2,
        step_size=0.3,
        generator=torch.Generator().manual_seed(0),
        callback=lambda i, state, info: seen.append(state.position.clone()),
    )
    assert result.samples.shape == (5, T, D)
    for k in range(5):
        assert torch.equal(result.samples[k], seen[30 + 2 * k + 1])


def test_bad_settings_raise_clear_errors():
    _, _, log_density = gaussian_target()
    start = torch.zeros(T, D, dtype=torch.float64)
    with pytest.raises(InferenceError, match="step_size"):
        run_chain(RWM, start, log_density, n_steps=10, step_size=-0.1)
    with pytest.raises(InferenceError, match="burn_in"):
        run_chain(
            RWM, start, log_density, n_steps=10, burn_in=0, step_size=0.1, adapt=DualAveraging()
        )
    with pytest.raises(InferenceError, match="accept/reject"):
        run_chain(
            ULA, start, log_density, n_steps=10, burn_in=5, step_size=0.1, adapt=DualAveraging()
        )
    with pytest.raises(InferenceError, match="unknown kernel"):
        kernel_by_name("hmc")
    assert kernel_by_name("mala") is MALA


def test_a_single_step_size_is_adapted_per_frame():
    _, sd, log_density = gaussian_target()
    result = run_chain(
        RWM,
        torch.zeros(C, T, D, dtype=torch.float64),
        log_density,
        n_steps=600,
        burn_in=500,
        step_size=0.5,
        adapt=DualAveraging(0.35),
        generator=torch.Generator().manual_seed(9),
    )
    assert result.step_size.shape == (T,)
    # frames with larger posterior scales get larger steps
    order = sd.mean(-1).argsort()
    assert result.step_size[order[-5:]].mean() > 4 * result.step_size[order[:5]].mean()
