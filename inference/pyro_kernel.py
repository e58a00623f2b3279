"""A per-frame kernel exposed as a ``pyro.infer.mcmc.MCMCKernel``, to run under ``pyro.infer.MCMC``.

``PerFrameKernel(model, site="z")`` samples the latent site ``site`` (inside the plate
``"frames"``) of a Pyro model with :data:`~inference.chain.RWM` or :data:`~inference.chain.MALA`,
accepting per frame, adapting one step size per frame during Pyro's warm-up (dual averaging),
and freezing the averaged step size after it. The per-frame log density comes from
:func:`inference.traces.per_frame_log_density` (or pass ``log_density_fn`` directly, e.g. a fused
one, with ``initial_position``)::

    kernel = PerFrameKernel(model, site="z", kernel=RWM)
    mcmc = pyro.infer.MCMC(kernel, num_samples=500, warmup_steps=200)
    mcmc.run(*model_args)
    z = mcmc.get_samples()["z"]          # (500, T, D)

Chains inside one Pyro chain: give ``initial_position`` a leading chain dimension; all chains
then advance together (``MCMC(num_chains=...)`` would instead start separate processes).
The latent must be real-valued (unconstrained support); ``transforms`` is empty.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pyro
import pyro.distributions.constraints as constraints
import pyro.poutine as poutine
import torch
from pyro.infer.mcmc.mcmc_kernel import MCMCKernel

from inference.adaptation import (
    DualAveraging,
    as_step_size,
    current_step_size,
    dual_averaging_init,
    dual_averaging_update,
    final_step_size,
)
from inference.chain import RWM, Kernel
from inference.errors import InferenceError
from inference.mh import LogDensityFn
from inference.traces import FRAMES, per_frame_log_density


class PerFrameKernel(MCMCKernel):
    """Per-frame MH (RWM or MALA) on one latent site, as a Pyro ``MCMCKernel``.

    Args:
        model: Pyro model with the latent ``site`` in plate ``frames`` (or ``None`` when
            ``log_density_fn`` and ``initial_position`` are given).
        site: name of the latent sample site (the key in Pyro's ``params`` dicts).
        kernel: :data:`~inference.chain.RWM` or :data:`~inference.chain.MALA`.
        step_size: initial step size (float or per-frame tensor).
        adapt: dual-averaging settings; default targets ``kernel.target_acceptance``.
        log_density_fn: per-frame log density to use instead of tracing ``model``.
        initial_position: starting position; default: a draw of ``site`` from the model.
        frames: name of the frame plate.
        generator: source of randomness of the kernel's steps.
    """

    def __init__(
        self,
        model: Callable[..., Any] | None = None,
        site: str = "z",
        *,
        kernel: Kernel = RWM,
        step_size: float | torch.Tensor = 0.1,
        adapt: DualAveraging | None = None,
        log_density_fn: LogDensityFn | None = None,
        initial_position: torch.Tensor | None = None,
        frames: str = FRAMES,
        generator: torch.Generator | None = None,
    ) -> None:
        if kernel.target_acceptance is None:
            raise InferenceError(
                f"kernel {kernel.name!r} has no accept/reject step; use RWM or MALA"
            )
        if model is None and (log_density_fn is None or initial_position is None):
            raise InferenceError("give a model, or both log_density_fn and initial_position")
        self.model = model
        self.site = site
        self.kernel = kernel
        self.step_size = step_size
        self.adapt = adapt if adapt is not None else DualAveraging(kernel.target_acceptance)
        self.frames = frames
        self.generator = generator
        self.transforms: dict = {}
        self._log_density_fn = log_density_fn
        self._initial_position = initial_position
        self._state: Any = None
        self._step: torch.Tensor | None = None
        self._adaptation: Any = None
        self._warmup_steps = 0
        self._t = 0
        self._accept_sum: torch.Tensor | None = None
        self._accept_count = 0

    def _draw_initial_position(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        trace = poutine.trace(self.model).get_trace(*args, **kwargs)
        if self.site not in trace.nodes:
            raise InferenceError(f"the model has no sample site {self.site!r}")
        node = trace.nodes[self.site]
        if (
            node["fn"].support is not constraints.real
            and getattr(node["fn"].support, "base_constraint", None) is not constraints.real
        ):
            raise InferenceError(f"site {self.site!r} must be real-valued for PerFrameKernel")
        return node["value"].detach()

    def setup(self, warmup_steps: int, *args: Any, **kwargs: Any) -> None:
        with poutine.block():
            if self._log_density_fn is None:
                self._log_density_fn = per_frame_log_density(
                    self.model, self.site, *args, frames=self.frames, **kwargs
                )
            if self._initial_position is None:
                self._initial_position = self._draw_initial_position(*args, **kwargs)
        self._warmup_steps = warmup_steps
        self._t = 0
        self._accept_sum = None
        self._accept_count = 0
        self._state = self.kernel.init(self._initial_position, self._log_density_fn)
        self._step = as_step_size(self.step_size, self._initial_position)
        if self._step.dim() == 0:  # one step size per frame
            self._step = self._step.expand(self._initial_position.shape[-2]).clone()
        self._adaptation = dual_averaging_init(self._step) if warmup_steps > 0 else None

    @property
    def chain_shape(self) -> tuple[int, ...]:
        """The chains run inside one Pyro chain: the initial position's shape left of
        ``(T, D)`` (``()`` for one chain; known after ``setup`` when drawn from the model)."""
        position = self._initial_position
        return () if position is None else tuple(position.shape[:-2])

    @property
    def initial_params(self) -> dict[str, torch.Tensor]:
        return {self.site: self._initial_position}

    @initial_params.setter
    def initial_params(self, params: dict[str, torch.Tensor]) -> None:
        self._initial_position = params[self.site]

    def sample(self, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        position = params[self.site]
        if position is not self._state.position:
            self._state = self.kernel.init(position, self._log_density_fn)
        with pyro.validation_enabled(False):
            self._state, info = self.kernel.step(
                self._state, self._log_density_fn, self._step, self.generator
            )
        if self._t < self._warmup_steps:
            self._adaptation = dual_averaging_update(
                self._adaptation, info.acceptance_prob, self.adapt
            )
            last = self._t == self._warmup_steps - 1
            self._step = (final_step_size if last else current_step_size)(self._adaptation)
        else:
            accept = info.acceptance_prob
            self._accept_sum = (
                accept.clone() if self._accept_sum is None else self._accept_sum.add_(accept)
            )
            self._accept_count += 1
        self._t += 1
        return {self.site: self._state.position}

    @property
    def acceptance_rate(self) -> torch.Tensor | None:
        """Per-frame mean acceptance probability after warm-up, ``(..., T)``."""
        if self._accept_sum is None:
            return None
        return self._accept_sum / self._accept_count

    def logging(self) -> OrderedDict:
        step = float(self._step.mean()) if self._step is not None else float("nan")
        rate = self.acceptance_rate
        return OrderedDict(
            [
                ("step size", f"{step:.2e}"),
                ("acc. prob", "n/a" if rate is None else f"{float(rate.mean()):.3f}"),
            ]
        )

    def diagnostics(self) -> dict[str, Any]:
        """What ``MCMC.diagnostics()`` and ``az.from_pyro`` read: ``divergences`` (indices of
        divergent draws, always empty: Metropolis-Hastings has no trajectory to diverge) and
        the mean post-warm-up ``acceptance rate``."""
        rate = self.acceptance_rate
        return {
            "divergences": [],
            "acceptance rate": float("nan") if rate is None else float(rate.mean()),
        }
