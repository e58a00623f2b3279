r"""Training the stylizer: the autoencoder first, then the latent diffusion model.

**Stage 1** (:func:`fit_autoencoder`, skipped when a trained autoencoder is given): the VAE of
:mod:`.autoencoder` on random crops of the training waveforms (targets and contents: the
latent must code both), AdamW with a linear warm-up, gradient clipping.

**Stage 2** (:func:`fit_stylizer`): the autoencoder is frozen; the latent scale is the RMS of
the target latents of one crop per item (at most 64), so latents have unit variance and
``sigma_data = 1``. Per step ``s``: a batch of aligned content/target crops, example crops and
pictures (:func:`~.data.draw_batch`) drawn with a generator seeded by ``(seed, rank, s)``;
each item keeps its audio example with probability ``1 - p_drop_audio`` and its picture with
``1 - p_drop_picture`` (independently; dropped modalities become their learned null,
classifier-free guidance); the loss is EDM's weighted denoising loss of the target latent
(:meth:`~.model.Stylizer.loss`). AdamW, warm-up, clipping, an EMA of the weights (saved and
returned for inference), mixed precision on CUDA and data parallelism under ``torchrun``
(gradients averaged over ranks) as in the other diffusion trainers; a non-finite loss raises
:class:`~avgen.errors.TrainingError` naming the step (nothing is written after it).

**Resuming** (``resume=CHECKPOINT``): a checkpoint written during a run holds the raw weights
(autoencoder and latent scale included), the EMA, the optimiser, the step and the history;
every random draw of step ``s`` is seeded by ``(seed, s)``, so a run stopped after step ``k``
and resumed continues exactly as the uninterrupted run (same weights, bit for bit, on the same
hardware and thread count). Stage 1 is not run again; the run's settings must be the
checkpoint's, except ``steps`` (to extend a run) and the logging/checkpoint intervals.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from avgen.checkpoint import Checkpoint
from avgen.errors import CheckpointError, ConfigError, DataError
from avgen.metrics import si_sdr
from avgen.models.diffusion.distributed import (
    Processes,
    barrier,
    distributed_setup,
    mixed_precision,
)
from avgen.models.diffusion.ema import EMA
from avgen.models.diffusion.spectra import pad_frames, waveform_to_tensor
from avgen.models.diffusion.validation import validation_losses, validation_sigmas
from avgen.models.mvsd.train import learning_rate, optimizer_step
from avgen.models.stylizer.autoencoder import AutoencoderConfig, SpectralVAE, latent_rms
from avgen.models.stylizer.checkpoints import read_stylizer_checkpoint, save_stylizer
from avgen.models.stylizer.config import StylizerConfig, StylizerTrainConfig
from avgen.models.stylizer.data import Batch, check_items, crop_item, draw_batch, item_field
from avgen.models.stylizer.model import Stylizer
from avgen.models.stylizer.representation import log_mel_distance
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, torch_generator

SCALE_ITEMS = 64
"""Items whose target latents set the latent scale."""

RESUMABLE_CHANGES = frozenset({"steps", "log_every", "checkpoint_every"})
"""The run settings a resumed run may change."""


def read_resume_state(
    path: str | os.PathLike[str], config: StylizerConfig, train_config: StylizerTrainConfig
) -> Checkpoint:
    """The checkpoint of an interrupted :func:`fit_stylizer` run, checked: same networks
    (:class:`~avgen.errors.CheckpointError` otherwise, or when it holds no training state) and
    same run settings except :data:`RESUMABLE_CHANGES` (:class:`~avgen.errors.ConfigError`)."""
    ckpt, stored = read_stylizer_checkpoint(path)
    if stored != config or "raw_state_dict" not in ckpt.extra:
        raise CheckpointError(f"{path}: cannot resume: another configuration, or no training state")
    saved = ckpt.extra.get("train", {})
    wanted = train_config.to_dict()
    changed = sorted(k for k in wanted if k not in RESUMABLE_CHANGES and saved.get(k) != wanted[k])
    if changed:
        raise ConfigError(
            f"{path}: cannot resume with other settings than the run's ({', '.join(changed)})"
        )
    if int(ckpt.extra["step"]) > train_config.steps:
        raise ConfigError(
            f"{path}: the run is already at step {ckpt.extra['step']}, past steps="
            f"{train_config.steps}"
        )
    return ckpt


@dataclass
class AutoencoderFit:
    """What :func:`fit_autoencoder` returns: the model (eval mode), the loss history (one
    entry per step) and the steps per second."""

    model: SpectralVAE
    history: list[dict[str, float]]
    steps_per_second: float


def _random_crops(
    waveforms: Sequence[torch.Tensor], n: int, length: int, gen: torch.Generator
) -> torch.Tensor:
    idx = torch.randint(len(waveforms), (n,), generator=gen).tolist()
    out = []
    for i in idx:
        w = waveforms[i]
        start = int(torch.randint(max(w.shape[-1] - length, 0) + 1, (1,), generator=gen))
        seg = w[start : start + length]
        out.append(torch.nn.functional.pad(seg, (0, length - seg.shape[-1])))
    return torch.stack(out)


def fit_autoencoder(
    waveforms: Sequence[torch.Tensor],
    config: AutoencoderConfig | None = None,
    *,
    steps: int = 200,
    batch_size: int = 8,
    lr: float = 2e-3,
    crop_samples: int = 16_256,
    warmup_steps: int = 20,
    grad_clip: float = 1.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    ctx: Processes | None = None,
) -> AutoencoderFit:
    """Train a :class:`SpectralVAE` on random crops of ``waveforms`` (1-D, 16 kHz)."""
    if not waveforms:
        raise DataError("fit_autoencoder: no waveforms given")
    if steps < 1 or batch_size < 1 or lr <= 0:
        raise ConfigError("fit_autoencoder: steps >= 1, batch_size >= 1 and lr > 0")
    device = torch.device(device)
    ctx = ctx or Processes(0, 1, device, owns_group=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "ae-init"))
        model = SpectralVAE(config)
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    history: list[dict[str, float]] = []
    bar = progress_bar(steps, desc="train stylizer autoencoder", enabled=progress and ctx.is_main)
    t0 = time.perf_counter()
    for step in range(steps):
        gen = torch_generator(derive_seed(seed, "ae-crops", ctx.rank, step))
        x, _ = pad_frames(
            waveform_to_tensor(_random_crops(waveforms, batch_size, crop_samples, gen)),
            model.multiple,
        )
        rate = learning_rate(lr, warmup_steps, step)
        for group in optimizer.param_groups:
            group["lr"] = rate
        noise = torch_generator(derive_seed(seed, "ae-noise", ctx.rank, step), device)
        terms = model.loss(x.to(device), generator=noise)
        optimizer_step(
            terms["total"], model, optimizer, scaler, ctx, grad_clip=grad_clip,
            what="stylizer autoencoder", step=step, lr=rate,
        )  # fmt: skip
        history.append({k: float(v.detach()) for k, v in terms.items()} | {"step": step + 1.0})
        bar.update(1)
    bar.close()
    elapsed = time.perf_counter() - t0
    return AutoencoderFit(model.eval(), history, steps / elapsed if elapsed > 0 else 0.0)


@torch.no_grad()
def round_trip_quality(model: SpectralVAE, waveforms: Sequence[torch.Tensor]) -> dict[str, float]:
    """Mean SI-SDR (dB) and log-mel distance (dB) of ``decode(encode(x))`` against ``x`` over
    ``waveforms`` (each whole, any length)."""
    device = next(model.parameters()).device
    sdr, mel = [], []
    for w in waveforms:
        w = w.to(device, torch.float32)[None]
        y = model.round_trip(w)
        sdr.append(float(si_sdr(w, y).mean()))
        mel.append(float(log_mel_distance(w, y).mean()))
    return {"si_sdr": sum(sdr) / len(sdr), "log_mel": sum(mel) / len(mel)}


@dataclass
class StylizerFit:
    """What :func:`fit_stylizer` returns.

    Attributes:
        model: the EMA model in eval mode (use it for inference).
        raw: the model as trained.
        autoencoder: stage 1's fit (``None`` when a trained autoencoder was given).
        round_trip: :func:`round_trip_quality` of the autoencoder on the validation targets.
        history: one entry per diffusion step: ``loss``, ``lr``, ``step``.
        validation: the EMA model's denoising loss on fixed val crops at fixed levels,
            ``val_loss`` and the zero network's ``val_loss_baseline``.
        steps_per_second: diffusion steps per second.
        checkpoint: the file written, if any.
    """

    model: Stylizer
    raw: Stylizer
    autoencoder: AutoencoderFit | None
    round_trip: dict[str, float]
    history: list[dict[str, float]]
    validation: dict[str, float] = field(default_factory=dict)
    steps_per_second: float = 0.0
    checkpoint: Path | None = None


@torch.no_grad()
def _latent_scale(model: Stylizer, items: Sequence[Any], length: int, seed: int) -> float:
    gen = torch_generator(derive_seed(seed, "scale"))
    device = model.latent_scale.device
    lat = []
    for i in range(min(len(items), SCALE_ITEMS)):
        _, target, _ = crop_item(items[i], length, 1, gen)
        lat.append(model.latents(target[None].to(device))[0] * model.latent_scale)
    return latent_rms(lat)


class LatentCache:
    """Content and target latents of whole items, encoded once (``cache_latents``); a batch
    crops them at a random latent frame (the example is still cut from its waveform)."""

    def __init__(self, model: Stylizer, items: Sequence[Any], length: int) -> None:
        self.items = items
        self.latents: list[tuple[torch.Tensor, torch.Tensor, int]] = []
        device = model.latent_scale.device
        td = model.config.autoencoder.time_down
        with torch.no_grad():
            for i in range(len(items)):
                content, target = item_field(items[i], "content"), item_field(items[i], "target")
                n = max(content.shape[-1], target.shape[-1], length)
                pair = torch.stack([_pad_to(content, n), _pad_to(target, n)]).to(device)
                z, frames = model.latents(pair)
                self.latents.append((z[0], z[1], -(-frames // td)))
        self.crop = (length // 128 + 1) // td

    def draw(
        self, batch_size: int, example_length: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, Batch]:
        """``(content latents, target latents, batch)`` of ``batch_size`` random items."""
        idx = torch.randint(len(self.items), (batch_size,), generator=generator).tolist()
        zc, zt, examples = [], [], []
        for i in idx:
            c, t, valid = self.latents[i]
            s = int(torch.randint(max(valid - self.crop, 0) + 1, (1,), generator=generator))
            zc.append(c[..., s : s + self.crop])
            zt.append(t[..., s : s + self.crop])
            examples.append(crop_item(self.items[i], 1, example_length, generator)[2])
        pictures = torch.stack([item_field(self.items[i], "picture") for i in idx])
        batch = Batch(torch.empty(0), torch.empty(0), torch.stack(examples), pictures)
        return torch.stack(zc), torch.stack(zt), batch


def _pad_to(x: torch.Tensor, n: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, n - x.shape[-1]))


class _Bound:
    """``D(x, sigma)`` with the content and condition fixed (for the validation loss)."""

    def __init__(self, model: Stylizer, cond: Any) -> None:
        self.model, self.cond = model, cond
        self.sigma_data = model.config.sigma_data

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.model.denoise(x, sigma, self.cond)


@torch.no_grad()
def validate(
    model: Stylizer, val: Sequence[Any], cfg: StylizerTrainConfig, length: int
) -> dict[str, float]:
    """Denoising loss of ``model`` on fixed crops of ``val`` (full condition) at 8 fixed
    levels, and that of the zero network."""
    gen = torch_generator(derive_seed(cfg.seed, "val"))
    batch = draw_batch(val, len(val), length, cfg.example_samples, gen)
    batch = batch.to(model.latent_scale.device)
    z_t = model.latents(batch.target)[0]
    z_c = model.latents(batch.content)[0]
    style = model.style(batch.example, batch.picture, z_t.shape[0])
    sd = model.config.sigma_data
    sigmas = validation_sigmas(8, cfg.resolved_p_mean(sd), cfg.p_std)
    loss, base = validation_losses(
        _Bound(model, model.conditioning(z_c, style)),  # type: ignore[arg-type]
        z_t,
        sigmas,
        seed=cfg.seed,
        batch_size=z_t.shape[0],
    )
    return {"val_loss": loss, "val_loss_baseline": base}


def fit_stylizer(
    items: Sequence[Any],
    val_items: Sequence[Any] | None,
    config: StylizerConfig,
    train_config: StylizerTrainConfig,
    *,
    autoencoder: SpectralVAE | None = None,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    card_metadata: Mapping[str, Any] | None = None,
    resume: str | os.PathLike[str] | None = None,
) -> StylizerFit:
    """Train the stylizer on ``items`` (see :mod:`.data` and the module): the autoencoder
    (unless ``autoencoder`` is given, with ``config.autoencoder``'s architecture), then the
    latent diffusion model. ``val_items``: items for the round-trip figure and the validation
    loss (``None``: none). ``checkpoint``: file written every ``checkpoint_every`` steps and at
    the end. ``resume``: a checkpoint of an interrupted run to continue (see the module; the
    autoencoder then comes from it, and ``autoencoder`` must be ``None``)."""
    cfg = train_config
    device = torch.device(device)
    if cfg.amp != "none" and device.type != "cuda":
        raise ConfigError(f"mixed precision (amp={cfg.amp!r}) needs a CUDA device")
    if not len(items):
        raise DataError("fit_stylizer: no training items")
    val_items = val_items or []
    check_items(items, "items")
    check_items(val_items, "val_items")
    ctx = distributed_setup(device)
    device = ctx.device
    length = cfg.crop_samples(config.multiple)

    resumed = None
    if resume is not None:
        if autoencoder is not None:
            raise ConfigError(
                "fit_stylizer: a resumed run takes its autoencoder from the checkpoint"
            )
        resumed = read_resume_state(resume, config, cfg)
    ae_fit = None
    if resumed is None and autoencoder is None:
        waves = [item_field(items[i], k) for i in range(len(items)) for k in ("target", "content")]
        ae_fit = fit_autoencoder(
            waves, config.autoencoder, steps=max(cfg.ae_steps, 1), batch_size=cfg.ae_batch_size,
            lr=cfg.ae_lr, crop_samples=length, warmup_steps=cfg.lr_warmup_steps,
            grad_clip=cfg.grad_clip, seed=cfg.seed, device=device, progress=progress, ctx=ctx,
        )  # fmt: skip
        autoencoder = ae_fit.model
    elif resumed is None and autoencoder.config != config.autoencoder:
        raise ConfigError("fit_stylizer: the given autoencoder's configuration differs")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, "init"))
        raw = Stylizer(config)
    if resumed is None:
        raw.autoencoder.load_state_dict(autoencoder.state_dict())
    else:
        raw.load_state_dict(resumed.extra["raw_state_dict"])
    raw.to(device)
    raw.autoencoder.requires_grad_(False).eval()
    if resumed is not None:
        round_trip = dict(resumed.extra.get("round_trip", {}))
    else:
        raw.latent_scale.fill_(_latent_scale(raw, items, length, cfg.seed))
        round_trip = (
            round_trip_quality(raw.autoencoder, [item_field(it, "target") for it in val_items])
            if val_items
            else {}
        )
    ema = EMA(raw, cfg.ema_decay)
    params = [p for p in raw.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16")
    p_mean = cfg.resolved_p_mean(config.sigma_data)
    history: list[dict[str, float]] = []
    start = 0
    if resumed is not None:
        ema.load_state_dict(resumed.state_dict)
        optimizer.load_state_dict(resumed.extra["optimizer"])
        if resumed.extra.get("scaler"):
            scaler.load_state_dict(resumed.extra["scaler"])
        history = list(resumed.extra.get("history", []))
        start = int(resumed.extra["step"])
    cache = LatentCache(raw, items, length) if cfg.cache_latents else None

    def save(step: int) -> None:
        if checkpoint is None or not ctx.is_main:
            return
        extra = {
            "step": step,
            "raw_state_dict": raw.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "history": history,
            "round_trip": round_trip,
            "train": cfg.to_dict(),
        }
        save_stylizer(ema.model, checkpoint, card_metadata, extra=extra)

    bar = progress_bar(cfg.steps - start, desc="train stylizer", enabled=progress and ctx.is_main)
    train_time = 0.0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for step in range(start, cfg.steps):
            t0 = time.perf_counter()
            gen = torch_generator(derive_seed(cfg.seed, "crops", ctx.rank, step))
            if cache is not None:
                z_c, z_t, batch = cache.draw(cfg.batch_size, cfg.example_samples, gen)
                z_c, z_t, batch = z_c.to(device), z_t.to(device), batch.to(device)
            else:
                batch = draw_batch(items, cfg.batch_size, length, cfg.example_samples, gen)
                batch = batch.to(device)
                with torch.no_grad():
                    z_t = raw.latents(batch.target)[0]
                    z_c = raw.latents(batch.content)[0]
            keep_audio = torch.rand(cfg.batch_size, generator=gen) >= cfg.p_drop_audio
            keep_picture = torch.rand(cfg.batch_size, generator=gen) >= cfg.p_drop_picture
            rate = learning_rate(cfg.lr, cfg.lr_warmup_steps, step)
            for group in optimizer.param_groups:
                group["lr"] = rate
            torch.manual_seed(derive_seed(cfg.seed, "step", ctx.rank, step))
            noise = torch_generator(derive_seed(cfg.seed, "noise", ctx.rank, step), device)
            with mixed_precision(cfg.amp, device):
                style = raw.style(
                    batch.example,
                    batch.picture,
                    cfg.batch_size,
                    keep_audio=keep_audio.to(device),
                    keep_picture=keep_picture.to(device),
                )
                loss = raw.loss(z_t, z_c, style, p_mean=p_mean, p_std=cfg.p_std, generator=noise)
            optimizer_step(
                loss, raw, optimizer, scaler, ctx, grad_clip=cfg.grad_clip, what="stylizer",
                step=step, lr=rate,
            )  # fmt: skip
            ema.update(raw, step)
            train_time += time.perf_counter() - t0
            history.append({"step": step + 1.0, "loss": float(loss.detach()), "lr": rate})
            bar.update(1)
            if (step + 1) % cfg.log_every == 0:
                recent = history[-cfg.log_every :]
                bar.set_postfix(loss=f"{sum(h['loss'] for h in recent) / len(recent):.3f}")
            if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0:
                save(step + 1)
    bar.close()
    validation = validate(ema.model, val_items, cfg, length) if val_items and ctx.is_main else {}
    save(cfg.steps)
    barrier(ctx)
    if ctx.owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
    return StylizerFit(
        model=ema.model.eval(),
        raw=raw,
        autoencoder=ae_fit,
        round_trip=round_trip,
        history=history,
        validation=validation,
        steps_per_second=(cfg.steps - start) / train_time if train_time > 0 else 0.0,
        checkpoint=Path(checkpoint) if checkpoint is not None else None,
    )
