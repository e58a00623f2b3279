r"""A blind RT60 estimator from reverberant speech, and the RTE metric it defines.

AViTAR (Chen et al., "Visual Acoustic Matching", CVPR 2022, ``vam/models/base_av_model.py``)
measures how well a converter reproduces a room by the *RT60 error*

.. math:: \mathrm{RTE} = \big|\hat T_{60}(\hat y) - \hat T_{60}(y)\big| \quad \text{(seconds)}

between its output :math:`\hat y` and the target :math:`y`, where :math:`\hat T_{60}` is a
*learned* blind estimator: a ResNet-18 whose stem takes one channel, applied to
:math:`\log(1 + |\mathrm{STFT}(x)|)` (n_fft 512, hop 160, Hamming window of 400 samples,
:func:`avgen.metrics.avitar_magnitude`), trained on simulated rooms whose impulse response gives
the label. Here:

.. math::

    X = \log\!\big(1 + |\mathrm{STFT}(x / \max|x|)|\big) \in \mathbb{R}^{1 \times 257 \times T},
    \qquad \hat z = W\,\overline{\mathrm{ResNet18}(X)} + b, \qquad
    \hat T_{60} = \exp(\mu + \sigma \hat z),

with :math:`\overline{\cdot}` the mean over the final feature map (global average pooling)
and :math:`\mu, \sigma` the mean and standard deviation of the training labels' log RT60
(stored with the model). Optionally (``standardise``; off by default, as in AViTAR: on the
room benchmark it did not help) each frequency bin of :math:`X` is first standardised by its
mean and standard deviation over all training frames (a fixed affine map stored with the
model). The signal is peak-normalised first
(as AViTAR's loader normalises waveforms) so the estimate does not depend on the gain.

**Lengths.** Training crops ``frames`` STFT frames (``frames * 10`` ms) at a random offset of
each clip (a shorter clip is zero-padded at the end, i.e. followed by silence); estimation
feeds the **whole** clip, padded to at least ``frames`` frames the same way, and the global
average pooling makes the output independent of the number of frames. A clip of any length
is therefore accepted; clips much shorter than ``frames`` carry little decay to go on.

Optionally (``bands``) the estimator also predicts octave-band RT60s; the broadband value is
always the first output and the one :meth:`Rt60Estimator.estimate` returns.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from avgen.audio import SAMPLE_RATE
from avgen.errors import AudioError, ConfigError
from avgen.metrics import avitar_magnitude, peak_normalize
from avgen.models.scene.checkpoints import load_regressor, save_regressor
from avgen.models.scene.regression import (
    RegressionTrainConfig,
    target_statistics,
    train_regressor,
)
from avgen.models.scene.resnet import ResNet18

N_BINS = 257
"""Frequency bins of the AViTAR STFT (n_fft 512)."""

MODEL_NAME = "rt60-estimator"
"""The ``model`` entry of :class:`Rt60Estimator` checkpoints (:mod:`avgen.checkpoint`)."""


@dataclass(frozen=True)
class Rt60EstimatorConfig:
    """Size and input convention of an :class:`Rt60Estimator`.

    Attributes:
        width: ResNet-18 stage widths ``width * (1, 2, 4, 8)`` (AViTAR: torchvision's, 64).
        frames: STFT frames per training crop, and the least number of frames fed at
            estimation (shorter clips are zero-padded); 10 ms per frame at 16 kHz.
        bands: octave-band centres (Hz) also predicted, after the broadband RT60 (may be empty).
        standardise: standardise each frequency bin of the input by its training statistics
            (off: the raw ``log1p |STFT|`` enters the trunk, as in AViTAR).
        sample_rate: Hz of the waveforms (the AViTAR STFT is defined at 16 kHz).
    """

    width: int = 16
    frames: int = 200
    bands: tuple[float, ...] = ()
    standardise: bool = False
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple(float(b) for b in self.bands))
        if self.frames < 8:
            raise ConfigError("Rt60EstimatorConfig needs frames >= 8")
        if self.sample_rate != SAMPLE_RATE:
            raise ConfigError(
                f"the AViTAR STFT of the RT60 estimator is defined at {SAMPLE_RATE} Hz, "
                f"got sample_rate={self.sample_rate}"
            )

    @property
    def n_outputs(self) -> int:
        """Broadband RT60 plus one per band."""
        return 1 + len(self.bands)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bands"] = list(self.bands)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rt60EstimatorConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "bands" in known:
            known["bands"] = tuple(known["bands"])
        return cls(**known)


def _as_wave(wave: Any) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(wave) if not torch.is_tensor(wave) else wave)
    x = x.detach().to("cpu", torch.float32)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1 or x.numel() < 2:
        raise AudioError(f"the RT60 estimator takes a mono waveform (N,), got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise AudioError("the waveform holds NaN or infinite samples")
    if not bool((x != 0).any()):
        raise AudioError("the waveform is silent: no RT60 can be estimated")
    return x


def log_spectrogram(wave: Any) -> torch.Tensor:
    """``log1p |STFT|`` ``(257, T)`` of the peak-normalised waveform (AViTAR STFT)."""
    return torch.log1p(avitar_magnitude(peak_normalize(_as_wave(wave))))


def _pad_frames(spec: torch.Tensor, frames: int) -> torch.Tensor:
    if spec.shape[-1] >= frames:
        return spec
    return torch.nn.functional.pad(spec, (0, frames - spec.shape[-1]))


class Rt60Estimator(nn.Module):
    """ResNet18(1, width) on ``log1p |STFT|`` -> standardised log RT60 (broadband [+ bands]).

    Buffers: ``target_mean``/``target_std`` (log-seconds standardisation) and ``label_mean``
    (the training labels' mean in seconds: the mean predictor).
    """

    def __init__(self, config: Rt60EstimatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or Rt60EstimatorConfig()
        self.trunk = ResNet18(1, config.width)
        self.out = nn.Linear(self.trunk.out_channels, config.n_outputs)
        j = config.n_outputs
        self.register_buffer("target_mean", torch.zeros(j))
        self.register_buffer("target_std", torch.ones(j))
        self.register_buffer("label_mean", torch.ones(j))
        self.register_buffer("feature_mean", torch.zeros(N_BINS, 1))
        self.register_buffer("feature_std", torch.ones(N_BINS, 1))

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        """``(B, 257, T)`` log spectrograms -> standardised log RT60s ``(B, n_outputs)``."""
        x = (spectra - self.feature_mean) / self.feature_std
        features = self.trunk(x.unsqueeze(1))
        return self.out(features.mean(dim=(2, 3)))

    @torch.no_grad()
    def estimate_all(self, wave: Any) -> torch.Tensor:
        """RT60s in seconds ``(n_outputs,)`` of one reverberant clip: broadband, then bands."""
        was = self.training
        self.eval()
        spec = _pad_frames(log_spectrogram(wave), self.config.frames)
        z = self(spec.unsqueeze(0))[0]
        self.train(was)
        return (self.target_mean + self.target_std * z).exp()

    def estimate(self, wave: Any) -> float:
        """The broadband RT60 in seconds of one reverberant clip ``(N,)`` of any length."""
        return float(self.estimate_all(wave)[0])


@dataclass
class Rt60EstimatorFit:
    """What :func:`fit_rt60_estimator` returns: the estimator (eval mode), the training
    configuration and history (MSE of standardised log RT60; 1.0 is the mean predictor)."""

    model: Rt60Estimator
    config: RegressionTrainConfig
    history: list[dict[str, float]]


def _labels(rt60s: Any, n: int, n_outputs: int) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(rt60s, dtype=np.float32))
    if y.ndim == 1:
        y = y[:, None]
    if y.shape != (n, n_outputs):
        raise ConfigError(
            f"rt60s must be ({n},) or ({n}, {n_outputs}) seconds (broadband, then bands), "
            f"got {tuple(y.shape)}"
        )
    if not bool(torch.isfinite(y).all()) or not bool((y > 0).all()):
        raise ConfigError("rt60s must be finite and positive")
    return y


def _crop(
    spectra: Sequence[torch.Tensor], idx: torch.Tensor, frames: int, gen: torch.Generator
) -> torch.Tensor:
    out = []
    for i in idx.tolist():
        s = spectra[i]
        spare = s.shape[-1] - frames
        start = int(torch.randint(0, spare + 1, (1,), generator=gen)) if spare > 0 else 0
        out.append(_pad_frames(s[:, start : start + frames], frames))
    return torch.stack(out)


def fit_rt60_estimator(
    waves: Sequence[Any] | torch.Tensor,
    rt60s: Any,
    config: Rt60EstimatorConfig | None = None,
    seed: int = 0,
    progress: bool | None = None,
    *,
    train: RegressionTrainConfig | None = None,
) -> Rt60EstimatorFit:
    """Train an :class:`Rt60Estimator` from scratch on reverberant clips ``waves`` (a
    ``(N, L)`` tensor or a sequence of 1-D waveforms of any lengths, 16 kHz) labelled with
    ``rt60s`` in seconds (``(N,)`` broadband, or ``(N, 1 + len(bands))``), with the optimiser
    settings of ``train`` (default :class:`RegressionTrainConfig`)."""
    config = config or Rt60EstimatorConfig()
    train = train or RegressionTrainConfig()
    spectra = [log_spectrogram(w) for w in waves]
    labels = _labels(rt60s, len(spectra), config.n_outputs)
    torch.manual_seed(seed)  # the initial weights
    model = Rt60Estimator(config)
    targets = labels.log()
    mean, std = target_statistics(targets)
    model.target_mean.copy_(mean)
    model.target_std.copy_(std)
    model.label_mean.copy_(labels.mean(dim=0))
    if config.standardise:
        frames = torch.cat(spectra, dim=1)  # (257, total frames)
        model.feature_mean.copy_(frames.mean(dim=1, keepdim=True))
        model.feature_std.copy_(frames.std(dim=1, keepdim=True).clamp_min(1e-3))
    z = (targets - mean) / std

    def predict(idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return model(_crop(spectra, idx, config.frames, gen))

    history = train_regressor(
        model, predict, z, train, seed, progress=progress, desc="RT60 estimator"
    )
    return Rt60EstimatorFit(model, train, history)


def rt60_estimator_errors(
    estimator: Rt60Estimator, waves: Sequence[Any] | torch.Tensor, rt60s: Any
) -> dict[str, np.ndarray]:
    """Absolute errors in seconds ``(N,)`` of the broadband estimate (``"model"``), of the
    ``"mean_predictor"`` (the training labels' mean) and of the ``"log_mean_predictor"`` (their
    geometric mean: the estimator's zero output) on labelled clips."""
    labels = _labels(rt60s, len(waves), estimator.config.n_outputs)[:, 0].numpy()
    est = np.array([estimator.estimate(w) for w in waves])
    log_mean = float(estimator.target_mean[0].exp())
    return {
        "model": np.abs(est - labels),
        "mean_predictor": np.abs(float(estimator.label_mean[0]) - labels),
        "log_mean_predictor": np.abs(log_mean - labels),
    }


def evaluate_rt60_estimator(
    estimator: Rt60Estimator, waves: Sequence[Any] | torch.Tensor, rt60s: Any
) -> dict[str, float]:
    """``{"n", "mae", "mae_mean_predictor", "mae_log_mean_predictor"}`` (seconds, broadband)
    on labelled clips."""
    errors = rt60_estimator_errors(estimator, waves, rt60s)
    out = {"n": float(errors["model"].size)}
    for name, err in errors.items():
        out["mae" if name == "model" else f"mae_{name}"] = float(err.mean())
    return out


def reverberation_time_error(pred_wave: Any, target_wave: Any, estimator: Rt60Estimator) -> float:
    """RTE in seconds: ``|RT60(pred_wave) - RT60(target_wave)|`` with both RT60s from the blind
    ``estimator`` (AViTAR's metric). Not :func:`avgen.metrics.rt60_error`, which compares two
    known RT60 values."""
    return abs(estimator.estimate(pred_wave) - estimator.estimate(target_wave))


# ----------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------


def save_rt60_estimator(
    path: str | os.PathLike[str], model: Rt60Estimator, *, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` (configuration, weights, label statistics) as an avgen checkpoint with
    model ``"rt60-estimator"`` (atomically)."""
    return save_regressor(path, model, MODEL_NAME, extra)


def load_rt60_estimator(path: str | os.PathLike[str]) -> Rt60Estimator:
    """An :class:`Rt60Estimator` from :func:`save_rt60_estimator`'s file, in eval mode.
    :class:`CheckpointError` for a missing, corrupt or foreign file, another model's
    checkpoint, or weights that do not fit the stored configuration."""
    return load_regressor(path, MODEL_NAME, Rt60Estimator, Rt60EstimatorConfig)
