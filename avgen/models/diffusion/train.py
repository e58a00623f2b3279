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

Checkpoints (:mod:`avgen.checkpoint`, model ``"diffusion-prior"``): ``config`` holds the size, the
U-Net configuration, ``sigma_data``, the STFT convention and the training configuration;
``state_dict`` holds the EMA weights of the U-Net; ``extra`` holds the raw weights, the optimiser
and scaler states, the step and the loss history, for resuming. :func:`export_prior` strips the
resume state to make a small file for shipping.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from avgen.audio import DIFFUSION_STFT, check_waveform
from avgen.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from avgen.errors import CheckpointError, ConfigError
from avgen.models.diffusion.configs import SIZES, UNetConfig, unet_config
from avgen.models.diffusion.ema import EMA
from avgen.models.diffusion.segments import SpeechSegments, validation_segments
from avgen.models.diffusion.spectra import measure_sigma_data
from avgen.models.diffusion.unet import UNet, count_parameters
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, torch_generator
from inference.diffusion.precond import EDMDenoiser, edm_coefficients, edm_loss

logger = logging.getLogger("avgen")

MODEL_NAME = "diffusion-prior"
"""The ``model`` entry of diffusion-prior checkpoints."""

AMP_MODES = ("none", "bf16", "fp16")


@dataclass(frozen=True)
class DiffusionTrainConfig:
    """Hyper-parameters of :func:`fit_diffusion_prior` (see :meth:`for_size` for defaults).

    Attributes:
        size: ``"tiny"``, ``"small"`` or ``"base"`` (:data:`~.configs.SIZES`).
        steps: optimiser steps in total (a resumed run continues up to this number).
        batch_size: segments per step and per process.
        segment_frames: STFT frames per segment (a multiple of the U-Net's downsampling
            factor; 256 frames = 2.04 s).
        lr: peak learning rate of AdamW; ``warmup_steps``: linear warm-up length.
        weight_decay: AdamW's decoupled weight decay.
        ema_decay: decay of the weight average (half-life ``ln 2 / (1 - decay)`` steps).
        grad_clip: maximum global gradient norm (``0``: no clipping).
        sigma_data: data standard deviation; ``None``: measured on the training speech.
        p_mean, p_std: log-normal noise-level distribution; ``p_mean=None``: EDM's -1.2 moved
            to the data's scale, ``-1.2 + log(sigma_data / 0.5)``.
        amp: ``"none"``, ``"bf16"`` or ``"fp16"`` (mixed precision, CUDA only).
        val_every: steps between validation losses (``0``: only at the end).
        val_segments: size of the fixed validation set; ``val_sigmas``: noise levels of the
            validation loss (quantiles of the training distribution).
        checkpoint_every: steps between checkpoints (``0``: only at the end).
        log_every: steps averaged per entry of the loss history.
        unet: field overrides of the size's :class:`~.configs.UNetConfig`.
    """

    size: str = "tiny"
    steps: int = 300
    batch_size: int = 8
    segment_frames: int = 64
    lr: float = 1e-3
    warmup_steps: int = 20
    weight_decay: float = 0.0
    ema_decay: float = 0.99
    grad_clip: float = 1.0
    sigma_data: float | None = None
    p_mean: float | None = None
    p_std: float = 1.2
    amp: str = "none"
    val_every: int = 100
    val_segments: int = 16
    val_sigmas: int = 8
    checkpoint_every: int = 0
    log_every: int = 10
    unet: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError(
                f"unknown diffusion model size {self.size!r}; choose from {', '.join(SIZES)}"
            )
        if self.amp not in AMP_MODES:
            raise ConfigError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        positive = {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "segment_frames": self.segment_frames,
            "val_segments": self.val_segments,
            "val_sigmas": self.val_sigmas,
            "log_every": self.log_every,
        }
        bad = {k: v for k, v in positive.items() if int(v) < 1}
        if bad:
            raise ConfigError(f"DiffusionTrainConfig: these must be >= 1: {bad}")
        if self.lr <= 0 or self.p_std <= 0 or not 0 <= self.ema_decay < 1:
            raise ConfigError(
                "DiffusionTrainConfig: lr > 0, p_std > 0 and 0 <= ema_decay < 1 are required"
            )
        if self.sigma_data is not None and self.sigma_data <= 0:
            raise ConfigError(f"sigma_data must be positive, got {self.sigma_data}")
        factor = self.unet_config().downsampling_factor
        if self.segment_frames % factor:
            raise ConfigError(
                f"segment_frames={self.segment_frames} is not a multiple of the "
                f"{self.size} U-Net's downsampling factor {factor}"
            )

    @classmethod
    def for_size(cls, size: str, **overrides: Any) -> DiffusionTrainConfig:
        """Defaults for a size: ``tiny`` trains in seconds (tests), ``small`` in about an hour
        on 2 CPU cores, ``base`` is meant for GPUs."""
        defaults: dict[str, dict[str, Any]] = {
            "tiny": {},
            "small": dict(
                steps=2000,
                batch_size=8,
                segment_frames=256,
                lr=5e-4,
                warmup_steps=100,
                ema_decay=0.999,
                val_every=250,
                val_segments=32,
                checkpoint_every=250,
                log_every=25,
            ),
            "base": dict(
                steps=200_000,
                batch_size=32,
                segment_frames=256,
                lr=2e-4,
                warmup_steps=2000,
                ema_decay=0.9999,
                val_every=5000,
                val_segments=64,
                checkpoint_every=5000,
                log_every=100,
            ),
        }
        if size not in defaults:
            raise ConfigError(
                f"unknown diffusion model size {size!r}; choose from {', '.join(SIZES)}"
            )
        return cls(size=size, **{**defaults[size], **overrides})

    def unet_config(self) -> UNetConfig:
        """The network's configuration: the size's, with :attr:`unet` overrides."""
        return unet_config(self.size, **dict(self.unet))

    def resolved_p_mean(self, sigma_data: float) -> float:
        """``p_mean``, or EDM's default moved to ``sigma_data``'s scale."""
        if self.p_mean is not None:
            return float(self.p_mean)
        return -1.2 + math.log(sigma_data / 0.5)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["unet"] = dict(self.unet)
        return d


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
# Distributed set-up
# ---------------------------------------------------------------------------------------------


@dataclass
class _Dist:
    rank: int
    world_size: int
    device: torch.device
    owns_group: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _distributed_setup(device: torch.device) -> _Dist:
    """Initialise ``torch.distributed`` when launched by ``torchrun`` with ``WORLD_SIZE > 1``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(0, 1, device, owns_group=False)
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns = True
    return _Dist(dist.get_rank(), dist.get_world_size(), device, owns)


def _barrier(ctx: _Dist) -> None:
    if ctx.world_size > 1:
        import torch.distributed as dist

        dist.barrier()


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def validation_sigmas(n: int, p_mean: float, p_std: float) -> torch.Tensor:
    """``n`` noise levels at the mid-quantiles ``(k + 1/2) / n`` of the log-normal training
    distribution: the validation loss is a fixed-point quadrature of the training loss."""
    q = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    z = math.sqrt(2.0) * torch.erfinv(2.0 * q - 1.0)
    return (p_mean + p_std * z).exp().to(torch.float32)


@torch.no_grad()
def validation_losses(
    denoiser: EDMDenoiser,
    x0: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    seed: int,
    batch_size: int = 16,
) -> tuple[float, float]:
    """``(loss, baseline)``: the EDM-weighted denoising error of ``denoiser`` on ``x0`` averaged
    over ``sigmas`` with fixed noise, and the same of ``D = c_skip x`` (the zero network)."""
    gen = torch_generator(derive_seed(seed, "validation-noise"))
    total = base = 0.0
    count = 0
    sd = denoiser.sigma_data
    for sigma in sigmas.tolist():
        weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
        c_skip = edm_coefficients(torch.tensor(sigma), sd)[0].item()
        for chunk in x0.split(batch_size):
            noise = torch.randn(chunk.shape, generator=gen).to(chunk.device)
            x = chunk + sigma * noise
            err = (
                (denoiser(x, torch.full((chunk.shape[0],), sigma, device=chunk.device)) - chunk)
                .square()
                .flatten(1)
                .mean(1)
            )
            err0 = (c_skip * x - chunk).square().flatten(1).mean(1)
            total += weight * float(err.sum())
            base += weight * float(err0.sum())
            count += chunk.shape[0]
    return total / count, base / count


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


def _stft_dict() -> dict[str, Any]:
    s = DIFFUSION_STFT
    return {
        "n_fft": s.n_fft,
        "hop_length": s.hop_length,
        "window": s.window,
        "compression_exponent": s.compression_exponent,
        "compression_scale": s.compression_scale,
    }


def _checkpoint_config(
    config: DiffusionTrainConfig,
    net_config: UNetConfig,
    sigma_data: float,
    p_mean: float,
    seed: int,
) -> dict[str, Any]:
    return {
        "size": config.size,
        "unet": net_config.to_dict(),
        "sigma_data": sigma_data,
        "p_mean": p_mean,
        "p_std": config.p_std,
        "stft": _stft_dict(),
        "train": config.to_dict(),
        "seed": int(seed),
    }


def _check_stft(ckpt_config: Mapping[str, Any], path: Path) -> None:
    stft_cfg = ckpt_config.get("stft")
    if stft_cfg is not None and dict(stft_cfg) != _stft_dict():
        raise CheckpointError(
            f"{path}: the prior was trained on another STFT convention "
            f"({stft_cfg}) than this library's DIFFUSION_STFT"
        )


def load_diffusion_prior(
    path: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> EDMDenoiser:
    """The EMA denoiser of a diffusion-prior checkpoint, in eval mode with frozen weights.

    ``path=None`` loads the small prior bundled with the package (:func:`bundled_prior_path`).
    The returned module has attributes ``unet_config`` and ``checkpoint_config``.
    """
    p = bundled_prior_path() if path is None else Path(path)
    ckpt = load_checkpoint(p, expected_model=MODEL_NAME, map_location="cpu")
    _check_stft(ckpt.config, p)
    try:
        net_config = UNetConfig.from_dict(ckpt.config["unet"])
        sigma_data = float(ckpt.config["sigma_data"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(
            f"{p}: diffusion-prior checkpoint without a valid network configuration ({exc})"
        ) from None
    net = UNet(net_config)
    try:
        net.load_state_dict(ckpt.state_dict)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{p}: weights do not fit the stored configuration ({str(exc).splitlines()[0]})"
        ) from None
    denoiser = EDMDenoiser(net, sigma_data=sigma_data).to(device).eval().requires_grad_(False)
    denoiser.unet_config = net_config  # type: ignore[attr-defined]
    denoiser.checkpoint_config = ckpt.config  # type: ignore[attr-defined]
    return denoiser


def bundled_prior_path() -> Path:
    """Path of the small diffusion prior shipped in the package (``avgen/assets/diffusion``)."""
    from importlib.resources import files

    path = Path(str(files("avgen") / "assets" / "diffusion" / "prior-small.pt"))
    if not path.is_file():
        raise CheckpointError(
            f"{path}: the bundled diffusion prior is missing (a broken "
            "installation?); train one with `avgen train --model "
            "diffusion-prior --size small --data DIR --out FILE`"
        )
    return path


def export_prior(checkpoint: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Write a copy of a training checkpoint without its resume state (raw weights, optimiser):
    the EMA weights, configuration and a summary of the history only (for shipping)."""
    ckpt = load_checkpoint(checkpoint, expected_model=MODEL_NAME)
    extra = {k: ckpt.extra[k] for k in ("step", "validation", "seconds") if k in ckpt.extra}
    return save_checkpoint(
        dest,
        model=MODEL_NAME,
        config=ckpt.config,
        state_dict=ckpt.state_dict,
        data_manifest_hash=ckpt.data_manifest_hash,
        extra=extra,
    )


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
    if config.amp == "none":
        return nullcontext()
    dtype = torch.bfloat16 if config.amp == "bf16" else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def _resume_state(
    resume: str | os.PathLike[str], config: DiffusionTrainConfig, net_config: UNetConfig
) -> Checkpoint:
    ckpt = load_checkpoint(resume, expected_model=MODEL_NAME)
    _check_stft(ckpt.config, Path(resume))
    if "raw_state_dict" not in ckpt.extra or "optimizer" not in ckpt.extra:
        raise CheckpointError(
            f"{resume}: holds no training state to resume from (an exported "
            "prior?); resume from a checkpoint written during training"
        )
    stored = UNetConfig.from_dict(ckpt.config["unet"])
    if stored != net_config:
        raise CheckpointError(
            f"{resume}: was trained with another network configuration "
            f"({ckpt.config.get('size')}); resume with the same --size"
        )
    if config.sigma_data is not None and abs(config.sigma_data - ckpt.config["sigma_data"]) > 1e-12:
        raise CheckpointError(
            f"{resume}: was trained with sigma_data="
            f"{ckpt.config['sigma_data']}, not {config.sigma_data}"
        )
    return ckpt


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
    show_progress: bool | None = None,
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
        show_progress: force the progress bar on or off (default: ``AVGEN_PROGRESS`` / TTY).
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
    ctx = _distributed_setup(device)
    device = ctx.device
    net_config = config.unet_config()

    ckpt = _resume_state(resume, config, net_config) if resume is not None else None
    if ckpt is not None:
        sigma_data = float(ckpt.config["sigma_data"])
    elif config.sigma_data is not None:
        sigma_data = float(config.sigma_data)
    else:
        sigma_data = measure_sigma_data(waveforms)
    p_mean = config.resolved_p_mean(sigma_data)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "init"))
        net = UNet(net_config)
    net.to(device)
    ema = EMA(net, config.ema_decay)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=config.amp == "fp16")
    start_step = 0
    history: list[dict[str, float]] = []
    validation: list[dict[str, float]] = []
    if ckpt is not None:
        net.load_state_dict(ckpt.extra["raw_state_dict"])
        ema.load_state_dict(ckpt.state_dict)
        optimizer.load_state_dict(ckpt.extra["optimizer"])
        if ckpt.extra.get("scaler"):
            scaler.load_state_dict(ckpt.extra["scaler"])
        start_step = int(ckpt.extra["step"])
        history = list(ckpt.extra.get("history", []))
        validation = list(ckpt.extra.get("validation", []))

    train_net: nn.Module = net
    if ctx.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_net = DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    train_denoiser = EDMDenoiser(train_net, sigma_data=sigma_data)
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
    val_sigma = validation_sigmas(config.val_sigmas, p_mean, config.p_std)
    ckpt_config = _checkpoint_config(config, net_config, sigma_data, p_mean, seed)

    def save(step: int, seconds: float) -> None:
        if checkpoint is None or not ctx.is_main:
            return
        save_checkpoint(
            checkpoint,
            model=MODEL_NAME,
            config=ckpt_config,
            state_dict=ema.state_dict(),
            data_manifest_hash=data_manifest_hash,
            extra={
                "step": step,
                "raw_state_dict": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                "history": history,
                "validation": validation,
                "seconds": seconds,
                "parameters": count_parameters(net),
            },
        )

    def validate(step: int) -> None:
        if val_x0 is None or not ctx.is_main:
            return
        ema_denoiser = EDMDenoiser(ema.model, sigma_data=sigma_data)
        loss, base = validation_losses(ema_denoiser, val_x0, val_sigma.to(device), seed=seed)
        validation.append({"step": float(step), "val_loss": loss, "val_baseline": base})
        logger.info(
            "diffusion prior: step %d, validation loss %.4f (zero network %.4f)", step, loss, base
        )

    if ctx.is_main:
        logger.info(
            "diffusion prior %s: %d parameters, sigma_data %.4f, %d training items, steps %d..%d",
            config.size,
            count_parameters(net),
            sigma_data,
            len(segments),
            start_step,
            config.steps,
        )
    bar = progress_bar(
        config.steps - start_step,
        desc=f"train diffusion-{config.size}",
        enabled=show_progress if ctx.is_main else False,
    )
    window: list[float] = []
    grad_norm = torch.zeros(())
    train_time = 0.0
    t_start = time.perf_counter()
    net.train()
    # Dropout draws from the global generator: reseed it per step (exact resume) inside a
    # fork, so that the caller's global random state is left as it was.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for step in range(start_step, config.steps):
            t0 = time.perf_counter()
            x0 = segments.batch(step).to(device)
            lr = _learning_rate(config, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(derive_seed(seed, "step", ctx.rank, step))  # dropout, if any
            gen = torch_generator(derive_seed(seed, "noise", ctx.rank, step), device)
            with _autocast(config, device):
                loss = edm_loss(
                    train_denoiser, x0, p_mean=p_mean, p_std=config.p_std, generator=gen
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip > 0:
                scaler.unscale_(optimizer)
                grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            ema.update(net, step)
            train_time += time.perf_counter() - t0
            window.append(float(loss.detach()))
            done = step + 1
            if len(window) == config.log_every or done == config.steps:
                history.append(
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
                validate(done)
            if (
                config.checkpoint_every
                and done % config.checkpoint_every == 0
                and done < config.steps
            ):
                save(done, time.perf_counter() - t_start)
    bar.close()
    if start_step < config.steps or not validation:
        validate(config.steps)
    save(config.steps, time.perf_counter() - t_start)
    _barrier(ctx)
    if ctx.owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
    n_run = config.steps - start_step
    denoiser = EDMDenoiser(ema.model, sigma_data=sigma_data).eval()
    return DiffusionPriorFit(
        denoiser=denoiser,
        net=net,
        config=config,
        unet_config=net_config,
        sigma_data=sigma_data,
        history=history,
        validation=validation,
        steps_per_second=n_run / train_time if train_time > 0 else 0.0,
        checkpoint=Path(checkpoint) if checkpoint is not None else None,
    )
