"""Reading a room kit: :func:`read_room_kit` and torch datasets of its splits.

* :class:`PairedRooms` -- ``train-paired``, ``val``, ``test-seen``, ``test-unseen``: clean and
  reverberant speech (aligned, ``N + T`` samples, see :mod:`avgen.data.rooms.records`), the
  viewpoint's picture (``(S, S, 3)`` uint8, the input of
  :func:`avgen.models.scene.embedding.picture_tensor`) and its labels;
* :class:`UnpairedReverberant` -- ``train-unpaired-reverberant``: reverberant speech, picture and
  labels; its examples have no clean field at all, and the kit holds no clean file for them;
* :class:`UnpairedClean` -- ``train-unpaired-clean``: clean speech only.

With ``clip_seconds`` every example is a crop of that length: a uniformly drawn offset (from
the dataset's own :class:`torch.Generator`, seeded by ``seed``; in a :class:`DataLoader`
worker ``k``, seeded by ``derive_seed(seed, "worker", k)`` so that workers draw different
crops) applied to clean and reverberant alike, zero-padded when the item is shorter. Without
it examples have their full, varying lengths (batch them one at a time or with a padding
collate).

Labels are tensors: ``rt60`` (s, T30), ``rt60_bands`` (s, one per octave band in ascending
frequency, :data:`avgen.metrics.OCTAVE_BANDS`), ``drr_db``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from avgen.data.rooms.records import (
    SPLITS,
    RoomItem,
    RoomKitInfo,
    RoomRecord,
    ViewpointRecord,
    read_info,
    read_jsonl,
)
from avgen.errors import ConfigError, DataError
from avgen.seeding import derive_seed, torch_generator

PAIRED_SPLITS: tuple[str, ...] = ("train-paired", "val", "test-seen", "test-unseen")


@dataclass(frozen=True)
class RoomKit:
    """A complete room kit's records (paths inside records are relative to ``root``)."""

    root: Path
    info: RoomKitInfo
    rooms: list[RoomRecord]
    viewpoints: dict[str, ViewpointRecord]
    items: dict[str, list[RoomItem]]

    def path(self, rel: str) -> Path:
        return self.root / rel


def read_room_kit(root: str | os.PathLike[str], *, check_files: bool = True) -> RoomKit:
    """Read the kit in ``root``. :class:`DataError` with what to do when the folder is missing,
    not a room kit, incomplete (no ``roomkit.json``: rerun the build), or -- with
    ``check_files`` -- a file that a record names is missing."""
    folder = Path(root)
    info = read_info(folder)
    rooms = read_jsonl(folder / "rooms.jsonl", RoomRecord)
    viewpoints = {v.id: v for v in read_jsonl(folder / "viewpoints.jsonl", ViewpointRecord)}
    items = {s: read_jsonl(folder / "items" / f"{s}.jsonl", RoomItem) for s in SPLITS}
    if check_files:
        for rows in items.values():
            for item in rows:
                for rel in (item.clean, item.reverberant, item.picture):
                    if rel is not None and not (folder / rel).is_file():
                        raise DataError(
                            f"{folder / rel}: missing (named by item {item.id}); "
                            "the room kit is damaged, rebuild it with --overwrite"
                        )
    return RoomKit(folder, info, rooms, viewpoints, items)


def _as_kit(kit: RoomKit | str | os.PathLike[str]) -> RoomKit:
    return kit if isinstance(kit, RoomKit) else read_room_kit(kit)


def load_wav(path: Path) -> torch.Tensor:
    """A kit wav as a float32 tensor ``(samples,)`` (kit files are 16 kHz mono float)."""
    import soundfile as sf

    try:
        x, _ = sf.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise DataError(f"{path}: not a readable wav ({exc}); rebuild the room kit") from None
    return torch.from_numpy(np.ascontiguousarray(x))


def item_labels(item: RoomItem) -> dict[str, torch.Tensor]:
    """The labels of a reverberant item as float32 tensors."""
    if item.rt60 is None or item.rt60_bands is None or item.drr_db is None:
        raise DataError(f"item {item.id} has no viewpoint labels")
    bands = [item.rt60_bands[k] for k in sorted(item.rt60_bands, key=float)]
    return {
        "rt60": torch.tensor(item.rt60, dtype=torch.float32),
        "rt60_bands": torch.tensor(bands, dtype=torch.float32),
        "drr_db": torch.tensor(item.drr_db, dtype=torch.float32),
    }


class PairedExample(NamedTuple):
    id: str
    clean: torch.Tensor
    reverberant: torch.Tensor
    picture: torch.Tensor  # (S, S, 3) uint8
    labels: dict[str, torch.Tensor]


class ReverberantExample(NamedTuple):
    id: str
    reverberant: torch.Tensor
    picture: torch.Tensor
    labels: dict[str, torch.Tensor]


class CleanExample(NamedTuple):
    id: str
    clean: torch.Tensor


class _RoomSplit(Dataset):
    """Items of one split, with the optional aligned random crop."""

    def __init__(
        self,
        kit: RoomKit | str | os.PathLike[str],
        split: str,
        *,
        clip_seconds: float | None = None,
        seed: int = 0,
    ) -> None:
        self.kit = _as_kit(kit)
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
        if clip_seconds is not None and clip_seconds <= 0:
            raise ConfigError(f"clip_seconds must be positive, got {clip_seconds}")
        self.split = split
        self.items = list(self.kit.items[split])
        rate = self.kit.info.sample_rate
        self.clip = None if clip_seconds is None else round(clip_seconds * rate)
        self.seed = seed
        self.generator = torch_generator(seed)
        self._worker: int | None = None

    def __len__(self) -> int:
        return len(self.items)

    def _crop(self, *signals: torch.Tensor) -> list[torch.Tensor]:
        """The same crop of every signal (all of one length)."""
        if self.clip is None:
            return list(signals)
        n = signals[0].numel()
        if n <= self.clip:
            return [torch.nn.functional.pad(s, (0, self.clip - n)) for s in signals]
        info = torch.utils.data.get_worker_info()
        if info is not None and self._worker != info.id:  # each loader worker its own stream
            self._worker = info.id
            self.generator = torch_generator(derive_seed(self.seed, "worker", info.id))
        start = int(torch.randint(0, n - self.clip + 1, (1,), generator=self.generator))
        return [s[start : start + self.clip] for s in signals]

    def _picture(self, item: RoomItem) -> torch.Tensor:
        from avgen.data.rooms.kit import load_picture

        assert item.picture is not None
        return torch.from_numpy(load_picture(self.kit.path(item.picture)).copy())


class PairedRooms(_RoomSplit):
    """Clean and reverberant speech through one viewpoint, its picture and its labels."""

    def __init__(
        self,
        kit: RoomKit | str | os.PathLike[str],
        split: str = "train-paired",
        *,
        clip_seconds: float | None = None,
        seed: int = 0,
    ) -> None:
        if split not in PAIRED_SPLITS:
            raise ConfigError(
                f"split {split!r} is not paired; choose from {', '.join(PAIRED_SPLITS)}"
            )
        super().__init__(kit, split, clip_seconds=clip_seconds, seed=seed)

    def __getitem__(self, index: int) -> PairedExample:
        item = self.items[index]
        assert item.clean is not None and item.reverberant is not None
        clean, reverberant = self._crop(
            load_wav(self.kit.path(item.clean)), load_wav(self.kit.path(item.reverberant))
        )
        return PairedExample(item.id, clean, reverberant, self._picture(item), item_labels(item))


class UnpairedReverberant(_RoomSplit):
    """Reverberant speech, its picture and labels -- never a clean reference."""

    def __init__(
        self,
        kit: RoomKit | str | os.PathLike[str],
        *,
        clip_seconds: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(kit, "train-unpaired-reverberant", clip_seconds=clip_seconds, seed=seed)

    def __getitem__(self, index: int) -> ReverberantExample:
        item = self.items[index]
        assert item.reverberant is not None
        (reverberant,) = self._crop(load_wav(self.kit.path(item.reverberant)))
        return ReverberantExample(item.id, reverberant, self._picture(item), item_labels(item))


class UnpairedClean(_RoomSplit):
    """Clean speech only (no room, no picture)."""

    def __init__(
        self,
        kit: RoomKit | str | os.PathLike[str],
        *,
        clip_seconds: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(kit, "train-unpaired-clean", clip_seconds=clip_seconds, seed=seed)

    def __getitem__(self, index: int) -> CleanExample:
        item = self.items[index]
        assert item.clean is not None
        (clean,) = self._crop(load_wav(self.kit.path(item.clean)))
        return CleanExample(item.id, clean)
