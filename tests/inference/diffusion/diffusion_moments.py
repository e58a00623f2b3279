"""Moment checks for samplers of Gaussian targets, with tolerances from Monte-Carlo error.

Samples are whitened by the target, ``w = Sigma^{-1/2} (x - mu)``; an exact sampler gives
``w ~ N(0, I)`` in every direction, so each entry of the sample mean has standard error
``1/sqrt(N)`` and each entry of the sample covariance ``sqrt((1 + delta_jk) / N)`` (the chains are
independent, so the effective sample size is ``N``). An entry passes when its error is below
``z * SE + allowance``, with ``z`` the two-sided Bonferroni quantile for all ``d + d(d+1)/2``
entries at family-wise level ``alpha``: an exact sampler fails with probability at most
``alpha``, whatever the seed. ``allowance`` is the discretisation bias the sampler is allowed at
its number of steps (measured in ``test_diffusion_convergence.py`` and by
``benchmarks/diffusion_samplers.py``); the mean needs none, because every step maps the mean of
a Gaussian started at its exact noisy marginal onto itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import torch

from inference.diffusion.gaussian import random_gaussian

__all__ = ["random_gaussian"]  # re-exported for the tests

ALPHA = 1e-3


def inverse_sqrt(cov: torch.Tensor) -> torch.Tensor:
    evals, evecs = torch.linalg.eigh(cov)
    return evecs @ torch.diag(evals.rsqrt()) @ evecs.T


def marginal_draws(
    mean: torch.Tensor, cov: torch.Tensor, sigma: float, n: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` draws of ``x0 + sigma eps`` with ``x0 ~ N(mean, cov)``: the exact start."""
    d = mean.numel()
    chol = torch.linalg.cholesky(cov + sigma**2 * torch.eye(d, dtype=cov.dtype))
    return mean + torch.randn(n, d, generator=generator, dtype=cov.dtype) @ chol.T


@dataclass(frozen=True)
class MomentReport:
    """Largest whitened errors and their tolerances (covariance: the diagonal's, the loosest)."""

    mean_error: float
    cov_error: float
    mean_tol: float
    cov_tol: float
    cov_excess: float
    """Largest ``error - tolerance`` over covariance entries (each with its own SE); <= 0 passes."""
    z: float
    n: int

    @property
    def ok(self) -> bool:
        return self.mean_error <= self.mean_tol and self.cov_excess <= 0.0

    def __str__(self) -> str:
        return (
            f"N={self.n}, z={self.z:.2f}: mean error {self.mean_error:.4f} (tol "
            f"{self.mean_tol:.4f}), covariance error {self.cov_error:.4f} (diagonal tol "
            f"{self.cov_tol:.4f}, worst excess over its entry's tol {self.cov_excess:+.4f})"
        )


def moment_report(
    samples: torch.Tensor,
    mean: torch.Tensor,
    cov: torch.Tensor,
    *,
    cov_allowance: float,
    alpha: float = ALPHA,
) -> MomentReport:
    """Compare ``samples (N, d)`` with ``N(mean, cov)`` (see the module docstring)."""
    n, d = samples.shape
    w = (samples.to(torch.float64) - mean) @ inverse_sqrt(cov).T
    n_tests = d + d * (d + 1) // 2
    z = NormalDist().inv_cdf(1.0 - alpha / (2 * n_tests))
    eye = torch.eye(d, dtype=torch.float64)
    mean_err = w.mean(0).abs()
    cov_err = (torch.cov(w.T) - eye).abs()
    cov_tols = z * ((1.0 + eye) / n).sqrt() + cov_allowance
    return MomentReport(
        mean_error=float(mean_err.max()),
        cov_error=float(cov_err.max()),
        mean_tol=z / math.sqrt(n),
        cov_tol=z * math.sqrt(2.0 / n) + cov_allowance,
        cov_excess=float((cov_err - cov_tols).max()),
        z=z,
        n=n,
    )


def assert_moments(
    samples: torch.Tensor,
    mean: torch.Tensor,
    cov: torch.Tensor,
    *,
    cov_allowance: float,
    label: str = "",
) -> MomentReport:
    report = moment_report(samples, mean, cov, cov_allowance=cov_allowance)
    assert report.ok, f"{label}: {report}"
    return report
