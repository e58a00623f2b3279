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

(the law of total variance over the samples, :func:`inference.nmf_em.posterior_source_moments`):
an *uncertainty map* that is large where the speech and noise models disagree about who made a
bin. The output is the speech as it sounds in the mixture (the image ``sqrt(g) s``), at the input's
level.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, VAE_STFT, check_waveform, istft, stft
from avgen.errors import AudioError, ConfigError
from avgen.models.vae.min_vae import MixtureInferenceVAE
from avgen.models.vae.models import SpeechVAE
from avgen.pipelines.vae_nmf.schemes import SCHEMES, EMSchedule, canonical_scheme, make_e_step
from avgen.pipelines.vae_nmf.target import (
    INITS,
    EncoderForVEM,
    ModelPriorNMF,
    check_lips_for,
    default_init,
    initial_latents,
    prior_target,
    visual_responsibility,
)
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, torch_generator
from avgen.video_align import lips_for_audio
from inference.em import History, IterationRecord
from inference.nmf import nmf_variance
from inference.nmf_em import posterior_source_moments

__all__ = [
    "INITS",
    "SCHEMES",
    "EMSchedule",
    "EnhancementResult",
    "describe_result",
    "enhance",
    "enhance_batch",
]

#: the smallest |x|^2 the model sees (float32 division by an exactly silent bin is harmless, but
#: a digital-silence frame would pin the NMF at 0 and the decoder's variance at its floor)
POWER_FLOOR = 1e-12


@dataclass
class EnhancementResult:
    """What :func:`enhance` returns.

    Attributes:
        estimate: enhanced waveform ``(n_samples,)`` float32, the posterior mean of the speech
            image ``sqrt(g) s``.
        spectrum: its STFT ``(F, T)`` complex64 (VAE convention: sine 1024 / hop 256).
        variance: per-bin posterior variance of the speech image ``(F, T)``: the uncertainty map.
        noisy_power: ``|x|^2`` ``(F, T)``.
        noise_variance: the fitted NMF noise variance ``W H`` ``(F, T)``.
        gain: the fitted frame gains ``g`` ``(T,)``.
        history: the EM history (objective = sample-averaged IS divergence per bin after each
            M-step, lower is better; acceptance; timings).
        frame_acceptance: per-frame acceptance of the final sampler run ``(T,)`` (``None`` for
            Langevin and VEM).
        visual_weight: MIN-VAE only: the visual branch's mixture weight ``r_t`` on the noisy
            input ``(T,)``.
        info: the run's settings and measurements (model, scheme, init, schedule, seed,
            seconds, real-time factor, frames, ...), JSON-ready.
    """

    estimate: torch.Tensor
    spectrum: torch.Tensor
    variance: torch.Tensor
    noisy_power: torch.Tensor
    noise_variance: torch.Tensor
    gain: torch.Tensor
    history: History
    frame_acceptance: torch.Tensor | None = None
    visual_weight: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)


@contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """No gradients to the weights inside the block (MALA/Langevin differentiate in ``z`` only);
    the ``requires_grad`` flags are restored afterwards."""
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def _as_waveform(noisy: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
    if int(sample_rate) != SAMPLE_RATE:
        raise AudioError(
            f"the noisy audio is at {sample_rate} Hz; the priors work at "
            f"{SAMPLE_RATE} Hz (resample it first, e.g. avgen enhance --resample)"
        )
    x = torch.as_tensor(np.asarray(noisy) if not isinstance(noisy, torch.Tensor) else noisy)
    if x.ndim == 2 and 1 in x.shape:
        raise AudioError(
            f"noisy audio has shape {tuple(x.shape)}: pass a 1-D mono waveform "
            "(squeeze the channel axis)"
        )
    check_waveform(x, name="noisy", min_samples=VAE_STFT.n_fft)
    return x.detach().to(torch.float32)


def _lips_at_frames(
    model: SpeechVAE,
    lips: Any,
    lips_stft: torch.Tensor | None,
    fps: float,
    n_samples: int,
    n_frames: int,
) -> torch.Tensor | None:
    if not model.uses_lips:
        return None
    if lips_stft is not None:
        return check_lips_for(model, torch.as_tensor(lips_stft, dtype=torch.float32), n_frames)
    if lips is None:
        return check_lips_for(model, None, n_frames)
    from avgen.models.vae.networks import lip_side

    aligned = lips_for_audio(lips, fps, n_samples, lip_size=lip_side(model.config.lip_dim))
    return check_lips_for(model, aligned, n_frames)


def enhance(
    noisy: torch.Tensor | np.ndarray,
    model: SpeechVAE,
    *,
    lips: np.ndarray | torch.Tensor | None = None,
    fps: float = 25.0,
    lips_stft: torch.Tensor | None = None,
    scheme: str = "mcem-mh",
    init: str | None = None,
    schedule: EMSchedule | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    sample_rate: int = SAMPLE_RATE,
    progress: bool | None = False,
    callbacks: Sequence[Callable[[IterationRecord, Any], Any]] = (),
) -> EnhancementResult:
    """Enhance one noisy recording with a VAE speech prior and NMF noise.

    Args:
        noisy: mono waveform at 16 kHz, ``(n_samples,)``.
        model: a trained prior (:func:`avgen.models.load_model`).
        lips: the speaker's mouth video, uint8 ``(n, H, W)`` at ``fps`` (aligned to the audio
            by :func:`avgen.video_align.lips_for_audio`); needed by V-VAE, AV-VAE, AV-CVAE and
            MIN-VAE, ignored by the A-VAE.
        lips_stft: alternatively, lips already at the STFT frames, ``(T, lip_dim)`` in [0, 1].
        scheme: ``"mcem-mh"`` (default), ``"mcem-mala"``, ``"langevin"`` or ``"vem"``.
        init: where the chains start (:data:`avgen.pipelines.vae_nmf.target.INITS`); default: the
            model's own (MIN-VAE: visual encoder; A-VAE, AV-VAE: encoder on the noisy input).
        schedule: the numbers (default: the papers').
        seed: the run's only source of randomness (NMF start, sampler).
        device: ``"cpu"``, ``"cuda"``, ... (the model is moved there).
        sample_rate: of ``noisy``; anything but 16 kHz is an :class:`~avgen.errors.AudioError`.
        progress: draw a progress bar over EM iterations.
        callbacks: ``callback(record, state)`` after each EM iteration (``True`` stops).

    Raises:
        AudioError: not mono, wrong rate, silent, too short, NaN.
        VideoError: lips missing for a visual prior, or a video whose duration differs from the
            audio's beyond the tolerance (:mod:`avgen.video_align`).
        ConfigError: an unknown scheme or init, or one the model cannot do.
    """
    scheme = canonical_scheme(scheme)
    schedule = schedule or EMSchedule()
    init = init or default_init(model)
    if init not in INITS:
        raise ConfigError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    wave = _as_waveform(noisy, sample_rate)
    n_samples = wave.numel()
    n_frames = VAE_STFT.n_frames(n_samples)
    if not model.uses_lips and (lips is not None or lips_stft is not None):
        lips = lips_stft = None  # an audio-only prior: the video plays no part (said in info)
        lips_ignored = True
    else:
        lips_ignored = False
    lip_frames = _lips_at_frames(model, lips, lips_stft, fps, n_samples, n_frames)

    device = torch.device(device)
    model = model.to(device)
    generator = torch_generator(seed, device)
    x = stft(wave.to(device), VAE_STFT).transpose(0, 1).contiguous()  # (T, F) complex
    power = x.abs().square().clamp_min_(POWER_FLOOR)
    lip_frames = None if lip_frames is None else lip_frames.to(device)

    started = time.perf_counter()
    with frozen(model), torch.no_grad():
        target = prior_target(model, lip_frames, n_frames)
        z0 = initial_latents(model, power, lip_frames, init)
        encoder = EncoderForVEM(model, power, lip_frames, init) if scheme == "vem" else None
        e_step = make_e_step(scheme, schedule, encoder=encoder, encoder_input=power)
        problem = ModelPriorNMF(
            power,
            target.decoder,
            e_step,
            prior_correction=target.prior_correction,
            exponent=schedule.exponent,
        )
        start = z0.unsqueeze(0).expand(schedule.chains, -1, -1).contiguous()
        state = problem.init_state(schedule.rank, start, generator)
        bar = progress_bar(schedule.n_iter, f"enhance ({model.name}, {scheme})", progress)

        def tick(record: IterationRecord, _state: Any) -> None:
            postfix = {"IS": f"{record.objective:.4f}"}
            if record.acceptance_rate is not None:
                postfix["acc"] = f"{record.acceptance_rate:.2f}"
            bar.set_postfix(postfix, refresh=False)
            bar.update()

        try:
            state, history = problem.run(
                state,
                n_iter=schedule.n_iter,
                tol=schedule.tol,
                generator=generator,
                callbacks=[tick, *callbacks],
            )
        finally:
            bar.close()
        em_seconds = time.perf_counter() - started
        # the final sampler run at the last parameters, for the estimate
        problem.e_step_fn = make_e_step(scheme, schedule, final=True, previous=e_step)
        state, final_acceptance = problem.e_step(state, generator)
        params = state.params
        noise_variance = nmf_variance(params.W, params.H)
        mean, variance = posterior_source_moments(
            x, state.source_variance, params.gain, noise_variance
        )
        scale = params.gain.unsqueeze(-1)
        image_mean = mean * scale.sqrt()
        image_variance = variance * scale
        weight = (
            visual_responsibility(model, power, lip_frames)
            if isinstance(model, MixtureInferenceVAE)
            else None
        )
    seconds = time.perf_counter() - started
    spectrum = image_mean.transpose(0, 1).contiguous()
    estimate = istft(spectrum, VAE_STFT, length=n_samples).to(torch.float32)
    last = state.last_e_step
    frame_acceptance = (
        None
        if last is None or last.frame_acceptance is None
        else last.frame_acceptance.reshape(-1, n_frames).mean(0).cpu()
    )
    duration = n_samples / SAMPLE_RATE
    info = {
        "model": model.name,
        "scheme": scheme,
        "init": init,
        "seed": seed,
        "device": str(device),
        "sample_rate": SAMPLE_RATE,
        "n_samples": n_samples,
        "duration_s": duration,
        "n_frames": n_frames,
        "stft": {
            "n_fft": VAE_STFT.n_fft,
            "hop_length": VAE_STFT.hop_length,
            "window": VAE_STFT.window,
        },
        "schedule": {
            **schedule.__dict__,
            "final_steps": schedule.final_n_steps,
            "final_burn_in": schedule.final_n_burn_in,
        },
        "schedule_text": schedule.describe(scheme),
        "em_iterations": history.n_iter,
        "stop_reason": history.stop_reason,
        "final_objective": history.objective[-1],
        "final_acceptance": final_acceptance,
        "em_seconds": em_seconds,
        "seconds": seconds,
        "real_time_factor": seconds / duration,
        "lips": "ignored (audio-only prior)"
        if lips_ignored
        else ("used" if lip_frames is not None else "none"),
        "mean_visual_weight": None if weight is None else float(weight.mean()),
    }
    return EnhancementResult(
        estimate=estimate.cpu(),
        spectrum=spectrum.cpu(),
        variance=image_variance.transpose(0, 1).contiguous().cpu(),
        noisy_power=power.transpose(0, 1).contiguous().cpu(),
        noise_variance=noise_variance.transpose(0, 1).contiguous().cpu(),
        gain=params.gain.cpu(),
        history=history,
        frame_acceptance=frame_acceptance,
        visual_weight=None if weight is None else weight.cpu(),
        info=info,
    )


def enhance_batch(
    items: Sequence[tuple[torch.Tensor | np.ndarray, Any]],
    model: SpeechVAE,
    *,
    seed: int = 0,
    fps: float = 25.0,
    **kwargs: Any,
) -> list[EnhancementResult]:
    """:func:`enhance` over ``(noisy, lips_or_None)`` pairs; item ``i`` uses the seed
    ``derive_seed(seed, i)``, so a result does not depend on the other items."""
    return [
        enhance(noisy, model, lips=lips, fps=fps, seed=derive_seed(seed, "enhance", i), **kwargs)
        for i, (noisy, lips) in enumerate(items)
    ]


def describe_result(result: EnhancementResult, *, source: str = "the input") -> str:
    """Sentences that say exactly what a run did, for the command line and reports."""
    info = result.info
    init_text = {
        "prior": "the prior mean",
        "audio": "the encoder on the noisy input",
        "visual": "the visual encoder on the lips",
        "mixture": "the mixture of the audio and visual encoders",
    }[info["init"]]
    lines = [
        f"enhanced {source} ({info['duration_s']:.2f} s, {info['n_frames']} STFT frames: "
        f"sine window {info['stft']['n_fft']}, hop {info['stft']['hop_length']}) with the "
        f"{info['model']} speech prior and NMF noise learnt from the input alone",
        f"scheme {info['scheme']}: {info['schedule_text']}",
        f"chains started from {init_text}; lips: {info['lips']}; seed {info['seed']}; "
        f"device {info['device']}",
        f"{info['em_iterations']} EM iterations (stop: {info['stop_reason']}), final "
        f"IS divergence per bin {info['final_objective']:.4f}"
        + (
            ""
            if info["final_acceptance"] is None
            else f", final acceptance {info['final_acceptance']:.2f}"
        ),
        f"took {info['seconds']:.2f} s (real-time factor {info['real_time_factor']:.2f}); "
        "estimate = posterior mean (Wiener filter averaged over the final samples), "
        "uncertainty = per-bin posterior variance",
    ]
    if info.get("mean_visual_weight") is not None:
        lines.append(
            f"MIN-VAE visual weight on the noisy input: mean {info['mean_visual_weight']:.2f}"
        )
    return "\n".join(lines)


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN: ``None`` for a non-finite number."""
    return None if value is None or not math.isfinite(value) else float(value)
