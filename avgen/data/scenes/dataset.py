"""Reading a scene kit: :func:`read_scene_kit` -> :class:`SceneKit` (records, audio, pictures)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from avgen.data.scenes.records import (
    SPLITS,
    TEST_SPLITS,
    ClipRecord,
    SceneKitInfo,
    SceneRecord,
    TripletRecord,
    VideoRecord,
    read_info,
    read_jsonl,
)
from avgen.errors import ConfigError, DataError


@dataclass(frozen=True)
class SceneKit:
    """A complete scene kit: its info and every record, by id and by split."""

    root: Path
    info: SceneKitInfo
    scenes: dict[str, SceneRecord]
    videos: dict[str, VideoRecord]
    clips: dict[str, ClipRecord]
    triplets: dict[str, list[TripletRecord]]  # test split -> records

    def split_clips(self, split: str) -> list[ClipRecord]:
        """The clips of ``split`` in file order (:class:`ConfigError` for an unknown split)."""
        check_split(split)
        return [c for c in self.clips.values() if c.split == split]

    def audio(self, rel: str) -> torch.Tensor:
        """A wav of the kit as a ``(N,)`` float32 tensor."""
        from avgen.audio import load_audio

        path = self.root / rel
        if not path.exists():
            raise DataError(f"{path}: missing; rebuild the scene kit")
        return load_audio(path)

    def picture(self, rel: str) -> torch.Tensor:
        """A picture of the kit as a ``(3, H, W)`` float tensor in ``[0, 1]``."""
        from avgen.errors import ImageError
        from avgen.images import load_picture

        try:
            pixels = load_picture(self.root / rel, size=None).pixels
        except ImageError as exc:
            raise DataError(f"{self.root / rel}: unreadable picture ({exc})") from None
        return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255.0


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; a scene kit has {', '.join(SPLITS)}")


def read_scene_kit(root: str | os.PathLike[str]) -> SceneKit:
    """Read a complete scene kit (``avgen data scenes``); :class:`DataError` if it is not one."""
    root = Path(root)
    info = read_info(root)
    scenes = {s.id: s for s in read_jsonl(root / "scenes.jsonl", SceneRecord)}
    videos = {v.id: v for v in read_jsonl(root / "videos.jsonl", VideoRecord)}
    clips = {
        c.id: c
        for split in SPLITS
        for c in read_jsonl(root / "clips" / f"{split}.jsonl", ClipRecord)
    }
    triplets = {
        split: read_jsonl(root / "triplets" / f"{split}.jsonl", TripletRecord)
        for split in TEST_SPLITS
    }
    return SceneKit(root, info, scenes, videos, clips, triplets)
