"""The speech of the data kit: which utterances a kit holds.

:func:`plan_utterances` lists a kit's utterances as :class:`UtterancePlan`\\ s, a pure function
of ``(size, seed)``; :func:`avgen.data.speech.produce.produce` turns one plan into
``(waveform, phones, record fields)``, a pure function of the plan, so that a resumed build
regenerates identical items.

Sources (see :mod:`avgen.data.speech.recordings` and :mod:`avgen.data.speech.tts`):

* real: Asterisk prompts (en, es, fr, it, ru) aligned to their transcripts
  (:mod:`avgen.data.speech.align`: pocketsphinx for English, TTS + DTW otherwise), and two CMU
  ARCTIC clips (a0009 with its HTS labels, a0007 aligned) when ``scripts/fetch_sdists.sh``
  installed them;
* synthetic: flite, festival and espeak-ng voices with the synthesizer's own timing, saying
  the English sentences in ``avgen/assets/texts/en_sentences.txt`` (written for avgen), the
  English Asterisk transcripts, or (espeak-ng voices of other languages) the Asterisk
  transcripts of es/fr/it/ru. Speaking rate and pitch vary per utterance (uniform in
  0.85-1.15 and 0.9-1.12) where the engine allows.

Speakers and their speaker-disjoint splits are in :mod:`avgen.data.speech.speakers`.

Sizes: the number of real prompts per speaker, and of TTS utterances per split (half from
the natural-sounding flite/festival voices, half from espeak-ng):

* tiny (12): train 3 en prompts + 3 TTS; val 1 fr prompt + 2 TTS; test 1 it prompt + 2 TTS.
* small (~152): train 40 en + 10 es + 50 TTS; val 10 fr + ARCTIC awb + 15 TTS;
  test 5 it + 5 ru + ARCTIC slt + 15 TTS.
* full (~2150): train all en (~480) + all es (~420) + 700 TTS; val 120 fr + ARCTIC awb +
  150 TTS; test 60 it + 60 ru + ARCTIC slt + 150 TTS.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

import numpy as np

from avgen.data.speech import recordings
from avgen.data.speech.speakers import Speaker, all_speakers, slug, speakers_in_split
from avgen.errors import ConfigError

KIT_SIZES = ("tiny", "small", "full")
ALL = -1  # "every usable prompt of this speaker"
RATE_RANGE = (0.85, 1.15)
PITCH_RANGE = (0.9, 1.12)
MIN_TTS_WORDS = {"en": 4, "es": 3, "fr": 3, "it": 3, "ru": 3}
MAX_TTS_CHARS = 160  # long IVR menus make 20-30 s clips; keep TTS utterances short


@dataclass(frozen=True)
class SplitQuota:
    """How many real prompts per real speaker (``ALL``: every one) and TTS utterances."""

    real: tuple[tuple[str, int], ...]
    tts: int


SIZE_QUOTAS: dict[str, dict[str, SplitQuota]] = {
    "tiny": {
        "train": SplitQuota((("asterisk-en-allison-smith", 3),), 3),
        "val": SplitQuota((("asterisk-fr-june-wallack", 1),), 2),
        "test": SplitQuota((("asterisk-it-carlo-flora", 1),), 2),
    },
    "small": {
        "train": SplitQuota(
            (("asterisk-en-allison-smith", 40), ("asterisk-es-allison-smith", 10)), 50
        ),
        "val": SplitQuota((("asterisk-fr-june-wallack", 10), ("arctic-awb", ALL)), 15),
        "test": SplitQuota(
            (("asterisk-it-carlo-flora", 5), ("asterisk-ru-ivrvoice-ru", 5), ("arctic-slt", ALL)),
            15,
        ),
    },
    "full": {
        "train": SplitQuota(
            (("asterisk-en-allison-smith", ALL), ("asterisk-es-allison-smith", ALL)), 700
        ),
        "val": SplitQuota((("asterisk-fr-june-wallack", 120), ("arctic-awb", ALL)), 150),
        "test": SplitQuota(
            (("asterisk-it-carlo-flora", 60), ("asterisk-ru-ivrvoice-ru", 60), ("arctic-slt", ALL)),
            150,
        ),
    },
}


@dataclass(frozen=True)
class UtterancePlan:
    """Everything needed to produce one utterance (JSON-serialisable with ``asdict``)."""

    id: str
    split: str  # "train" | "val" | "test" | "babble"
    speaker: str  # Speaker.id
    person: str
    gender: str
    language: str
    text: str
    real: bool
    engine: str  # "asterisk" | "arctic" | "flite" | "festival" | "espeak"
    voice: str
    source: str
    licence: str
    variant: str | None = None
    rate: float = 1.0
    pitch: float = 1.0
    path: str | None = None  # the recording, for real speech
    labels: str | None = None  # its phone labels, when the source ships them


def keyed_rng(seed: int, *keys: str) -> np.random.Generator:
    """A numpy generator for the sub-task named by ``keys``: a SeedSequence of the seed and
    the full SHA-256 of the keys, so that every character of a key counts (long speaker ids
    share prefixes)."""
    digest = hashlib.sha256("\x1f".join(keys).encode("utf-8")).digest()
    words = np.frombuffer(digest, dtype=np.uint32).tolist()
    return np.random.default_rng(np.random.SeedSequence([int(seed) % 2**63, *words]))


# ----------------------------------------------------------------------------------------------
# Texts
# ----------------------------------------------------------------------------------------------


@functools.cache
def english_sentences() -> tuple[str, ...]:
    """The English sentences written for avgen's TTS voices."""
    text = (
        resources.files("avgen")
        .joinpath("assets/texts/en_sentences.txt")
        .read_text(encoding="utf-8")
    )
    return tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@functools.cache
def tts_texts(language: str) -> tuple[str, ...]:
    """Texts TTS voices of ``language`` say: for English the avgen sentences and the Asterisk
    English transcripts, for es/fr/it/ru that language's Asterisk transcripts (each with at
    least a few words and at most :data:`MAX_TTS_CHARS` characters), de-duplicated, in a fixed
    order."""
    texts = list(english_sentences()) if language == "en" else []
    transcripts = recordings.read_transcripts(language)
    texts += [
        t
        for _, t in sorted(transcripts.items())
        if len(t.split()) >= MIN_TTS_WORDS[language] and len(t) <= MAX_TTS_CHARS
    ]
    return tuple(dict.fromkeys(texts))


# ----------------------------------------------------------------------------------------------
# Planning
# ----------------------------------------------------------------------------------------------


def _real_recordings(speaker: Speaker, arctic_dir: str | None) -> list[recordings.Recording]:
    if speaker.engine == "asterisk":
        return recordings.asterisk_prompts(speaker.language)
    if speaker.engine == "arctic":
        return [r for r in recordings.arctic_recordings(arctic_dir) if r.speaker_id == speaker.id]
    raise ValueError(speaker.id)


def _plan_real(
    speaker: Speaker, count: int, split: str, seed: int, arctic_dir: str | None
) -> list[UtterancePlan]:
    recs = _real_recordings(speaker, arctic_dir)
    if count != ALL and count < len(recs):
        rng = keyed_rng(seed, "real", speaker.id)
        recs = sorted((recs[i] for i in rng.permutation(len(recs))[:count]), key=lambda r: r.name)
    return [
        UtterancePlan(
            id=f"{speaker.id}-{slug(r.name)}",
            split=split,
            speaker=speaker.id,
            person=speaker.person,
            gender=speaker.gender,
            language=r.language,
            text=r.text,
            real=True,
            engine=speaker.engine,
            voice=speaker.voice,
            source=r.source,
            licence=r.licence,
            path=r.path,
            labels=r.labels,
        )
        for r in recs
    ]


def _even_counts(n: int, speakers: list[Speaker], rng: np.random.Generator) -> list[int]:
    """Split ``n`` as evenly as possible; the remainder goes to speakers in a seeded order."""
    if not speakers:
        return []
    base, extra = divmod(n, len(speakers))
    counts = [base] * len(speakers)
    for i in rng.permutation(len(speakers))[:extra]:
        counts[i] += 1
    return counts


def _plan_tts(speaker: Speaker, count: int, split: str, seed: int) -> list[UtterancePlan]:
    rng = keyed_rng(seed, "tts", speaker.id)
    pool = tts_texts(speaker.language)
    order: list[int] = []
    while len(order) < count:  # without replacement, reshuffled if the pool runs out
        order += list(rng.permutation(len(pool)))
    plans, seen = [], set()
    for i in order[:count]:
        rate = round(float(rng.uniform(*RATE_RANGE)), 2) if speaker.vary_rate else 1.0
        pitch = round(float(rng.uniform(*PITCH_RANGE)), 2) if speaker.vary_pitch else 1.0
        text = pool[i]
        key = hashlib.sha1(f"{text}|{rate}|{pitch}".encode()).hexdigest()[:10]
        uid = f"{speaker.id}-{key}"
        if uid in seen:
            continue
        seen.add(uid)
        plans.append(
            UtterancePlan(
                id=uid,
                split=split,
                speaker=speaker.id,
                person=speaker.person,
                gender=speaker.gender,
                language=speaker.language,
                text=text,
                real=False,
                engine=speaker.engine,
                voice=speaker.voice,
                source=speaker.source,
                licence=speaker.licence,
                variant=speaker.variant,
                rate=rate,
                pitch=pitch,
            )
        )
    return plans


def plan_tts_split(split: str, count: int, seed: int) -> list[UtterancePlan]:
    """``count`` TTS utterances of ``split``'s voices: half (rounded up) from the flite and
    festival voices, half from espeak-ng, spread evenly over the voices of each half."""
    rng = keyed_rng(seed, "tts-split", split)
    voices = [s for s in speakers_in_split(split) if not s.real]
    natural = [s for s in voices if s.engine in ("flite", "festival")]
    espeak = [s for s in voices if s.engine == "espeak"]
    n_natural = (count + 1) // 2 if natural and espeak else (count if natural else 0)
    plans: list[UtterancePlan] = []
    for group, n in ((natural, n_natural), (espeak, count - n_natural)):
        for speaker, k in zip(group, _even_counts(n, group, rng)):
            if k:
                plans += _plan_tts(speaker, k, split, seed)
    return plans


def plan_utterances(
    size: str, seed: int = 0, *, arctic_dir: str | None = None
) -> list[UtterancePlan]:
    """The utterances of a kit of ``size`` (``"tiny"``, ``"small"`` or ``"full"``), in a fixed
    order (train, val, test; real before TTS), with ids stable for a given ``(size, seed)``.

    ARCTIC clips are included when found (``arctic_dir``, ``$AVGEN_ARCTIC_DIR`` or the
    install location), skipped with a logged note otherwise. Raises
    :class:`~avgen.errors.MissingToolError` when the Asterisk packages are missing.
    """
    if size not in SIZE_QUOTAS:
        raise ConfigError(f"unknown kit size {size!r}; choose from {', '.join(KIT_SIZES)}")
    speakers = {s.id: s for s in all_speakers()}
    plans: list[UtterancePlan] = []
    for split, quota in SIZE_QUOTAS[size].items():
        for speaker_id, count in quota.real:
            speaker = speakers[speaker_id]
            assert speaker.split == split, (speaker_id, split)
            plans += _plan_real(speaker, count, split, seed, arctic_dir)
        plans += plan_tts_split(split, quota.tts, seed)
    ids = [p.id for p in plans]
    if len(set(ids)) != len(ids):  # pragma: no cover - guarded by construction
        raise AssertionError("duplicate utterance ids in a plan")
    return plans


def plan_babble(count: int, seed: int = 0) -> list[UtterancePlan]:
    """``count`` utterances of the voices reserved for babble noise (split ``"babble"``)."""
    return plan_tts_split("babble", count, seed)
