"""Unsupervised (audio-visual) speech enhancement: a VAE speech prior + NMF noise + an EM scheme.

The model of Leglaive, Girin & Horaud (2018) and Sadeghi et al. (2020, 2021), per STFT bin::

    z_t ~ p(z_t [| v_t])                            the trained prior (A-/V-/AV-VAE, ...)
    s_ft | z_t ~ N_c(0, sigma2_f(z_t [, v_t]))      its decoder
    b_ft ~ N_c(0, (W H)_ft)                         NMF noise, rank K, never trained
    x_ft = sqrt(g_t) s_ft + b_ft                    the noisy STFT

Nothing about the noise is learned beforehand: ``theta = (W, H, g)`` is estimated from the noisy
recording alone by Monte-Carlo (or variational) EM, whose E-step explores ``p(z | x; theta)``
frame by frame (:mod:`.schemes`) and whose M-step is the multiplicative IS-NMF
update (:mod:`inference.nmf`). Then, with ``R`` final posterior samples ``z^(r)``,

    E[sqrt(g_t) s_ft | x] ~ (1/R) sum_r G^(r)_ft x_ft,     G^(r) = g v^(r) / (g v^(r) + W H)

(a Wiener filter averaged over the posterior), and the per-bin posterior variance

    Var[sqrt(g_t) s_ft | x] = g_t [ mean_r v^(r) WH / (g v^(r) + WH) + Var_r(G^(r)) |x|^2 / g_t ]

(the law of total variance over the samples, :func:`inference.nmf_em.posterior_image_moments`):
an *uncertainty map* that is large where the speech and noise models disagree about who made a
bin. The output is the speech as it sounds in the mixture (the image ``sqrt(g) s``), at the input's
level.

Returned as a :class:`~avgen.pipelines.result.PipelineResult` whose ``extras`` hold
``frame_acceptance`` (per-frame acceptance of the final sampler run, ``(T,)``, or ``None``) and
``visual_weight`` (MIN-VAE: the visual branch's weight ``r_t`` on the noisy input, or ``None``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from avgen.audio import VAE_STFT, bins_major, frames_major, istft, stft
from avgen.errors import ConfigError, VideoError
from avgen.models.freezing import frozen
from avgen.models.vae.models import SpeechVAE
from avgen.pipelines.common import mono_input, resolve_device, run_info
from avgen.pipelines.result import PipelineResult
from avgen.pipelines.vae_nmf.guard import SpeechShareGuard
from avgen.pipelines.vae_nmf.schemes import (
    SCHEMES,
    EMSchedule,
    SchemeChoice,
    canonical_scheme,
    make_nmf_prior,
    resolve_scheme,
)
from avgen.pipelines.vae_nmf.switch import SwitchExtra, SwitchingStartEStep, paired_start
from avgen.pipelines.vae_nmf.target import EncoderForVEM, initial_latents, prior_target
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, torch_generator
from avgen.video_align import lips_for_audio
from inference.chain import Kernel
from inference.em import History, IterationRecord
from inference.errors import NumericalError
from inference.esteps import EStep
from inference.finite import all_finite
from inference.nmf import NMFParams, init_nmf, nmf_step, nmf_variance
from inference.nmf_em import GaussianScaleNMF, NMFEMState, posterior_image_moments, speech_share
from inference.nmf_priors import ARDPrior

__all__ = ["enhance", "enhance_batch"]

#: the smallest |x|^2 the model sees (float32 division by an exactly silent bin is harmless, but
#: a digital-silence frame would pin the NMF at 0 and the decoder's variance at its floor)
POWER_FLOOR = 1e-12

EMCallback = Callable[[IterationRecord, Any], Any]


@dataclass(frozen=True)
class _Problem:
    """One recording, ready for EM: its frames-major STFT and power, the lips at its frames."""

    wave: torch.Tensor
    x: torch.Tensor  # (T, F) complex
    power: torch.Tensor  # (T, F)
    lips: torch.Tensor | None
    lips_note: str
    start_powers: tuple[torch.Tensor, torch.Tensor] | None = None


def _lips_at_frames(
    model: SpeechVAE, lips: Any, lips_stft: Any, fps: float, n_samples: int, n_frames: int
) -> torch.Tensor | None:
    if not model.uses_lips:
        return None
    if lips_stft is not None:
        return model.check_lips(torch.as_tensor(lips_stft, dtype=torch.float32), n_frames)
    if lips is None:
        raise VideoError(
            f"{model.name} is an audio-visual prior and needs the speaker's lips: "
            "pass --video LIPS.npy|.mp4 (or use --model a-vae)"
        )
    from avgen.models.vae.networks import lip_side

    aligned = lips_for_audio(lips, fps, n_samples, lip_size=lip_side(model.config.lip_dim))
    return model.check_lips(aligned, n_frames)


#: plain IS-NMF updates that fit the warm start's noise model to the residual's power
WARM_NMF_UPDATES = 50


def _start_powers(
    wave: torch.Tensor, start_from: Any, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(|S_hat|^2, |X - S_hat|^2)`` frames-major for a speech estimate ``start_from`` of the
    same length as ``wave`` (floored like the observation's power)."""
    estimate = torch.as_tensor(start_from, dtype=torch.float32).to(wave.device).reshape(-1)
    if estimate.numel() != wave.numel():
        raise ConfigError(
            f"the warm start has {estimate.numel()} samples but the input {wave.numel()}; "
            "pass an estimate of the same recording"
        )
    if not all_finite(estimate):
        raise NumericalError("the warm start's speech estimate is not finite")
    speech = frames_major(stft(estimate.to(device), VAE_STFT))
    residual = frames_major(stft((wave - estimate).to(device), VAE_STFT))
    return (
        speech.abs().square().clamp_min_(POWER_FLOOR),
        residual.abs().square().clamp_min_(POWER_FLOOR),
    )


def _warm_params(noise_power: torch.Tensor, rank: int, generator: torch.Generator) -> NMFParams:
    """The NMF started from the warm start's residual: :data:`WARM_NMF_UPDATES` plain IS-NMF
    updates of a random start on ``|X - S_hat|^2``, unit gains."""
    params = init_nmf(noise_power, rank, generator)
    for _ in range(WARM_NMF_UPDATES):
        params = nmf_step(noise_power, None, params, update=("H", "W"))
    return params


def _prepare(
    noisy: Any,
    model: SpeechVAE,
    lips: Any,
    lips_stft: Any,
    fps: float,
    sample_rate: int,
    device: torch.device,
    start_from: Any = None,
) -> _Problem:
    wave = mono_input(noisy, name="noisy", min_samples=VAE_STFT.n_fft, sample_rate=sample_rate)
    n_frames = VAE_STFT.n_frames(wave.numel())
    if model.uses_lips:
        note = "used"
    elif lips is not None or lips_stft is not None:
        lips = lips_stft = None  # an audio-only prior: the video plays no part (said in info)
        note = "ignored (audio-only prior)"
    else:
        note = "none"
    lip_frames = _lips_at_frames(model, lips, lips_stft, fps, wave.numel(), n_frames)
    x = frames_major(stft(wave.to(device), VAE_STFT))
    power = x.abs().square().clamp_min_(POWER_FLOOR)
    starts = None if start_from is None else _start_powers(wave, start_from, device)
    lip_frames = None if lip_frames is None else lip_frames.to(device)
    return _Problem(wave, x, power, lip_frames, note, starts)


def _run_em(
    model: SpeechVAE,
    problem: _Problem,
    choice: SchemeChoice,
    init: str,
    schedule: EMSchedule,
    generator: torch.Generator,
    progress: bool | None,
    callbacks: Sequence[EMCallback],
) -> tuple[GaussianScaleNMF, NMFEMState, History, SpeechShareGuard]:
    """The EM iterations: the problem, its state (the last one before a collapse where the
    scheme stops on it), the history and the speech-share guard."""
    n_frames = problem.power.shape[0]
    target = prior_target(model, problem.lips, n_frames)
    warm = problem.start_powers
    # a warm start reads the encoder on the supervised estimate instead of the noisy input
    z0 = initial_latents(model, problem.power if warm is None else warm[0], problem.lips, init)
    options = {"exponent": schedule.exponent, "nmf_prior": make_nmf_prior(schedule)}
    own_problem = getattr(model, "noisy_problem", None)  # a prior with its own (Markov) problem
    if own_problem is not None:
        em = own_problem(problem.power, choice.e_step, **options)
    else:
        em = GaussianScaleNMF(
            problem.power,
            target.decoder,
            choice.e_step,
            prior_correction=target.prior_correction,
            **options,
        )
    if init == "switch":  # two families of chains until the switch (switch.py)
        candidates = model.switch_candidates(problem.power, problem.lips)
        start = paired_start(candidates, schedule.chains)
    else:
        start = z0.unsqueeze(0).expand(schedule.chains, -1, -1).contiguous()
    params = None if warm is None else _warm_params(warm[1], schedule.rank, generator)
    state = em.init_state(schedule.rank, start, generator, params=params)
    bar = progress_bar(schedule.n_iter, f"enhance ({model.name}, {choice.label})", progress)

    def tick(record: IterationRecord, _state: Any) -> None:
        postfix = {"IS": f"{record.objective:.4f}"}
        if record.acceptance_rate is not None:
            postfix["acc"] = f"{record.acceptance_rate:.2f}"
        bar.set_postfix(postfix, refresh=False)
        bar.update()

    guard = SpeechShareGuard(problem.power, stop=choice.stop_on_collapse)
    try:
        state, history = em.run(
            state,
            n_iter=schedule.n_iter,
            tol=schedule.tol,
            generator=generator,
            callbacks=[guard, tick, *callbacks],
        )
    finally:
        bar.close()
    if guard.collapsed_at is not None and guard.stop:
        history.stop_reason = f"speech share collapsed at iteration {guard.collapsed_at}"
        state = guard.last_good if guard.last_good is not None else state
    return em, state, history, guard


def _with_switching_start(choice: SchemeChoice, schedule: EMSchedule) -> SchemeChoice:
    """The ``"switch"`` start: both E-steps wrapped by :class:`SwitchingStartEStep` (the same
    switch iteration, so the final run switches if EM stopped before it)."""
    if choice.label == "vem":
        raise ConfigError("--init switch re-starts MCMC chains: use an MCMC scheme, not vem")
    at = min(schedule.switch_at, schedule.n_iter)
    return dataclasses.replace(
        choice,
        e_step=SwitchingStartEStep(choice.e_step, at),
        final=SwitchingStartEStep(choice.final, at),
    )


def _check_scheme(model: Any, scheme: str | Kernel | EStep) -> None:
    """A scheme the prior cannot run (a name not in its ``schemes``, or a kernel or E-step of
    the user's for a prior that lists its schemes) is a one-line :class:`ConfigError` before
    any work, with the prior's ``scheme_note`` as the reason (the temporal priors: their
    latent frames are not independent given the observation, so per-frame kernels do not
    apply; their variational EM fine-tunes their sequential guide, ``vem_encoder``)."""
    allowed = getattr(model, "schemes", None)
    if allowed is not None and not isinstance(scheme, str):
        raise ConfigError(
            f"{model.name} runs its named schemes only ({', '.join(allowed)}): a kernel or "
            "E-step of your own would treat its latent frames as independent"
        )
    if allowed is not None and scheme not in allowed:
        why = getattr(model, "scheme_note", "")
        raise ConfigError(
            f"--scheme {scheme} cannot run with {model.name}"
            + (f": {why}" if why else "")
            + f"; use --scheme {' or '.join(allowed)}"
        )


def _steps_key(model: Any, scheme: str | Kernel | EStep) -> tuple[str | None, str | None]:
    """The key of :meth:`EMSchedule.steps_for` for this run, and the label of its errors: the
    scheme's name, or ``None`` (the papers' 40/30 unless given) for a Markov prior's
    checkerboard MH and for a kernel of the user's."""
    if getattr(model, "markov_prior", False):
        if scheme == "vem":  # R = n_steps - burn_in draws from the fine-tuned guide
            return None, f"vem ({model.name}: draws from the papers' 40/30 unless given)"
        return None, f"checkerboard mcem-mh ({model.name}: the papers' 40/30 unless given)"
    if isinstance(scheme, str):
        return scheme, None
    return None, None


def _switch_weight(state: NMFEMState) -> torch.Tensor | None:
    """The audio responsibilities ``rho_t`` of the switching start (mean over chains), if it
    ran."""
    extra = state.sampler.extra
    if not isinstance(extra, SwitchExtra) or extra.audio_weight is None:
        return None
    return extra.audio_weight.reshape(-1, extra.audio_weight.shape[-1]).mean(0)


def enhance(
    noisy: torch.Tensor | np.ndarray,
    model: SpeechVAE | str,
    *,
    lips: np.ndarray | torch.Tensor | None = None,
    fps: float = 25.0,
    lips_stft: torch.Tensor | None = None,
    scheme: str | Kernel | EStep | None = None,
    init: str | None = None,
    schedule: EMSchedule | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    sample_rate: int = 16_000,
    progress: bool | None = False,
    callbacks: Sequence[EMCallback] = (),
    keep_samples: bool = False,
    start_from: np.ndarray | torch.Tensor | None = None,
) -> PipelineResult:
    """Enhance one noisy recording with a VAE speech prior and NMF noise.

    Args:
        noisy: mono waveform at 16 kHz, ``(n_samples,)``.
        model: a trained prior (:func:`avgen.models.load_model`), or its name (``"a-vae"``,
            ``"dkf"``, ...: the bundled weights). A Markov prior (the DKF,
            :mod:`avgen.models.dvae`) brings its own EM problem (``noisy_problem``) and runs
            ``mcem-mh`` as checkerboard MH on the latent trajectory
            (:data:`inference.markov_mh.CHECKERBOARD_RWM`); other named schemes are refused.
        lips: the speaker's mouth video, uint8 ``(n, H, W)`` at ``fps`` (aligned to the audio
            by :func:`avgen.video_align.lips_for_audio`); needed by V-VAE, AV-VAE, AV-CVAE and
            MIN-VAE, ignored by the A-VAE.
        lips_stft: alternatively, lips already at the STFT frames, ``(T, lip_dim)`` in [0, 1].
        scheme: ``"mcem-mh"`` (default; a temporal prior: its first ``schemes``),
            ``"mcem-mala"``, ``"langevin"`` or ``"vem"``; or any
            :class:`inference.chain.Kernel` (run for the schedule's steps with step size
            ``sqrt(proposal_variance)``); or any :class:`inference.esteps.EStep` (used as it
            is for the iterations and the final run). ``info`` reports what ran
            (``e_step``, ``final_e_step``: each E-step's own ``describe()``).
        init: where the chains start (one of ``model.inits``); default ``model.default_init``
            (MIN-VAE: visual encoder; A-VAE, AV-VAE: encoder on the noisy input).
        schedule: the numbers (default ``EMSchedule()``: the papers' but for the NMF rank,
            MH's burn-in and VEM's steps, :mod:`avgen.pipelines.vae_nmf.schemes`).
        seed: the run's only source of randomness (NMF start, sampler).
        device: ``"cpu"``, ``"cuda"``, ... (the model is moved there).
        sample_rate: of ``noisy``; anything but 16 kHz is an :class:`~avgen.errors.AudioError`.
        progress: draw a progress bar over EM iterations.
        callbacks: ``callback(record, state)`` after each EM iteration (``True`` stops).
        keep_samples: also return the final E-step's latent samples ``(R, C, T, L)`` in
            ``extras["samples"]`` (for diagnostics; ``noise`` holds ``W``, ``H``, ``g``).
        start_from: a warm start, a speech estimate ``S_hat`` of the same recording (e.g. a
            supervised enhancer's, ``avgen enhance --init-from dfn3``): the chains start where
            ``init`` puts them on ``|S_hat|^2`` instead of on the noisy power (use
            ``init="audio"``), and the NMF from :data:`WARM_NMF_UPDATES` plain IS-NMF updates on
            the residual's power ``|X - S_hat|^2`` (unit gains) instead of a random start. The
            model and the EM are unchanged: the estimate is still the posterior mean of the
            unsupervised model, but it is no longer an unsupervised result and must be
            reported as its own system (``info["start_from"]``).

    Raises:
        AudioError: not mono, wrong rate, silent, too short, NaN.
        VideoError: lips missing for a visual prior, or a video whose duration differs from the
            audio's beyond the tolerance (:mod:`avgen.video_align`).
        ConfigError: an unknown scheme or init, or one the model cannot do.
    """
    from avgen.models.vae.registry import as_model

    model = as_model(model)
    if scheme is None:
        scheme = getattr(model, "schemes", SCHEMES)[0]
    if isinstance(scheme, str):
        scheme = canonical_scheme(scheme)  # an unknown name fails before any work
    _check_scheme(model, scheme)
    schedule = schedule or EMSchedule()
    if scheme == "vem" and schedule.chains > 1:
        raise ConfigError(
            "variational EM draws its samples from q, it runs no chains: drop --chains "
            f"(got {schedule.chains})"
        )
    steps_key, steps_label = _steps_key(model, scheme)
    if not isinstance(scheme, EStep) or isinstance(scheme, Kernel):  # numbers that run
        schedule.steps_for(steps_key, label=steps_label)
        schedule.steps_for(steps_key, final=True, label=steps_label)
    init = init or model.default_init
    dev = resolve_device(device)
    model = model.to(dev)
    problem = _prepare(noisy, model, lips, lips_stft, fps, sample_rate, dev, start_from)
    generator = torch_generator(seed, dev)

    started = time.perf_counter()
    with frozen(model), torch.no_grad():
        encoder = None
        if isinstance(scheme, str) and scheme == "vem":
            # a temporal prior fine-tunes its sequential guide; the others an encoder's Gaussian
            own = getattr(model, "vem_encoder", None)
            encoder = (own or partial(EncoderForVEM, model))(problem.power, problem.lips, init)
        choice = resolve_scheme(
            scheme,
            schedule,
            encoder=encoder,
            encoder_input=problem.power,
            markov=getattr(model, "markov_prior", False),
        )
        wrap = getattr(model, "wrap_e_step", None)  # a prior whose E-steps move more than a frame
        if wrap is not None and choice.builtin:
            choice = dataclasses.replace(
                choice, e_step=wrap(choice.e_step), final=wrap(choice.final)
            )
        if init == "switch":
            choice = _with_switching_start(choice, schedule)
        em, state, history, guard = _run_em(
            model, problem, choice, init, schedule, generator, progress, callbacks
        )
        em_seconds = time.perf_counter() - started
        # the final run at the last parameters, for the estimate: it continues the chains (and
        # adapted step sizes, fine-tuned encoder) of the EM iterations
        state, final_acceptance = em.e_step(state, generator, e_step=choice.final)
        bad = em.nonfinite_quantity(state)
        if bad is not None:
            raise NumericalError(f"the final E-step for the estimate: {bad} is not finite")
        params = state.params
        image_mean, image_variance = posterior_image_moments(
            problem.x, state.source_variance, params.gain, nmf_variance(params.W, params.H)
        )
        final_share = speech_share(problem.power, state)
        weight = model.visual_weight(problem.power, problem.lips)
        switch_weight = _switch_weight(state)
    seconds = time.perf_counter() - started

    n_samples = problem.wave.numel()
    spectrum = bins_major(image_mean)
    estimate = istft(spectrum, VAE_STFT, length=n_samples).to(torch.float32)
    last = state.last_e_step
    frame_acceptance = (
        None
        if last.frame_acceptance is None
        else last.frame_acceptance.reshape(-1, problem.power.shape[0]).mean(0).cpu()
    )
    info = run_info(
        pipeline="vae-nmf",
        seed=seed,
        device=dev,
        n_samples=n_samples,
        seconds=seconds,
        model=model.name,
        scheme=choice.label,
        init=init,
        start_from="given" if start_from is not None else None,
        n_frames=problem.power.shape[0],
        stft={
            "n_fft": VAE_STFT.n_fft,
            "hop_length": VAE_STFT.hop_length,
            "window": VAE_STFT.window,
        },
        # a user's E-step runs its own numbers: the schedule's steps are not what ran
        schedule=(
            dict(schedule.__dict__)
            if isinstance(scheme, EStep) and not isinstance(scheme, Kernel)
            else schedule.resolved(
                steps_key,
                structured=getattr(model, "markov_prior", False)
                or getattr(model, "wrap_e_step", None) is not None,
            )
        ),
        schedule_text=(
            schedule.describe(
                choice.label,
                markov=getattr(model, "markov_prior", False),
                trajectory=getattr(model, "wrap_e_step", None) is not None,
            )
            if choice.builtin
            else f"NMF rank {schedule.rank}, {schedule.n_iter} EM iterations, a user's E-step"
        ),
        e_step=choice.e_step.describe(),
        final_e_step=choice.final.describe(),
        em_iterations=history.n_iter,
        stop_reason=history.stop_reason,
        final_objective=history.objective[-1],
        speech_share=guard.report(final_share),
        objective_check=guard.objective_report(
            guard.last_good_objective
            if guard.stop
            and guard.collapsed_at is not None
            and guard.last_good_objective is not None
            else history.objective[-1]
        ),
        final_acceptance=final_acceptance,
        em_seconds=em_seconds,
        lips=problem.lips_note,
        mean_visual_weight=None if weight is None else float(weight.mean()),
        switch_audio_share=None if switch_weight is None else float(switch_weight.mean()),
        nmf_active_components=(
            em.nmf_prior.active(state.params) if isinstance(em.nmf_prior, ARDPrior) else None
        ),
    )
    params = state.params
    return PipelineResult(
        estimate=estimate.cpu(),
        spectrum=spectrum.cpu(),
        uncertainty=bins_major(image_variance).cpu(),
        history=history,
        info=info,
        observation_power=bins_major(problem.power).cpu(),
        noise=NMFParams(params.W.cpu(), params.H.cpu(), params.gain.cpu()),
        extras={
            "samples": state.last_e_step.samples.cpu() if keep_samples else None,
            "frame_acceptance": frame_acceptance,
            "visual_weight": None if weight is None else weight.cpu(),
            "switch_audio_weight": None if switch_weight is None else switch_weight.cpu(),
        },
    )


def enhance_batch(
    items: Sequence[tuple[torch.Tensor | np.ndarray, Any]],
    model: SpeechVAE,
    *,
    seed: int = 0,
    fps: float = 25.0,
    **kwargs: Any,
) -> list[PipelineResult]:
    """:func:`enhance` over ``(noisy, lips_or_None)`` pairs; item ``i`` uses the seed
    ``derive_seed(seed, i)``, so a result does not depend on the other items."""
    return [
        enhance(noisy, model, lips=lips, fps=fps, seed=derive_seed(seed, "enhance", i), **kwargs)
        for i, (noisy, lips) in enumerate(items)
    ]
