"""Variational E-step: fine-tune an encoder on the ELBO with the decoder frozen (DVAE_SE's VEM).

The variational EM of Leglaive et al. (2020) and Bie et al. (2022, DVAE_SE) approximates
``p(z | x; theta_k)`` by the encoder's Gaussian ``q_phi(z_t) = N(mu_t, diag(sigma_t^2))`` and, at
every EM iteration, takes a few Adam steps on the encoder's weights ``phi`` to increase

    ELBO_t(phi) = E_q[log p(x_t, z_t; theta_k)] + H[q_phi(z_t)],
    H[N(mu, diag sigma^2)] = (1/2) sum_d (1 + log(2 pi) + log sigma_d^2),

with the expectation estimated by reparameterised draws ``z = mu + sigma * eps``. Only ``phi``
moves (gradients are taken with respect to the encoder's parameters alone, so the decoder inside
``log_density_fn`` stays frozen). Writing the ELBO with the *joint* ``log p(x_t, z_t)`` rather than
"likelihood minus KL" means the very same per-frame ``log_density_fn`` serves the MCMC E-steps and
this one. After the updates, ``R`` draws from ``q`` are the samples handed to the M-step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from inference.errors import InferenceError
from inference.esteps import EStepResult
from inference.mh import LogDensityFn


class VariationalEStep:
    """Fine-tune ``encoder`` by Adam on the per-frame ELBO, then draw ``n_samples`` from ``q``.

    Args:
        encoder: ``encoder(encoder_input) -> (mean, log_variance)``, each ``(T, D)`` (or with
            leading dimensions matching the chains of the EM state).
        encoder_input: what the encoder reads (e.g. the observed power), fixed for the run.
        n_updates: Adam steps per E-step.
        lr: Adam learning rate (the optimizer persists across E-steps).
        n_samples: ``R``, draws from ``q`` returned for the M-step.
        n_elbo_samples: reparameterised draws per ELBO estimate.
    """

    def __init__(
        self,
        encoder: nn.Module,
        encoder_input: torch.Tensor,
        *,
        n_updates: int = 1,
        lr: float = 1e-3,
        n_samples: int = 10,
        n_elbo_samples: int = 1,
    ) -> None:
        if n_updates < 0 or n_samples < 1 or n_elbo_samples < 1:
            raise InferenceError("need n_updates >= 0, n_samples >= 1 and n_elbo_samples >= 1")
        self.encoder = encoder
        self.encoder_input = encoder_input
        self.n_updates = n_updates
        self.n_samples = n_samples
        self.n_elbo_samples = n_elbo_samples
        self.parameters = [p for p in encoder.parameters() if p.requires_grad]
        if not self.parameters:
            raise InferenceError("the encoder has no trainable parameters to fine-tune")
        self.optimizer = torch.optim.Adam(self.parameters, lr=lr)

    def _draw(
        self,
        mean: torch.Tensor,
        log_variance: torch.Tensor,
        n: int,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        noise = torch.randn(
            (n, *mean.shape), generator=generator, dtype=mean.dtype, device=mean.device
        )
        return mean + (0.5 * log_variance).exp() * noise

    def elbo(
        self, log_density_fn: LogDensityFn, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Per-frame ELBO estimate ``(..., T)`` (differentiable in the encoder's weights)."""
        mean, log_variance = self.encoder(self.encoder_input)
        z = self._draw(mean, log_variance, self.n_elbo_samples, generator)
        expected = log_density_fn(z).mean(0)
        entropy = 0.5 * (log_variance + 1.0 + math.log(2 * math.pi)).sum(-1)
        return expected + entropy

    def __call__(
        self,
        log_density_fn: LogDensityFn,
        position: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> EStepResult:
        elbo = None
        for _ in range(self.n_updates):
            with torch.enable_grad():
                elbo = self.elbo(log_density_fn, generator)
                grads = torch.autograd.grad(-elbo.sum(), self.parameters)
            for parameter, grad in zip(self.parameters, grads):
                parameter.grad = grad
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            mean, log_variance = self.encoder(self.encoder_input)
            samples = self._draw(mean, log_variance, self.n_samples, generator)
        info = {"elbo": None if elbo is None else float(elbo.detach().sum())}
        return EStepResult(samples, mean, None, None, info)
