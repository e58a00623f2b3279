"""Every speaker of the data kit, who they are, and the speaker-disjoint splits.

A **speaker** is one way of producing speech: a real recording set (Asterisk prompts of one
language, a CMU ARCTIC speaker) or a TTS engine + voice + variant. A **person** is the human
(or, for espeak-ng, the synthetic voice timbre) behind it; several speakers can share one:

| person | speakers | real? |
|---|---|---|
| ``allison-smith`` | Asterisk en (en_US_f_Allison) and es (es_MX_f_Allison) prompts | real |
| ``slt`` | CMU ARCTIC slt (arctic_a0009), flite slt, festival cmu_us_slt_arctic_hts | real + TTS |
| ``awb`` | CMU ARCTIC awb (arctic_a0007), flite awb | real + TTS |
| ``kal`` | flite kal16, festival kal_diphone (both from Kevin Lenzo's diphones) | TTS |
| ``rms``, ``ked`` | flite rms, festival ked_diphone | TTS |
| ``june-wallack``, ``carlo-flora``, ``ivrvoice-ru`` | Asterisk fr, it, ru prompts | real |
| ``espeak-<variant>`` | espeak-ng with that variant: one English accent, one other language | TTS |

Splits are assigned **per person** (so no voice is heard in two splits), by the fixed table
:data:`PERSON_SPLITS`, chosen so that:

* train has the most speakers and the most audio: Allison's English and Spanish prompts (the
  largest real source), the kal and rms voices and 14 espeak-ng timbres;
* val and test contain only unseen persons, each with real human speech (val: June Wallack in
  French and ARCTIC awb; test: Carlo Flora in Italian, the Russian IVR voice and ARCTIC slt)
  and TTS speech (val: awb, ked, 4 espeak timbres; test: slt (flite and HTS), 4 espeak
  timbres), so every split mixes real and synthetic speech;
* a reserved group (split ``"babble"``, 8 espeak timbres, 4 female and 4 male) is used only
  to build babble noise and never appears in train, val or test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from avgen.data.speech.recordings import (
    ARCTIC_FILES,
    ARCTIC_LICENCE,
    ARCTIC_SOURCE,
    ASTERISK_VOICES,
)

SPLIT_NAMES = ("train", "val", "test", "babble")

TTS_LICENCES = {
    "flite": "flite (CMU, BSD-like; see LICENSES/flite.txt)",
    "festival": "festvox voice licence (see LICENSES/festvox-*.txt)",
    "espeak": "espeak-ng data GPL-3+ (synthesized output; see LICENSES/espeak-ng-data.txt)",
}


@dataclass(frozen=True)
class Speaker:
    """One source of speech in the kit."""

    id: str  # stable, filesystem-safe: "flite-slt", "espeak-en-us-f3", ...
    person: str  # identity: speakers of one person always share a split
    engine: str  # "flite" | "festival" | "espeak" | "asterisk" | "arctic"
    voice: str  # TTS voice name, Asterisk folder, or ARCTIC speaker
    language: str
    gender: str  # "f" | "m"
    real: bool
    source: str
    licence: str
    variant: str | None = None
    vary_rate: bool = True
    vary_pitch: bool = True

    @property
    def split(self) -> str:
        return PERSON_SPLITS[self.person]


# espeak-ng timbres: (variant, gender, split, English voice, other language). Chosen among
# the human-sounding variants (no robots, whispers or effects).
ESPEAK_PERSONS: tuple[tuple[str, str, str, str, str], ...] = (
    ("m1", "m", "train", "en-us", "es"),
    ("m2", "m", "train", "en", "fr"),
    ("m3", "m", "train", "en-gb-scotland", "it"),
    ("m4", "m", "train", "en-029", "ru"),
    ("f1", "f", "train", "en-gb-x-rp", "es"),
    ("f2", "f", "train", "en-us", "fr"),
    ("f3", "f", "train", "en", "it"),
    ("klatt", "m", "train", "en-us", "ru"),
    ("adam", "m", "train", "en-gb-x-rp", "fr"),
    ("Andy", "m", "train", "en-us", "it"),
    ("Annie", "f", "train", "en-gb-scotland", "es"),
    ("belinda", "f", "train", "en-029", "ru"),
    ("david", "m", "train", "en-us", "es"),
    ("max", "m", "train", "en", "ru"),
    ("m5", "m", "val", "en-us", "fr"),
    ("f4", "f", "val", "en-gb-scotland", "es"),
    ("Alicia", "f", "val", "en-us", "it"),
    ("john", "m", "val", "en", "ru"),
    ("m6", "m", "test", "en-gb-x-rp", "it"),
    ("f5", "f", "test", "en-us", "ru"),
    ("Andrea", "f", "test", "en", "fr"),
    ("benjamin", "m", "test", "en-029", "es"),
    ("m7", "m", "babble", "en-us", "fr"),
    ("m8", "m", "babble", "en", "es"),
    ("linda", "f", "babble", "en-us", "it"),
    ("steph", "f", "babble", "en-gb-x-rp", "ru"),
    ("edward", "m", "babble", "en-gb-scotland", "it"),
    ("paul", "m", "babble", "en-029", "fr"),
    ("aunty", "f", "babble", "en-us", "es"),
    ("anika", "f", "babble", "en", "ru"),
)

PERSON_SPLITS: dict[str, str] = {
    "allison-smith": "train",
    "kal": "train",
    "rms": "train",
    "june-wallack": "val",
    "awb": "val",
    "ked": "val",
    "slt": "test",
    "carlo-flora": "test",
    "ivrvoice-ru": "test",
    **{f"espeak-{variant}": split for variant, _, split, _, _ in ESPEAK_PERSONS},
}
"""Person -> split: the one place where splits are decided."""


def slug(text: str) -> str:
    """Lower-case, filesystem-safe form of ``text`` (runs of other characters -> ``-``)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _tts_speakers() -> list[Speaker]:
    out = [
        Speaker(
            "flite-kal16", "kal", "flite", "kal16", "en", "m", False, "flite", TTS_LICENCES["flite"]
        ),
        Speaker(
            "flite-rms",
            "rms",
            "flite",
            "rms",
            "en",
            "m",
            False,
            "flite",
            TTS_LICENCES["flite"],
            vary_pitch=False,
        ),
        Speaker(
            "flite-awb", "awb", "flite", "awb", "en", "m", False, "flite", TTS_LICENCES["flite"]
        ),
        Speaker(
            "flite-slt", "slt", "flite", "slt", "en", "f", False, "flite", TTS_LICENCES["flite"]
        ),
        Speaker(
            "festival-kal-diphone",
            "kal",
            "festival",
            "kal_diphone",
            "en",
            "m",
            False,
            "festival",
            TTS_LICENCES["festival"],
        ),
        Speaker(
            "festival-ked-diphone",
            "ked",
            "festival",
            "ked_diphone",
            "en",
            "m",
            False,
            "festival",
            TTS_LICENCES["festival"],
        ),
        Speaker(
            "festival-slt-hts",
            "slt",
            "festival",
            "cmu_us_slt_arctic_hts",
            "en",
            "f",
            False,
            "festival",
            TTS_LICENCES["festival"],
            vary_pitch=False,
        ),
    ]
    for variant, gender, _, en_voice, other in ESPEAK_PERSONS:
        for voice, language in ((en_voice, "en"), (other, other)):
            out.append(
                Speaker(
                    f"espeak-{slug(voice)}-{slug(variant)}",
                    f"espeak-{variant}",
                    "espeak",
                    voice,
                    language,
                    gender,
                    False,
                    "espeak-ng",
                    TTS_LICENCES["espeak"],
                    variant=variant,
                )
            )
    return out


def _real_speakers() -> list[Speaker]:
    out = [
        Speaker(
            v.speaker_id,
            v.person,
            "asterisk",
            v.folder,
            v.language,
            v.gender,
            True,
            v.source,
            v.licence,
            vary_rate=False,
            vary_pitch=False,
        )
        for v in ASTERISK_VOICES.values()
    ]
    for person, gender, _, _ in dict.fromkeys(ARCTIC_FILES.values()):
        out.append(
            Speaker(
                f"arctic-{person}",
                person,
                "arctic",
                person,
                "en",
                gender,
                True,
                ARCTIC_SOURCE,
                ARCTIC_LICENCE,
                vary_rate=False,
                vary_pitch=False,
            )
        )
    return out


def all_speakers() -> list[Speaker]:
    """Every speaker, real first, in a fixed order."""
    return _real_speakers() + _tts_speakers()


def speaker_by_id(speaker_id: str) -> Speaker:
    for s in all_speakers():
        if s.id == speaker_id:
            return s
    raise KeyError(speaker_id)


def speakers_in_split(split: str) -> list[Speaker]:
    """Speakers of one split (``"babble"``: the voices reserved for babble noise)."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLIT_NAMES)}")
    return [s for s in all_speakers() if s.split == split]


def babble_speakers() -> list[Speaker]:
    """The TTS voices reserved for babble noise (in no train/val/test split)."""
    return speakers_in_split("babble")
