"""Training the VAE speech priors: Pyro SVI with Adam, KL warm-up, validation ELBO, early stopping,
checkpoints and exact resume.

``fit(model, train, val, config, seed=...)`` maximises the model's ELBO
(:meth:`~avgen.models.vae.models.SpeechVAE.make_elbo`: closed-form-KL ``TraceMeanField_ELBO``
for the single-Gaussian guides, ``TraceEnum_ELBO`` with the mixture variable summed out for the
MIN-VAE) on mini-batches of frames with :class:`pyro.infer.SVI` and :class:`pyro.optim.Adam`.

* KL warm-up: the latent site's log densities are scaled by ``beta`` rising linearly from
  ``1 / (E n_b)`` to 1 over the first ``E = kl_warmup_epochs`` epochs (``n_b`` batches each),
  i.e. the objective ``E_q[log p(s | z)] - beta KL``; validation always uses ``beta = 1``.
* Validation ELBO: nats per frame in the Exponential-on-power convention
  (:mod:`avgen.models.vae.likelihood`), estimated with a fixed seed so epochs compare on the
  same Monte-Carlo draws. Early stopping after ``patience`` epochs without a gain of more than
  ``min_delta`` (not counted during warm-up); the best weights are restored at the end.
* Audio-input corruption (MIN-VAE, :mod:`avgen.models.vae.corruption`) on a share of each batch.
* Reproducible: the order of the frames and the Monte-Carlo draws of epoch ``e`` come from
  ``derive_seed(seed, ..., e)`` only, so a run resumed from a checkpoint continues exactly like
  an uninterrupted one with the same seed (the optimiser state, history and early-stopping
  counters travel in the checkpoint).
* Checkpoints (:mod:`avgen.checkpoint`, atomic, loaded with ``weights_only``): the best weights
  as ``state_dict``, the model config, the data manifest hash, and in ``extra`` the training
  config, seed, history, best epoch and ELBO, training time, and under ``"resume"`` the last
  weights and the optimiser state (dropped by :func:`~avgen.models.vae.registry.slim_checkpoint`
  for bundling).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyro
import pyro.optim
import torch
from pyro.infer import SVI

from avgen.checkpoint import load_checkpoint, save_checkpoint
from avgen.errors import CheckpointError, ConfigError, TrainingError
from avgen.models.freezing import frozen
from avgen.models.vae.corruption import corrupt_encoder_input
from avgen.models.vae.elbo import elbo_sum
from avgen.models.vae.frames import FrameTensors, check_frames
from avgen.models.vae.models import SpeechVAE
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, seed_everything, torch_generator


@dataclass
class TrainConfig:
    """Options of :func:`fit` (defaults: the papers' Adam, batch 128)."""

    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    kl_warmup_epochs: float = 0.0
    patience: int | None = 10
    min_delta: float = 0.0
    clip_norm: float | None = None
    val_particles: int = 1
    val_batch_size: int = 8192
    corrupt_share: float | None = None  # None: the model's default (MIN-VAE 0.5)
    corrupt_snr_db: tuple[float, float] = (-5.0, 5.0)
    freeze_decoder: bool = False  # train the encoders only (V-VAE on an A-VAE)
    device: str = "cpu"
    augmentation: str | None = None  # recorded only: how the train frames were augmented

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "val_particles", "val_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.kl_warmup_epochs < 0:
            raise ConfigError("kl_warmup_epochs must be >= 0")
        if self.patience is not None and self.patience < 1:
            raise ConfigError("patience must be >= 1 (or None for no early stopping)")
        if self.corrupt_share is not None and not 0 <= self.corrupt_share <= 1:
            raise ConfigError(f"corrupt_share must be in [0, 1], got {self.corrupt_share}")
        low, high = self.corrupt_snr_db
        if low > high:
            raise ConfigError(f"corrupt_snr_db must be (low, high), got {self.corrupt_snr_db}")
        self.corrupt_snr_db = (float(low), float(high))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class EpochRecord:
    """One epoch: training objective and validation ELBO, both in nats per frame."""

    epoch: int
    train_objective: float  # -loss per frame (with beta and corrupted input)
    val_elbo: float
    kl_weight: float  # beta at the end of the epoch
    seconds: float


@dataclass
class TrainResult:
    """What :func:`fit` returns; ``model`` holds the best weights, in eval mode."""

    model: SpeechVAE
    history: list[EpochRecord]
    best_epoch: int
    best_val_elbo: float
    stopped_early: bool
    seconds: float  # training time, all sessions (resumes) included
    checkpoint: Path | None = None
    epochs_done: int = field(default=0)


@dataclass
class _LoopState:
    epoch: int = 0
    history: list[EpochRecord] = field(default_factory=list)
    best_val: float = -math.inf
    best_epoch: int = -1
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    seconds: float = 0.0
    stopped_early: bool = False
    optimizer_state: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _kl_weight(config: TrainConfig, epoch: int, batch: int, n_batches: int) -> float:
    if config.kl_warmup_epochs <= 0:
        return 1.0
    return min(1.0, (epoch * n_batches + batch + 1) / (config.kl_warmup_epochs * n_batches))


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _restore(model: SpeechVAE, path: str | Path) -> _LoopState:
    ckpt = load_checkpoint(path, expected_model=model.name)
    if ckpt.config != model.config.to_dict():
        raise ConfigError(
            f"{path}: trained with another configuration ({ckpt.config}); build "
            f"the model with it to resume"
        )
    resume = ckpt.extra.get("resume")
    if not isinstance(resume, dict):
        raise CheckpointError(
            f"{path}: holds no training state (a slimmed or bundled "
            f"checkpoint); it can be loaded but not resumed"
        )
    try:
        model.load_state_dict(resume["state_dict"])
        history = [EpochRecord(**r) for r in ckpt.extra["history"]]
        return _LoopState(
            epoch=int(ckpt.extra["epochs_done"]),
            history=history,
            best_val=float(ckpt.extra["best_val_elbo"]),
            best_epoch=int(ckpt.extra["best_epoch"]),
            best_state=ckpt.state_dict,
            bad_epochs=int(resume["bad_epochs"]),
            seconds=float(ckpt.extra["training_seconds"]),
            stopped_early=bool(ckpt.extra.get("stopped_early", False)),
            optimizer_state=resume["optimizer"],
        )
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: incomplete or mismatched training state ({type(exc).__name__}: {exc})"
        ) from None


def _save(
    path: Path,
    model: SpeechVAE,
    state: _LoopState,
    config: TrainConfig,
    seed: int,
    optimizer: pyro.optim.PyroOptim,
    manifest: str | None,
) -> None:
    save_checkpoint(
        path,
        model=model.name,
        config=model.config.to_dict(),
        state_dict=state.best_state if state.best_state is not None else model.state_dict(),
        data_manifest_hash=manifest,
        extra={
            "train_config": config.to_dict(),
            "seed": int(seed),
            "history": [dataclasses.asdict(r) for r in state.history],
            "epochs_done": state.epoch,
            "best_epoch": state.best_epoch,
            "best_val_elbo": state.best_val,
            "stopped_early": state.stopped_early,
            "training_seconds": state.seconds,
            "resume": {
                "state_dict": _to_cpu(model.state_dict()),
                "optimizer": _to_cpu(optimizer.get_state()),
                "bad_epochs": state.bad_epochs,
            },
        },
    )


@contextlib.contextmanager
def _frozen_for_training(params: list[torch.nn.Parameter]) -> Iterator[None]:
    """Parameters excluded from training (``requires_grad=False``, so ``pyro.module`` leaves
    them out of the param store and the optimiser) for the duration of the block."""
    with warnings.catch_warnings(), frozen(params):
        warnings.filterwarnings("ignore", message=".*not registered in the param store")
        yield


def fit(
    model: SpeechVAE,
    train: FrameTensors,
    val: FrameTensors,
    config: TrainConfig | None = None,
    *,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool | None = None,
    data_manifest_hash: str | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``train`` frames, validate on ``val``, return the best model.

    Args:
        model: a :class:`SpeechVAE` (built by :func:`~avgen.models.vae.registry.build_model`);
            unless resuming or already initialised (e.g. MIN-VAE from A-VAE and V-VAE), it is
            first initialised from the training data (input normalisation, decoder bias).
        train, val: :class:`FrameTensors` (lips needed by the lip models).
        config: :class:`TrainConfig`.
        seed: all randomness of the run derives from it.
        checkpoint: written atomically after every epoch (best weights + resume state).
        resume: a checkpoint of an interrupted run of the same model/config: training goes on
            from its last epoch up to ``config.epochs`` (pass the same seed for an identical
            continuation).
        progress: draw a progress bar (default: when stderr is a terminal or
            ``AVGEN_PROGRESS=1``).
        data_manifest_hash: stored in the checkpoint (the data kit's manifest hash).
        on_epoch: called with each :class:`EpochRecord`.

    Raises:
        DataError / ConfigError for bad inputs, CheckpointError for a bad ``resume`` file,
        TrainingError if the loss becomes non-finite.
    """
    config = config or TrainConfig()
    check_frames(model, train, "train")
    check_frames(model, val, "val")
    device = torch.device(config.device)
    model.to(device)
    train, val = train.to(device), val.to(device)
    share = model.default_corrupt_share if config.corrupt_share is None else config.corrupt_share
    ckpt_path = Path(checkpoint) if checkpoint is not None else None

    if resume is not None:
        state = _restore(model, resume)
    else:
        state = _LoopState()
        if not bool(model.data_initialized):
            model.initialize_from_data(train.power)
        if train.lips is not None:
            model.fit_lip_inputs(train.lips)

    clip = {"clip_norm": config.clip_norm} if config.clip_norm else None
    optimizer = pyro.optim.Adam({"lr": config.lr}, clip_args=clip)
    n_batches = math.ceil(train.n_frames / config.batch_size)
    val_seed = derive_seed(seed, "vae-val")

    frozen = list(model.decoder.parameters()) if config.freeze_decoder else []
    with pyro.get_param_store().scope(), _frozen_for_training(frozen):
        svi = SVI(model.model, model.training_guide(), optimizer, loss=model.make_elbo())
        if state.optimizer_state is not None:
            optimizer.set_state(state.optimizer_state)
        remaining = 0 if state.stopped_early else max(0, config.epochs - state.epoch)
        bar = progress_bar(
            total=remaining * n_batches, desc=f"train {model.name}", enabled=progress
        )
        try:
            for epoch in range(state.epoch, state.epoch + remaining):
                t0 = time.perf_counter()
                total, beta = _train_epoch(svi, model, train, config, epoch, seed, share, bar)
                with _divergence_stops(model, f"after epoch {epoch}", config.lr):
                    val_elbo = (
                        elbo_sum(model, val, val_seed, config.val_particles, config.val_batch_size)
                        / val.n_frames
                    )
                seconds = time.perf_counter() - t0
                record = EpochRecord(epoch, -total / train.n_frames, val_elbo, beta, seconds)
                _keep_score(state, record, model, config)
                bar.set_postfix(
                    epoch=epoch, val_elbo=f"{val_elbo:.2f}", best=f"{state.best_val:.2f}"
                )
                if ckpt_path is not None:
                    _save(ckpt_path, model, state, config, seed, optimizer, data_manifest_hash)
                if on_epoch is not None:
                    on_epoch(record)
                if state.stopped_early:
                    break
        finally:
            bar.close()

    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    model.eval()
    return TrainResult(
        model=model,
        history=state.history,
        best_epoch=state.best_epoch,
        best_val_elbo=state.best_val,
        stopped_early=state.stopped_early,
        seconds=state.seconds,
        checkpoint=ckpt_path,
        epochs_done=state.epoch,
    )


def _train_epoch(
    svi: SVI,
    model: SpeechVAE,
    train: FrameTensors,
    config: TrainConfig,
    epoch: int,
    seed: int,
    share: float,
    bar: Any,
) -> tuple[float, float]:
    """One pass over ``train`` in a seeded order: ``(summed loss, last KL weight)``; the
    audio-encoder input of a ``share`` of frames is corrupted (MIN-VAE)."""
    model.train()
    seed_everything(derive_seed(seed, "vae-epoch", epoch) % 2**32)
    n = train.n_frames
    n_batches = math.ceil(n / config.batch_size)
    order = torch.randperm(n, generator=torch_generator(derive_seed(seed, "vae-order", epoch)))
    order = order.to(train.power.device)
    reference_power = float(train.power.mean())
    total, beta = 0.0, 1.0
    for b in range(n_batches):
        batch = train.take(order[b * config.batch_size : (b + 1) * config.batch_size])
        encoder_power = None
        if share > 0:
            encoder_power, _ = corrupt_encoder_input(
                batch.power,
                share=share,
                snr_db=config.corrupt_snr_db,
                reference_power=reference_power,
                noisy_power=batch.noisy_power,
            )
        beta = _kl_weight(config, epoch, b, n_batches)
        with _divergence_stops(model, f"at epoch {epoch}, batch {b}", config.lr):
            loss = svi.step(batch.power, batch.lips, encoder_power=encoder_power, kl_weight=beta)
        if not math.isfinite(loss):
            raise TrainingError(
                f"{model.name}: the loss became {loss} at epoch {epoch}, batch {b}; "
                f"{_LOWER_LR.format(lr=config.lr)}"
            )
        total += loss
        bar.update(1)
    return total, beta


def _keep_score(
    state: _LoopState, record: EpochRecord, model: SpeechVAE, config: TrainConfig
) -> None:
    """Book-keep an epoch: history, time, best weights, patience (early stopping)."""
    state.history.append(record)
    state.seconds += record.seconds
    state.epoch = record.epoch + 1
    if record.val_elbo > state.best_val + config.min_delta:
        state.best_val, state.best_epoch, state.bad_epochs = record.val_elbo, record.epoch, 0
        state.best_state = _to_cpu(model.state_dict())
    elif record.epoch + 1 > config.kl_warmup_epochs:
        state.bad_epochs += 1
    state.stopped_early = config.patience is not None and state.bad_epochs >= config.patience


_LOWER_LR = "lower the learning rate (now {lr}) or set clip_norm (the checkpoint keeps the last "
_LOWER_LR += "finished epoch)"


@contextlib.contextmanager
def _divergence_stops(model: SpeechVAE, where: str, lr: float) -> Iterator[None]:
    """A distribution refusing its parameters (a zero or NaN scale: torch's "to satisfy the
    constraint"), or non-finite weights, means the run diverged: :class:`TrainingError` naming
    where. Any other ``ValueError`` is a bug and surfaces as itself."""
    try:
        yield
    except ValueError as exc:
        finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
        if finite and "to satisfy the constraint" not in str(exc):
            raise
        raise TrainingError(
            f"{model.name}: training diverged {where} (a distribution's parameters left their "
            f"domain); {_LOWER_LR.format(lr=lr)}"
        ) from None
