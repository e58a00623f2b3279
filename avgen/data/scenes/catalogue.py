"""Scene kinds of the scene-video kit, their seen/unseen split, and the ambience each may have.

=======  ========  =====================================  ======================================
kind     picture   acoustics                              ambience (noise types, real first)
=======  ========  =====================================  ======================================
indoor   rendered  simulated room (room kit code)         seen: drone, steps, fire, machinery
         room                                             (real), hum, clatter (procedural);
                                                          unseen: tv (real)
rain     drawn     open air, wet ground reflection        seen: thunder (real)
beach    drawn     open air, sand reflection              seen: water, wind (real)
forest   drawn     open air, soft ground                  seen: wind (real); unseen: night (real)
train    drawn     simulated carriage (shoebox)           seen: machinery (real)
street   drawn     open air, asphalt + facade echo        unseen: city (real), traffic (proc.)
market   drawn     open air, paving + stall echo          unseen: babble (procedural)
=======  ========  =====================================  ======================================

**Split.** Ambience types keep the noise bank's split
(:mod:`avgen.data.noise.catalogue`). A *seen* scene has a seen kind and a seen ambience type;
an *unseen* scene (``test-unseen`` only) is a street or a market (kinds never met in
training, whose ambiences are unseen types too), or a new room or forest with an unseen
ambience (``tv``, ``night``). ``rain``, ``beach`` and ``train`` have no unseen ambience type and
are seen only.

**Real recordings first.** :func:`choose_ambience_type` draws among the kind's *real* types of
the wanted split present in the bank, and falls back to its procedural types only when none is
there (``market`` has only babble, which is made of real reserved talkers' speech).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from avgen.data.noise.catalogue import noise_type
from avgen.errors import ConfigError


@dataclass(frozen=True)
class SceneKind:
    """One kind of scene.

    Attributes:
        name: e.g. ``"beach"``.
        indoor: pictures are rendered rooms (:func:`avgen.data.rooms.picture.render_room`).
        seen: the kind may appear in training (``False``: test-unseen only).
        ambience: noise types the scene may sound like, in order of preference (real first).
        unseen_ambience: noise types of an unseen scene of a seen kind (empty: none).
    """

    name: str
    indoor: bool
    seen: bool
    ambience: tuple[str, ...]
    unseen_ambience: tuple[str, ...] = ()


SCENE_KINDS: tuple[SceneKind, ...] = (
    SceneKind(
        "indoor", True, True, ("drone", "steps", "fire", "machinery", "hum", "clatter"), ("tv",)
    ),
    SceneKind("rain", False, True, ("thunder",)),
    SceneKind("beach", False, True, ("water", "wind")),
    SceneKind("forest", False, True, ("wind",), ("night",)),
    SceneKind("train", False, True, ("machinery",)),
    SceneKind("street", False, False, ("city", "traffic")),
    SceneKind("market", False, False, ("babble",)),
)
"""Every scene kind (seen kinds first)."""

_KINDS = MappingProxyType({k.name: k for k in SCENE_KINDS})

OUTDOOR_KINDS: tuple[str, ...] = tuple(k.name for k in SCENE_KINDS if not k.indoor)
"""Kinds whose picture is drawn procedurally (:mod:`avgen.data.scenes.outdoor`)."""

SEEN_SCENE_CYCLE: tuple[str, ...] = ("indoor", "rain", "beach", "indoor", "forest", "train")
"""Kinds of seen scenes in the order a build cycles through them (rooms twice as often)."""

UNSEEN_SCENE_CYCLE: tuple[str, ...] = ("street", "market", "indoor", "forest")
"""Kinds of unseen scenes in the order a build cycles through them."""


def scene_kind(name: str) -> SceneKind:
    """The :class:`SceneKind` called ``name`` (:class:`ConfigError` if unknown)."""
    try:
        return _KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown scene kind {name!r}; known: {', '.join(_KINDS)}") from None


def scene_types(kind: str, seen: bool) -> tuple[str, ...]:
    """The noise types a ``seen`` (or unseen) scene of ``kind`` may have, preference order."""
    k = scene_kind(kind)
    if seen:
        if not k.seen:
            raise ConfigError(f"scene kind {kind!r} is unseen: it has no seen scenes")
        return tuple(t for t in k.ambience if noise_type(t).split == "seen")
    return k.ambience if not k.seen else k.unseen_ambience


def choose_ambience_type(
    kind: str, seen: bool, available: Iterable[str], rng: np.random.Generator
) -> str:
    """A noise type for a scene: uniform among the kind's *real* types of the split present in
    the bank (``available``), else among its procedural ones; :class:`ConfigError` if none."""
    have = set(available)
    wanted = [t for t in scene_types(kind, seen) if t in have]
    real = [t for t in wanted if noise_type(t).category == "real"]
    pool = real or wanted
    if not pool:
        raise ConfigError(
            f"the speech kit's noise bank has none of the {'seen' if seen else 'unseen'} "
            f"ambience types of a {kind} scene ({', '.join(scene_types(kind, seen))}); rebuild "
            "the speech kit with its full noise bank (apt-get install ufoai-sound)"
        )
    return pool[int(rng.integers(len(pool)))]
