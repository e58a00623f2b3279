"""The denoiser contract shared by every sampler, guidance and likelihood in this package.

Parametrisation (Karras et al., 2022, "Elucidating the Design Space of Diffusion-Based
Generative Models", EDM): clean data ``x0`` and noisy states

    x = x0 + sigma * eps,        eps ~ N(0, I),

so ``sigma`` is the noise standard deviation of a variance-exploding process. A *denoiser* returns
the minimum-mean-square-error estimate ``D(x, sigma) = E[x0 | x]``; by Tweedie's formula the score
of the noisy marginal ``p_sigma`` is

    grad_x log p_sigma(x) = (D(x, sigma) - x) / sigma**2.

Calling convention (what every sampler in ``inference.diffusion`` does, and what a network
wrapper must accept): ``denoiser(x, sigma, cond)`` with

* ``x``: a tensor ``(B, ...)`` (real; complex tensors are treated as pairs of reals),
* ``sigma``: a tensor of shape ``(B,)`` on ``x``'s device with ``x``'s real dtype,
* ``cond``: whatever conditioning object the model takes, passed through untouched
  (``None`` for an unconditional model),

returning a tensor shaped like ``x``. :class:`~inference.diffusion.precond.EDMDenoiser` satisfies
it.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

Params = dict[str, Any]
"""Likelihood/operator parameters threaded through posterior sampling (e.g. NMF factors)."""


class Denoiser(Protocol):
    """``D(x, sigma, cond=None) -> x0_hat``, an estimate of ``E[x0 | x0 + sigma eps = x]``."""

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, cond: Any = None) -> torch.Tensor: ...


def real_dtype(x: torch.Tensor) -> torch.dtype:
    """The real dtype matching ``x`` (``float32`` for ``complex64``)."""
    return x.real.dtype if x.is_complex() else x.dtype


def sigma_vector(x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """``sigma`` as the ``(B,)`` tensor a denoiser receives for the batch ``x``."""
    return torch.as_tensor(sigma, dtype=real_dtype(x), device=x.device).expand(x.shape[0])


def batch_view(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a per-sample ``(B,)`` tensor so that it broadcasts against ``x`` ``(B, ...)``."""
    return v.reshape((-1,) + (1,) * (x.ndim - 1))


def score_from_denoiser(
    denoiser: Denoiser, x: torch.Tensor, sigma: float | torch.Tensor, cond: Any = None
) -> torch.Tensor:
    """Tweedie: ``grad_x log p_sigma(x) = (D(x, sigma) - x) / sigma^2`` (``sigma > 0``)."""
    s = sigma_vector(x, sigma)
    return (denoiser(x, s, cond) - x) / batch_view(s, x).square()


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn from ``generator``.

    For complex ``x`` the real and imaginary parts are *independent N(0, 1)* (the real-pair
    convention of this package: ``x = x0 + sigma eps`` holds for ``torch.view_as_real(x)``), not
    ``torch.randn``'s complex normal of total variance 1. Draws the same numbers as
    ``torch.randn`` of the real view, so sampling a complex tensor equals sampling its real view.
    """
    if x.is_complex():
        z = torch.randn((*x.shape, 2), generator=generator, dtype=real_dtype(x), device=x.device)
        return torch.view_as_complex(z)
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def batch_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample real inner product ``<a, b>`` over all but the first dimension -> ``(B,)``."""
    if a.is_complex():
        a = torch.view_as_real(a)
    if b.is_complex():
        b = torch.view_as_real(b)
    return (a * b).flatten(1).sum(1)


def batch_norm(a: torch.Tensor) -> torch.Tensor:
    """Per-sample Euclidean norm over all but the first dimension -> ``(B,)``."""
    return batch_dot(a, a).sqrt()
