"""Real audio-visual corpora on a user's disk (NTCD-TIMIT / GRID style) -> a data kit.

Layout read by :func:`scan_corpus`::

    SRC/<speaker>/<utterance>.wav    speech (any rate, any channels: mixed down, resampled)
    SRC/<speaker>/<utterance>.npy    mouth-region frames (n, H, W) [or (n, H, W, 1|3)],
                                     uint8 or float in [0, 1]; any size
      or SRC/<speaker>/<utterance>.mp4  a mouth-region video (decoded by ffmpeg to grayscale)
    SRC/<speaker>/<utterance>.txt    optional transcript

:func:`import_corpus` converts it into a kit folder in the format of
:mod:`avgen.data.kit.records`, so training and evaluation read it like a built kit:

* speech -> 16 kHz mono wav (channels averaged, polyphase resampling; both logged);
* lips -> uint8 ``(n, lip_size, lip_size)`` at the kit's ``video_fps`` with
  ``n = round(duration * video_fps)``: frames resized (block average / antialiased bilinear),
  linearly interpolated in time when the source frame rate differs (mp4 rate from ffprobe;
  ``.npy`` frames are taken to be at ``npy_fps``), then padded by repeating the last frame or
  trimmed to ``n``; a video whose duration differs from the audio's by more than
  ``tolerance_s`` is an error;
* phones -> from ``aligner(waveform, transcript)`` when given and a transcript exists
  (``timing = "forced-alignment"``), else an empty list (``timing = "none"``);
* splits -> speaker-disjoint by default (a seeded shuffle of the speakers, dealt by
  ``fractions``), per utterance with ``split_by_speaker=False``, or given per speaker.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, load_audio, save_audio
from avgen.data.kit.records import SPLITS, KitInfo, UtteranceRecord, write_jsonl, write_kit_info
from avgen.data.lips.frames import resize_lips
from avgen.data.speech.phones import PhoneSegment, save_phones
from avgen.errors import ConfigError, DataError, MissingToolError, VideoError
from avgen.files import atomic_path, write_text_atomic
from avgen.progress import progress
from avgen.seeding import derive_seed, numpy_generator
from avgen.system import require_tool

Aligner = Callable[[np.ndarray, str], Sequence[PhoneSegment]]
"""``aligner(waveform at 16 kHz, transcript) -> phone segments`` (e.g. forced alignment)."""


@dataclass(frozen=True)
class CorpusItem:
    """One utterance found in a corpus folder."""

    speaker: str
    name: str
    wav: Path
    video: Path  # .npy or .mp4
    transcript: str | None

    @property
    def id(self) -> str:
        return re.sub(r"[^A-Za-z0-9_-]+", "-", f"{self.speaker}_{self.name}")


def scan_corpus(src: str | Path) -> list[CorpusItem]:
    """Every ``<speaker>/<utterance>.wav`` of ``src`` with its lips and transcript.

    Raises:
        DataError: ``src`` is missing, holds no wav, or a wav has neither ``.npy`` nor ``.mp4``.
    """
    root = Path(src)
    if not root.is_dir():
        raise DataError(f"{root}: no such corpus folder (expected <speaker>/<utterance>.wav)")
    items, no_video = [], []
    for wav in sorted(root.glob("*/*.wav")):
        npy, mp4, txt = wav.with_suffix(".npy"), wav.with_suffix(".mp4"), wav.with_suffix(".txt")
        video = npy if npy.exists() else mp4 if mp4.exists() else None
        if video is None:
            no_video.append(wav)
            continue
        text = txt.read_text(encoding="utf-8").strip() if txt.exists() else None
        items.append(CorpusItem(wav.parent.name, wav.stem, wav, video, text))
    if no_video:
        raise DataError(
            f"{no_video[0]}: no mouth frames next to it (.npy or .mp4); "
            f"{len(no_video)} wav file(s) lack them"
        )
    if not items:
        raise DataError(f"{root}: no <speaker>/<utterance>.wav files found")
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        raise DataError(f"{root}: two utterances map to the same id; rename them")
    return items


def _to_gray_uint8(frames: np.ndarray, name: str) -> np.ndarray:
    """``(n, H, W)`` or ``(n, H, W, 1|3)``, uint8 or float in [0, 1] -> uint8 ``(n, H, W)``."""
    if frames.ndim == 4 and frames.shape[-1] in (1, 3):
        if frames.shape[-1] == 3:
            frames = frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        else:
            frames = frames[..., 0]
    if frames.ndim != 3 or min(frames.shape) == 0:
        raise VideoError(
            f"{name}: expected mouth frames (n, H, W) or (n, H, W, 1|3), got shape {frames.shape}"
        )
    if frames.dtype == np.uint8:
        return frames
    arr = frames.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise VideoError(f"{name}: the frames hold NaN or infinite values")
    if arr.max() <= 1.0:
        arr = arr * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def read_npy_frames(path: str | Path) -> np.ndarray:
    """Mouth frames from an ``.npy`` file as uint8 ``(n, H, W)``."""
    p = Path(path)
    try:
        frames = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise VideoError(f"{p}: not a readable .npy array ({exc})") from None
    return _to_gray_uint8(frames, str(p))


def read_mp4_frames(path: str | Path) -> tuple[np.ndarray, float]:
    """Decode a video with ffmpeg into grayscale uint8 ``(n, H, W)`` and its frame rate.

    Raises:
        MissingToolError: ffmpeg is not installed.
        VideoError: ffprobe/ffmpeg cannot read the file.
    """
    require_tool("ffmpeg")
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise MissingToolError(
            "ffprobe is not installed (it comes with ffmpeg, needed for lip videos); "
            "install it with: apt-get install ffmpeg"
        )
    p = Path(path)
    probe = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height,r_frame_rate",
            "-of",
            "json",
            str(p),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        stream = json.loads(probe.stdout)["streams"][0]
        width, height = int(stream["width"]), int(stream["height"])
        num, _, den = stream["r_frame_rate"].partition("/")
        fps = float(num) / float(den or 1)
    except (json.JSONDecodeError, KeyError, IndexError, ValueError, ZeroDivisionError):
        raise VideoError(f"{p}: not a readable video ({probe.stderr.strip()[:200]})") from None
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(p), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        timeout=600,
    )
    frame_bytes = width * height
    if proc.returncode != 0 or not proc.stdout or len(proc.stdout) % frame_bytes:
        raise VideoError(
            f"{p}: ffmpeg could not decode it "
            f"({proc.stderr.decode(errors='replace').strip()[:200]})"
        )
    frames = np.frombuffer(proc.stdout, dtype=np.uint8).reshape(-1, height, width)
    return frames.copy(), fps


def conform_lips(
    frames: np.ndarray, src_fps: float, *, fps: float, n_frames: int, size: int
) -> np.ndarray:
    """Resize to ``size`` and resample frames at ``k / fps`` (k < ``n_frames``) by linear
    interpolation of the source frames at ``k * src_fps / fps``; past the end the last frame
    is repeated. Returns uint8 ``(n_frames, size, size)``."""
    small = resize_lips(frames, size)
    u = torch.arange(n_frames, dtype=torch.float64) * (src_fps / fps)
    u = u.clamp(0, small.shape[0] - 1)
    k0 = u.floor().long()
    k1 = (k0 + 1).clamp(max=small.shape[0] - 1)
    w = (u - k0).to(torch.float32).view(-1, 1, 1)
    out = small[k0] * (1 - w) + small[k1] * w
    return out.round().clamp(0, 255).to(torch.uint8).numpy()


def assign_splits(
    items: Sequence[CorpusItem],
    *,
    split_by_speaker: bool = True,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    splits: Mapping[str, str] | None = None,
    seed: int = 0,
) -> dict[str, str]:
    """Utterance id -> ``"train" | "val" | "test"``.

    ``splits`` (speaker -> split) wins when given and must cover every speaker. Otherwise the
    units (speakers, or utterances with ``split_by_speaker=False``) are sorted, shuffled with
    ``derive_seed(seed, "corpus-split")`` and dealt: ``max(1, round(f n))`` test units, the
    same for val, the rest train (at least one each, so at least 3 units are needed).
    """
    if splits is not None:
        bad = {s for s in splits.values() if s not in SPLITS}
        if bad:
            raise ConfigError(f"unknown split name(s) {sorted(bad)}; use {', '.join(SPLITS)}")
        missing = sorted({it.speaker for it in items} - set(splits))
        if missing:
            raise ConfigError(f"`splits` gives no split for speaker(s) {missing[:5]}")
        return {it.id: splits[it.speaker] for it in items}
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ConfigError(f"fractions must be three non-negative numbers, got {fractions}")
    total = float(sum(fractions))
    units = (
        sorted({it.speaker for it in items}) if split_by_speaker else sorted(it.id for it in items)
    )
    if len(units) < 3:
        what = "speakers" if split_by_speaker else "utterances"
        raise DataError(
            f"need at least 3 {what} for train/val/test, found {len(units)}"
            + ("; pass split_by_speaker=False or explicit splits" if split_by_speaker else "")
        )
    order = numpy_generator(derive_seed(seed, "corpus-split")).permutation(len(units))
    n_test = max(1, round(fractions[2] / total * len(units)))
    n_val = max(1, round(fractions[1] / total * len(units)))
    if len(units) - n_test - n_val < 1:
        n_test, n_val = 1, 1
    unit_split = {}
    for rank, idx in enumerate(order):
        unit_split[units[int(idx)]] = (
            "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
        )
    return {it.id: unit_split[it.speaker if split_by_speaker else it.id] for it in items}


def import_corpus(
    src: str | Path,
    dest: str | Path,
    *,
    split_by_speaker: bool = True,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    splits: Mapping[str, str] | None = None,
    seed: int = 0,
    video_fps: float = 25.0,
    npy_fps: float | None = None,
    lip_size: int = 64,
    language: str = "en",
    licence: str = "as given by the corpus's owner",
    aligner: Aligner | None = None,
    tolerance_s: float = 0.5,
    overwrite: bool = False,
) -> list[UtteranceRecord]:
    """Convert a corpus folder (module docstring) into a data kit at ``dest``.

    Args:
        split_by_speaker, fractions, splits, seed: see :func:`assign_splits`.
        video_fps: frame rate of the kit's lips (and of ``.npy`` frames unless ``npy_fps``).
        npy_fps: frame rate of the ``.npy`` frames (GRID: 25, NTCD-TIMIT: 30).
        lip_size: side of the kit's lip frames.
        language, licence: written into every record.
        aligner: phone alignment of (waveform, transcript); none -> no phones.
        tolerance_s: largest allowed |video duration - audio duration|.
        overwrite: replace an existing kit at ``dest``.

    Returns:
        the utterance records written to ``dest/utterances.jsonl``.

    Raises:
        DataError: a bad corpus folder or an existing kit at ``dest``; AudioError,
        VideoError, MissingToolError for unusable files.
    """
    from avgen import __version__

    source_root, kit = Path(src), Path(dest)
    if (kit / "kit.json").exists() and not overwrite:
        raise DataError(
            f"{kit}: already holds a data kit; choose another folder or pass overwrite=True"
        )
    items = scan_corpus(source_root)
    split_of = assign_splits(
        items, split_by_speaker=split_by_speaker, fractions=fractions, splits=splits, seed=seed
    )
    corpus = source_root.resolve().name
    records = []
    for item in progress(items, desc=f"import {corpus}"):
        wav = load_audio(item.wav, mixdown=True, resample_to_target=True)
        duration = wav.numel() / SAMPLE_RATE
        if item.video.suffix == ".mp4":
            frames, src_fps = read_mp4_frames(item.video)
        else:
            frames, src_fps = read_npy_frames(item.video), float(npy_fps or video_fps)
        video_s = frames.shape[0] / src_fps
        if abs(video_s - duration) > tolerance_s:
            raise DataError(
                f"{item.video}: the video lasts {video_s:.2f} s but {item.wav.name} "
                f"lasts {duration:.2f} s (tolerance {tolerance_s} s)"
            )
        lips = conform_lips(
            frames, src_fps, fps=video_fps, n_frames=round(duration * video_fps), size=lip_size
        )
        phones: list[PhoneSegment] = []
        if aligner is not None and item.transcript:
            phones = list(aligner(wav.numpy(), item.transcript))
        uid = item.id
        save_audio(kit / "speech" / f"{uid}.wav", wav)
        save_phones(kit / "phones" / f"{uid}.json", phones)
        with atomic_path(kit / "lips" / f"{uid}.npy") as tmp:
            np.save(tmp, lips)
        records.append(
            UtteranceRecord(
                id=uid,
                speaker=item.speaker,
                text=item.transcript or "",
                language=language,
                source=f"corpus:{corpus}",
                licence=licence,
                duration=round(duration, 6),
                split=split_of[uid],
                real=True,
                timing="forced-alignment" if phones else "none",
                wav=f"speech/{uid}.wav",
                phones=f"phones/{uid}.json",
                lips=f"lips/{uid}.npy",
            )
        )
    write_jsonl(kit / "utterances.jsonl", records)
    for notice in sorted(source_root.glob("LICEN[CS]E*")) + sorted(source_root.glob("COPYING*")):
        (kit / "LICENSES").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notice, kit / "LICENSES" / f"corpus-{corpus}-{notice.name}")
    write_text_atomic(
        kit / "LICENSES" / f"corpus-{corpus}.md",
        f"# Corpus {corpus}\n\nImported from {source_root.resolve()} by "
        f"avgen.data.kit.corpus.import_corpus.\nLicence: {licence}\n",
    )
    write_kit_info(
        kit,
        KitInfo(
            size="corpus",
            seed=seed,
            avgen_version=__version__,
            video_fps=float(video_fps),
            lip_size=lip_size,
            extra={
                "corpus": corpus,
                "source": str(source_root.resolve()),
                "split_by_speaker": split_by_speaker,
            },
        ),
    )
    return records
