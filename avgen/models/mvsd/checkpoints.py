"""MVSD's checkpoint format: the scene encoder and both converters in one file.

A checkpoint (:mod:`avgen.checkpoint`, model ``"mvsd"``) holds in ``config`` the format tag
``"format": "mvsd/1"``, the :class:`~avgen.models.mvsd.config.MVSDConfig` (``"model"``), the STFT
convention and the model card's metadata (``"card"``: data, settings, budget, measured table);
in ``state_dict`` the (EMA) weights of :class:`~avgen.models.mvsd.model.MVSD`; in ``extra`` what
a training run needs to resume (raw weights, optimiser, step, history), when given. Written
atomically (:mod:`avgen.models.tagged_checkpoint`); a missing, corrupt or foreign file, or
one whose weights do not fit its configuration, is a :class:`~avgen.errors.CheckpointError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from avgen.checkpoint import Checkpoint
from avgen.models.mvsd.config import MVSDConfig
from avgen.models.mvsd.model import MVSD
from avgen.models.tagged_checkpoint import load_tagged, read_tagged, save_tagged

MODEL_NAME = "mvsd"
"""The ``model`` entry of MVSD checkpoints."""
MVSD_FORMAT = "mvsd/1"
"""The format tag inside ``config``."""


def save_mvsd(
    model: MVSD,
    path: str | os.PathLike[str],
    card_metadata: Mapping[str, Any] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
    data_manifest_hash: str | None = None,
) -> Path:
    """Write ``model`` (its configuration and weights) with the model card's metadata
    (plain Python values) atomically; ``extra``: training state for resuming."""
    return save_tagged(
        model,
        path,
        name=MODEL_NAME,
        tag=MVSD_FORMAT,
        card_metadata=card_metadata,
        extra=extra,
        data_manifest_hash=data_manifest_hash,
    )


def read_mvsd_checkpoint(path: str | os.PathLike[str]) -> tuple[Checkpoint, MVSDConfig]:
    """The checkpoint and its :class:`MVSDConfig`, checked (format tag, STFT convention)."""
    return read_tagged(
        path,
        name=MODEL_NAME,
        tag=MVSD_FORMAT,
        parse=MVSDConfig.from_dict,
        kind="MVSD",
        article="an",
    )


def load_mvsd(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> MVSD:
    """The MVSD model of a checkpoint, in eval mode with frozen weights. The model card's
    metadata is in ``model.card`` (a dict)."""
    return load_tagged(path, read_mvsd_checkpoint, MVSD, device)
