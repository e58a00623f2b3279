r"""What the diffusion pipelines share: the prior and its operating level, the noise schedule,
the sampler choice, and the one skeleton of a posterior-sampling run.

A diffusion prior of speech has an *operating level*: it was trained on utterances scaled to
``-26 dBFS`` RMS (``docs/models-diffusion.md``), and its compressed STFT
(``c -> beta |c|^alpha e^{i angle c}``) scales as ``g^alpha`` when the waveform scales by ``g``,
so the pipelines scale the input by ``g`` to that level, work there, and scale the waveform
estimate back by ``1 / g`` (the operators they estimate -- NMF noise variances, room impulse
responses -- are reported at the prior's level, or are level-free).

Every pipeline of this package is the same skeleton around its own likelihood and M-steps::

    wave     = mono_input(noisy, ...)                        # AudioError
    ... the pipeline's own setting checks ...                # ConfigError
    sampler  = choose_sampler(name, options, ...)            # ConfigError, before anything runs
    problem  = prepare(wave, prior=..., schedule=..., ...)   # device, prior, sigmas, level, pad
    run      = run_posterior(problem, likelihood, sampler, params=..., m_steps=..., record=...)
    return     result(problem, run, ...)                     # unpad, moments, info

``run_posterior`` integrates the reverse process from ``x_T = m + sigma_0 eps`` (``m`` the
warm start, or 0) with :func:`inference.diffusion.run_sampler`, the likelihood hook and the
M-steps, and appends one record per reverse step (the pipeline's ``record(event)``) to an
:class:`~inference.history.History`. Nothing around the sampling translates exceptions: a user
mistake is refused before it starts, anything raised during it is a bug and surfaces as itself.

The returned :class:`~avgen.pipelines.result.PipelineResult` holds, over the ``R`` posterior
samples ``X^(r)`` (compressed complex STFT ``(F, T)`` at the prior's level, padded frames
dropped), ``spectrum = (1/R) sum_r X^(r)``, ``uncertainty = (1/R) sum_r |X^(r) - spectrum|^2``
(``None`` for ``R = 1``) and ``observation_power = |Y|^2``; the waveform ``estimate`` is the mean
of the samples' waveforms, divided by ``g``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import torch

from avgen.audio import DIFFUSION_STFT
from avgen.errors import AudioError, ConfigError
from avgen.pipelines.common import resolve_device, run_info
from avgen.pipelines.result import PipelineResult
from avgen.progress import progress_bar
from avgen.seeding import torch_generator
from inference.diffusion import Likelihood, StepEvent, get_sampler, karras_sigmas
from inference.diffusion.loop import MStep, Step, run_sampler
from inference.errors import NumericalError, SamplerOptionError, UnknownSamplerError
from inference.finite import all_finite
from inference.history import History
from inference.nmf import NMFParams

PRIOR_LEVEL_DB = -26.0
"""RMS level (dBFS) of the bundled prior's training utterances: inputs are scaled to it."""

R = TypeVar("R", bound=NamedTuple)


def resolve_prior(prior: Any, device: torch.device) -> torch.nn.Module:
    """The denoiser to sample with: ``None`` loads the bundled prior, a path loads that
    checkpoint (:func:`avgen.models.diffusion.load_diffusion_prior`), a module is used as is
    (moved to ``device``). It must carry ``sigma_data`` (an
    :class:`inference.diffusion.EDMDenoiser` does)."""
    from avgen.models.diffusion import load_diffusion_prior

    if prior is None or isinstance(prior, (str, os.PathLike)):
        return load_diffusion_prior(prior, device=device)
    if not isinstance(prior, torch.nn.Module):
        raise ConfigError(
            f"prior must be None, a checkpoint path or a denoiser module, got "
            f"{type(prior).__name__}"
        )
    if not hasattr(prior, "sigma_data"):
        raise ConfigError(
            "the prior has no sigma_data; wrap the network in "
            "inference.diffusion.EDMDenoiser(net, sigma_data)"
        )
    return prior.to(device)


def downsampling_factor(prior: torch.nn.Module) -> int:
    """The frame multiple the prior's U-Net needs (1 when it does not say)."""
    net = getattr(prior, "net", None)
    config = getattr(net, "config", None) or getattr(prior, "unet_config", None)
    return int(getattr(config, "downsampling_factor", 1))


def level_gain(wav: torch.Tensor, level_db: float = PRIOR_LEVEL_DB) -> float:
    """The factor ``g`` that brings ``wav`` to an RMS of ``level_db`` dBFS."""
    rms = float(wav.double().square().mean().sqrt())
    if rms <= 0 or not math.isfinite(rms):
        raise AudioError("cannot set the level of silent audio")
    return 10.0 ** (level_db / 20.0) / rms


@dataclass(frozen=True)
class SigmaSchedule:
    """The Karras et al. (2022) schedule of a pipeline, in units of the prior's ``sigma_data``.

    ``sigma_max = max_factor * sigma_data``, ``sigma_min = min_factor * sigma_data``, ``rho``.
    The bundled prior saw ``log sigma ~ N(P_mean, 1.2^2)`` with ``P_mean = -1.2 +
    log(sigma_data / 0.5)``, i.e. ``sigma / sigma_data`` from about 0.02 to 20 within three
    standard deviations; the defaults stay inside that range.
    """

    steps: int = 50
    max_factor: float = 20.0
    min_factor: float = 0.02
    rho: float = 7.0

    def check(self) -> None:
        """:class:`ConfigError` unless the schedule can be built."""
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")
        if not 0 < self.min_factor < self.max_factor < math.inf:
            raise ConfigError(
                f"need 0 < min_factor < max_factor, got {self.min_factor}, {self.max_factor}"
            )
        if not self.rho > 0:
            raise ConfigError(f"rho must be positive, got {self.rho}")

    def sigmas(self, sigma_data: float, device: torch.device) -> torch.Tensor:
        """``(steps + 1,)`` descending levels ending in 0."""
        self.check()
        return karras_sigmas(
            self.steps, self.min_factor * sigma_data, self.max_factor * sigma_data, self.rho
        ).to(device)


@dataclass(frozen=True)
class SamplerChoice:
    """A checked sampler: its ``name``, the ``options`` as given (defaults merged, for
    ``info``), its ``step`` function and the per-step options the loop passes to it."""

    name: str
    options: dict[str, Any]
    step: Step
    step_options: dict[str, Any]


def choose_sampler(
    name: str,
    options: Mapping[str, Any] | None,
    *,
    n_steps: int,
    defaults: Mapping[str, Mapping[str, Any]] | None = None,
) -> SamplerChoice:
    """Look up ``name`` in :data:`inference.diffusion.SAMPLERS` and check ``options`` (merged
    over ``defaults[name]``) for a schedule of ``n_steps`` steps: the one place where the
    inference layer's :class:`~inference.errors.UnknownSamplerError` /
    :class:`~inference.errors.SamplerOptionError` become a :class:`ConfigError`, before
    anything is sampled."""
    merged = {**(defaults or {}).get(name, {}), **(options or {})}
    try:
        spec = get_sampler(name)
        step_options = spec.step_options(n_steps, **merged)
    except (UnknownSamplerError, SamplerOptionError) as exc:
        raise ConfigError(str(exc)) from None
    return SamplerChoice(spec.name, merged, spec.step, step_options)


class Problem(NamedTuple):
    """The observation as the sampler sees it.

    ``wav`` ``(N,)`` the input at its own level; ``gain`` the factor ``g`` to the prior's level;
    ``y`` ``(1, 2, F, T')`` its compressed STFT at that level, padded with zero frames to the
    U-Net's multiple; ``frames`` the ``T`` real frames; ``sigmas`` the ``(steps + 1,)`` levels.
    """

    wav: torch.Tensor
    device: torch.device
    denoiser: torch.nn.Module
    sigmas: torch.Tensor
    gain: float
    level_db: float
    y: torch.Tensor
    frames: int


def prepare(
    wav: torch.Tensor,
    *,
    prior: Any,
    schedule: SigmaSchedule,
    level_db: float,
    device: str | torch.device,
) -> Problem:
    """Device, prior, noise levels, level and padding of a checked mono ``wav``."""
    dev = resolve_device(device)
    denoiser = resolve_prior(prior, dev)
    sigmas = schedule.sigmas(float(denoiser.sigma_data), dev)
    gain = level_gain(wav, level_db)
    y, frames = to_network(wav.to(dev) * gain, downsampling_factor(denoiser))
    return Problem(wav, dev, denoiser, sigmas, gain, level_db, y, frames)


@dataclass(frozen=True)
class SamplingRun(Generic[R]):
    """What :func:`run_posterior` returns: the final samples ``x`` ``(R, 2, F, T')`` at the
    prior's level, the final likelihood ``params``, one record per reverse step, the number of
    denoiser evaluations and the wall-clock seconds of the sampling."""

    x: torch.Tensor
    params: dict[str, Any]
    history: History[R]
    n_evals: int
    seconds: float


def run_posterior(
    problem: Problem,
    likelihood: Likelihood,
    sampler: SamplerChoice,
    *,
    params: Mapping[str, Any],
    m_steps: Sequence[MStep],
    record: Callable[[StepEvent], R],
    n_samples: int,
    seed: int,
    start: torch.Tensor | None = None,
    desc: str = "diffusion",
    progress: bool | None = None,
    postfix: Callable[[R], Mapping[str, str]] | None = None,
) -> SamplingRun[R]:
    """Sample ``n_samples`` chains of the posterior in one batch, from
    ``x_T = start + sigma_0 eps`` (``start`` ``None``: 0), with ``likelihood`` and ``m_steps``
    between the reverse steps; ``record(event)`` after each step (its M-steps done) gives the
    step's history record. ``seed`` seeds ``eps`` and the sampler's noise."""
    generator = torch_generator(seed, problem.device)
    y = problem.y
    noise = float(problem.sigmas[0]) * torch.randn(
        (n_samples, *y.shape[1:]), generator=generator, device=problem.device
    )
    x_T = noise if start is None else start.expand(n_samples, *start.shape[1:]) + noise
    history: History[R] = History()
    bar = progress_bar(len(problem.sigmas) - 1, desc, enabled=progress)

    def callback(event: StepEvent) -> None:
        _check_step(event)
        entry = record(event)
        history.append(entry)
        bar.update(1)
        bar.set_postfix(
            dict(postfix(entry)) if postfix else {"objective": f"{entry.objective:.4g}"},
            refresh=False,
        )

    t0 = time.perf_counter()
    try:
        result = run_sampler(
            sampler.step,
            problem.denoiser,
            x_T,
            problem.sigmas,
            generator=generator,
            likelihood=likelihood,
            params=dict(params),
            m_steps=m_steps,
            callback=callback,
            options=sampler.step_options,
        )
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    history.stop_reason = "n_iter"
    return SamplingRun(result.x, result.params, history, result.n_evals, seconds)


def _check_step(event: StepEvent) -> None:
    """:class:`~inference.errors.NumericalError` naming the reverse step and the quantity when the
    state, the denoiser's estimate or an estimated parameter is no longer finite (a failure of
    ours, never reported as the user's)."""
    quantities = {"the sample": event.x_next, "the clean estimate": event.info.x0_hat}
    for key, value in event.params.items():
        parts = value._asdict() if hasattr(value, "_asdict") else {"": value}  # NMFParams
        for part, tensor in parts.items():
            if isinstance(tensor, torch.Tensor):
                quantities[f"the parameter {key}{'.' + part if part else ''}"] = tensor
    for name, value in quantities.items():
        if value is not None and not all_finite(value):
            raise NumericalError(
                f"reverse step {event.index} (sigma {event.sigma:.4g}): {name} is not finite"
            )


def stft_info(level_db: float) -> dict[str, Any]:
    """``info["stft"]``: the representation of ``spectrum`` and its relatives."""
    s = DIFFUSION_STFT
    return {
        "name": "diffusion compressed complex STFT at the prior's operating level",
        "n_fft": s.n_fft,
        "hop_length": s.hop_length,
        "window": s.window,
        "compression_exponent": s.compression_exponent,
        "compression_scale": s.compression_scale,
        "level_db": level_db,
    }


def result(
    problem: Problem,
    run: SamplingRun[Any],
    sampler: SamplerChoice,
    *,
    pipeline: str,
    seed: int,
    noise: NMFParams | None = None,
    extras: Mapping[str, Any] | None = None,
    estimate: torch.Tensor | None = None,
    **more: Any,
) -> PipelineResult:
    """The :class:`PipelineResult` of a run (see the module docstring for the moments);
    ``more`` are the pipeline's own ``info`` fields. ``estimate`` ``(1, 2, F, T')``, when
    given, replaces the samples' mean as ``spectrum`` and waveform ``estimate`` (the samples'
    spread still gives ``uncertainty``)."""
    from avgen.models.diffusion import tensor_to_spec

    frames = problem.frames
    n_wave = problem.wav.shape[-1]
    point = run.x if estimate is None else estimate
    wave = to_waveform(point, frames, n_wave).mean(0) / problem.gain
    x = run.x[..., :frames]
    mean = x.mean(0)
    uncertainty = None if x.shape[0] == 1 else (x - mean).square().sum(-3).mean(0).cpu()
    if estimate is not None:
        mean = estimate[0, ..., :frames]
    info = run_info(
        pipeline=pipeline,
        seed=seed,
        device=problem.device,
        n_samples=n_wave,
        seconds=run.seconds,
        stft=stft_info(problem.level_db),
        input_gain=problem.gain,
        sampler=sampler.name,
        sampler_options=sampler.options,
        steps=len(problem.sigmas) - 1,
        sigma_max=float(problem.sigmas[0]),
        posterior_samples=x.shape[0],
        n_evals=run.n_evals,
        **more,
    )
    return PipelineResult(
        estimate=wave.detach().cpu(),
        spectrum=tensor_to_spec(mean).cpu(),
        uncertainty=uncertainty,
        history=run.history,
        info=info,
        observation_power=problem.y[0, ..., :frames].square().sum(-3).cpu(),
        noise=noise,
        extras=dict(extras or {}),
    )


def to_network(wav: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int]:
    """``(N,)`` waveform -> ``(1, 2, 256, T')`` compressed STFT tensor padded with zero frames to
    a multiple of ``multiple``, and the number ``T`` of real frames."""
    from avgen.models.diffusion import pad_frames, waveform_to_tensor

    return pad_frames(waveform_to_tensor(wav)[None], multiple)


def to_waveform(x: torch.Tensor, frames: int, length: int) -> torch.Tensor:
    """``(B, 2, 256, T')`` -> ``(B, length)``, dropping the padded frames."""
    from avgen.models.diffusion import crop_frames, tensor_to_waveform

    return tensor_to_waveform(crop_frames(x, frames), length=length)
