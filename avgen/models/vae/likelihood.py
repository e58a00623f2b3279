"""Per-frame log densities of the speech model's observation, s_ft | z_t ~ N_c(0, sigma2_f(z_t)).

Two equivalent forms (Leglaive, Girin & Horaud 2018; Sadeghi et al. 2020):

* the circularly-symmetric complex Gaussian on the STFT coefficient ``s`` itself,

      log N_c(s; 0, v) = -log(pi v) - |s|^2 / v,

  which equals two real Normals ``N(0, v/2)`` on ``(Re s, Im s)``: the exact form and the
  test oracle (DESIGN.md);
* the Exponential on the power ``p = |s|^2`` with rate ``1/v``,

      log Exp(p; 1/v) = -log v - p / v,

  the density of ``|s|^2`` when the phase is uniform. The two differ by ``log(pi)`` per bin
  (the Jacobian of the polar change of variables), so the gradients in every parameter are the
  same. The Pyro models of :mod:`avgen.models.vae` observe the power with the Exponential
  (half the cost, no phase needed for training), and every ELBO avgen reports is in these
  units: nats per frame of the power spectrogram. Add ``-F log(pi)`` per frame for the
  complex-Gaussian convention.

Layout: frames-major, ``(..., T, F)``; the sum runs over frequency, one value per frame.
"""

from __future__ import annotations

import math

import torch

LOG_PI = math.log(math.pi)


def exponential_log_likelihood(power: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """``sum_f [-log v_f - p_f / v_f]``: ``(..., T, F)`` -> ``(..., T)``."""
    return -(torch.log(variance) + power / variance).sum(-1)


def exponential_log_likelihood_from_log_variance(
    power: torch.Tensor, log_variance: torch.Tensor
) -> torch.Tensor:
    """The same from ``log v`` (what the decoder outputs): ``-sum_f [log v + p e^{-log v}]``."""
    return -(log_variance + power * torch.exp(-log_variance)).sum(-1)


def complex_gaussian_log_likelihood(spec: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """Exact ``sum_f log N_c(s_f; 0, v_f)`` for complex ``spec`` ``(..., T, F)`` -> ``(..., T)``."""
    if not torch.is_complex(spec):
        raise TypeError("complex_gaussian_log_likelihood needs a complex STFT tensor")
    return -(LOG_PI + torch.log(variance) + spec.abs().square() / variance).sum(-1)
