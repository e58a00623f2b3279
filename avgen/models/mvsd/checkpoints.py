"""MVSD's checkpoint format: the scene encoder and both converters in one file.

A checkpoint (:mod:`avgen.checkpoint`, model ``"mvsd"``) holds in ``config`` the format tag
``"format": "mvsd/1"``, the :class:`~avgen.models.mvsd.config.MVSDConfig` (``"model"``), the STFT
convention and the model card's metadata (``"card"``: data, settings, budget, measured table);
in ``state_dict`` the (EMA) weights of :class:`~avgen.models.mvsd.model.MVSD`; in ``extra`` what
a training run needs to resume (raw weights, optimiser, step, history), when given. Written
atomically (:func:`avgen.checkpoint.save_checkpoint`); a missing, corrupt or foreign file, or
one whose weights do not fit its configuration, is a :class:`~avgen.errors.CheckpointError`.
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
from avgen.models.mvsd.config import MVSDConfig
from avgen.models.mvsd.model import MVSD

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
    config = {
        "format": MVSD_FORMAT,
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


def read_mvsd_checkpoint(path: str | os.PathLike[str]) -> tuple[Checkpoint, MVSDConfig]:
    """The checkpoint and its :class:`MVSDConfig`, checked (format tag, STFT convention)."""
    p = Path(path)
    ckpt = load_checkpoint(p, expected_model=MODEL_NAME, map_location="cpu")
    if ckpt.config.get("format") != MVSD_FORMAT:
        raise CheckpointError(
            f"{p}: not an MVSD checkpoint of format {MVSD_FORMAT!r} "
            f"(found {ckpt.config.get('format')!r})"
        )
    check_stft(ckpt.config, p)
    try:
        config = MVSDConfig.from_dict(ckpt.config["model"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(
            f"{p}: MVSD checkpoint without a valid configuration ({exc})"
        ) from None
    return ckpt, config


def load_mvsd(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> MVSD:
    """The MVSD model of a checkpoint, in eval mode with frozen weights. The model card's
    metadata is in ``model.card`` (a dict)."""
    ckpt, config = read_mvsd_checkpoint(path)
    model = MVSD(config)
    try:
        model.load_state_dict(ckpt.state_dict)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: weights do not fit the stored configuration ({str(exc).splitlines()[0]})"
        ) from None
    model.card = dict(ckpt.config.get("card", {}))  # type: ignore[attr-defined]
    return model.to(device).eval().requires_grad_(False)
