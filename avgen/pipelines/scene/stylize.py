"""Audio-visual soundscape stylization: speech re-rendered in the scene of an example.

``stylize(speech, example, picture)`` re-renders clean speech as if it had been recorded in the
scene that a short audio-visual example shows -- its reverberation and its ambient sound --
with a trained latent-diffusion stylizer (:mod:`avgen.models.stylizer`; Li, Owens et al.,
"Self-Supervised Audio-Visual Soundscape Stylization", ECCV 2024). The condition may be the
example's audio, its picture, or both; classifier-free guidance with weight ``w`` combines the
conditional and the unconditional predictions as ``D_u + w (D_c - D_u)``
(:func:`inference.diffusion.guidance.classifier_free_guidance`): ``w = 0`` ignores the
example, ``w = 1`` is the plain conditional model, ``w > 1`` pushes further towards it.

The estimate has the input's length (the scene's tail is cut at the end of the input, as the
model was trained on clips of equal length) and is returned at the input's peak scale: the
model works on peak-normalised speech and its output keeps the example's speech-to-ambience
ratio, so the ambience's level follows the speech's.
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

BUNDLED_STYLIZER = "stylizer.pt"
"""File name of the bundled stylizer weights in ``avgen/assets/stylize/`` (card beside it)."""

BUNDLED_EXAMPLE = "street"
"""The default example scene of ``avgen stylize``: ``avgen/assets/stylize/scenes/street.wav``
and ``.png`` (four bundled scenes, provenance in ``scenes.json`` beside them)."""

MIN_SPEECH_SECONDS = 0.25
"""Shortest speech the stylizer takes (a few latent frames)."""

MIN_EXAMPLE_SECONDS = 1.0
"""Shortest audio example: the example encoder needs about a second of the scene's sound to
tell its ambience and its reverberation apart from a passing event."""


def stylize_assets() -> Path:
    """The folder of the bundled stylizer, its card and the example scene."""
    return Path(str(package_files("avgen") / "assets" / "stylize"))


def bundled_scenes() -> list[str]:
    """The names of the bundled example scenes (``street``, ``indoor``, ...)."""
    return sorted(p.stem for p in (stylize_assets() / "scenes").glob("*.wav"))


def bundled_example(name: str = BUNDLED_EXAMPLE) -> tuple[Path, Path]:
    """A bundled example scene: its audio clip (speech in the scene, 2 s) and its picture."""
    root = stylize_assets() / "scenes"
    audio, picture = root / f"{name}.wav", root / f"{name}.png"
    if not audio.exists():
        raise ConfigError(f"no bundled example scene {name!r}; there are {bundled_scenes()}")
    return audio, picture


def load_stylizer_model(
    checkpoint: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> Any:
    """A stylizer from ``checkpoint``, or the bundled one when ``None``."""
    from avgen.models.stylizer.checkpoints import load_stylizer

    path = Path(checkpoint) if checkpoint is not None else stylize_assets() / BUNDLED_STYLIZER
    if checkpoint is None and not path.exists():
        raise CheckpointError(
            f"no bundled stylizer weights at {path}; train them with "
            "`avgen train --model stylizer --data SCENEKIT --out stylizer.pt` and pass "
            "--stylizer stylizer.pt"
        )
    model = load_stylizer(path)
    return model.to(resolve_device(device)).eval()


def _picture(picture: np.ndarray | torch.Tensor | None, device: torch.device):
    from avgen.models.scene.embedding import picture_tensor

    if picture is None:
        return None
    x = picture_tensor(picture).to(device)
    if x.shape[0] != 1:
        raise ConfigError(f"give one picture, got a stack of {x.shape[0]}")
    return x[0]


def stylize(
    speech: torch.Tensor | np.ndarray,
    example: torch.Tensor | np.ndarray | None = None,
    picture: np.ndarray | torch.Tensor | None = None,
    *,
    model: Any = None,
    guidance: float = 2.0,
    steps: int = 25,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> PipelineResult:
    """Speech ``(n,)`` at 16 kHz re-rendered in the scene of ``example`` (its audio, ``(m,)``
    at 16 kHz) and/or ``picture`` (an ``(H, W, 3)`` uint8 RGB array, see
    :func:`avgen.images.load_picture`). ``model``: a stylizer (default: the bundled one).
    Returns ``n`` samples at the input's peak scale (module docstring)."""
    from avgen.audio import SAMPLE_RATE

    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    guidance = float(guidance)
    if not np.isfinite(guidance) or guidance < 0:
        raise ConfigError(f"the guidance scale must be a finite number >= 0, got {guidance}")
    if example is None and picture is None:
        raise ConfigError(
            "give the target scene: an audio example (--example CLIP.wav), its picture "
            "(--image SCENE.png), or both"
        )
    wave = mono_input(speech, name="the speech", min_samples=int(MIN_SPEECH_SECONDS * SAMPLE_RATE))
    dev = resolve_device(device)
    example_wave = None
    if example is not None:
        n_min = int(MIN_EXAMPLE_SECONDS * SAMPLE_RATE)
        example_wave = mono_input(example, name="the example", min_samples=1)
        if example_wave.numel() < n_min:
            raise ConfigError(
                f"the example lasts {example_wave.numel() / SAMPLE_RATE:.2f} s; the stylizer "
                f"needs at least {MIN_EXAMPLE_SECONDS:g} s of the target scene's sound"
            )
        example_wave = example_wave / example_wave.abs().max().clamp_min(1e-8)
        example_wave = example_wave.to(dev)
    model = load_stylizer_model(None, dev) if model is None else model.to(dev).eval()
    image = _picture(picture, dev)
    peak = wave.abs().max().clamp_min(1e-8)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.stylize(
            wave.to(dev) / peak,
            example=example_wave,
            picture=image,
            guidance=guidance,
            steps=steps,
            seed=int(seed),
        )
    estimate = (out.reshape(-1).to("cpu", torch.float32) * peak).contiguous()
    seconds = time.perf_counter() - start
    if not torch.isfinite(estimate).all():
        from inference.errors import NumericalError

        raise NumericalError(f"stylize: the sampler returned non-finite values (seed {seed})")
    condition = "+".join(
        name for name, x in (("audio", example_wave), ("picture", image)) if x is not None
    )
    info = run_info(
        pipeline="stylize",
        seed=int(seed),
        device=dev,
        n_samples=int(wave.numel()),
        seconds=seconds,
        steps=int(steps),
        guidance=guidance,
        condition=condition,
        output_samples=int(estimate.numel()),
    )
    return PipelineResult(
        estimate=estimate, spectrum=None, uncertainty=None, history=History(), info=info
    )
