"""Training a diffusion prior from a data kit, and the model card that goes with it.

:func:`train_from_kit` is what ``avgen train --model diffusion-prior --data DIR --size S --out
FILE`` calls: it reads the clean speech of the kit's ``train`` and ``val`` splits through
:mod:`avgen.data.kit.records`, trains with :func:`~.train.fit_diffusion_prior` and writes the
checkpoint and, beside it, a model card (``FILE`` with suffix ``.md``).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from avgen.audio import DIFFUSION_STFT, load_audio
from avgen.data.kit.records import UtteranceRecord, manifest_hash, read_jsonl
from avgen.errors import DataError
from avgen.files import write_text_atomic
from avgen.models.diffusion.configs import DiffusionTrainConfig
from avgen.models.diffusion.train import DiffusionPriorFit, fit_diffusion_prior
from avgen.models.diffusion.unet import count_parameters


def read_kit_speech(
    data_dir: str | os.PathLike[str], split: str
) -> tuple[list[torch.Tensor], list[UtteranceRecord]]:
    """Clean waveforms and records of one split of a data kit."""
    root = Path(data_dir)
    records = [
        r for r in read_jsonl(root / "utterances.jsonl", UtteranceRecord) if r.split == split
    ]
    waves = [load_audio(root / r.wav, min_samples=DIFFUSION_STFT.n_fft) for r in records]
    return waves, records


def train_from_kit(
    data_dir: str | os.PathLike[str],
    size: str,
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    resume: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    **overrides: Any,
) -> DiffusionPriorFit:
    """Train a diffusion prior of size ``size`` on a kit's clean speech; write ``out`` (the
    checkpoint) and ``out`` with suffix ``.md`` (the model card).

    ``overrides`` are fields of :class:`~.train.DiffusionTrainConfig` (e.g. ``steps=500``).
    """
    root = Path(data_dir)
    train_waves, train_records = read_kit_speech(root, "train")
    if not train_waves:
        raise DataError(f"{root}: the kit has no utterances of split 'train'")
    val_waves, val_records = read_kit_speech(root, "val")
    config = DiffusionTrainConfig.for_size(size, **overrides)
    fit = fit_diffusion_prior(
        train_waves,
        val_waves,
        config,
        seed=seed,
        checkpoint=out,
        resume=resume,
        device=device,
        data_manifest_hash=manifest_hash(root),
        progress=progress,
    )
    hours = sum(r.duration for r in train_records) / 3600.0
    speakers = sorted({r.speaker for r in train_records})
    data = (
        f"data kit `{root}` (manifest SHA-256 {manifest_hash(root)[:16]}...): "
        f"{len(train_records)} training utterances ({hours:.2f} h, {len(speakers)} "
        f"speakers), {len(val_records)} validation utterances"
    )
    licences = sorted({r.licence for r in train_records})
    write_model_card(Path(out).with_suffix(".md"), fit, data=data, licences=licences, seed=seed)
    return fit


def write_model_card(
    path: str | os.PathLike[str],
    fit: DiffusionPriorFit,
    *,
    data: str,
    licences: Sequence[str] = (),
    seed: int | None = None,
    notes: str = "",
) -> Path:
    """A short markdown model card: what the model is, what it was trained on, how well it
    denoises compared with the zero network, and how to load it."""
    cfg = fit.config
    last = fit.validation[-1] if fit.validation else None
    params = count_parameters(fit.net)
    checkpoint = fit.checkpoint
    size_mb = (
        checkpoint.stat().st_size / 1e6 if checkpoint is not None and checkpoint.exists() else None
    )
    lines = [
        f"# Diffusion prior of clean speech ({cfg.size})",
        "",
        "A score model (EDM denoiser, Karras et al. 2022) of the amplitude-compressed complex "
        "STFT of 16 kHz speech (Hann 510 / hop 128 / 256 bins, 0.15 |c|^0.5), for posterior "
        "sampling in `inference.diffusion` (enhancement with NMF noise, dereverberation with "
        "`avgen.models.reverb.RoomOperator`).",
        "",
        "| | |",
        "|---|---|",
        f"| network | U-Net `{cfg.size}`: channels {list(fit.unet_config.channels)}, "
        f"{fit.unet_config.res_blocks} block(s) per level, self-attention at levels "
        f"{list(fit.unet_config.attention_levels)} |",
        f"| parameters | {params:,} |",
        f"| file | {size_mb:.2f} MB |" if size_mb is not None else "| file | - |",
        f"| sigma_data | {fit.sigma_data:.4f} (measured on the training speech) |",
        f"| training | {cfg.steps} steps, batch {cfg.batch_size} x {cfg.segment_frames} "
        f"frames, AdamW lr {cfg.lr:g}, EMA {cfg.ema_decay}, seed {seed} |",
        f"| speed | {fit.steps_per_second:.3f} steps/s on {platform.machine()} "
        f"({torch.get_num_threads()} threads) |",
        f"| data | {data} |",
    ]
    if licences:
        lines.append(f"| data licences | {', '.join(licences)} |")
    if last is not None:
        lines += [
            f"| validation | EDM-weighted denoising loss {last['val_loss']:.4f} vs "
            f"{last['val_baseline']:.4f} for the zero network (D = c_skip x), over "
            f"{cfg.val_sigmas} noise levels and {cfg.val_segments} segments |",
        ]
    lines += [
        "",
        "Load it with `avgen.models.diffusion.load_diffusion_prior(path)` (no argument: the "
        "prior bundled with the package).",
    ]
    if notes:
        lines += ["", notes]
    dest = Path(path)
    write_text_atomic(dest, "\n".join(lines) + "\n")
    return dest
