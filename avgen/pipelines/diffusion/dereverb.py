r"""Unsupervised dereverberation with a diffusion prior and a jointly estimated room (BUDDy).

Model (after Moliner, Lemercier, Välimäki & Gerkmann, 2024, "BUDDy: single-channel blind
unsupervised dereverberation with diffusion models"): the reverberant recording is the clean speech
convolved with a room impulse response ``h_phi`` of the parametric family of
:class:`avgen.models.reverb.RoomOperator` (unit direct path plus an exponentially decaying noise
tail per octave band, ``phi = (log T60_b, log g_b)``). The observation model is taken in the
power domain (:mod:`.room_power`: the tail's phase is unknowable, so the *expected* reverberant
power ``R_phi(|X_0|^2)`` is matched), on the prior's compressed magnitudes,

.. math::
    |Y_c| = \beta\,R_\phi(|X_0|^2)^{\alpha/2} + N,\qquad N \sim \mathcal N(0, v I),

and posterior sampling runs the prior's reverse process with

* a **DPS** correction (Chung et al., 2023, :class:`inference.diffusion.DPS`) after every step,
  ``x' <- x' - zeta grad_x || |Y_c| - beta R_phi(|D(x, sigma)|^2)^(alpha/2) ||`` (gradient
  normalisation: the step does not depend on ``v``); the phase is left to the prior, and a warm
  start from the observation at a low ``sigma_max`` keeps the observed phase as a starting point;
* an **M-step** (:class:`inference.diffusion.ParameterGradientStep`, Adam) after every step,
  ``phi <- phi + lr grad_phi log p(Y | D(x, sigma), phi)`` with the clean estimate held fixed,
  ``n_iter`` times, then projected into the operator's ranges (:class:`ProjectedRoomStep`).

The estimate is the final sample; the room is the operator at the last M-step, reported as its
impulse response and its per-band T60s. Everything runs at the prior's operating level
(:mod:`.common`); the RIR is level-free (unit direct path), so it needs no scaling back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from avgen.audio import DIFFUSION_STFT, SAMPLE_RATE
from avgen.errors import ConfigError
from avgen.models.reverb import OCTAVE_CENTRES_HZ, RoomOperator
from avgen.pipelines.diffusion.blind_t60 import blind_t60
from avgen.pipelines.diffusion.common import (
    PRIOR_LEVEL_DB,
    SigmaSchedule,
    check_input,
    downsampling_factor,
    level_gain,
    resolve_device,
    resolve_prior,
    to_network,
    to_waveform,
)
from avgen.pipelines.diffusion.room_power import PowerRoomModel
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, torch_generator


@dataclass(frozen=True)
class Dereverberation:
    """What :func:`dereverberate` returns.

    Attributes:
        estimate: ``(N,)`` dereverberated waveform, at the level of the input.
        rir: ``(L,)`` estimated room impulse response (direct path at sample 0, unit gain).
        t60_per_band: ``{band centre Hz: T60 s}`` of the estimated operator.
        history: one dict per reverse step: ``step``, ``sigma``, ``residual`` (RMS of
            ``Y - A_phi(x0_hat)`` over the real frames), ``t60`` (list per band), ``gain``.
        info: settings and summary: ``t60_broadband`` (Schroeder T30 of ``rir``), ``n_evals``,
            ``seconds``, ``input_gain`` (the level factor applied), sampler settings.
    """

    estimate: torch.Tensor
    rir: torch.Tensor
    t60_per_band: dict[float, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class ProjectedRoomStep:
    """An M-step that runs ``inner`` (a :class:`~inference.diffusion.ParameterGradientStep` on
    ``log_t60`` / ``log_gain``) and projects the result into ``operator``'s ranges, as BUDDy
    keeps its decay rates and gains in an admissible box. ``freeze_until`` leaves the parameters
    alone for the first reverse steps, while ``x0_hat`` is still mostly the prior's mean."""

    def __init__(self, inner: Any, operator: RoomOperator, freeze_until: int = 0) -> None:
        self.inner = inner
        self.freeze_until = int(freeze_until)
        self.lo_t60, self.hi_t60 = (torch.tensor(v).log() for v in operator.t60_range)
        self.lo_gain, self.hi_gain = (torch.tensor(v).log() for v in operator.gain_range)

    def __call__(self, x0_hat: torch.Tensor, params: dict[str, Any], event: Any) -> dict:
        if event.index < self.freeze_until:
            return params
        new = self.inner(x0_hat, params, event._replace(index=event.index - self.freeze_until))
        lt = new["log_t60"]
        lg = new["log_gain"]
        return {
            **new,
            "log_t60": lt.clamp(float(self.lo_t60), float(self.hi_t60)),
            "log_gain": lg.clamp(float(self.lo_gain), float(self.hi_gain)),
        }


def dereverberate(
    reverberant: torch.Tensor,
    *,
    prior: Any = None,
    steps: int = 30,
    sampler: str = "ddim",
    sampler_options: dict[str, Any] | None = None,
    zeta: float = 1.0,
    room_lr: float = 0.05,
    room_iters: int = 3,
    freeze_room_steps: int = 0,
    t60_init: float | str = "blind",
    estimate_t60: bool = False,
    gain_init: float = 0.05,
    rir_seconds: float = 1.5,
    n_samples: int = 1,
    warm_start: bool = True,
    schedule: SigmaSchedule | None = None,
    level_db: float = PRIOR_LEVEL_DB,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> Dereverberation:
    """Dereverberate ``reverberant`` ``(N,)`` (16 kHz) with a diffusion prior of clean speech,
    estimating the room jointly (see the module docstring).

    Args:
        prior: ``None`` (the bundled prior), a checkpoint path, or a denoiser module with
            ``sigma_data`` (``inference.diffusion.EDMDenoiser``).
        steps: reverse steps (one denoiser evaluation and one backward pass each with
            ``"ddim"``/``"euler"``; two evaluations with ``"heun"``).
        sampler: a name of :data:`inference.diffusion.SAMPLERS`; ``sampler_options`` its
            options (default for ``"ddim"``: ``eta=1``, ancestral, as DPS needs a stochastic
            sampler; see ``docs/diffusion-samplers.md``).
        zeta: DPS step size (with gradient normalisation).
        room_lr, room_iters: Adam learning rate and iterations per reverse step of the M-step.
        freeze_room_steps: reverse steps before the room is first updated.
        t60_init, gain_init: the operator's initial T60 (s) and tail gain, in every band.
        rir_seconds: length of the estimated RIR (also the largest T60 allowed).
        n_samples: posterior samples drawn in one batch; the estimate is their mean waveform
            and the M-step averages over them.
        warm_start: start the reverse process from the observation plus noise at
            ``sigma_max`` (the observed phase then survives; with the low default ``sigma_max``
            of 3 ``sigma_data``) instead of from noise alone.
        schedule: noise levels (default: :class:`~.common.SigmaSchedule` with ``steps`` and
            ``max_factor=3``).
        level_db: the prior's operating level (dBFS RMS).
        seed: seeds the sampler's noise and the operator's fixed noise tail.
        device: ``"cpu"``, ``"cuda"``, ...
        progress: draw a progress bar (``None``: when stderr is a terminal).

    Raises:
        AudioError: for input that is not usable mono audio.
        ConfigError: for bad settings.
    """
    import time

    from inference.diffusion import DPS, ParameterGradientStep, posterior_sample

    wav = check_input(reverberant, "reverberant")
    if zeta < 0 or room_lr < 0 or room_iters < 0 or n_samples < 1:
        raise ConfigError("need zeta >= 0, room_lr >= 0, room_iters >= 0 and n_samples >= 1")
    if t60_init != "blind" and not (
        isinstance(t60_init, (int, float)) and 0 < t60_init < rir_seconds
    ):
        raise ConfigError(
            f"t60_init must be 'blind' or lie in (0, rir_seconds={rir_seconds}), got {t60_init!r}"
        )
    dev = resolve_device(device)
    denoiser = resolve_prior(prior, dev)
    sigma_data = float(denoiser.sigma_data)
    schedule = schedule or SigmaSchedule(steps=steps, max_factor=3.0)
    sigmas = schedule.sigmas(sigma_data, dev)
    options = dict(sampler_options or ({"eta": 1.0} if sampler == "ddim" else {}))

    gain_in = level_gain(wav, level_db)
    y, frames = to_network(wav.to(dev) * gain_in, downsampling_factor(denoiser))
    y_real = y[..., :frames]
    t60_start: float | list[float] = t60_init  # type: ignore[assignment]
    if t60_init == "blind":
        edges = RoomOperator(length=rir_seconds).band_edges
        t60_start = [min(max(t, 0.1), 0.95 * rir_seconds) for t in blind_t60(wav, edges)]
    operator = RoomOperator(
        t60=t60_start, gain=gain_init, length=rir_seconds, seed=derive_seed(seed, "room-noise")
    ).to(dev)

    power_model = PowerRoomModel(
        operator.band_edges, round(rir_seconds * SAMPLE_RATE / DIFFUSION_STFT.hop_length)
    )
    y_mag = compressed_magnitude(y_real)

    def log_lik(x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        return -0.5 * (
            y_mag - reverberant_magnitude(x[..., :frames], params, power_model)
        ).square().flatten(1).sum(1)

    likelihood = DPS(log_lik, zeta)
    names = ("log_t60", "log_gain") if estimate_t60 else ("log_gain",)
    m_step = ProjectedRoomStep(
        ParameterGradientStep(log_lik, names, lr=room_lr, n_iter=room_iters),
        operator,
        freeze_until=freeze_room_steps,
    )
    m_steps = [m_step] if room_iters > 0 and room_lr > 0 else []

    generator = torch_generator(seed, dev)
    start = y if warm_start else torch.zeros_like(y)
    x_T = start.expand(n_samples, -1, -1, -1) + float(sigmas[0]) * torch.randn(
        (n_samples, *y.shape[1:]), generator=generator, device=dev
    )
    history: list[dict[str, Any]] = []
    bar = progress_bar(schedule.steps, "dereverb", enabled=progress)

    def callback(event: Any) -> None:
        with torch.no_grad():
            residual = float(
                (-2.0 * log_lik(event.info.x0_hat, event.params) / y_mag.numel()).mean().sqrt()
            )
        t60 = event.params["log_t60"].exp().tolist()
        history.append(
            {
                "step": event.index,
                "sigma": event.sigma,
                "residual": residual,
                "t60": t60,
                "gain": event.params["log_gain"].exp().tolist(),
            }
        )
        bar.update(1)
        bar.set_postfix(t60=f"{sum(t60) / len(t60):.2f}s")

    t0 = time.perf_counter()
    try:
        result = posterior_sample(
            denoiser,
            x_T,
            sigmas,
            likelihood,
            sampler=sampler,
            sampler_options=options,
            params=operator.params(),
            m_steps=m_steps,
            generator=generator,
            callback=callback,
        )
    except ValueError as exc:  # an unknown sampler or option
        raise ConfigError(str(exc)) from None
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0

    estimate = to_waveform(result.x, frames, wav.shape[-1]).mean(0) / gain_in
    operator.load_params(result.params)
    with torch.no_grad():
        rir = operator.rir().detach().cpu()
    t60s = operator.t60.cpu().tolist()
    centres = OCTAVE_CENTRES_HZ
    info: dict[str, Any] = {
        "t60_broadband": broadband_t60(rir),
        "gain_per_band": dict(zip(centres, operator.gain.cpu().tolist())),
        "n_evals": result.n_evals,
        "seconds": elapsed,
        "real_time_factor": elapsed / (wav.shape[-1] / SAMPLE_RATE),
        "input_gain": gain_in,
        "sampler": sampler,
        "sampler_options": options,
        "steps": schedule.steps,
        "zeta": zeta,
        "room_lr": room_lr,
        "room_iters": room_iters,
        "n_samples": n_samples,
        "sigma_max": float(sigmas[0]),
        "seed": seed,
    }
    return Dereverberation(estimate.detach().cpu(), rir, dict(zip(centres, t60s)), history, info)


def compressed_magnitude(x: torch.Tensor) -> torch.Tensor:
    """``|X_c|``: magnitude of a compressed STFT tensor ``(B, 2, F, T)`` -> ``(B, F, T)``."""
    return (x.square().sum(-3) + _EPS_MAG).sqrt()


def reverberant_magnitude(
    x: torch.Tensor, params: dict[str, Any], model: PowerRoomModel, config: Any = DIFFUSION_STFT
) -> torch.Tensor:
    """Compressed magnitude ``beta (E|Y|^2)^(alpha / 2)`` of the expected reverberant power of
    the clean compressed tensor ``x`` (``(B, 2, F, T)`` -> ``(B, F, T)``)."""
    alpha, beta = config.compression_exponent, config.compression_scale
    power = (x.square().sum(-3) + _EPS_MAG).pow(1.0 / alpha) / beta ** (2.0 / alpha)
    return beta * (model(power, params) + _EPS_POWER).pow(alpha / 2.0)


_EPS_MAG = 1e-12
_EPS_POWER = 1e-10


def broadband_t60(rir: torch.Tensor) -> float:
    """Schroeder T30 (:func:`avgen.metrics.rt60_schroeder`) of an estimated RIR, as the rooms of
    the data kit are labelled; NaN if the response does not decay enough to fit one."""
    from avgen.errors import AudioError
    from avgen.metrics import rt60_schroeder

    try:
        return rt60_schroeder(rir.double().numpy(), SAMPLE_RATE, decay_db=30.0)
    except AudioError:
        return float("nan")
