"""The noise bank of the data kit: noise types, their seen/unseen split, and the clips.

Noise TYPES (``NOISE_TYPES``) are what the split is about: a model is trained and validated
with "seen" types only, and tested on "unseen" types it never met.

Real types come from the ambience recordings of Debian ``ufoai-sound``
(:mod:`avgen.data.noise.real`), grouped by what they are (from their names, listening notes in
the package and their spectra: centroid, flatness, low-frequency share, level statistics);
procedural types are generated (:mod:`avgen.data.noise.procedural`), seeded, any length.

================  ==========  ======  ===========================================  ==========
type              category    split   material                                      about
================  ==========  ======  ===========================================  ==========
babble            procedural  unseen  4-8 reserved talkers summed                  speech-like
traffic           procedural  unseen  rumble + passing vehicles (Doppler)          non-speech
city              real        unseen  city_abnd_ufoai_atm (106 s)                  street bed
night             real        unseen  ufo_night_atm, cricket_loop (117 s)          insects
tv                real        unseen  tv_newswav, radiomessage (80 s)              speech-like
white, pink,      procedural  seen    spectral shaping                             stationary
brown
hum               procedural  seen    50/60 Hz harmonics, drift, pink floor        tonal
clatter           procedural  seen    clustered impacts and resonances             impulsive
wind              real        seen    arcticwind, sand-city (61 s)
thunder           real        seen    thunder1-3 (67 s)                             rain/storm
water             real        seen    water*, waterfontain, alienbase-bubbles
fire              real        seen    fire*, smallfire, sparks*                     crackling
machinery         real        seen    minepump03, engines, alien machinery, steam
drone             real        seen    hum, hum2, droning_*, lights_loop, alien hums  electrical
steps             real        seen    bloodspiderwalk (43 s)                        footsteps
================  ==========  ======  ===========================================  ==========

Excluded recordings: ``disco``, ``jingle``, ``jingle2`` (music jingles, 18 s in all),
``creak`` (1.2 s, 8 kHz), ``tv_static`` (3.2 s of static).

Levels: each clip is scaled to a peak of -1 dBFS before it is written (levels do not matter:
mixing sets the level from the SNR), so 16-bit files keep their resolution.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from avgen.audio import SAMPLE_RATE, save_audio
from avgen.data.kit.records import NoiseRecord, write_jsonl
from avgen.data.noise import procedural
from avgen.data.noise.real import (
    NOT_STATED,
    UFOAI_COPYRIGHT,
    UFOAI_PK3,
    Recording,
    ambience_available,
    read_ambience_package,
    read_ufoai,
)
from avgen.errors import ConfigError
from avgen.files import write_text_atomic
from avgen.seeding import derive_seed, numpy_generator

PEAK_DBFS = -1.0

logger = logging.getLogger("avgen")


@dataclass(frozen=True)
class NoiseType:
    """One noise type of the bank.

    Attributes:
        name: the type, e.g. ``"wind"``.
        category: ``"real"`` or ``"procedural"``.
        split: ``"seen"`` (training and validation) or ``"unseen"`` (test only).
        speech_like: babble and TV-like noises.
        description: what it sounds like and, for procedural types, its spectrum.
        recordings: the file stems (real types) that make the type.
    """

    name: str
    category: str
    split: str
    speech_like: bool
    description: str
    recordings: tuple[str, ...] = ()


NOISE_TYPES: tuple[NoiseType, ...] = (
    # ---- unseen -------------------------------------------------------------------------------
    NoiseType(
        "babble",
        "procedural",
        "unseen",
        True,
        "4-8 talkers of voices reserved for babble, summed at ±3 dB random gains; "
        "long-term speech spectrum",
    ),
    NoiseType(
        "traffic",
        "procedural",
        "unseen",
        False,
        "low-passed brown rumble + passing vehicles (engine harmonics 25-45 Hz with "
        "Doppler, tyre noise 0.4-1.5 kHz, 1/r pass-by envelopes)",
    ),
    NoiseType(
        "city",
        "real",
        "unseen",
        False,
        "city street ambience: distant traffic, voices, wind (bed below 1 kHz)",
        ("city_abnd_ufoai_atm",),
    ),
    NoiseType(
        "night",
        "real",
        "unseen",
        False,
        "night outdoors: crickets and insects, broadband hiss (centroid ~1.7-4.8 kHz)",
        ("ufo_night_atm", "cricket_loop"),
    ),
    NoiseType(
        "tv",
        "real",
        "unseen",
        True,
        "TV news speech and radio chatter (speech-like, with pauses)",
        ("tv_newswav", "radiomessage"),
    ),
    # ---- seen: procedural ---------------------------------------------------------------------
    NoiseType("white", "procedural", "seen", False, "Gaussian white noise: flat spectrum"),
    NoiseType("pink", "procedural", "seen", False, "Gaussian 1/f noise (-3 dB/octave) above 20 Hz"),
    NoiseType(
        "brown", "procedural", "seen", False, "Gaussian 1/f^2 noise (-6 dB/octave) above 20 Hz"
    ),
    NoiseType(
        "hum",
        "procedural",
        "seen",
        False,
        "mains hum: 12 harmonics of 50/60 Hz, 0.1 % frequency drift, pink floor -30 dB",
    ),
    NoiseType(
        "clatter",
        "procedural",
        "seen",
        False,
        "impulsive: clustered clicks and 0.7-6 kHz damped resonances, pink floor -35 dB",
    ),
    # ---- seen: real ---------------------------------------------------------------------------
    NoiseType(
        "wind",
        "real",
        "seen",
        False,
        "wind: low gusty rumble (arctic wind) and wind-blown sand hiss",
        ("arcticwind", "sand-city"),
    ),
    NoiseType(
        "thunder",
        "real",
        "seen",
        False,
        "thunderstorms: rolling low-frequency thunder",
        ("thunder1", "thunder2", "thunder3"),
    ),
    NoiseType(
        "water",
        "real",
        "seen",
        False,
        "running and splashing water, a fountain, bubbles",
        ("water", "water01", "water02", "water03", "waterfontain", "alienbase-bubbles"),
    ),
    NoiseType(
        "fire",
        "real",
        "seen",
        False,
        "fire crackle and sparks",
        (
            "fire",
            "fire03",
            "fire04",
            "fire05",
            "fire06",
            "fire1",
            "fire2",
            "firesoft",
            "smallfire",
            "sparks",
            "sparks_short",
        ),
    ),
    NoiseType(
        "machinery",
        "real",
        "seen",
        False,
        "machines and engines: a mine pump, generators, ventilation, engines, steam",
        (
            "minepump03",
            "alien-generator",
            "alien-ventilation",
            "alien-device",
            "alien_engine",
            "alienmachinery1",
            "alienmachinery2",
            "alienmachinery3",
            "alienmachinery4",
            "alienmachinery5",
            "alienpowermachinery1",
            "engine_alien_big",
            "engine_alien_medium",
            "engine_alien_small",
            "machine1",
            "wind_turbine",
            "steam",
        ),
    ),
    NoiseType(
        "drone",
        "real",
        "seen",
        False,
        "electrical hums and low drones (lights, power, atmospheres)",
        (
            "hum",
            "hum2",
            "droning_long",
            "droning_short",
            "lights_loop",
            "alienenergy1",
            "alienatmo",
            "alienwormhole",
            "aliencom",
        ),
    ),
    NoiseType(
        "steps",
        "real",
        "seen",
        False,
        "footsteps of a creature: broadband impacts",
        ("bloodspiderwalk",),
    ),
)
"""Every noise type of the kit, unseen first."""

OPTIONAL_NOISE_TYPES: tuple[NoiseType, ...] = (
    NoiseType(
        "train",
        "real",
        "seen",
        False,
        f"a passing train in town (PyPI `ambience`; {NOT_STATED})",
        ("train",),
    ),
    NoiseType(
        "rainforest",
        "real",
        "seen",
        False,
        f"tropical rainforest (PyPI `ambience`; {NOT_STATED})",
        ("amazon-rainforest",),
    ),
)
"""Types only built with ``include_ambience=True`` and PyPI ``ambience`` installed (seen)."""

EXCLUDED_RECORDINGS: MappingProxyType[str, str] = MappingProxyType(
    {
        "disco": "music",
        "jingle": "music jingle",
        "jingle2": "music jingle",
        "creak": "1.2 s, 8 kHz",
        "tv_static": "3.2 s of static",
    }
)

_ALL_TYPES = MappingProxyType({t.name: t for t in (*NOISE_TYPES, *OPTIONAL_NOISE_TYPES)})

SEEN_TYPES: tuple[str, ...] = tuple(t.name for t in NOISE_TYPES if t.split == "seen")
UNSEEN_TYPES: tuple[str, ...] = tuple(t.name for t in NOISE_TYPES if t.split == "unseen")
PROCEDURAL_TYPES: tuple[str, ...] = tuple(t.name for t in NOISE_TYPES if t.category == "procedural")


def noise_type(name: str) -> NoiseType:
    """The :class:`NoiseType` called ``name`` (:class:`ConfigError` if unknown)."""
    try:
        return _ALL_TYPES[name]
    except KeyError:
        raise ConfigError(f"unknown noise type {name!r}; known: {', '.join(_ALL_TYPES)}") from None


@dataclass(frozen=True)
class NoiseClip:
    """One clip of the bank: a :class:`NoiseRecord` without its path, plus the waveform."""

    id: str
    type: str
    category: str
    speech_like: bool
    source: str
    licence: str
    split: str
    waveform: np.ndarray  # float32, 16 kHz mono, peak at -1 dBFS
    copyright: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return self.waveform.size / SAMPLE_RATE

    @property
    def wav(self) -> str:
        """Path of the clip inside a kit folder."""
        return f"noise/{self.id}.wav"

    def record(self) -> NoiseRecord:
        return NoiseRecord(
            id=self.id,
            type=self.type,
            category=self.category,
            speech_like=self.speech_like,
            source=self.source,
            licence=self.licence,
            duration=round(self.duration, 6),
            split=self.split,
            wav=self.wav,
        )


def _peak_normalise(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x)))
    return (np.asarray(x, dtype=np.float64) * (10 ** (PEAK_DBFS / 20) / peak)).astype(np.float32)


def _clip_id(prefix: str, name: str) -> str:
    return f"{prefix}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}"


def _real_clip(kind: NoiseType, rec: Recording, prefix: str) -> NoiseClip:
    return NoiseClip(
        id=_clip_id(prefix, rec.name),
        type=kind.name,
        category="real",
        speech_like=kind.speech_like,
        source=rec.source,
        licence=rec.licence,
        split=kind.split,
        waveform=_peak_normalise(rec.waveform),
        copyright=rec.copyright,
    )


Generator = Callable[[int, np.random.Generator], np.ndarray]

_GENERATORS: MappingProxyType[str, Generator] = MappingProxyType(
    {
        "white": procedural.white_noise,
        "pink": procedural.pink_noise,
        "brown": procedural.brown_noise,
        "hum": procedural.hum_noise,
        "traffic": procedural.traffic_noise,
        "clatter": procedural.clatter_noise,
    }
)


def procedural_clip(
    type_name: str,
    index: int,
    *,
    seconds: float,
    seed: int,
    talkers: Sequence[np.ndarray] | None = None,
) -> NoiseClip:
    """Clip ``index`` of a procedural type, a pure function of ``(type, index, seed)``."""
    kind = noise_type(type_name)
    if kind.category != "procedural":
        raise ConfigError(f"{type_name!r} is a recorded noise type, not a procedural one")
    n = round(seconds * SAMPLE_RATE)
    rng = numpy_generator(derive_seed(seed, "noise", type_name, index))
    if type_name == "babble":
        if talkers is None:
            raise ConfigError(
                "babble noise needs `talkers`: the speech of the voices reserved "
                "for babble (one waveform per talker)"
            )
        wav = procedural.babble_noise(n, talkers, rng)
        source = f"procedural: babble of {len(talkers)} reserved talkers (seed {seed})"
    else:
        wav = _GENERATORS[type_name](n, rng)
        source = f"procedural: {type_name} (seed {seed})"
    return NoiseClip(
        id=f"{type_name}-{index:02d}",
        type=type_name,
        category="procedural",
        speech_like=kind.speech_like,
        source=source,
        licence="MIT (generated by avgen)"
        if type_name != "babble"
        else "derived from the reserved talkers' speech (their licences)",
        split=kind.split,
        waveform=_peak_normalise(wav),
    )


def noise_bank(
    *,
    seed: int = 0,
    talkers: Sequence[np.ndarray] | None = None,
    types: Iterable[str] | None = None,
    clips_per_type: int = 3,
    clip_seconds: float = 30.0,
    include_ambience: bool = False,
    pk3: str | Path = UFOAI_PK3,
    copyright_file: str | Path = UFOAI_COPYRIGHT,
) -> list[NoiseClip]:
    """All clips of the noise bank (deterministic in ``seed``).

    Args:
        seed: seeds the procedural clips (clip ``i`` of type ``t`` uses
            ``derive_seed(seed, "noise", t, i)``, so subsets regenerate identically).
        talkers: one waveform (16 kHz) per talker reserved for babble; required when
            ``babble`` is built (4 talkers or more).
        types: the noise types to build (default: every type of ``NOISE_TYPES``).
        clips_per_type: clips per procedural type.
        clip_seconds: length of each procedural clip (real clips keep their length).
        include_ambience: also build the optional types of PyPI ``ambience`` if it is
            installed (a warning, not an error, when it is not; naming those types in
            ``types`` requires it).
        pk3, copyright_file: where ``ufoai-sound`` lies.

    Returns:
        clips ordered by type (as in ``NOISE_TYPES``), each ready for :func:`write_noise_bank`.

    Raises:
        ConfigError: an unknown type, or babble without talkers.
        MissingToolError: ``ufoai-sound`` (or requested ``ambience``) is not installed.
    """
    if clips_per_type < 1 or clip_seconds <= 0:
        raise ConfigError("clips_per_type must be >= 1 and clip_seconds > 0")
    pool = (*NOISE_TYPES, *OPTIONAL_NOISE_TYPES)
    if types is None:
        optional = include_ambience and ambience_available()
        if include_ambience and not optional:
            logger.warning("PyPI `ambience` is not installed: building without its noise types")
        wanted = [t for t in pool if optional or t not in OPTIONAL_NOISE_TYPES]
    else:
        names = {noise_type(name).name for name in types}
        wanted = [t for t in pool if t.name in names]
    clips: list[NoiseClip] = []
    ufoai_stems = [
        s
        for t in wanted
        if t.category == "real" and t not in OPTIONAL_NOISE_TYPES
        for s in t.recordings
    ]
    recordings = {
        r.name: r
        for r in (
            read_ufoai(ufoai_stems, pk3=pk3, copyright_file=copyright_file) if ufoai_stems else []
        )
    }
    if any(t in OPTIONAL_NOISE_TYPES for t in wanted):
        recordings.update({r.name: r for r in read_ambience_package()})
    for kind in wanted:
        if kind.category == "real":
            prefix = "ambience" if kind in OPTIONAL_NOISE_TYPES else "ufoai"
            clips += [_real_clip(kind, recordings[s], prefix) for s in kind.recordings]
        else:
            clips += [
                procedural_clip(kind.name, i, seconds=clip_seconds, seed=seed, talkers=talkers)
                for i in range(clips_per_type)
            ]
    return clips


def write_noise_bank(
    root: str | Path, clips: Sequence[NoiseClip], *, copyright_file: str | Path = UFOAI_COPYRIGHT
) -> list[NoiseRecord]:
    """Write the clips into kit folder ``root``: wavs, ``noise/noises.jsonl`` and notices.

    Writes ``noise/<id>.wav`` (16-bit), ``noise/noises.jsonl``, and in ``LICENSES/``:
    ``noise-sources.md`` (each clip's source, licence and copyright holders) and, when ufoai
    clips are present, ``ufoai-sound-copyright.txt`` (the package's copyright file, which holds
    the licence texts). Everything is written atomically. Returns the records.
    """
    root = Path(root)
    ids = [c.id for c in clips]
    if len(set(ids)) != len(ids):
        raise ConfigError("noise clips must have distinct ids")
    records = []
    for clip in clips:
        save_audio(root / clip.wav, clip.waveform)
        records.append(clip.record())
    write_jsonl(root / "noise" / "noises.jsonl", records)
    lines = [
        "# Noise bank: sources and licences",
        "",
        "| id | type | split | seconds | licence | source | copyright |",
        "|---|---|---|---|---|---|---|",
    ]
    for clip in clips:
        holders = "; ".join(clip.copyright) or "-"
        lines.append(
            f"| {clip.id} | {clip.type} | {clip.split} | {clip.duration:.1f} | "
            f"{clip.licence} | {clip.source} | {holders} |"
        )
    if any(c.licence == NOT_STATED for c in clips):
        lines += [
            "",
            f"Clips marked '{NOT_STATED}' come from the PyPI package `ambience`; "
            "keep them to yourself: do not redistribute this kit.",
        ]
    write_text_atomic(root / "LICENSES" / "noise-sources.md", "\n".join(lines) + "\n")
    if any(c.source.startswith("ufoai-sound:") for c in clips):
        dest = root / "LICENSES" / "ufoai-sound-copyright.txt"
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(dest, Path(copyright_file).read_text(encoding="utf-8"))
    return records


def flite_talkers(
    n_talkers: int = 4, *, sentences_per_talker: int = 3, seed: int = 0
) -> list[np.ndarray]:
    """Babble talkers synthesised with flite -- a fallback for tests and demos only.

    The kit builder passes real speech of the voices reserved for babble instead. Talker ``i``
    speaks with flite voice ``FLITE_VOICES[i % 4]`` a seeded choice of sentences.
    """
    from avgen.data.speech.tts import FLITE_VOICES, synthesize_flite

    sentences = (
        "The harbour lights were dim when the ferry finally arrived.",
        "Please put the blue folder on the second shelf by the window.",
        "Nobody expected the old clock to start ticking again.",
        "We should leave early if we want a table near the stage.",
        "She counted seven cranes flying low over the frozen lake.",
        "A warm breeze carried the smell of bread across the square.",
        "The committee will vote on the proposal next Thursday morning.",
        "He forgot his umbrella and walked home through the storm.",
        "Turn left after the bakery and follow the narrow road uphill.",
        "Their garden was full of tomatoes, beans and yellow squash.",
    )
    rng = numpy_generator(derive_seed(seed, "flite-talkers"))
    talkers = []
    for i in range(n_talkers):
        picks = rng.choice(len(sentences), size=sentences_per_talker, replace=False)
        voice = FLITE_VOICES[i % len(FLITE_VOICES)]
        parts = [synthesize_flite(sentences[int(k)], voice).waveform for k in picks]
        talkers.append(np.concatenate(parts).astype(np.float32))
    return talkers
