"""Checkerboard Metropolis-Hastings on the latent trajectory of a first-order Markov model.

Target: ``p(z_{0:T-1} | x) ∝ prod_t p(x_t | z_t) p(z_t | z_{t-1})`` (``p(z_0 | z_{-1}) := p(z_0)``),
e.g. a deep Kalman filter or any state-space model. The frames are no longer independent, so
the per-frame kernels of :mod:`inference.mh` are not exact here. But the full conditional of
``z_t`` involves its Markov blanket only,

    log p(z_t | z_{-t}, x) = log p(x_t | z_t) + log p(z_t | z_{t-1}) + log p(z_{t+1} | z_t) + c,

and frames of the same parity do not share a blanket: given the odd frames, the even frames
are conditionally independent (and vice versa). One step is therefore two exact, vectorised
half-sweeps (a deterministic-scan Gibbs sampler whose blocks are updated by MH):

1. propose ``z'_t = z_t + eps_t xi_t`` at every even ``t`` at once; accept each with
   ``min(1, exp(Delta_t))``, ``Delta_t`` the change of its blanket log density;
2. the same for the odd frames, given the updated even ones.

Each half-sweep leaves ``p(z | x)`` invariant (independent MH steps on conditionally independent
blocks), hence so does the step.

The model is given by a function ``terms_fn(z) -> MarkovTerms`` with, per frame, the emission
``log p(x_t | z_t)`` and the transition ``log p(z_t | z_{t-1})`` (``(..., T)`` each; position
``(..., T, D)``, chains on the left). The state caches both, so a step costs exactly TWO
evaluations of ``terms_fn`` (one per half-sweep): after a half-sweep the cached terms are exact,
because the proposal differs from the position at one parity only and so every transition term
``log p(z_t | z_{t-1})`` involves at most one changed frame.

Kernels follow :mod:`inference.mh` (BlackJAX): ``checkerboard_init(position, terms_fn)`` and
``checkerboard_step(state, terms_fn, step_size, generator)``; :data:`CHECKERBOARD_RWM` bundles
them as an :class:`inference.chain.Kernel`, so :func:`inference.chain.run_chain` (with per-frame
step-size adaptation) and :class:`inference.esteps.ChainEStep` drive it unchanged, with
``terms_fn`` in place of a per-frame log density.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from inference.adaptation import as_step_size
from inference.chain import Kernel
from inference.errors import InferenceError


class MarkovTerms(NamedTuple):
    """Per-frame log densities of a first-order Markov latent model, ``(..., T)`` each.

    Attributes:
        emission: ``log p(x_t | z_t)``.
        transition: ``log p(z_t | z_{t-1})``; at ``t = 0`` the initial ``log p(z_0)``.
    """

    emission: torch.Tensor
    transition: torch.Tensor


MarkovTermsFn = Callable[[torch.Tensor], MarkovTerms]


class CheckerboardState(NamedTuple):
    """Position ``(..., T, D)`` with its cached :class:`MarkovTerms`, and ``log_density`` =
    their per-frame blanket log density (:func:`blanket_log_density`)."""

    position: torch.Tensor
    emission: torch.Tensor
    transition: torch.Tensor

    @property
    def log_density(self) -> torch.Tensor:
        return blanket_log_density(MarkovTerms(self.emission, self.transition))


class CheckerboardInfo(NamedTuple):
    """Per frame (each frame is proposed once per step): acceptance probability, decision,
    and the proposed position."""

    acceptance_prob: torch.Tensor
    is_accepted: torch.Tensor
    proposal: torch.Tensor


def _next(values: torch.Tensor) -> torch.Tensor:
    """``out[..., t] = values[..., t + 1]``, ``0`` at the last frame."""
    return torch.nn.functional.pad(values[..., 1:], (0, 1))


def blanket_log_density(terms: MarkovTerms) -> torch.Tensor:
    """Markov-blanket log density per frame, ``(..., T)``:
    ``log p(x_t | z_t) + log p(z_t | z_{t-1}) + log p(z_{t+1} | z_t)`` (no last term at the end).

    As a function of ``z_t`` with the other frames fixed it is the full conditional up to a
    constant; summed over frames it is NOT the log joint (transitions count twice)."""
    return terms.emission + terms.transition + _next(terms.transition)


def joint_log_density(terms: MarkovTerms) -> torch.Tensor:
    """``log p(x, z)`` of each trajectory, ``(...)``: the sum of emissions and transitions."""
    return (terms.emission + terms.transition).sum(-1)


def parity_mask(n_frames: int, parity: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean ``(T,)``: ``True`` at frames ``t`` with ``t % 2 == parity``."""
    return torch.arange(n_frames, device=device).remainder(2) == parity


def _check_terms(terms: MarkovTerms, position: torch.Tensor) -> MarkovTerms:
    if not isinstance(terms, MarkovTerms):
        raise InferenceError(
            "a checkerboard kernel needs terms_fn(z) -> MarkovTerms(emission, transition); got "
            f"{type(terms).__name__}"
        )
    shape = position.shape[:-1]
    if terms.emission.shape != shape or terms.transition.shape != shape:
        raise InferenceError(
            f"terms_fn must return (..., T) = {tuple(shape)} terms; got emission "
            f"{tuple(terms.emission.shape)}, transition {tuple(terms.transition.shape)}"
        )
    return terms


@torch.no_grad()
def checkerboard_init(position: torch.Tensor, terms_fn: MarkovTermsFn) -> CheckerboardState:
    """State at ``position`` ``(..., T, D)`` (one evaluation of ``terms_fn``)."""
    terms = _check_terms(terms_fn(position), position)
    return CheckerboardState(position, terms.emission, terms.transition)


def _half_sweep(
    state: CheckerboardState,
    terms_fn: MarkovTermsFn,
    step: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator | None,
) -> tuple[CheckerboardState, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random-walk MH on the frames in ``mask`` (one parity), each accepted on its blanket."""
    position = state.position
    noise = torch.randn(
        position.shape, generator=generator, dtype=position.dtype, device=position.device
    )
    moved = mask.unsqueeze(-1)
    proposal = torch.where(moved, torch.addcmul(position, step, noise), position)
    terms = _check_terms(terms_fn(proposal), position)
    d_emission = terms.emission - state.emission
    d_transition = terms.transition - state.transition
    log_ratio = d_emission + d_transition + _next(d_transition)
    uniform = torch.rand(
        log_ratio.shape, generator=generator, dtype=log_ratio.dtype, device=log_ratio.device
    )
    is_accepted = (uniform.log_() < log_ratio) & mask  # NaN ratios reject
    acceptance_prob = log_ratio.clamp(max=0.0).exp_().nan_to_num_(0.0)
    # transition t involves z_{t-1} and z_t, of which at most one was proposed.
    previous_accepted = torch.nn.functional.pad(is_accepted[..., :-1], (1, 0))
    new_state = CheckerboardState(
        torch.where(is_accepted.unsqueeze(-1), proposal, position),
        torch.where(is_accepted, terms.emission, state.emission),
        torch.where(is_accepted | previous_accepted, terms.transition, state.transition),
    )
    return new_state, acceptance_prob, is_accepted, proposal


@torch.no_grad()
def checkerboard_step(
    state: CheckerboardState,
    terms_fn: MarkovTermsFn,
    step_size: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[CheckerboardState, CheckerboardInfo]:
    """One sweep: random-walk MH on all even frames at once, then on all odd frames.

    ``step_size`` is the proposal standard deviation, a float or a tensor broadcastable to
    ``(..., T)`` (one per frame, e.g. adapted by :func:`inference.chain.run_chain`).
    """
    position = state.position
    step = as_step_size(step_size, position, check=False)
    step = step.unsqueeze(-1) if step.dim() else step
    n_frames = position.shape[-2]
    even = parity_mask(n_frames, 0, position.device)
    state, prob_even, acc_even, prop_even = _half_sweep(state, terms_fn, step, even, generator)
    state, prob_odd, acc_odd, prop_odd = _half_sweep(state, terms_fn, step, ~even, generator)
    info = CheckerboardInfo(
        torch.where(even, prob_even, prob_odd),
        torch.where(even, acc_even, acc_odd),
        torch.where(even.unsqueeze(-1), prop_even, prop_odd),
    )
    return state, info


CHECKERBOARD_RWM = Kernel("checkerboard-rwm", checkerboard_init, checkerboard_step, 0.3)
"""The checkerboard random-walk kernel for :func:`inference.chain.run_chain` and
:class:`inference.esteps.ChainEStep` (pass ``terms_fn`` as the log density)."""
