"""Unadjusted and stochastic-gradient Langevin kernels (per frame, no accept/reject).

The overdamped Langevin diffusion ``dz = (1/2) grad log pi(z) dt + dW`` has ``pi`` as its
stationary law. Its Euler-Maruyama discretisation with step ``eps^2``,

    z' = z + (eps^2 / 2) grad log pi(z) + eps xi,   xi ~ N(0, I),

is the unadjusted Langevin algorithm (ULA; Roberts & Tweedie, 1996): MALA's proposal without the
Metropolis correction. Its stationary law is ``pi`` only up to an ``O(eps^2)`` bias, in exchange
for no rejections and a cheap step. In Monte-Carlo EM it gives the Langevin-dynamics EM ("LDEM")
E-step of the VAE speech-enhancement literature (a few Langevin steps per EM iteration, chains
continued across iterations).

Stochastic-gradient Langevin dynamics (SGLD; Welling & Teh, 2011) replaces the gradient by an
unbiased estimate ``g(z)`` (e.g. from a subsample of the data) and uses decreasing step sizes
``eps_t^2 = a (b + t)^-gamma`` (``gamma`` in (0.5, 1]) so that the discretisation bias vanishes.

Shapes and conventions are those of :mod:`inference.mh`: position ``(..., T, D)``, per-frame
log density ``(..., T)``, step size = noise standard deviation, broadcastable to ``(..., T)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from inference.adaptation import as_step_size
from inference.mh import LogDensityFn, value_and_grad

GradEstimator = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]
"""``g(position, generator)``: an unbiased estimate of ``grad log pi``, shape of position."""


class LangevinState(NamedTuple):
    """ULA state: position, cached per-frame log density and gradient."""

    position: torch.Tensor
    log_density: torch.Tensor
    grad: torch.Tensor


class SGLDState(NamedTuple):
    """SGLD state: only the position (the gradient is re-estimated at every step)."""

    position: torch.Tensor


class LangevinInfo(NamedTuple):
    """Per-frame size of the move ``||z' - z||`` (a cheap sign of divergence)."""

    move_norm: torch.Tensor


def _frame_step(step_size: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    step = as_step_size(step_size, like, check=False)
    return step.unsqueeze(-1) if step.dim() else step


def _langevin_move(
    position: torch.Tensor,
    grad: torch.Tensor,
    step: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    noise = torch.randn(
        position.shape, generator=generator, dtype=position.dtype, device=position.device
    )
    return torch.addcmul(position, step.square().mul(0.5), grad).addcmul_(step, noise)


def ula_init(position: torch.Tensor, log_density_fn: LogDensityFn) -> LangevinState:
    """ULA state at ``position`` (one evaluation with gradient)."""
    log_density, grad = value_and_grad(log_density_fn, position)
    return LangevinState(position.detach(), log_density, grad)


@torch.no_grad()
def ula_step(
    state: LangevinState,
    log_density_fn: LogDensityFn,
    step_size: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[LangevinState, LangevinInfo]:
    """One unadjusted Langevin step in every frame (always moves)."""
    step = _frame_step(step_size, state.position)
    position = _langevin_move(state.position, state.grad, step, generator)
    log_density, grad = value_and_grad(log_density_fn, position)
    info = LangevinInfo((position - state.position).norm(dim=-1))
    return LangevinState(position, log_density, grad), info


def sgld_init(position: torch.Tensor) -> SGLDState:
    """SGLD state at ``position``."""
    return SGLDState(position.detach())


@torch.no_grad()
def sgld_step(
    state: SGLDState,
    grad_estimator: GradEstimator,
    step_size: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[SGLDState, LangevinInfo]:
    """One SGLD step: a Langevin move with a stochastic gradient ``grad_estimator``."""
    step = _frame_step(step_size, state.position)
    with torch.enable_grad():
        grad = grad_estimator(state.position, generator)
    position = _langevin_move(state.position, grad.detach(), step, generator)
    return SGLDState(position), LangevinInfo((position - state.position).norm(dim=-1))


def polynomial_step_sizes(
    initial: float, n_steps: int, gamma: float = 0.55, offset: float = 1.0
) -> torch.Tensor:
    """SGLD schedule ``eps_t = initial * (offset / (offset + t))^(gamma/2)``, ``t = 0..n-1``.

    Welling & Teh's ``eps_t^2 = a (b + t)^-gamma`` written for the standard-deviation
    convention used here; ``sum eps_t^2 = inf`` and ``sum eps_t^4 < inf`` for ``gamma`` in
    (0.5, 1].
    """
    t = torch.arange(n_steps, dtype=torch.float64)
    return (initial * (offset / (offset + t)) ** (gamma / 2)).to(torch.get_default_dtype())
