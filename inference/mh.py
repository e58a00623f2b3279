"""Per-frame Metropolis-Hastings kernels: random walk (RWM) and Langevin-adjusted (MALA).

Targets are products of independent per-frame densities ``pi(z) = prod_t pi_t(z_t)``: a
position has shape ``(..., T, D)`` (chains on the left) and ``log_density_fn`` returns
``(..., T)``. Because the frames are independent, one batched step is ``T`` independent MH steps:
every frame accepts or rejects its own proposal (a joint accept/reject over all ``T`` frames,
as in ``pyro.infer.mcmc.RandomWalkKernel``, has an acceptance probability that decays
exponentially with ``T``).

Random-walk MH, step size ``eps_t`` (the proposal's standard deviation)::

    z'_t = z_t + eps_t xi_t,  xi_t ~ N(0, I_D)
    accept z'_t with probability  min(1, pi_t(z'_t) / pi_t(z_t))

MALA (Roberts & Tweedie, 1996)::

    z'_t = z_t + (eps_t^2 / 2) grad log pi_t(z_t) + eps_t xi_t
    log alpha_t = log pi_t(z'_t) - log pi_t(z_t) + log q(z_t | z'_t) - log q(z'_t | z_t)
    log q(a | b) = -|| a - b - (eps^2/2) grad log pi(b) ||^2 / (2 eps^2)  (+ const)

Kernels follow BlackJAX: ``init(position, log_density_fn) -> State`` and
``step(state, log_density_fn, step_size, generator) -> (State, Info)``. The state caches the
log density (and MALA's gradient), so a step costs ONE evaluation of ``log_density_fn`` (one
decoder call for a VAE). Randomness comes only from ``generator``: same seed, same samples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from inference.adaptation import as_step_size

LogDensityFn = Callable[[torch.Tensor], torch.Tensor]


class RWMState(NamedTuple):
    """Random-walk state: ``position`` ``(..., T, D)`` and its ``log_density`` ``(..., T)``."""

    position: torch.Tensor
    log_density: torch.Tensor


class MALAState(NamedTuple):
    """MALA state: position, cached log density and its gradient ``(..., T, D)``."""

    position: torch.Tensor
    log_density: torch.Tensor
    grad: torch.Tensor


class MHInfo(NamedTuple):
    """What one step did, per frame: acceptance probability, decision, proposal."""

    acceptance_prob: torch.Tensor
    is_accepted: torch.Tensor
    proposal: torch.Tensor


def _frame_step(step_size: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The step size as a tensor broadcastable to ``(..., T, 1)``."""
    step = as_step_size(step_size, like, check=False)
    return step.unsqueeze(-1) if step.dim() else step


def _noise(position: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(
        position.shape, generator=generator, dtype=position.dtype, device=position.device
    )


def _accept(
    log_ratio: torch.Tensor, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame MH decision from ``log_ratio``; NaN ratios (a failed proposal) reject."""
    uniform = torch.rand(
        log_ratio.shape, generator=generator, dtype=log_ratio.dtype, device=log_ratio.device
    )
    is_accepted = uniform.log_() < log_ratio
    acceptance_prob = log_ratio.clamp(max=0.0).exp_().nan_to_num_(0.0)
    return acceptance_prob, is_accepted


def value_and_grad(
    log_density_fn: LogDensityFn, position: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log_density_fn(z), grad_z sum(log_density_fn(z)))`` with ``z = position``.

    Frames and chains are independent, so the gradient of the sum is the per-frame gradient.
    Both outputs are detached.
    """
    with torch.enable_grad():
        z = position.detach().requires_grad_(True)
        log_density = log_density_fn(z)
        (grad,) = torch.autograd.grad(log_density.sum(), z)
    return log_density.detach(), grad


@torch.no_grad()
def rwm_init(position: torch.Tensor, log_density_fn: LogDensityFn) -> RWMState:
    """Random-walk state at ``position`` (one evaluation of ``log_density_fn``)."""
    return RWMState(position, log_density_fn(position))


@torch.no_grad()
def rwm_step(
    state: RWMState,
    log_density_fn: LogDensityFn,
    step_size: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[RWMState, MHInfo]:
    """One random-walk MH step in every frame (and chain), accepted frame by frame.

    ``step_size`` is the proposal standard deviation: a float or a tensor broadcastable to
    ``(..., T)`` (one per frame, e.g. from :mod:`inference.adaptation`).
    """
    position = state.position
    step = _frame_step(step_size, position)
    proposal = torch.addcmul(position, step, _noise(position, generator))
    proposal_log_density = log_density_fn(proposal)
    acceptance_prob, is_accepted = _accept(proposal_log_density - state.log_density, generator)
    new_state = RWMState(
        torch.where(is_accepted.unsqueeze(-1), proposal, position),
        torch.where(is_accepted, proposal_log_density, state.log_density),
    )
    return new_state, MHInfo(acceptance_prob, is_accepted, proposal)


def mala_init(position: torch.Tensor, log_density_fn: LogDensityFn) -> MALAState:
    """MALA state at ``position`` (one evaluation with gradient)."""
    log_density, grad = value_and_grad(log_density_fn, position)
    return MALAState(position.detach(), log_density, grad)


def mala_log_proposal(
    to: torch.Tensor, origin: torch.Tensor, origin_grad: torch.Tensor, step: torch.Tensor
) -> torch.Tensor:
    """``log q(to | origin)`` up to a constant that cancels: ``(..., T, D) -> (..., T)``."""
    drift = torch.addcmul(origin, step.square().mul(0.5), origin_grad)
    return (to - drift).div_(step).square_().sum(-1).mul_(-0.5)


@torch.no_grad()
def mala_step(
    state: MALAState,
    log_density_fn: LogDensityFn,
    step_size: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[MALAState, MHInfo]:
    """One MALA step in every frame, with the Hastings correction, accepted frame by frame."""
    position = state.position
    step = _frame_step(step_size, position)
    noise = _noise(position, generator)
    half_step2 = step.square().mul(0.5)
    proposal = torch.addcmul(position, half_step2, state.grad).addcmul_(step, noise)
    proposal_log_density, proposal_grad = value_and_grad(log_density_fn, proposal)
    # log q(z'|z) = -||xi||^2 / 2 exactly; log q(z|z') from the reverse drift.
    log_forward = noise.square().sum(-1).mul(-0.5)
    log_backward = mala_log_proposal(position, proposal, proposal_grad, step)
    log_ratio = proposal_log_density - state.log_density + log_backward - log_forward
    acceptance_prob, is_accepted = _accept(log_ratio, generator)
    keep = is_accepted.unsqueeze(-1)
    new_state = MALAState(
        torch.where(keep, proposal, position),
        torch.where(is_accepted, proposal_log_density, state.log_density),
        torch.where(keep, proposal_grad, state.grad),
    )
    return new_state, MHInfo(acceptance_prob, is_accepted, proposal)
