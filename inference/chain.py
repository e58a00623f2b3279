"""Running a kernel: warm-up with per-frame adaptation, burn-in, thinning, sample storage.

A :class:`Kernel` bundles a kernel's ``init`` and ``step`` functions (BlackJAX's
``SamplingAlgorithm``) so that samplers are swapped by passing a different value: ``RWM``,
``MALA`` or ``ULA``. :func:`run_chain` drives any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from inference.adaptation import (
    DualAveraging,
    as_step_size,
    current_step_size,
    dual_averaging_init,
    dual_averaging_update,
    final_step_size,
)
from inference.errors import InferenceError
from inference.langevin import ula_init, ula_step
from inference.mh import LogDensityFn, mala_init, mala_step, rwm_init, rwm_step


class Kernel(NamedTuple):
    """A sampler as a pair of plain functions plus its usual target acceptance.

    ``init(position, log_density_fn) -> state``;
    ``step(state, log_density_fn, step_size, generator) -> (state, info)``. States have
    ``position`` and ``log_density`` fields; infos of Metropolis-Hastings kernels have
    ``acceptance_prob`` ``(..., T)``. ``target_acceptance`` is ``None`` for kernels without an
    accept/reject step (they cannot adapt on acceptance).
    """

    name: str
    init: Callable[[torch.Tensor, LogDensityFn], Any]
    step: Callable[..., tuple[Any, Any]]
    target_acceptance: float | None


RWM = Kernel("rwm", rwm_init, rwm_step, 0.3)
MALA = Kernel("mala", mala_init, mala_step, 0.6)
ULA = Kernel("ula", ula_init, ula_step, None)


def kernel_by_name(name: str) -> Kernel:
    """``"rwm"``, ``"mala"`` or ``"ula"`` -> the :class:`Kernel`."""
    for kernel in (RWM, MALA, ULA):
        if kernel.name == name:
            return kernel
    raise InferenceError(f"unknown kernel {name!r}; choose one of 'rwm', 'mala', 'ula'")


class ChainResult(NamedTuple):
    """Output of :func:`run_chain`.

    Attributes:
        samples: ``(S, ..., T, D)`` retained positions, in order.
        state: the final kernel state (continue from it with the same log density).
        acceptance_rate: ``(..., T)`` mean acceptance probability over the steps after burn-in
            (over all steps when there are none), or ``None`` for unadjusted kernels.
        step_size: the step size in use at the end (adapted, if adaptation ran).
    """

    samples: torch.Tensor
    state: Any
    acceptance_rate: torch.Tensor | None
    step_size: torch.Tensor


ChainCallback = Callable[[int, Any, Any], None]
"""``callback(step_index, state, info)``, called after every step (e.g. a progress bar)."""


def run_chain(
    kernel: Kernel,
    start: torch.Tensor | Any,
    log_density_fn: LogDensityFn,
    *,
    n_steps: int,
    step_size: float | torch.Tensor,
    burn_in: int = 0,
    keep_every: int = 1,
    adapt: DualAveraging | None = None,
    generator: torch.Generator | None = None,
    callback: ChainCallback | None = None,
    step_decay: float | None = None,
) -> ChainResult:
    """Run ``n_steps`` of ``kernel``; adapt during the first ``burn_in``; keep every
    ``keep_every``-th position after it.

    Args:
        kernel: e.g. :data:`RWM`, :data:`MALA`, :data:`ULA`.
        start: a position ``(..., T, D)`` (initialised with ``kernel.init``) or a state from a
            previous run with the *same* ``log_density_fn`` (its cached density is reused).
        log_density_fn: per-frame log density ``(..., T, D) -> (..., T)``.
        n_steps: total number of steps.
        step_size: float or tensor broadcastable to ``(..., T)``; e.g. shape ``(T,)`` shares one
            step size per frame across chains (adaptation then pools their acceptances). With
            ``adapt``, a single number is expanded to one step size per frame, ``(T,)``.
        burn_in: steps discarded at the start; adaptation, if any, happens there and the
            averaged step size is frozen afterwards.
        keep_every: thinning of the retained positions.
        adapt: dual-averaging settings (``DualAveraging(target=...)``), or ``None``.
        generator: the only source of randomness.
        callback: called after every step.
        step_decay: ``gamma`` of the SGLD schedule ``eps_i = eps (1 + i)^(-gamma / 2)``
            within the run (``None``: constant step; not with ``adapt``).
    """
    if n_steps < 1 or burn_in < 0 or burn_in > n_steps or keep_every < 1:
        raise InferenceError(
            f"need n_steps >= 1, 0 <= burn_in <= n_steps and keep_every >= 1; "
            f"got {n_steps}, {burn_in}, {keep_every}"
        )
    state = kernel.init(start, log_density_fn) if isinstance(start, torch.Tensor) else start
    position = state.position
    step = as_step_size(step_size, position)
    adaptation = None
    if adapt is not None:
        if kernel.target_acceptance is None:
            raise InferenceError(f"kernel {kernel.name!r} has no accept/reject step to adapt on")
        if burn_in == 0:
            raise InferenceError("step-size adaptation runs during burn-in: set burn_in > 0")
        if step.dim() == 0:
            step = step.expand(position.shape[-2]).clone()
        adaptation = dual_averaging_init(step)
    n_kept = (n_steps - burn_in) // keep_every
    samples = position.new_empty((n_kept, *position.shape))
    acceptance_sum: torch.Tensor | None = None
    n_counted = 0
    count_from = burn_in if n_steps > burn_in else 0
    kept = 0
    if step_decay is not None and adaptation is not None:
        raise InferenceError("step_decay and adapt do not go together: choose one")
    for i in range(n_steps):
        step_i = step if step_decay is None else step * (1.0 + i) ** (-step_decay / 2)
        state, info = kernel.step(state, log_density_fn, step_i, generator)
        acceptance = getattr(info, "acceptance_prob", None)
        if adaptation is not None and i < burn_in:
            adaptation = dual_averaging_update(adaptation, acceptance, adapt)
            step = current_step_size(adaptation) if i < burn_in - 1 else final_step_size(adaptation)
        if acceptance is not None and i >= count_from:
            acceptance_sum = (
                acceptance.clone() if acceptance_sum is None else acceptance_sum.add_(acceptance)
            )
            n_counted += 1
        if i >= burn_in and (i - burn_in + 1) % keep_every == 0 and kept < n_kept:
            samples[kept] = state.position
            kept += 1
        if callback is not None:
            callback(i, state, info)
    acceptance_rate = None if acceptance_sum is None else acceptance_sum / n_counted
    return ChainResult(samples, state, acceptance_rate, step)
