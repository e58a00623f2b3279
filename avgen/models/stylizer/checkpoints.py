"""The stylizer's checkpoint format: autoencoder, condition encoders and latent U-Net in one
file.

A checkpoint (:mod:`avgen.checkpoint`, model ``"stylizer"``) holds in ``config`` the format tag
``"format": "stylizer/1"``, the :class:`~avgen.models.stylizer.config.StylizerConfig`
(``"model"``), the STFT convention and the model card's metadata (``"card"``); in
``state_dict`` the (EMA) weights of :class:`~avgen.models.stylizer.model.Stylizer`, the latent
scale included; in ``extra`` what a training run saved (raw weights, optimiser, step, history),
when given. Written atomically (:mod:`avgen.models.tagged_checkpoint`); a missing, corrupt or
foreign file, or one whose weights do not fit its configuration, is a
:class:`~avgen.errors.CheckpointError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from avgen.checkpoint import Checkpoint
from avgen.models.stylizer.config import StylizerConfig
from avgen.models.stylizer.model import Stylizer
from avgen.models.tagged_checkpoint import load_tagged, read_tagged, save_tagged

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
    return save_tagged(
        model,
        path,
        name=MODEL_NAME,
        tag=STYLIZER_FORMAT,
        card_metadata=card_metadata,
        extra=extra,
        data_manifest_hash=data_manifest_hash,
    )


def read_stylizer_checkpoint(path: str | os.PathLike[str]) -> tuple[Checkpoint, StylizerConfig]:
    """The checkpoint and its :class:`StylizerConfig`, checked (format tag, STFT)."""
    return read_tagged(
        path, name=MODEL_NAME, tag=STYLIZER_FORMAT, parse=StylizerConfig.from_dict, kind="stylizer"
    )


def load_stylizer(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Stylizer:
    """The stylizer of a checkpoint, in eval mode with frozen weights; the model card's
    metadata is in ``model.card``."""
    return load_tagged(path, read_stylizer_checkpoint, Stylizer, device)
