"""The bundled audio-visual clips (``avgen/assets/samples``): noisy and clean speech, the
speaker's lips and a ``clip.json`` saying where they come from. The demo and the examples read
them here."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from avgen.errors import DataError


def bundled_clip_dir(name: str = "demo") -> Path:
    """The folder of a bundled clip (``demo``, ``city-0``, ``traffic-m5``, ``tv-5``)."""
    return Path(str(resources.files("avgen") / "assets" / "samples" / name))


def clip_summary(provenance: dict) -> dict:
    """``id``, ``noise_type``, ``noise_split``, ``snr_db`` of a ``clip.json`` (the records of
    ``scripts/make_sample_set.py``: ``mixture`` is the kit's MixtureRecord)."""
    mixture = provenance.get("mixture")
    if not isinstance(mixture, dict):
        mixture = {"id": mixture or "clip", **provenance}
    return {
        "id": mixture.get("id", "clip"),
        "noise_type": mixture.get("noise_type", "?"),
        "noise_split": mixture.get("noise_split", "?"),
        "snr_db": mixture.get("snr_db"),
    }


def _read_provenance(path: Path) -> tuple[dict, float]:
    """``clip.json`` as a dict and its ``video_fps`` (default 25), with a :class:`DataError`
    naming the file when it is not such a JSON object."""
    import math

    try:
        provenance = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a JSON clip description ({exc})") from None
    if not isinstance(provenance, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(provenance).__name__}")
    fps = provenance.get("video_fps", 25.0)
    if (
        isinstance(fps, bool)
        or not isinstance(fps, (int, float))
        or not (math.isfinite(fps) and fps > 0)
    ):
        raise DataError(f"{path}: video_fps must be a positive number, got {fps!r}")
    return provenance, float(fps)


def read_clip(folder: Path):
    """``(noisy, clean, lips, fps, provenance)`` of a demo clip folder."""
    from avgen.audio import load_audio
    from avgen.video_align import read_video

    names = ("noisy.wav", "clean.wav", "lips.npy", "clip.json")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DataError(
            f"{folder}: the demo clip lacks {', '.join(missing)}; write it with "
            "scripts/make_demo_clip.py --kit KIT"
        )
    provenance, fps = _read_provenance(folder / "clip.json")
    lips, fps = read_video(folder / "lips.npy", fps)
    noisy, clean = load_audio(folder / "noisy.wav"), load_audio(folder / "clean.wav")
    if noisy.numel() != clean.numel():
        raise DataError(
            f"{folder}: noisy.wav has {noisy.numel()} samples but clean.wav "
            f"{clean.numel()}; the two must be the same recording (rewrite the clip)"
        )
    return noisy, clean, lips, fps, provenance
