"""R-hat and ESS that cannot be misread: named layouts, classic vs rank-normalised, ArviZ's numbers.

Null bounds come from the sampling distribution of R-hat on independent draws: with ``m`` split
chains of ``n`` iid draws, ``var+/W = 1 - 1/n + B/(nW)`` and ``B/(nW) ~ chi2_{m-1} / ((m-1) n)``,
so ``R-hat <= sqrt(1 - 1/n + chi2_{m-1}(1 - a) / ((m-1) n))`` with probability ``1 - a``;
``a`` is Bonferroni-corrected over elements (and over the bulk and folded R-hats).
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats as scipy_stats

from inference.chain import RWM, run_chain
from inference.convergence import (
    effective_sample_size,
    ess_bulk,
    ess_tail,
    rank_normalized_split_rhat,
    resolve_layout,
    split_rhat,
)
from inference.errors import InferenceError

N, C, E = 1000, 4, 300
LAYOUT = "draw chain element"


def iid(seed: int, n: int = N, chains: int = C, elements: int = E) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, chains, elements, generator=gen, dtype=torch.float64)


def null_rhat_bound(n_draws: int, n_chains: int, n_tests: int, alpha: float = 1e-3) -> float:
    n, m = n_draws // 2, 2 * n_chains  # after splitting
    q = scipy_stats.chi2.ppf(1 - alpha / n_tests, m - 1) / (m - 1)
    return math.sqrt(1 - 1 / n + q / n)


def test_an_ambiguous_layout_is_an_error_not_a_guess():
    one_chain = torch.randn(100, 7, 3)  # run_chain without chains: (S, T, D)
    for fn in (effective_sample_size, split_rhat, rank_normalized_split_rhat, ess_bulk, ess_tail):
        with pytest.raises(InferenceError, match="ambiguous layout"):
            fn(one_chain)
    with pytest.raises(InferenceError, match="names 2 dimensions"):
        effective_sample_size(one_chain, layout="draw chain")
    with pytest.raises(InferenceError, match="not both"):
        effective_sample_size(one_chain, layout="draw frame dim", chain_dim=None)
    with pytest.raises(InferenceError, match="one 'draw'"):
        effective_sample_size(one_chain, layout="chain frame dim")
    assert resolve_layout(torch.randn(50)) == (0, None)  # a vector is one chain


def test_one_run_chain_chain_is_diagnosed_per_frame_and_dimension():
    def log_density(z):
        return -0.5 * z.square().sum(-1)

    result = run_chain(
        RWM,
        torch.zeros(7, 3),
        log_density,
        n_steps=400,
        burn_in=100,
        step_size=1.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert result.samples.shape == (300, 7, 3)
    named = effective_sample_size(result.samples, layout="draw frame dim")
    explicit = effective_sample_size(result.samples, sample_dim=0, chain_dim=None)
    assert named.shape == (7, 3)
    torch.testing.assert_close(named, explicit)
    assert rank_normalized_split_rhat(result.samples, layout="draw frame dim").shape == (7, 3)
    # ArviZ's order is understood when named
    chain_first = result.samples.unsqueeze(0)
    torch.testing.assert_close(
        effective_sample_size(chain_first, layout="chain draw frame dim"), named
    )


def test_rhat_of_independent_draws_is_within_its_null_bound():
    x = iid(0)
    assert split_rhat(x, layout=LAYOUT).max() < null_rhat_bound(N, C, E)
    assert rank_normalized_split_rhat(x, layout=LAYOUT).max() < null_rhat_bound(N, C, 2 * E)


@pytest.mark.parametrize("estimator", [effective_sample_size, ess_bulk, ess_tail])
def test_ess_of_independent_draws_is_the_number_of_draws(estimator):
    """Mean of ESS / (N C) over 300 independent elements: within 4 standard errors (from the
    elements' spread) of 1, allowing the estimators' known small downward bias from truncating
    the autocorrelation sum (at most 5 %; about 1 % for bulk, 4 % for tail at this N)."""
    ratio = estimator(iid(1), layout=LAYOUT) / (N * C)
    standard_error = float(ratio.std()) / math.sqrt(E)
    assert 1 - 0.05 - 4 * standard_error < float(ratio.mean()) < 1 + 4 * standard_error


def test_bulk_ess_of_an_ar1_process_matches_its_autocorrelation_time():
    """Normal scores of a Gaussian AR(1) are nearly the process itself: ESS ~ N (1-phi)/(1+phi)."""
    phi, gen = 0.8, torch.Generator().manual_seed(2)
    noise = torch.randn(N, C, 200, generator=gen, dtype=torch.float64)
    x = torch.empty_like(noise)
    x[0] = noise[0] / math.sqrt(1 - phi**2)
    for i in range(1, N):
        x[i] = phi * x[i - 1] + noise[i]
    ratio = ess_bulk(x, layout=LAYOUT) / (N * C * (1 - phi) / (1 + phi))
    standard_error = float(ratio.std()) / math.sqrt(200)
    assert abs(float(ratio.mean()) - 1) < 0.05 + 4 * standard_error


def test_a_chain_stuck_for_half_its_run_is_flagged_by_the_rank_normalised_rhat():
    x = iid(3)
    x[N // 2 :, 0] = x[N // 2, 0]  # chain 0 rejects every proposal after draw N/2
    bound = null_rhat_bound(N, C, 2 * E)
    assert rank_normalized_split_rhat(x, layout=LAYOUT).min() > bound


def test_a_chain_with_another_scale_fools_the_classic_rhat_but_not_the_folded_one():
    """Vehtari et al. (2021), sec. 4.3: equal locations, one chain 3x wider."""
    x = iid(4)
    x[:, 0] *= 3.0
    bound = null_rhat_bound(N, C, 2 * E)
    assert rank_normalized_split_rhat(x, layout=LAYOUT).min() > bound
    assert split_rhat(x, layout=LAYOUT).median() < null_rhat_bound(N, C, 1)


def test_rank_normalised_diagnostics_equal_arviz_on_the_same_draws():
    az = pytest.importorskip("arviz")
    gen = torch.Generator().manual_seed(5)
    walk = torch.randn(201, 4, 6, generator=gen, dtype=torch.float64).cumsum(0) * 0.1
    x = walk + torch.randn(201, 4, 6, generator=gen, dtype=torch.float64)
    x[:, 0, 5] += 1.0
    dataset = az.convert_to_dataset(x.permute(1, 0, 2).numpy())  # ArviZ: (chain, draw, ...)
    pairs = [
        (rank_normalized_split_rhat, az.rhat(dataset)),
        (split_rhat, az.rhat(dataset, method="split")),
        (ess_bulk, az.ess(dataset)),
        (ess_tail, az.ess(dataset, method="tail")),
    ]
    for ours, theirs in pairs:
        expected = torch.from_numpy(theirs["x"].values)
        torch.testing.assert_close(ours(x, layout=LAYOUT), expected, rtol=1e-10, atol=1e-10)
