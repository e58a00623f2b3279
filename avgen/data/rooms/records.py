"""The room kit's on-disk format: rooms, viewpoints and items (``avgen data rooms``).

A room kit folder ``DIR`` (written by :func:`avgen.data.rooms.kit.build_room_kit`) holds::

    DIR/roomkit.json                   RoomKitInfo: options, speech kit, counts (written last)
    DIR/rooms.jsonl                    one RoomRecord per line (seen or unseen)
    DIR/viewpoints.jsonl               one ViewpointRecord per line (spec, camera, labels)
    DIR/pictures/<viewpoint>.png       (128, 128, 3) RGB picture of the viewpoint
    DIR/rirs/<viewpoint>.npy           float32 impulse response, direct path at sample 0
    DIR/clean/<utterance>.wav          clean speech, zero-padded by the tail (see below)
    DIR/reverberant/<split>/<item>.wav clean speech through a viewpoint's response
    DIR/items/<split>.jsonl            one RoomItem per line, for each split of SPLITS
    DIR/records/                       the build's options.json (first) and per-viewpoint and
                                       per-item commit files
    DIR/LICENSES/                      the speech kit's licence notices

**Length convention.** For an utterance of ``N`` samples and a tail of ``T`` samples
(``RoomKitInfo.tail_seconds``), every clean and reverberant file of the kit has ``N + T``
samples: ``reverberant[n] = sum_k rir[k] clean[n - k]`` for ``n = 0 .. N + T - 1`` (the full
convolution, ``N + len(rir) - 1`` long, cut after ``N + T``), and ``clean`` is the utterance
followed by ``T`` zeros. The two are aligned sample for sample (the direct path has unit gain
at sample 0, :mod:`avgen.data.rooms.acoustics`), so the dereverberation target of a
reverberant file is the clean file, and a reverberator maps the ``N + T`` clean file to the
``N + T`` reverberant one (the tail of the room decays into the zeros).
``RoomItem.speech_samples`` is ``N``.

**Unpaired items lack their partner on disk.** A ``train-unpaired-reverberant`` item has
``clean = None`` and its utterance has no file in ``clean/`` (no paired item uses it either);
a ``train-unpaired-clean`` item has no picture, response or reverberant file.

Paths inside records are relative to ``DIR``. Reading and writing go through this module only,
so the format has one definition.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from avgen.data import records as shared
from avgen.errors import DataError

SPLITS: tuple[str, ...] = (
    "train-paired",
    "train-unpaired-reverberant",
    "train-unpaired-clean",
    "val",
    "test-seen",
    "test-unseen",
)
"""The splits of a room kit, in order."""

TRAIN_SPLITS: tuple[str, ...] = SPLITS[:3]
"""The training splits (the unpaired fraction is measured over them)."""

INFO_FILE = "roomkit.json"
BUILD_OPTIONS_FILE = "records/options.json"
"""Written first by a build: the options and speech kit hash a partial kit must be resumed with."""
ROOM_KIT = shared.KitFormat("room kit", "avgen data rooms", INFO_FILE, BUILD_OPTIONS_FILE)
"""How the room kit names itself in errors."""


@dataclass(frozen=True)
class RoomRecord:
    """One room: its specification (viewpoint 0's placement) and whether training sees it."""

    id: str
    seen: bool  # False: the room appears in test-unseen only
    spec: dict[str, Any]  # RoomSpec.to_dict()
    viewpoints: list[str]


@dataclass(frozen=True)
class ViewpointRecord:
    """One placement in a room: what was simulated and rendered, and the measured labels."""

    id: str
    room: str
    index: int
    seen: bool
    spec: dict[str, Any]  # RoomSpec.to_dict()
    camera: dict[str, Any]  # picture.Camera.to_dict()
    lighting: dict[str, Any]  # picture.Lighting.to_dict()
    picture: str
    rir: str
    rir_samples: int
    rt60: float  # Schroeder T30, seconds
    rt60_bands: dict[str, float]  # octave centre (Hz, as text) -> T30 seconds
    drr_db: float


@dataclass(frozen=True)
class RoomItem:
    """One example of a split. Missing partners are ``None`` (see the module's rules)."""

    id: str
    split: str
    utterance: str
    speaker: str
    speech_samples: int  # N, the utterance's length
    samples: int  # N + T, the length of every audio file of the item
    clean: str | None
    reverberant: str | None
    picture: str | None
    viewpoint: str | None
    room: str | None
    rt60: float | None
    rt60_bands: dict[str, float] | None
    drr_db: float | None


@dataclass(frozen=True)
class RoomKitInfo:
    """What a room kit is: how it was built, from which speech kit, and its counts."""

    options: dict[str, Any]
    speech_kit: str  # the speech kit's folder, as given
    speech_manifest: str  # SHA-256 of its utterances.jsonl
    avgen_version: str
    sample_rate: int
    tail_seconds: float
    picture_size: int
    counts: dict[str, int] = field(default_factory=dict)  # items per split
    extra: dict[str, Any] = field(default_factory=dict)  # summary: RT60 range, build time, ...


def write_jsonl(path: str | os.PathLike[str], records: list[Any]) -> None:
    """Write dataclass records, one JSON object per line (atomic)."""
    shared.write_jsonl(path, records)


def record_from_dict(cls: type, data: Any, where: str) -> Any:
    """``cls(**data)`` with a :class:`DataError` naming ``where`` if the fields are wrong."""
    return shared.record_from_dict(cls, data, where, ROOM_KIT)


def read_jsonl(path: str | os.PathLike[str], cls: type) -> list[Any]:
    """Read records of dataclass ``cls``; a clear :class:`DataError` if the file is wrong."""
    return shared.read_jsonl(path, cls, ROOM_KIT)


def write_info(root: str | os.PathLike[str], info: RoomKitInfo) -> None:
    shared.write_info(root, info, ROOM_KIT)


def read_info(root: str | os.PathLike[str]) -> RoomKitInfo:
    """The kit's :class:`RoomKitInfo`; :class:`DataError` when ``root`` is not a complete kit."""
    p = shared.info_path(root, ROOM_KIT)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}: not JSON ({exc}); rebuild the room kit") from None
    return record_from_dict(RoomKitInfo, data, str(p))
