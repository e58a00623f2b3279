r"""An ambience encoder trained from scratch on the noise bank: the embedding space of the
stylization metrics (Fréchet distance, per-clip distance) and an ambience-type classifier.

Soundscape stylization (Li et al., "Self-Supervised Audio-Visual Soundscape Stylization",
ECCV 2024) is judged on how well its output's ambience matches the target scene's. The
usual yardstick, the Fréchet audio distance (Kilgour et al., 2019), lives in the embedding
space of a pretrained audio network (VGGish, PANNs, CLAP). **None of these can be had
offline** (their packages download the weights at run time), so this module trains a small
one here, on the library's own noise bank (:mod:`avgen.data.noise.bank`).

**It is an evaluator, not the model under test**: it is trained on *all* noise types of the
bank, seen and unseen alike (a yardstick must know every ambience it measures); only held-out
*segments* of each recording are kept from it, to measure its accuracy. A stylizer trained on
the seen types and tested on the unseen ones is therefore measured by an encoder that knows
the unseen types: that is intended.

Input and network (1-2 s patches, as VGGish's 0.96 s frames):

.. math::

    M = \log\big(\mathrm{Mel}_{64}\,|\mathrm{STFT}(x / \max|x|)|^2 + 10^{-8}\big)
    \in \mathbb{R}^{64 \times T},

with the AViTAR STFT (:func:`avgen.metrics.avitar_magnitude`: n_fft 512, hop 160, Hamming 400)
and a triangular mel filterbank (HTK mel scale, 20 Hz - 8 kHz, :func:`mel_filterbank`). The
peak normalisation makes every output **invariant to the gain** of the input. A patch of
``patch_frames`` frames (100: 1 s) goes through four blocks ``conv3x3 -> BatchNorm -> ReLU ->
max-pool 2`` of ``width * (1, 2, 4, 8)`` channels, global average pooling, and a linear layer:
that layer's output :math:`e \in \mathbb{R}^{D}` (``embedding_dim``, 128; no activation) is the
**embedding**; the classifier is ``Linear(ReLU(e))`` over the ambience types.

A clip longer than a patch is cut into patches every ``patch_frames // 2`` frames (a shorter
clip is looped to one patch); :meth:`AmbienceEncoder.embed_patches` returns one embedding per
patch, :meth:`AmbienceEncoder.embed` their mean, :meth:`AmbienceEncoder.classify` the type whose
mean log-probability over the patches is highest.

Training (:func:`fit_ambience_encoder`): cross-entropy on random patches, the type drawn
uniformly (each type equally often, whatever its recorded length), the clip within the type in
proportion to its length, the offset uniformly; augmentation: a random gain (moot after the
peak normalisation, kept so that the invariance is exercised) and, with probability
``speech_probability``, a speech waveform mixed in at a speech-to-ambience ratio drawn
uniformly in ``speech_snr_db`` (stylized clips carry speech over their ambience).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from avgen.audio import SAMPLE_RATE
from avgen.checkpoint import load_checkpoint, load_weights, parse_config
from avgen.errors import AudioError, CheckpointError, ConfigError
from avgen.metrics import AVITAR_STFT, avitar_magnitude, peak_normalize
from avgen.models.scene.checkpoints import save_regressor
from avgen.seeding import derive_seed, numpy_generator

MODEL_NAME = "ambience-encoder"
"""The ``model`` entry of :class:`AmbienceEncoder` checkpoints (:mod:`avgen.checkpoint`)."""

LOG_FLOOR = 1e-8
"""Added to the mel power of the peak-normalised signal before the log (-80 dB re peak)."""


@dataclass(frozen=True)
class AmbienceEncoderConfig:
    """Size and input convention of an :class:`AmbienceEncoder`.

    Attributes:
        classes: the ambience types, in the classifier's output order.
        n_mels: mel bands of the input.
        patch_frames: STFT frames per patch (10 ms each: 100 = 1 s).
        width: channels of the first conv block (then 2x, 4x, 8x).
        embedding_dim: size ``D`` of the embedding (the penultimate layer).
        sample_rate: Hz (the AViTAR STFT is defined at 16 kHz).
    """

    classes: tuple[str, ...]
    n_mels: int = 64
    patch_frames: int = 100
    width: int = 16
    embedding_dim: int = 128
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ConfigError("the ambience encoder needs at least two distinct classes")
        if self.patch_frames < 16 or self.n_mels < 16:
            raise ConfigError("the ambience encoder needs patch_frames >= 16 and n_mels >= 16")
        if self.width < 1 or self.embedding_dim < 2:
            raise ConfigError("width must be >= 1 and embedding_dim >= 2")
        if self.sample_rate != SAMPLE_RATE:
            raise ConfigError(f"the ambience encoder works at {SAMPLE_RATE} Hz")

    @property
    def patch_samples(self) -> int:
        """Samples of one patch: ``(patch_frames - 1) * hop``."""
        return (self.patch_frames - 1) * AVITAR_STFT["hop_length"]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["classes"] = list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AmbienceEncoderConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["classes"] = tuple(known["classes"])
        return cls(**known)


def mel_filterbank(
    n_mels: int, n_fft: int = 512, sample_rate: int = SAMPLE_RATE, f_min: float = 20.0
) -> torch.Tensor:
    r"""Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` on the HTK scale
    :math:`m = 2595 \log_{10}(1 + f / 700)`, ``n_mels`` triangles with centres equally spaced in
    mel between ``f_min`` and Nyquist, peak 1 (no area normalisation)."""

    def mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(np.array(f_min)), mel(np.array(sample_rate / 2)), n_mels + 2))
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    return torch.from_numpy(np.clip(np.minimum(up, down), 0.0, None).astype(np.float32))


def as_wave(wave: Any, name: str = "audio") -> torch.Tensor:
    """A checked mono float32 CPU waveform ``(N,)`` (not silent, finite)."""
    x = torch.as_tensor(np.asarray(wave) if not torch.is_tensor(wave) else wave)
    x = x.detach().to("cpu", torch.float32)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1 or x.numel() < AVITAR_STFT["n_fft"]:
        raise AudioError(
            f"{name}: expected a mono waveform of at least {AVITAR_STFT['n_fft']} samples, "
            f"got shape {tuple(x.shape)}"
        )
    if not bool(torch.isfinite(x).all()):
        raise AudioError(f"{name}: the waveform holds NaN or infinite samples")
    if not bool((x != 0).any()):
        raise AudioError(f"{name}: the waveform is silent")
    return x


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class AmbienceEncoder(nn.Module):
    """Log-mel patch -> embedding (``embedding_dim``) -> ambience-type logits (module docstring)."""

    def __init__(self, config: AmbienceEncoderConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.trunk = nn.Sequential(_block(1, w), _block(w, 2 * w), _block(2 * w, 4 * w))
        self.trunk.append(_block(4 * w, 8 * w))
        self.embedding = nn.Linear(8 * w, config.embedding_dim)
        self.head = nn.Linear(config.embedding_dim, len(config.classes))
        self.register_buffer("mel", mel_filterbank(config.n_mels), persistent=False)

    # -- features ---------------------------------------------------------------------------
    def log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """``(..., N)`` waveforms -> ``(..., n_mels, T)`` log-mel of the peak-normalised signals."""
        power = avitar_magnitude(peak_normalize(waves)).square()
        return torch.log(torch.einsum("mf,...ft->...mt", self.mel, power) + LOG_FLOOR)

    def patches(self, wave: Any) -> torch.Tensor:
        """``(P, n_mels, patch_frames)`` log-mel patches of one clip, every ``patch_frames // 2``
        frames (a clip shorter than a patch is looped to one)."""
        x = as_wave(wave)
        need = self.config.patch_samples
        if x.numel() < need:
            x = x.repeat(math.ceil(need / x.numel()))[:need]
        spec = self.log_mel(x)
        f, hop = self.config.patch_frames, self.config.patch_frames // 2
        n = 1 + (spec.shape[-1] - f) // hop
        return torch.stack([spec[:, i * hop : i * hop + f] for i in range(n)])

    # -- network ------------------------------------------------------------------------------
    def embed_spectra(self, spectra: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, T)`` log-mel patches -> embeddings ``(B, D)``."""
        h = self.trunk(spectra.unsqueeze(1))
        return self.embedding(h.mean(dim=(2, 3)))

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, T)`` log-mel patches -> class logits ``(B, n_classes)``."""
        return self.head(torch.relu(self.embed_spectra(spectra)))

    # -- per clip -----------------------------------------------------------------------------
    @torch.no_grad()
    def embed_patches(self, wave: Any) -> torch.Tensor:
        """Embeddings ``(P, D)`` of the patches of one clip (eval mode)."""
        was = self.training
        self.eval()
        out = self.embed_spectra(self.patches(wave))
        self.train(was)
        return out

    def embed(self, wave: Any) -> torch.Tensor:
        """The clip's embedding ``(D,)``: the mean of its patch embeddings."""
        return self.embed_patches(wave).mean(dim=0)

    @torch.no_grad()
    def log_probs(self, wave: Any) -> torch.Tensor:
        """Mean over the clip's patches of the class log-probabilities ``(n_classes,)``."""
        was = self.training
        self.eval()
        out = torch.log_softmax(self(self.patches(wave)), dim=-1).mean(dim=0)
        self.train(was)
        return out

    def classify(self, wave: Any) -> str:
        """The most probable ambience type of one clip."""
        return self.config.classes[int(self.log_probs(wave).argmax())]


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AmbienceTrainConfig:
    """Optimiser and augmentation settings of :func:`fit_ambience_encoder`.

    Attributes:
        steps, batch_size, lr, weight_decay: AdamW on the cross-entropy, cosine decay of the lr.
        gain_db: random gain range (dB) applied to each training patch.
        speech_probability: share of patches with speech mixed in (when speech is given).
        speech_snr_db: range of the speech-to-ambience power ratio (dB) of that speech.
    """

    steps: int = 600
    batch_size: int = 48
    lr: float = 3e-3
    weight_decay: float = 1e-4
    gain_db: tuple[float, float] = (-30.0, 0.0)
    speech_probability: float = 0.5
    speech_snr_db: tuple[float, float] = (-15.0, 5.0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gain_db"] = list(self.gain_db)
        d["speech_snr_db"] = list(self.speech_snr_db)
        return d


@dataclass
class AmbienceEncoderFit:
    """What :func:`fit_ambience_encoder` returns: the encoder (eval mode), the training
    settings, the loss history (mean cross-entropy per 50 steps) and the wall time."""

    model: AmbienceEncoder
    config: AmbienceTrainConfig
    history: list[dict[str, float]]
    seconds: float


def _crop(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if x.size < n:
        x = np.tile(x, math.ceil(n / x.size) + 1)
    start = int(rng.integers(0, x.size - n + 1))
    return x[start : start + n]


def mix_at_snr(ambience: np.ndarray, speech: np.ndarray, snr_db: float) -> np.ndarray:
    """``ambience + g speech`` with ``g`` such that ``P(g speech) / P(ambience) = 10^(snr/10)``
    (powers = mean squares; silent speech is not added)."""
    ps = float(np.mean(speech.astype(np.float64) ** 2))
    pa = float(np.mean(ambience.astype(np.float64) ** 2))
    if ps <= 0 or pa <= 0:
        return ambience
    g = math.sqrt(pa / ps * 10.0 ** (snr_db / 10.0))
    return (ambience + g * speech).astype(np.float32)


def fit_ambience_encoder(
    clips: Sequence[tuple[str, Any]],
    *,
    speech: Sequence[Any] = (),
    config: AmbienceEncoderConfig | None = None,
    train: AmbienceTrainConfig | None = None,
    seed: int = 0,
    log_every: int = 50,
) -> AmbienceEncoderFit:
    """Train an :class:`AmbienceEncoder` from scratch on ``clips``, pairs ``(type, waveform)``
    at 16 kHz (several clips may share a type), with ``speech`` waveforms (16 kHz) mixed in as
    augmentation (module docstring). ``config`` defaults to the sorted types of ``clips``.
    Same inputs and seed, same weights (on one thread)."""
    train = train or AmbienceTrainConfig()
    types = sorted({t for t, _ in clips})
    config = config or AmbienceEncoderConfig(classes=tuple(types))
    unknown = set(types) - set(config.classes)
    if unknown:
        raise ConfigError(f"clips of types {sorted(unknown)} are not among the classes")
    by_type: dict[int, list[np.ndarray]] = {}
    for t, w in clips:
        x = as_wave(w, f"noise clip of type {t!r}").numpy()
        by_type.setdefault(config.classes.index(t), []).append(x)
    classes = sorted(by_type)
    weights = {k: np.array([c.size for c in v], dtype=np.float64) for k, v in by_type.items()}
    voices = [as_wave(s, "speech").numpy() for s in speech]
    torch.manual_seed(derive_seed(seed, "ambience-encoder", "init") % (2**63))
    model = AmbienceEncoder(config)
    rng = numpy_generator(derive_seed(seed, "ambience-encoder", "batches"))
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(train.steps, 1))
    n = config.patch_samples
    history: list[dict[str, float]] = []
    running, count = 0.0, 0
    start = time.perf_counter()
    model.train()
    for step in range(train.steps):
        labels = rng.choice(classes, size=train.batch_size)
        batch = np.empty((train.batch_size, n), dtype=np.float32)
        for i, k in enumerate(labels):
            p = weights[k] / weights[k].sum()
            x = _crop(by_type[k][int(rng.choice(len(p), p=p))], n, rng)
            if voices and rng.random() < train.speech_probability:
                s = _crop(voices[int(rng.integers(len(voices)))], n, rng)
                x = mix_at_snr(x, s, float(rng.uniform(*train.speech_snr_db)))
            batch[i] = x * 10.0 ** (float(rng.uniform(*train.gain_db)) / 20.0)
        spectra = model.log_mel(torch.from_numpy(batch))
        loss = nn.functional.cross_entropy(model(spectra), torch.as_tensor(labels))
        if not bool(torch.isfinite(loss.detach())):
            raise ConfigError(f"the ambience encoder's loss is not finite at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running, count = running + float(loss.detach()), count + 1
        if count == log_every or step == train.steps - 1:
            history.append({"step": float(step + 1), "loss": running / count})
            running, count = 0.0, 0
    model.eval()
    return AmbienceEncoderFit(model, train, history, time.perf_counter() - start)


# ------------------------------------------------------------------------------------------------
# Held-out evaluation
# ------------------------------------------------------------------------------------------------


def split_segments(
    wave: Any, heldout_fraction: float = 0.2, min_seconds: float = 2.0
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(training part, held-out part)`` of one recording: the last ``heldout_fraction`` of
    it is held out when that is at least ``min_seconds`` long, else nothing is (``None``)."""
    x = np.asarray(wave, dtype=np.float32).reshape(-1)
    cut = round(x.size * (1.0 - heldout_fraction))
    if x.size - cut < round(min_seconds * SAMPLE_RATE):
        return x, None
    return x[:cut], x[cut:]


def heldout_accuracy(
    model: AmbienceEncoder,
    clips: Sequence[tuple[str, Any]],
    *,
    clip_seconds: float = 2.0,
    speech: Sequence[Any] = (),
    speech_snr_db: float | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Accuracy of :meth:`AmbienceEncoder.classify` on non-overlapping ``clip_seconds`` clips
    cut from held-out ``(type, waveform)`` segments: ``{"n", "accuracy", "balanced_accuracy",
    "chance"}`` (balanced = the mean of the per-type accuracies; chance = 1 / classes). With
    ``speech`` and ``speech_snr_db``, a seeded speech crop is mixed into each clip at that
    speech-to-ambience ratio."""
    rng = numpy_generator(derive_seed(seed, "ambience-heldout"))
    n = round(clip_seconds * SAMPLE_RATE)
    hits: dict[str, list[bool]] = {}
    for t, w in clips:
        x = np.asarray(w, dtype=np.float32).reshape(-1)
        for i in range(x.size // n):
            seg = x[i * n : (i + 1) * n]
            if not np.any(seg):
                continue
            if speech and speech_snr_db is not None:
                s = np.asarray(speech[int(rng.integers(len(speech)))], dtype=np.float32)
                seg = mix_at_snr(seg, _crop(s, n, rng), speech_snr_db)
            hits.setdefault(t, []).append(model.classify(seg) == t)
    if not hits:
        raise ConfigError("no held-out clip to classify")
    flat = [h for v in hits.values() for h in v]
    return {
        "n": float(len(flat)),
        "accuracy": float(np.mean(flat)),
        "balanced_accuracy": float(np.mean([np.mean(v) for v in hits.values()])),
        "chance": 1.0 / len(model.config.classes),
    }


# ------------------------------------------------------------------------------------------------
# Checkpoints
# ------------------------------------------------------------------------------------------------


def save_ambience_encoder(
    path: str | os.PathLike[str], model: AmbienceEncoder, *, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` (configuration and weights) as an avgen checkpoint, atomically."""
    return save_regressor(path, model, MODEL_NAME, extra)


def load_ambience_encoder(path: str | os.PathLike[str]) -> AmbienceEncoder:
    """An :class:`AmbienceEncoder` from :func:`save_ambience_encoder`'s file, in eval mode;
    :class:`CheckpointError` for a missing, corrupt or foreign file or weights that do not fit."""
    ckpt = load_checkpoint(path, expected_model=MODEL_NAME)
    config = parse_config(
        AmbienceEncoderConfig.from_dict, dict(ckpt.config), path, "ambience encoder"
    )
    return load_weights(AmbienceEncoder(config), ckpt.state_dict, path).eval()


BUNDLED_AMBIENCE_ENCODER = Path(__file__).resolve().parents[2] / "assets" / "stylize"
"""Folder of the bundled ambience encoder (``ambience-encoder.pt`` and its model card)."""


def bundled_ambience_encoder() -> AmbienceEncoder:
    """The ambience encoder bundled in ``avgen/assets/stylize/ambience-encoder.pt``
    (``ambience-encoder.md``: how it was trained and how well it classifies)."""
    path = BUNDLED_AMBIENCE_ENCODER / "ambience-encoder.pt"
    if not path.exists():
        raise CheckpointError(f"no bundled ambience encoder at {path}")
    return load_ambience_encoder(path)
