"""Saving and loading the scene regressors (the picture -> acoustics head, the blind RT60
estimator): one avgen checkpoint each, its configuration stored beside the weights, every bad
file a :class:`~avgen.errors.CheckpointError`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from avgen.checkpoint import load_checkpoint, load_weights, parse_config, save_checkpoint
from avgen.errors import CheckpointError

M = TypeVar("M", bound=nn.Module)


def save_regressor(
    path: str | os.PathLike[str], model: nn.Module, name: str, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` (``model.config.to_dict()`` and its state) as checkpoint ``name``."""
    return save_checkpoint(
        path, model=name, config=model.config.to_dict(), state_dict=model.state_dict(), extra=extra
    )


def load_regressor(path: str | os.PathLike[str], name: str, build: type[M], config_type: Any) -> M:
    """``build(config_type.from_dict(stored config))`` with the stored weights, in eval mode;
    :class:`CheckpointError` for a missing, corrupt or foreign file, another model's checkpoint,
    weights that do not fit the configuration, or non-finite weights."""
    ckpt = load_checkpoint(path, expected_model=name)
    config = parse_config(config_type.from_dict, dict(ckpt.config), path, f"{name} checkpoint")
    model = load_weights(build(config), ckpt.state_dict, path)
    if not all(bool(torch.isfinite(t).all()) for t in model.state_dict().values()):
        raise CheckpointError(f"{path}: the weights hold NaN or infinite values")
    return model.eval()
