"""Training the stylizer on a scene kit (``avgen train --model stylizer --data SCENEKIT``).

Items are the kit's self-supervised pairs (:func:`avgen.data.scenes.pairs.stylize_pairs`):
content = the clip's speech (the known dry speech, or the clip after the library's enhancement)
plus a little Gaussian noise, target = the original clip, condition = another clip of the same
video (its sound and its picture). Each clip enters ``examples_per_clip`` times, each time with
an example drawn (seeded) from its video's other clips, so that the model sees every pairing the
video offers rather than one fixed partner.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch

from avgen.files import write_text_atomic


def scene_kit_items(
    root: str | os.PathLike[str],
    split: str,
    *,
    content: str = "dry",
    noise_std: float = 0.01,
    examples_per_clip: int = 3,
    seed: int = 0,
) -> list[Any]:
    """The pairs of ``split``, each clip with ``examples_per_clip`` drawn partners."""
    from avgen.data.scenes.pairs import stylize_pairs
    from avgen.errors import ConfigError

    if examples_per_clip < 1:
        raise ConfigError(f"examples_per_clip must be >= 1, got {examples_per_clip}")
    items: list[Any] = []
    for k in range(examples_per_clip):
        items += stylize_pairs(root, split, content=content, noise_std=noise_std, seed=seed + k)
    return items


def train_from_scene_kit(
    data_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    size: str = "tiny",
    content: str = "dry",
    noise_std: float = 0.01,
    examples_per_clip: int = 3,
    autoencoder_from: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    resume: str | os.PathLike[str] | None = None,
    **train_overrides: Any,
):
    """Train a stylizer on a scene kit; write the checkpoint ``out`` and its model card (``out``
    with suffix ``.md``). ``autoencoder_from``: a stylizer checkpoint whose autoencoder is kept
    (stage 1 skipped: the ablations then differ in the diffusion model only). ``resume``: the
    checkpoint of an interrupted run with the same settings, continued up to ``steps``.
    ``train_overrides`` are fields of :class:`~avgen.models.stylizer.config.StylizerTrainConfig`
    (``steps``, ``ae_steps``, ``seed``, ...)."""
    from avgen.data.scenes.dataset import read_scene_kit
    from avgen.models.stylizer.checkpoints import load_stylizer
    from avgen.models.stylizer.config import StylizerTrainConfig, stylizer_config
    from avgen.models.stylizer.train import fit_stylizer

    kit = read_scene_kit(data_dir)
    train_config = StylizerTrainConfig(**train_overrides)
    seed = train_config.seed
    items = scene_kit_items(kit.root, "train", content=content, noise_std=noise_std,
                            examples_per_clip=examples_per_clip, seed=seed)  # fmt: skip
    val = scene_kit_items(kit.root, "val", content=content, noise_std=noise_std,
                          examples_per_clip=1, seed=seed)  # fmt: skip
    config = stylizer_config(size)
    autoencoder = None
    if autoencoder_from is not None:
        autoencoder = load_stylizer(autoencoder_from).autoencoder
    n_clips = len(kit.split_clips("train"))
    data = (
        f"scene kit `{kit.root}`: {n_clips} training clips of {kit.info.clip_samples / 16000:g} s "
        f"from {len({c.video for c in kit.split_clips('train')})} videos, x{examples_per_clip} "
        f"partner draws = {len(items)} pairs; {len(val)} val pairs; content {content} + "
        f"{noise_std:g} x RMS Gaussian noise (speech manifest SHA-256 "
        f"{kit.info.speech_manifest[:16]}...)"
    )
    fit = fit_stylizer(
        items,
        val,
        config,
        train_config,
        autoencoder=autoencoder,
        device=device,
        progress=progress,
        checkpoint=out,
        card_metadata={"data": data, "size": size, "content": content, "noise_std": noise_std},
        resume=resume,
    )
    write_model_card(Path(out).with_suffix(".md"), fit, size=size, data=data,
                     train_config=train_config)  # fmt: skip
    return fit


def write_model_card(
    path: str | os.PathLike[str],
    fit: Any,
    *,
    size: str,
    data: str,
    train_config: Any,
    measured: str = "",
) -> Path:
    """A short markdown card: the networks, the training run, the data, the measured figures."""
    model, tcfg = fit.model, train_config
    params = sum(p.numel() for p in model.parameters())
    rt = ", ".join(f"{k} {v:.3g}" for k, v in (fit.round_trip or {}).items()) or "not measured"
    val = ", ".join(f"{k} {v:.4g}" for k, v in (fit.validation or {}).items()) or "none"
    lines = [
        f"# Soundscape stylizer ({size})",
        "",
        "Audio-visual soundscape stylization (Li et al., ECCV 2024) re-built from scratch: a "
        "KL-regularised autoencoder of the compressed complex STFT (no vocoder), a latent EDM "
        "U-Net with the content latent concatenated and cross-attention to the tokens of an "
        "audio-example encoder and a ResNet-18-shaped picture encoder, classifier-free guidance "
        f"by dropping the audio ({tcfg.p_drop_audio:g}) and the picture ({tcfg.p_drop_picture:g})"
        " independently.",
        "",
        "| | |",
        "|---|---|",
        f"| parameters | {params:,} (float32 {params * 4 / 1e6:.1f} MB) |",
        f"| training | autoencoder {tcfg.ae_steps} steps; diffusion {tcfg.steps} steps, batch "
        f"{tcfg.batch_size} x {tcfg.crop_seconds:g} s crops, example {tcfg.example_seconds:g} s,"
        f" lr {tcfg.lr:g}, EMA {tcfg.ema_decay:g}, seed {tcfg.seed} "
        f"({fit.steps_per_second:.2f} steps/s) |",
        f"| autoencoder round trip (val targets) | {rt} |",
        f"| validation denoising loss | {val} |",
        f"| machine | {platform.machine()}, {torch.get_num_threads()} thread(s) |",
        f"| data | {data} |",
    ]
    if measured:
        lines += ["", measured]
    dest = Path(path)
    write_text_atomic(dest, "\n".join(lines) + "\n")
    return dest
