"""EDM preconditioning of a raw network into a denoiser (Karras et al., 2022, Table 1).

With ``s = sigma`` and data standard deviation ``sd``::

    c_skip = sd^2 / (s^2 + sd^2)        c_out = s sd / sqrt(s^2 + sd^2)
    c_in   = 1 / sqrt(s^2 + sd^2)       c_noise = log(s) / 4
    D(x; s) = c_skip x + c_out F(c_in x; c_noise)

and the training loss ``lambda(s) ||D(x0 + s eps; s) - x0||^2`` with
``lambda(s) = (s^2 + sd^2) / (s sd)^2`` and ``log s ~ N(P_mean, P_std^2)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def edm_coefficients(sigma: torch.Tensor, sigma_data: float
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(c_skip, c_out, c_in, c_noise)`` for noise levels ``sigma`` (any shape)."""
    s2 = sigma.square()
    sd2 = sigma_data**2
    c_skip = sd2 / (s2 + sd2)
    c_out = sigma * sigma_data / (s2 + sd2).sqrt()
    c_in = 1.0 / (s2 + sd2).sqrt()
    c_noise = sigma.log() / 4.0
    return c_skip, c_out, c_in, c_noise


class EDMDenoiser(nn.Module):
    """Wrap a network ``net(x_in, c_noise, cond) -> F`` (shape of ``x``) as an EDM denoiser.

    ``forward(x, sigma, cond=None)`` takes ``sigma`` of shape ``(B,)`` (or a scalar) and
    returns ``D(x; sigma)``.
    """

    def __init__(self, net: nn.Module, sigma_data: float = 0.5) -> None:
        super().__init__()
        self.net = net
        self.sigma_data = float(sigma_data)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, cond: Any = None
                ) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sigma.ndim == 0:
            sigma = sigma.expand(x.shape[0])
        shape = (-1,) + (1,) * (x.ndim - 1)
        c_skip, c_out, c_in, c_noise = edm_coefficients(sigma, self.sigma_data)
        out = self.net(c_in.reshape(shape) * x, c_noise, cond)
        return c_skip.reshape(shape) * x + c_out.reshape(shape) * out.to(x.dtype)


def edm_loss(denoiser: EDMDenoiser, x0: torch.Tensor, cond: Any = None, *,
             p_mean: float = -1.2, p_std: float = 1.2,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Denoising score-matching loss of EDM, averaged over the batch (a scalar)."""
    b = x0.shape[0]
    log_sigma = p_mean + p_std * torch.randn(b, device=x0.device, dtype=x0.dtype,
                                             generator=generator)
    sigma = log_sigma.exp()
    noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    shape = (-1,) + (1,) * (x0.ndim - 1)
    x = x0 + sigma.reshape(shape) * noise
    weight = (sigma.square() + denoiser.sigma_data**2) / (sigma * denoiser.sigma_data).square()
    err = (denoiser(x, sigma, cond) - x0).square().flatten(1).mean(1)
    return (weight * err).mean()
