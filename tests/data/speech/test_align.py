"""Forced alignment puts phone boundaries where the speech has them.

Ground truth: synthetic speech whose timing the synthesizer reports (flite's phone end times
agree with pocketsphinx to about 10 ms median, so they are a sound reference), and, on real
recordings, the speech/silence boundaries of an energy voice-activity detector.
"""

from __future__ import annotations

import difflib
import functools
import itertools

import numpy as np
import pytest

from avgen.data.speech import align, recordings, tts
from avgen.data.speech.phones import PHONE_SET, SILENCE, PhoneSegment
from avgen.data.speech.sphinx import cmudict, letter_to_sound, pronunciation_lines
from avgen.data.speech.text import normalize_english, number_to_words, ordinal_to_words
from avgen.data.speech.vad import energy_vad, speech_mask
from avgen.errors import DataError

pytestmark = pytest.mark.system

TEXTS = (
    "She packed two jars of honey and a loaf of rye bread for the journey.",
    "Why would anyone paint a bicycle bright purple?",
    "Thunder shook the windows, yet the baby slept soundly.",
)
TOLERANCE_S = 0.040  # median |boundary error| allowed


def matched_boundary_errors(
    truth: list[PhoneSegment], estimate: list[PhoneSegment]
) -> tuple[np.ndarray, float]:
    """|error| of start and end times of phones matched by sequence alignment, and the
    fraction of true speech phones matched."""
    a, b = [s.phone for s in truth], [s.phone for s in estimate]
    errors, matched = [], 0
    for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            t, e = truth[block.a + k], estimate[block.b + k]
            matched += t.phone != SILENCE
            errors += [abs(t.start - e.start), abs(t.end - e.end)]
    return np.array(errors), matched / sum(p != SILENCE for p in a)


def assert_tiles(phones: list[PhoneSegment], duration: float) -> None:
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(duration, abs=0.011)
    assert all(p.end > p.start for p in phones)
    assert all(a.end == pytest.approx(b.start) for a, b in itertools.pairwise(phones))
    assert {p.phone for p in phones} <= PHONE_SET


@pytest.fixture(scope="module")
def slt_speech():
    return [tts.synthesize_flite(text, "slt") for text in TEXTS]


def test_pocketsphinx_finds_the_synthesizer_timing(slt_speech):
    errors, match = [], []
    for text, speech in zip(TEXTS, slt_speech):
        phones = align.align_transcript(speech.waveform, text, method="pocketsphinx")
        assert_tiles(phones, speech.duration)
        e, m = matched_boundary_errors(speech.phones, phones)
        errors.append(e)
        match.append(m)
    errors = np.concatenate(errors)
    assert np.median(errors) < TOLERANCE_S  # measured: ~10 ms
    assert np.mean(errors < 0.05) > 0.9
    assert min(match) > 0.9  # same phones, up to pronunciation variants (a = ah / ey)


def test_dtw_carries_another_voices_timing_over(slt_speech):
    """Reference: the male diphone voice kal16; target: the female slt voice."""
    reference = functools.partial(tts.synthesize_flite, voice="kal16")
    errors = []
    for text, speech in zip(TEXTS, slt_speech):
        phones = align.align_transcript(speech.waveform, text, method="dtw", reference=reference)
        assert_tiles(phones, speech.duration)
        assert [p.phone for p in phones] == [p.phone for p in speech.phones]
        errors.append(
            np.abs(np.array([p.end for p in phones]) - np.array([p.end for p in speech.phones]))
        )
    assert np.median(np.concatenate(errors)) < TOLERANCE_S  # measured: ~11 ms


def test_dtw_aligns_other_languages_with_espeak():
    text = "Composez votre mot de passe suivi du dièse."
    speech = tts.synthesize_espeak(text, variant="f3", language="fr", rate=1.15)
    phones = align.align_transcript(speech.waveform, text, language="fr")
    assert [p.phone for p in phones] == [p.phone for p in speech.phones]
    ends = np.abs(np.array([p.end for p in phones]) - np.array([p.end for p in speech.phones]))
    assert np.median(ends) < TOLERANCE_S


@pytest.mark.parametrize(
    ("language", "method"), [("en", "forced-alignment"), ("fr", "dtw"), ("it", "dtw")]
)
def test_real_prompt_alignment_agrees_with_voice_activity(language, method):
    """Six prompts per language (a fixed draw): speech and pauses agree with an energy VAD.

    pocketsphinx finds the speech onset and offset on its own: they must lie within 50 ms
    (median) of the VAD's. DTW takes the extents from the VAD by design, so for it only the
    pauses inside the utterance are an independent check.
    """
    prompts = recordings.asterisk_prompts(language)
    picks = np.random.default_rng(7).choice(len(prompts), size=6, replace=False)
    agreement, edge_errors = [], []
    for i in picks:
        waveform = recordings.load_prompt(prompts[i])
        result = align.align(waveform, prompts[i].text, language)
        assert result.method == method
        assert_tiles(result.phones, len(waveform) / 16000)
        vad = energy_vad(waveform)
        speech = speech_mask(result.phones, len(vad))
        first, last = np.flatnonzero(vad)[[0, -1]]
        agreement.append(np.mean(vad[first : last + 1] == speech[first : last + 1]))
        edge_errors += list(np.abs([first, last] - np.flatnonzero(speech)[[0, -1]]) * 0.01)
    assert np.median(agreement) > 0.92 and min(agreement) > 0.8
    assert np.median(edge_errors) < 0.05 and max(edge_errors) < 0.3


def test_alignment_is_a_function_of_its_input(slt_speech):
    text, speech = TEXTS[0], slt_speech[0]
    first = align.align_transcript(speech.waveform, text)
    align.align_transcript(slt_speech[1].waveform, TEXTS[1])  # another utterance in between
    assert align.align_transcript(speech.waveform, text) == first


def test_auto_falls_back_to_dtw_when_pocketsphinx_fails(slt_speech, monkeypatch):
    def fail(*args, **kwargs):
        raise DataError("pocketsphinx found no alignment")

    monkeypatch.setattr(align, "pocketsphinx_align", fail)
    result = align.align(slt_speech[1].waveform, TEXTS[1])
    assert result.method == "dtw"
    with pytest.raises(DataError):
        align.align(slt_speech[1].waveform, TEXTS[1], method="pocketsphinx")


def test_words_missing_from_the_dictionary_get_letter_to_sound():
    assert "xyzzyq" not in cmudict()
    assert letter_to_sound("xyzzyq")[:3] == ["z", "ih", "z"]
    line = pronunciation_lines(["xyzzyq", "the"])
    assert line[0] == "the DH AH" and line[-1].startswith("xyzzyq Z IH Z")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Press 1, 2 or #.", "press one two or pound"),
        ("the 21st of May", "the twenty first of may"),
        ("3D audio, 100%", "three d audio one hundred percent"),
        ("A.M. at www.asterisk.org", "a m at w w w dot asterisk dot org"),
        ("[beep] Party's first-name (pause)", "party's first name"),
        (
            "1200 is twelve hundred? No: 1,200",
            "one thousand two hundred is twelve hundred no one two hundred",
        ),
    ],
)
def test_english_transcripts_are_normalised_to_dictionary_words(text, words):
    assert normalize_english(text) == words.split()


def test_numbers_are_spelled():
    assert number_to_words(0) == "zero"
    assert number_to_words(115) == "one hundred fifteen"
    assert number_to_words(2_000_040) == "two million forty"
    assert ordinal_to_words(12) == "twelfth"
    assert ordinal_to_words(90) == "ninetieth"


def test_energy_vad_finds_a_tone_between_silences():
    t = np.arange(16000) / 16000
    x = np.concatenate([np.zeros(8000), 0.3 * np.sin(2 * np.pi * 220 * t), np.zeros(8000)])
    active = np.flatnonzero(energy_vad(x.astype(np.float32)))
    assert abs(active[0] - 50) <= 1 and abs(active[-1] - 150) <= 1


@pytest.mark.parametrize(
    ("waveform", "text", "message"),
    [
        (np.zeros(16000, np.float32), "hello", "silent"),
        (1e-6 * np.ones(16000, np.float32), "hello", "silent"),
        (np.full(16000, np.nan, np.float32), "hello", "NaN"),
        (np.zeros((2, 16000), np.float32), "hello", "mono"),
        (0.1 * np.sin(np.arange(16000) / 5).astype(np.float32), "   ", "empty"),
        (0.1 * np.sin(np.arange(16000) / 5).astype(np.float32), "[beep]", "empty"),
    ],
)
def test_bad_input_raises_a_data_error(waveform, text, message):
    with pytest.raises(DataError, match=message):
        align.align_transcript(waveform, text)


def test_pocketsphinx_is_english_only():
    x = 0.1 * np.sin(np.arange(16000) / 5).astype(np.float32)
    with pytest.raises(DataError, match="English"):
        align.align_transcript(x, "bonjour", language="fr", method="pocketsphinx")
