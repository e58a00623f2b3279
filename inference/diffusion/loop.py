"""The generic reverse-process loop shared by every sampler, with its hooks.

A sampler is a *step* function with one signature (in the spirit of BlackJAX kernels and
k-diffusion's one-function-per-sampler)::

    step(denoiser, x, sigma, sigma_next, *, generator, cond, state, **options)
        -> (x_next, StepInfo, state)

moving a batch ``x`` from noise level ``sigma`` to ``sigma_next`` (Python floats, descending).
``state`` carries what a multistep method remembers (``None`` on the first step). Because all
steps look alike, :func:`run_sampler` can interleave, at every step and for any sampler:

* a **likelihood** (:class:`LikelihoodHook`) that turns the prior denoiser into a posterior one
  (``guide``: score-based guidance, exact for linear-Gaussian observations) and/or corrects the
  step afterwards through the denoiser's gradient (``correct``: DPS);
* **M-steps**: ``m_step(x0_hat, params, event) -> params`` called after each step with the
  current estimate of the clean data (EM inside the reverse process, UDiffSE; joint operator
  estimation, BUDDy); the returned ``params`` are what the likelihood sees from the next step on;
* a **callback** ``callback(event)`` for progress or tracing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import torch

from ..errors import InferenceError
from .protocol import Denoiser, Params
from .schedules import check_sigmas


class StepInfo(NamedTuple):
    """What one step reports besides its result.

    ``x0_hat`` is the (posterior) denoiser output at the step's first evaluation, taken at
    ``x_eval`` and noise level ``sigma_eval`` (``x`` and ``sigma`` unless the step added churn
    noise first). For gradient-based likelihood corrections it stays attached to the graph of the
    step's input. ``n_evals`` counts the denoiser calls of the step.
    """

    x0_hat: torch.Tensor
    x_eval: torch.Tensor
    sigma_eval: float
    n_evals: int


class Step(Protocol):
    """The shared step signature (see the module docstring)."""

    def __call__(
        self,
        denoiser: Denoiser,
        x: torch.Tensor,
        sigma: float,
        sigma_next: float,
        *,
        generator: torch.Generator | None,
        cond: Any,
        state: Any,
        **options: Any,
    ) -> tuple[torch.Tensor, StepInfo, Any]: ...


class StepEvent(NamedTuple):
    """Passed to callbacks and M-steps after step ``index`` (of ``n_steps``)."""

    index: int
    n_steps: int
    sigma: float
    sigma_next: float
    x: torch.Tensor
    x_next: torch.Tensor
    info: StepInfo
    params: Params


class LikelihoodHook(Protocol):
    """How an observation enters the reverse process.

    ``guide(denoiser, params)`` returns the denoiser the step uses: for score-based guidance the
    *posterior* denoiser ``D(x, s) + s^2 grad_x log p(y | x; s)``; else ``denoiser`` itself.
    ``correct(x, x_next, info, sigma, sigma_next, params)`` may move the step's result (DPS); it is
    called with grad enabled, ``x`` a leaf requiring grad and ``info.x0_hat`` attached to it, when
    ``requires_grad`` is true.
    """

    requires_grad: bool

    def guide(self, denoiser: Denoiser, params: Params) -> Denoiser: ...

    def correct(
        self,
        x: torch.Tensor,
        x_next: torch.Tensor,
        info: StepInfo,
        sigma: float,
        sigma_next: float,
        params: Params,
    ) -> torch.Tensor: ...


MStep = Callable[[torch.Tensor, Params, StepEvent], Params]
Callback = Callable[[StepEvent], None]


class SampleResult(NamedTuple):
    """Output of :func:`run_sampler`: the final state, the last ``x0_hat``, the final
    likelihood parameters and the number of denoiser evaluations."""

    x: torch.Tensor
    x0_hat: torch.Tensor
    params: Params
    n_evals: int


def autocast_denoiser(denoiser: Denoiser, dtype: torch.dtype | None = None) -> Denoiser:
    """Run ``denoiser`` under CUDA autocast (mixed precision) and cast its output back to the
    input's dtype. Inputs on any other device pass through unchanged, so code that asks for
    autocast runs identically on CPU. ``dtype`` defaults to bfloat16 where the GPU supports it,
    else float16."""

    def wrapped(x: torch.Tensor, sigma: torch.Tensor, cond: Any = None) -> torch.Tensor:
        if x.device.type != "cuda":
            return denoiser(x, sigma, cond)
        amp = dtype
        if amp is None:
            amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        with torch.autocast(device_type="cuda", dtype=amp):
            out = denoiser(x, sigma, cond)
        return out.to(x.dtype)

    return wrapped


def _detached(info: StepInfo) -> StepInfo:
    return info._replace(x0_hat=info.x0_hat.detach(), x_eval=info.x_eval.detach())


def run_sampler(
    step: Step,
    denoiser: Denoiser,
    x_T: torch.Tensor,
    sigmas: torch.Tensor | Sequence[float],
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    likelihood: LikelihoodHook | None = None,
    params: Params | None = None,
    m_steps: Sequence[MStep] = (),
    callback: Callback | None = None,
    autocast: bool | torch.dtype = False,
    options: dict[str, Any] | None = None,
) -> SampleResult:
    """Integrate the reverse process from ``x_T`` (at ``sigmas[0]``) down the schedule.

    ``x_T`` must already be at noise level ``sigmas[0]`` (e.g. ``sigmas[0] * randn``); its device
    and dtype are those of the whole computation, and ``generator`` must live on the same device.
    ``options`` go to every ``step`` call. ``autocast`` (True or a dtype) runs the denoiser in
    mixed precision on CUDA; elsewhere it is a no-op. Gradients are only tracked where a
    likelihood needs them; the returned tensors are detached.
    """
    levels = check_sigmas(sigmas)
    if x_T.ndim < 1 or x_T.shape[0] < 1:
        raise InferenceError(
            f"x_T must be a batch (B, ...) with B >= 1, got shape {tuple(x_T.shape)}"
        )
    if not (x_T.is_floating_point() or x_T.is_complex()):
        raise InferenceError(f"x_T must be a floating-point or complex tensor, got {x_T.dtype}")
    options = dict(options or {})
    params = dict(params or {})
    prior = (
        autocast_denoiser(denoiser, None if autocast is True else autocast)
        if autocast
        else denoiser
    )
    n_steps = len(levels) - 1
    x = x_T.detach()
    state: Any = None
    x0_hat = x
    n_evals = 0
    for i in range(n_steps):
        sigma, sigma_next = levels[i], levels[i + 1]
        active = prior if likelihood is None else likelihood.guide(prior, params)
        needs_grad = likelihood is not None and likelihood.requires_grad
        grad_mode = torch.enable_grad() if needs_grad else torch.no_grad()
        with grad_mode:
            x_in = x.detach().requires_grad_(True) if needs_grad else x
            x_next, info, state = step(
                active,
                x_in,
                sigma,
                sigma_next,
                generator=generator,
                cond=cond,
                state=state,
                **options,
            )
            if needs_grad:
                x_next = likelihood.correct(x_in, x_next.detach(), info, sigma, sigma_next, params)
        x_next = x_next.detach()
        info = _detached(info)
        n_evals += info.n_evals
        x0_hat = info.x0_hat
        event = StepEvent(i, n_steps, sigma, sigma_next, x.detach(), x_next, info, params)
        for m_step in m_steps:
            params = dict(m_step(x0_hat, params, event))
            event = event._replace(params=params)
        if callback is not None:
            callback(event)
        x = x_next
    return SampleResult(x, x0_hat, params, n_evals)
