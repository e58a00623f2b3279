"""Latent priors other than ``N(0, I)`` as corrections of the fused Gaussian-scale density.

:class:`~inference.gaussian_scale.GaussianScaleLogDensity` fuses the likelihood with a standard
normal prior, ``-||z_t||^2 / 2``. A model whose prior is another Gaussian (a conditional prior
``N(mu_t, diag s_t^2)``) or a Gaussian mixture ``sum_k pi_k N(mu_k, s2_k I)`` adds

    correction(z_t) = ||z_t||^2 / 2 + log p(z_t)

to it (:class:`CorrectedDensity`), with the constants of ``log p`` computed once per utterance:
the hot loop of an E-step calls it thousands of times. The test oracle is the model's own
``log_likelihood + latent_log_prior`` (values and gradients agree up to a constant in float64).
"""

from __future__ import annotations

import functools
import math

import torch

from inference.mh import LogDensityFn


class CorrectedDensity:
    """``base(z) + correction(z)``: the fused Gaussian-scale density with another prior.

    ``base`` is a :class:`~inference.gaussian_scale.GaussianScaleLogDensity` (its prior term is
    ``-||z||^2/2``); ``correction(z) = ||z||^2 / 2 + log p(z_t)`` (:class:`MixturePriorCorrection`,
    :class:`GaussianPriorCorrection`), so that the sum is ``-sum_f [log V_ft + P_ft / V_ft] +
    log p(z_t)`` per frame, i.e. ``log p(x_t, z_t)`` up to a constant. Gradients flow when ``z``
    requires them (MALA, Langevin, VEM). One decoder call per evaluation, as the base.
    """

    def __init__(self, base: LogDensityFn, correction: LogDensityFn) -> None:
        self.base = base
        self.correction = correction

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.base(z) + self.correction(z)


class MixturePriorCorrection:
    """``||z||^2/2 + log sum_k pi_k N(z; mu_k, s2_k I)`` with the constants precomputed (e.g. the
    MIN-VAE's prior; one ``(T, L) x (L, K)`` product and a log-sum-exp per call).

    ``log N(z; mu_k, s2_k I) = (z.mu_k - ||z||^2/2) / s2_k - ||mu_k||^2 / (2 s2_k)
    - (L/2) log(2 pi s2_k)``.
    """

    def __init__(
        self, log_weights: torch.Tensor, loc: torch.Tensor, variance: torch.Tensor
    ) -> None:
        self.loc_t = loc.T.contiguous()  # (L, K)
        self.precision = variance.reciprocal()  # (K,)
        latent_dim = loc.shape[-1]
        self.constant = (
            log_weights
            - 0.5 * loc.square().sum(-1) * self.precision
            - 0.5 * latent_dim * torch.log(2 * math.pi * variance)
        )

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        half_sq = z.square().sum(-1, keepdim=True).mul_(0.5)  # (..., T, 1)
        terms = torch.addcmul(self.constant, (z @ self.loc_t).sub_(half_sq), self.precision)
        # log-sum-exp over the K components as K - 1 logaddexp kernels (one for the MIN-VAE's
        # two), cheaper than torch.logsumexp's five on these small tensors
        mixture = functools.reduce(torch.logaddexp, terms.unbind(-1))
        return mixture + half_sq.squeeze(-1)


class GaussianPriorCorrection:
    """``||z||^2/2 + log N(z_t; mu_t, diag s_t^2)`` with ``1/s`` and the constants precomputed
    (e.g. the AV-CVAE's prior given the lips)."""

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor) -> None:
        self.loc = loc
        self.inv_scale = scale.reciprocal()
        self.constant = -(scale.log().sum(-1) + 0.5 * loc.shape[-1] * math.log(2 * math.pi))

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        standardised = (z - self.loc) * self.inv_scale
        return self.constant + 0.5 * (z.square() - standardised.square()).sum(-1)
