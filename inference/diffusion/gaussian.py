"""Gaussian data, where every quantity a sampler needs is known in closed form.

For ``x0 ~ N(mu, Sigma)`` in ``R^d`` and ``x = x0 + sigma eps``:

* marginal ``p_sigma = N(mu, Sigma + sigma^2 I)``;
* exact denoiser ``D(x, sigma) = E[x0 | x] = mu + Sigma (Sigma + sigma^2 I)^{-1} (x - mu)``;
* ``Cov[x0 | x] = Sigma - Sigma (Sigma + sigma^2 I)^{-1} Sigma = sigma^2 dD/dx``.

For the linear-Gaussian observation ``y = A x0 + n``, ``n ~ N(0, R)``, the posterior is
``N(m, C)`` with ``C = (Sigma^{-1} + A^T R^{-1} A)^{-1}``, ``m = C (Sigma^{-1} mu + A^T R^{-1} y)``.

These are the test oracles of the samplers and of posterior sampling.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import InferenceError


class GaussianDenoiser:
    """The exact denoiser of ``N(mean, cov)`` data (``x`` of shape ``(B, d)``), computed in the
    eigenbasis of ``cov`` so that per-sample ``sigma`` costs one ``(B, d) x (d, d)`` product each
    way. Satisfies the :class:`~.protocol.Denoiser` protocol (``cond`` is ignored)."""

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor) -> None:
        if mean.ndim != 1 or cov.shape != (mean.numel(), mean.numel()):
            raise InferenceError(
                f"need mean (d,) and cov (d, d), got {tuple(mean.shape)}, {tuple(cov.shape)}"
            )
        cov = 0.5 * (cov + cov.T)
        evals, evecs = torch.linalg.eigh(cov)
        if (evals <= 0).any():
            raise InferenceError("cov must be symmetric positive definite")
        self.mean = mean
        self.cov = cov
        self.evals = evals
        self.evecs = evecs

    @property
    def dim(self) -> int:
        return self.mean.numel()

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, cond: Any = None) -> torch.Tensor:
        del cond
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(x.shape[0])
        mean = self.mean.to(x)
        evecs = self.evecs.to(x)
        evals = self.evals.to(x)
        coords = (x - mean) @ evecs
        shrink = evals / (evals + sigma[:, None].square())
        return mean + (coords * shrink) @ evecs.T

    def marginal_cov(self, sigma: float) -> torch.Tensor:
        """Covariance of ``x = x0 + sigma eps``."""
        return self.cov + sigma**2 * torch.eye(self.dim, dtype=self.cov.dtype)

    def sample(
        self,
        n: int,
        sigma: float = 0.0,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """``n`` exact draws of ``x0 + sigma eps`` (the noisy marginal)."""
        dtype = dtype or self.mean.dtype
        chol = torch.linalg.cholesky(self.marginal_cov(sigma))
        z = torch.randn(n, self.dim, generator=generator, dtype=self.mean.dtype)
        return (self.mean + z @ chol.T).to(dtype)


def linear_gaussian_posterior(
    mean: torch.Tensor,
    cov: torch.Tensor,
    A: torch.Tensor,
    y: torch.Tensor,
    noise_cov: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior ``(m, C)`` of ``x0 ~ N(mean, cov)`` given ``y = A x0 + n``, ``n ~ N(0, R)``;
    ``noise_cov`` is ``R`` as a ``(m, m)`` matrix or its ``(m,)`` diagonal."""
    R = torch.diag(noise_cov) if noise_cov.ndim == 1 else noise_cov
    prec = torch.linalg.inv(cov) + A.T @ torch.linalg.solve(R, A)
    post_cov = torch.linalg.inv(prec)
    post_cov = 0.5 * (post_cov + post_cov.T)
    post_mean = post_cov @ (torch.linalg.solve(cov, mean) + A.T @ torch.linalg.solve(R, y))
    return post_mean, post_cov


def random_gaussian(
    d: int, *, seed: int, cond_number: float = 40.0, dtype: torch.dtype = torch.float64
) -> GaussianDenoiser:
    """A test Gaussian: random rotation (non-diagonal covariance), eigenvalues log-spaced from
    ``2 / cond_number`` to 2, standard-normal mean; reproducible from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    lam = torch.logspace(math.log10(2.0 / cond_number), math.log10(2.0), d, dtype=torch.float64)
    cov = q @ torch.diag(lam) @ q.T
    mean = torch.randn(d, generator=g, dtype=torch.float64)
    return GaussianDenoiser(mean.to(dtype), cov.to(dtype))
