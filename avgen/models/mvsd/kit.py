"""Training MVSD from a room kit (``avgen train --model mvsd --data ROOMKIT``), and the model
card that goes with the weights.

:func:`kit_items` reads the splits of a room kit (:mod:`avgen.data.rooms.dataset`) into the
item dictionaries :func:`~avgen.models.mvsd.train.fit_mvsd` takes: paired
``{"clean", "reverberant", "picture"}``, unpaired reverberant ``{"reverberant", "picture"}``
(never a clean key: the kit has no clean file for them), unpaired clean ``{"clean"}``. The clean
waveform of a paired item is its utterance followed by the tail's zeros (the kit's convention,
``N + T`` samples, aligned with the reverberant one).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from avgen.files import write_text_atomic
from avgen.models.scene.embedding import picture_tensor

Item = Mapping[str, Any]


@dataclass(frozen=True)
class KitItems:
    """The four training-time sets of a room kit, as :func:`fit_mvsd` items."""

    paired: list[Item]
    unpaired_reverberant: list[Item]
    unpaired_clean: list[Item]
    val: list[Item]
    root: Path
    manifest: str


def _picture(example: Any) -> torch.Tensor:
    return picture_tensor(example.picture)[0]


def paired_items(root: str | os.PathLike[str], split: str) -> list[Item]:
    """The items of a paired split (``train-paired``, ``val``, ``test-seen``, ``test-unseen``),
    each with its ``labels`` and ``id`` too."""
    from avgen.data.rooms.dataset import PairedRooms, read_room_kit

    data = PairedRooms(read_room_kit(root), split)
    out = []
    for i in range(len(data)):
        ex = data[i]
        item = data.items[i]
        out.append(
            {
                "id": ex.id,
                "clean": ex.clean,
                "reverberant": ex.reverberant,
                "picture": _picture(ex),
                "labels": ex.labels,
                "speech_samples": item.speech_samples,
                "room": item.room,
                "viewpoint": item.viewpoint,
            }
        )
    return out


def kit_items(root: str | os.PathLike[str]) -> KitItems:
    """Read a room kit's training and validation sets (module docstring)."""
    from avgen.data.rooms.dataset import UnpairedClean, UnpairedReverberant, read_room_kit

    kit = read_room_kit(root)
    rev = UnpairedReverberant(kit)
    clean = UnpairedClean(kit)
    unpaired_reverberant = []
    for i in range(len(rev)):
        ex = rev[i]
        unpaired_reverberant.append({"reverberant": ex.reverberant, "picture": _picture(ex)})
    unpaired_clean = [{"clean": clean[i].clean} for i in range(len(clean))]
    return KitItems(
        paired=paired_items(kit.root, "train-paired"),
        unpaired_reverberant=unpaired_reverberant,
        unpaired_clean=unpaired_clean,
        val=paired_items(kit.root, "val"),
        root=kit.root,
        manifest=kit.info.speech_manifest,
    )


def train_from_room_kit(
    data_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    size: str = "small",
    use_picture: bool = True,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    resume: str | os.PathLike[str] | None = None,
    **train_overrides: Any,
):
    """Train MVSD on a room kit; write the checkpoint ``out`` and its model card (``out`` with
    suffix ``.md``). ``train_overrides`` are fields of
    :class:`~avgen.models.mvsd.config.MVSDTrainConfig` (``steps``, ``use_unpaired``, ...)."""
    from avgen.models.mvsd.config import MVSDTrainConfig, mvsd_config
    from avgen.models.mvsd.train import fit_mvsd

    items = kit_items(data_dir)
    config = mvsd_config(size, use_picture=use_picture)
    train_config = MVSDTrainConfig(**train_overrides)
    data = (
        f"room kit `{items.root}`: {len(items.paired)} paired, "
        f"{len(items.unpaired_reverberant)} unpaired reverberant, "
        f"{len(items.unpaired_clean)} unpaired clean training items, {len(items.val)} val "
        f"(speech manifest SHA-256 {items.manifest[:16]}...)"
    )
    fit = fit_mvsd(
        items.paired,
        items.unpaired_reverberant,
        items.unpaired_clean,
        items.val,
        config,
        train_config,
        device=device,
        progress=progress,
        resume=resume,
        checkpoint=out,
        card_metadata={"data": data, "size": size},
    )
    write_model_card(Path(out).with_suffix(".md"), fit, size=size, data=data)
    return fit


def write_model_card(
    path: str | os.PathLike[str],
    fit: Any,
    *,
    size: str,
    data: str,
    measured: str = "",
) -> Path:
    """A short markdown card: the networks, the training run, the data, the measured table."""
    cfg, tcfg = fit.model.config, fit.train_config
    params = sum(p.numel() for p in fit.model.parameters())
    lines = [
        f"# MVSD ({size}{'' if cfg.use_picture else ', without the picture'})",
        "",
        "Visual acoustic matching and dereverberation by mutual learning (Ma et al., ECCV 2024): "
        "two conditional diffusion models on the compressed complex STFT (a reverberator and a "
        "dereverberator) and a ResNet-18-shaped scene encoder, trained together from scratch.",
        "",
        "| | |",
        "|---|---|",
        f"| parameters | {params:,} (float32 {params * 4 / 1e6:.1f} MB) |",
        f"| converters | U-Net channels {list(cfg.unet.channels)}, cross-attention at levels "
        f"{list(cfg.unet.cross_attention_levels)}, FiLM from the 256-d scene embedding |",
        f"| training | {tcfg.steps} steps, batch {tcfg.batch_size} x {tcfg.crop_seconds:g} s "
        f"crops, lr {tcfg.lr:g}, paired-only warm-up {tcfg.warmup_steps} steps, "
        f"lambda_style {tcfg.lambda_style:g}, lambda_cycle {tcfg.lambda_cycle:g}, "
        f"unpaired data {'used' if tcfg.use_unpaired else 'not used'}, seed {tcfg.seed} |",
        f"| machine | {platform.machine()}, {torch.get_num_threads()} thread(s) |",
        f"| data | {data} |",
    ]
    if measured:
        lines += ["", measured]
    dest = Path(path)
    write_text_atomic(dest, "\n".join(lines) + "\n")
    return dest
