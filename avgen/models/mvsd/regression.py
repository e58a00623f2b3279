r"""The AV U-Net-like regression baseline of visual acoustic matching.

AViTAR's and MVSD's tables compare against a deterministic audio-visual U-Net trained by
regression (after Gao & Grauman's visual-to-audio U-Nets; Chen et al., "Visual acoustic
matching", CVPR 2022, "AV U-Net"). Here it is *the same* U-Net and scene encoder as one MVSD
converter (:mod:`avgen.models.mvsd.config`: FiLM with the 256-d scene vector, cross-attention to
the scene tokens at the third encoder / first decoder stage), with no noise and no sampling:

.. math::

    \hat r = c + \sigma_\mathrm{data}\,F_\theta(c / \sigma_\mathrm{data};\ 0,\ E(I)),
    \qquad L = \|\hat r - r\|_1

on the compressed complex STFT (:math:`c` dry, :math:`r` reverberant, :math:`I` the picture; the
U-Net's noise-level input is held at 0, so its embedding is a learned constant, and the skip
connection makes "no change" the starting point). The padding convention is MVSD's
(:meth:`~avgen.models.mvsd.model.MVSD.match`: ``N`` samples in, ``N + tail`` out).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from avgen.errors import ConfigError, DataError
from avgen.models.diffusion.conditioning import Conditioning
from avgen.models.diffusion.distributed import (
    barrier,
    distributed_setup,
    mixed_precision,
)
from avgen.models.diffusion.unet import UNet
from avgen.models.mvsd.config import MVSDConfig, MVSDTrainConfig
from avgen.models.mvsd.losses import l1
from avgen.models.mvsd.model import as_batch, convert_waveform
from avgen.models.mvsd.train import (
    CHECK_FIRST,
    check_items,
    draw_batches,
    learning_rate,
    optimizer_step,
)
from avgen.models.scene.encoder import SceneEncoder
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, torch_generator


class AVUNet(nn.Module):
    """Deterministic dry -> reverberant regression (see the module)."""

    def __init__(self, config: MVSDConfig) -> None:
        super().__init__()
        self.config = config
        # the source is the network's input itself: no concatenated channels
        self.unet_config = dataclasses.replace(config.unet, cond_channels=0)
        self.net = UNet(self.unet_config)
        self.scene_encoder = SceneEncoder(config.scene) if config.use_picture else None

    @property
    def multiple(self) -> int:
        return self.unet_config.downsampling_factor

    def forward(self, source: torch.Tensor, picture: torch.Tensor | None) -> torch.Tensor:
        """Predicted reverberant compressed STFT ``(B, 2, 256, T)`` from the dry one."""
        cond = None
        if self.scene_encoder is not None:
            if picture is None:
                raise ConfigError("this AV U-Net is conditioned on a room picture; pass one")
            picture = torch.as_tensor(picture).to(source.device, torch.float32)
            if picture.ndim == 3:
                picture = picture.unsqueeze(0)
            if picture.shape[0] == 1 and source.shape[0] > 1:
                picture = picture.expand(source.shape[0], -1, -1, -1)
            scene = self.scene_encoder(picture)
            cond = Conditioning(embedding=scene.vector, context=scene.tokens)
        elif picture is not None:
            raise ConfigError("this AV U-Net was trained without the picture; pass picture=None")
        sd = self.config.sigma_data
        c_noise = source.new_zeros(source.shape[0])
        return source + sd * self.net(source / sd, c_noise, cond).to(source.dtype)

    @torch.no_grad()
    def match(self, dry: torch.Tensor, picture: torch.Tensor | None) -> torch.Tensor:
        """``(N,)`` or ``(B, N)`` dry speech -> ``N + tail`` samples in the pictured room."""
        wav, single = as_batch(dry, "dry speech")
        device = next(self.parameters()).device
        padded = torch.nn.functional.pad(wav, (0, self.config.tail_samples)).to(device)
        out = convert_waveform(padded, self.multiple, padded.shape[-1], lambda s: self(s, picture))
        return out[0] if single else out


@dataclass
class AVUNetFit:
    """What :func:`fit_av_unet` returns: the model (eval mode), per-step ``history``
    (``step``, ``loss``, ``lr``), the final ``val_loss`` (``None`` without val data) and
    ``steps_per_second``."""

    model: AVUNet
    history: list[dict[str, float]] = field(default_factory=list)
    val_loss: float | None = None
    steps_per_second: float = 0.0


def fit_av_unet(
    paired: Sequence[Mapping[str, Any]],
    val: Sequence[Mapping[str, Any]] | None,
    config: MVSDConfig,
    train_config: MVSDTrainConfig,
    *,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> AVUNetFit:
    """Train :class:`AVUNet` by L1 regression on paired crops (the crops, learning-rate ramp,
    clipping, mixed precision and data parallelism of :func:`~avgen.models.mvsd.train.fit_mvsd`;
    no EMA, no unpaired data: a regression has nothing to learn from them)."""
    cfg = train_config
    device = torch.device(device)
    if cfg.amp != "none" and device.type != "cuda":
        raise ConfigError(f"mixed precision (amp={cfg.amp!r}) needs a CUDA device")
    val = val or []
    if not len(paired):
        raise DataError("fit_av_unet: no paired training items")
    check_items(paired, ("clean", "reverberant", "picture"), "paired", limit=CHECK_FIRST)
    check_items(val, ("clean", "reverberant", "picture"), "val", limit=CHECK_FIRST)
    ctx = distributed_setup(device)
    device = ctx.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, "av-unet-init"))
        model = AVUNet(config)
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16")
    length = cfg.crop_samples(model.multiple)
    history: list[dict[str, float]] = []
    bar = progress_bar(cfg.steps, desc="train av-unet", enabled=progress and ctx.is_main)
    train_time = 0.0
    for step in range(cfg.steps):
        t0 = time.perf_counter()
        gen = torch_generator(derive_seed(cfg.seed, "crops", ctx.rank, step))
        b = draw_batches(
            paired, [], [], batch_size=cfg.batch_size, length=length, generator=gen, unpaired=False
        )
        lr = learning_rate(cfg.lr, cfg.lr_warmup_steps, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        pictures = b.picture.to(device) if config.use_picture else None
        with mixed_precision(cfg.amp, device):
            loss = l1(model(b.clean.to(device), pictures), b.reverberant.to(device))
        optimizer_step(
            loss, model, optimizer, scaler, ctx, grad_clip=cfg.grad_clip, what="AV U-Net",
            step=step, lr=lr,
        )  # fmt: skip
        train_time += time.perf_counter() - t0
        history.append({"step": float(step + 1), "loss": float(loss.detach()), "lr": lr})
        bar.update(1)
    bar.close()
    model.eval()
    val_loss = None
    if val and ctx.is_main:
        gen = torch_generator(derive_seed(cfg.seed, "val"))
        b = draw_batches(
            val, [], [], batch_size=len(val), length=length, generator=gen, unpaired=False
        )
        with torch.no_grad():
            pictures = b.picture.to(device) if config.use_picture else None
            val_loss = float(l1(model(b.clean.to(device), pictures), b.reverberant.to(device)))
    barrier(ctx)
    if ctx.owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
    return AVUNetFit(
        model=model,
        history=history,
        val_loss=val_loss,
        steps_per_second=cfg.steps / train_time if train_time > 0 else 0.0,
    )
