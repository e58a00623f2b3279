"""The stylizer's checkpoint format: autoencoder, condition encoders and latent U-Net in one
file.

A checkpoint (:mod:`avgen.checkpoint`, model ``"stylizer"``) holds in ``config`` the format tag
``"format": "stylizer/1"``, the :class:`~avgen.models.stylizer.config.StylizerConfig`
(``"model"``), the STFT convention and the model card's metadata (``"card"``); in
``state_dict`` the (EMA) weights of :class:`~avgen.models.stylizer.model.Stylizer`, the latent
scale included; in ``extra`` what a training run saved (raw weights, optimiser, step, history),
when given. Written atomically; a missing, corrupt or foreign file, or one whose weights do not
fit its configuration, is a :class:`~avgen.errors.CheckpointError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from avgen.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from avgen.errors import CheckpointError, ConfigError
from avgen.models.diffusion.checkpoints import check_stft, stft_dict
from avgen.models.stylizer.config import StylizerConfig
from avgen.models.stylizer.model import Stylizer

MODEL_NAME = "stylizer"
"""The ``model`` entry of stylizer checkpoints."""
STYLIZER_FORMAT = "stylizer/1"
"""The format tag inside ``config``."""


def save_stylizer(
    model: Stylizer,
    path: str | os.PathLike[str],
    card_metadata: Mapping[str, Any] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
    data_manifest_hash: str | None = None,
) -> Path:
    """Write ``model`` (configuration and weights) with the model card's metadata atomically;
    ``extra``: training state."""
    config = {
        "format": STYLIZER_FORMAT,
        "model": model.config.to_dict(),
        "stft": stft_dict(),
        "card": dict(card_metadata or {}),
    }
    return save_checkpoint(
        path,
        model=MODEL_NAME,
        config=config,
        state_dict=model.state_dict(),
        data_manifest_hash=data_manifest_hash,
        extra=dict(extra or {}),
    )


def read_stylizer_checkpoint(path: str | os.PathLike[str]) -> tuple[Checkpoint, StylizerConfig]:
    """The checkpoint and its :class:`StylizerConfig`, checked (format tag, STFT)."""
    p = Path(path)
    ckpt = load_checkpoint(p, expected_model=MODEL_NAME, map_location="cpu")
    if ckpt.config.get("format") != STYLIZER_FORMAT:
        raise CheckpointError(
            f"{p}: not a stylizer checkpoint of format {STYLIZER_FORMAT!r} "
            f"(found {ckpt.config.get('format')!r})"
        )
    check_stft(ckpt.config, p)
    try:
        config = StylizerConfig.from_dict(ckpt.config["model"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(
            f"{p}: stylizer checkpoint without a valid configuration ({exc})"
        ) from None
    return ckpt, config


def load_stylizer(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Stylizer:
    """The stylizer of a checkpoint, in eval mode with frozen weights; the model card's
    metadata is in ``model.card``."""
    ckpt, config = read_stylizer_checkpoint(path)
    model = Stylizer(config)
    try:
        model.load_state_dict(ckpt.state_dict)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: weights do not fit the stored configuration ({str(exc).splitlines()[0]})"
        ) from None
    model.card = dict(ckpt.config.get("card", {}))  # type: ignore[attr-defined]
    return model.to(device).eval().requires_grad_(False)
