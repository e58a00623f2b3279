"""Phones to visemes, and each viseme's articulatory target for the lip renderer.

A *viseme* is a set of phones that look alike on the lips. We map the canonical phones of
:mod:`avgen.data.speech.phones` (39 ARPAbet phones of CMUdict plus ``"pau"``) to 14 classes and give
each class a target posture of seven articulators, all on ``[0, 1]``:

==============  ===============================================================================
articulator     meaning (0 ... 1)
==============  ===============================================================================
``jaw``         jaw / lower-lip lowering: closed ... wide open
``width``       lip width: rounded, corners drawn in ... spread (0.5 is neutral)
``protrusion``  lips pushed forward (rounding, "sh"): none ... full
``upper_raise`` upper lip lifted off the teeth: resting ... raised
``lower_tuck``  lower lip drawn up under the upper teeth ("f", "v"): none ... tucked
``teeth``       how much of the incisors shows inside the opening: none ... full band
``tongue``      tongue tip visible and raised (dental, alveolar): hidden ... between the teeth
==============  ===============================================================================

Reference and how ours differs
------------------------------
The classes follow the MPEG-4 facial-animation visemes (ISO/IEC 14496-2, Annex C; see
Pandzic & Forchheimer, *MPEG-4 Facial Animation*, Wiley 2002), whose 15 classes are
``sil, PP (p b m), FF (f v), TH (th dh), DD (t d), kk (k g), CH (ch jh sh), SS (s z),
nn (n l), RR (r), aa, E, ih, oh, ou``. Differences, after the confusion-based maps of
Bear & Harvey ("Phoneme-to-viseme mappings: the good, the bad, and the ugly", Speech
Communication 95, 2017), in which the alveolars are hardly told apart on the lips:

* MPEG-4's DD, SS and nn are merged into one ``alveolar`` class (t d n s z l);
* ``hh`` joins the velars (its lips are those of the neighbouring vowel, like k/g);
* ``y`` gets a class of its own (spread lips, tongue near the teeth), which MPEG-4 lacks;
* the vowels are grouped by lip shape rather than by MPEG-4's five reference vowels:
  ``open`` (aa ae ah aw ay), ``mid`` (eh ey), ``spread`` (iy ih), ``rounded``
  (w uw uh ow oy: protruded lips, small opening) and ``open_rounded`` (ao); ``er`` joins ``r``.

The diphthongs move during the segment: :data:`DIPHTHONG_GLIDES` gives the target of their
first and second parts (e.g. ``ay``: ``open`` then ``spread``), which the parameter tracks of
:mod:`avgen.data.lips.shape` follow; their *label* (what a classifier is asked to predict) stays
the class of :data:`PHONE_TO_VISEME`.

Each class also carries the parameters of its Cohen-Massaro dominance function (see
:mod:`avgen.data.lips.shape`): a strength per articulator -- high where the articulator is
critical for the sound (the lips must close for p/b/m, the lower lip must meet the teeth for
f/v), low where the sound leaves it free (a /t/ does not care about rounding, so it takes the
rounding of its neighbours) -- and anticipatory/carry-over rates. Rounded vowels have slow
anticipatory rates on ``width`` and ``protrusion``, so rounding starts over the consonants
before them ("s" in "soon" is rounded), as in Cohen & Massaro (1993).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from avgen.data.speech.phones import ARPABET, PHONE_SET, SILENCE

ARTICULATORS: tuple[str, ...] = (
    "jaw",
    "width",
    "protrusion",
    "upper_raise",
    "lower_tuck",
    "teeth",
    "tongue",
)
"""The articulatory parameters, in the column order of every track array."""

N_ARTICULATORS = len(ARTICULATORS)

REST_POSTURE: tuple[float, ...] = (0.0, 0.5, 0.1, 0.0, 0.0, 0.0, 0.0)
"""Neutral closed mouth; speaking-style exaggeration scales deviations from it."""


@dataclass(frozen=True)
class Viseme:
    """A viseme class: its target posture and its dominance parameters.

    Attributes:
        name: class name.
        phones: the canonical phones of the class.
        target: one value per articulator (order of :data:`ARTICULATORS`), on ``[0, 1]``.
        strength: dominance magnitude ``alpha`` per articulator (order of :data:`ARTICULATORS`).
        anticipation: dominance decay rate before the segment, 1/s (larger: shorter reach).
        carryover: dominance decay rate after the segment, 1/s.
        rounding_anticipation: decay rate before the segment for ``width`` and
            ``protrusion`` only (rounded classes reach further back); defaults to
            ``anticipation``.
    """

    name: str
    phones: tuple[str, ...]
    target: tuple[float, ...]
    strength: tuple[float, ...]
    anticipation: float = 30.0
    carryover: float = 30.0
    rounding_anticipation: float | None = None

    def __post_init__(self) -> None:
        if len(self.target) != N_ARTICULATORS or len(self.strength) != N_ARTICULATORS:
            raise ValueError(f"viseme {self.name!r}: need {N_ARTICULATORS} targets/strengths")
        if not all(0.0 <= v <= 1.0 for v in self.target):
            raise ValueError(f"viseme {self.name!r}: targets must lie in [0, 1]")
        if not all(s > 0 for s in self.strength):
            raise ValueError(f"viseme {self.name!r}: strengths must be positive")


def _v(
    name: str,
    phones: str,
    target: Mapping[str, float],
    strong: Mapping[str, float],
    weak: float,
    **rates: float,
) -> Viseme:
    """Build a :class:`Viseme` from named targets; articulators not in ``strong`` get
    strength ``weak``; unnamed targets take the rest posture."""
    tgt = tuple(float(target.get(a, r)) for a, r in zip(ARTICULATORS, REST_POSTURE))
    strength = tuple(float(strong.get(a, weak)) for a in ARTICULATORS)
    return Viseme(name, tuple(phones.split()), tgt, strength, **rates)


# Targets (jaw, width, protrusion, upper_raise, lower_tuck, teeth, tongue). Consonants are
# strong on the articulators that make them and weak (0.15-0.3) elsewhere; vowels are
# uniformly strong (1.0). Silence is moderately strong so lips relax in pauses.
VISEMES: tuple[Viseme, ...] = (
    _v(
        "silence",
        "pau",
        dict(jaw=0.0, width=0.5, protrusion=0.1),
        {},
        weak=0.7,
        anticipation=22.0,
        carryover=18.0,
    ),
    _v(
        "bilabial",
        "p b m",
        dict(jaw=0.0, width=0.5, protrusion=0.15, upper_raise=0.0, teeth=0.0),
        dict(jaw=8.0, upper_raise=4.0, lower_tuck=4.0, teeth=4.0, tongue=2.0),
        weak=0.2,
        anticipation=40.0,
        carryover=40.0,
    ),
    _v(
        "labiodental",
        "f v",
        dict(jaw=0.12, width=0.55, protrusion=0.0, upper_raise=0.55, lower_tuck=1.0, teeth=0.8),
        dict(jaw=4.0, upper_raise=4.0, lower_tuck=6.0, teeth=4.0, tongue=2.0),
        weak=0.25,
        anticipation=40.0,
        carryover=40.0,
    ),
    _v(
        "dental",
        "th dh",
        dict(jaw=0.3, width=0.55, protrusion=0.05, upper_raise=0.3, teeth=0.7, tongue=1.0),
        dict(jaw=2.0, teeth=3.0, tongue=5.0, lower_tuck=2.0),
        weak=0.25,
        anticipation=40.0,
        carryover=40.0,
    ),
    _v(
        "alveolar",
        "t d n s z l",
        dict(jaw=0.2, width=0.58, protrusion=0.05, upper_raise=0.25, teeth=0.75, tongue=0.5),
        dict(jaw=1.5, teeth=2.0, tongue=2.0, lower_tuck=2.0),
        weak=0.2,
        anticipation=40.0,
        carryover=40.0,
    ),
    _v(
        "postalveolar",
        "sh zh ch jh",
        dict(jaw=0.2, width=0.3, protrusion=0.85, upper_raise=0.45, teeth=0.85, tongue=0.1),
        dict(jaw=2.0, width=2.5, protrusion=3.0, upper_raise=2.0, teeth=2.5, lower_tuck=2.0),
        weak=0.3,
        anticipation=35.0,
        carryover=35.0,
    ),
    _v(
        "velar",
        "k g ng hh",
        dict(jaw=0.35, width=0.5, protrusion=0.1, upper_raise=0.2, teeth=0.45, tongue=0.05),
        dict(jaw=0.8, lower_tuck=2.0),
        weak=0.15,
        anticipation=40.0,
        carryover=40.0,
    ),
    _v(
        "rhotic",
        "r er",
        dict(jaw=0.3, width=0.3, protrusion=0.55, upper_raise=0.3, teeth=0.35, tongue=0.05),
        dict(width=1.5, protrusion=1.5, lower_tuck=2.0),
        weak=0.6,
        anticipation=30.0,
        carryover=30.0,
    ),
    _v(
        "palatal",
        "y",
        dict(jaw=0.2, width=0.85, protrusion=0.0, upper_raise=0.3, teeth=0.7, tongue=0.3),
        dict(width=1.5, lower_tuck=2.0),
        weak=0.6,
        anticipation=30.0,
        carryover=30.0,
    ),
    _v(
        "rounded",
        "w uw uh ow oy",
        dict(jaw=0.25, width=0.05, protrusion=1.0, upper_raise=0.15, teeth=0.1, tongue=0.0),
        dict(width=2.0, protrusion=2.0),
        weak=1.0,
        anticipation=25.0,
        carryover=22.0,
        rounding_anticipation=9.0,
    ),
    _v(
        "open_rounded",
        "ao",
        dict(jaw=0.75, width=0.25, protrusion=0.6, upper_raise=0.2, teeth=0.3, tongue=0.1),
        dict(width=1.5, protrusion=1.5),
        weak=1.0,
        anticipation=25.0,
        carryover=22.0,
        rounding_anticipation=12.0,
    ),
    _v(
        "open",
        "aa ae ah aw ay",
        dict(jaw=0.95, width=0.65, protrusion=0.0, upper_raise=0.35, teeth=0.55, tongue=0.2),
        {},
        weak=1.0,
        anticipation=25.0,
        carryover=22.0,
    ),
    _v(
        "mid",
        "eh ey",
        dict(jaw=0.55, width=0.75, protrusion=0.0, upper_raise=0.35, teeth=0.7, tongue=0.25),
        {},
        weak=1.0,
        anticipation=25.0,
        carryover=22.0,
    ),
    _v(
        "spread",
        "iy ih",
        dict(jaw=0.28, width=1.0, protrusion=0.0, upper_raise=0.35, teeth=0.9, tongue=0.15),
        {},
        weak=1.0,
        anticipation=25.0,
        carryover=22.0,
    ),
)
"""The 14 viseme classes, in a fixed order (their index is the class label)."""

VISEME_NAMES: tuple[str, ...] = tuple(v.name for v in VISEMES)
VISEME_BY_NAME: dict[str, Viseme] = {v.name: v for v in VISEMES}
PHONE_TO_VISEME: dict[str, str] = {p: v.name for v in VISEMES for p in v.phones}

DIPHTHONG_GLIDES: dict[str, tuple[str, str]] = {
    "ay": ("open", "spread"),
    "aw": ("open", "rounded"),
    "ey": ("mid", "spread"),
    "oy": ("open_rounded", "spread"),
    "ow": ("open_rounded", "rounded"),
}
"""Diphthongs: (target class of the first part, target class of the glide)."""

GLIDE_ONSET = 0.55
"""Fraction of a diphthong's duration spent on its first target."""


def _check_complete() -> None:
    missing = PHONE_SET - set(PHONE_TO_VISEME)
    extra = set(PHONE_TO_VISEME) - PHONE_SET
    if missing or extra:  # pragma: no cover - guarded by a test
        raise RuntimeError(f"viseme map incomplete: missing {missing}, unknown {extra}")


_check_complete()


def viseme_of(phone: str) -> str:
    """The viseme class name of a canonical phone; ``KeyError`` names the unknown phone."""
    try:
        return PHONE_TO_VISEME[phone]
    except KeyError:
        raise KeyError(
            f"no viseme for phone {phone!r}; phones must be canonical "
            f"(avgen.data.speech.phones.normalize_phone)"
        ) from None


def viseme_index(phone: str) -> int:
    """The integer label (index into :data:`VISEME_NAMES`) of a canonical phone."""
    return VISEME_NAMES.index(viseme_of(phone))


def target_table() -> np.ndarray:
    """Targets of all classes as a ``(n_visemes, n_articulators)`` float array."""
    return np.array([v.target for v in VISEMES], dtype=np.float64)


__all__ = [
    "ARPABET",
    "ARTICULATORS",
    "DIPHTHONG_GLIDES",
    "GLIDE_ONSET",
    "N_ARTICULATORS",
    "PHONE_TO_VISEME",
    "REST_POSTURE",
    "SILENCE",
    "VISEMES",
    "VISEME_BY_NAME",
    "VISEME_NAMES",
    "Viseme",
    "target_table",
    "viseme_index",
    "viseme_of",
]
