"""Training items of the stylizer and their random crops.

An item is any object with attributes (or a mapping with keys) ``content`` (``(N,)``: the clip's
speech after enhancement plus a little noise), ``target`` (``(N',)``: the original clip, speech
in the scene with its ambience), ``example`` (``(M,)``: another clip of the same video, the
audio condition) and ``picture`` (``(3, 128, 128)`` in ``[0, 1]``), 16 kHz float waveforms.

Crops (:func:`draw_batch`): content and target are zero-padded to the longer of the two and cut
at the same start (they are aligned sample for sample); the example is cut independently at its
own random start. Shorter waveforms are zero-padded. Every draw comes from one
:class:`torch.Generator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from avgen.errors import DataError

FIELDS = ("content", "target", "example", "picture")
"""What a training item carries."""
CHECK_FIRST = 16
"""Items checked before training starts (cheap for lazily loaded sets)."""


def item_field(item: Any, name: str) -> torch.Tensor:
    """``item.name`` or ``item[name]`` as a float32 tensor."""
    if isinstance(item, dict):
        if name not in item:
            raise DataError(f"training item has no {name!r}")
        value = item[name]
    else:
        if not hasattr(item, name):
            raise DataError(f"training item has no attribute {name!r}")
        value = getattr(item, name)
    return torch.as_tensor(value, dtype=torch.float32)


def check_items(items: Sequence[Any], name: str, limit: int = CHECK_FIRST) -> None:
    """:class:`DataError` unless the first ``limit`` items carry 1-D audio and a picture."""
    for i in range(min(len(items), limit)):
        for key in FIELDS:
            v = item_field(items[i], key)
            if key == "picture":
                if v.ndim != 3 or v.shape[0] != 3:
                    raise DataError(f"{name}[{i}].picture must be (3, S, S), got {tuple(v.shape)}")
            elif v.ndim != 1 or v.numel() == 0:
                raise DataError(f"{name}[{i}].{key} must be a 1-D waveform, got {tuple(v.shape)}")


def _pad(x: torch.Tensor, n: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, max(n - x.shape[-1], 0)))


def _start(n: int, length: int, generator: torch.Generator) -> int:
    return int(torch.randint(max(n - length, 0) + 1, (1,), generator=generator))


@dataclass
class Batch:
    """One step's crops: ``content``, ``target`` ``(B, L)``, ``example`` ``(B, M)``,
    ``picture`` ``(B, 3, S, S)``."""

    content: torch.Tensor
    target: torch.Tensor
    example: torch.Tensor
    picture: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        return Batch(
            *(t.to(device) for t in (self.content, self.target, self.example, self.picture))
        )


def crop_item(
    item: Any, length: int, example_length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(content, target, example)`` crops of one item (see the module)."""
    content, target, example = (item_field(item, k) for k in ("content", "target", "example"))
    n = max(content.shape[-1], target.shape[-1])
    content, target = _pad(content, n), _pad(target, n)
    s = _start(n, length, generator)
    e = _start(example.shape[-1], example_length, generator)
    return (
        _pad(content[s : s + length], length),
        _pad(target[s : s + length], length),
        _pad(example[e : e + example_length], example_length),
    )


def draw_batch(
    items: Sequence[Any],
    batch_size: int,
    length: int,
    example_length: int,
    generator: torch.Generator,
) -> Batch:
    """``batch_size`` items drawn uniformly with replacement, cropped."""
    idx = torch.randint(len(items), (batch_size,), generator=generator).tolist()
    crops = [crop_item(items[i], length, example_length, generator) for i in idx]
    return Batch(
        content=torch.stack([c for c, _, _ in crops]),
        target=torch.stack([t for _, t, _ in crops]),
        example=torch.stack([e for _, _, e in crops]),
        picture=torch.stack([item_field(items[i], "picture") for i in idx]),
    )
