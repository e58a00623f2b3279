"""Visual acoustic matching and picture-conditioned dereverberation with an MVSD model.

``match(dry, picture)`` renders dry speech in the room a picture shows with the reverberator
``f(x, I)``; ``dereverberate(reverberant, picture)`` removes that room with the dereverberator
``g(y, I)`` (Ma, Wang, Yang, Zheng, "MVSD: Mutual learning for acoustic matching and
dereverberation via visual scene-driven diffusion", ECCV 2024). Both are conditional diffusion
models sampled from noise with the source's compressed STFT as content and the picture's scene
embedding by FiLM and cross-attention (:mod:`avgen.models.mvsd`). Both return a
:class:`~avgen.pipelines.result.PipelineResult` (no uncertainty map: one posterior sample; the
history is empty: no iterations to record beyond the sampler's steps).

The matched output is longer than its input by the model's reverberation tail
(``info["tail_seconds"]``); the dereverberated output has its input's length.
"""

from __future__ import annotations

import os
import time
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avgen.errors import CheckpointError, ConfigError
from avgen.pipelines.common import mono_input, resolve_device, run_info
from avgen.pipelines.result import PipelineResult
from inference.history import History

BUNDLED_MVSD = "mvsd.pt"
"""File name of the bundled MVSD weights in ``avgen/assets/mvsd/`` (model card beside it)."""

BUNDLED_RT60_ESTIMATOR = "rt60-estimator.pt"
"""File name of the bundled blind RT60 estimator in ``avgen/assets/mvsd/``."""

MIN_SECONDS = 0.25
"""Shortest input the converters take (a few STFT frames of speech)."""


def bundled_mvsd_path() -> Path:
    """Where the bundled MVSD weights lie (they may be absent in a source checkout)."""
    return Path(str(package_files("avgen") / "assets" / "mvsd" / BUNDLED_MVSD))


def bundled_rt60_estimator() -> Any:
    """The blind RT60 estimator bundled beside the MVSD weights (AViTAR's RTE estimator:
    :mod:`avgen.models.scene.rt60_estimator`), trained on the same room kit."""
    from avgen.models.scene.rt60_estimator import load_rt60_estimator

    path = bundled_mvsd_path().with_name(BUNDLED_RT60_ESTIMATOR)
    if not path.exists():
        raise CheckpointError(f"no bundled RT60 estimator at {path}")
    return load_rt60_estimator(path)


def load_mvsd_model(
    checkpoint: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> Any:
    """An MVSD model from ``checkpoint``, or the bundled one when ``None``."""
    from avgen.models.mvsd.checkpoints import load_mvsd

    path = Path(checkpoint) if checkpoint is not None else bundled_mvsd_path()
    if checkpoint is None and not path.exists():
        raise CheckpointError(
            f"no bundled MVSD weights at {path}; train them with "
            "`avgen train --model mvsd --data ROOMKIT --out mvsd.pt` and pass --mvsd mvsd.pt"
        )
    model = load_mvsd(path)
    return model.to(resolve_device(device)).eval()


def _picture(picture: np.ndarray | torch.Tensor | None, model: Any, device: torch.device):
    """The picture as the model takes it: ``None`` for a model trained without the picture
    (the ablation; a picture given to it is not used), a ``(1, 3, S, S)`` tensor otherwise."""
    from avgen.models.scene.embedding import picture_tensor

    if not model.config.use_picture:
        return None
    if picture is None:
        raise ConfigError("this MVSD model is conditioned on a picture: give one (--image)")
    x = picture_tensor(picture).to(device)
    if x.shape[0] != 1:
        raise ConfigError(f"give one picture, got a stack of {x.shape[0]}")
    return x


def _run(
    kind: str,
    audio: torch.Tensor | np.ndarray,
    picture: np.ndarray | torch.Tensor | None,
    *,
    model: Any,
    steps: int,
    seed: int,
    device: str | torch.device,
    progress: bool | None,
) -> PipelineResult:
    from avgen.audio import SAMPLE_RATE

    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    name = "the dry speech" if kind == "match" else "the reverberant speech"
    wave = mono_input(audio, name=name, min_samples=int(MIN_SECONDS * SAMPLE_RATE))
    dev = resolve_device(device)
    model = load_mvsd_model(None, dev) if model is None else model.to(dev).eval()
    image = _picture(picture, model, dev)
    generator = torch.Generator(device=dev).manual_seed(int(seed))
    peak = wave.abs().max().clamp_min(1e-8)
    start = time.perf_counter()
    with torch.no_grad():
        if kind == "match":
            out = model.match(
                wave.to(dev) / peak, image, steps=steps, generator=generator, progress=progress
            )
        else:
            out = model.dereverberate(
                wave.to(dev) / peak, image, steps=steps, generator=generator, progress=progress
            )
    estimate = (out.reshape(-1).to("cpu", torch.float32) * peak).contiguous()
    seconds = time.perf_counter() - start
    if not torch.isfinite(estimate).all():
        from inference.errors import NumericalError

        raise NumericalError(f"MVSD {kind}: the sampler returned non-finite values (seed {seed})")
    info = run_info(
        pipeline=f"mvsd-{kind}",
        seed=int(seed),
        device=dev,
        n_samples=int(wave.numel()),
        seconds=seconds,
        steps=int(steps),
        use_picture=bool(model.config.use_picture),
        tail_seconds=float(model.config.tail_seconds),
        output_samples=int(estimate.numel()),
    )
    return PipelineResult(
        estimate=estimate, spectrum=None, uncertainty=None, history=History(), info=info
    )


def match(
    dry: torch.Tensor | np.ndarray,
    picture: np.ndarray | torch.Tensor | None,
    *,
    model: Any = None,
    steps: int = 25,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> PipelineResult:
    """Dry speech ``(n,)`` at 16 kHz rendered in the room of ``picture`` (an ``(H, W, 3)``
    uint8 RGB array of :data:`~avgen.models.scene.embedding.PICTURE_SIZE` pixels a side, see
    :func:`avgen.images.load_picture`). ``model``: an MVSD model (default: the bundled one).
    The estimate has ``n + tail`` samples, at the level of the input."""
    return _run("match", dry, picture, model=model, steps=steps, seed=seed, device=device,
                progress=progress)  # fmt: skip


def dereverberate(
    reverberant: torch.Tensor | np.ndarray,
    picture: np.ndarray | torch.Tensor | None,
    *,
    model: Any = None,
    steps: int = 25,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> PipelineResult:
    """Reverberant speech ``(n,)`` with the room of ``picture`` removed; ``n`` samples out."""
    return _run("dereverb", reverberant, picture, model=model, steps=steps, seed=seed,
                device=device, progress=progress)  # fmt: skip
