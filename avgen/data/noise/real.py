"""Real noise recordings from installed packages, with their per-file licences.

Source: Debian ``ufoai-sound`` (the game UFO: Alien Invasion). Its one zip archive
``/usr/share/games/ufoai/base/0snd.pk3`` holds ``sound/ambience/*.ogg`` (60 clips, 21 min,
8-48 kHz, stereo). Licences are per file in ``/usr/share/doc/ufoai-sound/copyright``, a
machine-readable Debian copyright file (DEP-5): each ``Files:`` stanza lists globs (relative to
the source tree, so ``base/sound/ambience/x.ogg``), ``Copyright:`` holders and a ``License:``;
the LAST stanza whose globs match a path applies (DEP-5 rule). Here that gives GPL-2+,
GPL-2, CC-BY-3.0 or CC-BY-SA-3.0 per clip.

At load every clip is mixed down to mono (mean of the channels), resampled to 16 kHz
(polyphase, :func:`avgen.audio.resample`), and stretches of digital silence longer than
``max_gap_s`` are shortened to ``keep_gap_s`` (``radiomessage.ogg`` is 95 % silence); the
record's ``source`` says all of this.

Optional source: PyPI ``ambience`` (``sounds/town/train.ogg``, ``sounds/nature/
amazon-rainforest.ogg``), whose audio licence is not stated: used only when installed and
asked for, marked "licence not stated: not redistributed", never a dependency.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from avgen.audio import SAMPLE_RATE, resample
from avgen.errors import DataError, MissingToolError

UFOAI_PK3 = Path("/usr/share/games/ufoai/base/0snd.pk3")
UFOAI_COPYRIGHT = Path("/usr/share/doc/ufoai-sound/copyright")
UFOAI_AMBIENCE_DIR = "sound/ambience/"
UFOAI_SOURCE_PREFIX = "base/"  # paths in the copyright file are relative to base/..

NOT_STATED = "licence not stated: not redistributed"


@dataclass(frozen=True)
class LicenceStanza:
    """One ``Files:`` stanza of a DEP-5 copyright file."""

    files: tuple[str, ...]
    copyright: tuple[str, ...]
    licence: str

    def matches(self, path: str) -> bool:
        """Whether a glob of the stanza matches ``path`` (``*`` also matches ``/``, as DEP-5)."""
        return any(fnmatch.fnmatchcase(path, glob) for glob in self.files)


def _paragraphs(text: str) -> list[dict[str, list[str]]]:
    """Split a deb822 text into paragraphs of ``field -> [first line, continuation lines...]``."""
    paragraphs: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    field: str | None = None
    for raw in text.splitlines():
        if not raw.strip():
            if current:
                paragraphs.append(current)
            current, field = {}, None
            continue
        if raw[0] in " \t":
            if field is not None:
                current[field].append(raw.strip())
            continue
        name, _, value = raw.partition(":")
        field = name.strip()
        current[field] = [value.strip()]
    if current:
        paragraphs.append(current)
    return paragraphs


def parse_dep5(text: str) -> list[LicenceStanza]:
    """The ``Files:`` stanzas of a DEP-5 copyright file, in file order."""
    stanzas = []
    for para in _paragraphs(text):
        if "Files" not in para or "License" not in para:
            continue
        files = tuple(g for line in para["Files"] for g in line.split() if g)
        holders = tuple(h for h in para.get("Copyright", []) if h)
        stanzas.append(LicenceStanza(files, holders, para["License"][0]))
    return stanzas


def licence_for(path: str, stanzas: Sequence[LicenceStanza]) -> LicenceStanza:
    """The stanza that governs ``path``: the last one that matches (DEP-5)."""
    found = None
    for stanza in stanzas:
        if stanza.matches(path):
            found = stanza
    if found is None:
        raise DataError(f"{path}: no licence stanza matches it in the copyright file")
    return found


@dataclass(frozen=True)
class Recording:
    """A real recording, already mono at 16 kHz, with where it came from."""

    name: str  # file stem, e.g. "arcticwind"
    waveform: np.ndarray  # float32, 16 kHz, mono
    origin: str  # e.g. "ufoai-sound:sound/ambience/arcticwind.ogg"
    processing: str  # e.g. "2 ch -> mono (mean); 44100 -> 16000 Hz"
    licence: str  # SPDX-like short name
    copyright: tuple[str, ...]

    @property
    def source(self) -> str:
        """The text for ``NoiseRecord.source``."""
        return f"{self.origin} ({self.processing})"


def compact_silence(
    x: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    max_gap_s: float = 0.5,
    keep_gap_s: float = 0.25,
    floor_db: float = -70.0,
    frame_s: float = 0.01,
) -> tuple[np.ndarray, float]:
    """Shorten runs of near-silent frames longer than ``max_gap_s`` to ``keep_gap_s``.

    A 10 ms frame is silent when its level is ``floor_db`` or more below the loudest frame.
    Returns the compacted signal and the number of seconds removed. The cuts fall inside
    silence, so they are inaudible.
    """
    hop = max(1, round(frame_s * sample_rate))
    n_frames = x.size // hop
    if n_frames == 0:
        return x, 0.0
    frames = x[: n_frames * hop].astype(np.float64).reshape(n_frames, hop)
    energy = np.mean(frames * frames, axis=1)
    top = float(energy.max())
    if top == 0.0:
        return x, 0.0
    silent = energy <= top * 10 ** (floor_db / 10)
    keep = np.ones(x.size, dtype=bool)
    max_gap, keep_gap = int(max_gap_s / frame_s), int(keep_gap_s / frame_s)
    i = 0
    while i < n_frames:
        if not silent[i]:
            i += 1
            continue
        j = i
        while j < n_frames and silent[j]:
            j += 1
        if j - i > max_gap:
            half = keep_gap // 2
            keep[(i + half) * hop : (j - (keep_gap - half)) * hop] = False
        i = j
    removed = float(np.count_nonzero(~keep)) / sample_rate
    return x[keep], removed


def _decode(data: bytes, name: str, *, sample_rate: int, compact: bool) -> tuple[np.ndarray, str]:
    try:
        audio, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise DataError(f"{name}: not a readable sound file ({exc})") from None
    steps = []
    mono = audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0]
    if audio.shape[1] > 1:
        steps.append(f"{audio.shape[1]} ch -> mono (mean)")
    if sr != sample_rate:
        mono = resample(torch.from_numpy(np.ascontiguousarray(mono)), sr, sample_rate).numpy()
        steps.append(f"{sr} -> {sample_rate} Hz")
    if compact:
        mono, removed = compact_silence(mono, sample_rate)
        if removed > 0.05:
            steps.append(f"{removed:.1f} s of silence removed")
    return np.asarray(mono, dtype=np.float32), "; ".join(steps) or "as is"


def ufoai_names(pk3: str | Path = UFOAI_PK3) -> list[str]:
    """Stems of the ambience clips in the archive, sorted."""
    with _open_pk3(pk3) as archive:
        return sorted(
            Path(n).stem
            for n in archive.namelist()
            if n.startswith(UFOAI_AMBIENCE_DIR) and n.endswith(".ogg")
        )


def _open_pk3(pk3: str | Path) -> zipfile.ZipFile:
    p = Path(pk3)
    if not p.exists():
        raise MissingToolError(
            f"{p}: the ufoai ambience recordings are not installed; install "
            "them with: apt-get install ufoai-sound"
        )
    try:
        return zipfile.ZipFile(p)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{p}: not a readable zip archive ({exc})") from None


def read_ufoai(
    names: Iterable[str],
    *,
    pk3: str | Path = UFOAI_PK3,
    copyright_file: str | Path = UFOAI_COPYRIGHT,
    sample_rate: int = SAMPLE_RATE,
    compact: bool = True,
) -> list[Recording]:
    """Decode the named ambience clips of ``ufoai-sound`` with their licences.

    Raises:
        MissingToolError: ``ufoai-sound`` is not installed.
        DataError: a clip is not in the archive or has no licence stanza.
    """
    cpath = Path(copyright_file)
    if not cpath.exists():
        raise MissingToolError(f"{cpath}: missing; install it with: apt-get install ufoai-sound")
    stanzas = parse_dep5(cpath.read_text(encoding="utf-8"))
    out = []
    with _open_pk3(pk3) as archive:
        available = set(archive.namelist())
        for name in names:
            member = f"{UFOAI_AMBIENCE_DIR}{name}.ogg"
            if member not in available:
                raise DataError(f"{pk3}: has no {member}")
            stanza = licence_for(UFOAI_SOURCE_PREFIX + member, stanzas)
            wav, processing = _decode(
                archive.read(member), member, sample_rate=sample_rate, compact=compact
            )
            out.append(
                Recording(
                    name, wav, f"ufoai-sound:{member}", processing, stanza.licence, stanza.copyright
                )
            )
    return out


AMBIENCE_FILES: tuple[tuple[str, str], ...] = (
    ("train", "sounds/town/train.ogg"),
    ("amazon-rainforest", "sounds/nature/amazon-rainforest.ogg"),
)


def ambience_available() -> bool:
    """Whether the optional PyPI package ``ambience`` is installed."""
    return importlib.util.find_spec("ambience") is not None


def read_ambience_package(*, sample_rate: int = SAMPLE_RATE) -> list[Recording]:
    """The two long clips of PyPI ``ambience`` (licence not stated: never redistributed).

    Raises:
        MissingToolError: the package is not installed (it is deliberately not a dependency).
    """
    spec = importlib.util.find_spec("ambience")
    if spec is None or not spec.submodule_search_locations:
        raise MissingToolError(
            "the optional PyPI package `ambience` is not installed "
            "(pip install ambience); its audio licence is not stated"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    out = []
    for name, rel in AMBIENCE_FILES:
        path = root / rel
        if not path.exists():
            raise DataError(f"{path}: missing from the installed `ambience` package")
        wav, processing = _decode(
            path.read_bytes(), str(path), sample_rate=sample_rate, compact=True
        )
        out.append(Recording(name, wav, f"pypi-ambience:{rel}", processing, NOT_STATED, ()))
    return out
