"""The scene-video kit's on-disk format (``avgen data scenes``).

A scene kit folder ``DIR`` (written by :func:`avgen.data.scenes.kit.build_scene_kit`) holds::

    DIR/scenekit.json                          SceneKitInfo: options, counts (written last)
    DIR/scenes.jsonl                           one SceneRecord per line
    DIR/scenes/<scene>/picture.png             (size, size, 3) RGB picture of the scene
    DIR/scenes/<scene>/rir.npy                 float32 response, direct path at sample 0
    DIR/videos.jsonl                           one VideoRecord per line
    DIR/videos/<video>/<clip>/dry.wav          the clip's dry speech
    DIR/videos/<video>/<clip>/speech_scene.wav dry speech through the scene's response
    DIR/videos/<video>/<clip>/ambience.wav     the clip's segment of the video's ambience
    DIR/videos/<video>/<clip>/clip.wav         speech_scene + ambience: the "original clip"
    DIR/videos/<video>/<clip>/enhanced.wav     clip.wav enhanced (only with --enhanced)
    DIR/clips/<split>.jsonl                    one ClipRecord per line, per split of SPLITS
    DIR/triplets/<split>.jsonl                 TripletRecords of test-seen and test-unseen
    DIR/triplets/<split>/<id>/target.wav       their synthesized ground truth
    DIR/records/                               options.json (first) and commit files

**Audio.** 16 kHz mono 32-bit float wav, every file of a clip ``N = round(clip_seconds *
16000)`` samples. ``dry`` is the speech kit's audio as it is (utterances at a -26 dBFS P.56
active level, peaks below 0.99), placed after a short lead and cut at ``N``;
``speech_scene[n] = sum_k rir[k] dry[n - k]`` for ``n < N`` (the response's direct path has
unit gain at sample 0, so the direct sound of ``speech_scene`` is ``dry`` itself);
``clip = speech_scene + ambience`` exactly (float32 rounding aside); no limiter, so peaks may
exceed 1 (float wav keeps them). ``ambience`` of clip ``i`` is samples ``iN .. (i+1)N`` of the
video's track times the video's ``ambience_scale``.

**Triplets.** ``target = sum_k rir_B[k] dry_A[n - k] + ambience_B`` (the dry speech of clip
``input_clip`` of video A, through the scene of video B, plus the ambience of clip
``target_ambience_clip`` of B at B's level); the condition is clip ``condition_clip`` of B,
another clip than the ambience's.

Paths inside records are relative to ``DIR``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avgen.data import records as shared
from avgen.errors import DataError

SPLITS: tuple[str, ...] = ("train", "val", "test-seen", "test-unseen")
"""The splits of a scene kit, in order."""

TEST_SPLITS: tuple[str, ...] = ("test-seen", "test-unseen")

INFO_FILE = "scenekit.json"
BUILD_OPTIONS_FILE = "records/options.json"
SCENE_KIT = shared.KitFormat("scene kit", "avgen data scenes", INFO_FILE, BUILD_OPTIONS_FILE)
"""How the scene kit names itself in errors."""


@dataclass(frozen=True)
class SceneRecord:
    """One scene: its kind, picture, acoustics and ambience recording."""

    id: str
    kind: str
    seen: bool  # False: test-unseen only
    picture: str
    rir: str
    rir_samples: int
    acoustics: str  # "room" | "carriage" | "open-air"
    geometry: dict[str, Any]  # RoomSpec.to_dict() or the open-air parameters
    rt60: float | None  # Schroeder T30 of the response (None for open air: no decay)
    drr_db: float | None
    ambience_type: str
    ambience_seen: bool
    noise_id: str  # the noise bank clip of the speech kit
    noise_wav: str  # its path inside the speech kit


@dataclass(frozen=True)
class VideoRecord:
    """One video: a scene kept over time, its ambience track and level, and its clips."""

    id: str
    split: str
    scene: str
    kind: str
    ambience_type: str
    noise_offset: int  # first sample of the noise clip used by the track
    snr_db: float  # active level of the video's speech_scene over the ambience RMS
    ambience_scale: float  # factor applied to the noise clip's samples
    clips: list[str]


@dataclass(frozen=True)
class ClipRecord:
    """One clip of a video."""

    id: str
    video: str
    index: int
    split: str
    scene: str
    kind: str
    ambience_type: str
    seen: bool  # the scene is seen (train/val/test-seen) or not
    samples: int
    utterances: list[str]
    texts: list[str]
    speakers: list[str]
    truncated: bool  # the last utterance was cut at the clip's end
    dry: str
    speech_scene: str
    ambience: str
    clip: str
    picture: str


@dataclass(frozen=True)
class TripletRecord:
    """A test item with synthesized ground truth (see the module docstring)."""

    id: str
    split: str
    seen: bool
    input_video: str
    input_clip: str
    input: str  # dry.wav of the input clip
    condition_video: str
    condition_clip: str
    condition: str  # clip.wav of the condition clip
    picture: str
    target_ambience_clip: str
    target: str
    scene: str
    kind: str
    ambience_type: str


@dataclass(frozen=True)
class SceneKitInfo:
    """What a scene kit is: how it was built, from which speech kit, and its counts."""

    options: dict[str, Any]
    speech_kit: str
    speech_manifest: str
    avgen_version: str
    sample_rate: int
    clip_samples: int
    picture_size: int
    enhanced: bool = False
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def write_jsonl(path: str | os.PathLike[str], records: list[Any]) -> None:
    """Write dataclass records, one JSON object per line (atomic)."""
    shared.write_jsonl(path, records)


def record_from_dict(cls: type, data: Any, where: str) -> Any:
    """``cls(**data)`` with a :class:`DataError` naming ``where`` if the fields are wrong."""
    return shared.record_from_dict(cls, data, where, SCENE_KIT)


def read_json(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}: unreadable ({exc}); rebuild the scene kit") from None


def read_jsonl(path: str | os.PathLike[str], cls: type) -> list[Any]:
    """Read records of dataclass ``cls``; a clear :class:`DataError` if the file is wrong."""
    return shared.read_jsonl(path, cls, SCENE_KIT)


def write_info(root: str | os.PathLike[str], info: SceneKitInfo) -> None:
    shared.write_info(root, info, SCENE_KIT)


def read_info(root: str | os.PathLike[str]) -> SceneKitInfo:
    """The kit's :class:`SceneKitInfo`; :class:`DataError` when ``root`` is not a complete kit."""
    p = shared.info_path(root, SCENE_KIT)
    return record_from_dict(SceneKitInfo, read_json(p), str(p))
