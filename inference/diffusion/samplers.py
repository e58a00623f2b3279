"""Reverse-process samplers: one small step function each, one shared signature.

All work in the EDM parametrisation ``x = x0 + sigma eps`` (see :mod:`.protocol`), with the
denoiser ``D`` and ``d = (x - D(x, sigma)) / sigma = -sigma * score``. The probability-flow ODE is
``dx/dsigma = d`` and the reverse SDE (VE, Song et al., 2021) is
``dx = -d(sigma^2) * score + sqrt(d(sigma^2)) dw`` run backwards. Steps:

* :func:`euler_step` -- Euler on the probability-flow ODE (Karras et al., 2022, Alg. 1 without
  the 2nd-order correction): ``x' = x + (sigma' - sigma) d``. First order.
* :func:`heun_step` -- EDM's stochastic Heun sampler (Karras et al., 2022, Alg. 2): optional
  "churn" raises the level to ``sigma_hat = sigma (1 + gamma)`` by adding fresh noise
  ``sqrt(sigma_hat^2 - sigma^2) S_noise z``, then an Euler step to ``sigma'`` corrected by the
  trapezoidal rule (Heun) unless ``sigma' = 0``. Second order when ``gamma = 0``.
* :func:`pc_step` -- predictor-corrector (Song et al., 2021, Alg. 2): Euler-Maruyama on the reverse
  SDE, ``x' = x + (sigma^2 - sigma'^2) score + sqrt(sigma^2 - sigma'^2) z`` (= ``D(x)`` when
  ``sigma' = 0``), then ``n_corrector`` annealed Langevin steps at ``sigma'``:
  ``x' <- x' + eps score + sqrt(2 eps) z``, with ``eps = (snr sigma')^2`` (SGMSE+/UDiffSE's
  annealed Langevin corrector, ``step_rule="sigma"``, the default) or
  ``eps = 2 (snr ||z|| / ||score||)^2`` (Song et al., Alg. 4, ``step_rule="norm"``).
* :func:`ddim_step` -- DDIM (Song, Meng & Ermon, 2021) written in ``sigma``:
  ``x' = D + sqrt(sigma'^2 - sigma_up^2) (x - D) / sigma + sigma_up z`` with
  ``sigma_up = eta sigma' sqrt(sigma^2 - sigma'^2) / sigma``. ``eta = 0`` is deterministic DDIM
  (identical to Euler in this parametrisation, Karras et al., 2022, Sec. 3), ``eta = 1``
  ancestral DDPM sampling.
* :func:`dpmpp_2m_step` -- DPM-Solver++(2M) (Lu et al., 2022, Alg. 2): exponential integrator in
  ``lambda = -log sigma`` with ``h = log(sigma / sigma')``,
  ``x' = (sigma'/sigma) x + (1 - sigma'/sigma) D_eff``, where ``D_eff = D`` on the first and last
  steps and otherwise ``(1 + 1/(2r)) D - 1/(2r) D_prev`` with ``r = h_prev / h``. Second order.

``sample_<name>(denoiser, x_T, sigmas, *, generator=None, cond=None, callback=None, ...)``
runs a step through :func:`~.loop.run_sampler`; :data:`SAMPLERS` / :func:`get_sampler` find them
by name, and :meth:`Sampler.step_options` checks a sampler's options before a run. (A little over
300 lines of code: each sampler's step, option checks, ``sample_`` function and registry entry
stay side by side.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any, NamedTuple

import torch

from ..errors import SamplerOptionError, UnknownSamplerError
from .loop import Callback, SampleResult, Step, StepInfo, run_sampler
from .protocol import Denoiser, batch_norm, randn_like, sigma_vector

StepOutput = tuple[torch.Tensor, StepInfo, Any]


def _check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise SamplerOptionError(f"{name} must be a number, got {value!r}")


def _denoise(denoiser: Denoiser, x: torch.Tensor, sigma: float, cond: Any) -> torch.Tensor:
    return denoiser(x, sigma_vector(x, sigma), cond)


def euler_step(
    denoiser: Denoiser,
    x: torch.Tensor,
    sigma: float,
    sigma_next: float,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    state: Any = None,
) -> StepOutput:
    """Euler step of the probability-flow ODE ``dx/dsigma = (x - D(x, sigma)) / sigma``."""
    del generator
    x0_hat = _denoise(denoiser, x, sigma, cond)
    d = (x - x0_hat) / sigma
    x_next = x + (sigma_next - sigma) * d
    return x_next, StepInfo(x0_hat, x, sigma, 1), state


def heun_step(
    denoiser: Denoiser,
    x: torch.Tensor,
    sigma: float,
    sigma_next: float,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    state: Any = None,
    churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = math.inf,
    s_noise: float = 1.0,
) -> StepOutput:
    """EDM stochastic Heun step (Karras et al., 2022, Alg. 2).

    ``churn`` is EDM's per-step ``gamma_i`` (>= 0), applied only when
    ``s_tmin <= sigma <= s_tmax``; :func:`sample_heun` sets it from ``S_churn``.
    """
    if churn < 0:
        raise SamplerOptionError(f"churn must be >= 0, got {churn}")
    gamma = churn if s_tmin <= sigma <= s_tmax else 0.0
    sigma_hat = sigma * (1.0 + gamma)
    x_hat = x
    if gamma > 0:
        x_hat = x + math.sqrt(sigma_hat**2 - sigma**2) * s_noise * randn_like(x, generator)
    x0_hat = _denoise(denoiser, x_hat, sigma_hat, cond)
    d = (x_hat - x0_hat) / sigma_hat
    x_next = x_hat + (sigma_next - sigma_hat) * d
    n_evals = 1
    if sigma_next > 0:
        d_next = (x_next - _denoise(denoiser, x_next, sigma_next, cond)) / sigma_next
        x_next = x_hat + (sigma_next - sigma_hat) * 0.5 * (d + d_next)
        n_evals = 2
    return x_next, StepInfo(x0_hat, x_hat, sigma_hat, n_evals), state


def _langevin_step_size(
    score: torch.Tensor, noise: torch.Tensor, sigma: float, snr: float, step_rule: str
) -> torch.Tensor | float:
    """Langevin step ``eps`` of the annealed corrector.

    ``"sigma"``: ``(snr sigma)^2`` (SGMSE+'s annealed Langevin dynamics). ``"norm"``: Song et
    al.'s ``2 (snr ||z|| / ||score||)^2`` with both norms averaged over the batch, as in their
    code: it couples the chains of a batch, and per-sample norms would be unstable in low
    dimension, where ``||score||`` is often near 0.
    """
    if step_rule == "sigma":
        return (snr * sigma) ** 2
    tiny = torch.finfo(score.real.dtype).tiny
    ratio = batch_norm(noise).mean() / batch_norm(score).mean().clamp_min(tiny)
    return 2.0 * (snr * ratio).square()


def _check_pc(snr: float, n_corrector: int, step_rule: str) -> None:
    if step_rule not in ("norm", "sigma"):
        raise SamplerOptionError(f"step_rule must be 'norm' or 'sigma', got {step_rule!r}")
    _check_number("snr", snr)
    if isinstance(n_corrector, bool) or not isinstance(n_corrector, Integral):
        raise SamplerOptionError(f"n_corrector must be an integer, got {n_corrector!r}")
    if n_corrector < 0 or snr < 0:
        raise SamplerOptionError(f"need n_corrector >= 0 and snr >= 0, got {n_corrector}, {snr}")


def pc_step(
    denoiser: Denoiser,
    x: torch.Tensor,
    sigma: float,
    sigma_next: float,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    state: Any = None,
    snr: float = 0.16,
    n_corrector: int = 1,
    step_rule: str = "sigma",
) -> StepOutput:
    """Euler-Maruyama predictor on the reverse VE SDE + annealed Langevin corrector at
    ``sigma_next`` (Song et al., 2021). No corrector at ``sigma_next = 0``."""
    _check_pc(snr, n_corrector, step_rule)
    x0_hat = _denoise(denoiser, x, sigma, cond)
    var_step = sigma**2 - sigma_next**2
    x_next = x + (var_step / sigma**2) * (x0_hat - x)
    if sigma_next > 0:
        x_next = x_next + math.sqrt(var_step) * randn_like(x, generator)
    n_evals = 1
    if sigma_next > 0:
        for _ in range(n_corrector):
            score = (_denoise(denoiser, x_next, sigma_next, cond) - x_next) / sigma_next**2
            noise = randn_like(x, generator)
            eps = _langevin_step_size(score, noise, sigma_next, snr, step_rule)
            x_next = x_next + eps * score + (2.0 * eps) ** 0.5 * noise
            n_evals += 1
    return x_next, StepInfo(x0_hat, x, sigma, n_evals), state


def _check_eta(eta: float) -> None:
    _check_number("eta", eta)
    if eta < 0:
        raise SamplerOptionError(f"eta must be >= 0, got {eta}")


def ddim_step(
    denoiser: Denoiser,
    x: torch.Tensor,
    sigma: float,
    sigma_next: float,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    state: Any = None,
    eta: float = 0.0,
) -> StepOutput:
    """DDIM step (Song, Meng & Ermon, 2021) in the VE ``sigma`` parametrisation.

    ``eta = 0``: deterministic DDIM; ``eta = 1``: ancestral (DDPM) sampling.
    """
    _check_eta(eta)
    x0_hat = _denoise(denoiser, x, sigma, cond)
    if sigma_next == 0:
        return x0_hat, StepInfo(x0_hat, x, sigma, 1), state
    sigma_up = min(sigma_next, eta * sigma_next * math.sqrt(sigma**2 - sigma_next**2) / sigma)
    sigma_down = math.sqrt(sigma_next**2 - sigma_up**2)
    x_next = x0_hat + (sigma_down / sigma) * (x - x0_hat)
    if sigma_up > 0:
        x_next = x_next + sigma_up * randn_like(x, generator)
    return x_next, StepInfo(x0_hat, x, sigma, 1), state


class MultistepState(NamedTuple):
    """Memory of a multistep solver: the previous denoiser output and its noise level."""

    x0_hat: torch.Tensor
    sigma: float


def dpmpp_2m_step(
    denoiser: Denoiser,
    x: torch.Tensor,
    sigma: float,
    sigma_next: float,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    state: MultistepState | None = None,
) -> StepOutput:
    """DPM-Solver++(2M) step (Lu et al., 2022) in ``lambda = -log sigma``."""
    del generator
    x0_hat = _denoise(denoiser, x, sigma, cond)
    new_state = MultistepState(x0_hat.detach(), sigma)
    if sigma_next == 0:
        return x0_hat, StepInfo(x0_hat, x, sigma, 1), new_state
    h = math.log(sigma / sigma_next)
    x0_eff = x0_hat
    if state is not None:
        r = math.log(state.sigma / sigma) / h
        x0_eff = (1.0 + 0.5 / r) * x0_hat - (0.5 / r) * state.x0_hat
    ratio = sigma_next / sigma
    x_next = ratio * x + (1.0 - ratio) * x0_eff
    return x_next, StepInfo(x0_hat, x, sigma, 1), new_state


def _run(
    step: Step,
    denoiser: Denoiser,
    x_T: torch.Tensor,
    sigmas: Any,
    generator: torch.Generator | None,
    cond: Any,
    callback: Callback | None,
    loop_options: dict[str, Any],
    step_options: dict[str, Any],
) -> torch.Tensor:
    result: SampleResult = run_sampler(
        step,
        denoiser,
        x_T,
        sigmas,
        generator=generator,
        cond=cond,
        callback=callback,
        options=step_options,
        **loop_options,
    )
    return result.x


def sample_euler(
    denoiser: Denoiser,
    x_T: torch.Tensor,
    sigmas: Any,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    callback: Callback | None = None,
    **loop_options: Any,
) -> torch.Tensor:
    """Deterministic Euler sampler. ``loop_options`` go to :func:`~.loop.run_sampler`
    (``likelihood``, ``params``, ``m_steps``, ``autocast``)."""
    return _run(euler_step, denoiser, x_T, sigmas, generator, cond, callback, loop_options, {})


def _heun_options(
    n_steps: int,
    s_churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = math.inf,
    s_noise: float = 1.0,
) -> dict[str, Any]:
    for name, value in (("s_churn", s_churn), ("s_tmin", s_tmin), ("s_tmax", s_tmax)):
        _check_number(name, value)
    _check_number("s_noise", s_noise)
    if s_churn < 0:
        raise SamplerOptionError(f"s_churn must be >= 0, got {s_churn}")
    churn = min(s_churn / max(n_steps, 1), math.sqrt(2.0) - 1.0)
    return {"churn": churn, "s_tmin": s_tmin, "s_tmax": s_tmax, "s_noise": s_noise}


def _pc_options(
    n_steps: int, snr: float = 0.16, n_corrector: int = 1, step_rule: str = "sigma"
) -> dict[str, Any]:
    del n_steps
    _check_pc(snr, n_corrector, step_rule)
    return {"snr": snr, "n_corrector": n_corrector, "step_rule": step_rule}


def _ddim_options(n_steps: int, eta: float = 0.0) -> dict[str, Any]:
    del n_steps
    _check_eta(eta)
    return {"eta": eta}


def sample_heun(
    denoiser: Denoiser,
    x_T: torch.Tensor,
    sigmas: Any,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    callback: Callback | None = None,
    s_churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = math.inf,
    s_noise: float = 1.0,
    **loop_options: Any,
) -> torch.Tensor:
    """EDM Heun sampler with churn: ``gamma_i = min(S_churn / N, sqrt(2) - 1)`` on the levels in
    ``[S_tmin, S_tmax]`` (Karras et al., 2022, Alg. 2); ``S_churn = 0`` is deterministic."""
    opts = _heun_options(len(sigmas) - 1, s_churn, s_tmin, s_tmax, s_noise)
    return _run(heun_step, denoiser, x_T, sigmas, generator, cond, callback, loop_options, opts)


def sample_pc(
    denoiser: Denoiser,
    x_T: torch.Tensor,
    sigmas: Any,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    callback: Callback | None = None,
    snr: float = 0.16,
    n_corrector: int = 1,
    step_rule: str = "sigma",
    **loop_options: Any,
) -> torch.Tensor:
    """Predictor-corrector sampler (Euler-Maruyama + annealed Langevin, Song et al., 2021)."""
    opts = {"snr": snr, "n_corrector": n_corrector, "step_rule": step_rule}
    return _run(pc_step, denoiser, x_T, sigmas, generator, cond, callback, loop_options, opts)


def sample_ddim(
    denoiser: Denoiser,
    x_T: torch.Tensor,
    sigmas: Any,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    callback: Callback | None = None,
    eta: float = 0.0,
    **loop_options: Any,
) -> torch.Tensor:
    """DDIM sampler (``eta = 0`` deterministic, ``eta = 1`` ancestral)."""
    return _run(
        ddim_step, denoiser, x_T, sigmas, generator, cond, callback, loop_options, {"eta": eta}
    )


def sample_dpmpp_2m(
    denoiser: Denoiser,
    x_T: torch.Tensor,
    sigmas: Any,
    *,
    generator: torch.Generator | None = None,
    cond: Any = None,
    callback: Callback | None = None,
    **loop_options: Any,
) -> torch.Tensor:
    """DPM-Solver++(2M) sampler (deterministic, second order)."""
    return _run(dpmpp_2m_step, denoiser, x_T, sigmas, generator, cond, callback, loop_options, {})


@dataclass(frozen=True)
class Sampler:
    """A registered sampler: its ``step`` (for :func:`~.loop.run_sampler` and custom loops),
    its ``sample`` function (calling the object calls it), whether it can draw noise, the
    ``sample`` keyword options it takes, and ``prepare(n_steps, **options)``, which checks
    their values and turns them into per-step options (Heun's ``S_churn`` becomes a per-step
    ``gamma``)."""

    name: str
    step: Step
    sample: Callable[..., torch.Tensor]
    stochastic: bool
    options: tuple[str, ...]
    prepare: Callable[..., dict[str, Any]] | None = None

    def __call__(
        self, denoiser: Denoiser, x_T: torch.Tensor, sigmas: Any, **kwargs: Any
    ) -> torch.Tensor:
        return self.sample(denoiser, x_T, sigmas, **kwargs)

    def step_options(self, n_steps: int, **options: Any) -> dict[str, Any]:
        """Translate this sampler's ``sample`` options into per-step options for
        :func:`~.loop.run_sampler`, for a schedule of ``n_steps`` steps.

        Raises :class:`~inference.errors.SamplerOptionError` for an option the sampler does not
        take or a value out of range, before anything is sampled."""
        unknown = set(options) - set(self.options)
        if unknown:
            raise SamplerOptionError(
                f"sampler {self.name!r} has no option(s) {sorted(unknown)}; "
                f"it takes {list(self.options)}"
            )
        if self.prepare is not None:
            return self.prepare(n_steps, **options)
        return options


SAMPLERS: Mapping[str, Sampler] = MappingProxyType(
    {
        "euler": Sampler("euler", euler_step, sample_euler, False, ()),
        "heun": Sampler(
            "heun",
            heun_step,
            sample_heun,
            True,
            ("s_churn", "s_tmin", "s_tmax", "s_noise"),
            prepare=_heun_options,
        ),
        "pc": Sampler(
            "pc",
            pc_step,
            sample_pc,
            True,
            ("snr", "n_corrector", "step_rule"),
            prepare=_pc_options,
        ),
        "ddim": Sampler("ddim", ddim_step, sample_ddim, True, ("eta",), prepare=_ddim_options),
        "dpmpp_2m": Sampler("dpmpp_2m", dpmpp_2m_step, sample_dpmpp_2m, False, ()),
    }
)


def get_sampler(name: str) -> Sampler:
    """The registered sampler called ``name`` (one of :data:`SAMPLERS`);
    :class:`~inference.errors.UnknownSamplerError` for any other name."""
    try:
        return SAMPLERS[name]
    except (KeyError, TypeError):
        raise UnknownSamplerError(
            f"unknown sampler {name!r}; choose one of {sorted(SAMPLERS)}"
        ) from None
