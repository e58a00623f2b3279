"""Checkpoints of a model carrying a format tag, the STFT convention and a model card.

The layout shared by MVSD (:mod:`avgen.models.mvsd.checkpoints`) and the stylizer
(:mod:`avgen.models.stylizer.checkpoints`): an avgen checkpoint (:mod:`avgen.checkpoint`) whose
``config`` is ``{"format": tag, "model": model.config.to_dict(), "stft": stft_dict(),
"card": card metadata}``, whose ``state_dict`` is the model's and whose ``extra`` is the
training state to resume from, when given. Reading checks the model name, the format tag, the
STFT convention (:func:`~avgen.models.diffusion.checkpoints.check_stft`), the configuration and
that the weights fit it; each failure is a :class:`~avgen.errors.CheckpointError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from avgen.checkpoint import (
    Checkpoint,
    load_checkpoint,
    load_weights,
    parse_config,
    save_checkpoint,
)
from avgen.errors import CheckpointError
from avgen.models.diffusion.checkpoints import check_stft, stft_dict

C = TypeVar("C")
M = TypeVar("M", bound=nn.Module)


class _Configured(Protocol):
    config: Any

    def state_dict(self) -> dict[str, Any]: ...


def save_tagged(
    model: _Configured,
    path: str | os.PathLike[str],
    *,
    name: str,
    tag: str,
    card_metadata: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    data_manifest_hash: str | None = None,
) -> Path:
    """Write ``model`` (``model.config.to_dict()`` and its weights) as checkpoint ``name`` with
    format tag ``tag`` and the model card's metadata (plain Python values), atomically."""
    config = {
        "format": tag,
        "model": model.config.to_dict(),
        "stft": stft_dict(),
        "card": dict(card_metadata or {}),
    }
    return save_checkpoint(
        path,
        model=name,
        config=config,
        state_dict=model.state_dict(),
        data_manifest_hash=data_manifest_hash,
        extra=dict(extra or {}),
    )


def read_tagged(
    path: str | os.PathLike[str],
    *,
    name: str,
    tag: str,
    parse: Callable[[Any], C],
    kind: str,
    article: str = "a",
) -> tuple[Checkpoint, C]:
    """The checkpoint and ``parse(config["model"])``, checked: model ``name``, format ``tag``,
    STFT convention. ``kind`` names the model in errors (``"MVSD"``, ``"stylizer"``), after
    ``article`` where the sentence needs one."""
    p = Path(path)
    ckpt = load_checkpoint(p, expected_model=name, map_location="cpu")
    if ckpt.config.get("format") != tag:
        raise CheckpointError(
            f"{p}: not {article} {kind} checkpoint of format {tag!r} "
            f"(found {ckpt.config.get('format')!r})"
        )
    check_stft(ckpt.config, p)
    config = parse_config(lambda c: parse(c["model"]), ckpt.config, p, f"{kind} checkpoint")
    return ckpt, config


def load_tagged(
    path: str | os.PathLike[str],
    read: Callable[[str | os.PathLike[str]], tuple[Checkpoint, C]],
    build: Callable[[C], M],
    device: str | torch.device = "cpu",
) -> M:
    """``build(config)`` with the weights of ``read(path)``, in eval mode with frozen weights
    on ``device``; the model card's metadata is in ``model.card`` (a dict)."""
    ckpt, config = read(path)
    model = load_weights(build(config), ckpt.state_dict, path)
    model.card = dict(ckpt.config.get("card", {}))  # type: ignore[attr-defined]
    return model.to(device).eval().requires_grad_(False)
