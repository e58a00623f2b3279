r"""The scene encoder with an auxiliary head that predicts a room's acoustics from its picture.

MVSD (Ma et al., ECCV 2024) conditions its converters on a ResNet-18 embedding of the room
picture; nothing forces that embedding to carry acoustics. An auxiliary head on the embedding
makes it (and makes it measurable): from the 256-d vector :math:`v` of
:class:`~avgen.models.scene.encoder.SceneEncoder`, a two-layer MLP predicts

.. math::

    \hat z = W_2\,\mathrm{GELU}(W_1 v + b_1) + b_2 \in \mathbb{R}^{B + 1}, \qquad
    \hat y = \mu + \sigma \odot \hat z,

the standardised targets :math:`y = (\log T_{60,1}, \dots, \log T_{60,B}, \mathrm{DRR})`:
octave-band reverberation times in log seconds (a multiplicative error costs the same for a
dry and a live room) and the direct-to-reverberant ratio in dB. :math:`\mu, \sigma` are the
training set's column means and standard deviations, stored with the model. Image2Reverb
(Singh et al., ICCV 2021) regresses a whole RIR from a picture; here, as in its evaluation,
the RT60 and DRR are what is measured (:mod:`~avgen.models.scene.image2reverb` turns them into
an RIR).

Labels are the room kit's (:class:`avgen.data.rooms.acoustics.RoomAcoustics`, measured by
Schroeder T30 per octave band and DRR on the simulated response); :func:`acoustic_labels`
stacks them as ``(N, B + 1)``: band RT60 in **seconds** in the order of ``bands``, then DRR in
dB. :func:`evaluate_scene_acoustics` reports the mean absolute error per band (seconds) and of
the DRR (dB) against the mean predictor (the training set's mean label, in the same units).

Training (:func:`fit_scene_acoustics`) augments pictures by horizontal flips (a mirrored room
sounds the same), small translations and a small brightness jitter, with dropout in the head.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from avgen.errors import ConfigError
from avgen.metrics import OCTAVE_BANDS
from avgen.models.scene.checkpoints import load_regressor, save_regressor
from avgen.models.scene.embedding import SceneEmbedding
from avgen.models.scene.encoder import SceneEncoder, SceneEncoderConfig
from avgen.models.scene.regression import (
    RegressionTrainConfig,
    target_statistics,
    train_regressor,
)

MODEL_NAME = "scene-acoustics"
"""The ``model`` entry of :class:`SceneAcoustics` checkpoints (:mod:`avgen.checkpoint`)."""


@dataclass(frozen=True)
class SceneAcousticsConfig:
    """Size of a :class:`SceneAcoustics`.

    Attributes:
        encoder: the scene encoder's configuration.
        hidden: width of the head's hidden layer.
        dropout: dropout probability on the embedding and the hidden layer (training only).
        bands: octave-band centres (Hz) of the predicted RT60s (the label columns).
    """

    encoder: SceneEncoderConfig = field(default_factory=SceneEncoderConfig)
    hidden: int = 128
    dropout: float = 0.2
    bands: tuple[float, ...] = OCTAVE_BANDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple(float(b) for b in self.bands))
        if self.hidden < 1 or not self.bands or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(
                "SceneAcousticsConfig needs hidden >= 1, 0 <= dropout < 1 and at least one band"
            )

    @property
    def n_outputs(self) -> int:
        """Band RT60s plus the DRR."""
        return len(self.bands) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder.to_dict(),
            "hidden": self.hidden,
            "dropout": self.dropout,
            "bands": list(self.bands),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneAcousticsConfig:
        return cls(
            encoder=SceneEncoderConfig.from_dict(dict(d["encoder"])),
            hidden=int(d["hidden"]),
            dropout=float(d.get("dropout", 0.0)),
            bands=tuple(float(b) for b in d["bands"]),
        )


def acoustic_labels(
    acoustics: Sequence[Any], bands: Sequence[float] = OCTAVE_BANDS
) -> torch.Tensor:
    """``(N, B + 1)`` float32 labels from room acoustics (objects with ``rt60_bands``, a
    ``{centre Hz: seconds}`` mapping, and ``drr_db``, like
    :class:`avgen.data.rooms.acoustics.RoomAcoustics`, or their ``to_dict()``)."""
    rows = []
    for a in acoustics:
        rb = a["rt60_bands"] if isinstance(a, dict) else a.rt60_bands
        drr = a["drr_db"] if isinstance(a, dict) else a.drr_db
        by_band = {float(k): float(v) for k, v in rb.items()}
        try:
            rows.append([by_band[float(b)] for b in bands] + [float(drr)])
        except KeyError as exc:
            raise ConfigError(f"acoustic labels lack the band {exc} Hz") from None
    return torch.tensor(rows, dtype=torch.float32)


def labels_to_targets(labels: torch.Tensor) -> torch.Tensor:
    """Labels (band RT60 in s, DRR in dB) -> regression targets (log s, dB)."""
    check_labels(labels, labels.shape[-1])
    return torch.cat([labels[:, :-1].log(), labels[:, -1:]], dim=1)


def targets_to_labels(targets: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`labels_to_targets`."""
    return torch.cat([targets[:, :-1].exp(), targets[:, -1:]], dim=1)


def check_labels(labels: torch.Tensor, n_outputs: int) -> None:
    """:class:`ConfigError` unless ``labels`` is ``(N, n_outputs)``, finite, RT60s positive."""
    if labels.ndim != 2 or labels.shape[1] != n_outputs:
        raise ConfigError(
            f"labels must be (N, {n_outputs}) (band RT60 in s, then DRR in dB), "
            f"got {tuple(labels.shape)}"
        )
    if not bool(torch.isfinite(labels).all()) or not bool((labels[:, :-1] > 0).all()):
        raise ConfigError("labels must be finite with positive RT60s")


class SceneAcoustics(nn.Module):
    """:class:`SceneEncoder` + MLP head: pictures ``(B, 3, S, S)`` -> band RT60s and DRR.

    Buffers: ``target_mean``/``target_std`` (standardisation of the targets) and
    ``label_mean`` (the training set's mean label in seconds and dB: the mean predictor).
    """

    def __init__(self, config: SceneAcousticsConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SceneAcousticsConfig()
        self.encoder = SceneEncoder(config.encoder)
        self.head = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(config.encoder.embedding_dim, config.hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.n_outputs),
        )
        j = config.n_outputs
        self.register_buffer("target_mean", torch.zeros(j))
        self.register_buffer("target_std", torch.ones(j))
        self.register_buffer("label_mean", torch.ones(j))

    def embed(self, pictures: torch.Tensor) -> SceneEmbedding:
        """The scene embedding (what the converters are conditioned on)."""
        return self.encoder(pictures)

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        """Standardised predictions ``(B, len(bands) + 1)``."""
        return self.head(self.encoder(pictures).vector)

    @torch.no_grad()
    def predict(self, pictures: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """Predicted labels ``(B, len(bands) + 1)``: band RT60s in seconds, then DRR in dB."""
        was = self.training
        self.eval()
        out = []
        for i in range(0, pictures.shape[0], batch_size):
            z = self(pictures[i : i + batch_size])
            out.append(targets_to_labels(self.target_mean + self.target_std * z))
        self.train(was)
        return torch.cat(out)


@dataclass
class SceneAcousticsFit:
    """What :func:`fit_scene_acoustics` returns: the model (eval mode), the training
    configuration and history (``{"step", "loss", "lr", "seconds"}`` entries; the loss is the
    MSE of standardised targets, so 1.0 is the mean predictor's level)."""

    model: SceneAcoustics
    config: RegressionTrainConfig
    history: list[dict[str, float]]


def augment_pictures(pictures: torch.Tensor, gen: torch.Generator, shift: int = 8) -> torch.Tensor:
    """Random horizontal flip (probability 1/2), translation by up to ``shift`` pixels each way
    (edge pixels repeated) and brightness gain ``U(0.9, 1.1)`` per picture (clipped to
    ``[0, 1]``)."""
    b, _, h, w = pictures.shape
    flip = torch.rand(b, generator=gen) < 0.5
    out = torch.where(flip[:, None, None, None], pictures.flip(-1), pictures)
    if shift > 0:
        padded = torch.nn.functional.pad(out, (shift, shift, shift, shift), mode="replicate")
        offsets = torch.randint(0, 2 * shift + 1, (b, 2), generator=gen).tolist()
        out = torch.stack(
            [padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)]
        )
    gain = 0.9 + 0.2 * torch.rand(b, 1, 1, 1, generator=gen)
    return (out * gain).clamp(0.0, 1.0)


def fit_scene_acoustics(
    pictures: torch.Tensor,
    labels: torch.Tensor,
    config: SceneAcousticsConfig | None = None,
    seed: int = 0,
    progress: bool | None = None,
    *,
    train: RegressionTrainConfig | None = None,
    shift: int = 8,
) -> SceneAcousticsFit:
    """Train a :class:`SceneAcoustics` from scratch on ``pictures`` ``(N, 3, S, S)`` in
    ``[0, 1]`` and ``labels`` ``(N, len(bands) + 1)`` (see :func:`acoustic_labels`), with the
    augmentation of :func:`augment_pictures` (translations up to ``shift`` pixels) and the
    optimiser settings of ``train`` (default :class:`RegressionTrainConfig`)."""
    config = config or SceneAcousticsConfig()
    train = train or RegressionTrainConfig()
    check_labels(labels, config.n_outputs)
    if pictures.ndim != 4 or pictures.shape[0] != labels.shape[0]:
        raise ConfigError(
            f"pictures must be (N, 3, S, S) with one label row each; got {tuple(pictures.shape)} "
            f"and {tuple(labels.shape)}"
        )
    torch.manual_seed(seed)  # the initial weights
    model = SceneAcoustics(config)
    targets = labels_to_targets(labels.float())
    mean, std = target_statistics(targets)
    model.target_mean.copy_(mean)
    model.target_std.copy_(std)
    model.label_mean.copy_(labels.float().mean(dim=0))
    pictures = pictures.float()
    z = (targets - mean) / std

    def predict(idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return model(augment_pictures(pictures[idx], gen, shift))

    history = train_regressor(
        model, predict, z, train, seed, progress=progress, desc="scene acoustics"
    )
    return SceneAcousticsFit(model, train, history)


def scene_acoustics_errors(
    model: SceneAcoustics, pictures: torch.Tensor, labels: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Absolute errors ``(N, len(bands) + 1)`` (seconds for the band RT60s, dB for the DRR) of
    ``"model"``, of the ``"mean_predictor"`` (the training labels' mean) and of the
    ``"log_mean_predictor"`` (the constant the standardised loss measures against: the
    training set's geometric-mean RT60s and mean DRR, i.e. the head's zero output)."""
    check_labels(labels, model.config.n_outputs)
    pred = model.predict(pictures.float())
    labels = labels.float()
    log_mean = targets_to_labels(model.target_mean[None, :])
    return {
        "model": (pred - labels).abs(),
        "mean_predictor": (model.label_mean - labels).abs(),
        "log_mean_predictor": (log_mean - labels).abs(),
    }


def evaluate_scene_acoustics(
    model: SceneAcoustics, pictures: torch.Tensor, labels: torch.Tensor
) -> dict[str, Any]:
    """Mean absolute errors on ``(pictures, labels)`` of the model and of the constant
    predictors of :func:`scene_acoustics_errors`.

    Returns ``{"n", "rt60_mae": {band: s}, "rt60_mae_all" (mean over bands, s), "drr_mae" (dB)}``
    and the same three keys with the suffixes ``_mean_predictor`` and ``_log_mean_predictor``.
    """
    errors = scene_acoustics_errors(model, pictures, labels)
    bands = model.config.bands
    out: dict[str, Any] = {"n": int(labels.shape[0])}
    for name, err in errors.items():
        suffix = "" if name == "model" else f"_{name}"
        out[f"rt60_mae{suffix}"] = {b: float(err[:, i].mean()) for i, b in enumerate(bands)}
        out[f"rt60_mae_all{suffix}"] = float(err[:, :-1].mean())
        out[f"drr_mae{suffix}"] = float(err[:, -1].mean())
    return out


# ----------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------


def save_scene_acoustics(
    path: str | os.PathLike[str], model: SceneAcoustics, *, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` (configuration, weights, target statistics) as an avgen checkpoint with
    model ``"scene-acoustics"`` (atomically)."""
    return save_regressor(path, model, MODEL_NAME, extra)


def load_scene_acoustics(path: str | os.PathLike[str]) -> SceneAcoustics:
    """A :class:`SceneAcoustics` from :func:`save_scene_acoustics`'s file, in eval mode.
    :class:`CheckpointError` for a missing, corrupt or foreign file, another model's
    checkpoint, or weights that do not fit the stored configuration."""
    return load_regressor(path, MODEL_NAME, SceneAcoustics, SceneAcousticsConfig)
