"""Checkpoints: weights + config + library version + data manifest hash, loaded safely.

A checkpoint is a dict saved with :func:`torch.save` and loaded with ``weights_only=True``
(no arbitrary code runs on load). Its ``format`` key marks it as avgen's; ``model`` says which
model it holds, so that loading one model's file as another's is a clear error.
"""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch

from avgen.errors import CheckpointError, ConfigError
from avgen.files import atomic_path

CHECKPOINT_FORMAT = "avgen-checkpoint/1"

C = TypeVar("C")
M = TypeVar("M", bound=torch.nn.Module)


@dataclass
class Checkpoint:
    """The content of a checkpoint file."""

    model: str
    config: dict[str, Any]
    state_dict: dict[str, Any]
    avgen_version: str
    data_manifest_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: str,
    config: dict[str, Any],
    state_dict: dict[str, Any],
    data_manifest_hash: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save atomically. ``config`` and ``extra`` hold only plain Python values and tensors."""
    from avgen import __version__

    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": model,
        "config": config,
        "state_dict": {
            k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in state_dict.items()
        },
        "avgen_version": __version__,
        "data_manifest_hash": data_manifest_hash,
        "extra": extra or {},
    }
    dest = Path(path)
    with atomic_path(dest) as tmp:
        torch.save(payload, tmp)
    return dest


def load_checkpoint(
    path: str | os.PathLike[str],
    expected_model: str | Sequence[str] | None = None,
    map_location: str | torch.device = "cpu",
) -> Checkpoint:
    """Load a checkpoint safely (``weights_only=True``), with a clear error for a missing,
    corrupt or foreign file, or one that holds another model than ``expected_model``."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    try:
        payload = torch.load(p, map_location=map_location, weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        AttributeError,
        KeyError,
        IndexError,  # the weights-only unpickler on garbage: "pop from empty list"
        TypeError,
        OverflowError,
        struct.error,
        AssertionError,  # torch's own checks of the file's metadata ("expected dict, got int")
        OSError,
    ) as exc:
        raise CheckpointError(
            f"{p}: corrupt, truncated, or not a checkpoint that loads safely ({type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{p}: not an avgen checkpoint (foreign file: no 'format: {CHECKPOINT_FORMAT}' entry)"
        )
    model = payload.get("model")
    if expected_model is not None:
        allowed = [expected_model] if isinstance(expected_model, str) else list(expected_model)
        if model not in allowed:
            raise CheckpointError(
                f"{p}: checkpoint holds model {model!r}, not {' or '.join(map(repr, allowed))}"
            )
    try:
        return Checkpoint(
            model=model,
            config=payload["config"],
            state_dict=payload["state_dict"],
            avgen_version=payload["avgen_version"],
            data_manifest_hash=payload.get("data_manifest_hash"),
            extra=payload.get("extra", {}),
        )
    except KeyError as exc:
        raise CheckpointError(f"{p}: incomplete avgen checkpoint (no {exc})") from None


def parse_config(
    parse: Callable[[Any], C], stored: Any, path: str | os.PathLike[str], what: str
) -> C:
    """``parse(stored)`` (a configuration's ``from_dict``), with a :class:`CheckpointError`
    ``"<path>: <what> without a valid configuration (...)"`` when the stored configuration is
    missing a field, has one of the wrong type or value, or one the configuration rejects."""
    try:
        return parse(stored)
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"{path}: {what} without a valid configuration ({exc})") from None


def load_weights(model: M, state_dict: Mapping[str, Any], path: str | os.PathLike[str]) -> M:
    """``model`` with ``state_dict`` loaded (strictly); a :class:`CheckpointError` naming
    ``path`` when the weights do not fit the model built from the stored configuration."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: weights do not fit the stored configuration ({str(exc).splitlines()[0]})"
        ) from None
    return model
