"""Training a diffusion prior of clean speech by denoising score matching (EDM).

Objective (Karras et al., 2022, eq. 2 and Table 1; Vincent, 2011): for clean compressed-STFT
segments ``x0``, ``log sigma ~ N(P_mean, P_std^2)`` and ``eps ~ N(0, I)``,

    L(theta) = E[ lambda(sigma) || D_theta(x0 + sigma eps; sigma) - x0 ||^2 ],
    lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2,

with ``D_theta`` the EDM-preconditioned U-Net (:func:`inference.diffusion.precond.edm_loss`).
``sigma_data`` is measured on the training speech (:func:`~.spectra.measure_sigma_data`) unless
given. ``P_mean`` defaults to ``-1.2 + log(sigma_data / 0.5)``: EDM's image setting
(``sigma_data = 0.5``) moved to the scale of the data, so the noise levels seen most often stand in
the same ratio to the signal as in EDM.

Optimisation: AdamW with a linear learning-rate warm-up, gradient-norm clipping, an exponential
moving average of the weights (:class:`~.ema.EMA`, used for sampling and saved as the model),
optional mixed precision on CUDA (``torch.autocast`` in bfloat16, or float16 with a gradient
scaler), and data-parallel training over processes when launched by ``torchrun`` with
``WORLD_SIZE > 1`` (``nccl`` on CUDA, ``gloo`` on CPU; one data shard per rank via
``DistributedSampler``). The single-process CPU path needs none of that.

Reproducibility: the initial weights come from ``seed``; the batch of step ``s`` and its noise are
functions of ``(seed, rank, s)`` (:mod:`~.segments`), so two runs with one seed give the same
numbers (on the same hardware and thread count), and a run resumed from a checkpoint continues
exactly as the uninterrupted run would have.

Checkpoints: :mod:`.checkpoints` (the format, :func:`~.checkpoints.load_diffusion_prior`,
:func:`~.checkpoints.export_prior`, resuming).

Structure of :func:`fit_diffusion_prior`: check the data, set up the processes, prepare the run
(resumed or fresh state, ``sigma_data``, the data-parallel denoiser, batches, validation set),
train (one optimiser step at a time, logging, periodic validation and checkpoints), then the final
validation and checkpoint. (About 330 lines of code: the loop and the state it threads through
steps, checkpoints and resumption are kept together, so that exact resumption is checked in one
place; configuration, checkpoint format, processes and validation live in their own modules.)
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from avgen.audio import DIFFUSION_STFT, check_waveform
from avgen.checkpoint import Checkpoint, save_checkpoint
from avgen.errors import ConfigError, TrainingError
from avgen.models.diffusion.checkpoints import MODEL_NAME, checkpoint_config, resume_checkpoint
from avgen.models.diffusion.configs import DiffusionTrainConfig, UNetConfig
from avgen.models.diffusion.distributed import (
    Processes,
    barrier,
    distributed_setup,
    mixed_precision,
)
from avgen.models.diffusion.ema import EMA
from avgen.models.diffusion.segments import SpeechSegments, validation_segments
from avgen.models.diffusion.spectra import measure_sigma_data
from avgen.models.diffusion.unet import UNet, count_parameters
from avgen.models.diffusion.validation import validation_losses, validation_sigmas
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, torch_generator
from inference.diffusion.precond import EDMDenoiser, edm_loss

logger = logging.getLogger("avgen")


@dataclass
class DiffusionPriorFit:
    """What :func:`fit_diffusion_prior` returns.

    Attributes:
        denoiser: the EMA network in EDM preconditioning, in eval mode: ``D(x, sigma, cond)``.
        net: the raw (not averaged) network, as trained.
        config: the training configuration; ``unet_config``: the network's.
        sigma_data: the data standard deviation used.
        history: one entry per ``log_every`` steps: step, mean loss, learning rate, gradient
            norm, seconds since the start of this run.
        validation: one entry per validation: step, ``val_loss`` of the EMA denoiser and
            ``val_baseline``, the same loss of the zero network (``D = c_skip x``, the Wiener
            shrinkage of data with standard deviation ``sigma_data``).
        steps_per_second: optimiser steps per second in this run (data + step, no validation).
        checkpoint: the checkpoint file written, if any.
    """

    denoiser: EDMDenoiser
    net: UNet
    config: DiffusionTrainConfig
    unet_config: UNetConfig
    sigma_data: float
    history: list[dict[str, float]]
    validation: list[dict[str, float]]
    steps_per_second: float
    checkpoint: Path | None = None


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _check_waveforms(waveforms: list[torch.Tensor], name: str) -> list[torch.Tensor]:
    out = []
    for i, w in enumerate(waveforms):
        w = torch.as_tensor(w)
        check_waveform(w, name=f"{name}[{i}]", min_samples=DIFFUSION_STFT.n_fft)
        out.append(w.to(torch.float32))
    return out


def _learning_rate(config: DiffusionTrainConfig, step: int) -> float:
    if config.warmup_steps > 0 and step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    return config.lr


def _autocast(config: DiffusionTrainConfig, device: torch.device):
    return mixed_precision(config.amp, device)


def _sigma_data(
    ckpt: Checkpoint | None, config: DiffusionTrainConfig, waveforms: list[torch.Tensor]
) -> float:
    """The resumed run's ``sigma_data``, else the configured one, else measured on the data."""
    if ckpt is not None:
        return float(ckpt.config["sigma_data"])
    if config.sigma_data is not None:
        return float(config.sigma_data)
    return measure_sigma_data(waveforms)


@dataclass
class _State:
    """What a checkpoint saves and a resumed run restores: the raw network, its EMA, the
    optimiser and gradient scaler, the step this run starts from, and the loss and validation
    histories (appended to as the run goes)."""

    net: UNet
    ema: EMA
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    start_step: int
    history: list[dict[str, float]]
    validation: list[dict[str, float]]


def _initial_state(
    config: DiffusionTrainConfig,
    net_config: UNetConfig,
    seed: int,
    device: torch.device,
    ckpt: Checkpoint | None,
) -> _State:
    """Fresh weights from ``seed`` (the global random state untouched), or the resumed ones."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "init"))
        net = UNet(net_config)
    net.to(device)
    ema = EMA(net, config.ema_decay)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=config.amp == "fp16")
    state = _State(net, ema, optimizer, scaler, 0, [], [])
    if ckpt is not None:
        net.load_state_dict(ckpt.extra["raw_state_dict"])
        ema.load_state_dict(ckpt.state_dict)
        optimizer.load_state_dict(ckpt.extra["optimizer"])
        if ckpt.extra.get("scaler"):
            scaler.load_state_dict(ckpt.extra["scaler"])
        state.start_step = int(ckpt.extra["step"])
        state.history = list(ckpt.extra.get("history", []))
        state.validation = list(ckpt.extra.get("validation", []))
    return state


@dataclass
class _Run:
    """One training run: the state, the data, the objective's settings and where it writes.

    ``train_denoiser`` wraps the (possibly data-parallel) raw network in EDM preconditioning;
    ``val_x0`` is the fixed validation set (``None``: no validation) and ``val_sigma`` its
    noise levels (:func:`validation_sigmas`).
    """

    config: DiffusionTrainConfig
    net_config: UNetConfig
    ctx: Processes
    seed: int
    sigma_data: float
    p_mean: float
    state: _State
    train_denoiser: EDMDenoiser
    segments: SpeechSegments
    val_x0: torch.Tensor | None
    val_sigma: torch.Tensor
    checkpoint: str | os.PathLike[str] | None
    ckpt_config: dict[str, Any]
    data_manifest_hash: str | None

    @property
    def device(self) -> torch.device:
        return self.ctx.device

    def save(self, step: int, seconds: float) -> None:
        """Write the checkpoint (main process only; nothing without a path)."""
        if self.checkpoint is None or not self.ctx.is_main:
            return
        s = self.state
        save_checkpoint(
            self.checkpoint,
            model=MODEL_NAME,
            config=self.ckpt_config,
            state_dict=s.ema.state_dict(),
            data_manifest_hash=self.data_manifest_hash,
            extra={
                "step": step,
                "raw_state_dict": s.net.state_dict(),
                "optimizer": s.optimizer.state_dict(),
                "scaler": s.scaler.state_dict() if s.scaler.is_enabled() else {},
                "history": s.history,
                "validation": s.validation,
                "seconds": seconds,
                "parameters": count_parameters(s.net),
            },
        )

    def validate(self, step: int) -> None:
        """Append the EMA denoiser's validation loss (main process only)."""
        if self.val_x0 is None or not self.ctx.is_main:
            return
        ema_denoiser = EDMDenoiser(self.state.ema.model, sigma_data=self.sigma_data)
        loss, base = validation_losses(
            ema_denoiser, self.val_x0, self.val_sigma.to(self.device), seed=self.seed
        )
        self.state.validation.append({"step": float(step), "val_loss": loss, "val_baseline": base})
        logger.info(
            "diffusion prior: step %d, validation loss %.4f (zero network %.4f)", step, loss, base
        )

    def optimiser_step(self, step: int) -> tuple[torch.Tensor, float, torch.Tensor | None]:
        """Step ``step``: its batch and noise (functions of ``(seed, rank, step)``), the EDM
        loss, backward, clipping, AdamW, EMA. Returns the loss, the learning rate and the
        gradient norm before clipping (``None`` without clipping)."""
        config, s, rank = self.config, self.state, self.ctx.rank
        x0 = self.segments.batch(step).to(self.device)
        lr = _learning_rate(config, step)
        for group in s.optimizer.param_groups:
            group["lr"] = lr
        torch.manual_seed(derive_seed(self.seed, "step", rank, step))  # dropout, if any
        gen = torch_generator(derive_seed(self.seed, "noise", rank, step), self.device)
        with _autocast(config, self.device):
            loss = edm_loss(
                self.train_denoiser, x0, p_mean=self.p_mean, p_std=config.p_std, generator=gen
            )
        if not bool(torch.isfinite(loss)):
            raise TrainingError(
                f"diffusion prior: the loss became {float(loss.detach())} at step {step}; "
                f"lower the learning rate (now {lr:g}) or the gradient clip "
                f"(now {config.grad_clip:g})"
            )
        s.optimizer.zero_grad(set_to_none=True)
        s.scaler.scale(loss).backward()
        grad_norm = None
        if config.grad_clip > 0:
            s.scaler.unscale_(s.optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(s.net.parameters(), config.grad_clip)
        s.scaler.step(s.optimizer)
        s.scaler.update()
        s.ema.update(s.net, step)
        return loss, lr, grad_norm

    def train(self, progress: bool | None) -> float:
        """Steps ``state.start_step .. config.steps``: log the mean loss every ``log_every`` steps,
        validate every ``val_every``, checkpoint every ``checkpoint_every`` (the final
        validation and checkpoint are the caller's). Returns the seconds spent in steps."""
        config, s = self.config, self.state
        bar = progress_bar(
            config.steps - s.start_step,
            desc=f"train diffusion-{config.size}",
            enabled=progress if self.ctx.is_main else False,
        )
        window: list[float] = []
        grad_norm = torch.zeros(())
        train_time = 0.0
        t_start = time.perf_counter()
        s.net.train()
        # Dropout draws from the global generator: reseed it per step (exact resume) inside a
        # fork, so that the caller's global random state is left as it was.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            for step in range(s.start_step, config.steps):
                t0 = time.perf_counter()
                loss, lr, norm = self.optimiser_step(step)
                grad_norm = grad_norm if norm is None else norm
                train_time += time.perf_counter() - t0
                window.append(float(loss.detach()))
                done = step + 1
                if len(window) == config.log_every or done == config.steps:
                    s.history.append(
                        {
                            "step": float(done),
                            "loss": sum(window) / len(window),
                            "lr": lr,
                            "grad_norm": float(grad_norm),
                            "seconds": time.perf_counter() - t_start,
                        }
                    )
                    window = []
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}", refresh=False)
                if config.val_every and done % config.val_every == 0 and done < config.steps:
                    self.validate(done)
                if (
                    config.checkpoint_every
                    and done % config.checkpoint_every == 0
                    and done < config.steps
                ):
                    self.save(done, time.perf_counter() - t_start)
        bar.close()
        return train_time


def _prepare_run(
    waveforms: list[torch.Tensor],
    val_waveforms: list[torch.Tensor],
    config: DiffusionTrainConfig,
    *,
    seed: int,
    ctx: Processes,
    resume: str | os.PathLike[str] | None,
    checkpoint: str | os.PathLike[str] | None,
    data_manifest_hash: str | None,
) -> _Run:
    """Resume state or fresh weights, ``sigma_data``, the (data-parallel) training denoiser,
    the training batches and the validation set."""
    device = ctx.device
    net_config = config.unet_config()
    ckpt = resume_checkpoint(resume, config, net_config) if resume is not None else None
    sigma_data = _sigma_data(ckpt, config, waveforms)
    p_mean = config.resolved_p_mean(sigma_data)
    state = _initial_state(config, net_config, seed, device, ckpt)
    train_net: nn.Module = state.net
    if ctx.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_net = DistributedDataParallel(
            state.net, device_ids=[device.index] if device.type == "cuda" else None
        )
    segments = SpeechSegments(
        waveforms,
        config.segment_frames,
        seed=seed,
        batch_size=config.batch_size,
        rank=ctx.rank,
        world_size=ctx.world_size,
    )
    val_x0 = (
        validation_segments(
            val_waveforms, config.segment_frames, config.val_segments, seed=seed
        ).to(device)
        if val_waveforms
        else None
    )
    return _Run(
        config=config,
        net_config=net_config,
        ctx=ctx,
        seed=seed,
        sigma_data=sigma_data,
        p_mean=p_mean,
        state=state,
        train_denoiser=EDMDenoiser(train_net, sigma_data=sigma_data),
        segments=segments,
        val_x0=val_x0,
        val_sigma=validation_sigmas(config.val_sigmas, p_mean, config.p_std),
        checkpoint=checkpoint,
        ckpt_config=checkpoint_config(config, net_config, sigma_data, p_mean, seed),
        data_manifest_hash=data_manifest_hash,
    )


def fit_diffusion_prior(
    waveforms: list[torch.Tensor],
    val_waveforms: list[torch.Tensor] | None,
    config: DiffusionTrainConfig,
    *,
    seed: int,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    data_manifest_hash: str | None = None,
    progress: bool | None = None,
) -> DiffusionPriorFit:
    """Train a diffusion prior on clean 16 kHz speech waveforms (data-agnostic core).

    Args:
        waveforms: training utterances, 1-D float tensors at 16 kHz.
        val_waveforms: validation utterances (``None`` or empty: no validation).
        config: hyper-parameters (:meth:`DiffusionTrainConfig.for_size`).
        seed: seeds the initial weights, the batches and the noise.
        checkpoint: file to write (every ``checkpoint_every`` steps and at the end).
        resume: a checkpoint written by this function to continue from; the run continues up to
            ``config.steps`` with the same batches as an uninterrupted run.
        device: ``"cpu"``, ``"cuda"``...; under ``torchrun`` each rank takes its local GPU.
        data_manifest_hash: identifies the training data (stored in the checkpoint).
        progress: force the progress bar on or off (default: ``AVGEN_PROGRESS`` / TTY).
    """
    device = torch.device(device)
    if config.amp != "none" and device.type != "cuda":
        raise ConfigError(
            f"mixed precision (amp={config.amp!r}) needs a CUDA device; use amp='none' on the CPU"
        )
    waveforms = _check_waveforms(list(waveforms), "training waveform")
    if not waveforms:
        raise ConfigError("fit_diffusion_prior: no training waveforms")
    val_waveforms = _check_waveforms(list(val_waveforms or []), "validation waveform")
    ctx = distributed_setup(device)
    run = _prepare_run(
        waveforms,
        val_waveforms,
        config,
        seed=seed,
        ctx=ctx,
        resume=resume,
        checkpoint=checkpoint,
        data_manifest_hash=data_manifest_hash,
    )
    state = run.state
    start_step = state.start_step
    if ctx.is_main:
        logger.info(
            "diffusion prior %s: %d parameters, sigma_data %.4f, %d training items, steps %d..%d",
            config.size,
            count_parameters(state.net),
            run.sigma_data,
            len(run.segments),
            start_step,
            config.steps,
        )
    t_start = time.perf_counter()
    train_time = run.train(progress)
    if start_step < config.steps or not state.validation:
        run.validate(config.steps)
    run.save(config.steps, time.perf_counter() - t_start)
    barrier(ctx)
    if ctx.owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
    n_run = config.steps - start_step
    return DiffusionPriorFit(
        denoiser=EDMDenoiser(state.ema.model, sigma_data=run.sigma_data).eval(),
        net=state.net,
        config=config,
        unet_config=run.net_config,
        sigma_data=run.sigma_data,
        history=state.history,
        validation=state.validation,
        steps_per_second=n_run / train_time if train_time > 0 else 0.0,
        checkpoint=Path(checkpoint) if checkpoint is not None else None,
    )
