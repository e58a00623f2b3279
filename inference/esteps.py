"""Monte-Carlo E-steps for :func:`inference.em.run_em`: Metropolis-Hastings and Langevin.

Every E-step has the same call signature, so a Monte-Carlo EM composition swaps them freely::

    result = e_step(log_density_fn, position, generator)    # -> EStepResult

``log_density_fn`` is the per-frame log joint ``log p(x_t, z_t; theta_k)`` at the current
parameters (a new function at every EM iteration), ``position`` ``(..., T, D)`` is where the
chains start (the end of the previous E-step: chains are continued across iterations, as in the
MCEM algorithms of Leglaive et al. 2018 and Sadeghi et al. 2020), and the result carries ``R``
retained samples ``(R, ..., T, D)`` for the M-step. The variational E-step
(:class:`inference.vem.VariationalEStep`) has the same signature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from inference.adaptation import DualAveraging, as_step_size
from inference.chain import RWM, Kernel, run_chain
from inference.errors import InferenceError
from inference.langevin import GradEstimator, sgld_init, sgld_step, ula_init, ula_step
from inference.mh import LogDensityFn

GradEstimatorFactory = Callable[[LogDensityFn], GradEstimator]
"""``factory(log_density_fn) -> grad_estimator(position, generator)`` (unbiased gradient)."""


class EStepResult(NamedTuple):
    """Output of an E-step.

    Attributes:
        samples: ``(R, ..., T, D)`` draws approximately from ``p(z | x; theta_k)``.
        position: ``(..., T, D)`` where the next E-step's chains start.
        acceptance_rate: mean acceptance probability over frames and chains (``None`` for
            kernels without accept/reject).
        frame_acceptance: per-frame acceptance ``(..., T)`` or ``None``.
        info: anything else worth logging (e.g. the ELBO of a variational E-step).
    """

    samples: torch.Tensor
    position: torch.Tensor
    acceptance_rate: float | None
    frame_acceptance: torch.Tensor | None
    info: dict


class MHEStep:
    """Per-frame Metropolis-Hastings E-step (RWM by default, or MALA).

    The papers' schedule is the default: 40 steps of which 30 burn-in (R = 10 retained), proposal
    standard deviation 0.1 (variance 0.01). With ``adapt`` set, the per-frame step size is
    adapted by dual averaging during each burn-in and carried over to the next E-step
    (``self.step_size`` holds it).
    """

    def __init__(
        self,
        kernel: Kernel = RWM,
        *,
        n_steps: int = 40,
        burn_in: int = 30,
        step_size: float | torch.Tensor = 0.1,
        keep_every: int = 1,
        adapt: DualAveraging | None = None,
    ) -> None:
        if kernel.target_acceptance is None:
            raise InferenceError(
                f"MHEStep needs an accept/reject kernel; got {kernel.name!r} (use LangevinEStep)"
            )
        if n_steps - burn_in < keep_every:
            raise InferenceError("n_steps - burn_in must leave at least one retained sample")
        self.kernel = kernel
        self.n_steps = n_steps
        self.burn_in = burn_in
        self.keep_every = keep_every
        self.adapt = adapt
        self.step_size = step_size

    def __call__(
        self,
        log_density_fn: LogDensityFn,
        position: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> EStepResult:
        result = run_chain(
            self.kernel,
            position,
            log_density_fn,
            n_steps=self.n_steps,
            step_size=self.step_size,
            burn_in=self.burn_in,
            keep_every=self.keep_every,
            adapt=self.adapt,
            generator=generator,
        )
        if self.adapt is not None:
            self.step_size = result.step_size
        rate = result.acceptance_rate
        return EStepResult(
            result.samples,
            result.state.position,
            float(rate.mean()),
            rate,
            {"step_size": result.step_size},
        )


class LangevinEStep:
    """Langevin-dynamics E-step ("LDEM"): unadjusted Langevin steps, no accept/reject.

    With ``grad_estimator=None`` the exact gradient of ``log_density_fn`` is used (ULA);
    otherwise ``grad_estimator(log_density_fn)`` must return a function
    ``(position, generator) -> unbiased gradient estimate`` (SGLD). ``step_decay`` = ``gamma``
    applies the SGLD schedule ``eps_i = eps_0 (1 + i)^(-gamma/2)`` within the E-step
    (``None``: constant step).
    """

    def __init__(
        self,
        *,
        n_steps: int = 40,
        burn_in: int = 30,
        step_size: float | torch.Tensor = 0.05,
        keep_every: int = 1,
        step_decay: float | None = None,
        grad_estimator: GradEstimatorFactory | None = None,
    ) -> None:
        if n_steps < 1 or burn_in < 0 or n_steps - burn_in < keep_every or keep_every < 1:
            raise InferenceError("need n_steps >= 1, burn_in >= 0 and at least one retained sample")
        self.n_steps = n_steps
        self.burn_in = burn_in
        self.keep_every = keep_every
        self.step_size = step_size
        self.step_decay = step_decay
        self.grad_estimator = grad_estimator

    def __call__(
        self,
        log_density_fn: LogDensityFn,
        position: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> EStepResult:
        step0 = as_step_size(self.step_size, position)
        n_kept = (self.n_steps - self.burn_in) // self.keep_every
        samples = position.new_empty((n_kept, *position.shape))
        if self.grad_estimator is None:
            state = ula_init(position, log_density_fn)
        else:
            estimator: GradEstimator = self.grad_estimator(log_density_fn)
            state = sgld_init(position)
        kept = 0
        for i in range(self.n_steps):
            step = step0 if self.step_decay is None else step0 * (1.0 + i) ** (-self.step_decay / 2)
            if self.grad_estimator is None:
                state, _ = ula_step(state, log_density_fn, step, generator)
            else:
                state, _ = sgld_step(state, estimator, step, generator)
            if (
                i >= self.burn_in
                and (i - self.burn_in + 1) % self.keep_every == 0
                and kept < n_kept
            ):
                samples[kept] = state.position
                kept += 1
        return EStepResult(samples, state.position, None, None, {"step_size": step0})
