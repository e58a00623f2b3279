"""Monte-Carlo E-steps for :func:`inference.em.run_em`: Metropolis-Hastings and Langevin.

An E-step is a value with BlackJAX's shape: its settings are fixed at construction, its state
is explicit, passed in and returned (no attribute changes behind the caller's back)::

    state = e_step.init(position)                                # EStepState
    state, result = e_step.step(state, log_density_fn, generator) # -> EStepResult

``log_density_fn`` is the per-frame log joint ``log p(x_t, z_t; theta_k)`` at the current
parameters (a new function at every EM iteration), ``state.position`` ``(..., T, D)`` is where
the chains are (the end of the previous E-step: chains are continued across iterations, as in
the MCEM algorithms of Leglaive et al. 2018 and Sadeghi et al. 2020), ``state.step_size`` the
step size in use (adapted by an E-step that adapts it), and the result carries ``R`` retained
samples ``(R, ..., T, D)`` for the M-step. Two E-steps with different settings can share one
state: the final, longer run of an enhancement continues the EM iterations' chains with their
adapted step sizes. The variational E-step (:class:`inference.vem.VariationalEStep`) follows
the same protocol (:class:`EStep`), its encoder weights and optimiser moments in
``state.extra``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch

from inference.adaptation import DualAveraging
from inference.chain import RWM, ULA, Kernel, run_chain
from inference.errors import InferenceError
from inference.langevin import GradEstimator, sgld_init, sgld_step
from inference.mh import LogDensityFn

GradEstimatorFactory = Callable[[LogDensityFn], GradEstimator]
"""``factory(log_density_fn) -> grad_estimator(position, generator)`` (unbiased gradient)."""


class EStepState(NamedTuple):
    """What an E-step carries from one EM iteration to the next.

    Attributes:
        position: ``(..., T, D)`` where the chains are.
        step_size: the step size in use (a number, or per frame ``(T,)`` once adapted), or
            ``None`` for E-steps without one.
        extra: the E-step's own carried state (e.g. a variational E-step's encoder weights and
            optimiser moments), or ``None``.
    """

    position: torch.Tensor
    step_size: float | torch.Tensor | None = None
    extra: Any = None


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


@runtime_checkable
class EStep(Protocol):
    """The protocol every E-step follows (MH, Langevin, variational, or a user's own).

    ``name`` names the scheme in reports; :meth:`describe` says in one line what it does with
    which settings (the truth about what ran, for reports).
    """

    name: str

    def init(self, position: torch.Tensor) -> EStepState: ...

    def step(
        self,
        state: EStepState,
        log_density_fn: LogDensityFn,
        generator: torch.Generator | None = None,
    ) -> tuple[EStepState, EStepResult]: ...

    def describe(self) -> str: ...


def _check_counts(n_steps: int, burn_in: int, keep_every: int) -> None:
    if n_steps < 1 or burn_in < 0 or keep_every < 1 or n_steps - burn_in < keep_every:
        raise InferenceError(
            f"need n_steps >= 1, burn_in >= 0, keep_every >= 1 and at least one retained "
            f"sample; got n_steps={n_steps}, burn_in={burn_in}, keep_every={keep_every}"
        )


class ChainEStep:
    """Any kernel of :mod:`inference.chain` as an E-step: ``n_steps`` of :func:`run_chain` per
    EM iteration from where the chains are, ``burn_in`` discarded, every ``keep_every``-th
    position kept for the M-step.

    ``adapt`` (accept/reject kernels only) adapts the per-frame step size by dual averaging in
    each burn-in and returns it in the state, so the next E-step starts from it; ``step_decay``
    applies the SGLD schedule ``eps_i = eps_0 (1 + i)^(-gamma/2)`` within each E-step.
    """

    def __init__(
        self,
        kernel: Kernel,
        *,
        n_steps: int = 40,
        burn_in: int = 30,
        step_size: float | torch.Tensor = 0.1,
        keep_every: int = 1,
        adapt: DualAveraging | None = None,
        step_decay: float | None = None,
    ) -> None:
        _check_counts(n_steps, burn_in, keep_every)
        if adapt is not None and kernel.target_acceptance is None:
            raise InferenceError(f"kernel {kernel.name!r} has no accept/reject step to adapt on")
        self.kernel = kernel
        self.name = kernel.name
        self.n_steps = n_steps
        self.burn_in = burn_in
        self.keep_every = keep_every
        self.step_size = step_size
        self.adapt = adapt
        self.step_decay = step_decay

    def init(self, position: torch.Tensor) -> EStepState:
        return EStepState(position, self.step_size)

    def kernel_for(self, log_density_fn: LogDensityFn) -> Kernel:
        """The kernel run at this EM iteration (a stochastic-gradient kernel binds its gradient
        estimator to the iteration's density here)."""
        return self.kernel

    def step(
        self,
        state: EStepState,
        log_density_fn: LogDensityFn,
        generator: torch.Generator | None = None,
    ) -> tuple[EStepState, EStepResult]:
        result = run_chain(
            self.kernel_for(log_density_fn),
            state.position,
            log_density_fn,
            n_steps=self.n_steps,
            step_size=state.step_size,
            burn_in=self.burn_in,
            keep_every=self.keep_every,
            adapt=self.adapt,
            step_decay=self.step_decay,
            generator=generator,
        )
        position = result.state.position
        step_size = result.step_size if self.adapt is not None else state.step_size
        rate = result.acceptance_rate
        out = EStepResult(
            result.samples,
            position,
            None if rate is None else float(rate.mean()),
            rate,
            {"step_size": result.step_size},
        )
        return EStepState(position, step_size, state.extra), out

    def describe(self) -> str:
        size = "per frame" if isinstance(self.step_size, torch.Tensor) else f"{self.step_size:g}"
        text = f"{self.name} per frame, step size {size}"
        if self.adapt is not None:
            text += f" adapted by dual averaging to acceptance {self.adapt.target:g} in burn-in"
        if self.step_decay is not None:
            text += f" decaying as (1 + i)^-{self.step_decay / 2:g}"
        return (
            f"{text}, {self.n_steps} steps of which {self.burn_in} burn-in, every "
            f"{self.keep_every} kept"
        )


class MHEStep(ChainEStep):
    """Per-frame Metropolis-Hastings E-step (RWM by default, or MALA).

    The papers' schedule is the default: 40 steps of which 30 burn-in (R = 10 retained), proposal
    standard deviation 0.1 (variance 0.01).
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
        super().__init__(
            kernel,
            n_steps=n_steps,
            burn_in=burn_in,
            step_size=step_size,
            keep_every=keep_every,
            adapt=adapt,
        )


class LangevinEStep(ChainEStep):
    """Langevin-dynamics E-step ("LDEM"): unadjusted Langevin steps, no accept/reject.

    With ``grad_estimator=None`` the exact gradient of ``log_density_fn`` is used (ULA);
    otherwise ``grad_estimator(log_density_fn)`` must return a function
    ``(position, generator) -> unbiased gradient estimate`` (SGLD). ``step_decay`` = ``gamma``
    applies the SGLD schedule within the E-step (``None``: constant step).
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
        super().__init__(
            ULA,
            n_steps=n_steps,
            burn_in=burn_in,
            step_size=step_size,
            keep_every=keep_every,
            step_decay=step_decay,
        )
        self.grad_estimator = grad_estimator
        if grad_estimator is not None:
            self.name = "sgld"

    def kernel_for(self, log_density_fn: LogDensityFn) -> Kernel:
        if self.grad_estimator is None:
            return ULA
        estimator = self.grad_estimator(log_density_fn)
        return Kernel(
            "sgld",
            lambda position, _fn: sgld_init(position),
            lambda state, _fn, step, generator: sgld_step(state, estimator, step, generator),
            None,
        )
