"""How each utterance of a kit's plan is made: its audio, its phone timing, its record fields.

:func:`produce` turns an :class:`~avgen.data.speech.plan.UtterancePlan` into
``(waveform, phones, record fields)``, a pure function of the plan (TTS engines, G.722 decoding,
pocketsphinx with a fresh decoder and DTW are deterministic), so that a resumed build
regenerates identical items:

* real speech: the recording decoded (:mod:`avgen.data.speech.recordings`), with the phones of
  its label file when it ships one, else a forced alignment (:mod:`avgen.data.speech.align`)
  against a TTS voice of its language and gender (:func:`alignment_reference`);
* synthetic speech: the synthesizer's audio and its own timing (:mod:`avgen.data.speech.tts`).

:func:`babble_talkers` makes the long speech of the voices reserved for babble noise the same
way.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from avgen.audio import SAMPLE_RATE
from avgen.data.speech import recordings, tts
from avgen.data.speech.align import align
from avgen.data.speech.phones import PhoneSegment, fit_to_duration
from avgen.data.speech.plan import PITCH_RANGE, RATE_RANGE, UtterancePlan, keyed_rng, tts_texts
from avgen.data.speech.speakers import Speaker, speakers_in_split
from avgen.errors import DataError


class ProducedUtterance(NamedTuple):
    """The result of :func:`produce`: audio, phones, and the UtteranceRecord fields that do
    not depend on where the kit stores files (``wav``, ``phones``, ``lips`` are the
    builder's)."""

    waveform: np.ndarray
    phones: list[PhoneSegment]
    fields: dict[str, Any]


def alignment_reference(language: str, gender: str):
    """The TTS voice a DTW alignment of a real recording compares against: flite slt or awb
    for English (by the speaker's gender), espeak-ng's voice of the language with a variant
    of the same gender otherwise."""
    if language == "en":
        return functools.partial(tts.synthesize_flite, voice="slt" if gender == "f" else "awb")
    return functools.partial(
        tts.synthesize_espeak, language=language, variant="f3" if gender == "f" else "m3"
    )


def _synthesize(plan: UtterancePlan) -> tts.Synthesis:
    if plan.engine == "flite":
        return tts.synthesize_flite(plan.text, plan.voice, rate=plan.rate, pitch=plan.pitch)
    if plan.engine == "festival":
        return tts.synthesize_festival(plan.text, plan.voice, rate=plan.rate, pitch=plan.pitch)
    if plan.engine == "espeak":
        return tts.synthesize_espeak(
            plan.text, plan.voice, plan.variant, plan.language, rate=plan.rate, pitch=plan.pitch
        )
    raise DataError(f"{plan.id}: unknown TTS engine {plan.engine!r}")


def produce(plan: UtterancePlan) -> ProducedUtterance:
    """Make the audio (mono float32, 16 kHz) and phones of ``plan``.

    Pure: the same plan gives the same samples and phones (TTS engines, G.722 decoding,
    pocketsphinx with a fresh decoder and DTW are deterministic).
    """
    if plan.real:
        if plan.path is None:
            raise DataError(f"{plan.id}: a real utterance needs the path of its recording")
        if plan.engine == "asterisk":
            waveform = recordings.trim_silence(recordings.decode_g722(plan.path))
        else:
            waveform = recordings.load_recording(plan.path)
        if plan.labels:
            phones = fit_to_duration(
                recordings.read_hts_labels(plan.labels), len(waveform) / SAMPLE_RATE
            )
            timing = "labels"
        else:
            result = align(
                waveform,
                plan.text,
                plan.language,
                reference=alignment_reference(plan.language, plan.gender),
            )
            phones, timing = result.phones, result.method
    else:
        synthesis = _synthesize(plan)
        waveform, phones, timing = synthesis.waveform, synthesis.phones, "synthesizer"
    waveform = np.ascontiguousarray(waveform, dtype=np.float32)
    fields = {
        "id": plan.id,
        "speaker": plan.speaker,
        "text": plan.text,
        "language": plan.language,
        "source": plan.source,
        "licence": plan.licence,
        "duration": round(len(waveform) / SAMPLE_RATE, 4),
        "split": plan.split,
        "real": plan.real,
        "timing": timing,
    }
    return ProducedUtterance(waveform, phones, fields)


def babble_talkers(
    seed: int = 0, *, seconds: float = 20.0, gap_seconds: float = 0.15
) -> dict[str, np.ndarray]:
    """One long waveform per person reserved for babble (``{person: float32 16 kHz}``), for
    :func:`avgen.data.noise.procedural.babble_noise`.

    Each talker alternates between its English and its other-language voice, saying texts
    drawn with ``seed``, joined by ``gap_seconds`` of silence, until ``seconds`` are reached.
    A pure function of its arguments.
    """
    persons: dict[str, list[Speaker]] = {}
    for speaker in speakers_in_split("babble"):
        persons.setdefault(speaker.person, []).append(speaker)
    gap = np.zeros(round(gap_seconds * SAMPLE_RATE), dtype=np.float32)
    talkers = {}
    for person, voices in sorted(persons.items()):
        rng = keyed_rng(seed, "babble", person)
        pieces: list[np.ndarray] = []
        total, turn = 0, 0
        while total < seconds * SAMPLE_RATE:
            speaker = voices[turn % len(voices)]
            pool = tts_texts(speaker.language)
            text = pool[int(rng.integers(len(pool)))]
            plan = UtterancePlan(
                id=f"babble-{speaker.id}-{turn}",
                split="babble",
                speaker=speaker.id,
                person=person,
                gender=speaker.gender,
                language=speaker.language,
                text=text,
                real=False,
                engine=speaker.engine,
                voice=speaker.voice,
                source=speaker.source,
                licence=speaker.licence,
                variant=speaker.variant,
                rate=round(float(rng.uniform(*RATE_RANGE)), 2),
                pitch=round(float(rng.uniform(*PITCH_RANGE)), 2),
            )
            wav = produce(plan).waveform
            pieces += [wav, gap]
            total += len(wav) + len(gap)
            turn += 1
        talkers[person] = np.concatenate(pieces)
    return talkers
