"""Diagnostics a statistician asks for first: acceptance, ESS, R-hat, MCSE, Geweke, SBC.

* ESS and R-hat live in :mod:`inference.convergence` (re-exported here): the *classic* split
  R-hat and ESS (Gelman et al. 2013; Pyro's estimators) and the *rank-normalised* split R-hat,
  bulk and tail ESS (Vehtari et al. 2021; ArviZ's defaults), elementwise, e.g. per frame and
  latent dimension, with the draw and chain dimensions always named (``layout=`` or
  ``sample_dim=``/``chain_dim=``): an ambiguous layout is an error, never a guess.
* The Monte-Carlo standard error of a posterior mean is ``sd / sqrt(ESS)``; tests compare
  estimates with it (:func:`standardized_error`).
* Geweke's (2004) joint-distribution test checks a posterior sampler without knowing the posterior:
  the *successive-conditional* simulator alternates ``x ~ p(x | z)`` and ``k`` kernel steps on
  ``z | x``, starting from ``z ~ p(z)``. If each kernel step leaves ``p(z | x)`` invariant, the
  pair stays distributed as ``p(z, x)`` at every iteration, so ``z`` stays distributed as the
  prior. With many independent replicates (frames and chains), the final ``z`` of each is an
  exact prior draw under the null; we compare test functions of it with independent prior draws
  (the *marginal-conditional* simulator) by two-sample Kolmogorov-Smirnov tests, or with a
  known CDF by one-sample tests, Bonferroni-corrected.
* Simulation-based calibration (Talts et al., 2018): for ``theta ~ p(theta)``,
  ``y ~ p(y | theta)`` and ``L`` posterior draws given ``y``, the rank of ``theta`` among the
  draws is uniform on ``{0, ..., L}`` iff the sampler is calibrated; :func:`sbc_uniformity_test`
  is a chi-square test of the rank histogram.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import torch
from scipy import stats as scipy_stats

from inference.convergence import (
    Layout,
    effective_sample_size,
    ess_bulk,
    ess_tail,
    monte_carlo_standard_error,
    rank_normalized_split_rhat,
    resolve_layout,
    split_rhat,
    standardized_error,
)
from inference.errors import InferenceError

__all__ = [
    "AcceptanceSummary",
    "GewekeRun",
    "Layout",
    "SBCResult",
    "TwoSampleResult",
    "acceptance_summary",
    "compare_samples",
    "default_test_functions",
    "effective_sample_size",
    "ess_bulk",
    "ess_tail",
    "geweke_test",
    "monte_carlo_standard_error",
    "rank_normalized_split_rhat",
    "resolve_layout",
    "sbc_ranks",
    "sbc_uniformity_test",
    "simulation_based_calibration",
    "split_rhat",
    "standardized_error",
    "successive_conditional",
]


class AcceptanceSummary(NamedTuple):
    """Distribution of per-frame acceptance rates over frames (and chains)."""

    mean: float
    median: float
    q05: float
    q95: float
    min: float
    fraction_stuck: float

    def __str__(self) -> str:
        return (
            f"acceptance mean {self.mean:.3f}, median {self.median:.3f}, "
            f"5-95% [{self.q05:.3f}, {self.q95:.3f}], min {self.min:.3f}, "
            f"stuck (<1%) {100 * self.fraction_stuck:.1f}% of frames"
        )


def acceptance_summary(
    acceptance_rate: torch.Tensor, stuck_below: float = 0.01
) -> AcceptanceSummary:
    """Summarise per-frame acceptance rates (any shape)."""
    a = acceptance_rate.detach().flatten().double()
    if a.numel() == 0:
        raise InferenceError("no acceptance rates to summarise")
    q = torch.quantile(a, torch.tensor([0.05, 0.5, 0.95], dtype=a.dtype))
    return AcceptanceSummary(
        float(a.mean()),
        float(q[1]),
        float(q[0]),
        float(q[2]),
        float(a.min()),
        float((a < stuck_below).double().mean()),
    )


# --------------------------------------------------------------------------------------------
# Geweke's joint-distribution test


class TwoSampleResult(NamedTuple):
    """p-values of several tests, their Bonferroni-corrected minimum and the decision."""

    p_values: dict[str, float]
    statistics: dict[str, float]
    min_p_value: float
    alpha: float

    @property
    def passed(self) -> bool:
        return self.min_p_value * len(self.p_values) >= self.alpha

    def __str__(self) -> str:
        parts = ", ".join(f"{k}: p={v:.2e}" for k, v in self.p_values.items())
        verdict = "pass" if self.passed else "FAIL"
        return f"{verdict} (Bonferroni alpha={self.alpha}); {parts}"


TestFunctions = Mapping[str, Callable[[torch.Tensor], torch.Tensor]]


def default_test_functions(dim: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Each coordinate, each coordinate squared, and the squared norm of ``z`` ``(N, D)``."""
    fns: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    for d in range(dim):
        fns[f"z[{d}]"] = lambda z, d=d: z[..., d]
        fns[f"z[{d}]^2"] = lambda z, d=d: z[..., d].square()
    fns["|z|^2"] = lambda z: z.square().sum(-1)
    return fns


def compare_samples(
    draws: torch.Tensor,
    reference: torch.Tensor,
    test_functions: TestFunctions | None = None,
    alpha: float = 1e-3,
) -> TwoSampleResult:
    """Two-sample KS tests of ``f(draws)`` against ``f(reference)`` for every test function.

    ``draws`` and ``reference`` are ``(N, D)`` and ``(M, D)`` sets of independent draws.
    """
    if draws.ndim != 2 or reference.ndim != 2 or draws.shape[1] != reference.shape[1]:
        raise InferenceError("draws and reference must be (N, D) and (M, D)")
    fns = default_test_functions(draws.shape[1]) if test_functions is None else test_functions
    p_values, statistics = {}, {}
    for name, fn in fns.items():
        a = fn(draws).detach().double().cpu().numpy()
        b = fn(reference).detach().double().cpu().numpy()
        result = scipy_stats.ks_2samp(a, b)
        p_values[name] = float(result.pvalue)
        statistics[name] = float(result.statistic)
    return TwoSampleResult(p_values, statistics, min(p_values.values()), alpha)


class GewekeRun(NamedTuple):
    """Final latents of the successive-conditional simulator and their prior reference."""

    latents: torch.Tensor
    reference: torch.Tensor
    result: TwoSampleResult


def successive_conditional(
    initial: torch.Tensor,
    sample_data: Callable[[torch.Tensor, torch.Generator | None], object],
    transition: Callable[[torch.Tensor, object, torch.Generator | None], torch.Tensor],
    n_iter: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Geweke's successive-conditional simulator: ``n_iter`` rounds of ``x ~ p(x|z)``, ``z ~ K``.

    Args:
        initial: ``z`` drawn from the prior, any shape (replicates on the left).
        sample_data: ``(z, generator) -> x``, a draw from the likelihood.
        transition: ``(z, x, generator) -> z'``, the kernel under test (e.g. ``k`` MH steps
            targeting ``p(z | x)``).
    Returns:
        ``z`` after the last iteration.
    """
    z = initial
    for _ in range(n_iter):
        data = sample_data(z, generator)
        z = transition(z, data, generator)
    return z


def geweke_test(
    sample_prior: Callable[[int, torch.Generator | None], torch.Tensor],
    sample_data: Callable[[torch.Tensor, torch.Generator | None], object],
    transition: Callable[[torch.Tensor, object, torch.Generator | None], torch.Tensor],
    *,
    n_replicates: int,
    n_iter: int,
    generator: torch.Generator | None = None,
    test_functions: TestFunctions | None = None,
    alpha: float = 1e-3,
) -> GewekeRun:
    """Geweke joint-distribution test of ``transition`` with independent replicates.

    ``sample_prior(n, generator)`` returns ``n`` prior draws ``(n, ..., D)``; replicates may be
    arranged in any leading shape as long as ``sample_data`` and ``transition`` accept it (e.g.
    ``(C, T, D)`` with frames as independent replicates). The final latents, flattened to
    ``(N, D)``, are compared with ``n_replicates`` fresh prior draws.
    """
    initial = sample_prior(n_replicates, generator)
    final = successive_conditional(initial, sample_data, transition, n_iter, generator)
    latents = final.reshape(-1, final.shape[-1])
    reference = sample_prior(n_replicates, generator).reshape(-1, final.shape[-1])
    return GewekeRun(latents, reference, compare_samples(latents, reference, test_functions, alpha))


# --------------------------------------------------------------------------------------------
# Simulation-based calibration


def sbc_ranks(truth: torch.Tensor, posterior_draws: torch.Tensor) -> torch.Tensor:
    """Rank of each true value among its ``L`` posterior draws: ``#{l: draw_l < truth}``.

    ``truth`` is ``(N, ...)``, ``posterior_draws`` ``(N, L, ...)``; returns integers in
    ``[0, L]`` of shape ``(N, ...)``. Draws should be (nearly) independent: thin MCMC output to
    about one draw per ESS, or the ranks are not uniform even for a correct sampler.
    """
    if posterior_draws.shape[0] != truth.shape[0] or posterior_draws.shape[2:] != truth.shape[1:]:
        raise InferenceError(
            f"posterior_draws must be (N, L, ...) matching truth (N, ...): got "
            f"{tuple(posterior_draws.shape)} and {tuple(truth.shape)}"
        )
    return (posterior_draws < truth.unsqueeze(1)).sum(1)


class SBCResult(NamedTuple):
    """Chi-square uniformity test of SBC ranks pooled over all elements."""

    counts: np.ndarray
    chi2: float
    p_value: float


def sbc_uniformity_test(ranks: torch.Tensor, n_draws: int, n_bins: int | None = None) -> SBCResult:
    """Chi-square test that ranks in ``{0, ..., n_draws}`` are uniform, on ``n_bins`` equal bins.

    ``n_bins`` must divide ``n_draws + 1`` (default: the largest divisor <= 20, so that every bin
    holds the same number of rank values).
    """
    n_values = n_draws + 1
    if n_bins is None:
        n_bins = max(b for b in range(1, min(20, n_values) + 1) if n_values % b == 0)
    if n_values % n_bins:
        raise InferenceError(f"n_bins={n_bins} must divide n_draws + 1 = {n_values}")
    flat = ranks.detach().flatten().cpu().numpy().astype(np.int64)
    if flat.min() < 0 or flat.max() > n_draws:
        raise InferenceError(f"ranks must lie in [0, {n_draws}]")
    counts = np.bincount(flat * n_bins // n_values, minlength=n_bins)
    result = scipy_stats.chisquare(counts)
    return SBCResult(counts, float(result.statistic), float(result.pvalue))


def simulation_based_calibration(
    sample_prior: Callable[[int, torch.Generator | None], torch.Tensor],
    sample_data: Callable[[torch.Tensor, torch.Generator | None], object],
    sample_posterior: Callable[[object, int, torch.Generator | None], torch.Tensor],
    *,
    n_simulations: int,
    n_draws: int,
    generator: torch.Generator | None = None,
    n_bins: int | None = None,
) -> tuple[torch.Tensor, SBCResult]:
    """Run SBC: ``theta ~ prior`` (``(N, ...)``), ``y ~ p(y | theta)``, ``L`` posterior draws.

    ``sample_posterior(y, L, generator)`` returns ``(N, L, ...)`` draws (simulations batched
    along the first dimension). Returns the ranks and their uniformity test.
    """
    truth = sample_prior(n_simulations, generator)
    data = sample_data(truth, generator)
    draws = sample_posterior(data, n_draws, generator)
    ranks = sbc_ranks(truth, draws)
    return ranks, sbc_uniformity_test(ranks, n_draws, n_bins)
