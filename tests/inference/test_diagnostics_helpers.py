"""ESS, R-hat, acceptance summaries and simulation-based calibration."""

from __future__ import annotations

import pyro.ops.stats
import pytest
import torch

from inference.chain import RWM, run_chain
from inference.diagnostics import (
    acceptance_summary,
    compare_samples,
    effective_sample_size,
    monte_carlo_standard_error,
    sbc_ranks,
    sbc_uniformity_test,
    simulation_based_calibration,
    split_rhat,
    standardized_error,
)
from inference.errors import InferenceError


def ar1(phi: float, n: int, chains: int, elements: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, chains, elements, generator=gen, dtype=torch.float64)
    x = torch.empty_like(noise)
    x[0] = noise[0] / (1 - phi**2) ** 0.5
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    return x


def test_ess_agrees_with_pyro_on_small_inputs():
    x = ar1(0.6, 200, 3, 5, seed=0)
    ours = effective_sample_size(x, layout="draw chain element")
    theirs = pyro.ops.stats.effective_sample_size(x, chain_dim=1, sample_dim=0)
    torch.testing.assert_close(ours, theirs)
    single = effective_sample_size(x[:, 0], chain_dim=None)
    torch.testing.assert_close(
        single, pyro.ops.stats.effective_sample_size(x[:, :1], chain_dim=1, sample_dim=0)
    )


def test_ess_of_an_ar1_process_matches_its_integrated_autocorrelation_time():
    """ESS = N (1 - phi) / (1 + phi) for AR(1); averaged over 200 series it is within 5 %."""
    phi, n, chains = 0.8, 4000, 4
    x = ar1(phi, n, chains, 200, seed=1)
    expected = n * chains * (1 - phi) / (1 + phi)
    assert (
        abs(float(effective_sample_size(x, layout="draw chain element").mean()) / expected - 1)
        < 0.05
    )


def test_mcse_and_standardized_error_of_independent_draws():
    x = torch.randn(5000, 2, 30, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    mcse = monte_carlo_standard_error(x, layout="draw chain element")
    torch.testing.assert_close(
        mcse, torch.full((30,), (1 / 10000) ** 0.5, dtype=torch.float64), rtol=0.1, atol=0
    )
    z = standardized_error(x, torch.zeros(30), layout="draw chain element")
    assert z.abs().max() < 4.5


def test_split_rhat_flags_chains_that_disagree():
    x = torch.randn(1000, 4, 10, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert split_rhat(x, layout="draw chain element").max() < 1.02
    shifted = x.clone()
    shifted[:, 0] += 2.0
    assert split_rhat(shifted, layout="draw chain element").min() > 1.1


def test_acceptance_summary_counts_stuck_frames():
    rates = torch.tensor([0.0, 0.005, 0.3, 0.4, 0.5, 0.6, 0.2, 0.3, 0.35, 0.45])
    summary = acceptance_summary(rates)
    assert summary.fraction_stuck == pytest.approx(0.2)
    assert summary.min == 0.0 and summary.mean == pytest.approx(float(rates.mean()))
    assert "stuck" in str(summary)


def test_two_sample_comparison_passes_same_law_and_fails_a_shift():
    gen = torch.Generator().manual_seed(4)
    a, b = torch.randn(3000, 2, generator=gen), torch.randn(3000, 2, generator=gen)
    assert compare_samples(a, b).passed
    assert not compare_samples(a + torch.tensor([0.0, 0.3]), b).passed


# --- SBC on the conjugate model theta ~ N(0, 1), y | theta ~ N(theta, 0.5^2) ----------------

NOISE = 0.5
POST_SD = (NOISE**2 / (1 + NOISE**2)) ** 0.5


def sample_prior(n, generator):
    return torch.randn(n, 1, generator=generator, dtype=torch.float64)


def sample_data(theta, generator):
    return theta + NOISE * torch.randn(theta.shape, generator=generator, dtype=theta.dtype)


def exact_posterior(inflation=1.0):
    def sample(y, n_draws, generator):
        mean = y / (1 + NOISE**2)
        noise = torch.randn((y.shape[0], n_draws, 1), generator=generator, dtype=y.dtype)
        return mean.unsqueeze(1) + inflation * POST_SD * noise

    return sample


def test_sbc_ranks_count_draws_below_the_truth():
    truth = torch.tensor([[0.0], [1.0]])
    draws = torch.tensor([[[-1.0], [0.5], [-0.2]], [[2.0], [0.0], [0.9]]])
    assert sbc_ranks(truth, draws).tolist() == [[2], [2]]


def test_sbc_accepts_the_exact_posterior_and_rejects_an_overdispersed_one():
    gen = torch.Generator().manual_seed(5)
    _, good = simulation_based_calibration(
        sample_prior, sample_data, exact_posterior(), n_simulations=4000, n_draws=19, generator=gen
    )
    _, bad = simulation_based_calibration(
        sample_prior,
        sample_data,
        exact_posterior(1.5),
        n_simulations=4000,
        n_draws=19,
        generator=gen,
    )
    assert good.p_value > 1e-3
    assert bad.p_value < 1e-6
    assert good.counts.sum() == 4000 and len(good.counts) == 20


def rwm_posterior(prior_weight: float):
    def sample(y, n_draws, generator):
        def log_density(z):
            return (-0.5 * prior_weight * z.square() - 0.5 * (y - z).square() / NOISE**2).sum(-1)

        thin = 10  # about one ESS per retained draw at the adapted step size
        result = run_chain(
            RWM,
            torch.zeros_like(y),
            log_density,
            n_steps=200 + n_draws * thin,
            burn_in=200,
            keep_every=thin,
            step_size=2.4 * POST_SD,
            generator=generator,
        )
        return result.samples.transpose(0, 1)

    return sample


def test_sbc_of_the_per_frame_rwm_kernel_with_thinned_draws():
    """Frames are independent simulations: one RWM run gives 2000 SBC replicates at once; the
    same run with a wrong prior (variance 1/4 instead of 1) in the target is detected.
    (Dropping the prior altogether would NOT be detected by ranks of theta: in this location
    model the flat-prior posterior N(y, s^2) gives exactly uniform ranks.)"""
    gen = torch.Generator().manual_seed(6)
    _, result = simulation_based_calibration(
        sample_prior, sample_data, rwm_posterior(1.0), n_simulations=2000, n_draws=19, generator=gen
    )
    assert result.p_value > 1e-3
    _, broken = simulation_based_calibration(
        sample_prior, sample_data, rwm_posterior(4.0), n_simulations=2000, n_draws=19, generator=gen
    )
    assert broken.p_value < 1e-6


def test_sbc_bins_must_divide_the_rank_range():
    with pytest.raises(InferenceError, match="divide"):
        sbc_uniformity_test(torch.zeros(10, dtype=torch.long), n_draws=19, n_bins=7)
