"""Training a DKF prior: Pyro SVI on segments of speech sequences, and its checkpoints.

``fit_dkf(train, config, val=..., seed=...)`` maximises the ELBO

    sum_t E_q[log p(p_t | z_t)] - beta E_q[KL(q(z_t | z_{t-1}, p_{t:}) || p(z_t | z_{t-1}))]

(``TraceMeanField_ELBO``, closed-form KL per frame given the sampled ``z_{t-1}``) with
:class:`pyro.infer.SVI` and Adam on mini-batches of ``segment_frames``-frame segments.
``beta`` (KL warm-up) rises linearly from ``1 / (E n_b)`` to 1 over the first
``E = kl_warmup_epochs`` epochs; the learning rate falls by ``lr_decay`` per epoch. Validation
always uses ``beta = 1`` and a fixed seed, in nats per frame (Exponential-on-power convention,
as the per-frame priors' ELBOs). The best validation weights are kept; training stops after
``patience`` epochs without gain, after the epoch that crosses ``max_minutes``, and with a
:class:`~avgen.errors.TrainingError` as soon as the loss is not finite. Every random draw (the
model's initial weights included) comes from ``seed``.

Checkpoints are avgen's (:mod:`avgen.checkpoint`): ``model="dkf"``, the :class:`DKFConfig`, the
best weights, and in ``extra`` the training config, seed, history and data description.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pyro
import pyro.optim
import torch
from pyro.infer import SVI, TraceMeanField_ELBO

from avgen.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from avgen.errors import CheckpointError, ConfigError, TrainingError
from avgen.models.dvae.data import segment_sequences
from avgen.models.dvae.dkf import DeepKalmanFilter, DKFConfig
from avgen.models.dvae.rvae import RecurrentVAE, RVAEConfig
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, seed_everything, torch_generator


@dataclass
class DKFTrainConfig:
    """Options of :func:`fit_dkf`."""

    epochs: int = 30
    batch_size: int = 16
    segment_frames: int = 50  # 0.8 s at hop 256
    lr: float = 2e-3
    kl_warmup_epochs: float = 2.0
    patience: int | None = 5
    clip_norm: float | None = 10.0
    lr_decay: float = 1.0  # learning rate multiplied by this once per epoch (spread over steps)
    max_minutes: float | None = None  # stop after the epoch that crosses this wall-clock budget
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "segment_frames"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0 or self.kl_warmup_epochs < 0:
            raise ConfigError("need lr > 0 and kl_warmup_epochs >= 0")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigError(f"max_minutes must be > 0 (or None), got {self.max_minutes}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError("patience must be >= 1 (or None for no early stopping)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class DKFEpoch:
    """One epoch: training objective and validation ELBO, nats per frame."""

    epoch: int
    train_objective: float
    val_elbo: float
    kl_weight: float
    seconds: float


@dataclass
class DKFTrainResult:
    """What :func:`fit_dkf` returns; ``model`` holds the best weights, in eval mode."""

    model: DeepKalmanFilter | RecurrentVAE
    history: list[DKFEpoch]
    best_epoch: int
    best_val_elbo: float
    seconds: float
    n_train_segments: int


def _elbo() -> TraceMeanField_ELBO:
    return TraceMeanField_ELBO(max_plate_nesting=1)


@torch.no_grad()
def dkf_elbo_per_frame(
    model: DeepKalmanFilter | RecurrentVAE,
    segments: torch.Tensor,
    seed: int = 0,
    batch_size: int = 64,
) -> float:
    """Single-sample ELBO estimate (``beta = 1``) in nats per frame of ``(N, T, F)`` segments,
    with Pyro's global seed set to ``seed`` (the same draws for every call)."""
    was_training = model.training
    model.eval()
    elbo = _elbo()
    total = 0.0
    with pyro.get_param_store().scope():
        pyro.set_rng_seed(seed % 2**32)
        for start in range(0, segments.shape[0], batch_size):
            total -= elbo.loss(model.model, model.guide, segments[start : start + batch_size])
    model.train(was_training)
    return total / (segments.shape[0] * segments.shape[1])


def _kl_weight(config: DKFTrainConfig, epoch: int, batch: int, n_batches: int) -> float:
    if config.kl_warmup_epochs <= 0:
        return 1.0
    return min(1.0, (epoch * n_batches + batch + 1) / (config.kl_warmup_epochs * n_batches))


def fit_dkf(
    train: list[torch.Tensor] | torch.Tensor,
    config: DKFTrainConfig | None = None,
    *,
    val: list[torch.Tensor] | torch.Tensor | None = None,
    model: DeepKalmanFilter | RecurrentVAE | None = None,
    model_config: DKFConfig | None = None,
    seed: int = 0,
    progress: bool | None = None,
    on_epoch: Callable[[DKFEpoch], None] | None = None,
) -> DKFTrainResult:
    """Train a DKF on speech sequences (each ``(T_i, F)`` power, e.g.
    :func:`~avgen.models.dvae.data.load_kit_sequences`), validating on ``val`` (default: the
    training segments themselves).

    Args:
        train, val: lists of frames-major power sequences, or ``(N, T, F)`` tensors.
        config: :class:`DKFTrainConfig`.
        model: a model to go on training (a DKF, or any model of the same shape: the
            :class:`~avgen.models.dvae.rvae.RecurrentVAE`); by default a fresh DKF of
            ``model_config`` built from ``seed``. Either is initialised from the training
            frames unless it was.
        seed: all randomness of the run.
        progress: draw a progress bar (default: when stderr is a terminal or AVGEN_PROGRESS=1).
        on_epoch: called with each :class:`DKFEpoch`.
    """
    config = config or DKFTrainConfig()
    device = torch.device(config.device)
    train_seg = segment_sequences(train, config.segment_frames).to(device, torch.float32)
    val_seg = (
        train_seg
        if val is None
        else segment_sequences(val, config.segment_frames).to(device, torch.float32)
    )
    if model is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = DeepKalmanFilter(model_config)
    if train_seg.shape[-1] != model.config.n_freq:
        raise ConfigError(
            f"sequences have {train_seg.shape[-1]} bins, the model {model.config.n_freq}"
        )
    model.to(device)
    if not bool(model.data_initialized):
        model.initialize_from_data(train_seg)
    n_seg = train_seg.shape[0]
    n_batches = math.ceil(n_seg / config.batch_size)
    clip = {"clip_norm": config.clip_norm} if config.clip_norm else {}
    lrd = config.lr_decay ** (1.0 / n_batches)
    optimizer = pyro.optim.ClippedAdam({"lr": config.lr, "lrd": lrd, **clip})
    started = time.perf_counter()
    val_seed = derive_seed(seed, "dkf-val")
    history: list[DKFEpoch] = []
    best_val, best_epoch, best_state, bad = -math.inf, -1, None, 0
    frames_per_epoch = n_seg * config.segment_frames
    with pyro.get_param_store().scope():
        svi = SVI(model.model, model.guide, optimizer, loss=_elbo())
        bar = progress_bar(total=config.epochs * n_batches, desc="train dkf", enabled=progress)
        try:
            for epoch in range(config.epochs):
                t0 = time.perf_counter()
                model.train()
                seed_everything(derive_seed(seed, "dkf-epoch", epoch) % 2**32)
                order = torch.randperm(
                    n_seg, generator=torch_generator(derive_seed(seed, "dkf-order", epoch))
                ).to(device)
                total, beta = 0.0, 1.0
                for b in range(n_batches):
                    batch = train_seg[order[b * config.batch_size : (b + 1) * config.batch_size]]
                    beta = _kl_weight(config, epoch, b, n_batches)
                    try:
                        loss = svi.step(batch, kl_weight=beta)
                    except ValueError as exc:  # a distribution refused NaN parameters
                        if "to satisfy the constraint" not in str(exc):
                            raise
                        loss = math.nan
                    if not math.isfinite(loss):
                        raise TrainingError(
                            f"dkf: the loss became {loss} at epoch {epoch}, batch {b}; lower the "
                            f"learning rate (now {config.lr}) or set clip_norm"
                        )
                    total += loss
                    bar.update(1)
                val_elbo = dkf_elbo_per_frame(model, val_seg, val_seed)
                record = DKFEpoch(
                    epoch, -total / frames_per_epoch, val_elbo, beta, time.perf_counter() - t0
                )
                history.append(record)
                if val_elbo > best_val:
                    best_val, best_epoch, bad = val_elbo, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                elif epoch + 1 > config.kl_warmup_epochs:
                    bad += 1
                bar.set_postfix(epoch=epoch, val_elbo=f"{val_elbo:.1f}", best=f"{best_val:.1f}")
                if on_epoch is not None:
                    on_epoch(record)
                if config.patience is not None and bad >= config.patience:
                    break
                elapsed = time.perf_counter() - started
                if config.max_minutes is not None and elapsed > 60 * config.max_minutes:
                    break
        finally:
            bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return DKFTrainResult(
        model, history, best_epoch, best_val, sum(r.seconds for r in history), n_seg
    )


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


def save_dkf(
    path: str | os.PathLike[str],
    result: DKFTrainResult | DeepKalmanFilter | RecurrentVAE,
    *,
    config: DKFTrainConfig | None = None,
    seed: int | None = None,
    data: str | None = None,
    data_manifest_hash: str | None = None,
) -> Path:
    """Save a trained DKF or RVAE (weights, config, and what trained it) as an avgen
    checkpoint."""
    model = result.model if isinstance(result, DKFTrainResult) else result
    extra: dict[str, Any] = {"seed": seed, "data": data}
    if config is not None:
        extra["train_config"] = config.to_dict()
    if isinstance(result, DKFTrainResult):
        extra.update(
            history=[dataclasses.asdict(r) for r in result.history],
            best_epoch=result.best_epoch,
            best_val_elbo=result.best_val_elbo,
            training_seconds=result.seconds,
            n_train_segments=result.n_train_segments,
        )
    return save_checkpoint(
        path,
        model=model.name,
        config=model.config.to_dict(),
        state_dict=model.state_dict(),
        data_manifest_hash=data_manifest_hash,
        extra=extra,
    )


def bundled_dkf_path() -> Path:
    """``avgen/assets/models/dkf.pt``."""
    return Path(str(resources.files("avgen"))) / "assets" / "models" / "dkf.pt"


def load_dkf(
    name_or_path: str | os.PathLike[str] = "dkf", device: str | torch.device = "cpu"
) -> DeepKalmanFilter:
    """The bundled DKF (``"dkf"``) or a DKF checkpoint by path, in eval mode."""
    key = os.fspath(name_or_path)
    path = bundled_dkf_path() if key == "dkf" and not Path(key).exists() else Path(key)
    if not path.exists():
        raise CheckpointError(f"{key}: no such DKF checkpoint")
    ckpt = load_checkpoint(path, expected_model="dkf")
    return dkf_from_checkpoint(ckpt, origin=str(path)).to(device).eval()


def dkf_from_checkpoint(ckpt: Checkpoint, origin: str = "checkpoint") -> DeepKalmanFilter:
    """The DKF a loaded :class:`~avgen.checkpoint.Checkpoint` holds, weights loaded."""
    try:
        model = DeepKalmanFilter(DKFConfig.from_dict(dict(ckpt.config)))
        model.load_state_dict(ckpt.state_dict)
    except (ConfigError, TypeError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"{origin}: does not hold a DKF of its stated config ({first})"
        ) from None
    return model


def rvae_from_checkpoint(ckpt: Checkpoint, origin: str = "checkpoint") -> RecurrentVAE:
    """The RVAE a loaded :class:`~avgen.checkpoint.Checkpoint` holds, weights loaded."""
    try:
        model = RecurrentVAE(RVAEConfig.from_dict(dict(ckpt.config)))
        model.load_state_dict(ckpt.state_dict)
    except (ConfigError, TypeError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"{origin}: does not hold an RVAE of its stated config ({first})"
        ) from None
    return model


def load_rvae(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> RecurrentVAE:
    """An RVAE checkpoint (:func:`save_dkf` of a :class:`RecurrentVAE`), in eval mode."""
    ckpt = load_checkpoint(path, expected_model="rvae")
    return rvae_from_checkpoint(ckpt, origin=str(path)).to(device).eval()


def temporal_from_checkpoint(
    ckpt: Checkpoint, origin: str = "checkpoint"
) -> DeepKalmanFilter | RecurrentVAE:
    """The DKF or RVAE a checkpoint holds (by its ``model`` field)."""
    if ckpt.model == RecurrentVAE.name:
        return rvae_from_checkpoint(ckpt, origin)
    return dkf_from_checkpoint(ckpt, origin)
