"""Synthetic frames with a known low-dimensional structure, for tests, benchmarks and teaching.

    u_t ~ N(0, I_k)                                  k latent factors
    log sigma2_ft = sum_j A_fj u_tj + b_f            A smooth across frequency, b a spectral tilt
    p_ft = sigma2_ft E_ft,   E_ft ~ Exp(1)           the power of s_ft ~ N_c(0, sigma2_ft)
    v_td = sigmoid(sum_j B_dj u_tj + eta_td)         lips, j < k_visual only; eta ~ N(0, 0.3^2)

so the power spectrum is exactly the generative model of the VAE family with a k-dimensional
latent, and the lips carry part of that latent (the first ``visual_factors`` factors), as the
mouth carries part of the information of speech.
"""

from __future__ import annotations

import torch

from avgen.models.vae.frames import FrameTensors
from avgen.seeding import torch_generator


def synthetic_frames(
    n_frames: int,
    *,
    n_freq: int = 513,
    lip_dim: int = 64,
    factors: int = 4,
    visual_factors: int | None = None,
    spread: float = 1.5,
    seed: int = 0,
    structure_seed: int = 1234,
) -> FrameTensors:
    """``n_frames`` frames of power and lips; ``structure_seed`` fixes ``A``, ``B``, ``b`` (share
    it between a training and a validation set), ``seed`` the frames."""
    visual_factors = factors if visual_factors is None else visual_factors
    g = torch_generator(structure_seed)
    freq = torch.linspace(0, 1, n_freq)
    # smooth loadings: random combinations of a few cosines across frequency
    basis = torch.stack([torch.cos(torch.pi * m * freq) for m in range(1, 7)], dim=1)  # (F, 6)
    a = basis @ torch.randn(6, factors, generator=g)
    a = spread * a / a.std(0, keepdim=True)
    b = 2.0 - 6.0 * freq
    lip_load = torch.randn(lip_dim, visual_factors, generator=g) * 1.5
    g = torch_generator(seed)
    u = torch.randn(n_frames, factors, generator=g)
    variance = torch.exp(u @ a.T + b)
    power = variance * torch.empty(n_frames, n_freq).exponential_(1.0, generator=g)
    pixels = u[:, :visual_factors] @ lip_load.T + 0.3 * torch.randn(n_frames, lip_dim, generator=g)
    return FrameTensors(power=power, lips=torch.sigmoid(pixels))
