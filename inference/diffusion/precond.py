"""EDM preconditioning of a raw network into a denoiser (Karras et al., 2022, Table 1).

With ``s = sigma`` and data standard deviation ``sd``::

    c_skip = sd^2 / (s^2 + sd^2)        c_out = s sd / sqrt(s^2 + sd^2)
    c_in   = 1 / sqrt(s^2 + sd^2)       c_noise = log(s) / 4
    D(x; s) = c_skip x + c_out F(c_in x; c_noise)

and the training loss ``lambda(s) ||D(x0 + s eps; s) - x0||^2`` with
``lambda(s) = (s^2 + sd^2) / (s sd)^2`` and ``log s ~ N(P_mean, P_std^2)``.

Networks trained in another parametrisation join through :class:`VPEpsDenoiser` (VP noise
prediction) and :class:`OUVEScoreDenoiser` (SGMSE+-style OUVE score).

Every per-sample noise level is brought to the batch the one way of :mod:`.protocol`:
``sigma_vector(x, sigma)`` (a number or a ``(B,)`` tensor -> ``(B,)`` in ``x``'s real dtype) and
``batch_view(v, x)`` (``(B,)`` -> ``(B, 1, ..., 1)``, broadcasting against ``x``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .protocol import batch_view, sigma_vector
from .schedules import OUVE, vp_scale, vp_time


def edm_coefficients(
    sigma: torch.Tensor, sigma_data: float
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

    def forward(
        self, x: torch.Tensor, sigma: torch.Tensor | float, cond: Any = None
    ) -> torch.Tensor:
        c_skip, c_out, c_in, c_noise = edm_coefficients(sigma_vector(x, sigma), self.sigma_data)
        out = self.net(batch_view(c_in, x) * x, c_noise, cond)
        return batch_view(c_skip, x) * x + batch_view(c_out, x) * out.to(x.dtype)


def edm_loss(
    denoiser: EDMDenoiser,
    x0: torch.Tensor,
    cond: Any = None,
    *,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Denoising score-matching loss of EDM, averaged over the batch (a scalar)."""
    b = x0.shape[0]
    log_sigma = p_mean + p_std * torch.randn(
        b, device=x0.device, dtype=x0.dtype, generator=generator
    )
    sigma = log_sigma.exp()
    noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    x = x0 + batch_view(sigma, x0) * noise
    weight = (sigma.square() + denoiser.sigma_data**2) / (sigma * denoiser.sigma_data).square()
    err = (denoiser(x, sigma, cond) - x0).square().flatten(1).mean(1)
    return (weight * err).mean()


class VPEpsDenoiser(nn.Module):
    """Use a variance-preserving noise-prediction network ``eps_net(x_vp, t, cond)`` (DDPM /
    Song et al., 2021, continuous ``t`` in ``[0, 1]``, linear ``beta``) as an EDM denoiser.

    The VP state is ``x_vp = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps = s x`` with
    ``s = 1 / sqrt(1 + sigma^2)`` and ``x = x0 + sigma eps``, hence
    ``D(x, sigma) = x - sigma eps_net(s x, t(sigma))`` with ``t = vp_time(sigma)``
    (Karras et al., 2022, Table 1, "VP" column).
    """

    def __init__(self, eps_net: nn.Module, beta_min: float = 0.1, beta_max: float = 20.0) -> None:
        super().__init__()
        self.eps_net = eps_net
        self.beta_min = float(beta_min)
        self.beta_max = float(beta_max)

    def forward(
        self, x: torch.Tensor, sigma: torch.Tensor | float, cond: Any = None
    ) -> torch.Tensor:
        sigma = sigma_vector(x, sigma)
        t = vp_time(sigma, self.beta_min, self.beta_max).to(sigma)
        scale = batch_view(vp_scale(sigma).to(sigma), x)
        eps = self.eps_net(scale * x, t, cond)
        return x - batch_view(sigma, x) * eps.to(x.dtype)


class OUVEScoreDenoiser(nn.Module):
    """Use a score network of the OUVE SDE (SGMSE+: ``score_net(x_t, t, cond)`` approximating
    ``grad log p_t(x_t)``, mean ``y``) as an EDM denoiser of ``x = (x_t - y) / s(t) + y``.

    With ``t = process.time(sigma)`` and ``s = exp(-gamma t)``: ``x_t = s (x - y) + y`` and the
    score in ``x`` is ``s`` times the score in ``x_t``, so
    ``D(x, sigma) = x + sigma^2 s score_net(x_t, t, cond)`` (see :class:`~.schedules.OUVE`).
    """

    def __init__(self, score_net: nn.Module, process: OUVE, y: torch.Tensor | float = 0.0) -> None:
        super().__init__()
        self.score_net = score_net
        self.process = process
        self.y = y

    def forward(
        self, x: torch.Tensor, sigma: torch.Tensor | float, cond: Any = None
    ) -> torch.Tensor:
        sigma = sigma_vector(x, sigma)
        t = self.process.time(sigma).to(sigma)
        s = batch_view(self.process.mean_scale(t).to(sigma), x)
        x_t = s * (x - self.y) + self.y
        score = self.score_net(x_t, t, cond).to(x.dtype)
        return x + batch_view(sigma, x).square() * s * score
