"""The data kit's on-disk format: records of utterances, noises and mixtures.

A kit folder ``DIR`` (written by ``avgen data build``) holds::

    DIR/kit.json                  KitInfo: size, seed, avgen version, video frame rate
    DIR/utterances.jsonl          one UtteranceRecord per line
    DIR/speech/<id>.wav           16 kHz mono clean speech
    DIR/phones/<id>.json          [[phone, start, end], ...] (avgen.data.speech.phones)
    DIR/lips/<id>.npy             uint8 (n_video_frames, 64, 64) mouth region at KitInfo.video_fps
    DIR/noise/noises.jsonl        one NoiseRecord per line
    DIR/noise/<id>.wav            16 kHz mono noise
    DIR/mixtures/<split>.jsonl    one MixtureRecord per line (noisy test/val material)
    DIR/mixtures/<split>/<id>.wav 16 kHz mono noisy speech
    DIR/LICENSES/                 the licence notices of every source used

Paths inside records are relative to ``DIR``. Reading and writing go through this module only,
so the format has one definition.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from avgen.errors import DataError
from avgen.files import write_text_atomic

SPLITS = ("train", "val", "test")
NOISE_SPLITS = ("seen", "unseen")


@dataclass(frozen=True)
class UtteranceRecord:
    """One clean utterance with its timing and lips."""

    id: str
    speaker: str
    text: str
    language: str
    source: str  # e.g. "asterisk-core-sounds-en", "cmu-arctic", "flite", "festival"
    licence: str
    duration: float  # seconds
    split: str  # "train" | "val" | "test" (speaker-disjoint)
    real: bool  # recorded human speech (True) or synthesized (False)
    timing: str  # "synthesizer" | "forced-alignment" | "dtw" | "labels"
    wav: str
    phones: str
    lips: str


@dataclass(frozen=True)
class NoiseRecord:
    """One noise recording or procedural noise clip."""

    id: str
    type: str  # e.g. "wind", "babble", "pink"
    category: str  # "real" | "procedural"
    speech_like: bool  # babble and TV-like noises
    source: str
    licence: str
    duration: float
    split: str  # "seen" | "unseen" (noise types never seen in training)
    wav: str


@dataclass(frozen=True)
class MixtureRecord:
    """Noisy speech made from one utterance and one noise at a given SNR."""

    id: str
    split: str  # split of the utterance ("val" | "test")
    utterance_id: str
    noise_id: str
    noise_type: str
    noise_split: str
    snr_db: float  # active-speech-level SNR
    noise_offset: int  # first noise sample used
    wav: str  # noisy
    clean: str
    lips: str
    gain: float = 1.0  # peak safeguard: noisy = gain (clean + noise); reference = gain clean


@dataclass(frozen=True)
class KitInfo:
    """What a kit is: how it was built."""

    size: str
    seed: int
    avgen_version: str
    sample_rate: int = 16_000
    video_fps: float = 25.0
    lip_size: int = 64
    extra: dict[str, Any] = field(default_factory=dict)


R = TypeVar("R")


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> None:
    """Write dataclass records, one JSON object per line (atomic)."""
    lines = [json.dumps(dataclasses.asdict(r), ensure_ascii=False) for r in records]
    write_text_atomic(path, "".join(line + "\n" for line in lines))


def read_jsonl(path: str | os.PathLike[str], cls: type[R]) -> list[R]:
    """Read records of dataclass ``cls``; a clear :class:`DataError` if the file is wrong."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: missing (is this a data kit built by `avgen data build`?)")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    out = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            out.append(cls(**{k: v for k, v in obj.items() if k in names}))
        except (json.JSONDecodeError, TypeError) as exc:
            raise DataError(f"{p}:{i}: not a valid {cls.__name__} ({exc})") from None
    return out


def write_kit_info(root: str | os.PathLike[str], info: KitInfo) -> None:
    write_text_atomic(Path(root) / "kit.json", json.dumps(dataclasses.asdict(info), indent=2))


def read_kit_info(root: str | os.PathLike[str]) -> KitInfo:
    p = Path(root) / "kit.json"
    if not p.exists():
        raise DataError(
            f"{root}: not a data kit (no kit.json); build one with `avgen data build --out DIR`"
        )
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}: not a JSON kit description ({exc}); rebuild the kit") from None
    if not isinstance(data, dict):
        raise DataError(f"{p}: expected a JSON object, got {type(data).__name__}; rebuild the kit")
    try:
        info = KitInfo(**data)
    except TypeError as exc:  # missing or unknown keys
        raise DataError(f"{p}: not a kit description ({exc}); rebuild the kit") from None
    _check_kit_info(p, info)
    return info


def _check_kit_info(path: Path, info: KitInfo) -> None:
    """:class:`DataError` unless the fields of ``info`` have their types and ranges."""
    import math

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    problems = []
    if not isinstance(info.size, str):
        problems.append(f"size {info.size!r} is not a name")
    if not isinstance(info.seed, int) or isinstance(info.seed, bool):
        problems.append(f"seed {info.seed!r} is not an integer")
    if not (
        isinstance(info.sample_rate, int) and number(info.sample_rate) and info.sample_rate > 0
    ):
        problems.append(f"sample_rate {info.sample_rate!r} is not a positive integer")
    if not (number(info.video_fps) and math.isfinite(info.video_fps) and info.video_fps > 0):
        problems.append(f"video_fps {info.video_fps!r} is not a positive number")
    if not (isinstance(info.lip_size, int) and number(info.lip_size) and info.lip_size > 0):
        problems.append(f"lip_size {info.lip_size!r} is not a positive integer")
    if not isinstance(info.extra, dict):
        problems.append(f"extra {info.extra!r} is not an object")
    if problems:
        raise DataError(f"{path}: {'; '.join(problems)}; rebuild the kit")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file (the manifest hash stored in checkpoints)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_hash(root: str | os.PathLike[str]) -> str:
    """Hash of a kit's utterance manifest: identifies the training data of a checkpoint."""
    return file_sha256(Path(root) / "utterances.jsonl")
