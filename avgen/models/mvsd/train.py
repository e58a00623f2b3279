r"""Mutual learning of MVSD's two converters and scene encoder (Ma et al., ECCV 2024).

Per optimiser step ``s`` (:func:`fit_mvsd`), with :math:`E` the scene encoder, :math:`f, g` the
reverberator and dereverberator and :math:`\hat f, \hat g` their one-step predictions
(:meth:`~avgen.models.mvsd.converter.Converter.predict`):

1. a paired batch :math:`(c, r, I)`: :math:`L_\mathrm{den} = \mathrm{EDM}_f(r \mid c, E(I)) +
   \mathrm{EDM}_g(c \mid r, E(I))`, :math:`L_\mathrm{style} = \|\hat f(c) - r\|_1 +
   \|\hat g(r) - c\|_1`, and (``paired_cycle``) :math:`\|\hat g(\hat f(c)) - c\|_1 +
   \|\hat f(\hat g(r)) - r\|_1`, the inner predictions shared with the style loss;
2. from step ``warmup_steps`` on (and with ``use_unpaired``): an unpaired reverberant batch
   :math:`(r_u, I_u)`, which has **no dry reference** (:func:`unpaired_reverberant_cycle` takes
   none, and :func:`fit_mvsd` refuses unpaired reverberant items that carry a ``"clean"`` key, so
   that a data-split mistake cannot leak one): :math:`\|\hat f(\hat g(r_u)) - r_u\|_1`; and an
   unpaired dry batch :math:`c_u`, which has no picture of its own: it **borrows the picture of a
   random paired or unpaired reverberant item** (the dry speech could have been spoken in any
   room; the cycle only asks that :math:`g` undo what :math:`f` did in that room):
   :math:`\|\hat g(\hat f(c_u, I'), I') - c_u\|_1`;
3. :math:`L = L_\mathrm{den} + \lambda_\mathrm{style} L_\mathrm{style} +
   \lambda_\mathrm{cycle} L_\mathrm{cycle}`; gradients reach both converters and the scene
   encoder (trained jointly, from scratch).

Crops: fixed-length random crops (``crop_seconds``, whole U-Net frames) drawn with a
:class:`torch.Generator` seeded by ``(seed, rank, step)``; a paired item's dry and reverberant
waveforms are zero-padded to the longer of the two (the dry one is shorter by the tail, the
convention of :meth:`~avgen.models.mvsd.model.MVSD.match`) and cut at the same start, so the
direct path stays aligned sample for sample. Shorter items are zero-padded.

Optimisation as the diffusion prior's (:mod:`avgen.models.diffusion.train`): AdamW with a linear
learning-rate ramp, gradient clipping, an EMA of the whole model (saved and returned for
inference), mixed precision on CUDA (:func:`~avgen.models.diffusion.distributed.mixed_precision`,
a float16 gradient scaler), and data parallelism under ``torchrun``
(:func:`~avgen.models.diffusion.distributed.distributed_setup`; gradients averaged by
:func:`~avgen.models.diffusion.distributed.all_reduce_gradients`, since the model is used
through several methods, which ``DistributedDataParallel`` would not see). A non-finite loss
raises :class:`~avgen.errors.TrainingError` naming the step.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from avgen.errors import CheckpointError, ConfigError, DataError, TrainingError
from avgen.models.diffusion.configs import edm_p_mean
from avgen.models.diffusion.distributed import (
    Processes,
    all_reduce_gradients,
    barrier,
    distributed_setup,
    mixed_precision,
)
from avgen.models.diffusion.ema import EMA
from avgen.models.diffusion.spectra import crop_or_pad, waveform_to_tensor
from avgen.models.diffusion.validation import validation_losses as diffusion_validation_losses
from avgen.models.diffusion.validation import validation_sigmas
from avgen.models.mvsd.checkpoints import read_mvsd_checkpoint, save_mvsd
from avgen.models.mvsd.config import MVSDConfig, MVSDTrainConfig
from avgen.models.mvsd.converter import Converter
from avgen.models.mvsd.losses import cycle_loss, denoising_loss, l1, style_loss
from avgen.models.mvsd.model import MVSD
from avgen.models.scene.embedding import SceneEmbedding
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, torch_generator

logger = logging.getLogger("avgen")

Item = Mapping[str, Any]

CHECK_FIRST = 16
"""Items of each set checked before training starts (see :func:`check_items`)."""


# ---------------------------------------------------------------------------------------------
# Data: checks and crops
# ---------------------------------------------------------------------------------------------


NO_DRY_REFERENCE = ("clean",)
"""Keys an unpaired reverberant item must not carry."""


def check_no_dry_reference(item: Item, name: str, index: int) -> None:
    """:class:`DataError` if an unpaired reverberant item carries a dry reference."""
    leaked = [k for k in NO_DRY_REFERENCE if k in item]
    if leaked:
        raise DataError(
            f"{name}[{index}] carries {', '.join(map(repr, leaked))}: unpaired reverberant items "
            "must have no dry reference (drop the key, or move the item to the paired set)"
        )


def check_items(
    items: Sequence[Item],
    keys: tuple[str, ...],
    name: str,
    *,
    forbidden: tuple[str, ...] = (),
    limit: int | None = None,
) -> None:
    """:class:`DataError` unless the first ``limit`` items (all: ``None``) have ``keys`` (1-D
    audio, a ``(3, S, S)`` picture) and none of ``forbidden``. (A limit keeps the check cheap
    for lazily loaded sets; the trainer checks each unpaired reverberant item again as it
    draws it.)"""
    for i, item in enumerate(items):
        if limit is not None and i >= limit:
            break
        missing = [k for k in keys if k not in item]
        if missing:
            raise DataError(f"{name}[{i}] has no {', '.join(missing)}")
        if forbidden:
            check_no_dry_reference(item, name, i)
        for k in keys:
            v = torch.as_tensor(item[k])
            if k == "picture":
                if v.ndim != 3 or v.shape[0] != 3:
                    raise DataError(
                        f"{name}[{i}]['picture'] must be (3, S, S), got {tuple(v.shape)}"
                    )
            elif v.ndim != 1 or v.numel() == 0:
                raise DataError(f"{name}[{i}][{k!r}] must be a 1-D waveform, got {tuple(v.shape)}")


def _start(n: int, length: int, generator: torch.Generator) -> int:
    return int(torch.randint(max(n - length, 0) + 1, (1,), generator=generator))


def _wave(item: Item, key: str) -> torch.Tensor:
    return torch.as_tensor(item[key], dtype=torch.float32)


def paired_crop(
    item: Item, length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Aligned ``(clean, reverberant)`` crops of ``length`` samples from one paired item (both
    zero-padded to the longer waveform first, one start for both)."""
    clean, reverb = _wave(item, "clean"), _wave(item, "reverberant")
    n = max(clean.shape[-1], reverb.shape[-1])
    start = _start(n, length, generator)
    return crop_or_pad(clean, length, start), crop_or_pad(reverb, length, start)


def single_crop(item: Item, key: str, length: int, generator: torch.Generator) -> torch.Tensor:
    """A crop of ``length`` samples of ``item[key]`` only (no other key is read)."""
    wav = _wave(item, key)
    return crop_or_pad(wav, length, _start(wav.shape[-1], length, generator))


def _picture(item: Item) -> torch.Tensor:
    return torch.as_tensor(item["picture"], dtype=torch.float32)


@dataclass
class Batches:
    """The step's crops as compressed STFTs ``(B, 2, 256, T)`` and pictures ``(B, 3, S, S)``.

    The unpaired reverberant stream holds a reverberant spectrogram and its picture, nothing
    else; the unpaired dry stream holds a dry spectrogram and a *borrowed* picture."""

    clean: torch.Tensor
    reverberant: torch.Tensor
    picture: torch.Tensor
    unpaired_reverberant: torch.Tensor | None = None
    unpaired_reverberant_picture: torch.Tensor | None = None
    unpaired_clean: torch.Tensor | None = None
    unpaired_clean_picture: torch.Tensor | None = None


def draw_batches(
    paired: Sequence[Item],
    unpaired_reverberant: Sequence[Item],
    unpaired_clean: Sequence[Item],
    *,
    batch_size: int,
    length: int,
    generator: torch.Generator,
    unpaired: bool,
) -> Batches:
    """One step's random crops (``unpaired``: the unpaired streams too)."""
    idx = torch.randint(len(paired), (batch_size,), generator=generator).tolist()
    crops = [paired_crop(paired[i], length, generator) for i in idx]
    batches = Batches(
        clean=waveform_to_tensor(torch.stack([c for c, _ in crops])),
        reverberant=waveform_to_tensor(torch.stack([r for _, r in crops])),
        picture=torch.stack([_picture(paired[i]) for i in idx]),
    )
    if not unpaired:
        return batches
    if unpaired_reverberant:
        idx = torch.randint(len(unpaired_reverberant), (batch_size,), generator=generator).tolist()
        items = [unpaired_reverberant[i] for i in idx]
        for i, it in zip(idx, items):
            check_no_dry_reference(it, "unpaired_reverberant", i)
        batches.unpaired_reverberant = waveform_to_tensor(
            torch.stack([single_crop(it, "reverberant", length, generator) for it in items])
        )
        batches.unpaired_reverberant_picture = torch.stack([_picture(it) for it in items])
    if unpaired_clean:
        idx = torch.randint(len(unpaired_clean), (batch_size,), generator=generator).tolist()
        batches.unpaired_clean = waveform_to_tensor(
            torch.stack([single_crop(unpaired_clean[i], "clean", length, generator) for i in idx])
        )
        # Dry speech has no room: borrow the picture of a random item that has one.
        n_paired = len(paired)
        donors = n_paired + len(unpaired_reverberant)
        pick = torch.randint(donors, (batch_size,), generator=generator).tolist()
        batches.unpaired_clean_picture = torch.stack(
            [
                _picture(paired[j] if j < n_paired else unpaired_reverberant[j - n_paired])
                for j in pick
            ]
        )
    return batches


# ---------------------------------------------------------------------------------------------
# The loss terms
# ---------------------------------------------------------------------------------------------


def _predictor(
    converter: Converter, scene: SceneEmbedding | None, generator: torch.Generator
) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: converter.predict(x, scene, generator=generator)


def unpaired_reverberant_cycle(
    model: MVSD,
    reverberant: torch.Tensor,
    picture: torch.Tensor | None,
    generator: torch.Generator,
) -> torch.Tensor:
    r""":math:`\|\hat f(\hat g(r, I), I) - r\|_1` for reverberant speech with its picture and
    **no dry reference** (none is an argument)."""
    scene = model.scene(picture)
    g = _predictor(model.dereverberator, scene, generator)
    f = _predictor(model.reverberator, scene, generator)
    return cycle_loss(g, f, reverberant)


def unpaired_clean_cycle(
    model: MVSD, clean: torch.Tensor, picture: torch.Tensor | None, generator: torch.Generator
) -> torch.Tensor:
    r""":math:`\|\hat g(\hat f(c, I'), I') - c\|_1` for dry speech with a borrowed picture."""
    scene = model.scene(picture)
    f = _predictor(model.reverberator, scene, generator)
    g = _predictor(model.dereverberator, scene, generator)
    return cycle_loss(f, g, clean)


def mutual_losses(
    model: MVSD,
    batches: Batches,
    train_config: MVSDTrainConfig,
    *,
    p_mean: float,
    generator: torch.Generator,
    unpaired: bool,
) -> dict[str, torch.Tensor]:
    """Every term of the step's loss and their weighted ``total`` (see the module)."""
    cfg = train_config
    f, g = model.reverberator, model.dereverberator
    c, r = batches.clean, batches.reverberant
    pictures = batches.picture if model.config.use_picture else None
    scene = model.scene(pictures)
    terms: dict[str, torch.Tensor] = {}
    kw = {"p_mean": p_mean, "p_std": cfg.p_std, "generator": generator}
    terms["denoise_f"] = denoising_loss(f, r, c, scene, **kw)
    terms["denoise_g"] = denoising_loss(g, c, r, scene, **kw)
    r_hat = f.predict(c, scene, generator=generator)
    c_hat = g.predict(r, scene, generator=generator)
    terms["style_f"] = style_loss(r_hat, r)
    terms["style_g"] = style_loss(c_hat, c)
    cycle = []
    with_cycle = cfg.lambda_cycle > 0  # a zero weight skips the cycle's network evaluations
    if with_cycle and cfg.paired_cycle:
        # the cycle on paired data, its first leg shared with the style loss
        terms["cycle_paired_fg"] = l1(g.predict(r_hat, scene, generator=generator), c)
        terms["cycle_paired_gf"] = l1(f.predict(c_hat, scene, generator=generator), r)
        cycle += [terms["cycle_paired_fg"], terms["cycle_paired_gf"]]
    if with_cycle and unpaired and batches.unpaired_reverberant is not None:
        pic = batches.unpaired_reverberant_picture if model.config.use_picture else None
        terms["cycle_unpaired_reverberant"] = unpaired_reverberant_cycle(
            model, batches.unpaired_reverberant, pic, generator
        )
        cycle.append(terms["cycle_unpaired_reverberant"])
    if with_cycle and unpaired and batches.unpaired_clean is not None:
        pic = batches.unpaired_clean_picture if model.config.use_picture else None
        terms["cycle_unpaired_clean"] = unpaired_clean_cycle(
            model, batches.unpaired_clean, pic, generator
        )
        cycle.append(terms["cycle_unpaired_clean"])
    total = terms["denoise_f"] + terms["denoise_g"]
    total = total + cfg.lambda_style * (terms["style_f"] + terms["style_g"])
    if cycle:
        total = total + cfg.lambda_cycle * torch.stack(cycle).sum()
    terms["total"] = total
    return terms


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def learning_rate(lr: float, warmup: int, step: int) -> float:
    """Linear ramp to ``lr`` over ``warmup`` steps."""
    return lr * (step + 1) / warmup if warmup > 0 and step < warmup else lr


@dataclass
class MVSDFit:
    """What :func:`fit_mvsd` returns.

    Attributes:
        model: the EMA model in eval mode (use it for inference).
        raw: the model as trained (not averaged).
        history: one entry per step: ``step``, every loss term of :func:`mutual_losses`,
            ``lr``, ``unpaired`` (1 once the unpaired terms are on).
        validation: one entry per validation: the EMA model's style losses on fixed val crops.
        steps_per_second: optimiser steps per second in this run.
        checkpoint: the file written, if any.
    """

    model: MVSD
    raw: MVSD
    config: MVSDConfig
    train_config: MVSDTrainConfig
    history: list[dict[str, float]]
    validation: list[dict[str, float]] = field(default_factory=list)
    steps_per_second: float = 0.0
    checkpoint: Path | None = None


class _BoundDenoiser:
    """A converter with its source and scene fixed: ``D(x, sigma)`` for
    :func:`avgen.models.diffusion.validation.validation_losses`."""

    def __init__(
        self, converter: Converter, source: torch.Tensor, scene: SceneEmbedding | None
    ) -> None:
        self.converter, self.source, self.scene = converter, source, scene
        self.sigma_data = converter.sigma_data

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.converter.denoise(x, sigma, self.source, self.scene)


@torch.no_grad()
def validation_losses(
    model: MVSD,
    val: Sequence[Item],
    length: int,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    p_mean: float | None = None,
    p_std: float = 1.2,
    n_sigmas: int = 8,
) -> dict[str, float]:
    """Deterministic validation of ``model`` on fixed crops of the paired items ``val``:
    ``val_style_f`` / ``val_style_g`` (L1 of the one-step predictions against the targets) and
    ``val_denoise_f`` / ``val_denoise_g`` (the EDM-weighted denoising error at ``n_sigmas``
    fixed quantiles of the training levels, with fixed noise;
    :func:`avgen.models.diffusion.validation.validation_losses`), with ``*_baseline`` the same of
    the zero network (``D = c_skip x``)."""
    device = torch.device(device)
    gen = torch_generator(derive_seed(seed, "val"))
    val = [val[i] for i in range(len(val))]  # each item loaded once
    crops = [paired_crop(item, length, gen) for item in val]
    c = waveform_to_tensor(torch.stack([x for x, _ in crops])).to(device)
    r = waveform_to_tensor(torch.stack([y for _, y in crops])).to(device)
    pictures = torch.stack([_picture(it) for it in val]).to(device)
    scene = model.scene(pictures if model.config.use_picture else None)
    noise_gen = torch_generator(derive_seed(seed, "val-noise"), device)
    f, g = model.reverberator, model.dereverberator
    out = {
        "val_style_f": float(style_loss(f.predict(c, scene, generator=noise_gen), r)),
        "val_style_g": float(style_loss(g.predict(r, scene, generator=noise_gen), c)),
    }
    sd = model.config.sigma_data
    sigmas = validation_sigmas(n_sigmas, edm_p_mean(p_mean, sd), p_std)
    for name, conv, source, target in (("f", f, c, r), ("g", g, r, c)):
        loss, base = diffusion_validation_losses(
            _BoundDenoiser(conv, source, scene),  # type: ignore[arg-type]
            target,
            sigmas,
            seed=seed,
            batch_size=target.shape[0],
        )
        out[f"val_denoise_{name}"] = loss
        out[f"val_denoise_{name}_baseline"] = base
    return out


def optimizer_step(
    loss: torch.Tensor,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    ctx: Any,
    *,
    grad_clip: float,
    what: str,
    step: int,
    lr: float,
) -> None:
    """One optimiser step of both MVSD trainers: a non-finite ``loss`` stops training with a
    :class:`TrainingError` naming the step (nothing is written after a bad step); otherwise
    backward (scaled for float16), gradients averaged across ranks, clipped to ``grad_clip``
    (0: no clip), step."""
    if not bool(torch.isfinite(loss)):
        raise TrainingError(
            f"{what}: the loss became {float(loss.detach())} at step {step}; lower the "
            f"learning rate (now {lr:g}) or the gradient clip (now {grad_clip:g})"
        )
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    all_reduce_gradients(model, ctx)
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()


def fit_mvsd(
    paired: Sequence[Item],
    unpaired_reverberant: Sequence[Item] | None,
    unpaired_clean: Sequence[Item] | None,
    val: Sequence[Item] | None,
    config: MVSDConfig,
    train_config: MVSDTrainConfig,
    *,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    resume: str | os.PathLike[str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    card_metadata: Mapping[str, Any] | None = None,
) -> MVSDFit:
    """Train MVSD by mutual learning (see the module).

    Args:
        paired: items ``{"clean": (N,), "reverberant": (N',), "picture": (3, 128, 128)}``
            (16 kHz float waveforms, picture float in ``[0, 1]``).
        unpaired_reverberant: items ``{"reverberant", "picture"}``; an item with a ``"clean"``
            key is refused (:class:`DataError`): these items must have no dry reference.
        unpaired_clean: items ``{"clean"}`` (their picture is borrowed, see the module).
        val: paired items for the validation style losses (``None``: none).
        config: the networks; train_config: the run.
        device: ``"cpu"``, ``"cuda"``; under ``torchrun`` each rank takes its local GPU.
        progress: force the progress bar on or off.
        resume: a checkpoint written by this function to continue from.
        checkpoint: file to write (every ``checkpoint_every`` steps and at the end).
        card_metadata: the model card's metadata stored with the checkpoint.
    """
    cfg = train_config
    device = torch.device(device)
    if cfg.amp != "none" and device.type != "cuda":
        raise ConfigError(f"mixed precision (amp={cfg.amp!r}) needs a CUDA device")
    # The sets are only indexed (never listed), so lazily loaded sequences stay lazy.
    if not len(paired):
        raise DataError("fit_mvsd: no paired training items")
    unpaired_reverberant = (unpaired_reverberant or []) if cfg.use_unpaired else []
    unpaired_clean = (unpaired_clean or []) if cfg.use_unpaired else []
    val = val or []
    check_items(paired, ("clean", "reverberant", "picture"), "paired", limit=CHECK_FIRST)
    check_items(
        unpaired_reverberant,
        ("reverberant", "picture"),
        "unpaired_reverberant",
        forbidden=NO_DRY_REFERENCE,
        limit=CHECK_FIRST,
    )
    check_items(unpaired_clean, ("clean",), "unpaired_clean", limit=CHECK_FIRST)
    check_items(val, ("clean", "reverberant", "picture"), "val", limit=CHECK_FIRST)

    ctx: Processes = distributed_setup(device)
    device = ctx.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, "init"))
        raw = MVSD(config)
    raw.to(device).train()
    ema = EMA(raw, cfg.ema_decay)
    optimizer = torch.optim.AdamW(raw.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16")
    history: list[dict[str, float]] = []
    validation: list[dict[str, float]] = []
    start = 0
    if resume is not None:
        ckpt, stored = read_mvsd_checkpoint(resume)
        if stored != config or "raw_state_dict" not in ckpt.extra:
            raise CheckpointError(
                f"{resume}: cannot resume: another configuration, or no training state"
            )
        raw.load_state_dict(ckpt.extra["raw_state_dict"])
        ema.load_state_dict(ckpt.state_dict)
        optimizer.load_state_dict(ckpt.extra["optimizer"])
        if ckpt.extra.get("scaler"):
            scaler.load_state_dict(ckpt.extra["scaler"])
        start = int(ckpt.extra["step"])
        history = list(ckpt.extra.get("history", []))
        validation = list(ckpt.extra.get("validation", []))

    length = cfg.crop_samples(raw.multiple)
    p_mean = cfg.resolved_p_mean(config.sigma_data)

    def save(step: int) -> None:
        if checkpoint is None or not ctx.is_main:
            return
        extra = {
            "step": step,
            "raw_state_dict": raw.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "history": history,
            "validation": validation,
            "train": cfg.to_dict(),
        }
        save_mvsd(ema.model, checkpoint, card_metadata, extra=extra)

    bar = progress_bar(cfg.steps - start, desc="train mvsd", enabled=progress and ctx.is_main)
    train_time = 0.0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for step in range(start, cfg.steps):
            t0 = time.perf_counter()
            unpaired = (
                step >= cfg.warmup_steps
                and cfg.lambda_cycle > 0
                and bool(unpaired_reverberant or unpaired_clean)
            )
            gen = torch_generator(derive_seed(cfg.seed, "crops", ctx.rank, step))
            batches = draw_batches(
                paired,
                unpaired_reverberant,
                unpaired_clean,
                batch_size=cfg.batch_size,
                length=length,
                generator=gen,
                unpaired=unpaired,
            )
            batches = Batches(
                **{k: None if v is None else v.to(device) for k, v in vars(batches).items()}
            )
            lr = learning_rate(cfg.lr, cfg.lr_warmup_steps, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(derive_seed(cfg.seed, "step", ctx.rank, step))
            noise_gen = torch_generator(derive_seed(cfg.seed, "noise", ctx.rank, step), device)
            with mixed_precision(cfg.amp, device):
                terms = mutual_losses(
                    raw, batches, cfg, p_mean=p_mean, generator=noise_gen, unpaired=unpaired
                )
            loss = terms["total"]
            optimizer_step(
                loss, raw, optimizer, scaler, ctx, grad_clip=cfg.grad_clip, what="MVSD",
                step=step, lr=lr,
            )  # fmt: skip
            ema.update(raw, step)
            train_time += time.perf_counter() - t0
            entry = {k: float(v.detach()) for k, v in terms.items()}
            entry.update(step=float(step + 1), lr=lr, unpaired=float(unpaired))
            history.append(entry)
            bar.update(1)
            if (step + 1) % cfg.log_every == 0:
                bar.set_postfix(loss=f"{entry['total']:.3f}", refresh=False)
            if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0:
                save(step + 1)
    bar.close()
    if val and ctx.is_main:
        validation.append(
            {"step": float(cfg.steps)}
            | validation_losses(
                ema.model, val, length, seed=cfg.seed, device=device, p_mean=p_mean, p_std=cfg.p_std
            )
        )
    save(cfg.steps)
    barrier(ctx)
    if ctx.owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
    n_run = cfg.steps - start
    return MVSDFit(
        model=ema.model.eval(),
        raw=raw,
        config=config,
        train_config=cfg,
        history=history,
        validation=validation,
        steps_per_second=n_run / train_time if train_time > 0 else 0.0,
        checkpoint=Path(checkpoint) if checkpoint is not None else None,
    )
