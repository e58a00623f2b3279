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

The step's objective is the residual RMS ``sqrt(||Y_c| - beta R_phi(|x0_hat|^2)^(alpha/2)||^2 /
(F T))`` (averaged over the chains, after the M-step). The estimate is the mean of the final
samples' waveforms; the room is the operator at the last M-step, reported as its impulse
response and its per-band T60s. Everything runs at the prior's operating level (:mod:`.common`);
the RIR is level-free (unit direct path), so it needs no scaling back.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from avgen.audio import DIFFUSION_STFT, SAMPLE_RATE
from avgen.errors import ConfigError
from avgen.models.reverb import OCTAVE_CENTRES_HZ, RoomOperator
from avgen.pipelines.common import mono_input
from avgen.pipelines.diffusion.blind_t60 import blind_t60
from avgen.pipelines.diffusion.common import (
    PRIOR_LEVEL_DB,
    SigmaSchedule,
    choose_sampler,
    prepare,
    result,
    run_posterior,
)
from avgen.pipelines.diffusion.room_power import PowerRoomModel
from avgen.pipelines.result import PipelineResult
from avgen.seeding import derive_seed
from inference.diffusion import DPS, ParameterGradientStep, StepEvent
from inference.diffusion.loop import MStep

SAMPLER_DEFAULTS: dict[str, dict[str, Any]] = {"ddim": {"eta": 1.0}}
"""Ancestral DDIM by default: DPS needs a stochastic sampler (overridden by
``sampler_options``)."""

_EPS_MAG = 1e-12
_EPS_POWER = 1e-10


class DereverbRecord(NamedTuple):
    """One reverse step of :func:`dereverberate`: its index, its noise level ``sigma``, the
    residual RMS ``objective`` after the M-step, and the room then: ``t60`` (s) and tail
    ``gain`` per octave band."""

    step: int
    sigma: float
    objective: float
    t60: tuple[float, ...]
    gain: tuple[float, ...]


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

    def __call__(
        self, x0_hat: torch.Tensor, params: dict[str, Any], event: StepEvent
    ) -> dict[str, Any]:
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


class RoomLikelihood:
    """``log p(Y | x, phi) = -1/2 || |Y_c| - beta R_phi(|X|^2)^(alpha/2) ||^2`` per chain
    (``(B,)``), over the ``frames`` real frames of the compressed tensors ``x``
    ``(B, 2, F, T')``, with :class:`~.room_power.PowerRoomModel` for ``R_phi`` (its tail as long
    as the RIR, ``rir_seconds``)."""

    def __init__(self, y: torch.Tensor, frames: int, band_edges: Any, rir_seconds: float) -> None:
        self.frames = frames
        self.y_mag = compressed_magnitude(y[..., :frames])
        self.model = PowerRoomModel(
            band_edges, round(rir_seconds * SAMPLE_RATE / DIFFUSION_STFT.hop_length)
        )

    def __call__(self, x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        predicted = reverberant_magnitude(x[..., : self.frames], params, self.model)
        return -0.5 * (self.y_mag - predicted).square().flatten(1).sum(1)

    def residual_rms(self, x0_hat: torch.Tensor, params: dict[str, Any]) -> float:
        """``sqrt(-2 log p / (F T))``, averaged over the chains: the step's objective."""
        with torch.no_grad():
            return float((-2.0 * self(x0_hat, params) / self.y_mag.numel()).mean().sqrt())


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
) -> PipelineResult:
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
        t60_init, gain_init: the operator's initial T60 (s, or ``"blind"``: :func:`blind_t60`
            per band) and tail gain, in every band.
        estimate_t60: update the T60s in the M-step too (default: the gains only).
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

    Returns:
        A :class:`~avgen.pipelines.result.PipelineResult`: ``estimate`` at the input's level;
        ``spectrum``, ``uncertainty`` (``n_samples > 1``) and ``observation_power`` in the
        compressed STFT at the prior's level; ``history`` one :class:`DereverbRecord` per
        reverse step; ``extras``: ``rir`` ``(L,)`` (direct path at sample 0, unit gain) and
        ``t60_per_band`` ``{band centre Hz: T60 s}``; ``info``: the settings, ``t60_broadband``
        (Schroeder T30 of ``rir``), ``gain_per_band``, ``t60_start``, ``n_evals``, timings.

    Raises:
        AudioError: for input that is not usable mono audio.
        ConfigError: for bad settings (an unknown sampler or option included), before sampling.
    """
    wav = mono_input(reverberant, name="reverberant", min_samples=DIFFUSION_STFT.n_fft)
    _check_settings(zeta, room_lr, room_iters, n_samples, t60_init, rir_seconds)
    schedule = schedule or SigmaSchedule(steps=steps, max_factor=3.0)
    schedule.check()
    choice = choose_sampler(
        sampler, sampler_options, n_steps=schedule.steps, defaults=SAMPLER_DEFAULTS
    )
    problem = prepare(wav, prior=prior, schedule=schedule, level_db=level_db, device=device)
    operator = initial_room(wav, t60_init, gain_init, rir_seconds, seed).to(problem.device)
    log_lik = RoomLikelihood(problem.y, problem.frames, operator.band_edges, rir_seconds)
    m_steps = room_m_steps(
        log_lik,
        operator,
        estimate_t60=estimate_t60,
        lr=room_lr,
        n_iter=room_iters,
        freeze_until=freeze_room_steps,
    )

    def record(event: StepEvent) -> DereverbRecord:
        return DereverbRecord(
            step=event.index,
            sigma=event.sigma,
            objective=log_lik.residual_rms(event.info.x0_hat, event.params),
            t60=tuple(event.params["log_t60"].exp().tolist()),
            gain=tuple(event.params["log_gain"].exp().tolist()),
        )

    t60_start = operator.t60.cpu().tolist()
    run = run_posterior(
        problem,
        DPS(log_lik, zeta),
        choice,
        params=operator.params(),
        m_steps=m_steps,
        record=record,
        n_samples=n_samples,
        seed=seed,
        start=problem.y if warm_start else None,
        desc="dereverb",
        progress=progress,
        postfix=lambda r: {"t60": f"{sum(r.t60) / len(r.t60):.2f}s"},
    )
    room = room_outputs(operator, run.params)
    return result(
        problem,
        run,
        choice,
        pipeline="dereverb",
        seed=seed,
        extras={"rir": room.rir, "t60_per_band": room.t60_per_band},
        t60_broadband=room.t60_broadband,
        gain_per_band=room.gain_per_band,
        t60_start=dict(zip(OCTAVE_CENTRES_HZ, t60_start)),
        t60_init=t60_init,
        estimate_t60=estimate_t60,
        gain_init=gain_init,
        rir_seconds=rir_seconds,
        zeta=zeta,
        room_lr=room_lr,
        room_iters=room_iters,
        freeze_room_steps=freeze_room_steps,
        warm_start=warm_start,
        objective="residual RMS of |Y_c| to the room model of x0_hat after each M-step",
    )


def _check_settings(
    zeta: float,
    room_lr: float,
    room_iters: int,
    n_samples: int,
    t60_init: float | str,
    rir_seconds: float,
) -> None:
    if zeta < 0 or room_lr < 0 or room_iters < 0 or n_samples < 1:
        raise ConfigError("need zeta >= 0, room_lr >= 0, room_iters >= 0 and n_samples >= 1")
    if t60_init != "blind" and not (
        isinstance(t60_init, (int, float)) and 0 < t60_init < rir_seconds
    ):
        raise ConfigError(
            f"t60_init must be 'blind' or lie in (0, rir_seconds={rir_seconds}), got {t60_init!r}"
        )


def initial_room(
    wav: torch.Tensor, t60_init: float | str, gain_init: float, rir_seconds: float, seed: int
) -> RoomOperator:
    """The operator the M-steps start from: T60 ``t60_init`` in every band, or ``"blind"``
    (:func:`~.blind_t60.blind_t60` of ``wav`` per band, kept in ``[0.1, 0.95 rir_seconds]``);
    its fixed noise tail seeded from ``seed``."""
    t60: float | list[float] = t60_init  # type: ignore[assignment]
    if t60_init == "blind":
        edges = RoomOperator(length=rir_seconds).band_edges
        t60 = [min(max(t, 0.1), 0.95 * rir_seconds) for t in blind_t60(wav, edges)]
    return RoomOperator(
        t60=t60, gain=gain_init, length=rir_seconds, seed=derive_seed(seed, "room-noise")
    )


def room_m_steps(
    log_lik: RoomLikelihood,
    operator: RoomOperator,
    *,
    estimate_t60: bool,
    lr: float,
    n_iter: int,
    freeze_until: int,
) -> list[MStep]:
    """The room's M-step (Adam on ``log_gain``, and ``log_t60`` if ``estimate_t60``, projected
    into the operator's ranges), or none when ``lr`` or ``n_iter`` is 0."""
    if n_iter <= 0 or lr <= 0:
        return []
    names = ("log_t60", "log_gain") if estimate_t60 else ("log_gain",)
    inner = ParameterGradientStep(log_lik, names, lr=lr, n_iter=n_iter)
    return [ProjectedRoomStep(inner, operator, freeze_until=freeze_until)]


class RoomEstimate(NamedTuple):
    """The estimated room: ``rir`` ``(L,)``, ``t60_per_band`` and ``gain_per_band``
    ``{band centre Hz: value}``, ``t60_broadband`` (Schroeder T30 of ``rir``, NaN if none)."""

    rir: torch.Tensor
    t60_per_band: dict[float, float]
    gain_per_band: dict[float, float]
    t60_broadband: float


def room_outputs(operator: RoomOperator, params: dict[str, Any]) -> RoomEstimate:
    """Load the final ``params`` into ``operator`` and read the room off it."""
    operator.load_params(params)
    with torch.no_grad():
        rir = operator.rir().detach().cpu()
    return RoomEstimate(
        rir=rir,
        t60_per_band=dict(zip(OCTAVE_CENTRES_HZ, operator.t60.cpu().tolist())),
        gain_per_band=dict(zip(OCTAVE_CENTRES_HZ, operator.gain.cpu().tolist())),
        t60_broadband=broadband_t60(rir),
    )


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


def broadband_t60(rir: torch.Tensor) -> float:
    """Schroeder T30 (:func:`avgen.metrics.rt60_schroeder`) of an estimated RIR, as the rooms of
    the data kit are labelled; NaN if the response does not decay enough to fit one."""
    from avgen.errors import AudioError
    from avgen.metrics import rt60_schroeder

    try:
        return rt60_schroeder(rir.double().numpy(), SAMPLE_RATE, decay_db=30.0)
    except AudioError:
        return float("nan")
