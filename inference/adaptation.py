"""Per-frame step-size adaptation by dual averaging (Nesterov, 2009; Hoffman & Gelman, 2014).

Each frame (each element of the step-size tensor) runs its own stochastic-approximation scheme
on ``log eps`` so that the mean acceptance probability approaches a target ``delta``::

    H_t       = (1 - 1/(t + t0)) H_{t-1} + (delta - a_t) / (t + t0)
    log eps_t = mu - sqrt(t) / gamma * H_t
    log eps~_t = t^-kappa log eps_t + (1 - t^-kappa) log eps~_{t-1}

with ``mu = log(10 eps_0)``, ``a_t`` the acceptance probability of step ``t``, and the averaged
``eps~`` used after warm-up. Frames with different posterior scales thus get different step
sizes, which a single global step size (Pyro's ``RandomWalkKernel``) cannot do.

Targets: about 0.234 for random-walk MH and 0.574 for MALA in high dimension (Roberts &
Rosenthal, 2001); for the low-dimensional per-frame targets here 0.3-0.45 (RWM) and 0.6-0.7
(MALA) are reasonable.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from inference.errors import InferenceError


class DualAveragingState(NamedTuple):
    """State of per-element dual averaging; all tensors share the step-size shape."""

    log_step_size: torch.Tensor
    log_step_size_avg: torch.Tensor
    error_avg: torch.Tensor
    mu: torch.Tensor
    count: int


class DualAveraging(NamedTuple):
    """Hyper-parameters (Hoffman & Gelman's defaults) and the target acceptance probability."""

    target: float = 0.3
    gamma: float = 0.05
    t0: float = 10.0
    kappa: float = 0.75


def as_step_size(
    step_size: float | torch.Tensor, like: torch.Tensor, *, check: bool = True
) -> torch.Tensor:
    """``step_size`` as a tensor on ``like``'s device and dtype.

    A Python number is always checked; a tensor only with ``check=True`` (the check syncs with
    the device, so kernels' hot loops skip it and drivers check once).
    """
    if isinstance(step_size, torch.Tensor):
        step = step_size.to(dtype=like.dtype, device=like.device)
        if not check:
            return step
    else:
        step = torch.tensor(float(step_size), dtype=like.dtype, device=like.device)
    if not bool(torch.all(step > 0)) or not bool(torch.all(torch.isfinite(step))):
        raise InferenceError("step_size must be positive and finite")
    return step


def dual_averaging_init(step_size: torch.Tensor) -> DualAveragingState:
    """Start adaptation from the step sizes ``step_size`` (one per frame, or any shape)."""
    log_step = step_size.log()
    zeros = torch.zeros_like(log_step)
    return DualAveragingState(log_step, zeros.clone(), zeros, log_step + math.log(10.0), 0)


def _reduce_to(acceptance: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Average ``acceptance`` over the dimensions that ``shape`` broadcasts."""
    extra = acceptance.dim() - len(shape)
    if extra < 0:
        raise InferenceError(
            f"acceptance of shape {tuple(acceptance.shape)} cannot be reduced "
            f"to step-size shape {tuple(shape)}"
        )
    out = acceptance.mean(dim=tuple(range(extra))) if extra else acceptance
    dims = tuple(i for i, size in enumerate(shape) if size == 1 and out.shape[i] != 1)
    if dims:
        out = out.mean(dim=dims, keepdim=True)
    return out


def dual_averaging_update(
    state: DualAveragingState, acceptance_prob: torch.Tensor, params: DualAveraging
) -> DualAveragingState:
    """One adaptation step from the acceptance probabilities of the last kernel step.

    ``acceptance_prob`` has the kernel's per-frame shape ``(..., T)``; it is averaged over the
    chain dimensions that the step size is shared across (e.g. a ``(T,)`` step size pools
    the chains of each frame).
    """
    accept = _reduce_to(acceptance_prob.nan_to_num(0.0), state.log_step_size.shape)
    count = state.count + 1
    weight = 1.0 / (count + params.t0)
    error_avg = (1.0 - weight) * state.error_avg + weight * (params.target - accept)
    log_step = state.mu - math.sqrt(count) / params.gamma * error_avg
    eta = count ** (-params.kappa)
    log_step_avg = eta * log_step + (1.0 - eta) * state.log_step_size_avg
    return DualAveragingState(log_step, log_step_avg, error_avg, state.mu, count)


def current_step_size(state: DualAveragingState) -> torch.Tensor:
    """The step size to use at the next warm-up step."""
    return state.log_step_size.exp()


def final_step_size(state: DualAveragingState) -> torch.Tensor:
    """The averaged step size ``eps~`` to freeze after warm-up."""
    if state.count == 0:
        return state.log_step_size.exp()
    return state.log_step_size_avg.exp()
